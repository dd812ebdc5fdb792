"""A counting reverse proxy in front of a moto server, so two tools' API calls count alike.

    url, counter, stop = start("http://127.0.0.1:5000")
    # point a tool at `url` (endpoint_url=url, or AWS_ENDPOINT_URL=url) ...
    print(counter.total(), counter.by_operation())
    stop()

Every request is forwarded verbatim (method, path and query, headers including Host, body) to
the upstream and the upstream's answer is returned verbatim, so SigV4 signatures (which cover
Host) and S3 path-style addressing reach moto as the tool sent them.  Only the hop-by-hop
headers of each leg (Connection, Keep-Alive, Transfer-Encoding framing, Expect) are the
proxy's own; `Expect: 100-continue` is answered by the proxy, not forwarded.

It also serves as an HTTP forward proxy (``HTTP_PROXY=<url>``): absolute request targets go to
the upstream too, whatever their host, so S3 Control's account-prefixed host
(``123456789012.127.0.0.1``, which does not resolve) still reaches moto.

Each request is counted once as (service, operation):

- service: the signing name of the SigV4 credential scope (``.../<region>/<service>/aws4_request``,
  header or pre-signed query), else the host's first label;
- operation: the `X-Amz-Target` suffix (JSON APIs: DynamoDB, KMS, Logs, SQS), the `Action` of a
  query API (EC2, IAM, SNS, STS, and SQS's older protocol) from the query string or the form
  body, the operation of a Smithy RPCv2 path (``/service/<svc>/operation/<Op>``), else the
  botocore operation whose HTTP method and request URI template match (REST APIs: S3, S3
  Control, Lambda, Backup).  What none of these names is counted as ``"<METHOD> ?"``.

Run it alone for manual use (prints the counts as JSON on Ctrl-C or SIGTERM), or around one
command, whose ``{url}`` arguments become the proxy's URL (also exported as AWS_ENDPOINT_URL):

    python bench/counting_proxy.py http://127.0.0.1:5000 --port 5001
    python bench/counting_proxy.py http://127.0.0.1:5000 -- \\
        .venv/bin/python bench/probe.py {url} /tmp/b.db examples/sample-policy.yaml 8
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from functools import cache
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

# Headers that describe one connection, not the request: never forwarded as they came.
HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-connection",
        "proxy-authenticate",
        "proxy-authorization",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
        "expect",
    }
)
SCOPE = re.compile(r"Credential=[^/,\s]+/\d{8}/[^/]+/([^/]+)/aws4_request")
RPCV2 = re.compile(r"^/service/[^/]+/operation/([^/?]+)")
# Signing names whose REST operations live in another botocore model as well (or instead).
REST_MODELS = {
    "s3": ("s3", "s3control"),
    "monitoring": ("cloudwatch",),
    "access-analyzer": ("accessanalyzer",),
    "elasticfilesystem": ("efs",),
    "es": ("es", "opensearch"),
}
UPSTREAM_TIMEOUT = 120


class CallCounter:
    """Requests seen per (service, operation) and per HTTP status; safe across threads."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._calls: Counter[tuple[str, str]] = Counter()
        self._statuses: Counter[int] = Counter()
        self._errors: Counter[tuple[str, str, int]] = Counter()

    def add(self, service: str, operation: str, status: int) -> None:
        with self._lock:
            self._calls[(service, operation)] += 1
            self._statuses[status] += 1
            if status >= 400:
                self._errors[(service, operation, status)] += 1

    def reset(self) -> None:
        with self._lock:
            self._calls.clear()
            self._statuses.clear()
            self._errors.clear()

    def errors(self) -> dict[str, int]:
        """``{"service.Operation status": n}`` of the answers with HTTP status 400 and above."""
        with self._lock:
            found = self._errors.most_common()
        return {f"{s}.{op} {code}": n for (s, op, code), n in found}

    def snapshot(self) -> Counter[tuple[str, str]]:
        with self._lock:
            return Counter(self._calls)

    def statuses(self) -> Counter[int]:
        with self._lock:
            return Counter(self._statuses)

    def total(self) -> int:
        with self._lock:
            return sum(self._calls.values())

    def by_service(self) -> Counter[str]:
        out: Counter[str] = Counter()
        for (service, _), n in self.snapshot().items():
            out[service] += n
        return out

    def by_operation(self) -> dict[str, int]:
        """``{"service.Operation": n}``, most called first (the shape bench/probe.py prints)."""
        return {f"{s}.{op}": n for (s, op), n in self.snapshot().most_common()}

    def as_dict(self) -> dict[str, Any]:
        statuses = self.statuses()
        return {
            "requests": sum(statuses.values()),
            "errors": sum(n for code, n in statuses.items() if code >= 400),
            "statuses": {str(code): n for code, n in sorted(statuses.items())},
            "by_service": dict(self.by_service().most_common()),
            "by_operation": self.by_operation(),
            "errors_by_operation": self.errors(),
        }


