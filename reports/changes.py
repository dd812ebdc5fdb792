"""The report's "changes since the last audit" section, from `auditor.history.compare`."""

from __future__ import annotations

import statistics
from dataclasses import dataclass

from auditor.history import AuditDiff, FindingDelta, Resolution
from auditor.model import Finding, Status
from auditor.reports.sections import finding_anchor

# A section lists the worst this many; the counts and `govaudit diff` give the rest.
SHOWN = 50


@dataclass(frozen=True, slots=True)
class Change:
    delta: FindingDelta
    # The finding's anchor in this report ("" for resolved findings, which it no longer lists).
    anchor: str


@dataclass(frozen=True, slots=True)
class Changes:
    previous_run: int
    previous_at: str
    policy_changed: bool
    counts: dict[str, int]
    new: tuple[Change, ...]
    reopened: tuple[Change, ...]
    resolved: tuple[Change, ...]
    # Median days from first failure to the fix, over findings resolved to PASS.
    median_days_to_fix: float | None
    resources_added: int
    resources_removed: int
    resources_changed: int


def build_changes(diff: AuditDiff | None) -> Changes | None:
    if diff is None:
        return None
    fixed = [d.days for d in diff.resolved if d.resolution is Resolution.PASS]
    return Changes(
        previous_run=diff.run_a.id,
        previous_at=diff.run_a.started_at,
        policy_changed=diff.policy_changed,
        counts={
            "new": len(diff.new),
            "reopened": len(diff.reopened),
            "resolved": len(diff.resolved),
            "persisting": len(diff.persisting),
        },
        new=tuple(Change(d, _anchor(d)) for d in diff.new[:SHOWN]),
        reopened=tuple(Change(d, _anchor(d)) for d in diff.reopened[:SHOWN]),
        resolved=tuple(Change(d, "") for d in diff.resolved[:SHOWN]),
        median_days_to_fix=statistics.median(fixed) if fixed else None,
        resources_added=len(diff.added),
        resources_removed=len(diff.removed),
        resources_changed=len(diff.changed),
    )


def _anchor(delta: FindingDelta) -> str:
    return finding_anchor(Finding(delta.check_id, Status.FAIL, delta.severity, delta.resource, ""))
