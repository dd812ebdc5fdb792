"""Open the written report in real headless Chromium: no request leaves, nothing hostile runs."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from auditor.reports.render import ReportInput, write_report

pytestmark = pytest.mark.browser


@dataclass
class OpenedReport:
    page: Any
    url: str
    requests: list[str] = field(default_factory=list)
    dialogs: list[str] = field(default_factory=list)
    console_errors: list[str] = field(default_factory=list)


@pytest.fixture
def opened(browser: Any, tmp_path: Path, report_input: ReportInput) -> Iterator[OpenedReport]:
    html_path = write_report(tmp_path, report_input)["html"]
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    report = OpenedReport(page=page, url=html_path.as_uri())

    def on_dialog(dialog: Any) -> None:
        report.dialogs.append(dialog.message)
        dialog.dismiss()

    def on_console(message: Any) -> None:
        if message.type == "error":
            report.console_errors.append(message.text)

    page.on("request", lambda request: report.requests.append(request.url))
    page.on("dialog", on_dialog)
    page.on("console", on_console)
    page.goto(report.url, wait_until="load")
    yield report
    context.close()


def test_the_only_request_is_the_page_itself(opened: OpenedReport):
    opened.page.wait_for_timeout(300)

    assert opened.requests == [opened.url]


def test_inline_style_and_script_pass_the_content_security_policy(opened: OpenedReport):
    page = opened.page

    font = page.evaluate("getComputedStyle(document.body).fontFamily")
    assert "Noto Sans CJK SC" in font
    # The filter form starts hidden and only the inline script reveals it.
    assert page.locator("#finding-filter").is_visible()
    assert opened.console_errors == []


def test_summary_counts_are_visible(opened: OpenedReport):
    page = opened.page

    fails = page.locator('#status-totals [data-count="FAIL"]')
    assert fails.is_visible()
    assert fails.locator(".n").inner_text() == "4"
    assert page.locator('#status-totals [data-count="UNKNOWN"] .n').inner_text() == "1"
    assert page.locator('#status-totals [data-count="PASS"] .n').inner_text() == "1"
    critical = page.locator('#fail-by-severity [data-count="critical"]')
    assert critical.is_visible()
    assert critical.locator(".n").inner_text() == "2"
    assert page.locator("svg.bars").first.is_visible()


def test_a_failing_finding_is_visible_with_its_check_id_and_message(opened: OpenedReport):
    finding = opened.page.locator('li.finding[data-check="FLOW-001"][data-status="FAIL"]')

    assert finding.is_visible()
    assert finding.locator(".check-id").inner_text() == "FLOW-001"
    message = finding.locator(".message")
    assert message.is_visible()
    assert "复制到境外" in message.inner_text()
    assert "—replicates_to→" in finding.locator("ol.evidence li").first.inner_text()


def test_pass_findings_start_collapsed(opened: OpenedReport):
    passed = opened.page.locator('li.finding[data-status="PASS"]')

    assert passed.count() == 1
    assert not passed.is_visible()


def test_hostile_payloads_stay_text(opened: OpenedReport):
    page = opened.page
    finding = page.locator('li.finding[data-check="ACC-002"]')
    finding.hover()
    finding.locator(".resource").click()

    assert page.evaluate("typeof window.__pwned") == "undefined"
    assert opened.dialogs == []
    assert "<script>window.__pwned=1;alert(1)</script>" in finding.locator(".message").inner_text()
    assert finding.locator("img, svg, script").count() == 0


def test_filter_narrows_findings(opened: OpenedReport):
    page = opened.page

    page.fill("#filter-text", "KEY-006")
    visible = page.locator("li.finding:visible")
    assert [visible.nth(i).get_attribute("data-check") for i in range(visible.count())] == [
        "KEY-006"
    ]
    page.fill("#filter-text", "")
    page.select_option("#filter-status", "PASS")
    assert page.locator('li.finding[data-check="LOG-001"]').is_visible()
    assert page.locator("#filter-count").inner_text() == "1"


def test_print_layout_hides_controls_and_makes_a_pdf(opened: OpenedReport, tmp_path: Path):
    page = opened.page
    page.emulate_media(media="print")

    assert not page.locator("nav.toc").is_visible()
    assert not page.locator("#finding-filter").is_visible()
    pdf = tmp_path / "report.pdf"
    page.pdf(path=str(pdf), format="A4")
    assert pdf.stat().st_size > 10_000


def test_screenshot(opened: OpenedReport, tmp_path: Path):
    shot = tmp_path / "report.png"

    opened.page.screenshot(path=str(shot), full_page=True)

    assert shot.stat().st_size > 10_000