# --- naming a request --------------------------------------------------------------------


# (method, path regex, required query items, required headers, specificity, operation)
Route = tuple[str, re.Pattern[str], tuple[str, ...], tuple[str, ...], int, str]


@cache
def _rest_routes(service: str) -> tuple[Route, ...]:
    """The REST routes of a botocore model, to name a request by method, path, query, headers.

    Operations sharing a URI template (S3's PutObject, CopyObject, UploadPart on
    ``PUT /{Bucket}/{Key+}``) differ by their required query and header members.
    """
    from botocore.exceptions import UnknownServiceError

    try:
        model = _botocore_session().get_service_model(service)
    except UnknownServiceError:
        return ()
    routes: list[Route] = []
    for name in model.operation_names:
        operation = model.operation_model(name)
        http = operation.http
        template, _, query = http.get("requestUri", "/").partition("?")
        pattern = re.sub(
            r"\\\{([^}]+?)\\\}",
            lambda m: ".+" if m.group(1).endswith("+") else "[^/]+",
            re.escape(template.rstrip("/")),
        )
        needs = [q for q in query.split("&") if q]
        need_headers = []
        shape = operation.input_shape
        for member in shape.required_members if shape is not None else ():
            where = shape.members[member].serialization
            if where.get("location") == "querystring":
                needs.append(where.get("name", member))
            elif where.get("location") == "header":
                need_headers.append(where.get("name", member).lower())
        literal = len(re.sub(r"\{[^}]*\}", "", template))
        score = literal + 100 * (len(needs) + len(need_headers))
        # Same route, two names (S3's GetBucketLifecycle and ...Configuration): the current one.
        score -= 1 if operation.deprecated else 0
        regex = re.compile(f"^{pattern}/?$")
        method = http.get("method", "GET")
        routes.append((method, regex, tuple(needs), tuple(need_headers), score, name))
    return tuple(routes)


@cache
def _botocore_session() -> Any:
    import botocore.session

    return botocore.session.get_session()


_ROUTES_LOCK = threading.Lock()


def _rest_operation(
    models: tuple[str, ...], method: str, path: str, query: str, headers: dict[str, str]
) -> tuple[str, str] | None:
    """(botocore service, operation) of the best matching REST route, if any."""
    items = parse_qsl(query, keep_blank_values=True)
    keys = {k for k, _ in items}
    pairs = {f"{k}={v}" for k, v in items}
    best: tuple[int, str, str] | None = None
    for service in models:
        with _ROUTES_LOCK:  # botocore's loader is not meant to be raced on first load
            routes = _rest_routes(service)
        for verb, regex, needs, need_headers, score, name in routes:
            if verb != method or (best is not None and score <= best[0]):
                continue
            if (
                regex.match(path or "/")
                and all((n in pairs) if "=" in n else (n in keys) for n in needs)
                and all(h in headers for h in need_headers)
            ):
                best = (score, service, name)
    return best[1:] if best else None


