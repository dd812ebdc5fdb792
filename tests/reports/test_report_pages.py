"""A large report keeps its main page small: the worst findings there, the rest on pages."""

from __future__ import annotations

import dataclasses
import re

import pytest

from auditor.model import Finding, Severity, Status, WaiverMark
from auditor.reports import render, sections
from tests.reports.conftest import sample_input


def _many(n: int) -> list[Finding]:
    statuses = (Status.FAIL, Status.UNKNOWN, Status.PASS, Status.PASS)
    return [
        Finding(
            "SOV-001",
            statuses[i % 4],
            Severity.HIGH,
            f"arn:aws:s3:::b{i:04d}",
            f"message {i}",
        )
        for i in range(n)
    ]


@pytest.fixture
def small_limits(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(render, "INLINE_LIMIT", 20)
    monkeypatch.setattr(render, "MAIN_FAIL", 5)
    monkeypatch.setattr(render, "MAIN_UNKNOWN", 3)
    monkeypatch.setattr(render, "PAGE_SIZE", 30)


def test_a_small_report_is_one_page(tmp_path):
    render.write_report(tmp_path, sample_input())
    assert not list(tmp_path.glob(render.PAGE_GLOB))


def test_a_large_report_splits_and_every_finding_is_on_exactly_one_page(tmp_path, small_limits):
    findings = _many(100)
    data = dataclasses.replace(sample_input(), findings=findings)
    render.write_report(tmp_path, data)
    pages = sorted(tmp_path.glob(render.PAGE_GLOB))
    # 25 FAIL + 25 UNKNOWN + 50 PASS; main keeps 5 + 3; 92 go to pages of 30.
    assert [p.name for p in pages] == [render.PAGE_NAME.format(n) for n in (1, 2, 3, 4)]
    main = (tmp_path / "report.html").read_text("utf-8")
    listed = re.findall(r'<li class="finding" id="([^"]+)"', main)
    assert len(listed) == 8
    for page in pages:
        text = page.read_text("utf-8")
        listed += re.findall(r'<li class="finding" id="([^"]+)"', text)
        assert 'href="report.html"' in text  # every page leads back
        assert "Content-Security-Policy" in text
    assert len(listed) == len(set(listed)) == 100
    assert all(p.name in main for p in pages)

    # Rewriting a smaller report removes the stale pages.
    render.write_report(tmp_path, sample_input())
    assert not list(tmp_path.glob(render.PAGE_GLOB))


def test_links_to_findings_on_other_pages_name_the_page(tmp_path, small_limits):
    findings = _many(100)
    # The last failure is waived: the Waivers table on the main page links to its page.
    mark = WaiverMark("waived", "SEC-7", "p-1", "r", "2026-12-31", 30)
    findings[96] = dataclasses.replace(findings[96], waiver=mark)
    views = sections.finding_views(findings)
    main, _ = render.split_views(views)
    on_main = {v.anchor for v in (*main.fail, *main.unknown)}
    html, _ = render.render_pages(dataclasses.replace(sample_input(), findings=findings))
    hrefs = re.findall(r'href="([^"#]*)#(finding-[^"]+)"', html)
    assert hrefs, "the committee view links to findings"
    for page, anchor in hrefs:
        assert (page == "") == (anchor in on_main), (page, anchor)
    assert any(page.startswith("report-findings-") for page, _ in hrefs)


def test_abandoned_temporaries_go_and_fresh_ones_stay(tmp_path):
    import os
    import time

    old = tmp_path / ".report.html.dead.tmp"
    fresh = tmp_path / ".findings.json.live.tmp"
    for path in (old, fresh):
        path.write_text("half", "utf-8")
    hours_ago = time.time() - 2 * render.ABANDONED_AFTER_S
    os.utime(old, (hours_ago, hours_ago))
    render.write_report(tmp_path, sample_input())
    assert not old.exists()
    assert fresh.exists()
