"""CloudTrail and CloudWatch Logs: transforms on recorded moto answers, and collection from a
real moto server over HTTP.

Estate (seeded with plain boto3 clients):
aws-cn, account 123456789012:
  cn-north-1: bucket gov-trail-logs; key for the trail and /gov/trail; trail gov-trail
    (multi-Region, log file validation, KMS, CloudWatch Logs → /gov/trail, logging, advanced
    selectors: management + S3 data events); log group /gov/trail (KMS, 180 days);
    log group app (no retention, service key, tags) with filters 'to-stream' → a Kinesis stream
    of the account and 'to-vendor' → log destination `central` of 999988887777 in
    cn-northwest-1; log group /aws/route53/gov.cn that a resource policy lets Route 53 write;
    destination gov-in whose access policy lets 999988887777 subscribe.
  cn-northwest-1: trail nx-trail (single-Region, classic selectors: write-only management,
    no data events; not logging; no KMS) → bucket gov-trail-logs.
aws, account 111122223333: ap-east-1 trail hk-trail → bucket eu-trail (eu-central-1).
"""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from auditor.inventories import aws as aws_adapter
from auditor.inventories.aws import cloudtrail, logs
from auditor.inventories.aws.identity import CallerIdentity
from auditor.inventories.aws.session import Clients, make_client
from auditor.model import Coverage, Edge, Kind, Outcome, Relation, Resource
from tests.conftest import FIXTURES
from tests.inventories.conftest import CN1, CN2, FRA, HK, HK_ACCOUNT, MAIN, VENDOR, assumed_session

TRAIL = f"arn:aws-cn:cloudtrail:{CN1}:{MAIN}:trail/gov-trail"
NX_TRAIL = f"arn:aws-cn:cloudtrail:{CN2}:{MAIN}:trail/nx-trail"
HK_TRAIL = f"arn:aws:cloudtrail:{HK}:{HK_ACCOUNT}:trail/hk-trail"
GROUP = f"arn:aws-cn:logs:{CN1}:{MAIN}:log-group"
VENDOR_DEST = f"arn:aws-cn:logs:{CN2}:{VENDOR}:destination:central"
GOV_IN = f"arn:aws-cn:logs:{CN1}:{MAIN}:destination:gov-in"
STREAM = f"arn:aws-cn:kinesis:{CN1}:{MAIN}:stream/app-events"


# --- seeding ----------------------------------------------------------------------------------


def seed_cn_logs(session: boto3.Session, vendor: boto3.Session, endpoint: str, key: str) -> None:
    client = session.client("logs", region_name=CN1, endpoint_url=endpoint)
    client.create_log_group(logGroupName="/gov/trail", kmsKeyId=key)
    client.put_retention_policy(logGroupName="/gov/trail", retentionInDays=180)
    client.create_log_group(logGroupName="app", tags={"owner-dept": "dsj"})
    client.create_log_group(logGroupName="/aws/route53/gov.cn")
    kinesis = session.client("kinesis", region_name=CN1, endpoint_url=endpoint)
    kinesis.create_stream(StreamName="app-events", ShardCount=1)
    client.put_subscription_filter(
        logGroupName="app",
        filterName="to-stream",
        filterPattern="ERROR",
        destinationArn=STREAM,
        roleArn=f"arn:aws-cn:iam::{MAIN}:role/cwl-to-kinesis",
    )
    # moto checks a logs destination by looking for a *log group* named after it in the
    # destination's account and region, so the vendor gets one beside its destination.
    vendor_logs = vendor.client("logs", region_name=CN2, endpoint_url=endpoint)
    vendor_logs.put_destination(
        destinationName="central",
        targetArn=f"arn:aws-cn:kinesis:{CN2}:{VENDOR}:stream/central",
        roleArn=f"arn:aws-cn:iam::{VENDOR}:role/cwl",
    )
    vendor_logs.create_log_group(logGroupName="central")
    client.put_subscription_filter(
        logGroupName="app", filterName="to-vendor", filterPattern="", destinationArn=VENDOR_DEST
    )
    route53 = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "Route53Write",
                "Effect": "Allow",
                "Principal": {"Service": "route53.amazonaws.com"},
                "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
                "Resource": f"arn:aws-cn:logs:{CN1}:{MAIN}:log-group:/aws/route53/*",
            }
        ],
    }
    client.put_resource_policy(policyName="route53", policyDocument=json.dumps(route53))
    destination = client.put_destination(
        destinationName="gov-in",
        targetArn=STREAM,
        roleArn=f"arn:aws-cn:iam::{MAIN}:role/cwl-destination",
    )["destination"]
    access = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "VendorSubscribe",
                "Effect": "Allow",
                "Principal": {"AWS": VENDOR},
                "Action": "logs:PutSubscriptionFilter",
                "Resource": destination["arn"],
            }
        ],
    }
    client.put_destination_policy(destinationName="gov-in", accessPolicy=json.dumps(access))


