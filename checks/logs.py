"""LOG: audit evidence.  Every account keeps a complete trail, protected from those it records,
kept as long as the law and the data's class require, and naming the person behind a session.

The other themes find what is wrong now; these checks decide whether, after an incident, the
organisation could still show who did what.  Facts the adapters could not read make a check
say UNKNOWN: a trail whose status was denied is not a trail that is logging.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from auditor.checking import CheckContext, CheckMeta, Result, Theme, check
from auditor.checks.common import (
    account_from_uid,
    account_label,
    class_label,
    classification_of,
    collection_gaps,
    inventoried,
    own_resources,
    policy_statements,
    shortlist,
    unknown,
    unreadable,
)
from auditor.inventories.aws.policy_rights import (
    PUBLIC,
    PolicyDocumentError,
    matches,
    normalise_principals,
)
from auditor.model import DATA_KINDS, Kind, Relation, Resource, Severity, Status
from auditor.policy import Classification, TrustedParty

# CSL art. 21(3): network logs are kept at least six months; the floor when no class says more.
CSL_MIN_LOG_DAYS = 180
ACCOUNT_TYPE = "iam:account"
VPC_TYPE = "ec2:vpc"
# Fact statuses that mean the adapter has the answer (`none`: asked, nothing configured).
KNOWN = frozenset({"read", "none"})
GLOBAL_REGION = "global"


def _known(resource: Resource, fact: str) -> bool:
    """Whether `<fact>_status` says the fact was read; a missing status was never asked."""
    return resource.attrs.get(f"{fact}_status") in KNOWN


def _organisation_accounts(ctx: CheckContext) -> set[str]:
    """Accounts an organisation trail records: the organisation's members when Organizations
    was read, else the policy's own accounts."""
    members = {
        str(r.attrs["id"])
        for r in ctx.resources.values()
        if r.native_type == "organizations:account" and r.attrs.get("id")
    }
    return members or set(ctx.policy.accounts)


def _trail_accounts(trail: Resource, organisation: set[str]) -> set[str]:
    own = {trail.account} if trail.account else set()
    return own | organisation if trail.attrs.get("organization_trail") else own


def _log_targets(ctx: CheckContext, source: Resource) -> list[str]:
    """Buckets and log groups `source` delivers logs to (not streams, topics or functions)."""
    return sorted(
        {
            str(dst)
            for _, dst, data in ctx.graph.out_edges(source.uid, data=True)
            if data["relation"] == Relation.DELIVERS_LOGS_TO
            and (":s3:::" in dst or ":log-group:" in dst)
        }
    )


def _trail_bucket(ctx: CheckContext, trail: Resource) -> str | None:
    return next((t for t in _log_targets(ctx, trail) if ":s3:::" in t), None)


def _bucket_name(uid: str) -> str:
    return uid.rsplit(":::", 1)[-1]


# --- LOG-001 ----------------------------------------------------------------------------------


@check(
    CheckMeta(
        id="LOG-001",
        title="Account without a working multi-region audit trail",
        theme=Theme.LOG,
        severity=Severity.HIGH,
        fails_when=(
            "an audited account is recorded by no CloudTrail trail (its own or an organisation "
            "trail) that covers every region, records all management events (reads and writes) "
            "and is logging without delivery errors; or a trail is stopped or fails to deliver"
        ),
        frameworks=(
            "CIS AWS Foundations 5.0 3.1",
            "GB/T 22239-2019 8.1.4.3(a)",
            "GB/T 22239-2019 8.2.3.3(a)",
            "NIST 800-53 AU-12",
        ),
        remediation=(
            "Create one organisation trail (or a trail per account) that is multi-region, "
            "records all management events and delivers to the log-archive bucket; start it, "
            "and fix the bucket or key policy a delivery error names."
        ),
        cli=(
            "aws cloudtrail create-trail --name TRAIL_NAME --s3-bucket-name TRAIL_BUCKET "
            "--is-multi-region-trail --is-organization-trail --enable-log-file-validation "
            "--kms-key-id KEY_ARN && aws cloudtrail start-logging --name TRAIL_NAME"
        ),
    )
)
def account_without_trail(ctx: CheckContext) -> Iterator[Result]:
    trails = sorted(own_resources(ctx, Kind.TRAIL), key=lambda t: t.uid)
    for trail in trails:
        yield _trail_health(trail)
    organisation = _organisation_accounts(ctx)
    gaps = collection_gaps(ctx, "cloudtrail")
    for account in own_resources(ctx, Kind.ACCOUNT):
        if account.native_type == ACCOUNT_TYPE:
            covering = [t for t in trails if account.account in _trail_accounts(t, organisation)]
            yield _account_coverage(account, covering, gaps.get(account.account or ""))


def _delivery_errors(trail: Resource) -> list[str]:
    errors = []
    if trail.attrs.get("latest_delivery_error"):
        bucket = trail.attrs.get("s3_bucket_name") or "its bucket"
        errors.append(
            f"fails to deliver log files to {bucket} ({trail.attrs['latest_delivery_error']})"
        )
    if trail.attrs.get("latest_cloudwatch_logs_delivery_error"):
        errors.append(
            "fails to deliver events to CloudWatch Logs "
            f"({trail.attrs['latest_cloudwatch_logs_delivery_error']})"
        )
    return errors


