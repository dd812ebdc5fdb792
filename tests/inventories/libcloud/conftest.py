"""Servers for the OpenStack tests: the fixture server (always), and a real Keystone and Swift
(marker `openstack`, session-scoped) from the venv `.ci/openstack-servers.sh` builds."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.inventories.libcloud.servers import openstack_servers as real
from tests.inventories.libcloud.servers import seed_openstack
from tests.inventories.libcloud.servers.fixture_server import FixtureServer, Validate

FIXTURES = Path(__file__).parent / "fixtures"
OPENSTACK_FIXTURES = FIXTURES / "openstack"
# Ids the fixture Keystone hands out (a real Keystone makes its own at seed time).
FIXTURE_IDS = {
    "project": "6a1b2c3d4e5f40718293a4b5c6d7e8f9",
    "auditor": "a1a1a1a1b2b2c3c3d4d4e5e5f6f6a7a7",
    "vendor_project": "45b9e9102b5f474eba68e1cbc127d96c",
    "vendor_domain": "9639562cb01a40688364cd46f0ee7506",
    "vendor_user": "79820900c7fe4d8c98c03dd315b1d448",
    "operator_project": "0e0e0e0e0e0e40e0a0e0e0e0e0e0e0e0",
    "auditors_project": "77aa77aa77aa47aa87aa77aa77aa77aa",
}
FIXTURE_PASSWORD = "fixture-Pw-5521"
FIXTURE_TOKEN = "gAAAAABfixturetoken0000000000000000000000000000"
ADMIN_PASSWORD = "admin-Pw-3307"


def _fixture_keystone(body: bytes) -> tuple[int, str, dict[str, str]]:
    """The token request of the fixture Keystone: the recorded answer for the right password."""
    sent = json.loads(body or b"{}")
    password = sent.get("auth", {}).get("identity", {}).get("password", {}).get("user", {})
    if password.get("password") != FIXTURE_PASSWORD:
        return (
            401,
            '{"error": {"code": 401, "message": "The request you have made requires '
            'authentication."}}',
            {},
        )
    text = (OPENSTACK_FIXTURES / "keystone_token.json").read_text("utf-8")
    for name, value in FIXTURE_IDS.items():
        text = text.replace("{" + name + "}", value)
    return 201, text, {"X-Subject-Token": FIXTURE_TOKEN}


@pytest.fixture
def fixture_cloud() -> Iterator[FixtureServer]:
    """OpenStack played from fixtures, Keystone included (auth_url = {base}/identity)."""
    server = FixtureServer(
        OPENSTACK_FIXTURES,
        validate=lambda token: FIXTURE_IDS["project"] if token == FIXTURE_TOKEN else None,
        variables=FIXTURE_IDS,
        token_handler=_fixture_keystone,
    )
    server.start()
    yield server
    server.stop()


@dataclass
class RealCloud:
    """A real Keystone and Swift, seeded, with Nova/Cinder/Glance from the fixture server."""

    keystone: str
    swift: str
    fixtures: FixtureServer
    estate: seed_openstack.Estate
    workdir: Path
    startup_seconds: float


def _keystone_validator(keystone: str, admin: dict[str, str]) -> Validate:
    """Token → project, as a real service checks it: ask Keystone (cached per token)."""
    cache: dict[str, str | None] = {}

    def validate(token: str) -> str | None:
        if token and token not in cache:
            try:
                _, _, body = seed_openstack.call(
                    "GET",
                    f"{keystone}/v3/auth/tokens",
                    admin["token"],
                    headers={"X-Subject-Token": token},
                )
                cache[token] = str(body["token"]["project"]["id"])
            except RuntimeError:
                cache[token] = None
        return cache.get(token)

    return validate


@pytest.fixture(scope="session")
def real_cloud(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RealCloud]:
    venv = real.venv_path()
    if not real.venv_ready(venv):
        pytest.skip(
            f"no OpenStack servers venv at {venv} (or no memcached): run .ci/openstack-servers.sh"
        )
    started = time.monotonic()
    workdir = tmp_path_factory.mktemp("openstack-servers")
    processes = real.Processes(workdir)
    fixtures: FixtureServer | None = None
    try:
        memcached = real.start_memcached(processes)
        keystone = real.start_keystone(venv, processes, ADMIN_PASSWORD)
        swift = real.start_swift(
            venv, processes, keystone, memcached, seed_openstack.PASSWORDS["swift"]
        )
        admin: dict[str, str] = {}
        fixtures = FixtureServer(OPENSTACK_FIXTURES, validate=_keystone_validator(keystone, admin))
        base = fixtures.start()
        estate = seed_openstack.seed(keystone, swift, base, ADMIN_PASSWORD)
        admin["token"] = estate.admin_token
        fixtures.variables.update(
            {
                "auditor": estate.ids["user:auditor"],
                "vendor_project": estate.project("vendor-ops"),
                "vendor_domain": estate.ids["domain:vendor-domain"],
                "vendor_user": estate.ids["user:vendor-engineer"],
                "operator_project": estate.project("service"),
                "auditors_project": estate.project("service"),
            }
        )
        yield RealCloud(keystone, swift, fixtures, estate, workdir, time.monotonic() - started)
    except (RuntimeError, TimeoutError) as exc:
        logs = "\n".join(
            f"--- {name}\n{processes.log_tail(name)}" for name, _, _ in processes.started
        )
        pytest.fail(f"OpenStack servers did not start: {exc}\n{logs}", pytrace=False)
    finally:
        if fixtures is not None:
            fixtures.stop()
        processes.stop()