def classify(method: str, target: str, headers: dict[str, str], body: bytes) -> tuple[str, str]:
    """(service, operation) of one request; `headers` keys in lower case."""
    split = urlsplit(target)
    path, query = split.path, split.query
    if path.startswith("/moto-api"):
        return ("moto-api", path)
    found = SCOPE.search(headers.get("authorization", "")) or SCOPE.search(
        query.replace("%2F", "/").replace("X-Amz-Credential=", "Credential=")
    )
    host = headers.get("host", "").split(":")[0]
    label = host.split(".")[0] if host and not host.replace(".", "").isdigit() else "unknown"
    service = found.group(1) if found else label
    amz_target = headers.get("x-amz-target")
    if amz_target:
        return (service, amz_target.rsplit(".", 1)[-1])
    rpc = RPCV2.match(path)
    if rpc:
        return (service, rpc.group(1))
    action = dict(parse_qsl(query)).get("Action")
    if action is None and "x-www-form-urlencoded" in headers.get("content-type", ""):
        action = dict(parse_qsl(body.decode("utf-8", "replace"))).get("Action")
    if action:
        return (service, action)
    models = REST_MODELS.get(service, (service,))
    found_rest = _rest_operation(models, method, path, query, headers)
    return found_rest or (service, f"{method} ?")


# --- the proxy ---------------------------------------------------------------------------


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 256  # Prowler opens many connections at once; 5 would drop SYNs

    def __init__(self, address: tuple[str, int], upstream: str, counter: CallCounter) -> None:
        super().__init__(address, _Handler)
        split = urlsplit(upstream)
        if split.scheme != "http" or not split.hostname:
            raise ValueError(f"upstream must be http://host:port, not {upstream!r}")
        self.upstream_host = split.hostname
        self.upstream_port = split.port or 80
        self.counter = counter
        self.open_sockets: set[socket.socket] = set()
        self.sockets_lock = threading.Lock()


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as botocore expects
    # Headers and body go out in two writes: with Nagle on, the second waits for the client's
    # delayed ACK (40 ms on Linux) on every kept-alive request.
    disable_nagle_algorithm = True
    timeout = 300  # an idle client connection is dropped after this
    server: _Server

    def setup(self) -> None:
        super().setup()
        self._upstream: http.client.HTTPConnection | None = None
        with self.server.sockets_lock:
            self.server.open_sockets.add(self.connection)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            with self.server.sockets_lock:
                self.server.open_sockets.discard(self.connection)
            if self._upstream is not None:
                self._upstream.close()

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _read_body(self) -> tuple[bytes, bool]:
        """The request body, de-chunked; and whether it came chunked."""
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            chunks = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip(), 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass  # trailers
                    break
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
            return b"".join(chunks), True
        length = int(self.headers.get("Content-Length") or 0)
        return (self.rfile.read(length) if length else b""), False

    def _send_upstream(
        self, body: bytes, chunked: bool, headers: list[tuple[str, str]]
    ) -> http.client.HTTPResponse:
        for attempt in (1, 2):
            fresh = self._upstream is None
            if self._upstream is None:
                self._upstream = http.client.HTTPConnection(
                    self.server.upstream_host, self.server.upstream_port, timeout=UPSTREAM_TIMEOUT
                )
            conn = self._upstream
            try:
                conn.putrequest(self.command, self.path, skip_host=True, skip_accept_encoding=True)
                for name, value in headers:
                    conn.putheader(name, value)
                if chunked:
                    conn.putheader("Transfer-Encoding", "chunked")
                    conn.endheaders(_chunks(body), encode_chunked=True)
                else:
                    conn.endheaders(body or None)  # Content-Length passed on as sent
                return conn.getresponse()
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                # A kept-alive upstream connection the server had closed: nothing reached
                # it, so one retry on a fresh connection sends the request exactly once.
                conn.close()
                self._upstream = None
                if fresh or attempt == 2:
                    raise
        raise AssertionError("unreachable")  # pragma: no cover

    def _proxy(self) -> None:
        if self.path.startswith(("http://", "https://")):
            # Used as HTTP_PROXY: an absolute target whose host need not resolve (S3 Control's
            # "123456789012.127.0.0.1"); it goes to the upstream all the same, Host untouched.
            split = urlsplit(self.path)
            self.path = split.path + (f"?{split.query}" if split.query else "") or "/"
        body, chunked = self._read_body()
        headers = [(k, v) for k, v in self.headers.items() if k.lower() not in HOP_BY_HOP]
        lower = {k.lower(): v for k, v in self.headers.items()}
        service, operation = classify(self.command, self.path, lower, body)
        try:
            response = self._send_upstream(body, chunked, headers)
            payload = response.read()
        except OSError as exc:
            if self._upstream is not None:
                self._upstream.close()
                self._upstream = None
            self.server.counter.add(service, operation, 502)
            message = f"counting proxy: upstream failed: {exc}".encode()
            self.send_response_only(502)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(message)))
            self.end_headers()
            self.wfile.write(message)
            return
        self.server.counter.add(service, operation, response.status)
        # send_response_only: no Server/Date of the proxy's own; the upstream's are passed on.
        self.send_response_only(response.status, response.reason)
        for name, value in response.getheaders():
            if name.lower() not in HOP_BY_HOP and name.lower() != "content-length":
                self.send_header(name, value)
        no_body = self.command == "HEAD" or response.status in (204, 304) or response.status < 200
        if self.command == "HEAD":
            length = response.getheader("Content-Length")
            if length is not None:
                self.send_header("Content-Length", length)
        elif not no_body:
            self.send_header("Content-Length", str(len(payload)))
        if response.will_close:
            self._upstream = None
        self.end_headers()
        if not no_body:
            self.wfile.write(payload)

    # BaseHTTPRequestHandler dispatches on these names.
    do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = do_PATCH = do_OPTIONS = _proxy  # noqa: N815


