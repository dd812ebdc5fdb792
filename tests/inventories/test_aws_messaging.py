"""SQS and SNS: transforms on recorded moto answers, collection against a real moto server.

Also holds the helpers the Lambda, Secrets Manager and ECR tests share (contexts on moto,
running a few services through `collect_account`, denied-call stubs).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from auditor.inventories import aws as aws_adapter
from auditor.inventories.aws import collect_account, kms, sns, sqs
from auditor.inventories.aws.identity import CallerIdentity
from auditor.inventories.aws.registry import Service, ServiceContext, SharedFacts
from auditor.inventories.aws.session import Clients, make_client
from auditor.model import Coverage, Edge, Kind, Outcome, Record, Relation, Resource
from tests.conftest import FIXTURES
from tests.inventories.conftest import CN1, CN2, HK, HK_ACCOUNT, MAIN, VENDOR, assumed_session

# A key ARN standing for the recorded alias/gov-data (recorded key ids are random).
GOV_KEY = f"arn:aws-cn:kms:{CN1}:{MAIN}:key/00000000-0000-0000-0000-00000000g0v0"
GOV_ALIAS = f"arn:aws-cn:kms:{CN1}:{MAIN}:alias/gov-data"
SNS_ALIAS = f"arn:aws-cn:kms:{CN1}:{MAIN}:alias/aws/sns"
ORDERS = f"arn:aws-cn:sqs:{CN1}:{MAIN}:orders"
ORDERS_DLQ = f"arn:aws-cn:sqs:{CN1}:{MAIN}:orders-dlq"
PLAIN = f"arn:aws-cn:sqs:{CN1}:{MAIN}:plain"
ALERTS = f"arn:aws-cn:sns:{CN1}:{MAIN}:alerts"
VENDOR_LAMBDA = f"arn:aws-cn:lambda:{CN2}:{VENDOR}:function:ingest"
VENDOR_INBOX = f"arn:aws-cn:sqs:{CN1}:{VENDOR}:vendor-inbox"
HK_TOPIC = f"arn:aws:sns:{HK}:{HK_ACCOUNT}:hk-events"
EMAIL, PHONE = "zhang.san@example.gov.cn", "+8613812345678"
HOOK = "https://hooks.partner.example/notify?token=s3cr3t-token"


# --- helpers shared with the other service tests --------------------------------------------


def load(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((FIXTURES / "aws" / name).read_text("utf-8"))
    return data


def split(records: Iterable[Any]) -> tuple[dict[str, Resource], list[Edge]]:
    resources: dict[str, Resource] = {}
    edges: list[Edge] = []
    for record in records:
        if isinstance(record, Resource):
            resources[record.uid] = record
        elif isinstance(record, Edge):
            edges.append(record)
    return resources, edges


def edge_set(edges: Iterable[Edge]) -> set[tuple[str, str, str]]:
    return {(e.src, e.relation.value, e.dst) for e in edges}


def identity_of(account: str, partition: str) -> CallerIdentity:
    return CallerIdentity(account, f"arn:{partition}:iam::{account}:user/auditor", partition)


def context(
    session: boto3.Session,
    endpoint: str,
    region: str,
    account: str = MAIN,
    partition: str = "aws-cn",
) -> ServiceContext:
    """A service context on moto, with the KMS aliases of `region` already learned."""
    clients = Clients(session, endpoint)
    ctx = ServiceContext(clients, identity_of(account, partition), region, region, SharedFacts())
    kms.collect(ctx)
    return ctx


def run_services(
    monkeypatch: pytest.MonkeyPatch,
    clients: Clients,
    identity: CallerIdentity,
    regions: Sequence[str],
    chosen: Sequence[Service],
) -> list[Record]:
    """`collect_account` over `chosen` services only (other teams' services stay out)."""
    monkeypatch.setattr(aws_adapter, "services", lambda: tuple(chosen))
    return list(collect_account(clients, identity, regions[0], regions, workers=1))


def coverage_of(records: Iterable[Record]) -> set[tuple[str, str, Outcome, str]]:
    return {(c.region, c.service, c.outcome, c.detail) for c in records if isinstance(c, Coverage)}


def stubbed(clients: Clients, service: str, region: str) -> tuple[Any, Stubber]:
    """A guarded client for (service, region), stubbed and installed in `clients`."""
    client = make_client(clients.session, service, region, clients.endpoint_url)
    stub = Stubber(client)
    stub.activate()
    clients.put(service, region, client)
    return client, stub


def deny(stub: Stubber, method: str, code: str = "AccessDenied", status: int = 403) -> None:
    stub.add_client_error(method, service_error_code=code, http_status_code=status)


def offline_clients() -> Clients:
    return Clients(boto3.Session(region_name=CN1), "http://127.0.0.1:9")


def gov_key(session: boto3.Session, endpoint: str, region: str = CN1) -> str:
    """A customer key aliased alias/gov-data."""
    client = session.client("kms", region_name=region, endpoint_url=endpoint)
    arn = str(client.create_key()["KeyMetadata"]["Arn"])
    client.create_alias(AliasName="alias/gov-data", TargetKeyId=arn)
    return arn


# --- seeding --------------------------------------------------------------------------------


def seed_queues(session: boto3.Session, endpoint: str) -> None:
    client = session.client("sqs", region_name=CN1, endpoint_url=endpoint)
    client.create_queue(QueueName="orders-dlq")
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "VendorSend",
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws-cn:iam::{VENDOR}:root"},
                "Action": "sqs:SendMessage",
                "Resource": ORDERS,
            }
        ],
    }
    redrive = {"deadLetterTargetArn": ORDERS_DLQ, "maxReceiveCount": 3}
    client.create_queue(
        QueueName="orders",
        Attributes={
            "KmsMasterKeyId": "alias/gov-data",
            "RedrivePolicy": json.dumps(redrive),
            "Policy": json.dumps(policy),
        },
        tags={"data-class": "重要数据"},
    )
    client.create_queue(QueueName="plain", Attributes={"SqsManagedSseEnabled": "false"})


