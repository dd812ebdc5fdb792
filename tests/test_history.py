"""`govaudit diff` and finding histories over a real database of several runs."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner

from auditor.cli import cli, main
from auditor.errors import StoreError, UsageError
from auditor.history import (
    FindingDelta,
    HistoryLabel,
    Resolution,
    TagChange,
    ValueChange,
    compare,
    counted_runs,
    finding_history,
    select_runs,
)
from auditor.history_cli import diff_command
from auditor.model import Finding, Resource, Severity, Status, WaiverMark
from auditor.store import Store
from tests.helpers import bucket

START = datetime(2026, 1, 1, 9, 0, tzinfo=UTC)
SECRET = "hunter2-do-not-print"
WAIVER = WaiverMark(
    state="waived", ticket="SEC-1", approver="ciso", reason="r", expires="", days_left=None
)


class Clock:
    """Stands in for the store's clock, so runs can be days apart in a test."""

    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> str:
        return self.now.isoformat(timespec="seconds")


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    fake = Clock()
    monkeypatch.setattr("auditor.store._now", fake)
    return fake


def uid(name: str) -> str:
    return f"arn:aws-cn:s3:::{name}"


def finding(
    check_id: str,
    name: str,
    status: Status = Status.FAIL,
    severity: Severity = Severity.HIGH,
    waiver: WaiverMark | None = None,
) -> Finding:
    message = f"{check_id} on {name}: {status.value}\nsecond line"
    return Finding(check_id, status, severity, uid(name), message, title=check_id, waiver=waiver)


def audit(
    store: Store,
    clock: Clock,
    day: int,
    resources: list[Resource],
    findings: list[Finding],
    *,
    complete: bool = True,
    check: bool = True,
    policy_sha256: str = "sha-1",
) -> int:
    clock.now = START + timedelta(days=day)
    run = store.begin_run(tool_version="t", policy_path="p", policy_sha256=policy_sha256)
    store.add_records(run, resources)
    if complete:
        store.finish_run(run, accounts=["111111111111"], regions=["cn-north-1"])
    if check:
        store.replace_findings(run, findings)
    return run


def estate() -> list[Resource]:
    return [
        bucket("a", tags={"owner": "民政局"}, policy="v1"),
        bucket("b"),
        bucket("c"),
        bucket("d"),
    ]


@pytest.fixture
def history_db(tmp_path: Path, clock: Clock) -> Path:
    """Four runs: 1 (day 0), 2 (day 10), 3 incomplete (day 12), 4 (day 20).

    Each finding's story, by (check, resource):
      SOV-001 a  FAIL FAIL  .  FAIL          persisting since run 1
      SOV-002 b  FAIL PASS  .  FAIL          reopened (last failed in run 1)
      RSP-001 c  FAIL FAIL  .  FAIL waived   persisting, waiver none -> waived
      SOV-003 d  FAIL FAIL  .  (d removed)   resolved: resource removed
      SOV-005 c  FAIL FAIL  .  PASS          resolved to PASS after 20 days
      SOV-006 b  -    FAIL  .  UNKNOWN       resolved to UNKNOWN after 10 days
      SOV-007 c  -    FAIL  .  -             resolved: no longer checked, c still there
      SOV-009 a  -    -   FAIL FAIL          new: the incomplete run 3 does not count
    """
    path = tmp_path / "audit.db"
    store = Store(path)
    first = [
        finding("SOV-001", "a"),
        finding("SOV-002", "b", severity=Severity.CRITICAL),
        finding("RSP-001", "c", severity=Severity.MEDIUM),
        finding("SOV-003", "d"),
        finding("SOV-005", "c"),
    ]
    audit(store, clock, 0, estate(), first)
    second = [
        finding("SOV-001", "a"),
        finding("SOV-002", "b", Status.PASS, Severity.CRITICAL),
        finding("RSP-001", "c", severity=Severity.MEDIUM),
        finding("SOV-003", "d"),
        finding("SOV-005", "c"),
        finding("SOV-006", "b", severity=Severity.LOW),
        finding("SOV-007", "c"),
    ]
    audit(store, clock, 10, estate(), second)
    audit(store, clock, 12, estate()[:1], [finding("SOV-009", "a")], complete=False)
    moved = [
        # Same uid, another place: as when a resource's recorded location is corrected.
        replace(
            bucket("a", tags={"owner": "大数据局", "env": "prod"}, policy=SECRET),
            region="ap-east-1",
            jurisdiction="HK",
        ),
        bucket("b"),
        bucket("c"),
        bucket("e"),
    ]
    fourth = [
        finding("SOV-001", "a"),
        finding("SOV-002", "b", severity=Severity.CRITICAL),
        finding("RSP-001", "c", severity=Severity.MEDIUM, waiver=WAIVER),
        finding("SOV-005", "c", Status.PASS),
        finding("SOV-006", "b", Status.UNKNOWN, Severity.LOW),
        finding("SOV-009", "a"),
    ]
    audit(store, clock, 20, moved, fourth)
    store.close()
    return path


