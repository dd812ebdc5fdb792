"""Pure builders of the report's sections: plain data from findings, coverage and the run.

Nothing here does I/O or knows about Jinja; templates only lay out what these functions return,
so every count, order and chart coordinate on the page is unit-tested here.
"""

from __future__ import annotations

import hashlib
import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from auditor.checking import CheckMeta, Theme
from auditor.compliance import Framework, RequirementStatus, compliance
from auditor.model import Coverage, Finding, Kind, Outcome, Severity, Status, WaiverMark
from auditor.reports.i18n import N_, SOURCE, Language

if TYPE_CHECKING:
    from auditor.history import FindingHistory
    from auditor.reports.render import ReportInput

# FAIL first, because it is what the committee must act on; UNKNOWN next, because it is a gap
# in what we could see, not a pass.
STATUS_ORDER = (Status.FAIL, Status.UNKNOWN, Status.PASS)
SEVERITY_ORDER = tuple(sorted(Severity, key=lambda s: s.rank, reverse=True))
UNTHEMED = "other"

# Labels are English msgids, marked for extraction; render.py shows them in the report's
# language (Language.labels), so these builders stay pure and testable in the source text.
STATUS_LABELS: dict[str, str] = {
    Status.FAIL: N_("FAIL"),
    Status.UNKNOWN: N_("UNKNOWN"),
    Status.PASS: N_("PASS"),
}
HISTORY_LABELS = {
    "new": N_("NEW"),
    "persisting": N_("PERSISTING"),
    "reopened": N_("REOPENED"),
    "waived": N_("WAIVED"),
    "passing": N_("PASSING"),
    "unknown": N_("UNKNOWN"),
}
CHANGE_LABELS = {
    "new": N_("New"),
    "reopened": N_("Reopened"),
    "resolved": N_("Resolved"),
    "persisting": N_("Persisting"),
}
WAIVER_LABELS = {
    "waived": N_("WAIVED"),
    "expired": N_("WAIVER EXPIRED"),
    "refused": N_("WAIVER REFUSED"),
}
SEVERITY_LABELS = {
    Severity.CRITICAL: N_("Critical"),
    Severity.HIGH: N_("High"),
    Severity.MEDIUM: N_("Medium"),
    Severity.LOW: N_("Low"),
    Severity.INFO: N_("Info"),
}
THEME_LABELS = {
    Theme.SOVEREIGNTY.value: N_("Sovereignty"),
    Theme.FLOW.value: N_("Data flow"),
    Theme.KEY.value: N_("Key custody"),
    Theme.ACCESS.value: N_("Access"),
    Theme.RESPONSIBILITY.value: N_("Responsibility"),
    Theme.LOG.value: N_("Logging"),
    UNTHEMED: N_("Other"),
}
OUTCOME_LABELS = {
    Outcome.OK: N_("ok"),
    Outcome.DENIED: N_("access denied"),
    Outcome.NOT_ENABLED: N_("not enabled"),
    Outcome.THROTTLED: N_("throttled"),
    Outcome.ERROR: N_("error"),
    Outcome.UNSUPPORTED: N_("unsupported"),
}
FRAMEWORK_STATUS_LABELS: dict[str, str] = {
    **STATUS_LABELS,
    "MANUAL": N_("MANUAL"),
    "NOT_COVERED": N_("NOT COVERED"),
}
KIND_LABELS: dict[str, str] = {
    Kind.OBJECT_STORE: N_("Object store"),
    Kind.VOLUME: N_("Volume"),
    Kind.SNAPSHOT: N_("Snapshot"),
    Kind.IMAGE: N_("Machine image"),
    Kind.DATABASE: N_("Database"),
    Kind.QUEUE: N_("Queue"),
    Kind.TOPIC: N_("Topic"),
    Kind.LOG_GROUP: N_("Log group"),
    Kind.BACKUP_VAULT: N_("Backup vault"),
    Kind.REPOSITORY: N_("Container repository"),
    Kind.SECRET: N_("Secret"),
    Kind.KEY: N_("Key"),
    Kind.INSTANCE: N_("Instance"),
    Kind.FUNCTION: N_("Function"),
    Kind.NETWORK: N_("Network"),
    Kind.FIREWALL: N_("Security group"),
    Kind.TRAIL: N_("Audit trail"),
    Kind.BACKUP_PLAN: N_("Backup plan"),
    Kind.ENDPOINT: N_("External endpoint"),
    Kind.USER: N_("User"),
    Kind.ROLE: N_("Role"),
    Kind.GROUP: N_("Group"),
    Kind.ACCOUNT: N_("Cloud account"),
    Kind.PUBLIC: N_("Anyone (public)"),
    Kind.SERVICE: N_("Cloud service"),
    Kind.FEDERATED: N_("Federated identity"),
    Kind.ORG_UNIT: N_("Organisational unit"),
    Kind.ORG_POLICY: N_("Organisation policy"),
    Kind.IAM_POLICY: N_("Identity policy"),
    Kind.WAIVER: N_("Waiver"),
}


