"""Evaluate one AWS request against the policies that govern it. Pure; no AWS calls.

Implements "Policy evaluation logic" of the IAM User Guide for one principal, action and
resource: explicit deny → RCPs → SCPs → resource-based policy → identity policies →
permissions boundary. Session policies and KMS grants are not modelled.

How CONDITIONAL combines (three-valued Kleene logic over YES / MAYBE / NO, see `conditions`):
- A statement applies YES when action, resource, principal and every condition hold; NO when
  any of them fails; MAYBE when none fails but a condition key is missing from the context or a
  policy variable cannot be resolved (those keys are its `pending`).
- A policy allows YES if some Allow statement applies YES, else MAYBE if some applies MAYBE,
  else NO (OR). Gates that must all allow (each SCP level, each RCP level, identity ∧ boundary,
  both sides of a cross-account request) combine by AND: one NO decides, else MAYBE.
- Denies: a Deny statement applying YES anywhere → EXPLICIT_DENY, whatever else holds.
- Final: allow NO → IMPLICIT_DENY (a possible Deny cannot change a denial); allow YES with no
  possible Deny → ALLOW; otherwise (allow MAYBE, or allow YES with a Deny that applies MAYBE)
  → CONDITIONAL, with `pending` = the keys of the open allow and of the open denies.

Modelling choices, each from the AWS documentation cited where it is applied:
- The account root user has every identity permission in its account and no boundary.
- SCPs are skipped for service principals and service-linked roles ("SCPs don't affect
  service-linked roles"). SCPs do not restrict the management account: the caller expresses that
  by passing `scps=()` for its principals (the management account id is not known here).
- An SCP or RCP level given as an empty list allows nothing (AWS requires one policy per level).
- `resource_account=None` is read from the resource ARN; when that has no account (S3) the
  request is evaluated as same- and cross-account, and if those differ the answer is
  CONDITIONAL pending "resource_account".
- Context keys that follow from the request are filled in when the context lacks them:
  `aws:PrincipalArn` (a session's role ARN), `aws:PrincipalAccount`,
  `aws:PrincipalIsAWSService` (false for IAM principals), `aws:ResourceAccount`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from auditor.access.conditions import (
    NO,
    YES,
    ConditionError,
    Partial,
    RequestContext,
    Tri,
    all_of,
    any_of,
    evaluate_conditions,
    lookup,
    parse_conditions,
    substitute_variables,
)
from auditor.access.matching import Grant, Principal, action_matches, arn_matches, excluded_by
from auditor.access.matching import match_principal as _match_principal
from auditor.inventories.aws.policy_rights import PolicyDocumentError as _RightsDocumentError

Policy = Mapping[str, Any]

_EMPTY_CONTEXT: Mapping[str, str | bool | Sequence[str]] = {}
_TRUST_ACTIONS = frozenset(
    {
        "sts:assumerole",
        "sts:assumerolewithsaml",
        "sts:assumerolewithwebidentity",
        "sts:tagsession",
        "sts:setsourceidentity",
        "sts:setcontext",
    }
)


class PolicyDocumentError(_RightsDocumentError):
    """A policy AWS would reject; the message names the policy and the statement."""


@dataclass(frozen=True)
class Request:
    """One API call: who, what action, on which resource, with which known context keys."""

    principal_arn: str
    principal_account: str
    action: str
    resource_arn: str
    resource_account: str | None
    context: Mapping[str, str | bool | Sequence[str]] = field(default_factory=lambda: {})


@dataclass(frozen=True)
class PolicySet:
    """Every policy that takes part in deciding one request."""

    identity: Sequence[Policy]
    resource: Policy | None = None
    boundary: Policy | None = None
    scps: Sequence[Sequence[Policy]] = ()
    rcps: Sequence[Sequence[Policy]] = ()
    resource_is_kms_key: bool = False


class Decision(StrEnum):
    ALLOW = "allow"
    EXPLICIT_DENY = "explicit_deny"
    IMPLICIT_DENY = "implicit_deny"
    CONDITIONAL = "conditional"


@dataclass(frozen=True)
class Evaluation:
    """The decision, the policy statements that decided it, and the keys still undecided."""

    decision: Decision
    reasons: tuple[str, ...]
    pending: tuple[str, ...] = ()


# --- three-valued verdicts with their reasons ---------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Verdict:
    part: Partial
    reasons: tuple[str, ...]

    @property
    def state(self) -> Tri:
        return self.part.state


_OPEN = _Verdict(YES, ())


def _both(*verdicts: _Verdict) -> _Verdict:
    part = all_of(v.part for v in verdicts)
    deciding = [v for v in verdicts if v.state is Tri.NO] if part.state is Tri.NO else verdicts
    return _Verdict(part, _join(deciding))


def _either(*verdicts: _Verdict) -> _Verdict:
    part = any_of(v.part for v in verdicts)
    deciding = [v for v in verdicts if v.state is part.state] or list(verdicts)
    return _Verdict(part, _join(deciding))


def _join(verdicts: Sequence[_Verdict]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(r for v in verdicts for r in v.reasons))


# --- statements ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Statement:
    where: str  # "identity policy #0, statement 'ReadAll'"
    allow: bool
    body: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class _Applied:
    statement: _Statement
    part: Partial
    grant: Grant | None = None  # how a resource policy's Principal names the caller


def _policy_label(kind: str, doc: object, index: int | None) -> str:
    name = doc.get("Id") if isinstance(doc, Mapping) else None
    if name:
        # repr: an Id is the document's own text, and a newline in it must not split the
        # one-line error or reason that names the policy.
        return f"{kind} {name!r}"
    return kind if index is None else f"{kind} #{index}"


def _parse(doc: object, label: str, needs_principal: bool) -> list[_Statement]:
    """Statements of one policy, checked the way AWS checks them when the policy is saved."""
    if not isinstance(doc, Mapping):
        raise PolicyDocumentError(f"{label}: a policy must be a JSON object")
    raw = doc.get("Statement")
    if isinstance(raw, Mapping):
        raw = [raw]  # AWS accepts a single statement object
    if not isinstance(raw, list):
        raise PolicyDocumentError(f"{label}: Statement must be a list of statement objects")
    return [_statement(stmt, label, index, needs_principal) for index, stmt in enumerate(raw)]


def _statement(stmt: object, label: str, index: int, needs_principal: bool) -> _Statement:
    sid = stmt.get("Sid") if isinstance(stmt, Mapping) else None
    where = f"{label}, statement {f'{sid!r}' if sid else f'#{index}'}"
    if not isinstance(stmt, Mapping):
        raise PolicyDocumentError(f"{where}: a statement must be a JSON object")
    effect = stmt.get("Effect")
    if effect is None:
        raise PolicyDocumentError(f"{where}: Effect is missing")
    if effect not in ("Allow", "Deny"):
        raise PolicyDocumentError(f"{where}: Effect must be 'Allow' or 'Deny', not {effect!r}")
    if ("Action" in stmt) == ("NotAction" in stmt):
        raise PolicyDocumentError(f"{where}: exactly one of Action and NotAction is required")
    if "Resource" in stmt and "NotResource" in stmt:
        raise PolicyDocumentError(f"{where}: Resource and NotResource cannot both appear")
    has_principal = "Principal" in stmt or "NotPrincipal" in stmt
    if needs_principal and not has_principal:
        raise PolicyDocumentError(f"{where}: a resource-based policy needs Principal")
    if not needs_principal and has_principal:
        raise PolicyDocumentError(f"{where}: this kind of policy cannot name a Principal")
    for element in ("Action", "NotAction", "Resource", "NotResource"):
        if element in stmt:
            _strings(stmt[element], where, element)
    try:
        parse_conditions(stmt.get("Condition"))
    except ConditionError as err:
        raise PolicyDocumentError(f"{where}: {err}") from err
    return _Statement(where, effect == "Allow", stmt)


def _strings(value: object, where: str, element: str) -> tuple[str, ...]:
    if isinstance(value, str):
        return (value,)
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return tuple(value)
    raise PolicyDocumentError(f"{where}: {element} must be a string or a list of strings")


def _negate(part: Partial) -> Partial:
    if part.state is Tri.MAYBE:
        return part
    return NO if part.state is Tri.YES else YES


@dataclass(frozen=True, slots=True)
class _Call:
    """The request as the matchers need it."""

    request: Request
    principal: Principal
    context: RequestContext
    has_boundary: bool


def _action_applies(stmt: _Statement, call: _Call) -> bool:
    not_action = "NotAction" in stmt.body
    patterns = _strings(stmt.body["NotAction" if not_action else "Action"], stmt.where, "Action")
    hit = any(action_matches(p, call.request.action) for p in patterns)
    return hit != not_action


def _resource_applies(stmt: _Statement, call: _Call) -> Partial:
    not_resource = "NotResource" in stmt.body
    element = stmt.body.get("NotResource" if not_resource else "Resource", "*")
    parts: list[Partial] = []
    for pattern in _strings(element, stmt.where, "Resource"):
        # Policy variables (${aws:username} …) resolve from the context or stay pending.
        text, pending = substitute_variables(pattern, call.context)
        if text is None:
            parts.append(Partial(Tri.MAYBE, pending))
        else:
            parts.append(Partial.of(arn_matches(text, call.request.resource_arn)))
    hit = any_of(parts)
    return _negate(hit) if not_resource else hit


def _principal_applies(stmt: _Statement, call: _Call) -> Grant | None:
    try:
        if "NotPrincipal" in stmt.body:
            if not stmt.allow and call.has_boundary and call.principal.is_iam:
                # Permissions boundaries: a Deny with NotPrincipal "will always deny any IAM
                # principal that has a permissions boundary policy attached".
                return Grant.ANYONE
            return None if excluded_by(stmt.body["NotPrincipal"], call.principal) else Grant.ANYONE
        return _match_principal(stmt.body["Principal"], call.principal)
    except ValueError as err:
        raise PolicyDocumentError(f"{stmt.where}: {err}") from err


def _apply(stmt: _Statement, call: _Call, with_principal: bool) -> _Applied:
    grant = _principal_applies(stmt, call) if with_principal else None
    if with_principal and grant is None:
        return _Applied(stmt, NO)
    if not _action_applies(stmt, call):
        return _Applied(stmt, NO, grant)
    resource = _resource_applies(stmt, call)
    if resource.state is Tri.NO:
        return _Applied(stmt, NO, grant)
    condition = evaluate_conditions(stmt.body.get("Condition"), call.context)
    return _Applied(stmt, all_of((resource, condition)), grant)


# --- policies -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Policy:
    label: str
    applied: tuple[_Applied, ...]

    def allows(self, grants: frozenset[Grant] | None = None) -> _Verdict:
        """Allow statements that apply (optionally only those naming the caller by `grants`)."""
        verdicts = [
            _Verdict(a.part, (f"{a.statement.where}: Allow",))
            for a in self.applied
            if a.statement.allow
            and a.part.state is not Tri.NO
            and (grants is None or a.grant in grants)
        ]
        nothing = _Verdict(NO, (f"{self.label}: no Allow statement applies",))
        return _either(*verdicts) if verdicts else nothing

    def denies(self) -> list[_Verdict]:
        return [
            _Verdict(a.part, (f"{a.statement.where}: Deny",))
            for a in self.applied
            if not a.statement.allow and a.part.state is not Tri.NO
        ]


def _load(doc: Policy, label: str, call: _Call, with_principal: bool) -> _Policy:
    statements = _parse(doc, label, with_principal)
    return _Policy(label, tuple(_apply(s, call, with_principal) for s in statements))


def _any_policy(policies: Sequence[_Policy], empty: str) -> _Verdict:
    if not policies:
        return _Verdict(NO, (empty,))
    return _either(*(p.allows() for p in policies))


@dataclass(frozen=True, slots=True)
class _Loaded:
    identity: tuple[_Policy, ...]
    resource: _Policy | None
    boundary: _Policy | None
    scps: tuple[tuple[_Policy, ...], ...]
    rcps: tuple[tuple[_Policy, ...], ...]


def _resource_kind(request: Request, policies: PolicySet) -> str:
    if policies.resource_is_kms_key:
        return "key policy"
    if _is_trust(request):
        return "trust policy"
    return "resource policy"


def _is_trust(request: Request) -> bool:
    parts = request.resource_arn.split(":")
    is_role = ":role/" in request.resource_arn and len(parts) > 2 and parts[2] == "iam"
    return is_role and request.action.lower() in _TRUST_ACTIONS


def _levels(
    levels: Sequence[Sequence[Policy]], kind: str, call: _Call, principal: bool
) -> tuple[tuple[_Policy, ...], ...]:
    return tuple(
        tuple(
            _load(doc, _policy_label(f"{kind} level {n}", doc, i), call, principal)
            for i, doc in enumerate(level)
        )
        for n, level in enumerate(levels)
    )


def _load_all(request: Request, policies: PolicySet, call: _Call) -> _Loaded:
    # Every policy is parsed (and so validated) before anything is decided.
    resource = policies.resource
    kind = _resource_kind(request, policies)
    return _Loaded(
        identity=tuple(
            _load(doc, _policy_label("identity policy", doc, i), call, False)
            for i, doc in enumerate(policies.identity)
        ),
        resource=None if resource is None else _load(resource, kind, call, True),
        boundary=None
        if policies.boundary is None
        else _load(policies.boundary, "permissions boundary", call, False),
        scps=_levels(policies.scps, "SCP", call, False),
        rcps=_levels(policies.rcps, "RCP", call, True),
    )


def _scps_apply(principal: Principal) -> bool:
    # Organizations: "SCPs don't affect service-linked roles"; they restrict IAM principals only.
    return principal.is_iam and not principal.is_service_linked_role


def _gate(levels: Sequence[Sequence[_Policy]], kind: str) -> _Verdict:
    """Organizations policies: every level from root to account must allow (AND of ORs)."""
    verdicts = [
        _any_policy(level, f"{kind} level {n}: no policy attached")
        for n, level in enumerate(levels)
    ]
    return _both(*verdicts) if verdicts else _OPEN


# --- identity side and resource side -----------------------------------------------------------

_DIRECT = frozenset({Grant.DIRECT})
_BOUNDED = frozenset({Grant.ROLE, Grant.ANYONE})
_DELEGATED = frozenset({Grant.ACCOUNT})


def _identity_side(loaded: _Loaded, principal: Principal) -> _Verdict:
    """Identity policies ∩ permissions boundary ("Permissions boundaries for IAM entities")."""
    if principal.kind == "root":
        return _Verdict(YES, ("account root user: full identity permissions in its account",))
    if not principal.is_iam:
        return _Verdict(NO, (f"{principal.arn}: a service or provider has no identity policy",))
    identity = _any_policy(loaded.identity, "identity policies: none given")
    return _both(identity, _boundary(loaded, principal))


def _boundary(loaded: _Loaded, principal: Principal) -> _Verdict:
    if loaded.boundary is None or principal.kind == "root":
        return _OPEN
    return loaded.boundary.allows()


def _no_resource_policy(kind: str) -> _Verdict:
    return _Verdict(NO, (f"{kind}: none given",))


def _same_account(loaded: _Loaded, principal: Principal, resource_must_allow: bool) -> _Verdict:
    """ "Determining whether a request is allowed or denied within an account".

    A resource policy naming the caller's own ARN (user, role session) allows on its own: "an
    implicit deny in a permissions boundary does not limit the permissions granted to an IAM
    user [or role session] by a resource-based policy". Naming the role ARN (or `*`) is still
    limited by the boundary. Naming the account delegates to identity policies. Key policies
    and role trust policies must allow; other resource policies need not.
    """
    resource = loaded.resource
    identity = _identity_side(loaded, principal)
    if resource is None:
        return _no_resource_policy("key or trust policy") if resource_must_allow else identity
    direct = resource.allows(_DIRECT)
    bounded = _both(resource.allows(_BOUNDED), _boundary(loaded, principal))
    if not principal.is_iam:
        return _either(direct, resource.allows(_BOUNDED))
    if resource_must_allow:
        return _either(direct, bounded, _both(resource.allows(_DELEGATED), identity))
    return _either(direct, bounded, identity)


def _cross_account(loaded: _Loaded, principal: Principal) -> _Verdict:
    """ "Cross-account policy evaluation logic": the identity side and the resource policy of the
    trusting account must both allow."""
    if loaded.resource is None:
        return _no_resource_policy("resource policy (cross-account)")
    resource = loaded.resource.allows()
    if not principal.is_iam:
        return resource
    return _both(resource, _identity_side(loaded, principal))


def _resource_account(request: Request) -> str | None:
    if request.resource_account:
        return request.resource_account
    parts = request.resource_arn.split(":")
    return parts[4] if len(parts) > 5 and parts[4].isdigit() else None


def _granted(
    request: Request, policies: PolicySet, loaded: _Loaded, principal: Principal
) -> _Verdict:
    must_allow = policies.resource_is_kms_key or _is_trust(request)
    same = _same_account(loaded, principal, must_allow)
    account = _resource_account(request)
    if not principal.is_iam or account == principal.account:
        return same
    cross = _cross_account(loaded, principal)
    if account is not None or cross.state is same.state:
        return cross
    return _Verdict(Partial(Tri.MAYBE, ("resource_account",)), (*same.reasons, *cross.reasons))


# --- entry point --------------------------------------------------------------------------------


def _context(request: Request, principal: Principal) -> RequestContext:
    derived: dict[str, str | bool | Sequence[str]] = {}
    if principal.is_iam:
        derived["aws:PrincipalArn"] = principal.role_arn or principal.arn
        derived["aws:PrincipalAccount"] = principal.account
        derived["aws:PrincipalIsAWSService"] = False
    account = _resource_account(request)
    if account:
        derived["aws:ResourceAccount"] = account
    known = {k: v for k, v in derived.items() if lookup(request.context, k) is None}
    return {**known, **request.context}


def evaluate(request: Request, policies: PolicySet) -> Evaluation:
    """Decide `request` under `policies`; raises PolicyDocumentError for a malformed policy."""
    principal = Principal.parse(request.principal_arn, request.principal_account)
    call = _Call(request, principal, _context(request, principal), policies.boundary is not None)
    loaded = _load_all(request, policies, call)
    scps = loaded.scps if _scps_apply(principal) else ()
    denies = [d for p in _deny_sources(loaded, scps) for d in p.denies()]
    certain = [d for d in denies if d.state is Tri.YES]
    if certain:
        return Evaluation(Decision.EXPLICIT_DENY, _join(certain))
    granted = _granted(request, policies, loaded, principal)
    allow = _both(_gate(loaded.rcps, "RCP"), _gate(scps, "SCP"), granted)
    return _decide(allow, denies)


def _deny_sources(loaded: _Loaded, scps: Sequence[Sequence[_Policy]]) -> list[_Policy]:
    optional = [p for p in (loaded.resource, loaded.boundary) if p is not None]
    levels = [p for level in (*scps, *loaded.rcps) for p in level]
    return [*loaded.identity, *optional, *levels]


def _decide(allow: _Verdict, open_denies: Sequence[_Verdict]) -> Evaluation:
    if allow.state is Tri.NO:
        return Evaluation(Decision.IMPLICIT_DENY, allow.reasons)
    if allow.state is Tri.YES and not open_denies:
        return Evaluation(Decision.ALLOW, allow.reasons)
    opened = [allow, *open_denies] if allow.state is Tri.MAYBE else list(open_denies)
    pending = tuple(dict.fromkeys(k for v in opened for k in v.part.pending))
    reasons = _join([*open_denies, allow])
    return Evaluation(Decision.CONDITIONAL, reasons, pending)