def keys(deltas) -> list[tuple[str, str]]:
    """(check id, bucket name) of each delta, in the diff's order."""
    return [(d.check_id, d.resource.rsplit(":", 1)[-1]) for d in deltas]


def by_key(deltas) -> dict[tuple[str, str], FindingDelta]:
    return dict(zip(keys(deltas), deltas, strict=True))


def test_default_runs_are_the_last_two_complete_checked_ones(history_db):
    store = Store(history_db)
    a, b = select_runs(store)
    assert (a.id, b.id) == (2, 4)
    assert [r.id for r in counted_runs(store)] == [1, 2, 4]
    assert [r.id for r in select_runs(store, 1)] == [1, 4]
    assert [r.id for r in select_runs(store, None, 2)] == [1, 2]


def test_findings_are_classified_new_reopened_persisting_resolved(history_db):
    store = Store(history_db)
    diff = compare(store, store.get_run(2), store.get_run(4))
    # The incomplete run 3 failed SOV-009 too; counting it would make this "reopened".
    assert keys(diff.new) == [("SOV-009", "a")]
    assert keys(diff.reopened) == [("SOV-002", "b")]
    assert diff.reopened[0].last_failed_run == 1
    assert keys(diff.persisting) == [("SOV-001", "a"), ("RSP-001", "c")]  # worst first
    assert {k: d.resolution for k, d in by_key(diff.resolved).items()} == {
        ("SOV-003", "d"): Resolution.RESOURCE_REMOVED,
        ("SOV-005", "c"): Resolution.PASS,
        ("SOV-006", "b"): Resolution.UNKNOWN,
        ("SOV-007", "c"): Resolution.NOT_CHECKED,
    }


def test_time_to_fix_and_age_count_days_of_the_unbroken_streak(history_db):
    store = Store(history_db)
    diff = compare(store, store.get_run(2), store.get_run(4))
    fixed = {k: (d.since_run, d.days) for k, d in by_key(diff.resolved).items()}
    assert fixed[("SOV-005", "c")] == (1, 20)
    assert fixed[("SOV-006", "b")] == (2, 10)
    assert {k: d.days for k, d in by_key(diff.persisting).items()} == {
        ("SOV-001", "a"): 20,
        ("RSP-001", "c"): 20,
    }
    assert (diff.new[0].days, diff.reopened[0].days) == (0, 0)
    # From run 1, b's reopened finding failed in both runs, but its streak restarted at 4.
    wide = compare(store, store.get_run(1), store.get_run(4))
    reopened_b = by_key(wide.persisting)[("SOV-002", "b")]
    assert (reopened_b.since_run, reopened_b.days) == (4, 0)


