from __future__ import annotations

import re

import pytest

from auditor.checking import CheckMeta, Theme
from auditor.model import Coverage, Finding, Outcome, Severity, Status
from auditor.reports import sections
from auditor.reports.render import ReportInput


def finding(
    check_id: str = "SOV-001",
    status: Status = Status.FAIL,
    severity: Severity = Severity.HIGH,
    resource: str = "arn:aws-cn:s3:::bucket",
    theme: str = "sovereignty",
) -> Finding:
    return Finding(
        check_id=check_id,
        status=status,
        severity=severity,
        resource=resource,
        message=f"{check_id} on {resource}",
        theme=theme,
    )


def as_dict(counts: tuple[sections.Count, ...]) -> dict[str, int]:
    return {c.key: c.value for c in counts}


# counts -------------------------------------------------------------------------------------


def test_count_by_status_lists_fail_unknown_pass_with_zeros():
    findings = [
        finding(status=Status.FAIL),
        finding(status=Status.FAIL),
        finding(status=Status.PASS),
    ]

    counts = sections.count_by_status(findings)

    assert [(c.key, c.value) for c in counts] == [("FAIL", 2), ("UNKNOWN", 0), ("PASS", 1)]


def test_fail_count_by_severity_counts_only_failures_worst_first():
    findings = [
        finding(severity=Severity.LOW),
        finding(severity=Severity.CRITICAL),
        finding(severity=Severity.CRITICAL),
        finding(severity=Severity.CRITICAL, status=Status.PASS),
        finding(severity=Severity.HIGH, status=Status.UNKNOWN),
    ]

    counts = sections.fail_count_by_severity(findings)

    assert [(c.key, c.value) for c in counts] == [
        ("critical", 2),
        ("high", 0),
        ("medium", 0),
        ("low", 1),
    ]


def test_fail_count_by_severity_shows_info_only_when_present():
    counts = sections.fail_count_by_severity([finding(severity=Severity.INFO)])

    assert as_dict(counts)["info"] == 1


def test_fail_count_by_theme_covers_every_theme_and_falls_back_to_the_catalog():
    meta = CheckMeta("KEY-006", "t", Theme.KEY, Severity.MEDIUM, "f", (), "r")
    findings = [
        finding(theme="flow"),
        finding(theme="flow"),
        finding(check_id="KEY-006", theme=""),
        finding(check_id="ZZZ-1", theme=""),
        finding(theme="log", status=Status.PASS),
    ]

    counts = sections.fail_count_by_theme(findings, [meta])

    assert [c.key for c in counts][:6] == [t.value for t in Theme]
    assert as_dict(counts) == {
        "sovereignty": 0,
        "flow": 2,
        "key": 1,
        "access": 0,
        "responsibility": 0,
        "log": 0,
        "other": 1,
    }


def test_inventory_counts_are_largest_first():
    counts = sections.inventory_counts({"key": 4, "object_store": 9, "role": 6, "user": 4})

    assert [c.key for c in counts] == ["object_store", "role", "key", "user"]


def test_build_summary_on_the_sample(report_input: ReportInput):
    summary = sections.build_summary(
        report_input.findings, report_input.checks, report_input.resource_counts
    )

    assert as_dict(summary.status_totals) == {"FAIL": 4, "UNKNOWN": 1, "PASS": 1}
    assert as_dict(summary.fail_by_severity) == {"critical": 2, "high": 1, "medium": 1, "low": 0}
    assert as_dict(summary.fail_by_theme) == {
        "sovereignty": 1,
        "flow": 1,
        "key": 1,
        "access": 1,
        "responsibility": 0,
        "log": 0,
    }
    assert [b.value for b in summary.severity_chart.bars] == [2, 1, 1, 0]


# chart geometry -----------------------------------------------------------------------------


def test_bar_chart_scales_bars_to_the_largest_count():
    counts = [sections.Count("a", "A", 4), sections.Count("b", "B", 2), sections.Count("c", "C", 0)]

    chart = sections.bar_chart(counts, width=300, label_width=100, bar_height=10, gap=5)

    track = 300 - 100 - 36
    assert [b.width for b in chart.bars] == [track, track / 2, 0]
    assert all(b.x == 100 for b in chart.bars)
    assert [b.y for b in chart.bars] == [5, 20, 35]
    assert chart.height == 5 + 3 * 15
    assert chart.width == 300


def test_bar_chart_places_value_after_the_bar_and_label_before_it():
    chart = sections.bar_chart([sections.Count("a", "A", 3)], width=300, label_width=100)

    bar = chart.bars[0]
    assert bar.label_x < bar.x
    assert bar.value_x == pytest.approx(bar.x + bar.width + 4)
    assert bar.y < bar.text_y < bar.y + bar.height
    # The number must still fit inside the drawing.
    assert bar.value_x + 30 <= chart.width


def test_bar_chart_of_all_zeros_draws_empty_bars():
    chart = sections.bar_chart([sections.Count("a", "A", 0), sections.Count("b", "B", 0)])

    assert [b.width for b in chart.bars] == [0, 0]


