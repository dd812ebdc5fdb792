"""The case table of `cases.py`, plus malformed policies and the shape of the answer."""

from __future__ import annotations

from typing import Any

import pytest

from auditor.access import Decision, PolicyDocumentError, PolicySet, evaluate
from tests.access.cases import CASES, ID_GET, Case, doc, req, st


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_case(case: Case) -> None:
    result = evaluate(case.request, case.policies)
    assert result.decision is case.expected, (case.rule, result)
    if case.reason is not None:
        assert any(case.reason in r for r in result.reasons), result.reasons
    if case.pending is not None:
        assert set(result.pending) == set(case.pending), result.pending
    if case.expected is not Decision.CONDITIONAL:
        assert result.pending == ()


def test_case_table_is_large_and_cited() -> None:
    assert len(CASES) >= 100
    assert all(c.rule for c in CASES)
    assert len({c.name for c in CASES}) == len(CASES)


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_every_decision_has_a_reason(case: Case) -> None:
    assert evaluate(case.request, case.policies).reasons


def test_conditional_lists_the_undecided_key() -> None:
    policies = PolicySet(
        identity=[doc(st(Condition={"StringEquals": {"aws:PrincipalOrgID": "o"}}, Sid="OrgOnly"))]
    )
    result = evaluate(req(), policies)
    assert result.decision is Decision.CONDITIONAL
    assert result.pending == ("aws:PrincipalOrgID",)
    assert result.reasons == ("identity policy #0, statement 'OrgOnly': Allow",)


def test_context_overrides_derived_keys() -> None:
    policies = PolicySet(
        identity=[doc(st(Condition={"StringEquals": {"aws:PrincipalAccount": "999999999999"}}))]
    )
    assert evaluate(req(), policies).decision is Decision.IMPLICIT_DENY
    given = req(ctx={"aws:PrincipalAccount": "999999999999"})
    assert evaluate(given, policies).decision is Decision.ALLOW


def _bad(*statements: Any) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": list(statements)}


MALFORMED: list[tuple[str, Any, str]] = [
    ("statement_not_a_list", {"Statement": "Allow everything"}, "Statement must be a list"),
    ("statement_missing", {"Version": "2012-10-17"}, "Statement must be a list"),
    ("policy_not_an_object", ["not", "a", "policy"], "must be a JSON object"),
    ("statement_not_an_object", _bad("Allow"), "statement #0: a statement must be"),
    (
        "effect_missing",
        _bad({"Sid": "NoEffect", "Action": "s3:*", "Resource": "*"}),
        "statement 'NoEffect': Effect is missing",
    ),
    (
        "effect_unknown",
        _bad({"Effect": "Permit", "Action": "s3:*", "Resource": "*"}),
        "statement #0: Effect must be 'Allow' or 'Deny'",
    ),
    (
        "effect_wrong_case",
        _bad({"Effect": "allow", "Action": "s3:*", "Resource": "*"}),
        "Effect must be",
    ),
    ("action_missing", _bad({"Effect": "Allow", "Resource": "*"}), "Action and NotAction"),
    (
        "action_and_notaction",
        _bad({"Effect": "Allow", "Action": "*", "NotAction": "*"}),
        "Action and NotAction",
    ),
    (
        "action_not_strings",
        _bad({"Effect": "Allow", "Action": 7, "Resource": "*"}),
        "Action must be a string",
    ),
    (
        "identity_with_principal",
        _bad({"Effect": "Allow", "Principal": "*", "Action": "*"}),
        "cannot name a Principal",
    ),
    (
        "unknown_condition_operator",
        _bad(
            {
                "Effect": "Allow",
                "Action": "*",
                "Resource": "*",
                "Condition": {"StringEq": {"a": "b"}},
            }
        ),
        "unknown condition operator",
    ),
    (
        "condition_not_object",
        _bad({"Effect": "Allow", "Action": "*", "Resource": "*", "Condition": "x"}),
        "Condition must be an object",
    ),
]


@pytest.mark.parametrize(
    ("doc_", "message"), [(d, m) for _, d, m in MALFORMED], ids=[n for n, _, _ in MALFORMED]
)
def test_malformed_identity_policy_raises(doc_: Any, message: str) -> None:
    with pytest.raises(PolicyDocumentError, match=message) as raised:
        evaluate(req(), PolicySet(identity=[ID_GET, doc_]))
    assert "identity policy #1" in str(raised.value)


def test_resource_policy_without_principal_raises() -> None:
    policies = PolicySet(identity=[], resource=doc(st(Sid="NoPrincipal")))
    with pytest.raises(PolicyDocumentError, match="resource policy, statement 'NoPrincipal'"):
        evaluate(req(), policies)


def test_malformed_principal_raises() -> None:
    policies = PolicySet(identity=[], resource=doc(st(Principal=["not", "an", "object"])))
    with pytest.raises(PolicyDocumentError, match="Principal must be"):
        evaluate(req(), policies)


def test_malformed_policy_raises_even_when_a_deny_decides() -> None:
    policies = PolicySet(identity=[doc(st("Deny"))], scps=[[{"Statement": [{"Action": "*"}]}]])
    with pytest.raises(PolicyDocumentError, match="SCP level 0 #0, statement #0"):
        evaluate(req(), policies)


def test_error_is_a_policy_rights_document_error() -> None:
    from auditor.inventories.aws.policy_rights import PolicyDocumentError as Base

    assert issubclass(PolicyDocumentError, Base)
