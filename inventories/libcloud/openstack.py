"""The `openstack` provider: every region of a Keystone catalog, one project per cloud section.

Per region it collects Nova servers, Cinder volumes and snapshots, Glance images and Swift
containers (coverage services nova, cinder, cinder-snapshots, glance, swift); once per cloud
the token's project, user and roles (keystone), then other projects, users and role
assignments where the credentials allow (keystone-projects, keystone-users,
keystone-role-assignments).  A service the catalog lacks in a region is `not_enabled` there.

Regions are deployment-specific names: their country comes from the section's `jurisdiction`
setting or the policy's `region_overrides` ("openstack:REGION"), else it stays unknown.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from libcloud.compute.drivers.openstack import OpenStack_2_NodeDriver
from libcloud.storage.drivers.cloudfiles import OpenStackSwiftStorageDriver

from auditor.errors import ReadOnlyViolation
from auditor.inventories.libcloud import keystone
from auditor.inventories.libcloud.common import (
    CallCounter,
    Collected,
    Faults,
    Where,
    collect_service,
    coverage_row,
    guard_connection,
    outcome_of,
    read_verbs,
    safe_detail,
)
from auditor.inventories.libcloud.openstack_compute import (
    read_images,
    read_servers,
    read_snapshots,
    read_volumes,
)
from auditor.inventories.libcloud.openstack_session import (
    COMPUTE,
    IMAGE,
    OBJECT_STORE,
    PROVIDER,
    SETTINGS,
    VOLUME,
    OpenStackConfig,
    Place,
    Session,
    authenticate,
    config_of,
)
from auditor.inventories.libcloud.openstack_storage import read_containers
from auditor.inventories.providers import ProviderSpec, register
from auditor.model import Outcome, Record

GLOBAL = "global"
# Drivers are given the token, never the password: they must not authenticate again.
NO_PASSWORD = "token-auth"  # noqa: S105 - a placeholder, not a credential
DRIVER_CONNECTIONS = (
    "connection",
    "image_connection",
    "volumev2_connection",
    "volumev3_connection",
    "network_connection",
    "reservation_connection",
)


@dataclass(frozen=True)
class Urls:
    compute: str | None
    volume: str | None
    image: str | None
    object_store: str | None

    @classmethod
    def of(cls, session: Session, region: str) -> Urls:
        return cls(
            *(session.endpoint(types, region) for types in (COMPUTE, VOLUME, IMAGE, OBJECT_STORE))
        )


def _driver_kwargs(session: Session, base: str) -> dict[str, Any]:
    config = session.config
    return {
        "ex_force_auth_url": config.auth_url,
        "ex_force_auth_version": "3.x_password",
        "ex_force_auth_token": session.token,
        "ex_tenant_name": config.project,
        "ex_domain_name": config.user_domain,
        "ex_force_base_url": base,
        "timeout": config.timeout,
    }


def compute_driver(session: Session, urls: Urls, counter: CallCounter) -> Any:
    """One OpenStack_2_NodeDriver for the region's Nova, Cinder and Glance, every connection
    guarded (GET/HEAD only)."""
    base = urls.compute or urls.volume or urls.image
    assert base is not None
    kwargs = _driver_kwargs(session, base)
    if urls.volume:
        kwargs["ex_force_volume_url"] = urls.volume
    if urls.image:
        kwargs["ex_force_image_url"] = urls.image
    driver = OpenStack_2_NodeDriver(  # type: ignore[no-untyped-call]
        session.config.username, NO_PASSWORD, **kwargs
    )
    for name in DRIVER_CONNECTIONS:
        connection = getattr(driver, name, None)
        if connection is not None:
            guard_connection(connection, read_verbs, counter)
    return driver


def swift_connection(session: Session, url: str, counter: CallCounter) -> Any:
    driver = OpenStackSwiftStorageDriver(  # type: ignore[no-untyped-call]
        session.config.username, NO_PASSWORD, **_driver_kwargs(session, url)
    )
    guard_connection(driver.connection, read_verbs, counter)
    return driver.connection


class OpenStackScope:
    """One cloud section: authenticate once, then collect region by region."""

    def __init__(self, config: OpenStackConfig) -> None:
        self.config = config

    def __repr__(self) -> str:
        return f"OpenStackScope({self.config.label!r})"

    def records(self) -> Iterator[Record]:
        config = self.config
        started = time.monotonic()
        try:
            session = authenticate(config)
            records, detail = keystone.own_identity(session)
        except ReadOnlyViolation:
            raise
        except Exception as exc:  # no token, no catalog: one row says why, nothing else runs
            elapsed = int((time.monotonic() - started) * 1000)
            where = Where(PROVIDER, config.project, GLOBAL)
            detail = safe_detail(exc, config.secrets)
            yield coverage_row(
                where, "keystone", outcome_of(exc), detail, elapsed, 1, config.secrets
            )
            return
        # The keystone row counts the token request (timed here, before the project id was known).
        elapsed = int((time.monotonic() - started) * 1000)
        yield from records
        where = Where(PROVIDER, session.project_id, GLOBAL)
        calls = session.counter.total
        yield coverage_row(where, "keystone", Outcome.OK, detail, elapsed, calls, session.secrets)
        for region in self._regions(session):
            yield from self._region(session, region)
        yield from self._identity(session)

    def _regions(self, session: Session) -> list[str]:
        catalog = session.catalog_regions()
        return list(self.config.regions) or catalog

    def _service(
        self,
        session: Session,
        region: str,
        service: str,
        read: Callable[[], Collected],
        counter: CallCounter | None,
        faults: Faults | None = None,
    ) -> list[Record]:
        where = Where(PROVIDER, session.project_id, region)
        return collect_service(where, service, read, counter, session.secrets, faults)

    def _absent(self, session: Session, region: str, service: str, what: str) -> Record:
        where = Where(PROVIDER, session.project_id, region)
        if region not in session.catalog_regions():
            detail = f"region {region} is not in the Keystone catalog"
            return coverage_row(where, service, Outcome.ERROR, detail)
        return coverage_row(
            where, service, Outcome.NOT_ENABLED, f"no {what} endpoint in region {region}"
        )

    def _region(self, session: Session, region: str) -> Iterator[Record]:
        config = self.config
        urls = Urls.of(session, region)
        place = Place(region, session.project_id, config.jurisdiction(region))
        counter = CallCounter()
        driver = (
            compute_driver(session, urls, counter)
            if urls.compute or urls.volume or urls.image
            else None
        )
        if driver is None or urls.compute is None:
            yield self._absent(session, region, "nova", "compute")
        else:
            yield from self._service(
                session,
                region,
                "nova",
                lambda: read_servers(driver, place, config.all_projects),
                counter,
            )
        volumes: dict[str, Mapping[str, Any]] = {}
        if driver is None or urls.volume is None:
            yield self._absent(session, region, "cinder", "block-storage")
            yield self._absent(session, region, "cinder-snapshots", "block-storage")
        else:
            conn = driver.volumev3_connection
            yield from self._service(
                session,
                region,
                "cinder",
                lambda: read_volumes(conn, place, config.all_projects, volumes),
                counter,
            )
            yield from self._service(
                session,
                region,
                "cinder-snapshots",
                lambda: read_snapshots(conn, place, config.all_projects, volumes),
                counter,
            )
        if driver is None or urls.image is None:
            yield self._absent(session, region, "glance", "image")
        else:
            faults = Faults()
            yield from self._service(
                session,
                region,
                "glance",
                lambda: read_images(driver.image_connection, place, faults),
                counter,
                faults,
            )
        if urls.object_store is None:
            yield self._absent(session, region, "swift", "object-store")
        else:
            swift = swift_connection(session, urls.object_store, counter)
            owner = bool(session.roles & config.swift_operator_roles)
            faults = Faults()
            yield from self._service(
                session,
                region,
                "swift",
                lambda: read_containers(swift, place, owner, faults),
                counter,
                faults,
            )

    def _identity(self, session: Session) -> Iterator[Record]:
        counter = session.counter
        faults = Faults()
        yield from self._service(
            session,
            GLOBAL,
            "keystone-projects",
            lambda: keystone.read_projects(session, faults),
            counter,
            faults,
        )
        yield from self._service(
            session, GLOBAL, "keystone-users", lambda: keystone.read_users(session), counter
        )
        yield from self._service(
            session,
            GLOBAL,
            "keystone-role-assignments",
            lambda: keystone.read_role_assignments(session),
            counter,
        )


def build(label: str, values: Mapping[str, str]) -> OpenStackScope:
    return OpenStackScope(config_of(label, values))


SPEC = register(
    ProviderSpec(PROVIDER, "OpenStack (Keystone, Nova, Cinder, Glance, Swift)", SETTINGS, build)
)
