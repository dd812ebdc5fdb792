"""SOV-002, SOV-003, SOV-007 and SOV-008 on resources built in code.

Organizations, CloudTrail and AWS Backup resources come out of the adapters' own transforms, fed
with raw answers shaped like the recorded fixtures, so the checks see what a real audit gives.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping, Sequence
from typing import Any

from auditor.checking import CheckContext
from auditor.inventories.aws.backup import transform_plan
from auditor.inventories.aws.cloudtrail import transform_trail
from auditor.inventories.aws.organizations import transform_organizations
from auditor.inventories.regions import jurisdiction_of
from auditor.model import Edge, Finding, Kind, Relation, Resource, Severity, Status
from auditor.policy import Policy
from tests.helpers import bucket, edge, key, make_ctx, policy, role, run_one

CORE = {"data-class": "核心"}
IMPORTANT = {"data-class": "重要"}
GENERAL = {"data-class": "一般"}
PUBLIC = {"data-class": "公开"}
EU = {"data-class": "eu-personal"}


def residency() -> Policy:
    return policy("residency")


def ctx_of(
    resources: Sequence[Resource],
    edges: Sequence[Edge] = (),
    pol: Policy | None = None,
    coverage: Mapping[tuple[str, str, str], str] | None = None,
) -> CheckContext:
    ctx = make_ctx(resources, edges, pol or residency())
    return dataclasses.replace(ctx, coverage=dict(coverage or {}))


def split(records: Sequence[Resource | Edge]) -> tuple[list[Resource], list[Edge]]:
    resources = [r for r in records if isinstance(r, Resource)]
    return resources, [e for e in records if isinstance(e, Edge)]


def moved(resource: Resource, region: str, partition: str) -> Resource:
    """The same resource in another region and partition (the helpers know aws and aws-cn)."""
    uid = resource.uid.replace(f"arn:{resource.partition}:", f"arn:{partition}:", 1)
    return dataclasses.replace(
        resource,
        uid=uid.replace(f":{resource.region}:", f":{region}:"),
        region=region,
        partition=partition,
        jurisdiction=jurisdiction_of("aws", region),
    )


# --- SOV-002 ------------------------------------------------------------------------------------


def test_sov002_operator_and_parent_company_against_allowed_operators() -> None:
    in_cn = bucket("core-cn", "cn-north-1", tags=CORE)
    in_aws = bucket("core-fra", "eu-central-1", tags=CORE)
    eusc = moved(bucket("eu-sov", "eu-central-1", tags=EU), "eusc-de-east-1", "aws-eusc")
    eu_in_aws = bucket("eu-fra", "eu-central-1", tags=EU)
    private = dataclasses.replace(
        bucket("core-private", "cn-north-1", tags=CORE), partition="gov-private"
    )
    open_class = bucket("general-us", "us-east-1", tags=GENERAL)
    found = run_one("SOV-002", ctx_of([in_cn, in_aws, eusc, eu_in_aws, private, open_class]))

    assert found["core-cn"].status is Status.PASS
    assert "CN law" in found["core-cn"].message

    fra = found["core-fra"]
    assert (fra.status, fra.severity) == (Status.FAIL, Severity.CRITICAL)
    assert "partition aws" in fra.message and "US law" in fra.message
    assert "allows operators from CN only" in fra.message

    # aws-eusc: a German operator (allowed for EU data) under a US parent.
    sov = found["eu-sov"]
    assert (sov.status, sov.severity) == (Status.FAIL, Severity.HIGH)
    assert "parent company is under US law" in sov.message
    assert "CLOUD Act" in sov.message
    assert found["eu-fra"].severity is Severity.CRITICAL  # operator itself is US

    # A provider from the policy's providers table: domestic operator, foreign parent.
    assert found["core-private"].status is Status.FAIL
    assert found["core-private"].severity is Severity.HIGH
    assert "SG law" in found["core-private"].message

    assert found["general-us"].status is Status.PASS
    assert "does not restrict the operator" in found["general-us"].message


def test_sov002_unknown_partition_is_unknown_and_keys_take_the_data_class() -> None:
    iso = moved(bucket("core-isoe", "eu-central-1", tags=CORE), "eu-isoe-west-1", "aws-iso-e")
    data = bucket("core-data", "cn-north-1", tags=CORE)
    k = key("k-fra", "eu-central-1")
    ctx = ctx_of([iso, data, k], [edge(data, k, Relation.ENCRYPTED_BY)])
    found = run_one("SOV-002", ctx)
    unknown = found["core-isoe"]
    assert (unknown.status, unknown.severity) == (Status.UNKNOWN, Severity.CRITICAL)
    assert "aws-iso-e" in unknown.message and "providers" in unknown.message
    assert found["k-fra"].status is Status.FAIL
    assert "protects" in found["k-fra"].message


def test_sov002_ignores_buckets_seen_only_as_destinations() -> None:
    theirs = bucket("theirs", "us-east-1", tags=CORE, observed_only=True)
    assert run_one("SOV-002", ctx_of([theirs])) == {}


# --- SOV-003 ------------------------------------------------------------------------------------

MANAGEMENT = "999999999999"
ORG = "o-test1"
P = "aws"  # the organisation lives in the commercial partition


def org_arn(kind: str, ident: str) -> str:
    return f"arn:{P}:organizations::{MANAGEMENT}:{kind}/{ORG}/{ident}"


def policy_arn(ident: str) -> str:
    return org_arn("policy", f"service_control_policy/{ident}")


FULL_ACCESS = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}],
}


def region_guard(regions: list[str], **extra: Any) -> dict[str, Any]:
    """The region-deny SCP of AWS's examples: global services exempt, named roles exempt."""
    condition: dict[str, Any] = {
        "StringNotEquals": {"aws:RequestedRegion": regions},
        "ArnNotLike": {"aws:PrincipalARN": ["arn:aws:iam::*:role/break-glass"]},
        **extra,
    }
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "DenyOutsideAllowedRegions",
                "Effect": "Deny",
                "NotAction": ["iam:*", "organizations:*", "sts:*", "support:*"],
                "Resource": "*",
                "Condition": condition,
            }
        ],
    }


