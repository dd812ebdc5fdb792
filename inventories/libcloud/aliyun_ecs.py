"""Aliyun ECS (instances, disks, snapshots, images) and SLB load balancers of one region.

Every listing is a signed RPC call (`Action=Describe*`, API 2014-05-26) through the guarded
libcloud connection, paged by PageNumber/PageSize until TotalCount items are seen.  libcloud's
own ECS listings page too, but drop `Encrypted`, `KMSKeyId` and `Tags`, which the checks
need: reading the XML ourselves gets everything in one call per page.

Aliyun signals refusal and throttling by error *code*, with HTTP 400/403/503: the code decides
the coverage outcome (`AliyunApiError.http_code` 403 or 429), not the HTTP status alone.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from libcloud.common.exceptions import BaseHTTPError

from auditor.inventories.libcloud.common import Collected, Faults, http_status, outcome_of
from auditor.model import Edge, Kind, Outcome, Record, Relation, Resource

PROVIDER = "aliyun"
READ, SKIPPED, INVALID, DENIED, ERROR = "read", "skipped", "invalid", "denied", "error"
PUBLIC = "public:*"
PAGE_SIZE = 100
MAX_PAGES = 1000
DENIED_CODES = (
    "Forbidden",
    "NoPermission",
    "InvalidAccessKeyId",
    "SignatureDoesNotMatch",
    "IncompleteSignature",
    "UnauthorizedOperation",
    "AccessDenied",
)
THROTTLED_CODES = ("Throttling", "ServiceUnavailable", "RequestLimitExceeded", "SlowDown")
_CODE = re.compile(r"'code': '([^']*)'")


class AliyunApiError(Exception):
    """An Aliyun error answer, by its code; `http_code` is what the code means (403, 429)."""

    def __init__(self, action: str, code: str, status: int | None) -> None:
        super().__init__(f"{action}: {code or 'error'}")
        self.code = code
        if code.startswith(DENIED_CODES):
            self.http_code: int | None = 403
        elif code.startswith(THROTTLED_CODES):
            self.http_code = 429
        else:
            self.http_code = status


def rpc(connection: Any, action: str, params: Mapping[str, str]) -> ET.Element:
    """One signed RPC call; an error answer becomes AliyunApiError (code, never the body)."""
    try:
        body = connection.request("/", params={"Action": action, **params}).object
    except BaseHTTPError as exc:
        match = _CODE.search(str(exc.message))
        raise AliyunApiError(action, match.group(1) if match else "", exc.code) from None
    if not isinstance(body, ET.Element):
        raise ValueError(f"{action}: answer is not XML")
    return body


def bodies(
    connection: Any, action: str, params: Mapping[str, str], item_path: str
) -> Iterator[ET.Element]:
    """Every page of a PageNumber-paged Describe* listing, until TotalCount items are seen."""
    seen = 0
    for number in range(1, MAX_PAGES + 1):
        query = {**params, "PageNumber": str(number), "PageSize": str(PAGE_SIZE)}
        body = rpc(connection, action, query)
        yield body
        items = len(body.findall(item_path))
        seen += items
        total = text(body, "TotalCount")
        if not items or not total.isdigit() or seen >= int(total):
            return
    raise ValueError(f"{action}: more than {MAX_PAGES} pages")


def pages(
    connection: Any, action: str, params: Mapping[str, str], item_path: str
) -> Iterator[ET.Element]:
    """Every item of a paged listing."""
    for body in bodies(connection, action, params, item_path):
        yield from body.findall(item_path)


def text(element: ET.Element, path: str) -> str:
    found = element.findtext(path)
    return found.strip() if found else ""


def tags_of(element: ET.Element) -> dict[str, str]:
    """<Tags><Tag><TagKey/><TagValue/></Tag></Tags> (ECS) or <Key/><Value/> (SLB)."""
    tags = {}
    for tag in element.findall("Tags/Tag"):
        key = text(tag, "TagKey") or text(tag, "Key")
        if key:
            tags[key] = text(tag, "TagValue") or text(tag, "Value")
    return tags


def flag(element: ET.Element, path: str) -> bool | None:
    value = text(element, path).lower()
    return {"true": True, "false": False}.get(value)


@dataclass(frozen=True)
class Place:
    """Where resources of one region of one account sit; uids are Aliyun ARNs (acs:...)."""

    region: str
    account: str
    jurisdiction: str | None

    def arn(self, service: str, kind: str, ident: str) -> str:
        return f"acs:{service}:{self.region}:{self.account}:{kind}/{ident}"

    def key(self, key_id: str) -> str:
        return self.arn("kms", "key", key_id)

    def resource(
        self,
        kind: Kind,
        native_type: str,
        uid: str,
        name: str,
        tags: Mapping[str, str],
        attrs: Mapping[str, Any],
    ) -> Resource:
        return Resource(
            uid=uid,
            provider=PROVIDER,
            kind=kind,
            native_type=native_type,
            name=name,
            account=self.account,
            region=self.region,
            jurisdiction=self.jurisdiction,
            tags=dict(tags),
            attrs=dict(attrs),
        )


def encryption(element: ET.Element, place: Place) -> dict[str, Any]:
    """`Encrypted` and `KMSKeyId`: encrypted without a key id means ECS's default service key
    (alias/acs/ecs), which Aliyun manages."""
    encrypted = flag(element, "Encrypted")
    if encrypted is None:
        return {"encryption_status": INVALID, "encrypted": None, "kms_key_arn": None}
    key_id = text(element, "KMSKeyId") or text(element, "KmsKeyId")
    attrs: dict[str, Any] = {
        "encryption_status": READ,
        "encrypted": encrypted,
        "kms_key_arn": place.key(key_id) if encrypted and key_id else None,
    }
    if encrypted and not key_id:
        attrs["key_owner"] = "provider_managed"
    return attrs


# --- ECS --------------------------------------------------------------------------------------


def read_instances(connection: Any, place: Place) -> Collected:
    records: list[Record] = []
    params = {"RegionId": place.region}
    for item in pages(connection, "DescribeInstances", params, "Instances/Instance"):
        ident = text(item, "InstanceId")
        attrs = {
            "instance_id": ident,
            "status": text(item, "Status"),
            "zone_id": text(item, "ZoneId"),
            "instance_type": text(item, "InstanceType"),
            "image_id": text(item, "ImageId"),
            "vpc_id": text(item, "VpcAttributes/VpcId") or None,
            "public_ips": [e.text for e in item.findall("PublicIpAddress/IpAddress") if e.text]
            + [e for e in [text(item, "EipAddress/IpAddress")] if e],
            "tags_status": READ,
        }
        uid = place.arn("ecs", "instance", ident)
        name = text(item, "InstanceName") or ident
        records.append(
            place.resource(Kind.INSTANCE, "ecs:instance", uid, name, tags_of(item), attrs)
        )
    return records, f"{len(records)} instances"


def read_disks(connection: Any, place: Place, seen: dict[str, Mapping[str, Any]]) -> Collected:
    """Disks; `seen` learns each disk's encryption, which its snapshots share."""
    records: list[Record] = []
    for item in pages(connection, "DescribeDisks", {"RegionId": place.region}, "Disks/Disk"):
        ident = text(item, "DiskId")
        uid = place.arn("ecs", "disk", ident)
        crypt = encryption(item, place)
        source = text(item, "SourceSnapshotId")
        attrs = {
            "disk_id": ident,
            **crypt,
            "size_gib": int(text(item, "Size") or 0),
            "category": text(item, "Category"),
            "type": text(item, "Type"),
            "status": text(item, "Status"),
            "zone_id": text(item, "ZoneId"),
            "instance_id": text(item, "InstanceId") or None,
            "source_snapshot_id": source or None,
            "delete_with_instance": flag(item, "DeleteWithInstance"),
            "tags_status": READ,
        }
        seen[ident] = attrs
        records.append(
            place.resource(
                Kind.VOLUME, "ecs:disk", uid, text(item, "DiskName") or ident, tags_of(item), attrs
            )
        )
        if crypt["kms_key_arn"]:
            records.append(
                Edge(
                    uid,
                    crypt["kms_key_arn"],
                    Relation.ENCRYPTED_BY,
                    f"DescribeDisks {ident} KMSKeyId",
                )
            )
        if source:
            evidence = f"DescribeDisks {ident} SourceSnapshotId: {source}"
            records.append(
                Edge(place.arn("ecs", "snapshot", source), uid, Relation.COPIES_TO, evidence)
            )
    return records, f"{len(seen)} disks"


