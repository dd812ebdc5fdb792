"""Facts about the audited estate the report draws beside the findings.

Where data sits and where its copies go between jurisdictions (the sovereignty map), which
department owns each resource (the responsibility matrix), and how earlier audits went (the
committee's trend).  Read from the store once, at report time; pure functions otherwise.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from auditor.model import DATA_FLOW, DATA_KINDS, Edge, Finding, Relation, Resource, Severity, Status
from auditor.policy import Policy

UNKNOWN_PLACE = "??"


@dataclass(frozen=True, slots=True)
class Flow:
    """Data copied or sent from stores in one jurisdiction to another."""

    source: str
    target: str
    count: int
    relations: tuple[str, ...]
    # Stores whose data leaves along this flow (their findings are linked from the map).
    sources: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class RunTotals:
    """How one earlier (or this) audit ended: failing findings by severity."""

    run_id: int
    started_at: str
    failing: Mapping[str, int]

    @property
    def total(self) -> int:
        return sum(self.failing.values())


@dataclass(frozen=True)
class EstateFacts:
    # jurisdiction -> number of data stores and keys of the audited accounts sitting there
    placements: Mapping[str, int]
    flows: Sequence[Flow]
    # resource uid -> owner department label ("" when nobody owns it)
    owners: Mapping[str, str]
    trend: Sequence[RunTotals] = ()


def _place(resource: Resource | None) -> str:
    return resource.jurisdiction if resource and resource.jurisdiction else UNKNOWN_PLACE


def placements(resources: Iterable[Resource]) -> dict[str, int]:
    counts = Counter(
        _place(r) for r in resources if r.kind in DATA_KINDS and not r.attrs.get("observed_only")
    )
    return dict(counts)


def jurisdiction_flows(resources: Mapping[str, Resource], edges: Iterable[Edge]) -> list[Flow]:
    """Data-flow edges that cross a border, counted per (from, to) pair of jurisdictions."""
    counts: Counter[tuple[str, str]] = Counter()
    relations: dict[tuple[str, str], set[str]] = {}
    sources: dict[tuple[str, str], set[str]] = {}
    for edge in edges:
        if edge.relation not in DATA_FLOW or edge.relation is Relation.PEERS_WITH:
            continue
        source = resources.get(edge.src)
        if source is None:
            continue
        pair = (_place(source), _place(resources.get(edge.dst)))
        if pair[0] == pair[1]:
            continue
        counts[pair] += 1
        relations.setdefault(pair, set()).add(edge.relation.value)
        sources.setdefault(pair, set()).add(edge.src)
    return [
        Flow(a, b, n, tuple(sorted(relations[a, b])), tuple(sorted(sources[a, b])))
        for (a, b), n in sorted(counts.items(), key=lambda item: (-item[1], item[0]))
    ]


def owners(resources: Iterable[Resource], policy: Policy | None) -> dict[str, str]:
    """The owner department of each resource: its tag, else its account's department."""
    if policy is None:
        return {}
    found = {}
    for resource in resources:
        tagged = resource.tags.get(policy.owner_tag)
        if tagged:
            dept = policy.department(tagged)
        else:
            account = policy.accounts.get(resource.account or "")
            dept = policy.department(account.dept) if account else None
        found[resource.uid] = f"{dept.name} ({dept.id})" if dept else ""
    return found


def run_totals(run_id: int, started_at: str, findings: Iterable[Finding]) -> RunTotals:
    counts = Counter(f.severity.value for f in findings if f.status is Status.FAIL and not f.waived)
    return RunTotals(run_id, started_at, {s.value: counts.get(s.value, 0) for s in Severity})
