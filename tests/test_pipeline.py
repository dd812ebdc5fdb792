from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from auditor import pipeline
from auditor.model import Coverage, Outcome, Record
from auditor.store import Store
from tests.helpers import bucket, policy


def fake_collection(names: list[str], fail_after: int | None = None):
    def collect_aws(targets, regions, workers) -> Iterator[Record]:
        for i, name in enumerate(names):
            if fail_after is not None and i == fail_after:
                raise KeyboardInterrupt  # as when the operator presses Ctrl-C mid-collection
            yield bucket(name)
        yield Coverage("aws", "111111111111", "global", "s3", Outcome.OK)

    return collect_aws


def test_interrupted_collection_leaves_earlier_runs_intact(tmp_path, monkeypatch):
    db = tmp_path / "audit.db"
    store = Store(db)
    monkeypatch.setattr(pipeline, "collect_aws", fake_collection(["a", "b"]))
    first = pipeline.collect(store, policy(), [pipeline.AwsScope(targets=[])])
    pipeline.check(store, policy(), first)
    before = store.findings(first.id)

    names = [f"n{i}" for i in range(2000)]
    monkeypatch.setattr(pipeline, "collect_aws", fake_collection(names, fail_after=1500))
    with pytest.raises(KeyboardInterrupt):
        pipeline.collect(store, policy(), [pipeline.AwsScope(targets=[])])
    store.close()

    con = sqlite3.connect(db)
    assert con.execute("pragma integrity_check").fetchone() == ("ok",)
    assert con.execute("select id, status from runs").fetchall() == [
        (1, "complete"),
        (2, "incomplete"),
    ]
    reopened = Store(db)
    assert reopened.latest_run().id == first.id
    assert [r.name for r in reopened.resources(first.id)] == ["a", "b"]
    assert reopened.findings(first.id) == before
    # batches written before the interruption are kept, marked as the incomplete run's
    partial = con.execute("select count(*) from resources where run_id = 2").fetchone()[0]
    assert 0 < partial <= 1500


def test_region_overrides_of_the_policy_win(tmp_path, monkeypatch):
    text = Path(policy().path).read_text("utf-8") + 'region_overrides: {"aws:cn-north-1": "HK"}\n'
    path = tmp_path / "p.yaml"
    path.write_text(text, "utf-8")
    from auditor.policy import load_policy

    store = Store(tmp_path / "a.db")
    monkeypatch.setattr(pipeline, "collect_aws", fake_collection(["a"]))
    run = pipeline.collect(store, load_policy(path), [pipeline.AwsScope(targets=[])])
    (resource,) = store.resources(run.id)
    assert resource.jurisdiction == "HK"
