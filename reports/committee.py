"""View models of the committee's pages: posture and trend, top risks, the sovereignty map and
the responsibility matrix.  Pure functions; every coordinate and count is unit-tested."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from auditor.checking import CheckMeta
from auditor.model import Coverage, Finding, Relation, Severity, Status
from auditor.reports.estate import UNKNOWN_PLACE, EstateFacts, Flow, RunTotals
from auditor.reports.i18n import N_, SOURCE, Language
from auditor.reports.sections import FindingView

# Places named in the catalog, so the report names them as a Chinese government reader expects
# (the CLDR names Babel would give differ for some); other codes take CLDR's name.
COUNTRY_NAMES = {
    "CN": N_("Mainland China"),
    "HK": N_("Hong Kong, China"),
    "MO": N_("Macao, China"),
    "TW": N_("Taiwan, China"),
    "US": N_("United States"),
    "DE": N_("Germany"),
    "FR": N_("France"),
    "IE": N_("Ireland"),
    "GB": N_("United Kingdom"),
    "SG": N_("Singapore"),
    "JP": N_("Japan"),
    "KR": N_("South Korea"),
    "IN": N_("India"),
    "AU": N_("Australia"),
    UNKNOWN_PLACE: N_("unknown"),
}
# How data leaves a place, as the flows table names it.
RELATION_LABELS = {
    Relation.REPLICATES_TO.value: N_("replication"),
    Relation.COPIES_TO.value: N_("backup or snapshot copy"),
    Relation.SHARED_WITH.value: N_("sharing"),
    Relation.DELIVERS_LOGS_TO.value: N_("log delivery"),
    Relation.PEERS_WITH.value: N_("network peering"),
}
# Checks whose failures mean the picture's arrows or boxes carry a breach.
FLOW_CHECKS = frozenset({"FLOW-001", "FLOW-002", "FLOW-003", "FLOW-004", "FLOW-005", "FLOW-008"})
PLACE_CHECKS = frozenset({"SOV-001", "SOV-002", "KEY-003"})
RESPONSIBILITY_CHECKS = frozenset({"RSP-001", "RSP-002", "RSP-003", "RSP-008", "RSP-009"})
DUTY_CHECKS = frozenset({"RSP-004", "KEY-005"})


# posture and trend ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TopRisk:
    check_id: str
    title: str
    severity: str
    count: int
    examples: tuple[FindingView, ...]


@dataclass(frozen=True, slots=True)
class TrendBar:
    run_id: int
    label: str
    total: int
    x: float
    y: float
    width: float
    height: float


@dataclass(frozen=True, slots=True)
class Committee:
    # red: an unwaived critical failure; amber: high; green: neither
    posture: str
    failing: Mapping[str, int]
    waived: int
    unknown: int
    not_assessed: int
    top_risks: tuple[TopRisk, ...]
    trend: tuple[TrendBar, ...]
    trend_width: int
    trend_height: int
    expiring: tuple[FindingView, ...]


def build_committee(
    views: Sequence[FindingView],
    findings: Sequence[Finding],
    coverage: Sequence[Coverage],
    trend: Sequence[RunTotals],
    checks: Sequence[CheckMeta],
    expiring_within: int = 60,
) -> Committee:
    open_fails = [v for v in views if v.status == Status.FAIL and not _waived(v)]
    failing = Counter(v.severity for v in open_fails)
    posture = (
        "red"
        if failing[Severity.CRITICAL.value]
        else "amber"
        if failing[Severity.HIGH.value]
        else "green"
    )
    return Committee(
        posture=posture,
        failing={s.value: failing.get(s.value, 0) for s in Severity},
        waived=sum(1 for v in views if _waived(v)),
        unknown=sum(1 for f in findings if f.status is Status.UNKNOWN),
        not_assessed=sum(1 for c in coverage if c.outcome.value != "ok"),
        top_risks=top_risks(open_fails, checks),
        trend=trend_bars(trend),
        trend_width=TREND_WIDTH,
        trend_height=TREND_HEIGHT,
        expiring=tuple(
            v
            for v in views
            if _waived(v)
            and v.waiver is not None
            and v.waiver.days_left is not None
            and v.waiver.days_left <= expiring_within
        ),
    )


def _waived(view: FindingView) -> bool:
    return view.waiver is not None and view.waiver.state == "waived"


def top_risks(
    open_fails: Sequence[FindingView], checks: Sequence[CheckMeta], limit: int = 6
) -> tuple[TopRisk, ...]:
    """The checks with the worst open failures, in plain language, a few examples each."""
    titles = {meta.id: meta.title for meta in checks}
    by_check: dict[str, list[FindingView]] = {}
    for view in open_fails:
        by_check.setdefault(view.check_id, []).append(view)
    ranked = sorted(
        by_check.items(),
        key=lambda item: (-max(Severity(v.severity).rank for v in item[1]), -len(item[1])),
    )
    return tuple(
        TopRisk(
            check_id=check_id,
            title=titles.get(check_id, items[0].title),
            severity=max((Severity(v.severity) for v in items), key=lambda s: s.rank).value,
            count=len(items),
            examples=tuple(items[:3]),
        )
        for check_id, items in ranked[:limit]
    )


TREND_WIDTH, TREND_HEIGHT = 480, 140


def trend_bars(trend: Sequence[RunTotals]) -> tuple[TrendBar, ...]:
    """One bar per audit (oldest left), height by open failures."""
    if not trend:
        return ()
    top = max(t.total for t in trend) or 1
    # At most eight audits are drawn; a lone audit still gets a slim bar, not the whole width.
    slot = TREND_WIDTH / max(len(trend), 8)
    usable = TREND_HEIGHT - 30
    bars = []
    for i, totals in enumerate(trend):
        height = usable * totals.total / top
        bars.append(
            TrendBar(
                run_id=totals.run_id,
                label=totals.started_at[:10],
                total=totals.total,
                x=round(i * slot + slot * 0.2, 1),
                y=round(TREND_HEIGHT - 18 - height, 1),
                width=round(slot * 0.6, 1),
                height=round(height, 1),
            )
        )
    return tuple(bars)


# sovereignty map ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Place:
    code: str
    name: str
    stores: int
    breached: bool
    x: float
    y: float


@dataclass(frozen=True, slots=True)
class Arrow:
    anchor: str
    source: str
    target: str
    count: int
    relations: tuple[str, ...]
    breached: bool
    path: str
    label_x: float
    label_y: float
    # The failing findings about the stores this flow starts from.
    findings: tuple[FindingView, ...]
    sources: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class SovereigntyMap:
    width: int
    height: int
    box_width: int
    box_height: int
    places: tuple[Place, ...]
    arrows: tuple[Arrow, ...]


MAP_WIDTH, MAP_HEIGHT, BOX_W, BOX_H = 780, 440, 184, 56


def build_map(
    estate: EstateFacts | None, views: Sequence[FindingView], lang: Language = SOURCE
) -> SovereigntyMap | None:
    """Countries as boxes on an ellipse (most data first, at the top), flows as curved arrows."""
    if estate is None or (not estate.placements and not estate.flows):
        return None
    codes = (
        set(estate.placements) | {f.source for f in estate.flows} | {f.target for f in estate.flows}
    )
    ordered = sorted(codes, key=lambda c: (-estate.placements.get(c, 0), c))
    breached_places = {
        v.jurisdiction or UNKNOWN_PLACE
        for v in views
        if _open_fail(v) and v.check_id in PLACE_CHECKS
    }
    centre_x, centre_y = MAP_WIDTH / 2, MAP_HEIGHT / 2
    radius_x, radius_y = MAP_WIDTH / 2 - BOX_W / 2 - 10, MAP_HEIGHT / 2 - BOX_H / 2 - 10
    places = []
    for i, code in enumerate(ordered):
        angle = -math.pi / 2 + 2 * math.pi * i / len(ordered)
        single = len(ordered) == 1
        places.append(
            Place(
                code=code,
                name=place_name(code, lang),
                stores=estate.placements.get(code, 0),
                breached=code in breached_places,
                x=round(centre_x if single else centre_x + radius_x * math.cos(angle), 1),
                y=round(centre_y if single else centre_y + radius_y * math.sin(angle), 1),
            )
        )
    where = {p.code: p for p in places}
    fails_by_resource: dict[str, list[FindingView]] = {}
    for view in views:
        if _open_fail(view) and view.check_id in FLOW_CHECKS:
            fails_by_resource.setdefault(view.resource, []).append(view)
    arrows = tuple(_arrow(flow, where, fails_by_resource) for flow in estate.flows)
    return SovereigntyMap(MAP_WIDTH, MAP_HEIGHT, BOX_W, BOX_H, tuple(places), arrows)


def place_name(code: str, lang: Language = SOURCE) -> str:
    """A jurisdiction's name in the report's language; its code when nobody can name it."""
    if code in COUNTRY_NAMES:
        return lang.gettext(COUNTRY_NAMES[code])
    return lang.territory(code) or code


def _open_fail(view: FindingView) -> bool:
    return view.status == Status.FAIL and not _waived(view)


def _arrow(flow: Flow, where: Mapping[str, Place], fails: Mapping[str, list[FindingView]]) -> Arrow:
    a, b = where[flow.source], where[flow.target]
    dx, dy = b.x - a.x, b.y - a.y
    length = math.hypot(dx, dy) or 1.0
    # Leave the boxes: start and end on the ellipse around each box, not its centre.
    shrink = min(BOX_W, BOX_H * 2) / 2 + 4
    sx, sy = a.x + dx / length * shrink, a.y + dy / length * shrink
    ex, ey = b.x - dx / length * shrink, b.y - dy / length * shrink
    # Bend to the right of the direction of travel, so A→B and B→A do not overlap.
    bend = 0.18 * length
    cx, cy = (sx + ex) / 2 - dy / length * bend, (sy + ey) / 2 + dx / length * bend
    found = tuple(v for uid in flow.sources for v in fails.get(uid, ()))
    return Arrow(
        anchor=f"flow-{_slug(flow.source)}-{_slug(flow.target)}",
        source=flow.source,
        target=flow.target,
        count=flow.count,
        relations=flow.relations,
        breached=bool(found),
        path=f"M {sx:.1f} {sy:.1f} Q {cx:.1f} {cy:.1f} {ex:.1f} {ey:.1f}",
        label_x=round(0.25 * sx + 0.5 * cx + 0.25 * ex, 1),
        label_y=round(0.25 * sy + 0.5 * cy + 0.25 * ey, 1),
        findings=found,
        sources=flow.sources,
    )


def _slug(code: str) -> str:
    return "".join(ch if ch.isalnum() else "x" for ch in code.lower())


# responsibility matrix ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class MatrixRow:
    department: str
    counts: Mapping[str, int]
    total: int


@dataclass(frozen=True, slots=True)
class Responsibility:
    themes: tuple[str, ...]
    rows: tuple[MatrixRow, ...]
    unowned: tuple[FindingView, ...]
    duties: tuple[FindingView, ...]


NO_OWNER = N_("no owner")


def build_responsibility(
    views: Iterable[FindingView],
    owners: Mapping[str, str],
    themes: Sequence[str],
    lang: Language = SOURCE,
) -> Responsibility:
    """Departments × themes of open failures; who owns nothing; whose duties collide."""
    failing = [v for v in views if _open_fail(v)]
    no_owner = lang.gettext(NO_OWNER)
    table: dict[str, Counter[str]] = {}
    for view in failing:
        dept = owners.get(view.resource) or no_owner
        table.setdefault(dept, Counter())[view.theme] += 1
    rows = tuple(
        MatrixRow(dept, {t: counts.get(t, 0) for t in themes}, sum(counts.values()))
        for dept, counts in sorted(
            table.items(), key=lambda item: (-sum(item[1].values()), item[0])
        )
    )
    return Responsibility(
        themes=tuple(themes),
        rows=rows,
        unowned=tuple(v for v in failing if v.check_id in RESPONSIBILITY_CHECKS),
        duties=tuple(v for v in failing if v.check_id in DUTY_CHECKS),
    )
