"""RDS of one region: DB instances, Aurora clusters, snapshots, and where their copies go.

Copies are edges: read replicas and global-cluster secondaries (`replicates_to`), snapshots
(`copies_to` from the DB or cluster, and from the snapshot a copy was made of), and snapshot
sharing through the `restore` attribute (`shared_with` plus `can_read` from the account, or from
`public:*` for "all").  A publicly accessible instance is only an attr: that is network reach,
not an IAM right, so it gets no edge from "public:*".
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from functools import partial
from typing import Any

from auditor.inventories.aws.calls import (
    DENIED,
    ERROR,
    INCOMPLETE,
    NOT_APPLICABLE,
    READ,
    attempt,
    clean,
    paginate,
    unusable,
)
from auditor.inventories.aws.policy_rights import PUBLIC
from auditor.inventories.aws.registry import Collected, Scope, Service, ServiceContext
from auditor.inventories.regions import jurisdiction_of
from auditor.model import Edge, Kind, Relation, Resource

# (botocore service, API operation) → the IAM action it needs.
OPERATIONS: dict[tuple[str, str], str] = {
    ("rds", "DescribeDBInstances"): "rds:DescribeDBInstances",
    ("rds", "DescribeDBClusters"): "rds:DescribeDBClusters",
    ("rds", "DescribeGlobalClusters"): "rds:DescribeGlobalClusters",
    ("rds", "DescribeDBSnapshots"): "rds:DescribeDBSnapshots",
    ("rds", "DescribeDBClusterSnapshots"): "rds:DescribeDBClusterSnapshots",
    ("rds", "DescribeDBSnapshotAttributes"): "rds:DescribeDBSnapshotAttributes",
    ("rds", "DescribeDBClusterSnapshotAttributes"): "rds:DescribeDBClusterSnapshotAttributes",
}
PERMISSIONS: tuple[str, ...] = tuple(sorted(set(OPERATIONS.values())))

DB_TYPE = "rds:db"
CLUSTER_TYPE = "rds:cluster"
SNAPSHOT_TYPE = "rds:snapshot"
CLUSTER_SNAPSHOT_TYPE = "rds:cluster-snapshot"
# The snapshot attribute that lists who may restore (so copy) a manual snapshot.
RESTORE = "restore"
# The restore value that makes a snapshot public.
ALL_ACCOUNTS = "all"
# Only manual snapshots can be shared; AWS refuses the attribute call for the others.
SHAREABLE_TYPES = frozenset({"manual"})


# --- get (network) ----------------------------------------------------------------------------


def _snapshot_attributes(client: Any, snapshot: Mapping[str, Any], cluster: bool) -> dict[str, Any]:
    if snapshot.get("SnapshotType") not in SHAREABLE_TYPES:
        return {"status": NOT_APPLICABLE}
    if cluster:
        describe = partial(
            client.describe_db_cluster_snapshot_attributes,
            DBClusterSnapshotIdentifier=snapshot["DBClusterSnapshotIdentifier"],
        )
        result = "DBClusterSnapshotAttributesResult"
        operation = "DescribeDBClusterSnapshotAttributes"
    else:
        describe = partial(
            client.describe_db_snapshot_attributes,
            DBSnapshotIdentifier=snapshot["DBSnapshotIdentifier"],
        )
        result, operation = "DBSnapshotAttributesResult", "DescribeDBSnapshotAttributes"
    fact = attempt(describe, required=(result,))
    if fact["status"] != READ:
        return fact
    listed = fact["value"][result]
    entries = listed.get("DBSnapshotAttributes") or listed.get("DBClusterSnapshotAttributes", [])
    # An attribute without its name could be "restore": the sharing is unknown, not absent.
    if any(not entry.get("AttributeName") for entry in entries):
        return unusable(operation, INCOMPLETE)
    return fact


def get_snapshots(client: Any, cluster: bool) -> list[dict[str, Any]]:
    """Every DB (or cluster) snapshot of the region, each with its restore attribute."""
    if cluster:
        listed = paginate(client, "describe_db_cluster_snapshots", "DBClusterSnapshots")
    else:
        listed = paginate(client, "describe_db_snapshots", "DBSnapshots")
    return [
        {"snapshot": clean(s), "attributes": _snapshot_attributes(client, s, cluster)}
        for s in listed
    ]


def _global_clusters(client: Any) -> dict[str, Any]:
    return {"GlobalClusters": paginate(client, "describe_global_clusters", "GlobalClusters")}


def get_rds(client: Any, region: str, account: str) -> dict[str, Any]:
    """List the region's instances, clusters and snapshots; a denied listing raises.

    Global clusters are read apart: they only link clusters, so a refusal is recorded on the
    clusters (`global_clusters_status`) rather than hiding everything else.
    """
    return {
        "region": region,
        "account": account,
        "instances": clean(paginate(client, "describe_db_instances", "DBInstances")),
        "clusters": clean(paginate(client, "describe_db_clusters", "DBClusters")),
        "global_clusters": attempt(partial(_global_clusters, client)),
        "snapshots": get_snapshots(client, cluster=False),
        "cluster_snapshots": get_snapshots(client, cluster=True),
    }


# --- transform (pure) -------------------------------------------------------------------------


@dataclass(frozen=True)
class Where:
    """Where a listing was made, to build the ARNs the API names only by identifier."""

    region: str
    account: str
    partition: str

    def rds_arn(self, ident: str, resource_type: str, region: str | None = None) -> str:
        """An identifier's ARN (`db`, `cluster`); an ARN stays as it is."""
        if ident.startswith("arn:"):
            return ident
        where = f"{region or self.region}:{self.account}"
        return f"arn:{self.partition}:rds:{where}:{resource_type}:{ident}"

    def kms_arn(self, key_id: str | None) -> str | None:
        """A KmsKeyId as a key ARN (moto gives bare key ids for instances; AWS gives ARNs)."""
        if not key_id or key_id.startswith("arn:"):
            return key_id or None
        prefix = f"arn:{self.partition}:kms:{self.region}:{self.account}"
        return f"{prefix}:{key_id}" if key_id.startswith("alias/") else f"{prefix}:key/{key_id}"


