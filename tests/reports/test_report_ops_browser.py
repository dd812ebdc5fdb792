"""The ops view in real Chromium: filters by check, severity and department; committee pages."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pytest

from auditor.history import FindingHistory, HistoryLabel
from auditor.reports.estate import EstateFacts, RunTotals
from auditor.reports.render import ReportInput, write_report

pytestmark = pytest.mark.browser


def _open(browser: Any, tmp_path: Path, data: ReportInput) -> tuple[Any, list[str]]:
    html = write_report(tmp_path, data)["html"]
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    requests: list[str] = []
    page.on("request", lambda r: requests.append(r.url))
    page.goto(html.as_uri(), wait_until="load")
    return page, requests


def _shown(page: Any) -> int:
    return int(page.locator("#filter-count").inner_text())


def test_filters_by_check_severity_and_department(browser, tmp_path, report_input):
    owners = {f.resource: "市民政局 (mz)" for f in report_input.findings[:2]}
    data = dataclasses.replace(report_input, estate=EstateFacts({"CN": 2}, [], owners))
    page, requests = _open(browser, tmp_path, data)
    total = len(data.findings)
    assert _shown(page) == total

    page.select_option("#filter-check", "SOV-001")
    expected = sum(1 for f in data.findings if f.check_id == "SOV-001")
    assert _shown(page) == expected
    assert page.locator('.finding[data-check="KEY-006"]').first.is_hidden()

    page.select_option("#filter-check", "")
    page.select_option("#filter-dept", "市民政局 (mz)")
    assert _shown(page) == 2
    page.select_option("#filter-dept", "-")
    assert _shown(page) == total - 2

    page.select_option("#filter-dept", "")
    page.select_option("#filter-severity", "critical")
    assert _shown(page) == sum(1 for f in data.findings if f.severity.value == "critical")
    assert requests == [page.url]
    page.close()


def test_committee_map_and_history_are_what_a_reader_sees(browser, tmp_path, report_input):
    first = report_input.findings[0]
    history = {
        (first.check_id, first.resource): FindingHistory(
            HistoryLabel.REOPENED, 3, "2025-01-01", 7, "", 12, "FPF"
        )
    }
    estate = EstateFacts(
        {"CN": 5, "DE": 1},
        [],
        {},
        [RunTotals(5, "2024-12-01", {"critical": 3}), RunTotals(7, "2025-01-15", {"critical": 1})],
    )
    data = dataclasses.replace(report_input, estate=estate, history=history)
    page, _ = _open(browser, tmp_path, data)
    committee = page.locator("#committee")
    assert committee.is_visible()
    assert "主要风险" in committee.inner_text()
    assert page.locator("#committee svg rect.bar").count() == 2
    assert page.locator('#sovereignty-map g.place[data-place="DE"]').is_visible()
    assert page.locator("#responsibility").is_visible()
    assert first.status.value == "FAIL"
    reopened = page.locator('.finding[data-history="reopened"]')
    assert reopened.count() == 1
    assert "重新出现" in reopened.locator(".history-reopened").inner_text()
    assert "12 天" in reopened.locator(".history-reopened").inner_text()
    assert reopened.locator("code.timeline").inner_text() == "FPF"
    page.close()
