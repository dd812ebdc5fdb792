"""Outscale (3DS OUTSCALE) through its OAPI: VMs, volumes, snapshots (with their sharing),
load balancers and API access rules, one region at a time.

libcloud's OAPI driver signs requests and knows the endpoint, but returns error answers as
dicts, pages nothing (ReadVolumes answers 100 items unless asked for more) and sets no timeout.
So only its signer and endpoint are used: `Oapi` sends each call itself, refuses any action
that is not a Read* (the read-only guard), raises on an error answer and follows
NextPageToken.

OAPI says nothing about volume or snapshot encryption (the Volume and Snapshot models carry no
such field), so those stores get `encryption_status` "not_exposed" and `encrypted` None: the
checks say UNKNOWN about their keys, never PASS.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import requests
from libcloud.compute.drivers.outscale import OutscaleNodeDriver

from auditor.errors import UsageError
from auditor.inventories.libcloud.common import (
    OAPI_READ_PREFIXES,
    CallCounter,
    Collected,
    Where,
    check_action,
    collect_service,
)
from auditor.inventories.providers import ProviderSpec, Setting, register
from auditor.inventories.regions import jurisdiction_of
from auditor.model import Edge, Kind, Record, Relation, Resource

PROVIDER = "outscale"
DEFAULT_REGION = "eu-west-2"
# libcloud's driver sets no timeout: a silent endpoint must not hang the audit.
TIMEOUT_S = 60
PAGE_SIZE = 1000
# A server that keeps handing out tokens is broken; stop rather than loop forever.
MAX_PAGES = 1000
# OAPI does not expose encryption of BSU volumes or snapshots.
NOT_EXPOSED = "not_exposed"
READ, INVALID = "read", "invalid"

SETTINGS = (
    Setting("access_key", "Outscale access key", secret=True),
    Setting("secret_key", "Outscale secret key", secret=True),
    Setting("regions", "comma-separated regions", required=False, default=DEFAULT_REGION),
    Setting("base_uri", "API domain", required=False, default="outscale.com"),
)


class OapiError(Exception):
    """An OAPI error answer: HTTP status and the first error's code and type (no secret:
    OAPI error details name the action and parameter, never the credentials)."""

    def __init__(self, action: str, http_code: int, code: str, kind: str) -> None:
        super().__init__(f"{action}: {kind or 'error'} (code {code or '?'})")
        self.http_code = http_code
        self.error_code = code
        self.error_type = kind


class MalformedAnswer(ValueError):  # noqa: N818 - an answer, not an error of ours
    """An OAPI answer that is not the JSON object the action returns."""


# Error types that mean "not allowed" or "throttled" whatever the HTTP status says.
DENIED_TYPES = frozenset({"AccessDenied", "AuthFailure", "InvalidCredentials", "Unauthorized"})
THROTTLED_TYPES = frozenset({"TooManyRequests", "RequestLimitExceeded", "Throttling"})


@dataclass
class Oapi:
    """Read-only OAPI client of one region, signing with libcloud's OUTSCALE driver."""

    driver: Any
    counter: CallCounter = field(default_factory=CallCounter)

    def call(self, action: str, body: Mapping[str, Any]) -> dict[str, Any]:
        """One call; the guard runs before anything is signed or sent."""
        check_action(action, OAPI_READ_PREFIXES)
        data = json.dumps(dict(body))
        headers = self.driver._ex_generate_headers(action, data)
        url = self.driver._get_outscale_endpoint(self.driver.region, self.driver.version, action)
        self.counter.total += 1
        response = requests.post(url, data=data, headers=headers, timeout=TIMEOUT_S)
        return answer_of(action, response.status_code, response.text)

    def read_all(self, action: str, key: str, paged: bool = True) -> list[dict[str, Any]]:
        """Every item under `key`, following NextPageToken when the action pages."""
        body: dict[str, Any] = {"ResultsPerPage": PAGE_SIZE} if paged else {}
        items: list[dict[str, Any]] = []
        seen: set[str] = set()
        for _ in range(MAX_PAGES):
            answer = self.call(action, body)
            items.extend(items_of(action, answer, key))
            token = answer.get("NextPageToken") if paged else None
            if not token:
                return items
            if not isinstance(token, str) or token in seen:
                raise MalformedAnswer(f"{action}: NextPageToken repeats or is not a string")
            seen.add(token)
            body = {**body, "NextPageToken": token}
        raise MalformedAnswer(f"{action}: more than {MAX_PAGES} pages")