# header -------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Header:
    organisation: str
    run_id: int
    run_status: str
    run_complete: bool
    started_at: str
    finished_at: str
    tool_version: str
    policy_path: str
    policy_sha256: str
    region_table_version: str
    accounts: tuple[str, ...]
    regions: tuple[str, ...]
    generated_at: str
    run_digest: str = ""
    findings: int = 0
    # Services read fully, out of all attempted (account x region x service).
    coverage_ok: int = 0
    coverage_total: int = 0


def build_header(data: ReportInput) -> Header:
    """Describe which run this report is about and how far it got."""
    run = data.run
    return Header(
        organisation=data.organisation,
        run_id=run.id,
        run_status=run.status,
        run_complete=run.status == "complete",
        started_at=run.started_at,
        finished_at=run.finished_at or "",
        tool_version=run.tool_version,
        policy_path=data.policy_path or run.policy_path,
        policy_sha256=run.policy_sha256,
        region_table_version=data.region_table_version,
        accounts=tuple(run.accounts),
        regions=tuple(run.regions),
        generated_at=data.generated_at,
        run_digest=data.run_digest,
        findings=len(data.findings),
        coverage_ok=sum(1 for c in data.coverage if c.outcome is Outcome.OK),
        coverage_total=len(data.coverage),
    )


# summary ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Count:
    key: str
    label: str
    value: int


@dataclass(frozen=True, slots=True)
class Bar:
    key: str
    label: str
    value: int
    x: float
    y: float
    width: float
    height: float
    label_x: float
    value_x: float
    text_y: float


@dataclass(frozen=True, slots=True)
class BarChart:
    width: int
    height: int
    bars: tuple[Bar, ...]


@dataclass(frozen=True, slots=True)
class Summary:
    status_totals: tuple[Count, ...]
    fail_by_severity: tuple[Count, ...]
    fail_by_theme: tuple[Count, ...]
    inventory: tuple[Count, ...]
    severity_chart: BarChart
    theme_chart: BarChart


def count_by_status(findings: Iterable[Finding], lang: Language = SOURCE) -> tuple[Count, ...]:
    """Totals of FAIL, UNKNOWN and PASS, in that order, zeros included."""
    counts = Counter(f.status for f in findings)
    return tuple(Count(s.value, lang.gettext(STATUS_LABELS[s]), counts[s]) for s in STATUS_ORDER)


def fail_count_by_severity(
    findings: Iterable[Finding], lang: Language = SOURCE
) -> tuple[Count, ...]:
    """FAIL findings per severity, worst first; `info` only when some exist."""
    counts = Counter(f.severity for f in findings if f.status is Status.FAIL)
    return tuple(
        Count(s.value, lang.gettext(SEVERITY_LABELS[s]), counts[s])
        for s in SEVERITY_ORDER
        if s is not Severity.INFO or counts[s]
    )


