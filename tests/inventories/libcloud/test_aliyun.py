"""The Aliyun adapter through libcloud with a fixture-serving HTTP client (our XML recordings):
signing, paging, error codes and the read-only guard all run as against Aliyun."""

from __future__ import annotations

from pathlib import Path

import pytest

from auditor.errors import ReadOnlyViolation, UsageError
from auditor.inventories import providers
from auditor.inventories.libcloud import aliyun
from auditor.inventories.libcloud.aliyun_ecs import rpc
from auditor.inventories.libcloud.common import CallCounter
from auditor.model import Kind, Outcome, Record, Relation
from tests.inventories.libcloud.records import edges, named, rows
from tests.inventories.libcloud.servers.fixture_http import AliyunFixtures

ROOT = Path(__file__).parent / "fixtures" / "aliyun"
KEY_ID = "LTAI5tFixtureKeyId0001"
KEY_SECRET = "Fixture-Secret-0001-never-shown"
ACCOUNT = "1688000000000001"
HZ, HK = "cn-hangzhou", "cn-hongkong"


@pytest.fixture
def fixtures() -> AliyunFixtures:
    return AliyunFixtures(ROOT, KEY_ID)


def scope(fixtures: AliyunFixtures, **extra: str) -> aliyun.AliyunScope:
    values = {"access_key_id": KEY_ID, "access_key_secret": KEY_SECRET, "account": ACCOUNT, **extra}
    built = aliyun.build("gov", values)
    built.http_class = fixtures.http_class()
    return built


def collect(fixtures: AliyunFixtures, **extra: str) -> list[Record]:
    return list(scope(fixtures, **extra).records())


def test_regions_are_discovered_and_every_service_collected(fixtures: AliyunFixtures) -> None:
    records = collect(fixtures)
    coverage = rows(records)
    services = ("ecs", "ecs-disks", "ecs-snapshots", "ecs-images", "slb")
    assert {key: row.outcome for key, row in coverage.items()} == {
        ("global", "ecs-regions"): Outcome.OK,
        **{(region, s): Outcome.OK for region in (HZ, HK) for s in services},
        ("global", "oss"): Outcome.OK,
    }
    assert {row.account for row in coverage.values()} == {ACCOUNT}
    instances = named(records, Kind.INSTANCE)
    app = instances["shebao-app"]
    assert app.uid == f"acs:ecs:{HZ}:{ACCOUNT}:instance/i-bp1shebaoapp000001"
    assert (app.region, app.jurisdiction, app.attrs["zone_id"]) == (HZ, "CN", "cn-hangzhou-h")
    assert app.tags == {"data-class": "core", "owner-dept": "mz"}
    assert instances["portal-web"].attrs["public_ips"] == ["47.96.0.10"]
    # cn-hongkong is HK in the region table, never CN by its prefix.
    assert named(records, Kind.VOLUME)["shebao-db-hk"].jurisdiction == "HK"
    (balancer,) = named(records, Kind.ENDPOINT).values()
    assert balancer.attrs["internet_facing"] is True and balancer.tags == {"owner-dept": "dsj"}


def test_paging_follows_page_number_until_total_count(fixtures: AliyunFixtures) -> None:
    records = collect(fixtures)
    pages = [
        call[3]["PageNumber"]
        for call in fixtures.calls
        if call[3].get("Action") == "DescribeDisks" and call[3].get("RegionId") == HZ
    ]
    assert pages == ["1", "2", "3"]
    assert rows(records)[(HZ, "ecs-disks")].api_calls == 3
    assert len([v for v in named(records, Kind.VOLUME).values() if v.region == HZ]) == 3
    # Every request was signed with the configured key (the fixture client checks it).
    assert all(call[1].endswith(".aliyuncs.com") for call in fixtures.calls)


def test_disk_encryption_and_kms_keys_from_raw_answers(fixtures: AliyunFixtures) -> None:
    records = collect(fixtures)
    disks = named(records, Kind.VOLUME)
    db, sys, restored = disks["shebao-db"], disks["portal-sys"], disks["shebao-db-restored"]
    key = f"acs:kms:{HZ}:{ACCOUNT}:key/0b5d7c1e-4f3a-4e2b-9c8d-7a6b5c4d3e2f"
    assert (db.attrs["encrypted"], db.attrs["kms_key_arn"]) == (True, key)
    assert (db.uid, key) in edges(records, Relation.ENCRYPTED_BY)
    assert (sys.attrs["encryption_status"], sys.attrs["encrypted"]) == ("read", False)
    # Encrypted without a key id: ECS's default service key, which Aliyun manages.
    assert restored.attrs["key_owner"] == "provider_managed"
    assert restored.attrs["kms_key_arn"] is None
    (snapshot,) = named(records, Kind.SNAPSHOT).values()
    (image,) = named(records, Kind.IMAGE).values()
    copies = edges(records, Relation.COPIES_TO)
    assert {
        (db.uid, snapshot.uid),
        (snapshot.uid, restored.uid),
        (snapshot.uid, image.uid),
    } <= copies
    assert snapshot.tags["data-class"] == "general"
    # The image is as encrypted as its snapshot, with the same key.
    assert (image.attrs["encrypted"], image.attrs["kms_key_arn"]) == (True, key)
    partner = "account:1699000000000002"
    assert (image.uid, partner) in edges(records, Relation.SHARED_WITH)
    assert (partner, image.uid) in edges(records, Relation.CAN_READ)