def _account_of(arn: str, default: str) -> str:
    parts = arn.split(":")
    return parts[4] if len(parts) > 4 and parts[4] else default


def _region_of(arn: str) -> str | None:
    parts = arn.split(":")
    return parts[3] if len(parts) > 3 and parts[3] else None


def _tags(item: Mapping[str, Any]) -> dict[str, str]:
    return {str(t["Key"]): str(t.get("Value", "")) for t in item.get("TagList", [])}


def _encryption(encrypted: Any, key_id: str | None, where: Where) -> dict[str, Any]:
    """The contract's encryption attrs; RDS always names its key (aws/rds or a customer key)."""
    known = encrypted is not None
    return {
        "encryption_status": READ,
        "encrypted": bool(encrypted) if known else None,
        "kms_key_id": key_id,
        "kms_key_arn": where.kms_arn(key_id) if encrypted else None,
        "key_owner": None,
    }


def _encryption_edge(uid: str, attrs: Mapping[str, Any], call: str) -> Iterator[Edge]:
    if attrs["encrypted"] and attrs["kms_key_arn"]:
        yield Edge(
            uid,
            str(attrs["kms_key_arn"]),
            Relation.ENCRYPTED_BY,
            f"{uid} is encrypted with {attrs['kms_key_id']} ({call} KmsKeyId)",
        )


def _resource(
    uid: str, kind: Kind, native_type: str, name: str, item: Mapping[str, Any],
    where: Where, attrs: dict[str, Any],
) -> Resource:  # fmt: skip
    return Resource(
        uid=uid,
        provider="aws",
        kind=kind,
        native_type=native_type,
        name=name,
        account=_account_of(uid, where.account),
        region=where.region,
        partition=where.partition,
        jurisdiction=jurisdiction_of("aws", where.region),
        tags=_tags(item),
        attrs=attrs,
    )


# Replicas


@dataclass(frozen=True)
class ReplicaFields:
    """Where a DB kind names its replicas and its source, for edges and their evidence."""

    label: str
    call: str
    replicas: tuple[tuple[str, str], ...]  # (field, ARN resource type)
    source: str
    source_type: str


INSTANCE_REPLICAS = ReplicaFields(
    "RDS instance",
    "DescribeDBInstances",
    (("ReadReplicaDBInstanceIdentifiers", "db"), ("ReadReplicaDBClusterIdentifiers", "cluster")),
    "ReadReplicaSourceDBInstanceIdentifier",
    "db",
)
CLUSTER_REPLICAS = ReplicaFields(
    "RDS cluster",
    "DescribeDBClusters",
    (("ReadReplicaIdentifiers", "cluster"),),
    "ReplicationSourceIdentifier",
    "cluster",
)


