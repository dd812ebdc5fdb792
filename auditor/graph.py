"""The audit graph: built from the store, never from cloud APIs.

Nodes are resource or principal uids; edges carry a `relation` from the closed vocabulary
of `auditor.model.Relation` and the `evidence` that justifies them, so every path a query
returns explains itself.
"""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import networkx as nx

from auditor.inventories.regions import jurisdiction_of
from auditor.model import DATA_FLOW, DELEGATION, Edge, Kind, Relation, Resource

if TYPE_CHECKING:
    from auditor.policy import Policy

_ARN = re.compile(
    r"^arn:(?P<partition>[^:]+):(?P<service>[^:]+):(?P<region>[^:]*):(?P<account>[^:]*):"
)


@dataclass(frozen=True, slots=True)
class Hop:
    """One edge of a path, with the evidence that justifies it."""

    src: str
    dst: str
    relation: Relation
    evidence: str


@dataclass(frozen=True, slots=True)
class Grant:
    """A principal that holds `right` on a resource, and the path by which it does."""

    principal: str
    right: Relation
    path: tuple[Hop, ...]


def build_graph(resources: Iterable[Resource], edges: Iterable[Edge]) -> nx.MultiDiGraph[str]:
    """Build the graph of one run from its resources and edges."""
    graph: nx.MultiDiGraph[str] = nx.MultiDiGraph()
    for r in resources:
        graph.add_node(
            r.uid,
            kind=r.kind,
            name=r.name,
            provider=r.provider,
            account=r.account,
            region=r.region,
            jurisdiction=r.jurisdiction,
            inventoried=True,
        )
    for e in edges:
        for uid in (e.src, e.dst):
            if uid not in graph:
                graph.add_node(uid, **_implied_node(uid))
        graph.add_edge(
            e.src, e.dst, relation=e.relation, evidence=e.evidence, conditions=dict(e.conditions)
        )
    return graph


def _implied_node(uid: str) -> dict[str, Any]:
    """Attributes of a node only seen as an edge end: what its uid tells, nothing more.

    >>> _implied_node("account:999988887777")["account"]
    '999988887777'
    >>> _implied_node("arn:aws:kms:eu-central-1:1:key/k")["jurisdiction"]
    'DE'
    """
    prefix, _, rest = uid.partition(":")
    simple = {"account": Kind.ACCOUNT, "public": Kind.PUBLIC, "service": Kind.SERVICE,
              "federated": Kind.FEDERATED, "canonical": Kind.ACCOUNT}  # fmt: skip
    base: dict[str, Any] = {"name": uid, "region": None, "jurisdiction": None, "account": None,
                            "provider": "aws", "inventoried": False}  # fmt: skip
    if prefix in simple:
        return base | {"kind": simple[prefix], "account": rest if prefix == "account" else None}
    match = _ARN.match(uid)
    if match is None:
        return base | {"kind": None}
    region = match["region"] or None
    kinds = {"s3": Kind.OBJECT_STORE, "kms": Kind.KEY}
    kind = kinds.get(match["service"])
    if match["service"] == "iam":
        kind = Kind.ROLE if ":role/" in uid else Kind.USER if ":user/" in uid else Kind.ACCOUNT
    return base | {
        "kind": kind,
        "account": match["account"] or None,
        "region": region,
        "jurisdiction": jurisdiction_of("aws", region),
        "name": uid.rsplit(":", 1)[-1],
    }


def annotate_parties(graph: nx.MultiDiGraph[str], policy: Policy) -> None:
    """Name the party and country of every account node, from the audit policy.

    Own accounts become the organisation's; trusted ones carry their org, kind and
    jurisdiction; any other account is an "unknown external" party of unknown country.
    """
    for node, attrs in graph.nodes(data=True):
        if attrs.get("kind") is Kind.FEDERATED:
            name = node.rsplit("/", 1)[-1].removeprefix("federated:")
            known = name in policy.idps
            attrs["party"] = f"identity provider {name}" if known else "unknown identity provider"
            attrs["jurisdiction"] = policy.idps.get(name)
            continue
        account = attrs.get("account")
        if attrs.get("kind") is not Kind.ACCOUNT or not account:
            continue
        party = policy.trusted_party(str(account))
        if policy.is_own_account(str(account)):
            attrs["party"] = policy.organisation
            attrs["jurisdiction"] = attrs.get("jurisdiction") or policy.home_jurisdiction
        elif party is not None:
            attrs["party"] = f"{party.org} ({party.kind})"
            attrs["jurisdiction"] = party.jurisdiction
        else:
            attrs["party"] = "unknown external"