def guard_driver(driver: Any) -> Any:
    """Refuse writes in the driver too: its own methods (create_node, delete_volume, ...) all
    go through `_call_api`, so no code path of the driver can change the cloud."""
    original = driver._call_api

    def call_api(action: str, data: str) -> Any:
        check_action(action, OAPI_READ_PREFIXES)
        return original(action, data)

    driver._call_api = call_api
    return driver


def answer_of(action: str, status: int, text: str) -> dict[str, Any]:
    """The JSON object of an answer; an error answer (any `Errors`, or a non-2xx) raises."""
    try:
        answer = json.loads(text) if text else None
    except json.JSONDecodeError as exc:
        if 200 <= status < 300:
            raise MalformedAnswer(f"{action}: answer is not JSON") from exc
        answer = None
    errors = answer.get("Errors") if isinstance(answer, dict) else None
    if errors or not 200 <= status < 300:
        first = errors[0] if isinstance(errors, list) and errors else {}
        first = first if isinstance(first, dict) else {}
        kind, code = str(first.get("Type") or ""), str(first.get("Code") or "")
        http = status
        if kind in DENIED_TYPES and http not in (401, 403):
            http = 403
        elif kind in THROTTLED_TYPES:
            http = 429
        raise OapiError(action, http, code, kind)
    if not isinstance(answer, dict):
        raise MalformedAnswer(f"{action}: answer is not a JSON object")
    return answer


def items_of(action: str, answer: Mapping[str, Any], key: str) -> list[dict[str, Any]]:
    items = answer.get(key)
    if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
        raise MalformedAnswer(f"{action}: answer has no list of objects under {key}")
    return items


# --- transform --------------------------------------------------------------------------------


def uid(region: str, kind: str, ident: str) -> str:
    """`outscale:<region>:<kind>/<id>`: OAPI gives no ARN; ids are unique within a region."""
    return f"outscale:{region}:{kind}/{ident}"


def _required(item: Mapping[str, Any], name: str, action: str) -> str:
    value = item.get(name)
    if not isinstance(value, str) or not value:
        raise MalformedAnswer(f"{action}: an item has no {name}")
    return value


def tags_of(item: Mapping[str, Any]) -> tuple[dict[str, str], str]:
    """(tags, tags_status): an item without a `Tags` list leaves its tags unknown."""
    tags = item.get("Tags")
    if not isinstance(tags, list) or not all(isinstance(t, dict) and "Key" in t for t in tags):
        return {}, INVALID
    return {str(t["Key"]): str(t.get("Value", "")) for t in tags}, READ


@dataclass(frozen=True)
class Place:
    """Where one region's resources sit and whose they are."""

    label: str
    region: str

    @property
    def jurisdiction(self) -> str | None:
        return jurisdiction_of(PROVIDER, self.region)

    def resource(
        self,
        kind: Kind,
        native: str,
        ident: str,
        name: str,
        item: Mapping[str, Any],
        attrs: dict[str, Any],
    ) -> Resource:
        tags, status = tags_of(item)
        return Resource(
            uid=uid(self.region, native, ident),
            provider=PROVIDER,
            kind=kind,
            native_type=f"outscale:{native}",
            name=tags.get("Name") or name,
            account=self.label,
            region=self.region,
            jurisdiction=self.jurisdiction,
            tags=tags,
            attrs={"tags_status": status, **attrs},
        )


UNKNOWN_ENCRYPTION = {"encryption_status": NOT_EXPOSED, "encrypted": None, "kms_key_arn": None}


def transform_vm(place: Place, vm: Mapping[str, Any]) -> Resource:
    ident = _required(vm, "VmId", "ReadVms")
    mappings = vm.get("BlockDeviceMappings") or []
    volumes = [
        str(m["Bsu"]["VolumeId"])
        for m in mappings
        if isinstance(m, dict) and isinstance(m.get("Bsu"), dict) and m["Bsu"].get("VolumeId")
    ]
    return place.resource(
        Kind.INSTANCE, "vm", ident, ident, vm,
        {
            "state": vm.get("State"),
            "vm_type": vm.get("VmType"),
            "subregion": (vm.get("Placement") or {}).get("SubregionName"),
            "image_id": vm.get("ImageId"),
            "public_ip": vm.get("PublicIp"),
            "net_id": vm.get("NetId"),
            "volume_ids": volumes,
        },
    )  # fmt: skip


