"""S3 access logging, inventory, versioning, Object Lock, lifecycle and notifications; KMS grants.

Estate (seeded over HTTP with plain boto3 clients), aws-cn, cn-north-1:
  account 123456789012: bucket gov-data (versioned; access logs → gov-access-logs prefix
    gov-data/; inventory 'weekly' → vendor-inv of 999988887777; lifecycle 'expire-logs' 200
    days enabled and 'old' 30 days disabled; notifications 'to-queue' → queue gov-events,
    'to-vendor' → topic vendor-events of 999988887777); bucket gov-access-logs (Object Lock
    COMPLIANCE 180 days); key gov-grants with grants: vendor root Decrypt+GenerateDataKey under
    an encryption context, role key-admin CreateGrant+RetireGrant, the CloudWatch Logs service
    Encrypt only.
"""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from auditor.inventories import aws as aws_adapter
from auditor.inventories.aws import kms, s3
from auditor.inventories.aws.identity import CallerIdentity
from auditor.inventories.aws.session import Clients, make_client
from auditor.model import Edge, Relation, Resource
from tests.conftest import FIXTURES
from tests.inventories.conftest import CN1, MAIN, VENDOR, assumed_session

DATA, LOGS = "arn:aws-cn:s3:::gov-data", "arn:aws-cn:s3:::gov-access-logs"
QUEUE = f"arn:aws-cn:sqs:{CN1}:{MAIN}:gov-events"
TOPIC = f"arn:aws-cn:sns:{CN1}:{VENDOR}:vendor-events"
ADMIN_ROLE = f"arn:aws-cn:iam::{MAIN}:role/key-admin"
LOGS_SERVICE = f"logs.{CN1}.amazonaws.com.cn"
CONTEXT = {"EncryptionContextSubset": {"dept": "dsj"}}

WHO = CallerIdentity(MAIN, f"arn:aws-cn:iam::{MAIN}:user/auditor", "aws-cn")


def seed_buckets(session: boto3.Session, vendor: boto3.Session, endpoint: str) -> None:
    client = session.client("s3", region_name=CN1, endpoint_url=endpoint)
    where = {"LocationConstraint": CN1}
    client.create_bucket(Bucket="gov-data", CreateBucketConfiguration=where)
    client.create_bucket(
        Bucket="gov-access-logs", CreateBucketConfiguration=where, ObjectLockEnabledForBucket=True
    )
    client.put_object_lock_configuration(
        Bucket="gov-access-logs",
        ObjectLockConfiguration={
            "ObjectLockEnabled": "Enabled",
            "Rule": {"DefaultRetention": {"Mode": "COMPLIANCE", "Days": 180}},
        },
    )
    client.put_bucket_versioning(Bucket="gov-data", VersioningConfiguration={"Status": "Enabled"})
    # S3 (and moto) refuse a logging target the log-delivery group cannot write to.
    log_delivery = "uri=http://acs.amazonaws.com/groups/s3/LogDelivery"
    client.put_bucket_acl(
        Bucket="gov-access-logs", GrantWrite=log_delivery, GrantReadACP=log_delivery
    )
    client.put_bucket_logging(
        Bucket="gov-data",
        BucketLoggingStatus={
            "LoggingEnabled": {"TargetBucket": "gov-access-logs", "TargetPrefix": "gov-data/"}
        },
    )
    client.put_bucket_inventory_configuration(
        Bucket="gov-data",
        Id="weekly",
        InventoryConfiguration={
            "Id": "weekly",
            "IsEnabled": True,
            "IncludedObjectVersions": "All",
            "Schedule": {"Frequency": "Weekly"},
            "Destination": {
                "S3BucketDestination": {
                    "AccountId": VENDOR,
                    "Bucket": "arn:aws-cn:s3:::vendor-inv",
                    "Format": "CSV",
                    "Prefix": "gov",
                }
            },
        },
    )
    client.put_bucket_lifecycle_configuration(
        Bucket="gov-data",
        LifecycleConfiguration={
            "Rules": [
                {
                    "ID": "expire-logs",
                    "Status": "Enabled",
                    "Filter": {"Prefix": "logs/"},
                    "Expiration": {"Days": 200},
                },
                {
                    "ID": "old",
                    "Status": "Disabled",
                    "Filter": {"Prefix": "old/"},
                    "Expiration": {"Days": 30},
                },
            ]
        },
    )
    session.client("sqs", region_name=CN1, endpoint_url=endpoint).create_queue(
        QueueName="gov-events"
    )
    vendor.client("sns", region_name=CN1, endpoint_url=endpoint).create_topic(Name="vendor-events")
    client.put_bucket_notification_configuration(
        Bucket="gov-data",
        NotificationConfiguration={
            "QueueConfigurations": [
                {"Id": "to-queue", "QueueArn": QUEUE, "Events": ["s3:ObjectCreated:*"]}
            ],
            "TopicConfigurations": [
                {"Id": "to-vendor", "TopicArn": TOPIC, "Events": ["s3:ObjectRemoved:*"]}
            ],
        },
    )


