"""Secrets Manager secrets of one region: key, replicas in other regions, resource policy rights.

Only metadata is read: the read-only guard refuses GetSecretValue, and nothing here asks for it.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from functools import partial
from typing import Any

from auditor.inventories.aws.calls import NONE, READ, attempt, clean, paginate
from auditor.inventories.aws.facts import (
    AWS_MANAGED,
    encrypted_by,
    kms_key_facts,
    resource_policy_rights,
)
from auditor.inventories.aws.registry import Collected, Scope, Service, ServiceContext
from auditor.inventories.regions import jurisdiction_of
from auditor.model import Edge, Kind, Record, Relation, Resource

# (botocore service, API operation) → the IAM action it needs.
OPERATIONS: dict[tuple[str, str], str] = {
    ("secretsmanager", "ListSecrets"): "secretsmanager:ListSecrets",
    ("secretsmanager", "DescribeSecret"): "secretsmanager:DescribeSecret",
    ("secretsmanager", "GetResourcePolicy"): "secretsmanager:GetResourcePolicy",
}

NATIVE_TYPE = "secretsmanager:secret"


# --- get ------------------------------------------------------------------------------------


def get_secret(client: Any, listed: Mapping[str, Any]) -> dict[str, Any]:
    """Describe one secret and read its resource policy, each captured apart."""
    arn = str(listed["ARN"])
    return {
        "listed": listed,
        "describe": attempt(partial(client.describe_secret, SecretId=arn), required=("ARN",)),
        # Without a policy the answer still names the secret: one that does not is not "none".
        "policy": attempt(partial(client.get_resource_policy, SecretId=arn), required=("ARN",)),
    }


def get_secrets(client: Any, region: str) -> dict[str, Any]:
    """List and read every secret in `region`; a denied ListSecrets raises (→ coverage row)."""
    # Secrets scheduled for deletion still hold their value until the window ends.
    listed = clean(paginate(client, "list_secrets", "SecretList", IncludePlannedDeletion=True))
    return {"region": region, "secrets": [get_secret(client, s) for s in listed]}


# --- transform (pure) -----------------------------------------------------------------------


def replica_arn(arn: str, region: str) -> str:
    """A replica keeps the primary's ARN (name and random suffix) with its own region.

    >>> replica_arn("arn:aws-cn:secretsmanager:cn-north-1:123456789012:secret:db-AbC123",
    ...             "cn-northwest-1")
    'arn:aws-cn:secretsmanager:cn-northwest-1:123456789012:secret:db-AbC123'
    """
    parts = arn.split(":")
    parts[3] = region
    return ":".join(parts)


def _details(secret: Mapping[str, Any]) -> Mapping[str, Any]:
    """DescribeSecret's answer, else what ListSecrets said of the secret."""
    describe = secret["describe"]
    details: Mapping[str, Any] = secret["listed"]
    return describe["value"] if describe["status"] == READ else details


def _encryption(details: Mapping[str, Any], key: Mapping[str, Any]) -> dict[str, Any]:
    configured = details.get("KmsKeyId")
    return {
        # ListSecrets already names the key, so the fact is read whenever the secret is listed.
        "encryption_status": READ,
        "encrypted": True,  # Secrets Manager always encrypts, with aws/secretsmanager by default
        "kms_key": configured,
        "kms_key_arn": key["kms_key_arn"],
        "key_owner": key["key_owner"] if configured else AWS_MANAGED,
    }


def _policy(fact: Mapping[str, Any]) -> tuple[str | None, str]:
    """The policy text and its status; GetResourcePolicy answers without one when none is set."""
    if fact["status"] != READ:
        return None, str(fact["status"])
    document = fact["value"].get("ResourcePolicy")
    return (str(document), READ) if document else (None, NONE)


def _replicas(secret: Mapping[str, Any]) -> list[dict[str, Any]]:
    statuses = secret["describe"].get("value", {}).get("ReplicationStatus", [])
    return [
        {
            "region": r.get("Region"),
            "status": r.get("Status"),
            "kms_key": r.get("KmsKeyId"),
            "status_message": r.get("StatusMessage"),
        }
        for r in statuses
    ]


def _replication_edges(uid: str, attrs: Mapping[str, Any]) -> Iterator[Edge]:
    if attrs["is_replica"]:
        return  # the primary's region reports the flow
    for replica in attrs["replicas"]:
        yield Edge(
            uid,
            replica_arn(uid, str(replica["region"])),
            Relation.REPLICATES_TO,
            f"DescribeSecret ReplicationStatus: {uid} has a replica in {replica['region']} "
            f"(status {replica['status']})",
        )


def transform_secret(
    secret: Mapping[str, Any], region: str, partition: str, aliases: Mapping[str, str]
) -> Iterator[Resource | Edge]:
    """One secret → its Resource, `replicates_to`, `encrypted_by` and policy rights edges."""
    details = _details(secret)
    uid = str(secret["listed"]["ARN"])
    account = uid.split(":")[4]
    key = kms_key_facts(details.get("KmsKeyId"), region, account, partition, aliases)
    policy, status = _policy(secret["policy"])
    label = f"resource policy of {uid}"
    rights, policy_status = resource_policy_rights(status, policy, uid, label, "secretsmanager")
    primary_region = details.get("PrimaryRegion")
    attrs: dict[str, Any] = {
        "describe_status": secret["describe"]["status"],
        **_encryption(details, key),
        "primary_region": primary_region,
        "is_replica": bool(primary_region) and primary_region != region,
        "replication_status": secret["describe"]["status"],
        "replicas": _replicas(secret),
        "rotation_enabled": details.get("RotationEnabled"),
        "rotation_lambda_arn": details.get("RotationLambdaARN"),
        "last_rotated_date": details.get("LastRotatedDate"),
        "deleted_date": details.get("DeletedDate"),
        "owning_service": details.get("OwningService"),
        "policy_status": policy_status,
        "policy": policy,
        "tags_status": READ,  # tags come with the listing
    }
    yield Resource(
        uid=uid,
        provider="aws",
        kind=Kind.SECRET,
        native_type=NATIVE_TYPE,
        name=str(details.get("Name") or secret["listed"].get("Name")),
        account=account,
        region=region,
        partition=partition,
        jurisdiction=jurisdiction_of("aws", region),
        tags={str(t["Key"]): str(t["Value"]) for t in details.get("Tags", [])},
        attrs=attrs,
    )
    yield from _replication_edges(uid, attrs)
    evidence = f"secret {uid} is encrypted with {attrs['kms_key']} (DescribeSecret KmsKeyId)"
    yield from encrypted_by(uid, attrs, evidence)
    yield from rights


def transform_secrets(
    raw: Mapping[str, Any], partition: str, aliases: Mapping[str, str] | None = None
) -> Iterator[Resource | Edge]:
    """Every secret of one region's raw listing → resources and edges."""
    for secret in raw["secrets"]:
        yield from transform_secret(secret, str(raw["region"]), partition, aliases or {})


def collect(ctx: ServiceContext) -> Collected:
    """Secrets Manager secrets of one region (metadata only)."""
    raw = get_secrets(ctx.clients.get("secretsmanager", ctx.region), ctx.region)
    records: list[Record] = list(
        transform_secrets(raw, ctx.identity.partition, ctx.facts.aliases())
    )
    return records, f"{len(raw['secrets'])} secrets"


SERVICE = Service("secretsmanager", Scope.REGIONAL, collect, OPERATIONS, phase=1)
