"""RSP-004 and KEY-005: segregation of duties, collapsed to the people behind principals."""

from __future__ import annotations

from pathlib import Path

from auditor.duties import capabilities_of, expand
from auditor.model import Kind, Relation, Resource, Status
from auditor.policy import load_policy
from tests.helpers import bucket, edge, key, make_ctx, policy, run_one

ACCOUNT = "111111111111"
SOD = """
people:
  - {id: p-1, dept: dsj, status: active}
  - {id: p-2, dept: dsj, status: active}
tags: {classification: data-class, owner_dept: owner-dept, accountable_person: accountable-person}
roles:
  capability_actions:
    system_admin: ["ec2:*"]
    security_admin: ["iam:Put*Policy", "iam:Attach*Policy"]
    audit_admin: [cloudtrail:LookupEvents]
  sod_rules:
    - {id: 三员分立, exclusive: [system_admin, security_admin, audit_admin]}
"""


def sod_policy(tmp_path: Path):
    text = (
        Path(policy().path)
        .read_text("utf-8")
        .replace("tags: {classification: data-class, owner_dept: owner-dept}\n", "")
    )
    (tmp_path / "p.yaml").write_text(text + SOD, "utf-8")
    return load_policy(tmp_path / "p.yaml")


def principal(name: str, kind: Kind, actions: list[str], person: str | None = None) -> Resource:
    word = "user" if kind is Kind.USER else "role"
    document = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": actions, "Resource": "*"}],
    }
    return Resource(
        uid=f"arn:aws-cn:iam::{ACCOUNT}:{word}/{name}",
        provider="aws",
        kind=kind,
        native_type=f"iam:{word}",
        name=name,
        account=ACCOUNT,
        partition="aws-cn",
        tags={"accountable-person": person} if person else {},
        attrs={"inline_policies": {"p": document} if actions else {}, "attached_policies": []},
    )


def test_expand_uses_botocore_operations():
    assert "iam:AttachRolePolicy" in expand("iam:Attach*Policy")
    assert "iam:CreateRole" not in expand("iam:Attach*Policy")


def test_capabilities_are_evaluated_per_principal(tmp_path):
    pol = sod_policy(tmp_path)
    alice = principal("alice", Kind.USER, ["ec2:RunInstances"], "p-1")
    sec = principal("sec", Kind.ROLE, ["iam:PutRolePolicy"])
    held = capabilities_of({r.uid: r for r in (alice, sec)}, pol.capabilities)
    assert set(held[alice.uid]) == {"system_admin"}
    assert set(held[sec.uid]) == {"security_admin"}
    assert "iam:PutRolePolicy" in held[sec.uid]["security_admin"]


def test_rsp004_conflicts_through_assumed_roles(tmp_path):
    pol = sod_policy(tmp_path)
    alice = principal("alice", Kind.USER, ["ec2:*"], "p-1")
    sec = principal("sec", Kind.ROLE, ["iam:AttachRolePolicy"])
    bob = principal("bob", Kind.USER, ["cloudtrail:LookupEvents"], "p-2")
    ctx = make_ctx([alice, sec, bob], [edge(alice, sec, Relation.CAN_ASSUME)], pol)
    found = run_one("RSP-004", ctx)
    assert found["p-1"].status is Status.FAIL
    assert "三员分立" in found["p-1"].message
    assert any("acting through" in e for e in found["p-1"].evidence)
    assert found["p-2"].status is Status.PASS
    # without the role, alice alone holds one duty
    found = run_one("RSP-004", make_ctx([alice, sec, bob], [], pol))
    assert found["p-1"].status is Status.PASS


def test_rsp004_silent_without_rules():
    assert run_one("RSP-004", make_ctx([principal("x", Kind.USER, ["ec2:*"], "p-1")])) == {}


def test_key005_one_person_holds_key_and_data(tmp_path):
    pol = sod_policy(tmp_path)
    alice = principal("alice", Kind.USER, [], "p-1")
    bob = principal("bob", Kind.USER, [], "p-2")
    reader = principal("reader", Kind.ROLE, [])
    k1, k2 = key("k1"), key("k2")
    b1, b2 = bucket("b1"), bucket("b2")
    edges = [
        edge(b1, k1, Relation.ENCRYPTED_BY),
        edge(b2, k2, Relation.ENCRYPTED_BY),
        edge(alice, k1, Relation.CAN_ADMIN),
        edge(alice, k1, Relation.CAN_DECRYPT),
        edge(reader, b1, Relation.CAN_READ),
        edge(alice, reader, Relation.CAN_ASSUME),
        edge(alice, k2, Relation.CAN_ADMIN),
        edge(bob, k2, Relation.CAN_DECRYPT),
        edge(bob, b2, Relation.CAN_READ),
    ]
    found = run_one("KEY-005", make_ctx([alice, bob, reader, k1, k2, b1, b2], edges, pol))
    assert found["k1"].status is Status.FAIL
    assert "p-1" in found["k1"].message
    assert found["k2"].status is Status.PASS
    untagged = [principal("anon", Kind.USER, []), k1, b1]
    found = run_one("KEY-005", make_ctx(untagged, [edge(b1, k1, Relation.ENCRYPTED_BY)], pol))
    assert found["k1"].status is Status.UNKNOWN