def seed_key(session: boto3.Session, endpoint: str) -> str:
    client = session.client("kms", region_name=CN1, endpoint_url=endpoint)
    key = client.create_key(Description="gov-grants")["KeyMetadata"]
    key_id = key["KeyId"]
    client.create_grant(
        KeyId=key_id,
        Name="vendor-read",
        GranteePrincipal=f"arn:aws-cn:iam::{VENDOR}:root",
        Operations=["Decrypt", "GenerateDataKey"],
        Constraints=CONTEXT,
    )
    client.create_grant(
        KeyId=key_id, GranteePrincipal=ADMIN_ROLE, Operations=["CreateGrant", "RetireGrant"]
    )
    client.create_grant(KeyId=key_id, GranteePrincipal=LOGS_SERVICE, Operations=["Encrypt"])
    return str(key["Arn"])


@pytest.fixture
def only_s3_kms(monkeypatch: pytest.MonkeyPatch) -> None:
    """Collect only KMS and S3, whatever other modules the package holds."""
    monkeypatch.setattr(aws_adapter, "services", lambda: (kms.SERVICE, s3.SERVICE))


def collect(session: boto3.Session, endpoint: str) -> list[Any]:
    clients = Clients(session, endpoint)
    return list(aws_adapter.collect_account(clients, WHO, CN1, [CN1], workers=1))


def split(found: Any) -> tuple[dict[str, Resource], list[Edge]]:
    records = list(found)
    resources = {r.uid: r for r in records if isinstance(r, Resource)}
    return resources, [r for r in records if isinstance(r, Edge)]


@pytest.fixture
def estate(moto_endpoint: str, only_s3_kms: None) -> dict[str, Any]:
    cn = boto3.Session(region_name=CN1)
    vendor = assumed_session(moto_endpoint, "aws-cn", VENDOR, CN1)
    seed_buckets(cn, vendor, moto_endpoint)
    key = seed_key(cn, moto_endpoint)
    resources, edges = split(collect(cn, moto_endpoint))
    return {"key": key, "resources": resources, "edges": edges}


# --- S3 ---------------------------------------------------------------------------------------


@pytest.mark.moto
def test_bucket_flow_edges_with_evidence(estate):
    flows = {
        (e.src, e.relation.value, e.dst): e.evidence
        for e in estate["edges"]
        if e.relation in (Relation.DELIVERS_LOGS_TO, Relation.COPIES_TO)
    }
    assert flows == {
        (DATA, "delivers_logs_to", LOGS): (
            f"server access logs of {DATA} go to {LOGS} prefix 'gov-data/' "
            "(GetBucketLogging LoggingEnabled.TargetBucket)"
        ),
        (DATA, "copies_to", "arn:aws-cn:s3:::vendor-inv"): (
            f"S3 inventory 'weekly' of {DATA} writes object names and metadata to "
            f"arn:aws-cn:s3:::vendor-inv, account {VENDOR} "
            "(ListBucketInventoryConfigurations Destination.S3BucketDestination.Bucket)"
        ),
        (DATA, "copies_to", QUEUE): (
            f"S3 event notification 'to-queue' of {DATA} sends object keys "
            f"(s3:ObjectCreated:*) to queue {QUEUE} (GetBucketNotificationConfiguration)"
        ),
        (DATA, "copies_to", TOPIC): (
            f"S3 event notification 'to-vendor' of {DATA} sends object keys "
            f"(s3:ObjectRemoved:*) to topic {TOPIC} (GetBucketNotificationConfiguration)"
        ),
    }


