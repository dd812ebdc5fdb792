"""Aliyun OSS buckets: location (their region), ACL, default encryption, tags and cross-region
replication.

The bucket listing (GET Service) is paged by marker, which libcloud's `list_containers` does
not follow (it stops at the first 100 buckets), so it is read raw, like each bucket's `?acl`,
`?encryption`, `?tagging` and `?replication`, all signed by libcloud's OSS connection (sent
to the bucket's own regional host).  Each fact keeps its own status; a refused fact does not
drop the bucket, it turns the coverage row from ok into denied.

OSS default encryption: AES256 and SM4 use keys OSS manages; KMS without a key id uses the
account's default OSS key in KMS, which Aliyun also manages; KMS with a key id names a key.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from libcloud.common.types import InvalidCredsError, LibcloudError

from auditor.inventories.libcloud.aliyun_ecs import PUBLIC, AliyunApiError, Place, text
from auditor.inventories.libcloud.common import Collected, Faults, http_status, outcome_of
from auditor.inventories.regions import jurisdiction_of
from auditor.model import Edge, Kind, Outcome, Record, Relation

READ, NONE, DENIED, ERROR, INVALID = "read", "none", "denied", "error", "invalid"
MAX_PAGES = 1000
_CODE = re.compile(r"<Code>([^<]*)</Code>")
# The answer of a missing configuration: not an error, the fact is "none".
ABSENT = {
    "encryption": "NoSuchServerSideEncryptionRule",
    "tagging": "NoSuchTagSet",
    "replication": "NoSuchReplicationConfiguration",
}
SUBRESOURCES = ("acl", "encryption", "tagging", "replication")
NATIVE = "oss:bucket"
ACL_RIGHTS = {"public-read": ("can_read",), "public-read-write": ("can_read", "can_write")}


def region_of(location: str) -> str:
    """OSS names a location `oss-<region id>` (oss-cn-hangzhou): the region is what follows."""
    return location.removeprefix("oss-")


@dataclass(frozen=True)
class Bucket:
    """What libcloud's OSS connection reads of a container: its name and location."""

    name: str
    extra: Mapping[str, str]


def _connect_to_host(connection: Any, container: Bucket | None) -> None:
    """Open the HTTP client on the host the request is for.

    libcloud's OSS connection names the bucket's host (bucket.oss-REGION.DOMAIN) per request
    but keeps sending to the host its client was opened on (127.0.0.1 by default), with only
    the Host header changed: every bucket request would miss its region.
    """
    domain = connection._domain
    if container is not None:
        host = f"{container.name}.{container.extra['location']}.{domain}"
    else:
        host = f"{connection._default_location}.{domain}"
    if connection.connection is None or connection.connection.host != f"https://{host}":
        connection.host = host
        connection.connect(host=host)


def _call(
    connection: Any,
    what: str,
    action: str,
    container: Bucket | None = None,
    params: dict[str, str] | None = None,
) -> Any:
    """One signed OSS GET; error answers raise AliyunApiError by their code.

    A sub-resource (`?acl`) belongs in `action`, where the signature covers it; any other query
    (marker) in `params`, which OSS leaves out of the signed resource.
    """
    _connect_to_host(connection, container)
    try:
        response = connection.request(action, params=params, container=container)
    except InvalidCredsError as exc:  # 401/403: the body's code is the reason
        match = _CODE.search(str(exc.value))
        raise AliyunApiError(what, match.group(1) if match else "AccessDenied", 403) from None
    except LibcloudError as exc:  # 5xx and friends: the body's code (SlowDown) still decides
        match = _CODE.search(str(exc.value))
        raise AliyunApiError(what, match.group(1) if match else "", http_status(exc)) from None
    if response.status >= 400:  # libcloud's OSS response lets 400, 404 and 409 through
        match = _CODE.search(str(response.body))
        raise AliyunApiError(what, match.group(1) if match else "", response.status)
    if not isinstance(response.object, ET.Element):
        raise ValueError(f"{what}: answer is not XML")
    return response.object


def list_buckets(connection: Any) -> Iterator[ET.Element]:
    marker = ""
    for _ in range(MAX_PAGES):
        params = {"max-keys": "1000", **({"marker": marker} if marker else {})}
        body = _call(connection, "ListBuckets", "/", params=params)
        yield from body.findall("Buckets/Bucket")
        if text(body, "IsTruncated").lower() != "true":
            return
        marker = text(body, "NextMarker")
        if not marker:
            return
    raise ValueError(f"ListBuckets: more than {MAX_PAGES} pages")


def _fact(
    connection: Any, bucket: Bucket, sub: str, faults: Faults
) -> tuple[str, ET.Element | None]:
    """(status, document) of one bucket sub-resource."""
    try:
        return READ, _call(connection, f"Get{sub.capitalize()}", f"/?{sub}", bucket)
    except AliyunApiError as exc:
        if exc.code == ABSENT.get(sub):
            return NONE, None
        outcome = outcome_of(exc)
        faults.note(f"?{sub}", exc.code or str(exc.http_code), outcome)
        return (DENIED if outcome is Outcome.DENIED else ERROR), None


