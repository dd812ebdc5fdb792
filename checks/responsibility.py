"""RSP: who is accountable for each resource, and whether outside parties still hold rights."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from auditor.checking import CheckContext, CheckMeta, Result, Theme, check
from auditor.checks.common import (
    account_label,
    account_of_principal,
    classification_of,
    own_resources,
    rights_unread,
    unknown,
    unreadable,
    weighted,
)
from auditor.duties import capabilities_of, persons_of
from auditor.graph import explain_path, who_can
from auditor.model import DATA_KINDS, RIGHTS, Kind, Relation, Resource, Severity, Status
from auditor.policy import TrustedParty

OWNED_KINDS = (*sorted(DATA_KINDS), Kind.KEY, Kind.ROLE, Kind.USER, Kind.FUNCTION, Kind.INSTANCE)
CONTRACT_WARNING_DAYS = 30


@check(
    CheckMeta(
        id="RSP-001",
        title="Resource without an accountable owner department",
        theme=Theme.RESPONSIBILITY,
        severity=Severity.MEDIUM,
        fails_when=(
            "a resource has no owner department after inheritance (resource tag, then the "
            "account's department in the policy), or names a department the policy does not know"
        ),
        frameworks=(
            "DSL art. 27, 39",
            "GB/T 22239-2019 8.1.7.1",
            "NIST 800-53 CM-8(4)",
        ),
        remediation=(
            "Tag the resource with its owner department (tag key from the policy) or assign the "
            "account to a department; enforce the tag with a tag policy and an SCP on create."
        ),
        cli=(
            "aws s3api put-bucket-tagging --bucket BUCKET "
            "--tagging 'TagSet=[{Key=owner-dept,Value=DEPT}]'"
        ),
    )
)
def resource_without_owner(ctx: CheckContext) -> Iterator[Result]:
    policy = ctx.policy
    for resource in own_resources(ctx, *OWNED_KINDS):
        severity = weighted(
            classification_of(ctx, resource).classification, Severity.HIGH, Severity.MEDIUM
        )
        tagged = resource.tags.get(policy.owner_tag)
        if tagged:
            dept = policy.department(tagged)
            if dept is not None:
                yield Result(
                    resource, Status.PASS, f"{resource.name} is owned by {dept.name} ({dept.id})"
                )
            else:
                message = (
                    f"{resource.name} names owner {policy.owner_tag}={tagged}, "
                    "which is not a department of the policy"
                )
                yield Result(resource, Status.FAIL, message, severity=severity)
            continue
        if missing := unreadable(resource, "tags"):
            yield unknown(resource, missing)
            continue
        yield _inherited_owner(ctx, resource, severity)


def _inherited_owner(ctx: CheckContext, resource: Resource, severity: Severity) -> Result:
    account = ctx.policy.accounts.get(resource.account or "")
    dept = ctx.policy.department(account.dept if account else None)
    if dept is not None and account is not None:
        message = (
            f"{resource.name} has no {ctx.policy.owner_tag} tag; "
            f"owned by {dept.name} through account {account.id}"
        )
        return Result(resource, Status.PASS, message)
    where = account_label(ctx, resource.account)
    message = (
        f"nobody is accountable for {resource.name}: "
        f"no {ctx.policy.owner_tag} tag and {where} has no department"
    )
    return Result(resource, Status.FAIL, message, severity=severity)


@check(
    CheckMeta(
        id="RSP-007",
        title="Vendor still holds rights after its contract expired",
        theme=Theme.RESPONSIBILITY,
        severity=Severity.CRITICAL,
        fails_when=(
            "a principal of a trusted party holds a right or can assume a role after the "
            "party's contract_expiry (critical), or within 30 days of it (medium)"
        ),
        frameworks=(
            "GB/T 22239-2019 8.1.8.4, 8.1.10.14, 8.2.6.1",
            "DSL art. 40",
            "NIST 800-53 PS-7",
            "SecNumCloud 3.2 9.7(d)",
        ),
        remediation=(
            "Revoke the party's grants and role trust on expiry, or record the renewed "
            "contract and its new expiry in trusted_accounts."
        ),
    )
)
def vendor_rights_after_contract(ctx: CheckContext) -> Iterator[Result]:
    for resource in own_resources(ctx, *DATA_KINDS, Kind.KEY, Kind.ROLE, Kind.FUNCTION):
        held = _vendor_rights(ctx, resource)
        if not held:
            continue
        expired = [h for h in held if h.days_left < 0]
        expiring = [h for h in held if 0 <= h.days_left <= CONTRACT_WARNING_DAYS]
        evidence = tuple(h.evidence for h in held)
        if expired:
            yield Result(resource, Status.FAIL, _describe(expired, resource), evidence)
        elif expiring:
            message = _describe(expiring, resource)
            yield Result(resource, Status.FAIL, message, evidence, Severity.MEDIUM)
        else:
            yield Result(resource, Status.PASS, _describe(held, resource), evidence)


@dataclass(frozen=True, slots=True)
class _VendorRight:
    party: TrustedParty
    right: str
    days_left: int
    evidence: str


def _vendor_rights(ctx: CheckContext, resource: Resource) -> list[_VendorRight]:
    relations = RIGHTS | {Relation.CAN_ASSUME}
    held = []
    for src, _, data in ctx.graph.in_edges(resource.uid, data=True):
        party = ctx.policy.trusted_party(account_of_principal(ctx, src) or "")
        if data["relation"] in relations and party and party.contract_expiry:
            days_left = (party.contract_expiry - ctx.today).days
            held.append(_VendorRight(party, data["relation"].value, days_left, data["evidence"]))
    return held


def _describe(held: list[_VendorRight], resource: Resource) -> str:
    parts = []
    for party in sorted({h.party for h in held}, key=lambda p: p.account):
        rights = ", ".join(sorted({h.right for h in held if h.party == party}))
        lapsed = any(h.days_left < 0 for h in held if h.party == party)
        verb = "expired on" if lapsed else "runs until"
        when = f"contract {party.contract or '(unnamed)'} {verb} {party.contract_expiry}"
        parts.append(f"{party.org} ({party.account}; {when}) holds {rights}")
    return f"{'; '.join(parts)} on {resource.name}"


@check(
    CheckMeta(
        id="RSP-005",
        title="Someone other than the audit administrators can alter audit logs",
        theme=Theme.RESPONSIBILITY,
        severity=Severity.HIGH,
        fails_when=(
            "a principal that is not listed in roles.audit_admins (nor a cloud service) can "
            "write to or administer a trail, or a bucket or log group a trail delivers to, "
            "directly or through roles it can assume"
        ),
        frameworks=(
            "GB/T 22239-2019 8.1.4.3(c) 保护审计记录",
            "NIST 800-53 AU-9(4)",
            "SecNumCloud 3.2 7.1(b)",
            "CIS AWS Foundations 5.0 4.5",
        ),
        remediation=(
            "Keep trail and log-archive rights to the audit administrator role: deny trail "
            "changes and log deletion to everyone else with an SCP, and turn on Object Lock."
        ),
    )
)
def logs_alterable_by_others(ctx: CheckContext) -> Iterator[Result]:
    for target in _audit_log_stores(ctx):
        others = []
        # Who may write is read off identity policies: of the store's account, and of every
        # own account the store's policy grants to as a whole.
        accounts: set[str] = set()
        for relation in (Relation.CAN_WRITE, Relation.CAN_ADMIN):
            for grant in who_can(ctx.graph, target.uid, relation):
                if grant.principal.startswith("account:"):
                    accounts.add(grant.principal.removeprefix("account:"))
                if _may_alter_logs(ctx, grant.principal):
                    continue
                others.append((grant.principal, explain_path(ctx.graph, grant.path)))
        blind = rights_unread(ctx, target, accounts)
        if not others and blind:
            message = f"who can alter {target.name} is not known: {'; '.join(blind)}"
            yield Result(target, Status.UNKNOWN, message)
        elif others:
            who = sorted({p for p, _ in others})
            message = (
                f"{len(who)} principal(s) outside the audit administrators can alter "
                f"{target.name}: {', '.join(who[:5])}"
            )
            evidence = tuple(line for _, lines in others for line in lines)
            yield Result(target, Status.FAIL, message, evidence)
        else:
            yield Result(target, Status.PASS, f"only audit administrators can alter {target.name}")


def _audit_log_stores(ctx: CheckContext) -> list[Resource]:
    """Trails, and the buckets and log groups trails deliver to."""
    stores = {}
    for trail in own_resources(ctx, Kind.TRAIL):
        stores[trail.uid] = trail
        for _, dst, data in ctx.graph.out_edges(trail.uid, data=True):
            if data["relation"] == Relation.DELIVERS_LOGS_TO and dst in ctx.resources:
                stores[dst] = ctx.resources[dst]
    return [stores[uid] for uid in sorted(stores)]


def _may_alter_logs(ctx: CheckContext, principal: str) -> bool:
    # A cloud service delivering logs, and the account as a whole (which only says "whoever
    # its identity policies allow": those principals are judged one by one), are not people.
    if principal.startswith(("service:", "account:")):
        return principal.startswith("service:") or ctx.policy.is_own_account(principal[8:])
    return principal in ctx.policy.audit_admins


@check(
    CheckMeta(
        id="RSP-004",
        title="Duties that must be separated sit with one person",
        theme=Theme.RESPONSIBILITY,
        severity=Severity.HIGH,
        fails_when=(
            "one person (through the IAM users tagged with their id and every role those users "
            "can assume) holds two or more capabilities of a roles.sod_rules set, such as "
            "system, security and audit administration (三员分立)"
        ),
        frameworks=(
            "GB/T 22239-2019 8.1.7.1, 8.1.5.1-3, 8.1.4.2(d)",
            "NIST 800-53 AC-5",
            "SecNumCloud 3.2 6.2",
        ),
        remediation=(
            "Split the capabilities over separate roles assumed by different people, and "
            "record who holds which in the policy."
        ),
    )
)
def duties_in_one_hand(ctx: CheckContext) -> Iterator[Result]:
    rules = ctx.policy.sod_rules
    if not rules:
        return
    held = capabilities_of(ctx.resources, ctx.policy.capabilities)
    per_person: dict[str, dict[str, str]] = {person: {} for person in ctx.policy.people}
    for principal, capabilities in held.items():
        persons = persons_of(ctx.graph, ctx.resources, principal, ctx.policy.person_tag)
        for person, via in persons.items():
            for name, evidence in capabilities.items():
                acting = "" if via == principal else f" (acting through {via})"
                per_person.setdefault(person, {}).setdefault(name, evidence + acting)
    for person, capabilities in sorted(per_person.items()):
        subject = Resource(f"person:{person}", "policy", Kind.USER, "policy:person", person)
        broken = [
            (rule.id, sorted(set(rule.exclusive) & set(capabilities)))
            for rule in rules
            if len(set(rule.exclusive) & set(capabilities)) >= 2
        ]
        if broken:
            parts = [f"{rule} ({', '.join(caps)})" for rule, caps in broken]
            proof = tuple(capabilities[c] for _, caps in broken for c in caps)
            message = f"person {person} holds duties that must be separated: {'; '.join(parts)}"
            yield Result(subject, Status.FAIL, message, proof)
        else:
            held_text = ", ".join(sorted(capabilities)) or "no listed capability"
            yield Result(subject, Status.PASS, f"person {person} holds {held_text}")
