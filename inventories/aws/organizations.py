"""AWS Organizations: the root, OU tree, member accounts, SCPs/RCPs and delegated administrators.

Only the management account (or a delegated administrator) may list an organisation; any other
member is denied at ListRoots or ListAccounts, which becomes a denied coverage row.  An account
outside every organisation is not an error: its coverage row says so, with no records.

Policies are not edges: each policy lists its `targets` (ARNs) and each root, OU and account
lists its `policies` (ARNs), and the rights engine intersects them along the `member_of` path
from an account to the root.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from functools import partial
from typing import Any

from botocore.exceptions import ClientError

from auditor.inventories.aws.calls import (
    DENIED,
    ERROR,
    NOT_APPLICABLE,
    READ,
    attempt,
    clean,
    error_code,
    paginate,
)
from auditor.inventories.aws.registry import Collected, Scope, Service, ServiceContext
from auditor.inventories.aws.session import Clients
from auditor.model import Edge, Kind, Record, Relation, Resource

# (botocore service, API operation) → the IAM action it needs.
OPERATIONS: dict[tuple[str, str], str] = {
    ("organizations", "DescribeOrganization"): "organizations:DescribeOrganization",
    ("organizations", "ListRoots"): "organizations:ListRoots",
    ("organizations", "ListOrganizationalUnitsForParent"): (
        "organizations:ListOrganizationalUnitsForParent"
    ),
    ("organizations", "ListAccounts"): "organizations:ListAccounts",
    ("organizations", "ListTagsForResource"): "organizations:ListTagsForResource",
    ("organizations", "ListParents"): "organizations:ListParents",
    ("organizations", "ListPolicies"): "organizations:ListPolicies",
    ("organizations", "DescribePolicy"): "organizations:DescribePolicy",
    ("organizations", "ListTargetsForPolicy"): "organizations:ListTargetsForPolicy",
    ("organizations", "ListDelegatedAdministrators"): "organizations:ListDelegatedAdministrators",
    ("organizations", "ListDelegatedServicesForAccount"): (
        "organizations:ListDelegatedServicesForAccount"
    ),
}
PERMISSIONS: tuple[str, ...] = tuple(sorted(set(OPERATIONS.values())))

NOT_IN_USE = "AWSOrganizationsNotInUseException"
NOT_IN_ORGANIZATION = "not in an organization"
SCP = "SERVICE_CONTROL_POLICY"
RCP = "RESOURCE_CONTROL_POLICY"
POLICY_TYPES = (SCP, RCP)
# What ListPolicies answers for a policy type the organisation or partition does not offer
# (RCPs arrived after SCPs and not everywhere): the type is skipped, not failed.
UNSUPPORTED_TYPE_CODES = frozenset(
    {
        "InvalidInputException",
        "UnsupportedAPIEndpointException",
        "PolicyTypeNotAvailableForOrganizationException",
    }
)


def _client(clients: Clients, home: str) -> Any:
    # Organizations has one endpoint per partition; botocore resolves it from any region.
    return clients.get("organizations", home)


def list_member_accounts(clients: Clients, home: str) -> list[dict[str, Any]]:
    """Every account of the caller's organisation (the caller's own included): id, name, status.

    `status` is the account's State (ACTIVE, SUSPENDED, PENDING_CLOSURE, ...), falling back to
    the older Status field.  Errors propagate: the caller decides what a denial means.
    """
    accounts = paginate(_client(clients, home), "list_accounts", "Accounts")
    return [
        {"id": str(a["Id"]), "name": a.get("Name"), "status": a.get("State") or a.get("Status")}
        for a in accounts
    ]


def _listing(client: Any, operation: str, key: str, **kwargs: Any) -> dict[str, Any]:
    """Every page of a list call, under the key the API uses, for `attempt`."""
    return {key: paginate(client, operation, key, **kwargs)}


def _describe_organization(client: Any) -> dict[str, Any] | None:
    """The organisation, or None when the account belongs to none."""
    try:
        described: dict[str, Any] = clean(client.describe_organization()["Organization"])
    except ClientError as err:
        if error_code(err) == NOT_IN_USE:
            return None
        raise
    return described


def _walk_ous(client: Any, root_ids: list[str]) -> list[dict[str, Any]]:
    """Every OU below the roots, breadth first, each with the id of its parent."""
    found: list[dict[str, Any]] = []
    parent_ids = list(root_ids)
    while parent_ids:
        parent = parent_ids.pop(0)
        children = paginate(
            client, "list_organizational_units_for_parent", "OrganizationalUnits", ParentId=parent
        )
        for ou in clean(children):
            found.append({**ou, "ParentId": parent})
            parent_ids.append(str(ou["Id"]))
    return found


def _account(client: Any, account: Mapping[str, Any]) -> dict[str, Any]:
    """One listed account with its tags and parents, each captured apart."""
    account_id = str(account["Id"])
    tags = partial(_listing, client, "list_tags_for_resource", "Tags", ResourceId=account_id)
    parents = partial(_listing, client, "list_parents", "Parents", ChildId=account_id)
    return {"account": clean(account), "tags": attempt(tags), "parents": attempt(parents)}


def _list_policies(client: Any, policy_type: str) -> dict[str, Any]:
    listed = attempt(partial(_listing, client, "list_policies", "Policies", Filter=policy_type))
    if listed["status"] != READ and listed.get("code") in UNSUPPORTED_TYPE_CODES:
        return {"status": NOT_APPLICABLE, "code": listed["code"]}
    return listed


def _policy(client: Any, summary: Mapping[str, Any]) -> dict[str, Any]:
    """One policy's summary, document and targets, each captured apart."""
    policy_id = str(summary["Id"])
    targets = partial(_listing, client, "list_targets_for_policy", "Targets", PolicyId=policy_id)
    return {
        "summary": summary,
        "describe": attempt(
            partial(client.describe_policy, PolicyId=policy_id), required=("Policy.Content",)
        ),
        "targets": attempt(targets),
    }