def seed_topic(session: boto3.Session, endpoint: str) -> None:
    client = session.client("sns", region_name=CN1, endpoint_url=endpoint)
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "VendorSubscribe",
                "Effect": "Allow",
                "Principal": {"AWS": VENDOR},
                "Action": "sns:Subscribe",
                "Resource": ALERTS,
            }
        ],
    }
    arn = client.create_topic(
        Name="alerts",
        Attributes={"KmsMasterKeyId": "alias/aws/sns", "Policy": json.dumps(policy)},
        Tags=[{"Key": "owner-dept", "Value": "dsj"}],
    )["TopicArn"]
    for protocol, target in [
        ("sqs", ORDERS),
        ("lambda", VENDOR_LAMBDA),
        ("email", EMAIL),
        ("sms", PHONE),
        ("https", HOOK),
    ]:
        client.subscribe(TopicArn=arn, Protocol=protocol, Endpoint=target)


def seed_hk(session: boto3.Session, endpoint: str) -> None:
    client = session.client("sns", region_name=HK, endpoint_url=endpoint)
    arn = client.create_topic(Name="hk-events")["TopicArn"]
    client.subscribe(TopicArn=arn, Protocol="https", Endpoint="https://collector.eu.example/in")
    session.client("sqs", region_name=HK, endpoint_url=endpoint).create_queue(QueueName="hk-q")


def seed_messaging(endpoint: str) -> tuple[boto3.Session, boto3.Session]:
    """Seed aws-cn and the commercial account; returns their (cn, hk) sessions."""
    cn = boto3.Session(region_name=CN1)
    hk = assumed_session(endpoint, "aws", HK_ACCOUNT, HK)
    gov_key(cn, endpoint)
    seed_queues(cn, endpoint)
    seed_topic(cn, endpoint)
    seed_hk(hk, endpoint)
    return cn, hk


