"""SQS queues of one region: encryption at rest, queue policy rights, dead-letter queue."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from functools import partial
from typing import Any
from urllib.parse import urlsplit

from auditor.inventories.aws.calls import NONE, READ, attempt, paginate
from auditor.inventories.aws.facts import (
    AWS_OWNED,
    encrypted_by,
    kms_key_facts,
    resource_policy_rights,
)
from auditor.inventories.aws.registry import Collected, Scope, Service, ServiceContext
from auditor.inventories.regions import jurisdiction_of
from auditor.model import Edge, Kind, Record, Resource

# (botocore service, API operation) → the IAM action it needs.
OPERATIONS: dict[tuple[str, str], str] = {
    ("sqs", "ListQueues"): "sqs:ListQueues",
    ("sqs", "GetQueueAttributes"): "sqs:GetQueueAttributes",
    ("sqs", "ListQueueTags"): "sqs:ListQueueTags",
}

NATIVE_TYPE = "sqs:queue"


# --- get ------------------------------------------------------------------------------------


def get_queue(client: Any, url: str) -> dict[str, Any]:
    """Read every attribute and the tags of one queue, each captured apart."""
    return {
        "QueueUrl": url,
        "attributes": attempt(
            partial(client.get_queue_attributes, QueueUrl=url, AttributeNames=["All"]),
            required=("Attributes",),
        ),
        "tags": attempt(partial(client.list_queue_tags, QueueUrl=url)),
    }


def get_sqs(client: Any, region: str) -> dict[str, Any]:
    """List and read every queue in `region`; a denied ListQueues raises (→ coverage row)."""
    # Without MaxResults, ListQueues answers at most 1,000 queues and no NextToken: the rest
    # of a large region would vanish silently.  With it, the answer pages.
    urls = paginate(client, "list_queues", "QueueUrls", PaginationConfig={"PageSize": 1000})
    return {"region": region, "queues": [get_queue(client, str(url)) for url in urls]}


# --- transform (pure) -----------------------------------------------------------------------


def queue_arn_from_url(url: str, region: str, partition: str) -> str:
    """`arn:<p>:sqs:<region>:<account>:<name>` from a queue URL, when attributes are unread.

    >>> queue_arn_from_url("https://sqs.cn-north-1.amazonaws.com.cn/123456789012/q", "cn-north-1",
    ...                    "aws-cn")
    'arn:aws-cn:sqs:cn-north-1:123456789012:q'
    """
    account, _, name = urlsplit(url).path.strip("/").partition("/")
    return f"arn:{partition}:sqs:{region}:{account}:{name}"


def _encryption(fact: Mapping[str, Any], facts: Mapping[str, Any]) -> dict[str, Any]:
    attributes = fact.get("value", {}).get("Attributes", {})
    configured = attributes.get("KmsMasterKeyId")
    if fact["status"] != READ:
        encrypted: bool | None = None
    else:
        # SSE-KMS wins: SqsManagedSseEnabled only means something without a KMS key.
        encrypted = bool(configured) or attributes.get("SqsManagedSseEnabled") == "true"
    key_owner = facts["key_owner"]
    if encrypted and not configured:
        key_owner = AWS_OWNED
    return {
        "encryption_status": fact["status"],
        "encrypted": encrypted,
        "kms_key": configured,
        "kms_key_arn": facts["kms_key_arn"],
        "key_owner": key_owner,
        "sqs_managed_sse": attributes.get("SqsManagedSseEnabled") == "true",
    }


def _json_attribute(attributes: Mapping[str, Any], name: str) -> dict[str, Any]:
    """An attribute SQS returns as JSON text; {} when absent or not a JSON object."""
    try:
        parsed = json.loads(attributes.get(name) or "{}")
    except json.JSONDecodeError:
        return {}
    return parsed if isinstance(parsed, dict) else {}


def _redrive(attributes: Mapping[str, Any]) -> dict[str, Any]:
    redrive = _json_attribute(attributes, "RedrivePolicy")
    return {
        "dead_letter_target_arn": redrive.get("deadLetterTargetArn"),
        "max_receive_count": redrive.get("maxReceiveCount"),
        "redrive_allow_policy": _json_attribute(attributes, "RedriveAllowPolicy") or None,
    }


def _policy_status(fact: Mapping[str, Any]) -> str:
    if fact["status"] != READ:
        return str(fact["status"])
    return READ if fact["value"].get("Attributes", {}).get("Policy") else NONE


def transform_queue(
    queue: Mapping[str, Any], region: str, partition: str, aliases: Mapping[str, str]
) -> Iterator[Resource | Edge]:
    """One queue → its Resource, `encrypted_by` and queue-policy rights edges."""
    fact = queue["attributes"]
    attributes = fact.get("value", {}).get("Attributes", {})
    uid = str(
        attributes.get("QueueArn") or queue_arn_from_url(queue["QueueUrl"], region, partition)
    )
    account = uid.split(":")[4]
    key = kms_key_facts(attributes.get("KmsMasterKeyId"), region, account, partition, aliases)
    policy = attributes.get("Policy")
    rights, policy_status = resource_policy_rights(
        _policy_status(fact), policy, uid, f"queue policy of {uid}", "sqs"
    )
    attrs: dict[str, Any] = {
        "queue_url": queue["QueueUrl"],
        "attributes_status": fact["status"],
        **_encryption(fact, key),
        "policy_status": policy_status,
        "policy": policy,
        **_redrive(attributes),
        "fifo": attributes.get("FifoQueue") == "true",
        "message_retention_seconds": attributes.get("MessageRetentionPeriod"),
        "tags_status": queue["tags"]["status"],
    }
    yield Resource(
        uid=uid,
        provider="aws",
        kind=Kind.QUEUE,
        native_type=NATIVE_TYPE,
        name=uid.rsplit(":", 1)[-1],
        account=account,
        region=region,
        partition=partition,
        jurisdiction=jurisdiction_of("aws", region),
        tags=dict(queue["tags"].get("value", {}).get("Tags", {})),
        attrs=attrs,
    )
    evidence = (
        f"SQS queue {uid} is encrypted with {attrs['kms_key']} (GetQueueAttributes KmsMasterKeyId)"
    )
    yield from encrypted_by(uid, attrs, evidence)
    yield from rights


def transform_sqs(
    raw: Mapping[str, Any], partition: str, aliases: Mapping[str, str] | None = None
) -> Iterator[Resource | Edge]:
    """Every queue of one region's raw listing → resources and edges."""
    for queue in raw["queues"]:
        yield from transform_queue(queue, str(raw["region"]), partition, aliases or {})


def collect(ctx: ServiceContext) -> Collected:
    """SQS queues of one region."""
    raw = get_sqs(ctx.clients.get("sqs", ctx.region), ctx.region)
    records: list[Record] = list(transform_sqs(raw, ctx.identity.partition, ctx.facts.aliases()))
    return records, f"{len(raw['queues'])} queues"


SERVICE = Service("sqs", Scope.REGIONAL, collect, OPERATIONS, phase=1)
