"""The committee's pages: posture, trend, top risks, sovereignty map, responsibility matrix."""

from __future__ import annotations

import dataclasses

from auditor.model import Edge, Finding, Relation, Severity, Status, WaiverMark
from auditor.policy import load_policy
from auditor.reports import committee
from auditor.reports.estate import (
    EstateFacts,
    RunTotals,
    jurisdiction_flows,
    owners,
    placements,
)
from auditor.reports.render import render_html
from auditor.reports.sections import finding_views
from auditor.store import Store
from tests.conftest import FIXTURES
from tests.helpers import bucket
from tests.reports.conftest import CHECKS, sample_input


def _fail(check: str, resource: str, severity: Severity, **extra) -> Finding:
    return Finding(check, Status.FAIL, severity, resource, f"{check} fails on {resource}", **extra)


def test_flows_count_border_crossings_only():
    cn, cn2 = bucket("cn-a"), bucket("cn-b", region="cn-northwest-1")
    hk, de = bucket("hk", region="ap-east-1"), bucket("de", region="eu-central-1")
    resources = {r.uid: r for r in (cn, cn2, hk, de)}
    edges = [
        Edge(cn.uid, cn2.uid, Relation.REPLICATES_TO, "in country"),
        Edge(hk.uid, de.uid, Relation.REPLICATES_TO, "rule 1"),
        Edge(hk.uid, de.uid, Relation.COPIES_TO, "backup"),
        Edge(cn.uid, hk.uid, Relation.PEERS_WITH, "not a data copy"),
        Edge(cn.uid, "arn:aws:s3:::elsewhere", Relation.DELIVERS_LOGS_TO, "logs"),
    ]
    flows = jurisdiction_flows(resources, edges)
    assert [(f.source, f.target, f.count) for f in flows] == [("HK", "DE", 2), ("CN", "??", 1)]
    assert flows[0].relations == ("copies_to", "replicates_to")
    assert placements(resources.values()) == {"CN": 2, "HK": 1, "DE": 1}


def test_owners_come_from_the_tag_then_the_account():
    pol = load_policy(FIXTURES / "policies" / "minimal.yaml")
    tagged = bucket("t", tags={"owner-dept": "mz"})
    inherited = bucket("i")
    orphan = bucket("o", account="222222222222")
    found = owners([tagged, inherited, orphan], pol)
    assert found[tagged.uid] == "市民政局 (mz)"
    assert found[inherited.uid] == "市大数据局 (dsj)"
    assert found[orphan.uid] == ""


def test_posture_top_risks_and_expiring_waivers():
    waived = WaiverMark("waived", "SEC-1", "p-1", "r", "2026-03-20", 19)
    findings = [
        _fail("SOV-001", "arn:aws:s3:::a", Severity.CRITICAL),
        _fail("SOV-001", "arn:aws:s3:::b", Severity.CRITICAL),
        _fail("KEY-006", "arn:aws:kms:x:1:key/k", Severity.MEDIUM),
        _fail("ACC-002", "arn:aws:s3:::c", Severity.CRITICAL, waiver=waived),
        Finding("KEY-006", Status.UNKNOWN, Severity.MEDIUM, "arn:aws:kms:x:1:key/j", "?"),
    ]
    views = finding_views(findings, CHECKS)
    trend = [RunTotals(1, "2026-01-01T00:00", {"critical": 4}), RunTotals(2, "2026-02-01", {})]
    view = committee.build_committee(views, findings, [], trend, CHECKS)
    assert view.posture == "red"
    assert view.failing["critical"] == 2 and view.failing["medium"] == 1
    assert view.waived == 1 and view.unknown == 1
    assert [r.check_id for r in view.top_risks] == ["SOV-001", "KEY-006"]
    assert view.top_risks[0].count == 2
    assert [f.waiver.ticket for f in view.expiring if f.waiver] == ["SEC-1"]
    assert view.trend[0].height > view.trend[1].height == 0
    medium = [v for v in views if v.severity == "medium" and v.status == "FAIL"]
    calm = committee.build_committee(medium, findings[2:3], [], [], CHECKS)
    assert calm.posture == "green"


