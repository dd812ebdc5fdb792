"""The `aliyun` provider: ECS instances, disks, snapshots and images, SLB load balancers (per
region) and OSS buckets (once), with one AccessKey per cloud section.

Coverage services: ecs-regions (global, when regions are discovered), ecs, ecs-disks,
ecs-snapshots, ecs-images, slb (per region), oss (global; each bucket sits in its location's
region).  Regions map to countries through the versioned table (cn-hongkong is HK, never CN
by prefix); a region the table lacks stays unknown unless the policy's region_overrides name
it ("aliyun:REGION").  RAM users and roles are not collected (libcloud has no RAM API).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from libcloud.compute.drivers.ecs import ECSDriver
from libcloud.loadbalancer.drivers.slb import SLBDriver
from libcloud.storage.drivers.oss import OSSStorageDriver

from auditor.errors import UsageError
from auditor.inventories.libcloud.aliyun_ecs import (
    PROVIDER,
    Place,
    read_balancers,
    read_disks,
    read_images,
    read_instances,
    read_snapshots,
    rpc,
    text,
)
from auditor.inventories.libcloud.aliyun_oss import read_buckets
from auditor.inventories.libcloud.common import (
    CallCounter,
    Collected,
    Faults,
    Where,
    collect_service,
    guard_connection,
    read_verbs,
    rpc_reads,
)
from auditor.inventories.providers import ProviderSpec, Setting, register
from auditor.inventories.regions import jurisdiction_of
from auditor.model import Record

GLOBAL = "global"
# Where DescribeRegions is asked when no region is configured: any region answers for all.
DISCOVERY_REGION = "cn-hangzhou"

SETTINGS = (
    Setting("access_key_id", "AccessKey id (a RAM user with read-only policies)", secret=True),
    Setting("access_key_secret", "AccessKey secret", secret=True),
    Setting(
        "account",
        "account UID, for resource ids and coverage (default: section label)",
        required=False,
    ),
    Setting(
        "regions", "comma-separated region ids (default: all DescribeRegions lists)", required=False
    ),
    Setting(
        "ecs_endpoint",
        "ECS API host; {region} is replaced (Apsara Stack, Gov Cloud)",
        required=False,
        default="ecs.aliyuncs.com",
    ),
    Setting(
        "slb_endpoint",
        "SLB API host; {region} is replaced",
        required=False,
        default="slb.aliyuncs.com",
    ),
    Setting(
        "oss_domain",
        "domain of OSS hosts (oss-REGION.DOMAIN)",
        required=False,
        default="aliyuncs.com",
    ),
    Setting("timeout", "seconds per HTTP request", required=False, default="30"),
)


@dataclass(frozen=True)
class AliyunConfig:
    label: str
    account: str
    regions: tuple[str, ...]
    ecs_endpoint: str
    slb_endpoint: str
    oss_domain: str
    timeout: int
    key_id: str = dataclasses.field(repr=False)
    secret: str = dataclasses.field(repr=False)

    @property
    def secrets(self) -> tuple[str, str]:
        return (self.key_id, self.secret)


def config_of(label: str, values: Mapping[str, str]) -> AliyunConfig:
    timeout = values.get("timeout", "30").strip()
    if not timeout.isdigit() or int(timeout) == 0:
        raise UsageError(f"aliyun [{label}]: timeout must be a positive number of seconds")
    regions = tuple(r.strip() for r in values.get("regions", "").split(",") if r.strip())
    return AliyunConfig(
        label=label,
        account=(values.get("account") or label).strip(),
        regions=regions,
        ecs_endpoint=values.get("ecs_endpoint", "ecs.aliyuncs.com").strip(),
        slb_endpoint=values.get("slb_endpoint", "slb.aliyuncs.com").strip(),
        oss_domain=values.get("oss_domain", "aliyuncs.com").strip(),
        timeout=int(timeout),
        key_id=values["access_key_id"],
        secret=values["access_key_secret"],
    )


class AliyunScope:
    """One AccessKey: regions, then ECS and SLB region by region, then OSS.

    `http_class` replaces libcloud's HTTP client (the tests' fixture-serving connection);
    production leaves it None.
    """

    def __init__(self, config: AliyunConfig, http_class: type[Any] | None = None) -> None:
        self.config = config
        self.http_class = http_class

    def __repr__(self) -> str:
        return f"AliyunScope({self.config.label!r})"

    def _connect(
        self, connection: Any, host: str | None, allow: Callable[..., bool], counter: CallCounter
    ) -> Any:
        """Point a driver's connection at its host (and the test transport), then guard it."""
        if host:
            connection.host = host
        if self.http_class is not None:
            connection.conn_class = self.http_class
        connection.connect()
        guard_connection(connection, allow, counter)
        return connection

    def ecs(self, region: str, counter: CallCounter) -> Any:
        config = self.config
        driver: Any = ECSDriver(  # type: ignore[no-untyped-call]
            config.key_id, config.secret, region=region, timeout=config.timeout
        )
        return self._connect(
            driver.connection, config.ecs_endpoint.format(region=region), rpc_reads, counter
        )

    def slb(self, region: str, counter: CallCounter) -> Any:
        config = self.config
        driver: Any = SLBDriver(  # type: ignore[no-untyped-call]
            config.key_id, config.secret, region
        )
        driver.connection.timeout = config.timeout
        return self._connect(
            driver.connection, config.slb_endpoint.format(region=region), rpc_reads, counter
        )

    def oss(self, counter: CallCounter) -> Any:
        config = self.config
        driver: Any = OSSStorageDriver(  # type: ignore[no-untyped-call]
            config.key_id, config.secret, timeout=config.timeout
        )
        # The connection rebuilds its host per request (bucket.location.domain) from _domain.
        driver.connection._domain = config.oss_domain
        return self._connect(driver.connection, None, read_verbs, counter)

    def _service(
        self,
        region: str,
        service: str,
        read: Callable[[], Collected],
        counter: CallCounter,
        faults: Faults | None = None,
    ) -> list[Record]:
        where = Where(PROVIDER, self.config.account, region)
        return collect_service(where, service, read, counter, self.config.secrets, faults)

    def records(self) -> Iterator[Record]:
        regions = list(self.config.regions)
        if not regions:
            counter = CallCounter()
            found: list[str] = []
            yield from self._service(
                GLOBAL, "ecs-regions", lambda: self._discover(counter, found), counter
            )
            regions = found
        for region in regions:
            yield from self._region(region)
        counter = CallCounter()
        faults = Faults()
        yield from self._service(
            GLOBAL,
            "oss",
            lambda: read_buckets(self.oss(counter), self.config.account, faults),
            counter,
            faults,
        )

    def _discover(self, counter: CallCounter, found: list[str]) -> Collected:
        body = rpc(self.ecs(DISCOVERY_REGION, counter), "DescribeRegions", {})
        found += [
            text(r, "RegionId") for r in body.findall("Regions/Region") if text(r, "RegionId")
        ]
        return [], f"{len(found)} regions"

    def _region(self, region: str) -> Iterator[Record]:
        place = Place(region, self.config.account, jurisdiction_of(PROVIDER, region))
        counter = CallCounter()
        ecs = self.ecs(region, counter)
        disks: dict[str, Mapping[str, Any]] = {}
        snapshots: dict[str, Mapping[str, Any]] = {}
        faults = Faults()
        yield from self._service(region, "ecs", lambda: read_instances(ecs, place), counter)
        yield from self._service(
            region, "ecs-disks", lambda: read_disks(ecs, place, disks), counter
        )
        yield from self._service(
            region, "ecs-snapshots", lambda: read_snapshots(ecs, place, snapshots), counter
        )
        yield from self._service(
            region,
            "ecs-images",
            lambda: read_images(ecs, place, snapshots, faults),
            counter,
            faults,
        )
        slb_counter = CallCounter()
        slb = self.slb(region, slb_counter)
        yield from self._service(region, "slb", lambda: read_balancers(slb, place), slb_counter)


def build(label: str, values: Mapping[str, str]) -> AliyunScope:
    return AliyunScope(config_of(label, values))


SPEC = register(ProviderSpec(PROVIDER, "Alibaba Cloud (ECS, SLB, OSS)", SETTINGS, build))
