"""Outscale OAPI through our own recorded-style answers served by requests-mock: resources,
paging, error dicts, malformed answers, the read-only guard, and what the checks conclude."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import requests_mock

from auditor import pipeline
from auditor.errors import ReadOnlyViolation, UsageError
from auditor.inventories.libcloud import outscale
from auditor.model import Coverage, Edge, Kind, Outcome, Relation, Resource, Status
from auditor.policy import load_policy
from auditor.store import Store

FIXTURES = Path(__file__).parent / "fixtures" / "outscale"
ACCESS_KEY = "OSCAKGOVAUDITTEST0001"
SECRET_KEY = "osc-Secret-Never-Stored-Zk4w"  # the secret the tests hunt for
ACCOUNT = "333344445555"
REGION = "eu-west-2"
ACTIONS = ("ReadVms", "ReadVolumes", "ReadSnapshots", "ReadLoadBalancers", "ReadApiAccessRules")


def fixture(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text("utf-8"))


def url(action: str, region: str = REGION) -> str:
    return f"https://api.{region}.outscale.com/api/latest/{action}"


def serve(mock: requests_mock.Mocker, region: str = REGION, **override: Any) -> None:
    """Every action of the estate; `override[action]` replaces one answer (list or dict)."""
    answers: dict[str, Any] = {
        "ReadVms": [
            {"json": fixture("ReadVms_page1.json")},
            {"json": fixture("ReadVms_page2.json")},
        ],
        "ReadVolumes": {"json": fixture("ReadVolumes.json")},
        "ReadSnapshots": {"json": fixture("ReadSnapshots.json")},
        "ReadLoadBalancers": {"json": fixture("ReadLoadBalancers.json")},
        "ReadApiAccessRules": {"json": fixture("ReadApiAccessRules.json")},
    } | override
    for action, answer in answers.items():
        mock.post(url(action, region), answer if isinstance(answer, list) else [answer])


def scope(regions: str = REGION) -> outscale.OutscaleScope:
    values = {"access_key": ACCESS_KEY, "secret_key": SECRET_KEY, "regions": regions,
              "base_uri": "outscale.com"}  # fmt: skip
    return outscale.build(ACCOUNT, values)


def collect(**override: Any) -> list[Any]:
    with requests_mock.Mocker() as mock:
        serve(mock, **override)
        return list(scope().records())


def resources(records: list[Any]) -> dict[str, Resource]:
    return {r.uid: r for r in records if isinstance(r, Resource)}


def rows(records: list[Any]) -> dict[str, Coverage]:
    return {r.service: r for r in records if isinstance(r, Coverage)}


def edge_set(records: list[Any], relation: Relation) -> set[tuple[str, str]]:
    return {(e.src, e.dst) for e in records if isinstance(e, Edge) and e.relation is relation}


def uid(kind: str, ident: str) -> str:
    return f"outscale:{REGION}:{kind}/{ident}"


# --- what is collected ------------------------------------------------------------------------


def test_every_service_is_collected_with_one_row_each():
    records = collect()
    assert {s: (r.outcome, r.detail) for s, r in rows(records).items()} == {
        "vms": (Outcome.OK, "2 VMs"),
        "volumes": (Outcome.OK, "2 volumes"),
        "snapshots": (Outcome.OK, "3 snapshots"),
        "load_balancers": (Outcome.OK, "1 load balancers"),
        "api_access_rules": (Outcome.OK, "2 API access rules"),
    }
    row = rows(records)["vms"]
    assert (row.provider, row.account, row.region, row.api_calls) == (
        "outscale",
        ACCOUNT,
        REGION,
        2,
    )
    found = resources(records)
    kinds = sorted((r.kind.value, r.native_type) for r in found.values())
    assert kinds.count(("instance", "outscale:vm")) == 2
    assert kinds.count(("volume", "outscale:volume")) == 2
    assert kinds.count(("snapshot", "outscale:snapshot")) == 3
    assert ("network", "outscale:load_balancer") in kinds
    assert kinds.count(("firewall", "outscale:api_access_rule")) == 2
    assert all(r.jurisdiction == "FR" and r.account == ACCOUNT for r in found.values())


def test_vm_attrs_and_tags():
    vm = resources(collect())[uid("vm", "i-0a1b2c3d")]
    assert vm.name == "dossier-app"  # the Name tag
    assert vm.tags == {"Name": "dossier-app", "data-class": "core"}
    assert vm.attrs["tags_status"] == "read"
    assert vm.attrs["subregion"] == "eu-west-2a"
    assert vm.attrs["volume_ids"] == ["vol-aaaa0001"]
    assert "vpc_id" not in vm.attrs  # an Outscale Net is not a VPC the flow-log check knows


def test_volume_encryption_is_marked_not_exposed():
    """OAPI's Volume has no encryption field: unknown, never assumed either way."""
    volume = resources(collect())[uid("volume", "vol-aaaa0001")]
    assert volume.attrs["encryption_status"] == "not_exposed"
    assert volume.attrs["encrypted"] is None and volume.attrs["kms_key_arn"] is None
    assert volume.tags == {"data-class": "core", "owner-dept": "dsj"}
    assert volume.attrs["linked_vm_ids"] == ["i-0a1b2c3d"]


