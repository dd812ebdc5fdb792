"""Condition operators and keys of IAM policies, evaluated in three-valued logic. Pure.

AWS evaluates a request whose context it knows completely. An auditor does not: it asks "can
this principal reach this resource?" for requests that have not happened. So every answer here
is a `Tri`: YES, NO, or MAYBE with the condition keys (`pending`) that would decide it.

The request context (`Mapping[str, str | bool | Sequence[str]]`, key names case-insensitive):
- a key that is *missing* from the mapping is unknown → MAYBE, key listed in `pending`. This
  holds for every operator, `...IfExists`, `Null` and the set operators alike: none of them may
  silently turn an unknown key into true or false.
- a key mapped to an *empty sequence* is known to be absent from the request (AWS treats a
  multivalued key with no values as absent). Then AWS's documented rules apply ("Condition
  operators"): positive operators are false, negated operators (`StringNotEquals`, `ArnNotLike`,
  `NotIpAddress` …) are true, `...IfExists` is true, `Null: true` is true, `ForAllValues:` is true
  and `ForAnyValue:` is false.
- `True`/`False` stand for the strings "true"/"false" (`Bool` compares case-insensitively).

Semantics (IAM JSON policy elements: Condition, "Creating a condition with multiple keys or
values"): operators in a block AND, keys under an operator AND, values of one key OR; for a
negated operator the values NOR ("matches none of"). A single-valued operator given several
context values is true when any of them matches (negated: when none matches).
"""

from __future__ import annotations

import ipaddress
import math
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import Enum
from functools import cache
from typing import TypeVar

from auditor.access.matching import arn_matches
from auditor.inventories.aws.policy_rights import glob_regex

ContextValue = str | bool | Sequence[str]
_Compare = Callable[[str, str], bool]
_Ordered = TypeVar("_Ordered", float, datetime)
RequestContext = Mapping[str, ContextValue]


class ConditionError(ValueError):
    """A condition block AWS would reject: unknown operator, or a value of the wrong shape."""


class Tri(Enum):
    """Kleene three-valued truth: NO < MAYBE < YES."""

    NO = 0
    MAYBE = 1
    YES = 2


@dataclass(frozen=True, slots=True)
class Partial:
    """A three-valued result and, when MAYBE, the condition keys that would decide it."""

    state: Tri
    pending: tuple[str, ...] = ()

    @staticmethod
    def of(value: bool) -> Partial:
        return YES if value else NO


YES = Partial(Tri.YES)
NO = Partial(Tri.NO)


def all_of(parts: Iterable[Partial]) -> Partial:
    """Kleene AND: one NO decides; otherwise any MAYBE leaves it open (pending keys merged)."""
    items = list(parts)
    if any(p.state is Tri.NO for p in items):
        return NO
    return _merge_maybes(items) or YES


def any_of(parts: Iterable[Partial]) -> Partial:
    """Kleene OR: one YES decides; otherwise any MAYBE leaves it open (pending keys merged)."""
    items = list(parts)
    if any(p.state is Tri.YES for p in items):
        return YES
    return _merge_maybes(items) or NO


def _merge_maybes(items: Sequence[Partial]) -> Partial | None:
    maybes = [p for p in items if p.state is Tri.MAYBE]
    if not maybes:
        return None
    return Partial(Tri.MAYBE, tuple(dict.fromkeys(k for p in maybes for k in p.pending)))


# --- policy variables -------------------------------------------------------------------------

_VARIABLE = re.compile(r"\$\{([^}]*)\}")


def substitute_variables(text: str, context: RequestContext) -> tuple[str | None, tuple[str, ...]]:
    """Replace `${key}` policy variables with single string values from the context.

    Returns (text, ()) when every variable resolved, else (None, pending variables). Defaults
    (`${key, 'x'}`) and multivalued keys are not supported and stay pending.
    """
    pending: list[str] = []

    def replace(found: re.Match[str]) -> str:
        value = lookup(context, found.group(1))
        if isinstance(value, str):
            return value
        pending.append(found.group(0))
        return ""

    result = _VARIABLE.sub(replace, text)
    return (None, tuple(pending)) if pending else (result, ())


# --- context ----------------------------------------------------------------------------------