# --- SQS transform (recorded) ---------------------------------------------------------------


def sqs_records() -> tuple[dict[str, Resource], list[Edge]]:
    raw = load("sqs_cn_north_1.json")
    return split(sqs.transform_sqs(raw, "aws-cn", {GOV_ALIAS: GOV_KEY}))


def test_sqs_queue_resources_and_encryption():
    resources, _ = sqs_records()
    assert set(resources) == {ORDERS, ORDERS_DLQ, PLAIN}
    orders = resources[ORDERS]
    assert (orders.kind, orders.native_type, orders.name) == (Kind.QUEUE, "sqs:queue", "orders")
    assert (orders.account, orders.region, orders.partition, orders.jurisdiction) == (
        MAIN,
        CN1,
        "aws-cn",
        "CN",
    )
    assert orders.tags == {"data-class": "重要数据"}
    encryption = ("encryption_status", "encrypted", "kms_key", "kms_key_arn", "key_owner")
    assert {uid: tuple(r.attrs[k] for k in encryption) for uid, r in resources.items()} == {
        ORDERS: ("read", True, "alias/gov-data", GOV_KEY, None),
        ORDERS_DLQ: ("read", True, None, None, "aws_owned"),
        PLAIN: ("read", False, None, None, None),
    }
    assert orders.attrs["dead_letter_target_arn"] == ORDERS_DLQ
    assert orders.attrs["max_receive_count"] == 3
    assert (orders.attrs["policy_status"], resources[PLAIN].attrs["policy_status"]) == (
        "read",
        "none",
    )
    assert orders.attrs["tags_status"] == "read"


def test_sqs_edges():
    _, edges = sqs_records()
    assert edge_set(edges) == {
        (ORDERS, "encrypted_by", GOV_KEY),
        (f"account:{VENDOR}", "can_write", ORDERS),
    }
    key_edge = next(e for e in edges if e.relation is Relation.ENCRYPTED_BY)
    assert key_edge.evidence == (
        f"SQS queue {ORDERS} is encrypted with alias/gov-data (GetQueueAttributes KmsMasterKeyId)"
    )
    right = next(e for e in edges if e.relation is Relation.CAN_WRITE)
    assert right.evidence == (
        f"queue policy of {ORDERS}, statement 'VendorSend' (sqs:SendMessage) grants can_write"
    )


def test_sqs_unknown_alias_keeps_the_alias_arn():
    resources, edges = split(sqs.transform_sqs(load("sqs_cn_north_1.json"), "aws-cn"))
    assert resources[ORDERS].attrs["kms_key_arn"] == GOV_ALIAS
    assert (ORDERS, "encrypted_by", GOV_ALIAS) in edge_set(edges)


def test_sqs_unread_attributes_keep_the_queue_with_unknown_facts():
    raw = {
        "region": CN1,
        "queues": [
            {
                "QueueUrl": f"https://sqs.{CN1}.amazonaws.com.cn/{MAIN}/secret-q",
                "attributes": {"status": "denied", "code": "AccessDenied"},
                "tags": {"status": "error", "code": "InternalFailure"},
            }
        ],
    }
    resources, edges = split(sqs.transform_sqs(raw, "aws-cn"))
    queue = resources[f"arn:aws-cn:sqs:{CN1}:{MAIN}:secret-q"]
    assert {k: queue.attrs[k] for k in ("encryption_status", "encrypted", "policy_status")} == {
        "encryption_status": "denied",
        "encrypted": None,
        "policy_status": "denied",
    }
    assert queue.attrs["tags_status"] == "error"
    assert edges == []


# --- SNS transform (recorded) ---------------------------------------------------------------


