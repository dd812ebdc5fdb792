"""EC2 of one region: instances, EBS volumes, snapshots, AMIs and EBS default encryption.

Volumes, snapshots and images hold data: each carries the encryption facts of the registry
contract and the edges that move its data (`copies_to` volume → snapshot → image, `shared_with`
an account or the public).  EBS default encryption is a regional setting, not a resource: it is
recorded on every volume of the region and in the coverage detail.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from functools import partial
from typing import Any

from auditor.inventories.aws.calls import READ, SKIPPED, attempt, clean, paginate
from auditor.inventories.aws.registry import Collected, Scope, Service, ServiceContext
from auditor.inventories.regions import jurisdiction_of
from auditor.model import Edge, Kind, Relation, Resource

# (botocore service, API operation) → the IAM action it needs.
OPERATIONS: dict[tuple[str, str], str] = {
    ("ec2", "DescribeInstances"): "ec2:DescribeInstances",
    ("ec2", "DescribeVolumes"): "ec2:DescribeVolumes",
    ("ec2", "DescribeSnapshots"): "ec2:DescribeSnapshots",
    ("ec2", "DescribeSnapshotAttribute"): "ec2:DescribeSnapshotAttribute",
    ("ec2", "DescribeImages"): "ec2:DescribeImages",
    ("ec2", "DescribeImageAttribute"): "ec2:DescribeImageAttribute",
    ("ec2", "GetEbsEncryptionByDefault"): "ec2:GetEbsEncryptionByDefault",
    ("ec2", "GetEbsDefaultKmsKeyId"): "ec2:GetEbsDefaultKmsKeyId",
}
PERMISSIONS: tuple[str, ...] = tuple(sorted(set(OPERATIONS.values())))

PUBLIC = "public:*"
# The VolumeId AWS gives a snapshot that was copied from another snapshot, not taken of a volume.
COPIED_SNAPSHOT_VOLUME = "vol-ffffffff"


# --- get (boto3) ------------------------------------------------------------------------------


def attempt_parsed(call: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    """`attempt`: moto serves an unimplemented call (GetEbsDefaultKmsKeyId) as a 500 HTML page
    botocore cannot parse, and `attempt` now captures that as an error like any other."""
    return attempt(call)


def get_instances(client: Any) -> list[dict[str, Any]]:
    reservations = paginate(client, "describe_instances", "Reservations")
    return [clean(i) for r in reservations for i in r.get("Instances", [])]


def get_snapshots(client: Any, account: str) -> list[dict[str, Any]]:
    """The account's own snapshots, each with its createVolumePermission sharing."""
    listed = paginate(client, "describe_snapshots", "Snapshots", OwnerIds=["self"])
    # moto answers OwnerIds=["self"] with the snapshots behind its public AMIs too; AWS gives
    # only the caller's, so keeping the account's own changes nothing there.
    own = [clean(s) for s in listed if s.get("OwnerId") == account]
    return [
        {
            "Snapshot": snapshot,
            "sharing": attempt(
                partial(
                    client.describe_snapshot_attribute,
                    SnapshotId=snapshot["SnapshotId"],
                    Attribute="createVolumePermission",
                ),
                required=("SnapshotId",),
            ),
        }
        for snapshot in own
    ]


def get_images(client: Any) -> list[dict[str, Any]]:
    """The account's own AMIs, each with its launchPermission sharing."""
    images = paginate(client, "describe_images", "Images", Owners=["self"])
    return [
        {
            "Image": clean(image),
            "sharing": attempt(
                partial(
                    client.describe_image_attribute,
                    ImageId=image["ImageId"],
                    Attribute="launchPermission",
                ),
                required=("ImageId",),
            ),
        }
        for image in images
    ]


