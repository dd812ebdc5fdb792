"""What changed between audits: findings opened, reopened and fixed, and resources that moved.

Pure functions over a `Store`.  Only runs that are complete *and* checked count as history:
an incomplete run holds a partial inventory and an unchecked run holds no verdicts, so letting
either in would show findings as fixed (and break their streaks) when nothing was fixed.

Cost: `compare` and `finding_history` call `Store.findings` once for every counted run up to
the later run, so the work grows with runs x findings per run.  Of the earlier runs only the
finding keys (and, for `finding_history`, one letter per finding of the current run) are kept,
never whole findings.  Nearly all the time goes to `Store.findings` building full findings
(about 40 ms per run of 2,000 findings, so 30 runs take over a second); a store query returning
keys and statuses alone would make this several times cheaper once databases hold many runs.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from enum import StrEnum

from auditor.errors import StoreError, UsageError
from auditor.model import Finding, Kind, Resource, Severity, Status
from auditor.store import RUN_COMPLETE, RunInfo, Store

Key = tuple[str, str]
"""A finding's identity across runs: (check_id, resource uid)."""


class Resolution(StrEnum):
    """Why a finding that failed in the earlier run no longer fails in the later one."""

    PASS = "pass"  # noqa: S105 - a verdict, not a password
    UNKNOWN = "unknown"  # judged, but the evidence could not be read
    RESOURCE_REMOVED = "resource_removed"  # the resource is gone from the inventory
    NOT_CHECKED = "not_checked"  # the resource is still there but no verdict was given


class HistoryLabel(StrEnum):
    """Where a finding of a run stands against the runs before it."""

    NEW = "new"
    PERSISTING = "persisting"
    REOPENED = "reopened"
    WAIVED = "waived"
    PASSING = "passing"
    UNKNOWN = "unknown"


@dataclass(frozen=True, slots=True)
class FindingDelta:
    """One finding in a section of the diff (new, reopened, persisting or resolved)."""

    check_id: str
    resource: str
    severity: Severity
    title: str
    message: str
    # Waived in the later run; for a resolved finding, in the earlier run.
    waived: bool
    # First run of the unbroken FAIL streak: ending at the later run for open findings, at the
    # earlier run for resolved ones.
    since_run: int
    since_at: str
    # Days open for new, reopened and persisting findings; time to fix for resolved ones.
    days: int
    # Resolved findings only: what the later run said instead of FAIL.
    resolution: Resolution | None = None
    # Reopened findings only: the last run before the later one in which it failed.
    last_failed_run: int | None = None


@dataclass(frozen=True, slots=True)
class WaiverChange:
    """A finding failing in both runs whose waiver state differs between them."""

    check_id: str
    resource: str
    severity: Severity
    # WaiverMark.state ("waived", "expired", "refused") in each run; None means no waiver.
    before: str | None
    after: str | None


@dataclass(frozen=True, slots=True)
class ResourceRef:
    """A resource added or removed between the runs."""

    uid: str
    kind: Kind
    name: str
    account: str | None
    region: str | None
    jurisdiction: str | None


@dataclass(frozen=True, slots=True)
class ValueChange:
    """A value before and after; None means absent or unknown."""

    before: str | None
    after: str | None


@dataclass(frozen=True, slots=True)
class TagChange:
    key: str
    before: str | None
    after: str | None


@dataclass(frozen=True, slots=True)
class ResourceChange:
    """A resource in both runs whose tags, attributes, region or jurisdiction differ."""

    uid: str
    kind: Kind
    name: str
    tags: tuple[TagChange, ...]
    # Names only: attribute values may hold policies, endpoints or secrets.
    attrs: tuple[str, ...]
    region: ValueChange | None
    jurisdiction: ValueChange | None


@dataclass(frozen=True, slots=True)
class AuditDiff:
    """Everything that changed from `run_a` to `run_b`; each section is sorted worst first."""

    run_a: RunInfo
    run_b: RunInfo
    new: tuple[FindingDelta, ...]
    reopened: tuple[FindingDelta, ...]
    persisting: tuple[FindingDelta, ...]
    resolved: tuple[FindingDelta, ...]
    waiver_changes: tuple[WaiverChange, ...]
    added: tuple[ResourceRef, ...]
    removed: tuple[ResourceRef, ...]
    changed: tuple[ResourceChange, ...]

    @property
    def policy_changed(self) -> bool:
        """Findings may come and go because the policy changed, not the cloud."""
        return self.run_a.policy_sha256 != self.run_b.policy_sha256


