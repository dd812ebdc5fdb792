"""Evidence integrity: a digest of what the database holds for one run, stamped on the report.

The database file itself changes with every later audit, so its hash cannot tie a report to
its source; the digest of one run's rows can.  It covers the resources, edges, coverage and
findings of the run in a canonical order, so `govaudit verify` can recompute it from the
database and tell whether a report (or the database) was changed since.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from auditor.errors import UsageError
from auditor.store import Store

DIGEST_META = "govaudit-run-digest"
RUN_META = "govaudit-run-id"
FINDINGS_META = "govaudit-findings"


def _line(kind: str, record: dict[str, Any]) -> bytes:
    return (
        json.dumps([kind, record], sort_keys=True, ensure_ascii=False, default=str) + "\n"
    ).encode()


def run_digest(store: Store, run_id: int) -> str:
    """sha256 over the run's rows, each as canonical JSON, in a fixed order."""
    digest = hashlib.sha256()
    run = store.get_run(run_id)
    digest.update(
        _line(
            "run",
            {
                "id": run.id,
                "started_at": run.started_at,
                "policy_sha256": run.policy_sha256,
                "tool_version": run.tool_version,
            },
        )
    )
    for resource in store.resources(run_id):
        digest.update(_line("resource", asdict(resource)))
    edges = sorted(
        (asdict(e) for e in store.edges(run_id)),
        key=lambda e: (e["src"], e["dst"], e["relation"], e["evidence"]),
    )
    for edge in edges:
        digest.update(_line("edge", edge))
    for coverage in store.coverage(run_id):
        record = asdict(coverage)
        # Timings vary run to run without changing what was seen.
        record.pop("duration_ms", None)
        digest.update(_line("coverage", record))
    for finding in store.findings(run_id):
        digest.update(_line("finding", asdict(finding)))
    return digest.hexdigest()


@dataclass(frozen=True, slots=True)
class Stamp:
    """What a report says about where it came from."""

    run_id: int
    digest: str
    findings: int


def read_stamp(report: Path) -> Stamp:
    """The stamp embedded in a report.html's <meta> tags."""
    try:
        text = report.read_text("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"{report}: cannot read the report ({exc})") from exc
    found = dict(re.findall(r'<meta name="(govaudit-[a-z-]+)" content="([^"]*)">', text))
    try:
        return Stamp(int(found[RUN_META]), found[DIGEST_META], int(found[FINDINGS_META]))
    except (KeyError, ValueError) as exc:
        raise UsageError(f"{report}: not a govaudit report, or one without a run stamp") from exc


@dataclass(frozen=True, slots=True)
class Verdict:
    ok: bool
    lines: tuple[str, ...]


def verify(report: Path, store: Store) -> Verdict:
    """Recompute the run's digest from the database and compare it with the report's."""
    stamp = read_stamp(report)
    run = store.get_run(stamp.run_id)
    actual = run_digest(store, run.id)
    findings = len(store.findings(run.id))
    lines = [f"report {report}: run {run.id}, digest {stamp.digest[:16]}…"]
    ok = True
    if actual != stamp.digest:
        ok = False
        lines.append(
            f"MISMATCH: the database's rows of run {run.id} hash to {actual[:16]}…; the report "
            "was made from other data, or the database was changed since"
        )
    if findings != stamp.findings:
        ok = False
        lines.append(
            f"MISMATCH: the report lists {stamp.findings} findings, the database {findings}"
        )
    if ok:
        lines.append(f"OK: the report matches run {run.id} of the database ({findings} findings)")
    return Verdict(ok, tuple(lines))
