"""DynamoDB inventory: transforms on recorded moto responses, and collection from moto over HTTP.

The estate (seeded by `seed_cn` and `seed_aws`):
aws-cn, account 123456789012, cn-north-1: key gov-ddb; table gov-people (encrypted by gov-ddb,
  tagged, point-in-time recovery on, a resource policy granting 999988887777 GetItem/Query,
  exported to bucket gov-exports of account 999988887777); table gov-plain (defaults: AWS-owned
  key, no PITR, no policy).
aws, account 111122223333, ap-east-1: table hk-sessions (PITR on) exported to eu-archive
  (eu-central-1).
`dynamodb_global_table.json` is `dynamodb_cn_north_1.json` with gov-people's Replicas written
by hand in the AWS shape (moto answers Replicas=[] after update_table(ReplicaUpdates)).
"""

from __future__ import annotations

import copy
import json
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from auditor.inventories import aws as aws_adapter
from auditor.inventories.aws import collect_account, dynamodb
from auditor.inventories.aws.calls import DENIED, ERROR, NONE, READ
from auditor.inventories.aws.identity import CallerIdentity
from auditor.inventories.aws.registry import ServiceContext, SharedFacts
from auditor.inventories.aws.session import Clients, make_client
from auditor.model import Coverage, Edge, Kind, Outcome, Relation, Resource
from tests.conftest import FIXTURES
from tests.inventories.conftest import (
    CN1,
    CN2,
    FRA,
    HK,
    HK_ACCOUNT,
    MAIN,
    VENDOR,
    assumed_session,
)

PEOPLE = f"arn:aws-cn:dynamodb:{CN1}:{MAIN}:table/gov-people"
PLAIN = f"arn:aws-cn:dynamodb:{CN1}:{MAIN}:table/gov-plain"
HK_TABLE = f"arn:aws:dynamodb:{HK}:{HK_ACCOUNT}:table/hk-sessions"
KEY_SCHEMA = {
    "KeySchema": [{"AttributeName": "id", "KeyType": "HASH"}],
    "AttributeDefinitions": [{"AttributeName": "id", "AttributeType": "S"}],
    "BillingMode": "PAY_PER_REQUEST",
}


# --- seeding ----------------------------------------------------------------------------------


def people_policy() -> dict[str, Any]:
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "VendorRead",
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws-cn:iam::{VENDOR}:root"},
                "Action": ["dynamodb:GetItem", "dynamodb:Query"],
                "Resource": PEOPLE,
            }
        ],
    }


def seed_cn(endpoint: str) -> str:
    """The aws-cn part of the estate; returns the ARN of key gov-ddb."""
    session = boto3.Session(region_name=CN1)
    key = session.client("kms", region_name=CN1, endpoint_url=endpoint).create_key(
        Description="gov-ddb"
    )["KeyMetadata"]
    ddb = session.client("dynamodb", region_name=CN1, endpoint_url=endpoint)
    ddb.create_table(
        TableName="gov-people",
        SSESpecification={"Enabled": True, "SSEType": "KMS", "KMSMasterKeyId": key["Arn"]},
        Tags=[{"Key": "data-class", "Value": "重要数据"}],
        **KEY_SCHEMA,
    )
    ddb.create_table(TableName="gov-plain", **KEY_SCHEMA)
    ddb.update_continuous_backups(
        TableName="gov-people",
        PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": True},
    )
    ddb.put_resource_policy(ResourceArn=PEOPLE, Policy=json.dumps(people_policy()))
    vendor = assumed_session(endpoint, "aws-cn", VENDOR, CN1)
    vendor.client("s3", region_name=CN1, endpoint_url=endpoint).create_bucket(
        Bucket="gov-exports", CreateBucketConfiguration={"LocationConstraint": CN1}
    )
    ddb.export_table_to_point_in_time(
        TableArn=PEOPLE, S3Bucket="gov-exports", S3BucketOwner=VENDOR, S3Prefix="people/"
    )
    return str(key["Arn"])


