"""IAM of one account: principals, memberships, role trust, credentials and federation.

Besides users, groups and roles (GetAccountAuthorizationDetails), the account itself is one
Resource (`iam:account`): the account summary (root MFA, root keys), the password policy, the
credential report's `<root_account>` row and the identity providers it trusts, which are also
Resources of their own (`iam:saml-provider`, `iam:oidc-provider`).  Access keys are described
by id, status and dates only: no call made here returns a secret.
"""

from __future__ import annotations

import csv
import io
import time
from collections.abc import Iterator, Mapping
from functools import partial
from typing import Any

from auditor.inventories.aws.calls import (
    READ,
    SKIPPED,
    attempt,
    clean,
    paginate,
    require,
    unparsable_policy,
)
from auditor.inventories.aws.policy_rights import PolicyDocumentError, rights_from_policy
from auditor.inventories.aws.registry import Collected, Scope, Service, ServiceContext
from auditor.model import Edge, Kind, Record, Relation, Resource

# (botocore service, API operation) → the IAM action it needs.
OPERATIONS: dict[tuple[str, str], str] = {
    ("iam", "GetAccountAuthorizationDetails"): "iam:GetAccountAuthorizationDetails",
    ("iam", "ListMFADevices"): "iam:ListMFADevices",
    ("iam", "GenerateCredentialReport"): "iam:GenerateCredentialReport",
    ("iam", "GetCredentialReport"): "iam:GetCredentialReport",
    ("iam", "ListAccessKeys"): "iam:ListAccessKeys",
    ("iam", "GetAccessKeyLastUsed"): "iam:GetAccessKeyLastUsed",
    ("iam", "GetAccountSummary"): "iam:GetAccountSummary",
    ("iam", "GetAccountPasswordPolicy"): "iam:GetAccountPasswordPolicy",
    ("iam", "ListSAMLProviders"): "iam:ListSAMLProviders",
    ("iam", "ListOpenIDConnectProviders"): "iam:ListOpenIDConnectProviders",
}
PERMISSIONS: tuple[str, ...] = tuple(sorted(set(OPERATIONS.values())))

_LISTS = {
    "users": "UserDetailList",
    "groups": "GroupDetailList",
    "roles": "RoleDetailList",
    "policies": "Policies",
}


# IAM builds the credential report asynchronously: the first request only starts it.  Waits
# double from REPORT_POLL_SECONDS up to REPORT_POLL_MAX_SECONDS (about 14 s in all).
REPORT_POLL_ATTEMPTS = 10
REPORT_POLL_SECONDS = 0.25
REPORT_POLL_MAX_SECONDS = 2.0
ROOT_ROW = "<root_account>"


def _mfa(client: Any, user: str) -> dict[str, Any]:
    return {"MFADevices": paginate(client, "list_mfa_devices", "MFADevices", UserName=user)}


def _credential_report(client: Any) -> dict[str, Any]:
    """Ask IAM for a fresh credential report, wait briefly, and return it as CSV text.

    When the report is still not ready, GetCredentialReport raises ReportInProgress, which the
    caller records as the report's status.
    """
    for attempt_number in range(REPORT_POLL_ATTEMPTS):
        # An answer without a State would otherwise be waited on as "not ready yet".
        state = require(client.generate_credential_report(), "State", "GenerateCredentialReport")
        if state == "COMPLETE":
            break
        time.sleep(min(REPORT_POLL_SECONDS * 2**attempt_number, REPORT_POLL_MAX_SECONDS))
    report = client.get_credential_report()
    return {
        "Content": bytes(require(report, "Content", "GetCredentialReport")).decode("utf-8"),
        "GeneratedTime": report.get("GeneratedTime"),
    }


def _access_keys(client: Any, user: str) -> dict[str, Any]:
    keys = paginate(client, "list_access_keys", "AccessKeyMetadata", UserName=user)
    return {"AccessKeyMetadata": keys}


