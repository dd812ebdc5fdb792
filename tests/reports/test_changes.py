"""The report's "changes since the last audit" section, built from the diff of two runs."""

from __future__ import annotations

from auditor.history import compare, select_runs
from auditor.reports.changes import build_changes
from auditor.store import Store
from tests.test_history import clock, history_db  # noqa: F401 - fixtures


def test_changes_count_each_section_and_the_median_time_to_fix(history_db):  # noqa: F811
    store = Store(history_db)
    run_a, run_b = select_runs(store)
    diff = compare(store, run_a, run_b)
    changes = build_changes(diff)
    assert changes is not None
    assert changes.previous_run == run_a.id
    assert changes.counts == {
        "new": len(diff.new),
        "reopened": len(diff.reopened),
        "resolved": len(diff.resolved),
        "persisting": len(diff.persisting),
    }
    fixed = sorted(d.days for d in diff.resolved if d.resolution == "pass")
    assert fixed, "the history database resolves findings to PASS"
    assert changes.median_days_to_fix is not None
    assert min(fixed) <= changes.median_days_to_fix <= max(fixed)
    assert build_changes(None) is None


def test_the_report_shows_the_changes_in_its_language(history_db):  # noqa: F811
    import dataclasses

    from auditor.reports.render import render_html
    from tests.reports.conftest import sample_input

    store = Store(history_db)
    diff = compare(store, *select_runs(store))
    html = render_html(dataclasses.replace(sample_input(), changes=diff, lang="en"))
    section = html[html.index('id="changes"') :]
    assert "Changes since the last audit" in section
    assert f'data-count="new"><span class="n">{len(diff.new)}<' in section
    zh = render_html(dataclasses.replace(sample_input(), changes=diff, lang="zh-CN"))
    assert "与上次审计相比的变化" in zh
    first = render_html(dataclasses.replace(sample_input(), lang="en"))
    assert "nothing to compare with" in first
