"""S3-compatible object stores (MinIO, Ceph RGW, Outscale OOS, OVH and Scaleway S3): buckets
with their region, ACL, default encryption, policy, public access block, versioning,
replication and tags.

libcloud's S3 drivers list buckets but drop every fact a check needs, so each fact is one raw
signed GET through the driver's guarded connection (`?acl`, `?encryption`, ...).  Each fact
keeps its own status (read / none / denied / error / invalid), as the AWS S3 adapter's do,
so a check can tell "no replication" from "not allowed to look".

A bucket's attrs use the AWS S3 adapter's names (`encryption_status`, `sse_algorithm`,
`kms_key_arn`, `policy_status`, `acl_status`, `tags_status`, `versioning`, ...) plus the
generic `encrypted` / `key_owner` every non-bucket store carries, since its native type
(`s3compat:bucket`) is not AWS's and checks judge it as a generic store.
"""

from __future__ import annotations

import dataclasses
import xml.etree.ElementTree as ET
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from libcloud.storage.drivers.rgw import S3RGWStorageDriver
from libcloud.storage.drivers.s3 import S3RawResponse

from auditor.errors import ReadOnlyViolation, UsageError
from auditor.inventories.aws.policy_rights import (
    PolicyDocumentError,
    PolicyRights,
    rights_from_acl,
    rights_from_policy,
)
from auditor.inventories.aws.s3 import GRANTEE_IDS, PAB_KEYS
from auditor.inventories.libcloud.common import (
    CallCounter,
    Collected,
    Faults,
    Where,
    collect_service,
    guard_connection,
    read_verbs,
)
from auditor.inventories.providers import ProviderSpec, Setting, register
from auditor.inventories.regions import jurisdiction_of
from auditor.model import Edge, Kind, Outcome, Record, Relation, Resource

PROVIDER = "s3"
SERVICE = "s3"
NATIVE_TYPE = "s3compat:bucket"
# Fact statuses, the AWS adapter's vocabulary (auditor.inventories.aws.calls).
READ, NONE, DENIED, ERROR, INVALID = "read", "none", "denied", "error", "invalid"
# Flavours whose regions the jurisdiction table knows, and under which provider name.
REGION_TABLES = {"outscale": "outscale", "ovh": "ovh"}
FLAVOURS = ("minio", "rgw", "outscale", "ovh", "scaleway", "s3")
# Signing region when the settings name none (MinIO and RGW accept it by default).
DEFAULT_SIGNING_REGION = "us-east-1"
# Answers larger than this are not S3 configuration documents.
MAX_BODY = 1 << 20

SETTINGS = (
    Setting("host", "host name of the S3 endpoint (no scheme)"),
    Setting("access_key", "S3 access key id", secret=True),
    Setting("secret_key", "S3 secret key", secret=True),
    Setting("port", "TCP port (default 443, or 80 when secure is false)", required=False),
    Setting("secure", "use HTTPS (true/false)", required=False, default="true"),
    Setting("region", "region the endpoint signs for and places buckets in", required=False),
    Setting(
        "jurisdiction",
        "ISO-3166 country of the operator's data centre, for endpoints without a region table",
        required=False,
    ),
    Setting("flavour", f"one of {', '.join(FLAVOURS)}", required=False, default="s3"),
)


# --- settings ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Endpoint:
    """One S3-compatible endpoint to audit; the keys never show in a repr."""

    label: str
    host: str
    port: int
    secure: bool
    region: str | None
    jurisdiction: str | None
    flavour: str
    access_key: str = dataclasses.field(repr=False)
    secret_key: str = dataclasses.field(repr=False)

    @property
    def secrets(self) -> tuple[str, str]:
        return (self.access_key, self.secret_key)

    @property
    def address(self) -> str:
        """host, with the port when it is not the scheme's default: part of every uid."""
        default = 443 if self.secure else 80
        return self.host if self.port == default else f"{self.host}:{self.port}"