def _trail_health(trail: Resource) -> Result:
    if not _known(trail, "status") or trail.attrs.get("is_logging") is None:
        return unknown(trail, ["status (GetTrailStatus)"])
    problems = [] if trail.attrs["is_logging"] else [_stopped(trail)]
    problems += _delivery_errors(trail)
    if problems:
        return Result(trail, Status.FAIL, f"trail {trail.name} " + "; ".join(problems))
    where = trail.attrs.get("s3_bucket_name") or "its bucket"
    return Result(trail, Status.PASS, f"trail {trail.name} is logging and delivering to {where}")


def _stopped(trail: Resource) -> str:
    since = trail.attrs.get("stop_logging_time")
    return f"is stopped (since {since}): it records nothing" if since else "is not logging"


def _scope_gaps(trail: Resource) -> tuple[list[str], list[str]]:
    """Why a trail does not record its accounts completely, and what could not be read."""
    attrs, name = trail.attrs, f"trail {trail.name}"
    bad: list[str] = []
    unsure: list[str] = []
    if not attrs.get("multi_region"):
        bad.append(f"{name} records only its home region {attrs.get('home_region')}")
    if attrs.get("management_events") is None or not _known(trail, "selectors"):
        unsure.append(f"the event selectors of {name} could not be read")
    elif not attrs["management_events"]:
        bad.append(f"{name} records no management events")
    else:
        kinds = set(attrs.get("management_read_write") or ())
        if "All" not in kinds and not {"ReadOnly", "WriteOnly"} <= kinds:
            bad.append(f"{name} records only {'/'.join(sorted(kinds))} management events")
    if attrs.get("is_logging") is None or not _known(trail, "status"):
        unsure.append(f"the status of {name} could not be read")
    elif not attrs["is_logging"]:
        bad.append(f"{name} {_stopped(trail)}")
    bad += [f"{name} {error}" for error in _delivery_errors(trail)]
    return bad, unsure


def _account_coverage(account: Resource, covering: list[Resource], gap: str | None) -> Result:
    label = f"account {account.name}"
    evidence = tuple(f"trail {t.uid} records {label}" for t in covering)
    bad: list[str] = []
    unsure: list[str] = []
    for trail in covering:
        trail_bad, trail_unsure = _scope_gaps(trail)
        if not trail_bad and not trail_unsure:
            kind = "organisation trail" if trail.attrs.get("organization_trail") else "trail"
            message = (
                f"{label} is recorded in every region by {kind} {trail.name} (logging, all "
                "management events)"
            )
            return Result(account, Status.PASS, message, evidence)
        bad += trail_bad
        unsure += trail_unsure
    if unsure or gap:
        why = "; ".join([*unsure, *([gap] if gap else []), *bad])
        return Result(account, Status.UNKNOWN, f"whether {label} is fully recorded: {why}")
    if not covering:
        message = (
            f"{label} has no CloudTrail trail: actions in it leave no audit record (an "
            "organisation trail is only seen when its management account is audited too)"
        )
        return Result(account, Status.FAIL, message)
    message = f"{label} has no complete working trail: " + "; ".join(bad)
    return Result(account, Status.FAIL, message, evidence)


# --- LOG-002 ----------------------------------------------------------------------------------


@check(
    CheckMeta(
        id="LOG-002",
        title="Audit trail files can be altered unnoticed or read without a trace",
        theme=Theme.LOG,
        severity=Severity.MEDIUM,
        fails_when=(
            "a trail has log file validation off, is not encrypted with a customer-managed KMS "
            "key, or delivers to a bucket without server access logging"
        ),
        frameworks=(
            "CIS AWS Foundations 5.0 3.2, 3.4, 3.5",
            "SecNumCloud 3.2 10.4",
            "GB/T 22239-2019 8.1.4.3(c)",
            "NIST 800-53 AU-9(3)",
        ),
        remediation=(
            "Turn on log file validation and SSE-KMS with a customer-managed key on the trail, "
            "and server access logging on its bucket (to a separate access-log bucket)."
        ),
        cli=(
            "aws cloudtrail update-trail --name TRAIL_NAME --enable-log-file-validation "
            "--kms-key-id KEY_ARN && aws s3api put-bucket-logging --bucket TRAIL_BUCKET "
            '--bucket-logging-status \'{"LoggingEnabled":{"TargetBucket":"ACCESS_LOG_BUCKET",'
            '"TargetPrefix":"TRAIL_BUCKET/"}}\''
        ),
    )
)
def trail_files_unprotected(ctx: CheckContext) -> Iterator[Result]:
    for trail in own_resources(ctx, Kind.TRAIL):
        problems: list[str] = []
        unsure: list[str] = []
        if not trail.attrs.get("log_file_validation"):
            problems.append("log file validation is off: altered or deleted files go unnoticed")
        if not trail.attrs.get("cmk_encrypted"):
            problems.append("log files are not encrypted with a customer-managed KMS key")
        target = _trail_bucket(ctx, trail)
        bucket = inventoried(ctx, target) if target else None
        if target is None:
            unsure.append("it names no S3 bucket")
        elif bucket is None:
            unsure.append(f"its bucket {_bucket_name(target)} is not in the audited accounts")
        elif not _known(bucket, "logging") or bucket.attrs.get("access_logging_enabled") is None:
            unsure.append(f"the access logging of bucket {bucket.name} could not be read")
        elif not bucket.attrs["access_logging_enabled"]:
            problems.append(
                f"bucket {bucket.name} has no server access logging: who read or deleted "
                "the log files leaves no trace"
            )
        label = f"trail {trail.name}"
        if problems:
            note = f" (also unknown: {'; '.join(unsure)})" if unsure else ""
            yield Result(trail, Status.FAIL, f"{label}: {'; '.join(problems)}{note}")
        elif unsure:
            message = f"{label} validates and encrypts its files, but {'; '.join(unsure)}"
            yield Result(trail, Status.UNKNOWN, message)
        else:
            message = (
                f"{label} validates its files, encrypts them with {trail.attrs.get('kms_key_arn')} "
                f"and its bucket {bucket.name if bucket else ''} logs every access"
            )
            yield Result(trail, Status.PASS, message)


