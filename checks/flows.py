"""FLOW: where copies of the data can end up, following every data-flow edge transitively."""

from __future__ import annotations

from collections.abc import Iterator

from auditor.checking import CheckContext, CheckMeta, Result, Theme, check
from auditor.checks.common import (
    classification_of,
    log_countries,
    own_resources,
    party_of,
    unknown,
    unreadable,
)
from auditor.graph import data_reaches, describe_node, explain_path
from auditor.model import DATA_KINDS, Kind, Relation, Resource, Severity, Status
from auditor.policy import Classification

REPLICATION = frozenset({Relation.REPLICATES_TO})
COPIES = frozenset({Relation.COPIES_TO})
# Where backups and snapshots start: what they copy, and the copies themselves.
BACKUP_SOURCES = (Kind.VOLUME, Kind.DATABASE, Kind.SNAPSHOT, Kind.BACKUP_VAULT)


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
        yield judge_copies(ctx, source, REPLICATION, "replication")


def judge_copies(
    ctx: CheckContext, source: Resource, relations: frozenset[Relation], mechanism: str
) -> Result:
    """Follow `relations` from `source`; fail on any copy in a country its class forbids."""
    missing = unreadable(source, "replication")
    if missing:
        return unknown(source, missing)
    cls = classification_of(ctx, source).classification
    reached = data_reaches(ctx.graph, source.uid, relations)
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
            f"{', '.join(countries)} through {len(leaks)} {mechanism} path(s)"
        )
        return Result(source, Status.FAIL, message, evidence)
    if unknowns:
        message = (
            f"{source.name}'s {mechanism} reaches {', '.join(unknowns)}, whose jurisdiction "
            "govaudit could not see; confirm the destination's region"
        )
        evidence = tuple(line for n in unknowns for line in explain_path(ctx.graph, reached[n]))
        return Result(source, Status.UNKNOWN, message, evidence)
    if reached:
        message = f"all {len(reached)} copies of {source.name} stay in {cls.allowed_text()}"
        return Result(source, Status.PASS, message)
    return Result(source, Status.PASS, f"{source.name} has no {mechanism}")


@check(
    CheckMeta(
        id="FLOW-002",
        title="Database replica or global-cluster member in a jurisdiction the data may not go",
        theme=Theme.FLOW,
        severity=Severity.CRITICAL,
        fails_when=(
            "an RDS read replica, Aurora global-cluster member or replica of a replica sits in "
            "a country not allowed for the source database's classification"
        ),
        frameworks=(
            "GB/T 22239-2019 8.2.4.5(a)",
            "DSL art. 31",
            "PIPL art. 38-40",
            "GDPR art. 44-46",
        ),
        remediation=(
            "Promote or delete the replica abroad, or remove the secondary from the global "
            "cluster; recreate it in an allowed region if availability needs it."
        ),
        cli=(
            "aws rds remove-from-global-cluster --global-cluster-identifier GLOBAL "
            "--db-cluster-identifier ARN"
        ),
    )
)
def database_replica_abroad(ctx: CheckContext) -> Iterator[Result]:
    for source in own_resources(ctx, Kind.DATABASE):
        if source.native_type.startswith("rds:"):
            yield judge_copies(ctx, source, REPLICATION, "database replication")


@check(
    CheckMeta(
        id="FLOW-003",
        title="Backup or snapshot copies leave the allowed jurisdictions or the organisation",
        theme=Theme.FLOW,
        severity=Severity.HIGH,
        fails_when=(
            "following copies (snapshots of volumes and databases, AWS Backup copy actions) "
            "from a volume, database, snapshot or backup vault reaches a country its class "
            "forbids"
        ),
        frameworks=("GB/T 22239-2019 8.2.4.5(a), 8.2.4.6(b)", "DSL art. 31"),
        remediation=(
            "Re-target the backup plan's copy action to a vault in an allowed region of an "
            "own account, and delete the copies already made."
        ),
    )
)
def backup_copies_leave(ctx: CheckContext) -> Iterator[Result]:
    for source in own_resources(ctx, *BACKUP_SOURCES):
        yield judge_copies(ctx, source, COPIES, "backup or snapshot copy")


