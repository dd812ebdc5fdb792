"""The OpenStack adapter against a real Keystone and a real Swift on 127.0.0.1 (marker
`openstack`; servers from the venv `.ci/openstack-servers.sh` builds, started once per session).
Nova, Cinder and Glance answer from the fixture server, which checks each token with Keystone."""

from __future__ import annotations

import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from auditor import pipeline
from auditor.errors import ReadOnlyViolation
from auditor.inventories.libcloud import openstack
from auditor.model import Coverage, Edge, Kind, Outcome, Record, Relation, Status
from auditor.policy import load_policy
from auditor.store import Store
from tests.inventories.libcloud.conftest import ADMIN_PASSWORD, RealCloud
from tests.inventories.libcloud.records import edges, named, rows
from tests.inventories.libcloud.servers.seed_openstack import PASSWORDS, SYNC_TO, token

pytestmark = pytest.mark.openstack
POLICY = Path(__file__).parent / "fixtures" / "openstack" / "policy.yaml"


def collect(cloud: RealCloud, user: str, password: str, **extra: str) -> list[Record]:
    values = {
        "auth_url": f"{cloud.keystone}/v3",
        "username": user,
        "password": password,
        "project": "ministry-x",
        "jurisdiction": "cn-gov-1=CN,hk-dr-1=HK",
        **extra,
    }
    return list(openstack.build("gov", values).records())


def test_member_audits_real_swift_and_is_refused_identity_listings(real_cloud: RealCloud) -> None:
    records = collect(
        real_cloud, "auditor", PASSWORDS["auditor"], swift_operator_roles="admin,member"
    )
    coverage = rows(records)
    project = real_cloud.estate.project("ministry-x")
    assert coverage[("cn-gov-1", "swift")].outcome is Outcome.OK
    assert coverage[("hk-dr-1", "swift")].outcome is Outcome.NOT_ENABLED
    for region in ("cn-gov-1", "hk-dr-1"):
        for service in ("nova", "cinder", "cinder-snapshots", "glance"):
            assert coverage[(region, service)].outcome is Outcome.OK, coverage[(region, service)]
    # A project member may not list Keystone's users or role assignments (real policy: 403).
    assert coverage[("global", "keystone-users")].outcome is Outcome.DENIED
    assert coverage[("global", "keystone-role-assignments")].outcome is Outcome.DENIED
    assert coverage[("global", "keystone-projects")].outcome is Outcome.DENIED
    assert {row.account for row in coverage.values()} == {project}
    # A member reads its own user and project in full (Keystone allows that much).
    auditor = named(records, Kind.USER)["auditor"]
    assert auditor.attrs["tags_status"] == "read" and auditor.account == "default"
    assert named(records, Kind.ACCOUNT)["ministry-x"].attrs["tags_status"] == "read"
    containers = named(records, Kind.OBJECT_STORE)
    archive, open_data = containers["dibao-archive"], containers["open-data"]
    assert archive.uid == f"openstack:cn-gov-1:{project}:container/dibao-archive"
    # Swift's HEAD counts (its account listing still says 0 right after the uploads).
    assert [
        containers[n].attrs["object_count"] for n in ("dibao-archive", "open-data", "unlabelled")
    ] == [3, 1, 0]
    assert archive.attrs["storage_policy"] == "Policy-0"
    assert archive.tags == {"data-class": "core", "owner-dept": "mz"}
    vendor = real_cloud.estate.project("vendor-ops")
    assert (f"account:{vendor}", archive.uid) in edges(records, Relation.CAN_READ)
    assert ("public:*", open_data.uid) in edges(records, Relation.CAN_READ)
    assert archive.attrs["sync_to"] == SYNC_TO
    assert any(src == archive.uid for src, _ in edges(records, Relation.REPLICATES_TO))
    # Nova, Cinder and Glance were asked with the token Keystone issued (the fixture server
    # accepted it only after Keystone validated it).
    assert named(records, Kind.VOLUME)["dibao-db-dr"].account == project
    text = repr(records)
    for secret in (PASSWORDS["auditor"], "sync-secret-not-for-reports"):
        assert secret not in text


