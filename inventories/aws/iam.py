"""IAM principals of one account: users, groups, roles, memberships and role trust."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from functools import partial
from typing import Any

from auditor.inventories.aws.calls import attempt, clean, paginate
from auditor.inventories.aws.policy_rights import PolicyDocumentError, rights_from_policy
from auditor.inventories.aws.registry import Collected, Scope, Service, ServiceContext
from auditor.model import Edge, Kind, Record, Relation, Resource

# (botocore service, API operation) → the IAM action it needs.
OPERATIONS: dict[tuple[str, str], str] = {
    ("iam", "GetAccountAuthorizationDetails"): "iam:GetAccountAuthorizationDetails",
    ("iam", "ListMFADevices"): "iam:ListMFADevices",
}
PERMISSIONS: tuple[str, ...] = tuple(sorted(set(OPERATIONS.values())))

_LISTS = {
    "users": "UserDetailList",
    "groups": "GroupDetailList",
    "roles": "RoleDetailList",
    "policies": "Policies",
}


def _mfa(client: Any, user: str) -> dict[str, Any]:
    return {"MFADevices": paginate(client, "list_mfa_devices", "MFADevices", UserName=user)}


def get_iam(client: Any) -> dict[str, Any]:
    """Every page of GetAccountAuthorizationDetails plus each user's MFA devices.

    A denied GetAccountAuthorizationDetails raises (→ coverage row); a denied ListMFADevices
    is kept per user as a status.
    """
    raw: dict[str, Any] = {name: [] for name in _LISTS}
    for page in client.get_paginator("get_account_authorization_details").paginate():
        for name, key in _LISTS.items():
            raw[name].extend(clean(page.get(key, [])))
    raw["mfa"] = {
        str(u["UserName"]): attempt(partial(_mfa, client, str(u["UserName"]))) for u in raw["users"]
    }
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


def transform_users(
    raw: Mapping[str, Any], account: str, partition: str
) -> Iterator[Resource | Edge]:
    """Users → Resources (with MFA devices) and `member_of` edges to their groups."""
    group_arns = {str(g["GroupName"]): str(g["Arn"]) for g in raw["groups"]}
    for user in raw["users"]:
        name = str(user["UserName"])
        mfa = raw["mfa"].get(name, {"status": "skipped"})
        attrs = {
            **_common_attrs(user, "UserId", "UserPolicyList"),
            "groups": list(user.get("GroupList", [])),
            "mfa_status": mfa["status"],
            "mfa_devices": [d["SerialNumber"] for d in mfa.get("value", {}).get("MFADevices", [])],
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
                attrs["trust_policy_status"] = "invalid"
        yield _principal(role, Kind.ROLE, account, partition, attrs)
        yield from edges


def transform_iam(
    raw: Mapping[str, Any], account: str, partition: str
) -> Iterator[Resource | Edge]:
    """The account's raw IAM details → principal resources and delegation edges."""
    yield from transform_users(raw, account, partition)
    yield from transform_groups(raw, account, partition)
    yield from transform_roles(raw, account, partition)


def collect(ctx: ServiceContext) -> Collected:
    """IAM once per account, from the home region."""
    raw = get_iam(ctx.clients.get("iam", ctx.home))
    records: list[Record] = list(transform_iam(raw, ctx.identity.account, ctx.identity.partition))
    detail = f"{len(raw['users'])} users, {len(raw['groups'])} groups, {len(raw['roles'])} roles"
    return records, detail


SERVICE = Service("iam", Scope.GLOBAL, collect, OPERATIONS, phase=0)
