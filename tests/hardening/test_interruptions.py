"""kill -9 never loses data: at random points of real audits, and before every SQL statement.

The first test is a small run of bench/interruptions.py (which the README's table comes from)
against the session's moto server.  The second kills a store writer before each statement
it sends to SQLite in turn, so no point of a write goes untried; the third kills `report` at
the one instant a report folder is most fragile, just before report.html is replaced.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
from collections.abc import Sequence
from contextlib import closing
from pathlib import Path

import pytest

from auditor.evidence import run_digest, verify
from auditor.model import (
    Coverage,
    Edge,
    Finding,
    Kind,
    Outcome,
    Record,
    Relation,
    Resource,
    Severity,
    Status,
)
from auditor.store import _SCHEMA, Store
from bench import interruptions

PRODUCTION = "111111111111"


@pytest.mark.moto
def test_kill_9_in_collection_and_reporting_loses_nothing(moto_endpoint, tmp_path):
    # One account keeps each audit to a few seconds; the bench runs all three.
    estate = interruptions.seed(moto_endpoint, tmp_path / "aws").only(PRODUCTION)
    outcome = interruptions.run(estate, tmp_path, trials=6, seed_value=7)
    trials = outcome.trials
    report = "\n".join(
        f"trial {t.number + 1}: {t.command} -> {t.died_in}: {t.problems}" for t in trials
    )

    assert outcome.ok, report + f"\nat the end: {outcome.final_problems}"
    assert all(t.integrity == "ok" for t in trials)
    assert all(t.earlier_runs_unchanged and t.report_ok and t.recovered for t in trials)
    # The kills must have landed where they were aimed, or the test proves little.
    killed = [t for t in trials if t.killed]
    assert any(t.died_in == "collection" for t in killed), report
    assert any(t.died_in in ("check", "report", "report (written)") for t in killed), report
    assert all(t.run_state_ok for t in trials if t.run_state_ok is not None), report


# every statement ----------------------------------------------------------------------------


def _resource(name: str) -> Resource:
    return Resource(
        uid=f"arn:aws-cn:s3:::{name}",
        provider="aws",
        kind=Kind.OBJECT_STORE,
        native_type="s3:bucket",
        name=name,
        account=PRODUCTION,
        region="cn-north-1",
        partition="aws-cn",
        jurisdiction="CN",
    )


def _inventory(prefix: str) -> list[Record]:
    records: list[Record] = []
    for i in range(5):
        records.append(_resource(f"{prefix}-{i}"))
        records.append(
            Edge(f"account:{PRODUCTION}", f"arn:aws-cn:s3:::{prefix}-{i}", Relation.CAN_READ, "s")
        )
    records.append(Coverage("aws", PRODUCTION, "cn-north-1", "s3", Outcome.OK))
    return records


def _findings(prefix: str, status: Status) -> list[Finding]:
    return [
        Finding("SOV-001", status, Severity.HIGH, f"arn:aws-cn:s3:::{prefix}-{i}", "m")
        for i in range(5)
    ]


BATCH = 4  # records per add_records transaction: the inventory takes three


def _write_a_second_run_and_recheck_the_first(db: Path, kill_at: int) -> None:
    """What an audit writes, then a re-check of run 1; SIGKILL before statement `kill_at`."""
    store = Store(db)
    seen = 0

    def trace(_sql: str) -> None:
        nonlocal seen
        seen += 1
        if seen == kill_at:
            os.kill(os.getpid(), signal.SIGKILL)

    store.db.conn.set_trace_callback(trace)
    run = store.begin_run(tool_version="t", policy_path="p", policy_sha256="s")
    store.add_records(run, _inventory("second"), batch_size=BATCH)
    store.finish_run(run, accounts=[PRODUCTION], regions=["cn-north-1"])
    store.replace_findings(run, _findings("second", Status.FAIL))
    store.replace_findings(1, _findings("first", Status.PASS))
    store.close()


def _kill_at_each_statement(base: str, folder: str) -> None:
    """Child process: one forked writer per statement, each on its own copy of `base`.

    Copy 0000 is written to the end, unkilled; copy N was killed before statement N.  Forking
    from this small single-threaded process (not from pytest, whose other threads may hold
    locks) makes a few hundred kills cost seconds, not minutes.
    """
    for kill_at in range(10_000):
        db = Path(folder) / f"{kill_at:04d}.db"
        shutil.copy(base, db)
        pid = os.fork()
        if pid == 0:
            _write_a_second_run_and_recheck_the_first(db, kill_at)
            os._exit(0)
        _, status = os.waitpid(pid, 0)
        if kill_at and os.WIFEXITED(status):  # it got past the last statement: all are tried
            db.unlink()
            return
        assert kill_at == 0 or os.WTERMSIG(status) == signal.SIGKILL


def _base(db: Path) -> None:
    """Run 1: complete and checked, as an earlier audit leaves it."""
    store = Store(db)
    run = store.begin_run(tool_version="t", policy_path="p", policy_sha256="s")
    store.add_records(run, _inventory("first"))
    store.finish_run(run, accounts=[PRODUCTION], regions=["cn-north-1"])
    store.replace_findings(run, _findings("first", Status.FAIL))
    store.close()


def _uids(records: Sequence[Record]) -> list[str]:
    return [r.uid for r in records if isinstance(r, Resource)]


def test_kill_9_before_any_statement_of_a_write_leaves_whole_transactions(tmp_path):
    base = tmp_path / "base.db"
    _base(base)
    with closing(Store(base)) as store:
        first_digest = run_digest(store, 1)
    folder = tmp_path / "kills"
    folder.mkdir()
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys; from tests.hardening.test_interruptions import _kill_at_each_statement"
            "; _kill_at_each_statement(*sys.argv[1:])",
            str(base),
            str(folder),
        ],
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
        cwd=Path(__file__).parents[2],
    )
    assert done.returncode == 0, done.stderr
    killed = sorted(folder.glob("[0-9]*.db"))[1:]  # 0000.db ran to the end, unkilled
    assert len(killed) > 30

    with closing(Store(folder / "0000.db")) as store:
        rechecked_digest = run_digest(store, 1)
    inventory = _inventory("second")
    batches = [inventory[i : i + BATCH] for i in range(0, len(inventory), BATCH)]
    whole_prefixes = [_uids([r for b in batches[:n] for r in b]) for n in range(len(batches) + 1)]
    states = set()
    for db in killed:
        with closing(sqlite3.connect(db)) as conn:
            assert conn.execute("pragma integrity_check").fetchone() == ("ok",), db.name
            # sqlite-utils probes the SQLite version with a scratch table: never left behind.
            tables = conn.execute("select name from sqlite_master where type = 'table'")
            assert {name for (name,) in tables} == set(_SCHEMA), db.name
        with closing(Store(db)) as store:
            # The earlier run: its old findings or the re-check's, never none or half.
            assert run_digest(store, 1) in (first_digest, rechecked_digest), db.name
            assert store.get_run(1).status == "complete"
            runs = store.runs()
            if len(runs) == 1:
                states.add("no second run")
                continue
            second = runs[1]
            uids = [r.uid for r in store.resources(second.id)]
            findings = store.findings(second.id)
            if second.status == "incomplete":
                states.add("incomplete")
                assert second.finished_at is None and second.checked_at is None, db.name
                assert not findings, db.name
                assert sorted(uids) in [sorted(p) for p in whole_prefixes], (db.name, uids)
                continue
            assert sorted(uids) == sorted(whole_prefixes[-1]), db.name
            assert len(store.coverage(second.id)) == 1
            if second.checked_at is None:
                states.add("complete, unchecked")
                assert not findings, db.name
            else:
                states.add("checked")
                assert findings == sorted(
                    _findings("second", Status.FAIL), key=lambda f: (f.check_id, f.resource)
                ), db.name
    assert states == {"no second run", "incomplete", "complete, unchecked", "checked"}


# the report folder --------------------------------------------------------------------------

# `govaudit report`, killed when report.html's temporary file is written and about to be
# renamed over report.html: the last moment a non-atomic write could leave half a page.
_REPORT_KILLED_AT_RENAME = """
import os, signal, sys
from auditor.cli import main

