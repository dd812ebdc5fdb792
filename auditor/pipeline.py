"""The stages of an audit, each reading only what earlier stages wrote to the store.

collect → store → graph → check → report.  The CLI calls these; tests call them too.
"""

from __future__ import annotations

import dataclasses
import itertools
import logging
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, Protocol

import networkx as nx

from auditor import __version__
from auditor.checking import CheckContext, CheckMeta, load_checks, run_checks
from auditor.compliance import load_frameworks
from auditor.escalation import escalation_edges
from auditor.evidence import run_digest
from auditor.graph import annotate_parties, build_graph
from auditor.history import AuditDiff, compare, counted_runs, finding_history
from auditor.inventories.aws import AwsTarget, collect_aws
from auditor.inventories.aws.registry import all_permissions
from auditor.inventories.regions import jurisdiction_of, table_version
from auditor.model import Coverage, Finding, Record, Resource, Severity, Status
from auditor.policy import Policy
from auditor.reports.estate import (
    EstateFacts,
    RunTotals,
    jurisdiction_flows,
    owners,
    placements,
)
from auditor.reports.exports import write_exports
from auditor.reports.i18n import DEFAULT_LANG
from auditor.reports.render import ReportInput, write_report
from auditor.rights import confirm_outside_grants, identity_rights
from auditor.store import RunInfo, Store
from auditor.waivers import apply_waivers

log = logging.getLogger(__name__)


class Scope(Protocol):
    """Something to inventory: one cloud, account set or endpoint, as a stream of records
    (resources, edges and one coverage row per service and region attempted)."""

    def records(self) -> Iterable[Record]: ...


@dataclasses.dataclass(frozen=True)
class AwsScope:
    """What to collect from AWS: whose credentials, which regions, which endpoint."""

    targets: Sequence[AwsTarget]
    regions: Sequence[str] | None = None
    workers: int = 8

    def records(self) -> Iterable[Record]:
        return collect_aws(self.targets, self.regions, self.workers)


def _with_overrides(records: Iterable[Record], policy: Policy) -> Iterator[Record]:
    """Apply the policy's region_overrides to each resource's jurisdiction."""
    overrides = policy.region_overrides
    for record in records:
        # Only a region the policy names: a country an adapter found another way (an
        # S3-compatible endpoint's setting, a bucket's location) must stay.
        if isinstance(record, Resource) and f"{record.provider}:{record.region}" in overrides:
            country = jurisdiction_of(record.provider, record.region, overrides)
            record = dataclasses.replace(record, jurisdiction=country)
        yield record


def _observed(
    records: Iterable[Record], on_coverage: Callable[[Coverage], None]
) -> Iterator[Record]:
    for record in records:
        if isinstance(record, Coverage):
            on_coverage(record)
        yield record


def collect(
    store: Store,
    policy: Policy,
    scopes: Sequence[Scope],
    on_coverage: Callable[[Coverage], None] | None = None,
) -> RunInfo:
    """Inventory every scope into a new run; the run stays incomplete if this fails.

    `on_coverage` hears of each (account, region, service) as it finishes: progress.
    """
    run_id = store.begin_run(
        tool_version=__version__, policy_path=policy.path, policy_sha256=policy.sha256
    )
    log.info("run %s: collecting", run_id)
    for scope in scopes:
        records = scope.records()
        if on_coverage is not None:
            records = _observed(records, on_coverage)
        store.add_records(run_id, _with_overrides(records, policy))
    coverage = store.coverage(run_id)
    store.finish_run(
        run_id,
        accounts={c.account for c in coverage},
        regions={c.region for c in coverage if c.region != "global"},
    )
    return store.get_run(run_id)


def _evaluated_graph(
    store: Store, run: RunInfo, resources: Mapping[str, Resource]
) -> nx.MultiDiGraph[str]:
    """Stored edges, plus what identity policies grant and who can escalate to whom."""
    edges = itertools.chain(
        confirm_outside_grants(resources, store.edges(run.id)),
        identity_rights(resources),
        escalation_edges(resources),
    )
    return build_graph(resources.values(), edges)


