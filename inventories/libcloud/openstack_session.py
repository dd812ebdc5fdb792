"""An OpenStack cloud to audit: its settings, one Keystone token, the catalog, and where
resources sit (region, project, country).

One password authentication per run: the token and catalog then drive one libcloud driver per
region (`ex_force_auth_token` + the catalog's URLs), so no service re-authenticates.  The
catalog is read here, not by libcloud's per-connection lookup, because libcloud matches
endpoints by service *name* (nova, cinderv3, glance) and by one region, while clouds name
services freely and register Cinder as volumev3, block-storage or volumev2.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from libcloud.common.openstack_identity import (
    OpenStackIdentity_3_0_Connection,
    OpenStackIdentityTokenScope,
    OpenStackServiceCatalog,
)

from auditor.errors import UsageError
from auditor.inventories.libcloud.common import CallCounter, guard_connection, keystone_or_read
from auditor.inventories.providers import Setting
from auditor.inventories.regions import jurisdiction_of
from auditor.model import Kind, Resource

PROVIDER = "openstack"
# Catalog service types, in order of preference (Cinder's type changed across releases).
COMPUTE = ("compute",)
VOLUME = ("volumev3", "block-storage", "volume", "volumev2")
IMAGE = ("image",)
OBJECT_STORE = ("object-store",)
# Swift shows container ACLs and sync targets only to "owners": users holding one of the
# proxy's operator_roles.  Swift's own default is these two; a cloud that adds `member` says so.
DEFAULT_SWIFT_OPERATOR_ROLES = "admin,swiftoperator"

SETTINGS = (
    Setting("auth_url", "Keystone URL, e.g. https://keystone.example:5000 (a /v3 suffix is fine)"),
    Setting("username", "Keystone user name of the auditor"),
    Setting("password", "password of that user", secret=True),
    Setting("project", "name of the project (tenant) to audit"),
    Setting("user_domain", "domain name of the user", required=False, default="Default"),
    Setting("project_domain_id", "domain id of the project", required=False, default="default"),
    Setting("regions", "comma-separated catalog regions to audit (default: all)", required=False),
    Setting(
        "jurisdiction",
        "ISO-3166 country of every region (FR), or per region (RegionOne=FR, RegionTwo=DE); "
        'the policy\'s region_overrides "openstack:REGION" win',
        required=False,
    ),
    Setting(
        "interface",
        "catalog interface: public, internal or admin",
        required=False,
        default="public",
    ),
    Setting(
        "all_projects",
        "list servers and volumes of every project (admin): true/false",
        required=False,
        default="false",
    ),
    Setting(
        "swift_operator_roles",
        "roles Swift treats as container owners (who see ACLs)",
        required=False,
        default=DEFAULT_SWIFT_OPERATOR_ROLES,
    ),
    Setting("timeout", "seconds per HTTP request", required=False, default="30"),
)


@dataclass(frozen=True)
class OpenStackConfig:
    """One cloud section, validated; the password never shows in a repr."""

    label: str
    auth_url: str
    username: str
    project: str
    user_domain: str
    project_domain_id: str
    regions: tuple[str, ...]
    countries: Mapping[str, str]
    country: str | None
    interface: str
    all_projects: bool
    swift_operator_roles: frozenset[str]
    timeout: int
    password: str = dataclasses.field(repr=False)

    @property
    def secrets(self) -> tuple[str, ...]:
        return (self.password,)

    def jurisdiction(self, region: str) -> str | None:
        """The country of a region: per-region setting, cloud-wide setting, then the table."""
        return self.countries.get(region) or self.country or jurisdiction_of(PROVIDER, region)


def _country(label: str, text: str) -> str:
    code = text.strip().upper()
    if len(code) != 2 or not code.isalpha():
        raise UsageError(
            f"openstack [{label}]: jurisdiction {text.strip()!r} is not ISO-3166 alpha-2"
        )
    return code


def _flag(label: str, name: str, text: str) -> bool:
    value = text.strip().lower()
    if value not in ("true", "false", "yes", "no", "1", "0"):
        raise UsageError(f"openstack [{label}]: {name} must be true or false")
    return value in ("true", "yes", "1")


def _split(text: str | None) -> list[str]:
    return [part.strip() for part in (text or "").split(",") if part.strip()]


def config_of(label: str, values: Mapping[str, str]) -> OpenStackConfig:
    """Validate resolved settings; a bad value names the setting, never a secret."""
    countries: dict[str, str] = {}
    country = None
    for part in _split(values.get("jurisdiction")):
        region, sep, code = part.partition("=")
        if sep:
            countries[region.strip()] = _country(label, code)
        else:
            country = _country(label, part)
    interface = values.get("interface", "public").strip().lower()
    if interface not in ("public", "internal", "admin"):
        raise UsageError(f"openstack [{label}]: interface must be public, internal or admin")
    timeout = values.get("timeout", "30").strip()
    if not timeout.isdigit() or int(timeout) == 0:
        raise UsageError(f"openstack [{label}]: timeout must be a positive number of seconds")
    auth_url = values["auth_url"].strip().rstrip("/")
    # libcloud appends /v3/auth/tokens itself: an OS_AUTH_URL ending in /v3 would double it.
    auth_url = auth_url.removesuffix("/v3")
    roles = values.get("swift_operator_roles", DEFAULT_SWIFT_OPERATOR_ROLES)
    return OpenStackConfig(
        label=label,
        auth_url=auth_url,
        username=values["username"],
        project=values["project"],
        user_domain=values.get("user_domain", "Default"),
        project_domain_id=values.get("project_domain_id", "default"),
        regions=tuple(_split(values.get("regions"))),
        countries=countries,
        country=country,
        interface=interface,
        all_projects=_flag(label, "all_projects", values.get("all_projects", "false")),
        swift_operator_roles=frozenset(r.lower() for r in _split(roles)),
        timeout=int(timeout),
        password=values["password"],
    )


class _Identity(OpenStackIdentity_3_0_Connection):
    """libcloud's v3 password identity, also keeping the token's project (libcloud drops it)."""

    token_project: Mapping[str, Any] = {}

    def _parse_token_response(
        self, response: Any, cache_it: bool = False, raise_ambiguous_version_error: bool = True
    ) -> None:
        super()._parse_token_response(  # type: ignore[no-untyped-call]
            response, cache_it, raise_ambiguous_version_error
        )
        body = response.object if isinstance(response.object, Mapping) else {}
        self.token_project = dict(body.get("token", {}).get("project") or {})


@dataclass
class Session:
    """What one Keystone authentication gave: token, whose it is, and the catalog."""

    config: OpenStackConfig
    identity: Any  # the guarded libcloud identity connection (for Keystone listings)
    counter: CallCounter
    project_id: str
    project_name: str
    project_domain: str | None
    user: Mapping[str, Any]
    roles: frozenset[str]
    catalog: Any  # libcloud OpenStackServiceCatalog (untyped)
    token: str = dataclasses.field(repr=False)

    def catalog_regions(self) -> list[str]:
        return list(self.catalog.get_regions())

    def endpoint(self, types: tuple[str, ...], region: str) -> str | None:
        """The URL of the first service type of `types` with an endpoint in `region`."""
        wanted = {"public": "external", "internal": "internal", "admin": "admin"}
        for service_type in types:
            for endpoint in self.catalog.get_endpoints(service_type=service_type):
                if (
                    endpoint.region == region
                    and endpoint.endpoint_type == wanted[self.config.interface]
                    and endpoint.url
                ):
                    return str(endpoint.url).rstrip("/")
        return None

    @property
    def secrets(self) -> tuple[str, ...]:
        return (*self.config.secrets, self.token)


def authenticate(config: OpenStackConfig) -> Session:
    """POST the password to Keystone (through the read-only guard) for a project token.

    Raises libcloud's InvalidCredsError on a refused password, or any transport error.
    """
    identity: Any = _Identity(  # type: ignore[no-untyped-call]
        auth_url=config.auth_url,
        user_id=config.username,
        key=config.password,
        tenant_name=config.project,
        domain_name=config.user_domain,
        tenant_domain_id=config.project_domain_id,
        token_scope=OpenStackIdentityTokenScope.PROJECT,
        timeout=config.timeout,
    )
    counter = guard_connection(identity, keystone_or_read)
    identity.authenticate()
    catalog = OpenStackServiceCatalog(  # type: ignore[no-untyped-call]
        service_catalog=identity.urls, auth_version="3.x_password"
    )
    roles = frozenset(str(role.name).lower() for role in identity.auth_user_roles or [])
    return Session(
        config=config,
        identity=identity,
        counter=counter,
        project_id=str(identity.token_project.get("id") or config.project),
        project_name=str(identity.token_project.get("name") or config.project),
        project_domain=(identity.token_project.get("domain") or {}).get("id"),
        user=dict(identity.auth_user_info or {}),
        roles=roles,
        catalog=catalog,
        token=str(identity.auth_token),
    )


@dataclass(frozen=True)
class Place:
    """Where resources of one region of one project sit; builds their uids and Resources.

    A uid reads like an ARN: openstack:REGION:PROJECT:TYPE/ID ("global" for Keystone).
    """

    region: str
    project: str
    jurisdiction: str | None

    def uid(self, kind: str, ident: str, project: str | None = None) -> str:
        return f"{PROVIDER}:{self.region}:{project or self.project}:{kind}/{ident}"

    def resource(
        self,
        kind: Kind,
        native_type: str,
        uid: str,
        name: str,
        tags: Mapping[str, str],
        attrs: Mapping[str, Any],
        account: str | None = None,
    ) -> Resource:
        return Resource(
            uid=uid,
            provider=PROVIDER,
            kind=kind,
            native_type=native_type,
            name=name,
            account=account or self.project,
            region=self.region,
            jurisdiction=self.jurisdiction,
            tags=dict(tags),
            attrs=dict(attrs),
        )


def user_uid(user_id: str) -> str:
    """A Keystone user, as Swift ACLs and role assignments name it (ids are unique per cloud)."""
    return f"{PROVIDER}:global::user/{user_id}"


def string_tags(metadata: Any) -> dict[str, str]:
    """OpenStack metadata (a JSON object of strings) as tags; anything else gives none."""
    if not isinstance(metadata, Mapping):
        return {}
    return {str(k): str(v) for k, v in metadata.items() if isinstance(v, str | int | float)}
