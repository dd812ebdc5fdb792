"""Waivers: accepted risks stay visible, expire, and are refused without a proper approver."""

from __future__ import annotations

from pathlib import Path

from auditor.checking import REGISTRY, load_checks, run_checks
from auditor.model import Severity, Status
from auditor.pipeline import failing
from auditor.waivers import apply_waivers
from tests.helpers import TODAY, bucket, make_ctx, policy, run_one


def _audit():
    pol = policy("waivers")
    resources = [
        bucket(name, region="ap-east-1", account="333333333333", tags={"data-class": "important"})
        for name in ("old-archive", "eu-share", "long-term", "unwaived")
    ]
    # General data in the US: a high finding, which p-0033 may waive.
    resources.append(bucket("hk-cache-1", region="us-east-1", tags={"data-class": "general"}))
    ctx = make_ctx(resources, pol=pol)
    load_checks()
    found = run_checks(ctx, [REGISTRY["SOV-001"], REGISTRY["RSP-012"]])
    return pol, apply_waivers(found, pol, TODAY)


def test_a_valid_waiver_marks_the_finding_waived_but_keeps_it_failing():
    _, findings = _audit()
    by_name = {f.resource.rsplit(":", 1)[-1]: f for f in findings if f.check_id == "SOV-001"}
    waived = by_name["hk-cache-1"]
    assert waived.status is Status.FAIL
    assert waived.waived
    assert waived.waiver is not None
    assert waived.waiver.ticket == "SEC-1"
    assert waived.waiver.days_left == (TODAY.replace(month=6, day=30) - TODAY).days
    # The exit code ignores waived findings but counts the rest.
    names = {f.resource.rsplit(":", 1)[-1] for f in failing(findings, Severity.LOW)}
    assert "hk-cache-1" not in names
    assert {"old-archive", "eu-share", "long-term", "unwaived"} <= names


def test_expired_and_refused_waivers_reopen_the_finding_and_say_why():
    _, findings = _audit()
    by_name = {f.resource.rsplit(":", 1)[-1]: f for f in findings if f.check_id == "SOV-001"}
    expired = by_name["old-archive"].waiver
    assert expired is not None and expired.state == "expired"
    assert "expired on 2025-12-31" in expired.note
    refused = by_name["eu-share"].waiver
    assert refused is not None and refused.state == "refused"
    assert "p-0099 may not approve critical findings" in refused.note
    long = by_name["long-term"].waiver
    assert long is not None and long.state == "refused"
    assert "no ticket" in long.note and "longer than waiver_policy.max_days" in long.note
    assert by_name["unwaived"].waiver is None


def test_rsp012_judges_every_waiver_of_the_policy():
    _, findings = _audit()
    rsp = [f for f in findings if f.check_id == "RSP-012"]
    assert len(rsp) == 5
    by_ticket = {f.message.split(" ", 2)[1]: f for f in rsp}
    assert by_ticket["SEC-1"].status is Status.PASS
    assert "days left" in by_ticket["SEC-1"].message
    assert by_ticket["SEC-2"].status is Status.FAIL
    assert by_ticket["SEC-2"].severity is Severity.HIGH  # it covered a live failing finding
    assert "open again" in by_ticket["SEC-2"].message
    assert by_ticket["SEC-3"].status is Status.FAIL
    assert by_ticket["SEC-5"].status is Status.PASS
    assert "matches no failing finding" in by_ticket["SEC-5"].message
    # The evidence names the file and line of the waiver in the policy.
    assert "waivers.yaml:" in by_ticket["SEC-2"].message


def test_an_approver_for_a_higher_severity_may_approve_a_lower_one():
    from auditor.waivers import allowed_approvers

    pol = policy("waivers")
    assert allowed_approvers(pol, Severity.HIGH) == frozenset({"p-0001", "p-0033"})
    assert allowed_approvers(pol, Severity.CRITICAL) == frozenset({"p-0001"})
    assert allowed_approvers(policy(), Severity.HIGH) is None