def org_policy(
    ident: str, name: str, document: Mapping[str, Any] | None, targets: list[str]
) -> dict[str, Any]:
    """One SCP as get_organizations captures it; no document means DescribePolicy was denied."""
    summary = {
        "Id": ident,
        "Arn": policy_arn(ident),
        "Name": name,
        "Type": "SERVICE_CONTROL_POLICY",
    }
    describe: dict[str, Any] = (
        {"status": "denied", "code": "AccessDeniedException"}
        if document is None
        else {"status": "read", "value": {"Policy": {"Content": json.dumps(document)}}}
    )
    return {
        "summary": summary,
        "describe": describe,
        "targets": {
            "status": "read",
            "value": {"Targets": [{"TargetId": t, "Arn": t} for t in targets]},
        },
    }


def org_account(
    ident: str, parent: str, tags: Mapping[str, str] | None = None, *, tags_read: bool = True
) -> dict[str, Any]:
    listed = {"Tags": [{"Key": k, "Value": v} for k, v in (tags or {}).items()]}
    return {
        "account": {
            "Id": ident,
            "Arn": org_arn("account", ident),
            "Name": f"acct-{ident[:3]}",
            "Email": f"owner-{ident[:3]}@example.gov",
            "State": "ACTIVE",
        },
        "tags": {"status": "read", "value": listed}
        if tags_read
        else {"status": "denied", "code": "AccessDeniedException"},
        "parents": {"status": "read", "value": {"Parents": [{"Id": parent}]}},
    }