def endpoint_of(label: str, values: Mapping[str, str]) -> Endpoint:
    """Validate resolved settings; a bad value names the setting, never a secret."""
    secure = values.get("secure", "true").strip().lower()
    if secure not in ("true", "false", "1", "0", "yes", "no"):
        raise UsageError(f"s3 [{label}]: secure must be true or false")
    is_secure = secure in ("true", "1", "yes")
    port_text = values.get("port") or ("443" if is_secure else "80")
    if not port_text.isdigit():
        raise UsageError(f"s3 [{label}]: port must be a number")
    flavour = values.get("flavour", "s3").strip().lower()
    if flavour not in FLAVOURS:
        raise UsageError(f"s3 [{label}]: flavour must be one of {', '.join(FLAVOURS)}")
    country = (values.get("jurisdiction") or "").strip().upper() or None
    if country is not None and not (len(country) == 2 and country.isalpha()):
        raise UsageError(f"s3 [{label}]: jurisdiction must be an ISO-3166 alpha-2 code")
    host = values["host"].strip()
    if "://" in host or "/" in host or "@" in host:
        raise UsageError(f"s3 [{label}]: host must be a bare host name")
    return Endpoint(
        label=label,
        host=host,
        port=int(port_text),
        secure=is_secure,
        region=(values.get("region") or "").strip() or None,
        jurisdiction=country,
        flavour=flavour,
        access_key=values["access_key"],
        secret_key=values["secret_key"],
    )


def place(endpoint: Endpoint, region: str | None) -> str | None:
    """The country of a bucket: the flavour's region table first, then the endpoint setting.

    Never a guess by prefix: a region the table lacks falls back to the declared country
    of the operator's data centre, or stays unknown.
    """
    table = REGION_TABLES.get(endpoint.flavour)
    if table and region:
        # OVH's S3 names its regions in lower case ("gra"); the table in upper case.
        for name in (region, region.upper()) if table == "ovh" else (region,):
            country = jurisdiction_of(table, name)
            if country:
                return country
    return endpoint.jurisdiction


# --- raw reads --------------------------------------------------------------------------------


@dataclass(frozen=True)
class FactCall:
    """One per-bucket read: its query key, the root element an answer has, the error codes
    that mean "not configured", and whether the answer is JSON (the policy)."""

    query: str
    root: str
    none_codes: frozenset[str] = frozenset()
    json: bool = False


FACTS: dict[str, FactCall] = {
    "location": FactCall("location", "LocationConstraint"),
    "acl": FactCall("acl", "AccessControlPolicy"),
    "encryption": FactCall(
        "encryption",
        "ServerSideEncryptionConfiguration",
        frozenset({"ServerSideEncryptionConfigurationNotFoundError"}),
    ),
    "policy": FactCall("policy", "", frozenset({"NoSuchBucketPolicy"}), json=True),
    "public_access_block": FactCall(
        "publicAccessBlock",
        "PublicAccessBlockConfiguration",
        frozenset({"NoSuchPublicAccessBlockConfiguration"}),
    ),
    "versioning": FactCall("versioning", "VersioningConfiguration"),
    "replication": FactCall(
        "replication",
        "ReplicationConfiguration",
        frozenset({"ReplicationConfigurationNotFoundError"}),
    ),
    "tagging": FactCall("tagging", "Tagging", frozenset({"NoSuchTagSet", "NoSuchTagSetError"})),
}
# Root elements other servers use for the same answer (moto names versioning its own way).
ROOT_ALIASES = {"VersioningConfiguration": {"GetBucketVersioningResponse"}}
# Error codes that say the server does not implement a fact: unknown, but no fault.
UNSUPPORTED_CODES = frozenset({"NotImplemented", "UnsupportedOperation", "NotImplementedError"})
THROTTLED_CODES = frozenset({"SlowDown", "TooManyRequests", "RequestLimitExceeded"})


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def parse_xml(body: str) -> ET.Element:
    """Parse an S3 answer; a DTD (entity expansion) or an oversized body is refused."""
    if len(body) > MAX_BODY or "<!DOCTYPE" in body or "<!ENTITY" in body:
        raise ValueError("answer is not a plain S3 XML document")
    return ET.fromstring(body)  # noqa: S314 - DTDs refused above; S3 answers have none