@check(
    CheckMeta(
        id="FLOW-004",
        title="Snapshot or image shared with an untrusted account or with everyone",
        theme=Theme.FLOW,
        severity=Severity.HIGH,
        fails_when=(
            "an EBS snapshot, AMI or RDS snapshot is shared (createVolumePermission, "
            "launchPermission, restore attribute) with an account that is neither the "
            "organisation's nor trusted (high), or with all AWS accounts (critical)"
        ),
        frameworks=(
            "GB/T 22239-2019 8.2.4.4(c), 8.2.4.5(b)",
            "SecNumCloud 3.2 9.7",
        ),
        remediation="Remove the sharing, and turn on block public access for snapshots and AMIs.",
        cli=(
            "aws ec2 modify-snapshot-attribute --snapshot-id SNAPSHOT --attribute "
            "createVolumePermission --operation-type remove --user-ids ACCOUNT"
        ),
    )
)
def shared_copies(ctx: CheckContext) -> Iterator[Result]:
    for copy in own_resources(ctx, Kind.SNAPSHOT, Kind.IMAGE):
        shares = [
            (dst, data)
            for _, dst, data in ctx.graph.out_edges(copy.uid, data=True)
            if data["relation"] == Relation.SHARED_WITH
        ]
        verdicts = [(party_of(ctx, dst), data["evidence"]) for dst, data in shares]
        public = [ev for (kind, _), ev in verdicts if kind == "public"]
        outside = [(who, ev) for (kind, who), ev in verdicts if kind == "external"]
        if public:
            message = f"{copy.name} is shared publicly, with every account of {copy.provider}"
            yield Result(copy, Status.FAIL, message, tuple(public), Severity.CRITICAL)
        elif outside:
            who = "; ".join(sorted({w for w, _ in outside}))
            yield Result(
                copy, Status.FAIL, f"{copy.name} is shared with {who}", tuple(e for _, e in outside)
            )
        elif missing := unreadable(copy, "sharing"):
            yield unknown(copy, missing)
        elif verdicts:
            who = "; ".join(sorted({w for (_, w), _ in verdicts}))
            yield Result(copy, Status.PASS, f"{copy.name} is shared only with {who}")
        else:
            yield Result(copy, Status.PASS, f"{copy.name} is not shared")


@check(
    CheckMeta(
        id="FLOW-005",
        title="Logs delivered to another account or outside the log jurisdictions",
        theme=Theme.FLOW,
        severity=Severity.HIGH,
        fails_when=(
            "a trail, log group, bucket access log or VPC flow log delivers to a destination in "
            "an account that is not the organisation's, or in a country outside the policy's "
            "log_jurisdictions (or, when unset, the organisation's home jurisdiction)"
        ),
        frameworks=("PIPL art. 38", "SecNumCloud 3.2 19.2(d)", "GB/T 22239-2019 8.2.4.5(a)"),
        remediation="Re-point the log destination to a log-archive account in an allowed region.",
    )
)
def logs_leave(ctx: CheckContext) -> Iterator[Result]:
    allowed = log_countries(ctx)
    for source in ctx.resources.values():
        if source.attrs.get("observed_only"):
            continue
        sinks = [
            (dst, data)
            for _, dst, data in ctx.graph.out_edges(source.uid, data=True)
            if data["relation"] == Relation.DELIVERS_LOGS_TO
        ]
        if sinks:
            yield _judge_log_sinks(ctx, source, sinks, allowed)


def _judge_log_sinks(
    ctx: CheckContext,
    source: Resource,
    sinks: list[tuple[str, dict[str, object]]],
    allowed: frozenset[str] | None,
) -> Result:
    bad, unclear = [], []
    for dst, data in sinks:
        attrs = ctx.graph.nodes[dst]
        account, country = attrs.get("account"), attrs.get("jurisdiction")
        line = f"{describe_node(ctx.graph, dst)}: {data['evidence']}"
        if account and not ctx.policy.is_own_account(str(account)):
            bad.append(f"{line} [account {account} is not the organisation's]")
        elif allowed is not None and country is not None and country not in allowed:
            bad.append(f"{line} [{country} is outside {', '.join(sorted(allowed))}]")
        elif country is None or account is None or allowed is None:
            unclear.append(line)
    if bad:
        return Result(source, Status.FAIL, f"{source.name} delivers logs outside", tuple(bad))
    if unclear:
        message = (
            f"{source.name} delivers logs to destinations whose account or country govaudit "
            "could not see, or the policy sets no log_jurisdictions"
        )
        return Result(source, Status.UNKNOWN, message, tuple(unclear))
    return Result(source, Status.PASS, f"{source.name} delivers logs only to own, allowed places")


