"""Facts the adapters could not read never let a check PASS.

Each case is one of the wrong PASSes fault injection found (tests/hardening/test_faults.py):
the same inventory with the fact read gives a verdict, with it unread gives UNKNOWN.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from auditor.checking import CheckContext
from auditor.model import Kind, Relation, Resource, Status
from auditor.policy import load_policy
from tests.helpers import bucket, edge, key, make_ctx, policy, role, run_one

ACCOUNT = "111111111111"


def _snapshot(name: str, sharing_status: str) -> Resource:
    return Resource(
        uid=f"arn:aws-cn:ec2:cn-north-1:{ACCOUNT}:snapshot/{name}",
        provider="aws",
        kind=Kind.SNAPSHOT,
        native_type="ec2:snapshot",
        name=name,
        account=ACCOUNT,
        region="cn-north-1",
        partition="aws-cn",
        jurisdiction="CN",
        attrs={"sharing_status": sharing_status, "tags_status": "read"},
    )


@pytest.mark.parametrize("status", ["denied", "error", "invalid"])
def test_acc002_unread_sharing_or_trust_is_unknown(status: str) -> None:
    resources = [
        _snapshot("read-snap", "read"),
        _snapshot("unread-snap", status),
        bucket("unparsed-policy", policy_status=status),
        bucket("parsed-policy", policy_status="read"),
    ]
    blind_role = role("blind-role")
    blind_role = dataclasses.replace(blind_role, attrs={"trust_policy_status": status})
    found = run_one("ACC-002", make_ctx([*resources, blind_role]))
    assert found["read-snap"].status is Status.PASS
    assert found["parsed-policy"].status is Status.PASS
    assert found["unread-snap"].status is Status.UNKNOWN
    assert "sharing" in found["unread-snap"].message
    assert found["unparsed-policy"].status is Status.UNKNOWN
    assert found["blind-role"].status is Status.UNKNOWN
    assert "trust_policy" in found["blind-role"].message


def test_acc002_an_outside_grant_fails_even_when_the_sharing_was_not_read() -> None:
    snap = _snapshot("leaked", "denied")
    found = run_one(
        "ACC-002", make_ctx([snap], [edge("account:999988887777", snap, Relation.CAN_READ)])
    )
    assert found["leaked"].status is Status.FAIL


def test_acc001_invalid_policy_is_unknown_not_private() -> None:
    found = run_one("ACC-001", make_ctx([bucket("garbled", policy_status="invalid")]))
    assert found["garbled"].status is Status.UNKNOWN


def _with_iam(ctx: CheckContext, outcome: str) -> CheckContext:
    coverage = {(ACCOUNT, "global", "iam"): outcome, (ACCOUNT, "cn-north-1", "s3"): "ok"}
    return dataclasses.replace(ctx, coverage=coverage)


def _governance_stores() -> tuple[list[Resource], list[Resource]]:
    mine = role("dsj-analyst")  # account 111111111111 belongs to dsj
    return [bucket("inside"), bucket("untagged-copy-source")], [mine]


@pytest.mark.parametrize("outcome", ["denied", "error", "throttled"])
def test_flow010_unread_iam_is_unknown_not_within_the_department(outcome: str) -> None:
    pol = policy("governance")
    stores, principals = _governance_stores()
    ctx = make_ctx([*stores, *principals], [edge(principals[0], stores[0], Relation.CAN_READ)], pol)
    assert run_one("FLOW-010", _with_iam(ctx, "ok"))["inside"].status is Status.PASS
    found = run_one("FLOW-010", _with_iam(ctx, outcome))["inside"]
    assert found.status is Status.UNKNOWN
    assert "iam" in found.message and outcome in found.message


def test_flow010_store_or_copy_with_unread_tags_is_unknown() -> None:
    pol = policy("governance")
    source, copy = bucket("source"), bucket("copy", tags_status="denied")
    blind = bucket("blind", tags_status="error")
    found = run_one(
        "FLOW-010",
        make_ctx([source, copy, blind], [edge(source, copy, Relation.REPLICATES_TO)], pol),
    )
    assert found["blind"].status is Status.UNKNOWN
    assert found["source"].status is Status.UNKNOWN
    assert "copy" in found["source"].message
    # With the copy's tags read (same department), the source stays within its owner.
    copy = bucket("copy")
    found = run_one(
        "FLOW-010", make_ctx([source, copy], [edge(source, copy, Relation.REPLICATES_TO)], pol)
    )
    assert found["source"].status is Status.PASS


def test_flow010_a_breach_seen_is_reported_whatever_else_is_unread() -> None:
    pol = policy("governance")
    store = bucket("records")
    reader = role("mz-analyst", account="777777777777")
    ctx = make_ctx([store, reader], [edge(reader, store, Relation.CAN_READ)], pol)
    assert run_one("FLOW-010", _with_iam(ctx, "denied"))["records"].status is Status.FAIL


def _rsp005_ctx(tmp_path: Path) -> CheckContext:
    trail = Resource(
        uid=f"arn:aws-cn:cloudtrail:cn-north-1:{ACCOUNT}:trail/org",
        provider="aws",
        kind=Kind.TRAIL,
        native_type="cloudtrail:trail",
        name="org",
        account=ACCOUNT,
        region="cn-north-1",
        jurisdiction="CN",
    )
    admin = role("audit-admin")
    text = Path(policy().path).read_text("utf-8") + f"roles: {{audit_admins: ['{admin.uid}']}}\n"
    (tmp_path / "p.yaml").write_text(text, "utf-8")
    edges = [edge(admin, trail, Relation.CAN_ADMIN)]
    return make_ctx([trail, admin], edges, load_policy(tmp_path / "p.yaml"))


def test_rsp005_unread_iam_is_unknown(tmp_path: Path) -> None:
    ctx = _rsp005_ctx(tmp_path)
    assert run_one("RSP-005", _with_iam(ctx, "ok"))["org"].status is Status.PASS
    found = run_one("RSP-005", _with_iam(ctx, "denied"))["org"]
    assert found.status is Status.UNKNOWN
    assert "could not be listed" in found.message


def test_rsp005_iam_of_another_account_granted_as_a_whole(tmp_path: Path) -> None:
    ctx = _rsp005_ctx(tmp_path)
    trail = ctx.resources[f"arn:aws-cn:cloudtrail:cn-north-1:{ACCOUNT}:trail/org"]
    graph = ctx.graph.copy()
    graph.add_edge(
        "account:222222222222",
        trail.uid,
        relation=Relation.CAN_WRITE,
        evidence="test",
        conditions={},
    )
    coverage = {(ACCOUNT, "global", "iam"): "ok", ("222222222222", "global", "iam"): "denied"}
    found = run_one("RSP-005", dataclasses.replace(ctx, graph=graph, coverage=coverage))["org"]
    # 222222222222 is one of the policy's accounts: its grant stands for whoever its identity
    # policies allow, and those were not read.
    assert found.status is Status.UNKNOWN
    assert "222222222222" in found.message
    coverage[("222222222222", "global", "iam")] = "ok"
    found = run_one("RSP-005", dataclasses.replace(ctx, graph=graph, coverage=coverage))["org"]
    assert found.status is Status.PASS


def test_key002_class_from_unread_tags_is_unknown() -> None:
    pol = policy("custody")
    cmk = key("cmk")
    general_read = bucket("general-read", tags={"data-class": "一般"})
    found = run_one(
        "KEY-002",
        make_ctx([cmk, general_read], [edge(general_read, cmk, Relation.ENCRYPTED_BY)], pol),
    )
    assert found["cmk"].status is Status.PASS
    # The same key over a store whose tags were not read: its class might be core (hyok).
    unread = bucket("unread", tags_status="denied")
    found = run_one(
        "KEY-002", make_ctx([cmk, unread], [edge(unread, cmk, Relation.ENCRYPTED_BY)], pol)
    )
    assert found["cmk"].status is Status.UNKNOWN
    assert "unread" in found["cmk"].message
    # A key whose own tags were not read is as blind.
    blind = key("blind", tags_status="error")
    found = run_one(
        "KEY-002",
        make_ctx([blind, general_read], [edge(general_read, blind, Relation.ENCRYPTED_BY)], pol),
    )
    assert found["blind"].status is Status.UNKNOWN
    # A key tagged with its class stands on its own tags.
    tagged = key("tagged", tags={"data-class": "一般"})
    found = run_one(
        "KEY-002", make_ctx([tagged, unread], [edge(unread, tagged, Relation.ENCRYPTED_BY)], pol)
    )
    assert found["tagged"].status is Status.PASS


def test_sov006_needs_rights_read_before_it_passes() -> None:
    pol = policy("custody")
    core = {"data-class": "核心"}
    read = bucket("read", tags=core)
    unread_policy = bucket("unread-policy", tags=core, policy_status="denied")
    elsewhere = dataclasses.replace(bucket("oss-bucket", tags=core), provider="aliyun")
    ctx = make_ctx([read, unread_policy, elsewhere], pol=pol)
    found = run_one("SOV-006", _with_iam(ctx, "ok"))
    assert found["read"].status is Status.PASS
    assert found["unread-policy"].status is Status.UNKNOWN
    # No identities of that provider are collected: who administers it is not known.
    assert found["oss-bucket"].status is Status.UNKNOWN
    assert "aliyun identities" in found["oss-bucket"].message
    assert run_one("SOV-006", _with_iam(ctx, "denied"))["read"].status is Status.UNKNOWN


def test_openstack_rights_wait_for_keystone_role_assignments() -> None:
    pol = policy("governance")
    container = dataclasses.replace(bucket("records"), provider="openstack", account="p1")
    ok = {("p1", "global", "keystone-role-assignments"): "ok"}
    denied = {("p1", "global", "keystone-role-assignments"): "denied"}
    # The policy's departments know no project p1: owner falls to RSP-001, not FLOW-010.
    tagged = dataclasses.replace(container, tags={"owner-dept": "dsj"})
    ctx = make_ctx([tagged], pol=pol)
    passed = run_one("FLOW-010", dataclasses.replace(ctx, coverage=ok))["records"]
    assert passed.status is Status.PASS
    unknown = run_one("FLOW-010", dataclasses.replace(ctx, coverage=denied))["records"]
    assert unknown.status is Status.UNKNOWN and "keystone-role-assignments" in unknown.message
