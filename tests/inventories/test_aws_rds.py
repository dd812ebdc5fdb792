"""RDS inventory: transforms on recorded moto responses, and collection from moto over HTTP.

The estate (seeded by `seed_rds`):
aws-cn, account 123456789012:
  cn-north-1: key gov-rds; instance gov-db (postgres, encrypted by gov-rds, public, 7-day
    backups, multi-AZ, tags) with read replicas gov-db-nx (cn-northwest-1) and gov-db-local;
    manual snapshot gov-snap shared with 999988887777; cluster gov-aurora (encrypted by
    gov-rds), writer of global cluster gov-global; manual cluster snapshot gov-csnap shared
    with "all"; moto adds an automated snapshot per instance and cluster.
  cn-northwest-1: gov-db-nx; cluster gov-aurora-nx, secondary of gov-global.
aws, account 111122223333: hk-db (ap-east-1, unencrypted) with read replica eu-db (eu-central-1).
"""

from __future__ import annotations

import copy
import json
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from auditor.inventories import aws as aws_adapter
from auditor.inventories.aws import collect_account, rds
from auditor.inventories.aws.calls import DENIED, NOT_APPLICABLE, READ
from auditor.inventories.aws.identity import CallerIdentity
from auditor.inventories.aws.registry import ServiceContext, SharedFacts
from auditor.inventories.aws.session import Clients, make_client
from auditor.model import Coverage, Edge, Kind, Outcome, Relation, Resource
from tests.conftest import FIXTURES
from tests.inventories.conftest import (
    CN1,
    CN2,
    FRA,
    HK,
    HK_ACCOUNT,
    MAIN,
    VENDOR,
    assumed_session,
)

CN_ARN = f"arn:aws-cn:rds:{CN1}:{MAIN}"
NX_ARN = f"arn:aws-cn:rds:{CN2}:{MAIN}"
GOV_DB, GOV_DB_NX, GOV_DB_LOCAL = (
    f"{CN_ARN}:db:gov-db",
    f"{NX_ARN}:db:gov-db-nx",
    f"{CN_ARN}:db:gov-db-local",
)
AURORA, AURORA_NX = f"{CN_ARN}:cluster:gov-aurora", f"{NX_ARN}:cluster:gov-aurora-nx"
GOV_SNAP, GOV_CSNAP = f"{CN_ARN}:snapshot:gov-snap", f"{CN_ARN}:cluster-snapshot:gov-csnap"
HK_DB = f"arn:aws:rds:{HK}:{HK_ACCOUNT}:db:hk-db"
EU_DB = f"arn:aws:rds:{FRA}:{HK_ACCOUNT}:db:eu-db"
PASSWORD = "not-a-secret-1"


# --- seeding ----------------------------------------------------------------------------------


def _instance(client: Any, ident: str, **extra: Any) -> dict[str, Any]:
    created: dict[str, Any] = client.create_db_instance(
        DBInstanceIdentifier=ident,
        DBInstanceClass="db.t3.micro",
        Engine="postgres",
        MasterUsername="admin_user",
        MasterUserPassword=PASSWORD,
        AllocatedStorage=20,
        **extra,
    )["DBInstance"]
    return created


def _cluster(client: Any, ident: str, **extra: Any) -> None:
    client.create_db_cluster(
        DBClusterIdentifier=ident,
        Engine="aurora-postgresql",
        MasterUsername="admin_user",
        MasterUserPassword=PASSWORD,
        **extra,
    )