def fail_count_by_theme(
    findings: Iterable[Finding], checks: Sequence[CheckMeta] = (), lang: Language = SOURCE
) -> tuple[Count, ...]:
    """FAIL findings per theme, in catalog order, then any theme the catalog does not know."""
    themes = theme_of_checks(checks)
    counts = Counter(finding_theme(f, themes) for f in findings if f.status is Status.FAIL)
    known = [t.value for t in Theme]
    extra = sorted(k for k in counts if k not in known)
    return tuple(
        Count(k, lang.gettext(THEME_LABELS[k]) if k in THEME_LABELS else k, counts[k])
        for k in [*known, *extra]
    )


def inventory_counts(
    resource_counts: Mapping[str, int], lang: Language = SOURCE
) -> tuple[Count, ...]:
    """Resources inventoried per kind, largest first."""
    ordered = sorted(resource_counts.items(), key=lambda kv: (-kv[1], kv[0]))
    return tuple(
        Count(kind, lang.gettext(KIND_LABELS[kind]) if kind in KIND_LABELS else kind, n)
        for kind, n in ordered
    )


def bar_chart(
    counts: Sequence[Count],
    *,
    width: int = 420,
    label_width: int = 150,
    bar_height: int = 18,
    gap: int = 8,
) -> BarChart:
    """Lay out a horizontal bar chart: bar length is proportional to the largest count."""
    # Room to the right of the longest bar for its number.
    value_room = 36
    track = width - label_width - value_room
    largest = max((c.value for c in counts), default=0)
    bars = []
    for index, count in enumerate(counts):
        y = gap + index * (bar_height + gap)
        length = track * count.value / largest if largest else 0.0
        bars.append(
            Bar(
                key=count.key,
                label=count.label,
                value=count.value,
                x=label_width,
                y=y,
                width=round(length, 1),
                height=bar_height,
                label_x=label_width - 6,
                value_x=round(label_width + length + 4, 1),
                text_y=round(y + bar_height * 0.72, 1),
            )
        )
    height = gap + len(counts) * (bar_height + gap)
    return BarChart(width=width, height=height, bars=tuple(bars))


def build_summary(
    findings: Sequence[Finding],
    checks: Sequence[CheckMeta] = (),
    resource_counts: Mapping[str, int] | None = None,
    lang: Language = SOURCE,
) -> Summary:
    """Count findings the way a risk committee reads them: failures by severity and theme."""
    by_severity = fail_count_by_severity(findings, lang)
    by_theme = fail_count_by_theme(findings, checks, lang)
    return Summary(
        status_totals=count_by_status(findings, lang),
        fail_by_severity=by_severity,
        fail_by_theme=by_theme,
        inventory=inventory_counts(resource_counts or {}, lang),
        severity_chart=bar_chart(by_severity),
        theme_chart=bar_chart(by_theme),
    )


# coverage -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CoverageRow:
    provider: str
    account: str
    region: str
    service: str
    outcome: str
    detail: str
    ok: bool
    duration_ms: int = 0
    api_calls: int = 0


@dataclass(frozen=True, slots=True)
class CoverageSection:
    rows: tuple[CoverageRow, ...]
    gaps: int


def build_coverage(coverage: Iterable[Coverage]) -> CoverageSection:
    """List every collection, gaps first, since their checks can only say UNKNOWN."""
    rows = sorted(
        (
            CoverageRow(
                provider=c.provider,
                account=c.account,
                region=c.region,
                service=c.service,
                outcome=c.outcome.value,
                detail=c.detail,
                ok=c.outcome is Outcome.OK,
                duration_ms=c.duration_ms,
                api_calls=c.api_calls,
            )
            for c in coverage
        ),
        key=lambda r: (r.ok, r.account, r.region, r.service, r.provider),
    )
    return CoverageSection(rows=tuple(rows), gaps=sum(not r.ok for r in rows))


# checks -------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CheckRow:
    id: str
    title: str
    fails_when: str
    theme: str
    severity: str
    frameworks: tuple[str, ...]
    fail: int
    unknown: int
    passed: int