# --- LOG-003 ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Requirement:
    """How long a log store must keep logs and whether it must lock them, with the reasons."""

    days: int
    why: str
    lock_for: str | None


@check(
    CheckMeta(
        id="LOG-003",
        title="Logs deleted sooner than the law or the data's class requires",
        theme=Theme.LOG,
        severity=Severity.HIGH,
        fails_when=(
            "a trail or flow-log bucket (lifecycle expiry) or a CloudWatch log group "
            "(retentionInDays) keeps logs fewer days than the strictest log_retention_days of "
            "the classes of its own and its accounts' data (180 days, CSL art. 21, when no "
            "class sets one), or such a bucket logging restricted data lacks Object Lock in "
            "COMPLIANCE mode for that long"
        ),
        frameworks=(
            "CSL art. 21",
            "GB/T 22239-2019 8.1.4.3(c)",
            "NIST 800-53 AU-11",
            "NIST 800-53 AU-9",
            "OMB M-21-31",
        ),
        remediation=(
            "Lengthen or remove the lifecycle expiry (and set CloudWatch Logs retention) to at "
            "least the required days, and turn on Object Lock in COMPLIANCE mode with a default "
            "retention that long on buckets holding logs about restricted data."
        ),
        cli=(
            "aws s3api put-object-lock-configuration --bucket BUCKET --object-lock-configuration "
            '\'{"ObjectLockEnabled":"Enabled","Rule":{"DefaultRetention":{"Mode":"COMPLIANCE",'
            '"Days":DAYS}}}\''
        ),
    )
)
def logs_kept_too_briefly(ctx: CheckContext) -> Iterator[Result]:
    held = _classes_by_account(ctx)
    organisation = _organisation_accounts(ctx)
    feeds: dict[str, list[Resource]] = {}
    missing: dict[str, tuple[Resource, list[str]]] = {}
    sources = [*own_resources(ctx, Kind.TRAIL)]
    sources += [v for v in own_resources(ctx, Kind.NETWORK) if v.native_type == VPC_TYPE]
    for source in sources:
        for target in _log_targets(ctx, source):
            if inventoried(ctx, target) is None:
                missing.setdefault(source.uid, (source, []))[1].append(target)
            else:
                feeds.setdefault(target, []).append(source)
    stores = {g.uid: g for g in own_resources(ctx, Kind.LOG_GROUP)}
    stores |= {uid: ctx.resources[uid] for uid in feeds if ":s3:::" in uid}
    for uid in sorted(stores):
        store = stores[uid]
        need = _requirement(ctx, store, feeds.get(uid, []), held, organisation)
        yield _judge_log_store(store, need)
    for source, targets in missing.values():
        shown = ", ".join(_bucket_name(t) if ":s3:::" in t else t for t in targets)
        message = (
            f"{source.name} delivers logs to {shown}, which the audit did not inventory "
            "(audit the log-archive account): how long they are kept is unknown"
        )
        yield Result(source, Status.UNKNOWN, message)


def _classes_by_account(ctx: CheckContext) -> dict[str, dict[str, Classification]]:
    held: dict[str, dict[str, Classification]] = {}
    for resource in own_resources(ctx, *DATA_KINDS):
        cls = classification_of(ctx, resource).classification
        held.setdefault(resource.account or "", {})[cls.name] = cls
    return held


def _requirement(
    ctx: CheckContext,
    store: Resource,
    sources: Iterable[Resource],
    held: Mapping[str, Mapping[str, Classification]],
    organisation: set[str],
) -> _Requirement:
    """The strictest demand of the store's own class and of the data in the accounts it logs."""
    accounts = {store.account or ""}
    for source in sources:
        if source.kind == Kind.TRAIL:
            accounts |= _trail_accounts(source, organisation)
        elif source.account:
            accounts.add(source.account)
    own = classification_of(ctx, store)
    classes = [(own.classification, f"{store.name} is {own.classification.name}")]
    classes += [
        (cls, f"{cls.name} data in account {account}")
        for account in sorted(accounts)
        for cls in held.get(account, {}).values()
    ]
    timed = [(c.log_retention_days, why) for c, why in classes if c.log_retention_days]
    if timed:
        days, why = max(timed, key=lambda item: item[0])
    else:
        days, why = CSL_MIN_LOG_DAYS, "CSL art. 21 minimum; no class sets log_retention_days"
    lock_for = next((why for c, why in classes if c.restricted), None)
    return _Requirement(days, why, lock_for)


