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


def test_rsp005_only_audit_admins_may_alter_logs(tmp_path):
    from auditor.inventories.regions import jurisdiction_of
    from auditor.model import Kind, Resource
    from auditor.policy import load_policy
    from tests.helpers import policy

    trail = Resource(
        uid="arn:aws-cn:cloudtrail:cn-north-1:111111111111:trail/org",
        provider="aws",
        kind=Kind.TRAIL,
        native_type="cloudtrail:trail",
        name="org",
        account="111111111111",
        region="cn-north-1",
        jurisdiction=jurisdiction_of("aws", "cn-north-1"),
    )
    archive = bucket("log-archive")
    auditor_role, ops = role("audit-admin"), role("ops")
    edges = [
        edge(trail, archive, Relation.DELIVERS_LOGS_TO),
        edge("service:cloudtrail.amazonaws.com", archive, Relation.CAN_WRITE),
        edge("account:111111111111", archive, Relation.CAN_ADMIN),
        edge(auditor_role, archive, Relation.CAN_ADMIN),
        edge(ops, trail, Relation.CAN_ADMIN),
        edge("account:999988887777", ops, Relation.CAN_ASSUME),
    ]
    text = Path(policy().path).read_text("utf-8") + (
        f"roles: {{audit_admins: ['{auditor_role.uid}']}}\n"
    )
    (tmp_path / "p.yaml").write_text(text, "utf-8")
    found = run_one(
        "RSP-005",
        make_ctx([trail, archive, auditor_role, ops], edges, load_policy(tmp_path / "p.yaml")),
    )
    assert found["log-archive"].status is Status.PASS
    assert found["org"].status is Status.FAIL
    assert "ops" in found["org"].message
    assert "account:999988887777" in found["org"].message  # through the role it can assume
    # without the audit admin listed, the role that may administer the archive is a finding
    found = run_one("RSP-005", make_ctx([trail, archive, auditor_role, ops], edges))
    assert found["log-archive"].status is Status.FAIL