def error_code(body: str) -> str | None:
    """The `<Code>` of an S3 error answer, if it is one."""
    try:
        root = parse_xml(body)
    except (ET.ParseError, ValueError):
        return None
    if _local(root.tag) != "Error":
        return None
    for child in root:
        if _local(child.tag) == "Code":
            return (child.text or "").strip() or None
    return None


def _text(body: Any) -> str:
    if isinstance(body, bytes):
        return body.decode("utf-8", "replace")
    return str(body or "")


def read_fact(connection: Any, bucket: str, name: str, faults: Faults) -> dict[str, Any]:
    """One raw signed GET `/<bucket>?<query>` → `{"status", "value" | "code"}`.

    403/401 → denied; a "not configured" code → none; an answer that does not parse or has
    the wrong root element → invalid; anything else → error (and a fault for the row).
    """
    call = FACTS[name]
    try:
        response = connection.request(f"/{bucket}", params={call.query: ""}, raw=True)
        status, body = int(response.status), _text(response.body)
    except ReadOnlyViolation:
        raise
    except Exception as exc:  # a network failure loses this fact only
        faults.note(f"GET ?{call.query}", type(exc).__name__, Outcome.ERROR)
        return {"status": ERROR, "code": type(exc).__name__}
    if 200 <= status < 300:
        return _parsed(call, body)
    code = error_code(body) or str(status)
    if code in call.none_codes:
        return {"status": NONE, "code": code}
    if status in (401, 403):
        faults.note(f"GET ?{call.query}", code, Outcome.DENIED)
        return {"status": DENIED, "code": code}
    if status == 429 or code in THROTTLED_CODES:
        faults.note(f"GET ?{call.query}", code, Outcome.THROTTLED)
    elif code not in UNSUPPORTED_CODES and status != 501:
        faults.note(f"GET ?{call.query}", code, Outcome.ERROR)
    return {"status": ERROR, "code": code}


def _parsed(call: FactCall, body: str) -> dict[str, Any]:
    if call.json:
        # The policy stays text: rights_from_policy judges it, and an unparsable one is
        # "invalid" there, as in the AWS adapter.
        return {"status": READ, "value": body}
    try:
        root = parse_xml(body)
    except (ET.ParseError, ValueError):
        return {"status": INVALID, "code": "UnparsableAnswer"}
    if _local(root.tag) not in {call.root} | ROOT_ALIASES.get(call.root, set()):
        return {"status": INVALID, "code": f"Unexpected<{_local(root.tag)}>"}
    return {"status": READ, "value": root}


# --- XML → the shapes boto3 returns, so the AWS adapter's helpers apply -----------------------


def _child(element: ET.Element | None, *path: str) -> ET.Element | None:
    for name in path:
        if element is None:
            return None
        element = next((c for c in element if _local(c.tag) == name), None)
    return element


def _children(element: ET.Element | None, name: str) -> list[ET.Element]:
    return [] if element is None else [c for c in element if _local(c.tag) == name]


def _value(element: ET.Element | None, *path: str) -> str | None:
    found = _child(element, *path)
    text = None if found is None else (found.text or "").strip()
    return text or None


XSI_TYPE = "{http://www.w3.org/2001/XMLSchema-instance}type"


def acl_of(root: ET.Element) -> dict[str, Any]:
    """AccessControlPolicy → {"Owner": {"ID"}, "Grants": [{"Grantee", "Permission"}]}."""
    grants = []
    for grant in _children(_child(root, "AccessControlList"), "Grant"):
        node = _child(grant, "Grantee")
        grantee: dict[str, str] = {}
        if node is not None:
            grantee["Type"] = node.get(XSI_TYPE) or ""
            for field in ("ID", "DisplayName", "URI", "EmailAddress"):
                if (text := _value(node, field)) is not None:
                    grantee[field] = text
        grants.append({"Grantee": grantee, "Permission": _value(grant, "Permission")})
    return {"Owner": {"ID": _value(root, "Owner", "ID")}, "Grants": grants}


def acl_complete(acl: Mapping[str, Any]) -> bool:
    """Every grant says what it grants to whom (else a public grant could silently drop)."""
    for grant in acl["Grants"]:
        grantee = grant["Grantee"]
        named_by = GRANTEE_IDS.get(str(grantee.get("Type")), "")
        if not grant.get("Permission") or not grantee.get(named_by):
            return False
    return True