def test_snapshot_lineage_and_sharing_edges():
    records = collect()
    public, shared, private = (uid("snapshot", f"snap-bbbb000{i}") for i in (1, 2, 3))
    assert edge_set(records, Relation.SHARED_WITH) == {
        (public, "public:*"), (shared, "account:999988887777"),
    }  # fmt: skip
    readers = edge_set(records, Relation.CAN_READ)
    assert ("public:*", public) in readers and ("account:999988887777", shared) in readers
    assert not any(dst == private for _, dst in readers)
    copies = edge_set(records, Relation.COPIES_TO)
    assert (uid("volume", "vol-aaaa0001"), public) in copies
    # vol-aaaa0002 was restored from snap-bbbb0001: a copy of the core data.
    assert (public, uid("volume", "vol-aaaa0002")) in copies
    found = resources(records)
    assert found[public].attrs["shared_publicly"] is True
    assert found[private].attrs["sharing_status"] == "invalid"  # no PermissionsToCreateVolume


def test_load_balancer_logs_and_api_access_rules():
    records = collect()
    lb = resources(records)[uid("load_balancer", "portail-citoyen")]
    assert lb.attrs["internet_facing"] is True
    assert edge_set(records, Relation.DELIVERS_LOGS_TO) == {
        (lb.uid, "s3compat://oos.eu-west-2.outscale.com/lb-logs")
    }
    rules = resources(records)
    assert rules[uid("api_access_rule", "aar-0001")].attrs["open_to_any_ip"] is True
    assert rules[uid("api_access_rule", "aar-0002")].attrs["open_to_any_ip"] is False


def test_paging_follows_next_page_token():
    with requests_mock.Mocker() as mock:
        serve(mock)
        records = list(scope().records())
        bodies = [r.json() for r in mock.request_history if r.path.endswith("/readvms")]
    assert bodies == [
        {"ResultsPerPage": 1000},
        {"ResultsPerPage": 1000, "NextPageToken": "cGFnZS0y"},
    ]
    assert {r.name for r in resources(records).values() if r.kind is Kind.INSTANCE} == {
        "dossier-app", "i-0e0f1011",
    }  # fmt: skip


def test_unpaged_actions_get_no_paging_parameters():
    with requests_mock.Mocker() as mock:
        serve(mock)
        list(scope().records())
        bodies = {r.path.rsplit("/", 1)[-1]: r.json() for r in mock.request_history}
    assert bodies["readloadbalancers"] == {} and bodies["readapiaccessrules"] == {}


def test_requests_are_signed_and_time_limited(monkeypatch):
    with requests_mock.Mocker() as mock:
        serve(mock)
        list(scope().records())
        first = mock.request_history[0]
    assert first.headers["Authorization"].startswith("OSC4-HMAC-SHA256 Credential=")
    assert first.timeout == outscale.TIMEOUT_S


def test_regions_each_get_their_rows_and_jurisdictions():
    with requests_mock.Mocker() as mock:
        serve(mock)
        serve(mock, region="us-east-2")
        records = list(scope(f"{REGION}, us-east-2").records())
    regions = {(r.region, r.service) for r in records if isinstance(r, Coverage)}
    assert len(regions) == 10
    us = [r for r in records if isinstance(r, Resource) and r.region == "us-east-2"]
    assert us and all(r.jurisdiction == "US" for r in us)


# --- failures ---------------------------------------------------------------------------------


def test_a_403_error_dict_is_a_denied_row_and_the_rest_goes_on():
    records = collect(ReadVolumes={"status_code": 403, "json": fixture("error_403.json")})
    by_service = rows(records)
    assert by_service["volumes"].outcome is Outcome.DENIED
    assert "AccessDenied" in by_service["volumes"].detail
    assert by_service["snapshots"].outcome is Outcome.OK
    assert not any(r.kind is Kind.VOLUME for r in resources(records).values())
    for row in by_service.values():
        assert ACCESS_KEY not in row.detail and SECRET_KEY not in row.detail


def test_an_error_dict_with_a_200_still_raises():
    records = collect(ReadSnapshots={"status_code": 200, "json": fixture("error_403.json")})
    assert rows(records)["snapshots"].outcome is Outcome.DENIED


def test_throttling_is_a_throttled_row():
    records = collect(ReadVms={"status_code": 503, "json": fixture("error_throttled.json")})
    assert rows(records)["vms"].outcome is Outcome.THROTTLED


