"""What every libcloud adapter shares: the read-only guard, outcomes, coverage rows, safe details.

The guard is the one promise govaudit makes to a cloud: it never changes it.  An adapter
guards each libcloud connection before its first call::

    calls = guard_connection(driver.connection, read_verbs)        # S3, Swift, OSS: GET/HEAD
    calls = guard_connection(driver.connection, keystone_or_read)  # OpenStack (+ token POST)
    calls = guard_connection(driver.connection, rpc_reads)         # Aliyun ECS/SLB RPC

and then collects each service through
`collect_service(Where(provider, account, region), service, read, calls, secrets, faults)`,
which times it, counts its calls and turns any failure into one coverage row through
`outcome_of` and `safe_detail` (a `ReadOnlyViolation` is never swallowed: it stops the run,
since it means an adapter bug).  Per-fact reads that fail while the service as a whole
succeeds are noted in `Faults`: the records stay and the row takes the worst outcome met.
APIs that bypass libcloud connections (Outscale OAPI calls `requests.post` itself) check each
action with `check_action(action, OAPI_READ_PREFIXES)`.

Nothing here may carry a secret into a record: `safe_detail` builds the one-line coverage
detail from the exception's type, HTTP status and a scrubbed message.
"""

from __future__ import annotations

import re
import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from libcloud.common.exceptions import BaseHTTPError, RateLimitReachedError
from libcloud.common.types import InvalidCredsError, LibcloudError

from auditor.errors import ReadOnlyViolation
from auditor.model import Coverage, Outcome, Record

# --- the read-only guard ---------------------------------------------------------------------


@dataclass(frozen=True)
class Request:
    """One HTTP request as the guard sees it: upper-case method, URL path, query parameters
    (plus form-encoded body parameters, where RPC APIs may put `Action`)."""

    method: str
    path: str
    params: Mapping[str, str] = field(default_factory=dict)


# Decides whether a request is a read; anything it refuses raises ReadOnlyViolation.
Allow = Callable[[Request], bool]

READ_METHODS = frozenset({"GET", "HEAD"})
# Keystone hands out a token for a POST of the credentials: the only write-looking call allowed.
KEYSTONE_TOKEN_PATHS = ("/v3/auth/tokens", "/v2.0/tokens")
RPC_READ_PREFIXES = ("Describe", "List")
OAPI_READ_PREFIXES = ("Read",)


def read_verbs(request: Request) -> bool:
    """HTTP-verb APIs (S3, Swift, OSS, OpenStack services): GET and HEAD only."""
    return request.method in READ_METHODS


def keystone_or_read(request: Request) -> bool:
    """GET/HEAD, or the POST that asks Keystone for a token (v3 or v2.0)."""
    if read_verbs(request):
        return True
    return request.method == "POST" and request.path.rstrip("/").endswith(KEYSTONE_TOKEN_PATHS)


def rpc_reads(request: Request) -> bool:
    """Aliyun-style RPC (`?Action=...`): only Describe*/List* actions, over GET or POST."""
    if request.method not in READ_METHODS | {"POST"}:
        return False
    return request.params.get("Action", "").startswith(RPC_READ_PREFIXES)


def check_action(action: str, prefixes: tuple[str, ...]) -> None:
    """Refuse an action-named call (Outscale OAPI: Read*) whose name is not a read."""
    if not action.startswith(prefixes):
        raise ReadOnlyViolation(
            f"refused API action {action!r}: govaudit only makes read calls "
            f"({'/'.join(p + '*' for p in prefixes)})"
        )


def check_request(request: Request, allow: Allow) -> None:
    """Raise ReadOnlyViolation unless `allow` says the request is a read.

    The message names the method, path and action only: never the query (signatures, keys).
    """
    if not allow(request):
        action = request.params.get("Action")
        named = f" Action={action}" if action else ""
        raise ReadOnlyViolation(
            f"refused {request.method} {request.path}{named}: govaudit only makes read calls"
        )


def request_of(method: str, url: str, body: Any = None) -> Request:
    """The guard's view of an HTTP call, from a relative or absolute URL and its body."""
    parts = urlsplit(url)
    params = dict(parse_qsl(parts.query, keep_blank_values=True))
    # An RPC POST may carry Action in a form body instead of the query.
    if isinstance(body, bytes):
        body = body.decode("utf-8", "replace")
    if isinstance(body, str) and "Action=" in body and "Action" not in params:
        params.update(parse_qsl(body, keep_blank_values=True))
    return Request(method.upper(), parts.path or "/", params)


@dataclass
class CallCounter:
    """How many API calls a guarded connection let through (for coverage `api_calls`)."""

    total: int = 0