def transform_volume(place: Place, volume: Mapping[str, Any]) -> Iterator[Resource | Edge]:
    ident = _required(volume, "VolumeId", "ReadVolumes")
    linked = [
        str(v["VmId"])
        for v in volume.get("LinkedVolumes") or []
        if isinstance(v, dict) and v.get("VmId")
    ]
    resource = place.resource(
        Kind.VOLUME, "volume", ident, ident, volume,
        {
            **UNKNOWN_ENCRYPTION,
            "state": volume.get("State"),
            "volume_type": volume.get("VolumeType"),
            "size_gib": volume.get("Size"),
            "subregion": volume.get("SubregionName"),
            "snapshot_id": volume.get("SnapshotId"),
            "linked_vm_ids": linked,
        },
    )  # fmt: skip
    yield resource
    source = volume.get("SnapshotId")
    if isinstance(source, str) and source:
        yield Edge(
            uid(place.region, "snapshot", source),
            resource.uid,
            Relation.COPIES_TO,
            f"volume {ident} was created from snapshot {source} (ReadVolumes SnapshotId)",
        )


def transform_snapshot(place: Place, snapshot: Mapping[str, Any]) -> Iterator[Resource | Edge]:
    """A snapshot, the volume it copies, and whom it is shared with (PermissionsToCreateVolume:
    GlobalPermission → anyone, AccountIds → those accounts), each sharing with its can_read."""
    ident = _required(snapshot, "SnapshotId", "ReadSnapshots")
    permissions = snapshot.get("PermissionsToCreateVolume")
    readable = isinstance(permissions, dict) and isinstance(permissions.get("AccountIds", []), list)
    perms: Mapping[str, Any] = permissions if readable else {}  # type: ignore[assignment]
    accounts = [str(a) for a in perms.get("AccountIds", [])]
    public = perms.get("GlobalPermission") is True
    resource = place.resource(
        Kind.SNAPSHOT, "snapshot", ident, ident, snapshot,
        {
            **UNKNOWN_ENCRYPTION,
            "state": snapshot.get("State"),
            "volume_id": snapshot.get("VolumeId"),
            "size_gib": snapshot.get("VolumeSize"),
            "owner_account_id": snapshot.get("AccountId"),
            "sharing_status": READ if readable else INVALID,
            "shared_account_ids": accounts,
            "shared_publicly": public if readable else None,
        },
    )  # fmt: skip
    yield resource
    volume = snapshot.get("VolumeId")
    if isinstance(volume, str) and volume:
        yield Edge(
            uid(place.region, "volume", volume),
            resource.uid,
            Relation.COPIES_TO,
            f"snapshot {ident} copies volume {volume} (ReadSnapshots VolumeId)",
        )
    grantees = (["public:*"] if public else []) + [f"account:{a}" for a in accounts]
    for grantee in grantees:
        field_name = "GlobalPermission" if grantee == "public:*" else f"AccountIds {grantee[8:]}"
        evidence = f"ReadSnapshots PermissionsToCreateVolume.{field_name} of {ident}"
        yield Edge(resource.uid, grantee, Relation.SHARED_WITH, evidence)
        yield Edge(grantee, resource.uid, Relation.CAN_READ, evidence)


def oos_bucket_uid(region: str, bucket: str) -> str:
    """The uid the s3 adapter gives an OOS bucket read through the region's public host."""
    return f"s3compat://oos.{region}.outscale.com/{bucket}"


def transform_load_balancer(place: Place, lb: Mapping[str, Any]) -> Iterator[Resource | Edge]:
    ident = _required(lb, "LoadBalancerName", "ReadLoadBalancers")
    raw_log = lb.get("AccessLog")
    log: Mapping[str, Any] = raw_log if isinstance(raw_log, dict) else {}
    resource = place.resource(
        # The model has no load-balancer kind; NETWORK (what moves data) fits best.
        Kind.NETWORK, "load_balancer", ident, ident, lb,
        {
            "load_balancer_type": lb.get("LoadBalancerType"),
            "internet_facing": lb.get("LoadBalancerType") == "internet-facing",
            "dns_name": lb.get("DnsName"),
            "public_ip": lb.get("PublicIp"),
            "backend_vm_ids": list(lb.get("BackendVmIds") or []),
            "access_log_enabled": log.get("IsEnabled"),
            "access_log_bucket": log.get("OsuBucketName"),
        },
    )  # fmt: skip
    yield resource
    if log.get("IsEnabled") and log.get("OsuBucketName"):
        target = oos_bucket_uid(place.region, str(log["OsuBucketName"]))
        yield Edge(
            resource.uid,
            target,
            Relation.DELIVERS_LOGS_TO,
            f"access logs of load balancer {ident} go to OOS bucket {log['OsuBucketName']} "
            "(ReadLoadBalancers AccessLog.OsuBucketName)",
        )


