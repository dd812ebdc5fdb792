"""Cloud strings printed on the terminal lose their escape sequences and control characters."""

from __future__ import annotations

import dataclasses

from auditor.model import Coverage, Edge, Outcome, Relation
from auditor.policy import policy_sha256
from auditor.store import Store
from tests.helpers import bucket, role
from tests.test_cli import run_main
from tests.test_policy import MINIMAL

ESCAPES = "\x1b]8;;http://evil.example\x07click\x1b]8;;\x07\x1b[2J\u202e"


def _db(tmp_path):
    path = tmp_path / "audit.db"
    store = Store(path)
    run = store.begin_run(
        tool_version="t", policy_path=str(MINIMAL), policy_sha256=policy_sha256(MINIMAL)
    )
    data = dataclasses.replace(bucket("data"), name=f"data{ESCAPES}")
    reader = dataclasses.replace(role("reader"), name=f"reader{ESCAPES}")
    store.add_records(
        run,
        [
            data,
            reader,
            Edge(reader.uid, data.uid, Relation.CAN_READ, f"policy {ESCAPES}"),
            Coverage("aws", "111111111111", "cn-north-1", "s3", Outcome.OK),
        ],
    )
    store.finish_run(run, accounts=["111111111111"], regions=["cn-north-1"])
    store.close()
    return path


def test_query_answers_and_errors_reach_the_terminal_without_escapes(tmp_path, capsys):
    db = _db(tmp_path)
    code, out, err = run_main(["who-can", "arn:aws-cn:s3:::data", "--db", str(db)], capsys)
    assert code == 0, err
    assert "reader" in out and "click" in out  # the text stays, the sequences go
    for text in (out, err):
        assert "\x1b" not in text and "\x07" not in text and "\u202e" not in text

    code, out, err = run_main(["who-can", f"nothing{ESCAPES}", "--db", str(db)], capsys)
    assert code != 0
    assert err.startswith("error:") and "\x1b" not in err and "\u202e" not in err
