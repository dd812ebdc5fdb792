"""Graph and every check at scale, on real adapter output multiplied (bench only).

    .venv/bin/python bench/checks_bench.py --resources 100000 --edges 500000

Collects the demo estate once from a moto server (real adapter output: policies, trusts,
replication, sharing, keys, tags), then writes into a fresh SQLite store copies of it until
`--resources` resources are stored: copy k renames every collected uid with a suffix and keeps
its edges inside the copy.  Random rights edges (roles of one copy reading, writing or
decrypting stores of another) are added until the stored edges reach `--edges`.  Then it runs
the check stage exactly as `govaudit check` does (`pipeline.check`: read the run, evaluate
identity policies, build the graph, run every check, store the findings) and prints the time
of each phase, the slowest checks and the peak RSS as one JSON line.

Multiplying the demo keeps every attribute the checks read realistic (moto would take hours
to seed and serve 100k resources on two cores: see bench/README.md for collection rates).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import random
import re
import resource
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from auditor import pipeline  # noqa: E402 - bench scripts run from any folder
from auditor.checking import CheckContext, load_checks  # noqa: E402
from auditor.demo import demo_scopes, moto_server, sample_policy_path  # noqa: E402
from auditor.graph import annotate_parties  # noqa: E402
from auditor.model import DATA_KINDS, Edge, Kind, Record, Relation, Resource  # noqa: E402
from auditor.policy import load_policy  # noqa: E402
from auditor.store import Store  # noqa: E402

TODAY = date(2026, 11, 26)
RANDOM_RIGHTS = (Relation.CAN_READ, Relation.CAN_READ, Relation.CAN_WRITE, Relation.CAN_DECRYPT)


def collect_demo(folder: Path) -> tuple[list[Resource], list[Edge], list[Record]]:
    """The demo estate as the adapters store it: resources, edges and coverage rows."""
    policy = load_policy(sample_policy_path())
    store = Store(folder / "demo.db")
    with moto_server() as endpoint:
        run = pipeline.collect(store, policy, demo_scopes(endpoint))
    resources = list(store.resources(run.id))
    edges = list(store.edges(run.id))
    coverage: list[Record] = list(store.coverage(run.id))
    store.close()
    return resources, edges, coverage


def _renamed(uid: str, copy: int, known: set[str]) -> str:
    return f"{uid}-x{copy}" if copy and uid in known else uid


def _renamed_attrs(attrs: dict[str, Any], copy: int, pattern: re.Pattern[str]) -> Any:
    """The attrs with every collected uid they quote (policies, trusts, keys) renamed."""
    text = json.dumps(attrs, ensure_ascii=False, default=str)
    return json.loads(pattern.sub(lambda m: f"{m.group(0)}-x{copy}", text))


def copies(
    resources: list[Resource], edges: list[Edge], wanted: int
) -> Iterator[tuple[int, list[Resource], list[Edge]]]:
    """Copies of the estate, each with its own uids, until `wanted` resources.

    A copy is self-consistent: its policies, trusts and key references name its own uids.
    """
    known = {r.uid for r in resources}
    longest_first = sorted(known, key=len, reverse=True)
    # A uid quoted in JSON, not as the prefix of a longer name.
    pattern = re.compile("|".join(re.escape(u) for u in longest_first) + r"(?![\w.-])")
    made, copy = 0, 0
    while made < wanted:
        batch = []
        for r in resources[: wanted - made]:
            uid = _renamed(r.uid, copy, known)
            name = f"{r.name}-x{copy}" if copy else r.name
            attrs = _renamed_attrs(dict(r.attrs), copy, pattern) if copy else r.attrs
            batch.append(dataclasses.replace(r, uid=uid, name=name, attrs=attrs))
        batch_edges = [
            dataclasses.replace(
                e, src=_renamed(e.src, copy, known), dst=_renamed(e.dst, copy, known)
            )
            for e in edges
            if copy == 0 or (e.src in known or e.dst in known)
        ]
        made += len(batch)
        yield copy, batch, batch_edges
        copy += 1


def random_rights(
    resources: list[Resource], n: int, n_copies: int, seed: int = 7
) -> Iterator[Edge]:
    """`n` rights edges from roles of one copy to data stores and keys of another."""
    rng = random.Random(seed)
    known = {r.uid for r in resources}
    roles = [r.uid for r in resources if r.kind == Kind.ROLE]
    targets = [r.uid for r in resources if r.kind in DATA_KINDS or r.kind == Kind.KEY]
    for _ in range(n):
        src = _renamed(rng.choice(roles), rng.randrange(n_copies), known)
        dst = _renamed(rng.choice(targets), rng.randrange(n_copies), known)
        relation = rng.choice(RANDOM_RIGHTS)
        yield Edge(src, dst, relation, "bench: random right", {})


def build_store(
    path: Path, resources: list[Resource], edges: list[Edge], coverage: list[Record], args: Any
) -> tuple[Store, pipeline.RunInfo, int, int]:
    policy = load_policy(sample_policy_path())
    store = Store(path)
    run_id = store.begin_run(tool_version="bench", policy_path=policy.path, policy_sha256="")
    stored_resources = stored_edges = 0
    n_copies = 0
    for _, batch, batch_edges in copies(resources, edges, args.resources):
        store.add_records(run_id, [*batch, *batch_edges], batch_size=5000)
        stored_resources += len(batch)
        stored_edges += len(batch_edges)
        n_copies += 1
    store.add_records(run_id, coverage)
    extra = max(0, args.edges - stored_edges)
    store.add_records(run_id, random_rights(resources, extra, n_copies), batch_size=5000)
    store.finish_run(run_id, accounts={"bench"}, regions={"bench"})
    return store, store.get_run(run_id), stored_resources, stored_edges + extra


class _Clock:
    """Wall and CPU seconds of each phase: on a shared machine the CPU time is the cost."""

    def __init__(self) -> None:
        self.wall: dict[str, float] = {}
        self.cpu: dict[str, float] = {}
        self._mark = (time.perf_counter(), time.process_time())

    def lap(self, phase: str) -> None:
        wall, cpu = time.perf_counter(), time.process_time()
        self.wall[phase] = round(wall - self._mark[0], 2)
        self.cpu[phase] = round(cpu - self._mark[1], 2)
        self._mark = (wall, cpu)


def timed_check(store: Store, run: pipeline.RunInfo) -> dict[str, Any]:
    """pipeline.check, phase by phase, with the time of each check."""
    from auditor.checking import run_checks
    from auditor.waivers import apply_waivers

    policy = load_policy(sample_policy_path())
    clock = _Clock()
    resources = {r.uid: r for r in store.resources(run.id)}
    clock.lap("read inventory")
    graph = pipeline._evaluated_graph(store, run, resources)
    annotate_parties(graph, policy)
    clock.lap("evaluate identity policies + build graph")
    coverage = {(c.account, c.region, c.service): c.outcome.value for c in store.coverage(run.id)}
    ctx = CheckContext(resources, graph, policy, coverage, TODAY)
    per_check: Counter[str] = Counter()
    findings = []
    for chk in load_checks():
        one = time.process_time()
        later = chk.meta.reads_findings
        context = dataclasses.replace(ctx, findings=tuple(findings)) if later else ctx
        findings += run_checks(context, [chk])
        per_check[chk.meta.id] = time.process_time() - one
    findings = apply_waivers(findings, policy, TODAY)
    clock.lap("run every check")
    store.replace_findings(run.id, findings)
    clock.lap("store findings")
    graph_and_checks = ("evaluate identity policies + build graph", "run every check")
    return {
        "graph_nodes": graph.number_of_nodes(),
        "graph_edges": graph.number_of_edges(),
        "findings": len(findings),
        "phases_s": clock.wall,
        "phases_cpu_s": clock.cpu,
        "graph_and_checks_s": round(sum(clock.wall[p] for p in graph_and_checks), 2),
        "graph_and_checks_cpu_s": round(sum(clock.cpu[p] for p in graph_and_checks), 2),
        "slowest_checks_cpu_s": {k: round(v, 2) for k, v in per_check.most_common(8)},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--resources", type=int, default=100_000)
    parser.add_argument("--edges", type=int, default=500_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        started = time.perf_counter()
        resources, edges, coverage = collect_demo(folder)
        collected = time.perf_counter() - started
        mark = time.perf_counter()
        store, run, n_resources, n_edges = build_store(
            folder / "bench.db", resources, edges, coverage, args
        )
        built = time.perf_counter() - mark
        result = timed_check(store, run)
        store.close()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        json.dumps(
            {
                "bench": "checks",
                "date": str(date.today()),
                "demo_resources": len(resources),
                "demo_edges": len(edges),
                "resources": n_resources,
                "stored_edges": n_edges,
                "collect_demo_s": round(collected, 1),
                "build_store_s": round(built, 1),
                **result,
                "peak_rss_mb": round(peak, 1),
            },
            ensure_ascii=False,
        )
    )


if __name__ == "__main__":
    main()