def test_oss_buckets_with_location_acl_encryption_and_tags(fixtures: AliyunFixtures) -> None:
    records = collect(fixtures)
    buckets = named(records, Kind.OBJECT_STORE)
    listed = [name for name, b in buckets.items() if not b.attrs.get("observed_only")]
    assert sorted(listed) == ["open-data", "shebao-archive", "shebao-hk-backup"]
    hk = buckets["shebao-hk-backup"]
    assert (hk.region, hk.jurisdiction, hk.attrs["location"]) == (HK, "HK", "oss-cn-hongkong")
    assert hk.uid == f"acs:oss:*:{ACCOUNT}:shebao-hk-backup"
    # No default encryption is a fact (OSS answered NoSuchServerSideEncryptionRule).
    assert (hk.attrs["encryption_status"], hk.attrs["encrypted"]) == ("none", False)
    open_data, archive = buckets["open-data"], buckets["shebao-archive"]
    assert ("public:*", open_data.uid) in edges(records, Relation.CAN_READ)
    assert open_data.attrs["public"] is True and open_data.attrs["key_owner"] == "provider_managed"
    key = f"acs:kms:{HZ}:{ACCOUNT}:key/9f8e7d6c-5b4a-4392-8170-6f5e4d3c2b1a"
    assert (archive.uid, key) in edges(records, Relation.ENCRYPTED_BY)
    assert archive.tags == {"data-class": "core", "owner-dept": "mz"}
    # Cross-region replication to a bucket the listing does not show: kept as an observed
    # bucket with its location, so the flow checks know the copy sits in Singapore.
    target = buckets["shebao-archive-sg"]
    assert (archive.uid, target.uid) in edges(records, Relation.REPLICATES_TO)
    assert (target.region, target.jurisdiction, target.attrs["observed_only"]) == (
        "ap-southeast-1",
        "SG",
        True,
    )
    assert archive.attrs["replication_status"] == "read"
    assert hk.attrs["replication_status"] == "none" and hk.attrs["replicates_to"] == []
    # Each bucket's facts were asked of the bucket's own regional host (libcloud's OSS
    # connection would have sent them all to the host it was opened on).
    hosts = {call[1] for call in fixtures.calls if "acl" in call[3]}
    assert hosts == {
        "open-data.oss-cn-hangzhou.aliyuncs.com",
        "shebao-archive.oss-cn-hangzhou.aliyuncs.com",
        "shebao-hk-backup.oss-cn-hongkong.aliyuncs.com",
    }
    markers = [call[3].get("marker") for call in fixtures.calls if call[1] == "oss.aliyuncs.com"]
    assert markers == [None, "shebao-archive"]


@pytest.mark.parametrize(
    ("prefix", "status", "file", "row", "outcome"),
    [
        (f"ecs_DescribeDisks_{HZ}", 403, "error_forbidden.xml", (HZ, "ecs-disks"), Outcome.DENIED),
        # Aliyun throttles with HTTP 400 and a Throttling.* code: the code decides.
        (
            f"ecs_DescribeInstances_{HK}",
            400,
            "error_throttling.xml",
            (HK, "ecs"),
            Outcome.THROTTLED,
        ),
        (
            f"slb_DescribeLoadBalancers_{HZ}",
            403,
            "error_forbidden.xml",
            (HZ, "slb"),
            Outcome.DENIED,
        ),
        ("oss_ListBuckets", 403, "error_oss_accessdenied.xml", ("global", "oss"), Outcome.DENIED),
        (
            f"ecs_DescribeSnapshots_{HZ}",
            500,
            "error_signature.xml",
            (HZ, "ecs-snapshots"),
            Outcome.DENIED,
        ),
        (
            f"ecs_DescribeImages_{HZ}",
            503,
            "ecs_DescribeRegions.xml",
            (HZ, "ecs-images"),
            Outcome.ERROR,
        ),
    ],
)
def test_failures_become_one_row_each(
    fixtures: AliyunFixtures,
    prefix: str,
    status: int,
    file: str,
    row: tuple[str, str],
    outcome: Outcome,
) -> None:
    fixtures.failures[prefix] = (status, file)
    records = collect(fixtures)
    coverage = rows(records)
    assert coverage[row].outcome is outcome
    assert "\n" not in coverage[row].detail
    others = [r for key, r in coverage.items() if key != row]
    assert all(r.outcome is Outcome.OK for r in others)


