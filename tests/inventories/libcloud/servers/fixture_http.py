"""A fixture-serving libcloud HTTP client for Aliyun (libcloud's MockHttp, routed by name).

Aliyun has no emulator (OSS signing differs from S3's, so moto cannot stand in), so ECS, SLB
and OSS answers are our own XML recordings.  The client sits where libcloud's HTTP client
sits (`connection.conn_class`), so signing, paging, parsing and the read-only guard all run;
it also checks that each request is signed with the expected key (a request without a
signature, or with another key, gets Aliyun's 403).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from libcloud.test import MockHttp


@dataclass
class AliyunFixtures:
    """Where the XML lives, the key requests must carry, and what the test injects."""

    root: Path
    access_key_id: str
    # Name prefix (e.g. "ecs_DescribeDisks_cn-hangzhou") → (HTTP status, error fixture file).
    failures: dict[str, tuple[int, str]] = field(default_factory=dict)
    # (method, host, path, query without signature fields) of every request served.
    calls: list[tuple[str, str, str, dict[str, str]]] = field(default_factory=list)

    def http_class(self) -> type[Any]:
        fixtures = self

        class FixtureHttp(MockHttp):
            def _get_request(
                self, method: str, url: str, body: Any = None, headers: Any = None
            ) -> tuple[int, str, dict[str, str], str]:
                # The client's host is a URL (https://ecs.aliyuncs.com): keep the name.
                return fixtures.answer(method, str(self.host).split("://")[-1], url)

        return FixtureHttp

    def answer(self, method: str, host: str, url: str) -> tuple[int, str, dict[str, str], str]:
        parts = urlsplit(url)
        params = dict(parse_qsl(parts.query, keep_blank_values=True))
        unsigned = {k: v for k, v in params.items() if k not in SIGNING_FIELDS}
        self.calls.append((method, host, parts.path, unsigned))
        key = params.get("AccessKeyId") or params.get("OSSAccessKeyId")
        if key != self.access_key_id or not params.get("Signature"):
            return self._serve(403, "error_signature.xml")
        name = self._name(host, params)
        for prefix, (status, file) in self.failures.items():
            if name.startswith(prefix):
                return self._serve(status, file)
        path = self.root / f"{name}.xml"
        if path.exists():
            return self._serve(200, path.name)
        absent = next((f for sub, f in ABSENT.items() if name.endswith(f"_{sub}")), None)
        if absent is not None:  # no file: the bucket has no such configuration
            return self._serve(404, absent)
        return (
            404,
            f"<Error><Code>NoFixture</Code><Message>{name}</Message></Error>",
            XML,
            "Not Found",
        )

    def _name(self, host: str, params: dict[str, str]) -> str:
        service = host.split(".")[0]
        if "Action" in params:
            name = f"{service}_{params['Action']}"
            for field_name in ("RegionId", "ImageId"):
                if params.get(field_name) and params["Action"] != "DescribeRegions":
                    name += f"_{params[field_name]}"
            page = params.get("PageNumber", "1")
            return name if page == "1" else f"{name}_p{page}"
        if host.startswith("oss."):  # oss.<domain>: the bucket listing
            marker = params.get("marker")
            return f"oss_ListBuckets_{marker}" if marker else "oss_ListBuckets"
        sub = next((s for s in ("acl", *ABSENT) if s in params), "object")
        return f"oss_{service}_{sub}"  # <bucket>.oss-<region>.<domain>

    def _serve(self, status: int, file: str) -> tuple[int, str, dict[str, str], str]:
        text = (self.root / file).read_text("utf-8").replace("{access_key_id}", self.access_key_id)
        return status, text, XML, "OK" if status < 400 else "Error"


XML = {"content-type": "text/xml;charset=utf-8"}
# What OSS answers (404 + code) for a bucket sub-resource that was never configured.
ABSENT = {
    "encryption": "error_nosuchsse.xml",
    "tagging": "error_nosuchtagset.xml",
    "replication": "error_nosuchreplication.xml",
}
SIGNING_FIELDS = frozenset(
    {
        "AccessKeyId",
        "OSSAccessKeyId",
        "Signature",
        "SignatureNonce",
        "Timestamp",
        "Expires",
        "SignatureMethod",
        "SignatureVersion",
        "Format",
        "Version",
    }
)
