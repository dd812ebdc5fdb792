"""Answers to the questions people ask of one run's graph: who can, where to, how.

Each answer is plain data (for `--json`) whose every hop carries its evidence, so a security
officer can show a committee why govaudit says what it says.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from typing import Any

import networkx as nx

from auditor.errors import UsageError
from auditor.graph import Hop, data_reaches, describe_node, who_can
from auditor.model import Relation

RIGHT_NAMES = {
    "read": Relation.CAN_READ,
    "write": Relation.CAN_WRITE,
    "admin": Relation.CAN_ADMIN,
    "decrypt": Relation.CAN_DECRYPT,
    "share": Relation.CAN_SHARE,
}


@dataclass(frozen=True, slots=True)
class HopView:
    src: str
    relation: str
    dst: str
    evidence: str


@dataclass(frozen=True, slots=True)
class Answer:
    """One principal holding a right, one place data reaches, or one path."""

    subject: str
    detail: str
    jurisdiction: str | None
    path: tuple[HopView, ...]


def _hops(path: Iterable[Hop]) -> tuple[HopView, ...]:
    return tuple(HopView(h.src, h.relation.value, h.dst, h.evidence) for h in path)


def resolve(graph: nx.MultiDiGraph[str], wanted: str) -> str:
    """A node uid from a uid, or from a name that only one node has (a bucket, an alias)."""
    if wanted in graph:
        return wanted
    named = sorted(n for n, attrs in graph.nodes(data=True) if attrs.get("name") == wanted)
    if len(named) == 1:
        return named[0]
    if not named:
        suffix = sorted(n for n in graph.nodes if n.endswith((f":{wanted}", f"/{wanted}")))
        if len(suffix) == 1:
            return suffix[0]
        named = suffix
    if not named:
        raise UsageError(f"no resource or principal {wanted!r} in this run")
    raise UsageError(f"{wanted!r} is ambiguous: {', '.join(named[:5])}; give the full ARN")


def who_can_answer(graph: nx.MultiDiGraph[str], uid: str, rights: Iterable[str]) -> list[Answer]:
    """Every principal with one of `rights` on `uid`, through roles and groups too."""
    answers = []
    for name in rights:
        for grant in who_can(graph, uid, RIGHT_NAMES[name]):
            attrs = graph.nodes[grant.principal]
            party = f" ({attrs['party']})" if attrs.get("party") else ""
            answers.append(
                Answer(grant.principal, name + party, attrs.get("jurisdiction"), _hops(grant.path))
            )
    return sorted(answers, key=lambda a: (a.detail.split(" ", 1)[0], a.subject))


def reach_answer(graph: nx.MultiDiGraph[str], uid: str) -> list[Answer]:
    """Every place the data of `uid` or its copies can reach, with each place's country."""
    return [
        Answer(node, describe_node(graph, node), graph.nodes[node].get("jurisdiction"), _hops(path))
        for node, path in sorted(data_reaches(graph, uid).items())
    ]


def path_answer(graph: nx.MultiDiGraph[str], source: str, target: str) -> list[Answer]:
    """The shortest chain of edges of any relation from `source` to `target`, if any."""
    try:
        nodes = nx.shortest_path(graph, source, target)
    except nx.NetworkXNoPath:
        return []
    hops = []
    for a, b in itertools.pairwise(nodes):
        data = next(iter(graph.get_edge_data(a, b).values()))
        hops.append(HopView(a, data["relation"].value, b, data["evidence"]))
    return [
        Answer(
            target,
            describe_node(graph, target),
            graph.nodes[target].get("jurisdiction"),
            tuple(hops),
        )
    ]


def as_json(answers: Iterable[Answer]) -> str:
    return json.dumps([asdict(a) for a in answers], ensure_ascii=False, indent=2)


def as_lines(answers: Iterable[Answer]) -> list[str]:
    """A table for people: one line per answer, then its hops indented."""
    lines = []
    for answer in answers:
        where = f" [{answer.jurisdiction}]" if answer.jurisdiction else ""
        lines.append(f"{answer.subject}{where}  {answer.detail}")
        lines.extend(f"    {h.src} —{h.relation}→ {h.dst}: {h.evidence}" for h in answer.path)
    return lines


def exportable(graph: nx.MultiDiGraph[str]) -> nx.MultiDiGraph[str]:
    """A copy whose attributes are all strings or numbers, as GraphML requires."""
    plain: nx.MultiDiGraph[str] = nx.MultiDiGraph()
    for node, attrs in graph.nodes(data=True):
        plain.add_node(node, **{k: _plain(v) for k, v in attrs.items() if v is not None})
    for u, v, attrs in graph.edges(data=True):
        plain.add_edge(u, v, **{k: _plain(val) for k, val in attrs.items() if val is not None})
    return plain


def _plain(value: Any) -> str | int | float | bool:
    if isinstance(value, bool | int | float):
        return value
    if isinstance(value, dict | list | tuple):
        return json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)
    return str(value)