def test_waiver_changes_are_reported(history_db):
    store = Store(history_db)
    diff = compare(store, store.get_run(2), store.get_run(4))
    (change,) = diff.waiver_changes
    assert (change.check_id, change.before, change.after) == ("RSP-001", None, "waived")
    waived = {k: d.waived for k, d in by_key(diff.persisting).items()}
    assert waived == {("SOV-001", "a"): False, ("RSP-001", "c"): True}


def test_changed_resources_name_attribute_keys_but_not_their_values(history_db):
    store = Store(history_db)
    diff = compare(store, store.get_run(2), store.get_run(4))
    assert [r.name for r in diff.added] == ["e"]
    assert [r.name for r in diff.removed] == ["d"]
    (change,) = diff.changed
    assert change.uid == uid("a")
    assert change.jurisdiction == ValueChange("CN", "HK")
    assert change.region == ValueChange("cn-north-1", "ap-east-1")
    assert change.tags == (
        TagChange("env", None, "prod"),
        TagChange("owner", "民政局", "大数据局"),
    )
    assert change.attrs == ("policy",)
    assert SECRET not in repr(diff)


def test_finding_history_labels_and_timelines(history_db):
    store = Store(history_db)
    run = store.get_run(4)
    history = {(c, r.rsplit(":", 1)[-1]): h for (c, r), h in finding_history(store, run).items()}
    summary = {
        k: (h.label, h.first_seen_run, h.failing_since_run, h.days_open, h.timeline)
        for k, h in history.items()
    }
    assert summary == {
        ("SOV-001", "a"): (HistoryLabel.PERSISTING, 1, 1, 20, "FFF"),
        ("SOV-002", "b"): (HistoryLabel.REOPENED, 1, 4, 0, "FPF"),
        ("RSP-001", "c"): (HistoryLabel.WAIVED, 1, 1, 20, "FFW"),
        ("SOV-005", "c"): (HistoryLabel.PASSING, 1, None, None, "FFP"),
        ("SOV-006", "b"): (HistoryLabel.UNKNOWN, 2, None, None, "-FU"),
        ("SOV-009", "a"): (HistoryLabel.NEW, 4, 4, 0, "--F"),
    }
    assert history[("SOV-006", "b")].first_seen_at == "2026-01-11T09:00:00+00:00"
    assert [r.id for r in counted_runs(store, run)] == [1, 2, 4]  # the timeline's columns


def test_finding_history_of_the_first_run_is_all_new(history_db):
    store = Store(history_db)
    labels = {h.label for h in finding_history(store, store.get_run(1)).values()}
    assert labels == {HistoryLabel.NEW}


def test_refuses_runs_that_do_not_count(history_db, tmp_path, clock):
    store = Store(history_db)
    with pytest.raises(UsageError, match="run 3 is incomplete"):
        select_runs(store, 3, 4)
    with pytest.raises(UsageError, match="must be older"):
        compare(store, store.get_run(4), store.get_run(2))
    with pytest.raises(UsageError, match="nothing newer"):
        select_runs(store, 4)
    with pytest.raises(StoreError, match="no run 9"):
        select_runs(store, 1, 9)
    audit(store, clock, 30, estate(), [], check=False)
    with pytest.raises(UsageError, match="run 5 has not been checked"):
        select_runs(store, 1, 5)
    lonely = Store(tmp_path / "one.db")
    audit(lonely, clock, 0, estate(), [finding("SOV-001", "a")])
    with pytest.raises(StoreError, match="1 complete, checked run"):
        select_runs(lonely)


# command line ---------------------------------------------------------------------------------


def invoke(args: list[str]) -> str:
    result = CliRunner().invoke(diff_command, args)
    assert result.exit_code == 0, result.output
    return result.output