def build_check_rows(
    checks: Sequence[CheckMeta], findings: Sequence[Finding]
) -> tuple[CheckRow, ...]:
    """One row per check run, with how its verdicts split; a row of zeros had nothing in scope."""
    counts = Counter((f.check_id, f.status) for f in findings)
    return tuple(
        CheckRow(
            id=meta.id,
            title=meta.title,
            fails_when=meta.fails_when,
            theme=meta.theme.value,
            severity=meta.severity.value,
            frameworks=meta.frameworks,
            fail=counts[meta.id, Status.FAIL],
            unknown=counts[meta.id, Status.UNKNOWN],
            passed=counts[meta.id, Status.PASS],
        )
        for meta in sorted(checks, key=lambda m: m.id)
    )


# findings -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class FindingView:
    anchor: str
    check_id: str
    title: str
    status: str
    severity: str
    theme: str
    resource: str
    account: str
    region: str
    jurisdiction: str
    message: str
    evidence: tuple[str, ...]
    remediation: str
    fix_command: str
    # What a waiver of the policy did to this finding (waived, expired, refused), if any.
    waiver: WaiverMark | None = None
    # The department that owns the resource ("" when nobody does or the policy is unknown).
    owner: str = ""
    # Across audits: new, persisting, reopened, waived, passing or unknown; "" without history.
    history: str = ""
    # One letter per audit, oldest first: F fail, W waived, P pass, U unknown, - absent.
    timeline: str = ""
    days_open: int | None = None


@dataclass(frozen=True, slots=True)
class FindingGroups:
    fail: tuple[FindingView, ...]
    unknown: tuple[FindingView, ...]
    passed: tuple[FindingView, ...]


def finding_sort_key(finding: Finding) -> tuple[int, int, str, str]:
    """FAIL, UNKNOWN, PASS; within each, worst severity first, then check id and resource."""
    return (
        STATUS_ORDER.index(finding.status),
        -finding.severity.rank,
        finding.check_id,
        finding.resource,
    )


def order_findings(findings: Iterable[Finding]) -> list[Finding]:
    return sorted(findings, key=finding_sort_key)


def theme_of_checks(checks: Iterable[CheckMeta]) -> dict[str, str]:
    return {meta.id: meta.theme.value for meta in checks}


def finding_theme(finding: Finding, themes: Mapping[str, str]) -> str:
    # Findings stored before a check gained its theme carry "", so fall back to the catalog.
    return finding.theme or themes.get(finding.check_id, UNTHEMED)


def finding_anchor(finding: Finding) -> str:
    """A stable HTML id: the check id and a digest of the resource, which may hold anything."""
    slug = re.sub(r"[^a-z0-9]+", "-", finding.check_id.lower()).strip("-") or "check"
    digest = hashlib.sha256(finding.resource.encode("utf-8")).hexdigest()[:10]
    return f"finding-{slug}-{digest}"


def _unique(anchor: str, taken: set[str]) -> str:
    candidate, suffix = anchor, 2
    while candidate in taken:
        candidate, suffix = f"{anchor}-{suffix}", suffix + 1
    taken.add(candidate)
    return candidate


def finding_view(
    finding: Finding,
    anchor: str,
    meta: CheckMeta | None,
    owner: str = "",
    history: FindingHistory | None = None,
    lang: Language = SOURCE,
) -> FindingView:
    """Fill what a finding left empty from its check's metadata, in the report's language.

    The title and remediation were stamped from the check's metadata, so they are catalog
    entries; the message is the check's own f-string and stays as it was written.
    """
    return FindingView(
        anchor=anchor,
        check_id=finding.check_id,
        title=lang.gettext(finding.title or (meta.title if meta else "")),
        status=finding.status.value,
        severity=finding.severity.value,
        theme=finding.theme or (meta.theme.value if meta else UNTHEMED),
        resource=finding.resource,
        account=finding.account or "",
        region=finding.region or "",
        jurisdiction=finding.jurisdiction or "",
        message=finding.message,
        evidence=tuple(finding.evidence),
        remediation=lang.gettext(finding.remediation or (meta.remediation if meta else "")),
        fix_command=finding.fix_command or (meta.cli if meta else ""),
        waiver=finding.waiver,
        owner=owner,
        history=history.label if history else "",
        timeline=history.timeline if history else "",
        days_open=history.days_open if history else None,
    )


