"""Build botocore clients that can only read: retries, timeouts and a read-only guard.

Adapters never call `session.client()` themselves; every client comes from `make_client`, which
installs the guard first, so a mutating call raises `ReadOnlyViolation` before any request is
built, let alone sent.
"""

from __future__ import annotations

import ipaddress
import logging
import threading
import weakref
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import boto3
from botocore.client import BaseClient
from botocore.config import Config

from auditor.errors import ReadOnlyViolation

log = logging.getLogger(__name__)

# Tests lower this so an unreachable endpoint fails fast instead of backing off for minutes.
MAX_ATTEMPTS = 8
CONNECT_TIMEOUT = 10
READ_TIMEOUT = 60

# The read verbs of issue #3: an operation named with one of them only reads.
READ_PREFIXES = ("Describe", "List", "Get", "BatchGet", "Lookup", "Head")
# Operations outside the prefixes that are still reads: GenerateCredentialReport only asks IAM
# to prepare the credential report that GetCredentialReport then returns.
READ_EXCEPTIONS = frozenset({"GetCallerIdentity", "GenerateCredentialReport"})
# Operations that read but hand out credentials or customer data: an auditor of metadata has
# no business holding either, so they are refused like writes.  Listed even when the prefix
# alone would already refuse them (FilterLogEvents), so the intent survives a wider allowlist.
NEVER_CALL = frozenset(
    {
        # credentials and tokens
        "GetSessionToken",
        "GetFederationToken",
        "GetDelegatedAccessToken",
        "GetScopedCredentials",
        "GetWebIdentityToken",
        "GetAuthorizationToken",  # ECR: a docker login password
        "GetPasswordData",  # EC2: the Windows administrator password
        # customer data
        "GetSecretValue",
        "BatchGetSecretValue",
        "GetObject",
        "GetObjectTorrent",
        "GetParameter",
        "GetParameters",
        "GetParametersByPath",
        "GetItem",  # DynamoDB items
        "BatchGetItem",
        "GetLogEvents",  # CloudWatch Logs events, queries and records
        "FilterLogEvents",
        "GetQueryResults",
        "GetLogRecord",
        "GetLogObject",
        "GetDownloadUrlForLayer",  # ECR image layers
        "GetConsoleOutput",  # what an instance printed
        "GetConsoleScreenshot",
        "GetFunction",  # Lambda: answers with a pre-signed URL to the function's code
        "GetLayerVersion",  # the same for a layer's code
    }
)


# HTTP requests sent by the current thread (retries included), for per-service API counts.
_calls = threading.local()


def reset_call_count() -> None:
    _calls.count = 0


def call_count() -> int:
    return int(getattr(_calls, "count", 0))


def _count_request(**_: Any) -> None:
    _calls.count = call_count() + 1


# Every client that carries the guard; `Clients.put` accepts no other.
_GUARDED: weakref.WeakSet[BaseClient] = weakref.WeakSet()


def is_read_only(operation_name: str) -> bool:
    """Return True when `operation_name` (e.g. "GetBucketPolicy") may be called by an adapter."""
    if operation_name in NEVER_CALL:
        return False
    return operation_name in READ_EXCEPTIONS or operation_name.startswith(READ_PREFIXES)


def _guard(model: Any, **_: Any) -> None:
    """botocore event handler: refuse every operation that is not a read."""
    name = str(model.name)
    if not is_read_only(name):
        raise ReadOnlyViolation(f"refused {name}: govaudit only calls read-only APIs")


def _is_loopback_literal(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _strip_account_label(endpoint_host: str) -> Any:
    """Undo the `{AccountId}.` host label S3 Control adds, for IP-literal test endpoints only.

    Real S3 Control endpoints need that label; a loopback endpoint (moto, LocalStack) cannot
    resolve `123456789012.127.0.0.1`, so without this the account-level public access block
    could never be read in tests.
    """

    def handler(request: Any, **_: Any) -> None:
        parts = urlsplit(request.url)
        label, _dot, rest = (parts.hostname or "").partition(".")
        if label.isdigit() and rest == endpoint_host:
            netloc = parts.netloc.replace(f"{label}.", "", 1)
            request.url = urlunsplit(parts._replace(netloc=netloc))

    return handler


def make_client(
    session: boto3.Session, service: str, region: str, endpoint_url: str | None = None
) -> BaseClient:
    """Create a read-only botocore client for `service` in `region` (guard installed first)."""
    config = Config(
        region_name=region,
        retries={"mode": "adaptive", "max_attempts": MAX_ATTEMPTS},
        connect_timeout=CONNECT_TIMEOUT,
        read_timeout=READ_TIMEOUT,
        user_agent_extra="govaudit",
    )
    client = session.client(service, region_name=region, endpoint_url=endpoint_url, config=config)
    events = client.meta.events
    # Both the earliest hook (before parameters are validated) and the last one before the
    # request is signed, so a handler registered later cannot slip a write past the guard.
    events.register_first("before-parameter-build.*.*", _guard, unique_id="govaudit-ro-1")
    events.register_first("before-call.*.*", _guard, unique_id="govaudit-ro-2")
    events.register("before-send.*.*", _count_request, unique_id="govaudit-count")
    if service == "s3control" and endpoint_url:
        host = urlsplit(endpoint_url).hostname or ""
        if _is_loopback_literal(host):
            events.register("before-sign.s3-control", _strip_account_label(host))
    _GUARDED.add(client)
    log.debug("client %s in %s (endpoint %s)", service, region, endpoint_url or "default")
    return client


def partition_of(session: boto3.Session, region: str) -> str:
    """The AWS partition botocore assigns to `region` ("aws", "aws-cn", ...)."""
    return str(session.get_partition_for_region(region))


@dataclass
class Clients:
    """One guarded client per (service, region) for one target, created on first use."""

    session: boto3.Session
    endpoint_url: str | None = None
    _cache: dict[tuple[str, str], BaseClient] = field(default_factory=dict)
    # boto3 sessions are not thread-safe while they build clients; clients themselves are.
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def get(self, service: str, region: str) -> BaseClient:
        """Return the guarded client for `service` in `region`."""
        key = (service, region)
        with self._lock:
            if key not in self._cache:
                self._cache[key] = make_client(self.session, service, region, self.endpoint_url)
            return self._cache[key]

    def put(self, service: str, region: str, client: BaseClient) -> None:
        """Use `client` for (service, region); for tests that stub a guarded client."""
        if client not in _GUARDED:
            raise ReadOnlyViolation(f"refused an unguarded {service} client: use make_client")
        self._cache[(service, region)] = client
