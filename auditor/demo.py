"""`govaudit demo`: a full audit of the built-in estate, served by a local moto server."""

from __future__ import annotations

import logging
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from importlib import resources
from pathlib import Path

from auditor.demo_estate import ACCOUNTS, seed_estate
from auditor.errors import UsageError
from auditor.inventories.aws import AwsTarget
from auditor.pipeline import AwsScope

SAMPLE_POLICY = "sample-policy.yaml"


def sample_policy_path() -> Path:
    """The sample policy shipped in examples/ (installed as auditor.examples)."""
    return Path(str(resources.files("auditor.examples").joinpath(SAMPLE_POLICY)))


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextmanager
def moto_server() -> Iterator[str]:
    """Run a moto server on a free 127.0.0.1 port for the duration of the block."""
    try:
        from moto.server import ThreadedMotoServer  # late import: moto is an optional extra
    except ImportError as exc:
        raise UsageError(
            "govaudit demo needs the demo extra: pip install 'govaudit[demo]'"
        ) from exc
    # The server's access log would drown the audit's own progress lines.
    # moto also logs a traceback for each call it does not implement; the audit records
    # those as coverage rows itself.
    logging.getLogger("werkzeug").setLevel(logging.CRITICAL)
    port = _free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()


def demo_scopes(endpoint_url: str) -> list[AwsScope]:
    """Seed the estate and return one collection scope per demo account."""
    credentials = seed_estate(endpoint_url)
    return [
        AwsScope(
            targets=[
                AwsTarget(
                    credentials[account.account].session(account.regions[0]),
                    endpoint_url=endpoint_url,
                    label=f"demo account {account.account}",
                )
            ],
            regions=account.regions,
        )
        for account in ACCOUNTS
    ]