def _replicas(
    item: Mapping[str, Any], fields: ReplicaFields, where: Where
) -> list[tuple[str, str]]:
    """(replica ARN, field naming it); same-region replicas are named by identifier only."""
    return [
        (where.rds_arn(str(ident), resource_type), field)
        for field, resource_type in fields.replicas
        for ident in item.get(field, [])
    ]


def _source(item: Mapping[str, Any], fields: ReplicaFields, where: Where) -> str | None:
    source = item.get(fields.source)
    return where.rds_arn(str(source), fields.source_type) if source else None


def _elsewhere(arn: str, uid: str) -> bool:
    """True when `arn` is in another region or account than `uid`."""
    return (_region_of(arn), _account_of(arn, "")) != (_region_of(uid), _account_of(uid, ""))


def _replica_edges(
    uid: str, item: Mapping[str, Any], fields: ReplicaFields, where: Where
) -> Iterator[Edge]:
    """Source → replica from the source's list, and from the replica when its source is in
    another region or account (whose listing may not be collected)."""
    for replica, field in _replicas(item, fields, where):
        yield Edge(
            uid,
            replica,
            Relation.REPLICATES_TO,
            f"{fields.label} {uid} has read replica {replica} ({fields.call} {field})",
        )
    source = _source(item, fields, where)
    if source and _elsewhere(source, uid):
        yield Edge(
            source,
            uid,
            Relation.REPLICATES_TO,
            f"{fields.label} {uid} is a read replica of {source} ({fields.call} {fields.source})",
        )


def _db_attrs(item: Mapping[str, Any], fields: ReplicaFields, where: Where) -> dict[str, Any]:
    """Attrs instances and clusters share."""
    return {
        "engine": item.get("Engine"),
        "engine_version": item.get("EngineVersion"),
        **_encryption(item.get("StorageEncrypted"), item.get("KmsKeyId"), where),
        "publicly_accessible": item.get("PubliclyAccessible"),
        "backup_retention_period": item.get("BackupRetentionPeriod"),
        "multi_az": item.get("MultiAZ"),
        "deletion_protection": item.get("DeletionProtection"),
        "read_replica_source": _source(item, fields, where),
        "read_replicas": [arn for arn, _ in _replicas(item, fields, where)],
        "tags_status": READ,  # TagList comes with the Describe call itself
    }


# Instances


def transform_instance(db: Mapping[str, Any], where: Where) -> Iterator[Resource | Edge]:
    """One DB instance → its Resource, `encrypted_by` and read-replica edges."""
    uid = str(db["DBInstanceArn"])
    attrs = {
        **_db_attrs(db, INSTANCE_REPLICAS, where),
        "status": db.get("DBInstanceStatus"),
        "db_cluster": db.get("DBClusterIdentifier"),
        "availability_zone": db.get("AvailabilityZone"),
    }
    yield _resource(uid, Kind.DATABASE, DB_TYPE, str(db["DBInstanceIdentifier"]), db, where, attrs)
    yield from _encryption_edge(uid, attrs, "DescribeDBInstances")
    yield from _replica_edges(uid, db, INSTANCE_REPLICAS, where)


# Clusters and global clusters


def _writer(global_cluster: Mapping[str, Any]) -> str | None:
    members = global_cluster.get("GlobalClusterMembers", [])
    return next((str(m["DBClusterArn"]) for m in members if m.get("IsWriter")), None)


def _membership(raw: Mapping[str, Any]) -> dict[str, str]:
    """Cluster ARN → the global cluster it belongs to."""
    listed = raw["global_clusters"].get("value", {}).get("GlobalClusters", [])
    return {
        str(member["DBClusterArn"]): str(gc["GlobalClusterIdentifier"])
        for gc in listed
        for member in gc.get("GlobalClusterMembers", [])
    }