@dataclass(frozen=True, slots=True)
class FindingHistory:
    """How one finding of a run got there, for a status history in the report."""

    label: HistoryLabel
    # Earliest counted run that recorded this finding with any status (the run itself if none).
    first_seen_run: int
    first_seen_at: str
    # First run of the unbroken FAIL streak ending at this run; None unless it fails now.
    failing_since_run: int | None
    failing_since_at: str | None
    days_open: int | None
    # One letter per run of `counted_runs(store, run)`, oldest first, this run last:
    # F fail, W fail but waived, P pass, U unknown, - not recorded.
    timeline: str


# runs ---------------------------------------------------------------------------------------


def counted_runs(store: Store, upto: RunInfo | None = None) -> list[RunInfo]:
    """The runs history is made of: complete and checked, oldest first, up to `upto`."""
    return [r for r in store.runs() if _counts(r) and (upto is None or r.id <= upto.id)]


def select_runs(
    store: Store, run_a: int | None = None, run_b: int | None = None
) -> tuple[RunInfo, RunInfo]:
    """The two runs to compare: by default the last two counted runs.

    With only `run_a`, it is compared with the latest counted run; with only `run_b`, the
    counted run just before it is the earlier one.
    """
    history = counted_runs(store)
    if run_a is None and run_b is None and len(history) < 2:
        raise StoreError(
            f"{store.path}: holds {len(history)} complete, checked run(s); diff needs two "
            "(run `govaudit audit` again)"
        )
    a = _counted_run(store, run_a) if run_a is not None else None
    b = _counted_run(store, run_b) if run_b is not None else None
    if b is None:
        later = [r for r in history if a is None or r.id > a.id]
        if not later:
            assert a is not None
            raise UsageError(f"run {a.id} is the latest checked run: nothing newer to compare")
        b = later[-1]
    if a is None:
        earlier = [r for r in history if r.id < b.id]
        if not earlier:
            raise UsageError(f"run {b.id} is the first checked run: nothing older to compare")
        a = earlier[-1]
    if a.id >= b.id:
        raise UsageError(f"RUN_A ({a.id}) must be older than RUN_B ({b.id})")
    return a, b


def _counts(run: RunInfo) -> bool:
    return run.status == RUN_COMPLETE and run.checked_at is not None


def _counted_run(store: Store, run_id: int) -> RunInfo:
    run = store.get_run(run_id)
    _require_counted(run)
    return run


def _require_counted(run: RunInfo) -> None:
    if run.status != RUN_COMPLETE:
        raise UsageError(f"run {run.id} is incomplete (its collection did not finish)")
    if run.checked_at is None:
        raise UsageError(f"run {run.id} has not been checked yet: run `govaudit check` first")


def days_between(start: str, end: str) -> int:
    """Whole days from one run's timestamp to another's."""
    # Clocks of two machines may disagree; a negative age would only confuse.
    return max(0, (_instant(end) - _instant(start)).days)


def _instant(stamp: str) -> datetime:
    moment = datetime.fromisoformat(stamp)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _key(finding: Finding) -> Key:
    return (finding.check_id, finding.resource)


def _failing(findings: Iterable[Finding]) -> set[Key]:
    return {_key(f) for f in findings if f.status is Status.FAIL}


def _worst_first(item: FindingDelta | WaiverChange) -> tuple[int, str, str]:
    return (-item.severity.rank, item.check_id, item.resource)


# compare --------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Streaks:
    at_a: dict[Key, RunInfo]  # A's failing keys -> first run of their streak
    at_b: dict[Key, RunInfo]
    last_failed: dict[Key, RunInfo]  # every key failed before B -> the last run it failed in


