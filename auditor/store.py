"""The audit database: the only module that writes SQL.

Every audit is a run.  Rows of all tables carry their `run_id`, so a new audit never touches
an earlier one, and a run that dies midway stays `incomplete` beside the complete ones.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from itertools import islice
from pathlib import Path
from typing import Any

import sqlite_utils

from auditor.errors import StoreError
from auditor.model import (
    Coverage,
    Edge,
    Finding,
    Kind,
    Outcome,
    Record,
    Relation,
    Resource,
    Severity,
    Status,
    WaiverMark,
)

RUN_INCOMPLETE = "incomplete"
RUN_COMPLETE = "complete"

# How long a command waits for another process's write to finish before it gives up (exit 4).
# A long wait makes two audits on one file take turns instead of failing: each of their
# transactions is one batch, so neither holds the lock for long.
BUSY_TIMEOUT_S = 60.0

_SCHEMA: dict[str, tuple[dict[str, type], tuple[str, ...] | str]] = {
    "runs": (
        {
            "id": int,
            "started_at": str,
            "finished_at": str,
            "status": str,
            "tool_version": str,
            "policy_path": str,
            "policy_sha256": str,
            "accounts": str,
            "regions": str,
            "checked_at": str,
        },
        "id",
    ),
    "resources": (
        {
            "run_id": int,
            "uid": str,
            "provider": str,
            "kind": str,
            "native_type": str,
            "name": str,
            "account": str,
            "region": str,
            "partition": str,
            "jurisdiction": str,
            "tags": str,
            "attrs": str,
        },
        ("run_id", "uid"),
    ),
    "edges": (
        {
            "run_id": int,
            "src": str,
            "dst": str,
            "relation": str,
            "evidence": str,
            "conditions": str,
        },
        ("run_id", "src", "dst", "relation", "evidence"),
    ),
    "coverage": (
        {
            "run_id": int,
            "provider": str,
            "account": str,
            "region": str,
            "service": str,
            "outcome": str,
            "detail": str,
            "duration_ms": int,
            "api_calls": int,
        },
        ("run_id", "provider", "account", "region", "service"),
    ),
    "findings": (
        {
            "run_id": int,
            "check_id": str,
            "resource": str,
            "status": str,
            "severity": str,
            "title": str,
            "theme": str,
            "account": str,
            "region": str,
            "jurisdiction": str,
            "message": str,
            "evidence": str,
            "remediation": str,
            "fix_command": str,
            "waiver": str,
        },
        ("run_id", "check_id", "resource"),
    ),
}
_INDEXES = {"resources": ("run_id", "kind"), "findings": ("run_id", "status")}


@dataclass(frozen=True, slots=True)
class RunInfo:
    """One audit run as recorded in the `runs` table."""

    id: int
    started_at: str
    finished_at: str | None
    status: str
    tool_version: str
    policy_path: str
    policy_sha256: str
    accounts: tuple[str, ...]
    regions: tuple[str, ...]
    checked_at: str | None


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _batched(items: Iterable[Any], size: int) -> Iterator[list[Any]]:
    iterator = iter(items)
    while batch := list(islice(iterator, size)):
        yield batch


class _Connection(sqlite3.Connection):
    """A connection that reports a lock held past the busy timeout as a StoreError.

    sqlite3 raises OperationalError, which the CLI would treat as a bug (exit 5, traceback);
    waiting for another process is the user's situation to resolve, so it is one line, exit 4.
    """

    label = ""

    def execute(self, sql: str, parameters: Any = (), /) -> sqlite3.Cursor:
        try:
            return super().execute(sql, parameters)
        except sqlite3.OperationalError as exc:
            self._raise_if_busy(exc)
            raise

    def commit(self) -> None:
        try:
            super().commit()
        except sqlite3.OperationalError as exc:
            self._raise_if_busy(exc)
            raise

    def _raise_if_busy(self, exc: sqlite3.OperationalError) -> None:
        if exc.sqlite_errorcode & 0xFF in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED):
            raise StoreError(
                f"{self.label}: the database stayed locked by another process for "
                f"{BUSY_TIMEOUT_S:g} s ({exc}); run again once it has finished"
            ) from exc


class Store:
    """An audit database file on disk (SQLite through sqlite-utils)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            conn = sqlite3.connect(path, timeout=BUSY_TIMEOUT_S, factory=_Connection)
            conn.label = str(path)
            self.db = sqlite_utils.Database(conn)
            self._ensure_schema()
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"{path}: not a usable audit database ({exc})") from exc

    @contextmanager
    def _writing(self) -> Iterator[None]:
        """One transaction for the whole block, taking the write lock before anything else.

        sqlite-utils commits each call in a transaction of its own, so `with conn:` around
        several calls never made them one: a kill between them left a re-check's findings
        deleted and not yet replaced.  Inside an open transaction it uses savepoints instead,
        and the block commits or vanishes as a whole.  Its own transactions also begin
        deferred and read the schema before writing; SQLite refuses that read-to-write
        upgrade at once while another process writes ("database is locked": waiting could
        deadlock), where BEGIN IMMEDIATE waits its turn within the busy timeout.
        """
        conn = self.db.conn
        conn.execute("begin immediate")
        try:
            yield
            conn.commit()
        except BaseException:
            conn.rollback()
            raise

    def _schema_current(self) -> bool:
        tables = set(self.db.table_names())
        for name, (columns, _pk) in _SCHEMA.items():
            if name not in tables or not set(columns) <= set(self.db.table(name).columns_dict):
                return False
        return all(
            list(indexed) in [index.columns for index in self.db.table(name).indexes]
            for name, indexed in _INDEXES.items()
        )

    def _ensure_schema(self) -> None:
        # Looking first keeps commands that only read (report, verify) from queueing for the
        # write lock behind an audit in progress.
        if self._schema_current():
            return
        # Two audits starting on a new file both get here; under the lock the second finds
        # the first one's tables and only fills in what is still missing.
        with self._writing():
            for name, (columns, pk) in _SCHEMA.items():
                table = self.db.table(name)
                if not table.exists():
                    table.create(columns, pk=pk, not_null={"run_id"} if name != "runs" else None)
                    continue
                # A database written by an older govaudit gains the newer columns, empty.
                for column, kind in columns.items():
                    if column not in table.columns_dict:
                        table.add_column(column, kind)
            for name, indexed in _INDEXES.items():
                self.db.table(name).create_index(list(indexed), if_not_exists=True)

    def close(self) -> None:
        self.db.conn.close()

    # runs ---------------------------------------------------------------------------------

    def begin_run(self, *, tool_version: str, policy_path: str, policy_sha256: str) -> int:
        """Open a new run, marked incomplete until `finish_run`."""
        with self._writing():
            table = self.db.table("runs")
            table.insert(
                {
                    "started_at": _now(),
                    "status": RUN_INCOMPLETE,
                    "tool_version": tool_version,
                    "policy_path": policy_path,
                    "policy_sha256": policy_sha256,
                    "accounts": "[]",
                    "regions": "[]",
                }
            )
            run_id = table.last_pk
        assert isinstance(run_id, int)
        return run_id

    def finish_run(self, run_id: int, *, accounts: Iterable[str], regions: Iterable[str]) -> None:
        """Mark a run's collection complete."""
        with self._writing():
            self.db.table("runs").update(
                run_id,
                {
                    "finished_at": _now(),
                    "status": RUN_COMPLETE,
                    "accounts": json.dumps(sorted(set(accounts))),
                    "regions": json.dumps(sorted(set(regions))),
                },
            )

    def runs(self) -> list[RunInfo]:
        """All runs, oldest first."""
        return [_run_from_row(row) for row in self.db.table("runs").rows_where(order_by="id")]

    def get_run(self, run_id: int) -> RunInfo:
        rows = list(self.db.table("runs").rows_where("id = ?", [run_id]))
        if not rows:
            raise StoreError(f"{self.path}: no run {run_id}")
        return _run_from_row(rows[0])

    def latest_run(self) -> RunInfo:
        """The newest complete run."""
        rows = list(
            self.db.table("runs").rows_where(
                "status = ?", [RUN_COMPLETE], order_by="id desc", limit=1
            )
        )
        if not rows:
            raise StoreError(f"{self.path}: holds no complete run; run `govaudit collect` first")
        return _run_from_row(rows[0])

    # inventory ----------------------------------------------------------------------------

    def add_records(self, run_id: int, records: Iterable[Record], batch_size: int = 500) -> None:
        """Write records in batches, each batch in one transaction."""
        for batch in _batched(records, batch_size):
            resources = [_resource_row(run_id, r) for r in batch if isinstance(r, Resource)]
            edges = [_edge_row(run_id, r) for r in batch if isinstance(r, Edge)]
            coverage = [_coverage_row(run_id, r) for r in batch if isinstance(r, Coverage)]
            with self._writing():
                # Upserts: the same bucket seen twice (say, listed from two regions) is one row.
                if resources:
                    self.db.table("resources").upsert_all(
                        resources, pk=("run_id", "uid"), batch_size=2000
                    )
                if edges:
                    self.db.table("edges").insert_all(edges, ignore=True, batch_size=2000)
                if coverage:
                    self.db.table("coverage").upsert_all(
                        coverage, pk=("run_id", "provider", "account", "region", "service")
                    )

    def resources(self, run_id: int, kind: Kind | None = None) -> Iterator[Resource]:
        where = "run_id = ?"
        args: list[Any] = [run_id]
        if kind is not None:
            where += " and kind = ?"
            args.append(kind.value)
        for row in self.db.table("resources").rows_where(where, args, order_by="uid"):
            yield Resource(
                uid=row["uid"],
                provider=row["provider"],
                kind=Kind(row["kind"]),
                native_type=row["native_type"],
                name=row["name"],
                account=row["account"],
                region=row["region"],
                partition=row["partition"],
                jurisdiction=row["jurisdiction"],
                tags=json.loads(row["tags"] or "{}"),
                attrs=json.loads(row["attrs"] or "{}"),
            )

    def edges(self, run_id: int) -> Iterator[Edge]:
        for row in self.db.table("edges").rows_where("run_id = ?", [run_id], order_by="rowid"):
            yield Edge(
                src=row["src"],
                dst=row["dst"],
                relation=Relation(row["relation"]),
                evidence=row["evidence"],
                conditions=json.loads(row["conditions"] or "{}"),
            )

    def coverage(self, run_id: int) -> list[Coverage]:
        return [
            Coverage(
                provider=row["provider"],
                account=row["account"],
                region=row["region"],
                service=row["service"],
                outcome=Outcome(row["outcome"]),
                detail=row["detail"] or "",
                duration_ms=row["duration_ms"] or 0,
                api_calls=row["api_calls"] or 0,
            )
            for row in self.db.table("coverage").rows_where(
                "run_id = ?", [run_id], order_by="account, region, service"
            )
        ]

    # findings -----------------------------------------------------------------------------

    def replace_findings(self, run_id: int, findings: Iterable[Finding]) -> None:
        """Store a run's findings, replacing any from an earlier check of the same run."""
        rows = [_finding_row(run_id, f) for f in findings]
        # One transaction: killed between the delete and the insert, a re-check must leave
        # the run's earlier findings, not none.
        with self._writing():
            self.db.execute("delete from findings where run_id = ?", [run_id])
            if rows:
                # Large statements: a tenth of the round trips of sqlite-utils' default 100.
                self.db.table("findings").insert_all(rows, replace=True, batch_size=2000)
            self.db.table("runs").update(run_id, {"checked_at": _now()})

    def failing_counts(self, up_to: int, runs: int = 8) -> list[tuple[RunInfo, dict[str, int]]]:
        """Failing, unwaived findings by severity for the last checked complete runs up to
        `up_to` (oldest first): the committee's trend, counted in SQL so it stays cheap."""
        chosen = [
            r for r in self.runs() if r.id <= up_to and r.checked_at and r.status == "complete"
        ][-runs:]
        if not chosen:
            return []
        # Run ids travel as parameters; a range keeps the query text constant.
        rows = self.db.execute(
            "select run_id, severity, count(*) from findings where status = 'FAIL' "
            "and (waiver is null or json_extract(waiver, '$.state') != 'waived') "
            "and run_id between ? and ? group by run_id, severity",
            [chosen[0].id, chosen[-1].id],
        ).fetchall()
        counts: dict[int, dict[str, int]] = {r.id: {} for r in chosen}
        for run_id, severity, n in rows:
            if run_id in counts:  # runs in the range that were incomplete or unchecked
                counts[run_id][severity] = n
        return [(r, counts[r.id]) for r in chosen]

    def findings(self, run_id: int) -> list[Finding]:
        return [
            Finding(
                check_id=row["check_id"],
                status=Status(row["status"]),
                severity=Severity(row["severity"]),
                resource=row["resource"],
                message=row["message"],
                title=row["title"] or "",
                theme=row["theme"] or "",
                account=row["account"],
                region=row["region"],
                jurisdiction=row["jurisdiction"],
                evidence=tuple(json.loads(row["evidence"] or "[]")),
                remediation=row["remediation"] or "",
                fix_command=row["fix_command"] or "",
                waiver=WaiverMark(**json.loads(row["waiver"])) if row.get("waiver") else None,
            )
            for row in self.db.table("findings").rows_where(
                "run_id = ?", [run_id], order_by="check_id, resource"
            )
        ]