def transform_cluster(
    cluster: Mapping[str, Any], where: Where, raw: Mapping[str, Any]
) -> Iterator[Resource | Edge]:
    """One DB cluster → its Resource, `encrypted_by` and cross-cluster replica edges."""
    uid = str(cluster["DBClusterArn"])
    status = raw["global_clusters"]["status"]
    attrs = {
        **_db_attrs(cluster, CLUSTER_REPLICAS, where),
        "status": cluster.get("Status"),
        "members": [str(m["DBInstanceIdentifier"]) for m in cluster.get("DBClusterMembers", [])],
        "global_clusters_status": status,
        "global_cluster": _membership(raw).get(uid) if status == READ else None,
    }
    name = str(cluster["DBClusterIdentifier"])
    yield _resource(uid, Kind.DATABASE, CLUSTER_TYPE, name, cluster, where, attrs)
    yield from _encryption_edge(uid, attrs, "DescribeDBClusters")
    yield from _replica_edges(uid, cluster, CLUSTER_REPLICAS, where)


def transform_global_cluster(global_cluster: Mapping[str, Any], region: str) -> Iterator[Edge]:
    """Writer → each secondary, from the regions of either end only.

    DescribeGlobalClusters answers the same in every region; one edge per region that holds
    an end keeps it when only some regions are collected, without repeating it everywhere.
    """
    writer = _writer(global_cluster)
    if writer is None:
        return
    ident = global_cluster.get("GlobalClusterIdentifier")
    for member in global_cluster.get("GlobalClusterMembers", []):
        secondary = str(member["DBClusterArn"])
        if secondary == writer or region not in (_region_of(writer), _region_of(secondary)):
            continue
        yield Edge(
            writer,
            secondary,
            Relation.REPLICATES_TO,
            f"Aurora global cluster {ident}: writer {writer} replicates to secondary "
            f"{secondary} (DescribeGlobalClusters GlobalClusterMembers)",
        )


# Snapshots


@dataclass(frozen=True)
class SnapshotFields:
    """How DB and cluster snapshots name the same facts."""

    native_type: str
    arn_type: str
    call: str
    attributes_call: str
    arn: str
    ident: str
    source: str
    source_type: str
    copied_from: str
    encrypted: str


DB_SNAPSHOT = SnapshotFields(
    SNAPSHOT_TYPE,
    "snapshot",
    "DescribeDBSnapshots",
    "DescribeDBSnapshotAttributes",
    "DBSnapshotArn",
    "DBSnapshotIdentifier",
    "DBInstanceIdentifier",
    "db",
    "SourceDBSnapshotIdentifier",
    "Encrypted",
)
CLUSTER_SNAPSHOT = SnapshotFields(
    CLUSTER_SNAPSHOT_TYPE,
    "cluster-snapshot",
    "DescribeDBClusterSnapshots",
    "DescribeDBClusterSnapshotAttributes",
    "DBClusterSnapshotArn",
    "DBClusterSnapshotIdentifier",
    "DBClusterIdentifier",
    "cluster",
    "SourceDBClusterSnapshotArn",
    "StorageEncrypted",
)


def _restore_values(attributes: Mapping[str, Any]) -> list[str]:
    value = attributes.get("value", {})
    result = value.get("DBSnapshotAttributesResult") or value.get(
        "DBClusterSnapshotAttributesResult", {}
    )
    listed = result.get("DBSnapshotAttributes") or result.get("DBClusterSnapshotAttributes", [])
    return [
        str(v)
        for attribute in listed
        if attribute.get("AttributeName") == RESTORE
        for v in attribute.get("AttributeValues", [])
    ]


def _sharing(attributes: Mapping[str, Any]) -> dict[str, Any]:
    """Sharing attrs; unknown (None) unless the attribute was read or cannot exist."""
    status = attributes["status"]
    known = status in (READ, NOT_APPLICABLE)
    values = _restore_values(attributes)
    return {
        "sharing_status": status,
        "shared_with_accounts": sorted(v for v in values if v != ALL_ACCOUNTS) if known else None,
        "public": (ALL_ACCOUNTS in values) if known else None,
    }


def _source_db(snapshot: Mapping[str, Any], fields: SnapshotFields, where: Where) -> str | None:
    """The DB or cluster a snapshot was taken of; a copy names it in the source region."""
    ident = snapshot.get(fields.source)
    if not ident:
        return None
    return where.rds_arn(str(ident), fields.source_type, snapshot.get("SourceRegion"))


def _sharing_edges(uid: str, values: list[str], fields: SnapshotFields) -> Iterator[Edge]:
    for value in values:
        principal = PUBLIC if value == ALL_ACCOUNTS else f"account:{value}"
        evidence = f"{fields.attributes_call} {RESTORE}: {value} ({uid})"
        yield Edge(uid, principal, Relation.SHARED_WITH, evidence)
        yield Edge(principal, uid, Relation.CAN_READ, f"{evidence}: may restore a copy")


