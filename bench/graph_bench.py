"""Graph and who-can speed on a synthetic estate (bench only; no cloud, no moto).

    python bench/graph_bench.py --resources 100000 --edges 500000

Builds `resources` stores, keys and roles with `edges` rights, trust and replication edges
at random (seeded), then times `build_graph` and `who_can` (every right) over every
restricted store, as the access checks do.
"""

from __future__ import annotations

import argparse
import random
import resource
import time

from auditor.graph import build_graph, data_reaches, who_can
from auditor.model import RIGHTS, Edge, Kind, Relation, Resource

RIGHTS_AND_FLOWS = (
    *[Relation.CAN_READ] * 4,
    Relation.CAN_WRITE,
    Relation.CAN_ADMIN,
    Relation.CAN_DECRYPT,
    Relation.REPLICATES_TO,
)


def estate(
    n_resources: int, n_edges: int, per_role: float, seed: int = 7
) -> tuple[list[Resource], list[Edge]]:
    rng = random.Random(seed)
    roles = [f"arn:aws-cn:iam::111111111111:role/r{i}" for i in range(n_resources // 20)]
    keys = [f"arn:aws-cn:kms:cn-north-1:111111111111:key/k{i}" for i in range(n_resources // 20)]
    stores = [f"arn:aws-cn:s3:::b{i}" for i in range(n_resources - len(roles) - len(keys))]
    account, region = "111111111111", "cn-north-1"
    resources = [Resource(u, "aws", Kind.ROLE, "iam:role", u, account) for u in roles]
    resources += [
        Resource(u, "aws", Kind.KEY, "kms:key", u, account, region, jurisdiction="CN") for u in keys
    ]
    resources += [
        Resource(
            u, "aws", Kind.OBJECT_STORE, "s3:bucket", u, account, region, jurisdiction="CN",
            tags={"data-class": rng.choice(["核心", "重要", "一般"])},
        )
        for u in stores
    ]  # fmt: skip
    outsiders = [f"account:{900000000000 + i}" for i in range(200)]
    # Trust: `per_role` principals can assume each role on average; as in real accounts,
    # mostly people's users (and outside accounts), and one trust in ten is role chaining.
    users = [f"arn:aws-cn:iam::111111111111:user/u{i}" for i in range(len(roles))]
    delegation = int(len(roles) * per_role)
    edges = [
        Edge(
            rng.choice(roles) if i % 10 == 0 else rng.choice(users + outsiders),
            rng.choice(roles),
            Relation.CAN_ASSUME,
            f"trust {i}",
        )
        for i in range(delegation)
    ]
    for i in range(n_edges - delegation):
        relation = RIGHTS_AND_FLOWS[i % len(RIGHTS_AND_FLOWS)]
        if relation is Relation.REPLICATES_TO:
            src, dst = rng.choice(stores), rng.choice(stores)
        else:
            src, dst = rng.choice(roles + outsiders), rng.choice(stores + keys)
        edges.append(Edge(src, dst, relation, f"statement {i}"))
    return resources, edges


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--resources", type=int, default=100_000)
    parser.add_argument("--edges", type=int, default=500_000)
    parser.add_argument(
        "--per-role",
        type=float,
        default=2.0,
        help="principals that can assume each role, on average (20 is a worst case)",
    )
    args = parser.parse_args()
    resources, edges = estate(args.resources, args.edges, args.per_role)
    started = time.perf_counter()
    graph = build_graph(resources, edges)
    built = time.perf_counter() - started
    restricted = [r.uid for r in resources if r.tags.get("data-class") in ("核心", "重要")]
    started = time.perf_counter()
    grants = sum(len(who_can(graph, uid, right)) for uid in restricted for right in RIGHTS)
    asked = time.perf_counter() - started
    started = time.perf_counter()
    reached = sum(len(data_reaches(graph, uid)) for uid in restricted[:2000])
    flowed = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"{args.resources} resources, {graph.number_of_edges()} edges, {args.per_role} per role")
    print(f"build_graph: {built:.1f} s")
    print(f"who_can x4 over {len(restricted)} restricted stores: {asked:.1f} s ({grants} grants)")
    print(f"data_reaches over 2000 stores: {flowed:.1f} s ({reached} reached)")
    print(f"total graph + who-can: {built + asked:.1f} s; peak RSS {peak:.0f} MB")


if __name__ == "__main__":
    main()
