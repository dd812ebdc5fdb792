from __future__ import annotations

import sqlite3

import pytest

from auditor.errors import StoreError
from auditor.model import Coverage, Edge, Finding, Outcome, Relation, Severity, Status
from auditor.store import Store
from tests.helpers import bucket


def test_runs_keep_their_own_rows_and_incomplete_runs_are_skipped(tmp_path):
    path = tmp_path / "audit.db"
    store = Store(path)
    first = store.begin_run(tool_version="t", policy_path="p", policy_sha256="s")
    store.add_records(first, [bucket("a"), Coverage("aws", "1", "cn-north-1", "s3", Outcome.OK)])
    store.finish_run(first, accounts=["1"], regions=["cn-north-1"])
    second = store.begin_run(tool_version="t", policy_path="p", policy_sha256="s")
    store.add_records(second, [bucket("b")])
    # the second run never finishes, as when an audit is killed mid-collection
    store.close()

    reopened = Store(path)
    assert reopened.latest_run().id == first
    assert reopened.get_run(second).status == "incomplete"
    assert [r.name for r in reopened.resources(first)] == ["a"]
    assert [r.name for r in reopened.resources(second)] == ["b"]
    assert [run.status for run in reopened.runs()] == ["complete", "incomplete"]


def test_tags_and_attrs_round_trip_in_unicode(tmp_path):
    store = Store(tmp_path / "a.db")
    run = store.begin_run(tool_version="t", policy_path="p", policy_sha256="s")
    store.add_records(run, [bucket("a", tags={"部门": "市民政局"}, extra=[1, 2])])
    (got,) = store.resources(run)
    assert got.tags == {"部门": "市民政局"}
    assert got.attrs["extra"] == [1, 2]
    raw = sqlite3.connect(tmp_path / "a.db").execute("select tags from resources").fetchone()[0]
    assert "市民政局" in raw  # readable in the sqlite3 shell, not \\u-escaped


def test_edges_keep_evidence_and_conditions(tmp_path):
    store = Store(tmp_path / "a.db")
    run = store.begin_run(tool_version="t", policy_path="p", policy_sha256="s")
    e = Edge(
        "account:1", "x", Relation.CAN_READ, "stmt 1", {"StringEquals": {"aws:SourceVpce": "v"}}
    )
    store.add_records(run, [e, e])  # the same edge twice is stored once
    assert list(store.edges(run)) == [e]


def test_findings_replace_per_run(tmp_path):
    store = Store(tmp_path / "a.db")
    run = store.begin_run(tool_version="t", policy_path="p", policy_sha256="s")
    f = Finding("SOV-001", Status.FAIL, Severity.HIGH, "x", "m", evidence=("a", "b"))
    store.replace_findings(run, [f])
    store.replace_findings(run, [f])
    assert store.findings(run) == [f]
    assert store.get_run(run).checked_at is not None


def test_errors_name_the_file(tmp_path):
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"this is not sqlite at all" * 100)
    with pytest.raises(StoreError, match=r"junk\.db"):
        Store(junk)
    empty = Store(tmp_path / "empty.db")
    with pytest.raises(StoreError, match="no complete run"):
        empty.latest_run()
    with pytest.raises(StoreError, match="no run 7"):
        empty.get_run(7)