def read_snapshots(
    connection: Any, place: Place, snapshots: dict[str, Mapping[str, Any]]
) -> Collected:
    """Snapshots (their own Encrypted/KMSKeyId); `snapshots` learns them for the images."""
    records: list[Record] = []
    for item in pages(
        connection, "DescribeSnapshots", {"RegionId": place.region}, "Snapshots/Snapshot"
    ):
        ident = text(item, "SnapshotId")
        uid = place.arn("ecs", "snapshot", ident)
        crypt = encryption(item, place)
        disk = text(item, "SourceDiskId")
        attrs = {
            "snapshot_id": ident,
            "source_disk_id": disk or None,
            **crypt,
            "size_gib": int(text(item, "SourceDiskSize") or 0),
            "status": text(item, "Status"),
            "created": text(item, "CreationTime"),
            "tags_status": READ,
        }
        snapshots[ident] = attrs
        name = text(item, "SnapshotName") or ident
        records.append(
            place.resource(Kind.SNAPSHOT, "ecs:snapshot", uid, name, tags_of(item), attrs)
        )
        if disk:
            evidence = f"DescribeSnapshots {ident} SourceDiskId: {disk}"
            records.append(Edge(place.arn("ecs", "disk", disk), uid, Relation.COPIES_TO, evidence))
        if crypt["kms_key_arn"]:
            records.append(
                Edge(
                    uid,
                    crypt["kms_key_arn"],
                    Relation.ENCRYPTED_BY,
                    f"DescribeSnapshots {ident} KMSKeyId",
                )
            )
    return records, f"{len(snapshots)} snapshots"


