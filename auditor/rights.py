"""Rights granted by identity policies, evaluated the way AWS evaluates them, as graph edges. Pure.

The adapters turn resource policies into rights edges (`policy_rights`); this module adds the
other half: what IAM users and roles may do on the data of their own account because of their
identity policies, decided by the offline evaluator `auditor.access.evaluate`.

For each IAM user and role (provider aws):
- identity policies: its inline documents, its attached managed policies (the `iam:policy`
  resources of the inventory) and, for users, the inline and attached policies of their groups.
  An attached policy (or group) missing from the inventory is left out, named in the evidence
  and logged: the principal's rights are then a lower bound.
- its permissions boundary, if any (missing from the inventory: not applied, said so);
- the SCP levels of its account, root → OUs → account, from the organizations resources, and
  the RCP levels likewise. No organisation data, an incomplete chain or a missing document: no
  SCPs are passed and the evidence says "SCPs not inventoried" (or why they are incomplete).
  The management account is not restricted by SCPs or RCPs.

For each data resource (`DATA_KINDS` and KMS keys) of the SAME account, and each right
(`can_read`, `can_write`, `can_admin`, `can_decrypt`), the concrete actions of the resource's
service in `ACTION_RIGHTS` are evaluated with the resource's own policy (`attrs["policy"]`),
S3 object actions on `<bucket ARN>/*`, and an empty request context: a condition on any key is
CONDITIONAL, never silently true. One edge per (principal, resource, right) when some action is
ALLOW, else when some is CONDITIONAL (then `conditions={"pending": [keys]}`). Cross-account
access stays with the resource-policy edges the adapters already emit.

Delegation: a same-account role whose trust policy names the account root delegates to identity
policies; every other user or role of the account whose policies allow `sts:AssumeRole` on it
gets a `can_assume` edge (trust policy evaluated as the resource policy).

Evidence names the deciding statements, the action and what was evaluated, e.g.
"identity policy 'read-all', statement #0 allows s3:GetObject on arn:aws-cn:s3:::b/*
(evaluated: identity ∩ boundary ∩ 2 SCP levels ∩ resource policy)".

A principal whose documents are malformed (or whose SCPs are) is skipped with one warning naming
the policy; a malformed resource policy is left out of the evaluation of that resource (one
warning, and the evidence says so). Nothing here raises on a cloud string.

Complexity. With P principals and R data resources in an account, S the statements of one
principal's policy set and A ≤ 33 the table actions of one service:
- indexing is O(resources); principals of an account without data are not looked at; each
  principal's candidate actions are computed once per service (O(S · A)), each resource's
  from its own policy once (O(S_res · A));
- the prefilter is O(P · R) set unions: a pair is evaluated only when some Allow statement of
  the identity policies, or an Allow of the resource policy that can name an IAM principal by
  itself (not only an account, which delegates back to the identity policies), matches an
  action of the resource's service. The filter is sound: an action no Allow statement names
  can never be allowed. Most pairs (a role for Lambda, a bucket and a key policy that only
  delegates to the account) are skipped without evaluation;
- each evaluated pair costs at most A evaluations (and stops at the first ALLOW per right), each
  O(S) as the evaluator re-reads the policy set per request.
So O(P · R + E · A · S) for E pairs passing the prefilter; E is P · R only when every principal
holds `*`-style actions on every service. `python -m auditor.rights [principals] [resources]`
times a synthetic account (1 role in 20 holding `*`); on a 2-core machine 200 × 400 pairs took
24,400 evaluations and 1.5 s, 1,000 × 2,000 took 602,000 evaluations and 34 s (about 55 µs
each), nearly all of them for edges that are then emitted.
"""

from __future__ import annotations

import bisect
import dataclasses
import json
import logging
import re
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from auditor.access import Decision, Evaluation, PolicyDocumentError, PolicySet, Request, evaluate
from auditor.inventories.aws.policy_rights import (
    ACTION_RIGHTS,
    granted_actions,
    load_document,
    normalise_principals,
)
from auditor.inventories.aws.policy_rights import (
    PolicyDocumentError as _LoadError,
)
from auditor.model import DATA_KINDS, Edge, Kind, Relation, Resource

__all__ = ["identity_rights"]

log = logging.getLogger(__name__)

Policy = Mapping[str, Any]

TARGET_KINDS = DATA_KINDS | {Kind.KEY}
RIGHTS_EVALUATED = (
    Relation.CAN_READ,
    Relation.CAN_WRITE,
    Relation.CAN_ADMIN,
    Relation.CAN_DECRYPT,
    Relation.CAN_SHARE,
)
SCP = "SERVICE_CONTROL_POLICY"
RCP = "RESOURCE_CONTROL_POLICY"
ASSUME = "sts:AssumeRole"

