from __future__ import annotations

import dataclasses
import json
import re
from pathlib import Path

import markupsafe
import pytest

from auditor.model import Finding, Severity, Status
from auditor.reports import render
from auditor.reports.render import ReportInput, findings_json, render_html, write_report

# Any attribute or CSS construct that would make the browser fetch something.
FETCHING = re.compile(
    r"""(?:\b(?:src|href|action|formaction|poster|data|srcset|xlink:href)\s*=\s*["']?\s*"""
    r"""(?:[a-z][a-z0-9+.-]*:)?//)"""
    r"""|(?:url\(\s*["']?\s*(?:[a-z][a-z0-9+.-]*:)?//)"""
    r"""|(?:@import)""",
    re.IGNORECASE,
)

JSON_FIELDS = (
    "check_id",
    "title",
    "status",
    "severity",
    "theme",
    "resource",
    "account",
    "region",
    "jurisdiction",
    "message",
    "evidence",
    "remediation",
    "fix_command",
    "run_id",
)
REPORT_ORDER = ("FLOW-001", "SOV-001", "ACC-002", "KEY-006", "RSP-001", "LOG-001")


def finding_items(page: str) -> list[str]:
    return re.findall(r'<li class="finding"[^>]*>', page)


# escaping -----------------------------------------------------------------------------------


def test_hostile_strings_appear_only_escaped(report_input: ReportInput, hostile_payloads):
    page = render_html(report_input)

    for payload in hostile_payloads:
        assert payload not in page
        assert str(markupsafe.escape(payload)) in page
    for raw in ("<script>window", "<img src=x", "<svg onload", 'onerror="', "onfocus='"):
        assert raw not in page
    # The only script element is our own, at the end of the page.
    assert page.count("<script>") == 1


def test_hostile_check_id_cannot_break_out_of_attributes(report_input: ReportInput):
    hostile = Finding(
        check_id='X-1" onmouseover="window.__pwned=5" data-x="',
        status=Status.FAIL,
        severity=Severity.HIGH,
        resource="arn:aws-cn:s3:::b",
        message="m",
    )
    data = dataclasses.replace(report_input, findings=[hostile])

    page = render_html(data)

    assert 'onmouseover="window' not in page
    assert 'data-check="X-1&#34; onmouseover=&#34;window.__pwned=5&#34; data-x=&#34;"' in page


def test_hostile_organisation_and_policy_path_are_escaped(report_input: ReportInput):
    data = dataclasses.replace(
        report_input,
        organisation="<script>alert(1)</script>局",
        policy_path='"><img src=x onerror=alert(1)>',
    )

    page = render_html(data)

    assert "<script>alert(1)" not in page
    assert "<img src=x" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;局" in page


# no network ---------------------------------------------------------------------------------


def test_page_never_points_at_a_network_address(report_input: ReportInput):
    page = render_html(report_input)

    assert FETCHING.findall(page) == []
    assert "http://" not in page
    assert "https://" not in page


def test_network_regex_catches_what_it_should():
    for bad in (
        '<img src="https://cdn.example/x.png">',
        "<link href=//cdn.example/x.css>",
        "background: url('http://x/y.png')",
        "@import 'x.css';",
    ):
        assert FETCHING.search(bad), bad
    assert not FETCHING.search('<a href="#finding-sov-001">')
    assert not FETCHING.search('<link rel="icon" href="data:,">')


def test_urls_in_findings_stay_text(report_input: ReportInput):
    with_url = dataclasses.replace(
        report_input.findings[0], message="see https://evil.example/x and //evil.example/y"
    )
    data = dataclasses.replace(report_input, findings=[with_url])

    page = render_html(data)

    assert FETCHING.findall(page) == []
    assert "see https://evil.example/x" in page


def test_content_security_policy_allows_no_network():
    policy = render._content_security_policy("css", "js")

    assert "default-src 'none'" in policy
    assert "'unsafe-inline'" not in policy
    assert "http" not in policy


# page content -------------------------------------------------------------------------------


def test_page_is_chinese_first_with_cjk_fonts_before_the_generic_family(report_input):
    page = render_html(report_input)

    assert page.startswith('<!DOCTYPE html>\n<html lang="zh-CN">')
    fonts = re.search(r"font-family:([^;]+);", page)
    assert fonts is not None
    stack = fonts.group(1)
    for cjk in ('"Noto Sans CJK SC"', '"PingFang SC"', '"Microsoft YaHei"'):
        assert stack.index(cjk) < stack.index("sans-serif")
    assert "@media print" in page


def test_header_shows_the_run(report_input: ReportInput):
    page = render_html(report_input)

    for text in (
        "云州市大数据管理局",
        "#7",
        "complete",
        "2025-01-15T02:00:00+00:00",
        "2025-01-15T02:03:41+00:00",
        "govaudit 0.1.0",
        "policies/yunzhou.yaml",
        report_input.run.policy_sha256,
        "2025.01",
        "111122223333",
        "eu-central-1",
    ):
        assert text in page, text
    assert "incomplete" not in page


