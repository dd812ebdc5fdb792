"""Hostile cloud strings, from the database through the checks to the page a reader opens.

A tag value, a resource name and a policy document carry script payloads (as a compromised or
careless tenant could write them); the report shows them as text and runs none of them.
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import pytest

from auditor.model import Coverage, Edge, Outcome, Relation
from auditor.policy import policy_sha256
from auditor.store import Store
from tests.helpers import bucket
from tests.test_cli import run_main
from tests.test_policy import MINIMAL

TAG_PAYLOAD = "<script>window.__pwned='tag'</script>"
NAME_PAYLOAD = '"><img src=x onerror="window.__pwned=\'name\'">'
POLICY_PAYLOAD = "</script><svg onload=\"window.__pwned='policy'\">"


def _hostile_db(tmp_path):
    path = tmp_path / "audit.db"
    store = Store(path)
    run = store.begin_run(
        tool_version="t", policy_path=str(MINIMAL), policy_sha256=policy_sha256(MINIMAL)
    )
    document = {
        "Version": "2012-10-17",
        "Statement": [
            {"Sid": POLICY_PAYLOAD, "Effect": "Allow", "Principal": "*", "Action": "s3:GetObject"}
        ],
    }
    evil = bucket(
        "evil",
        "ap-east-1",
        tags={"data-class": "重要", "owner-dept": TAG_PAYLOAD},
        policy=json.dumps(document),
        policy_status="read",
    )
    evil = dataclasses.replace(evil, name=NAME_PAYLOAD)
    store.add_records(
        run,
        [
            evil,
            Edge(
                "public:*", evil.uid, Relation.CAN_READ, f"bucket policy statement {POLICY_PAYLOAD}"
            ),
            Coverage("aws", "111111111111", "ap-east-1", "s3", Outcome.OK),
        ],
    )
    store.finish_run(run, accounts=["111111111111"], regions=["ap-east-1"])
    store.close()
    return path


@pytest.mark.browser
def test_payloads_in_a_tag_a_name_and_a_policy_are_text_and_never_run(tmp_path, capsys, browser):
    db = _hostile_db(tmp_path)
    run_main(["check", "--policy", str(MINIMAL), "--db", str(db)], capsys)
    code, _, err = run_main(["report", "--db", str(db), "--out", str(tmp_path / "r")], capsys)
    assert code == 0, err
    html_path = tmp_path / "r" / "report.html"
    raw = html_path.read_text("utf-8")
    for payload in (TAG_PAYLOAD, NAME_PAYLOAD, POLICY_PAYLOAD):
        assert payload not in raw, "a payload reached the page unescaped"

    page = browser.new_page()
    dialogs: list[str] = []
    requests: list[str] = []

    def on_dialog(dialog: Any) -> None:
        dialogs.append(dialog.message)
        dialog.dismiss()

    page.on("dialog", on_dialog)
    page.on("request", lambda r: requests.append(r.url))
    page.goto(html_path.as_uri(), wait_until="load")
    page.wait_for_timeout(300)
    assert page.evaluate("window.__pwned") is None
    assert dialogs == []
    assert requests == [html_path.as_uri()]
    text = page.locator("body").inner_text()
    # The reader sees what the cloud holds, as text: the name in messages, the policy's Sid in
    # the evidence, the department tag in the RSP-001 finding.
    assert NAME_PAYLOAD in text
    assert POLICY_PAYLOAD in text
    assert TAG_PAYLOAD in text
    page.close()