def _delegated(client: Any) -> dict[str, Any]:
    """Delegated administrators, and for each the service principals delegated to it."""
    key = "DelegatedAdministrators"
    admins = attempt(partial(_listing, client, "list_delegated_administrators", key))
    services = {}
    for admin in admins.get("value", {}).get(key, []):
        account_id = str(admin["Id"])
        services[account_id] = attempt(
            partial(
                _listing,
                client,
                "list_delegated_services_for_account",
                "DelegatedServices",
                AccountId=account_id,
            )
        )
    return {"administrators": admins, "services": services}


def _without_value(fact: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in fact.items() if k != "value"}


def get_organizations(client: Any) -> dict[str, Any]:
    """The whole organisation as raw dicts; {"organization": None} outside of one.

    A denied DescribeOrganization, ListRoots, ListOrganizationalUnitsForParent or ListAccounts
    raises (→ coverage row): without them there is no tree to describe.  Everything else is
    captured per fact.
    """
    organization = _describe_organization(client)
    if organization is None:
        return {"organization": None}
    roots = clean(paginate(client, "list_roots", "Roots"))
    ous = _walk_ous(client, [str(r["Id"]) for r in roots])
    accounts = [_account(client, a) for a in paginate(client, "list_accounts", "Accounts")]
    listed = {t: _list_policies(client, t) for t in POLICY_TYPES}
    summaries = [p for t in POLICY_TYPES for p in listed[t].get("value", {}).get("Policies", [])]
    return {
        "organization": organization,
        "roots": roots,
        "ous": ous,
        "accounts": accounts,
        # The policies themselves are below; the types keep only how their listing went.
        "policy_types": {t: _without_value(s) for t, s in listed.items()},
        "policies": [_policy(client, p) for p in summaries],
        "delegated": _delegated(client),
    }


# --- transforms -----------------------------------------------------------------------------


def mask_email(email: str | None) -> str | None:
    """Hide an email's local part (personal data); the domain says whose mailbox it is."""
    if not email:
        return email
    _local, at, domain = email.rpartition("@")
    return f"***@{domain}" if at else "***"


def _worst(statuses: list[str]) -> str:
    """One status for a fact assembled from several reads: read only when all of them were."""
    if all(s == READ for s in statuses):
        return READ
    return DENIED if DENIED in statuses else ERROR


def policies_by_target(raw: Mapping[str, Any]) -> tuple[dict[str, list[str]], str]:
    """Target id → ARNs of the policies attached to it, and whether that map is complete."""
    attached: dict[str, list[str]] = {}
    statuses = [s["status"] for s in raw["policy_types"].values() if s["status"] != NOT_APPLICABLE]
    for policy in raw["policies"]:
        statuses.append(policy["targets"]["status"])
        for target in policy["targets"].get("value", {}).get("Targets", []):
            attached.setdefault(str(target["TargetId"]), []).append(str(policy["summary"]["Arn"]))
    return {k: sorted(v) for k, v in attached.items()}, _worst(statuses)


