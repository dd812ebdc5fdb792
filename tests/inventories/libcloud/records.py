"""Views of an adapter's records the provider tests share: coverage rows, resources, edges."""

from __future__ import annotations

from auditor.model import Coverage, Edge, Kind, Record, Relation, Resource


def rows(records: list[Record]) -> dict[tuple[str, str], Coverage]:
    """Coverage rows by (region, service)."""
    return {(r.region, r.service): r for r in records if isinstance(r, Coverage)}


def named(records: list[Record], kind: Kind) -> dict[str, Resource]:
    """Resources of one kind by name."""
    return {r.name: r for r in records if isinstance(r, Resource) and r.kind is kind}


def edges(records: list[Record], relation: Relation) -> set[tuple[str, str]]:
    """(src, dst) of the edges of one relation."""
    return {(e.src, e.dst) for e in records if isinstance(e, Edge) and e.relation is relation}
