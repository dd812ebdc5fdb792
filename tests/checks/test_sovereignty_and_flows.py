from __future__ import annotations

from auditor.model import Relation, Severity, Status
from tests.helpers import bucket, edge, key, make_ctx, run_one

CORE = {"data-class": "核心", "owner-dept": "dsj"}
GENERAL = {"data-class": "一般", "owner-dept": "dsj"}


def test_sov001_pass_fail_unknown_by_class_and_region():
    ctx = make_ctx(
        [
            bucket("in-country", "cn-north-1", tags=CORE),
            bucket("core-in-hk", "ap-east-1", tags=CORE),
            bucket("general-in-hk", "ap-east-1", tags=GENERAL),
            bucket("general-in-de", "eu-central-1", tags=GENERAL),
            bucket("nowhere", "xx-moon-1", tags=GENERAL),
            bucket("untagged-in-us", "us-east-1"),
        ]
    )
    found = run_one("SOV-001", ctx)
    assert found["in-country"].status is Status.PASS
    assert found["core-in-hk"].status is Status.FAIL
    assert found["core-in-hk"].severity is Severity.CRITICAL  # restricted class weighs more
    assert found["general-in-hk"].status is Status.PASS
    assert found["general-in-de"].status is Status.FAIL
    assert found["general-in-de"].severity is Severity.HIGH
    assert found["nowhere"].status is Status.UNKNOWN  # unknown region is never "allowed"
    assert found["untagged-in-us"].status is Status.FAIL  # untagged = important (fail-closed)
    assert "untagged" in found["untagged-in-us"].message


def test_sov001_key_takes_class_of_the_data_it_protects():
    data = bucket("core-data", "cn-north-1", tags=CORE)
    k = key("k1", "ap-east-1", tags={"owner-dept": "dsj"})
    ctx = make_ctx([data, k], [edge(data, k, Relation.ENCRYPTED_BY)])
    found = run_one("SOV-001", ctx)
    assert found["k1"].status is Status.FAIL
    assert "protects" in found["k1"].message


def test_sov001_ignores_other_parties_buckets_seen_only_as_destinations():
    theirs = bucket("theirs", "us-east-1", account="999999999999", observed_only=True)
    assert run_one("SOV-001", make_ctx([theirs])) == {}


def test_flow001_transitive_path_is_the_evidence():
    a = bucket("a", "ap-east-1", tags=GENERAL)
    b = bucket("b", "ap-east-1", tags=GENERAL)
    c = bucket("c", "eu-central-1", tags=GENERAL)
    ctx = make_ctx(
        [a, b, c], [edge(a, b, Relation.REPLICATES_TO), edge(b, c, Relation.REPLICATES_TO)]
    )
    found = run_one("FLOW-001", ctx)
    assert found["a"].status is Status.FAIL
    assert "DE" in found["a"].message
    assert len(found["a"].evidence) == 2
    assert "arn:aws:s3:::a (ap-east-1, HK) —replicates_to→ arn:aws:s3:::b" in found["a"].evidence[0]
    assert "(eu-central-1, DE)" in found["a"].evidence[1]
    assert found["b"].status is Status.FAIL
    assert found["c"].status is Status.PASS


def test_flow001_in_country_replication_passes():
    a = bucket("a", "cn-north-1", tags=CORE)
    b = bucket("b", "cn-northwest-1", tags=CORE)
    found = run_one("FLOW-001", make_ctx([a, b], [edge(a, b, Relation.REPLICATES_TO)]))
    assert found["a"].status is Status.PASS
    assert "stay in CN" in found["a"].message


def test_flow001_unknown_destination_is_unknown_not_pass():
    a = bucket("a", "cn-north-1", tags=CORE)
    ctx = make_ctx([a], [edge(a, "arn:aws-cn:s3:::somebody-elses", Relation.REPLICATES_TO)])
    assert run_one("FLOW-001", ctx)["a"].status is Status.UNKNOWN


def test_flow001_unreadable_replication_is_unknown():
    a = bucket("a", "cn-north-1", tags=CORE, replication_status="denied")
    assert run_one("FLOW-001", make_ctx([a]))["a"].status is Status.UNKNOWN


def test_flow001_rights_edges_are_not_data_flows():
    a = bucket("a", "cn-north-1", tags=CORE)
    ctx = make_ctx([a], [edge("account:999999999999", a, Relation.CAN_READ)])
    assert run_one("FLOW-001", ctx)["a"].status is Status.PASS