def _judge_log_store(store: Resource, need: _Requirement) -> Result:
    required = f"{need.days} days required ({need.why})"
    if store.kind == Kind.LOG_GROUP:
        days = store.attrs.get("retention_days")
        if days is not None and int(days) < need.days:
            message = f"log group {store.name} deletes events after {days} days; {required}"
            return Result(store, Status.FAIL, message)
        kept = "never expires" if days is None else f"keeps events {days} days"
        return Result(store, Status.PASS, f"log group {store.name} {kept}; {required}")
    problems: list[str] = []
    unread: list[str] = []
    if _known(store, "lifecycle"):
        problems += _lifecycle_problems(store, need.days)
    else:
        unread.append("lifecycle")
    if need.lock_for is not None:
        if _known(store, "object_lock"):
            problems += _lock_problems(store, need)
        else:
            unread.append("Object Lock configuration")
    label = f"log bucket {store.name}"
    if problems:
        note = f" (could not read: {', '.join(unread)})" if unread else ""
        return Result(store, Status.FAIL, f"{label}: {'; '.join(problems)}; {required}{note}")
    if unread:
        return unknown(store, unread)
    lock = " under Object Lock COMPLIANCE" if need.lock_for is not None else ""
    return Result(store, Status.PASS, f"{label} keeps log files long enough{lock}; {required}")


def _lifecycle_problems(bucket: Resource, days: int) -> list[str]:
    problems = []
    for rule in bucket.attrs.get("lifecycle_rules") or ():
        if rule.get("status") != "Enabled":
            continue
        name = f"lifecycle rule '{rule.get('id') or '(unnamed)'}'"
        expiry = rule.get("expiration_days")
        if expiry is not None and int(expiry) < days:
            problems.append(f"{name} deletes log files after {expiry} days")
        if rule.get("expiration_date"):
            problems.append(f"{name} deletes log files on {rule['expiration_date']}")
    return problems


def _lock_problems(bucket: Resource, need: _Requirement) -> list[str]:
    why = "it holds logs about restricted data"
    if need.lock_for != need.why:
        why += f" ({need.lock_for})"
    if not bucket.attrs.get("object_lock_enabled"):
        return [f"no Object Lock although {why}: whoever may delete objects can erase them"]
    mode = bucket.attrs.get("object_lock_mode")
    if mode != "COMPLIANCE":
        shown = f"{mode} (bypassable with s3:BypassGovernanceRetention)" if mode else "unset"
        return [f"Object Lock default mode is {shown}, not COMPLIANCE, although {why}"]
    locked = int(bucket.attrs.get("object_lock_days") or 0)
    locked = locked or 365 * int(bucket.attrs.get("object_lock_years") or 0)
    if locked < need.days:
        return [f"Object Lock COMPLIANCE protects log files for only {locked} days"]
    return []


# --- LOG-004 ----------------------------------------------------------------------------------


@check(
    CheckMeta(
        id="LOG-004",
        title="Audit trail stored where the people it records can reach it",
        theme=Theme.LOG,
        severity=Severity.MEDIUM,
        fails_when=(
            "a trail delivers to a bucket in an audited workload account "
            "(accounts.<id>.purpose: workload) rather than a log-archive account, or in an "
            "account that is not one of the organisation's"
        ),
        frameworks=(
            "NIST 800-53 AU-9(2)",
            "GB/T 22239-2019 8.1.4.3(c)",
            "GB/T 22239-2019 8.2.5.1",
        ),
        remediation=(
            "Deliver the trail to a bucket in a dedicated log-archive account that workload "
            "administrators cannot use, and mark that account purpose: log-archive in the policy."
        ),
        cli="aws cloudtrail update-trail --name TRAIL_NAME --s3-bucket-name ARCHIVE_BUCKET",
    )
)
def trail_bucket_in_workload_account(ctx: CheckContext) -> Iterator[Result]:
    for trail in own_resources(ctx, Kind.TRAIL):
        target = _trail_bucket(ctx, trail)
        if target is None:
            yield Result(trail, Status.UNKNOWN, f"trail {trail.name} names no S3 bucket")
            continue
        bucket = ctx.resources.get(target)
        yield _judge_archive(ctx, trail, _bucket_name(target), bucket.account if bucket else None)


def _judge_archive(ctx: CheckContext, trail: Resource, bucket: str, account: str | None) -> Result:
    label = f"trail {trail.name} delivers to bucket {bucket}"
    if account is None:
        listed = [ctx.coverage.get((a, GLOBAL_REGION, "s3")) for a in ctx.policy.accounts]
        if listed and all(outcome == "ok" for outcome in listed):
            message = (
                f"{label}, which is in none of the organisation's {len(listed)} accounts "
                "(all their buckets were listed): the evidence sits with an outsider"
            )
            return Result(trail, Status.FAIL, message)
        message = (
            f"{label}, which is not among the buckets of the audited accounts: audit the "
            "account that holds it to confirm it is a log archive"
        )
        return Result(trail, Status.UNKNOWN, message)
    info = ctx.policy.accounts.get(account)
    if info is None:
        message = f"{label} in account {account}, which is not one of the organisation's accounts"
        return Result(trail, Status.FAIL, message)
    where = account_label(ctx, account)
    if info.purpose == "workload":
        message = (
            f"{label} in workload {where}: administrators of the workload can alter the "
            "evidence of their own actions; use a log-archive account"
        )
        return Result(trail, Status.FAIL, message)
    if not info.purpose:
        message = (
            f"{label} in {where}, whose purpose the policy does not give (set "
            "accounts.<id>.purpose: log-archive for the archive)"
        )
        return Result(trail, Status.UNKNOWN, message)
    return Result(trail, Status.PASS, f"{label} in {info.purpose} {where}, not a workload account")


