"""The OpenStack adapter against the fixture server (Keystone, Nova, Cinder, Glance and Swift
played from our recordings over HTTP on 127.0.0.1)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from auditor.errors import ReadOnlyViolation, UsageError
from auditor.inventories import providers
from auditor.inventories.libcloud import openstack, openstack_compute
from auditor.inventories.libcloud.openstack_session import config_of
from auditor.inventories.libcloud.openstack_storage import acl_grants
from auditor.model import Coverage, Edge, Kind, Outcome, Record, Relation
from tests.inventories.libcloud.conftest import FIXTURE_IDS, FIXTURE_PASSWORD, FIXTURE_TOKEN
from tests.inventories.libcloud.records import edges, named, rows
from tests.inventories.libcloud.servers.fixture_server import Failure, FixtureServer

PROJECT = FIXTURE_IDS["project"]
VENDOR = FIXTURE_IDS["vendor_project"]
SECRETS = (FIXTURE_PASSWORD, FIXTURE_TOKEN, "sync-secret-should-not-leak", "tempurl-secret")


def settings(cloud: FixtureServer, **extra: str) -> dict[str, str]:
    return {
        "auth_url": f"{cloud.base}/identity/v3",
        "username": "auditor",
        "password": FIXTURE_PASSWORD,
        "project": "ministry-x",
        "jurisdiction": "cn-gov-1=CN, hk-dr-1=HK",
        **extra,
    }


def collect(cloud: FixtureServer, **extra: str) -> list[Record]:
    return list(openstack.build("gov", settings(cloud, **extra)).records())


def test_every_catalog_region_and_service_is_collected(fixture_cloud: FixtureServer) -> None:
    records = collect(fixture_cloud)
    coverage = rows(records)
    assert {key: row.outcome for key, row in coverage.items()} == {
        ("global", "keystone"): Outcome.OK,
        **{
            (region, service): Outcome.OK
            for region in ("cn-gov-1", "hk-dr-1")
            for service in ("nova", "cinder", "cinder-snapshots", "glance")
        },
        ("cn-gov-1", "swift"): Outcome.OK,
        # hk-dr-1 has no object-store endpoint in the catalog: nothing to collect there.
        ("hk-dr-1", "swift"): Outcome.NOT_ENABLED,
        ("global", "keystone-projects"): Outcome.OK,
        ("global", "keystone-users"): Outcome.OK,
        ("global", "keystone-role-assignments"): Outcome.OK,
    }
    assert all(row.account == PROJECT for row in coverage.values())
    # Paging: the second pages of Nova, Cinder and Glance were followed.
    assert coverage[("cn-gov-1", "nova")].api_calls == 2
    servers = named(records, Kind.INSTANCE)
    assert sorted(servers) == ["dibao-app", "dibao-dr-app", "vendor-jump"]
    assert sorted(named(records, Kind.VOLUME)) == [
        "dibao-db",
        "dibao-db-dr",
        "dibao-db-restore",
        "scratch",
    ]
    assert "open-map-tiles" in named(records, Kind.IMAGE)
    app = servers["dibao-app"]
    assert app.uid == f"openstack:cn-gov-1:{PROJECT}:server/b5d1a6e0-0c3e-4f0a-9a57-1f0d6a7e9c11"
    assert (app.region, app.jurisdiction, app.account) == ("cn-gov-1", "CN", PROJECT)
    assert app.tags == {"data-class": "core", "owner-dept": "mz"}
    assert app.attrs["availability_zone"] == "cn-gov-1a"
    assert servers["dibao-dr-app"].jurisdiction == "HK"
    # One token for the whole run: no service authenticated again.
    assert fixture_cloud.calls.count(("POST", "/identity/v3/auth/tokens")) == 1


def test_cinder_encryption_is_read_raw_and_snapshots_share_it(fixture_cloud: FixtureServer) -> None:
    records = collect(fixture_cloud)
    volumes = named(records, Kind.VOLUME)
    db, scratch, dr = volumes["dibao-db"], volumes["scratch"], volumes["dibao-db-dr"]
    assert (db.attrs["encryption_status"], db.attrs["encrypted"]) == ("read", True)
    # Backend replication: the copy exists, where it is the tenant cannot see.
    assert db.attrs["replicated"] is True
    replica = f"openstack:cn-gov-1:{PROJECT}:volume-replica/{db.attrs['volume_id']}"
    assert (db.uid, replica) in edges(records, Relation.REPLICATES_TO)
    assert (scratch.attrs["encryption_status"], scratch.attrs["encrypted"]) == ("read", False)
    assert scratch.tags == {} and scratch.attrs["tags_status"] == "read"
    key = f"openstack:hk-dr-1:{PROJECT}:secret/9e8d7c6b-0001-4a5b-8c7d-00000000key1"
    assert dr.attrs["kms_key_arn"] == key
    assert (dr.uid, key) in edges(records, Relation.ENCRYPTED_BY)
    (snapshot,) = named(records, Kind.SNAPSHOT).values()
    assert snapshot.attrs["encrypted"] is True and snapshot.tags["data-class"] == "general"
    copies = edges(records, Relation.COPIES_TO)
    assert (db.uid, snapshot.uid) in copies
    assert (snapshot.uid, volumes["dibao-db-restore"].uid) in copies


def test_snapshot_encryption_unknown_when_volumes_were_not_read(
    fixture_cloud: FixtureServer,
) -> None:
    fixture_cloud.fail("GET", f"/volume/cn-gov-1/v3/{PROJECT}/volumes/detail", Failure(403))
    records = collect(fixture_cloud)
    assert rows(records)[("cn-gov-1", "cinder")].outcome is Outcome.DENIED
    (snapshot,) = named(records, Kind.SNAPSHOT).values()
    assert snapshot.attrs["encryption_status"] == "skipped"
    assert snapshot.attrs["encrypted"] is None


def test_glance_images_of_other_projects_are_observed_only(fixture_cloud: FixtureServer) -> None:
    records = collect(fixture_cloud)
    images = named(records, Kind.IMAGE)
    ubuntu, golden, tiles = images["ubuntu-24.04"], images["dibao-golden"], images["open-map-tiles"]
    assert ubuntu.attrs["observed_only"] is True
    assert ubuntu.account == FIXTURE_IDS["operator_project"]
    assert "observed_only" not in golden.attrs
    # Custom properties are labels; Glance's own fields (hw_disk_bus, os_*) are not.
    assert golden.tags == {"golden": "", "data-class": "important", "owner-dept": "mz"}
    assert golden.attrs["encrypted"] is True and golden.attrs["kms_key_arn"].endswith("key2")
    assert tiles.attrs["encrypted"] is False
    shared = edges(records, Relation.SHARED_WITH)
    assert (golden.uid, f"account:{VENDOR}") in shared
    assert (f"account:{VENDOR}", golden.uid) in edges(records, Relation.CAN_READ)
    assert golden.attrs["shared_with_accounts"] == [VENDOR]
    assert (tiles.uid, "public:*") in shared and tiles.attrs["public"] is True


def test_image_members_refused_keeps_the_image(fixture_cloud: FixtureServer) -> None:
    members = "/image/cn-gov-1/v2/images/3f0e7b3c-1d1a-4b8e-9d6a-0b1f2a3c4d5e/members"
    fixture_cloud.fail("GET", members, Failure(403))
    records = collect(fixture_cloud)
    golden = named(records, Kind.IMAGE)["dibao-golden"]
    assert golden.attrs["sharing_status"] == "denied"
    assert golden.attrs["shared_with_accounts"] is None
    row = rows(records)[("cn-gov-1", "glance")]
    assert row.outcome is Outcome.DENIED and "image members 403" in row.detail


def test_swift_acls_are_hidden_without_an_operator_role(fixture_cloud: FixtureServer) -> None:
    # The fixture serves the ACL headers, but the auditor's roles (member, reader) are not
    # Swift's default operator roles: a real Swift would have hidden them.
    records = collect(fixture_cloud)
    containers = named(records, Kind.OBJECT_STORE)
    archive = containers["dibao-archive"]
    assert archive.attrs["acl_status"] == "denied" and archive.attrs["read_acl"] is None
    assert archive.attrs["public"] is None and archive.attrs["sync_to"] is None
    assert not edges(records, Relation.CAN_READ) & {(f"account:{VENDOR}", archive.uid)}
    assert "ACLs hidden" in rows(records)[("cn-gov-1", "swift")].detail
    # Counts come from the HEAD (the account listing's counts lag): 3, not 0.
    assert archive.attrs["object_count"] == 3 and archive.attrs["bytes_used"] == 39
    assert archive.tags == {"data-class": "core", "owner-dept": "mz"}


def test_swift_acls_become_rights_for_an_operator(fixture_cloud: FixtureServer) -> None:
    records = collect(fixture_cloud, swift_operator_roles="admin,member")
    containers = named(records, Kind.OBJECT_STORE)
    archive, open_data, unlabelled = (
        containers["dibao-archive"],
        containers["open-data"],
        containers["unlabelled"],
    )
    reads, writes = edges(records, Relation.CAN_READ), edges(records, Relation.CAN_WRITE)
    assert (f"account:{VENDOR}", archive.uid) in reads
    assert ("public:*", open_data.uid) in reads and (open_data.uid, "public:*") in edges(
        records, Relation.SHARED_WITH
    )
    assert open_data.attrs["public"] is True and archive.attrs["public"] is False
    auditor = f"openstack:global::user/{FIXTURE_IDS['auditor']}"
    assert (auditor, open_data.uid) in writes
    # The account ACL (read-only for another project) reaches every container.
    auditors = f"account:{FIXTURE_IDS['auditors_project']}"
    assert {(auditors, c.uid) for c in containers.values()} <= reads
    sync = [
        e
        for e in records
        if isinstance(e, Edge) and e.relation is Relation.REPLICATES_TO and ":container/" in e.src
    ]
    assert archive.attrs["replication_status"] == "read"
    assert [(e.src, e.evidence.split(": ", 1)[1]) for e in sync] == [
        (archive.uid, "http://198.51.100.7/v1/AUTH_abroad/dibao-archive")
    ]
    assert unlabelled.tags == {} and unlabelled.attrs["acl_status"] == "read"
    # The temp-URL key is container metadata, but a credential: never a tag.
    assert "temp-url-key" not in archive.tags


def test_swift_container_head_refused_keeps_the_others(fixture_cloud: FixtureServer) -> None:
    fixture_cloud.fail("HEAD", f"/swift/v1/AUTH_{PROJECT}/open-data", Failure(403))
    records = collect(fixture_cloud, swift_operator_roles="member")
    containers = named(records, Kind.OBJECT_STORE)
    assert containers["open-data"].attrs["tags_status"] == "denied"
    assert containers["open-data"].attrs["acl_status"] == "denied"
    assert containers["dibao-archive"].attrs["acl_status"] == "read"
    row = rows(records)[("cn-gov-1", "swift")]
    assert row.outcome is Outcome.DENIED and "3 containers" in row.detail


@pytest.mark.parametrize(
    ("acl", "expected"),
    [
        (".r:*,.rlistings", [("public:*", {})]),
        (".r:.gov.example", [("public:*", {"SwiftReferrer": {"Referer": ".gov.example"}})]),
        (".r:-evil.example", []),
        ("p1:*", [("account:p1", {})]),
        ("p1:u1", [("openstack:global::user/u1", {})]),
        ("*:*", [("public:*", {"SwiftAcl": {"AnyAuthenticatedUser": "*:*"}})]),
        ("auditor-role", [("account:mine", {})]),
    ],
)
def test_swift_acl_elements(acl: str, expected: list[tuple[str, Mapping[str, Any]]]) -> None:
    assert [(g.principal, dict(g.conditions)) for g in acl_grants(acl, "mine")] == expected


def test_keystone_lists_users_and_role_assignments(fixture_cloud: FixtureServer) -> None:
    records = collect(fixture_cloud)
    users = named(records, Kind.USER)
    vendor = users["vendor-engineer"]
    assert vendor.account == FIXTURE_IDS["vendor_domain"]
    # Keystone's extra attributes are the user's tags (email is a Keystone field, not a tag).
    assert vendor.tags == {"owner-dept": "dsj"} and vendor.attrs["mfa_enabled"] is False
    members = edges(records, Relation.MEMBER_OF)
    assert (vendor.uid, f"account:{PROJECT}") in members
    assert (users["auditor"].uid, f"account:{PROJECT}") in members
    projects = named(records, Kind.ACCOUNT)
    assert projects["ministry-x"].uid == f"account:{PROJECT}"
    assert "observed_only" not in projects["ministry-x"].attrs
    assert projects["vendor-ops"].attrs["observed_only"] is True


def test_keystone_listings_refused_are_denied_rows(fixture_cloud: FixtureServer) -> None:
    for path in ("projects", "users", "role_assignments"):
        fixture_cloud.fail("GET", f"/identity/v3/{path}", Failure(403))
    records = collect(fixture_cloud)
    coverage = rows(records)
    for service in ("keystone-projects", "keystone-users", "keystone-role-assignments"):
        assert coverage[("global", service)].outcome is Outcome.DENIED
    # The projects the auditor may scope to were still listed, and the row says how little.
    assert "the auditor's own" in coverage[("global", "keystone-projects")].detail
    assert coverage[("global", "keystone-users")].detail.endswith("refused to list users")
    # The token alone still names the auditor and its roles on the project.
    assert sorted(named(records, Kind.USER)) == ["auditor"]
    assert coverage[("global", "keystone")].detail.startswith("project ministry-x, roles member")


@pytest.mark.parametrize(
    ("status", "outcome"), [(403, Outcome.DENIED), (429, Outcome.THROTTLED), (500, Outcome.ERROR)]
)
def test_a_failing_service_is_one_row_and_the_rest_is_collected(
    fixture_cloud: FixtureServer, status: int, outcome: Outcome
) -> None:
    fixture_cloud.fail("GET", "/compute/cn-gov-1/v2.1/servers/detail", Failure(status))
    records = collect(fixture_cloud)
    row = rows(records)[("cn-gov-1", "nova")]
    assert row.outcome is outcome and str(status) in row.detail and "\n" not in row.detail
    assert "dibao-app" not in named(records, Kind.INSTANCE)
    assert "dibao-dr-app" in named(records, Kind.INSTANCE)
    assert rows(records)[("cn-gov-1", "cinder")].outcome is Outcome.OK


def test_unparsable_answer_is_an_error_row(fixture_cloud: FixtureServer) -> None:
    fixture_cloud.fail("GET", "/image/hk-dr-1/v2/images", Failure(200, '{"no_images": true}', {}))
    row = rows(collect(fixture_cloud))[("hk-dr-1", "glance")]
    assert row.outcome is Outcome.ERROR and "images" in row.detail


def test_bad_password_is_one_denied_row_without_the_password(fixture_cloud: FixtureServer) -> None:
    records = collect(fixture_cloud, password="wrong-Pw-0000")
    assert len(records) == 1 and isinstance(records[0], Coverage)
    row = records[0]
    assert (row.service, row.outcome, row.account) == ("keystone", Outcome.DENIED, "ministry-x")
    assert "wrong-Pw-0000" not in repr(records)


def test_unreachable_keystone_is_an_error_row(tmp_path: Path) -> None:
    import socket

    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    values = {
        "auth_url": f"http://127.0.0.1:{port}",
        "username": "u",
        "password": "p-secret",
        "project": "x",
        "timeout": "2",
    }
    (row,) = list(openstack.build("gov", values).records())
    assert isinstance(row, Coverage) and row.outcome is Outcome.ERROR
    assert "p-secret" not in row.detail


def test_region_not_in_the_catalog_is_an_error(fixture_cloud: FixtureServer) -> None:
    coverage = rows(collect(fixture_cloud, regions="cn-gov-1, xx-nowhere-1"))
    assert coverage[("xx-nowhere-1", "nova")].outcome is Outcome.ERROR
    assert "not in the Keystone catalog" in coverage[("xx-nowhere-1", "nova")].detail
    assert ("hk-dr-1", "nova") not in coverage


def test_no_secret_reaches_any_record(fixture_cloud: FixtureServer) -> None:
    records = collect(fixture_cloud, swift_operator_roles="member")
    text = repr(records)
    for secret in SECRETS:
        assert secret not in text
    scope = openstack.build("gov", settings(fixture_cloud))
    assert FIXTURE_PASSWORD not in repr(scope) and FIXTURE_PASSWORD not in repr(scope.config)


def test_a_write_is_refused_before_it_leaves(
    fixture_cloud: FixtureServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    def sneaky(driver: Any, place: Any, all_projects: bool) -> Any:
        driver.volumev3_connection.request("/volumes", method="POST", data="{}")
        raise AssertionError("unreachable")

    monkeypatch.setattr(openstack, "read_servers", sneaky)
    with pytest.raises(ReadOnlyViolation, match="refused POST"):
        collect(fixture_cloud)
    assert not [c for c in fixture_cloud.calls if c[0] != "GET" and "auth/tokens" not in c[1]]


def test_paging_stops_on_a_runaway_next_link(monkeypatch: pytest.MonkeyPatch) -> None:
    class Looping:
        calls = 0

        def request(self, path: str, params: Mapping[str, str]) -> Any:
            Looping.calls += 1
            body = {
                "volumes": [{"id": "v"}],
                "volumes_links": [{"rel": "next", "href": "?marker=v"}],
            }
            return type("R", (), {"object": body})()

    monkeypatch.setattr(openstack_compute, "MAX_PAGES", 5)
    with pytest.raises(ValueError, match="more than 5 pages"):
        list(openstack_compute.paged(Looping(), "/volumes/detail", "volumes"))
    assert Looping.calls == 5


def test_settings_are_validated_and_registered(monkeypatch: pytest.MonkeyPatch) -> None:
    values = {
        "auth_url": "https://keystone.gov.example:5000/v3/",
        "username": "u",
        "password": "Pw-7731-secret",
        "project": "x",
        "jurisdiction": "FR, RegionTwo=de",
    }
    config = config_of("gov", values)
    assert config.auth_url == "https://keystone.gov.example:5000"
    assert config.jurisdiction("RegionTwo") == "DE" and config.jurisdiction("RegionOne") == "FR"
    assert config.swift_operator_roles == {"admin", "swiftoperator"}
    with pytest.raises(UsageError, match="jurisdiction 'France' is not ISO-3166") as caught:
        config_of("gov", {**values, "jurisdiction": "France"})
    assert "Pw-7731-secret" not in str(caught.value)
    with pytest.raises(UsageError, match="all_projects must be true or false"):
        config_of("gov", {**values, "all_projects": "maybe"})
    for name, value in {"AUTH_URL": "https://k", "USERNAME": "u", "PROJECT": "x"}.items():
        monkeypatch.setenv(f"GOVAUDIT_OPENSTACK_{name}", value)
    monkeypatch.setenv("GOVAUDIT_OPENSTACK_PASSWORD", "from-env-Pw")
    (cloud,) = providers.clouds("openstack", None)
    assert cloud.values["password"] == "from-env-Pw"
    spec = providers.registered()["openstack"]
    assert {s.name for s in spec.settings if s.secret} == {"password"}


def test_servers_venv_without_its_stamp_is_not_ready(tmp_path: Path) -> None:
    from tests.inventories.libcloud.servers import openstack_servers

    # A half-built venv (install interrupted before the stamp) must not start the servers.
    (tmp_path / "bin").mkdir()
    assert not openstack_servers.venv_ready(tmp_path)
    assert not openstack_servers.venv_ready(tmp_path / "absent")


def test_own_project_and_user_are_read_in_full_or_marked_unread(
    fixture_cloud: FixtureServer,
) -> None:
    records = collect(fixture_cloud)
    auditor = named(records, Kind.USER)["auditor"]
    project = named(records, Kind.ACCOUNT)["ministry-x"]
    assert (auditor.tags, auditor.attrs["tags_status"]) == ({"owner-dept": "dsj"}, "read")
    assert project.tags == {"gov": "", "dibao": ""} and project.attrs["domain_id"] == "default"
    # Refused: the token still names both, but their tags are unknown, not empty.
    fixture_cloud.fail("GET", f"/identity/v3/users/{FIXTURE_IDS['auditor']}", Failure(403))
    fixture_cloud.fail("GET", f"/identity/v3/projects/{PROJECT}", Failure(500))
    records = collect(fixture_cloud)
    auditor = named(records, Kind.USER)["auditor"]
    project = named(records, Kind.ACCOUNT)["ministry-x"]
    assert (auditor.tags, auditor.attrs["tags_status"]) == ({}, "denied")
    assert project.attrs["tags_status"] == "error"
    assert rows(records)[("global", "keystone")].outcome is Outcome.OK
