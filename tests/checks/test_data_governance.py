"""FLOW-008..010 and RSP-002/003/009/011 on inventories built in code."""

from __future__ import annotations

from auditor.model import Kind, Relation, Resource, Severity, Status
from tests.helpers import bucket, edge, make_ctx, policy, role, run_one


def _table(name: str, exports: list[dict[str, str | None]], status: str = "read", **tags: str):
    return Resource(
        uid=f"arn:aws-cn:dynamodb:cn-north-1:111111111111:table/{name}",
        provider="aws",
        kind=Kind.DATABASE,
        native_type="dynamodb:table",
        name=name,
        account="111111111111",
        region="cn-north-1",
        partition="aws-cn",
        jurisdiction="CN",
        tags=tags,
        attrs={"exports_status": status, "exports": exports, "tags_status": "read"},
    )


def _export(bucket_name: str, owner: str | None = None) -> dict[str, str | None]:
    return {"bucket": bucket_name, "bucket_owner": owner, "status": "COMPLETED", "prefix": "x"}


def test_flow008_exports_to_other_accounts_and_departments():
    pol = policy("governance")
    resources = [
        _table("same", [_export("dsj-lake")]),
        _table("other-dept", [_export("mz-lake", "777777777777")]),
        _table("outsider", [_export("their-bucket", "999988887777")]),
        _table("none", []),
        _table("unread", [], status="denied"),
        bucket("dsj-lake"),
        bucket("mz-lake", account="777777777777"),
    ]
    found = run_one("FLOW-008", make_ctx(resources, pol=pol))
    assert found["same"].status is Status.PASS
    assert found["other-dept"].status is Status.FAIL
    assert "市民政局" in found["other-dept"].message
    assert found["outsider"].status is Status.FAIL
    assert "outside account 999988887777" in found["outsider"].message
    assert found["none"].status is Status.PASS
    assert found["unread"].status is Status.UNKNOWN


def test_flow009_copy_labelled_lower_than_source_or_untagged():
    src = bucket("source", tags={"data-class": "core"})
    lower = bucket("replica-general", tags={"data-class": "general"})
    untagged_copy = bucket("replica-untagged")
    stricter = bucket("replica-core", tags={"data-class": "core"})
    lonely = bucket("lonely")
    unread = bucket("unread", tags_status="denied")
    edges = [
        edge(src, lower, Relation.REPLICATES_TO),
        edge(lower, untagged_copy, Relation.COPIES_TO),
        edge(src, stricter, Relation.REPLICATES_TO),
    ]
    found = run_one(
        "FLOW-009", make_ctx([src, lower, untagged_copy, stricter, lonely, unread], edges)
    )
    assert found["source"].status is Status.PASS
    assert found["replica-general"].status is Status.FAIL
    assert found["replica-general"].severity is Severity.HIGH
    assert "must be labelled core" in found["replica-general"].message
    # The label drift is followed transitively, through the mislabelled copy.
    assert found["replica-untagged"].status is Status.FAIL
    assert "source" in found["replica-untagged"].message
    assert found["replica-core"].status is Status.PASS
    assert found["lonely"].status is Status.FAIL
    assert found["lonely"].severity is Severity.MEDIUM
    assert found["unread"].status is Status.UNKNOWN


def test_flow010_sharing_attribute_and_agreements():
    pol = policy("governance")
    mz_reader = role("mz-analyst", account="777777777777")
    stores = {
        name: bucket(name, tags=tags)
        for name, tags in {
            "agreed-dibao": {},
            "lapsed-records": {},
            "secret-files": {"share-attr": "不予共享"},
            "open-stats": {"share-attr": "无条件共享"},
            "private": {},
        }.items()
    }
    copy = bucket("mz-copy", account="777777777777")
    edges = [edge(mz_reader, stores[n], Relation.CAN_READ) for n in stores if n != "private"]
    edges.append(edge(stores["private"], copy, Relation.REPLICATES_TO))
    found = run_one("FLOW-010", make_ctx([*stores.values(), copy, mz_reader], edges, pol))
    assert found["agreed-dibao"].status is Status.PASS
    assert "GX-2026-001" in found["agreed-dibao"].message
    assert found["lapsed-records"].status is Status.FAIL  # the agreement expired 2025-12-31
    assert found["secret-files"].status is Status.FAIL
    assert found["secret-files"].severity is Severity.CRITICAL
    assert found["open-stats"].status is Status.PASS
    assert found["private"].status is Status.FAIL
    assert "receives a copy" in found["private"].message
    assert found["mz-copy"].status is Status.PASS  # it stays with its owner, mz