def organisation(
    accounts: list[dict[str, Any]], policies: list[dict[str, Any]], *, scps_enabled: bool = True
) -> list[Resource | Edge]:
    """Root r-root → OU ou-guarded (region guard attached) and OU ou-open (none)."""
    raw = {
        "organization": {
            "Id": ORG,
            "Arn": f"arn:{P}:organizations::{MANAGEMENT}:organization/{ORG}",
            "FeatureSet": "ALL",
            "MasterAccountId": MANAGEMENT,
        },
        "roots": [
            {
                "Id": "r-root",
                "Arn": org_arn("root", "r-root"),
                "Name": "Root",
                "PolicyTypes": [{"Type": "SERVICE_CONTROL_POLICY", "Status": "ENABLED"}]
                if scps_enabled
                else [],
            }
        ],
        "ous": [
            {
                "Id": "ou-guarded",
                "Arn": org_arn("ou", "ou-guarded"),
                "Name": "guarded",
                "ParentId": "r-root",
            },
            {
                "Id": "ou-open",
                "Arn": org_arn("ou", "ou-open"),
                "Name": "open",
                "ParentId": "r-root",
            },
        ],
        "accounts": accounts,
        "policy_types": {
            "SERVICE_CONTROL_POLICY": {"status": "read"},
            "RESOURCE_CONTROL_POLICY": {"status": "not_applicable"},
        },
        "policies": policies,
        "delegated": {"administrators": {"status": "read", "value": {}}, "services": {}},
    }
    return list(transform_organizations(raw, P))


EU_REGIONS_ALLOWED = ["eu-central-1", "eu-west-1"]
GUARDED, OPEN, LEAKY, MGMT = "111111111111", "222222222222", "333333333333", MANAGEMENT
EVERY_NODE = ["r-root", "ou-guarded", "ou-open", GUARDED, OPEN, LEAKY, MGMT]


def standard_org(
    guard: Mapping[str, Any] | None = None, *, guard_read: bool = True
) -> list[Resource | Edge]:
    """FullAWSAccess everywhere; the eu-only guard on ou-guarded; the leaky account (under
    ou-open) has a guard of its own that lets London through; the management account at the
    root."""
    full = org_policy("p-full", "FullAWSAccess", FULL_ACCESS, EVERY_NODE)
    document = region_guard(EU_REGIONS_ALLOWED) if guard is None else guard
    guard_policy = org_policy(
        "p-guard", "eu-only", document if guard_read else None, ["ou-guarded"]
    )
    leaky = org_policy(
        "p-leaky", "eu-and-london", region_guard([*EU_REGIONS_ALLOWED, "eu-west-2"]), [LEAKY]
    )
    accounts = [
        org_account(GUARDED, "ou-guarded"),
        org_account(OPEN, "ou-open"),
        org_account(LEAKY, "ou-open"),
        org_account(MGMT, "r-root"),
    ]
    return organisation(accounts, [full, guard_policy, leaky])


def eu_bucket(name: str, account: str) -> Resource:
    return bucket(name, "eu-central-1", account=account, tags=EU)


def sov003(records: Sequence[Resource | Edge], *data: Resource, **kw: Any) -> dict[str, Finding]:
    resources, edges = split(records)
    return run_one("SOV-003", ctx_of([*resources, *data], edges, **kw))


def test_sov003_region_guard_along_the_ou_path_passes_and_names_the_scp() -> None:
    found = sov003(standard_org(), eu_bucket("eu-data", GUARDED))
    result = found[GUARDED]
    assert result.status is Status.PASS
    assert "eu-only" in result.message
    assert "eu-personal" in result.message
    assert "af-south-1 (ZA)" in result.message  # the regions it denies are named
    assert any("DenyOutsideAllowedRegions" in line for line in result.evidence)


def test_sov003_no_guard_or_a_guard_that_lets_a_region_through_fails() -> None:
    found = sov003(standard_org(), eu_bucket("open-data", OPEN), eu_bucket("leaky-data", LEAKY))
    open_ = found[OPEN]
    assert (open_.status, open_.severity) == (Status.FAIL, Severity.HIGH)
    assert f"account {OPEN} (shared)" in open_.message
    assert "eu-personal" in open_.message
    assert "af-south-1 (ZA)" in open_.message
    assert "s3:CreateBucket" in open_.message

    leaky = found[LEAKY]
    assert leaky.status is Status.FAIL
    # London is outside the EU: the one region the SCPs still let data go to.
    assert "do not deny eu-west-2 (GB)" in leaky.message
    assert leaky.evidence == (
        "eu-west-2 (GB): SCPs allow s3:CreateBucket, ec2:RunInstances, ec2:CreateVolume, "
        "rds:CreateDBInstance, dynamodb:CreateTable",
    )