# --- LOG-005 ----------------------------------------------------------------------------------

# The CloudTrail resource type whose data events record access to each kind of store.
DATA_EVENT_TYPES = {
    "s3:bucket": "AWS::S3::Object",
    "dynamodb:table": "AWS::DynamoDB::Table",
    "lambda:function": "AWS::Lambda::Function",
}
POSITIVE_OPERATORS = ("Equals", "StartsWith", "EndsWith")
NEGATIVE_OPERATORS = ("NotEquals", "NotStartsWith", "NotEndsWith")
FULL, PARTIAL = "full", "partial"


@dataclass
class _Recorded:
    """What the trails covering one store record of its data events."""

    reads: list[str] = field(default_factory=list)
    writes: list[str] = field(default_factory=list)
    partial: list[str] = field(default_factory=list)
    stopped: list[str] = field(default_factory=list)
    unsure: list[str] = field(default_factory=list)


@check(
    CheckMeta(
        id="LOG-005",
        title="Nobody records who reads or changes restricted data",
        theme=Theme.LOG,
        severity=Severity.HIGH,
        fails_when=(
            "no logging trail covering a restricted S3 bucket, DynamoDB table or Lambda "
            "function records its data events, both reads and writes, for the whole resource "
            "(classic or advanced event selectors)"
        ),
        frameworks=(
            "CIS AWS Foundations 5.0 3.8, 3.9",
            "GB/T 22239-2019 8.2.3.3(b)",
            "NIST 800-53 AU-2",
        ),
        remediation=(
            "Add an advanced event selector for data events (eventCategory Data, the resource "
            "type and its ARN) on a multi-region trail; put-event-selectors replaces the trail's "
            "selectors, so include the existing ones."
        ),
        cli=(
            "aws cloudtrail put-event-selectors --trail-name TRAIL_NAME --advanced-event-selectors "
            '\'[{"Name":"restricted data","FieldSelectors":[{"Field":"eventCategory","Equals":'
            '["Data"]},{"Field":"resources.type","Equals":["AWS::S3::Object"]},{"Field":'
            '"resources.ARN","StartsWith":["arn:PARTITION:s3:::BUCKET/"]}]}]\''
        ),
    )
)
def restricted_data_events_unrecorded(ctx: CheckContext) -> Iterator[Result]:
    trails = list(own_resources(ctx, Kind.TRAIL))
    organisation = _organisation_accounts(ctx)
    gaps = collection_gaps(ctx, "cloudtrail")
    for store in own_resources(ctx, Kind.OBJECT_STORE, Kind.DATABASE, Kind.FUNCTION):
        event_type = DATA_EVENT_TYPES.get(store.native_type)
        verdict = classification_of(ctx, store)
        if event_type is None or not verdict.classification.restricted:
            continue
        recorded = _Recorded()
        for trail in trails:
            if store.account in _trail_accounts(trail, organisation) and (
                trail.attrs.get("multi_region") or trail.attrs.get("home_region") == store.region
            ):
                _record(trail, store, event_type, recorded)
        label = class_label(store, verdict)
        yield _judge_recorded(store, label, recorded, gaps.get(store.account or ""))


def _record(trail: Resource, store: Resource, event_type: str, recorded: _Recorded) -> None:
    name = f"trail {trail.name}"
    events = trail.attrs.get("data_events")
    if events is None or not _known(trail, "selectors"):
        recorded.unsure.append(f"the event selectors of {name} could not be read")
        return
    matched = [_match(e, store, event_type) for e in events]
    hits = [m for m in matched if m is not None]
    if not hits:
        return
    if trail.attrs.get("is_logging") is None or not _known(trail, "status"):
        recorded.unsure.append(f"the status of {name} could not be read")
        return
    if not trail.attrs["is_logging"]:
        recorded.stopped.append(f"{name} selects its data events but is stopped")
        return
    for reads, writes, notes in hits:
        if notes:
            recorded.partial.append(f"{name} records it only in part ({'; '.join(notes)})")
            continue
        if reads:
            recorded.reads.append(name)
        if writes:
            recorded.writes.append(name)


def _judge_recorded(store: Resource, label: str, rec: _Recorded, gap: str | None) -> Result:
    if rec.reads and rec.writes:
        who = ", ".join(sorted(set(rec.reads + rec.writes)))
        return Result(store, Status.PASS, f"reads and writes of {label} are recorded by {who}")
    missing = " and ".join(
        n for n, found in (("reads", rec.reads), ("writes", rec.writes)) if not found
    )
    detail = rec.stopped + rec.partial
    if rec.unsure or gap:
        why = "; ".join(rec.unsure + ([gap] if gap else []) + detail)
        message = f"whether the {missing} of {label} are recorded: {why}"
        return Result(store, Status.UNKNOWN, message)
    if not rec.reads and not rec.writes and not detail:
        message = (
            f"no trail records data events of {label}: who read or changed its data leaves no trace"
        )
        return Result(store, Status.FAIL, message)
    parts = [f"no trail records the {missing} of {label} in full"]
    for done, names in (("reads", rec.reads), ("writes", rec.writes)):
        if names:
            parts.append(f"only its {done} are recorded (by {', '.join(sorted(set(names)))})")
    return Result(store, Status.FAIL, "; ".join(parts + detail))