def test_reader_lists_but_swift_hides_acls(real_cloud: RealCloud) -> None:
    records = collect(
        real_cloud, "reader-only", PASSWORDS["reader-only"], swift_operator_roles="admin,member"
    )
    archive = named(records, Kind.OBJECT_STORE)["dibao-archive"]
    assert (
        archive.attrs["acl_status"] == "denied" and archive.attrs["replication_status"] == "denied"
    )
    assert archive.tags["data-class"] == "core" and archive.attrs["object_count"] == 3
    assert not [e for e in records if isinstance(e, Edge) and e.dst == archive.uid]


def test_admin_lists_users_and_role_assignments(real_cloud: RealCloud) -> None:
    records = collect(real_cloud, "admin", ADMIN_PASSWORD)
    coverage = rows(records)
    for service in ("keystone-projects", "keystone-users", "keystone-role-assignments"):
        assert coverage[("global", service)].outcome is Outcome.OK, coverage[("global", service)]
    ids = real_cloud.estate.ids
    users = named(records, Kind.USER)
    assert users["vendor-engineer"].account == ids["domain:vendor-domain"]
    project = f"account:{real_cloud.estate.project('ministry-x')}"
    members = {src for src, dst in edges(records, Relation.MEMBER_OF) if dst == project}
    expected = {"auditor", "reader-only", "vendor-engineer", "admin"}
    assert members == {users[name].uid for name in expected}
    vendor_ops = named(records, Kind.ACCOUNT)["vendor-ops"]
    assert vendor_ops.attrs["observed_only"] is True


def test_wrong_password_is_refused_by_keystone(real_cloud: RealCloud) -> None:
    records = collect(real_cloud, "auditor", "not-the-Pw-1234")
    assert [(r.service, r.outcome) for r in records if isinstance(r, Coverage)] == [
        ("keystone", Outcome.DENIED)
    ]
    assert "not-the-Pw-1234" not in repr(records)


def test_a_write_never_reaches_real_swift(
    real_cloud: RealCloud, monkeypatch: pytest.MonkeyPatch
) -> None:
    def sneaky(connection: Any, place: Any, owner: bool, faults: Any) -> Any:
        connection.request("/govaudit-was-here", method="PUT")
        raise AssertionError("unreachable")

    monkeypatch.setattr(openstack, "read_containers", sneaky)
    with pytest.raises(ReadOnlyViolation, match="refused PUT"):
        collect(real_cloud, "auditor", PASSWORDS["auditor"])
    account = f"{real_cloud.swift}/v1/AUTH_{real_cloud.estate.project('ministry-x')}"
    request = urllib.request.Request(f"{account}/govaudit-was-here", method="HEAD")
    owner, _ = token(real_cloud.keystone, "auditor", PASSWORDS["auditor"], "ministry-x")
    request.add_header("X-Auth-Token", owner)
    with pytest.raises(urllib.error.HTTPError) as missing:
        urllib.request.urlopen(request, timeout=10)
    assert missing.value.code == 404


def test_checks_judge_real_swift_containers(real_cloud: RealCloud, tmp_path: Path) -> None:
    policy = load_policy(POLICY)
    values = {
        "auth_url": real_cloud.keystone,
        "username": "auditor",
        "password": PASSWORDS["auditor"],
        "project": "ministry-x",
        "swift_operator_roles": "admin,member",
    }
    store = Store(tmp_path / "audit.db")
    try:
        run = pipeline.collect(store, policy, [openstack.build("gov", values)])
        findings = pipeline.check(store, policy, run)
        names = {r.uid: r.name for r in store.resources(run.id)}
    finally:
        store.close()
    verdicts = {(f.check_id, names.get(f.resource)): f.status for f in findings}
    assert verdicts[("SOV-001", "dibao-archive")] is Status.PASS
    assert verdicts[("SOV-001", "dibao-db-dr")] is Status.FAIL
    assert verdicts[("RSP-001", "unlabelled")] is Status.FAIL
    assert verdicts[("FLOW-009", "unlabelled")] is Status.FAIL
    # The vendor project reads the core archive (ACL) and the archive syncs to a cluster whose
    # country nobody stated: neither passes.
    assert verdicts[("ACC-002", "dibao-archive")] is Status.FAIL
    assert verdicts[("FLOW-001", "dibao-archive")] is Status.UNKNOWN
    assert verdicts[("KEY-001", "dibao-archive")] is Status.UNKNOWN
