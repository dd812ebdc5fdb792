"""Nova servers, Cinder volumes and snapshots, Glance images of one OpenStack region.

Servers come from libcloud's `list_nodes` (it keeps zone and metadata).  Volumes, snapshots
and images are read raw through the driver's guarded connections, one paged listing each:
libcloud drops Cinder's `encrypted` flag and Glance's owner and custom properties, and a
second listing just to recover them would double the calls and could disagree with the first.

Metadata (Nova, Cinder) and Glance custom properties are the tags: that is where OpenStack
users put labels such as `data-class` and `owner-dept`.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from auditor.inventories.libcloud.common import Collected, Faults, http_status, outcome_of
from auditor.inventories.libcloud.openstack_session import Place, string_tags
from auditor.model import Edge, Kind, Record, Relation, Resource

READ, SKIPPED, INVALID = "read", "skipped", "invalid"
PUBLIC = "public:*"
# A runaway `next` link must not loop forever (libcloud caps its own paging the same way).
MAX_PAGES = 1000
PAGE_SIZE = "500"


def paged(
    connection: Any, path: str, key: str, params: Mapping[str, str] | None = None
) -> Iterator[Mapping[str, Any]]:
    """Every item of a paged OpenStack listing: `<key>_links` (Nova, Cinder) or `next` (Glance)."""
    query: dict[str, str] = {"limit": PAGE_SIZE, **(params or {})}
    for _ in range(MAX_PAGES):
        body = connection.request(path, params=dict(query)).object
        if not isinstance(body, Mapping) or not isinstance(body.get(key), list):
            raise ValueError(f"{path}: answer without a {key!r} list")
        yield from (item for item in body[key] if isinstance(item, Mapping))
        links = [
            link.get("href", "")
            for link in body.get(f"{key}_links", [])
            if link.get("rel") == "next"
        ]
        following = links[0] if links else body.get("next")
        if not following:
            return
        query.update(parse_qsl(urlsplit(str(following)).query))
    raise ValueError(f"{path}: more than {MAX_PAGES} pages")


# --- Nova -------------------------------------------------------------------------------------


def read_servers(driver: Any, place: Place, all_projects: bool) -> Collected:
    nodes = driver.list_nodes(ex_all_tenants=all_projects)
    records: list[Record] = []
    for node in nodes:
        extra = node.extra
        attached = [
            v.get("id") for v in extra.get("volumes_attached") or [] if isinstance(v, Mapping)
        ]
        attrs = {
            "server_id": node.id,
            "status": str(node.state),
            "availability_zone": extra.get("availability_zone"),
            "image_id": extra.get("imageId"),
            "flavor_id": extra.get("flavorId"),
            "volume_ids": attached,
            "key_name": extra.get("key_name"),
            "public_ips": list(node.public_ips),
            "created": extra.get("created"),
            "tags_status": READ,
        }
        account = str(extra.get("tenantId") or place.project)
        uid = place.uid("server", node.id, account)
        tags = string_tags(extra.get("metadata"))
        records.append(
            place.resource(Kind.INSTANCE, "nova:server", uid, node.name, tags, attrs, account)
        )
    return records, f"{len(nodes)} servers"


# --- Cinder -----------------------------------------------------------------------------------


def _encryption(volume: Mapping[str, Any], place: Place, project: str) -> dict[str, Any]:
    """Cinder says `encrypted` (its volume type has an encryption spec); the key is a Barbican
    secret whose id only newer microversions show."""
    flag = volume.get("encrypted")
    key_id = volume.get("encryption_key_id")
    key = place.uid("secret", str(key_id), project) if key_id else None
    if not isinstance(flag, bool):
        return {"encryption_status": INVALID, "encrypted": None, "kms_key_arn": None}
    return {"encryption_status": READ, "encrypted": flag, "kms_key_arn": key if flag else None}


def volume_records(volume: Mapping[str, Any], place: Place) -> Iterator[Resource | Edge]:
    ident = str(volume["id"])
    project = str(volume.get("os-vol-tenant-attr:tenant_id") or place.project)
    uid = place.uid("volume", ident, project)
    encryption = _encryption(volume, place, project)
    image = (volume.get("volume_image_metadata") or {}).get("image_id")
    attrs = {
        "volume_id": ident,
        **encryption,
        "size_gib": volume.get("size"),
        "status": volume.get("status"),
        "volume_type": volume.get("volume_type"),
        "availability_zone": volume.get("availability_zone"),
        "bootable": str(volume.get("bootable", "")).lower() == "true",
        "multiattach": bool(volume.get("multiattach")),
        "source_snapshot_id": volume.get("snapshot_id"),
        "source_volume_id": volume.get("source_volid"),
        "source_image_id": image,
        # Backend replication (`enabled`) copies the volume to a target the tenant cannot see.
        "replication_status": READ,
        "replicated": volume.get("replication_status") == "enabled",
        "attachments": [
            a.get("server_id") for a in volume.get("attachments") or [] if isinstance(a, Mapping)
        ],
        "tags_status": READ,
    }
    name = str(volume.get("name") or ident)
    tags = string_tags(volume.get("metadata"))
    yield place.resource(Kind.VOLUME, "cinder:volume", uid, name, tags, attrs, project)
    if encryption["kms_key_arn"]:
        yield Edge(
            uid,
            encryption["kms_key_arn"],
            Relation.ENCRYPTED_BY,
            f"Cinder volume {ident} encryption_key_id",
        )
    if volume.get("replication_status") == "enabled":
        evidence = f"Cinder volume {ident} replication_status: enabled (target not disclosed)"
        yield Edge(
            uid, place.uid("volume-replica", ident, project), Relation.REPLICATES_TO, evidence
        )
    sources = (
        ("snapshot", volume.get("snapshot_id")),
        ("volume", volume.get("source_volid")),
        ("image", image),
    )
    for kind, source in sources:
        if source:
            evidence = f"Cinder volume {ident} was created from {kind} {source}"
            yield Edge(place.uid(kind, str(source), project), uid, Relation.COPIES_TO, evidence)


def read_volumes(
    connection: Any, place: Place, all_projects: bool, seen: dict[str, Mapping[str, Any]]
) -> Collected:
    """Volumes; `seen` learns each volume's encryption, which its snapshots share."""
    params = {"all_tenants": "1"} if all_projects else {}
    records: list[Record] = []
    for volume in paged(connection, "/volumes/detail", "volumes", params):
        for record in volume_records(volume, place):
            records.append(record)
            if isinstance(record, Resource):
                seen[str(volume["id"])] = record.attrs
    return records, f"{len(seen)} volumes"