def with_foreign_subscription(raw: dict[str, Any]) -> dict[str, Any]:
    """Add the vendor's own subscription to alerts.

    moto files a subscription made with another account's credentials under that account, so
    the topic owner's ListSubscriptionsByTopic never shows it (real SNS does): it is added here.
    """
    subs = raw["topics"][0]["subscriptions"]["value"]["Subscriptions"]
    subs.append(
        {
            "Endpoint": VENDOR_INBOX,
            "Owner": VENDOR,
            "Protocol": "sqs",
            "SubscriptionArn": f"{ALERTS}:0d6f1c2e-vendor",
            "TopicArn": ALERTS,
        }
    )
    return raw


def sns_records() -> tuple[dict[str, Resource], list[Edge]]:
    raw = with_foreign_subscription(load("sns_cn_north_1.json"))
    return split(sns.transform_sns(raw, "aws-cn"))


def endpoint_uids() -> dict[str, str]:
    return {
        "email": "endpoint:email:*@example.gov.cn",
        "sms": "endpoint:sms:***5678",
        "https": "endpoint:https:hooks.partner.example",
    }


def test_sns_topic_resource():
    resources, _ = sns_records()
    topic = resources[ALERTS]
    assert (topic.kind, topic.native_type, topic.name) == (Kind.TOPIC, "sns:topic", "alerts")
    assert (topic.account, topic.region, topic.jurisdiction) == (MAIN, CN1, "CN")
    assert topic.tags == {"owner-dept": "dsj"}
    assert {k: topic.attrs[k] for k in ("encrypted", "kms_key", "kms_key_arn", "key_owner")} == {
        "encrypted": True,
        "kms_key": "alias/aws/sns",
        "kms_key_arn": SNS_ALIAS,
        "key_owner": "aws_managed",
    }
    assert topic.attrs["subscriptions_status"] == "read"
    subs = {
        (s["protocol"], s["endpoint"], s["owner"], s["foreign_owner"])
        for s in topic.attrs["subscriptions"]
    }
    assert subs == {
        ("sqs", ORDERS, MAIN, False),
        ("lambda", VENDOR_LAMBDA, MAIN, False),
        ("email", "*@example.gov.cn", MAIN, False),
        ("sms", "***5678", MAIN, False),
        ("https", "hooks.partner.example", MAIN, False),
        ("sqs", VENDOR_INBOX, VENDOR, True),
    }


def test_sns_endpoints_are_masked_resources():
    resources, _ = sns_records()
    endpoints = {uid: r for uid, r in resources.items() if r.kind is Kind.ENDPOINT}
    assert set(endpoints) == set(endpoint_uids().values())
    email = endpoints["endpoint:email:*@example.gov.cn"]
    assert (email.native_type, email.name, email.region, email.jurisdiction) == (
        "sns:endpoint",
        "*@example.gov.cn",
        None,
        None,
    )


def test_sns_records_hold_no_personal_data_or_tokens():
    resources, edges = sns_records()
    text = repr((resources, edges))
    for secret in ("zhang.san", "13812345678", "1381234", "s3cr3t-token", "/notify"):
        assert secret not in text


def test_sns_flows_and_rights():
    resources, edges = sns_records()
    subs = {s["protocol"] + s["endpoint"]: s for s in resources[ALERTS].attrs["subscriptions"]}
    ends = endpoint_uids()
    assert edge_set(edges) == {
        (ALERTS, "copies_to", ORDERS),
        (ALERTS, "copies_to", VENDOR_LAMBDA),
        (ALERTS, "copies_to", VENDOR_INBOX),
        (ALERTS, "copies_to", ends["email"]),
        (ALERTS, "copies_to", ends["sms"]),
        (ALERTS, "copies_to", ends["https"]),
        (ALERTS, "encrypted_by", SNS_ALIAS),
        (f"account:{VENDOR}", "can_read", ALERTS),
    }
    evidence = {e.dst: e.evidence for e in edges if e.relation is Relation.COPIES_TO}
    own = subs["sqs" + ORDERS]["subscription_arn"]
    assert evidence[ORDERS] == f"SNS subscription {own} (protocol sqs)"
    foreign = subs["sqs" + VENDOR_INBOX]["subscription_arn"]
    assert evidence[VENDOR_INBOX] == (
        f"SNS subscription {foreign} (protocol sqs), owned by account {VENDOR}"
    )


