from __future__ import annotations

import logging
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from auditor.errors import CollectionError, ReadOnlyViolation
from auditor.inventories import aws as aws_adapter
from auditor.inventories.aws import (
    AwsTarget,
    collect_account,
    collect_aws,
)
from auditor.inventories.aws import session as aws_session
from auditor.inventories.aws.identity import CallerIdentity
from auditor.inventories.aws.registry import all_operations
from auditor.inventories.aws.session import Clients, is_read_only, make_client
from auditor.model import Coverage, Edge, Outcome, Relation, Resource
from tests.inventories.conftest import CN1, CN2, FRA, HK, HK_ACCOUNT, MAIN, VENDOR

pytestmark = pytest.mark.moto

REGIONS = [CN1, CN2, HK, FRA]
# The services whose exact output this file asserts; every other service has its own tests.
COVERED = frozenset({"iam", "kms", "s3", "organizations", "cloudtrail", "logs", "backup"})


@pytest.fixture(autouse=True)
def _only_covered_services(monkeypatch: pytest.MonkeyPatch) -> None:
    from auditor.inventories.aws.registry import services

    chosen = tuple(s for s in services() if s.name in COVERED)
    monkeypatch.setattr(aws_adapter, "services", lambda: chosen)


def run(estate: Any, workers: int = 1) -> list[Any]:
    # One worker by default: moto shares one object between a multi-Region key and its
    # replica, so describing both at once can answer for the wrong one (a moto race).
    targets = [
        AwsTarget(estate.cn, estate.endpoint, "cn"),
        AwsTarget(estate.aws, estate.endpoint, "hk"),
    ]
    return list(collect_aws(targets, REGIONS, workers=workers))


def test_concurrent_collection_sees_the_same_buckets_iam_and_coverage(estate):
    def comparable(records: list[Any]) -> set[Any]:
        # KMS is left out: see run() about moto's multi-Region key race.
        return {
            (
                type(r).__name__,
                getattr(r, "uid", None) or getattr(r, "service", None),
                getattr(r, "region", None),
                getattr(r, "outcome", None),
            )
            for r in records
            if getattr(r, "service", "") != "kms" and getattr(r, "kind", None) != "key"
        }

    assert comparable(run(estate, workers=8)) == comparable(run(estate, workers=1))


def test_collects_exact_coverage(estate):
    coverage = {
        (c.account, c.region, c.service, c.outcome) for c in run(estate) if isinstance(c, Coverage)
    }
    assert coverage == {
        (MAIN, CN1, "sts", Outcome.OK),
        (MAIN, "global", "iam", Outcome.OK),
        (MAIN, "global", "organizations", Outcome.OK),
        (MAIN, CN1, "kms", Outcome.OK),
        (MAIN, CN2, "kms", Outcome.OK),
        (MAIN, "global", "s3", Outcome.OK),
        (HK_ACCOUNT, HK, "sts", Outcome.OK),
        (HK_ACCOUNT, "global", "iam", Outcome.OK),
        (HK_ACCOUNT, "global", "organizations", Outcome.OK),
        (HK_ACCOUNT, HK, "kms", Outcome.OK),
        (HK_ACCOUNT, FRA, "kms", Outcome.OK),
        (HK_ACCOUNT, "global", "s3", Outcome.OK),
        *(
            (account, region, service, Outcome.OK)
            for account, regions in ((MAIN, (CN1, CN2)), (HK_ACCOUNT, (HK, FRA)))
            for region in regions
            for service in ("cloudtrail", "logs", "backup")
        ),
    }