def data_reaches(
    graph: nx.MultiDiGraph[str], uid: str, relations: frozenset[Relation] = DATA_FLOW
) -> dict[str, tuple[Hop, ...]]:
    """Every node the data of `uid` (or a copy of it) can reach, with the shortest path.

    `relations` narrows the mechanisms followed (say, replication only).

    >>> from auditor.model import Edge, Relation
    >>> g = build_graph([], [Edge("a", "b", Relation.REPLICATES_TO, "rule 1"),
    ...                      Edge("b", "c", Relation.REPLICATES_TO, "rule 2")])
    >>> [hop.dst for hop in data_reaches(g, "a")["c"]]
    ['b', 'c']
    """
    if uid not in graph:
        return {}
    # Breadth first over out-edges: networkx's shortest paths on a filtered view count the
    # whole view's nodes at every call, which made this quadratic in the estate's size.
    paths: dict[str, tuple[Hop, ...]] = {uid: ()}
    frontier = [uid]
    while frontier:
        reached = []
        for node in frontier:
            for _, dst, data in graph.out_edges(node, data=True):
                if dst in paths or data["relation"] not in relations:
                    continue
                hop = Hop(node, dst, data["relation"], data["evidence"])
                paths[dst] = (*paths[node], hop)
                reached.append(dst)
        frontier = reached
    del paths[uid]
    return paths


def who_can(graph: nx.MultiDiGraph[str], uid: str, right: Relation) -> list[Grant]:
    """Every principal that holds `right` on `uid`, directly or by assuming roles and groups.

    >>> from auditor.model import Edge, Relation
    >>> g = build_graph([], [Edge("role", "bucket", Relation.CAN_READ, "policy"),
    ...                      Edge("account:1", "role", Relation.CAN_ASSUME, "trust")])
    >>> sorted(g.principal for g in who_can(g, "bucket", Relation.CAN_READ))
    ['account:1', 'role']
    """
    if uid not in graph:
        return []
    best: dict[str, tuple[Hop, ...]] = {}
    for holder, _, data in graph.in_edges(uid, data=True):
        if data["relation"] != right:
            continue
        last = Hop(holder, uid, right, data["evidence"])
        for principal, via in _delegators(graph, holder):
            path = (*via, last)
            if principal not in best or len(path) < len(best[principal]):
                best[principal] = path
    ordered = sorted(best.items(), key=lambda item: (len(item[1]), item[0]))
    return [Grant(principal, right, path) for principal, path in ordered]


# Per graph: holder -> every principal that can act as it, with the delegation hops.
_DELEGATORS = "_govaudit_delegators"


def _delegators(graph: nx.MultiDiGraph[str], holder: str) -> list[tuple[str, tuple[Hop, ...]]]:
    """`holder` itself and everyone who can become it (assume, member of), shortest first.

    Memoised on the graph: checks ask who_can for every store and key, and the same roles
    hold rights on thousands of them, so each role's delegation tree is walked once.  A graph
    is built once per run and never changed afterwards, so the cache cannot go stale.
    """
    cache: dict[str, list[tuple[str, tuple[Hop, ...]]]] = graph.graph.setdefault(_DELEGATORS, {})
    if holder in cache:
        return cache[holder]
    delegating = _delegation_in(graph)
    found: list[tuple[str, tuple[Hop, ...]]] = []
    queue: deque[tuple[str, tuple[Hop, ...]]] = deque([(holder, ())])
    seen: set[str] = set()
    while queue:
        principal, path = queue.popleft()
        if principal in seen:
            continue
        seen.add(principal)
        found.append((principal, path))
        for delegate, relation, evidence in delegating.get(principal, ()):
            if delegate not in seen:
                hop = Hop(delegate, principal, relation, evidence)
                queue.append((delegate, (hop, *path)))
    cache[holder] = found
    return found


_DELEGATION_IN = "_govaudit_delegation_in"


def _delegation_in(graph: nx.MultiDiGraph[str]) -> dict[str, list[tuple[str, Relation, str]]]:
    """node -> (delegate, relation, evidence) of its delegation in-edges, in graph order.

    Built in one pass: an account node has an in-edge from most of its resources, and
    scanning them again for each role whose trust leads there was quadratic at scale.
    """
    index: dict[str, list[tuple[str, Relation, str]]] | None = graph.graph.get(_DELEGATION_IN)
    if index is None:
        index = {}
        for node in graph:
            for delegate, _, data in graph.in_edges(node, data=True):
                if data["relation"] in DELEGATION:
                    index.setdefault(node, []).append(
                        (delegate, data["relation"], data["evidence"])
                    )
        graph.graph[_DELEGATION_IN] = index
    return index


def describe_node(graph: nx.MultiDiGraph[str], uid: str) -> str:
    """A node as a reader sees it: its uid plus where it sits, when known."""
    attrs = graph.nodes[uid] if uid in graph else {}
    region, country = attrs.get("region"), attrs.get("jurisdiction")
    if attrs.get("party"):
        return f"{uid} ({attrs['party']}, {country or 'jurisdiction unknown'})"
    if region or country:
        return f"{uid} ({region or 'region unknown'}, {country or 'jurisdiction unknown'})"
    return uid


def explain_path(graph: nx.MultiDiGraph[str], path: Iterable[Hop]) -> tuple[str, ...]:
    """One human-readable line per hop: `src —relation→ dst (region, country): evidence`."""
    return tuple(
        f"{describe_node(graph, hop.src)} —{hop.relation.value}→ "
        f"{describe_node(graph, hop.dst)}: {hop.evidence}"
        for hop in path
    )
