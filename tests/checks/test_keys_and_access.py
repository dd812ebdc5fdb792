from __future__ import annotations

from auditor.model import Relation, Status
from tests.helpers import bucket, edge, key, make_ctx, role, run_one

IMPORTANT = {"data-class": "重要", "owner-dept": "dsj"}


def test_key001_outcomes():
    cmk = key("cmk")
    aws_key = key("awskey", key_manager="AWS")
    stores = [
        bucket("sse-s3", tags=IMPORTANT),
        bucket("none", tags=IMPORTANT, sse_algorithm=None, encryption_status="none"),
        bucket("cmk-ok", tags=IMPORTANT, sse_algorithm="aws:kms"),
        bucket("aws-managed", tags=IMPORTANT, sse_algorithm="aws:kms"),
        bucket("default-aws-s3", tags=IMPORTANT, sse_algorithm="aws:kms"),
        bucket("invisible-key", tags=IMPORTANT, sse_algorithm="aws:kms"),
        bucket("denied", tags=IMPORTANT, encryption_status="denied"),
        bucket("general", tags={"data-class": "一般"}),
    ]
    edges = [
        edge(stores[2], cmk, Relation.ENCRYPTED_BY),
        edge(stores[3], aws_key, Relation.ENCRYPTED_BY),
        edge(stores[5], "arn:aws-cn:kms:cn-north-1:111111111111:key/gone", Relation.ENCRYPTED_BY),
    ]
    found = run_one("KEY-001", make_ctx([*stores, cmk, aws_key], edges))
    assert found["sse-s3"].status is Status.FAIL
    assert "SSE-S3" in found["sse-s3"].message
    assert found["none"].status is Status.FAIL
    assert found["cmk-ok"].status is Status.PASS
    assert found["aws-managed"].status is Status.FAIL
    assert found["default-aws-s3"].status is Status.FAIL
    assert found["invisible-key"].status is Status.UNKNOWN
    assert found["denied"].status is Status.UNKNOWN
    assert found["general"].status is Status.PASS


def test_key004_outsider_and_public_fail_trusted_and_own_pass():
    keys = [
        key("open"),
        key("outsider"),
        key("vendor"),
        key("own"),
        key("hidden", policy_status="denied"),
    ]
    edges = [
        edge("public:*", keys[0], Relation.CAN_DECRYPT),
        edge("account:999988887777", keys[1], Relation.CAN_DECRYPT),
        edge("account:444444444444", keys[2], Relation.CAN_DECRYPT),
        edge("account:111111111111", keys[3], Relation.CAN_DECRYPT),
    ]
    found = run_one("KEY-004", make_ctx(keys, edges))
    assert found["open"].status is Status.FAIL
    assert found["outsider"].status is Status.FAIL
    assert "999988887777" in found["outsider"].message
    assert found["vendor"].status is Status.PASS
    assert found["own"].status is Status.PASS
    assert found["hidden"].status is Status.UNKNOWN


def test_key004_follows_assumable_roles():
    k = key("k")
    r = role("decryptor")
    edges = [
        edge(r, k, Relation.CAN_DECRYPT),
        edge("account:999988887777", r, Relation.CAN_ASSUME),
    ]
    found = run_one("KEY-004", make_ctx([k, r], edges))
    assert found["k"].status is Status.FAIL
    assert len(found["k"].evidence) == 2  # assume the role, then decrypt


def test_acc001_public_read_fails_unless_class_allows_or_narrowed():
    buckets = [
        bucket("leaky", tags=IMPORTANT),
        bucket("opendata", tags={"data-class": "公开"}),
        bucket("org-only", tags=IMPORTANT),
        bucket("ip-cond", tags=IMPORTANT),
        bucket("odd-cond", tags=IMPORTANT),
        bucket("private", tags=IMPORTANT),
        bucket("unreadable", tags=IMPORTANT, acl_status="denied"),
    ]
    edges = [
        edge("public:*", buckets[0], Relation.CAN_READ),
        edge("public:*", buckets[1], Relation.CAN_READ),
        edge("public:*", buckets[2], Relation.CAN_READ, StringEquals={"aws:PrincipalOrgID": "o-1"}),
        edge("public:*", buckets[3], Relation.CAN_READ, IpAddress={"aws:SourceIp": "10.0.0.0/8"}),
        edge("public:*", buckets[4], Relation.CAN_READ, StringEquals={"s3:prefix": "x"}),
    ]
    found = run_one("ACC-001", make_ctx(buckets, edges))
    assert found["leaky"].status is Status.FAIL
    assert found["opendata"].status is Status.PASS
    assert found["org-only"].status is Status.PASS
    assert found["ip-cond"].status is Status.PASS
    assert found["odd-cond"].status is Status.UNKNOWN
    assert found["private"].status is Status.PASS
    assert found["unreadable"].status is Status.UNKNOWN


def test_acc002_outside_accounts_on_buckets_keys_and_role_trust():
    b, k, r, ok = bucket("b"), key("k"), role("r"), bucket("ok")
    edges = [
        edge("account:999988887777", b, Relation.CAN_READ),
        edge("arn:aws-cn:iam::999988887777:role/x", k, Relation.CAN_DECRYPT),
        edge("account:999988887777", r, Relation.CAN_ASSUME),
        edge("account:555555555555", ok, Relation.CAN_READ),
        edge("service:cloudtrail.amazonaws.com", ok, Relation.CAN_WRITE),
    ]
    found = run_one("ACC-002", make_ctx([b, k, r, ok], edges))
    assert {n for n, f in found.items() if f.status is Status.FAIL} == {"b", "k", "r"}
    assert found["ok"].status is Status.PASS
    assert "in no list of the policy" in found["b"].message


def test_acc002_unreadable_policy_is_unknown():
    b = bucket("b", policy_status="denied")
    assert run_one("ACC-002", make_ctx([b]))["b"].status is Status.UNKNOWN


def test_key001_store_encrypted_by_its_provider_fails_for_customer_key_classes() -> None:
    """An S3-compatible bucket under the provider's own server-side key (AES256 on MinIO,
    Ceph, OOS) is not held by the organisation: the same verdict as an AWS-owned key."""
    import dataclasses

    from auditor.policy import load_policy
    from tests.conftest import FIXTURES

    base = bucket(
        "sse-s3", tags={"data-class": "重要"}, encrypted=True, key_owner="provider_managed"
    )
    compat = dataclasses.replace(
        base, uid="s3compat://oos.example/sse-s3", native_type="s3compat:bucket"
    )
    found = run_one(
        "KEY-001", make_ctx([compat], pol=load_policy(FIXTURES / "policies" / "custody.yaml"))
    )
    assert found["sse-s3"].status is Status.FAIL
    assert "storage provider" in found["sse-s3"].message
