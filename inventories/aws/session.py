"""Build botocore clients that can only read: retries, timeouts and a read-only guard.

Adapters never call `session.client()` themselves; every client comes from `make_client`, which
installs the guard first, so a mutating call raises `ReadOnlyViolation` before any request is
built, let alone sent.
"""

from __future__ import annotations

import ipaddress
import json
import logging
import threading
import weakref
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import boto3
from botocore.client import BaseClient
from botocore.config import Config
from botocore.parsers import ResponseParserError

from auditor.errors import ReadOnlyViolation

log = logging.getLogger(__name__)

# At DEBUG (`govaudit -vv`) these botocore loggers print every request's headers (the session
# token), its signing material and every response body (Lambda environment values, which the
# adapters drop at once).  Credentials must never reach a log, whatever the verbosity.
WIRE_LOGGERS = ("botocore.auth", "botocore.endpoint", "botocore.parsers")
for _name in WIRE_LOGGERS:
    logging.getLogger(_name).setLevel(logging.INFO)

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


def last_operation() -> str:
    """The operation the current thread last sent: a network error does not name it."""
    return str(getattr(_calls, "operation", "") or "request")


def _count_request(event_name: str = "", **_: Any) -> None:
    _calls.count = call_count() + 1
    _calls.operation = event_name.rsplit(".", 1)[-1]


class MalformedAnswerError(ResponseParserError):  # type: ignore[misc]  # botocore has no types
    """A successful (2xx) answer that is not what the operation returns: a body that does not
    parse, or one without a field the API always sends.

    botocore reads a JSON body it cannot parse as `{"message": body}` and a missing field as an
    absent setting, so without this a proxy's error page or a cut-off answer would be taken as
    "no keys", "no policy", "no grants".
    """


_JSON_PROTOCOLS = frozenset({"json", "rest-json"})
_XML_PROTOCOLS = frozenset({"query", "ec2", "rest-xml"})


def _raw_payload(model: Any) -> bool:
    """True when the answer is a document of its own (S3's bucket policy), not JSON or XML."""
    shape = model.output_shape
    if shape is None or model.has_streaming_output:
        return True
    payload = shape.serialization.get("payload")
    return bool(payload) and shape.members[payload].type_name in ("blob", "string")


def _check_body(operation_model: Any, response_dict: dict[str, Any], **_: Any) -> None:
    """botocore `before-parse` handler: refuse a 2xx body that is not the JSON or XML expected."""
    body = response_dict.get("body") or b""
    if not 200 <= int(response_dict.get("status_code", 0)) < 300 or not body:
        return
    if _raw_payload(operation_model):
        return
    protocol = operation_model.service_model.resolved_protocol
    name = operation_model.name
    if protocol in _JSON_PROTOCOLS:
        try:
            document = json.loads(body)
        except ValueError:
            raise MalformedAnswerError(f"{name}: HTTP 200 body is not JSON") from None
        if not isinstance(document, dict):
            raise MalformedAnswerError(f"{name}: HTTP 200 body is not a JSON object")
    elif protocol in _XML_PROTOCOLS:
        try:
            # The parser botocore itself runs on these bytes next.
            parser = ET.XMLParser()  # noqa: S314
            parser.feed(body)
            parser.close()
        except ET.ParseError:
            raise MalformedAnswerError(f"{name}: HTTP 200 body is not XML") from None


def _missing(shape: Any, value: Any, path: str) -> str | None:
    """Where `value` breaks `shape` first: a null list item or map value (botocore keeps
    those), or an absent member the API model marks required; None when it does not."""
    if value is None:
        return path
    kind = shape.type_name
    if kind == "structure" and isinstance(value, dict):
        for member in shape.metadata.get("required", ()):
            if value.get(member) is None:
                return f"{path}.{member}"
        # An optional member may be None: botocore's own S3 handler sets LocationConstraint so.
        children = [
            (s, value[n], f"{path}.{n}")
            for n, s in shape.members.items()
            if value.get(n) is not None
        ]
    elif kind == "list" and isinstance(value, list):
        # AWS lists no item without a single field ({} is what an answer stripped of its values
        # parses into); an empty object elsewhere is real (IAM's RoleLastUsed of an unused role).
        if shape.member.type_name == "structure" and {} in value:
            return f"{path}[{value.index({})}]"
        children = [(shape.member, v, f"{path}[{i}]") for i, v in enumerate(value)]
    elif kind == "map" and isinstance(value, dict):
        children = [(shape.value, v, f"{path}.{k}") for k, v in value.items()]
    else:
        return None
    for child_shape, child, child_path in children:
        if (found := _missing(child_shape, child, child_path)) is not None:
            return found
    return None


def _check_shape(http_response: Any, parsed: dict[str, Any], model: Any, **_: Any) -> None:
    """botocore `after-call` handler: refuse a 2xx answer with nulls or required fields missing."""
    if model.output_shape is None or not 200 <= int(http_response.status_code) < 300:
        return
    if (found := _missing(model.output_shape, parsed, "")) is not None:
        raise MalformedAnswerError(f"{model.name}: answer without {found.lstrip('.') or 'a body'}")


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
    events.register("before-parse.*.*", _check_body, unique_id="govaudit-body")
    events.register("after-call.*.*", _check_shape, unique_id="govaudit-shape")
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