# S3 actions that act on objects: requested on `<bucket ARN>/*`, not on the bucket.
S3_OBJECT_ACTIONS = frozenset(
    {
        "s3:GetObject",
        "s3:GetObjectVersion",
        "s3:GetObjectAttributes",
        "s3:GetObjectVersionAttributes",
        "s3:GetObjectTorrent",
        "s3:GetObjectVersionTorrent",
        "s3:GetObjectVersionForReplication",
        "s3:ListMultipartUploadParts",
        "s3:PutObject",
        "s3:DeleteObject",
        "s3:DeleteObjectVersion",
        "s3:RestoreObject",
        "s3:AbortMultipartUpload",
        "s3:ReplicateObject",
        "s3:ReplicateDelete",
        "s3:PutObjectRetention",
        "s3:PutObjectLegalHold",
        "s3:PutObjectAcl",
        "s3:PutObjectVersionAcl",
    }
)


def _by_service() -> dict[str, dict[Relation, tuple[str, ...]]]:
    table: dict[str, dict[Relation, list[str]]] = {}
    for action, rights in ACTION_RIGHTS:
        for right in rights:
            table.setdefault(action.split(":", 1)[0], {}).setdefault(right, []).append(action)
    return {s: {r: tuple(a) for r, a in by_right.items()} for s, by_right in table.items()}


# service → right → its table actions, in table order (the most telling first).
_ACTIONS = _by_service()


# --- documents ---------------------------------------------------------------------------------


def _document(raw: object, label: str, what: str = "identity policy") -> Policy:
    """A stored document (dict, JSON or URL-encoded JSON), labelled for the evaluator's reasons.

    The evaluator names a policy by its `Id`; the copy carries the inventory's name there.
    `what` names the policy in the error raised when the document is not a JSON object.
    """
    try:
        doc = load_document(raw) if isinstance(raw, str | Mapping) else raw
    except _LoadError as err:
        raise PolicyDocumentError(f"{what} {label!r}: {err}") from err
    if not isinstance(doc, Mapping):
        raise PolicyDocumentError(f"{what} {label!r}: a policy must be a JSON object")
    return {**doc, "Id": label}


def _statements(doc: Policy) -> list[Mapping[str, Any]]:
    raw = doc.get("Statement", [])
    listed = [raw] if isinstance(raw, Mapping) else raw if isinstance(raw, list) else []
    return [s for s in listed if isinstance(s, Mapping)]


def _names_no_resource(doc: Policy) -> bool:
    return all(
        "NotResource" not in stmt and _strings(stmt.get("Resource", "*")) == ("*",)
        for stmt in _statements(doc)
    )


def _strings(value: object) -> tuple[str, ...]:
    if isinstance(value, str):
        return (value,)
    return tuple(v for v in value if isinstance(v, str)) if isinstance(value, list) else ()


def _allowed(statement: Mapping[str, Any], service: str) -> frozenset[str]:
    """Table actions of `service` an Allow statement names (by Action or NotAction)."""
    if statement.get("Effect") != "Allow":
        return frozenset()
    not_action = "NotAction" in statement
    patterns = _strings(statement.get("NotAction" if not_action else "Action"))
    return granted_actions(patterns, service, not_action)


def _names_iam_principal(statement: Mapping[str, Any]) -> bool:
    """Whether a resource-policy statement can grant an IAM principal without its identity
    policies: it names an ARN or `*` (or uses NotPrincipal), not only accounts or services."""
    if "NotPrincipal" in statement:
        return True
    try:
        named = normalise_principals(statement.get("Principal"))
    except (AttributeError, TypeError):
        return True  # let the evaluator judge (and reject) it
    prefixes = ("account:", "service:", "federated:", "canonical:")
    return any(not uid.startswith(prefixes) for uid in named)


def _trusts_account(doc: Policy, account: str) -> bool:
    """Whether a trust policy lets the account root (its identity policies) assume the role."""
    for statement in _statements(doc):
        if ASSUME not in _allowed(statement, "sts"):
            continue
        try:
            named = normalise_principals(statement.get("Principal"))
        except (AttributeError, TypeError):
            continue
        if f"account:{account}" in named:
            return True
    return False


def _probe(principal_arn: str, account: str, policies: PolicySet) -> None:
    """Validate every document of `policies` the way the evaluator does (it parses all first)."""
    evaluate(Request(principal_arn, account, "sts:GetCallerIdentity", "*", account), policies)


# --- the organisation --------------------------------------------------------------------------


