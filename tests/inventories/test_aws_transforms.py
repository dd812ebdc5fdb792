from __future__ import annotations

import json
from typing import Any

import pytest

from auditor.inventories.aws import iam, kms, s3
from auditor.model import Edge, Kind, Relation, Resource
from tests.conftest import FIXTURES

MAIN, VENDOR = "123456789012", "999988887777"


def load(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((FIXTURES / "aws" / name).read_text("utf-8"))
    return data


def split(records: Any) -> tuple[dict[str, Resource], list[Edge]]:
    resources: dict[str, Resource] = {}
    edges: list[Edge] = []
    for record in records:
        if isinstance(record, Resource):
            resources[record.uid] = record
        else:
            edges.append(record)
    return resources, edges


def key_arn(raw: dict[str, Any]) -> str:
    return str(raw["keys"][0]["KeyArn"])


# --- S3 -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("constraint", "partition", "region"),
    [
        (None, "aws", "us-east-1"),
        ("", "aws", "us-east-1"),
        ("EU", "aws", "eu-west-1"),
        ("ap-east-1", "aws", "ap-east-1"),
        ("cn-northwest-1", "aws-cn", "cn-northwest-1"),
        (None, "aws-cn", None),
    ],
)
def test_bucket_region(constraint, partition, region):
    assert s3.bucket_region(constraint, partition) == region


def test_s3_bucket_resource():
    north = load("kms_cn_north_1.json")
    resources, _ = split(s3.transform_s3(load("s3_cn.json"), kms.alias_targets(north)))
    src = resources["arn:aws-cn:s3:::gov-src"]
    assert (src.kind, src.native_type, src.name) == (Kind.OBJECT_STORE, "s3:bucket", "gov-src")
    assert (src.account, src.region, src.partition, src.jurisdiction) == (
        MAIN,
        "cn-north-1",
        "aws-cn",
        "CN",
    )
    assert src.tags == {"data-class": "重要数据"}
    attrs = src.attrs
    assert attrs["encryption_status"] == "read"
    assert (attrs["sse_algorithm"], attrs["kms_key"]) == ("aws:kms", "alias/gov-data")
    assert attrs["kms_key_arn"] == key_arn(north)  # alias resolved to the cn-north-1 key
    assert attrs["public_access_block"]["RestrictPublicBuckets"] is True
    assert attrs["account_public_access_block_status"] == "none"
    assert attrs["effective_public_access_block"] == {
        "BlockPublicAcls": False,
        "IgnorePublicAcls": False,
        "BlockPublicPolicy": False,
        "RestrictPublicBuckets": True,
    }
    assert attrs["public_grants_blocked"] == [
        "bucket policy of arn:aws-cn:s3:::gov-src, statement 'Anyone' (s3:GetObject) "
        "grants can_read"
    ]
    assert [r["id"] for r in attrs["replication_rules"]] == ["to-nx", "to-vendor", "paused"]
    assert attrs["observed_only"] is False


def test_s3_absent_facts_are_none_not_unknown():
    resources, _ = split(s3.transform_s3(load("s3_cn.json")))
    dr = resources["arn:aws-cn:s3:::gov-dr"].attrs
    for fact in ("tags", "encryption", "replication", "public_access_block", "policy"):
        assert dr[f"{fact}_status"] == "none", fact
    assert dr["effective_public_access_block"]["RestrictPublicBuckets"] is False
    assert dr["kms_key_arn"] is None


def test_s3_edges():
    north = load("kms_cn_north_1.json")
    _, edges = split(s3.transform_s3(load("s3_cn.json"), kms.alias_targets(north)))
    src = "arn:aws-cn:s3:::gov-src"
    flows = sorted((e.dst, e.evidence) for e in edges if e.relation is Relation.REPLICATES_TO)
    assert flows == [
        (
            "arn:aws-cn:s3:::gov-dr",
            f"S3 replication rule 'to-nx' (Enabled) of {src} → arn:aws-cn:s3:::gov-dr, "
            f"account {MAIN}",
        ),
        (
            "arn:aws-cn:s3:::vendor-copy",
            f"S3 replication rule 'to-vendor' (Enabled) of {src} → arn:aws-cn:s3:::vendor-copy, "
            f"account {VENDOR}",
        ),
    ]
    encrypted = [(e.src, e.dst) for e in edges if e.relation is Relation.ENCRYPTED_BY]
    assert encrypted == [(src, key_arn(north))]
    reads = {(e.src, e.dst) for e in edges if e.relation is Relation.CAN_READ}
    assert (f"account:{VENDOR}", src) in reads
    assert ("public:*", src) not in reads  # RestrictPublicBuckets


