"""Fault injection at botocore's HTTP layer, in front of the real moto server.

A `FaultInjector` hooks `before-send.<service-id>.<Operation>` on the boto3 sessions an audit
uses; clients copy their session's handlers when they are made, so every client the adapters
build afterwards carries the fault.  The hook either raises what botocore's HTTP session
raises on a dead socket, or answers in moto's place with a response botocore parses as if it
came off the wire: retries, error parsing and response parsing all run for real.
"""

from __future__ import annotations

import json
import threading
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from enum import StrEnum
from functools import cache
from typing import Any

import boto3
import botocore.session
from botocore.awsrequest import AWSResponse, HeadersDict
from botocore.exceptions import ConnectionClosedError, ReadTimeoutError
from botocore.httpsession import URLLib3Session


class Fault(StrEnum):
    DENIED = "denied"  # 403/400 with the service's own AccessDenied body
    THROTTLED = "throttled"  # the service's throttling error on every attempt
    TIMEOUT = "timeout"  # the read times out on every attempt
    RESET = "reset"  # the connection drops on every attempt
    MALFORMED = "malformed"  # HTTP 200 with a proxy's HTML error page instead of XML/JSON
    TRUNCATED = "truncated"  # HTTP 200 with moto's answer cut in half
    NULLS = "nulls"  # moto's answer with every value null (JSON) or every leaf gone (XML)


# How each wire protocol says "denied" and "slow down": (error code, HTTP status).
DENIED_ERRORS = {
    "query": ("AccessDenied", 403),
    "ec2": ("UnauthorizedOperation", 403),
    "rest-xml": ("AccessDenied", 403),
    "json": ("AccessDeniedException", 400),
    "rest-json": ("AccessDeniedException", 403),
}
THROTTLING_ERRORS = {
    "query": ("Throttling", 400),
    "ec2": ("RequestLimitExceeded", 503),
    "rest-xml": ("SlowDown", 503),
    "json": ("ThrottlingException", 400),
    "rest-json": ("TooManyRequestsException", 429),
}
# SNS answers a denial with its own code.
SERVICE_DENIED = {"sns": ("AuthorizationError", 403)}

# What nginx serves when the upstream is gone; `<hr>` is not closed, so it is not XML either.
PROXY_PAGE = (
    b"<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n"
    b"<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx</center>\r\n"
    b"</body>\r\n</html>\r\n"
)
REQUEST_ID = "f4a17000-0000-4000-8000-000000000000"


@cache
def _models() -> botocore.session.Session:
    return botocore.session.get_session()


@cache
def protocol_of(service: str) -> str:
    return str(_models().get_service_model(service).resolved_protocol)


@cache
def _http() -> URLLib3Session:
    """The connection pool that fetches moto's real answer before it is broken."""
    return URLLib3Session()


@cache
def service_id(service: str) -> str:
    """The hyphenated service id botocore names events with ("logs" -> "cloudwatch-logs")."""
    return str(_models().get_service_model(service).service_id.hyphenize())


class _Body:
    """The `raw` of an AWSResponse: botocore only ever streams it."""

    def __init__(self, body: bytes) -> None:
        self._body = body

    def stream(self, **_: Any) -> Any:
        yield self._body


def _response(url: str, status: int, headers: dict[str, str], body: bytes) -> AWSResponse:
    merged = HeadersDict({**headers, "Content-Length": str(len(body))})
    merged.setdefault("x-amzn-RequestId", REQUEST_ID)
    return AWSResponse(url, status, merged, _Body(body))


def error_body(service: str, code: str) -> tuple[dict[str, str], bytes]:
    """Headers and body of an error in `service`'s wire protocol, as AWS words it."""
    protocol = protocol_of(service)
    message = f"injected {code}"
    if protocol == "json":
        headers = {"Content-Type": "application/x-amz-json-1.1"}
        if _models().get_service_model(service).metadata.get("awsQueryCompatible") is not None:
            headers["x-amzn-query-error"] = f"{code};Sender"
        return headers, json.dumps({"__type": code, "message": message}).encode()
    if protocol == "rest-json":
        headers = {"Content-Type": "application/json", "x-amzn-ErrorType": code}
        return headers, json.dumps({"message": message}).encode()
    if protocol == "ec2":
        body = (
            f"<Response><Errors><Error><Code>{code}</Code><Message>{message}</Message>"
            f"</Error></Errors><RequestID>{REQUEST_ID}</RequestID></Response>"
        )
    elif protocol == "query":
        body = (
            f"<ErrorResponse><Error><Type>Sender</Type><Code>{code}</Code>"
            f"<Message>{message}</Message></Error><RequestId>{REQUEST_ID}</RequestId>"
            "</ErrorResponse>"
        )
    else:
        body = (
            f"<Error><Code>{code}</Code><Message>{message}</Message>"
            f"<RequestId>{REQUEST_ID}</RequestId></Error>"
        )
    return {"Content-Type": "text/xml"}, f'<?xml version="1.0" encoding="UTF-8"?>{body}'.encode()