@dataclass(frozen=True)
class _Levels:
    """Organisation policy levels of one account for one policy type, or why there are none."""

    levels: tuple[tuple[Policy, ...], ...] = ()
    note: str = ""


class _Organisation:
    """Roots, OUs, accounts and SCP/RCP documents from the organizations resources."""

    def __init__(self, resources: Sequence[Resource]) -> None:
        self.nodes: dict[str, Resource] = {}
        self.accounts: dict[str, Resource] = {}
        self.policies: dict[str, Resource] = {}
        for r in resources:
            if r.native_type in ("organizations:root", "organizations:ou"):
                self.nodes[str(r.attrs.get("id"))] = r
            elif r.native_type == "organizations:account":
                self.accounts[str(r.attrs.get("id"))] = r
            elif r.native_type == "organizations:policy":
                self.policies[r.uid] = r
        self._cache: dict[tuple[str, str], _Levels] = {}

    def levels(self, account: str, policy_type: str) -> _Levels:
        key = (account, policy_type)
        if key not in self._cache:
            self._cache[key] = self._levels(account, policy_type)
        return self._cache[key]

    def _chain(self, account: str) -> list[Resource] | str:
        """The account and its parents up to the root, or why they cannot be followed."""
        node = self.accounts.get(account)
        if node is None:
            return "not inventoried"
        chain = [node]
        parent = node.attrs.get("parent")
        while parent:
            found = self.nodes.get(str(parent))
            if found is None or found in chain:
                return f"incomplete: parent {parent} not inventoried"
            chain.append(found)
            parent = found.attrs.get("parent")
        if chain[-1].native_type != "organizations:root":
            return "incomplete: no root above the account"
        return chain

    def _levels(self, account: str, policy_type: str) -> _Levels:
        kind = "SCPs" if policy_type == SCP else "RCPs"
        chain = self._chain(account)
        if isinstance(chain, str):
            # Without organisation data RCPs are as unknown as SCPs; one note says it.
            return _Levels(note=f"{kind} {chain}" if policy_type == SCP or self.accounts else "")
        if chain[0].attrs.get("management") is True:
            return _Levels(note=f"{kind} do not apply to the management account")
        enabled = chain[-1].attrs.get("policy_types_enabled")
        if isinstance(enabled, list) and policy_type not in enabled:
            return _Levels()
        levels: list[tuple[Policy, ...]] = []
        for node in reversed(chain):
            if node.attrs.get("policies_status", "read") != "read":
                return _Levels(note=f"{kind} incomplete: policies of {node.name} not read")
            docs: list[Policy] = []
            for arn in node.attrs.get("policies") or []:
                policy = self.policies.get(str(arn))
                if policy is None or policy.attrs.get("document") is None:
                    return _Levels(note=f"{kind} incomplete: {arn} not inventoried")
                if policy.attrs.get("type") == policy_type:
                    docs.append(_document(policy.attrs["document"], policy.name, "SCP or RCP"))
            levels.append(tuple(docs))
        return _Levels(tuple(levels))


# --- principals and targets --------------------------------------------------------------------


@dataclass
class _Principal:
    """One IAM user or role with the policy set every request of it is evaluated under."""

    uid: str
    account: str
    identity: tuple[Policy, ...]
    boundary: Policy | None
    scps: tuple[tuple[Policy, ...], ...]
    rcps: tuple[tuple[Policy, ...], ...]
    notes: tuple[str, ...]
    _candidates: dict[str, frozenset[str]] = field(default_factory=dict)
    # Decisions that cannot depend on the target's ARN, by (action, account, is_key).
    # The target evaluated first is kept: reasons name its policy (by uid) until relabelled.
    _decided: dict[tuple[str, str, bool, str], tuple[Evaluation, str]] = field(default_factory=dict)
    _arn_blind: bool | None = None

    def arn_blind(self) -> bool:
        """True when no statement of its policies names a resource (every Resource is "*").

        A target whose own policy names none either is then judged by its account, its policy
        and the action alone, so one evaluation answers for all such targets: what keeps
        admin roles over 100k resources from costing 100k evaluations each.
        """
        if self._arn_blind is None:
            docs = [*self.identity, *([self.boundary] if self.boundary else [])]
            docs += [d for level in (*self.scps, *self.rcps) for d in level]
            self._arn_blind = all(_names_no_resource(doc) for doc in docs)
        return self._arn_blind

    def allowed_resources(self) -> tuple[str, ...] | None:
        """Resource patterns of its identity Allow statements (None: one uses NotResource).

        Only identity policies grant in the principal's own account; boundaries, SCPs and
        RCPs only take away, so a target no pattern names is out of reach unless its own
        policy names the principal.
        """
        found: list[str] = []
        for doc in self.identity:
            for stmt in _statements(doc):
                if stmt.get("Effect") != "Allow":
                    continue
                if "NotResource" in stmt:
                    return None
                found.extend(_strings(stmt.get("Resource", "*")))
        return tuple(dict.fromkeys(found))

    def candidates(self, service: str) -> frozenset[str]:
        """Table actions of `service` some Allow statement of the identity policies names."""
        if service not in self._candidates:
            self._candidates[service] = frozenset[str]().union(
                *(_allowed(s, service) for doc in self.identity for s in _statements(doc))
            )
        return self._candidates[service]

    def policies(self, resource: Policy | None, is_key: bool = False) -> PolicySet:
        return PolicySet(self.identity, resource, self.boundary, self.scps, self.rcps, is_key)

    def scope(self) -> list[str]:
        parts = ["identity"]
        if self.boundary is not None:
            parts.append("boundary")
        if self.scps:
            parts.append(f"{len(self.scps)} SCP level{'s' if len(self.scps) != 1 else ''}")
        if self.rcps:
            parts.append(f"{len(self.rcps)} RCP level{'s' if len(self.rcps) != 1 else ''}")
        return parts