def _match(
    event: Mapping[str, Any], store: Resource, event_type: str
) -> tuple[bool, bool, list[str]] | None:
    """(reads, writes, what narrows it) if one selector entry applies to `store`, else None."""
    if "field_selectors" in event:
        return _advanced_match(event["field_selectors"], store, event_type)
    if event.get("resource_type") != event_type:
        return None
    scopes = [_classic_scope(str(v), store) for v in event.get("values") or ()]
    notes = [s for s in scopes if s not in (None, FULL)]
    if FULL not in scopes and not notes:
        return None
    kind = event.get("read_write") or "All"
    narrowing = [] if FULL in scopes else [str(n) for n in notes]
    return kind in ("All", "ReadOnly"), kind in ("All", "WriteOnly"), narrowing


def _service_wide(value: str, store: Resource) -> bool:
    service = store.uid.split(":")[2]
    return value.rstrip(":") == f"arn:{store.partition}:{service}"


def _classic_scope(value: str, store: Resource) -> str | None:
    if _service_wide(value, store) or value.rstrip("/") == store.uid:
        return FULL
    if store.native_type == "s3:bucket" and value.startswith(store.uid + "/"):
        return f"only objects under {value}"
    return None


def _advanced_match(
    selectors: Sequence[Mapping[str, Any]], store: Resource, event_type: str
) -> tuple[bool, bool, list[str]] | None:
    reads = writes = True
    notes: list[str] = []
    for selector in selectors:
        name = selector.get("Field")
        if name == "eventCategory":
            continue
        if name == "resources.type":
            if event_type not in selector.get("Equals", []):
                return None
        elif name == "resources.ARN":
            scope = _arn_scope(selector, store)
            if scope is None:
                return None
            if scope != FULL:
                notes.append(scope)
        elif name == "readOnly":
            wanted = {str(v).lower() for v in selector.get("Equals", [])}
            wanted |= {
                "false" if str(v).lower() == "true" else "true"
                for v in selector.get("NotEquals", [])
            }
            reads = reads and (not wanted or "true" in wanted)
            writes = writes and (not wanted or "false" in wanted)
        else:
            notes.append(f"filtered on {name}")
    return reads, writes, notes


def _arn_scope(selector: Mapping[str, Any], store: Resource) -> str | None:
    """FULL, a note on what part of `store` a resources.ARN selector keeps, or None."""
    bucket = store.native_type == "s3:bucket"
    # S3 data events carry object ARNs; every object of the bucket starts with this.
    whole = store.uid + "/" if bucket else store.uid
    scopes: list[str] = []
    for operator in POSITIVE_OPERATORS:
        values = [str(v) for v in selector.get(operator, [])]
        if not values:
            continue
        scope = max((_positive(operator, v, whole, bucket) for v in values), key=_rank)
        if scope is None:
            return None
        scopes.append(scope)
    for operator in NEGATIVE_OPERATORS:
        for value in (str(v) for v in selector.get(operator, [])):
            positive = _positive(operator.removeprefix("Not"), value, whole, bucket)
            if positive == FULL:
                return None
            if positive is not None:
                scopes.append(f"excludes {operator.removeprefix('Not').lower()} {value}")
    narrowed = [s for s in scopes if s != FULL]
    return "; ".join(narrowed) if narrowed else FULL


def _rank(scope: str | None) -> int:
    return 2 if scope == FULL else 0 if scope is None else 1


def _positive(operator: str, value: str, whole: str, bucket: bool) -> str | None:
    """How much of the resource (object prefix `whole` for a bucket) one condition keeps."""
    if operator == "StartsWith":
        if whole.startswith(value):
            return FULL
        return f"only objects starting {value}" if bucket and value.startswith(whole) else None
    if operator == "Equals":
        if value == whole.rstrip("/"):
            return None if bucket else FULL
        return f"only object {value}" if bucket and value.startswith(whole) else None
    if bucket:
        return f"only objects ending {value}"
    return FULL if whole.endswith(value) else None


# --- LOG-007 ----------------------------------------------------------------------------------


@check(
    CheckMeta(
        id="LOG-007",
        title="Network holding restricted data keeps no flow logs",
        theme=Theme.LOG,
        severity=Severity.MEDIUM,
        fails_when=(
            "a VPC that hosts restricted data (EC2 instances, their attached volumes, Lambda "
            "functions or databases in it) has no active VPC flow log recording ALL traffic"
        ),
        frameworks=(
            "CIS AWS Foundations 5.0 3.7",
            "GB/T 22239-2019 8.2.3.2",
            "CSL art. 21",
        ),
        remediation=(
            "Create a VPC flow log for ALL traffic delivering to the log-archive bucket (or a "
            "CloudWatch log group kept at least 180 days), and repair flow logs that fail."
        ),
        cli=(
            "aws ec2 create-flow-logs --resource-type VPC --resource-ids VPC_ID --traffic-type "
            "ALL --log-destination-type s3 --log-destination arn:PARTITION:s3:::LOG_BUCKET"
        ),
    )
)
def restricted_network_without_flow_logs(ctx: CheckContext) -> Iterator[Result]:
    vpcs = {
        (v.region, str(v.attrs.get("vpc_id"))): v
        for v in own_resources(ctx, Kind.NETWORK)
        if v.native_type == VPC_TYPE
    }
    hosted = _restricted_by_vpc(ctx)
    for place in sorted(hosted, key=lambda p: (p[0] or "", p[1])):
        residents = hosted[place]
        vpc = vpcs.get(place)
        if vpc is None:
            yield _vpc_not_inventoried(place, residents)
        else:
            yield _judge_flow_logs(vpc, residents)