def test_sov003_scps_not_enabled_deny_nothing() -> None:
    records = organisation([org_account(OPEN, "r-root")], [], scps_enabled=False)
    found = sov003(records, eu_bucket("open-data", OPEN))
    assert found[OPEN].status is Status.FAIL
    assert "SCPs are not enabled in its organisation" in found[OPEN].message


def test_sov003_management_account_is_never_restricted_by_scps() -> None:
    found = sov003(standard_org(), eu_bucket("mgmt-data", MGMT))
    assert found[MGMT].status is Status.FAIL
    assert "management account" in found[MGMT].message


def test_sov003_unreadable_scp_or_open_condition_is_unknown() -> None:
    found = sov003(standard_org(guard_read=False), eu_bucket("eu-data", GUARDED))
    assert (found[GUARDED].status, found[GUARDED].severity) == (Status.UNKNOWN, Severity.HIGH)
    assert "SCPs incomplete" in found[GUARDED].message
    assert policy_arn("p-guard") in found[GUARDED].message

    # A document AWS would reject is not guessed at.
    broken = {"Version": "2012-10-17", "Statement": [{"Effect": "Perhaps", "Action": "*"}]}
    found = sov003(standard_org(broken), eu_bucket("eu-data", GUARDED))
    assert found[GUARDED].status is Status.UNKNOWN
    assert "an SCP could not be read" in found[GUARDED].message

    # A deny that hangs on a principal tag: govaudit cannot tell who carries it.
    tagged = region_guard(EU_REGIONS_ALLOWED, StringEquals={"aws:PrincipalTag/team": "data"})
    found = sov003(standard_org(tagged), eu_bucket("eu-data", GUARDED))
    assert found[GUARDED].status is Status.UNKNOWN
    assert "aws:PrincipalTag/team" in found[GUARDED].message


def test_sov003_without_organisation_data() -> None:
    data = bucket("prod-data", "eu-central-1", account=OPEN, tags=IMPORTANT)
    denied = sov003([], data, coverage={(OPEN, "global", "organizations"): "denied"})
    result = denied["root"]
    assert (result.status, result.severity) == (Status.UNKNOWN, Severity.HIGH)
    assert "coverage: denied" in result.message
    assert run_one("SOV-003", ctx_of([data]))["root"].status is Status.UNKNOWN

    # Organizations answered and there is no organisation: no SCP can exist.
    alone = sov003([], data, coverage={(OPEN, "global", "organizations"): "ok"})
    assert alone["root"].status is Status.FAIL
    assert "belongs to no AWS organisation" in alone["root"].message

    # An organisation was read, but it does not list this account.
    stray = bucket("stray", "eu-central-1", account="555555555555", tags=IMPORTANT)
    found = sov003(standard_org(), stray)
    assert found["root"].status is Status.UNKNOWN
    assert "not among the accounts" in found["root"].message


def test_sov003_partition_inside_the_allowed_countries_and_unrestricted_accounts() -> None:
    cn = bucket("core-cn", "cn-north-1", account=GUARDED, tags=CORE)
    found = sov003([], cn)
    assert found["root"].status is Status.PASS
    assert "every region of partition aws-cn is in CN" in found["root"].message

    # General data is not restricted: the account is not judged.
    assert sov003([], bucket("gen", "eu-central-1", account=OPEN, tags=GENERAL)) == {}


def test_sov003_classification_max_declares_restricted_data_ahead_of_time() -> None:
    # Account 444444444444 may hold core data (policy) though only public data is there yet.
    landing = bucket("landing", "eu-central-1", account="444444444444", tags=PUBLIC)
    found = sov003([], landing, coverage={("444444444444", "global", "organizations"): "ok"})
    assert found["root"].status is Status.FAIL
    assert "account 444444444444 (landing) with core data" in found["root"].message


# --- SOV-007 ------------------------------------------------------------------------------------

CN_ACCOUNT = "111111111111"