@dataclass(frozen=True)
class _Target:
    """A data resource or key with its own policy, ready for evaluation."""

    uid: str
    account: str
    service: str
    policy: Policy | None
    is_key: bool
    candidates: frozenset[str]  # actions its own policy may grant an IAM principal outright
    note: str = ""
    # Its policy as canonical text when the policy names no resource ("" without a policy):
    # targets with equal `blind_key` are judged alike by a principal that names none either.
    blind_key: str | None = ""
    # IAM users and roles its policy's Allow statements name (None: it may grant anyone).
    grantees: frozenset[str] | None = frozenset()

    def arn_for(self, action: str) -> str:
        return f"{self.uid}/*" if action in S3_OBJECT_ACTIONS else self.uid


def _service(uid: str) -> str | None:
    parts = uid.split(":", 5)
    return parts[2] if len(parts) == 6 and parts[0] == "arn" else None


def _account(r: Resource) -> str | None:
    if r.account:
        return r.account
    parts = r.uid.split(":", 5)
    return parts[4] if len(parts) == 6 and parts[4].isdigit() else None


def _resource_policy(r: Resource, account: str) -> tuple[Policy | None, str]:
    raw = r.attrs.get("policy")
    kind = "key policy" if r.kind is Kind.KEY else "resource policy"
    if not raw:
        status = r.attrs.get("policy_status")
        unread = status not in (None, "read", "none")
        return None, f"{kind} {status}: not evaluated" if unread else ""
    try:
        doc = _document(raw, r.uid, kind)
        root = f"arn:{r.partition or 'aws'}:iam::{account}:root"
        _probe(root, account, PolicySet((), doc, resource_is_kms_key=r.kind is Kind.KEY))
    except PolicyDocumentError as err:
        log.warning("%s of %s is malformed, evaluated without it: %s", kind, r.uid, err)
        return None, f"{kind} malformed: not evaluated"
    return doc, ""


def _target(r: Resource) -> _Target | None:
    service, account = _service(r.uid), _account(r)
    if r.provider != "aws" or r.kind not in TARGET_KINDS or account is None:
        return None
    if service is None or service not in _ACTIONS:
        return None
    policy, note = _resource_policy(r, account)
    grants = frozenset[str]().union(
        *(
            _allowed(s, service)
            for s in (_statements(policy) if policy else [])
            if _names_iam_principal(s)
        )
    )
    grantees = _grantees(policy) if policy else frozenset()
    blind_key = _blind_key(policy, r.uid)
    return _Target(
        r.uid, account, service, policy, r.kind is Kind.KEY, grants, note, blind_key, grantees
    )


def _blind_key(policy: Policy | None, uid: str) -> str | None:
    """The policy's meaning with the target's own ARN written as a placeholder, when every
    resource it names is "*" or starts with that ARN; else None.

    Requests about a target name only its ARN (or `ARN/*`), so two targets whose policies read
    the same up to their own ARN are decided alike by a principal whose policies name no
    resource: one evaluation answers for both (a public-read policy on 10k buckets).
    """
    if policy is None:
        return ""
    meaning = {k: v for k, v in policy.items() if k != "Id"}  # the Id is our label: the uid
    for statement in _statements(meaning):
        for element in ("Resource", "NotResource"):
            value = statement.get(element)
            if value is None:
                continue
            patterns = _strings(value)
            if not patterns or len(patterns) != (1 if isinstance(value, str) else len(value)):
                return None  # not strings: leave it to the evaluator, target by target
            if any(p != "*" and not p.startswith(uid) for p in patterns):
                return None
    text = json.dumps(meaning, sort_keys=True)
    return f"{uid.count(':')}:{text.replace(uid, chr(0) + 'SELF')}"