def _restricted_by_vpc(ctx: CheckContext) -> dict[tuple[str | None, str], list[Resource]]:
    instances = {
        (i.region, str(i.attrs.get("instance_id"))): i for i in own_resources(ctx, Kind.INSTANCE)
    }
    hosted: dict[tuple[str | None, str], list[Resource]] = {}
    for resource in own_resources(ctx, *DATA_KINDS, Kind.INSTANCE, Kind.FUNCTION):
        # VPC flow logs are AWS's; another cloud's `vpc_id` names a network of its own.
        if resource.provider != "aws":
            continue
        if not classification_of(ctx, resource).classification.restricted:
            continue
        for vpc_id in _vpc_ids(resource, instances):
            hosted.setdefault((resource.region, vpc_id), []).append(resource)
    return hosted


def _vpc_ids(resource: Resource, instances: Mapping[tuple[str | None, str], Resource]) -> set[str]:
    """The VPCs a resource sits in; a volume sits where the instances it is attached to do."""
    found = {str(resource.attrs["vpc_id"])} if resource.attrs.get("vpc_id") else set()
    config = resource.attrs.get("vpc")
    if isinstance(config, Mapping) and config.get("vpc_id"):
        found.add(str(config["vpc_id"]))
    for attachment in resource.attrs.get("attachments") or ():
        if not isinstance(attachment, Mapping):
            continue
        instance = instances.get((resource.region, str(attachment.get("instance_id"))))
        if instance is not None and instance.attrs.get("vpc_id"):
            found.add(str(instance.attrs["vpc_id"]))
    return found


def _vpc_not_inventoried(place: tuple[str | None, str], residents: list[Resource]) -> Result:
    region, vpc_id = place
    first = residents[0]
    # The VPC itself was not listed: name it from what its residents tell.
    vpc = Resource(
        uid=f"arn:{first.partition}:ec2:{region}:{first.account}:vpc/{vpc_id}",
        provider=first.provider,
        kind=Kind.NETWORK,
        native_type=VPC_TYPE,
        name=vpc_id,
        account=first.account,
        region=region,
        partition=first.partition,
        jurisdiction=first.jurisdiction,
    )
    hosted = shortlist([r.name for r in residents])
    message = (
        f"VPC {vpc_id} hosts restricted {hosted} but was not inventoried (see "
        "coverage of service vpc): its flow logs are unknown"
    )
    return Result(vpc, Status.UNKNOWN, message)


def _judge_flow_logs(vpc: Resource, residents: list[Resource]) -> Result:
    label = f"VPC {vpc.name} (hosting restricted {shortlist([r.name for r in residents])})"
    if not _known(vpc, "flow_logs"):
        return unknown(vpc, ["flow logs"])
    flows = list(vpc.attrs.get("flow_logs") or ())
    working = [
        f
        for f in flows
        if f.get("status") in (None, "ACTIVE") and f.get("deliver_status") in (None, "SUCCESS")
    ]
    complete = [f for f in working if f.get("traffic_type") == "ALL"]
    if complete:
        flow = complete[0]
        message = (
            f"{label} records ALL traffic with flow log {flow.get('flow_log_id')} to "
            f"{flow.get('destination')}"
        )
        return Result(vpc, Status.PASS, message)
    if working:
        kinds = "/".join(sorted({str(f.get("traffic_type")) for f in working}))
        message = (
            f"{label} records only {kinds} traffic: the other connections to restricted data "
            "leave no record"
        )
        return Result(vpc, Status.FAIL, message)
    if flows:
        broken = ", ".join(
            f"{f.get('flow_log_id')} ({f.get('status')}, delivery {f.get('deliver_status')})"
            for f in flows
        )
        return Result(vpc, Status.FAIL, f"{label}: its flow logs do not work: {broken}")
    message = (
        f"{label} has no flow log: network connections to restricted data leave no record "
        f"(CSL art. 21 asks for {CSL_MIN_LOG_DAYS} days of network logs)"
    )
    return Result(vpc, Status.FAIL, message)


# --- LOG-009 ----------------------------------------------------------------------------------

SOURCE_IDENTITY = "sts:sourceidentity"
ASSUME_ROLE = "sts:AssumeRole"


