"""Condition operators one by one, in three-valued logic."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from auditor.access.conditions import (
    ConditionError,
    Operator,
    Tri,
    all_of,
    any_of,
    evaluate_conditions,
    substitute_variables,
)
from auditor.access.matching import arn_matches

Y, N, M = Tri.YES, Tri.NO, Tri.MAYBE
Ctx = dict[str, str | bool | Sequence[str]]

# (operator, policy values, context value or None for "key unknown", expected)
OPERATOR_CASES: list[tuple[str, object, str | bool | list[str] | None, Tri]] = [
    ("StringEquals", "a", "a", Y),
    ("StringEquals", "a", "A", N),
    ("StringEquals", ["x", "a"], "a", Y),
    ("StringNotEquals", ["x", "a"], "a", N),
    ("StringNotEquals", ["x", "y"], "a", Y),
    ("StringEqualsIgnoreCase", "ABC", "abc", Y),
    ("StringNotEqualsIgnoreCase", "ABC", "abc", N),
    ("StringLike", "a*c?", "abbcd", Y),
    ("StringLike", "a*c", "ABC", N),
    ("StringNotLike", "a*", "b", Y),
    ("NumericEquals", "10", "10.0", Y),
    ("NumericNotEquals", "10", "11", Y),
    ("NumericLessThan", "10", "9", Y),
    ("NumericLessThanEquals", "10", "10", Y),
    ("NumericGreaterThan", "10", "10", N),
    ("NumericGreaterThanEquals", "10", "10", Y),
    ("NumericEquals", "10", "ten", N),
    ("DateEquals", "2026-01-01T00:00:00Z", "1767225600", Y),
    ("DateNotEquals", "2026-01-01T00:00:00Z", "2026-01-02T00:00:00Z", Y),
    ("DateLessThan", "2026-01-01T00:00:00Z", "2025-12-31T23:59:59Z", Y),
    ("DateLessThanEquals", "2026-01-01", "2026-01-01T00:00:00+00:00", Y),
    ("DateGreaterThan", "2026-01-01T00:00:00Z", "2026-01-01T08:00:01+08:00", Y),
    ("DateGreaterThanEquals", "2026-01-01T00:00:00Z", "2025-01-01T00:00:00Z", N),
    ("Bool", "true", True, Y),
    ("Bool", "true", False, N),
    ("Bool", "false", "FALSE", Y),
    ("BinaryEquals", "QmluYXJ5", "QmluYXJ5", Y),
    ("IpAddress", "203.0.113.0/24", "203.0.113.9", Y),
    ("IpAddress", "2001:db8::/32", "2001:db8::1", Y),
    ("IpAddress", "203.0.113.0/24", "198.51.100.1", N),
    ("NotIpAddress", ["203.0.113.0/24", "10.0.0.0/8"], "198.51.100.1", Y),
    ("IpAddress", "203.0.113.0/24", "not-an-ip", N),
    ("ArnEquals", "arn:aws-cn:sns:*:111111111111:t", "arn:aws-cn:sns:cn-north-1:111111111111:t", Y),
    ("ArnLike", "arn:aws:s3:::b/*", "arn:aws:s3:::b/k/x", Y),
    ("ArnNotEquals", "arn:aws:s3:::b", "arn:aws:s3:::c", Y),
    ("ArnNotLike", "arn:aws:iam::*:role/admin*", "arn:aws:iam::111111111111:role/admin-1", N),
    ("Null", "true", [], Y),
    ("Null", "true", "x", N),
    ("Null", "false", "x", Y),
    ("StringEqualsIfExists", "a", [], Y),
    ("StringEqualsIfExists", "a", "b", N),
    ("StringNotEquals", "a", [], Y),
    ("StringEquals", "a", [], N),
    ("ArnNotLikeIfExists", "arn:aws:s3:::b", [], Y),
    ("ForAnyValue:StringEquals", ["a", "b"], ["c", "b"], Y),
    ("ForAnyValue:StringEquals", ["a"], ["c"], N),
    ("ForAnyValue:StringEquals", ["a"], [], N),
    ("ForAllValues:StringEquals", ["a", "b"], ["a", "b"], Y),
    ("ForAllValues:StringEquals", ["a"], ["a", "c"], N),
    ("ForAllValues:StringEquals", ["a"], [], Y),
    ("ForAllValues:StringNotEquals", ["a"], ["b", "c"], Y),
    ("ForAllValues:StringNotEquals", ["a"], ["a", "c"], N),
    ("ForAnyValue:StringNotEquals", ["a"], ["a", "c"], Y),
    ("ForAnyValue:StringNotEquals", ["a"], ["a"], N),
    ("ForAllValues:StringLike", ["tag-*"], ["tag-a", "tag-b"], Y),
    ("StringEquals", "a", None, M),
    ("StringNotEquals", "a", None, M),
    ("StringEqualsIfExists", "a", None, M),
    ("Null", "true", None, M),
    ("ForAllValues:StringEquals", ["a"], None, M),
]


@pytest.mark.parametrize(
    ("op", "values", "actual", "expected"),
    OPERATOR_CASES,
    ids=[f"{c[0]}-{i}" for i, c in enumerate(OPERATOR_CASES)],
)
def test_operator(
    op: str, values: object, actual: str | bool | list[str] | None, expected: Tri
) -> None:
    context: Ctx = {} if actual is None else {"test:Key": actual}
    result = evaluate_conditions({op: {"test:Key": values}}, context)
    assert result.state is expected
    assert result.pending == (("test:Key",) if expected is M else ())


def test_multiple_keys_and_values() -> None:
    block = {"StringEquals": {"k:a": ["1", "2"], "k:b": "x"}}
    assert evaluate_conditions(block, {"k:a": "2", "k:b": "x"}).state is Y
    assert evaluate_conditions(block, {"k:a": "3", "k:b": "x"}).state is N
    half = evaluate_conditions(block, {"k:a": "2"})
    assert (half.state, half.pending) == (M, ("k:b",))


def test_no_condition_is_true() -> None:
    assert evaluate_conditions(None, {}).state is Y


def test_kleene_logic() -> None:
    from auditor.access.conditions import NO, YES, Partial

    maybe_a, maybe_b = Partial(M, ("a",)), Partial(M, ("b",))
    assert all_of([YES, maybe_a, maybe_b]).pending == ("a", "b")
    assert all_of([maybe_a, NO]) is NO
    assert any_of([maybe_a, YES]) is YES
    assert any_of([NO, maybe_b]).pending == ("b",)
    assert all_of([]) is YES and any_of([]) is NO


@pytest.mark.parametrize(
    ("name", "base", "negated", "if_exists", "qualifier"),
    [
        ("StringNotLikeIfExists", "stringlike", True, True, ""),
        ("ForAllValues:StringEquals", "stringequals", False, False, "forallvalues"),
        ("ForAnyValue:ArnNotEquals", "arnequals", True, False, "foranyvalue"),
        ("Null", "null", False, False, ""),
    ],
)
def test_operator_parse(
    name: str, base: str, negated: bool, if_exists: bool, qualifier: str
) -> None:
    op = Operator.parse(name)
    assert (op.base, op.negated, op.if_exists, op.qualifier) == (
        base,
        negated,
        if_exists,
        qualifier,
    )


@pytest.mark.parametrize("name", ["StringEq", "Sometimes:StringEquals", "NullIfExists"])
def test_unknown_operator_raises(name: str) -> None:
    with pytest.raises(ConditionError, match="unknown"):
        Operator.parse(name)


def test_bad_values_raise() -> None:
    with pytest.raises(ConditionError, match="strings"):
        evaluate_conditions({"StringEquals": {"k": {"nested": "x"}}}, {"k": "x"})


def test_policy_variables() -> None:
    assert substitute_variables("home/${aws:username}/*", {"AWS:UserName": "bo"}) == (
        "home/bo/*",
        (),
    )
    assert substitute_variables("home/${aws:username}", {}) == (None, ("${aws:username}",))
    block = {"StringLike": {"s3:prefix": "home/${aws:username}/*"}}
    result = evaluate_conditions(block, {"s3:prefix": "home/bo/x"})
    assert (result.state, result.pending) == (M, ("${aws:username}",))


@pytest.mark.parametrize(
    ("pattern", "arn", "expected"),
    [
        ("*", "arn:aws-cn:s3:::b", True),
        ("arn:aws-cn:s3:::b*", "arn:aws-cn:s3:::b/k", True),
        ("arn:aws:*", "arn:aws:sqs:us-east-1:111111111111:q", True),
        ("arn:aws:sqs:*:111111111111:q", "arn:aws:sqs:us-east-1:111111111111:q", True),
        ("arn:aws:sqs:us-*:*:q", "arn:aws:sqs:us-east-1:111111111111:q", True),
        ("arn:aws:sqs:*:q:111111111111", "arn:aws:sqs:r:111111111111:q:111111111111", False),
        ("arn:aws:s3:::B", "arn:aws:s3:::b", False),
        ("arn:aws-eusc:kms:*:*:key/*", "arn:aws-eusc:kms:eusc-de-east-1:111111111111:key/k", True),
    ],
)
def test_arn_matching(pattern: str, arn: str, expected: bool) -> None:
    assert arn_matches(pattern, arn) is expected