def _image_encryption(
    snapshot_ids: list[str], snapshots: Mapping[str, Mapping[str, Any]]
) -> dict[str, Any]:
    """An image is as encrypted as the snapshots behind it; unknown if one was not read."""
    known = [snapshots.get(s) for s in snapshot_ids]
    if not known or any(k is None or k.get("encryption_status") != READ for k in known):
        return {"encryption_status": SKIPPED, "encrypted": None, "kms_key_arn": None}
    states = [bool(k["encrypted"]) for k in known if k is not None]
    keys = {str(k["kms_key_arn"]) for k in known if k is not None and k.get("kms_key_arn")}
    return {
        "encryption_status": READ,
        "encrypted": all(states),
        "kms_key_arn": next(iter(keys)) if len(keys) == 1 else None,
    }


def _share_permissions(connection: Any, place: Place, ident: str) -> tuple[list[str], bool]:
    """Accounts an image is shared with, and whether it is shared with everyone (group all)."""
    params = {"RegionId": place.region, "ImageId": ident}
    accounts: list[str] = []
    public = False
    for body in bodies(connection, "DescribeImageSharePermission", params, "Accounts/Account"):
        accounts += [
            a for a in (text(e, "AliyunId") for e in body.findall("Accounts/Account")) if a
        ]
        public = public or any(
            text(g, "Group") == "all" for g in body.findall("ShareGroups/ShareGroup")
        )
    return accounts, public