def test_s3_observed_destination_in_other_account():
    resources, _ = split(s3.transform_s3(load("s3_cn.json")))
    copy = resources["arn:aws-cn:s3:::vendor-copy"]
    assert (copy.account, copy.region, copy.jurisdiction) == (VENDOR, "cn-northwest-1", "CN")
    assert copy.attrs == {"observed_only": True, "location_status": "read"}


def test_s3_without_alias_map_keeps_alias_arn():
    resources, edges = split(s3.transform_s3(load("s3_cn.json")))
    alias = "arn:aws-cn:kms:cn-north-1:123456789012:alias/gov-data"
    assert resources["arn:aws-cn:s3:::gov-src"].attrs["kms_key_arn"] == alias
    assert [e.dst for e in edges if e.relation is Relation.ENCRYPTED_BY] == [alias]


def test_s3_public_acl_in_aws_partition():
    resources, edges = split(s3.transform_s3(load("s3_aws.json")))
    cache = resources["arn:aws:s3:::hk-cache"]
    assert (cache.region, cache.jurisdiction, cache.partition) == ("ap-east-1", "HK", "aws")
    assert resources["arn:aws:s3:::eu-archive"].jurisdiction == "DE"
    assert (
        Edge(
            "public:*",
            "arn:aws:s3:::hk-cache",
            Relation.CAN_READ,
            "ACL of arn:aws:s3:::hk-cache grants READ to AllUsers → can_read",
        )
        in edges
    )
    assert (
        Edge(
            "arn:aws:s3:::hk-cache",
            "arn:aws:s3:::eu-archive",
            Relation.REPLICATES_TO,
            "S3 replication rule 'to-eu' (Enabled) of arn:aws:s3:::hk-cache → "
            "arn:aws:s3:::eu-archive, account 111122223333",
        )
        in edges
    )


def test_s3_ignore_public_acls_records_blocked_grant():
    raw = load("s3_aws.json")
    raw["account_public_access_block"] = {
        "status": "read",
        "value": {"PublicAccessBlockConfiguration": {"IgnorePublicAcls": True}},
    }
    resources, edges = split(s3.transform_s3(raw))
    assert not [e for e in edges if e.src == "public:*"]
    assert resources["arn:aws:s3:::hk-cache"].attrs["public_grants_blocked"] == [
        "ACL of arn:aws:s3:::hk-cache grants READ to AllUsers → can_read"
    ]


def test_s3_unread_facts_stay_distinguishable():
    raw = load("s3_cn_partial.json")
    resources, edges = split(s3.transform_s3(raw))
    src = resources["arn:aws-cn:s3:::gov-src"].attrs
    assert (src["policy_status"], src["replication_status"], src["encryption_status"]) == (
        "denied",
        "denied",
        "error",
    )
    assert src["account_public_access_block_status"] == "denied"
    # bucket says Restrict=True, so the account's unknown setting does not matter for it...
    assert src["effective_public_access_block"]["RestrictPublicBuckets"] is True
    # ...but IgnorePublicAcls is unknown, not False.
    assert src["effective_public_access_block"]["IgnorePublicAcls"] is None
    dr = resources["arn:aws-cn:s3:::gov-dr"]
    assert (dr.region, dr.jurisdiction, dr.attrs["location_status"]) == (None, None, "denied")
    assert dr.attrs["acl_status"] == "denied"
    # no replication edge can be claimed from a denied read, and the unlocatable one is no node
    assert not [e for e in edges if e.relation is Relation.REPLICATES_TO]
    assert "arn:aws-cn:s3:::gone" not in resources
    assert s3.unread_facts(raw) == {
        "acl:denied": 1,
        "encryption:error": 1,
        "location:denied": 1,
        "policy:denied": 1,
        "replication:denied": 1,
    }