def graph_of(store: Store, run: RunInfo, policy: Policy | None = None) -> nx.MultiDiGraph[str]:
    """The graph of one run, built from the store; with a policy, accounts carry their party."""
    graph = _evaluated_graph(store, run, {r.uid: r for r in store.resources(run.id)})
    if policy is not None:
        annotate_parties(graph, policy)
    return graph


def check(store: Store, policy: Policy, run: RunInfo, today: date | None = None) -> list[Finding]:
    """Build the graph of a run, run every enabled check and store the findings."""
    resources = {r.uid: r for r in store.resources(run.id)}
    graph = _evaluated_graph(store, run, resources)
    annotate_parties(graph, policy)
    coverage = {(c.account, c.region, c.service): c.outcome.value for c in store.coverage(run.id)}
    day = today or date.today()
    ctx = CheckContext(resources, graph, policy, coverage, day)
    findings = apply_waivers(run_checks(ctx, load_checks()), policy, day)
    store.replace_findings(run.id, findings)
    return findings


def report(
    store: Store,
    policy: Policy | None,
    run: RunInfo,
    out_dir: Path,
    frameworks_dirs: Sequence[Path] = (),
    formats: Sequence[str] = ("html", "json"),
    lang: str = DEFAULT_LANG,
) -> dict[str, Path]:
    """Write the report (report.html, findings.json and any export asked for) for a run.

    `lang` is the language of report.html (zh-CN or en); the other outputs do not depend on it.
    """
    run = store.get_run(run.id)
    # An incomplete or unchecked run has no place in the history of audits.
    counted = run.status == "complete" and run.checked_at is not None
    resources = {r.uid: r for r in store.resources(run.id)}
    counts = Counter(r.kind.value for r in resources.values())
    estate = EstateFacts(
        placements=placements(resources.values()),
        flows=jurisdiction_flows(resources, store.edges(run.id)),
        owners=owners(resources.values(), policy),
        trend=[
            RunTotals(r.id, r.started_at, failing) for r, failing in store.failing_counts(run.id)
        ],
    )
    data = ReportInput(
        run=run,
        findings=store.findings(run.id),
        coverage=store.coverage(run.id),
        checks=[c.meta for c in load_checks()],
        organisation=policy.organisation if policy else "",
        policy_path=run.policy_path,
        resource_counts=dict(counts),
        region_table_version=table_version(),
        generated_at=datetime.now(UTC).isoformat(timespec="seconds"),
        frameworks=load_frameworks(frameworks_dirs),
        estate=estate,
        history=finding_history(store, run) if counted else {},
        run_digest=run_digest(store, run.id),
        lang=lang,
        changes=_changes_since_previous(store, run) if counted else None,
    )
    return write_report(out_dir, data, formats) | write_exports(out_dir, data, formats)


def _changes_since_previous(store: Store, run: RunInfo) -> AuditDiff | None:
    runs = counted_runs(store, run)
    return compare(store, runs[-2], run) if len(runs) >= 2 else None


def failing(findings: Iterable[Finding], threshold: Severity) -> list[Finding]:
    """Failing findings at or above the threshold, not waived: they decide the exit code."""
    return [
        f
        for f in findings
        if f.status is Status.FAIL and not f.waived and f.severity.rank >= threshold.rank
    ]


def check_catalog() -> list[CheckMeta]:
    return [c.meta for c in load_checks()]


def coverage_gaps(coverage: Iterable[Coverage]) -> list[Coverage]:
    return [c for c in coverage if c.outcome.value != "ok"]


def least_privilege_policy(role_name: str | None = None) -> dict[str, Any]:
    """The IAM policy that allows exactly the read calls govaudit's adapters make."""
    statements: list[dict[str, Any]] = [
        {
            "Sid": "GovauditReadOnly",
            "Effect": "Allow",
            "Action": list(all_permissions()),
            "Resource": "*",
        }
    ]
    if role_name:
        statements.append(
            {
                "Sid": "GovauditAssumeAuditRole",
                "Effect": "Allow",
                "Action": "sts:AssumeRole",
                "Resource": f"arn:*:iam::*:role/{role_name}",
            }
        )
    return {"Version": "2012-10-17", "Statement": statements}