def test_refused_bucket_fact_keeps_the_bucket(fixtures: AliyunFixtures) -> None:
    fixtures.failures["oss_open-data_acl"] = (403, "error_oss_accessdenied.xml")
    records = collect(fixtures)
    open_data = named(records, Kind.OBJECT_STORE)["open-data"]
    assert (open_data.attrs["acl_status"], open_data.attrs["public"]) == ("denied", None)
    assert open_data.tags["data-class"] == "public"  # the other facts were read
    row = rows(records)[("global", "oss")]
    assert row.outcome is Outcome.DENIED and "?acl AccessDenied×1" in row.detail
    assert ("public:*", open_data.uid) not in edges(records, Relation.CAN_READ)


def test_image_sharing_refused_is_unknown_not_private(fixtures: AliyunFixtures) -> None:
    fixtures.failures[f"ecs_DescribeImageSharePermission_{HZ}"] = (403, "error_forbidden.xml")
    records = collect(fixtures)
    (image,) = named(records, Kind.IMAGE).values()
    assert image.attrs["sharing_status"] == "denied" and image.attrs["public"] is None
    row = rows(records)[(HZ, "ecs-images")]
    assert row.outcome is Outcome.DENIED and "Forbidden.RAM" in row.detail


def test_configured_regions_skip_discovery(fixtures: AliyunFixtures) -> None:
    records = collect(fixtures, regions=HK)
    coverage = rows(records)
    assert ("global", "ecs-regions") not in coverage and (HZ, "ecs") not in coverage
    assert (HK, "ecs-disks") in coverage
    assert not [c for c in fixtures.calls if c[3].get("Action") == "DescribeRegions"]


def test_wrong_key_is_denied(fixtures: AliyunFixtures) -> None:
    fixtures.access_key_id = "LTAI5tSomeOtherKey99"
    coverage = rows(collect(fixtures, regions=HZ))
    assert {row.outcome for row in coverage.values()} == {Outcome.DENIED}


def test_no_key_reaches_any_record_even_when_an_error_echoes_it(fixtures: AliyunFixtures) -> None:
    # OSS error answers name the AccessKeyId that signed the request.
    fixtures.failures["oss_ListBuckets"] = (403, "error_oss_accessdenied.xml")
    records = collect(fixtures)
    text = repr(records)
    assert KEY_ID not in text and KEY_SECRET not in text
    assert KEY_SECRET not in repr(scope(fixtures)) and KEY_ID not in repr(scope(fixtures).config)


def test_a_write_action_is_refused_before_it_is_sent(fixtures: AliyunFixtures) -> None:
    connection = scope(fixtures).ecs(HZ, CallCounter())
    with pytest.raises(ReadOnlyViolation, match="Action=DeleteDisk"):
        rpc(connection, "DeleteDisk", {"DiskId": "d-bp1shebaodb0000001"})
    assert fixtures.calls == []


def test_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    values = {"access_key_id": KEY_ID, "access_key_secret": KEY_SECRET}
    config = aliyun.config_of("gov", {**values, "regions": "cn-beijing, cn-hongkong"})
    assert config.regions == ("cn-beijing", "cn-hongkong") and config.account == "gov"
    with pytest.raises(UsageError, match="timeout must be"):
        aliyun.config_of("gov", {**values, "timeout": "soon"})
    endpoint = "ecs.{region}.gov.example"
    built = aliyun.AliyunScope(aliyun.config_of("gov", {**values, "ecs_endpoint": endpoint}))
    assert built.ecs("cn-north-2-gov-1", CallCounter()).host == "ecs.cn-north-2-gov-1.gov.example"
    monkeypatch.setenv("GOVAUDIT_ALIYUN_ACCESS_KEY_ID", KEY_ID)
    monkeypatch.setenv("GOVAUDIT_ALIYUN_ACCESS_KEY_SECRET", KEY_SECRET)
    (cloud,) = providers.clouds("aliyun", None)
    assert cloud.values["access_key_secret"] == KEY_SECRET
    spec = providers.registered()["aliyun"]
    assert {s.name for s in spec.settings if s.secret} == {"access_key_id", "access_key_secret"}


def test_unreachable_endpoint_is_an_error_row_without_the_key(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import socket

    with socket.socket() as sock:  # a loopback port nobody listens on
        sock.bind(("127.0.0.1", 0))
        endpoint = f"127.0.0.1:{sock.getsockname()[1]}"
    # Only ECS and SLB here: OSS hosts are names (bucket.oss-REGION.DOMAIN), never loopback.
    monkeypatch.setattr(aliyun, "read_buckets", lambda *a: ([], "not asked"))
    values = {
        "access_key_id": KEY_ID,
        "access_key_secret": KEY_SECRET,
        "regions": HZ,
        "ecs_endpoint": endpoint,
        "slb_endpoint": endpoint,
        "timeout": "2",
    }
    records = list(aliyun.build("gov", values).records())
    coverage = rows(records)
    regional = {key: row for key, row in coverage.items() if key[0] == HZ}
    assert len(regional) == 5
    for row in regional.values():
        assert row.outcome is Outcome.ERROR and row.detail.startswith("ConnectionError")
        # The request URL in the message carries the key id and signature: never kept.
        assert KEY_ID not in row.detail and KEY_SECRET not in row.detail