def test_s3_invalid_policy_is_marked():
    raw = load("s3_cn.json")
    raw["buckets"][1]["policy"] = {"status": "read", "value": {"Policy": "{not json"}}
    resources, _ = split(s3.transform_s3(raw))
    assert (
        resources[f"arn:aws-cn:s3:::{raw['buckets'][1]['Name']}"].attrs["policy_status"]
        == "invalid"
    )


@pytest.mark.parametrize(
    ("configured", "expected"),
    [
        (
            "arn:aws-cn:kms:cn-north-1:123456789012:key/k1",
            "arn:aws-cn:kms:cn-north-1:123456789012:key/k1",
        ),
        ("k1", "arn:aws-cn:kms:cn-north-1:123456789012:key/k1"),
        ("alias/data", "arn:aws-cn:kms:cn-north-1:123456789012:key/resolved"),
        ("alias/other", "arn:aws-cn:kms:cn-north-1:123456789012:alias/other"),
        (
            "arn:aws-cn:kms:cn-north-1:123456789012:alias/data",
            "arn:aws-cn:kms:cn-north-1:123456789012:key/resolved",
        ),
        (None, "arn:aws-cn:kms:cn-north-1:123456789012:alias/aws/s3"),
    ],
)
def test_resolve_kms_key(configured, expected):
    prefix = "arn:aws-cn:kms:cn-north-1:123456789012"
    aliases = {f"{prefix}:alias/data": f"{prefix}:key/resolved"}
    assert s3.resolve_kms_key(configured, "cn-north-1", MAIN, "aws-cn", aliases) == expected


# --- KMS ------------------------------------------------------------------------------------


def test_kms_primary_key():
    raw = load("kms_cn_north_1.json")
    resources, edges = split(kms.transform_kms(raw, "aws-cn"))
    arn = key_arn(raw)
    key = resources[arn]
    assert (key.kind, key.native_type, key.name) == (Kind.KEY, "kms:key", "alias/gov-data")
    assert (key.account, key.region, key.jurisdiction) == (MAIN, "cn-north-1", "CN")
    assert key.tags == {"owner-dept": "dsj"}
    attrs = key.attrs
    assert (attrs["origin"], attrs["key_manager"], attrs["key_state"]) == (
        "AWS_KMS",
        "CUSTOMER",
        "Enabled",
    )
    assert (attrs["multi_region"], attrs["multi_region_type"]) == (True, "PRIMARY")
    assert (attrs["rotation_status"], attrs["rotation_enabled"]) == ("read", True)
    assert attrs["policy_status"] == "read"
    replica = arn.replace("cn-north-1", "cn-northwest-1")
    assert attrs["replica_key_arns"] == [replica]
    assert [(e.src, e.dst, e.relation) for e in edges if e.relation is Relation.REPLICATES_TO] == [
        (arn, replica, Relation.REPLICATES_TO)
    ]
    rights = {
        (e.src, e.relation, bool(e.conditions))
        for e in edges
        if e.relation is not Relation.REPLICATES_TO
    }
    assert rights == {
        (f"account:{MAIN}", Relation.CAN_ADMIN, False),
        (f"account:{MAIN}", Relation.CAN_DECRYPT, False),
        (f"account:{VENDOR}", Relation.CAN_DECRYPT, True),
    }


def test_kms_replica_has_no_outgoing_replication_and_no_foreign_alias():
    raw = load("kms_cn_northwest_1.json")
    resources, edges = split(kms.transform_kms(raw, "aws-cn"))
    key = resources[key_arn(raw)]
    assert key.attrs["multi_region_type"] == "REPLICA"
    assert key.attrs["primary_key_arn"] == key_arn(raw).replace("cn-northwest-1", "cn-north-1")
    assert not [e for e in edges if e.relation is Relation.REPLICATES_TO]
    # moto lists the primary's cn-north-1 alias here too; aliases are regional
    assert key.attrs["aliases"] == []
    assert kms.alias_targets(raw) == {}


