from __future__ import annotations

import json
from typing import Any

from auditor.escalation import escalation_edges
from auditor.graph import build_graph, who_can
from auditor.model import Kind, Relation, Resource, Status
from tests.helpers import bucket, edge, make_ctx, run_one

ACCOUNT = "111111111111"


def principal(name: str, kind: Kind, *statements: dict[str, Any], **attrs: Any) -> Resource:
    kind_word = "user" if kind is Kind.USER else "role"
    inline = {"p": {"Version": "2012-10-17", "Statement": list(statements)}} if statements else {}
    return Resource(
        uid=f"arn:aws-cn:iam::{ACCOUNT}:{kind_word}/{name}",
        provider="aws",
        kind=kind,
        native_type=f"iam:{kind_word}",
        name=name,
        account=ACCOUNT,
        partition="aws-cn",
        attrs={
            "inline_policies": inline,
            "attached_policies": [],
            "trust_policy_status": "read",
            **attrs,
        },
    )


def allow(action: str | list[str], resource: str = "*", **condition: Any) -> dict[str, Any]:
    statement: dict[str, Any] = {"Effect": "Allow", "Action": action, "Resource": resource}
    if condition:
        statement["Condition"] = condition
    return statement


def edges_of(*resources: Resource) -> dict[tuple[str, str], Any]:
    return {
        (e.src.rsplit("/", 1)[-1], e.dst.rsplit("/", 1)[-1]): e
        for e in escalation_edges({r.uid: r for r in resources})
    }


def test_self_policy_rewrite_and_passrole():
    admin = principal("admin", Kind.ROLE, {"Effect": "Allow", "Action": "s3:*", "Resource": "*"})
    dev = principal(
        "dev", Kind.USER, allow("iam:PutUserPolicy", f"arn:aws-cn:iam::{ACCOUNT}:user/dev")
    )
    deployer = principal(
        "deployer",
        Kind.ROLE,
        allow("iam:PassRole", f"arn:aws-cn:iam::{ACCOUNT}:role/admin"),
        allow(["lambda:CreateFunction", "lambda:InvokeFunction"]),
    )
    half = principal(
        "half", Kind.ROLE, allow("iam:PassRole", f"arn:aws-cn:iam::{ACCOUNT}:role/admin")
    )
    reader = principal("reader", Kind.USER, allow("s3:GetObject"))
    found = edges_of(admin, dev, deployer, half, reader)
    assert set(found) == {("dev", "dev"), ("deployer", "admin")}
    assert "put an inline policy on itself" in found[("dev", "dev")].evidence
    assert "Lambda" in found[("deployer", "admin")].evidence


def test_other_users_credentials_and_trust_rewrite():
    alice = principal("alice", Kind.USER)
    helpdesk = principal(
        "helpdesk", Kind.USER, allow("iam:CreateAccessKey", f"arn:aws-cn:iam::{ACCOUNT}:user/*")
    )
    ops = principal("ops", Kind.ROLE, allow("iam:UpdateAssumeRolePolicy"))
    found = edges_of(alice, helpdesk, ops)
    assert ("helpdesk", "alice") in found
    assert ("ops", "helpdesk") not in found  # a role's trust, not a user's credentials
    assert ("ops", "ops") not in found  # UpdateAssumeRolePolicy on itself gains nothing
    assert ("ops", "alice") not in found


def test_boundary_and_conditions_are_honoured():
    boundary = Resource(
        uid=f"arn:aws-cn:iam::{ACCOUNT}:policy/no-iam",
        provider="aws",
        kind=Kind.IAM_POLICY,
        native_type="iam:policy",
        name="no-iam",
        account=ACCOUNT,
        attrs={"document": json.dumps({"Version": "2012-10-17", "Statement": [allow("s3:*")]})},
    )
    bounded = principal("bounded", Kind.USER, allow("iam:*"), permissions_boundary=boundary.uid)
    mfa = principal("mfa", Kind.USER, allow("iam:*", Bool={"aws:MultiFactorAuthPresent": "true"}))
    found = edges_of(boundary, bounded, mfa)
    assert ("bounded", "bounded") not in found
    assert found[("mfa", "mfa")].conditions == {"pending": ["aws:MultiFactorAuthPresent"]}


def test_who_can_follows_escalation_and_acc004_reports_it():
    data = bucket("core", tags={"data-class": "核心"})
    admin = principal("admin", Kind.ROLE)
    deployer = principal(
        "deployer", Kind.ROLE, allow("iam:PassRole", admin.uid), allow("ec2:RunInstances")
    )
    escalations = list(escalation_edges({r.uid: r for r in (admin, deployer)}))
    graph = build_graph(
        [data, admin, deployer], [edge(admin, data, Relation.CAN_READ), *escalations]
    )
    holders = {g.principal: g for g in who_can(graph, data.uid, Relation.CAN_READ)}
    assert deployer.uid in holders
    assert [h.relation for h in holders[deployer.uid].path] == [
        Relation.CAN_ESCALATE,
        Relation.CAN_READ,
    ]
    ctx = make_ctx([data, admin, deployer], [edge(admin, data, Relation.CAN_READ), *escalations])
    found = run_one("ACC-004", ctx)
    assert found["deployer"].status is Status.FAIL
    assert "EC2" in found["deployer"].evidence[0]
    assert found["admin"].status is Status.PASS


def test_malformed_policies_are_skipped():
    broken = principal("broken", Kind.USER, {"Effect": "Maybe", "Action": "iam:*", "Resource": "*"})
    assert list(escalation_edges({broken.uid: broken})) == []