def trail(name: str, bucket_name: str | None, region: str = "cn-north-1") -> list[Resource | Edge]:
    raw = {
        "trail": {
            "Name": name,
            "TrailARN": f"arn:aws-cn:cloudtrail:{region}:{CN_ACCOUNT}:trail/{name}",
            "HomeRegion": region,
            "IsMultiRegionTrail": True,
            "S3BucketName": bucket_name,
            "LogFileValidationEnabled": True,
        },
        "status": {"status": "read", "value": {"IsLogging": True}},
        "selectors": {"status": "read", "value": {"EventSelectors": []}},
        "tags": {"status": "read", "value": {"ResourceTagList": []}},
    }
    return list(transform_trail(raw, region, "aws-cn"))


def test_sov007_trail_buckets_judged_against_log_jurisdictions() -> None:
    home = bucket("logs-cn", "cn-north-1")
    # The helper names buckets outside China in partition aws; a trail's bucket shares the
    # trail's partition, so it is moved to aws-cn by name.
    abroad = dataclasses.replace(bucket("logs-hk", "ap-east-1"), uid="arn:aws-cn:s3:::logs-hk")
    hidden = dataclasses.replace(
        bucket("logs-hidden", "cn-north-1", location_status="denied"),
        uid="arn:aws-cn:s3:::logs-hidden",
    )
    records = [
        *trail("main", "logs-cn"),
        *trail("second", "logs-cn", "cn-northwest-1"),
        *trail("hk", "logs-hk"),
        *trail("hidden", "logs-hidden"),
        *trail("elsewhere", "someone-elses"),
    ]
    resources, edges = split(records)
    found = run_one("SOV-007", ctx_of([*resources, home, abroad, hidden], edges))

    ok = found["logs-cn"]
    assert ok.status is Status.PASS
    assert "trail main, second" in ok.message  # one verdict for a bucket two trails share
    assert len(ok.evidence) == 2

    bad = found["logs-hk"]
    assert (bad.status, bad.severity) == (Status.FAIL, Severity.MEDIUM)
    assert "ap-east-1 (HK)" in bad.message and "only in CN" in bad.message

    assert found["logs-hidden"].status is Status.UNKNOWN
    assert "could not be read" in found["logs-hidden"].message

    # A bucket outside the inventory: the trail gets the UNKNOWN.
    assert found["elsewhere"].status is Status.UNKNOWN
    assert "someone-elses" in found["elsewhere"].message
    # Trails with an inventoried bucket are not judged themselves.
    assert "main" not in found


def test_sov007_without_any_log_jurisdiction_is_unknown() -> None:
    pol = dataclasses.replace(residency(), log_jurisdictions=None, home_jurisdiction=None)
    resources, edges = split(trail("main", "logs-cn"))
    found = run_one("SOV-007", ctx_of([*resources, bucket("logs-cn")], edges, pol))
    assert found["logs-cn"].status is Status.UNKNOWN
    assert "neither log_jurisdictions nor a home jurisdiction" in found["logs-cn"].message

    # Without log_jurisdictions the home jurisdiction decides.
    home_only = dataclasses.replace(residency(), log_jurisdictions=None)
    found = run_one("SOV-007", ctx_of([*resources, bucket("logs-cn")], edges, home_only))
    assert found["logs-cn"].status is Status.PASS


ID_NUMBER = "11010519491231002X"
MOBILE = "13812345678"


def iam_user(name: str, tags: Mapping[str, str]) -> Resource:
    return Resource(
        uid=f"arn:aws-cn:iam::{CN_ACCOUNT}:user/{name}",
        provider="aws",
        kind=Kind.USER,
        native_type="iam:user",
        name=name,
        account=CN_ACCOUNT,
        partition="aws-cn",
        tags=dict(tags),
        attrs={"policy_status": "read"},
    )


