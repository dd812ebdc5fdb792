"""FLOW: where copies of the data can end up, following every data-flow edge transitively."""

from __future__ import annotations

from collections.abc import Iterator

from auditor.checking import CheckContext, CheckMeta, Result, Theme, check
from auditor.checks.common import classification_of, own_resources, unknown, unreadable
from auditor.graph import data_reaches, explain_path
from auditor.model import DATA_KINDS, Relation, Severity, Status

REPLICATION = frozenset({Relation.REPLICATES_TO})


@check(
    CheckMeta(
        id="FLOW-001",
        title="Replication carries data to a jurisdiction its classification does not allow",
        theme=Theme.FLOW,
        severity=Severity.CRITICAL,
        fails_when=(
            "following replication (S3 rules, DynamoDB replicas, secret and registry "
            "replication) transitively from a store reaches a store whose country is not "
            "allowed for the source's classification"
        ),
        frameworks=(
            "GB/T 22239-2019 8.2.4.5(a)",
            "DSL art. 31",
            "PIPL art. 38-40",
            "数据出境安全评估办法 art. 4",
            "GDPR art. 44-46",
            "SecNumCloud 3.2 19.2(b)",
        ),
        remediation=(
            "Delete or re-target the replication rule to an allowed region and remove the "
            "copies it made, or record a transfer approval and a waiver."
        ),
        cli="aws s3api delete-bucket-replication --bucket BUCKET",
    )
)
def replication_leaves_jurisdiction(ctx: CheckContext) -> Iterator[Result]:
    for source in own_resources(ctx, *DATA_KINDS):
        if source.native_type.startswith("rds:"):
            continue  # database replicas and global clusters are FLOW-002's
        missing = unreadable(source, "replication")
        if missing:
            yield unknown(source, missing)
            continue
        cls = classification_of(ctx, source).classification
        reached = data_reaches(ctx.graph, source.uid, REPLICATION)
        leaks, unknowns = [], []
        for node, path in sorted(reached.items()):
            allowed = cls.allows(ctx.graph.nodes[node].get("jurisdiction"))
            if allowed is False:
                leaks.append((node, path))
            elif allowed is None:
                unknowns.append(node)
        if leaks:
            evidence = tuple(line for _, path in leaks for line in explain_path(ctx.graph, path))
            countries = sorted({str(ctx.graph.nodes[n].get("jurisdiction")) for n, _ in leaks})
            message = (
                f"copies of {source.name} ({cls.name}, allowed {cls.allowed_text()}) reach "
                f"{', '.join(countries)} through {len(leaks)} replication path(s)"
            )
            yield Result(source, Status.FAIL, message, evidence)
        elif unknowns:
            message = (
                f"{source.name} replicates to {', '.join(unknowns)}, whose jurisdiction "
                "govaudit could not see; confirm the destination's region"
            )
            evidence = tuple(line for n in unknowns for line in explain_path(ctx.graph, reached[n]))
            yield Result(source, Status.UNKNOWN, message, evidence)
        elif reached:
            message = f"all {len(reached)} copies of {source.name} stay in {cls.allowed_text()}"
            yield Result(source, Status.PASS, message)
        else:
            yield Result(source, Status.PASS, f"{source.name} has no replication")