def test_kms_aws_managed_and_denied_keys():
    raw = load("kms_cn_north_1.json")
    managed = json.loads(json.dumps(raw["keys"][0]))
    meta = managed["describe"]["value"]["KeyMetadata"]
    meta.update(KeyManager="AWS", MultiRegion=False, MultiRegionConfiguration={})
    managed.update(rotation={"status": "not_applicable"}, tags={"status": "not_applicable"})
    denied: dict[str, Any] = {
        "KeyId": "k-denied",
        "KeyArn": "arn:aws-cn:kms:cn-north-1:123456789012:key/k-denied",
        "describe": {"status": "denied", "code": "AccessDeniedException"},
        "policy": {"status": "denied", "code": "AccessDeniedException"},
        "rotation": {"status": "skipped"},
        "tags": {"status": "skipped"},
    }
    resources, edges = split(kms.transform_kms({**raw, "keys": [managed, denied]}, "aws-cn"))
    assert resources[key_arn(raw)].attrs["key_manager"] == "AWS"
    assert resources[key_arn(raw)].attrs["rotation_status"] == "not_applicable"
    unknown = resources[denied["KeyArn"]]
    assert (unknown.attrs["describe_status"], unknown.attrs["origin"]) == ("denied", None)
    assert (unknown.attrs["policy_status"], unknown.attrs["rotation_status"]) == (
        "denied",
        "skipped",
    )
    assert not [e for e in edges if e.dst == denied["KeyArn"]]


# --- IAM ------------------------------------------------------------------------------------


def test_iam_principals_and_edges():
    resources, edges = split(iam.transform_iam(load("iam_cn.json"), MAIN, "aws-cn"))
    user = resources["arn:aws-cn:iam::123456789012:user/alice"]
    assert (user.kind, user.native_type, user.name) == (Kind.USER, "iam:user", "alice")
    assert user.tags == {"accountable-person": "p-0001"}
    assert user.attrs["mfa_status"] == "read"
    assert user.attrs["mfa_devices"] == ["arn:aws-cn:iam::123456789012:mfa/alice"]
    assert user.attrs["groups"] == ["admins"]
    group = resources["arn:aws-cn:iam::123456789012:group/admins"]
    assert group.kind is Kind.GROUP
    assert group.attrs["inline_policies"]["all"]["Statement"][0]["Action"] == "*"
    role = resources["arn:aws-cn:iam::123456789012:role/vendor-ops"]
    assert (role.kind, role.attrs["trust_policy_status"]) == (Kind.ROLE, "read")
    assert role.attrs["attached_policies"] == []
    assert edges == [
        Edge(
            "arn:aws-cn:iam::123456789012:user/alice",
            "arn:aws-cn:iam::123456789012:group/admins",
            Relation.MEMBER_OF,
            "IAM user alice is in group admins "
            "(GetAccountAuthorizationDetails UserDetailList.GroupList)",
        ),
        Edge(
            f"account:{VENDOR}",
            "arn:aws-cn:iam::123456789012:role/vendor-ops",
            Relation.CAN_ASSUME,
            "trust policy of arn:aws-cn:iam::123456789012:role/vendor-ops, statement 'Vendor' "
            "(sts:AssumeRole) grants can_assume",
            {"StringEquals": {"sts:ExternalId": "HT-2024-017"}},
        ),
    ]


def test_iam_denied_mfa_listing_is_kept():
    raw = load("iam_cn.json")
    raw["mfa"]["alice"] = {"status": "denied", "code": "AccessDenied"}
    resources, _ = split(iam.transform_iam(raw, MAIN, "aws-cn"))
    alice = resources["arn:aws-cn:iam::123456789012:user/alice"].attrs
    assert (alice["mfa_status"], alice["mfa_devices"]) == ("denied", [])