def _guarded_http_class(base: type[Any], allow: Allow) -> type[Any]:
    """A subclass of libcloud's HTTP client class that checks every request it sends.

    This layer sees every request of the connection, including Keystone's: libcloud's identity
    connection copies its parent's `conn_class`.
    """

    class Guarded(base):  # type: ignore[misc]
        _govaudit_allow = staticmethod(allow)

        def request(self, method: str, url: str, body: Any = None, *a: Any, **kw: Any) -> Any:
            check_request(request_of(method, url, body), allow)
            return super().request(method, url, body, *a, **kw)

        def prepared_request(
            self, method: str, url: str, body: Any = None, *a: Any, **kw: Any
        ) -> Any:
            check_request(request_of(method, url, body), allow)
            return super().prepared_request(method, url, body, *a, **kw)

    Guarded.__name__ = f"Guarded{base.__name__}"
    return Guarded


def _guard_http_instance(http: Any, allow: Allow) -> None:
    """Wrap an already-open HTTP client in place (drivers connect in their constructor)."""
    for name in ("request", "prepared_request"):
        original = getattr(http, name, None)
        if original is None:
            continue

        def checked(
            method: str, url: str, body: Any = None, *a: Any, _o: Any = original, **kw: Any
        ) -> Any:
            check_request(request_of(method, url, body), allow)
            return _o(method, url, body, *a, **kw)

        setattr(http, name, checked)


def guard_connection(
    connection: Any, allow: Allow, counter: CallCounter | None = None
) -> CallCounter:
    """Make every request of a libcloud `Connection` pass `allow`, and count them.

    Checked twice, so neither layer can be skipped by accident: `Connection.request` (what
    drivers call) and the HTTP client below it, whose class is also replaced so a reconnect
    (or the Keystone connection built from this one) stays guarded.  Returns the counter.
    """
    counter = counter if counter is not None else CallCounter()
    connection.conn_class = _guarded_http_class(connection.conn_class, allow)
    if getattr(connection, "connection", None) is not None:
        _guard_http_instance(connection.connection, allow)
    unguarded = getattr(connection, "_govaudit_unguarded_request", connection.request)

    def request(action: str, params: Mapping[str, Any] | None = None, *a: Any, **kw: Any) -> Any:
        method = str(kw.get("method", a[2] if len(a) > 2 else "GET"))
        query = {str(k): str(v) for k, v in (params or {}).items()}
        path = urlsplit(action).path or "/"
        inline = dict(parse_qsl(urlsplit(action).query, keep_blank_values=True))
        check_request(Request(method.upper(), path, {**inline, **query}), allow)
        counter.total += 1
        return unguarded(action, params, *a, **kw)

    connection._govaudit_unguarded_request = unguarded
    connection.request = request
    return counter


# --- outcomes and coverage -------------------------------------------------------------------

DENIED_CODES = frozenset({401, 403})
THROTTLED_CODES = frozenset({429})


def http_status(exc: BaseException) -> int | None:
    """The HTTP status an exception carries (libcloud or requests), if any."""
    for attr in ("http_code", "code", "status"):
        value = getattr(exc, attr, None)
        if isinstance(value, int) and 100 <= value <= 599:
            return value
    response = getattr(exc, "response", None)
    status = getattr(response, "status_code", None)
    return status if isinstance(status, int) else None


def outcome_of(exc: BaseException) -> Outcome:
    """Map a collection failure to a coverage outcome.

    InvalidCredsError and HTTP 401/403 → DENIED; RateLimitReachedError and 429 → THROTTLED;
    everything else (network, timeouts, unparsable answers, other HTTP errors) → ERROR.
    """
    if isinstance(exc, ReadOnlyViolation):
        raise exc  # an adapter bug, never a coverage row
    if isinstance(exc, InvalidCredsError):
        return Outcome.DENIED
    if isinstance(exc, RateLimitReachedError):
        return Outcome.THROTTLED
    status = http_status(exc)
    if status in DENIED_CODES:
        return Outcome.DENIED
    if status in THROTTLED_CODES:
        return Outcome.THROTTLED
    return Outcome.ERROR