def test_sns_endpoint_masking():
    assert sns.mask_address("http", "http://10.0.0.1:8080/x") == "10.0.0.1"
    assert sns.mask_address("email-json", "Li.Si@Example.CN") == "*@example.cn"
    assert sns.mask_address("sms", "12") == "***12"


def test_sns_unread_subscriptions_stay_marked():
    raw = load("sns_cn_north_1.json")
    raw["topics"][0]["subscriptions"] = {"status": "denied", "code": "AuthorizationError"}
    raw["topics"][0]["attributes"] = {"status": "error", "code": "InternalError"}
    resources, edges = split(sns.transform_sns(raw, "aws-cn"))
    topic = resources[ALERTS]
    assert topic.attrs["subscriptions_status"] == "denied"
    assert topic.attrs["subscriptions"] == []
    assert (topic.attrs["encryption_status"], topic.attrs["encrypted"]) == ("error", None)
    assert topic.attrs["policy_status"] == "error"
    assert edges == []


# --- against moto ---------------------------------------------------------------------------


@pytest.mark.moto
def test_collect_sqs_and_sns_in_both_partitions(moto_endpoint, monkeypatch):
    cn, hk = seed_messaging(moto_endpoint)
    chosen = [kms.SERVICE, sqs.SERVICE, sns.SERVICE]
    cn_records = run_services(
        monkeypatch, Clients(cn, moto_endpoint), identity_of(MAIN, "aws-cn"), [CN1, CN2], chosen
    )
    hk_records = run_services(
        monkeypatch, Clients(hk, moto_endpoint), identity_of(HK_ACCOUNT, "aws"), [HK], chosen
    )
    assert {row[:3] for row in coverage_of(cn_records)} == {
        (region, service, Outcome.OK) for region in (CN1, CN2) for service in ("kms", "sqs", "sns")
    }
    assert ("cn-north-1", "sqs", Outcome.OK, "3 queues") in coverage_of(cn_records)
    resources, edges = split([*cn_records, *hk_records])
    hk_queue = f"arn:aws:sqs:{HK}:{HK_ACCOUNT}:hk-q"
    gov_key_arn = resources[ORDERS].attrs["kms_key_arn"]
    assert gov_key_arn.startswith(f"arn:aws-cn:kms:{CN1}:{MAIN}:key/")  # alias resolved via KMS
    assert {
        uid: (r.kind.value, r.account, r.region, r.jurisdiction)
        for uid, r in resources.items()
        if r.kind is not Kind.KEY
    } == {
        ORDERS: ("queue", MAIN, CN1, "CN"),
        ORDERS_DLQ: ("queue", MAIN, CN1, "CN"),
        PLAIN: ("queue", MAIN, CN1, "CN"),
        ALERTS: ("topic", MAIN, CN1, "CN"),
        **dict.fromkeys(endpoint_uids().values(), ("endpoint", None, None, None)),
        hk_queue: ("queue", HK_ACCOUNT, HK, "HK"),
        HK_TOPIC: ("topic", HK_ACCOUNT, HK, "HK"),
        "endpoint:https:collector.eu.example": ("endpoint", None, None, None),
    }
    assert {(s, r, d) for s, r, d in edge_set(edges) if not d.startswith("arn:aws-cn:kms")} == {
        (ALERTS, "copies_to", ORDERS),
        (ALERTS, "copies_to", VENDOR_LAMBDA),
        *((ALERTS, "copies_to", uid) for uid in endpoint_uids().values()),
        (f"account:{VENDOR}", "can_read", ALERTS),
        (f"account:{VENDOR}", "can_write", ORDERS),
        (HK_TOPIC, "copies_to", "endpoint:https:collector.eu.example"),
        # The default topic policy: `*` under an AWS:SourceOwner condition, kept on the edge.
        *(("public:*", right, HK_TOPIC) for right in ("can_admin", "can_read", "can_write")),
    }
    default = next(e for e in edges if e.dst == HK_TOPIC and e.src == "public:*")
    assert default.conditions == {"StringEquals": {"AWS:SourceOwner": HK_ACCOUNT}}
    assert (ORDERS, "encrypted_by", gov_key_arn) in edge_set(edges)
    assert resources[hk_queue].attrs["key_owner"] == "aws_owned"