def seed_cn_trails(session: boto3.Session, endpoint: str, key: str) -> None:
    s3 = session.client("s3", region_name=CN1, endpoint_url=endpoint)
    s3.create_bucket(Bucket="gov-trail-logs", CreateBucketConfiguration={"LocationConstraint": CN1})
    client = session.client("cloudtrail", region_name=CN1, endpoint_url=endpoint)
    client.create_trail(
        Name="gov-trail",
        S3BucketName="gov-trail-logs",
        S3KeyPrefix="cn",
        IsMultiRegionTrail=True,
        EnableLogFileValidation=True,
        KmsKeyId=key,
        CloudWatchLogsLogGroupArn=f"{GROUP}:/gov/trail:*",
        CloudWatchLogsRoleArn=f"arn:aws-cn:iam::{MAIN}:role/trail-to-cwl",
        TagsList=[{"Key": "owner-dept", "Value": "dsj"}],
    )
    client.start_logging(Name="gov-trail")
    client.put_event_selectors(
        TrailName="gov-trail",
        AdvancedEventSelectors=[
            {
                "Name": "management",
                "FieldSelectors": [{"Field": "eventCategory", "Equals": ["Management"]}],
            },
            {
                "Name": "s3-data",
                "FieldSelectors": [
                    {"Field": "eventCategory", "Equals": ["Data"]},
                    {"Field": "resources.type", "Equals": ["AWS::S3::Object"]},
                ],
            },
        ],
    )
    nx = session.client("cloudtrail", region_name=CN2, endpoint_url=endpoint)
    nx.create_trail(Name="nx-trail", S3BucketName="gov-trail-logs")
    nx.put_event_selectors(
        TrailName="nx-trail",
        EventSelectors=[{"ReadWriteType": "WriteOnly", "IncludeManagementEvents": True}],
    )


def seed_hk_trail(session: boto3.Session, endpoint: str) -> None:
    s3 = session.client("s3", region_name=FRA, endpoint_url=endpoint)
    s3.create_bucket(Bucket="eu-trail", CreateBucketConfiguration={"LocationConstraint": FRA})
    client = session.client("cloudtrail", region_name=HK, endpoint_url=endpoint)
    client.create_trail(Name="hk-trail", S3BucketName="eu-trail")
    client.start_logging(Name="hk-trail")


def seed(endpoint: str) -> dict[str, Any]:
    cn = boto3.Session(region_name=CN1)
    vendor = assumed_session(endpoint, "aws-cn", VENDOR, CN1)
    hk = assumed_session(endpoint, "aws", HK_ACCOUNT, HK)
    key = cn.client("kms", region_name=CN1, endpoint_url=endpoint).create_key()["KeyMetadata"]
    seed_cn_logs(cn, vendor, endpoint, str(key["Arn"]))
    seed_cn_trails(cn, endpoint, str(key["Arn"]))
    seed_hk_trail(hk, endpoint)
    return {"cn": cn, "hk": hk, "key": str(key["Arn"])}


@pytest.fixture
def only_logging(monkeypatch: pytest.MonkeyPatch) -> None:
    """Collect only the services under test, whatever other modules the package holds."""
    monkeypatch.setattr(aws_adapter, "services", lambda: (cloudtrail.SERVICE, logs.SERVICE))


def collect(
    session: boto3.Session, endpoint: str, who: CallerIdentity, regions: list[str]
) -> list[Any]:
    clients = Clients(session, endpoint)
    return list(aws_adapter.collect_account(clients, who, regions[0], regions, workers=1))


CN_WHO = CallerIdentity(MAIN, f"arn:aws-cn:iam::{MAIN}:user/auditor", "aws-cn")
HK_WHO = CallerIdentity(HK_ACCOUNT, f"arn:aws:iam::{HK_ACCOUNT}:user/auditor", "aws")


def split(found: Any) -> tuple[dict[str, Resource], list[Edge], list[Coverage]]:
    records = list(found)
    resources = {r.uid: r for r in records if isinstance(r, Resource)}
    edges = [r for r in records if isinstance(r, Edge)]
    return resources, edges, [r for r in records if isinstance(r, Coverage)]