def seed_cn(session: boto3.Session, endpoint: str) -> str:
    """The aws-cn part of the estate; returns the ARN of key gov-rds."""
    kms = session.client("kms", region_name=CN1, endpoint_url=endpoint)
    key = kms.create_key(Description="gov-rds")["KeyMetadata"]
    north = session.client("rds", region_name=CN1, endpoint_url=endpoint)
    west = session.client("rds", region_name=CN2, endpoint_url=endpoint)
    _instance(
        north,
        "gov-db",
        StorageEncrypted=True,
        KmsKeyId=key["Arn"],
        PubliclyAccessible=True,
        BackupRetentionPeriod=7,
        MultiAZ=True,
        Tags=[{"Key": "data-class", "Value": "重要数据"}],
    )
    west.create_db_instance_read_replica(
        DBInstanceIdentifier="gov-db-nx", SourceDBInstanceIdentifier=GOV_DB
    )
    north.create_db_instance_read_replica(
        DBInstanceIdentifier="gov-db-local", SourceDBInstanceIdentifier="gov-db"
    )
    north.create_db_snapshot(DBSnapshotIdentifier="gov-snap", DBInstanceIdentifier="gov-db")
    north.modify_db_snapshot_attribute(
        DBSnapshotIdentifier="gov-snap", AttributeName="restore", ValuesToAdd=[VENDOR]
    )
    # moto keeps global clusters in us-east-1 and only finds a source cluster there, so the
    # global cluster is made empty and the clusters join it (first = writer).
    north.create_global_cluster(GlobalClusterIdentifier="gov-global", Engine="aurora-postgresql")
    _cluster(
        north,
        "gov-aurora",
        StorageEncrypted=True,
        KmsKeyId=key["Arn"],
        BackupRetentionPeriod=5,
        GlobalClusterIdentifier="gov-global",
        Tags=[{"Key": "owner-dept", "Value": "dsj"}],
    )
    _cluster(west, "gov-aurora-nx", GlobalClusterIdentifier="gov-global")
    north.create_db_cluster_snapshot(
        DBClusterSnapshotIdentifier="gov-csnap", DBClusterIdentifier="gov-aurora"
    )
    north.modify_db_cluster_snapshot_attribute(
        DBClusterSnapshotIdentifier="gov-csnap", AttributeName="restore", ValuesToAdd=["all"]
    )
    return str(key["Arn"])


def seed_aws(session: boto3.Session, endpoint: str) -> None:
    hk = session.client("rds", region_name=HK, endpoint_url=endpoint)
    fra = session.client("rds", region_name=FRA, endpoint_url=endpoint)
    _instance(hk, "hk-db")
    fra.create_db_instance_read_replica(
        DBInstanceIdentifier="eu-db", SourceDBInstanceIdentifier=HK_DB
    )


@pytest.fixture
def cn_estate(moto_endpoint: str) -> tuple[boto3.Session, str, str]:
    session = boto3.Session(region_name=CN1)
    return session, moto_endpoint, seed_cn(session, moto_endpoint)


def only_rds(monkeypatch: pytest.MonkeyPatch) -> None:
    """Run only RDS in collect_account: other services have their own tests."""
    monkeypatch.setattr(aws_adapter, "services", lambda: (rds.SERVICE,))


def cn_identity() -> CallerIdentity:
    return CallerIdentity(MAIN, f"arn:aws-cn:iam::{MAIN}:user/auditor", "aws-cn")


def context(clients: Clients, identity: CallerIdentity, region: str) -> ServiceContext:
    return ServiceContext(clients, identity, region, region, SharedFacts())


def split(records: Any) -> tuple[dict[str, Resource], list[Edge]]:
    resources = {r.uid: r for r in records if isinstance(r, Resource)}
    return resources, [e for e in records if isinstance(e, Edge)]


def edge_set(edges: list[Edge]) -> set[tuple[str, str, str]]:
    return {(e.src, e.relation.value, e.dst) for e in edges}


def automated(resources: dict[str, Resource]) -> dict[str, Resource]:
    return {u: r for u, r in resources.items() if r.attrs.get("snapshot_type") == "automated"}


# --- transforms on recorded responses ---------------------------------------------------------


