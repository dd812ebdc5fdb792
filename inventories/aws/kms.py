"""KMS keys of one region: custody facts (origin, manager, state, replicas), policy rights and
grants (a grant hands out Decrypt without touching the key policy)."""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from functools import partial
from typing import Any

from auditor.inventories.aws.calls import NOT_APPLICABLE, READ, SKIPPED, attempt, paginate
from auditor.inventories.aws.facts import resource_policy_rights
from auditor.inventories.aws.policy_rights import (
    normalise_principal,
)
from auditor.inventories.aws.registry import Collected, Scope, Service, ServiceContext
from auditor.inventories.regions import jurisdiction_of
from auditor.model import Edge, Kind, Relation, Resource

# (botocore service, API operation) → the IAM action it needs.
OPERATIONS: dict[tuple[str, str], str] = {
    ("kms", "ListKeys"): "kms:ListKeys",
    ("kms", "ListAliases"): "kms:ListAliases",
    ("kms", "DescribeKey"): "kms:DescribeKey",
    ("kms", "GetKeyPolicy"): "kms:GetKeyPolicy",
    ("kms", "GetKeyRotationStatus"): "kms:GetKeyRotationStatus",
    ("kms", "ListResourceTags"): "kms:ListResourceTags",
    ("kms", "ListGrants"): "kms:ListGrants",
}
PERMISSIONS: tuple[str, ...] = tuple(sorted(set(OPERATIONS.values())))

NATIVE_TYPE = "kms:key"

# Grant operations → the right they give the grantee on the key.
GRANT_RIGHTS: tuple[tuple[str, Relation], ...] = (
    ("Decrypt", Relation.CAN_DECRYPT),
    ("ReEncryptFrom", Relation.CAN_DECRYPT),
    ("GenerateDataKey", Relation.CAN_DECRYPT),
    ("GenerateDataKeyPair", Relation.CAN_DECRYPT),
    ("GenerateDataKeyWithoutPlaintext", Relation.CAN_DECRYPT),
    ("GenerateDataKeyPairWithoutPlaintext", Relation.CAN_DECRYPT),
    # Creating grants hands out any operation; retiring them takes access away from others.
    ("CreateGrant", Relation.CAN_ADMIN),
    ("RetireGrant", Relation.CAN_ADMIN),
)
_ACCOUNT_OR_ROOT = re.compile(r"^(\d{12}|arn:[a-z0-9-]+:iam::\d{12}:root)$")


def _rotates(meta: Mapping[str, Any]) -> bool:
    """Rotation exists only for customer-managed symmetric keys with KMS-made material."""
    return (
        meta.get("KeyManager") == "CUSTOMER"
        and meta.get("KeySpec") == "SYMMETRIC_DEFAULT"
        and meta.get("Origin") == "AWS_KMS"
    )


def _tags(client: Any, key_id: str) -> dict[str, Any]:
    return {"Tags": paginate(client, "list_resource_tags", "Tags", KeyId=key_id)}


def get_key(client: Any, key: Mapping[str, Any]) -> dict[str, Any]:
    """Describe one key and read its policy, rotation status and tags, each captured apart."""
    key_id = str(key["KeyId"])
    describe = attempt(partial(client.describe_key, KeyId=key_id), required=("KeyMetadata",))
    meta = describe.get("value", {}).get("KeyMetadata", {})
    customer = meta.get("KeyManager") == "CUSTOMER"
    skipped = {"status": SKIPPED if describe["status"] != READ else NOT_APPLICABLE}
    return {
        "KeyId": key_id,
        "KeyArn": key.get("KeyArn"),
        "describe": describe,
        # Every key has a policy: an answer without one says nothing about who may use it.
        "policy": attempt(
            partial(client.get_key_policy, KeyId=key_id, PolicyName="default"),
            required=("Policy",),
        ),
        "rotation": (
            attempt(
                partial(client.get_key_rotation_status, KeyId=key_id),
                required=("KeyRotationEnabled",),
            )
            if _rotates(meta)
            else skipped
        ),
        "tags": attempt(partial(_tags, client, key_id)) if customer else skipped,
        # AWS-managed keys carry grants too, but only the services' own: custody is AWS's.
        "grants": attempt(partial(_grants, client, key_id)) if customer else skipped,
    }