def get_ec2(client: Any, region: str, account: str) -> dict[str, Any]:
    """Every instance, volume, snapshot and AMI of `region`; a denied listing raises."""
    return {
        "region": region,
        "account": account,
        "instances": get_instances(client),
        "volumes": [clean(v) for v in paginate(client, "describe_volumes", "Volumes")],
        "snapshots": get_snapshots(client, account),
        "images": get_images(client),
        "ebs_default_encryption": attempt(
            client.get_ebs_encryption_by_default, required=("EbsEncryptionByDefault",)
        ),
        "ebs_default_kms_key": attempt_parsed(client.get_ebs_default_kms_key_id),
    }


# --- transform (pure) -------------------------------------------------------------------------


@dataclass(frozen=True)
class Place:
    """The region one raw listing comes from, and what its ARNs are built of."""

    region: str
    account: str
    partition: str

    def arn(self, kind: str, ident: str, account: str | None = None) -> str:
        """`arn:<p>:ec2:<region>:<account>:<kind>/<id>` (snapshots and images: account "").

        >>> Place("cn-north-1", "1", "aws-cn").arn("snapshot", "snap-1", account="")
        'arn:aws-cn:ec2:cn-north-1::snapshot/snap-1'
        """
        owner = self.account if account is None else account
        return f"arn:{self.partition}:ec2:{self.region}:{owner}:{kind}/{ident}"

    def key_arn(self, key: str | None, account: str | None = None) -> str | None:
        """A KMS key reference as an ARN (EC2 gives ARNs; a bare id or alias is completed)."""
        if not key:
            return None
        if key.startswith("arn:"):
            return key
        resource = key if key.startswith("alias/") else f"key/{key}"
        return f"arn:{self.partition}:kms:{self.region}:{account or self.account}:{resource}"


def place_of(raw: Mapping[str, Any], partition: str) -> Place:
    return Place(str(raw["region"]), str(raw["account"]), partition)


NATIVE_TYPES = {
    Kind.INSTANCE: "ec2:instance",
    Kind.VOLUME: "ec2:volume",
    Kind.SNAPSHOT: "ec2:snapshot",
    Kind.IMAGE: "ec2:image",
}


def tag_dict(item: Mapping[str, Any]) -> dict[str, str]:
    return {str(t["Key"]): str(t.get("Value", "")) for t in item.get("Tags", [])}


def _resource(
    item: Mapping[str, Any], uid: str, kind: Kind, name: str, account: str,
    attrs: dict[str, Any], place: Place,
) -> Resource:  # fmt: skip
    """A Resource named by its Name tag, else `name`."""
    tags = tag_dict(item)
    return Resource(
        uid=uid,
        provider="aws",
        kind=kind,
        native_type=NATIVE_TYPES[kind],
        name=tags.get("Name") or name,
        account=account,
        region=place.region,
        partition=place.partition,
        jurisdiction=jurisdiction_of("aws", place.region),
        tags=tags,
        # Tags come inline with every describe call, so they are read whenever the item is.
        attrs={**attrs, "tags_status": READ},
    )


def _has_public_ip(instance: Mapping[str, Any]) -> bool:
    if instance.get("PublicIpAddress"):
        return True
    interfaces = instance.get("NetworkInterfaces", [])
    return any(ni.get("Association", {}).get("PublicIp") for ni in interfaces)


def _security_groups(instance: Mapping[str, Any]) -> list[str]:
    groups = [g for ni in instance.get("NetworkInterfaces", []) for g in ni.get("Groups", [])]
    groups += instance.get("SecurityGroups", [])
    return sorted({str(g["GroupId"]) for g in groups})


def transform_instance(instance: Mapping[str, Any], place: Place) -> Resource:
    """An instance; its volumes, network and profile are attrs, not data-flow edges."""
    ident = str(instance["InstanceId"])
    mappings = instance.get("BlockDeviceMappings", [])
    attrs = {
        "instance_id": ident,
        "state": instance.get("State", {}).get("Name"),
        "instance_type": instance.get("InstanceType"),
        "image_id": instance.get("ImageId"),
        "instance_profile_arn": instance.get("IamInstanceProfile", {}).get("Arn"),
        "vpc_id": instance.get("VpcId"),
        "subnet_id": instance.get("SubnetId"),
        "has_public_ip": _has_public_ip(instance),
        "security_group_ids": _security_groups(instance),
        "attached_volume_ids": [str(m["Ebs"]["VolumeId"]) for m in mappings if "Ebs" in m],
        "launch_time": instance.get("LaunchTime"),
    }
    uid = place.arn("instance", ident)
    return _resource(instance, uid, Kind.INSTANCE, ident, place.account, attrs, place)


