"""FLOW-002..007, SOV-006 and ACC-003: PASS, FAIL and UNKNOWN on literal estates."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from auditor.inventories.regions import jurisdiction_of
from auditor.model import Kind, Relation, Resource, Severity, Status
from auditor.policy import load_policy
from tests.helpers import bucket, edge, key, make_ctx, policy, role, run_one

CORE = {"data-class": "核心", "owner-dept": "dsj"}


def thing(
    name: str,
    kind: Kind,
    native_type: str,
    region: str = "cn-north-1",
    account: str = "111111111111",
    **attrs: Any,
) -> Resource:
    partition = "aws-cn" if region.startswith("cn-") else "aws"
    return Resource(
        uid=f"arn:{partition}:{native_type.split(':')[0]}:{region}:{account}:{name}",
        provider="aws",
        kind=kind,
        native_type=native_type,
        name=name,
        account=account,
        region=region,
        partition=partition,
        jurisdiction=jurisdiction_of("aws", region),
        tags=CORE,
        attrs=attrs,
    )


def test_flow002_database_replica_abroad():
    db = thing("db:main", Kind.DATABASE, "rds:db")
    home = thing("db:replica-cn", Kind.DATABASE, "rds:db", region="cn-northwest-1")
    abroad = thing("db:replica-sg", Kind.DATABASE, "rds:db", region="ap-southeast-1")
    lone = thing("db:lone", Kind.DATABASE, "rds:db")
    ctx = make_ctx(
        [db, home, abroad, lone],
        [edge(db, home, Relation.REPLICATES_TO), edge(home, abroad, Relation.REPLICATES_TO)],
    )
    found = run_one("FLOW-002", ctx)
    assert found["main"].status is Status.FAIL
    assert "SG" in found["main"].message
    assert found["lone"].status is Status.PASS
    table = thing("table/t", Kind.DATABASE, "dynamodb:table")
    assert "t" not in run_one("FLOW-002", make_ctx([table]))  # DynamoDB replicas are FLOW-001's


def test_flow003_backup_copy_abroad_and_unknown():
    vault = thing("backup-vault:main", Kind.BACKUP_VAULT, "backup:vault")
    far = thing("backup-vault:dr", Kind.BACKUP_VAULT, "backup:vault", region="eu-central-1")
    other = thing("backup-vault:x", Kind.BACKUP_VAULT, "backup:vault")
    ctx = make_ctx(
        [vault, far, other],
        [
            edge(vault, far, Relation.COPIES_TO),
            edge(
                other, "arn:aws-cn:backup:cn-moon-1:111111111111:backup-vault:y", Relation.COPIES_TO
            ),
        ],
    )
    found = run_one("FLOW-003", ctx)
    assert found["main"].status is Status.FAIL
    assert found["x"].status is Status.UNKNOWN
    assert found["dr"].status is Status.PASS


def test_flow004_sharing():
    public = thing("snapshot/s1", Kind.SNAPSHOT, "ec2:snapshot", sharing_status="read")
    outsider = thing("snapshot/s2", Kind.SNAPSHOT, "ec2:snapshot", sharing_status="read")
    vendor = thing("image/i1", Kind.IMAGE, "ec2:image", sharing_status="read")
    hidden = thing("snapshot/s3", Kind.SNAPSHOT, "ec2:snapshot", sharing_status="denied")
    alone = thing("snapshot/s4", Kind.SNAPSHOT, "ec2:snapshot", sharing_status="read")
    ctx = make_ctx(
        [public, outsider, vendor, hidden, alone],
        [
            edge(public, "public:*", Relation.SHARED_WITH),
            edge(outsider, "account:999988887777", Relation.SHARED_WITH),
            edge(vendor, "account:444444444444", Relation.SHARED_WITH),
        ],
    )
    found = run_one("FLOW-004", ctx)
    assert (found["s1"].status, found["s1"].severity) == (Status.FAIL, Severity.CRITICAL)
    assert (found["s2"].status, found["s2"].severity) == (Status.FAIL, Severity.HIGH)
    assert found["i1"].status is Status.PASS
    assert found["s3"].status is Status.UNKNOWN
    assert found["s4"].status is Status.PASS


def test_flow005_log_delivery(tmp_path: Path):
    trail = thing("trail/t1", Kind.TRAIL, "cloudtrail:trail")
    own_cn = bucket("logs-cn", "cn-north-1")
    abroad = bucket("logs-hk", "ap-east-1")
    foreign = bucket("logs-theirs", "cn-north-1", account="999988887777")
    trail2 = thing("trail/t2", Kind.TRAIL, "cloudtrail:trail")
    trail3 = thing("trail/t3", Kind.TRAIL, "cloudtrail:trail")
    trail4 = thing("trail/t4", Kind.TRAIL, "cloudtrail:trail")
    resources = [trail, trail2, trail3, trail4, own_cn, abroad, foreign]
    edges = [
        edge(trail, own_cn, Relation.DELIVERS_LOGS_TO),
        edge(trail2, abroad, Relation.DELIVERS_LOGS_TO),
        edge(trail3, foreign, Relation.DELIVERS_LOGS_TO),
        edge(trail4, "arn:aws-cn:s3:::not-inventoried", Relation.DELIVERS_LOGS_TO),
    ]
    found = run_one("FLOW-005", make_ctx(resources, edges))  # home CN, no log_jurisdictions
    assert found["t1"].status is Status.PASS
    assert found["t2"].status is Status.FAIL
    assert found["t3"].status is Status.FAIL
    assert "not the organisation's" in found["t3"].evidence[0]
    assert found["t4"].status is Status.UNKNOWN
    text = Path(policy().path).read_text("utf-8") + "log_jurisdictions: [CN, HK]\n"
    (tmp_path / "p.yaml").write_text(text, "utf-8")
    wider = make_ctx(resources, edges, load_policy(tmp_path / "p.yaml"))
    assert run_one("FLOW-005", wider)["t2"].status is Status.PASS


def test_flow007_peering():
    home = thing("vpc/a", Kind.NETWORK, "ec2:vpc", peerings_status="read")
    far = thing("vpc/b", Kind.NETWORK, "ec2:vpc", region="ap-east-1", peerings_status="read")
    theirs = "arn:aws-cn:ec2:cn-north-1:999988887777:vpc/x"
    lone = thing("vpc/c", Kind.NETWORK, "ec2:vpc", peerings_status="denied")
    ctx = make_ctx(
        [home, far, lone],
        [edge(home, theirs, Relation.PEERS_WITH), edge(far, home, Relation.PEERS_WITH)],
    )
    found = run_one("FLOW-007", ctx)
    assert found["a"].status is Status.FAIL  # an outsider's VPC, and a peer in HK
    assert len(found["a"].evidence) == 2
    assert found["b"].status is Status.PASS  # its one peer is own and at home (CN)
    assert found["c"].status is Status.UNKNOWN


def test_sov006_foreign_administrators(tmp_path: Path):
    core = bucket("core", tags=CORE)
    general = bucket("general", tags={"data-class": "一般"})
    hidden = bucket("hidden", tags=CORE)
    ops = role("ops")
    edges = [
        edge("account:666666666666", core, Relation.CAN_ADMIN),
        edge("account:777777777777", ops, Relation.CAN_ASSUME),
        edge(ops, hidden, Relation.CAN_ADMIN),
        edge("account:666666666666", general, Relation.CAN_ADMIN),
    ]
    text = (
        Path(policy().path)
        .read_text("utf-8")
        .replace(
            "trusted_accounts:\n",
            "trusted_accounts:\n"
            "  - {account: '666666666666', org: 海外支持, kind: vendor, jurisdiction: SG}\n",
        )
    )
    (tmp_path / "p.yaml").write_text(text, "utf-8")
    found = run_one(
        "SOV-006", make_ctx([core, general, hidden, ops], edges, load_policy(tmp_path / "p.yaml"))
    )
    assert found["core"].status is Status.FAIL
    assert "[SG]" in found["core"].message
    assert found["hidden"].status is Status.UNKNOWN  # an outsider whose country is unstated
    assert "general" not in found  # only restricted classes
    k = key("k", tags=CORE)
    assert run_one("SOV-006", make_ctx([k]))["k"].status is Status.PASS


def test_acc003_external_id_and_mfa():
    def trusting(name: str, principal: str, condition: dict[str, Any] | None = None, **attrs: Any):
        statement: dict[str, Any] = {
            "Effect": "Allow",
            "Principal": {"AWS": principal},
            "Action": "sts:AssumeRole",
        }
        if condition:
            statement["Condition"] = condition
        r = role(name)
        return Resource(
            **{
                f: getattr(r, f)
                for f in (
                    "uid",
                    "provider",
                    "kind",
                    "native_type",
                    "name",
                    "account",
                    "region",
                    "partition",
                )
            },
            attrs={
                "trust_policy": {"Version": "2012-10-17", "Statement": [statement]},
                "trust_policy_status": "read",
                **attrs,
            },
        )

    roles = [
        trusting("outsider", "arn:aws-cn:iam::999988887777:root"),
        trusting("outsider-with-id", "999988887777", {"StringEquals": {"sts:ExternalId": "x"}}),
        trusting("vendor", "arn:aws-cn:iam::444444444444:root"),
        trusting("own", "arn:aws-cn:iam::111111111111:root"),
        trusting(
            "admin",
            "arn:aws-cn:iam::111111111111:root",
            attached_policies=["arn:aws-cn:iam::aws:policy/AdministratorAccess"],
        ),
        trusting(
            "admin-mfa",
            "arn:aws-cn:iam::111111111111:root",
            {"Bool": {"aws:MultiFactorAuthPresent": "true"}},
            attached_policies=["arn:aws-cn:iam::aws:policy/AdministratorAccess"],
        ),
    ]
    broken = role("broken")
    broken = Resource(
        **{
            **{
                f: getattr(broken, f)
                for f in (
                    "uid",
                    "provider",
                    "kind",
                    "native_type",
                    "name",
                    "account",
                    "region",
                    "partition",
                )
            },
            "attrs": {"trust_policy_status": "denied"},
        }
    )
    found = run_one("ACC-003", make_ctx([*roles, broken]))
    status = {name: f.status for name, f in found.items()}
    assert status == {
        "outsider": Status.FAIL,
        "outsider-with-id": Status.PASS,
        "vendor": Status.PASS,  # trusted, and the test policy does not require an ExternalId
        "own": Status.PASS,
        "admin": Status.FAIL,
        "admin-mfa": Status.PASS,
        "broken": Status.UNKNOWN,
    }
    assert "without MFA" in found["admin"].message


def test_flow006_messages_to_endpoints_and_foreign_accounts(tmp_path: Path):
    topic = thing("alerts", Kind.TOPIC, "sns:topic")
    approved = thing("approved", Kind.TOPIC, "sns:topic")
    general = thing("general", Kind.TOPIC, "sns:topic")
    queue_out = "arn:aws-cn:sqs:cn-north-1:999988887777:theirs"
    edges = [
        edge(topic, "endpoint:https:hooks.partner.example", Relation.COPIES_TO),
        edge(topic, queue_out, Relation.COPIES_TO),
        edge(approved, "endpoint:email:*@gov.example.cn", Relation.COPIES_TO),
        edge(approved, "arn:aws-cn:sqs:cn-north-1:111111111111:own", Relation.COPIES_TO),
        edge(general, "endpoint:https:hk.partner.example", Relation.COPIES_TO),
    ]
    text = Path(policy().path).read_text("utf-8") + (
        "external_endpoints:\n"
        "  - {host: gov.example.cn, country: CN}\n"
        "  - {host: hk.partner.example, country: HK}\n"
    )
    (tmp_path / "p.yaml").write_text(text, "utf-8")
    pol = load_policy(tmp_path / "p.yaml")
    found = run_one("FLOW-006", make_ctx([topic, approved, general], edges, pol))
    assert found["alerts"].status is Status.FAIL
    assert len(found["alerts"].evidence) == 2
    assert "not in external_endpoints" in found["alerts"].evidence[0] + found["alerts"].evidence[1]
    assert found["approved"].status is Status.PASS
    # HK is not allowed for core data (thing() tags everything core): listed is not enough
    assert found["general"].status is Status.FAIL
    assert "HK" in found["general"].evidence[0]
