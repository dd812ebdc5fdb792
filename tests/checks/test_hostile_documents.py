"""Broken or hostile policy documents never abort the audit: every check still answers."""

from __future__ import annotations

import dataclasses
import json

import pytest

from auditor.checking import load_checks, run_checks
from tests.helpers import bucket, make_ctx, role

DOCUMENTS = [
    {"Statement": None},
    {"Statement": 5},
    {"Statement": "Allow everything"},
    {"Statement": [None, 3, "x"]},
    {"Statement": {"Effect": "Allow", "Principal": {"AWS": None}, "Action": None}},
    {
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"AWS": "arn:aws-cn:iam::444444444444:root"},
                "Action": "sts:AssumeRole",
                "Condition": {"Null": {"sts:SourceIdentity": True}, "Bool": {"x": [1, {"y": 2}]}},
            }
        ]
    },
    {"Statement": [{"Effect": "Allow", "Principal": "*", "Action": ["*"], "Resource": 7}]},
    {"Statement": [{"Effect": ["Allow"], "NotAction": {"a": 1}, "Condition": "yes"}]},
]


@pytest.mark.parametrize("document", DOCUMENTS, ids=lambda d: json.dumps(d)[:40])
@pytest.mark.parametrize("as_text", [False, True])
def test_every_check_survives_a_broken_document(document, as_text):
    text = json.dumps(document) if as_text else document
    trusting = dataclasses.replace(
        role("broken"),
        attrs={
            "policy_status": "read",
            "trust_policy": text,
            "trust_policy_status": "read",
            "inline_policies": [{"name": "p", "document": text}],
            "attached_policies": [],
            "max_session_duration": 3600,
        },
    )
    exposed = bucket("broken-bucket", policy=text, policy_status="read")
    findings = run_checks(make_ctx([trusting, exposed]), load_checks())
    assert findings, "the checks still judged the inventory"
