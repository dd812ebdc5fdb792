"""The same checks judge every kind of data store, through the attrs adapters share."""

from __future__ import annotations

from typing import Any

from auditor.inventories.regions import jurisdiction_of
from auditor.model import Kind, Relation, Resource, Status
from tests.helpers import bucket, edge, key, make_ctx, run_one

IMPORTANT = {"data-class": "重要", "owner-dept": "dsj"}


def store(
    name: str, kind: Kind, native_type: str, region: str = "cn-north-1", **attrs: Any
) -> Resource:
    return Resource(
        uid=f"arn:aws-cn:{native_type.split(':')[0]}:{region}:111111111111:{name}",
        provider="aws",
        kind=kind,
        native_type=native_type,
        name=name,
        account="111111111111",
        region=region,
        partition="aws-cn",
        jurisdiction=jurisdiction_of("aws", region),
        tags=IMPORTANT,
        attrs={"encryption_status": "read", "tags_status": "read"} | attrs,
    )


def test_key001_over_volumes_tables_queues_and_secrets():
    cmk, aws_key = key("cmk"), key("awskey", key_manager="AWS")
    items = [
        store("plain-volume", Kind.VOLUME, "ec2:volume", encrypted=False),
        store("cmk-volume", Kind.VOLUME, "ec2:volume", encrypted=True),
        store(
            "default-table", Kind.DATABASE, "dynamodb:table", encrypted=True, key_owner="aws_owned"
        ),
        store(
            "managed-secret",
            Kind.SECRET,
            "secretsmanager:secret",
            encrypted=True,
            key_owner="aws_managed",
        ),
        store("aws-key-queue", Kind.QUEUE, "sqs:queue", encrypted=True),
        store("mystery-db", Kind.DATABASE, "rds:db", encrypted=True),
        store("hidden-topic", Kind.TOPIC, "sns:topic", encryption_status="denied"),
    ]
    edges = [
        edge(items[1], cmk, Relation.ENCRYPTED_BY),
        edge(items[4], aws_key, Relation.ENCRYPTED_BY),
    ]
    found = run_one("KEY-001", make_ctx([*items, cmk, aws_key], edges))
    status = {name: f.status for name, f in found.items()}
    assert status == {
        "plain-volume": Status.FAIL,
        "cmk-volume": Status.PASS,
        "default-table": Status.FAIL,
        "managed-secret": Status.FAIL,
        "aws-key-queue": Status.FAIL,
        "mystery-db": Status.UNKNOWN,
        "hidden-topic": Status.UNKNOWN,
    }


def test_sov001_judges_a_snapshot_abroad():
    snap = store("snap-1", Kind.SNAPSHOT, "ec2:snapshot", region="eu-central-1", encrypted=True)
    assert run_one("SOV-001", make_ctx([snap]))["snap-1"].status is Status.FAIL


def test_acc001_snapshot_shared_with_everyone():
    snap = store("snap-2", Kind.SNAPSHOT, "ec2:snapshot", encrypted=True, sharing_status="read")
    hidden = store("snap-3", Kind.SNAPSHOT, "ec2:snapshot", sharing_status="denied")
    ctx = make_ctx([snap, hidden], [edge("public:*", snap, Relation.CAN_READ)])
    found = run_one("ACC-001", ctx)
    assert found["snap-2"].status is Status.FAIL
    assert found["snap-3"].status is Status.UNKNOWN


def test_flow001_follows_replication_only():
    a = bucket("a", tags=IMPORTANT)
    abroad = bucket("abroad", "eu-central-1", tags=IMPORTANT)
    ctx = make_ctx([a, abroad], [edge(a, abroad, Relation.DELIVERS_LOGS_TO)])
    assert run_one("FLOW-001", ctx)["a"].status is Status.PASS  # log delivery is FLOW-005's
    replicated = make_ctx([a, abroad], [edge(a, abroad, Relation.REPLICATES_TO)])
    assert run_one("FLOW-001", replicated)["a"].status is Status.FAIL


def test_flow001_leaves_database_replicas_to_flow002():
    db = store("db-1", Kind.DATABASE, "rds:db", encrypted=True)
    replica = store("db-2", Kind.DATABASE, "rds:db", region="eu-central-1", encrypted=True)
    ctx = make_ctx([db, replica], [edge(db, replica, Relation.REPLICATES_TO)])
    assert "db-1" not in run_one("FLOW-001", ctx)
