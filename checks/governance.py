"""RSP-012: the governance of accepted risks (waivers) is itself audited."""

from __future__ import annotations

from collections.abc import Iterator

from auditor.checking import REGISTRY, CheckContext, CheckMeta, Result, Theme, check
from auditor.model import Severity, Status
from auditor.waivers import days_left, review


@check(
    CheckMeta(
        id="RSP-012",
        title="A waiver expired, was approved by someone not entitled, or lacks its paperwork",
        theme=Theme.RESPONSIBILITY,
        severity=Severity.MEDIUM,
        fails_when=(
            "a waiver in the policy has expired, is approved by a person not listed in "
            "waiver_policy.approvers for the severity of what it waives (or who has left), "
            "has no reason or ticket, or runs longer than waiver_policy.max_days"
        ),
        frameworks=(
            "GB/T 22239-2019 8.1.7.1",
            "DSL art. 27",
            "NIST 800-53 CA-5, PM-4",
        ),
        remediation=(
            "Fix the finding the waiver covers, or have an entitled approver renew the waiver "
            "with a reason, a ticket and an expiry within waiver_policy.max_days."
        ),
        reads_findings=True,
    )
)
def waiver_governance(ctx: CheckContext) -> Iterator[Result]:
    defaults = {check_id: c.meta.severity for check_id, c in REGISTRY.items()}
    for item in review(ctx.policy, ctx.findings, ctx.today, defaults):
        waiver = item.waiver
        label = f"waiver {item.resource.name} ({waiver.check} on {waiver.resource}, {waiver.where})"
        evidence = tuple(f"covers {f.check_id} on {f.resource}" for f in item.covered)
        if item.problems:
            reopened = " — the findings it covered are open again" if item.covered else ""
            message = f"{label}: {'; '.join(item.problems)}{reopened}"
            # An expired waiver over a live failing finding is an open risk nobody accepted.
            severity = Severity.HIGH if item.covered else None
            yield Result(item.resource, Status.FAIL, message, evidence, severity)
            continue
        left = days_left(waiver, ctx.today)
        until = f"until {waiver.expires.isoformat()} ({left} days left)" if waiver.expires else ""
        if item.covered:
            message = (
                f"{label} is in force {until}, approved by {waiver.approver}; "
                f"it waives {len(item.covered)} failing finding(s)"
            )
        else:
            message = (
                f"{label} is in force {until} but matches no failing finding: "
                "the risk may be fixed, retire the waiver"
            )
        yield Result(item.resource, Status.PASS, message, evidence)