def encryption_of(root: ET.Element) -> dict[str, Any]:
    rule = _child(root, "Rule")
    return {
        "sse_algorithm": _value(rule, "ApplyServerSideEncryptionByDefault", "SSEAlgorithm"),
        "kms_key": _value(rule, "ApplyServerSideEncryptionByDefault", "KMSMasterKeyID"),
        "bucket_key_enabled": (
            None
            if _value(rule, "BucketKeyEnabled") is None
            else _value(rule, "BucketKeyEnabled") == "true"
        ),
    }


def replication_of(root: ET.Element) -> dict[str, Any]:
    rules = [
        {
            "id": _value(rule, "ID"),
            "status": _value(rule, "Status"),
            "priority": _value(rule, "Priority"),
            "filter": _value(rule, "Filter", "Prefix") or _value(rule, "Prefix"),
            "destination": _value(rule, "Destination", "Bucket"),
            "destination_account": _value(rule, "Destination", "Account"),
            "replica_kms_key": _value(
                rule, "Destination", "EncryptionConfiguration", "ReplicaKmsKeyID"
            ),
        }
        for rule in _children(root, "Rule")
    ]
    return {"replication_role": _value(root, "Role"), "replication_rules": rules}


def tags_of(root: ET.Element) -> dict[str, str]:
    return {
        _value(tag, "Key") or "": _value(tag, "Value") or ""
        for tag in _children(_child(root, "TagSet"), "Tag")
    }


def public_access_block_of(root: ET.Element) -> dict[str, bool]:
    return {key: _value(root, key) == "true" for key in PAB_KEYS}


# --- transform --------------------------------------------------------------------------------


def bucket_uid(endpoint: Endpoint, name: str) -> str:
    return f"s3compat://{endpoint.address}/{name}"


def key_uid(endpoint: Endpoint, key: str) -> str:
    """A KMS key named by default encryption: an ARN stays, a bare id (MinIO KES, RGW Vault
    key names) belongs to the endpoint."""
    return key if key.startswith("arn:") else f"s3compat://{endpoint.address}/kms-key/{key}"


def destination_uid(endpoint: Endpoint, destination: str) -> str:
    """Replication target: `arn:aws:s3:::name` is a bucket of the same endpoint (RGW
    multisite, Outscale); anything else (MinIO remote-target ARNs) stays as written."""
    prefix = "arn:aws:s3:::"
    if destination.startswith(prefix) and "/" not in destination[len(prefix) :]:
        return bucket_uid(endpoint, destination[len(prefix) :])
    return destination


def _status(fact: Mapping[str, Any]) -> str:
    return str(fact["status"])


def encryption_attrs(fact: Mapping[str, Any], endpoint: Endpoint) -> dict[str, Any]:
    """`encrypted` True/False only when the answer says so; None when it could not be read."""
    status = _status(fact)
    if status == READ:
        found = encryption_of(fact["value"])
    else:
        found = {"sse_algorithm": None, "kms_key": None, "bucket_key_enabled": None}
    algorithm = found["sse_algorithm"]
    kms = algorithm is not None and algorithm.startswith("aws:kms")
    if status == READ and algorithm is None:
        # An answer without its one fact is no answer (a rule without an algorithm).
        status = INVALID
    encrypted = {READ: True, NONE: False}.get(status)
    return {
        "encryption_status": status,
        **found,
        "encrypted": encrypted,
        "kms_key_arn": key_uid(endpoint, found["kms_key"]) if kms and found["kms_key"] else None,
        # SSE-S3 (AES256): the endpoint operator holds the key, not the customer.
        "key_owner": "provider_managed" if algorithm == "AES256" else None,
    }


def _acl_fact(fact: dict[str, Any]) -> dict[str, Any]:
    if _status(fact) != READ:
        return fact
    acl = acl_of(fact["value"])
    if not acl_complete(acl):
        return {"status": INVALID, "code": "IncompleteGrant"}
    return {"status": READ, "value": acl}