def _chunks(body: bytes) -> Iterator[bytes]:
    if body:
        yield body


def start(upstream: str, port: int = 0) -> tuple[str, CallCounter, Callable[[], None]]:
    """Serve a counting proxy to `upstream` on 127.0.0.1; return (url, counter, stop)."""
    counter = CallCounter()
    server = _Server(("127.0.0.1", port), upstream, counter)
    thread = threading.Thread(target=server.serve_forever, name="counting-proxy", daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{server.server_address[1]}"

    def stop() -> None:
        server.shutdown()
        with server.sockets_lock:
            for sock in list(server.open_sockets):
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
        server.server_close()
        thread.join(timeout=5)

    return url, counter, stop


def run_counted(upstream: str, command: list[str]) -> dict[str, Any]:
    """Run `command` (``{url}`` in it replaced by the proxy's URL, which is also exported as
    AWS_ENDPOINT_URL and HTTP_PROXY) through a fresh proxy: its exit code, wall time, peak RSS,
    CPU seconds and the requests it made."""
    url, counter, stop = start(upstream)
    argv = [part.replace("{url}", url) for part in command]
    try:
        started = time.perf_counter()
        env = {**os.environ, "AWS_ENDPOINT_URL": url, "HTTP_PROXY": url, "http_proxy": url}
        child = subprocess.Popen(argv, env=env)
        _, status, usage = os.wait4(child.pid, 0)
        wall = time.perf_counter() - started
        child.returncode = os.waitstatus_to_exitcode(status)
    finally:
        stop()
    return {
        "command": argv,
        "exit_code": child.returncode,
        "wall_s": round(wall, 2),
        "peak_rss_mb": round(usage.ru_maxrss / 1024, 1),
        "cpu_s": round(usage.ru_utime + usage.ru_stime, 2),
        "api": counter.as_dict(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0],
        epilog="With a command after --, run it through the proxy and print its counts as the "
        "last line of JSON; without, serve until Ctrl-C or SIGTERM, then print them.",
    )
    parser.add_argument("upstream", help="the moto server, e.g. http://127.0.0.1:5000")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("command", nargs=argparse.REMAINDER, help="-- command {url} ...")
    args = parser.parse_args()
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if command:
        result = run_counted(args.upstream, command)
        print(json.dumps(result, ensure_ascii=False))
        sys.exit(result["exit_code"])
    url, counter, stop = start(args.upstream, args.port)
    print(f"counting proxy {url} -> {args.upstream}", flush=True)
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    with contextlib.suppress(KeyboardInterrupt):
        done.wait()
    stop()
    print(json.dumps(counter.as_dict(), indent=1))


if __name__ == "__main__":
    main()
