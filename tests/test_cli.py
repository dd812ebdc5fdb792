from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import click
import pytest

from auditor.cli import cli, main
from auditor.model import Coverage, Edge, Outcome, Relation
from auditor.policy import policy_sha256
from auditor.store import Store
from tests.helpers import bucket
from tests.test_policy import MINIMAL


def run_main(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as info:
        main(args)
    out, err = capsys.readouterr()
    code = info.value.code
    return (code if isinstance(code, int) else 0), out, err


def all_commands(group: click.Group, prefix: str = "") -> list[tuple[str, click.Command]]:
    found = []
    for name, command in group.commands.items():
        found.append((f"{prefix}{name}", command))
        if isinstance(command, click.Group):
            found.extend(all_commands(command, f"{prefix}{name} "))
    return found


@pytest.mark.parametrize(("name", "command"), all_commands(cli))
def test_every_command_has_help(name, command):
    assert command.help, f"govaudit {name} has no help text"


def seeded_db(tmp_path: Path) -> Path:
    """A database with one complete run: a core bucket in Hong Kong readable by an outsider."""
    path = tmp_path / "audit.db"
    store = Store(path)
    run = store.begin_run(
        tool_version="t", policy_path=str(MINIMAL), policy_sha256=policy_sha256(MINIMAL)
    )
    hk = bucket("hk-core", "ap-east-1", account="111111111111", tags={"data-class": "核心"})
    store.add_records(
        run,
        [
            hk,
            Edge("account:999988887777", hk.uid, Relation.CAN_READ, "bucket policy stmt 0"),
            Coverage("aws", "111111111111", "ap-east-1", "s3", Outcome.OK),
        ],
    )
    store.finish_run(run, accounts=["111111111111"], regions=["ap-east-1"])
    store.close()
    return path


def test_check_then_report_and_exit_codes(tmp_path, capsys):
    db = seeded_db(tmp_path)
    code, out, err = run_main(["check", "--policy", str(MINIMAL), "--db", str(db)], capsys)
    assert code == 1  # critical SOV-001 fails at the default --fail-on high
    assert out == ""  # progress goes to stderr only
    assert "FAIL" in err
    code, _, _ = run_main(
        ["check", "--policy", str(MINIMAL), "--db", str(db), "--fail-on", "critical"], capsys
    )
    assert code == 1
    code, _, err = run_main(["report", "--db", str(db), "--out", str(tmp_path / "r")], capsys)
    assert code == 0, err
    findings = json.loads((tmp_path / "r" / "findings.json").read_text("utf-8"))
    failing = {(f["check_id"], f["resource"]) for f in findings if f["status"] == "FAIL"}
    assert ("SOV-001", "arn:aws:s3:::hk-core") in failing
    assert ("ACC-002", "arn:aws:s3:::hk-core") in failing
    # the report finds the run's policy by itself when the file is unchanged
    assert "测试局" in (tmp_path / "r" / "report.html").read_text("utf-8")


def test_check_exits_zero_when_nothing_reaches_the_threshold(tmp_path, capsys):
    db = tmp_path / "clean.db"
    store = Store(db)
    run = store.begin_run(tool_version="t", policy_path="p", policy_sha256="s")
    store.add_records(run, [bucket("fine", tags={"data-class": "一般", "owner-dept": "dsj"})])
    store.finish_run(run, accounts=["111111111111"], regions=["cn-north-1"])
    store.close()
    code, _, err = run_main(["check", "--policy", str(MINIMAL), "--db", str(db)], capsys)
    assert code == 0, err


@pytest.mark.parametrize(
    ("args", "code", "fragment"),
    [
        (["nonsense"], 2, "No such command"),
        (["check", "--db", "x.db"], 2, "--policy"),
        (["check", "--policy", "/nonexistent.yaml", "--db", "x.db"], 2, "policy file not found"),
        (
            ["audit", "--policy", str(MINIMAL), "--db", "x.db", "--out", "o", "--regions", ","],
            2,
            "--regions",
        ),
        (["report", "--db", "{tmp}/empty.db", "--out", "{tmp}/o"], 4, "no complete run"),
        (
            ["check", "--policy", str(MINIMAL), "--db", "{tmp}/no/such/dir/a.db"],
            2,
            "does not exist",
        ),
    ],
)
def test_errors_are_one_line_with_documented_codes(tmp_path, capsys, args, code, fragment):
    args = [a.replace("{tmp}", str(tmp_path)) for a in args]
    got, _out, err = run_main(args, capsys)
    assert got == code
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    assert lines[0].startswith("error: ")
    assert fragment in lines[0]


def test_bad_policy_names_file_and_line(tmp_path, capsys):
    bad = tmp_path / "bad.yaml"
    bad.write_text("version: 1\nclassifications:\n  a: {allowed_jurisdictions: [Mars]}\n", "utf-8")
    code, _, err = run_main(["check", "--policy", str(bad), "--db", str(tmp_path / "a.db")], capsys)
    assert code == 2
    assert f"{bad}:3:" in err


def test_incomplete_run_is_refused(tmp_path, capsys):
    db = tmp_path / "a.db"
    store = Store(db)
    run = store.begin_run(tool_version="t", policy_path="p", policy_sha256="s")
    store.close()
    code, _, err = run_main(
        ["check", "--policy", str(MINIMAL), "--db", str(db), "--run", str(run)], capsys
    )
    assert code == 2
    assert "incomplete" in err


def test_checks_list_table_and_json(capsys):
    code, out, _ = run_main(["checks", "list"], capsys)
    assert code == 0
    assert "SOV-001" in out
    code, out, _ = run_main(["checks", "list", "--json"], capsys)
    rows = json.loads(out)
    ids = {r["id"] for r in rows}
    assert {"SOV-001", "FLOW-001", "KEY-001", "KEY-004", "ACC-001", "ACC-002", "RSP-001"} <= ids
    assert all(r["frameworks"] and r["remediation"] and r["fails_when"] for r in rows)


def test_python_dash_m_auditor_works():
    done = subprocess.run(
        [sys.executable, "-m", "auditor", "--version"], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0
    assert "govaudit" in done.stdout


def test_iam_policy_covers_every_call_the_adapters_make(capsys):
    from auditor.inventories.aws.registry import all_operations

    code, out, _ = run_main(["iam-policy"], capsys)
    assert code == 0
    policy = json.loads(out)
    (statement,) = policy["Statement"]
    assert statement["Effect"] == "Allow"
    actions = set(statement["Action"])
    needed = {a for a in all_operations().values() if a and a != "sts:GetCallerIdentity"}
    assert needed == actions
    assert all(a.split(":")[1][:1].isupper() for a in actions)
    writes = ("Put", "Create", "Delete", "Update", "Attach", "Modify", "Tag", "Untag", "Set")
    assert not [a for a in actions if a.split(":")[1].startswith(writes)]

    code, out, _ = run_main(["iam-policy", "--role-name", "GovauditAudit"], capsys)
    assume = json.loads(out)["Statement"][1]
    assert assume["Action"] == "sts:AssumeRole"
    assert assume["Resource"] == "arn:*:iam::*:role/GovauditAudit"


def test_json_log_format_writes_one_object_per_line(tmp_path, capsys):
    db = seeded_db(tmp_path)
    code, out, err = run_main(
        ["--log-format", "json", "check", "--policy", str(MINIMAL), "--db", str(db)], capsys
    )
    assert code == 1
    assert out == ""
    entries = [json.loads(line) for line in err.splitlines() if line.strip()]
    assert entries
    assert any("FAIL" in e["message"] for e in entries)
    assert all({"time", "level", "logger", "message"} <= set(e) for e in entries)


def test_live_progress_only_on_a_terminal(monkeypatch, capsys):
    from auditor import cli as cli_module
    from auditor.model import Coverage, Outcome

    row = Coverage("aws", "111111111111", "cn-north-1", "kms", Outcome.OK)
    with click.Context(cli_module.cli, info_name="govaudit") as ctx:
        ctx.params = {"quiet": False, "log_format": "text"}
        monkeypatch.setattr(sys.stderr, "isatty", lambda: False)
        assert cli_module._progress_meter() is None
        monkeypatch.setattr(sys.stderr, "isatty", lambda: True)
        meter = cli_module._progress_meter()
        assert meter is not None
        meter(row)
        meter(row)
        ctx.params = {"quiet": True, "log_format": "text"}
        assert cli_module._progress_meter() is None
    err = capsys.readouterr().err
    assert "collected 2: 111111111111 cn-north-1 kms (ok)" in err


def test_errors_are_json_under_json_logs(tmp_path, capsys):
    code, _, err = run_main(
        ["--log-format", "json", "report", "--db", str(tmp_path / "e.db"), "--out", str(tmp_path)],
        capsys,
    )
    assert code == 4
    (line,) = err.strip().splitlines()
    entry = json.loads(line)
    assert entry["level"] == "error"
    assert entry["exit_code"] == 4
    assert "no complete run" in entry["message"]


def test_report_formats_choose_the_files_written(tmp_path, capsys):
    db = seeded_db(tmp_path)
    run_main(["check", "--policy", str(MINIMAL), "--db", str(db)], capsys)
    out = tmp_path / "exports"
    code, _, err = run_main(
        ["report", "--db", str(db), "--out", str(out), "--format", "csv,sarif,ocsf"], capsys
    )
    assert code == 0, err
    assert sorted(p.name for p in out.iterdir()) == [
        "findings.csv",
        "findings.ocsf.json",
        "findings.sarif",
    ]
    sarif = json.loads((out / "findings.sarif").read_text("utf-8"))
    assert any(r["ruleId"] == "SOV-001" for r in sarif["runs"][0]["results"])
    code, _, err = run_main(
        ["report", "--db", str(db), "--out", str(out), "--format", "html,pdf"], capsys
    )
    assert code == 2
    assert "pdf" in err and len(err.strip().splitlines()) == 1


def test_diff_is_a_command_of_govaudit(tmp_path, capsys):
    db = seeded_db(tmp_path)
    run_main(["check", "--policy", str(MINIMAL), "--db", str(db)], capsys)
    code, _, err = run_main(["diff", "--db", str(db)], capsys)
    assert code == 4  # one checked run: nothing to compare with
    assert err.startswith("error:") and len(err.strip().splitlines()) == 1