def test_sov007_personal_data_in_tags_fails_without_repeating_it() -> None:
    records = organisation(
        [
            org_account(GUARDED, "r-root", {"contact": f"call {MOBILE}", "owner-dept": "dsj"}),
            org_account(OPEN, "r-root", tags_read=False),
        ],
        [],
    )
    resources, _ = split(records)
    people = [
        iam_user("ops-1", {"id-card": ID_NUMBER, "team": "ops"}),
        role("etl", tags={"phone": MOBILE}),
        # An epoch-millisecond timestamp holds a run of digits like a mobile number: not PI.
        role("batch", tags={"created": "1700000000000", "owner-dept": "dsj"}),
        role("untagged"),
    ]
    found = run_one("SOV-007", ctx_of([*resources, *people]))

    user = found["ops-1"]
    assert (user.status, user.severity) == (Status.FAIL, Severity.HIGH)
    assert "tag 'id-card'" in user.message and "ID-card number" in user.message
    assert found["etl"].status is Status.FAIL
    assert "mobile phone number" in found["etl"].message
    account = found[GUARDED]
    assert account.status is Status.FAIL
    assert "tag 'contact'" in account.message
    for finding in found.values():
        text = " ".join([finding.message, *finding.evidence])
        assert ID_NUMBER not in text
        assert MOBILE not in text
        assert ID_NUMBER[:6] not in text  # not even a fragment of it

    assert found["batch"].status is Status.PASS
    assert "2 tag(s)" in found["batch"].message
    assert found[OPEN].status is Status.UNKNOWN
    assert "untagged" not in found  # nothing to judge


def test_sov007_policy_pi_regex_is_used() -> None:
    pol = dataclasses.replace(residency(), pi_regex=r"[\w.]+@[\w.]+")
    found = run_one(
        "SOV-007", ctx_of([role("mailer", tags={"owner": "zhang.san@example.cn"})], pol=pol)
    )
    assert found["mailer"].status is Status.FAIL
    assert "personal data (matches tags.pi_regex)" in found["mailer"].message
    assert "zhang.san" not in found["mailer"].message


# --- SOV-008 ------------------------------------------------------------------------------------

BACKUP_READ = {(CN_ACCOUNT, "cn-north-1", "backup"): "ok"}


def database(name: str, native_type: str = "rds:db", **attrs: Any) -> Resource:
    region = "cn-north-1"
    if native_type == "dynamodb:table":
        uid = f"arn:aws-cn:dynamodb:{region}:{CN_ACCOUNT}:table/{name}"
    else:
        uid = f"arn:aws-cn:rds:{region}:{CN_ACCOUNT}:db:{name}"
    return Resource(
        uid=uid,
        provider="aws",
        kind=Kind.DATABASE,
        native_type=native_type,
        name=name,
        account=CN_ACCOUNT,
        region=region,
        partition="aws-cn",
        jurisdiction="CN",
        tags=dict(CORE),
        attrs={"encryption_status": "read", "tags_status": "read", **attrs},
    )


def volume(name: str) -> Resource:
    return Resource(
        uid=f"arn:aws-cn:ec2:cn-north-1:{CN_ACCOUNT}:volume/{name}",
        provider="aws",
        kind=Kind.VOLUME,
        native_type="ec2:volume",
        name=name,
        account=CN_ACCOUNT,
        region="cn-north-1",
        partition="aws-cn",
        jurisdiction="CN",
        tags=dict(CORE),
        attrs={"encryption_status": "read", "tags_status": "read"},
    )


def test_sov008_copies_in_allowed_places_pass() -> None:
    src = bucket("core-src", "cn-north-1", tags=CORE, versioning="Enabled")
    dst = bucket("core-dr", "cn-northwest-1", tags=CORE)
    db = database("orders", backup_retention_period=7)
    table = database("events", "dynamodb:table", pitr_status="read", pitr="ENABLED")
    vol = volume("vol-1")
    snapshot = f"arn:aws-cn:ec2:cn-north-1:{CN_ACCOUNT}:snapshot/snap-1"
    found = run_one(
        "SOV-008",
        ctx_of(
            [src, dst, db, table, vol, bucket("public-site", tags=PUBLIC)],
            [edge(src, dst, Relation.REPLICATES_TO), edge(vol, snapshot, Relation.COPIES_TO)],
        ),
    )
    assert found["core-src"].status is Status.PASS
    assert "arn:aws-cn:s3:::core-dr (cn-northwest-1, CN)" in found["core-src"].message
    assert found["core-src"].evidence  # the replication path
    # The replica is itself the copy: the source keeps the data in an allowed place.
    assert found["core-dr"].status is Status.PASS
    assert "itself a copy of arn:aws-cn:s3:::core-src" in found["core-dr"].message
    assert found["orders"].status is Status.PASS
    assert "automated backups are kept 7 days in cn-north-1 (CN)" in found["orders"].message
    assert found["events"].status is Status.PASS
    assert "point-in-time recovery is on" in found["events"].message
    assert found["vol-1"].status is Status.PASS
    assert "snap-1" in found["vol-1"].message
    assert found["public-site"].status is Status.PASS
    assert "does not require a backup" in found["public-site"].message