# The organisation's node types; the root is the top OU of the tree.
KINDS = {
    "organizations:root": Kind.ORG_UNIT,
    "organizations:ou": Kind.ORG_UNIT,
    "organizations:account": Kind.ACCOUNT,
    "organizations:policy": Kind.ORG_POLICY,
}


def _node(
    native_type: str,
    uid: str,
    name: str,
    account: str,
    partition: str,
    attrs: dict[str, Any],
    tags: Mapping[str, str] | None = None,
) -> Resource:
    # Organisation metadata lives in the partition's control plane, not in a region.
    return Resource(
        uid=uid,
        provider="aws",
        kind=KINDS[native_type],
        native_type=native_type,
        name=name,
        account=account,
        partition=partition,
        tags=dict(tags or {}),
        attrs=attrs,
    )


def _attached(node_id: str, attached: tuple[dict[str, list[str]], str]) -> dict[str, Any]:
    by_target, status = attached
    return {"policies": by_target.get(node_id, []), "policies_status": status}


def transform_roots(raw: Mapping[str, Any], partition: str) -> Iterator[Resource]:
    """Roots → Resources, with the organisation's identity and the policy types enabled."""
    org = raw["organization"]
    attached = policies_by_target(raw)
    for root in raw["roots"]:
        attrs = {
            "id": root["Id"],
            "organization_id": org.get("Id"),
            "organization_arn": org.get("Arn"),
            "feature_set": org.get("FeatureSet"),
            "management_account_id": org.get("MasterAccountId"),
            "management_account_arn": org.get("MasterAccountArn"),
            "management_account_email": mask_email(org.get("MasterAccountEmail")),
            "policy_types_enabled": sorted(
                str(t["Type"]) for t in root.get("PolicyTypes", []) if t.get("Status") == "ENABLED"
            ),
            "policy_types_status": {t: s["status"] for t, s in raw["policy_types"].items()},
            **_attached(str(root["Id"]), attached),
        }
        management = str(org.get("MasterAccountId"))
        name = str(root.get("Name", "Root"))
        yield _node("organizations:root", str(root["Arn"]), name, management, partition, attrs)


def _arns_by_id(raw: Mapping[str, Any]) -> dict[str, str]:
    return {str(n["Id"]): str(n["Arn"]) for n in [*raw["roots"], *raw["ous"]]}


def transform_ous(raw: Mapping[str, Any], partition: str) -> Iterator[Resource | Edge]:
    """OUs → Resources and a `member_of` edge to the parent the tree walk found them under."""
    management = str(raw["organization"].get("MasterAccountId"))
    arns = _arns_by_id(raw)
    attached = policies_by_target(raw)
    for ou in raw["ous"]:
        arn, parent = str(ou["Arn"]), str(ou["ParentId"])
        attrs = {"id": ou["Id"], "parent": parent, **_attached(str(ou["Id"]), attached)}
        yield _node("organizations:ou", arn, str(ou.get("Name")), management, partition, attrs)
        yield Edge(
            arn,
            arns[parent],
            Relation.MEMBER_OF,
            f"ListOrganizationalUnitsForParent ParentId {parent}: OU {ou['Id']}",
        )


def _delegated_services(raw: Mapping[str, Any], account_id: str) -> dict[str, Any]:
    admins = raw["delegated"]["administrators"]
    if admins["status"] != READ:
        return {"delegated_services": [], "delegated_services_status": admins["status"]}
    listed = raw["delegated"]["services"].get(account_id)
    if listed is None:  # not a delegated administrator of anything
        return {"delegated_services": [], "delegated_services_status": READ}
    services = listed.get("value", {}).get("DelegatedServices", [])
    return {
        "delegated_services": sorted(str(s["ServicePrincipal"]) for s in services),
        "delegated_services_status": listed["status"],
    }