def _key_last_used(client: Any, keys: Mapping[str, Any]) -> dict[str, Any]:
    """GetAccessKeyLastUsed for every key listed, by key id."""
    ids = [str(k["AccessKeyId"]) for k in keys.get("value", {}).get("AccessKeyMetadata", [])]
    return {i: attempt(partial(client.get_access_key_last_used, AccessKeyId=i)) for i in ids}


def _providers(client: Any) -> dict[str, Any]:
    # Neither list has a paginator: IAM returns every provider at once.
    return {
        "saml": attempt(client.list_saml_providers),
        "oidc": attempt(client.list_open_id_connect_providers),
    }


def get_account(client: Any) -> dict[str, Any]:
    """Account-level IAM facts, each captured apart: a denied one does not hide the others."""
    return {
        "summary": attempt(client.get_account_summary),
        # IAM always answers the minimum length of a password policy that exists.
        "password_policy": attempt(
            client.get_account_password_policy,
            ("NoSuchEntity",),
            required=("PasswordPolicy.MinimumPasswordLength",),
        ),
        "credential_report": attempt(partial(_credential_report, client)),
        **_providers(client),
    }


def get_iam(client: Any) -> dict[str, Any]:
    """Every page of GetAccountAuthorizationDetails, per-user MFA and keys, account facts.

    A denied GetAccountAuthorizationDetails raises (→ coverage row); every later call is
    captured per user or per fact as a status.
    """
    raw: dict[str, Any] = {name: [] for name in _LISTS}
    for page in client.get_paginator("get_account_authorization_details").paginate():
        for name, key in _LISTS.items():
            raw[name].extend(clean(page.get(key, [])))
    users = [str(u["UserName"]) for u in raw["users"]]
    raw["mfa"] = {user: attempt(partial(_mfa, client, user)) for user in users}
    raw["access_keys"] = {user: attempt(partial(_access_keys, client, user)) for user in users}
    raw["key_last_used"] = {
        key_id: used
        for keys in raw["access_keys"].values()
        for key_id, used in _key_last_used(client, keys).items()
    }
    raw["account"] = get_account(client)
    return raw


def _inline(entries: list[Mapping[str, Any]]) -> dict[str, Any]:
    return {str(p["PolicyName"]): p.get("PolicyDocument") for p in entries}


def _attached(entity: Mapping[str, Any]) -> list[str]:
    return sorted(str(p["PolicyArn"]) for p in entity.get("AttachedManagedPolicies", []))


def _tags(entity: Mapping[str, Any]) -> dict[str, str]:
    return {str(t["Key"]): str(t["Value"]) for t in entity.get("Tags", [])}


def _common_attrs(entity: Mapping[str, Any], id_key: str, inline_key: str) -> dict[str, Any]:
    boundary = entity.get("PermissionsBoundary", {})
    return {
        "id": entity.get(id_key),
        "path": entity.get("Path"),
        "create_date": entity.get("CreateDate"),
        "attached_policies": _attached(entity),
        "inline_policies": _inline(entity.get(inline_key, [])),
        "permissions_boundary": boundary.get("PermissionsBoundaryArn"),
    }


def _principal(
    entity: Mapping[str, Any], kind: Kind, account: str, partition: str, attrs: dict[str, Any]
) -> Resource:
    return Resource(
        uid=str(entity["Arn"]),
        provider="aws",
        kind=kind,
        native_type=f"iam:{kind.value}",
        name=str(entity[f"{kind.value.capitalize()}Name"]),
        account=account,
        partition=partition,
        tags=_tags(entity),
        attrs=attrs,
    )


_NOT_ASKED = {"status": SKIPPED}
# Credential-report cells that mean "does not apply" (no password, no second key).
_NOT_APPLICABLE_CELLS = frozenset({"N/A"})


def _cell(value: str) -> bool | str | None:
    """One credential-report cell: booleans as bool, "N/A" as None, anything else as given.

    "no_information" (never used, or used before IAM tracked it) and "not_supported" (the
    root's password_enabled) are kept as strings: they say something None would not.
    """
    if value in ("true", "false"):
        return value == "true"
    return None if value in _NOT_APPLICABLE_CELLS else value


