from __future__ import annotations

from pathlib import Path

from auditor.model import Relation, Severity, Status
from tests.helpers import bucket, edge, key, make_ctx, role, run_one


def test_rsp001_tag_account_inheritance_and_unknown_department():
    resources = [
        bucket("tagged", tags={"owner-dept": "市民政局"}),
        bucket("inherits", account="111111111111"),
        bucket("orphan", account="222222222222", tags={"data-class": "一般"}),
        bucket("bad-dept", tags={"owner-dept": "市档案馆"}),
        bucket("unreadable", account="222222222222", tags_status="denied"),
        key("k", account="222222222222"),
    ]
    found = run_one("RSP-001", make_ctx(resources))
    assert found["tagged"].status is Status.PASS
    assert found["inherits"].status is Status.PASS
    assert "through account" in found["inherits"].message
    assert found["orphan"].status is Status.FAIL
    assert found["orphan"].severity is Severity.MEDIUM
    assert found["bad-dept"].status is Status.FAIL
    assert found["bad-dept"].severity is Severity.HIGH  # untagged class = important
    assert found["unreadable"].status is Status.UNKNOWN
    assert found["k"].status is Status.FAIL


def test_rsp007_expired_expiring_and_valid_contracts(tmp_path):
    from datetime import date

    from tests.helpers import TODAY, policy

    assert date(2026, 3, 1) == TODAY  # the vendor's contract in minimal.yaml ended 2026-01-31
    r, b = role("vendor-ops"), bucket("data")
    edges = [
        edge("account:444444444444", r, Relation.CAN_ASSUME),
        edge("arn:aws-cn:iam::444444444444:role/ops", b, Relation.CAN_READ),
    ]
    found = run_one("RSP-007", make_ctx([r, b], edges))
    assert found["vendor-ops"].status is Status.FAIL
    assert found["vendor-ops"].severity is Severity.CRITICAL
    assert "expired on 2026-01-31" in found["vendor-ops"].message
    assert found["data"].status is Status.FAIL

    text = tmp_path / "p.yaml"
    source = policy().path
    text.write_text(Path(source).read_text("utf-8").replace("2026-01-31", "2026-03-20"), "utf-8")
    from auditor.policy import load_policy

    found = run_one("RSP-007", make_ctx([r, b], edges, load_policy(text)))
    assert found["vendor-ops"].status is Status.FAIL
    assert found["vendor-ops"].severity is Severity.MEDIUM

    text.write_text(Path(source).read_text("utf-8").replace("2026-01-31", "2027-01-31"), "utf-8")
    found = run_one("RSP-007", make_ctx([r, b], edges, load_policy(text)))
    assert found["vendor-ops"].status is Status.PASS


def test_rsp007_silent_without_vendors():
    assert run_one("RSP-007", make_ctx([bucket("b")])) == {}