def test_collects_exact_resources(estate):
    resources = {r.uid: r for r in run(estate) if isinstance(r, Resource)}
    assert {
        uid: (r.kind.value, r.account, r.region, r.partition, r.jurisdiction)
        for uid, r in resources.items()
    } == {
        "arn:aws-cn:s3:::gov-src": ("object_store", MAIN, CN1, "aws-cn", "CN"),
        "arn:aws-cn:s3:::gov-dr": ("object_store", MAIN, CN2, "aws-cn", "CN"),
        "arn:aws-cn:s3:::vendor-copy": ("object_store", VENDOR, CN2, "aws-cn", "CN"),
        estate.key_arn: ("key", MAIN, CN1, "aws-cn", "CN"),
        estate.replica_arn: ("key", MAIN, CN2, "aws-cn", "CN"),
        "arn:aws-cn:iam::123456789012:user/alice": ("user", MAIN, None, "aws-cn", None),
        "arn:aws-cn:iam::123456789012:group/admins": ("group", MAIN, None, "aws-cn", None),
        "arn:aws-cn:iam::123456789012:role/vendor-ops": ("role", MAIN, None, "aws-cn", None),
        "arn:aws-cn:iam::123456789012:root": ("account", MAIN, None, "aws-cn", None),
        "arn:aws:iam::111122223333:root": ("account", HK_ACCOUNT, None, "aws", None),
        "arn:aws:s3:::hk-cache": ("object_store", HK_ACCOUNT, HK, "aws", "HK"),
        "arn:aws:s3:::eu-archive": ("object_store", HK_ACCOUNT, FRA, "aws", "DE"),
    }
    assert resources["arn:aws-cn:s3:::vendor-copy"].attrs["observed_only"] is True
    assert resources["arn:aws-cn:s3:::gov-src"].attrs["kms_key_arn"] == estate.key_arn


def edge_set(records: list[Any]) -> set[tuple[str, str, str]]:
    return {(e.src, e.relation.value, e.dst) for e in records if isinstance(e, Edge)}


def test_collects_exact_edges(estate):
    owner = [("account:123456789012", right) for right in ("can_read", "can_write", "can_admin")]
    hk_owner = [("account:111122223333", right) for right in ("can_read", "can_write", "can_admin")]
    key, replica = estate.key_arn, estate.replica_arn
    assert edge_set(run(estate)) == {
        ("arn:aws-cn:s3:::gov-src", "replicates_to", "arn:aws-cn:s3:::gov-dr"),
        ("arn:aws-cn:s3:::gov-src", "replicates_to", "arn:aws-cn:s3:::vendor-copy"),
        ("arn:aws-cn:s3:::gov-src", "encrypted_by", key),
        ("account:999988887777", "can_read", "arn:aws-cn:s3:::gov-src"),
        *((src, rel, "arn:aws-cn:s3:::gov-src") for src, rel in owner),
        *((src, rel, "arn:aws-cn:s3:::gov-dr") for src, rel in owner),
        (key, "replicates_to", replica),
        *(
            (f"account:{MAIN}", rel, k)
            for rel in ("can_admin", "can_decrypt")
            for k in (key, replica)
        ),
        *((f"account:{VENDOR}", "can_decrypt", k) for k in (key, replica)),
        (
            "arn:aws-cn:iam::123456789012:user/alice",
            "member_of",
            "arn:aws-cn:iam::123456789012:group/admins",
        ),
        ("account:999988887777", "can_assume", "arn:aws-cn:iam::123456789012:role/vendor-ops"),
        ("arn:aws:s3:::hk-cache", "replicates_to", "arn:aws:s3:::eu-archive"),
        ("public:*", "can_read", "arn:aws:s3:::hk-cache"),
        *((src, rel, "arn:aws:s3:::hk-cache") for src, rel in hk_owner),
        *((src, rel, "arn:aws:s3:::eu-archive") for src, rel in hk_owner),
    }


def test_replication_evidence_and_trust_conditions(estate):
    edges = [e for e in run(estate) if isinstance(e, Edge)]
    replication = next(
        e
        for e in edges
        if e.dst == "arn:aws-cn:s3:::gov-dr" and e.relation is Relation.REPLICATES_TO
    )
    assert replication.evidence == (
        "S3 replication rule 'to-nx' (Enabled) of arn:aws-cn:s3:::gov-src → "
        "arn:aws-cn:s3:::gov-dr, account 123456789012"
    )
    assume = next(e for e in edges if e.relation is Relation.CAN_ASSUME)
    assert assume.conditions == {"StringEquals": {"sts:ExternalId": "HT-2024-017"}}


def test_default_regions_come_from_the_partition(estate, monkeypatch):
    target = AwsTarget(estate.cn, estate.endpoint)
    kms_regions = {
        c.region for c in collect_aws([target]) if isinstance(c, Coverage) and c.service == "kms"
    }
    assert kms_regions == {CN1, CN2}