def parse_credential_report(content: str) -> dict[str, dict[str, Any]]:
    """The credential report's CSV → one dict of cells per user name ("<root_account>" too)."""
    rows = csv.DictReader(io.StringIO(content))
    return {str(row["user"]): {k: _cell(v or "") for k, v in row.items()} for row in rows}


def _report_facts(row: Mapping[str, Any]) -> dict[str, Any]:
    """A credential-report row → the password, MFA and access-key facts the checks read."""
    keys = [
        {
            "active": row.get(f"access_key_{n}_active"),
            "last_rotated": row.get(f"access_key_{n}_last_rotated"),
            "last_used_date": row.get(f"access_key_{n}_last_used_date"),
            "last_used_region": row.get(f"access_key_{n}_last_used_region"),
            "last_used_service": row.get(f"access_key_{n}_last_used_service"),
        }
        for n in (1, 2)
    ]
    return {
        "password_enabled": row.get("password_enabled"),
        "password_last_used": row.get("password_last_used"),
        "password_last_changed": row.get("password_last_changed"),
        "mfa_active": row.get("mfa_active"),
        "report_access_keys": keys,
    }


def _report_rows(raw: Mapping[str, Any]) -> tuple[str, dict[str, dict[str, Any]]]:
    """The credential report's status and its rows by user (none unless it was read)."""
    report = raw.get("account", {}).get("credential_report", _NOT_ASKED)
    if report["status"] != READ:
        return str(report["status"]), {}
    return READ, parse_credential_report(str(report["value"]["Content"]))


def _report_attrs(status: str, row: Mapping[str, Any] | None) -> dict[str, Any]:
    """Credential-report attrs of one principal; "not_in_report" when the report lacks it."""
    if row is None:
        missing = "not_in_report" if status == READ else status
        return {"credential_report_status": missing, **_report_facts({})}
    return {"credential_report_status": READ, **_report_facts(row)}


def _not_applicable(value: Any) -> Any:
    # GetAccessKeyLastUsed answers "N/A" for the service and region of a never-used key.
    return None if value == "N/A" else value


def _key_attrs(key: Mapping[str, Any], used: Mapping[str, Any]) -> dict[str, Any]:
    last = used.get("value", {}).get("AccessKeyLastUsed", {})
    return {
        "id": key.get("AccessKeyId"),
        "status": key.get("Status"),
        "create_date": key.get("CreateDate"),
        "last_used_status": used["status"],
        "last_used_date": last.get("LastUsedDate"),
        "last_used_service": _not_applicable(last.get("ServiceName")),
        "last_used_region": _not_applicable(last.get("Region")),
    }


def _access_key_attrs(raw: Mapping[str, Any], user: str) -> dict[str, Any]:
    """ListAccessKeys and GetAccessKeyLastUsed facts of one user: identifiers, never secrets."""
    listed = raw.get("access_keys", {}).get(user, _NOT_ASKED)
    used = raw.get("key_last_used", {})
    keys = listed.get("value", {}).get("AccessKeyMetadata", [])
    return {
        "access_keys_status": listed["status"],
        "access_keys": [_key_attrs(k, used.get(str(k["AccessKeyId"]), _NOT_ASKED)) for k in keys],
    }