def triples(edges: list[Edge]) -> set[tuple[str, str, str]]:
    return {(e.src, e.relation.value, e.dst) for e in edges}


# --- collection over HTTP ---------------------------------------------------------------------


@pytest.mark.moto
def test_collects_exact_trails_groups_and_destinations(moto_endpoint, only_logging):
    estate = seed(moto_endpoint)
    records = collect(estate["cn"], moto_endpoint, CN_WHO, [CN1, CN2])
    resources, edges, coverage = split(records)
    assert {
        uid: (r.kind, r.native_type, r.name, r.account, r.region, r.partition, r.jurisdiction)
        for uid, r in resources.items()
    } == {
        TRAIL: (Kind.TRAIL, "cloudtrail:trail", "gov-trail", MAIN, CN1, "aws-cn", "CN"),
        NX_TRAIL: (Kind.TRAIL, "cloudtrail:trail", "nx-trail", MAIN, CN2, "aws-cn", "CN"),
        f"{GROUP}:/gov/trail": (
            Kind.LOG_GROUP, "logs:log-group", "/gov/trail", MAIN, CN1, "aws-cn", "CN"
        ),
        f"{GROUP}:app": (Kind.LOG_GROUP, "logs:log-group", "app", MAIN, CN1, "aws-cn", "CN"),
        f"{GROUP}:/aws/route53/gov.cn": (
            Kind.LOG_GROUP, "logs:log-group", "/aws/route53/gov.cn", MAIN, CN1, "aws-cn", "CN"
        ),
        GOV_IN: (Kind.ENDPOINT, "logs:destination", "gov-in", MAIN, CN1, "aws-cn", "CN"),
    }  # fmt: skip
    key = estate["key"]
    assert triples(edges) == {
        (TRAIL, "delivers_logs_to", "arn:aws-cn:s3:::gov-trail-logs"),
        (TRAIL, "delivers_logs_to", f"{GROUP}:/gov/trail"),
        (TRAIL, "encrypted_by", key),
        (NX_TRAIL, "delivers_logs_to", "arn:aws-cn:s3:::gov-trail-logs"),
        (f"{GROUP}:/gov/trail", "encrypted_by", key),
        (f"{GROUP}:app", "delivers_logs_to", STREAM),
        (f"{GROUP}:app", "delivers_logs_to", VENDOR_DEST),
        ("service:route53.amazonaws.com", "can_write", f"{GROUP}:/aws/route53/gov.cn"),
        (GOV_IN, "delivers_logs_to", STREAM),
        (f"account:{VENDOR}", "can_admin", GOV_IN),
    }
    assert sorted((c.region, c.service, c.outcome, c.detail) for c in coverage) == [
        (CN1, "cloudtrail", Outcome.OK, "1 trails"),
        (CN1, "logs", Outcome.OK, "3 log groups"),
        (CN2, "cloudtrail", Outcome.OK, "1 trails"),
        (CN2, "logs", Outcome.OK, "0 log groups"),
    ]


@pytest.mark.moto
def test_trail_attrs_and_evidence(moto_endpoint, only_logging):
    estate = seed(moto_endpoint)
    resources, edges, _ = split(collect(estate["cn"], moto_endpoint, CN_WHO, [CN1, CN2]))
    trail = resources[TRAIL]
    assert trail.tags == {"owner-dept": "dsj"}
    assert {k: trail.attrs[k] for k in (
        "multi_region", "organization_trail", "log_file_validation", "kms_key_arn",
        "cmk_encrypted", "is_logging", "latest_delivery_error", "status_status",
        "selectors_status", "selector_mode", "management_events", "management_read_write",
        "data_event_resource_types", "tags_status", "s3_bucket_name", "s3_key_prefix",
    )} == {
        "multi_region": True, "organization_trail": False, "log_file_validation": True,
        "kms_key_arn": estate["key"], "cmk_encrypted": True, "is_logging": True,
        "latest_delivery_error": None, "status_status": "read", "selectors_status": "read",
        "selector_mode": "advanced", "management_events": True,
        "management_read_write": ["All"], "data_event_resource_types": ["AWS::S3::Object"],
        "tags_status": "read", "s3_bucket_name": "gov-trail-logs", "s3_key_prefix": "cn",
    }  # fmt: skip
    nx = resources[NX_TRAIL].attrs
    assert (nx["multi_region"], nx["is_logging"], nx["kms_key_arn"], nx["cmk_encrypted"]) == (
        False,
        False,
        None,
        False,
    )
    assert (nx["selector_mode"], nx["management_events"], nx["management_read_write"]) == (
        "classic",
        True,
        ["WriteOnly"],
    )
    assert nx["data_events"] == [] and nx["data_event_resource_types"] == []
    evidence = {(e.src, e.dst): e.evidence for e in edges}
    assert evidence[(TRAIL, "arn:aws-cn:s3:::gov-trail-logs")] == (
        "CloudTrail trail gov-trail delivers log files to arn:aws-cn:s3:::gov-trail-logs "
        "(DescribeTrails S3BucketName)"
    )
    assert evidence[(TRAIL, f"{GROUP}:/gov/trail")] == (
        f"CloudTrail trail gov-trail sends events to {GROUP}:/gov/trail "
        "(DescribeTrails CloudWatchLogsLogGroupArn)"
    )