OPEN_RANGES = frozenset({"0.0.0.0/0", "::/0"})


def transform_api_access_rule(place: Place, rule: Mapping[str, Any]) -> Resource:
    """Who may call the API at all: IP ranges and client certificates (CaIds, Cns)."""
    ident = _required(rule, "ApiAccessRuleId", "ReadApiAccessRules")
    ranges = [str(r) for r in rule.get("IpRanges") or []]
    return place.resource(
        Kind.FIREWALL, "api_access_rule", ident, str(rule.get("Description") or ident), rule,
        {
            "ip_ranges": ranges,
            "ca_ids": list(rule.get("CaIds") or []),
            "cns": list(rule.get("Cns") or []),
            "open_to_any_ip": bool(OPEN_RANGES & set(ranges)),
        },
    )  # fmt: skip


# --- collection -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Service:
    """One coverage row's worth: the action, its list key, whether it pages, the transform."""

    name: str
    action: str
    key: str
    paged: bool
    transform: Any  # (Place, item) -> Resource | Iterator[Resource | Edge]
    noun: str


SERVICES = (
    Service("vms", "ReadVms", "Vms", True, transform_vm, "VMs"),
    Service("volumes", "ReadVolumes", "Volumes", True, transform_volume, "volumes"),
    Service("snapshots", "ReadSnapshots", "Snapshots", True, transform_snapshot, "snapshots"),
    # ReadLoadBalancers and ReadApiAccessRules take no paging parameters.
    Service("load_balancers", "ReadLoadBalancers", "LoadBalancers", False,
            transform_load_balancer, "load balancers"),
    Service("api_access_rules", "ReadApiAccessRules", "ApiAccessRules", False,
            transform_api_access_rule, "API access rules"),
)  # fmt: skip


def read_service(oapi: Oapi, place: Place, service: Service) -> Collected:
    items = oapi.read_all(service.action, service.key, service.paged)
    records: list[Record] = []
    for item in items:
        out = service.transform(place, item)
        records.extend([out] if isinstance(out, Resource) else out)
    return records, f"{len(items)} {service.noun}"


@dataclass(frozen=True)
class Credentials:
    access_key: str = field(repr=False)
    secret_key: str = field(repr=False)


@dataclass(frozen=True)
class OutscaleScope:
    """Every configured region of one Outscale account."""

    label: str
    regions: tuple[str, ...]
    credentials: Credentials
    base_uri: str = "outscale.com"

    def client(self, region: str) -> Oapi:
        driver = OutscaleNodeDriver(
            self.credentials.access_key,
            self.credentials.secret_key,
            region=region,
            base_uri=self.base_uri,
        )
        return Oapi(guard_driver(driver))

    def records(self) -> Iterator[Record]:
        secrets = (self.credentials.access_key, self.credentials.secret_key)
        for region in self.regions:
            oapi, place = self.client(region), Place(self.label, region)
            for service in SERVICES:
                yield from collect_service(
                    Where(PROVIDER, self.label, region),
                    service.name,
                    partial(read_service, oapi, place, service),
                    oapi.counter,
                    secrets,
                )


def build(label: str, values: Mapping[str, str]) -> OutscaleScope:
    regions = tuple(
        r.strip() for r in values.get("regions", DEFAULT_REGION).split(",") if r.strip()
    )
    if not regions:
        raise UsageError(f"outscale [{label}]: regions is empty")
    base_uri = values.get("base_uri", "outscale.com").strip()
    if "/" in base_uri or "@" in base_uri:
        raise UsageError(f"outscale [{label}]: base_uri must be a bare domain")
    return OutscaleScope(
        label, regions, Credentials(values["access_key"], values["secret_key"]), base_uri
    )


SPEC = register(
    ProviderSpec(
        name=PROVIDER,
        title="3DS OUTSCALE (OAPI): VMs, volumes, snapshots, load balancers, API access rules",
        settings=SETTINGS,
        build=build,
    )
)
