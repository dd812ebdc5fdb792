"""AWS Backup of one region: vaults (key, lock, retention, access policy) and backup plans.

A plan rule that copies recovery points to a vault in another region or account moves a full
copy of the data there: every `CopyActions` entry becomes a `copies_to` edge from the rule's
target vault to the destination vault, so the checks can judge where backups end up.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from functools import partial
from typing import Any

from auditor.inventories.aws.calls import (
    ERROR,
    READ,
    UNSUPPORTED_CODES,
    attempt,
    clean,
    paginate,
)
from auditor.inventories.aws.facts import resource_policy_rights
from auditor.inventories.aws.registry import Collected, Scope, Service, ServiceContext
from auditor.inventories.regions import jurisdiction_of
from auditor.model import Edge, Kind, Record, Relation, Resource

# (botocore service, API operation) → the IAM action it needs.
OPERATIONS: dict[tuple[str, str], str] = {
    ("backup", "ListBackupVaults"): "backup:ListBackupVaults",
    ("backup", "DescribeBackupVault"): "backup:DescribeBackupVault",
    ("backup", "GetBackupVaultAccessPolicy"): "backup:GetBackupVaultAccessPolicy",
    ("backup", "ListBackupPlans"): "backup:ListBackupPlans",
    ("backup", "GetBackupPlan"): "backup:GetBackupPlan",
    ("backup", "ListTags"): "backup:ListTags",
}

VAULT_TYPE = "backup:vault"
PLAN_TYPE = "backup:plan"
# The endpoint answered that it does not implement the call (moto: a bare HTTP 404 page).
UNSUPPORTED = "unsupported"
_UNSUPPORTED_CODES = UNSUPPORTED_CODES | {"404"}


def _policy(client: Any, name: str) -> dict[str, Any]:
    """The vault's access policy; no policy (ResourceNotFoundException) is status none."""
    fact = attempt(
        partial(client.get_backup_vault_access_policy, BackupVaultName=name),
        {"ResourceNotFoundException"},
    )
    if fact["status"] == ERROR and fact.get("code") in _UNSUPPORTED_CODES:
        return {**fact, "status": UNSUPPORTED}
    return fact


def get_vault(client: Any, vault: Mapping[str, Any]) -> dict[str, Any]:
    """One vault's listing entry, description, access policy and tags, each captured apart."""
    name = str(vault["BackupVaultName"])
    return {
        # Listing entries carry datetimes; raw dicts stay JSON.
        "vault": clean(dict(vault)),
        "describe": attempt(partial(client.describe_backup_vault, BackupVaultName=name)),
        "policy": _policy(client, name),
        "tags": attempt(partial(client.list_tags, ResourceArn=str(vault["BackupVaultArn"]))),
    }


def get_plan(client: Any, plan: Mapping[str, Any]) -> dict[str, Any]:
    """One plan's listing entry, its rules (GetBackupPlan) and tags, each captured apart."""
    return {
        "plan": clean(dict(plan)),
        "detail": attempt(partial(client.get_backup_plan, BackupPlanId=str(plan["BackupPlanId"]))),
        "tags": attempt(partial(client.list_tags, ResourceArn=str(plan["BackupPlanArn"]))),
    }


def get_backup(client: Any, region: str) -> dict[str, Any]:
    """Every vault and plan of `region`; a denied ListBackupVaults raises (→ coverage row)."""
    vaults = paginate(client, "list_backup_vaults", "BackupVaultList")
    plans = paginate(client, "list_backup_plans", "BackupPlansList")
    return {
        "region": region,
        "vaults": [get_vault(client, v) for v in vaults],
        "plans": [get_plan(client, p) for p in plans],
    }


# --- transform (pure) -------------------------------------------------------------------------


def _region_account(arn: str) -> tuple[str, str]:
    parts = arn.split(":")
    return parts[3], parts[4]


def _vault_facts(raw: Mapping[str, Any]) -> dict[str, Any]:
    """The listing entry, overlaid with DescribeBackupVault when it answered."""
    return {**raw["vault"], **raw["describe"].get("value", {})}


def _vault_attrs(raw: Mapping[str, Any]) -> dict[str, Any]:
    facts = _vault_facts(raw)
    key = facts.get("EncryptionKeyArn")
    policy = raw["policy"]
    return {
        "describe_status": raw["describe"]["status"],
        # Backup always encrypts; the API names the key (aws/backup by default). A missing
        # key leaves the key unknown rather than inventing one.
        "encryption_status": READ,
        "encrypted": True,
        "kms_key_arn": key,
        "key_owner": None,
        "vault_type": facts.get("VaultType"),
        "vault_state": facts.get("VaultState"),
        "locked": facts.get("Locked"),
        "lock_date": facts.get("LockDate"),
        "min_retention_days": facts.get("MinRetentionDays"),
        "max_retention_days": facts.get("MaxRetentionDays"),
        "recovery_points": facts.get("NumberOfRecoveryPoints"),
        "policy_status": policy["status"],
        "policy": policy.get("value", {}).get("Policy"),
        "tags_status": raw["tags"]["status"],
    }


def _tag_dict(fact: Mapping[str, Any]) -> dict[str, str]:
    return {str(k): str(v) for k, v in fact.get("value", {}).get("Tags", {}).items()}