@pytest.mark.moto
def test_collect_sqs_context_directly(moto_endpoint):
    cn, _ = seed_messaging(moto_endpoint)
    records, detail = sqs.collect(context(cn, moto_endpoint, CN2))
    assert (records, detail) == ([], "0 queues")


# --- failures -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("service", "method", "detail"),
    [
        (sqs.SERVICE, "list_queues", "ListQueues: AccessDenied"),
        (sns.SERVICE, "list_topics", "ListTopics: AccessDenied"),
    ],
)
def test_denied_listing_is_a_coverage_row(monkeypatch, service, method, detail):
    clients = offline_clients()
    _, stub = stubbed(clients, service.name, CN1)
    deny(stub, method)
    records = run_services(monkeypatch, clients, identity_of(MAIN, "aws-cn"), [CN1], [service])
    assert records == [r for r in records if isinstance(r, Coverage)]
    assert coverage_of(records) == {(CN1, service.name, Outcome.DENIED, detail)}
    stub.assert_no_pending_responses()


def test_denied_sub_calls_are_recorded_per_queue(monkeypatch):
    clients = offline_clients()
    _, stub = stubbed(clients, "sqs", CN1)
    url = f"https://sqs.{CN1}.amazonaws.com.cn/{MAIN}/orders"
    stub.add_response("list_queues", {"QueueUrls": [url]})
    deny(stub, "get_queue_attributes")
    deny(stub, "list_queue_tags")
    records = run_services(monkeypatch, clients, identity_of(MAIN, "aws-cn"), [CN1], [sqs.SERVICE])
    resources, edges = split(records)
    # The queue is kept with its unread facts marked; the row says the service was not fully read.
    faults = "faults: GetQueueAttributes AccessDenied×1, ListQueueTags AccessDenied×1"
    assert coverage_of(records) == {(CN1, "sqs", Outcome.DENIED, f"1 queues; {faults}")}
    assert resources[ORDERS].attrs["encryption_status"] == "denied"
    assert resources[ORDERS].attrs["tags_status"] == "denied"
    assert edges == []


def test_sqs_listing_pages_past_a_thousand_queues(monkeypatch):
    """ListQueues without MaxResults stops at 1,000 queues with no NextToken (AWS and moto
    alike); the adapter asks for pages and follows them."""
    monkeypatch.setattr(sqs, "get_queue", lambda client, url: {"url": url})
    clients = offline_clients()
    client, stub = stubbed(clients, "sqs", CN1)
    base = "https://sqs.cn-north-1.amazonaws.com.cn/111111111111/q"
    first = {"QueueUrls": [f"{base}{i}" for i in range(1000)], "NextToken": "page-2"}
    stub.add_response("list_queues", first, {"MaxResults": 1000})
    second = {"QueueUrls": [f"{base}{i}" for i in range(1000, 1005)]}
    stub.add_response("list_queues", second, {"MaxResults": 1000, "NextToken": "page-2"})
    raw = sqs.get_sqs(client, CN1)
    assert len(raw["queues"]) == 1005
    stub.assert_no_pending_responses()
