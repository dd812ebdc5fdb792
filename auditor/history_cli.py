"""`govaudit diff`: what changed between two audits.

Kept out of `auditor.cli` so the command can be registered with one line there.  Errors
propagate as `UsageError` or `StoreError`, which the CLI's entry point prints as one line with
the documented exit code.  The JSON document always lists every section in full; `--all` only
widens the table.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

import click

from auditor.history import (
    AuditDiff,
    FindingDelta,
    Resolution,
    ResourceChange,
    ResourceRef,
    compare,
    days_between,
    select_runs,
)
from auditor.store import RunInfo, Store
from auditor.terminal import safe_line

JSON_FORMAT = "govaudit-diff/1"
_MESSAGE_WIDTH = 120
# Only a PASS proves a fix; the other ways out of FAIL say so rather than claim one.
_RESOLUTION_WORDS = {
    Resolution.PASS: "now PASS, fixed in {days} d",
    Resolution.RESOURCE_REMOVED: "resource removed, gone in {days} d",
    Resolution.UNKNOWN: "now UNKNOWN, not proven fixed; open {days} d",
    Resolution.NOT_CHECKED: "no longer checked, not proven fixed; open {days} d",
}


@click.command(name="diff")
@click.argument("run_a", type=int, required=False)
@click.argument("run_b", type=int, required=False)
@click.option(
    "--db",
    "db_path",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    required=True,
    help="Audit database (SQLite) holding both runs.",
)
@click.option("--json", "as_json", is_flag=True, help="Print a JSON document for scripts.")
@click.option(
    "--all", "show_all", is_flag=True, help="List persisting findings too, not just count them."
)
def diff_command(
    run_a: int | None, run_b: int | None, db_path: Path, as_json: bool, show_all: bool
) -> int:
    """What changed between two audits: findings new, reopened, fixed; resources changed.

    RUN_A and RUN_B default to the last two complete, checked runs; given RUN_A alone, it is
    compared with the latest.  Only complete, checked runs count as history.

    \b
    Example:
      govaudit diff --db audit.db
      govaudit diff --db audit.db 3 7 --json
    """
    store = Store(db_path)
    try:
        earlier, later = select_runs(store, run_a, run_b)
        diff = compare(store, earlier, later)
    finally:
        store.close()
    if as_json:
        click.echo(json.dumps(diff_document(diff), ensure_ascii=False, indent=2))
    else:
        for line in table_lines(diff, show_all=show_all):
            click.echo(safe_line(line))
    return 0


# JSON ---------------------------------------------------------------------------------------


def diff_document(diff: AuditDiff) -> dict[str, Any]:
    """The `--json` document; its keys only grow, and `format` changes if any is removed."""
    sections = {
        "new": diff.new,
        "reopened": diff.reopened,
        "resolved": diff.resolved,
        "persisting": diff.persisting,
    }
    return {
        "format": JSON_FORMAT,
        "run_a": _run_document(diff.run_a),
        "run_b": _run_document(diff.run_b),
        "policy_changed": diff.policy_changed,
        "counts": {
            **{name: len(items) for name, items in sections.items()},
            "waiver_changes": len(diff.waiver_changes),
            "resources_added": len(diff.added),
            "resources_removed": len(diff.removed),
            "resources_changed": len(diff.changed),
        },
        "findings": {name: [asdict(d) for d in items] for name, items in sections.items()},
        "waiver_changes": [asdict(w) for w in diff.waiver_changes],
        "resources": {
            "added": [asdict(r) for r in diff.added],
            "removed": [asdict(r) for r in diff.removed],
            "changed": [asdict(c) for c in diff.changed],
        },
    }


def _run_document(run: RunInfo) -> dict[str, Any]:
    return {
        "id": run.id,
        "started_at": run.started_at,
        "checked_at": run.checked_at,
        "tool_version": run.tool_version,
        "policy_sha256": run.policy_sha256,
    }


# table --------------------------------------------------------------------------------------


def table_lines(diff: AuditDiff, *, show_all: bool = False) -> Iterator[str]:
    """The human-readable diff, one section after another."""
    a, b = diff.run_a, diff.run_b
    apart = days_between(a.started_at, b.started_at)
    yield f"run {a.id} ({a.started_at}) -> run {b.id} ({b.started_at}), {apart} d apart"
    if diff.policy_changed:
        yield "note: the policy changed between these runs; some changes may come from it"
    yield from _section("New", diff.new, lambda d: f"open {d.days} d")
    yield from _section(
        "Reopened",
        diff.reopened,
        lambda d: f"failed before in run {d.last_failed_run}; open {d.days} d",
    )
    yield from _section(
        "Resolved",
        diff.resolved,
        lambda d: _RESOLUTION_WORDS[d.resolution or Resolution.PASS].format(days=d.days),
    )
    if show_all:
        yield from _section("Persisting", diff.persisting, lambda d: f"open {d.days} d")
    else:
        hint = " (--all lists them)" if diff.persisting else ""
        yield ""
        yield f"Persisting ({len(diff.persisting)}){hint}"
    if diff.waiver_changes:
        yield ""
        yield f"Waivers changed ({len(diff.waiver_changes)})"
        for w in diff.waiver_changes:
            change = f"{w.before or 'none'} -> {w.after or 'none'}"
            yield f"  {w.check_id:<9} {w.severity.value:<8} {w.resource}  waiver {change}"
    yield from _resources(diff)


def _section(
    title: str, items: Sequence[FindingDelta], note: Callable[[FindingDelta], str]
) -> Iterator[str]:
    yield ""
    yield f"{title} ({len(items)})"
    for d in items:
        waived = " [waived]" if d.waived else ""
        yield f"  {d.check_id:<9} {d.severity.value:<8} {d.resource}  ({note(d)}){waived}"
        yield f"  {'':<9} {'':<8} {_one_line(d.message)}"


def _one_line(text: str) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= _MESSAGE_WIDTH else flat[: _MESSAGE_WIDTH - 1] + "…"


def _resources(diff: AuditDiff) -> Iterator[str]:
    yield ""
    counts = f"{len(diff.added)} added, {len(diff.removed)} removed, {len(diff.changed)} changed"
    yield f"Changed resources ({counts})"
    for r in diff.added:
        yield f"  + {_describe(r)}"
    for r in diff.removed:
        yield f"  - {_describe(r)}"
    for c in diff.changed:
        yield f"  ~ {c.uid} ({c.kind.value})"
        yield from (f"      {part}" for part in _changes(c))


def _describe(r: ResourceRef) -> str:
    where = ", ".join(p for p in (r.kind.value, r.account, r.region, r.jurisdiction) if p)
    return f"{r.uid} ({where})"


def _changes(c: ResourceChange) -> Iterator[str]:
    if c.region:
        yield f"region: {c.region.before or '?'} -> {c.region.after or '?'}"
    if c.jurisdiction:
        yield f"jurisdiction: {c.jurisdiction.before or '?'} -> {c.jurisdiction.after or '?'}"
    for t in c.tags:
        yield f"tag {_quote(t.key)}: {_quote(t.before)} -> {_quote(t.after)}"
    if c.attrs:
        # Names only: the values may be policies, endpoints or secrets.
        yield f"attributes changed: {', '.join(c.attrs)}"


def _quote(value: str | None) -> str:
    return "(none)" if value is None else json.dumps(value, ensure_ascii=False)