def lookup(context: RequestContext, key: str) -> str | tuple[str, ...] | None:
    """The context's value for `key` (case-insensitive name); None when the key is unknown."""
    wanted = key.strip().lower()
    for name, value in context.items():
        if name.lower() == wanted:
            if isinstance(value, bool):
                return "true" if value else "false"
            return value if isinstance(value, str) else tuple(str(v) for v in value)
    return None


def _values(found: str | tuple[str, ...]) -> tuple[str, ...]:
    return (found,) if isinstance(found, str) else found


# --- value comparisons --------------------------------------------------------------------------


def _numeric(text: str) -> float:
    value = float(text)
    if math.isnan(value):
        raise ValueError(text)
    return value


def _date(text: str) -> datetime:
    """ISO 8601 (with or without zone, `Z` allowed) or epoch seconds; naive means UTC."""
    stripped = text.strip()
    try:
        if re.fullmatch(r"-?\d+(\.\d+)?", stripped):
            return datetime.fromtimestamp(float(stripped), tz=UTC)
        parsed = datetime.fromisoformat(stripped.replace("Z", "+00:00"))
    except (OverflowError, OSError) as err:
        # Epoch seconds past year 9999 (or before year 1): not a date AWS could compare.
        raise ValueError(text) from err
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _sign(left: _Ordered, right: _Ordered) -> int:
    return (left > right) - (left < right)


def _numbers(test: Callable[[int], bool]) -> _Compare:
    def compare(policy: str, actual: str) -> bool:
        try:
            return test(_sign(_numeric(actual), _numeric(policy)))
        except ValueError:
            # AWS: a context value that is not of the operator's type never matches.
            return False

    return compare


def _dates(test: Callable[[int], bool]) -> _Compare:
    def compare(policy: str, actual: str) -> bool:
        try:
            return test(_sign(_date(actual), _date(policy)))
        except ValueError:
            return False

    return compare


def _ip(policy: str, actual: str) -> bool:
    try:
        return ipaddress.ip_address(actual.strip()) in ipaddress.ip_network(
            policy.strip(), strict=False
        )
    except ValueError:
        return False


@cache
def _like(pattern: str) -> re.Pattern[str]:
    return glob_regex(pattern)


def string_like(pattern: str, value: str) -> bool:
    """StringLike: case-sensitive, `*` and `?` match across any character."""
    return _like(pattern).fullmatch(value) is not None


def _bool(policy: str, actual: str) -> bool:
    return policy.strip().lower() == actual.strip().lower()


# Positive operator → comparison; negated operators are listed in `_NEGATED` by their positive.
_POSITIVE: Mapping[str, _Compare] = {
    "stringequals": lambda p, a: p == a,
    "stringequalsignorecase": lambda p, a: p.casefold() == a.casefold(),
    "stringlike": string_like,
    "numericequals": _numbers(lambda c: c == 0),
    "numericlessthan": _numbers(lambda c: c < 0),
    "numericlessthanequals": _numbers(lambda c: c <= 0),
    "numericgreaterthan": _numbers(lambda c: c > 0),
    "numericgreaterthanequals": _numbers(lambda c: c >= 0),
    "dateequals": _dates(lambda c: c == 0),
    "datelessthan": _dates(lambda c: c < 0),
    "datelessthanequals": _dates(lambda c: c <= 0),
    "dategreaterthan": _dates(lambda c: c > 0),
    "dategreaterthanequals": _dates(lambda c: c >= 0),
    "bool": _bool,
    "binaryequals": lambda p, a: p == a,
    "ipaddress": _ip,
    "arnequals": arn_matches,  # AWS: ArnEquals and ArnLike behave the same
    "arnlike": arn_matches,
}
_NEGATED: Mapping[str, str] = {
    "stringnotequals": "stringequals",
    "stringnotequalsignorecase": "stringequalsignorecase",
    "stringnotlike": "stringlike",
    "numericnotequals": "numericequals",
    "datenotequals": "dateequals",
    "notipaddress": "ipaddress",
    "arnnotequals": "arnequals",
    "arnnotlike": "arnlike",
}


