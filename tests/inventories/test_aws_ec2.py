"""EC2 and EBS: instances, volumes, snapshots, AMIs and EBS default encryption.

The moto estate (seeded over HTTP with plain boto3 clients):
  aws-cn, account 123456789012
    cn-north-1: instance `app` (instance profile `app`, public IP) with its unencrypted root
      volume and the volume `gov-data` (20 GiB, encrypted with a customer key) attached;
      snapshot `gov-data-snap` of gov-data, shared with 999988887777 and the public;
      AMI `app-image` made from the instance (its snapshot comes with it), shared with
      999988887777.  EBS default encryption off.
    cn-northwest-1: EBS default encryption on; one 8 GiB volume created under it.
  aws, account 111122223333
    ap-east-1: an unencrypted volume and its snapshot, shared with the public.
    eu-central-1: nothing.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import boto3
import pytest
import requests
from botocore.stub import Stubber

from auditor.inventories import aws as aws_adapter
from auditor.inventories.aws import ec2
from auditor.inventories.aws.calls import READ
from auditor.inventories.aws.identity import CallerIdentity
from auditor.inventories.aws.registry import (
    ServiceContext,
    SharedFacts,
    all_operations,
    services,
)
from auditor.inventories.aws.session import Clients, make_client
from auditor.model import Coverage, Edge, Kind, Outcome, Relation, Resource
from tests.conftest import FIXTURES
from tests.inventories.conftest import CN1, CN2, FRA, HK, HK_ACCOUNT, MAIN, VENDOR, assumed_session

CN_MAIN = CallerIdentity(MAIN, f"arn:aws-cn:iam::{MAIN}:user/auditor", "aws-cn")
AWS_HK = CallerIdentity(HK_ACCOUNT, f"arn:aws:iam::{HK_ACCOUNT}:role/seed", "aws")


# --- seeding ----------------------------------------------------------------------------------


def _tags(resource_type: str, **tags: str) -> list[dict[str, Any]]:
    return [
        {"ResourceType": resource_type, "Tags": [{"Key": k, "Value": v} for k, v in tags.items()]}
    ]


def seed_cn(session: boto3.Session, endpoint: str) -> dict[str, str]:
    """The aws-cn estate of the module docstring; returns the ids moto chose."""
    client = session.client("ec2", region_name=CN1, endpoint_url=endpoint)
    key = session.client("kms", region_name=CN1, endpoint_url=endpoint).create_key()
    key_arn = str(key["KeyMetadata"]["Arn"])
    iam = session.client("iam", region_name=CN1, endpoint_url=endpoint)
    iam.create_instance_profile(InstanceProfileName="app")
    amazon_ami = client.describe_images(Owners=["amazon"])["Images"][0]["ImageId"]
    instance = client.run_instances(
        ImageId=amazon_ami,
        MinCount=1,
        MaxCount=1,
        IamInstanceProfile={"Name": "app"},
        TagSpecifications=_tags("instance", Name="app", **{"data-class": "重要数据"}),
    )["Instances"][0]
    instance_id = str(instance["InstanceId"])
    root = instance["BlockDeviceMappings"][0]["Ebs"]["VolumeId"]
    data = client.create_volume(
        AvailabilityZone=f"{CN1}a",
        Size=20,
        Encrypted=True,
        KmsKeyId=key_arn,
        TagSpecifications=_tags("volume", Name="gov-data"),
    )["VolumeId"]
    client.attach_volume(VolumeId=data, InstanceId=instance_id, Device="/dev/sdf")
    snapshot = client.create_snapshot(
        VolumeId=data, TagSpecifications=_tags("snapshot", Name="gov-data-snap")
    )["SnapshotId"]
    client.modify_snapshot_attribute(
        SnapshotId=snapshot,
        Attribute="createVolumePermission",
        OperationType="add",
        UserIds=[VENDOR],
        GroupNames=["all"],
    )
    image = client.create_image(InstanceId=instance_id, Name="app-image")["ImageId"]
    client.modify_image_attribute(ImageId=image, LaunchPermission={"Add": [{"UserId": VENDOR}]})
    mappings = client.describe_images(ImageIds=[image])["Images"][0]["BlockDeviceMappings"]
    image_snapshot = mappings[0]["Ebs"]["SnapshotId"]
    # moto gives the AMI's snapshot a VolumeId of its own, not the instance's root volume's.
    image_volume = client.describe_snapshots(SnapshotIds=[image_snapshot])["Snapshots"][0][
        "VolumeId"
    ]
    north_west = session.client("ec2", region_name=CN2, endpoint_url=endpoint)
    north_west.enable_ebs_encryption_by_default()
    nw_volume = north_west.create_volume(AvailabilityZone=f"{CN2}a", Size=8)["VolumeId"]
    return {
        "key": key_arn,
        "instance": instance_id,
        "root": str(root),
        "data": str(data),
        "snapshot": str(snapshot),
        "image": str(image),
        "image_snapshot": str(image_snapshot),
        "image_volume": str(image_volume),
        "nw_volume": str(nw_volume),
    }


def seed_hk(session: boto3.Session, endpoint: str) -> dict[str, str]:
    client = session.client("ec2", region_name=HK, endpoint_url=endpoint)
    volume = client.create_volume(AvailabilityZone=f"{HK}a", Size=8)["VolumeId"]
    snapshot = client.create_snapshot(VolumeId=volume)["SnapshotId"]
    client.modify_snapshot_attribute(
        SnapshotId=snapshot,
        Attribute="createVolumePermission",
        OperationType="add",
        GroupNames=["all"],
    )
    return {"volume": str(volume), "snapshot": str(snapshot)}


@dataclass
class Ec2Estate:
    endpoint: str
    cn: boto3.Session
    aws: boto3.Session
    ids: dict[str, str]
    hk: dict[str, str]


@pytest.fixture(scope="module")
def ec2_estate(moto_server: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Ec2Estate]:
    """Seeded once for the module: every test here only reads the estate.

    Module-scoped, so it sets the dummy credentials the per-test autouse fixture would (it runs
    before that fixture), and resets moto itself.
    """
    home = tmp_path_factory.mktemp("aws")
    with pytest.MonkeyPatch.context() as env:
        for var in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL"):
            env.delenv(var, raising=False)
        env.setenv("AWS_ACCESS_KEY_ID", "testing")
        env.setenv("AWS_SECRET_ACCESS_KEY", "testing")
        env.setenv("AWS_CONFIG_FILE", str(home / "no-aws-config"))
        env.setenv("AWS_SHARED_CREDENTIALS_FILE", str(home / "no-aws-credentials"))
        endpoint = moto_server
        requests.post(f"{endpoint}/moto-api/reset", timeout=10)
        cn = boto3.Session(region_name=CN1)
        aws = assumed_session(endpoint, "aws", HK_ACCOUNT, HK)
        yield Ec2Estate(endpoint, cn, aws, seed_cn(cn, endpoint), seed_hk(aws, endpoint))


def arn(kind: str, ident: str, region: str = CN1, account: str = MAIN, p: str = "aws-cn") -> str:
    return f"arn:{p}:ec2:{region}:{account}:{kind}/{ident}"


def collect_ec2(
    session: boto3.Session, endpoint: str, who: CallerIdentity, regions: list[str], monkeypatch
) -> list[Any]:
    """collect_account restricted to the ec2 service (the others have their own tests)."""
    monkeypatch.setattr(aws_adapter, "services", lambda: (ec2.SERVICE,))
    clients = Clients(session, endpoint)
    return list(aws_adapter.collect_account(clients, who, regions[0], regions, workers=1))


def split(records: Any) -> tuple[dict[str, Resource], set[tuple[str, str, str, str]]]:
    records = list(records)
    resources = {r.uid: r for r in records if isinstance(r, Resource)}
    edges = {(e.src, e.relation.value, e.dst, e.evidence) for e in records if isinstance(e, Edge)}
    return resources, edges


# --- against the moto server ------------------------------------------------------------------


pytestmark = pytest.mark.moto


def test_collects_exact_cn_resources(ec2_estate, monkeypatch):
    ids = ec2_estate.ids
    records = collect_ec2(ec2_estate.cn, ec2_estate.endpoint, CN_MAIN, [CN1, CN2], monkeypatch)
    resources, _ = split(records)
    assert {
        uid: (r.kind, r.native_type, r.name, r.account, r.region, r.jurisdiction)
        for uid, r in resources.items()
    } == {
        arn("instance", ids["instance"]): (Kind.INSTANCE, "ec2:instance", "app", MAIN, CN1, "CN"),
        arn("volume", ids["root"]): (Kind.VOLUME, "ec2:volume", ids["root"], MAIN, CN1, "CN"),
        arn("volume", ids["data"]): (Kind.VOLUME, "ec2:volume", "gov-data", MAIN, CN1, "CN"),
        arn("snapshot", ids["snapshot"], account=""): (
            Kind.SNAPSHOT, "ec2:snapshot", "gov-data-snap", MAIN, CN1, "CN",
        ),
        arn("snapshot", ids["image_snapshot"], account=""): (
            Kind.SNAPSHOT, "ec2:snapshot", ids["image_snapshot"], MAIN, CN1, "CN",
        ),
        arn("image", ids["image"], account=""): (
            Kind.IMAGE, "ec2:image", "app-image", MAIN, CN1, "CN",
        ),
        arn("volume", ids["nw_volume"], CN2): (
            Kind.VOLUME, "ec2:volume", ids["nw_volume"], MAIN, CN2, "CN",
        ),
    }  # fmt: skip


def test_instance_attrs(ec2_estate, monkeypatch):
    ids = ec2_estate.ids
    resources, _ = split(
        collect_ec2(ec2_estate.cn, ec2_estate.endpoint, CN_MAIN, [CN1], monkeypatch)
    )
    instance = resources[arn("instance", ids["instance"])]
    assert instance.tags == {"Name": "app", "data-class": "重要数据"}
    attrs = instance.attrs
    assert attrs["instance_profile_arn"] == f"arn:aws-cn:iam::{MAIN}:instance-profile/app"
    assert attrs["has_public_ip"] is True
    assert attrs["state"] in ("pending", "running")
    assert attrs["vpc_id"].startswith("vpc-") and attrs["subnet_id"].startswith("subnet-")
    assert attrs["attached_volume_ids"] == [ids["root"], ids["data"]]
    assert attrs["tags_status"] == READ


def test_volume_encryption_and_ebs_default(ec2_estate, monkeypatch):
    ids = ec2_estate.ids
    resources, _ = split(
        collect_ec2(ec2_estate.cn, ec2_estate.endpoint, CN_MAIN, [CN1, CN2], monkeypatch)
    )
    data = resources[arn("volume", ids["data"])].attrs
    assert (data["encryption_status"], data["encrypted"], data["kms_key_arn"]) == (
        READ,
        True,
        ids["key"],
    )
    assert (data["size_gib"], data["state"]) == (20, "in-use")
    assert data["attachments"] == [
        {"instance_id": ids["instance"], "device": "/dev/sdf", "state": "attached"}
    ]
    root = resources[arn("volume", ids["root"])].attrs
    assert (root["encrypted"], root["kms_key_arn"]) == (False, None)
    # The default key cannot be read from moto (GetEbsDefaultKmsKeyId is not implemented).
    assert {k: v for k, v in data.items() if k.startswith("ebs_default")} == {
        "ebs_default_encryption": False,
        "ebs_default_encryption_status": READ,
        "ebs_default_kms_key_arn": None,
        "ebs_default_kms_key_status": "error",
    }
    north_west = resources[arn("volume", ids["nw_volume"], CN2)].attrs
    assert north_west["ebs_default_encryption"] is True
    # moto does not apply the default to new volumes; AWS would have encrypted this one.
    assert north_west["encrypted"] is False


def test_snapshot_and_image_attrs(ec2_estate, monkeypatch):
    ids = ec2_estate.ids
    resources, _ = split(
        collect_ec2(ec2_estate.cn, ec2_estate.endpoint, CN_MAIN, [CN1], monkeypatch)
    )
    snap = resources[arn("snapshot", ids["snapshot"], account="")].attrs
    # moto omits the snapshot's KmsKeyId: encrypted is known, the key is not.
    assert (snap["encryption_status"], snap["encrypted"], snap["kms_key_arn"]) == (READ, True, None)
    assert (snap["volume_id"], snap["sharing_status"]) == (ids["data"], READ)
    assert (snap["shared_with_accounts"], snap["public"]) == ([VENDOR], True)
    image = resources[arn("image", ids["image"], account="")].attrs
    assert image["snapshot_ids"] == [ids["image_snapshot"]]
    assert (image["encryption_status"], image["encrypted"], image["kms_key_arn"]) == (
        READ,
        False,
        None,
    )
    assert (image["sharing_status"], image["shared_with_accounts"], image["public"]) == (
        READ,
        [VENDOR],
        False,
    )


def test_collects_exact_cn_edges(ec2_estate, monkeypatch):
    ids = ec2_estate.ids
    _, edges = split(
        collect_ec2(ec2_estate.cn, ec2_estate.endpoint, CN_MAIN, [CN1, CN2], monkeypatch)
    )
    snap = arn("snapshot", ids["snapshot"], account="")
    image_snap = arn("snapshot", ids["image_snapshot"], account="")
    image = arn("image", ids["image"], account="")
    share = f"DescribeSnapshotAttribute {ids['snapshot']} createVolumePermission"
    launch = f"DescribeImageAttribute {ids['image']} launchPermission"
    assert edges == {
        (
            arn("volume", ids["data"]),
            "encrypted_by",
            ids["key"],
            f"DescribeVolumes {ids['data']} KmsKeyId: {ids['key']}",
        ),
        (
            arn("volume", ids["data"]),
            "copies_to",
            snap,
            f"DescribeSnapshots {ids['snapshot']} VolumeId: {ids['data']}",
        ),
        (snap, "shared_with", f"account:{VENDOR}", f"{share}: UserId {VENDOR}"),
        (f"account:{VENDOR}", "can_read", snap, f"{share}: UserId {VENDOR}"),
        (snap, "shared_with", "public:*", f"{share}: Group all"),
        ("public:*", "can_read", snap, f"{share}: Group all"),
        (
            arn("volume", ids["image_volume"]),
            "copies_to",
            image_snap,
            f"DescribeSnapshots {ids['image_snapshot']} VolumeId: {ids['image_volume']}",
        ),
        (
            image_snap,
            "copies_to",
            image,
            f"DescribeImages {ids['image']} BlockDeviceMappings.Ebs.SnapshotId: "
            f"{ids['image_snapshot']}",
        ),
        (image, "shared_with", f"account:{VENDOR}", f"{launch}: UserId {VENDOR}"),
        (f"account:{VENDOR}", "can_read", image, f"{launch}: UserId {VENDOR}"),
    }


def test_coverage_rows_name_counts_and_ebs_default(ec2_estate, monkeypatch):
    records = collect_ec2(ec2_estate.cn, ec2_estate.endpoint, CN_MAIN, [CN1, CN2], monkeypatch)
    rows = {
        (c.account, c.region, c.service, c.outcome, c.detail)
        for c in records
        if isinstance(c, Coverage)
    }
    assert rows == {
        (MAIN, CN1, "ec2", Outcome.OK,
         "1 instance, 2 volumes, 2 snapshots, 1 image; EBS default encryption off"),
        (MAIN, CN2, "ec2", Outcome.OK,
         "0 instances, 1 volume, 0 snapshots, 0 images; EBS default encryption on"),
    }  # fmt: skip


def test_commercial_partition_public_snapshot(ec2_estate, monkeypatch):
    hk = ec2_estate.hk
    records = collect_ec2(ec2_estate.aws, ec2_estate.endpoint, AWS_HK, [HK, FRA], monkeypatch)
    resources, edges = split(records)
    volume = arn("volume", hk["volume"], HK, HK_ACCOUNT, "aws")
    snap = arn("snapshot", hk["snapshot"], HK, "", "aws")
    assert {uid: (r.partition, r.jurisdiction) for uid, r in resources.items()} == {
        volume: ("aws", "HK"),
        snap: ("aws", "HK"),
    }
    assert resources[snap].attrs["public"] is True
    share = f"DescribeSnapshotAttribute {hk['snapshot']} createVolumePermission: Group all"
    assert edges == {
        (volume, "copies_to", snap, f"DescribeSnapshots {hk['snapshot']} VolumeId: {hk['volume']}"),
        (snap, "shared_with", "public:*", share),
        ("public:*", "can_read", snap, share),
    }
    rows = {(c.region, c.detail) for c in records if isinstance(c, Coverage)}
    assert rows == {
        (HK, "0 instances, 1 volume, 1 snapshot, 0 images; EBS default encryption off"),
        (FRA, "0 instances, 0 volumes, 0 snapshots, 0 images; EBS default encryption off"),
    }


def test_service_is_discovered_with_its_operations():
    assert ec2.SERVICE in services()
    assert set(ec2.OPERATIONS) <= set(all_operations())
    assert "ec2:DescribeSnapshotAttribute" in aws_adapter.PERMISSIONS


# --- failures (Stubber on guarded clients) ----------------------------------------------------


def stubbed(region: str = CN1) -> tuple[Clients, Any, Stubber]:
    session = boto3.Session(region_name=region)
    clients = Clients(session, "http://127.0.0.1:9")
    client = make_client(session, "ec2", region, clients.endpoint_url)
    clients.put("ec2", region, client)
    return clients, client, Stubber(client)


def test_denied_listing_becomes_a_coverage_row(monkeypatch):
    clients, _, stub = stubbed()
    stub.add_client_error(
        "describe_instances", service_error_code="UnauthorizedOperation", http_status_code=403
    )
    monkeypatch.setattr(aws_adapter, "services", lambda: (ec2.SERVICE,))
    with stub:
        records = list(aws_adapter.collect_account(clients, CN_MAIN, CN1, [CN1], workers=1))
    assert len(records) == 1  # the coverage row, nothing else
    assert [(r.service, r.outcome, r.detail) for r in records if isinstance(r, Coverage)] == [
        ("ec2", Outcome.DENIED, "DescribeInstances: UnauthorizedOperation")
    ]
    stub.assert_no_pending_responses()


def test_denied_sub_calls_are_recorded_not_raised():
    clients, _, stub = stubbed()
    snapshot = {"SnapshotId": "snap-1", "VolumeId": "vol-1", "OwnerId": MAIN, "Encrypted": False}
    image = {
        "ImageId": "ami-1",
        "OwnerId": MAIN,
        "Public": True,
        "BlockDeviceMappings": [{"DeviceName": "/dev/sda1", "Ebs": {"SnapshotId": "snap-x"}}],
    }
    stub.add_response("describe_instances", {"Reservations": []})
    stub.add_response("describe_volumes", {"Volumes": []})
    stub.add_response("describe_snapshots", {"Snapshots": [snapshot]})
    stub.add_client_error(
        "describe_snapshot_attribute", "UnauthorizedOperation", http_status_code=403
    )
    stub.add_response("describe_images", {"Images": [image]})
    stub.add_client_error("describe_image_attribute", "UnauthorizedOperation", http_status_code=403)
    stub.add_client_error(
        "get_ebs_encryption_by_default", "UnauthorizedOperation", http_status_code=403
    )
    stub.add_client_error(
        "get_ebs_default_kms_key_id", "UnauthorizedOperation", http_status_code=403
    )
    ctx = ServiceContext(clients, CN_MAIN, CN1, CN1, SharedFacts())
    with stub:
        records, detail = ec2.collect(ctx)
    resources, edges = split(records)
    snap = resources[arn("snapshot", "snap-1", account="")].attrs
    assert (snap["sharing_status"], snap["shared_with_accounts"], snap["public"]) == (
        "denied",
        None,
        None,
    )
    ami = resources[arn("image", "ami-1", account="")].attrs
    # The launch permission is unreadable, but DescribeImages says Public; the snapshot behind
    # the AMI is not the account's, so its encryption stays unknown.
    assert (ami["sharing_status"], ami["public"]) == ("denied", True)
    assert (ami["encryption_status"], ami["encrypted"]) == ("skipped", None)
    image_uid = arn("image", "ami-1", account="")
    assert (image_uid, "shared_with", "public:*", "DescribeImages ami-1 Public: true") in edges
    assert detail == (
        "0 instances, 0 volumes, 1 snapshot, 1 image; "
        "EBS default encryption unknown (denied: UnauthorizedOperation)"
    )


# --- transforms on recorded moto responses ----------------------------------------------------


def load(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((FIXTURES / "aws" / name).read_text("utf-8"))
    return data


def test_transform_recorded_cn_north_1():
    raw = load("ec2_cn_north_1.json")
    resources, edges = split(ec2.transform_ec2(raw, "aws-cn"))
    kinds = sorted(r.kind.value for r in resources.values())
    assert kinds == ["image", "instance", "snapshot", "snapshot", "volume", "volume"]
    # Recorded with moto's stray "self" snapshots of its public AMIs filtered out.
    assert all(r.account == MAIN for r in resources.values())
    for resource in resources.values():
        if resource.kind in (Kind.VOLUME, Kind.SNAPSHOT, Kind.IMAGE):
            assert {"encryption_status", "encrypted", "kms_key_arn", "tags_status"} <= set(
                resource.attrs
            )
    relations = sorted(e[1] for e in edges)
    assert relations == [
        "can_read", "can_read", "can_read", "copies_to", "copies_to", "copies_to",
        "encrypted_by", "shared_with", "shared_with", "shared_with",
    ]  # fmt: skip


def test_copied_snapshot_has_no_volume_edge():
    raw = load("ec2_cn_north_1.json")
    entry = raw["snapshots"][0]
    copied = {**entry, "Snapshot": {**entry["Snapshot"], "VolumeId": "vol-ffffffff"}}
    place = ec2.place_of(raw, "aws-cn")
    relations = {e.relation for e in ec2.transform_snapshot(copied, place) if isinstance(e, Edge)}
    assert Relation.COPIES_TO not in relations


@pytest.mark.parametrize(
    ("key", "expected"),
    [
        (None, None),
        ("", None),
        ("arn:aws-cn:kms:cn-north-1:1:key/k", "arn:aws-cn:kms:cn-north-1:1:key/k"),
        ("k-1", f"arn:aws-cn:kms:cn-north-1:{MAIN}:key/k-1"),
        ("alias/aws/ebs", f"arn:aws-cn:kms:cn-north-1:{MAIN}:alias/aws/ebs"),
    ],
)
def test_key_arn(key, expected):
    assert ec2.Place(CN1, MAIN, "aws-cn").key_arn(key) == expected


def test_ebs_default_key_unparsable_answer_is_an_error_status():
    def unparsable() -> dict[str, Any]:
        from botocore.parsers import ResponseParserError

        raise ResponseParserError("invalid XML received")

    assert ec2.attempt_parsed(unparsable) == {"status": "error", "code": "ResponseParserError"}
