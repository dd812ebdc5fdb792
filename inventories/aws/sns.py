"""SNS topics of one region: encryption, topic policy rights, and where subscriptions deliver.

Every subscription is a data flow: each message published to the topic is copied to the
subscribed queue, function or stream (a `copies_to` edge to its ARN), or sent out of AWS to a
web hook, e-mail address or phone (a `copies_to` edge to an `sns:endpoint` resource).  E-mail
addresses and phone numbers are personal data, so they are masked before they are recorded:
only the e-mail domain and the last four digits of a number are kept; web hooks keep only
their host, since paths and query strings often carry tokens.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from functools import partial
from typing import Any
from urllib.parse import urlsplit

from auditor.inventories.aws.calls import NONE, READ, attempt, paginate
from auditor.inventories.aws.facts import (
    encrypted_by,
    kms_key_facts,
    resource_policy_rights,
)
from auditor.inventories.aws.registry import Collected, Scope, Service, ServiceContext
from auditor.inventories.regions import jurisdiction_of
from auditor.model import Edge, Kind, Record, Relation, Resource

# (botocore service, API operation) → the IAM action it needs.
OPERATIONS: dict[tuple[str, str], str] = {
    ("sns", "ListTopics"): "sns:ListTopics",
    ("sns", "GetTopicAttributes"): "sns:GetTopicAttributes",
    ("sns", "ListSubscriptionsByTopic"): "sns:ListSubscriptionsByTopic",
    ("sns", "ListTagsForResource"): "sns:ListTagsForResource",
}

NATIVE_TYPE = "sns:topic"
ENDPOINT_TYPE = "sns:endpoint"
PENDING = "PendingConfirmation"


# --- get ------------------------------------------------------------------------------------


def get_topic(client: Any, arn: str) -> dict[str, Any]:
    """Read the attributes, subscriptions and tags of one topic, each captured apart."""
    return {
        "TopicArn": arn,
        "attributes": attempt(partial(client.get_topic_attributes, TopicArn=arn)),
        "subscriptions": attempt(
            lambda: {
                "Subscriptions": paginate(
                    client, "list_subscriptions_by_topic", "Subscriptions", TopicArn=arn
                )
            }
        ),
        "tags": attempt(partial(client.list_tags_for_resource, ResourceArn=arn)),
    }


def get_sns(client: Any, region: str) -> dict[str, Any]:
    """List and read every topic in `region`; a denied ListTopics raises (→ coverage row)."""
    topics = paginate(client, "list_topics", "Topics")
    return {"region": region, "topics": [get_topic(client, str(t["TopicArn"])) for t in topics]}


# --- transform (pure) -----------------------------------------------------------------------


def mask_address(protocol: str, endpoint: str) -> str:
    """What may be recorded of an endpoint outside AWS: host, e-mail domain, last 4 digits.

    >>> mask_address("https", "https://user:pw@hooks.example.cn:8443/x?token=t")
    'hooks.example.cn'
    >>> mask_address("email", "zhang.san@example.gov.cn")
    '*@example.gov.cn'
    >>> mask_address("sms", "+86 138-1234-5678")
    '***5678'
    """
    if protocol in ("http", "https"):
        return (urlsplit(endpoint).hostname or "*").lower()
    if "@" in endpoint:
        return "*@" + endpoint.rsplit("@", 1)[1].lower()
    digits = "".join(c for c in endpoint if c.isdigit())
    return f"***{digits[-4:]}" if digits else "***"


def _delivers_to_arn(endpoint: str) -> bool:
    # sqs, lambda, firehose and application (mobile push) subscriptions name an ARN.
    return endpoint.startswith("arn:")


def _subscription(sub: Mapping[str, Any], account: str) -> dict[str, Any]:
    protocol, endpoint = str(sub.get("Protocol", "")), str(sub.get("Endpoint", ""))
    owner = sub.get("Owner")
    return {
        "subscription_arn": sub.get("SubscriptionArn"),
        "protocol": protocol,
        "endpoint": endpoint if _delivers_to_arn(endpoint) else mask_address(protocol, endpoint),
        "owner": owner,
        "foreign_owner": owner is not None and owner != account,
        "pending": sub.get("SubscriptionArn") == PENDING,
    }


def endpoint_uid(protocol: str, masked: str) -> str:
    return f"endpoint:{protocol}:{masked}"


def _endpoint_resource(sub: Mapping[str, Any]) -> Resource:
    masked = str(sub["endpoint"])
    return Resource(
        uid=endpoint_uid(str(sub["protocol"]), masked),
        provider="aws",
        kind=Kind.ENDPOINT,
        native_type=ENDPOINT_TYPE,
        name=masked,
        # Outside AWS: where it sits is for the policy's external_endpoints to say.
        attrs={"protocol": sub["protocol"], "address": masked, "observed_only": True},
    )


def _delivery(sub: Mapping[str, Any], uid: str) -> Iterator[Resource | Edge]:
    """The `copies_to` edge of one subscription (and the endpoint it reaches outside AWS)."""
    endpoint = str(sub["endpoint"])
    if not _delivers_to_arn(endpoint):
        endpoint_resource = _endpoint_resource(sub)
        endpoint = endpoint_resource.uid
        yield endpoint_resource
    evidence = f"SNS subscription {sub['subscription_arn']} (protocol {sub['protocol']})"
    if sub["foreign_owner"]:
        evidence += f", owned by account {sub['owner']}"
    yield Edge(uid, endpoint, Relation.COPIES_TO, evidence)


def _encryption(fact: Mapping[str, Any], key: Mapping[str, Any]) -> dict[str, Any]:
    configured = fact.get("value", {}).get("Attributes", {}).get("KmsMasterKeyId")
    return {
        "encryption_status": fact["status"],
        "encrypted": bool(configured) if fact["status"] == READ else None,
        "kms_key": configured,
        **key,
    }


def _policy_status(fact: Mapping[str, Any]) -> str:
    if fact["status"] != READ:
        return str(fact["status"])
    return READ if fact["value"].get("Attributes", {}).get("Policy") else NONE


def transform_topic(
    topic: Mapping[str, Any], region: str, partition: str, aliases: Mapping[str, str]
) -> Iterator[Resource | Edge]:
    """One topic → its Resource, subscription flows, `encrypted_by` and policy rights."""
    uid = str(topic["TopicArn"])
    account = uid.split(":")[4]
    fact = topic["attributes"]
    attributes = fact.get("value", {}).get("Attributes", {})
    key = kms_key_facts(attributes.get("KmsMasterKeyId"), region, account, partition, aliases)
    policy = attributes.get("Policy")
    rights, policy_status = resource_policy_rights(
        _policy_status(fact), policy, uid, f"topic policy of {uid}", "sns"
    )
    raw_subs = topic["subscriptions"].get("value", {}).get("Subscriptions", [])
    subscriptions = [_subscription(s, account) for s in raw_subs]
    attrs: dict[str, Any] = {
        "attributes_status": fact["status"],
        **_encryption(fact, key),
        "policy_status": policy_status,
        "policy": policy,
        "fifo": attributes.get("FifoTopic") == "true",
        "subscriptions_status": topic["subscriptions"]["status"],
        "subscriptions": subscriptions,
        "tags_status": topic["tags"]["status"],
    }
    tags = topic["tags"].get("value", {}).get("Tags", [])
    yield Resource(
        uid=uid,
        provider="aws",
        kind=Kind.TOPIC,
        native_type=NATIVE_TYPE,
        name=uid.rsplit(":", 1)[-1],
        account=account,
        region=region,
        partition=partition,
        jurisdiction=jurisdiction_of("aws", region),
        tags={str(t["Key"]): str(t["Value"]) for t in tags},
        attrs=attrs,
    )
    for sub in subscriptions:
        yield from _delivery(sub, uid)
    evidence = (
        f"SNS topic {uid} is encrypted with {attrs['kms_key']} (GetTopicAttributes KmsMasterKeyId)"
    )
    yield from encrypted_by(uid, attrs, evidence)
    yield from rights


def transform_sns(
    raw: Mapping[str, Any], partition: str, aliases: Mapping[str, str] | None = None
) -> Iterator[Resource | Edge]:
    """Every topic of one region's raw listing → resources (endpoints once each) and edges."""
    seen: set[str] = set()
    for topic in raw["topics"]:
        for record in transform_topic(topic, str(raw["region"]), partition, aliases or {}):
            if isinstance(record, Resource) and record.kind is Kind.ENDPOINT:
                if record.uid in seen:
                    continue
                seen.add(record.uid)
            yield record


def collect(ctx: ServiceContext) -> Collected:
    """SNS topics of one region, with their subscriptions."""
    raw = get_sns(ctx.clients.get("sns", ctx.region), ctx.region)
    records: list[Record] = list(transform_sns(raw, ctx.identity.partition, ctx.facts.aliases()))
    return records, f"{len(raw['topics'])} topics"


SERVICE = Service("sns", Scope.REGIONAL, collect, OPERATIONS, phase=1)
