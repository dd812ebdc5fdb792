"""A loopback HTTP server that answers OpenStack API calls from recorded JSON fixtures.

There is no practical local Nova, Cinder or Glance (they need a message queue, placement,
neutron...), so these services are played from our own fixtures, over real HTTP on 127.0.0.1:
libcloud and the adapter run unchanged, and the same server stands behind a real Keystone's
catalog in the `openstack` tests.

`routes.json` beside the fixtures lists what is served: method, a path pattern (a `{name}`
placeholder matches one path segment), an optional query the request must contain, the
fixture file and the status.  Bodies may say `{base}` (this server's URL), `{project}` (the
caller's project, from its token) and any variable the test passes, so one recording serves a
fixture Keystone (fixed ids) and a real one (ids made at seed time).  Like a real service,
every call but the token request needs an X-Auth-Token the `validate` hook accepts (401
otherwise).
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

# Token → the project it is scoped to, or None when the token is not valid.
Validate = Callable[[str], str | None]


@dataclass(frozen=True)
class Route:
    method: str
    pattern: re.Pattern[str]
    query: Mapping[str, str]
    file: str
    status: int
    headers: Mapping[str, str]

    @classmethod
    def parse(cls, raw: Mapping[str, Any]) -> Route:
        # Any {name} placeholder matches one path segment (ids differ per Keystone).
        path = re.sub(r"\\\{\w+\\\}", "[^/]+", re.escape(str(raw["path"])))
        return cls(
            method=str(raw.get("method", "GET")),
            pattern=re.compile(path + "/?"),
            query={str(k): str(v) for k, v in raw.get("query", {}).items()},
            file=str(raw["file"]),
            status=int(raw.get("status", 200)),
            headers={str(k): str(v) for k, v in raw.get("headers", {}).items()},
        )

    def matches(self, method: str, path: str, query: Mapping[str, str]) -> bool:
        if method != self.method or not self.pattern.fullmatch(path):
            return False
        return all(query.get(k) == v for k, v in self.query.items())


@dataclass
class Failure:
    """An injected answer for every call to a path (and method): errors, throttling."""

    status: int
    body: str = '{"error": {"message": "injected", "code": 0}}'
    headers: Mapping[str, str] = field(default_factory=lambda: {"Retry-After": "1"})


class FixtureServer:
    """Serves `root/routes.json` on 127.0.0.1; `calls` records (method, path) of each request."""

    def __init__(
        self,
        root: Path,
        validate: Validate,
        variables: Mapping[str, str] | None = None,
        token_handler: Callable[[bytes], tuple[int, str, dict[str, str]]] | None = None,
    ) -> None:
        self.root = root
        routes = json.loads((root / "routes.json").read_text("utf-8"))
        # Routes with a query first: a page-2 route must win over the page-1 route.
        self.routes = sorted((Route.parse(r) for r in routes), key=lambda r: -len(r.query))
        self.validate = validate
        self.variables = dict(variables or {})
        self.token_handler = token_handler
        self.failures: dict[tuple[str, str], Failure] = {}
        self.calls: list[tuple[str, str]] = []
        self._httpd: ThreadingHTTPServer | None = None
        self.base = ""

    def start(self) -> str:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                server.answer(self)

            def do_HEAD(self) -> None:
                server.answer(self)

            def do_POST(self) -> None:
                server.answer(self)

            def do_PUT(self) -> None:
                server.answer(self)

            def do_DELETE(self) -> None:
                server.answer(self)

            def do_PATCH(self) -> None:
                server.answer(self)

            def log_message(self, format: str, *args: Any) -> None:
                pass  # keep pytest output clean; `calls` is the record

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base = f"http://127.0.0.1:{self._httpd.server_address[1]}"
        # A short poll: shutdown() waits for it, once per test.
        threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        ).start()
        return self.base

    def stop(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()

    def fail(self, method: str, path: str, failure: Failure) -> None:
        self.failures[(method, path)] = failure

    def answer(self, handler: BaseHTTPRequestHandler) -> None:
        parts = urlsplit(handler.path)
        method, path = handler.command, parts.path
        query = dict(parse_qsl(parts.query, keep_blank_values=True))
        self.calls.append((method, path))
        length = int(handler.headers.get("Content-Length") or 0)
        body = handler.rfile.read(length) if length else b""
        if path.endswith("/v3/auth/tokens") and method == "POST" and self.token_handler:
            status, text, headers = self.token_handler(body)
            return self._send(handler, status, self._fill(text, {}), headers)
        failure = self.failures.get((method, path))
        if failure is not None:
            return self._send(handler, failure.status, failure.body, dict(failure.headers))
        project = self.validate(handler.headers.get("X-Auth-Token") or "")
        if project is None:
            error = '{"error": {"message": "The request you have made requires authentication."}}'
            return self._send(handler, 401, error, {})
        for route in self.routes:
            if route.matches(method, path, query):
                text = (self.root / route.file).read_text("utf-8")
                values = {"project": project}
                headers = {k: self._fill(v, values) for k, v in route.headers.items()}
                return self._send(handler, route.status, self._fill(text, values), headers)
        return self._send(handler, 404, '{"itemNotFound": {"message": "no fixture"}}', {})

    def _fill(self, text: str, extra: Mapping[str, str]) -> str:
        for name, value in {"base": self.base, **self.variables, **extra}.items():
            text = text.replace("{" + name + "}", value)
        return text

    @staticmethod
    def _send(
        handler: BaseHTTPRequestHandler, status: int, body: str, headers: Mapping[str, str]
    ) -> None:
        data = body.encode("utf-8")
        handler.send_response(status)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(len(data)))
        for name, value in headers.items():
            handler.send_header(name, value)
        handler.end_headers()
        if handler.command != "HEAD":
            handler.wfile.write(data)