def _parent_edges(
    arn: str, account_id: str, parents: Mapping[str, Any], arns: Mapping[str, str]
) -> Iterator[Edge]:
    for parent in parents.get("value", {}).get("Parents", []):
        parent_id = str(parent["Id"])
        if parent_id in arns:  # a parent created after the walk has no node to point at
            yield Edge(
                arn,
                arns[parent_id],
                Relation.MEMBER_OF,
                f"ListParents ChildId {account_id}: {parent.get('Type')} {parent_id}",
            )


def _account_attrs(entry: Mapping[str, Any], management: str) -> dict[str, Any]:
    account = entry["account"]
    parents = entry["parents"].get("value", {}).get("Parents", [])
    return {
        "id": account["Id"],
        "email": mask_email(account.get("Email")),
        "status": account.get("State") or account.get("Status"),
        "joined_method": account.get("JoinedMethod"),
        "joined_timestamp": account.get("JoinedTimestamp"),
        "management": account["Id"] == management,
        "tags_status": entry["tags"]["status"],
        "parents_status": entry["parents"]["status"],
        "parent": str(parents[0]["Id"]) if parents else None,
    }


def transform_accounts(raw: Mapping[str, Any], partition: str) -> Iterator[Resource | Edge]:
    """Member accounts → Resources (tags, parent, policies, delegations) and `member_of` edges."""
    management = str(raw["organization"].get("MasterAccountId"))
    arns = _arns_by_id(raw)
    attached = policies_by_target(raw)
    for entry in raw["accounts"]:
        account = entry["account"]
        arn, account_id = str(account["Arn"]), str(account["Id"])
        listed = entry["tags"].get("value", {}).get("Tags", [])
        tags = {str(t["Key"]): str(t["Value"]) for t in listed}
        attrs = {
            **_account_attrs(entry, management),
            **_attached(account_id, attached),
            **_delegated_services(raw, account_id),
        }
        name = str(account.get("Name"))
        yield _node("organizations:account", arn, name, account_id, partition, attrs, tags)
        yield from _parent_edges(arn, account_id, entry["parents"], arns)


def _document(described: Mapping[str, Any]) -> Any:
    """The policy document as JSON when it parses, else the text DescribePolicy returned."""
    content = described.get("value", {}).get("Policy", {}).get("Content")
    try:
        return json.loads(content) if content else None
    except ValueError:
        return content


def transform_policies(raw: Mapping[str, Any], partition: str) -> Iterator[Resource]:
    """SCPs and RCPs → Resources with their document and the ARNs of their targets."""
    management = str(raw["organization"].get("MasterAccountId"))
    for policy in raw["policies"]:
        summary, targets = policy["summary"], policy["targets"]
        attrs = {
            "id": summary["Id"],
            "type": summary.get("Type"),
            "description": summary.get("Description"),
            "aws_managed": summary.get("AwsManaged"),
            "document_status": policy["describe"]["status"],
            "document": _document(policy["describe"]),
            "targets_status": targets["status"],
            "targets": sorted(str(t["Arn"]) for t in targets.get("value", {}).get("Targets", [])),
        }
        arn, name = str(summary["Arn"]), str(summary.get("Name"))
        yield _node("organizations:policy", arn, name, management, partition, attrs)


def transform_organizations(raw: Mapping[str, Any], partition: str) -> Iterator[Resource | Edge]:
    """The raw organisation → roots, OUs, accounts and policies (nothing outside of one)."""
    if raw["organization"] is None:
        return
    yield from transform_roots(raw, partition)
    yield from transform_ous(raw, partition)
    yield from transform_accounts(raw, partition)
    yield from transform_policies(raw, partition)


def _detail(raw: Mapping[str, Any]) -> str:
    if raw["organization"] is None:
        return NOT_IN_ORGANIZATION
    skipped = [f"{t} {s['status']}" for t, s in raw["policy_types"].items() if s["status"] != READ]
    counts = (
        f"{raw['organization'].get('Id')}: {len(raw['accounts'])} accounts, "
        f"{len(raw['ous'])} OUs, {len(raw['policies'])} policies"
    )
    return f"{counts} ({', '.join(skipped)})" if skipped else counts


def collect(ctx: ServiceContext) -> Collected:
    """The organisation once per account, from the home region."""
    raw = get_organizations(_client(ctx.clients, ctx.home))
    records: list[Record] = list(transform_organizations(raw, ctx.identity.partition))
    return records, _detail(raw)


SERVICE = Service("organizations", Scope.GLOBAL, collect, OPERATIONS, phase=0)
