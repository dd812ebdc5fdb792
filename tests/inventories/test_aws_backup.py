"""AWS Backup: vaults and plans from a real moto server over HTTP, and transforms on recorded
answers.

Estate (seeded with plain boto3 clients):
aws-cn, account 123456789012:
  cn-north-1: vault gov-vault (the account's key, locked 180..3650 days, tags); vault plain
    (no key named); plan daily: rule to-nx (target gov-vault) copying to vault dr in
    cn-northwest-1 and to vault vendor-vault of 999988887777; rule local (target plain), no copy.
  cn-northwest-1: vault dr.
aws, account 111122223333: ap-east-1 vault hk-vault; plan hk-plan copying hk-vault to vault
  eu-vault in eu-central-1.
"""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from auditor.inventories import aws as aws_adapter
from auditor.inventories.aws import backup
from auditor.inventories.aws.identity import CallerIdentity
from auditor.inventories.aws.session import Clients, make_client
from auditor.model import Coverage, Edge, Kind, Outcome, Relation, Resource
from tests.conftest import FIXTURES
from tests.inventories.conftest import CN1, CN2, FRA, HK, HK_ACCOUNT, MAIN, VENDOR, assumed_session

VAULT = f"arn:aws-cn:backup:{CN1}:{MAIN}:backup-vault"
GOV_VAULT, PLAIN = f"{VAULT}:gov-vault", f"{VAULT}:plain"
DR = f"arn:aws-cn:backup:{CN2}:{MAIN}:backup-vault:dr"
VENDOR_VAULT = f"arn:aws-cn:backup:{CN1}:{VENDOR}:backup-vault:vendor-vault"
HK_VAULT = f"arn:aws:backup:{HK}:{HK_ACCOUNT}:backup-vault:hk-vault"
EU_VAULT = f"arn:aws:backup:{FRA}:{HK_ACCOUNT}:backup-vault:eu-vault"

CN_WHO = CallerIdentity(MAIN, f"arn:aws-cn:iam::{MAIN}:user/auditor", "aws-cn")
HK_WHO = CallerIdentity(HK_ACCOUNT, f"arn:aws:iam::{HK_ACCOUNT}:user/auditor", "aws")


def rule(name: str, target: str, copies: list[str]) -> dict[str, Any]:
    return {
        "RuleName": name,
        "TargetBackupVaultName": target,
        "ScheduleExpression": "cron(0 5 ? * * *)",
        "Lifecycle": {"DeleteAfterDays": 365},
        "CopyActions": [
            {"DestinationBackupVaultArn": arn, "Lifecycle": {"DeleteAfterDays": 30}}
            for arn in copies
        ],
    }


def seed_cn(session: boto3.Session, endpoint: str) -> str:
    key = session.client("kms", region_name=CN1, endpoint_url=endpoint).create_key()
    key_arn = str(key["KeyMetadata"]["Arn"])
    client = session.client("backup", region_name=CN1, endpoint_url=endpoint)
    client.create_backup_vault(
        BackupVaultName="gov-vault",
        EncryptionKeyArn=key_arn,
        BackupVaultTags={"data-class": "重要数据"},
    )
    client.put_backup_vault_lock_configuration(
        BackupVaultName="gov-vault", MinRetentionDays=180, MaxRetentionDays=3650
    )
    client.create_backup_vault(BackupVaultName="plain")
    client.create_backup_plan(
        BackupPlan={
            "BackupPlanName": "daily",
            "Rules": [
                rule("to-nx", "gov-vault", [DR, VENDOR_VAULT]),
                rule("local", "plain", []),
            ],
        },
        BackupPlanTags={"owner-dept": "dsj"},
    )
    nx = session.client("backup", region_name=CN2, endpoint_url=endpoint)
    nx.create_backup_vault(BackupVaultName="dr")
    return key_arn


def seed_hk(session: boto3.Session, endpoint: str) -> None:
    client = session.client("backup", region_name=HK, endpoint_url=endpoint)
    client.create_backup_vault(BackupVaultName="hk-vault")
    client.create_backup_plan(
        BackupPlan={"BackupPlanName": "hk-plan", "Rules": [rule("to-eu", "hk-vault", [EU_VAULT])]}
    )
    eu = session.client("backup", region_name=FRA, endpoint_url=endpoint)
    eu.create_backup_vault(BackupVaultName="eu-vault")


@pytest.fixture
def only_backup(monkeypatch: pytest.MonkeyPatch) -> None:
    """Collect only AWS Backup, whatever other modules the package holds."""
    monkeypatch.setattr(aws_adapter, "services", lambda: (backup.SERVICE,))


def collect(
    session: boto3.Session, endpoint: str, who: CallerIdentity, regions: list[str]
) -> list[Any]:
    clients = Clients(session, endpoint)
    return list(aws_adapter.collect_account(clients, who, regions[0], regions, workers=1))