def _grantees(policy: Policy) -> frozenset[str] | None:
    """The IAM user and role ARNs a resource policy's Allow statements name; None when it
    cannot tell (NotPrincipal, a role session, a unique id, a wildcard, an unreadable block)."""
    named: set[str] = set()
    for statement in _statements(policy):
        if statement.get("Effect") != "Allow" or not _names_iam_principal(statement):
            continue
        if "NotPrincipal" in statement:
            return None
        try:
            uids = normalise_principals(statement.get("Principal"))
        except (AttributeError, TypeError, ValueError):
            return None
        for uid in uids:
            # Anyone's right is the one edge from "public:*" the adapter drew already: a
            # principal gets its own edge only when its identity policies name the target.
            if uid.startswith(("account:", "service:", "federated:", "canonical:", "public:")):
                continue
            if ":iam::" not in uid or not uid.startswith("arn:") or "*" in uid or "?" in uid:
                return None
            named.add(uid)
    return frozenset(named)


class _TargetIndex:
    """The targets of one account, sorted by ARN to find those a Resource pattern can name."""

    def __init__(self, targets: list[_Target]) -> None:
        self.targets = targets  # inventory order, which the edges keep
        self.position = {t.uid: n for n, t in enumerate(targets)}
        self.sorted = sorted(targets, key=lambda t: t.uid)
        self.uids = [t.uid for t in self.sorted]
        # Targets whose own policy may grant an IAM principal outright: by the principal it
        # names, or to any when it cannot tell (NotPrincipal, a session or unique id).
        self.open_to_any: list[_Target] = []
        self.granting: dict[str, list[_Target]] = {}
        for t in targets:
            if not t.candidates:
                continue
            if t.grantees is None:
                self.open_to_any.append(t)
            for uid in t.grantees or ():
                self.granting.setdefault(uid, []).append(t)

    def named_by(self, pattern: str) -> Iterator[_Target]:
        """Targets `pattern` may match: a superset, the evaluator decides.

        Every ARN a pattern matches starts with its text before the first wildcard or policy
        variable; an object pattern (`bucket/key*`) also names its bucket, whose object
        actions are evaluated on `bucket/*`.
        """
        prefix = re.split(r"[*?$]", pattern, maxsplit=1)[0]
        low = bisect.bisect_left(self.uids, prefix)
        high = bisect.bisect_left(self.uids, prefix + "\U0010ffff")
        yield from self.sorted[low:high]
        head = prefix.split("/", 1)[0]
        if head != prefix and head in self.position:
            yield self.targets[self.position[head]]

    def reachable(self, principal: _Principal) -> list[_Target]:
        """The targets whose rights are worth evaluating for `principal`: those an identity
        Allow names, and those whose own policy may name it."""
        patterns = principal.allowed_resources()
        if patterns is None or "*" in patterns:
            return self.targets
        chosen = {t.uid: t for t in self.open_to_any}
        chosen.update((t.uid, t) for t in self.granting.get(principal.uid, ()))
        for pattern in patterns:
            chosen.update((t.uid, t) for t in self.named_by(pattern))
        return sorted(chosen.values(), key=lambda t: self.position[t.uid])