def test_one_info_line_per_service_and_region(estate, caplog):
    caplog.set_level(logging.INFO, logger="auditor.inventories.aws")
    list(collect_aws([AwsTarget(estate.cn, estate.endpoint)], [CN1, CN2]))
    lines = [r.getMessage() for r in caplog.records if r.name == "auditor.inventories.aws"]
    logged = [
        line.split(":")[0] for line in lines if " kms" in line or " iam" in line or " s3" in line
    ]
    # IAM and KMS run concurrently in the first phase; S3 always comes after them.
    assert sorted(logged[:3]) == [
        f"aws {MAIN} {CN1} kms",
        f"aws {MAIN} {CN2} kms",
        f"aws {MAIN} global iam",
    ]
    assert logged[3:] == [f"aws {MAIN} global s3"]
    assert all(" calls, " in line and " ms)" in line for line in lines if " kms" in line)


# --- read-only guard ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("service", "method", "kwargs"),
    [
        ("s3", "put_bucket_policy", {"Bucket": "gov-src", "Policy": "{}"}),
        ("s3", "delete_bucket", {"Bucket": "gov-src"}),
        ("kms", "create_key", {}),
        ("iam", "create_user", {"UserName": "mallory"}),
        ("sts", "get_session_token", {}),
    ],
)
def test_guard_refuses_writes_before_any_request(estate, service, method, kwargs):
    client = make_client(estate.cn, service, CN1, estate.endpoint)
    sent: list[str] = []
    client.meta.events.register("before-send", lambda request, **_: sent.append(request.url))
    with pytest.raises(ReadOnlyViolation):
        getattr(client, method)(**kwargs)
    assert sent == []
    plain = estate.cn.client("s3", region_name=CN1, endpoint_url=estate.endpoint)
    assert "gov-src" in [b["Name"] for b in plain.list_buckets()["Buckets"]]


def test_guard_survives_a_stubber():
    client = make_client(boto3.Session(region_name=CN1), "s3", CN1, "http://127.0.0.1:9")
    with Stubber(client) as stub:
        stub.add_response("delete_bucket", {}, {"Bucket": "x"})
        with pytest.raises(ReadOnlyViolation):
            client.delete_bucket(Bucket="x")


def test_clients_refuse_unguarded_clients():
    clients = Clients(boto3.Session(region_name=CN1))
    with pytest.raises(ReadOnlyViolation):
        clients.put("s3", CN1, boto3.client("s3", region_name=CN1))


@pytest.mark.parametrize(
    ("operation", "allowed"),
    [
        ("GetBucketPolicy", True),
        ("ListKeys", True),
        ("DescribeKey", True),
        ("HeadBucket", True),
        ("GetCallerIdentity", True),
        ("PutBucketPolicy", False),
        ("CreateKey", False),
        ("GenerateDataKey", False),
        ("AssumeRole", False),
        ("GetSessionToken", False),
        ("GetSecretValue", False),
        ("GetObject", False),
    ],
)
def test_allowlist(operation, allowed):
    assert is_read_only(operation) is allowed


MUTATING_PREFIXES = (
    "Put",
    "Create",
    "Delete",
    "Update",
    "Set",
    "Attach",
    "Detach",
    "Enable",
    "Disable",
)


def test_every_call_the_adapter_makes_is_allowed_and_declared(estate):
    called: set[tuple[str, str]] = set()

    def record(model: Any, **_: Any) -> None:
        called.add((model.service_model.service_name, model.name))

    for session in (estate.cn, estate.aws):
        session.events.register("before-call", record)
    run(estate)
    declared = all_operations()
    assert called, "the recorder saw nothing"
    # Every call made is declared (and so in the IAM policy); calls a service makes only
    # when resources exist are exercised by that service's own tests.
    assert called <= set(declared), called - set(declared)
    for _service, operation in called:
        assert is_read_only(operation)
        assert not operation.startswith(MUTATING_PREFIXES)
    needed = {declared[call] for call in called} - {"sts:GetCallerIdentity"}
    assert needed <= set(aws_adapter.PERMISSIONS)


# --- failures -------------------------------------------------------------------------------