def ebs_default(raw: Mapping[str, Any]) -> dict[str, Any]:
    """The region's EBS default-encryption facts, as recorded on each volume."""
    enabled, key = raw["ebs_default_encryption"], raw["ebs_default_kms_key"]
    return {
        "ebs_default_encryption": enabled.get("value", {}).get("EbsEncryptionByDefault"),
        "ebs_default_encryption_status": enabled["status"],
        # A key or alias ARN (alias/aws/ebs when never changed); None when unread.
        "ebs_default_kms_key_arn": key.get("value", {}).get("KmsKeyId"),
        "ebs_default_kms_key_status": key["status"],
    }


def _encrypted_by(uid: str, key: str | None, evidence: str) -> Iterator[Edge]:
    if key:
        yield Edge(uid, key, Relation.ENCRYPTED_BY, evidence)


def transform_volume(
    volume: Mapping[str, Any], place: Place, default: Mapping[str, Any]
) -> Iterator[Resource | Edge]:
    """A volume, with its encryption, and the region's EBS defaults (`default`) in attrs."""
    ident = str(volume["VolumeId"])
    uid = place.arn("volume", ident)
    kms = place.key_arn(volume.get("KmsKeyId"))
    attrs = {
        "volume_id": ident,
        "encryption_status": READ,
        "encrypted": bool(volume.get("Encrypted", False)),
        "kms_key_arn": kms,
        "size_gib": volume.get("Size"),
        "state": volume.get("State"),
        "volume_type": volume.get("VolumeType"),
        "availability_zone": volume.get("AvailabilityZone"),
        "source_snapshot_id": volume.get("SnapshotId") or None,
        "attachments": [
            {"instance_id": a.get("InstanceId"), "device": a.get("Device"), "state": a.get("State")}
            for a in volume.get("Attachments", [])
        ],
        **default,
    }
    yield _resource(volume, uid, Kind.VOLUME, ident, place.account, attrs, place)
    yield from _encrypted_by(uid, kms, f"DescribeVolumes {ident} KmsKeyId: {kms}")


SNAPSHOT_PERMISSIONS = "CreateVolumePermissions"
IMAGE_PERMISSIONS = "LaunchPermissions"


def sharing_edges(
    uid: str, permissions: Iterable[Mapping[str, Any]], evidence_prefix: str
) -> Iterator[Edge]:
    """`shared_with` and the matching `can_read` for each account or group a permission names."""
    for permission in permissions:
        if permission.get("UserId"):
            principal = f"account:{permission['UserId']}"
            evidence = f"{evidence_prefix}: UserId {permission['UserId']}"
        elif permission.get("Group") == "all":
            principal, evidence = PUBLIC, f"{evidence_prefix}: Group all"
        else:
            continue
        yield Edge(uid, principal, Relation.SHARED_WITH, evidence)
        yield Edge(principal, uid, Relation.CAN_READ, evidence)


def _permissions(fact: Mapping[str, Any], key: str) -> list[Mapping[str, Any]]:
    return list(fact.get("value", {}).get(key, [])) if fact["status"] == READ else []


def sharing_attrs(fact: Mapping[str, Any], key: str) -> dict[str, Any]:
    """Who a snapshot or image is shared with; None where the attribute could not be read."""
    if fact["status"] != READ:
        return {"sharing_status": fact["status"], "shared_with_accounts": None, "public": None}
    permissions = _permissions(fact, key)
    return {
        "sharing_status": READ,
        "shared_with_accounts": sorted(str(p["UserId"]) for p in permissions if p.get("UserId")),
        "public": any(p.get("Group") == "all" for p in permissions),
    }