def _grants(client: Any, key_id: str) -> dict[str, Any]:
    return {"Grants": paginate(client, "list_grants", "Grants", KeyId=key_id)}


def get_kms(client: Any, region: str) -> dict[str, Any]:
    """List and read every key in `region`; a denied ListKeys raises (→ coverage row)."""
    keys = paginate(client, "list_keys", "Keys")
    aliases = attempt(lambda: {"Aliases": paginate(client, "list_aliases", "Aliases")})
    return {"region": region, "aliases": aliases, "keys": [get_key(client, k) for k in keys]}


def _aliases_by_key(raw: Mapping[str, Any]) -> dict[str, list[Mapping[str, Any]]]:
    by_key: dict[str, list[Mapping[str, Any]]] = {}
    region = str(raw["region"])
    for alias in raw["aliases"].get("value", {}).get("Aliases", []):
        # Aliases are regional; moto lists a multi-Region primary's alias (with the primary's
        # region in its ARN) in the replica's region too, which would bind it to the replica.
        alias_region = str(alias.get("AliasArn", "")).split(":")[3:4]
        if alias.get("TargetKeyId") and alias_region in ([region], []):
            by_key.setdefault(str(alias["TargetKeyId"]), []).append(alias)
    return by_key


def alias_targets(raw: Mapping[str, Any]) -> dict[str, str]:
    """Alias ARN → key ARN for the keys listed in `raw` (to resolve S3 encryption settings)."""
    arns = {str(k["KeyId"]): str(k["KeyArn"]) for k in raw["keys"] if k.get("KeyArn")}
    return {
        str(alias["AliasArn"]): arns[key_id]
        for key_id, aliases in _aliases_by_key(raw).items()
        if key_id in arns
        for alias in aliases
        if alias.get("AliasArn")
    }


def _key_attrs(key: Mapping[str, Any], aliases: list[Mapping[str, Any]]) -> dict[str, Any]:
    meta = key["describe"].get("value", {}).get("KeyMetadata", {})
    multi = meta.get("MultiRegionConfiguration", {})
    rotation = key["rotation"]
    policy = key["policy"]
    return {
        "key_id": key["KeyId"],
        "describe_status": key["describe"]["status"],
        "origin": meta.get("Origin"),
        "key_manager": meta.get("KeyManager"),
        "key_state": meta.get("KeyState"),
        "key_spec": meta.get("KeySpec"),
        "key_usage": meta.get("KeyUsage"),
        "custom_key_store_id": meta.get("CustomKeyStoreId"),
        "creation_date": meta.get("CreationDate"),
        "deletion_date": meta.get("DeletionDate"),
        "multi_region": meta.get("MultiRegion"),
        "multi_region_type": multi.get("MultiRegionKeyType"),
        "primary_key_arn": multi.get("PrimaryKey", {}).get("Arn"),
        "replica_key_arns": [r["Arn"] for r in multi.get("ReplicaKeys", [])],
        "aliases": sorted(str(a["AliasName"]) for a in aliases),
        "rotation_status": rotation["status"],
        "rotation_enabled": rotation.get("value", {}).get("KeyRotationEnabled"),
        "tags_status": key["tags"]["status"],
        "policy_status": policy["status"],
        "policy": policy.get("value", {}).get("Policy"),
        **_grant_attrs(key),
    }


def _grant_attrs(key: Mapping[str, Any]) -> dict[str, Any]:
    # Recordings made before grants were read lack them: not asked, so unknown.
    fact = key.get("grants", {"status": SKIPPED})
    return {
        "grants_status": fact["status"],
        "grants": [
            {
                "id": g.get("GrantId"),
                "name": g.get("Name") or None,
                "grantee": g.get("GranteePrincipal"),
                "retiring_principal": g.get("RetiringPrincipal"),
                "operations": list(g.get("Operations", [])),
                "constraints": g.get("Constraints") or {},
                "issuing_account": g.get("IssuingAccount"),
            }
            for g in fact.get("value", {}).get("Grants", [])
        ],
    }