def snapshot_records(
    snapshot: Mapping[str, Any], place: Place, volumes: Mapping[str, Mapping[str, Any]]
) -> Iterator[Resource | Edge]:
    """A snapshot is encrypted with its volume's key; unknown when the volume was not read."""
    ident = str(snapshot["id"])
    project = str(snapshot.get("os-extended-snapshot-attributes:project_id") or place.project)
    uid = place.uid("snapshot", ident, project)
    volume_id = snapshot.get("volume_id")
    source = volumes.get(str(volume_id))
    if source is not None and source.get("encryption_status") == READ:
        encryption = {k: source.get(k) for k in ("encryption_status", "encrypted", "kms_key_arn")}
    else:
        encryption = {"encryption_status": SKIPPED, "encrypted": None, "kms_key_arn": None}
    attrs = {
        "snapshot_id": ident,
        "volume_id": volume_id,
        **encryption,
        "size_gib": snapshot.get("size"),
        "status": snapshot.get("status"),
        "created": snapshot.get("created_at"),
        "tags_status": READ,
    }
    name = str(snapshot.get("name") or ident)
    tags = string_tags(snapshot.get("metadata"))
    yield place.resource(Kind.SNAPSHOT, "cinder:snapshot", uid, name, tags, attrs, project)
    if volume_id:
        evidence = f"Cinder snapshot {ident} volume_id: {volume_id}"
        yield Edge(place.uid("volume", str(volume_id), project), uid, Relation.COPIES_TO, evidence)
    if encryption["kms_key_arn"]:
        yield Edge(
            uid,
            str(encryption["kms_key_arn"]),
            Relation.ENCRYPTED_BY,
            f"Cinder snapshot {ident} of encrypted volume {volume_id}",
        )


def read_snapshots(
    connection: Any, place: Place, all_projects: bool, volumes: Mapping[str, Mapping[str, Any]]
) -> Collected:
    params = {"all_tenants": "1"} if all_projects else {}
    records: list[Record] = []
    count = 0
    for snapshot in paged(connection, "/snapshots/detail", "snapshots", params):
        records.extend(snapshot_records(snapshot, place, volumes))
        count += 1
    return records, f"{count} snapshots"


# --- Glance -----------------------------------------------------------------------------------

# Glance's own image fields, and prefixes of well-known system properties: not user labels.
GLANCE_FIELDS = frozenset(
    {
        "id",
        "name",
        "status",
        "visibility",
        "protected",
        "checksum",
        "owner",
        "size",
        "min_ram",
        "min_disk",
        "disk_format",
        "container_format",
        "created_at",
        "updated_at",
        "tags",
        "file",
        "self",
        "schema",
        "virtual_size",
        "locations",
        "direct_url",
        "stores",
        "os_hidden",
        "os_hash_algo",
        "os_hash_value",
        "block_device_mapping",
        "bdm_v2",
        "root_device_name",
        "instance_uuid",
        "base_image_ref",
        "image_type",
        "user_id",
        "image_location",
        "image_state",
        "architecture",
        "kernel_id",
        "ramdisk_id",
    }
)
SYSTEM_PREFIXES = ("hw_", "os_", "img_", "cinder_", "owner_", "boot_", "trait:", "signature_")
ENCRYPTION_KEYS = ("cinder_encryption_key_id", "os_encrypt_key_id")


