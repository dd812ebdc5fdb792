"""A report names the run it came from; `govaudit verify` checks it against the database."""

from __future__ import annotations

import sqlite3

from tests.test_cli import run_main, seeded_db
from tests.test_policy import MINIMAL


def _audited(tmp_path, capsys):
    db = seeded_db(tmp_path)
    run_main(["check", "--policy", str(MINIMAL), "--db", str(db)], capsys)
    out = tmp_path / "r"
    code, _, err = run_main(["report", "--db", str(db), "--out", str(out)], capsys)
    assert code == 0, err
    return db, out / "report.html"


def test_verify_accepts_the_report_made_from_the_database(tmp_path, capsys):
    db, report = _audited(tmp_path, capsys)
    html = report.read_text("utf-8")
    assert 'id="evidence"' in html and 'class="run-digest"' in html
    code, out, _ = run_main(["verify", str(report), "--db", str(db)], capsys)
    assert code == 0
    assert "OK: the report matches run 1" in out


def test_verify_catches_a_changed_database_and_a_changed_report(tmp_path, capsys):
    db, report = _audited(tmp_path, capsys)
    with sqlite3.connect(db) as conn:
        conn.execute("update findings set status = 'PASS' where check_id = 'SOV-001'")
    code, out, _ = run_main(["verify", str(report), "--db", str(db)], capsys)
    assert code == 1
    assert "MISMATCH" in out

    (tmp_path / "b").mkdir()
    db2, report2 = _audited(tmp_path / "b", capsys)
    text = report2.read_text("utf-8")
    stamped = text.split('name="govaudit-findings" content="', 1)[1].split('"', 1)[0]
    report2.write_text(
        text.replace(
            f'name="govaudit-findings" content="{stamped}"', 'name="govaudit-findings" content="1"'
        ),
        "utf-8",
    )
    code, out, _ = run_main(["verify", str(report2), "--db", str(db2)], capsys)
    assert code == 1
    assert "the report lists 1 findings" in out


def test_verify_rejects_what_is_not_a_report_in_one_line(tmp_path, capsys):
    db, _ = _audited(tmp_path, capsys)
    other = tmp_path / "other.html"
    other.write_text("<html></html>", "utf-8")
    code, _, err = run_main(["verify", str(other), "--db", str(db)], capsys)
    assert code == 2
    assert err.startswith("error:") and "without a run stamp" in err
    code, _, err = run_main(["verify", str(other), "--db", str(tmp_path / "none.db")], capsys)
    assert code == 2
    assert not (tmp_path / "none.db").exists()