@pytest.mark.moto
def test_log_group_attrs_subscriptions_and_rights(moto_endpoint, only_logging):
    estate = seed(moto_endpoint)
    resources, edges, _ = split(collect(estate["cn"], moto_endpoint, CN_WHO, [CN1]))
    trail_group = resources[f"{GROUP}:/gov/trail"].attrs
    assert (trail_group["retention_days"], trail_group["never_expire"]) == (180, False)
    assert (trail_group["encrypted"], trail_group["kms_key_arn"], trail_group["key_owner"]) == (
        True,
        estate["key"],
        None,
    )
    app = resources[f"{GROUP}:app"]
    assert app.tags == {"owner-dept": "dsj"}
    assert (app.attrs["retention_days"], app.attrs["never_expire"]) == (None, True)
    assert {k: app.attrs[k] for k in ("encryption_status", "encrypted", "kms_key_arn")} == {
        "encryption_status": "read",
        "encrypted": True,
        "kms_key_arn": None,
    }
    assert app.attrs["key_owner"] == "aws_owned"
    assert app.attrs["subscriptions_status"] == "read"
    assert sorted((s["name"], s["destination_arn"]) for s in app.attrs["subscription_filters"]) == [
        ("to-stream", STREAM),
        ("to-vendor", VENDOR_DEST),
    ]
    assert (app.attrs["policy_status"], app.attrs["resource_policies"]) == ("read", [])
    route53 = resources[f"{GROUP}:/aws/route53/gov.cn"].attrs
    assert route53["resource_policies"] == ["route53"]
    vendor = next(e for e in edges if e.dst == VENDOR_DEST)
    assert vendor.evidence == (
        f"subscription filter 'to-vendor' of log group app streams events to {VENDOR_DEST} "
        "(DescribeSubscriptionFilters destinationArn)"
    )
    write = next(e for e in edges if e.relation is Relation.CAN_WRITE)
    assert write.evidence == (
        "CloudWatch Logs resource policy route53, statement 'Route53Write' "
        "(logs:CreateLogStream, logs:PutLogEvents) grants can_write"
    )
    destination = resources[GOV_IN]
    assert destination.attrs["target_arn"] == STREAM
    assert destination.attrs["policy_status"] == "read"


@pytest.mark.moto
def test_commercial_trail_delivers_to_a_bucket_in_another_jurisdiction(moto_endpoint, only_logging):
    estate = seed(moto_endpoint)
    resources, edges, _ = split(collect(estate["hk"], moto_endpoint, HK_WHO, [HK, FRA]))
    assert set(resources) == {HK_TRAIL}
    assert (resources[HK_TRAIL].region, resources[HK_TRAIL].jurisdiction) == (HK, "HK")
    assert triples(edges) == {(HK_TRAIL, "delivers_logs_to", "arn:aws:s3:::eu-trail")}


DENIED = {
    "cloudtrail": ("describe_trails", "AccessDeniedException"),
    "logs": ("describe_log_groups", "AccessDeniedException"),
}


def test_denied_listing_becomes_a_coverage_row(only_logging):
    session = boto3.Session(region_name=CN1)
    clients = Clients(session, "http://127.0.0.1:9")
    stubs = []
    for service, (method, code) in DENIED.items():
        client = make_client(session, service, CN1, clients.endpoint_url)
        stub = Stubber(client)
        stub.add_client_error(method, service_error_code=code, http_status_code=400)
        stub.activate()
        stubs.append(stub)
        clients.put(service, CN1, client)
    records = list(aws_adapter.collect_account(clients, CN_WHO, CN1, [CN1], workers=1))
    resources, edges, coverage = split(records)
    assert (resources, edges, len(coverage)) == ({}, [], len(records))
    assert sorted((c.service, c.outcome, c.detail) for c in coverage) == [
        ("cloudtrail", Outcome.DENIED, "DescribeTrails: AccessDeniedException"),
        ("logs", Outcome.DENIED, "DescribeLogGroups: AccessDeniedException"),
    ]
    for stub in stubs:
        stub.assert_no_pending_responses()