def transform_users(
    raw: Mapping[str, Any], account: str, partition: str
) -> Iterator[Resource | Edge]:
    """Users → Resources (MFA, keys, credential report) and `member_of` edges to their groups."""
    group_arns = {str(g["GroupName"]): str(g["Arn"]) for g in raw["groups"]}
    report_status, report = _report_rows(raw)
    for user in raw["users"]:
        name = str(user["UserName"])
        mfa = raw["mfa"].get(name, _NOT_ASKED)
        attrs = {
            **_common_attrs(user, "UserId", "UserPolicyList"),
            "groups": list(user.get("GroupList", [])),
            "mfa_status": mfa["status"],
            "mfa_devices": [d["SerialNumber"] for d in mfa.get("value", {}).get("MFADevices", [])],
            **_access_key_attrs(raw, name),
            **_report_attrs(report_status, report.get(name)),
        }
        yield _principal(user, Kind.USER, account, partition, attrs)
        for group in user.get("GroupList", []):
            # GroupList names groups only; an unknown group (listing raced) keeps a path-less ARN.
            arn = group_arns.get(group, f"arn:{partition}:iam::{account}:group/{group}")
            yield Edge(
                str(user["Arn"]),
                arn,
                Relation.MEMBER_OF,
                f"IAM user {name} is in group {group} "
                "(GetAccountAuthorizationDetails UserDetailList.GroupList)",
            )


def transform_groups(raw: Mapping[str, Any], account: str, partition: str) -> Iterator[Resource]:
    """Groups → Resources."""
    for group in raw["groups"]:
        attrs = _common_attrs(group, "GroupId", "GroupPolicyList")
        yield _principal(group, Kind.GROUP, account, partition, attrs)


def transform_roles(
    raw: Mapping[str, Any], account: str, partition: str
) -> Iterator[Resource | Edge]:
    """Roles → Resources and `can_assume` edges from every principal their trust policy names."""
    for role in raw["roles"]:
        arn = str(role["Arn"])
        trust = role.get("AssumeRolePolicyDocument")
        attrs = {
            **_common_attrs(role, "RoleId", "RolePolicyList"),
            "trust_policy": trust,
            "trust_policy_status": "read" if trust else "none",
            "max_session_duration": role.get("MaxSessionDuration"),
            "instance_profiles": [str(p["Arn"]) for p in role.get("InstanceProfileList", [])],
            "role_last_used": role.get("RoleLastUsed", {}).get("LastUsedDate"),
        }
        edges: tuple[Edge, ...] = ()
        if trust:
            try:
                edges = rights_from_policy(trust, arn, f"trust policy of {arn}", "sts").edges
            except PolicyDocumentError:
                unparsable_policy("trust policy")
                attrs["trust_policy_status"] = "invalid"
        yield _principal(role, Kind.ROLE, account, partition, attrs)
        yield from edges


def _flag(summary: Mapping[str, Any], name: str) -> bool | None:
    # The summary counts as 0/1; None when the summary could not be read.
    value = summary.get(name)
    return None if value is None else bool(value)


def _account_attrs(facts: Mapping[str, Any], report: tuple[str, dict[str, Any]]) -> dict[str, Any]:
    summary = facts.get("summary", _NOT_ASKED)
    policy = facts.get("password_policy", _NOT_ASKED)
    generated = facts.get("credential_report", _NOT_ASKED).get("value", {}).get("GeneratedTime")
    summary_map = summary.get("value", {}).get("SummaryMap", {})
    status, rows = report
    root = rows.get(ROOT_ROW)
    root_status = status if status != READ else (READ if root else "not_in_report")
    return {
        "summary_status": summary["status"],
        "summary": summary_map or None,
        "account_mfa_enabled": _flag(summary_map, "AccountMFAEnabled"),
        "account_access_keys_present": _flag(summary_map, "AccountAccessKeysPresent"),
        "password_policy_status": policy["status"],
        "password_policy": policy.get("value", {}).get("PasswordPolicy"),
        "credential_report_status": status,
        "credential_report_generated": generated,
        # moto's report has no <root_account> row; real IAM always has one.
        "root_status": root_status,
        "root_credentials": _report_facts(root) if root else None,
    }


def _provider_arns(listed: Mapping[str, Any], key: str) -> list[str]:
    return sorted(str(p["Arn"]) for p in listed.get("value", {}).get(key, []))


def _provider(
    arn: str, native_type: str, account: str, partition: str, attrs: dict[str, Any]
) -> Resource:
    return Resource(
        uid=arn,
        provider="aws",
        kind=Kind.FEDERATED,
        native_type=native_type,
        name=arn.split("/", 1)[-1],
        account=account,
        partition=partition,
        attrs=attrs,
    )