def finding_views(
    findings: Iterable[Finding],
    checks: Sequence[CheckMeta] = (),
    owners: Mapping[str, str] | None = None,
    history: Mapping[tuple[str, str], FindingHistory] | None = None,
    lang: Language = SOURCE,
) -> list[FindingView]:
    """Findings in report order, each with a unique anchor (owner and history when known)."""
    catalog = {meta.id: meta for meta in checks}
    owned = owners or {}
    past = history or {}
    taken: set[str] = set()
    return [
        finding_view(
            f,
            _unique(finding_anchor(f), taken),
            catalog.get(f.check_id),
            owned.get(f.resource, ""),
            past.get((f.check_id, f.resource)),
            lang,
        )
        for f in order_findings(findings)
    ]


def waived_views(views: Iterable[FindingView]) -> list[FindingView]:
    """Findings a waiver touched, the ones closest to expiry first."""
    touched = [v for v in views if v.waiver is not None]
    return sorted(
        touched,
        key=lambda v: (
            v.waiver is not None and v.waiver.state == "waived",
            v.waiver.days_left if v.waiver and v.waiver.days_left is not None else 10**6,
        ),
    )


def build_finding_groups(
    findings: Iterable[Finding], checks: Sequence[CheckMeta] = ()
) -> FindingGroups:
    return group_views(finding_views(findings, checks))


def group_views(views: Sequence[FindingView]) -> FindingGroups:
    return FindingGroups(
        fail=tuple(v for v in views if v.status == Status.FAIL),
        unknown=tuple(v for v in views if v.status == Status.UNKNOWN),
        passed=tuple(v for v in views if v.status == Status.PASS),
    )


# frameworks ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RequirementView:
    id: str
    title: str
    status: str
    detail: str
    failing_checks: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class FrameworkRow:
    id: str
    name: str
    version: str
    total: int
    counts: Mapping[str, int]
    # Requirements that fail or cannot be decided: what the committee must look at.
    open: tuple[RequirementView, ...]


FRAMEWORK_STATUSES = ("FAIL", "UNKNOWN", "PASS", "MANUAL", "NOT_COVERED")


def build_framework_rows(
    frameworks: Iterable[Framework],
    findings: Sequence[Finding],
    checks: Sequence[CheckMeta],
    lang: Language = SOURCE,
) -> list[FrameworkRow]:
    """Compliance per framework: each requirement judged from the findings of its checks."""
    registered = {meta.id for meta in checks}
    rows = []
    for framework in frameworks:
        verdicts = compliance(framework, findings, registered)
        counts = Counter(v.status.value for v in verdicts)
        open_items = tuple(
            RequirementView(
                v.requirement.id,
                (v.requirement.title_zh if lang.chinese else "") or v.requirement.title,
                v.status.value,
                requirement_detail(v, lang),
                v.failing_checks,
            )
            for v in verdicts
            if v.status.value in ("FAIL", "UNKNOWN")
        )
        rows.append(
            FrameworkRow(
                framework.id,
                (framework.name_zh if lang.chinese else "") or framework.name,
                framework.version,
                len(verdicts),
                {status: counts.get(status, 0) for status in FRAMEWORK_STATUSES},
                open_items,
            )
        )
    return rows


def requirement_detail(verdict: RequirementStatus, lang: Language = SOURCE) -> str:
    """Why an open requirement is open, told from the verdict's counts in the report's language.

    Only FAIL and UNKNOWN requirements are listed, so only their cases are told here; the
    failing checks are listed beside this text.
    """
    if verdict.failing:
        return lang.ngettext(
            "%(num)d failing finding", "%(num)d failing findings", verdict.failing
        ) % {"num": verdict.failing}
    if verdict.unknown:
        return lang.ngettext(
            "%(num)d undecided finding", "%(num)d undecided findings", verdict.unknown
        ) % {"num": verdict.unknown}
    if verdict.not_assessed:
        return lang.gettext("not assessed: no finding from %(checks)s") % {
            "checks": ", ".join(verdict.not_assessed)
        }
    return verdict.detail
