"""Facts several AWS services report alike: who holds the key, and what a resource policy grants.

Services name their KMS key as a key id, key ARN, alias or alias ARN; every adapter turns it
into the same attrs (`kms_key_arn`, `key_owner`) and `encrypted_by` edge, and every resource
policy into rights edges with the same status values, so the checks judge them alike.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from auditor.inventories.aws.calls import READ, unparsable_policy
from auditor.inventories.aws.policy_rights import PolicyDocumentError, rights_from_policy
from auditor.inventories.aws.s3 import resolve_kms_key
from auditor.model import Edge, Relation

AWS_OWNED = "aws_owned"
AWS_MANAGED = "aws_managed"
# A policy that could be read but not parsed.
INVALID = "invalid"


def is_aws_managed_alias(key: str | None) -> bool:
    """True for `alias/aws/<service>` (bare or as an alias ARN): a key AWS manages for you."""
    return bool(key) and "alias/aws/" in str(key)


def kms_key_facts(
    configured: str | None, region: str, account: str, partition: str, aliases: Mapping[str, str]
) -> dict[str, Any]:
    """`kms_key_arn` and `key_owner` for a key id, key ARN, alias or alias ARN a service names."""
    if not configured:
        return {"kms_key_arn": None, "key_owner": None}
    return {
        "kms_key_arn": resolve_kms_key(configured, region, account, partition, aliases),
        "key_owner": AWS_MANAGED if is_aws_managed_alias(configured) else None,
    }


def encrypted_by(uid: str, attrs: Mapping[str, Any], evidence: str) -> Iterator[Edge]:
    """The `encrypted_by` edge when the resource's key ARN is known."""
    if attrs.get("kms_key_arn"):
        yield Edge(uid, str(attrs["kms_key_arn"]), Relation.ENCRYPTED_BY, evidence)


def resource_policy_rights(
    status: str, document: Any, uid: str, label: str, service: str
) -> tuple[tuple[Edge, ...], str]:
    """Rights edges of a resource policy, and its status ("invalid" when it cannot be parsed)."""
    if status != READ or not document:
        return (), status
    try:
        return rights_from_policy(document, uid, label, service).edges, status
    except PolicyDocumentError:
        unparsable_policy(f"{service} policy")
        return (), INVALID