def _lineage_edges(
    uid: str, snapshot: Mapping[str, Any], fields: SnapshotFields, where: Where
) -> Iterator[Edge]:
    source_db = _source_db(snapshot, fields, where)
    kind = snapshot.get("SnapshotType")
    if source_db:
        yield Edge(
            source_db,
            uid,
            Relation.COPIES_TO,
            f"{kind} snapshot {uid} of {source_db} ({fields.call} {fields.source})",
        )
    copied_from = snapshot.get(fields.copied_from)
    if copied_from:
        yield Edge(
            where.rds_arn(str(copied_from), fields.arn_type),
            uid,
            Relation.COPIES_TO,
            f"snapshot {uid} is a copy of {copied_from} ({fields.call} {fields.copied_from})",
        )


def transform_snapshot(
    entry: Mapping[str, Any], fields: SnapshotFields, where: Where
) -> Iterator[Resource | Edge]:
    """One snapshot → its Resource, lineage (`copies_to`), key and sharing edges."""
    snapshot, attributes = entry["snapshot"], entry["attributes"]
    uid = str(snapshot[fields.arn])
    attrs = {
        "snapshot_type": snapshot.get("SnapshotType"),
        "status": snapshot.get("Status"),
        "engine": snapshot.get("Engine"),
        "created": snapshot.get("SnapshotCreateTime"),
        "source_db": _source_db(snapshot, fields, where),
        "source_region": snapshot.get("SourceRegion"),
        "copied_from": snapshot.get(fields.copied_from),
        **_encryption(snapshot.get(fields.encrypted), snapshot.get("KmsKeyId"), where),
        **_sharing(attributes),
        "tags_status": READ,
    }
    name = str(snapshot[fields.ident])
    yield _resource(uid, Kind.SNAPSHOT, fields.native_type, name, snapshot, where, attrs)
    yield from _lineage_edges(uid, snapshot, fields, where)
    yield from _encryption_edge(uid, attrs, fields.call)
    if attributes["status"] == READ:
        yield from _sharing_edges(uid, _restore_values(attributes), fields)


def transform_rds(raw: Mapping[str, Any], partition: str) -> Iterator[Resource | Edge]:
    """One region's raw RDS listing → resources and edges."""
    where = Where(str(raw["region"]), str(raw["account"]), partition)
    for db in raw["instances"]:
        yield from transform_instance(db, where)
    for cluster in raw["clusters"]:
        yield from transform_cluster(cluster, where, raw)
    for global_cluster in raw["global_clusters"].get("value", {}).get("GlobalClusters", []):
        yield from transform_global_cluster(global_cluster, where.region)
    for entry in raw["snapshots"]:
        yield from transform_snapshot(entry, DB_SNAPSHOT, where)
    for entry in raw["cluster_snapshots"]:
        yield from transform_snapshot(entry, CLUSTER_SNAPSHOT, where)


def coverage_detail(raw: Mapping[str, Any]) -> str:
    """The coverage detail: counts, and which facts could not be read."""
    detail = (
        f"{len(raw['instances'])} instances, {len(raw['clusters'])} clusters, "
        f"{len(raw['snapshots'])} snapshots, {len(raw['cluster_snapshots'])} cluster snapshots"
    )
    unread = [f"global clusters:{raw['global_clusters']['status']}"]
    unread = [u for u in unread if u.endswith((DENIED, ERROR))]
    shared = [
        e["attributes"]["status"]
        for e in [*raw["snapshots"], *raw["cluster_snapshots"]]
        if e["attributes"]["status"] in (DENIED, ERROR)
    ]
    unread += [f"snapshot attributes:{s}×{shared.count(s)}" for s in sorted(set(shared))]
    return detail + ("; unread: " + ", ".join(unread) if unread else "")


def collect(ctx: ServiceContext) -> Collected:
    """RDS instances, clusters and snapshots of one region."""
    raw = get_rds(ctx.clients.get("rds", ctx.region), ctx.region, ctx.identity.account)
    return list(transform_rds(raw, ctx.identity.partition)), coverage_detail(raw)


SERVICE = Service("rds", Scope.REGIONAL, collect, OPERATIONS, phase=1)