def transform_snapshot(entry: Mapping[str, Any], place: Place) -> Iterator[Resource | Edge]:
    """A snapshot, the volume it copies, its key and whom it is shared with."""
    snapshot = entry["Snapshot"]
    ident = str(snapshot["SnapshotId"])
    uid = place.arn("snapshot", ident, account="")
    owner = str(snapshot.get("OwnerId") or place.account)
    # moto leaves KmsKeyId out even for encrypted snapshots: the key is then unknown (None).
    kms = place.key_arn(snapshot.get("KmsKeyId"), owner)
    volume = snapshot.get("VolumeId")
    attrs = {
        "snapshot_id": ident,
        "volume_id": volume,
        "encryption_status": READ,
        "encrypted": bool(snapshot.get("Encrypted", False)),
        "kms_key_arn": kms,
        "volume_size_gib": snapshot.get("VolumeSize"),
        "state": snapshot.get("State"),
        "description": snapshot.get("Description"),
        "start_time": snapshot.get("StartTime"),
        "storage_tier": snapshot.get("StorageTier"),
        **sharing_attrs(entry["sharing"], SNAPSHOT_PERMISSIONS),
    }
    yield _resource(snapshot, uid, Kind.SNAPSHOT, ident, owner, attrs, place)
    if volume and volume != COPIED_SNAPSHOT_VOLUME:
        source = place.arn("volume", str(volume), account=owner)
        yield Edge(source, uid, Relation.COPIES_TO, f"DescribeSnapshots {ident} VolumeId: {volume}")
    yield from _encrypted_by(uid, kms, f"DescribeSnapshots {ident} KmsKeyId: {kms}")
    yield from sharing_edges(
        uid,
        _permissions(entry["sharing"], SNAPSHOT_PERMISSIONS),
        f"DescribeSnapshotAttribute {ident} createVolumePermission",
    )


