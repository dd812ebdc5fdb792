from __future__ import annotations

from auditor.inventories.regions import jurisdiction_of
from auditor.model import Kind, Relation, Resource
from auditor.rights import identity_rights

ACCOUNT = "111111111111"


def test_sharing_a_snapshot_is_its_own_right():
    snapshot = Resource(
        uid="arn:aws-cn:ec2:cn-north-1::snapshot/snap-1",
        provider="aws",
        kind=Kind.SNAPSHOT,
        native_type="ec2:snapshot",
        name="snap-1",
        account=ACCOUNT,
        region="cn-north-1",
        partition="aws-cn",
        jurisdiction=jurisdiction_of("aws", "cn-north-1"),
    )
    document = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Action": "ec2:ModifySnapshotAttribute", "Resource": "*"}
        ],
    }
    operator = Resource(
        uid=f"arn:aws-cn:iam::{ACCOUNT}:role/backup-operator",
        provider="aws",
        kind=Kind.ROLE,
        native_type="iam:role",
        name="backup-operator",
        account=ACCOUNT,
        partition="aws-cn",
        attrs={"inline_policies": {"share": document}, "attached_policies": []},
    )
    edges = list(identity_rights({r.uid: r for r in (snapshot, operator)}))
    assert [(e.src, e.relation, e.dst) for e in edges] == [
        (operator.uid, Relation.CAN_SHARE, snapshot.uid)
    ]
    assert "ec2:ModifySnapshotAttribute" in edges[0].evidence
