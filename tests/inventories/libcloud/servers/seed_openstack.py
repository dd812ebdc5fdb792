"""Seed the real Keystone and Swift of the `openstack` tests through their HTTP APIs (stdlib only).

Keystone, as the cloud operator (the bootstrap admin) would set it up:
  regions cn-gov-1 and hk-dr-1; compute, volumev3 and image endpoints in both (served by the
  fixture server), object-store only in cn-gov-1 (the real Swift);
  project ministry-x (domain Default) with users auditor (member), reader-only (reader) and
  swift (service user, admin of project service); the bootstrap admin is admin of it too;
  domain vendor-domain with project vendor-ops and user vendor-engineer, who also holds the
  member role on ministry-x (a cross-domain assignment, as for an outsourced operator).
Swift, as ministry-x's auditor: containers dibao-archive (core, owner mz, readable by every
  user of vendor-ops, synced to a cluster abroad, 3 objects),
  open-data (public read and listing, 1 object) and unlabelled (nothing set, empty).
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from typing import Any

REGIONS = ("cn-gov-1", "hk-dr-1")
SWIFT_REGION = "cn-gov-1"
PASSWORDS = {
    "auditor": "auditor-Pw-4417",
    "reader-only": "reader-Pw-9031",
    "vendor-engineer": "vendor-Pw-2208",
    "swift": "swift-Pw-7710",
}
SYNC_TO = "http://127.0.0.1:9/v1/AUTH_abroad/dibao-archive"


def call(
    method: str, url: str, token: str = "", body: Any = None, headers: dict[str, str] | None = None
) -> tuple[int, dict[str, str], Any]:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method)
    request.add_header("Content-Type", "application/json")
    if token:
        request.add_header("X-Auth-Token", token)
    for name, value in (headers or {}).items():
        request.add_header(name, value)
    try:
        response = urllib.request.urlopen(request, timeout=30)
    except urllib.error.HTTPError as exc:
        detail = exc.read().decode("utf-8", "replace")[:300]
        raise RuntimeError(f"{method} {url}: HTTP {exc.code} {detail}") from None
    with response:
        raw = response.read()
        parsed = (
            json.loads(raw) if raw and "json" in response.headers.get("Content-Type", "") else raw
        )
        return response.status, dict(response.headers), parsed


def token(
    keystone: str, user: str, password: str, project: str, domain: str = "default"
) -> tuple[str, dict[str, Any]]:
    body = {
        "auth": {
            "identity": {
                "methods": ["password"],
                "password": {
                    "user": {"name": user, "domain": {"id": domain}, "password": password}
                },
            },
            "scope": {"project": {"name": project, "domain": {"id": domain}}},
        }
    }
    _, headers, answer = call("POST", f"{keystone}/v3/auth/tokens", body=body)
    return headers["X-Subject-Token"], answer["token"]


@dataclass
class Estate:
    keystone: str
    swift: str
    fixtures: str
    admin_token: str = ""
    ids: dict[str, str] = field(default_factory=dict)

    def project(self, name: str) -> str:
        return self.ids[f"project:{name}"]


class _Admin:
    def __init__(self, estate: Estate) -> None:
        self.estate = estate
        self.url = f"{estate.keystone}/v3"

    def create(self, collection: str, key: str, body: dict[str, Any]) -> str:
        _, _, answer = call(
            "POST", f"{self.url}/{collection}", self.estate.admin_token, {key: body}
        )
        return str(answer[key]["id"])

    def find(self, collection: str, key: str, name: str) -> str:
        _, _, answer = call("GET", f"{self.url}/{collection}?name={name}", self.estate.admin_token)
        return str(answer[collection][0]["id"])

    def grant(self, project: str, user: str, role: str) -> None:
        path = f"{self.url}/projects/{project}/users/{user}/roles/{role}"
        call("PUT", path, self.estate.admin_token)


def seed_keystone(estate: Estate, admin_password: str) -> None:
    estate.admin_token, _ = token(estate.keystone, "admin", admin_password, "admin")
    admin, ids = _Admin(estate), estate.ids
    for region in REGIONS:
        admin.create("regions", "region", {"id": region, "description": f"test region {region}"})
    services = {
        "compute": ("nova", "{fixtures}/compute/{region}/v2.1"),
        "volumev3": ("cinderv3", "{fixtures}/volume/{region}/v3/$(project_id)s"),
        "image": ("glance", "{fixtures}/image/{region}"),
        "object-store": ("swift", "{swift}/v1/AUTH_$(project_id)s"),
        "identity": ("keystone", "{keystone}/v3"),
    }
    for kind, (name, template) in services.items():
        service = admin.create("services", "service", {"type": kind, "name": name})
        regions = REGIONS if kind not in ("object-store", "identity") else (SWIFT_REGION,)
        for region in regions:
            url = template.format(
                fixtures=estate.fixtures,
                swift=estate.swift,
                keystone=estate.keystone,
                region=region,
            )
            admin.create(
                "endpoints",
                "endpoint",
                {"service_id": service, "interface": "public", "region_id": region, "url": url},
            )
    roles = {r: admin.find("roles", "roles", r) for r in ("admin", "member", "reader")}
    vendor_domain = admin.create("domains", "domain", {"name": "vendor-domain"})
    ids["domain:vendor-domain"] = vendor_domain
    for name, domain in (
        ("ministry-x", "default"),
        ("service", "default"),
        ("vendor-ops", vendor_domain),
    ):
        ids[f"project:{name}"] = admin.create(
            "projects", "project", {"name": name, "domain_id": domain}
        )
    users = {
        "auditor": "default",
        "reader-only": "default",
        "swift": "default",
        "vendor-engineer": vendor_domain,
    }
    for name, domain in users.items():
        body = {"name": name, "domain_id": domain, "password": PASSWORDS[name]}
        ids[f"user:{name}"] = admin.create("users", "user", body)
    ministry = estate.project("ministry-x")
    admin.grant(ministry, ids["user:auditor"], roles["member"])
    admin.grant(ministry, ids["user:reader-only"], roles["reader"])
    admin.grant(ministry, ids["user:vendor-engineer"], roles["member"])
    admin.grant(estate.project("vendor-ops"), ids["user:vendor-engineer"], roles["member"])
    admin.grant(estate.project("service"), ids["user:swift"], roles["admin"])
    # The operator's admin also administers the project (as cloud operators do).
    ids["user:admin"] = admin.find("users", "users", "admin")
    admin.grant(ministry, ids["user:admin"], roles["admin"])


def seed_swift(estate: Estate) -> None:
    auditor, _ = token(estate.keystone, "auditor", PASSWORDS["auditor"], "ministry-x")
    account = f"{estate.swift}/v1/AUTH_{estate.project('ministry-x')}"
    vendor = estate.project("vendor-ops")
    containers = {
        "dibao-archive": {
            "X-Container-Meta-Data-Class": "core",
            "X-Container-Meta-Owner-Dept": "mz",
            "X-Container-Read": f"{vendor}:*",
            "X-Container-Sync-To": SYNC_TO,
            "X-Container-Sync-Key": "sync-secret-not-for-reports",
        },
        "open-data": {
            "X-Container-Meta-Data-Class": "public",
            "X-Container-Meta-Owner-Dept": "dsj",
            "X-Container-Read": ".r:*,.rlistings",
        },
        "unlabelled": {},
    }
    objects = {"dibao-archive": 3, "open-data": 1, "unlabelled": 0}
    for name, headers in containers.items():
        call("PUT", f"{account}/{name}", auditor, headers=headers)
        for i in range(objects[name]):
            request = urllib.request.Request(
                f"{account}/{name}/record-{i}.csv", data=b"id,value\n1,2\n", method="PUT"
            )
            request.add_header("X-Auth-Token", auditor)
            urllib.request.urlopen(request, timeout=30).close()


def seed(keystone: str, swift: str, fixtures: str, admin_password: str) -> Estate:
    estate = Estate(keystone, swift, fixtures)
    seed_keystone(estate, admin_password)
    seed_swift(estate)
    return estate