@check(
    CheckMeta(
        id="FLOW-007",
        title="Network peering with an outside account or a foreign region",
        theme=Theme.FLOW,
        severity=Severity.MEDIUM,
        fails_when=(
            "a VPC or transit gateway peers with one in an account that is neither the "
            "organisation's nor trusted, or in a country other than the organisation's home "
            "jurisdiction"
        ),
        frameworks=("GB/T 22239-2019 8.2.2.1, 8.2.3.1", "CIS AWS Foundations 5.0 5.6"),
        remediation="Delete the peering (and its routes), or document it as a trusted link.",
        cli="aws ec2 delete-vpc-peering-connection --vpc-peering-connection-id PCX",
    )
)
def peering_outside(ctx: CheckContext) -> Iterator[Result]:
    home = ctx.policy.home_jurisdiction
    for network in own_resources(ctx, Kind.NETWORK):
        peers = [
            (v if u == network.uid else u, data)
            for u, v, data in [
                *ctx.graph.out_edges(network.uid, data=True),
                *ctx.graph.in_edges(network.uid, data=True),
            ]
            if data["relation"] == Relation.PEERS_WITH
        ]
        bad = []
        for peer, data in peers:
            kind, who = party_of(ctx, peer)
            country = ctx.graph.nodes[peer].get("jurisdiction")
            if kind == "external":
                bad.append(f"{data['evidence']} [{who}]")
            elif home and country and country != home:
                bad.append(f"{data['evidence']} [peer in {country}]")
        if bad:
            yield Result(network, Status.FAIL, f"{network.name} peers outside", tuple(bad))
        elif missing := unreadable(network, "peerings"):
            yield unknown(network, missing)
        else:
            note = (
                f"{len(peers)} peering(s), all own or trusted and at home"
                if peers
                else "no peering"
            )
            yield Result(network, Status.PASS, f"{network.name}: {note}")


@check(
    CheckMeta(
        id="FLOW-006",
        title="Messages and events sent outside the organisation",
        theme=Theme.FLOW,
        severity=Severity.HIGH,
        fails_when=(
            "a topic, queue or bucket sends messages or event notifications to an HTTP(S), "
            "e-mail or SMS endpoint not listed in external_endpoints with a country the data's "
            "class allows, or to a queue, function or topic of an account neither own nor trusted"
        ),
        frameworks=("PIPL art. 38", "GB/T 22239-2019 8.2.4.5(a)", "DSL art. 31"),
        remediation=(
            "Remove the subscription or notification, or register the endpoint (host and "
            "country) in external_endpoints once its transfer is approved."
        ),
        cli="aws sns unsubscribe --subscription-arn SUBSCRIPTION",
    )
)
def messages_leave(ctx: CheckContext) -> Iterator[Result]:
    for source in own_resources(ctx, Kind.TOPIC, Kind.QUEUE, Kind.OBJECT_STORE):
        targets = [
            (dst, data)
            for _, dst, data in ctx.graph.out_edges(source.uid, data=True)
            if data["relation"] == Relation.COPIES_TO and _is_message_target(dst)
        ]
        if not targets:
            continue
        cls = classification_of(ctx, source).classification
        bad = [
            f"{data['evidence']} [{why}]"
            for dst, data in targets
            if (why := _outside(ctx, dst, cls))
        ]
        if bad:
            yield Result(source, Status.FAIL, f"{source.name} sends data outside", tuple(bad))
        else:
            message = f"{source.name} sends to {len(targets)} own, trusted or approved target(s)"
            yield Result(source, Status.PASS, message)


def _is_message_target(uid: str) -> bool:
    if uid.startswith("endpoint:"):
        return True
    parts = uid.split(":")
    return len(parts) > 2 and parts[2] in ("sqs", "sns", "lambda", "firehose", "events")


def _outside(ctx: CheckContext, uid: str, cls: Classification) -> str:
    """Why a target is outside, or "" when it is own, trusted or approved."""
    if uid.startswith("endpoint:"):
        host = uid.split(":", 2)[2].removeprefix("*@").lower()
        country = ctx.policy.external_endpoints.get(host)
        if country is None:
            return f"{host} is not in external_endpoints"
        if cls.allows(country) is False:
            return f"{host} is in {country}, not allowed for {cls.name}"
        return ""
    kind, who = party_of(ctx, uid)
    return who if kind == "external" else ""