def _image_snapshots(image: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    mappings = image.get("BlockDeviceMappings", [])
    return [m["Ebs"] for m in mappings if m.get("Ebs", {}).get("SnapshotId")]


def image_encryption(
    image: Mapping[str, Any], snapshots: Mapping[str, Mapping[str, Any]], place: Place
) -> dict[str, Any]:
    """An AMI is encrypted when every EBS snapshot behind it is.

    Each mapping's own Encrypted/KmsKeyId is used when DescribeImages gives it (moto does not),
    else the account's snapshot listing; a snapshot known to neither leaves it unknown
    (`encryption_status` "skipped", `encrypted` None).
    """
    states: list[bool | None] = []
    keys: set[str] = set()
    for ebs in _image_snapshots(image):
        known = snapshots.get(str(ebs["SnapshotId"]), {})
        encrypted = ebs.get("Encrypted", known.get("Encrypted"))
        states.append(None if encrypted is None else bool(encrypted))
        key = place.key_arn(ebs.get("KmsKeyId") or known.get("KmsKeyId"))
        if key:
            keys.add(key)
    unknown = None in states
    return {
        "encryption_status": SKIPPED if unknown else READ,
        "encrypted": False if False in states else (None if unknown else bool(states)),
        "kms_key_arn": next(iter(keys)) if len(keys) == 1 else None,
        "kms_key_arns": sorted(keys),
    }


def _image_sharing(
    uid: str, ident: str, image: Mapping[str, Any], fact: Mapping[str, Any]
) -> Iterator[Edge]:
    if fact["status"] == READ:
        permissions = _permissions(fact, IMAGE_PERMISSIONS)
        yield from sharing_edges(
            uid, permissions, f"DescribeImageAttribute {ident} launchPermission"
        )
    elif image.get("Public"):
        # The attribute was not readable, but DescribeImages already says the AMI is public.
        evidence = f"DescribeImages {ident} Public: true"
        yield Edge(uid, PUBLIC, Relation.SHARED_WITH, evidence)
        yield Edge(PUBLIC, uid, Relation.CAN_READ, evidence)


def transform_image(
    entry: Mapping[str, Any], place: Place, snapshots: Mapping[str, Mapping[str, Any]]
) -> Iterator[Resource | Edge]:
    """An AMI, the snapshots it copies, their keys and whom it is shared with."""
    image = entry["Image"]
    ident = str(image["ImageId"])
    uid = place.arn("image", ident, account="")
    owner = str(image.get("OwnerId") or place.account)
    encryption = image_encryption(image, snapshots, place)
    snapshot_ids = [str(ebs["SnapshotId"]) for ebs in _image_snapshots(image)]
    sharing = sharing_attrs(entry["sharing"], IMAGE_PERMISSIONS)
    if sharing["public"] is None and image.get("Public"):
        sharing["public"] = True
    attrs = {
        "image_id": ident,
        "image_name": image.get("Name"),
        "state": image.get("State"),
        "snapshot_ids": snapshot_ids,
        "source_instance_id": image.get("SourceInstanceId"),
        "creation_date": image.get("CreationDate"),
        **encryption,
        **sharing,
    }
    name = str(image.get("Name") or ident)
    yield _resource(image, uid, Kind.IMAGE, name, owner, attrs, place)
    for snap in snapshot_ids:
        yield Edge(
            place.arn("snapshot", snap, account=""),
            uid,
            Relation.COPIES_TO,
            f"DescribeImages {ident} BlockDeviceMappings.Ebs.SnapshotId: {snap}",
        )
    for key in encryption["kms_key_arns"]:
        yield Edge(uid, key, Relation.ENCRYPTED_BY, f"EBS snapshot of {ident} KmsKeyId: {key}")
    yield from _image_sharing(uid, ident, image, entry["sharing"])


def transform_ec2(raw: Mapping[str, Any], partition: str) -> Iterator[Resource | Edge]:
    """Every instance, volume, snapshot and image of one region → resources and edges."""
    place = place_of(raw, partition)
    for instance in raw["instances"]:
        yield transform_instance(instance, place)
    default = ebs_default(raw)
    for volume in raw["volumes"]:
        yield from transform_volume(volume, place, default)
    for snapshot in raw["snapshots"]:
        yield from transform_snapshot(snapshot, place)
    snapshots = {str(s["Snapshot"]["SnapshotId"]): s["Snapshot"] for s in raw["snapshots"]}
    for image in raw["images"]:
        yield from transform_image(image, place, snapshots)


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def describe_default(raw: Mapping[str, Any]) -> str:
    """ "EBS default encryption on|off", or why it is unknown."""
    fact = raw["ebs_default_encryption"]
    if fact["status"] != READ:
        return f"EBS default encryption unknown ({fact['status']}: {fact.get('code')})"
    state = "on" if fact["value"].get("EbsEncryptionByDefault") else "off"
    return f"EBS default encryption {state}"


def detail(raw: Mapping[str, Any]) -> str:
    """The coverage line, e.g. "3 instances, 5 volumes, 2 snapshots, 1 image; EBS default
    encryption off"."""
    counts = ", ".join(
        _count(len(raw[key]), noun)
        for key, noun in (
            ("instances", "instance"),
            ("volumes", "volume"),
            ("snapshots", "snapshot"),
            ("images", "image"),
        )
    )
    return f"{counts}; {describe_default(raw)}"


def collect(ctx: ServiceContext) -> Collected:
    """EC2 instances and the EBS data (volumes, snapshots, AMIs) of one region."""
    raw = get_ec2(ctx.clients.get("ec2", ctx.region), ctx.region, ctx.identity.account)
    return list(transform_ec2(raw, ctx.identity.partition)), detail(raw)


SERVICE = Service("ec2", Scope.REGIONAL, collect, OPERATIONS, phase=1)