def grantee_uid(principal: str) -> str:
    """Graph node of a grant's grantee, the way `policy_rights` names policy principals.

    >>> grantee_uid("arn:aws-cn:iam::111122223333:root"), grantee_uid("111122223333")
    ('account:111122223333', 'account:111122223333')
    >>> grantee_uid("logs.cn-north-1.amazonaws.com.cn")
    'service:logs.cn-north-1.amazonaws.com.cn'
    """
    if principal.startswith("arn:") or _ACCOUNT_OR_ROOT.match(principal) or principal == "*":
        return normalise_principal("AWS", principal)
    return normalise_principal("Service", principal)


def _grant_edges(arn: str, grants: list[Mapping[str, Any]]) -> Iterator[Edge]:
    for grant in grants:
        if not grant["grantee"]:
            continue
        operations = set(grant["operations"])
        rights = sorted({right for op, right in GRANT_RIGHTS if op in operations})
        for right in rights:
            yield Edge(
                grantee_uid(str(grant["grantee"])),
                arn,
                right,
                f"KMS grant {grant['id']} ({', '.join(grant['operations'])}) "
                f"on {arn} gives {right.value} (ListGrants)",
                dict(grant["constraints"]),
            )


def _tag_dict(key: Mapping[str, Any]) -> dict[str, str]:
    tags = key["tags"].get("value", {}).get("Tags", [])
    return {str(t["TagKey"]): str(t["TagValue"]) for t in tags}


def transform_key(
    key: Mapping[str, Any], region: str, partition: str, aliases: list[Mapping[str, Any]]
) -> Iterator[Resource | Edge]:
    """One key → its Resource, `replicates_to` edges (primary → replicas) and policy rights."""
    attrs = _key_attrs(key, aliases)
    arn = str(key.get("KeyArn") or key["describe"]["value"]["KeyMetadata"]["Arn"])
    meta = key["describe"].get("value", {}).get("KeyMetadata", {})
    yield from _policy_rights(arn, attrs)
    yield from _grant_edges(arn, attrs["grants"])
    yield Resource(
        uid=arn,
        provider="aws",
        kind=Kind.KEY,
        native_type=NATIVE_TYPE,
        name=attrs["aliases"][0] if attrs["aliases"] else str(key["KeyId"]),
        account=str(meta.get("AWSAccountId") or arn.split(":")[4]),
        region=region,
        partition=partition,
        jurisdiction=jurisdiction_of("aws", region),
        tags=_tag_dict(key),
        attrs=attrs,
    )
    if attrs["multi_region_type"] == "PRIMARY":
        for replica in attrs["replica_key_arns"]:
            yield Edge(
                arn,
                replica,
                Relation.REPLICATES_TO,
                f"KMS multi-Region primary key {arn} has replica {replica} "
                "(DescribeKey KeyMetadata.MultiRegionConfiguration.ReplicaKeys)",
            )


def _policy_rights(arn: str, attrs: dict[str, Any]) -> Iterator[Edge]:
    edges, attrs["policy_status"] = resource_policy_rights(
        attrs["policy_status"], attrs["policy"], arn, f"key policy of {arn}", "kms"
    )
    yield from edges


def transform_kms(raw: Mapping[str, Any], partition: str) -> Iterator[Resource | Edge]:
    """Every key of one region's raw listing → resources and edges."""
    by_key = _aliases_by_key(raw)
    for key in raw["keys"]:
        yield from transform_key(key, str(raw["region"]), partition, by_key.get(key["KeyId"], []))


def collect(ctx: ServiceContext) -> Collected:
    """KMS keys of one region; their aliases are shared for S3 to resolve."""
    raw = get_kms(ctx.clients.get("kms", ctx.region), ctx.region)
    ctx.facts.add_aliases(alias_targets(raw))
    return list(transform_kms(raw, ctx.identity.partition)), f"{len(raw['keys'])} keys"


SERVICE = Service("kms", Scope.REGIONAL, collect, OPERATIONS, phase=0)