def seed_aws(session: boto3.Session, endpoint: str) -> None:
    session.client("s3", region_name=FRA, endpoint_url=endpoint).create_bucket(
        Bucket="eu-archive", CreateBucketConfiguration={"LocationConstraint": FRA}
    )
    ddb = session.client("dynamodb", region_name=HK, endpoint_url=endpoint)
    ddb.create_table(TableName="hk-sessions", **KEY_SCHEMA)
    # Exports read the point-in-time backup, so it must be on.
    ddb.update_continuous_backups(
        TableName="hk-sessions",
        PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": True},
    )
    ddb.export_table_to_point_in_time(TableArn=HK_TABLE, S3Bucket="eu-archive", S3Prefix="hk/")


def only_dynamodb(monkeypatch: pytest.MonkeyPatch) -> None:
    """Run only DynamoDB in collect_account: other services have their own tests."""
    monkeypatch.setattr(aws_adapter, "services", lambda: (dynamodb.SERVICE,))


def cn_identity() -> CallerIdentity:
    return CallerIdentity(MAIN, f"arn:aws-cn:iam::{MAIN}:user/auditor", "aws-cn")


def context(clients: Clients, identity: CallerIdentity, region: str) -> ServiceContext:
    return ServiceContext(clients, identity, region, region, SharedFacts())


def split(records: Any) -> tuple[dict[str, Resource], list[Edge]]:
    resources = {r.uid: r for r in records if isinstance(r, Resource)}
    return resources, [e for e in records if isinstance(e, Edge)]


def edge_set(edges: list[Edge]) -> set[tuple[str, str, str]]:
    return {(e.src, e.relation.value, e.dst) for e in edges}


# --- transforms on recorded responses ---------------------------------------------------------