def split(found: Any) -> tuple[dict[str, Resource], list[Edge], list[Coverage]]:
    records = list(found)
    resources = {r.uid: r for r in records if isinstance(r, Resource)}
    edges = [r for r in records if isinstance(r, Edge)]
    return resources, edges, [r for r in records if isinstance(r, Coverage)]


def triples(edges: list[Edge]) -> set[tuple[str, str, str]]:
    return {(e.src, e.relation.value, e.dst) for e in edges}


# --- collection over HTTP ---------------------------------------------------------------------


@pytest.mark.moto
def test_collects_exact_vaults_plans_and_copies(moto_endpoint, only_backup):
    cn = boto3.Session(region_name=CN1)
    key = seed_cn(cn, moto_endpoint)
    resources, edges, coverage = split(collect(cn, moto_endpoint, CN_WHO, [CN1, CN2]))
    plan = next(uid for uid, r in resources.items() if r.kind is Kind.BACKUP_PLAN)
    assert plan.startswith(f"arn:aws-cn:backup:{CN1}:{MAIN}:backup-plan:")
    assert {
        uid: (r.kind, r.native_type, r.name, r.account, r.region, r.jurisdiction)
        for uid, r in resources.items()
    } == {
        GOV_VAULT: (Kind.BACKUP_VAULT, "backup:vault", "gov-vault", MAIN, CN1, "CN"),
        PLAIN: (Kind.BACKUP_VAULT, "backup:vault", "plain", MAIN, CN1, "CN"),
        DR: (Kind.BACKUP_VAULT, "backup:vault", "dr", MAIN, CN2, "CN"),
        plan: (Kind.BACKUP_PLAN, "backup:plan", "daily", MAIN, CN1, "CN"),
    }
    assert triples(edges) == {
        (GOV_VAULT, "encrypted_by", key),
        (GOV_VAULT, "copies_to", DR),
        (GOV_VAULT, "copies_to", VENDOR_VAULT),
    }
    evidence = {e.dst: e.evidence for e in edges if e.relation is Relation.COPIES_TO}
    assert evidence[VENDOR_VAULT] == (
        f"backup plan daily rule to-nx CopyActions → {VENDOR_VAULT} "
        "(GetBackupPlan Rules.CopyActions)"
    )
    assert sorted((c.region, c.service, c.outcome, c.detail) for c in coverage) == [
        (CN1, "backup", Outcome.OK, "2 vaults, 1 plans"),
        (CN2, "backup", Outcome.OK, "1 vaults, 0 plans"),
    ]


@pytest.mark.moto
def test_vault_and_plan_attrs(moto_endpoint, only_backup):
    cn = boto3.Session(region_name=CN1)
    key = seed_cn(cn, moto_endpoint)
    resources, _, _ = split(collect(cn, moto_endpoint, CN_WHO, [CN1]))
    vault = resources[GOV_VAULT]
    assert vault.tags == {"data-class": "重要数据"}
    assert {k: vault.attrs[k] for k in (
        "describe_status", "encryption_status", "encrypted", "kms_key_arn", "locked",
        "min_retention_days", "max_retention_days", "recovery_points", "policy_status",
        "tags_status",
    )} == {
        "describe_status": "read", "encryption_status": "read", "encrypted": True,
        "kms_key_arn": key, "locked": True, "min_retention_days": 180,
        "max_retention_days": 3650, "recovery_points": 0,
        # moto answers GetBackupVaultAccessPolicy with a bare 404: not implemented.
        "policy_status": "unsupported", "tags_status": "read",
    }  # fmt: skip
    plain = resources[PLAIN].attrs
    assert (plain["locked"], plain["kms_key_arn"], plain["encrypted"]) == (False, None, True)
    plan = next(r for r in resources.values() if r.kind is Kind.BACKUP_PLAN)
    assert plan.tags == {"owner-dept": "dsj"}
    assert plan.attrs["rules_status"] == "read"
    assert [
        (r["name"], r["target_vault_arn"], r["delete_after_days"], r["copy_actions"])
        for r in plan.attrs["rules"]
    ] == [
        (
            "to-nx",
            GOV_VAULT,
            365,
            [
                {"destination_vault_arn": DR, "delete_after_days": 30},
                {"destination_vault_arn": VENDOR_VAULT, "delete_after_days": 30},
            ],
        ),
        ("local", PLAIN, 365, []),
    ]


@pytest.mark.moto
def test_commercial_copy_to_another_jurisdiction(moto_endpoint, only_backup):
    hk = assumed_session(moto_endpoint, "aws", HK_ACCOUNT, HK)
    seed_hk(hk, moto_endpoint)
    resources, edges, _ = split(collect(hk, moto_endpoint, HK_WHO, [HK, FRA]))
    assert (resources[HK_VAULT].jurisdiction, resources[EU_VAULT].jurisdiction) == ("HK", "DE")
    assert triples(edges) == {(HK_VAULT, "copies_to", EU_VAULT)}