def _run_from_row(row: dict[str, Any]) -> RunInfo:
    return RunInfo(
        id=row["id"],
        started_at=row["started_at"],
        finished_at=row["finished_at"],
        status=row["status"],
        tool_version=row["tool_version"],
        policy_path=row["policy_path"] or "",
        policy_sha256=row["policy_sha256"] or "",
        accounts=tuple(json.loads(row["accounts"] or "[]")),
        regions=tuple(json.loads(row["regions"] or "[]")),
        checked_at=row["checked_at"],
    )


def _resource_row(run_id: int, r: Resource) -> dict[str, Any]:
    return {
        "run_id": run_id,
        "uid": r.uid,
        "provider": r.provider,
        "kind": r.kind.value,
        "native_type": r.native_type,
        "name": r.name,
        "account": r.account,
        "region": r.region,
        "partition": r.partition,
        "jurisdiction": r.jurisdiction,
        "tags": json.dumps(dict(r.tags), ensure_ascii=False, sort_keys=True),
        "attrs": json.dumps(dict(r.attrs), ensure_ascii=False, sort_keys=True, default=str),
    }


def _edge_row(run_id: int, e: Edge) -> dict[str, Any]:
    return {
        "run_id": run_id,
        "src": e.src,
        "dst": e.dst,
        "relation": e.relation.value,
        "evidence": e.evidence,
        "conditions": json.dumps(dict(e.conditions), ensure_ascii=False, sort_keys=True),
    }


def _coverage_row(run_id: int, c: Coverage) -> dict[str, Any]:
    return {
        "run_id": run_id,
        "provider": c.provider,
        "account": c.account,
        "region": c.region,
        "service": c.service,
        "outcome": c.outcome.value,
        "detail": c.detail,
        "duration_ms": c.duration_ms,
        "api_calls": c.api_calls,
    }


def _finding_row(run_id: int, f: Finding) -> dict[str, Any]:
    return {
        "run_id": run_id,
        "check_id": f.check_id,
        "resource": f.resource,
        "status": f.status.value,
        "severity": f.severity.value,
        "title": f.title,
        "theme": f.theme,
        "account": f.account,
        "region": f.region,
        "jurisdiction": f.jurisdiction,
        "message": f.message,
        "evidence": json.dumps(list(f.evidence), ensure_ascii=False),
        "remediation": f.remediation,
        "fix_command": f.fix_command,
        "waiver": json.dumps(asdict(f.waiver), ensure_ascii=False) if f.waiver else None,
    }