def _image_sharing(
    connection: Any, place: Place, ident: str, uid: str, faults: Faults
) -> tuple[dict[str, Any], list[Edge]]:
    try:
        accounts, public = _share_permissions(connection, place, ident)
    except Exception as exc:  # one image's sharing: a fact of the image, not the service
        outcome = outcome_of(exc)
        code = getattr(exc, "code", "") or str(http_status(exc) or type(exc).__name__)
        faults.note("DescribeImageSharePermission", str(code), outcome)
        status = DENIED if outcome is Outcome.DENIED else ERROR
        return {"sharing_status": status, "public": None, "shared_with_accounts": None}, []
    edges: list[Edge] = []
    for principal in [*(f"account:{a}" for a in accounts), *([PUBLIC] if public else [])]:
        evidence = f"DescribeImageSharePermission {ident}: {principal}"
        edges += [
            Edge(uid, principal, Relation.SHARED_WITH, evidence),
            Edge(principal, uid, Relation.CAN_READ, evidence),
        ]
    return {"sharing_status": READ, "public": public, "shared_with_accounts": accounts}, edges


def read_images(
    connection: Any, place: Place, snapshots: Mapping[str, Mapping[str, Any]], faults: Faults
) -> Collected:
    """The account's own custom images (ImageOwnerAlias=self: not Aliyun's public ones)."""
    records: list[Record] = []
    count = 0
    params = {"RegionId": place.region, "ImageOwnerAlias": "self"}
    for item in pages(connection, "DescribeImages", params, "Images/Image"):
        count += 1
        ident = text(item, "ImageId")
        uid = place.arn("ecs", "image", ident)
        snapshot_ids = [
            s
            for s in (
                text(m, "SnapshotId") for m in item.findall("DiskDeviceMappings/DiskDeviceMapping")
            )
            if s
        ]
        crypt = _image_encryption(snapshot_ids, snapshots)
        sharing, edges = _image_sharing(connection, place, ident, uid, faults)
        attrs = {
            "image_id": ident,
            "status": text(item, "Status"),
            "size_gib": int(text(item, "Size") or 0),
            "snapshot_ids": snapshot_ids,
            **crypt,
            **sharing,
            "tags_status": READ,
        }
        name = text(item, "ImageName") or ident
        records.append(place.resource(Kind.IMAGE, "ecs:image", uid, name, tags_of(item), attrs))
        records += edges
        for snap in snapshot_ids:
            evidence = f"DescribeImages {ident} DiskDeviceMapping SnapshotId: {snap}"
            records.append(
                Edge(place.arn("ecs", "snapshot", snap), uid, Relation.COPIES_TO, evidence)
            )
        if crypt["kms_key_arn"]:
            records.append(
                Edge(
                    uid, crypt["kms_key_arn"], Relation.ENCRYPTED_BY, f"snapshots of image {ident}"
                )
            )
    return records, f"{count} images"


# --- SLB --------------------------------------------------------------------------------------


def read_balancers(connection: Any, place: Place) -> Collected:
    """Load balancers: where traffic enters (internet or intranet address), not data stores."""
    records: list[Record] = []
    params = {"RegionId": place.region}
    for item in pages(connection, "DescribeLoadBalancers", params, "LoadBalancers/LoadBalancer"):
        ident = text(item, "LoadBalancerId")
        attrs = {
            "load_balancer_id": ident,
            "address": text(item, "Address"),
            "address_type": text(item, "AddressType"),
            "network_type": text(item, "NetworkType"),
            "vpc_id": text(item, "VpcId") or None,
            "status": text(item, "LoadBalancerStatus"),
            "zone_id": text(item, "MasterZoneId"),
            "internet_facing": text(item, "AddressType") == "internet",
            "tags_status": READ,
        }
        uid = place.arn("slb", "loadbalancer", ident)
        name = text(item, "LoadBalancerName") or ident
        records.append(
            place.resource(Kind.ENDPOINT, "slb:load-balancer", uid, name, tags_of(item), attrs)
        )
    return records, f"{len(records)} load balancers"