def _streaks(
    store: Store, a: RunInfo, b: RunInfo, fails_a: set[Key], fails_b: set[Key]
) -> _Streaks:
    # One pass, oldest first, holding only the previous run's streaks: each run's findings
    # are read once and dropped (A's were already read by the caller).
    streak: dict[Key, RunInfo] = {}
    at_a: dict[Key, RunInfo] = {}
    last_failed: dict[Key, RunInfo] = {}
    for run in counted_runs(store, b):
        if run.id == b.id:
            break
        fails = fails_a if run.id == a.id else _failing(store.findings(run.id))
        streak = {k: streak.get(k, run) for k in fails}
        last_failed.update(dict.fromkeys(fails, run))
        if run.id == a.id:
            at_a = streak
    at_b = {k: streak.get(k, b) for k in fails_b}
    return _Streaks(at_a, at_b, last_failed)


def compare(store: Store, run_a: RunInfo, run_b: RunInfo) -> AuditDiff:
    """What changed from `run_a` to the later `run_b`; both must be complete and checked."""
    _require_counted(run_a)
    _require_counted(run_b)
    if run_a.id >= run_b.id:
        raise UsageError(f"RUN_A ({run_a.id}) must be older than RUN_B ({run_b.id})")
    findings_a = {_key(f): f for f in store.findings(run_a.id)}
    findings_b = {_key(f): f for f in store.findings(run_b.id)}
    fails_a, fails_b = _failing(findings_a.values()), _failing(findings_b.values())
    streaks = _streaks(store, run_a, run_b, fails_a, fails_b)
    resources_a = {r.uid: r for r in store.resources(run_a.id)}
    resources_b = {r.uid: r for r in store.resources(run_b.id)}

    def opened(key: Key) -> FindingDelta:
        since = streaks.at_b[key]
        return _delta(findings_b[key], since, days_between(since.started_at, run_b.started_at))

    new, reopened, persisting = [], [], []
    for key in fails_b:
        if key in fails_a:
            persisting.append(opened(key))
        elif key in streaks.last_failed:
            delta = opened(key)
            reopened.append(replace(delta, last_failed_run=streaks.last_failed[key].id))
        else:
            new.append(opened(key))
    resolved = []
    for key in fails_a - fails_b:
        since = streaks.at_a[key]
        why = _resolution(findings_b.get(key), key[1], resources_a, resources_b)
        delta = _delta(findings_a[key], since, days_between(since.started_at, run_b.started_at))
        resolved.append(replace(delta, resolution=why))
    added, removed, changed = _resource_changes(resources_a, resources_b)
    return AuditDiff(
        run_a=run_a,
        run_b=run_b,
        new=tuple(sorted(new, key=_worst_first)),
        reopened=tuple(sorted(reopened, key=_worst_first)),
        persisting=tuple(sorted(persisting, key=_worst_first)),
        resolved=tuple(sorted(resolved, key=_worst_first)),
        waiver_changes=_waiver_changes(findings_a, findings_b, fails_a & fails_b),
        added=added,
        removed=removed,
        changed=changed,
    )


def _delta(finding: Finding, since: RunInfo, days: int) -> FindingDelta:
    return FindingDelta(
        check_id=finding.check_id,
        resource=finding.resource,
        severity=finding.severity,
        title=finding.title,
        message=finding.message,
        waived=finding.waived,
        since_run=since.id,
        since_at=since.started_at,
        days=days,
    )


def _resolution(
    later: Finding | None,
    uid: str,
    resources_a: Mapping[str, Resource],
    resources_b: Mapping[str, Resource],
) -> Resolution:
    if later is not None:
        return Resolution.PASS if later.status is Status.PASS else Resolution.UNKNOWN
    # Some findings name things that are not inventoried (an account, a policy statement);
    # their absence from B's inventory says nothing about removal.
    if uid in resources_a and uid not in resources_b:
        return Resolution.RESOURCE_REMOVED
    return Resolution.NOT_CHECKED


def _waiver_changes(
    findings_a: Mapping[Key, Finding], findings_b: Mapping[Key, Finding], both: set[Key]
) -> tuple[WaiverChange, ...]:
    changes = []
    for key in both:
        before, after = findings_a[key].waiver, findings_b[key].waiver
        state_a = before.state if before else None
        state_b = after.state if after else None
        if state_a != state_b:
            severity = findings_b[key].severity
            changes.append(WaiverChange(key[0], key[1], severity, state_a, state_b))
    return tuple(sorted(changes, key=_worst_first))


