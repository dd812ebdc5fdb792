"""Swift containers of one OpenStack region: objects, bytes, storage policy, metadata (tags),
read/write ACLs, account ACLs and container sync, read raw through the guarded Swift connection.

libcloud's Swift driver drops ACLs, storage policy and metadata, and its account listing
counts lag behind (Swift's updaters): the listing gives names, then one HEAD per container
gives the rest.  Swift shows ACLs and the sync target only to container *owners* (users with
one of the proxy's operator roles); to anyone else they are absent, which must not read as
"no ACL": without an operator role among the token's roles, `acl_status` is "denied".

Keystone ACL elements (keystoneauth): `.r:*` (anyone, no token), `.r:<referrer>`, `.rlistings`,
`PROJECT:USER`, `PROJECT:*`, `*:USER`, `*:*` (any authenticated user), or a bare role name
(users of this project holding that role).
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from auditor.inventories.libcloud.common import Collected, Faults, http_status, outcome_of
from auditor.inventories.libcloud.openstack_session import Place, user_uid
from auditor.model import Edge, Kind, Outcome, Record, Relation

READ, NONE, DENIED, ERROR, UNSUPPORTED = "read", "none", "denied", "error", "unsupported"
PUBLIC = "public:*"
META = "x-container-meta-"
# Container metadata that is a credential, never a label: kept out of tags.
SECRET_META = frozenset({"temp-url-key", "temp-url-key-2"})
MAX_PAGES = 1000
PAGE_SIZE = 1000


@dataclass(frozen=True)
class Grant:
    principal: str
    conditions: Mapping[str, Any]
    note: str


def acl_grants(acl: str, project: str) -> Iterator[Grant]:
    """The principals an X-Container-Read/Write value lets in (referrer denials grant none)."""
    elements = [e.strip() for e in acl.split(",") if e.strip()]
    for element in elements:
        if element.startswith(".r:"):
            referrer = element[3:]
            if referrer.startswith("-"):
                continue
            conditions = {} if referrer == "*" else {"SwiftReferrer": {"Referer": referrer}}
            yield Grant(PUBLIC, conditions, f"{element} (no token needed)")
        elif element.startswith("."):
            continue  # .rlistings: listing, granted only together with a .r: element
        elif ":" in element:
            who, _, user = element.partition(":")
            if who == "*" and user == "*":
                yield Grant(
                    PUBLIC,
                    {"SwiftAcl": {"AnyAuthenticatedUser": "*:*"}},
                    f"{element} (any user of the cloud)",
                )
            elif user == "*":
                yield Grant(f"account:{who}", {}, f"{element} (every user of project {who})")
            else:
                yield Grant(user_uid(user), {}, f"{element} (user {user})")
        else:
            yield Grant(
                f"account:{project}", {}, f"{element} (users of the project with role {element})"
            )


def _account_acl(headers: Mapping[str, str]) -> dict[str, list[str]]:
    raw = headers.get("x-account-access-control")
    if not raw:
        return {}
    parsed = json.loads(raw)
    if not isinstance(parsed, dict):
        raise ValueError("X-Account-Access-Control is not a JSON object")
    return {str(k): [str(p) for p in v] for k, v in parsed.items() if isinstance(v, list)}


ACCOUNT_RIGHTS = {
    "admin": (Relation.CAN_ADMIN, Relation.CAN_WRITE, Relation.CAN_READ),
    "read-write": (Relation.CAN_WRITE, Relation.CAN_READ),
    "read-only": (Relation.CAN_READ,),
}


@dataclass
class Account:
    """The account listing: container names, and the account ACL (owners only)."""

    names: list[str]
    acl: dict[str, list[str]] | None  # None when not visible to the auditor


def list_account(connection: Any, owner: bool) -> Account:
    names: list[str] = []
    acl: dict[str, list[str]] | None = None
    marker = ""
    for page in range(MAX_PAGES):
        response = connection.request(
            "", params={"format": "json", "limit": str(PAGE_SIZE), "marker": marker}
        )
        if page == 0:
            acl = _account_acl(response.headers) if owner else None
        if response.status == 204 or not response.body:
            return Account(names, acl)
        entries = json.loads(response.body)
        if not isinstance(entries, list):
            raise ValueError("Swift account listing is not a JSON list")
        names += [str(e["name"]) for e in entries]
        if len(entries) < PAGE_SIZE:
            return Account(names, acl)
        marker = names[-1]
    raise ValueError(f"Swift account listing: more than {MAX_PAGES} pages")


def _tags(headers: Mapping[str, str]) -> dict[str, str]:
    tags = {}
    for name, value in headers.items():
        key = name.lower()
        if key.startswith(META) and key[len(META) :] not in SECRET_META:
            tags[key[len(META) :]] = value
    return tags


def _number(headers: Mapping[str, str], name: str) -> int | None:
    value = headers.get(name, "")
    return int(value) if value.isdigit() else None


def container_records(
    name: str,
    headers: Mapping[str, str],
    place: Place,
    owner: bool,
    account_acl: Mapping[str, list[str]] | None,
) -> list[Record]:
    """One container from its HEAD headers (lower-case names), with its grants as edges."""
    uid = place.uid("container", name)
    read_acl = headers.get("x-container-read", "") if owner else None
    write_acl = headers.get("x-container-write", "") if owner else None
    sync_to = headers.get("x-container-sync-to") if owner else None
    attrs: dict[str, Any] = {
        "container": name,
        "object_count": _number(headers, "x-container-object-count"),
        "bytes_used": _number(headers, "x-container-bytes-used"),
        "storage_policy": headers.get("x-storage-policy"),
        "versions_location": headers.get("x-history-location")
        or headers.get("x-versions-location"),
        # Swift encrypts at rest (if at all) cluster-wide, invisibly to its API.
        "encryption_status": UNSUPPORTED,
        "encrypted": None,
        "kms_key_arn": None,
        "tags_status": READ,
        "acl_status": READ if owner else DENIED,
        "read_acl": read_acl,
        "write_acl": write_acl,
        "public": None
        if read_acl is None
        else any(g.principal == PUBLIC for g in acl_grants(read_acl, place.project)),
        # Container sync is the replication Swift offers (FLOW-001 reads replication_status).
        "replication_status": READ if owner else DENIED,
        "sync_to": sync_to,
    }
    records: list[Record] = [
        place.resource(Kind.OBJECT_STORE, "swift:container", uid, name, _tags(headers), attrs)
    ]
    for acl, relation, header in (
        (read_acl, Relation.CAN_READ, "X-Container-Read"),
        (write_acl, Relation.CAN_WRITE, "X-Container-Write"),
    ):
        for grant in acl_grants(acl or "", place.project):
            evidence = f"Swift {header} of {name}: {grant.note}"
            records.append(Edge(grant.principal, uid, relation, evidence, grant.conditions))
            if grant.principal == PUBLIC and relation is Relation.CAN_READ:
                records.append(Edge(uid, PUBLIC, Relation.SHARED_WITH, evidence, grant.conditions))
    for level, principals in (account_acl or {}).items():
        for principal in principals:
            for grant in acl_grants(principal, place.project):
                evidence = f"Swift X-Account-Access-Control {level}: {grant.note}"
                records += [
                    Edge(grant.principal, uid, r, evidence) for r in ACCOUNT_RIGHTS.get(level, ())
                ]
    if sync_to:
        # The sync target is another cluster's container: the data leaves this region.
        evidence = f"Swift X-Container-Sync-To of {name}: {sync_to}"
        records.append(
            Edge(uid, place.uid("sync-target", sync_to), Relation.REPLICATES_TO, evidence)
        )
    return records


def read_containers(connection: Any, place: Place, owner: bool, faults: Faults) -> Collected:
    """Every container of the project in this region; a HEAD that fails leaves that container
    with unread facts and turns the coverage row from ok to the failure met."""
    account = list_account(connection, owner)
    records: list[Record] = []
    for name in account.names:
        try:
            response = connection.request("/" + quote(name, safe=""), method="HEAD")
        except Exception as exc:  # one container's facts, not the service
            outcome = outcome_of(exc)
            faults.note("container HEAD", str(http_status(exc) or type(exc).__name__), outcome)
            records.append(_unread(name, place, DENIED if outcome is Outcome.DENIED else ERROR))
            continue
        if response.status == 404:
            continue  # deleted between the listing and the HEAD
        headers = {str(k).lower(): str(v) for k, v in response.headers.items()}
        records += container_records(name, headers, place, owner, account.acl)
    suffix = "" if owner else " (ACLs hidden: the token has no Swift operator role)"
    return records, f"{len(account.names)} containers{suffix}"


def _unread(name: str, place: Place, status: str) -> Record:
    facts = ("encryption", "tags", "acl", "replication")
    attrs: dict[str, Any] = {f"{fact}_status": status for fact in facts}
    attrs |= {"container": name, "encrypted": None, "kms_key_arn": None, "public": None}
    return place.resource(
        Kind.OBJECT_STORE, "swift:container", place.uid("container", name), name, {}, attrs
    )