def test_table_shows_each_section(history_db):
    out = invoke(["--db", str(history_db)])
    assert out.startswith("run 2 (2026-01-11T09:00:00+00:00) -> run 4 (")
    assert out.splitlines()[0].endswith(", 10 d apart")
    for heading in ("New (1)", "Reopened (1)", "Resolved (4)", "Persisting (2) (--all lists"):
        assert f"\n{heading}" in out
    assert "SOV-009   high     arn:aws-cn:s3:::a  (open 0 d)" in out
    assert "failed before in run 1" in out
    assert "now PASS, fixed in 20 d" in out
    assert "resource removed, gone in 20 d" in out
    assert "now UNKNOWN, not proven fixed; open 10 d" in out
    assert "RSP-001 on c" not in out  # persisting findings are only counted
    assert "SOV-009 on a: FAIL second line" in out  # one line per message
    assert "waiver none -> waived" in out
    assert "Changed resources (1 added, 1 removed, 1 changed)" in out
    assert "jurisdiction: CN -> HK" in out
    assert 'tag "owner": "民政局" -> "大数据局"' in out
    assert "attributes changed: policy" in out
    assert SECRET not in out


def test_all_lists_persisting_findings(history_db):
    out = invoke(["--db", str(history_db), "--all", "1", "2"])
    assert "Persisting (4)\n" in out
    assert "RSP-001   medium   arn:aws-cn:s3:::c  (open 10 d)" in out


def test_policy_change_is_noted(history_db, clock):
    store = Store(history_db)
    audit(store, clock, 30, estate(), [], policy_sha256="sha-2")
    assert "the policy changed" in invoke(["--db", str(history_db)])


def test_json_document(history_db):
    document = json.loads(invoke(["--db", str(history_db), "--json"]))
    assert document["format"] == "govaudit-diff/1"
    assert (document["run_a"]["id"], document["run_b"]["id"]) == (2, 4)
    assert document["counts"] == {
        "new": 1,
        "reopened": 1,
        "resolved": 4,
        "persisting": 2,
        "waiver_changes": 1,
        "resources_added": 1,
        "resources_removed": 1,
        "resources_changed": 1,
    }
    assert len(document["findings"]["persisting"]) == 2  # in full, without --all
    removed = next(d for d in document["findings"]["resolved"] if d["check_id"] == "SOV-003")
    assert removed["resolution"] == "resource_removed"
    assert removed["days"] == 20
    changed = document["resources"]["changed"][0]
    assert changed["jurisdiction"] == {"before": "CN", "after": "HK"}
    assert changed["attrs"] == ["policy"]
    assert SECRET not in json.dumps(document)


def run_main(args, capsys, monkeypatch) -> tuple[int, str]:
    # The lead registers the command in auditor.cli; until then, register it for the test.
    monkeypatch.setitem(cli.commands, "diff", diff_command)
    with pytest.raises(SystemExit) as info:
        main(args)
    code = info.value.code
    return (code if isinstance(code, int) else 0), capsys.readouterr().err


@pytest.mark.parametrize(
    ("runs", "code", "fragment"),
    [
        (["9"], 4, "no run 9"),
        (["3", "4"], 2, "run 3 is incomplete"),
        (["4", "2"], 2, "RUN_A (4) must be older than RUN_B (2)"),
    ],
)
def test_errors_are_one_line(history_db, capsys, monkeypatch, runs, code, fragment):
    got, err = run_main(["diff", "--db", str(history_db), *runs], capsys, monkeypatch)
    assert got == code
    assert err.count("\n") == 1 and err.startswith("error: ") and fragment in err


def test_one_run_only_is_an_error(tmp_path, clock, capsys, monkeypatch):
    db = tmp_path / "one.db"
    audit(Store(db), clock, 0, estate(), [finding("SOV-001", "a")])
    code, err = run_main(["diff", "--db", str(db)], capsys, monkeypatch)
    assert code == 4
    assert err.count("\n") == 1 and "diff needs two" in err and "Traceback" not in err


def test_missing_database_is_a_usage_error(tmp_path, capsys, monkeypatch):
    code, err = run_main(["diff", "--db", str(tmp_path / "nope.db")], capsys, monkeypatch)
    assert code == 2
    assert err.count("\n") == 1 and "does not exist" in err
    assert not (tmp_path / "nope.db").exists()