fsync = os.fsync

def fsync_then_die(fd):
    fsync(fd)
    if os.path.basename(os.readlink(f"/proc/self/fd/{fd}")).startswith(".report.html."):
        os.kill(os.getpid(), signal.SIGKILL)

os.fsync = fsync_then_die
main(sys.argv[1:])
"""


def _report(db: Path, out: Path, code: str | None = None) -> subprocess.CompletedProcess[str]:
    args = ["report", "--db", str(db), "--out", str(out), "--run", "1"]
    program = ["-c", code] if code else ["-m", "auditor"]
    return subprocess.run(
        [sys.executable, *program, *args], capture_output=True, text=True, check=False
    )


def test_kill_9_while_report_html_is_written_keeps_the_previous_page(tmp_path):
    db, out = tmp_path / "audit.db", tmp_path / "out"
    _base(db)
    assert _report(db, out).returncode == 0
    previous = (out / "report.html").read_bytes()

    killed = _report(db, out, _REPORT_KILLED_AT_RENAME)

    assert killed.returncode == -signal.SIGKILL, killed.stderr
    assert (out / "report.html").read_bytes() == previous
    assert interruptions.complete_html(previous.decode("utf-8"))
    # findings.json was written first and is whole: the new one, beside the old page.
    assert json.loads((out / "findings.json").read_text("utf-8"))
    # The renamed-never temporary file stays behind (render.py does not sweep them); the
    # next report ignores it and writes a whole page of its own.
    left = interruptions.temp_files(out)
    assert len(left) == 1 and left.pop().startswith(".report.html.")
    assert _report(db, out).returncode == 0
    with closing(Store(db)) as store:
        assert verify(out / "report.html", store).ok