def load(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((FIXTURES / "aws" / name).read_text("utf-8"))
    return data


def transformed(
    raw: dict[str, Any], partition: str = "aws-cn"
) -> tuple[dict[str, Resource], list[Edge]]:
    return split(list(dynamodb.transform_dynamodb(raw, partition)))


def people(raw: dict[str, Any]) -> dict[str, Any]:
    found: dict[str, Any] = next(t for t in raw["tables"] if t["TableName"] == "gov-people")
    return found


def fixture_key(raw: dict[str, Any]) -> str:
    return str(people(raw)["describe"]["value"]["Table"]["SSEDescription"]["KMSMasterKeyArn"])


def export_arn(raw: dict[str, Any]) -> str:
    return str(people(raw)["exports"]["value"]["ExportSummaries"][0]["ExportArn"])


def test_table_with_customer_key_pitr_tags_export_and_policy():
    raw = load("dynamodb_cn_north_1.json")
    resources, edges = transformed(raw)
    table = resources[PEOPLE]
    key, export = fixture_key(raw), export_arn(raw)
    assert (table.kind, table.native_type, table.name, table.account, table.region) == (
        Kind.DATABASE,
        "dynamodb:table",
        "gov-people",
        MAIN,
        CN1,
    )
    assert (table.partition, table.jurisdiction, table.tags) == (
        "aws-cn",
        "CN",
        {"data-class": "重要数据"},
    )
    attrs = dict(table.attrs)
    policy = attrs.pop("policy")
    assert json.loads(policy) == people_policy()
    assert attrs == {
        "describe_status": READ,
        "table_status": "ACTIVE",
        "billing_mode": "PAY_PER_REQUEST",
        "deletion_protection": False,
        "global_table_version": None,
        "encryption_status": READ,
        "encrypted": True,
        "kms_key_arn": key,
        "key_owner": None,
        "sse_type": "KMS",
        "sse_status": "ENABLED",
        "replicas_status": READ,
        "replicas": [],
        "pitr_status": READ,
        "pitr": "ENABLED",
        "pitr_recovery_period_days": 35,
        "continuous_backups": "ENABLED",
        "exports_status": READ,
        "exports": [
            {
                "describe_status": READ,
                "arn": export,
                "status": "COMPLETED",
                "type": "FULL_EXPORT",
                "format": "DYNAMO_JSON",
                "time": None,
                "bucket": "gov-exports",
                "bucket_owner": VENDOR,
                "prefix": "people/",
                "sse_algorithm": None,
                "kms_key": None,
            }
        ],
        "tags_status": READ,
        "policy_status": READ,
    }
    by_relation = {(e.src, e.relation.value, e.dst): e for e in edges if PEOPLE in (e.src, e.dst)}
    assert set(by_relation) == {
        (PEOPLE, "encrypted_by", key),
        (PEOPLE, "copies_to", "arn:aws-cn:s3:::gov-exports"),
        (f"account:{VENDOR}", "can_read", PEOPLE),
    }
    assert by_relation[(PEOPLE, "encrypted_by", key)].evidence == (
        f"DynamoDB table {PEOPLE} is encrypted with {key} "
        "(DescribeTable SSEDescription.KMSMasterKeyArn)"
    )
    assert by_relation[(PEOPLE, "copies_to", "arn:aws-cn:s3:::gov-exports")].evidence == (
        f"DynamoDB export {export} (COMPLETED) of {PEOPLE} to s3://gov-exports/people/, "
        f"bucket owner {VENDOR} (DescribeExport S3Bucket, S3BucketOwner)"
    )
    assert by_relation[(f"account:{VENDOR}", "can_read", PEOPLE)].evidence == (
        f"resource policy of {PEOPLE}, statement 'VendorRead' "
        "(dynamodb:GetItem, dynamodb:Query) grants can_read"
    )


def test_default_encryption_is_an_aws_owned_key():
    resources, edges = transformed(load("dynamodb_cn_north_1.json"))
    plain = resources[PLAIN].attrs
    facts = ("encryption_status", "encrypted", "kms_key_arn", "key_owner", "pitr", "policy_status")
    assert {k: plain[k] for k in facts} == {
        "encryption_status": READ,
        "encrypted": True,
        "kms_key_arn": None,
        "key_owner": "aws_owned",
        "pitr": "DISABLED",
        "policy_status": NONE,
    }
    assert not [e for e in edges if PLAIN in (e.src, e.dst)]


def test_sse_turned_off_falls_back_to_the_aws_owned_key():
    raw = copy.deepcopy(load("dynamodb_cn_north_1.json"))
    people(raw)["describe"]["value"]["Table"]["SSEDescription"]["Status"] = "DISABLED"
    resources, edges = transformed(raw)
    attrs = resources[PEOPLE].attrs
    assert (attrs["kms_key_arn"], attrs["key_owner"]) == (None, "aws_owned")
    assert not [e for e in edges if e.relation is Relation.ENCRYPTED_BY]


def test_global_table_replicas_replicate_to_other_regions():
    raw = load("dynamodb_global_table.json")
    resources, edges = transformed(raw)
    key = fixture_key(raw)
    nx_table = f"arn:aws-cn:dynamodb:{CN2}:{MAIN}:table/gov-people"
    attrs = resources[PEOPLE].attrs
    assert attrs["global_table_version"] == "2019.11.21"
    assert attrs["replicas"] == [
        {
            "region": CN2,
            "status": "ACTIVE",
            "kms_key_arn": key.replace(CN1, CN2),
            "table_arn": nx_table,
        }
    ]
    (replication,) = [e for e in edges if e.relation is Relation.REPLICATES_TO]
    assert (replication.src, replication.dst) == (PEOPLE, nx_table)
    assert replication.evidence == (
        f"DynamoDB global table {PEOPLE} has a replica in {CN2} "
        f"(DescribeTable Replicas: RegionName {CN2}, ReplicaStatus ACTIVE)"
    )


def test_cross_region_export_in_the_commercial_partition():
    resources, edges = transformed(load("dynamodb_aws_ap_east_1.json"), "aws")
    table = resources[HK_TABLE]
    assert (table.region, table.partition, table.jurisdiction) == (HK, "aws", "HK")
    assert table.attrs["key_owner"] == "aws_owned"
    assert edge_set(edges) == {(HK_TABLE, "copies_to", "arn:aws:s3:::eu-archive")}


def test_unread_facts_stay_unknown_and_failed_exports_copy_nothing():
    raw = copy.deepcopy(load("dynamodb_cn_north_1.json"))
    table = people(raw)
    table["describe"] = {"status": DENIED, "code": "AccessDeniedException"}
    table["continuous_backups"] = {"status": ERROR, "code": "InternalServerError"}
    table["policy"] = {"status": "unsupported", "code": "NotImplemented"}
    export = table["exports"]["exports"][0]["value"]["ExportDescription"]
    export["ExportStatus"] = "FAILED"
    resources, edges = transformed(raw)
    attrs = resources[PEOPLE].attrs
    facts = (
        "describe_status",
        "encryption_status",
        "encrypted",
        "kms_key_arn",
        "key_owner",
        "replicas_status",
        "pitr_status",
        "pitr",
        "policy_status",
        "policy",
    )
    assert {k: attrs[k] for k in facts} == {
        "describe_status": DENIED,
        "encryption_status": DENIED,
        "encrypted": None,
        "kms_key_arn": None,
        "key_owner": None,
        "replicas_status": DENIED,
        "pitr_status": ERROR,
        "pitr": None,
        "policy_status": "unsupported",
        "policy": None,
    }
    assert attrs["exports"][0]["status"] == "FAILED"
    assert not [e for e in edges if PEOPLE in (e.src, e.dst)]
    assert dynamodb.unread_facts(raw) == {
        "continuous_backups:error": 1,
        "describe:denied": 1,
        "policy:unsupported": 1,
    }


# --- collection over HTTP ---------------------------------------------------------------------


def test_collects_cn_tables_edges_and_coverage(moto_endpoint, monkeypatch):
    key = seed_cn(moto_endpoint)
    only_dynamodb(monkeypatch)
    session = boto3.Session(region_name=CN1)
    records = list(
        collect_account(Clients(session, moto_endpoint), cn_identity(), CN1, [CN1, CN2], 1)
    )
    resources, edges = split(records)
    assert {u: (r.kind, r.native_type, r.region, r.jurisdiction) for u, r in resources.items()} == {
        PEOPLE: (Kind.DATABASE, "dynamodb:table", CN1, "CN"),
        PLAIN: (Kind.DATABASE, "dynamodb:table", CN1, "CN"),
    }
    assert resources[PEOPLE].attrs["kms_key_arn"] == key
    assert resources[PEOPLE].attrs["pitr"] == "ENABLED"
    assert resources[PEOPLE].attrs["exports"][0]["bucket_owner"] == VENDOR
    assert resources[PLAIN].attrs["key_owner"] == "aws_owned"
    assert edge_set(edges) == {
        (PEOPLE, "encrypted_by", key),
        (PEOPLE, "copies_to", "arn:aws-cn:s3:::gov-exports"),
        (f"account:{VENDOR}", "can_read", PEOPLE),
    }
    copies = next(e for e in edges if e.relation is Relation.COPIES_TO)
    assert f"bucket owner {VENDOR} (DescribeExport S3Bucket, S3BucketOwner)" in copies.evidence
    coverage = {
        (c.account, c.region, c.service, c.outcome, c.detail)
        for c in records
        if isinstance(c, Coverage)
    }
    assert coverage == {
        (MAIN, CN1, "dynamodb", Outcome.OK, "2 tables"),
        (MAIN, CN2, "dynamodb", Outcome.OK, "0 tables"),
    }


def test_collects_commercial_table_exported_abroad(moto_endpoint, monkeypatch):
    session = assumed_session(moto_endpoint, "aws", HK_ACCOUNT, HK)
    seed_aws(session, moto_endpoint)
    only_dynamodb(monkeypatch)
    who = CallerIdentity(HK_ACCOUNT, f"arn:aws:iam::{HK_ACCOUNT}:user/auditor", "aws")
    records = list(collect_account(Clients(session, moto_endpoint), who, HK, [HK, FRA], 1))
    resources, edges = split(records)
    assert {u: (r.region, r.partition, r.jurisdiction) for u, r in resources.items()} == {
        HK_TABLE: (HK, "aws", "HK")
    }
    assert edge_set(edges) == {(HK_TABLE, "copies_to", "arn:aws:s3:::eu-archive")}


def test_only_declared_read_only_calls(moto_endpoint):
    seed_cn(moto_endpoint)
    session = boto3.Session(region_name=CN1)
    called: set[tuple[str, str]] = set()

    def record(model: Any, **_: Any) -> None:
        called.add((model.service_model.service_name, model.name))

    session.events.register("before-call", record)
    dynamodb.collect(context(Clients(session, moto_endpoint), cn_identity(), CN1))
    assert called == set(dynamodb.OPERATIONS)


# --- failures (Stubber) -----------------------------------------------------------------------


def stubbed() -> tuple[Clients, Stubber]:
    session = boto3.Session(region_name=CN1)
    clients = Clients(session, "http://127.0.0.1:9")
    client = make_client(session, "dynamodb", CN1, clients.endpoint_url)
    clients.put("dynamodb", CN1, client)
    return clients, Stubber(client)


def test_denied_listing_becomes_a_coverage_row(monkeypatch):
    only_dynamodb(monkeypatch)
    clients, stub = stubbed()
    stub.add_client_error("list_tables", "AccessDeniedException", http_status_code=400)
    with stub:
        records = list(collect_account(clients, cn_identity(), CN1, [CN1], 1))
    assert [
        (c.region, c.service, c.outcome, c.detail) for c in records if isinstance(c, Coverage)
    ] == [(CN1, "dynamodb", Outcome.DENIED, "ListTables: AccessDeniedException")]
    assert len(records) == 1
    stub.assert_no_pending_responses()


def test_denied_sub_calls_are_marked_not_dropped():
    clients, stub = stubbed()
    table = {"TableName": "gov-people", "TableArn": PEOPLE, "TableStatus": "ACTIVE"}
    denied = {"service_error_code": "AccessDeniedException", "http_status_code": 400}
    stub.add_response("list_tables", {"TableNames": ["gov-people"]})
    stub.add_response("describe_table", {"Table": table}, {"TableName": "gov-people"})
    stub.add_client_error("describe_continuous_backups", **denied)
    stub.add_response("list_tags_of_resource", {"Tags": []}, {"ResourceArn": PEOPLE})
    stub.add_client_error("get_resource_policy", "PolicyNotFoundException", http_status_code=400)
    stub.add_response(
        "list_exports",
        {"ExportSummaries": [{"ExportArn": f"{PEOPLE}/export/01"}], "NextToken": "page-2"},
        {"TableArn": PEOPLE},
    )
    stub.add_response(
        "list_exports",
        {"ExportSummaries": [{"ExportArn": f"{PEOPLE}/export/02"}]},
        {"TableArn": PEOPLE, "NextToken": "page-2"},
    )
    stub.add_client_error("describe_export", **denied)
    stub.add_response(
        "describe_export",
        {
            "ExportDescription": {
                "ExportArn": f"{PEOPLE}/export/02",
                "ExportStatus": "COMPLETED",
                "S3Bucket": "dump",
                "S3BucketOwner": VENDOR,
            }
        },
    )
    with stub:
        records, detail = dynamodb.collect(context(clients, cn_identity(), CN1))
    resources, edges = split(records)
    attrs = resources[PEOPLE].attrs
    assert detail == "1 tables; unread: continuous_backups:denied×1, describe_export:denied×1"
    assert (attrs["key_owner"], attrs["pitr_status"], attrs["pitr"]) == ("aws_owned", DENIED, None)
    assert (attrs["policy_status"], attrs["exports_status"]) == (NONE, READ)
    assert [(e["describe_status"], e["bucket"]) for e in attrs["exports"]] == [
        (DENIED, None),
        (READ, "dump"),
    ]
    assert edge_set(edges) == {(PEOPLE, "copies_to", "arn:aws-cn:s3:::dump")}
    stub.assert_no_pending_responses()