def test_the_map_places_every_jurisdiction_and_links_breaching_flows():
    hk, de = bucket("hk", region="ap-east-1"), bucket("de", region="eu-central-1")
    cn = bucket("cn")
    resources = {r.uid: r for r in (hk, de, cn)}
    estate = EstateFacts(
        placements=placements(resources.values()),
        flows=jurisdiction_flows(resources, [Edge(hk.uid, de.uid, Relation.REPLICATES_TO, "r")]),
        owners={},
    )
    views = finding_views(
        [_fail("FLOW-001", hk.uid, Severity.CRITICAL), _fail("SOV-001", de.uid, Severity.HIGH)]
    )
    views = [
        dataclasses.replace(v, jurisdiction="DE") if v.check_id == "SOV-001" else v for v in views
    ]
    picture = committee.build_map(estate, views)
    assert picture is not None
    assert {p.code for p in picture.places} == {"CN", "HK", "DE"}
    for place in picture.places:
        assert picture.box_width / 2 <= place.x <= picture.width - picture.box_width / 2
        assert picture.box_height / 2 <= place.y <= picture.height - picture.box_height / 2
    (arrow,) = picture.arrows
    assert (arrow.source, arrow.target, arrow.count, arrow.breached) == ("HK", "DE", 1, True)
    assert arrow.anchor == "flow-hk-de"
    assert [f.check_id for f in arrow.findings] == ["FLOW-001"]
    assert {p.code for p in picture.places if p.breached} == {"DE"}
    assert committee.build_map(None, views) is None


def test_responsibility_matrix_counts_by_department_and_theme():
    findings = [
        dataclasses.replace(_fail("SOV-001", "arn:aws:s3:::a", Severity.HIGH), theme="sovereignty"),
        dataclasses.replace(
            _fail("RSP-001", "arn:aws:s3:::b", Severity.MEDIUM), theme="responsibility"
        ),
        dataclasses.replace(_fail("RSP-004", "person:p-1", Severity.HIGH), theme="responsibility"),
    ]
    views = finding_views(findings)
    matrix = committee.build_responsibility(
        views, {"arn:aws:s3:::a": "市民政局 (mz)"}, ["sovereignty", "responsibility"]
    )
    rows = {r.department: r for r in matrix.rows}
    assert rows["市民政局 (mz)"].counts == {"sovereignty": 1, "responsibility": 0}
    assert rows[committee.NO_OWNER].total == 2
    assert [v.check_id for v in matrix.unowned] == ["RSP-001"]
    assert [v.check_id for v in matrix.duties] == ["RSP-004"]


def test_trend_counts_open_failures_of_complete_checked_runs(tmp_path):
    store = Store(tmp_path / "a.db")
    for status, waived in (("complete", False), ("incomplete", False), ("complete", True)):
        run = store.begin_run(tool_version="t", policy_path="p", policy_sha256="s")
        mark = WaiverMark("waived", "T", "p", "r", "2027-01-01", 30) if waived else None
        store.replace_findings(
            run,
            [
                _fail("SOV-001", "arn:aws:s3:::a", Severity.HIGH),
                _fail("SOV-001", "arn:aws:s3:::b", Severity.HIGH, waiver=mark),
            ],
        )
        if status == "complete":
            store.finish_run(run, accounts=[], regions=[])
    trend = store.failing_counts(3)
    assert [(r.id, counts) for r, counts in trend] == [(1, {"high": 2}), (3, {"high": 1})]


def test_the_page_carries_the_committee_sections():
    data = dataclasses.replace(
        sample_input(),
        estate=EstateFacts(
            {"CN": 3, "DE": 1}, [], {}, [RunTotals(7, "2025-01-15", {"critical": 2})]
        ),
    )
    html = render_html(data)
    for section in ('id="committee"', 'id="sovereignty-map"', 'id="responsibility"'):
        assert section in html
    assert 'data-place="DE"' in html
    assert 'data-posture="red"' in html