def image_tags(image: Mapping[str, Any]) -> dict[str, str]:
    """Custom properties (`openstack image set --property data-class=core`) and bare tags."""
    tags = {str(tag): "" for tag in image.get("tags") or [] if isinstance(tag, str)}
    for key, value in image.items():
        if key in GLANCE_FIELDS or key.startswith(SYSTEM_PREFIXES) or not isinstance(value, str):
            continue
        tags[key] = value
    return tags


def _image_encryption(image: Mapping[str, Any], place: Place, project: str) -> dict[str, Any]:
    """An image is encrypted when Cinder uploaded an encrypted volume, or Glance's image
    encryption names a key; otherwise it is stored as uploaded."""
    key_id = next((image[k] for k in ENCRYPTION_KEYS if image.get(k)), None)
    encrypted = key_id is not None or bool(image.get("os_encrypt_format"))
    key = place.uid("secret", str(key_id), project) if key_id else None
    return {"encryption_status": READ, "encrypted": encrypted, "kms_key_arn": key}


def _snapshots_behind(image: Mapping[str, Any]) -> list[str]:
    """Cinder snapshots an image of a volume-backed server refers to (block_device_mapping)."""
    raw = image.get("block_device_mapping")
    try:
        mappings = json.loads(raw) if isinstance(raw, str) else []
    except json.JSONDecodeError:
        return []
    return [
        str(m["snapshot_id"]) for m in mappings if isinstance(m, Mapping) and m.get("snapshot_id")
    ]


def _members(connection: Any, ident: str) -> list[str]:
    body = connection.request(f"/v2/images/{ident}/members").object
    return [str(m["member_id"]) for m in body.get("members", []) if m.get("status") != "rejected"]


def _sharing(
    connection: Any, image: Mapping[str, Any], uid: str, faults: Faults
) -> tuple[dict[str, Any], list[Edge]]:
    """Who else can boot or download the image: everyone (public, community) or members."""
    ident, visibility = str(image["id"]), image.get("visibility")
    if visibility in ("public", "community"):
        evidence = f"Glance image {ident} visibility: {visibility} (every project of the cloud)"
        edges = [
            Edge(uid, PUBLIC, Relation.SHARED_WITH, evidence),
            Edge(PUBLIC, uid, Relation.CAN_READ, evidence),
        ]
        return {"sharing_status": READ, "public": True, "shared_with_accounts": []}, edges
    if visibility != "shared":
        return {"sharing_status": READ, "public": False, "shared_with_accounts": []}, []
    try:
        members = _members(connection, ident)
    except Exception as exc:  # one image's members: a fact of the image, not the service
        outcome = outcome_of(exc)
        faults.note("image members", str(http_status(exc) or type(exc).__name__), outcome)
        status = "denied" if outcome.value == "denied" else "error"
        return {"sharing_status": status, "public": False, "shared_with_accounts": None}, []
    edges = []
    for member in members:
        evidence = f"Glance image {ident} member: project {member}"
        edges += [
            Edge(uid, f"account:{member}", Relation.SHARED_WITH, evidence),
            Edge(f"account:{member}", uid, Relation.CAN_READ, evidence),
        ]
    return {"sharing_status": READ, "public": False, "shared_with_accounts": members}, edges


def read_images(connection: Any, place: Place, faults: Faults) -> Collected:
    """Every image the project sees; images of other projects (the operator's public images)
    are `observed_only`: listed for the graph, judged by no check as the project's data."""
    records: list[Record] = []
    own = others = 0
    for image in paged(connection, "/v2/images", "images"):
        ident = str(image["id"])
        owner = str(image.get("owner") or "")
        mine = owner == place.project
        own, others = own + mine, others + (not mine)
        uid = place.uid("image", ident, owner or place.project)
        sharing, edges = _sharing(connection, image, uid, faults) if mine else ({}, [])
        encryption = _image_encryption(image, place, owner or place.project)
        snapshots = _snapshots_behind(image)
        attrs = {
            "image_id": ident,
            "owner": owner or None,
            "visibility": image.get("visibility"),
            "status": image.get("status"),
            "size_bytes": image.get("size"),
            "disk_format": image.get("disk_format"),
            "snapshot_ids": snapshots,
            **encryption,
            **sharing,
            "tags_status": READ,
            **({} if mine else {"observed_only": True}),
        }
        name = str(image.get("name") or ident)
        records.append(
            place.resource(
                Kind.IMAGE, "glance:image", uid, name, image_tags(image), attrs, owner or None
            )
        )
        records.extend(edges)
        for snap in snapshots:
            evidence = f"Glance image {ident} block_device_mapping snapshot_id: {snap}"
            records.append(
                Edge(place.uid("snapshot", snap, owner or None), uid, Relation.COPIES_TO, evidence)
            )
        if encryption["kms_key_arn"]:
            records.append(
                Edge(
                    uid,
                    encryption["kms_key_arn"],
                    Relation.ENCRYPTED_BY,
                    f"Glance image {ident} encryption key id",
                )
            )
    return records, f"{own} images of the project, {others} of other projects"
