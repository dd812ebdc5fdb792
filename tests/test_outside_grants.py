"""Grants to other accounts read out of resource policies are re-decided by the evaluator."""

from __future__ import annotations

import json
from typing import Any

from auditor.model import Edge, Relation
from auditor.rights import confirm_outside_grants
from tests.helpers import bucket

OUTSIDER = "999988887777"


def policy(*statements: dict[str, Any]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def grant(b: Any, src: str = f"account:{OUTSIDER}", relation: Relation = Relation.CAN_READ) -> Edge:
    return Edge(src, b.uid, relation, "bucket policy statement 'Partner' grants can_read")


ALLOW_OUTSIDER = {
    "Sid": "Partner",
    "Effect": "Allow",
    "Principal": {"AWS": f"arn:aws-cn:iam::{OUTSIDER}:root"},
    "Action": "s3:GetObject",
    "Resource": "arn:aws-cn:s3:::b/*",
}


def confirm(b: Any, *edges: Edge) -> list[Edge]:
    return list(confirm_outside_grants({b.uid: b}, edges))


def test_a_plain_grant_is_confirmed():
    b = bucket("b", policy=policy(ALLOW_OUTSIDER), policy_status="read")
    assert confirm(b, grant(b)) == [grant(b)]


def test_a_deny_to_everyone_but_the_organisation_drops_it():
    deny = {
        "Effect": "Deny",
        "NotPrincipal": {"AWS": "arn:aws-cn:iam::111111111111:root"},
        "Action": "s3:*",
        "Resource": ["arn:aws-cn:s3:::b", "arn:aws-cn:s3:::b/*"],
    }
    b = bucket("b", policy=policy(ALLOW_OUTSIDER, deny), policy_status="read")
    assert confirm(b, grant(b)) == []


def test_a_conditional_deny_keeps_the_grant_with_its_pending_key():
    deny = {
        "Effect": "Deny",
        "Principal": "*",
        "Action": "s3:*",
        "Resource": "arn:aws-cn:s3:::b/*",
        "Condition": {"StringNotEquals": {"aws:PrincipalOrgID": "o-gov"}},
    }
    b = bucket("b", policy=policy(ALLOW_OUTSIDER, deny), policy_status="read")
    (kept,) = confirm(b, grant(b))
    assert kept.conditions == {"pending": ["aws:PrincipalOrgID"]}


def test_other_edges_pass_unchanged():
    b = bucket("b", policy=policy(ALLOW_OUTSIDER), policy_status="read")
    own = grant(b, src="account:111111111111")
    public = grant(b, src="public:*")
    flow = Edge(b.uid, "arn:aws-cn:s3:::c", Relation.REPLICATES_TO, "rule")
    unread = bucket("u", policy_status="denied")
    assert confirm(b, own, public, flow) == [own, public, flow]
    assert list(confirm_outside_grants({unread.uid: unread}, [grant(unread)])) == [grant(unread)]