@pytest.mark.moto
def test_bucket_retention_attrs(estate):
    data = estate["resources"][DATA].attrs
    assert {k: data[k] for k in (
        "logging_status", "access_logging_enabled", "access_logging_target_bucket",
        "inventory_status", "versioning_status", "versioning", "mfa_delete",
        "object_lock_status", "object_lock_enabled", "lifecycle_status",
        "lifecycle_min_expiration_days", "notification_status", "eventbridge_notifications",
    )} == {
        "logging_status": "read", "access_logging_enabled": True,
        "access_logging_target_bucket": "gov-access-logs", "inventory_status": "read",
        "versioning_status": "read", "versioning": "Enabled", "mfa_delete": None,
        "object_lock_status": "none", "object_lock_enabled": False, "lifecycle_status": "read",
        # The 30-day rule is disabled: only the enabled 200-day rule counts.
        "lifecycle_min_expiration_days": 200, "notification_status": "read",
        "eventbridge_notifications": False,
    }  # fmt: skip
    assert [(r["id"], r["status"], r["expiration_days"]) for r in data["lifecycle_rules"]] == [
        ("expire-logs", "Enabled", 200),
        ("old", "Disabled", 30),
    ]
    assert data["inventory_configurations"][0]["destination_account"] == VENDOR
    logs = estate["resources"][LOGS].attrs
    assert (logs["object_lock_enabled"], logs["object_lock_mode"], logs["object_lock_days"]) == (
        True,
        "COMPLIANCE",
        180,
    )
    assert (logs["lifecycle_status"], logs["lifecycle_min_expiration_days"]) == ("none", None)
    assert (logs["access_logging_enabled"], logs["notification_targets"]) == (False, [])


def stubbed_bucket(errors: dict[str, str]) -> dict[str, Any]:
    """The new per-bucket reads through a stubbed client; `errors` maps method → error code."""
    client = make_client(boto3.Session(region_name=CN1), "s3", CN1, "http://127.0.0.1:9")
    answers: dict[str, dict[str, Any]] = {
        "get_bucket_logging": {},
        "list_bucket_inventory_configurations": {"IsTruncated": False},
        "get_bucket_versioning": {},
        "get_object_lock_configuration": {},
        "get_bucket_lifecycle_configuration": {},
        "get_bucket_notification_configuration": {},
    }
    with Stubber(client) as stub:
        for method, answer in answers.items():
            if method in errors:
                stub.add_client_error(method, errors[method], http_status_code=403)
            else:
                stub.add_response(method, answer)
        return s3.get_bucket_retention_and_flows(client, "gov-data")


def test_denied_reads_are_marked_and_give_no_edges():
    denied = {
        "get_bucket_logging": "AccessDenied",
        "list_bucket_inventory_configurations": "AccessDenied",
        "get_bucket_notification_configuration": "AccessDenied",
        "get_object_lock_configuration": "AccessDenied",
    }
    facts = stubbed_bucket(denied)
    raw: dict[str, Any] = json.loads((FIXTURES / "aws" / "s3_cn.json").read_text("utf-8"))
    bucket = next(b for b in raw["buckets"] if b["Name"] == "gov-dr")
    bucket.update(facts)
    resources, edges = split(s3.transform_s3(raw))
    attrs = resources["arn:aws-cn:s3:::gov-dr"].attrs
    assert {k: attrs[k] for k in (
        "logging_status", "access_logging_enabled", "inventory_status", "notification_status",
        "eventbridge_notifications", "object_lock_status", "object_lock_enabled",
        "versioning_status", "versioning",
    )} == {
        "logging_status": "denied", "access_logging_enabled": None, "inventory_status": "denied",
        "notification_status": "denied", "eventbridge_notifications": None,
        "object_lock_status": "denied", "object_lock_enabled": None,
        "versioning_status": "read", "versioning": None,
    }  # fmt: skip
    assert not [e for e in edges if e.src == "arn:aws-cn:s3:::gov-dr" and e.relation in (
        Relation.DELIVERS_LOGS_TO, Relation.COPIES_TO
    )]  # fmt: skip
    assert s3.unread_facts(raw)["logging:denied"] == 1


def test_inventory_pages_are_all_read():
    client = make_client(boto3.Session(region_name=CN1), "s3", CN1, "http://127.0.0.1:9")
    config = {
        "Destination": {"S3BucketDestination": {"Bucket": "arn:aws-cn:s3:::a", "Format": "CSV"}},
        "IsEnabled": True,
        "IncludedObjectVersions": "Current",
        "Schedule": {"Frequency": "Daily"},
    }
    with Stubber(client) as stub:
        first = {"IsTruncated": True, "NextContinuationToken": "t1"}
        stub.add_response(
            "list_bucket_inventory_configurations",
            {**first, "InventoryConfigurationList": [{**config, "Id": "one"}]},
            {"Bucket": "gov-data"},
        )
        stub.add_response(
            "list_bucket_inventory_configurations",
            {"IsTruncated": False, "InventoryConfigurationList": [{**config, "Id": "two"}]},
            {"Bucket": "gov-data", "ContinuationToken": "t1"},
        )
        answer = s3._inventories(client, "gov-data")
    assert [c["Id"] for c in answer["InventoryConfigurationList"]] == ["one", "two"]


