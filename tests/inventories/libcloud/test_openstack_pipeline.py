"""OpenStack and Aliyun resources through the whole audit: collect, store, check, and the CLI's
`govaudit audit --provider openstack --provider aliyun` (fixture-served clouds)."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

import pytest

from auditor import pipeline
from auditor.cli import main
from auditor.inventories import providers
from auditor.inventories.libcloud import aliyun, openstack
from auditor.model import Finding, Status
from auditor.policy import load_policy
from auditor.store import Store
from tests.inventories.libcloud.conftest import FIXTURE_PASSWORD, FIXTURE_TOKEN
from tests.inventories.libcloud.servers.fixture_http import AliyunFixtures
from tests.inventories.libcloud.servers.fixture_server import FixtureServer

HERE = Path(__file__).parent
POLICY = HERE / "fixtures" / "openstack" / "policy.yaml"
ALIYUN = HERE / "fixtures" / "aliyun"
KEY_ID, KEY_SECRET = "LTAI5tFixtureKeyId0001", "Fixture-Secret-0001-never-shown"
ACCOUNT = "1688000000000001"

# (check, provider, resource name) → status, for the facts each check stands on.
EXPECTED = {
    # SOV-001: core data may only sit in CN; hk-dr-1 is HK by the policy's region_overrides,
    # cn-hongkong by the region table (never CN by its prefix).
    ("SOV-001", "openstack", "dibao-db-dr"): Status.FAIL,
    ("SOV-001", "openstack", "dibao-db"): Status.PASS,
    ("SOV-001", "openstack", "dibao-archive"): Status.PASS,
    ("SOV-001", "aliyun", "shebao-db-hk"): Status.FAIL,
    ("SOV-001", "aliyun", "shebao-hk-backup"): Status.FAIL,
    ("SOV-001", "aliyun", "shebao-db"): Status.PASS,
    # KEY-001: unencrypted is a FAIL; encrypted under a key the audit did not see, or with
    # encryption Swift does not expose, is UNKNOWN, never PASS.
    ("KEY-001", "openstack", "scratch"): Status.FAIL,
    ("KEY-001", "openstack", "dibao-db"): Status.UNKNOWN,
    ("KEY-001", "openstack", "dibao-archive"): Status.UNKNOWN,
    ("KEY-001", "aliyun", "portal-sys"): Status.FAIL,
    ("KEY-001", "aliyun", "shebao-hk-backup"): Status.FAIL,
    ("KEY-001", "aliyun", "shebao-db"): Status.UNKNOWN,
    # RSP-001: the owner-dept tag (metadata, custom property, OSS tag) names the department.
    ("RSP-001", "openstack", "dibao-db"): Status.PASS,
    ("RSP-001", "openstack", "scratch"): Status.FAIL,
    ("RSP-001", "openstack", "unlabelled"): Status.FAIL,
    ("RSP-001", "openstack", "dibao-app"): Status.PASS,
    ("RSP-001", "aliyun", "shebao-db"): Status.PASS,
    ("RSP-001", "aliyun", "portal-sys"): Status.FAIL,
    ("RSP-001", "aliyun", "shebao-hk-backup"): Status.FAIL,
    # FLOW-009: snapshots labelled general hold copies of core volumes / disks.
    ("FLOW-009", "openstack", "dibao-db-nightly"): Status.FAIL,
    ("FLOW-009", "openstack", "dibao-db-restore"): Status.PASS,
    ("FLOW-009", "openstack", "scratch"): Status.FAIL,
    ("FLOW-009", "aliyun", "shebao-db-daily"): Status.FAIL,
    ("FLOW-009", "aliyun", "shebao-golden"): Status.PASS,
    # FLOW-001: OSS replication to Singapore; Cinder replication to an undisclosed target;
    # Swift sync hidden from a non-owner.
    ("FLOW-001", "aliyun", "shebao-archive"): Status.FAIL,
    ("FLOW-001", "openstack", "dibao-db"): Status.UNKNOWN,
    ("FLOW-001", "openstack", "dibao-archive"): Status.UNKNOWN,
    # ACC-001: Swift hid the ACLs from the auditor; Glance and OSS say who can read.
    ("ACC-001", "openstack", "dibao-archive"): Status.UNKNOWN,
    ("ACC-001", "aliyun", "open-data"): Status.PASS,
    # FLOW-004: images shared with another project / account.
    ("FLOW-004", "openstack", "dibao-golden"): Status.FAIL,
    ("FLOW-004", "aliyun", "shebao-golden"): Status.FAIL,
}


@pytest.fixture
def aliyun_fixtures() -> AliyunFixtures:
    return AliyunFixtures(ALIYUN, KEY_ID)


def openstack_values(cloud: FixtureServer) -> dict[str, str]:
    # No jurisdiction setting: the policy's region_overrides place the regions.
    return {
        "auth_url": f"{cloud.base}/identity",
        "username": "auditor",
        "password": FIXTURE_PASSWORD,
        "project": "ministry-x",
    }


def aliyun_scope(fixtures: AliyunFixtures) -> aliyun.AliyunScope:
    values = {"access_key_id": KEY_ID, "access_key_secret": KEY_SECRET, "account": ACCOUNT}
    scope = aliyun.build("gov", values)
    scope.http_class = fixtures.http_class()
    return scope


def judged(
    store: Store, run_id: int, findings: list[Finding]
) -> dict[tuple[str, str, str], Status]:
    resources = {r.uid: r for r in store.resources(run_id)}
    return {
        (f.check_id, resources[f.resource].provider, resources[f.resource].name): f.status
        for f in findings
        if f.resource in resources
    }


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    opened = Store(tmp_path / "audit.db")
    yield opened
    opened.close()


def test_checks_judge_openstack_and_aliyun_resources(
    fixture_cloud: FixtureServer, aliyun_fixtures: AliyunFixtures, store: Store
) -> None:
    policy = load_policy(POLICY)
    scopes: Sequence[pipeline.Scope] = [
        openstack.build("gov", openstack_values(fixture_cloud)),
        aliyun_scope(aliyun_fixtures),
    ]
    run = pipeline.collect(store, policy, scopes)
    findings = pipeline.check(store, policy, run)
    verdicts = judged(store, run.id, findings)
    assert {key: verdicts.get(key) for key in EXPECTED} == EXPECTED
    # Resources of other projects, and replication targets seen only as edges, are judged
    # by no check: they are not the audited project's data.
    for name in ("ubuntu-24.04", "shebao-archive-sg"):
        assert not [key for key in verdicts if key[2] == name]
    placed = {r.name: r.jurisdiction for r in store.resources(run.id)}
    assert placed["dibao-db-dr"] == "HK" and placed["dibao-db"] == "CN"
    assert placed["shebao-db-hk"] == "HK" and placed["shebao-archive-sg"] == "SG"
    coverage = {(c.provider, c.region, c.service): c.outcome.value for c in store.coverage(run.id)}
    assert coverage[("openstack", "hk-dr-1", "swift")] == "not_enabled"
    assert coverage[("aliyun", "global", "oss")] == "ok"
    assert set(run.accounts) >= {ACCOUNT, "6a1b2c3d4e5f40718293a4b5c6d7e8f9"}


def test_openstack_regions_stay_unknown_without_a_mapping(
    fixture_cloud: FixtureServer, store: Store, tmp_path: Path
) -> None:
    text = POLICY.read_text("utf-8").split("region_overrides:")[0]
    bare = tmp_path / "policy.yaml"
    bare.write_text(text, "utf-8")
    policy = load_policy(bare)
    run = pipeline.collect(store, policy, [openstack.build("gov", openstack_values(fixture_cloud))])
    findings = pipeline.check(store, policy, run)
    verdicts = judged(store, run.id, findings)
    # No table knows a deployment's region names: SOV-001 cannot pass or fail them.
    assert verdicts[("SOV-001", "openstack", "dibao-db")] is Status.UNKNOWN
    assert verdicts[("SOV-001", "openstack", "dibao-db-dr")] is Status.UNKNOWN


def test_cli_audits_openstack_and_aliyun(
    fixture_cloud: FixtureServer,
    aliyun_fixtures: AliyunFixtures,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # Secrets come from the environment; the file holds the rest, one section per cloud.
    config = tmp_path / "clouds.ini"
    values = openstack_values(fixture_cloud)
    config.write_text(
        "[openstack]\n"
        + "".join(f"{k} = {v}\n" for k, v in values.items() if k != "password")
        + f"\n[aliyun]\naccount = {ACCOUNT}\nregions = cn-hangzhou, cn-hongkong\n",
        "utf-8",
    )
    monkeypatch.setenv("GOVAUDIT_OPENSTACK_PASSWORD", FIXTURE_PASSWORD)
    monkeypatch.setenv("GOVAUDIT_ALIYUN_ACCESS_KEY_ID", KEY_ID)
    monkeypatch.setenv("GOVAUDIT_ALIYUN_ACCESS_KEY_SECRET", KEY_SECRET)
    spec = providers.registered()["aliyun"]
    http_class = aliyun_fixtures.http_class()

    def build(label: str, settings: Mapping[str, str]) -> aliyun.AliyunScope:
        return aliyun.AliyunScope(aliyun.config_of(label, settings), http_class)

    # Only the transport changes: libcloud's HTTP client is replaced by the fixture one.
    monkeypatch.setitem(providers._REGISTRY, "aliyun", dataclasses.replace(spec, build=build))
    db, out = tmp_path / "audit.db", tmp_path / "report"
    args = [
        "audit",
        "--policy",
        str(POLICY),
        "--db",
        str(db),
        "--out",
        str(out),
        "--provider",
        "openstack",
        "--provider",
        "aliyun",
        "--cloud-config",
        str(config),
    ]
    with pytest.raises(SystemExit) as info:
        main(args)
    _, stderr = capsys.readouterr()
    assert info.value.code == 1, stderr  # SOV-001 (high) fails the default --fail-on high
    findings = json.loads((out / "findings.json").read_text("utf-8"))
    failing = {
        (f["check_id"], f["resource"].rsplit("/", 1)[-1]) for f in findings if f["status"] == "FAIL"
    }
    assert ("SOV-001", "0b7f1a2c-0004-4c1d-8e2f-00000000dr04") in failing
    assert ("SOV-001", "d-j6cshebaohk0000001") in failing
    # No secret anywhere: the database, the report, the exports, the progress lines.
    written = [
        db.read_bytes(),
        stderr.encode(),
        *(p.read_bytes() for p in out.rglob("*") if p.is_file()),
    ]
    for secret in (FIXTURE_PASSWORD, FIXTURE_TOKEN, KEY_ID, KEY_SECRET):
        assert not [blob for blob in written if secret.encode() in blob], secret


def test_section_jurisdiction_and_policy_overrides_combine(
    fixture_cloud: FixtureServer, store: Store, tmp_path: Path
) -> None:
    # The policy names only hk-dr-1; the cloud section places cn-gov-1 (and claims hk-dr-1 is
    # CN, which the policy's own mapping overrides).
    text = POLICY.read_text("utf-8").replace('  "openstack:cn-gov-1": CN\n', "")
    path = tmp_path / "policy.yaml"
    path.write_text(text, "utf-8")
    values = {**openstack_values(fixture_cloud), "jurisdiction": "CN"}
    run = pipeline.collect(store, load_policy(path), [openstack.build("gov", values)])
    placed = {r.name: r.jurisdiction for r in store.resources(run.id)}
    assert placed["dibao-db"] == "CN" and placed["dibao-db-dr"] == "HK"