def test_incomplete_run_is_flagged(incomplete_input: ReportInput):
    page = render_html(incomplete_input)

    assert 'role="alert"' in page
    assert "<strong>未完成</strong>" in page
    english = render_html(dataclasses.replace(incomplete_input, lang="en"))
    assert "<strong>incomplete</strong>" in english


def test_coverage_gaps_are_highlighted_and_explained(report_input: ReportInput):
    page = render_html(report_input)

    assert len(re.findall(r'<tr class="gap"', page)) == 2
    assert len(re.findall(r'<tr class="ok"', page)) == 2
    banner = page.split('id="coverage-gaps"')[1].split("</p>")[0]
    assert "4 项采集中有 2 项未成功" in banner
    assert "无法判定" in banner
    english = render_html(dataclasses.replace(report_input, lang="en"))
    banner = english.split('id="coverage-gaps"')[1].split("</p>")[0]
    assert "2 of 4 collections did not succeed" in banner
    assert "UNKNOWN" in banner


def test_findings_appear_fail_then_unknown_then_pass_collapsed(report_input: ReportInput):
    page = render_html(report_input)

    order = [
        (m.group(1), m.group(2))
        for m in re.finditer(r'data-check="([^"]+)" data-status="([A-Z]+)"', page)
    ]
    assert order == [
        ("FLOW-001", "FAIL"),
        ("SOV-001", "FAIL"),
        ("ACC-002", "FAIL"),
        ("KEY-006", "FAIL"),
        ("RSP-001", "UNKNOWN"),
        ("LOG-001", "PASS"),
    ]
    passed = page.split('<details class="passed" id="passed-findings">')[1]
    assert 'data-check="LOG-001"' in passed
    assert 'data-status="FAIL"' not in passed


def test_each_finding_has_an_anchor_and_its_evidence_as_an_ordered_list(
    report_input: ReportInput, replication_hop: str
):
    page = render_html(report_input)

    items = finding_items(page)
    assert len(items) == 6
    assert all(re.search(r'id="finding-[a-z0-9-]+"', item) for item in items)
    evidence = re.findall(r'<ol class="evidence"[^>]*>(.*?)</ol>', page, re.DOTALL)
    assert f"<li><code>{markupsafe.escape(replication_hop)}</code></li>" in evidence[0]
    assert len(re.findall("<li>", evidence[2])) == 2
    assert "<code>aws s3api delete-bucket-replication --bucket citizen-records</code>" in page


def test_summary_chart_is_inline_svg(report_input: ReportInput):
    page = render_html(report_input)

    assert page.count('<svg class="bars"') == 2
    assert "xmlns" not in page


def test_rendering_fails_loudly_on_a_missing_template_variable():
    environment = render._environment()

    with pytest.raises(Exception, match="undefined"):
        environment.from_string("{{ nothing.here }}").render()


# findings.json ------------------------------------------------------------------------------


def test_findings_json_has_every_field_in_report_order(report_input: ReportInput):
    records = findings_json(report_input)

    assert all(set(JSON_FIELDS) <= set(r) for r in records)
    assert [r["check_id"] for r in records] == list(REPORT_ORDER)
    assert all(r["run_id"] == 7 for r in records)
    assert records[4]["jurisdiction"] is None
    assert isinstance(records[0]["evidence"], list)


def test_findings_json_order_does_not_depend_on_input_order(report_input: ReportInput):
    shuffled = dataclasses.replace(report_input, findings=list(reversed(report_input.findings)))

    assert findings_json(shuffled) == findings_json(report_input)


# writing ------------------------------------------------------------------------------------


def test_write_report_writes_both_files(tmp_path: Path, report_input: ReportInput):
    paths = write_report(tmp_path / "out", report_input)

    assert paths == {
        "html": tmp_path / "out" / "report.html",
        "json": tmp_path / "out" / "findings.json",
    }
    assert paths["html"].read_text("utf-8") == render_html(report_input)
    raw = paths["json"].read_text("utf-8")
    assert "复制到境外" in raw  # ensure_ascii=False keeps Chinese readable
    assert json.loads(raw) == findings_json(report_input)
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["findings.json", "report.html"]


def test_interrupted_write_keeps_the_old_report(
    tmp_path: Path, report_input: ReportInput, monkeypatch: pytest.MonkeyPatch
):
    paths = write_report(tmp_path, report_input)
    before = paths["html"].read_text("utf-8")

    def explode(_data: ReportInput) -> tuple[str, list[str]]:
        raise KeyboardInterrupt

    monkeypatch.setattr(render, "render_pages", explode)
    with pytest.raises(KeyboardInterrupt):
        render.write_report(tmp_path, report_input)

    assert paths["html"].read_text("utf-8") == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["findings.json", "report.html"]


def test_failed_rename_leaves_no_temporary_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    target = tmp_path / "report.html"

    def refuse(self: Path, _target: Path) -> Path:
        raise OSError("disk full")

    monkeypatch.setattr(Path, "replace", refuse)
    with pytest.raises(OSError, match="disk full"):
        render._write_atomically(target, "<p>half</p>")

    assert list(tmp_path.iterdir()) == []