class _Inventory:
    """The resources identity_rights reads, indexed once."""

    def __init__(self, resources: Mapping[str, Resource]) -> None:
        everything = list(resources.values())
        self.managed = {r.uid: r for r in everything if r.kind is Kind.IAM_POLICY}
        self.groups = {
            (_account(r), r.name): r
            for r in everything
            if r.kind is Kind.GROUP and r.provider == "aws"
        }
        self.principals = [
            r for r in everything if r.provider == "aws" and r.kind in (Kind.USER, Kind.ROLE)
        ]
        self.org = _Organisation(everything)
        # Every data resource or key with its policy, by uid; and indexed per account.
        self.targets = {t.uid: t for t in map(_target, everything) if t is not None}
        by_account: dict[str, list[_Target]] = {}
        for target in self.targets.values():
            by_account.setdefault(target.account, []).append(target)
        self.indexes = {account: _TargetIndex(ts) for account, ts in by_account.items()}
        self.trusting: dict[str, list[_Target]] = {}
        for r in self.principals:
            trusting = _trusting_role(r)
            if trusting is not None:
                self.trusting.setdefault(trusting.account, []).append(trusting)

    def attached(self, owner: Resource, prefix: str, missing: list[str]) -> list[Policy]:
        """Inline and attached managed documents of a user, role or group."""
        inline = owner.attrs.get("inline_policies")
        docs = [
            _document(doc, f"{prefix}{name}")
            for name, doc in (inline.items() if isinstance(inline, Mapping) else ())
        ]
        for arn in owner.attrs.get("attached_policies") or []:
            managed = self.managed.get(str(arn))
            if managed is None or managed.attrs.get("document") is None:
                missing.append(str(arn))
            else:
                docs.append(_document(managed.attrs["document"], f"{prefix}{managed.name}"))
        return docs

    def principal(self, r: Resource) -> _Principal:
        """The policy set of a user or role; raises PolicyDocumentError when one is malformed."""
        account = _account(r) or ""
        missing: list[str] = []
        docs = self.attached(r, "", missing)
        groups = r.attrs.get("groups") if r.kind is Kind.USER else None
        for name in groups or []:
            group = self.groups.get((account, str(name)))
            if group is None:
                missing.append(f"group {name}")
            else:
                docs += self.attached(group, f"group {name}: ", missing)
        notes = [f"attached policy {m} not inventoried: rights may be more" for m in missing]
        if missing:
            log.warning("rights of %s are incomplete, not inventoried: %s", r.uid, missing)
        boundary = None
        boundary_arn = r.attrs.get("permissions_boundary")
        if boundary_arn:
            managed = self.managed.get(str(boundary_arn))
            if managed is None or managed.attrs.get("document") is None:
                notes.append(f"permissions boundary {boundary_arn} not inventoried: not applied")
            else:
                boundary = _document(
                    managed.attrs["document"], managed.name, "permissions boundary"
                )
        scps, rcps = self.org.levels(account, SCP), self.org.levels(account, RCP)
        notes += [n for n in (scps.note, rcps.note) if n]
        found = _Principal(
            r.uid, account, tuple(docs), boundary, scps.levels, rcps.levels, tuple(notes)
        )
        _probe(r.uid, account, found.policies(None))
        return found


def _trusting_role(r: Resource) -> _Target | None:
    """A role whose trust policy delegates to its account's identity policies."""
    account = _account(r)
    trust = r.attrs.get("trust_policy")
    if r.kind is not Kind.ROLE or not trust or account is None:
        return None
    try:
        doc = _document(trust, r.uid, "trust policy")
        _probe(f"arn:{r.partition or 'aws'}:iam::{account}:root", account, PolicySet((), doc))
    except PolicyDocumentError as err:
        log.warning("trust policy of %s is malformed, skipped: %s", r.uid, err)
        return None
    if not _trusts_account(doc, account):
        return None
    # Trust decisions hang on the role's ARN: never share them between roles.
    return _Target(r.uid, account, "sts", doc, False, frozenset(), blind_key=None)


# --- evaluation --------------------------------------------------------------------------------


# Evidence lists the deciding statements from the principal outwards.
_REASON_ORDER = (
    "identity policy",
    "resource policy",
    "key policy",
    "trust policy",
    "permissions boundary",
    "SCP",
    "RCP",
)


def _reason_rank(reason: str) -> int:
    return next(
        (n for n, prefix in enumerate(_REASON_ORDER) if reason.startswith(prefix)),
        len(_REASON_ORDER),
    )


def _evidence(
    principal: _Principal, target: _Target, action: str, result: Evaluation, kind: str
) -> str:
    ordered = sorted(result.reasons, key=_reason_rank)
    reasons = " and ".join(r.removesuffix(": Allow") for r in ordered)
    arn = target.arn_for(action)
    if result.decision is Decision.ALLOW:
        verb = "allows" if len(result.reasons) == 1 else "allow"
        said = f"{reasons} {verb} {action} on {arn}"
    else:
        said = f"{reasons} may allow {action} on {arn}, pending {', '.join(result.pending)}"
    scope = principal.scope() + ([kind] if target.policy is not None else [])
    notes = [*principal.notes, *([target.note] if target.note else [])]
    return f"{said} (evaluated: {' ∩ '.join(scope)}{''.join(f'; {n}' for n in notes)})"


def _grant(
    principal: _Principal,
    target: _Target,
    relation: Relation,
    actions: Sequence[str],
    kind: str,
) -> Edge | None:
    """The edge for the first action ALLOWed, else for the first CONDITIONAL one, else None."""
    policies = principal.policies(target.policy, target.is_key)
    conditional: Edge | None = None
    blind = target.blind_key is not None and principal.arn_blind()
    for action in actions:
        key = (action, target.account, target.is_key, target.blind_key or "")
        known = principal._decided.get(key) if blind else None
        if known is not None:
            result = _relabelled(*known, target.uid)
        else:
            request = Request(
                principal.uid, principal.account, action, target.arn_for(action), target.account
            )
            result = evaluate(request, policies)
            if blind:
                principal._decided[key] = (result, target.uid)
        if result.decision is Decision.ALLOW:
            evidence = _evidence(principal, target, action, result, kind)
            return Edge(principal.uid, target.uid, relation, evidence)
        if result.decision is Decision.CONDITIONAL and conditional is None:
            evidence = _evidence(principal, target, action, result, kind)
            pending = {"pending": list(result.pending)}
            conditional = Edge(principal.uid, target.uid, relation, evidence, pending)
    return conditional