def _null_json(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _null_json(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_null_json(v) for v in value]
    return None


def _strip_leaves(node: ET.Element) -> None:
    for child in list(node):
        if len(child):
            _strip_leaves(child)
        else:
            node.remove(child)


def nulled(body: bytes) -> bytes:
    """`body` with every value null (JSON) or every leaf element gone (XML): the same shape,
    none of the facts.  S3 answers some XML operations with a JSON document (a bucket policy),
    so the body decides, not the protocol; a body that is neither comes back unchanged."""
    try:
        return json.dumps(_null_json(json.loads(body))).encode()
    except ValueError:
        pass
    try:
        root = ET.fromstring(body)
    except ET.ParseError:
        return body
    if len(root):
        _strip_leaves(root)
    else:
        # An answer that is a single element (S3's LocationConstraint) carries its value as text.
        root.text = None
    return ET.tostring(root)


# Headers that describe moto's body; a body changed in flight must not carry them.
_BODY_HEADERS = ("content-length", "content-md5", "x-amz-crc32", "content-encoding")


@dataclass
class FaultInjector:
    """Inject `fault` into every request of `service`'s `operation` on the sessions installed."""

    service: str  # botocore service name: "s3", "logs", "lambda"
    operation: str  # API operation: "GetBucketEncryption"
    fault: Fault
    # Requests answered or broken by the fault (a retry is another request).
    injected: int = 0
    # Requests of the operation seen, faulted or not.
    seen: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def event(self) -> str:
        return f"before-send.{service_id(self.service)}.{self.operation}"

    @property
    def unique_id(self) -> str:
        return f"fault-{self.service}-{self.operation}-{self.fault}"

    def install(self, session: boto3.Session) -> None:
        session.events.register(self.event, self.handle, unique_id=self.unique_id)

    def remove(self, session: boto3.Session) -> None:
        session.events.unregister(self.event, self.handle, unique_id=self.unique_id)

    def _count(self, injected: bool) -> None:
        with self._lock:
            self.seen += 1
            self.injected += int(injected)

    def handle(self, request: Any, **_: Any) -> AWSResponse | None:
        """botocore `before-send` handler: a response replaces the request; None sends it."""
        fault = self.fault
        if fault is Fault.TIMEOUT:
            self._count(True)
            raise ReadTimeoutError(endpoint_url=request.url)
        if fault is Fault.RESET:
            self._count(True)
            raise ConnectionClosedError(endpoint_url=request.url)
        if fault in (Fault.DENIED, Fault.THROTTLED):
            table = DENIED_ERRORS if fault is Fault.DENIED else THROTTLING_ERRORS
            code, status = table[protocol_of(self.service)]
            if fault is Fault.DENIED:
                code, status = SERVICE_DENIED.get(self.service, (code, status))
            headers, body = error_body(self.service, code)
            self._count(True)
            return _response(request.url, status, headers, body)
        if fault is Fault.MALFORMED:
            self._count(True)
            return _response(request.url, 200, {"Content-Type": "text/html"}, PROXY_PAGE)
        return self._mangle(request)

    def _mangle(self, request: Any) -> AWSResponse:
        """Send the request to moto, then break its successful answer in flight."""
        real = _http().send(request)
        body = real.content
        headers = {k: v for k, v in real.headers.items() if k.lower() not in _BODY_HEADERS}
        changed = body
        if 200 <= real.status_code < 300 and body:
            truncated = self.fault is Fault.TRUNCATED
            changed = body[: len(body) // 2] if truncated else nulled(body)
        self._count(changed != body)
        return _response(request.url, real.status_code, headers, changed)