def test_denied_sub_calls_are_marked_not_dropped():
    session = boto3.Session(region_name=CN1)
    client = make_client(session, "cloudtrail", CN1, "http://127.0.0.1:9")
    trail = {"Name": "t", "TrailARN": TRAIL, "HomeRegion": CN1, "S3BucketName": "b"}
    with Stubber(client) as stub:
        stub.add_response("describe_trails", {"trailList": [trail]})
        stub.add_client_error("get_trail_status", "AccessDeniedException", http_status_code=400)
        stub.add_client_error("get_event_selectors", "AccessDeniedException", http_status_code=400)
        stub.add_client_error("list_tags", "AccessDeniedException", http_status_code=400)
        raw = cloudtrail.get_cloudtrail(client, CN1)
    resources, edges, _ = split(cloudtrail.transform_cloudtrail(raw, "aws-cn"))
    attrs = resources[TRAIL].attrs
    assert (attrs["status_status"], attrs["selectors_status"], attrs["tags_status"]) == (
        "denied",
        "denied",
        "denied",
    )
    assert (attrs["is_logging"], attrs["management_events"], attrs["data_events"]) == (
        None,
        None,
        None,
    )
    assert triples(edges) == {(TRAIL, "delivers_logs_to", "arn:aws-cn:s3:::b")}


# --- transforms on recorded answers -----------------------------------------------------------


def load(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((FIXTURES / "aws" / name).read_text("utf-8"))
    return data


def test_trail_transform_from_recording():
    raw = load("cloudtrail_cn_north_1.json")
    resources, edges, _ = split(cloudtrail.transform_cloudtrail(raw, "aws-cn"))
    assert set(resources) == {TRAIL}
    trail = resources[TRAIL].attrs
    assert trail["data_events"] == [
        {
            "name": "s3-data",
            "resource_types": ["AWS::S3::Object"],
            "field_selectors": [
                {"Field": "eventCategory", "Equals": ["Data"]},
                {"Field": "resources.type", "Equals": ["AWS::S3::Object"]},
            ],
        }
    ]
    assert {e.relation for e in edges} == {Relation.DELIVERS_LOGS_TO, Relation.ENCRYPTED_BY}


def test_shadow_trails_are_not_doubled():
    home = load("cloudtrail_cn_north_1.json")["trails"][0]["trail"]
    shadow = {**home, "HomeRegion": CN1}
    client = make_client(boto3.Session(region_name=CN2), "cloudtrail", CN2, "http://127.0.0.1:9")
    with Stubber(client) as stub:
        # A shadow of a cn-north-1 trail answered in cn-northwest-1 is that trail's, not a new one.
        stub.add_response("describe_trails", {"trailList": [shadow]})
        raw = cloudtrail.get_cloudtrail(client, CN2)
    assert raw["trails"] == []


def test_log_transform_from_recording():
    raw = load("logs_cn_north_1.json")
    resources, edges, _ = split(logs.transform_logs(raw, "aws-cn"))
    assert set(resources) == {
        f"{GROUP}:/gov/trail",
        f"{GROUP}:app",
        f"{GROUP}:/aws/route53/gov.cn",
        GOV_IN,
    }
    assert (f"{GROUP}:app", "delivers_logs_to", VENDOR_DEST) in triples(edges)


def test_unread_subscriptions_and_policies_stay_distinguishable():
    raw = load("logs_cn_north_1.json")
    for group in raw["groups"]:
        group["subscriptions"] = {"status": "denied", "code": "AccessDeniedException"}
    raw["resource_policies"] = {"status": "error", "code": "ServiceUnavailable"}
    resources, edges, _ = split(logs.transform_logs(raw, "aws-cn"))
    app = resources[f"{GROUP}:app"].attrs
    assert (app["subscriptions_status"], app["subscription_filters"]) == ("denied", [])
    assert app["policy_status"] == "error"
    assert not [e for e in edges if e.relation is Relation.CAN_WRITE]


def test_invalid_resource_policy_is_marked():
    raw = load("logs_cn_north_1.json")
    raw["resource_policies"]["value"]["resourcePolicies"][0]["policyDocument"] = "not json"
    resources, _, _ = split(logs.transform_logs(raw, "aws-cn"))
    assert resources[f"{GROUP}:app"].attrs["policy_status"] == "invalid"