def test_denied_listing_becomes_a_coverage_row(only_backup):
    session = boto3.Session(region_name=CN1)
    clients = Clients(session, "http://127.0.0.1:9")
    client = make_client(session, "backup", CN1, clients.endpoint_url)
    with Stubber(client) as stub:
        stub.add_client_error("list_backup_vaults", "AccessDeniedException", http_status_code=403)
        clients.put("backup", CN1, client)
        records = list(aws_adapter.collect_account(clients, CN_WHO, CN1, [CN1], workers=1))
        stub.assert_no_pending_responses()
    coverage = [c for c in records if isinstance(c, Coverage)]
    assert len(coverage) == len(records)
    assert [(c.service, c.outcome, c.detail) for c in coverage] == [
        ("backup", Outcome.DENIED, "ListBackupVaults: AccessDeniedException")
    ]


VENDOR_POLICY = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Sid": "VendorCopy",
            "Effect": "Allow",
            "Principal": {"AWS": f"arn:aws-cn:iam::{VENDOR}:root"},
            "Action": "backup:CopyIntoBackupVault",
            "Resource": "*",
        }
    ],
}


def stubbed_vault(policy: dict[str, Any]) -> dict[str, Any]:
    """One vault read through a stubbed client whose access-policy call answers `policy`."""
    client = make_client(boto3.Session(region_name=CN1), "backup", CN1, "http://127.0.0.1:9")
    entry = {"BackupVaultName": "gov-vault", "BackupVaultArn": GOV_VAULT}
    with Stubber(client) as stub:
        stub.add_response("describe_backup_vault", entry)
        if "error" in policy:
            stub.add_client_error("get_backup_vault_access_policy", policy["error"])
        else:
            stub.add_response("get_backup_vault_access_policy", policy)
        stub.add_client_error("list_tags", "AccessDeniedException", http_status_code=403)
        return backup.get_vault(client, entry)


def test_vault_access_policy_becomes_rights():
    raw = stubbed_vault({"Policy": json.dumps(VENDOR_POLICY)})
    resources, edges, _ = split(backup.transform_vault(raw, "aws-cn"))
    assert resources[GOV_VAULT].attrs["policy_status"] == "read"
    assert resources[GOV_VAULT].attrs["tags_status"] == "denied"
    assert [(e.src, e.relation, e.dst, e.evidence) for e in edges] == [
        (
            f"account:{VENDOR}",
            Relation.CAN_WRITE,
            GOV_VAULT,
            f"access policy of backup vault {GOV_VAULT}, statement 'VendorCopy' "
            "(backup:CopyIntoBackupVault) grants can_write",
        )
    ]


@pytest.mark.parametrize(
    ("code", "status"),
    [
        ("ResourceNotFoundException", "none"),
        ("AccessDeniedException", "denied"),
        ("NotImplemented", "unsupported"),
        ("ServiceUnavailableException", "error"),
    ],
)
def test_vault_access_policy_status(code, status):
    raw = stubbed_vault({"error": code})
    resources, edges, _ = split(backup.transform_vault(raw, "aws-cn"))
    assert resources[GOV_VAULT].attrs["policy_status"] == status
    assert edges == []


# --- transforms on recorded answers -----------------------------------------------------------


def load(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((FIXTURES / "aws" / name).read_text("utf-8"))
    return data


def test_backup_transform_from_recording():
    raw = load("backup_cn_north_1.json")
    resources, edges, _ = split(backup.transform_backup(raw, "aws-cn"))
    assert {r.kind for r in resources.values()} == {Kind.BACKUP_VAULT, Kind.BACKUP_PLAN}
    assert {(e.src, e.dst) for e in edges if e.relation is Relation.COPIES_TO} == {
        (GOV_VAULT, DR),
        (GOV_VAULT, VENDOR_VAULT),
    }


def test_unread_plan_keeps_the_plan_without_rules_or_copies():
    raw = load("backup_cn_north_1.json")
    raw["plans"][0]["detail"] = {"status": "denied", "code": "AccessDeniedException"}
    resources, edges, _ = split(backup.transform_backup(raw, "aws-cn"))
    plan = next(r for r in resources.values() if r.kind is Kind.BACKUP_PLAN)
    assert (plan.attrs["rules_status"], plan.attrs["rules"]) == ("denied", [])
    assert not [e for e in edges if e.relation is Relation.COPIES_TO]


def test_target_vault_outside_the_listing_is_built_with_the_partition():
    raw = load("backup_cn_north_1.json")
    raw["vaults"] = []
    _, edges, _ = split(backup.transform_backup(raw, "aws-cn"))
    assert {e.src for e in edges if e.relation is Relation.COPIES_TO} == {GOV_VAULT}