DENIED_STUBS = {
    ("iam", "global"): ("get_account_authorization_details", "AccessDenied", 403),
    ("kms", CN1): ("list_keys", "AccessDeniedException", 400),
    ("kms", CN2): ("list_keys", "UnrecognizedClientException", 400),
    ("s3", "global"): ("list_buckets", "AccessDenied", 403),
    ("organizations", "global"): ("describe_organization", "AccessDeniedException", 400),
    **{
        (service, region): (method, "AccessDeniedException", 400)
        for service, method in (
            ("cloudtrail", "describe_trails"),
            ("logs", "describe_log_groups"),
            ("backup", "list_backup_vaults"),
        )
        for region in (CN1, CN2)
    },
}


def test_denied_services_become_coverage_rows_not_exceptions():
    session = boto3.Session(region_name=CN1)
    clients = Clients(session, "http://127.0.0.1:9")
    stubs = []
    for (service, region), (method, code, status) in DENIED_STUBS.items():
        client = make_client(
            session, service, CN1 if region == "global" else region, clients.endpoint_url
        )
        stub = Stubber(client)
        stub.add_client_error(method, service_error_code=code, http_status_code=status)
        stub.activate()
        stubs.append(stub)
        clients.put(service, CN1 if region == "global" else region, client)
    who = CallerIdentity(MAIN, f"arn:aws-cn:iam::{MAIN}:user/auditor", "aws-cn")
    everything = list(collect_account(clients, who, CN1, [CN1, CN2]))
    records = [r for r in everything if isinstance(r, Coverage)]
    assert len(records) == len(everything)  # nothing but coverage rows, and no exception
    assert sorted((r.region, r.service, r.outcome, r.detail) for r in records) == sorted(
        [
            ("global", "iam", Outcome.DENIED, "GetAccountAuthorizationDetails: AccessDenied"),
            (CN1, "kms", Outcome.DENIED, "ListKeys: AccessDeniedException"),
            (
                CN2,
                "kms",
                Outcome.NOT_ENABLED,
                "ListKeys: UnrecognizedClientException "
                "(service or region not enabled for the account)",
            ),
            ("global", "s3", Outcome.DENIED, "ListBuckets: AccessDenied"),
            (
                "global",
                "organizations",
                Outcome.DENIED,
                "DescribeOrganization: AccessDeniedException",
            ),
            *(
                (region, service, Outcome.DENIED, f"{operation}: AccessDeniedException")
                for service, operation in (
                    ("cloudtrail", "DescribeTrails"),
                    ("logs", "DescribeLogGroups"),
                    ("backup", "ListBackupVaults"),
                )
                for region in (CN1, CN2)
            ),
        ]
    )
    for stub in stubs:
        stub.assert_no_pending_responses()


def test_unreachable_endpoint_in_one_region_is_an_error_row(estate, monkeypatch):
    monkeypatch.setattr(aws_session, "MAX_ATTEMPTS", 1)
    clients = Clients(estate.cn, estate.endpoint)
    clients.put("kms", CN2, make_client(estate.cn, "kms", CN2, "http://127.0.0.1:9"))
    who = CallerIdentity(MAIN, f"arn:aws-cn:iam::{MAIN}:user/moto", "aws-cn")
    rows = {
        (c.region, c.service): c
        for c in collect_account(clients, who, CN1, [CN1, CN2])
        if isinstance(c, Coverage)
    }
    assert rows[(CN2, "kms")].outcome is Outcome.ERROR
    assert rows[(CN2, "kms")].detail == "EndpointConnectionError"
    assert rows[(CN1, "kms")].outcome is Outcome.OK


def test_no_credentials_raise_collection_error(monkeypatch):
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    with pytest.raises(CollectionError, match="no AWS credentials for target prod"):
        list(collect_aws([AwsTarget(boto3.Session(region_name=CN1), "http://127.0.0.1:9", "prod")]))


def test_unreachable_sts_raises_collection_error_without_secrets(monkeypatch):
    monkeypatch.setattr(aws_session, "MAX_ATTEMPTS", 1)
    session = boto3.Session(
        aws_access_key_id="AKIDSECRETLOOKING", aws_secret_access_key="s3cr3t-value", region_name=CN1
    )
    with pytest.raises(CollectionError) as caught:
        list(collect_aws([AwsTarget(session, "http://127.0.0.1:9")]))
    message = str(caught.value)
    assert message == "cannot reach STS in cn-north-1 for target default: EndpointConnectionError"
    assert "s3cr3t" not in message and "AKID" not in message