@pytest.mark.parametrize(
    "answer",
    [
        {"status_code": 200, "text": (FIXTURES / "malformed_not_json.txt").read_text("utf-8")},
        {"status_code": 200, "json": fixture("malformed_no_list.json")},
        {"status_code": 200, "json": ["not", "an", "object"]},
        {"status_code": 200, "json": {"Volumes": [{"VolumeType": "gp2"}]}},  # no VolumeId
        {"status_code": 502, "text": "Bad Gateway"},
    ],
)
def test_malformed_answers_are_error_rows(answer):
    records = collect(ReadVolumes=answer)
    row = rows(records)["volumes"]
    assert row.outcome is Outcome.ERROR
    assert "\n" not in row.detail
    assert not any(r.kind is Kind.VOLUME for r in resources(records).values())


def test_a_repeating_page_token_stops_with_an_error():
    page = {"json": fixture("ReadVms_page1.json")}
    records = collect(ReadVms=[page, page, page])
    assert rows(records)["vms"].outcome is Outcome.ERROR
    assert "NextPageToken" in rows(records)["vms"].detail


def test_an_unreachable_api_is_an_error_row():
    import requests

    records = collect(ReadApiAccessRules={"exc": requests.ConnectTimeout("timed out")})
    assert rows(records)["api_access_rules"].outcome is Outcome.ERROR


def test_missing_tags_leave_tags_unknown():
    vm = dict(fixture("ReadVms_page2.json")["Vms"][0])
    del vm["Tags"]
    records = collect(ReadVms={"json": {"Vms": [vm]}})
    found = resources(records)[uid("vm", "i-0e0f1011")]
    assert found.attrs["tags_status"] == "invalid"


# --- read-only --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "action", ["CreateVolume", "DeleteSnapshot", "UpdateSnapshot", "RebootVms"]
)
def test_the_client_refuses_non_read_actions_before_sending(action):
    oapi = scope().client(REGION)
    with requests_mock.Mocker() as mock:
        mock.post(requests_mock.ANY, json={})
        with pytest.raises(ReadOnlyViolation, match=action):
            oapi.call(action, {})
        assert mock.call_count == 0
    assert oapi.counter.total == 0


def test_the_drivers_own_write_methods_are_refused():
    oapi = scope().client(REGION)
    with requests_mock.Mocker() as mock:
        mock.post(requests_mock.ANY, json={})
        with pytest.raises(ReadOnlyViolation, match="CreateVolume"):
            oapi.driver.create_volume(ex_subregion_name="eu-west-2a", size=10)
        with pytest.raises(ReadOnlyViolation, match="DeleteVms"):
            oapi.driver.destroy_node(node=type("N", (), {"id": "i-1"})())
        assert mock.call_count == 0


def test_settings_are_checked_and_keys_never_shown():
    with pytest.raises(UsageError, match="regions"):
        outscale.build(ACCOUNT, {"access_key": "a", "secret_key": "b", "regions": " , "})
    with pytest.raises(UsageError, match="base_uri"):
        outscale.build(ACCOUNT, {"access_key": "a", "secret_key": "b", "base_uri": "x/y"})
    assert SECRET_KEY not in repr(scope()) and ACCESS_KEY not in repr(scope())


# --- what the checks conclude -----------------------------------------------------------------

POLICY = f"""
version: 1
organisation: {{name: Ministère de test, home_jurisdiction: FR}}
classifications:
  core: {{rank: 4, allowed_jurisdictions: [FR], key_custody: customer_managed}}
  general: {{rank: 2, allowed_jurisdictions: [FR], key_custody: any}}
classification_defaults:
  untagged: general
tags: {{classification: data-class, owner_dept: owner-dept}}
departments:
  - {{id: dsj, name: Direction des systèmes}}
accounts:
  "{ACCOUNT}": {{name: Outscale production, dept: dsj}}
"""


def test_checks_over_outscale_resources(tmp_path):
    policy_path = tmp_path / "policy.yaml"
    policy_path.write_text(POLICY, encoding="utf-8")
    policy = load_policy(policy_path)
    store = Store(tmp_path / "audit.db")
    try:
        with requests_mock.Mocker() as mock:
            serve(mock)
            serve(mock, region="us-east-2")
            run = pipeline.collect(store, policy, [scope(f"{REGION},us-east-2")])
        findings = pipeline.check(store, policy, run)
    finally:
        store.close()
    status = {(f.check_id, f.resource): f.status for f in findings}
    core_volume = uid("volume", "vol-aaaa0001")
    assert status[("SOV-001", core_volume)] is Status.PASS
    us_volume = "outscale:us-east-2:volume/vol-aaaa0001"
    assert status[("SOV-001", us_volume)] is Status.FAIL  # core data in the US
    assert status[("KEY-001", core_volume)] is Status.UNKNOWN  # OAPI says nothing of keys
    assert status[("ACC-001", uid("snapshot", "snap-bbbb0001"))] is Status.FAIL  # public
    assert status[("RSP-001", core_volume)] is Status.PASS
    # restored from a core snapshot but untagged: a copy labelled below its source
    assert status[("FLOW-009", uid("volume", "vol-aaaa0002"))] is Status.FAIL