def test_rsp002_accountable_person_for_restricted_data():
    pol = policy("governance")
    resources = [
        bucket("named", tags={"accountable-person": "p-0001"}),
        bucket("nobody"),
        bucket("left", tags={"accountable-person": "p-0212"}),
        bucket("stranger", tags={"accountable-person": "p-9999"}),
        bucket("wrong-dept", tags={"accountable-person": "p-0300"}),
        bucket("open", tags={"data-class": "public"}),
        bucket("unread", tags_status="denied"),
    ]
    found = run_one("RSP-002", make_ctx(resources, pol=pol))
    assert found["named"].status is Status.PASS
    assert found["nobody"].status is Status.FAIL
    assert found["left"].status is Status.FAIL and "has left" in found["left"].message
    assert found["stranger"].status is Status.FAIL
    assert found["wrong-dept"].status is Status.FAIL
    assert found["wrong-dept"].severity is Severity.MEDIUM
    assert "open" not in found  # public data needs no named person
    assert found["unread"].status is Status.UNKNOWN


def _user(name: str, person: str | None = None) -> Resource:
    return Resource(
        uid=f"arn:aws-cn:iam::111111111111:user/{name}",
        provider="aws",
        kind=Kind.USER,
        native_type="iam:user",
        name=name,
        account="111111111111",
        region="global",
        partition="aws-cn",
        tags={"accountable-person": person} if person else {},
        attrs={"policy_status": "read"},
    )


def test_rsp003_privileged_identities_need_an_active_person():
    pol = policy("governance")
    data = bucket("core-data", tags={"data-class": "core"})
    admin_role, orphan_role, gone_role = role("admin"), role("orphan"), role("gone")
    alice, former = _user("alice", "p-0001"), _user("former", "p-0212")
    edges = [
        edge(admin_role, data, Relation.CAN_ADMIN),
        edge(orphan_role, data, Relation.CAN_ADMIN),
        edge(gone_role, data, Relation.CAN_ADMIN),
        edge(alice, admin_role, Relation.CAN_ASSUME),
        edge(former, gone_role, Relation.CAN_ASSUME),
    ]
    resources = [data, admin_role, orphan_role, gone_role, alice, former]
    found = run_one("RSP-003", make_ctx(resources, edges, pol))
    assert found["admin"].status is Status.PASS
    assert "p-0001" in found["admin"].message
    assert found["orphan"].status is Status.FAIL
    assert "no person answers" in found["orphan"].message
    assert found["gone"].status is Status.FAIL
    assert "p-0212" in found["gone"].message


def _account(account_id: str, native_type: str = "organizations:account", **attrs):
    return Resource(
        uid=f"arn:aws-cn:organizations::111111111111:account/o-x/{account_id}",
        provider="aws",
        kind=Kind.ACCOUNT,
        native_type=native_type,
        name=f"acct-{account_id}",
        account=account_id,
        partition="aws-cn",
        attrs={"tags_status": "read", "delegated_services_status": "read"} | attrs,
    )


def test_rsp009_accounts_need_a_department_and_a_place_in_the_policy():
    pol = policy("governance")
    resources = [
        _account("111111111111"),
        _account("222222222222"),
        _account("888888888888"),
        _account("666666666666"),
    ]
    found = run_one("RSP-009", make_ctx(resources, pol=pol))
    assert found["111111111111"].status is Status.PASS
    assert found["222222222222"].status is Status.FAIL  # listed, but no department
    assert found["888888888888"].status is Status.FAIL
    assert found["888888888888"].severity is Severity.HIGH
    assert found["666666666666"].status is Status.PASS


def test_rsp011_security_services_delegated_to_the_right_account():
    pol = policy("governance")
    guard = ["guardduty.amazonaws.com"]
    resources = [
        _account("666666666666", delegated_services=guard),
        _account("777777777777", delegated_services=guard),
        _account("444444444444", delegated_services=["securityhub.amazonaws.com"]),
        _account("888888888888", delegated_services=guard),
        _account("111111111111", delegated_services=["ssm.amazonaws.com"]),
        _account("222222222222", delegated_services_status="denied"),
    ]
    found = run_one("RSP-011", make_ctx(resources, pol=pol))
    assert found["666666666666"].status is Status.PASS
    assert found["777777777777"].status is Status.FAIL  # a workload account
    assert found["444444444444"].status is Status.FAIL
    assert found["444444444444"].severity is Severity.CRITICAL  # the vendor
    assert found["888888888888"].status is Status.FAIL
    assert "111111111111" not in found  # no security service delegated
    assert found["222222222222"].status is Status.UNKNOWN