def _relabelled(result: Evaluation, first: str, uid: str) -> Evaluation:
    """A decision made for target `first`, with reasons naming `uid`'s policy instead."""
    if first == uid:
        return result
    old, new = repr(first), repr(uid)
    return dataclasses.replace(result, reasons=tuple(r.replace(old, new) for r in result.reasons))


def _rights_on(principal: _Principal, target: _Target) -> Iterator[Edge]:
    candidates = principal.candidates(target.service) | target.candidates
    if not candidates:
        return  # the prefilter: no Allow statement names an action of this service
    kind = "key policy" if target.is_key else "resource policy"
    for relation in RIGHTS_EVALUATED:
        table = _ACTIONS[target.service].get(relation, ())
        actions = [a for a in table if a in candidates]
        edge = _grant(principal, target, relation, actions, kind) if actions else None
        if edge is not None:
            yield edge


def _edges_of(principal: _Principal, inventory: _Inventory) -> Iterator[Edge]:
    index = inventory.indexes.get(principal.account)
    for target in index.reachable(principal) if index else ():
        yield from _rights_on(principal, target)
    if ASSUME not in principal.candidates("sts"):
        return
    for role in inventory.trusting.get(principal.account, ()):
        if role.uid != principal.uid:  # root delegation does not let a role assume itself
            edge = _grant(principal, role, Relation.CAN_ASSUME, [ASSUME], "trust policy")
            if edge is not None:
                yield edge


# The last inventory built, with the mapping it was built from (see `inventory_of`).
_LAST_INVENTORY: list[tuple[Mapping[str, Resource], int, _Inventory]] = []


def inventory_of(resources: Mapping[str, Resource]) -> _Inventory:
    """The inventory index of `resources`, built once per audit.

    The graph stage (rights, escalation) and two duty checks all read the same resources;
    at 100k resources each index costs seconds.  Reused only for the very same mapping
    object of the same size: the pipeline never changes it once read from the store.
    """
    if _LAST_INVENTORY:
        last, size, inventory = _LAST_INVENTORY[0]
        if last is resources and size == len(resources):
            return inventory
    inventory = _Inventory(resources)
    _LAST_INVENTORY[:] = [(resources, len(resources), inventory)]
    return inventory


def identity_rights(resources: Mapping[str, Resource]) -> Iterator[Edge]:
    """Rights edges that identity policies grant IAM users and roles in their own account.

    Pure: reads the resources only. A principal whose policies are malformed is skipped with
    one warning; nothing raises on a stored document.
    """
    inventory = inventory_of(resources)
    for r in inventory.principals:
        account = _account(r) or ""
        if account not in inventory.indexes and account not in inventory.trusting:
            continue  # nothing in its account to hold a right on
        try:
            principal = inventory.principal(r)
            edges = list(_edges_of(principal, inventory))
        except PolicyDocumentError as err:
            log.warning("rights of %s not evaluated, a policy is malformed: %s", r.uid, err)
            continue
        yield from edges


# --- timing ------------------------------------------------------------------------------------