def test_an_approver_who_left_is_refused(tmp_path):
    from pathlib import Path

    from auditor.policy import load_policy

    text = (
        Path(policy("waivers").path)
        .read_text("utf-8")
        .replace("high: [p-0033]", "high: [p-0033, p-0212]")
        .replace("approver: p-0033", "approver: p-0212")
    )
    path = tmp_path / "p.yaml"
    path.write_text(text, "utf-8")
    ctx = make_ctx(
        [bucket("hk-cache-1", region="ap-east-1", tags={"data-class": "general"})],
        pol=load_policy(path),
    )
    found = run_one("RSP-012", ctx)
    assert any("p-0212 has left" in f.message for f in found.values())


def test_waiver_marks_survive_the_store(tmp_path):
    from auditor.store import Store

    _, findings = _audit()
    store = Store(tmp_path / "a.db")
    run_id = store.begin_run(tool_version="t", policy_path="p", policy_sha256="s")
    store.replace_findings(run_id, findings)
    again = {(f.check_id, f.resource): f for f in store.findings(run_id)}
    for f in findings:
        assert again[f.check_id, f.resource].waiver == f.waiver


def test_the_report_shows_waived_and_reopened_findings(tmp_path):
    import dataclasses
    import json

    from auditor.reports.render import write_report
    from tests.reports.conftest import sample_input

    _, findings = _audit()
    data = dataclasses.replace(sample_input(), findings=findings)
    paths = write_report(tmp_path, data)
    html = paths["html"].read_text("utf-8")
    assert "已豁免 · 剩余 121 天" in html
    assert "豁免已过期" in html
    assert "approver p-0099 may not approve critical findings" in html
    english = write_report(tmp_path / "en", dataclasses.replace(data, lang="en"))["html"]
    assert "WAIVED · 121 days left" in english.read_text("utf-8")
    records = json.loads(paths["json"].read_text("utf-8"))
    waived = [r for r in records if r["waiver"] and r["waiver"]["state"] == "waived"]
    assert [r["waiver"]["ticket"] for r in waived] == ["SEC-1"]
    assert all(r["status"] == "FAIL" for r in waived)


def test_waivers_may_live_in_their_own_file_and_errors_name_it(tmp_path):
    import pytest

    from auditor.errors import PolicyError
    from auditor.policy import load_policy

    base = Path(policy().path).read_text("utf-8")
    (tmp_path / "policy.yaml").write_text(base + "waivers: register.yaml\n", "utf-8")
    (tmp_path / "register.yaml").write_text(
        "# 风险豁免登记簿 / the committee's waiver register\n"
        "- {check: SOV-001, resource: 'arn:aws:s3:::hk-*', reason: r, approver: p-0001,\n"
        "   approved_on: 2026-01-01, expires: 2026-06-30, ticket: SEC-9}\n",
        "utf-8",
    )
    loaded = load_policy(tmp_path / "policy.yaml")
    assert [w.ticket for w in loaded.waivers] == ["SEC-9"]
    assert loaded.waivers[0].where == f"{tmp_path / 'register.yaml'}:2"

    (tmp_path / "register.yaml").write_text(
        "waivers:\n  - {check: SOV-001, resource: x, expires: 2026-13-01, tiket: SEC-9}\n",
        "utf-8",
    )
    with pytest.raises(PolicyError) as info:
        load_policy(tmp_path / "policy.yaml")
    assert str(info.value).startswith(f"{tmp_path / 'register.yaml'}:2: waivers.0")
    assert any("tiket: unknown key; did you mean 'ticket'" in e for e in info.value.errors)

    (tmp_path / "policy.yaml").write_text(base + "waivers: missing.yaml\n", "utf-8")
    with pytest.raises(PolicyError, match=r"policy.yaml:\d+: waivers: cannot read the waivers"):
        load_policy(tmp_path / "policy.yaml")