# URLs lose their user-info and query (signatures, tokens); long opaque runs look like keys.
_URL = re.compile(r"\b([a-z][a-z0-9+.-]*://)(?:[^/\s@]*@)?([^\s?#]*)(?:\?[^\s#]*)?", re.I)
# a bare path with its query ("url: /?Action=...&Signature=..."): the query goes.
_PATH_QUERY = re.compile(r"(?<!\S)(/[^\s?#]*)\?[^\s#]*")
# a run of 20+ key characters holding a digit: error codes (letters only) survive.
_OPAQUE = re.compile(r"(?=[A-Za-z0-9+/=_-]*\d)[A-Za-z0-9+/=_-]{20,}")
_SECRET_FIELD = re.compile(
    r"(?i)\b(password|secret|token|signature|access[_-]?key(?:id)?|credential|authorization)"
    r"(\s*[:=]\s*|\"\s*:\s*\"|>)[^\s,;&<\"']*"
)
DETAIL_LIMIT = 200


def safe_text(text: str, secrets: Iterable[str] = ()) -> str:
    """One line, no known secret, no URL query or user-info, no key-like run, bounded length."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    text = _URL.sub(r"\1\2", text)
    text = _PATH_QUERY.sub(r"\1", text)
    text = _SECRET_FIELD.sub(r"\1\2***", text)
    text = _OPAQUE.sub("***", text)
    line = " ".join(text.split())
    return line if len(line) <= DETAIL_LIMIT else line[: DETAIL_LIMIT - 1] + "…"


def safe_detail(exc: BaseException, secrets: Iterable[str] = ()) -> str:
    """The coverage detail of a failure: type, HTTP status, scrubbed first words of the message."""
    name = type(exc).__name__
    status = http_status(exc)
    message = exc.message if isinstance(exc, BaseHTTPError) else str(exc)
    if isinstance(exc, LibcloudError):
        message = str(exc.value)
    text = safe_text(str(message), secrets)
    head = f"{name} HTTP {status}" if status else name
    return f"{head}: {text}" if text else head


@dataclass(frozen=True)
class Where:
    """Which cloud a coverage row speaks of: provider, account label, region ("global")."""

    provider: str
    account: str
    region: str


def coverage_row(
    where: Where,
    service: str,
    outcome: Outcome,
    detail: str = "",
    duration_ms: int = 0,
    api_calls: int = 0,
    secrets: Iterable[str] = (),
) -> Coverage:
    """A coverage row whose detail is scrubbed to one safe line."""
    return Coverage(
        where.provider,
        where.account,
        where.region,
        service,
        outcome,
        safe_text(detail, secrets),
        duration_ms,
        api_calls,
    )


@dataclass
class Faults:
    """Per-fact reads that failed while a service was otherwise collected: they keep the
    service's records but turn its coverage row from ok into the worst outcome met."""

    met: list[tuple[str, str, Outcome]] = field(default_factory=list)

    def note(self, what: str, code: str, outcome: Outcome) -> None:
        self.met.append((what, code, outcome))

    def verdict(self) -> tuple[Outcome, str] | None:
        """(worst outcome, "faults: GetAcl AccessDenied×2, ...") or None when none met."""
        if not self.met:
            return None
        outcomes = {outcome for _, _, outcome in self.met}
        worst = next(o for o in (Outcome.ERROR, Outcome.THROTTLED, Outcome.DENIED) if o in outcomes)
        counts = Counter((what, code) for what, code, _ in self.met)
        shown = [f"{what} {code}×{n}" for (what, code), n in counts.most_common(3)]
        if len(counts) > len(shown):
            shown.append(f"{len(counts) - len(shown)} more")
        return worst, "faults: " + ", ".join(shown)


# What a service reader returns: its records and a one-line detail ("3 buckets").
Collected = tuple[list[Record], str]


def collect_service(
    where: Where,
    service: str,
    read: Callable[[], Collected],
    counter: CallCounter | None = None,
    secrets: Iterable[str] = (),
    faults: Faults | None = None,
) -> list[Record]:
    """Run one service reader: its records and one coverage row, or on failure only the row.

    The row is timed and counts the calls the guarded connection let through meanwhile;
    `faults` the reader noted (a denied per-bucket read) set its outcome, records kept.
    `ReadOnlyViolation` propagates: the run must stop rather than record a refused write.
    """
    secrets = tuple(secrets)
    before = counter.total if counter is not None else 0
    started = time.monotonic()
    records: list[Record] = []
    try:
        records, detail = read()
        outcome = Outcome.OK
        verdict = faults.verdict() if faults is not None else None
        if verdict is not None:
            outcome, detail = verdict[0], f"{detail}; {verdict[1]}"
    except ReadOnlyViolation:
        raise
    except Exception as exc:  # every failure becomes a coverage row
        outcome, detail = outcome_of(exc), safe_detail(exc, secrets)
    elapsed = int((time.monotonic() - started) * 1000)
    calls = (counter.total - before) if counter is not None else 0
    return [*records, coverage_row(where, service, outcome, detail, elapsed, calls, secrets)]