def _synthetic(principals: int, stores: int) -> dict[str, Resource]:
    """One account: roles with a mix of identity policies (1 in 20 admin), buckets and keys."""
    account, found = "111111111111", {}
    shapes: list[dict[str, Any]] = [
        {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws-cn:s3:::b2*"},
        {"Effect": "Allow", "Action": ["kms:Decrypt", "kms:Encrypt"], "Resource": "*"},
        {"Effect": "Allow", "Action": "lambda:InvokeFunction", "Resource": "*"},
        {"Effect": "Allow", "Action": "ec2:Describe*", "Resource": "*"},
        {"Effect": "Allow", "Action": ["sqs:*", "sns:Publish"], "Resource": "*"},
    ]
    admin = {"Effect": "Allow", "Action": "*", "Resource": "*"}
    for n in range(principals):
        doc = {"Statement": [shapes[n % len(shapes)] if n % 20 else admin]}
        uid = f"arn:aws-cn:iam::{account}:role/r{n}"
        attrs = {"inline_policies": {"p": doc}, "attached_policies": []}
        found[uid] = Resource(uid, "aws", Kind.ROLE, "iam:role", f"r{n}", account, attrs=attrs)
    root = {"Effect": "Allow", "Principal": {"AWS": f"arn:aws-cn:iam::{account}:root"}}
    key_policy = {"Statement": [root | {"Action": "kms:*", "Resource": "*"}]}
    for n in range(stores):
        if n % 2:
            uid = f"arn:aws-cn:kms:cn-north-1:{account}:key/k{n}"
            attrs = {"policy": key_policy}
            found[uid] = Resource(uid, "aws", Kind.KEY, "kms:key", f"k{n}", account, attrs=attrs)
        else:
            uid = f"arn:aws-cn:s3:::b{n}"
            kind = Kind.OBJECT_STORE
            found[uid] = Resource(uid, "aws", kind, "s3:bucket", f"b{n}", account)
    return found


def _bench(argv: Sequence[str]) -> str:
    """Time identity_rights on a synthetic account; count the evaluations the prefilter let by."""
    principals, stores = (int(a) for a in (*argv, "200", "400")[:2])
    resources = _synthetic(principals, stores)
    calls = 0
    real = globals()["evaluate"]

    def counted(request: Request, policies: PolicySet) -> Evaluation:
        nonlocal calls
        calls += 1
        result: Evaluation = real(request, policies)
        return result

    globals()["evaluate"] = counted
    try:
        started = time.perf_counter()
        edges = sum(1 for _ in identity_rights(resources))
        seconds = time.perf_counter() - started
    finally:
        globals()["evaluate"] = real
    return (
        f"{principals} principals × {stores} resources ({principals * stores:,} pairs): "
        f"{calls:,} evaluations, {edges:,} edges in {seconds:.2f} s\n"
    )


if __name__ == "__main__":
    import sys

    sys.stdout.write(_bench(sys.argv[1:]))


# --- grants to other accounts --------------------------------------------------------------------

# The other account's own identity policies are out of sight: assume they allow, so the
# decision rests on the resource policy alone, as it does for a cross-account audit.
_THEIR_SIDE: Policy = {
    "Version": "2012-10-17",
    "Id": "their identity policies (out of sight, assumed to allow)",
    "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}],
}


def _outside_account(edge: Edge, owner: str) -> str | None:
    if edge.src.startswith("account:"):
        account = edge.src.removeprefix("account:")
    else:
        parts = edge.src.split(":")
        account = parts[4] if edge.src.startswith("arn:") and len(parts) > 4 else ""
    return account if account.isdigit() and account != owner else None


def confirm_outside_grants(
    resources: Mapping[str, Resource], edges: Iterable[Edge]
) -> Iterator[Edge]:
    """Re-decide, with the full evaluator, the rights resource policies give other accounts.

    The adapters read grants out of resource policies statement by statement; here each
    grant to another account is evaluated like AWS does (explicit deny, NotPrincipal,
    NotResource, conditions), the other side assumed to allow.  A grant the evaluator denies
    is dropped; one it can only allow under conditions keeps its edge, marked with the
    pending keys.  Every other edge passes through unchanged.
    """
    targets = inventory_of(resources).targets  # parsed once per audit, shared with the rest
    for edge in edges:
        target_resource = resources.get(edge.dst)
        if edge.relation not in RIGHTS_EVALUATED or target_resource is None:
            yield edge
            continue
        target = targets.get(edge.dst)
        account = _outside_account(edge, target.account) if target else None
        if target is None or target.policy is None or account is None:
            yield edge
            continue
        confirmed = _confirm(edge, target, account, target_resource.partition or "aws")
        if confirmed is None:
            log.info("dropped %s: the evaluator denies it", edge.evidence)
        else:
            yield confirmed


def _confirm(edge: Edge, target: _Target, account: str, partition: str) -> Edge | None:
    principal = (
        f"arn:{partition}:iam::{account}:root" if edge.src.startswith("account:") else edge.src
    )
    policies = PolicySet((_THEIR_SIDE,), target.policy, resource_is_kms_key=target.is_key)
    conditional: Edge | None = None
    for action in _ACTIONS[target.service].get(edge.relation, ()):
        request = Request(principal, account, action, target.arn_for(action), target.account)
        result = evaluate(request, policies)
        if result.decision is Decision.ALLOW:
            return edge
        if result.decision is Decision.CONDITIONAL and conditional is None:
            pending = sorted({*edge.conditions.get("pending", []), *result.pending})
            conditional = Edge(
                edge.src,
                edge.dst,
                edge.relation,
                edge.evidence,
                {**edge.conditions, "pending": pending},
            )
    return conditional
