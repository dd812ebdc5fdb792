"""The report shows compliance per framework, judged from the findings."""

from __future__ import annotations

import dataclasses
import re

from auditor.compliance import load_frameworks
from auditor.reports.render import render_html
from auditor.reports.sections import build_framework_rows
from tests.reports.conftest import sample_input


def test_each_framework_has_a_row_and_failing_requirements_are_listed():
    data = dataclasses.replace(sample_input(), frameworks=load_frameworks())
    rows = {
        row.id: row for row in build_framework_rows(data.frameworks, data.findings, data.checks)
    }
    assert set(rows) == {f.id for f in data.frameworks}
    # The sample fails SOV-001 and FLOW-001, which DSL art. 31 / PIPL art. 38-40 cite.
    cross_border = rows["dsl-pipl-cross-border"]
    assert cross_border.counts["FAIL"] >= 1
    assert any(
        "SOV-001" in r.failing_checks or "FLOW-001" in r.failing_checks for r in cross_border.open
    )
    # Requirements whose checks are not among the sample's are not claimed as passing.
    assert sum(cross_border.counts.values()) == cross_border.total

    html = render_html(data)
    section = html[html.index('id="frameworks"') : html.index('id="waivers"')]
    assert re.search(r'data-framework="dsl-pipl-cross-border"', section)
    assert "合规框架符合情况" in html
    assert "Compliance by framework" in render_html(dataclasses.replace(data, lang="en"))


def test_a_report_without_frameworks_says_so():
    assert "未加载合规框架" in render_html(sample_input())
    assert "No framework was loaded" in render_html(dataclasses.replace(sample_input(), lang="en"))