def _encryption(status: str, doc: ET.Element | None, place: Place) -> dict[str, Any]:
    if status != READ or doc is None:
        encrypted = False if status == NONE else None
        return {
            "encryption_status": status,
            "encrypted": encrypted,
            "sse_algorithm": None,
            "kms_key_arn": None,
        }
    rule = "ApplyServerSideEncryptionByDefault/"
    algorithm = text(doc, rule + "SSEAlgorithm")
    key_id = text(doc, rule + "KMSMasterKeyID")
    if not algorithm:
        return {
            "encryption_status": INVALID,
            "encrypted": None,
            "sse_algorithm": None,
            "kms_key_arn": None,
        }
    attrs: dict[str, Any] = {
        "encryption_status": READ,
        "encrypted": True,
        "sse_algorithm": algorithm,
        "kms_key_arn": place.key(key_id) if key_id else None,
    }
    if not key_id:
        attrs["key_owner"] = "provider_managed"
    return attrs


def _acl(status: str, doc: ET.Element | None) -> dict[str, Any]:
    if status != READ or doc is None:
        return {"acl_status": status, "acl": None, "public": None}
    grant = text(doc, "AccessControlList/Grant")
    return {"acl_status": READ, "acl": grant, "public": grant in ACL_RIGHTS}


def _tags(status: str, doc: ET.Element | None) -> dict[str, str]:
    if status != READ or doc is None:
        return {}
    return {text(t, "Key"): text(t, "Value") for t in doc.findall("TagSet/Tag") if text(t, "Key")}


def _replication(status: str, doc: ET.Element | None) -> list[tuple[str, str]]:
    """(bucket, location) of each replication rule's destination (rules being closed count:
    data already copied stays there)."""
    if status != READ or doc is None:
        return []
    rules = doc.findall("Rule")
    return [
        (text(r, "Destination/Bucket"), text(r, "Destination/Location"))
        for r in rules
        if text(r, "Destination/Bucket")
    ]


@dataclass(frozen=True)
class Read:
    """A bucket's records, and the replication destinations its rules name."""

    records: list[Record]
    targets: list[tuple[str, str]]


def bucket_records(connection: Any, item: ET.Element, account: str, faults: Faults) -> Read:
    name, location = text(item, "Name"), text(item, "Location")
    region = region_of(location)
    place = Place(region, account, jurisdiction_of("aliyun", region))
    bucket = Bucket(name, {"location": location})
    facts = {sub: _fact(connection, bucket, sub, faults) for sub in SUBRESOURCES}
    acl = _acl(*facts["acl"])
    targets = _replication(*facts["replication"])
    attrs = {
        "bucket": name,
        "location": location,
        "storage_class": text(item, "StorageClass") or None,
        "created": text(item, "CreationDate"),
        **_encryption(*facts["encryption"], place),
        **acl,
        "tags_status": READ if facts["tagging"][0] == NONE else facts["tagging"][0],
        "replication_status": facts["replication"][0],
        "replicates_to": [f"{target} ({where})" for target, where in targets],
    }
    uid = bucket_uid(account, name)
    tags = _tags(*facts["tagging"])
    records: list[Record] = [place.resource(Kind.OBJECT_STORE, NATIVE, uid, name, tags, attrs)]
    if attrs["kms_key_arn"]:
        evidence = f"GetBucketEncryption {name} KMSMasterKeyID"
        records.append(Edge(uid, attrs["kms_key_arn"], Relation.ENCRYPTED_BY, evidence))
    for right in ACL_RIGHTS.get(str(acl["acl"]), ()):
        evidence = f"GetBucketAcl {name}: {acl['acl']}"
        records.append(Edge(PUBLIC, uid, Relation(right), evidence))
        if right == "can_read":
            records.append(Edge(uid, PUBLIC, Relation.SHARED_WITH, evidence))
    for target, where in targets:
        evidence = f"GetBucketReplication {name}: to {target} in {where}"
        records.append(Edge(uid, bucket_uid(account, target), Relation.REPLICATES_TO, evidence))
    return Read(records, targets)


def bucket_uid(account: str, name: str) -> str:
    return f"acs:oss:*:{account}:{name}"


def _observed_target(name: str, location: str, account: str) -> Record:
    """A replication destination the listing did not show (another account's, or created
    since): known only by its location, which the flow checks need."""
    region = region_of(location)
    place = Place(region, account, jurisdiction_of("aliyun", region))
    attrs = {"bucket": name, "location": location, "observed_only": True}
    return place.resource(Kind.OBJECT_STORE, NATIVE, bucket_uid(account, name), name, {}, attrs)


def read_buckets(connection: Any, account: str, faults: Faults) -> Collected:
    records: list[Record] = []
    names: set[str] = set()
    targets: dict[str, str] = {}
    for item in list_buckets(connection):
        names.add(text(item, "Name"))
        read = bucket_records(connection, item, account, faults)
        records += read.records
        targets.update(read.targets)
    unseen = sorted(set(targets) - names)
    records += [_observed_target(name, targets[name], account) for name in unseen]
    return records, f"{len(names)} buckets"
