"""Waivers: risks a committee accepted, for a time, on the record.

A waiver names a check, a resource pattern (a glob over the resource's uid), a reason, an
approver, a ticket and an expiry.  It never hides a finding: a waived finding stays FAIL in
every output, marked waived with the days left.  An expired waiver re-opens the finding; a
waiver whose approver may not approve findings that severe, or that lacks a reason or ticket,
or runs longer than the policy allows, is refused.  RSP-012 reports every waiver's state.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import date

from auditor.model import Finding, Kind, Resource, Severity, Status, WaiverMark
from auditor.policy import Policy, Waiver


def matches(waiver: Waiver, finding: Finding) -> bool:
    return waiver.check == finding.check_id and fnmatch.fnmatchcase(
        finding.resource, waiver.resource
    )


def allowed_approvers(policy: Policy, severity: Severity) -> frozenset[str] | None:
    """Who may approve a waiver of findings this severe: the approvers listed for the severity
    or any higher one.  None when the policy names no approvers at all (any named approver)."""
    if not policy.waiver_approvers:
        return None
    allowed: set[str] = set()
    for level in Severity:
        if level.rank >= severity.rank:
            allowed |= policy.waiver_approvers.get(level.value, frozenset())
    return frozenset(allowed)


def problems(waiver: Waiver, policy: Policy, today: date, severity: Severity) -> list[str]:
    """Why this waiver may not waive a finding of `severity` today; empty when it may."""
    found = []
    if waiver.expires is not None and waiver.expires < today:
        found.append(f"expired on {waiver.expires.isoformat()}")
    if waiver.approved_on is not None and waiver.approved_on > today:
        found.append(f"approved_on {waiver.approved_on.isoformat()} is in the future")
    if not waiver.reason.strip():
        found.append("no reason given")
    if not waiver.ticket.strip():
        found.append("no ticket given")
    if not waiver.approver.strip():
        found.append("no approver given")
    else:
        allowed = allowed_approvers(policy, severity)
        if allowed is not None and waiver.approver not in allowed:
            found.append(f"approver {waiver.approver} may not approve {severity.value} findings")
        person = policy.people.get(waiver.approver)
        if person is not None and person.status != "active":
            found.append(f"approver {waiver.approver} has left")
    if waiver.approved_on and waiver.expires:
        span = (waiver.expires - waiver.approved_on).days
        if span > policy.waiver_max_days:
            found.append(f"runs {span} days, longer than waiver_policy.max_days")
    return found


def days_left(waiver: Waiver, today: date) -> int | None:
    return (waiver.expires - today).days if waiver.expires else None


def mark(waiver: Waiver, policy: Policy, today: date, severity: Severity) -> WaiverMark:
    found = problems(waiver, policy, today, severity)
    expired = waiver.expires is not None and waiver.expires < today
    state = "waived" if not found else ("expired" if expired and len(found) == 1 else "refused")
    return WaiverMark(
        state=state,
        ticket=waiver.ticket,
        approver=waiver.approver,
        reason=waiver.reason,
        expires=waiver.expires.isoformat() if waiver.expires else "",
        days_left=days_left(waiver, today),
        note="; ".join(found),
    )


def apply_waivers(findings: Iterable[Finding], policy: Policy, today: date) -> list[Finding]:
    """Mark each failing finding with the waiver that matches it (the first valid one wins;
    otherwise the first that matches, so an expired or refused waiver is visible)."""
    result = []
    for finding in findings:
        if finding.status is not Status.FAIL or not policy.waivers:
            result.append(finding)
            continue
        marks = [
            mark(w, policy, today, finding.severity) for w in policy.waivers if matches(w, finding)
        ]
        valid = [m for m in marks if m.state == "waived"]
        chosen = valid[0] if valid else (marks[0] if marks else None)
        result.append(replace(finding, waiver=chosen) if chosen else finding)
    return result


@dataclass(frozen=True, slots=True)
class WaiverReview:
    """One waiver of the policy and what it does in this audit."""

    waiver: Waiver
    resource: Resource
    covered: tuple[Finding, ...]
    problems: tuple[str, ...]


def review(
    policy: Policy, findings: Sequence[Finding], today: date, default_severity: dict[str, Severity]
) -> list[WaiverReview]:
    """Judge every waiver against the failing findings it matches (for RSP-012)."""
    reviews = []
    for index, waiver in enumerate(policy.waivers):
        covered = tuple(f for f in findings if f.status is Status.FAIL and matches(waiver, f))
        # The approver must be entitled for the most severe finding the waiver covers.
        severities = [f.severity for f in covered] or [
            default_severity.get(waiver.check, Severity.MEDIUM)
        ]
        worst = max(severities, key=lambda s: s.rank)
        reviews.append(
            WaiverReview(
                waiver,
                waiver_resource(waiver, index, policy),
                covered,
                tuple(problems(waiver, policy, today, worst)),
            )
        )
    return reviews


def waiver_resource(waiver: Waiver, index: int, policy: Policy) -> Resource:
    """A waiver as a node the report can list: it lives in the policy file, not a cloud."""
    name = waiver.ticket or f"waiver {index + 1}"
    return Resource(
        uid=f"waiver:{index + 1}:{waiver.check}:{waiver.resource}",
        provider="policy",
        kind=Kind.WAIVER,
        native_type="policy:waiver",
        name=name,
        attrs={"where": waiver.where, "policy": policy.path},
    )
