"""LOG-001..005, LOG-007 and LOG-009 on estates built by the adapters' own transforms."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

from auditor.checking import REGISTRY, CheckContext, load_checks, run_checks
from auditor.graph import build_graph
from auditor.inventories.aws import cloudtrail, ec2, iam, logs, s3, vpc
from auditor.model import Edge, Finding, Kind, Resource, Severity, Status
from auditor.policy import Policy
from tests.helpers import TODAY, bucket, policy

PARTITION = "aws-cn"
PROD, ARCHIVE, SHARED = "111111111111", "222222222222", "333333333333"
CORE = {"data-class": "核心"}
IMPORTANT = {"data-class": "重要"}

# --- builders: AWS-shaped answers through the adapters' transforms ----------------------------


def read(value: Mapping[str, Any]) -> dict[str, Any]:
    return {"status": "read", "value": dict(value)}


DENIED: dict[str, Any] = {"status": "denied", "code": "AccessDenied"}
ALL_MANAGEMENT = read(
    {"EventSelectors": [{"ReadWriteType": "All", "IncludeManagementEvents": True}]}
)


def trail(
    name: str,
    account: str = PROD,
    region: str = "cn-north-1",
    *,
    multi_region: bool = True,
    organisation: bool = False,
    bucket_name: str = "trail-logs",
    validation: bool = True,
    kms: bool = True,
    log_group: str | None = None,
    status: Mapping[str, Any] | None = None,
    selectors: Mapping[str, Any] | None = None,
) -> list[Resource | Edge]:
    """A trail as DescribeTrails, GetTrailStatus and GetEventSelectors describe it."""
    description: dict[str, Any] = {
        "Name": name,
        "TrailARN": f"arn:{PARTITION}:cloudtrail:{region}:{account}:trail/{name}",
        "HomeRegion": region,
        "IsMultiRegionTrail": multi_region,
        "IsOrganizationTrail": organisation,
        "IncludeGlobalServiceEvents": True,
        "LogFileValidationEnabled": validation,
        "S3BucketName": bucket_name,
    }
    if kms:
        description["KmsKeyId"] = f"arn:{PARTITION}:kms:{region}:{account}:key/trail-key"
    if log_group:
        description["CloudWatchLogsLogGroupArn"] = (
            f"arn:{PARTITION}:logs:{region}:{account}:log-group:{log_group}:*"
        )
    raw = {
        "trail": description,
        "status": status if status is not None else read({"IsLogging": True}),
        "selectors": selectors if selectors is not None else ALL_MANAGEMENT,
        "tags": read({"ResourceTagList": []}),
    }
    return list(cloudtrail.transform_trail(raw, region, PARTITION))


def account(number: str) -> Resource:
    return next(iter(iam.transform_account({}, number, PARTITION)))


def log_bucket(
    name: str, account: str = ARCHIVE, tags: Mapping[str, str] | None = None, **facts: Any
) -> Resource:
    """A bucket whose logging, lifecycle and Object Lock facts go through the S3 transform."""
    answers = {"logging": read({}), "lifecycle": {"status": "none"}}
    answers["object_lock"] = {"status": "none"}
    answers |= facts
    return bucket(name, account=account, tags=tags, **s3.retention_and_flow_attrs(answers))


def lock(mode: str, days: int) -> dict[str, Any]:
    rule = {"DefaultRetention": {"Mode": mode, "Days": days}}
    return read({"ObjectLockConfiguration": {"ObjectLockEnabled": "Enabled", "Rule": rule}})


def expiring(days: int) -> dict[str, Any]:
    rule = {"ID": "tidy", "Status": "Enabled", "Filter": {}, "Expiration": {"Days": days}}
    return read({"Rules": [rule]})


ACCESS_LOGGED = read({"LoggingEnabled": {"TargetBucket": "access-logs", "TargetPrefix": "t/"}})


def log_group(name: str, retention: int | None, account: str = PROD) -> Resource:
    group: dict[str, Any] = {
        "logGroupName": name,
        "arn": f"arn:{PARTITION}:logs:cn-north-1:{account}:log-group:{name}:*",
    }
    if retention is not None:
        group["retentionInDays"] = retention
    raw = {
        "group": group,
        "subscriptions": read({"subscriptionFilters": []}),
        "tags": read({"tags": {}}),
    }
    records = logs.transform_group(raw, {"status": "none"}, PARTITION)
    return next(r for r in records if isinstance(r, Resource))


def network(
    vpc_id: str, flows: list[dict[str, Any]] | None = None, *, flow_status: str = "read"
) -> list[Resource | Edge]:
    """One VPC and its flow logs as DescribeVpcs and DescribeFlowLogs answer."""
    flow_logs = (
        read({"FlowLogs": [{"ResourceId": vpc_id, **f} for f in flows or []]})
        if flow_status == "read"
        else {"status": flow_status, "code": "UnauthorizedOperation"}
    )
    raw = {
        "region": "cn-north-1",
        "account": PROD,
        "vpcs": [{"VpcId": vpc_id, "CidrBlock": "10.0.0.0/16", "OwnerId": PROD}],
        "flow_logs": flow_logs,
        "peerings": read({"VpcPeeringConnections": []}),
        "transit_gateway_peerings": read({"TransitGatewayPeeringAttachments": []}),
        "security_groups": read({"SecurityGroups": []}),
    }
    return list(vpc.transform_vpcs(raw, PARTITION))


def flow(ident: str, traffic: str = "ALL", status: str = "ACTIVE") -> dict[str, Any]:
    return {
        "FlowLogId": ident,
        "FlowLogStatus": status,
        "DeliverLogsStatus": "SUCCESS",
        "TrafficType": traffic,
        "LogDestinationType": "s3",
        "LogDestination": f"arn:{PARTITION}:s3:::flow-logs/vpc/",
    }


PLACE = ec2.Place("cn-north-1", PROD, PARTITION)


def instance(ident: str, vpc_id: str, tags: Mapping[str, str] | None = None) -> Resource:
    tag_list = [{"Key": k, "Value": v} for k, v in (tags or {}).items()]
    answer = {"InstanceId": ident, "VpcId": vpc_id, "SubnetId": "subnet-1", "Tags": tag_list}
    return ec2.transform_instance(answer, PLACE)


def volume(ident: str, attached_to: str, tags: Mapping[str, str]) -> Resource:
    answer = {
        "VolumeId": ident,
        "Encrypted": True,
        "Attachments": [{"InstanceId": attached_to, "Device": "/dev/xvda"}],
        "Tags": [{"Key": k, "Value": v} for k, v in tags.items()],
    }
    default = {"ebs_default_encryption": {"status": "none"}, "ebs_default_kms_key": DENIED}
    records = ec2.transform_volume(answer, PLACE, ec2.ebs_default(default))
    return next(r for r in records if isinstance(r, Resource))


def store(
    name: str, native_type: str, kind: Kind, tags: Mapping[str, str], **attrs: Any
) -> Resource:
    service, rest = native_type.split(":")
    sep = ":" if service == "lambda" else "/"
    return Resource(
        uid=f"arn:{PARTITION}:{service}:cn-north-1:{PROD}:{rest}{sep}{name}",
        provider="aws",
        kind=kind,
        native_type=native_type,
        name=name,
        account=PROD,
        region="cn-north-1",
        partition=PARTITION,
        jurisdiction="CN",
        tags=dict(tags),
        attrs=attrs,
    )


def table(name: str, tags: Mapping[str, str]) -> Resource:
    return store(name, "dynamodb:table", Kind.DATABASE, tags)


def function(name: str, tags: Mapping[str, str], vpc_id: str | None = None) -> Resource:
    config = {"vpc_id": vpc_id, "subnet_ids": ["subnet-1"]} if vpc_id else None
    return store(name, "lambda:function", Kind.FUNCTION, tags, vpc=config)


def trust_role(name: str, *statements: Mapping[str, Any]) -> list[Resource | Edge]:
    document = {"Version": "2012-10-17", "Statement": list(statements)}
    role = {
        "RoleName": name,
        "RoleId": f"AROA{name.upper()}",
        "Arn": f"arn:{PARTITION}:iam::{PROD}:role/{name}",
        "Path": "/",
        "AssumeRolePolicyDocument": json.dumps(document),
    }
    return list(iam.transform_roles({"roles": [role]}, PROD, PARTITION))


def allow(account: str, **conditions: Any) -> dict[str, Any]:
    statement: dict[str, Any] = {
        "Effect": "Allow",
        "Principal": {"AWS": f"arn:{PARTITION}:iam::{account}:root"},
        "Action": ["sts:AssumeRole", "sts:SetSourceIdentity"],
    }
    if conditions:
        statement["Condition"] = conditions
    return statement


# --- running ----------------------------------------------------------------------------------


def context(
    records: Iterable[Resource | Edge | list[Resource | Edge]],
    pol: Policy | None = None,
    coverage: Mapping[tuple[str, str, str], str] | None = None,
) -> CheckContext:
    flat: list[Resource | Edge] = []
    for item in records:
        flat += item if isinstance(item, list) else [item]
    resources = {r.uid: r for r in flat if isinstance(r, Resource)}
    edges = [e for e in flat if isinstance(e, Edge)]
    graph = build_graph(resources.values(), edges)
    return CheckContext(resources, graph, pol or policy("logs"), dict(coverage or {}), TODAY)


def run(check_id: str, ctx: CheckContext) -> dict[str, Finding]:
    """Findings by resource uid (accounts all end in `:root`, so names would collide)."""
    load_checks()
    return {f.resource: f for f in run_checks(ctx, [REGISTRY[check_id]])}


def trail_uid(name: str, account: str = PROD) -> str:
    return f"arn:{PARTITION}:cloudtrail:cn-north-1:{account}:trail/{name}"


def root(number: str) -> str:
    return f"arn:{PARTITION}:iam::{number}:root"


def bucket_uid(name: str) -> str:
    return f"arn:{PARTITION}:s3:::{name}"


# --- LOG-001 ----------------------------------------------------------------------------------


def test_log001_account_recorded_by_its_multi_region_trail() -> None:
    found = run("LOG-001", context([account(PROD), trail("main")]))
    assert found[root(PROD)].status is Status.PASS
    assert "trail main" in found[root(PROD)].message
    assert found[trail_uid("main")].status is Status.PASS
    assert found[root(PROD)].severity is Severity.HIGH


def test_log001_organisation_trail_covers_member_accounts() -> None:
    org = trail("org", account=ARCHIVE, organisation=True)
    found = run("LOG-001", context([account(PROD), account(SHARED), org]))
    for number in (PROD, SHARED):
        assert found[root(number)].status is Status.PASS
        assert "organisation trail org" in found[root(number)].message


def test_log001_fails_without_trail_or_with_incomplete_ones() -> None:
    stopped = read({"IsLogging": False, "StopLoggingTime": "2026-02-01T00:00:00"})
    write_only = read(
        {"EventSelectors": [{"ReadWriteType": "WriteOnly", "IncludeManagementEvents": True}]}
    )
    broken = read({"IsLogging": True, "LatestDeliveryError": "AccessDenied"})
    ctx = context(
        [
            account(PROD),
            account(SHARED),
            account(ARCHIVE),
            trail("local", account=SHARED, multi_region=False, status=stopped),
            trail("writes", account=ARCHIVE, selectors=write_only, status=broken),
        ]
    )
    found = run("LOG-001", ctx)
    bare = found[root(PROD)]
    assert bare.status is Status.FAIL
    assert bare.severity is Severity.HIGH
    assert f"account {PROD} has no CloudTrail trail" in bare.message
    shared = found[root(SHARED)]
    assert shared.status is Status.FAIL
    assert "records only its home region cn-north-1" in shared.message
    assert "is stopped (since 2026-02-01" in shared.message
    archive = found[root(ARCHIVE)].message
    assert "records only WriteOnly management events" in archive
    assert "fails to deliver log files to trail-logs (AccessDenied)" in archive
    assert found[trail_uid("local", SHARED)].status is Status.FAIL
    assert "is stopped" in found[trail_uid("local", SHARED)].message
    assert found[trail_uid("writes", ARCHIVE)].status is Status.FAIL
    assert "AccessDenied" in found[trail_uid("writes", ARCHIVE)].message


def test_log001_unknown_when_status_or_listing_unread() -> None:
    ctx = context(
        [account(PROD), account(SHARED), trail("hidden", status=DENIED)],
        coverage={
            (PROD, "cn-north-1", "cloudtrail"): "ok",
            (SHARED, "cn-north-1", "cloudtrail"): "denied",
        },
    )
    found = run("LOG-001", ctx)
    assert found[trail_uid("hidden")].status is Status.UNKNOWN
    assert "could not read status" in found[trail_uid("hidden")].message
    assert found[root(PROD)].status is Status.UNKNOWN
    assert "status of trail hidden could not be read" in found[root(PROD)].message
    # No trail seen, but CloudTrail could not be listed there: absence proves nothing.
    assert found[root(SHARED)].status is Status.UNKNOWN
    assert "cloudtrail could not be listed" in found[root(SHARED)].message


# --- LOG-002 ----------------------------------------------------------------------------------


def test_log002_pass_fail_unknown() -> None:
    ctx = context(
        [
            trail("good", bucket_name="trail-logs"),
            log_bucket("trail-logs", logging=ACCESS_LOGGED),
            trail("weak", validation=False, kms=False, bucket_name="quiet-logs"),
            log_bucket("quiet-logs"),
            trail("blind", bucket_name="hidden-logs"),
            log_bucket("hidden-logs", logging=DENIED),
            trail("away", bucket_name="elsewhere"),
        ]
    )
    found = run("LOG-002", ctx)
    good = found[trail_uid("good")]
    assert good.status is Status.PASS
    assert "trail-key" in good.message and "trail-logs logs every access" in good.message
    weak = found[trail_uid("weak")]
    assert weak.status is Status.FAIL
    assert weak.severity is Severity.MEDIUM
    assert "log file validation is off" in weak.message
    assert "not encrypted with a customer-managed KMS key" in weak.message
    assert "bucket quiet-logs has no server access logging" in weak.message
    blind = found[trail_uid("blind")]
    assert blind.status is Status.UNKNOWN
    assert "access logging of bucket hidden-logs could not be read" in blind.message
    away = found[trail_uid("away")]
    assert away.status is Status.UNKNOWN
    assert "elsewhere is not in the audited accounts" in away.message


# --- LOG-003 ----------------------------------------------------------------------------------


def test_log003_bucket_retention_and_object_lock_follow_the_logged_data() -> None:
    org = trail("org", account=ARCHIVE, organisation=True, bucket_name="org-logs")
    ctx = context(
        [
            org,
            log_bucket("org-logs", lifecycle=expiring(90), object_lock=lock("GOVERNANCE", 400)),
            # Core data in a member account: its trail's logs must be kept 365 days.
            bucket("core-data", account=PROD, tags=CORE),
            trail("prod", bucket_name="prod-logs"),
            log_bucket("prod-logs", account=PROD, object_lock=lock("COMPLIANCE", 400)),
        ]
    )
    found = run("LOG-003", ctx)
    org_logs = found[bucket_uid("org-logs")]
    assert org_logs.status is Status.FAIL
    assert org_logs.severity is Severity.HIGH
    assert "lifecycle rule 'tidy' deletes log files after 90 days" in org_logs.message
    assert "365 days required (core data in account 111111111111)" in org_logs.message
    assert "GOVERNANCE" in org_logs.message and "not COMPLIANCE" in org_logs.message
    assert found[bucket_uid("prod-logs")].status is Status.PASS
    assert "under Object Lock COMPLIANCE" in found[bucket_uid("prod-logs")].message
    assert "org-logs" in found[bucket_uid("org-logs")].fix_command


def test_log003_object_lock_needed_only_for_restricted_logs_and_long_enough() -> None:
    ctx = context(
        [
            trail("shared", account=SHARED, bucket_name="plain-logs"),
            log_bucket("plain-logs", account=SHARED),
            trail("prod", bucket_name="short-lock"),
            log_bucket("short-lock", account=PROD, object_lock=lock("COMPLIANCE", 30)),
            bucket("important-data", account=PROD, tags=IMPORTANT),
        ]
    )
    found = run("LOG-003", ctx)
    # Only general data in the shared account: no class sets retention, and no lock needed.
    plain = found[bucket_uid("plain-logs")]
    assert plain.status is Status.PASS
    assert "180 days required (CSL art. 21 minimum" in plain.message
    short = found[bucket_uid("short-lock")]
    assert short.status is Status.FAIL
    assert "Object Lock COMPLIANCE protects log files for only 30 days" in short.message


def test_log003_log_groups_use_the_csl_floor_without_class_requirements() -> None:
    ctx = context([log_group("app", 30), log_group("audit", None), log_group("net", 365)], policy())
    found = run("LOG-003", ctx)
    short = found[f"arn:{PARTITION}:logs:cn-north-1:{PROD}:log-group:app"]
    assert short.status is Status.FAIL
    assert "deletes events after 30 days; 180 days required (CSL art. 21" in short.message
    forever = found[f"arn:{PARTITION}:logs:cn-north-1:{PROD}:log-group:audit"]
    assert forever.status is Status.PASS
    assert "never expires" in forever.message
    assert found[f"arn:{PARTITION}:logs:cn-north-1:{PROD}:log-group:net"].status is Status.PASS


def test_log003_unknown_when_lifecycle_or_bucket_unread() -> None:
    ctx = context(
        [
            trail("prod", bucket_name="dark-logs"),
            log_bucket("dark-logs", account=PROD, lifecycle=DENIED),
            trail("away", bucket_name="elsewhere"),
            network("vpc-1", [flow("fl-1")]),
        ]
    )
    found = run("LOG-003", ctx)
    dark = found[bucket_uid("dark-logs")]
    assert dark.status is Status.UNKNOWN
    assert "could not read lifecycle of dark-logs" in dark.message
    away = found[trail_uid("away")]
    assert away.status is Status.UNKNOWN
    assert "delivers logs to elsewhere, which the audit did not inventory" in away.message
    flows = found[f"arn:{PARTITION}:ec2:cn-north-1:{PROD}:vpc/vpc-1"]
    assert flows.status is Status.UNKNOWN
    assert "flow-logs" in flows.message


# --- LOG-004 ----------------------------------------------------------------------------------


def test_log004_archive_workload_and_undeclared_accounts() -> None:
    outsider = bucket("foreign-logs", account="999999999999", observed_only=True)
    ctx = context(
        [
            trail("archived", bucket_name="archive-logs"),
            log_bucket("archive-logs", account=ARCHIVE),
            trail("local", bucket_name="local-logs"),
            log_bucket("local-logs", account=PROD),
            trail("shared", bucket_name="shared-logs"),
            log_bucket("shared-logs", account=SHARED),
            trail("foreign", bucket_name="foreign-logs"),
            outsider,
            trail("lost", bucket_name="missing-logs"),
        ]
    )
    found = run("LOG-004", ctx)
    assert found[trail_uid("archived")].status is Status.PASS
    assert "log-archive account 222222222222" in found[trail_uid("archived")].message
    local = found[trail_uid("local")]
    assert local.status is Status.FAIL
    assert local.severity is Severity.MEDIUM
    assert "workload account 111111111111 (prod)" in local.message
    foreign = found[trail_uid("foreign")]
    assert foreign.status is Status.FAIL
    assert "999999999999, which is not one of the organisation's accounts" in foreign.message
    assert found[trail_uid("shared")].status is Status.UNKNOWN
    assert "purpose the policy does not give" in found[trail_uid("shared")].message
    assert found[trail_uid("lost")].status is Status.UNKNOWN
    assert "not among the buckets of the audited accounts" in found[trail_uid("lost")].message


def test_log004_missing_bucket_fails_when_every_account_was_listed() -> None:
    listed = {(a, "global", "s3"): "ok" for a in (PROD, ARCHIVE, SHARED)}
    found = run("LOG-004", context([trail("lost", bucket_name="missing-logs")], coverage=listed))
    assert found[trail_uid("lost")].status is Status.FAIL
    assert "in none of the organisation's 3 accounts" in found[trail_uid("lost")].message


# --- LOG-005 ----------------------------------------------------------------------------------


def advanced(*field_selectors: dict[str, Any]) -> dict[str, Any]:
    management = {
        "Name": "management",
        "FieldSelectors": [{"Field": "eventCategory", "Equals": ["Management"]}],
    }
    data = {
        "Name": "data",
        "FieldSelectors": [{"Field": "eventCategory", "Equals": ["Data"]}, *field_selectors],
    }
    return read({"AdvancedEventSelectors": [management, data]})


def test_log005_classic_selector_for_all_buckets_records_restricted_bucket() -> None:
    selectors = read(
        {
            "EventSelectors": [
                {
                    "ReadWriteType": "All",
                    "IncludeManagementEvents": True,
                    "DataResources": [{"Type": "AWS::S3::Object", "Values": ["arn:aws-cn:s3"]}],
                }
            ]
        }
    )
    ctx = context(
        [
            trail("main", selectors=selectors),
            bucket("secrets", account=PROD, tags=CORE),
            bucket("open", account=PROD),  # general: no data events needed
            function("payroll", IMPORTANT),
        ]
    )
    found = run("LOG-005", ctx)
    assert found[bucket_uid("secrets")].status is Status.PASS
    assert "recorded by trail main" in found[bucket_uid("secrets")].message
    assert bucket_uid("open") not in found
    payroll = found[f"arn:{PARTITION}:lambda:cn-north-1:{PROD}:function:payroll"]
    assert payroll.status is Status.FAIL
    assert payroll.severity is Severity.HIGH
    assert "no trail records data events of payroll (important" in payroll.message


def test_log005_advanced_selectors_that_fall_short() -> None:
    table_arn = f"arn:{PARTITION}:dynamodb:cn-north-1:{PROD}:table/citizens"
    reads_only = advanced(
        {"Field": "resources.type", "Equals": ["AWS::DynamoDB::Table"]},
        {"Field": "resources.ARN", "Equals": [table_arn]},
        {"Field": "readOnly", "Equals": ["true"]},
    )
    prefix_only = advanced(
        {"Field": "resources.type", "Equals": ["AWS::S3::Object"]},
        {"Field": "resources.ARN", "StartsWith": [bucket_uid("records") + "/2025/"]},
    )
    excluded = advanced(
        {"Field": "resources.type", "Equals": ["AWS::S3::Object"]},
        {"Field": "resources.ARN", "NotStartsWith": [bucket_uid("hidden") + "/"]},
    )
    stopped = read({"IsLogging": False})
    ctx = context(
        [
            trail("reads", selectors=reads_only),
            trail("prefix", selectors=prefix_only),
            trail("most", selectors=excluded, status=stopped),
            table("citizens", CORE),
            bucket("records", account=PROD, tags=CORE),
            bucket("hidden", account=PROD, tags=CORE),
        ]
    )
    found = run("LOG-005", ctx)
    citizens = found[table_arn]
    assert citizens.status is Status.FAIL
    assert "no trail records the writes of citizens (core" in citizens.message
    assert "only its reads are recorded (by trail reads)" in citizens.message
    records = found[bucket_uid("records")]
    assert records.status is Status.FAIL
    assert "only objects starting arn:aws-cn:s3:::records/2025/" in records.message
    assert "trail most selects its data events but is stopped" in records.message
    hidden = found[bucket_uid("hidden")]
    assert hidden.status is Status.FAIL
    assert "no trail records data events of hidden" in hidden.message


def test_log005_unknown_when_selectors_unread() -> None:
    ctx = context([trail("main", selectors=DENIED), bucket("secrets", account=PROD, tags=CORE)])
    found = run("LOG-005", ctx)
    secrets = found[bucket_uid("secrets")]
    assert secrets.status is Status.UNKNOWN
    assert "event selectors of trail main could not be read" in secrets.message


def test_log005_single_region_trail_does_not_cover_other_regions() -> None:
    everything = advanced({"Field": "resources.type", "Equals": ["AWS::S3::Object"]})
    far = bucket("far", region="cn-northwest-1", account=PROD, tags=CORE)
    ctx = context([trail("local", multi_region=False, selectors=everything), far])
    assert run("LOG-005", ctx)[bucket_uid("far")].status is Status.FAIL


# --- LOG-007 ----------------------------------------------------------------------------------


def vpc_uid(ident: str) -> str:
    return f"arn:{PARTITION}:ec2:cn-north-1:{PROD}:vpc/{ident}"


def test_log007_flow_logs_of_vpcs_hosting_restricted_data() -> None:
    ctx = context(
        [
            network("vpc-bare"),
            instance("i-core", "vpc-bare", CORE),
            network("vpc-logged", [flow("fl-all")]),
            # The instance itself is general; the core volume attached to it puts it here.
            instance("i-host", "vpc-logged"),
            volume("vol-core", "i-host", CORE),
            network("vpc-half", [flow("fl-rej", traffic="REJECT")]),
            function("payroll", IMPORTANT, vpc_id="vpc-half"),
            network("vpc-general"),
            instance("i-general", "vpc-general"),
        ]
    )
    found = run("LOG-007", ctx)
    bare = found[vpc_uid("vpc-bare")]
    assert bare.status is Status.FAIL
    assert bare.severity is Severity.MEDIUM
    assert "VPC vpc-bare (hosting restricted i-core) has no flow log" in bare.message
    logged = found[vpc_uid("vpc-logged")]
    assert logged.status is Status.PASS
    assert "vol-core" in logged.message and "fl-all" in logged.message
    half = found[vpc_uid("vpc-half")]
    assert half.status is Status.FAIL
    assert "records only REJECT traffic" in half.message
    assert vpc_uid("vpc-general") not in found


def test_log007_unknown_when_flow_logs_or_vpc_unread() -> None:
    ctx = context(
        [
            network("vpc-dark", flow_status="denied"),
            instance("i-core", "vpc-dark", CORE),
            function("payroll", CORE, vpc_id="vpc-unlisted"),
        ]
    )
    found = run("LOG-007", ctx)
    dark = found[vpc_uid("vpc-dark")]
    assert dark.status is Status.UNKNOWN
    assert "could not read flow logs of vpc-dark" in dark.message
    unlisted = found[vpc_uid("vpc-unlisted")]
    assert unlisted.status is Status.UNKNOWN
    assert "hosts restricted payroll but was not inventoried" in unlisted.message


# --- LOG-009 ----------------------------------------------------------------------------------


def role_uid(name: str) -> str:
    return f"arn:{PARTITION}:iam::{PROD}:role/{name}"


def test_log009_source_identity_for_vendor_sessions() -> None:
    identity = {"StringLike": {"sts:SourceIdentity": "*"}}
    deny_without = {
        "Effect": "Deny",
        "Principal": {"AWS": "*"},
        "Action": "sts:AssumeRole",
        "Condition": {"Null": {"sts:SourceIdentity": "true"}},
    }
    ctx = context(
        [
            trust_role("vendor-bare", allow("444444444444")),
            trust_role("vendor-named", allow("444444444444", **identity)),
            trust_role("vendor-denied", allow("444444444444"), deny_without),
            trust_role(
                "vendor-optional",
                allow("444444444444", StringLikeIfExists={"sts:SourceIdentity": "*"}),
            ),
            trust_role("other-vendor", allow("777777777777")),
            trust_role("department", allow("555555555555")),
            trust_role("internal", allow(ARCHIVE)),
        ]
    )
    found = run("LOG-009", ctx)
    bare = found[role_uid("vendor-bare")]
    assert bare.status is Status.FAIL
    assert bare.severity is Severity.MEDIUM
    assert "trusts 某运维公司 (444444444444, vendor) without requiring sts:SourceIdentity" in (
        bare.message
    )
    assert "statement #0" in bare.evidence[0]
    assert found[role_uid("vendor-named")].status is Status.PASS
    assert "only with a source identity" in found[role_uid("vendor-named")].message
    assert found[role_uid("vendor-denied")].status is Status.PASS
    assert found[role_uid("vendor-optional")].status is Status.FAIL
    other = found[role_uid("other-vendor")]
    assert other.status is Status.FAIL
    assert other.severity is Severity.LOW
    assert "does not set require_source_identity" in other.message
    assert found[role_uid("department")].status is Status.PASS
    assert role_uid("internal") not in found


def test_log009_unknown_when_trust_unparsable() -> None:
    records = trust_role("broken", allow("444444444444"))
    role = next(r for r in records if isinstance(r, Resource))
    garbled = Resource(
        **{
            **{f: getattr(role, f) for f in role.__dataclass_fields__},
            "attrs": {**role.attrs, "trust_policy": "{not json", "trust_policy_status": "invalid"},
        }
    )
    found = run("LOG-009", context([garbled]))
    assert found[role_uid("broken")].status is Status.UNKNOWN
    assert "could not read trust policy of broken" in found[role_uid("broken")].message


def test_log005_unknown_when_cloudtrail_not_listed_in_the_account() -> None:
    gap = {(PROD, "cn-north-1", "cloudtrail"): "throttled"}
    ctx = context([bucket("secrets", account=PROD, tags=CORE)], coverage=gap)
    secrets = run("LOG-005", ctx)[bucket_uid("secrets")]
    assert secrets.status is Status.UNKNOWN
    assert "cloudtrail could not be listed in account 111111111111" in secrets.message