def rights_of_bucket(
    endpoint: Endpoint,
    name: str,
    policy: Mapping[str, Any],
    acl: Mapping[str, Any],
    pab: Mapping[str, bool] | None,
) -> tuple[PolicyRights, str]:
    """Policy and ACL rights on the bucket, and the policy status ("invalid" if unparsable).

    S3-compatible policies name buckets by AWS ARN; they are matched as such, then the edges
    are pointed at this bucket's uid.
    """
    uid, arn = bucket_uid(endpoint, name), f"arn:aws:s3:::{name}"
    edges: list[Edge] = []
    blocked: list[str] = []
    status = _status(policy)
    if status == READ:
        try:
            found = rights_from_policy(
                str(policy["value"]),
                arn,
                f"bucket policy of {uid}",
                "s3",
                bool(pab and pab["RestrictPublicBuckets"]),
            )
            edges += found.edges
            blocked += found.public_blocked
        except PolicyDocumentError:
            status = INVALID
    if _status(acl) == READ:
        value = acl["value"]
        found = rights_from_acl(
            value["Grants"],
            arn,
            value["Owner"]["ID"],
            f"account:{endpoint.label}",
            bool(pab and pab["IgnorePublicAcls"]),
        )
        edges += found.edges
        blocked += found.public_blocked
    moved = tuple(
        dataclasses.replace(e, dst=uid, evidence=e.evidence.replace(arn, uid)) for e in edges
    )
    return PolicyRights(moved, tuple(b.replace(arn, uid) for b in blocked)), status


def effective_block(status: str, pab: Mapping[str, bool] | None) -> dict[str, bool | None]:
    """Each setting as read; all off when none is configured; None (unknown) when unread.
    S3-compatible stores have no account-wide block, unlike AWS."""
    if pab is not None:
        return dict(pab)
    return dict.fromkeys(PAB_KEYS, False if status == NONE else None)


def transform_bucket(
    endpoint: Endpoint, name: str, facts: Mapping[str, dict[str, Any]]
) -> Iterator[Resource | Edge]:
    """One bucket's facts → its Resource, `encrypted_by`, `replicates_to` and rights edges."""
    uid = bucket_uid(endpoint, name)
    location = facts["location"]
    constraint = (location["value"].text or "").strip() if _status(location) == READ else ""
    # No constraint on an S3-compatible store means the endpoint's own (configured) region.
    region = constraint or endpoint.region
    pab_fact = facts["public_access_block"]
    pab = public_access_block_of(pab_fact["value"]) if _status(pab_fact) == READ else None
    acl = _acl_fact(facts["acl"])
    rights, policy_status = rights_of_bucket(endpoint, name, facts["policy"], acl, pab)
    tagging, versioning = facts["tagging"], facts["versioning"]
    replication = facts["replication"]
    repl = (
        replication_of(replication["value"])
        if _status(replication) == READ
        else {"replication_role": None, "replication_rules": []}
    )
    acl_value = acl.get("value", {})
    attrs: dict[str, Any] = {
        "flavour": endpoint.flavour,
        "endpoint": endpoint.address,
        "location_status": _status(location),
        "location_constraint": constraint or None,
        "tags_status": _status(tagging),
        **encryption_attrs(facts["encryption"], endpoint),
        "replication_status": _status(replication),
        **repl,
        "public_access_block_status": _status(pab_fact),
        "public_access_block": pab,
        "effective_public_access_block": effective_block(pab_fact["status"], pab),
        "policy_status": policy_status,
        "policy": str(facts["policy"]["value"]) if _status(facts["policy"]) == READ else None,
        "acl_status": _status(acl),
        "acl_owner_id": acl_value.get("Owner", {}).get("ID"),
        "acl_grants": [
            {"grantee": g["Grantee"], "permission": g["Permission"]}
            for g in acl_value.get("Grants", [])
        ],
        "public_grants_blocked": list(rights.public_blocked),
        "versioning_status": _status(versioning),
        # None with status "read": versioning was never turned on.
        "versioning": _value(versioning["value"], "Status")
        if _status(versioning) == READ
        else None,
        "mfa_delete": _value(versioning["value"], "MfaDelete")
        if _status(versioning) == READ
        else None,
        "observed_only": False,
    }
    yield Resource(
        uid=uid,
        provider=PROVIDER,
        kind=Kind.OBJECT_STORE,
        native_type=NATIVE_TYPE,
        name=name,
        account=endpoint.label,
        region=region,
        jurisdiction=place(endpoint, region),
        tags=tags_of(tagging["value"]) if _status(tagging) == READ else {},
        attrs=attrs,
    )
    if attrs["kms_key_arn"]:
        yield Edge(
            uid,
            str(attrs["kms_key_arn"]),
            Relation.ENCRYPTED_BY,
            f"default encryption ({attrs['sse_algorithm']}) of {uid} uses key "
            f"{attrs['kms_key']} (GET ?encryption KMSMasterKeyID)",
        )
    for index, rule in enumerate(repl["replication_rules"]):
        if rule["status"] == "Enabled" and rule["destination"]:
            rule_id = f"'{rule['id']}'" if rule["id"] else f"#{index}"
            yield Edge(
                uid,
                destination_uid(endpoint, str(rule["destination"])),
                Relation.REPLICATES_TO,
                f"replication rule {rule_id} (Enabled) of {uid} → {rule['destination']} "
                "(GET ?replication Destination.Bucket)",
            )
    yield from rights.edges