def load(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((FIXTURES / "aws" / name).read_text("utf-8"))
    return data


def transformed(
    raw: dict[str, Any], partition: str = "aws-cn"
) -> tuple[dict[str, Resource], list[Edge]]:
    return split(list(rds.transform_rds(raw, partition)))


def fixture_key(raw: dict[str, Any]) -> str:
    return str(
        next(d for d in raw["instances"] if d["DBInstanceIdentifier"] == "gov-db")["KmsKeyId"]
    )


def test_instance_attrs_follow_the_contract():
    raw = load("rds_cn_north_1.json")
    resources, edges = transformed(raw)
    db = resources[GOV_DB]
    key = fixture_key(raw)
    assert (db.kind, db.native_type, db.name, db.account, db.partition) == (
        Kind.DATABASE,
        "rds:db",
        "gov-db",
        MAIN,
        "aws-cn",
    )
    assert db.tags == {"data-class": "重要数据"}
    assert db.attrs == {
        "engine": "postgres",
        "engine_version": "9.3.3",
        "encryption_status": READ,
        "encrypted": True,
        "kms_key_id": key,
        "kms_key_arn": key,
        "key_owner": None,
        "publicly_accessible": True,
        "backup_retention_period": 7,
        "multi_az": True,
        "deletion_protection": False,
        "read_replica_source": None,
        "read_replicas": [GOV_DB_NX, GOV_DB_LOCAL],
        "tags_status": READ,
        "status": "available",
        "db_cluster": None,
        "availability_zone": "cn-north-1a",
    }
    assert resources[GOV_DB_LOCAL].attrs["read_replica_source"] == GOV_DB
    encrypted = next(e for e in edges if e.src == GOV_DB and e.relation is Relation.ENCRYPTED_BY)
    assert encrypted.dst == key
    assert encrypted.evidence == f"{GOV_DB} is encrypted with {key} (DescribeDBInstances KmsKeyId)"


def test_public_instance_is_an_attr_never_a_public_right():
    _, edges = transformed(load("rds_cn_north_1.json"))
    assert not [e for e in edges if e.dst == GOV_DB and e.src == "public:*"]


def test_read_replica_edges_from_both_ends_with_evidence():
    _, north = transformed(load("rds_cn_north_1.json"))
    _, west = transformed(load("rds_cn_northwest_1.json"))
    replication = [
        (e.src, e.dst, e.evidence)
        for e in [*north, *west]
        if e.relation is Relation.REPLICATES_TO and e.src == GOV_DB
    ]
    assert replication == [
        (
            GOV_DB,
            GOV_DB_NX,
            f"RDS instance {GOV_DB} has read replica {GOV_DB_NX} "
            "(DescribeDBInstances ReadReplicaDBInstanceIdentifiers)",
        ),
        (
            GOV_DB,
            GOV_DB_LOCAL,
            f"RDS instance {GOV_DB} has read replica {GOV_DB_LOCAL} "
            "(DescribeDBInstances ReadReplicaDBInstanceIdentifiers)",
        ),
        # The replica names its source by ARN (other region): its region reports it too, in
        # case the source's region is not collected.
        (
            GOV_DB,
            GOV_DB_NX,
            f"RDS instance {GOV_DB_NX} is a read replica of {GOV_DB} "
            "(DescribeDBInstances ReadReplicaSourceDBInstanceIdentifier)",
        ),
    ]


def test_cross_account_and_cross_region_replica_in_the_commercial_partition():
    resources, edges = transformed(load("rds_aws_eu_central_1.json"), "aws")
    eu = resources[EU_DB]
    assert (eu.region, eu.jurisdiction, eu.attrs["read_replica_source"]) == (FRA, "DE", HK_DB)
    assert edge_set(edges) == {(HK_DB, "replicates_to", EU_DB)}


def test_global_cluster_writer_replicates_to_secondary():
    raw = load("rds_cn_north_1.json")
    resources, edges = transformed(raw)
    aurora = resources[AURORA]
    assert aurora.attrs["global_cluster"] == "gov-global"
    assert aurora.attrs["global_clusters_status"] == READ
    assert aurora.attrs["members"] == []
    assert aurora.tags == {"owner-dept": "dsj"}
    (global_edge,) = [e for e in edges if e.dst == AURORA_NX]
    assert global_edge.relation is Relation.REPLICATES_TO
    assert global_edge.src == AURORA
    assert global_edge.evidence == (
        f"Aurora global cluster gov-global: writer {AURORA} replicates to secondary "
        f"{AURORA_NX} (DescribeGlobalClusters GlobalClusterMembers)"
    )


def test_global_cluster_edges_only_from_regions_holding_an_end():
    raw = load("rds_cn_north_1.json")
    (global_cluster,) = raw["global_clusters"]["value"]["GlobalClusters"]
    assert len(list(rds.transform_global_cluster(global_cluster, CN1))) == 1
    assert len(list(rds.transform_global_cluster(global_cluster, CN2))) == 1
    assert list(rds.transform_global_cluster(global_cluster, "cn-northwest-2")) == []


def test_snapshot_sharing_and_lineage():
    raw = load("rds_cn_north_1.json")
    resources, edges = transformed(raw)
    key = fixture_key(raw)
    snap, csnap = resources[GOV_SNAP], resources[GOV_CSNAP]
    assert (snap.kind, snap.native_type) == (Kind.SNAPSHOT, "rds:snapshot")
    assert (csnap.kind, csnap.native_type) == (Kind.SNAPSHOT, "rds:cluster-snapshot")
    sharing = ("sharing_status", "shared_with_accounts", "public", "encrypted", "kms_key_arn")
    assert {k: snap.attrs[k] for k in sharing} == {
        "sharing_status": READ,
        "shared_with_accounts": [VENDOR],
        "public": False,
        "encrypted": True,
        "kms_key_arn": key,
    }
    assert {k: csnap.attrs[k] for k in sharing} == {
        "sharing_status": READ,
        "shared_with_accounts": [],
        "public": True,
        "encrypted": True,
        "kms_key_arn": key,
    }
    evidence = {(e.src, e.relation.value, e.dst): e.evidence for e in edges}
    assert evidence[(GOV_SNAP, "shared_with", f"account:{VENDOR}")] == (
        f"DescribeDBSnapshotAttributes restore: {VENDOR} ({GOV_SNAP})"
    )
    assert evidence[(f"account:{VENDOR}", "can_read", GOV_SNAP)] == (
        f"DescribeDBSnapshotAttributes restore: {VENDOR} ({GOV_SNAP}): may restore a copy"
    )
    assert evidence[("public:*", "can_read", GOV_CSNAP)] == (
        f"DescribeDBClusterSnapshotAttributes restore: all ({GOV_CSNAP}): may restore a copy"
    )
    assert evidence[(GOV_DB, "copies_to", GOV_SNAP)] == (
        f"manual snapshot {GOV_SNAP} of {GOV_DB} (DescribeDBSnapshots DBInstanceIdentifier)"
    )
    assert evidence[(AURORA, "copies_to", GOV_CSNAP)] == (
        f"manual snapshot {GOV_CSNAP} of {AURORA} (DescribeDBClusterSnapshots DBClusterIdentifier)"
    )


def test_automated_snapshots_cannot_be_shared():
    resources, edges = transformed(load("rds_cn_north_1.json"))
    auto = automated(resources)
    assert sorted(r.attrs["source_db"] for r in auto.values()) == [AURORA, GOV_DB]
    for uid, snapshot in auto.items():
        assert snapshot.attrs["sharing_status"] == NOT_APPLICABLE
        assert (snapshot.attrs["public"], snapshot.attrs["shared_with_accounts"]) == (False, [])
        assert not [e for e in edges if e.src == uid and e.relation is Relation.SHARED_WITH]


def test_unread_global_clusters_and_snapshot_attributes_stay_unknown():
    raw = copy.deepcopy(load("rds_cn_north_1.json"))
    raw["global_clusters"] = {"status": DENIED, "code": "AccessDenied"}
    gov_snap = next(e for e in raw["snapshots"] if e["snapshot"]["DBSnapshotArn"] == GOV_SNAP)
    gov_snap["attributes"] = {"status": DENIED, "code": "AccessDenied"}
    resources, edges = transformed(raw)
    aurora, snap = resources[AURORA].attrs, resources[GOV_SNAP].attrs
    assert (aurora["global_clusters_status"], aurora["global_cluster"]) == (DENIED, None)
    assert (snap["sharing_status"], snap["shared_with_accounts"], snap["public"]) == (
        DENIED,
        None,
        None,
    )
    assert not [e for e in edges if e.src == GOV_SNAP and e.relation is Relation.SHARED_WITH]
    assert not [e for e in edges if e.dst == AURORA_NX]
    assert rds.coverage_detail(raw) == (
        "2 instances, 1 clusters, 2 snapshots, 2 cluster snapshots; "
        "unread: global clusters:denied, snapshot attributes:denied×1"
    )


def test_bare_key_ids_become_key_arns_in_the_resource_region():
    raw = copy.deepcopy(load("rds_cn_north_1.json"))
    db = next(d for d in raw["instances"] if d["DBInstanceIdentifier"] == "gov-db")
    db["KmsKeyId"] = "1234abcd-12ab-34cd-56ef-1234567890ab"
    resources, _ = transformed(raw)
    assert resources[GOV_DB].attrs["kms_key_arn"] == (
        f"arn:aws-cn:kms:{CN1}:{MAIN}:key/1234abcd-12ab-34cd-56ef-1234567890ab"
    )


def test_a_copied_snapshot_links_to_its_source_snapshot_and_db_region():
    # moto keeps no copy lineage (SourceRegion, SourceDBSnapshotIdentifier), so this is the
    # AWS shape of a copy made in cn-northwest-1 from gov-snap.
    raw = copy.deepcopy(load("rds_cn_northwest_1.json"))
    copied = copy.deepcopy(load("rds_cn_north_1.json")["snapshots"][1])
    assert copied["snapshot"]["DBSnapshotArn"] == GOV_SNAP
    copy_arn = f"{NX_ARN}:snapshot:gov-snap-copy"
    copied["snapshot"].update(
        DBSnapshotArn=copy_arn,
        DBSnapshotIdentifier="gov-snap-copy",
        SourceRegion=CN1,
        SourceDBSnapshotIdentifier=GOV_SNAP,
    )
    copied["attributes"] = {"status": READ, "value": {"DBSnapshotAttributesResult": {}}}
    raw["snapshots"], raw["cluster_snapshots"] = [copied], []
    resources, edges = transformed(raw)
    assert resources[copy_arn].attrs["source_db"] == GOV_DB
    assert {(e.src, e.dst, e.evidence) for e in edges if e.relation is Relation.COPIES_TO} == {
        (
            GOV_DB,
            copy_arn,
            f"manual snapshot {copy_arn} of {GOV_DB} (DescribeDBSnapshots DBInstanceIdentifier)",
        ),
        (
            GOV_SNAP,
            copy_arn,
            f"snapshot {copy_arn} is a copy of {GOV_SNAP} "
            "(DescribeDBSnapshots SourceDBSnapshotIdentifier)",
        ),
    }


# --- collection over HTTP ---------------------------------------------------------------------


def test_collects_cn_resources_edges_and_coverage(cn_estate, monkeypatch):
    session, endpoint, key = cn_estate
    only_rds(monkeypatch)
    records = list(collect_account(Clients(session, endpoint), cn_identity(), CN1, [CN1, CN2], 1))
    resources, edges = split(records)
    auto = automated(resources)
    assert sorted((r.native_type, r.region, r.attrs["source_db"]) for r in auto.values()) == [
        ("rds:cluster-snapshot", CN1, AURORA),
        ("rds:cluster-snapshot", CN2, AURORA_NX),
        ("rds:snapshot", CN1, GOV_DB),
    ]
    named = {u: r for u, r in resources.items() if u not in auto}
    assert {u: (r.kind, r.native_type, r.region, r.jurisdiction) for u, r in named.items()} == {
        GOV_DB: (Kind.DATABASE, "rds:db", CN1, "CN"),
        GOV_DB_LOCAL: (Kind.DATABASE, "rds:db", CN1, "CN"),
        GOV_DB_NX: (Kind.DATABASE, "rds:db", CN2, "CN"),
        AURORA: (Kind.DATABASE, "rds:cluster", CN1, "CN"),
        AURORA_NX: (Kind.DATABASE, "rds:cluster", CN2, "CN"),
        GOV_SNAP: (Kind.SNAPSHOT, "rds:snapshot", CN1, "CN"),
        GOV_CSNAP: (Kind.SNAPSHOT, "rds:cluster-snapshot", CN1, "CN"),
    }
    assert resources[GOV_DB].attrs["publicly_accessible"] is True
    assert resources[GOV_DB].attrs["kms_key_arn"] == key
    assert resources[AURORA_NX].attrs["encrypted"] is False
    assert edge_set(edges) == {
        (GOV_DB, "encrypted_by", key),
        (GOV_DB_LOCAL, "encrypted_by", key),
        # moto copies the source's key to a cross-region replica (AWS needs one in cn-northwest-1)
        (GOV_DB_NX, "encrypted_by", key),
        (GOV_DB, "replicates_to", GOV_DB_NX),
        (GOV_DB, "replicates_to", GOV_DB_LOCAL),
        (AURORA, "encrypted_by", key),
        (AURORA, "replicates_to", AURORA_NX),
        (GOV_DB, "copies_to", GOV_SNAP),
        (GOV_SNAP, "encrypted_by", key),
        (GOV_SNAP, "shared_with", f"account:{VENDOR}"),
        (f"account:{VENDOR}", "can_read", GOV_SNAP),
        (AURORA, "copies_to", GOV_CSNAP),
        (GOV_CSNAP, "encrypted_by", key),
        (GOV_CSNAP, "shared_with", "public:*"),
        ("public:*", "can_read", GOV_CSNAP),
        *((r.attrs["source_db"], "copies_to", u) for u, r in auto.items()),
        *((u, "encrypted_by", key) for u, r in auto.items() if r.attrs["encrypted"]),
    }
    coverage = {
        (c.account, c.region, c.service, c.outcome, c.detail)
        for c in records
        if isinstance(c, Coverage)
    }
    assert coverage == {
        (MAIN, CN1, "rds", Outcome.OK, "2 instances, 1 clusters, 2 snapshots, 2 cluster snapshots"),
        (MAIN, CN2, "rds", Outcome.OK, "1 instances, 1 clusters, 0 snapshots, 1 cluster snapshots"),
    }


def test_collects_commercial_cross_region_replica(moto_endpoint, monkeypatch):
    session = assumed_session(moto_endpoint, "aws", HK_ACCOUNT, HK)
    seed_aws(session, moto_endpoint)
    only_rds(monkeypatch)
    who = CallerIdentity(HK_ACCOUNT, f"arn:aws:iam::{HK_ACCOUNT}:user/auditor", "aws")
    records = list(collect_account(Clients(session, moto_endpoint), who, HK, [HK, FRA], 1))
    resources, edges = split(records)
    named = {u: r for u, r in resources.items() if u not in automated(resources)}
    assert {u: (r.region, r.partition, r.jurisdiction) for u, r in named.items()} == {
        HK_DB: (HK, "aws", "HK"),
        EU_DB: (FRA, "aws", "DE"),
    }
    assert named[HK_DB].attrs["encrypted"] is False
    assert named[HK_DB].attrs["kms_key_arn"] is None
    replication = {(e.src, e.dst) for e in edges if e.relation is Relation.REPLICATES_TO}
    assert replication == {(HK_DB, EU_DB)}
    assert not [e for e in edges if e.relation is Relation.ENCRYPTED_BY]


def test_only_declared_read_only_calls(cn_estate):
    session, endpoint, _ = cn_estate
    called: set[tuple[str, str]] = set()

    def record(model: Any, **_: Any) -> None:
        called.add((model.service_model.service_name, model.name))

    session.events.register("before-call", record)
    clients = Clients(session, endpoint)
    for region in (CN1, CN2):
        rds.collect(context(clients, cn_identity(), region))
    assert called == set(rds.OPERATIONS)
    assert tuple(sorted(set(rds.OPERATIONS.values()))) == rds.PERMISSIONS


# --- failures (Stubber) -----------------------------------------------------------------------


def stubbed(region: str = CN1) -> tuple[Clients, Stubber]:
    session = boto3.Session(region_name=CN1)
    clients = Clients(session, "http://127.0.0.1:9")
    client = make_client(session, "rds", region, clients.endpoint_url)
    clients.put("rds", region, client)
    return clients, Stubber(client)


def test_denied_listing_becomes_a_coverage_row(monkeypatch):
    only_rds(monkeypatch)
    clients, stub = stubbed()
    stub.add_client_error("describe_db_instances", "AccessDenied", http_status_code=403)
    with stub:
        records = list(collect_account(clients, cn_identity(), CN1, [CN1], 1))
    assert [
        (c.account, c.region, c.service, c.outcome, c.detail)
        for c in records
        if isinstance(c, Coverage)
    ] == [(MAIN, CN1, "rds", Outcome.DENIED, "DescribeDBInstances: AccessDenied")]
    assert len(records) == 1
    stub.assert_no_pending_responses()


def test_denied_sub_calls_are_marked_not_dropped():
    clients, stub = stubbed()
    snapshot = {
        "DBSnapshotIdentifier": "gov-snap",
        "DBInstanceIdentifier": "gov-db",
        "DBSnapshotArn": GOV_SNAP,
        "SnapshotType": "manual",
        "Encrypted": False,
    }
    stub.add_response("describe_db_instances", {"DBInstances": []})
    stub.add_response("describe_db_clusters", {"DBClusters": []})
    stub.add_client_error("describe_global_clusters", "AccessDenied", http_status_code=403)
    stub.add_response("describe_db_snapshots", {"DBSnapshots": [snapshot]})
    stub.add_client_error(
        "describe_db_snapshot_attributes",
        "AccessDenied",
        http_status_code=403,
        expected_params={"DBSnapshotIdentifier": "gov-snap"},
    )
    stub.add_response("describe_db_cluster_snapshots", {"DBClusterSnapshots": []})
    with stub:
        records, detail = rds.collect(context(clients, cn_identity(), CN1))
    resources, edges = split(records)
    assert detail == (
        "0 instances, 0 clusters, 1 snapshots, 0 cluster snapshots; "
        "unread: global clusters:denied, snapshot attributes:denied×1"
    )
    attrs = resources[GOV_SNAP].attrs
    assert (attrs["sharing_status"], attrs["public"], attrs["shared_with_accounts"]) == (
        DENIED,
        None,
        None,
    )
    assert (attrs["encrypted"], attrs["kms_key_arn"]) == (False, None)
    assert edge_set(edges) == {(GOV_DB, "copies_to", GOV_SNAP)}
    stub.assert_no_pending_responses()