def test_eventbridge_and_lambda_targets():
    bucket: dict[str, Any] = {
        "notification": {
            "status": "read",
            "value": {
                "EventBridgeConfiguration": {},
                "LambdaFunctionConfigurations": [
                    {
                        "Id": "fn",
                        "LambdaFunctionArn": f"arn:aws-cn:lambda:{CN1}:{VENDOR}:function:scan",
                        "Events": ["s3:ObjectCreated:Put"],
                    }
                ],
            },
        }
    }
    attrs = s3.retention_and_flow_attrs(bucket)
    edges = list(s3._notification_edges(DATA, attrs, CN1, MAIN, "aws-cn"))
    assert [(e.dst, e.relation) for e in edges] == [
        (f"arn:aws-cn:lambda:{CN1}:{VENDOR}:function:scan", Relation.COPIES_TO),
        (f"arn:aws-cn:events:{CN1}:{MAIN}:event-bus/default", Relation.COPIES_TO),
    ]


def test_recordings_without_the_new_facts_mark_them_skipped():
    raw: dict[str, Any] = json.loads((FIXTURES / "aws" / "s3_cn.json").read_text("utf-8"))
    resources, _ = split(s3.transform_s3(raw))
    attrs = resources["arn:aws-cn:s3:::gov-src"].attrs
    assert {attrs[f"{fact}_status"] for fact in (
        "logging", "inventory", "versioning", "object_lock", "lifecycle", "notification"
    )} == {"skipped"}  # fmt: skip
    assert attrs["access_logging_enabled"] is None and attrs["object_lock_enabled"] is None


# --- KMS grants -------------------------------------------------------------------------------


@pytest.mark.moto
def test_grants_become_rights_with_constraints(estate):
    key = estate["key"]
    grants = [e for e in estate["edges"] if e.dst == key and e.evidence.startswith("KMS grant ")]
    assert sorted((e.src, e.relation.value, dict(e.conditions)) for e in grants) == [
        (f"account:{VENDOR}", "can_decrypt", CONTEXT),
        (ADMIN_ROLE, "can_admin", {}),
    ]
    vendor = next(e for e in grants if e.src == f"account:{VENDOR}")
    assert vendor.evidence.startswith("KMS grant ")
    assert vendor.evidence.endswith(
        f" (Decrypt, GenerateDataKey) on {key} gives can_decrypt (ListGrants)"
    )
    attrs = estate["resources"][key].attrs
    assert attrs["grants_status"] == "read"
    assert sorted((g["grantee"], g["name"]) for g in attrs["grants"]) == [
        (ADMIN_ROLE, None),
        (f"arn:aws-cn:iam::{VENDOR}:root", "vendor-read"),
        (LOGS_SERVICE, None),
    ]


@pytest.mark.parametrize(
    ("principal", "uid"),
    [
        (f"arn:aws-cn:iam::{VENDOR}:root", f"account:{VENDOR}"),
        (VENDOR, f"account:{VENDOR}"),
        (ADMIN_ROLE, ADMIN_ROLE),
        (f"arn:aws-cn:iam::{MAIN}:user/alice", f"arn:aws-cn:iam::{MAIN}:user/alice"),
        (LOGS_SERVICE, f"service:{LOGS_SERVICE}"),
    ],
)
def test_grantee_uid(principal, uid):
    assert kms.grantee_uid(principal) == uid


def test_denied_grants_are_marked():
    client = make_client(boto3.Session(region_name=CN1), "kms", CN1, "http://127.0.0.1:9")
    key_id = "1234abcd-12ab-34cd-56ef-1234567890ab"
    arn = f"arn:aws-cn:kms:{CN1}:{MAIN}:key/{key_id}"
    meta = {
        "KeyId": key_id,
        "Arn": arn,
        "AWSAccountId": MAIN,
        "KeyManager": "CUSTOMER",
        "KeySpec": "SYMMETRIC_DEFAULT",
        "Origin": "AWS_KMS",
    }
    with Stubber(client) as stub:
        stub.add_response("describe_key", {"KeyMetadata": meta})
        stub.add_response("get_key_policy", {"Policy": "{}"})
        stub.add_response("get_key_rotation_status", {"KeyRotationEnabled": True})
        stub.add_response("list_resource_tags", {"Tags": []})
        stub.add_client_error("list_grants", "AccessDeniedException", http_status_code=400)
        raw = kms.get_key(client, {"KeyId": key_id, "KeyArn": arn})
    resources, edges = split(kms.transform_key(raw, CN1, "aws-cn", []))
    assert (resources[arn].attrs["grants_status"], resources[arn].attrs["grants"]) == (
        "denied",
        [],
    )
    assert not [e for e in edges if e.evidence.startswith("KMS grant ")]