def _resource_changes(
    before: Mapping[str, Resource], after: Mapping[str, Resource]
) -> tuple[tuple[ResourceRef, ...], tuple[ResourceRef, ...], tuple[ResourceChange, ...]]:
    added = tuple(_ref(after[uid]) for uid in sorted(after.keys() - before.keys()))
    removed = tuple(_ref(before[uid]) for uid in sorted(before.keys() - after.keys()))
    changed = []
    for uid in sorted(before.keys() & after.keys()):
        change = _resource_change(before[uid], after[uid])
        if change is not None:
            changed.append(change)
    return added, removed, tuple(changed)


def _ref(r: Resource) -> ResourceRef:
    return ResourceRef(r.uid, r.kind, r.name, r.account, r.region, r.jurisdiction)


def _resource_change(a: Resource, b: Resource) -> ResourceChange | None:
    tags = tuple(
        TagChange(k, a.tags.get(k), b.tags.get(k))
        for k in sorted(a.tags.keys() | b.tags.keys())
        if a.tags.get(k) != b.tags.get(k)
    )
    attrs = tuple(
        k
        for k in sorted(a.attrs.keys() | b.attrs.keys())
        if k not in a.attrs or k not in b.attrs or a.attrs[k] != b.attrs[k]
    )
    region = ValueChange(a.region, b.region) if a.region != b.region else None
    place = a.jurisdiction != b.jurisdiction
    jurisdiction = ValueChange(a.jurisdiction, b.jurisdiction) if place else None
    if not (tags or attrs or region or jurisdiction):
        return None
    return ResourceChange(b.uid, b.kind, b.name, tags, attrs, region, jurisdiction)


# finding history ------------------------------------------------------------------------------


def _letter(finding: Finding | None) -> str:
    if finding is None:
        return "-"
    if finding.status is Status.FAIL:
        return "W" if finding.waived else "F"
    return "P" if finding.status is Status.PASS else "U"


def finding_history(store: Store, run: RunInfo) -> dict[Key, FindingHistory]:
    """For each finding of `run`: its label, when it was first seen and its timeline.

    The timeline's letters line up with `counted_runs(store, run)`.
    """
    _require_counted(run)
    current = {_key(f): f for f in store.findings(run.id)}
    letters: dict[Key, list[str]] = {k: [] for k in current}
    first_seen: dict[Key, RunInfo] = {}
    ever_failed: set[Key] = set()
    streak: dict[Key, RunInfo] = {}
    previous_fails: set[Key] = set()
    for past in counted_runs(store, run):
        if past.id == run.id:
            break
        # Keys of the current run only: the rest of an old run cannot show in this report.
        seen = {k: f for f in store.findings(past.id) if (k := _key(f)) in current}
        for key in current:
            letters[key].append(_letter(seen.get(key)))
        for key in seen:
            first_seen.setdefault(key, past)
        previous_fails = _failing(seen.values())
        streak = {k: streak.get(k, past) for k in previous_fails}
        ever_failed |= previous_fails
    history = {}
    for key, finding in current.items():
        label = _label(finding, key in previous_fails, key in ever_failed)
        since = streak.get(key, run) if finding.status is Status.FAIL else None
        seen_first = first_seen.get(key, run)
        history[key] = FindingHistory(
            label=label,
            first_seen_run=seen_first.id,
            first_seen_at=seen_first.started_at,
            failing_since_run=since.id if since else None,
            failing_since_at=since.started_at if since else None,
            days_open=days_between(since.started_at, run.started_at) if since else None,
            timeline="".join(letters[key]) + _letter(finding),
        )
    return history


def _label(finding: Finding, failed_last_run: bool, failed_before: bool) -> HistoryLabel:
    if finding.status is Status.PASS:
        return HistoryLabel.PASSING
    if finding.status is Status.UNKNOWN:
        return HistoryLabel.UNKNOWN
    if finding.waived:
        return HistoryLabel.WAIVED
    if failed_last_run:
        return HistoryLabel.PERSISTING
    return HistoryLabel.REOPENED if failed_before else HistoryLabel.NEW