def test_bar_chart_of_nothing_is_empty():
    chart = sections.bar_chart([])

    assert chart.bars == ()
    assert chart.height > 0


# ordering and views -------------------------------------------------------------------------


def test_findings_are_ordered_fail_by_severity_then_check_then_unknown_then_pass():
    findings = [
        finding("ACC-002", Status.PASS, Severity.CRITICAL),
        finding("SOV-001", Status.UNKNOWN, Severity.CRITICAL),
        finding("KEY-006", Status.FAIL, Severity.MEDIUM),
        finding("SOV-002", Status.FAIL, Severity.CRITICAL),
        finding("FLOW-001", Status.FAIL, Severity.CRITICAL),
        finding("ACC-001", Status.FAIL, Severity.HIGH),
        finding("ACC-001", Status.FAIL, Severity.LOW, resource="arn:b"),
        finding("ACC-001", Status.FAIL, Severity.LOW, resource="arn:a"),
    ]

    ordered = sections.order_findings(findings)

    assert [(f.check_id, f.status.value, f.resource) for f in ordered] == [
        ("FLOW-001", "FAIL", "arn:aws-cn:s3:::bucket"),
        ("SOV-002", "FAIL", "arn:aws-cn:s3:::bucket"),
        ("ACC-001", "FAIL", "arn:aws-cn:s3:::bucket"),
        ("KEY-006", "FAIL", "arn:aws-cn:s3:::bucket"),
        ("ACC-001", "FAIL", "arn:a"),
        ("ACC-001", "FAIL", "arn:b"),
        ("SOV-001", "UNKNOWN", "arn:aws-cn:s3:::bucket"),
        ("ACC-002", "PASS", "arn:aws-cn:s3:::bucket"),
    ]


def test_finding_groups_split_by_status(report_input: ReportInput):
    groups = sections.build_finding_groups(report_input.findings, report_input.checks)

    assert [v.check_id for v in groups.fail] == ["FLOW-001", "SOV-001", "ACC-002", "KEY-006"]
    assert [v.check_id for v in groups.unknown] == ["RSP-001"]
    assert [v.check_id for v in groups.passed] == ["LOG-001"]


def test_finding_view_fills_blanks_from_the_check_catalog():
    meta = CheckMeta(
        "KEY-006",
        "Key without rotation",
        Theme.KEY,
        Severity.MEDIUM,
        "f",
        (),
        "Rotate it.",
        cli="aws kms enable-key-rotation --key-id k",
    )
    bare = finding("KEY-006", theme="")

    (view,) = sections.finding_views([bare], [meta])

    assert view.title == "Key without rotation"
    assert view.theme == "key"
    assert view.remediation == "Rotate it."
    assert view.fix_command == "aws kms enable-key-rotation --key-id k"
    assert (view.account, view.region, view.jurisdiction) == ("", "", "")


def test_anchors_are_html_safe_stable_and_unique():
    hostile = finding("SOV-001", resource='x"><script>alert(1)</script>')
    twin = finding("SOV-001", resource='x"><script>alert(1)</script>')

    views = sections.finding_views([hostile, twin])

    anchors = [v.anchor for v in views]
    assert len(set(anchors)) == 2
    assert all(re.fullmatch(r"finding-[a-z0-9-]+", a) for a in anchors)
    assert anchors[0] == sections.finding_anchor(hostile)


# coverage, header, checks -------------------------------------------------------------------


def test_coverage_puts_gaps_first_and_counts_them():
    coverage = [
        Coverage("aws", "1", "cn-north-1", "s3", Outcome.OK),
        Coverage("aws", "1", "cn-north-1", "kms", Outcome.ERROR, "throttled"),
        Coverage("aws", "2", "cn-north-1", "iam", Outcome.DENIED),
    ]

    section = sections.build_coverage(coverage)

    assert section.gaps == 2
    assert [(r.service, r.ok) for r in section.rows] == [
        ("kms", False),
        ("iam", False),
        ("s3", True),
    ]
    assert section.rows[0].detail == "throttled"


def test_coverage_rows_carry_api_calls_and_time():
    row = Coverage("aws", "1", "cn-north-1", "s3", Outcome.OK, "5 buckets", 1234, 67)
    (built,) = sections.build_coverage([row]).rows
    assert (built.api_calls, built.duration_ms) == (67, 1234)


def test_header_reports_an_incomplete_run(incomplete_input: ReportInput):
    header = sections.build_header(incomplete_input)

    assert header.run_complete is False
    assert header.finished_at == ""
    assert header.organisation == "云州市大数据管理局"
    assert header.accounts == ("111122223333", "444455556666")


def test_check_rows_count_verdicts_per_check(report_input: ReportInput):
    rows = {r.id: r for r in sections.build_check_rows(report_input.checks, report_input.findings)}

    assert list(rows) == sorted(rows)
    assert (rows["FLOW-001"].fail, rows["FLOW-001"].unknown, rows["FLOW-001"].passed) == (1, 0, 0)
    assert (rows["RSP-001"].fail, rows["RSP-001"].unknown) == (0, 1)
    assert rows["LOG-001"].passed == 1