def transform_providers(
    facts: Mapping[str, Any], account: str, partition: str
) -> Iterator[Resource]:
    """SAML and OIDC identity providers → federated principals."""
    saml = facts.get("saml", _NOT_ASKED).get("value", {}).get("SAMLProviderList", [])
    for p in saml:
        attrs = {"create_date": p.get("CreateDate"), "valid_until": p.get("ValidUntil")}
        yield _provider(str(p["Arn"]), "iam:saml-provider", account, partition, attrs)
    oidc = facts.get("oidc", _NOT_ASKED).get("value", {}).get("OpenIDConnectProviderList", [])
    for p in oidc:
        # The ARN ends with the issuer URL without its scheme; ListOpenIDConnectProviders
        # gives nothing else.
        url = str(p["Arn"]).split("oidc-provider/", 1)[-1]
        yield _provider(str(p["Arn"]), "iam:oidc-provider", account, partition, {"url": url})


def transform_account(raw: Mapping[str, Any], account: str, partition: str) -> Iterator[Resource]:
    """The account's IAM-wide facts → one `iam:account` Resource, then its identity providers."""
    facts = raw.get("account", {})
    saml, oidc = facts.get("saml", _NOT_ASKED), facts.get("oidc", _NOT_ASKED)
    attrs = {
        **_account_attrs(facts, _report_rows(raw)),
        "saml_providers_status": saml["status"],
        "saml_providers": _provider_arns(saml, "SAMLProviderList"),
        "oidc_providers_status": oidc["status"],
        "oidc_providers": _provider_arns(oidc, "OpenIDConnectProviderList"),
    }
    yield Resource(
        uid=f"arn:{partition}:iam::{account}:root",
        provider="aws",
        kind=Kind.ACCOUNT,
        native_type="iam:account",
        name=account,
        account=account,
        partition=partition,
        attrs=attrs,
    )
    yield from transform_providers(facts, account, partition)


def _default_document(policy: Mapping[str, Any]) -> Any:
    """The document of a managed policy's default version (URL-encoded JSON, or parsed)."""
    for version in policy.get("PolicyVersionList", []):
        if version.get("IsDefaultVersion"):
            return version.get("Document")
    return None


def transform_policies(raw: Mapping[str, Any], account: str, partition: str) -> Iterator[Resource]:
    """Managed policies (customer and AWS) with their default document, for rights evaluation."""
    for policy in raw.get("policies", []):
        arn = str(policy["Arn"])
        document = _default_document(policy)
        yield Resource(
            uid=arn,
            provider="aws",
            kind=Kind.IAM_POLICY,
            native_type="iam:policy",
            name=str(policy.get("PolicyName", arn.rsplit("/", 1)[-1])),
            account=account,
            partition=partition,
            attrs={
                "aws_managed": arn.split(":")[4] == "aws",
                "attachment_count": policy.get("AttachmentCount"),
                "default_version": policy.get("DefaultVersionId"),
                "document_status": READ if document is not None else "none",
                "document": document,
            },
        )


def transform_iam(
    raw: Mapping[str, Any], account: str, partition: str
) -> Iterator[Resource | Edge]:
    """The account's raw IAM details → principal resources and delegation edges."""
    yield from transform_policies(raw, account, partition)
    yield from transform_users(raw, account, partition)
    yield from transform_groups(raw, account, partition)
    yield from transform_roles(raw, account, partition)
    yield from transform_account(raw, account, partition)


def collect(ctx: ServiceContext) -> Collected:
    """IAM once per account, from the home region."""
    raw = get_iam(ctx.clients.get("iam", ctx.home))
    records: list[Record] = list(transform_iam(raw, ctx.identity.account, ctx.identity.partition))
    detail = f"{len(raw['users'])} users, {len(raw['groups'])} groups, {len(raw['roles'])} roles"
    return records, detail


SERVICE = Service("iam", Scope.GLOBAL, collect, OPERATIONS, phase=0)