def _vault_rights(arn: str, attrs: dict[str, Any]) -> Sequence[Edge]:
    label = f"access policy of backup vault {arn}"
    edges, attrs["policy_status"] = resource_policy_rights(
        attrs["policy_status"], attrs["policy"], arn, label, "backup"
    )
    return edges


def transform_vault(raw: Mapping[str, Any], partition: str) -> Iterator[Resource | Edge]:
    """One vault → its Resource, `encrypted_by` and access-policy rights edges."""
    arn = str(raw["vault"]["BackupVaultArn"])
    name = str(raw["vault"]["BackupVaultName"])
    region, account = _region_account(arn)
    attrs = _vault_attrs(raw)
    rights = _vault_rights(arn, attrs)
    yield Resource(
        uid=arn,
        provider="aws",
        kind=Kind.BACKUP_VAULT,
        native_type=VAULT_TYPE,
        name=name,
        account=account,
        region=region,
        partition=partition,
        jurisdiction=jurisdiction_of("aws", region),
        tags=_tag_dict(raw["tags"]),
        attrs=attrs,
    )
    if attrs["kms_key_arn"]:
        yield Edge(
            arn,
            str(attrs["kms_key_arn"]),
            Relation.ENCRYPTED_BY,
            f"backup vault {name} encrypts recovery points with {attrs['kms_key_arn']} "
            "(DescribeBackupVault EncryptionKeyArn)",
        )
    yield from rights


def vault_arn(name: str, plan_arn: str, partition: str, known: Mapping[str, str]) -> str:
    """ARN of a rule's target vault: the listed vault's, else built in the plan's region."""
    if name in known:
        return known[name]
    region, account = _region_account(plan_arn)
    return f"arn:{partition}:backup:{region}:{account}:backup-vault:{name}"


def _rules(raw: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    rules: list[Mapping[str, Any]] = (
        raw["detail"].get("value", {}).get("BackupPlan", {}).get("Rules", [])
    )
    return rules


def _rule_attrs(rule: Mapping[str, Any], target_arn: str) -> dict[str, Any]:
    lifecycle = rule.get("Lifecycle", {})
    return {
        "name": rule.get("RuleName"),
        "id": rule.get("RuleId"),
        "target_vault": rule.get("TargetBackupVaultName"),
        "target_vault_arn": target_arn,
        "schedule": rule.get("ScheduleExpression"),
        "continuous_backup": rule.get("EnableContinuousBackup"),
        "delete_after_days": lifecycle.get("DeleteAfterDays"),
        "cold_storage_after_days": lifecycle.get("MoveToColdStorageAfterDays"),
        "copy_actions": [
            {
                "destination_vault_arn": c.get("DestinationBackupVaultArn"),
                "delete_after_days": c.get("Lifecycle", {}).get("DeleteAfterDays"),
            }
            for c in rule.get("CopyActions", [])
        ],
    }


def transform_plan(
    raw: Mapping[str, Any], partition: str, known: Mapping[str, str]
) -> Iterator[Resource | Edge]:
    """One plan → its Resource and a `copies_to` edge per copy action of each rule.

    `known` maps the region's vault names to their ARNs.
    """
    plan = raw["plan"]
    arn = str(plan["BackupPlanArn"])
    name = str(plan.get("BackupPlanName") or plan["BackupPlanId"])
    region, account = _region_account(arn)
    rules = [
        _rule_attrs(rule, vault_arn(str(rule.get("TargetBackupVaultName")), arn, partition, known))
        for rule in _rules(raw)
    ]
    yield Resource(
        uid=arn,
        provider="aws",
        kind=Kind.BACKUP_PLAN,
        native_type=PLAN_TYPE,
        name=name,
        account=account,
        region=region,
        partition=partition,
        jurisdiction=jurisdiction_of("aws", region),
        tags=_tag_dict(raw["tags"]),
        attrs={
            "plan_id": plan.get("BackupPlanId"),
            "version_id": plan.get("VersionId"),
            "rules_status": raw["detail"]["status"],
            "rules": rules,
            "tags_status": raw["tags"]["status"],
        },
    )
    for rule in rules:
        for copy in rule["copy_actions"]:
            if not copy["destination_vault_arn"]:
                continue
            yield Edge(
                rule["target_vault_arn"],
                str(copy["destination_vault_arn"]),
                Relation.COPIES_TO,
                f"backup plan {name} rule {rule['name']} CopyActions → "
                f"{copy['destination_vault_arn']} (GetBackupPlan Rules.CopyActions)",
            )


def transform_backup(raw: Mapping[str, Any], partition: str) -> Iterator[Resource | Edge]:
    """One region's raw listing → vaults, plans and their edges."""
    known = {
        str(v["vault"]["BackupVaultName"]): str(v["vault"]["BackupVaultArn"]) for v in raw["vaults"]
    }
    for vault in raw["vaults"]:
        yield from transform_vault(vault, partition)
    for plan in raw["plans"]:
        yield from transform_plan(plan, partition, known)


def collect(ctx: ServiceContext) -> Collected:
    """Backup vaults and plans of one region."""
    raw = get_backup(ctx.clients.get("backup", ctx.region), ctx.region)
    records: list[Record] = list(transform_backup(raw, ctx.identity.partition))
    return records, f"{len(raw['vaults'])} vaults, {len(raw['plans'])} plans"


SERVICE = Service("backup", Scope.REGIONAL, collect, OPERATIONS, phase=1)
