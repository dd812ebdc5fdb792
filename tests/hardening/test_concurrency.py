"""Two govaudit processes on one database, or one report folder, at once.

Audits take turns on the database (BEGIN IMMEDIATE and a long busy timeout, auditor/store.py);
a lock held by someone else past that timeout ends the command with one line and exit 4.
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

from auditor import store as store_module
from auditor.cli import main
from auditor.errors import StoreError
from auditor.evidence import read_stamp, run_digest, verify
from auditor.store import Store
from bench import interruptions
from bench.interruptions import AUDIT_OK, complete_html, integrity, temp_files

CN_ACCOUNT, AWS_ACCOUNT = "111111111111", "333333333333"


@dataclass(frozen=True)
class Pair:
    """Two audits of different accounts, started together on one new database."""

    estate: interruptions.Estate
    db: Path
    outs: dict[str, Path]  # account -> its report folder
    runs: dict[str, int]  # account -> its run id
    results: dict[str, subprocess.CompletedProcess[str]]


def _start(args: list[str], env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        args, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def _finish(child: subprocess.Popen[str]) -> subprocess.CompletedProcess[str]:
    out, err = child.communicate(timeout=300)
    return subprocess.CompletedProcess(child.args, child.returncode, out, err)


@pytest.fixture(scope="module")
def pair(moto_server: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pair]:
    requests.post(f"{moto_server}/moto-api/reset", timeout=10)
    folder = tmp_path_factory.mktemp("pair")
    estate = interruptions.seed(moto_server, folder / "aws")
    db = folder / "audit.db"  # not there yet: both audits race to create the tables
    outs = {account: folder / f"out-{account}" for account in (CN_ACCOUNT, AWS_ACCOUNT)}
    children = {
        account: _start(interruptions.audit_command(estate.only(account), db, out), estate.env)
        for account, out in outs.items()
    }
    results = {account: _finish(child) for account, child in children.items()}
    with closing(Store(db)) as store:
        runs = {run.accounts[0]: run.id for run in store.runs() if run.accounts}
    yield Pair(estate, db, outs, runs, results)


@pytest.mark.moto
def test_two_audits_on_one_new_database_take_turns_and_both_complete(pair):
    for account, done in pair.results.items():
        assert "Traceback" not in done.stderr, done.stderr
        assert done.returncode in AUDIT_OK, (account, done.stderr)
    assert integrity(pair.db) == "ok"
    with closing(Store(pair.db)) as store:
        runs = store.runs()
        assert [(r.status, bool(r.checked_at)) for r in runs] == [("complete", True)] * 2
        # They ran side by side, taking turns per transaction, not one after the other.
        assert max(r.started_at for r in runs) < min(str(r.finished_at) for r in runs)
        for account, run_id in pair.runs.items():
            assert store.get_run(run_id).accounts == (account,)
            assert read_stamp(pair.outs[account] / "report.html").run_id == run_id


@pytest.mark.moto
def test_the_two_runs_rows_do_not_mix(pair):
    with closing(Store(pair.db)) as store:
        uids = {a: {r.uid for r in store.resources(run)} for a, run in pair.runs.items()}
        for account, run_id in pair.runs.items():
            other = uids[AWS_ACCOUNT if account == CN_ACCOUNT else CN_ACCOUNT]
            assert uids[account] and not uids[account] & other
            assert {r.account for r in store.resources(run_id)} == {account}
            assert {c.account for c in store.coverage(run_id)} == {account}
            findings = store.findings(run_id)
            assert findings and not {f.resource for f in findings} & other
            assert {f.account for f in findings} <= {account, None}
        first = {a: run_digest(store, run) for a, run in pair.runs.items()}
    # Digests re-read through a new connection are the same, and match each run's report.
    with closing(Store(pair.db)) as store:
        assert first == {a: run_digest(store, run) for a, run in pair.runs.items()}
        for account, out in pair.outs.items():
            assert verify(out / "report.html", store).ok, account


@pytest.mark.moto
def test_an_audit_alone_finds_what_it_found_beside_another(pair, tmp_path):
    solo = tmp_path / "solo.db"
    estate = pair.estate.only(CN_ACCOUNT)
    done = subprocess.run(
        interruptions.audit_command(estate, solo, tmp_path / "out"),
        env=estate.env,
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    assert done.returncode in AUDIT_OK, done.stderr
    with closing(Store(pair.db)) as beside, closing(Store(solo)) as alone:
        run = pair.runs[CN_ACCOUNT]
        assert {r.uid for r in beside.resources(run)} == {r.uid for r in alone.resources(1)}
        assert {(f.check_id, f.resource, f.status) for f in beside.findings(run)} == {
            (f.check_id, f.resource, f.status) for f in alone.findings(1)
        }


@pytest.mark.moto
def test_two_reports_into_one_folder_leave_one_of_them_whole(pair, tmp_path):
    out = tmp_path / "shared"
    runs = sorted(pair.runs.values())
    for _round in range(3):
        children = [
            _start(interruptions.report_command(pair.db, out, run), pair.estate.env) for run in runs
        ]
        for done in [_finish(child) for child in children]:
            assert done.returncode == 0, done.stderr
        html = out / "report.html"
        assert complete_html(html.read_text("utf-8"))
        assert read_stamp(html).run_id in runs
        with closing(Store(pair.db)) as store:
            assert verify(html, store).ok
        assert not temp_files(out)
    assert integrity(pair.db) == "ok"


# the store alone --------------------------------------------------------------------------

_OPEN_AT = """
import sys, time
from pathlib import Path
from auditor.store import Store
time.sleep(max(0.0, float(sys.argv[2]) - time.time()))
store = Store(Path(sys.argv[1]))
store.begin_run(tool_version="t", policy_path="p", policy_sha256="s")
store.close()
"""


def test_processes_creating_one_new_database_at_once_all_succeed(tmp_path):
    # Before BEGIN IMMEDIATE, about one start in ten failed: "database is locked" or
    # "table runs already exists", as exit 4 with a misleading "not a usable database".
    for attempt in range(4):
        db = tmp_path / f"new-{attempt}.db"
        at = time.time() + 1.0  # after every child has imported, so they open together
        args = [sys.executable, "-c", _OPEN_AT, str(db), str(at)]
        children = [_start(args, dict(os.environ)) for _ in range(4)]
        for done in [_finish(child) for child in children]:
            assert done.returncode == 0, done.stderr
        with closing(Store(db)) as store:
            assert [r.id for r in store.runs()] == [1, 2, 3, 4]


@contextmanager
def _locked(db: Path, how: str) -> Iterator[None]:
    """Another process's lock on the database, as a sqlite3 shell left open would hold."""
    holder = sqlite3.connect(db, isolation_level=None)
    holder.execute(f"begin {how}")
    try:
        yield
    finally:
        holder.execute("rollback")
        holder.close()


def test_a_write_lock_held_past_the_timeout_is_a_store_error(tmp_path, monkeypatch):
    monkeypatch.setattr(store_module, "BUSY_TIMEOUT_S", 0.2)
    db = tmp_path / "audit.db"
    Store(db).close()
    store = Store(db)
    with _locked(db, "immediate"):
        # Reading goes on beside another writer; starting a run must wait, then give up.
        assert store.runs() == []
        with pytest.raises(StoreError, match="locked by another process"):
            store.begin_run(tool_version="t", policy_path="p", policy_sha256="s")
    # Nothing was left half-open: the next write goes through.
    assert store.begin_run(tool_version="t", policy_path="p", policy_sha256="s") == 1
    store.close()


def test_a_command_blocked_past_the_timeout_exits_4_with_one_line(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(store_module, "BUSY_TIMEOUT_S", 0.2)
    db = tmp_path / "audit.db"
    Store(db).close()
    with _locked(db, "exclusive"), pytest.raises(SystemExit) as info:
        main(["report", "--db", str(db), "--out", str(tmp_path / "out")])
    _, err = capsys.readouterr()
    assert info.value.code == 4
    assert err.startswith(f"error: {db}: the database stayed locked by another process")
    assert len(err.strip().splitlines()) == 1