def test_sov008_no_copy_in_an_allowed_place_fails() -> None:
    alone = bucket("core-alone", "cn-north-1", tags=CORE, versioning="Enabled")
    abroad = bucket("core-abroad", "cn-north-1", tags=CORE)
    hk = bucket("hk-copy", "ap-east-1", tags=CORE)
    general = bucket("general-alone", "cn-north-1", tags=GENERAL)
    db = database("ledger", backup_retention_period=0)
    table = database("sessions", "dynamodb:table", pitr_status="read", pitr="DISABLED")
    found = run_one(
        "SOV-008",
        ctx_of(
            [alone, abroad, hk, general, db, table],
            [edge(abroad, hk, Relation.REPLICATES_TO)],
            coverage=BACKUP_READ,
        ),
    )
    result = found["core-alone"]
    assert (result.status, result.severity) == (Status.FAIL, Severity.HIGH)
    assert "core-alone (core" in result.message and "no copy in CN" in result.message
    assert "versioning is on, but old versions stay in the same bucket" in result.message

    assert found["core-abroad"].status is Status.FAIL
    assert "arn:aws:s3:::hk-copy (ap-east-1, HK) is outside CN" in found["core-abroad"].message
    assert "versioning is off" in found["core-abroad"].message
    # A copy abroad of data kept in an allowed place: the data has its copy at the source.
    assert found["hk-copy"].status is Status.PASS

    # A class that is not restricted weighs less.
    assert found["general-alone"].severity is Severity.MEDIUM
    assert "BackupRetentionPeriod 0" in found["ledger"].message
    assert found["ledger"].status is Status.FAIL
    assert "point-in-time recovery is off" in found["sessions"].message


def test_sov008_unread_facts_and_unseen_backup_selections_are_unknown() -> None:
    denied = bucket("core-denied", "cn-north-1", tags=CORE, replication_status="denied")
    db = database("no-retention")  # BackupRetentionPeriod not read
    table = database("pitr-denied", "dynamodb:table", pitr_status="denied")
    alone = bucket("core-alone", "cn-north-1", tags=CORE)
    found = run_one("SOV-008", ctx_of([denied, db, table, alone]))
    for name in ("core-denied", "no-retention", "pitr-denied"):
        assert found[name].status is Status.UNKNOWN, name
    assert found["core-denied"].severity is Severity.MEDIUM
    assert "could not be read" in found["core-denied"].message
    # AWS Backup of the region was never read: it may protect the bucket.
    assert found["core-alone"].status is Status.UNKNOWN
    assert "AWS Backup of cn-north-1 was not read (not collected)" in found["core-alone"].message

    # A backup plan in the region may select the bucket; selections are not inventoried.
    plan_raw = {
        "plan": {
            "BackupPlanArn": f"arn:aws-cn:backup:cn-north-1:{CN_ACCOUNT}:backup-plan:p-1",
            "BackupPlanId": "p-1",
            "BackupPlanName": "daily",
        },
        "detail": {"status": "read", "value": {"BackupPlan": {"Rules": []}}},
        "tags": {"status": "read", "value": {"Tags": {}}},
    }
    plan, _ = split(list(transform_plan(plan_raw, "aws-cn", {})))
    found = run_one("SOV-008", ctx_of([alone, *plan], coverage=BACKUP_READ))
    assert found["core-alone"].status is Status.UNKNOWN
    assert "backup plan(s) daily" in found["core-alone"].message