@dataclass(frozen=True, slots=True)
class Operator:
    """A parsed condition operator such as `ForAllValues:StringNotLikeIfExists`."""

    name: str  # as written in the policy
    base: str  # lower-case positive operator ("stringlike"), or "null"
    negated: bool
    if_exists: bool
    qualifier: str  # "", "foranyvalue" or "forallvalues"

    @staticmethod
    def parse(name: str) -> Operator:
        qualifier, _, rest = name.rpartition(":")
        qualifier = qualifier.lower()
        if qualifier not in ("", "foranyvalue", "forallvalues"):
            raise ConditionError(f"unknown set operator {qualifier!r} in {name!r}")
        op = rest.lower()
        if_exists = op.endswith("ifexists") and op != "null"
        op = op.removesuffix("ifexists") if if_exists else op
        if op == "null" and not if_exists:
            return Operator(name, "null", False, False, qualifier)
        if op in _NEGATED:
            return Operator(name, _NEGATED[op], True, if_exists, qualifier)
        if op in _POSITIVE:
            return Operator(name, op, False, if_exists, qualifier)
        raise ConditionError(f"unknown condition operator {name!r}")


# --- evaluation -------------------------------------------------------------------------------


def _as_strings(raw: object) -> tuple[str, ...]:
    if isinstance(raw, bool):
        return ("true" if raw else "false",)
    if isinstance(raw, str | int | float):
        return (str(raw),)
    if isinstance(raw, Sequence) and all(isinstance(v, str | int | float | bool) for v in raw):
        return tuple(_as_strings(v)[0] for v in raw)
    raise ConditionError("condition values must be strings or lists of strings")


def _resolve_values(values: tuple[str, ...], context: RequestContext) -> Partial | tuple[str, ...]:
    resolved: list[str] = []
    for value in values:
        text, pending = substitute_variables(value, context)
        if text is None:
            return Partial(Tri.MAYBE, pending)
        resolved.append(text)
    return tuple(resolved)


def _null_check(policy_values: tuple[str, ...], actual: tuple[str, ...]) -> bool:
    # Null: "true" asks that the key be absent, "false" that it be present.
    absent = not actual
    return any((v.strip().lower() == "true") == absent for v in policy_values)


def _matches_any(op: Operator, policy_values: tuple[str, ...], actual: str) -> bool:
    compare = _POSITIVE[op.base]
    return any(compare(p, actual) for p in policy_values)


def _apply(op: Operator, policy_values: tuple[str, ...], actual: tuple[str, ...]) -> bool:
    """Decide one key whose context values are known (`actual` empty = known absent)."""
    if op.base == "null":
        return _null_check(policy_values, actual)
    if not actual:
        if op.qualifier == "forallvalues":
            return True  # AWS: ForAllValues is true when the key is absent or empty
        if op.qualifier == "foranyvalue":
            return False
        return op.if_exists or op.negated
    hits = [_matches_any(op, policy_values, a) for a in actual]
    if op.qualifier == "forallvalues":
        # Every context value matches (negated: no context value matches any policy value).
        return all(not h for h in hits) if op.negated else all(hits)
    if op.qualifier == "foranyvalue" and op.negated:
        return any(not h for h in hits)  # at least one context value matches none
    return not any(hits) if op.negated else any(hits)


def evaluate_key(op: Operator, key: str, raw_values: object, context: RequestContext) -> Partial:
    """One `operator: {key: values}` entry against the context."""
    policy_values = _as_strings(raw_values)
    found = lookup(context, key)
    if found is None:
        return Partial(Tri.MAYBE, (key,))
    resolved = _resolve_values(policy_values, context)
    if isinstance(resolved, Partial):
        return resolved
    return Partial.of(_apply(op, resolved, _values(found)))


def parse_conditions(block: object) -> list[tuple[Operator, str, object]]:
    """(operator, key, values) entries of a `Condition` block; ConditionError if malformed."""
    if block is None:
        return []
    if not isinstance(block, Mapping):
        raise ConditionError("Condition must be an object")
    entries: list[tuple[Operator, str, object]] = []
    for name, keys in block.items():
        op = Operator.parse(str(name))
        if not isinstance(keys, Mapping):
            raise ConditionError(f"operator {name!r} must map keys to values")
        for key, values in keys.items():
            _as_strings(values)
            entries.append((op, str(key), values))
    return entries


def evaluate_conditions(block: object, context: RequestContext) -> Partial:
    """A statement's whole `Condition` block: every operator and every key must hold (AND)."""
    entries = parse_conditions(block)
    return all_of(evaluate_key(op, key, values, context) for op, key, values in entries)