@check(
    CheckMeta(
        id="LOG-009",
        title="Vendor sessions cannot be traced to a person",
        theme=Theme.LOG,
        severity=Severity.MEDIUM,
        fails_when=(
            "a role trusts a trusted party whose entry sets require_source_identity without "
            "requiring sts:SourceIdentity in its trust policy (medium), or trusts a vendor "
            "without it although the policy does not demand it (low)"
        ),
        frameworks=(
            "GB/T 22239-2019 8.2.3.3(b)",
            "GB/T 22239-2019 8.1.4.3",
            "SecNumCloud 3.2 9.7(d)",
        ),
        remediation=(
            "Require a source identity in the role's trust: allow sts:SetSourceIdentity and add "
            'a Condition {"StringLike": {"sts:SourceIdentity": "*"}} (or the vendor staff\'s '
            "naming pattern), so CloudTrail names the vendor's person in every session."
        ),
        cli=(
            "aws iam update-assume-role-policy --role-name ROLE "
            "--policy-document file://trust-with-source-identity.json"
        ),
    )
)
def vendor_sessions_unattributed(ctx: CheckContext) -> Iterator[Result]:
    for role in own_resources(ctx, Kind.ROLE):
        status = role.attrs.get("trust_policy_status")
        if status == "none":
            continue
        if status != "read" or unreadable(role, "trust_policy"):
            yield unknown(role, ["trust policy"])
            continue
        try:
            trusted = _parties_trusted(ctx, role)
        except PolicyDocumentError:
            yield unknown(role, ["trust policy"])
            continue
        if trusted:
            yield _judge_attribution(role, trusted)


@dataclass(frozen=True, slots=True)
class _Trust:
    party: TrustedParty
    demanded: bool
    statement: str


def _parties_trusted(ctx: CheckContext, role: Resource) -> list[_Trust]:
    statements = policy_statements(role.attrs.get("trust_policy") or {})
    denied = _denied_without_identity(statements)
    found: dict[str, _Trust] = {}
    for index, statement in enumerate(statements):
        if statement.get("Effect") != "Allow" or not _grants_assume(statement):
            continue
        label = f"trust policy of {role.uid}, statement {statement.get('Sid') or f'#{index}'}"
        for principal in normalise_principals(statement.get("Principal")):
            account = account_from_uid(principal)
            party = ctx.policy.trusted_party(account) if account else None
            if party is None or ctx.policy.is_own_account(party.account):
                continue
            demanded = _demands_identity(statement.get("Condition") or {}) or (
                account in denied or PUBLIC in denied
            )
            earlier = found.get(party.account)
            if earlier is None or (earlier.demanded and not demanded):
                found[party.account] = _Trust(party, demanded, label)
    return [found[a] for a in sorted(found)]


def _grants_assume(statement: Mapping[str, Any]) -> bool:
    if "NotAction" in statement:
        return not any(matches(a, ASSUME_ROLE) for a in _listed(statement["NotAction"]))
    return any(matches(a, ASSUME_ROLE) for a in _listed(statement.get("Action")))


def _listed(value: Any) -> list[str]:
    # Condition values are a string, a list of them, or (written carelessly) a bare JSON
    # boolean or number; anything else names nothing.
    if value is None or isinstance(value, Mapping):
        return []
    if isinstance(value, str | bool | int | float):
        return [str(value)]
    return [str(v) for v in value] if isinstance(value, list) else []


def _demands_identity(conditions: Mapping[str, Any]) -> bool:
    """True when the condition block lets a session in only with a source identity set.

    `...IfExists` operators and `Null: true` pass a session without one, so they do not count.
    """
    for operator, block in conditions.items():
        if not isinstance(block, Mapping):
            continue
        for key, value in block.items():
            if str(key).casefold() != SOURCE_IDENTITY:
                continue
            op = str(operator)
            if op.endswith("IfExists"):
                continue
            if op != "Null" or _null_is(value, "false"):
                return True
    return False


def _null_is(value: Any, wanted: str) -> bool:
    return {str(v).lower() for v in _listed(value)} == {wanted}


def _denied_without_identity(statements: Sequence[Mapping[str, Any]]) -> set[str]:
    """Accounts (or PUBLIC for everyone) a Deny stops when they bring no source identity."""
    denied: set[str] = set()
    for statement in statements:
        if statement.get("Effect") != "Deny" or not _grants_assume(statement):
            continue
        nulls = (statement.get("Condition") or {}).get("Null", {})
        if not isinstance(nulls, Mapping):
            continue
        if not any(
            str(k).casefold() == SOURCE_IDENTITY and _null_is(val, "true")
            for k, val in nulls.items()
        ):
            continue
        for principal in normalise_principals(statement.get("Principal")):
            denied.add(PUBLIC if principal == PUBLIC else account_from_uid(principal) or principal)
    return denied


def _judge_attribution(role: Resource, trusted: list[_Trust]) -> Result:
    evidence = tuple(t.statement for t in trusted)
    required = [t for t in trusted if not t.demanded and t.party.require_source_identity]
    vendors = [t for t in trusted if not t.demanded and t.party.kind == "vendor"]
    if required:
        message = (
            f"role {role.name} trusts {_parties(required)} without requiring "
            "sts:SourceIdentity, which the policy demands for them: their sessions cannot be "
            "traced to a person"
        )
        return Result(role, Status.FAIL, message, evidence)
    if vendors:
        message = (
            f"role {role.name} trusts vendor {_parties(vendors)} without requiring "
            "sts:SourceIdentity: their sessions cannot be traced to a person (the policy does "
            "not set require_source_identity for them)"
        )
        return Result(role, Status.FAIL, message, evidence, Severity.LOW)
    demanded = [t for t in trusted if t.demanded]
    if demanded:
        message = f"role {role.name} admits {_parties(demanded)} only with a source identity"
    else:
        message = f"role {role.name} trusts only {_parties(trusted)}, which need no source identity"
    return Result(role, Status.PASS, message, evidence)


def _parties(trusts: Sequence[_Trust]) -> str:
    return ", ".join(f"{t.party.org} ({t.party.account}, {t.party.kind})" for t in trusts)