# --- collection -------------------------------------------------------------------------------


class AnyStatusResponse(S3RawResponse):
    """A raw answer whatever its status: libcloud would raise on a 403 or 503 and lose the
    error code (NoSuchBucketPolicy, SlowDown) that `read_fact` classifies."""

    def success(self) -> bool:
        return True


def connect(endpoint: Endpoint) -> tuple[Any, CallCounter]:
    """A guarded S3 (SigV4) driver for the endpoint: GET and HEAD only; raw answers (the
    per-bucket reads) come back with any status, for `read_fact` to judge."""
    driver = S3RGWStorageDriver(  # type: ignore[no-untyped-call]
        endpoint.access_key,
        endpoint.secret_key,
        secure=endpoint.secure,
        host=endpoint.host,
        port=endpoint.port,
        region=endpoint.region or DEFAULT_SIGNING_REGION,
        signature_version="4",
    )
    driver.connection.rawResponseCls = AnyStatusResponse
    return driver, guard_connection(driver.connection, read_verbs)


def read_buckets(driver: Any, endpoint: Endpoint, faults: Faults) -> Collected:
    """List the endpoint's buckets, read each bucket's facts, and transform them."""
    names = sorted(str(c.name) for c in driver.list_containers())
    records: list[Record] = []
    unread: dict[str, int] = {}
    for name in names:
        facts = {fact: read_fact(driver.connection, name, fact, faults) for fact in FACTS}
        for fact, value in facts.items():
            if value["status"] in (DENIED, ERROR, INVALID):
                key = f"{fact}:{value['status']}"
                unread[key] = unread.get(key, 0) + 1
        records.extend(transform_bucket(endpoint, name, facts))
    detail = f"{len(names)} buckets"
    if unread:
        detail += "; unread: " + ", ".join(f"{k}×{n}" for k, n in sorted(unread.items()))
    return records, detail


@dataclass(frozen=True)
class S3CompatScope:
    """One S3-compatible endpoint as a pipeline scope."""

    endpoint: Endpoint

    def records(self) -> Iterator[Record]:
        endpoint = self.endpoint
        where = Where(PROVIDER, endpoint.label, endpoint.region or "global")
        faults = Faults()
        try:
            driver, counter = connect(endpoint)
        except Exception as exc:  # a bad host or setting: one coverage row, not a traceback
            yield from collect_service(where, SERVICE, _raiser(exc), secrets=endpoint.secrets)
            return
        yield from collect_service(
            where,
            SERVICE,
            lambda: read_buckets(driver, endpoint, faults),
            counter,
            endpoint.secrets,
            faults,
        )


def _raiser(exc: Exception) -> Any:
    def read() -> Collected:
        raise exc

    return read


def build(label: str, values: Mapping[str, str]) -> S3CompatScope:
    return S3CompatScope(endpoint_of(label, values))


SPEC = register(
    ProviderSpec(
        name=PROVIDER,
        title="S3-compatible object storage (MinIO, Ceph RGW, Outscale OOS, OVH, Scaleway)",
        settings=SETTINGS,
        build=build,
    )
)
