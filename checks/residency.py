"""SOV: who runs the cloud that holds the data, which regions an account may use, where the
technical metadata sits, and whether a copy of the data survives inside the allowed countries."""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass

from auditor.access import Decision, PolicyDocumentError, PolicySet, Request, evaluate
from auditor.checking import CheckContext, CheckMeta, Result, Theme, check
from auditor.checks.common import (
    account_label,
    class_label,
    classification_of,
    location,
    log_countries,
    own_resources,
    shortlist,
    unreadable,
    weighted,
)
from auditor.graph import Hop, data_reaches, describe_node, explain_path
from auditor.inventories.regions import jurisdiction_of, known_regions, partition_of_region
from auditor.model import DATA_KINDS, Kind, Relation, Resource, Severity, Status
from auditor.policy import Classification

# One organisation walker for rights and this check: the SCP levels of an account, root → OUs
# → account, or the reason they cannot be followed (incomplete, management account).
from auditor.rights import SCP, _Organisation

# --- SOV-002 ------------------------------------------------------------------------------------


@check(
    CheckMeta(
        id="SOV-002",
        title="Data held by a cloud operator whose country its classification does not allow",
        theme=Theme.SOVEREIGNTY,
        severity=Severity.CRITICAL,
        fails_when=(
            "the company operating the cloud partition that holds a classified store or key is "
            "in a country outside the class's allowed_operators (critical), or only its parent "
            "company is, exposing the data to foreign law such as the US CLOUD Act (high)"
        ),
        frameworks=(
            "DSL art. 36",
            "PIPL art. 41",
            "云计算服务安全评估办法 (2019)",
            "SecNumCloud 3.2 19.6(a)-(c)",
            "EU Cloud Sovereignty Framework SOV-2",
            "GDPR art. 48",
        ),
        remediation=(
            "Move the data to a cloud whose operator and parent company sit in an allowed "
            "country (for example aws-cn for Chinese core data, or a qualified sovereign cloud "
            "for EU data), or record a waiver signed by the data owner."
        ),
    )
)
def operator_not_allowed(ctx: CheckContext) -> Iterator[Result]:
    for resource in own_resources(ctx, *DATA_KINDS, Kind.KEY):
        verdict = classification_of(ctx, resource)
        cls = verdict.classification
        label = class_label(resource, verdict)
        operators = cls.allowed_operators
        if operators is None:
            message = f"{resource.name} is {cls.name}; its class does not restrict the operator"
            yield Result(resource, Status.PASS, message)
            continue
        provider = ctx.policy.provider_of(resource.partition)
        partition = resource.partition or "(none)"
        if provider is None:
            message = (
                f"{label} is in partition {partition}, whose operator the policy's providers "
                "table does not name; add it under providers"
            )
            yield Result(resource, Status.UNKNOWN, message)
            continue
        allowed = ", ".join(sorted(operators)) or "none"
        if provider.operator not in operators:
            message = (
                f"{label} is held in partition {partition}, operated by a company under "
                f"{provider.operator} law; {cls.name} allows operators from {allowed} only"
            )
            yield Result(resource, Status.FAIL, message, severity=Severity.CRITICAL)
        elif provider.parent not in operators:
            law = "the US CLOUD Act" if provider.parent == "US" else f"{provider.parent} law"
            message = (
                f"{label} is held in partition {partition}: its operator is under "
                f"{provider.operator} law (allowed) but its parent company is under "
                f"{provider.parent} law, so extraterritorial orders ({law}) can reach the data; "
                f"{cls.name} allows operators from {allowed} only"
            )
            yield Result(resource, Status.FAIL, message, severity=Severity.HIGH)
        else:
            message = (
                f"{resource.name} ({cls.name}) is in partition {partition}, operated under "
                f"{provider.operator} law with a parent under {provider.parent} law (allowed)"
            )
            yield Result(resource, Status.PASS, message)


# --- SOV-003 ------------------------------------------------------------------------------------

# Requests that place data in a region; an SCP that lets any of them through leaves a way to
# store data there.  Templates: {p} partition, {r} region, {a} account.
PLACEMENT_PROBES: tuple[tuple[str, str], ...] = (
    ("s3:CreateBucket", "arn:{p}:s3:::govaudit-region-probe"),
    ("ec2:RunInstances", "arn:{p}:ec2:{r}:{a}:instance/*"),
    ("ec2:CreateVolume", "arn:{p}:ec2:{r}:{a}:volume/*"),
    ("rds:CreateDBInstance", "arn:{p}:rds:{r}:{a}:db:govaudit-region-probe"),
    ("dynamodb:CreateTable", "arn:{p}:dynamodb:{r}:{a}:table/govaudit-region-probe"),
)
# A hypothetical role of the account holding every identity permission, so that only the SCPs
# decide.  Its name matches no exemption an SCP grants to named administrator roles.
PROBE_ROLE = "govaudit-region-probe"
ALLOW_ALL = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}],
}
# Coverage outcomes that say Organizations answered for the account.
ANSWERED = frozenset({"ok"})
SHOWN = 5  # regions named in a message; the evidence lists them all


@check(
    CheckMeta(
        id="SOV-003",
        title="Account with restricted data can create resources in regions its data may not go",
        theme=Theme.SOVEREIGNTY,
        severity=Severity.HIGH,
        fails_when=(
            "an account holding data of a restricted class (or with such a classification_max) "
            "has no effective SCP denying requests (aws:RequestedRegion) to the regions of its "
            "partition outside the countries the class allows"
        ),
        frameworks=(
            "SecNumCloud 3.2 19.2",
            "GB/T 22239-2019 8.2.4.5(a)",
            "NIST 800-53 SA-9(5)",
        ),
        remediation=(
            "Attach a region-deny SCP to the account or its OU: Deny every action except the "
            "global services (NotAction iam:*, organizations:*, sts:*, ...) when "
            "aws:RequestedRegion is not one of the allowed regions."
        ),
        cli=(
            "aws organizations create-policy --type SERVICE_CONTROL_POLICY --name "
            "deny-other-regions --description 'allowed regions only' --content "
            "file://deny-other-regions.json && aws organizations attach-policy --policy-id "
            "POLICY_ID --target-id ACCOUNT_ID"
        ),
    )
)
def regions_not_denied(ctx: CheckContext) -> Iterator[Result]:
    org = _Organisation(list(ctx.resources.values()))
    for account, held in sorted(_restricted_accounts(ctx).items()):
        yield _judge_account(ctx, org, account, held)


@dataclass
class _Held:
    """What one account holds: its restricted classes and the partition it lives in."""

    partition: str | None
    classes: dict[str, Classification]


def _restricted_accounts(ctx: CheckContext) -> dict[str, _Held]:
    """Accounts holding restricted data, or declared (classification_max) to hold it."""
    held: dict[str, _Held] = {}
    partitions: dict[str, str] = {}
    for resource in own_resources(ctx, *DATA_KINDS, Kind.KEY):
        if resource.account and resource.partition:
            partitions.setdefault(resource.account, resource.partition)
        cls = classification_of(ctx, resource).classification
        if resource.account and cls.restricted:
            entry = held.setdefault(resource.account, _Held(None, {}))
            entry.classes[cls.name] = cls
    for account, info in ctx.policy.accounts.items():
        # An account declared to hold a restricted class needs the SCP before the data arrives;
        # only accounts the audit saw are judged (their partition is known).
        if not info.classification_max or account not in partitions:
            continue
        declared = ctx.policy.classification_named(info.classification_max)
        if declared is not None and declared.restricted:
            held.setdefault(account, _Held(None, {})).classes[declared.name] = declared
    for account, entry in held.items():
        entry.partition = partitions.get(account)
    return held


def _allowed_countries(classes: Iterable[Classification]) -> frozenset[str] | None:
    """Countries every class allows: one SCP governs the whole account."""
    sets = [c.allowed for c in classes if c.allowed is not None]
    if not sets:
        return None
    return frozenset.intersection(*sets)


def _account_resource(ctx: CheckContext, account: str, partition: str | None) -> Resource:
    """The account's Organizations node, else its IAM node, else a node named after it."""
    for resource in ctx.of_kind(Kind.ACCOUNT):
        if resource.native_type == "organizations:account" and resource.attrs.get("id") == account:
            return resource
    uid = f"arn:{partition or 'aws'}:iam::{account}:root"
    found = ctx.resources.get(uid)
    if found is not None:
        return found
    return Resource(
        uid=uid,
        provider="aws",
        kind=Kind.ACCOUNT,
        native_type="iam:account",
        name=account,
        account=account,
        partition=partition,
    )


def _label(ctx: CheckContext, account: str, held: _Held) -> str:
    return f"{account_label(ctx, account)} with {', '.join(sorted(held.classes))} data"


def _judge_account(ctx: CheckContext, org: _Organisation, account: str, held: _Held) -> Result:
    subject = _account_resource(ctx, account, held.partition)
    label = _label(ctx, account, held)
    allowed = _allowed_countries(held.classes.values())
    if allowed is None:
        return Result(subject, Status.PASS, f"{label}: its classes allow every region")
    allowed_text = ", ".join(sorted(allowed)) or "nowhere"
    if held.partition is None:
        return Result(subject, Status.UNKNOWN, f"{label}: the account's partition is unknown")
    outside = _regions_outside(ctx, held.partition, allowed)
    if not outside:
        message = (
            f"{label}: every region of partition {held.partition} is in {allowed_text}; "
            "no region needs denying"
        )
        return Result(subject, Status.PASS, message)
    if subject.native_type != "organizations:account":
        return _without_organisation(ctx, subject, account, label)
    if subject.attrs.get("management") is True:
        message = (
            f"{label} is the organisation's management account: SCPs never restrict it, so "
            f"nothing denies regions outside {allowed_text}; keep data out of it"
        )
        return Result(subject, Status.FAIL, message)
    try:
        levels = org.levels(account, SCP)
    except PolicyDocumentError as err:
        return Result(subject, Status.UNKNOWN, f"{label}: an SCP could not be read: {err}")
    if levels.note:
        return Result(subject, Status.UNKNOWN, f"{label}: {levels.note}; not assessed")
    return _evaluate_regions(subject, account, held.partition, levels.levels, outside, label)


def _regions_outside(
    ctx: CheckContext, partition: str, allowed: frozenset[str]
) -> dict[str, str | None]:
    """Regions of the partition whose country is not allowed (unknown is never allowed)."""
    found: dict[str, str | None] = {}
    for region in known_regions("aws"):
        if partition_of_region(region) != partition:
            continue
        country = jurisdiction_of("aws", region, ctx.policy.region_overrides)
        if country not in allowed:
            found[region] = country
    return found


def _without_organisation(ctx: CheckContext, subject: Resource, account: str, label: str) -> Result:
    outcome = ctx.coverage.get((account, "global", "organizations"))
    organised = any(r.native_type == "organizations:root" for r in ctx.resources.values())
    if organised:
        message = f"{label} is not among the accounts its organisation listed; its SCPs are unknown"
        return Result(subject, Status.UNKNOWN, message)
    if outcome in ANSWERED:
        # Organizations answered and listed nothing: the account belongs to no organisation,
        # so no SCP can exist; that is a read fact, not a gap.
        message = (
            f"{label} belongs to no AWS organisation, so no SCP can deny regions outside the "
            "allowed countries"
        )
        return Result(subject, Status.FAIL, message)
    why = f"coverage: {outcome}" if outcome else "not collected"
    message = (
        f"{label}: its organisation's SCPs could not be read ({why}); run the audit from the "
        "management account or a delegated administrator"
    )
    return Result(subject, Status.UNKNOWN, message)


@dataclass(frozen=True, slots=True)
class _RegionVerdict:
    region: str
    country: str | None
    allowed: tuple[str, ...]  # placement actions the SCPs let through
    pending: tuple[str, ...]  # condition keys that left a decision open
    reasons: tuple[str, ...]


def _probe_region(
    account: str, partition: str, region: str, country: str | None, scps: PolicySet
) -> _RegionVerdict:
    principal = f"arn:{partition}:iam::{account}:role/{PROBE_ROLE}"
    allowed: list[str] = []
    pending: list[str] = []
    reasons: list[str] = []
    for action, template in PLACEMENT_PROBES:
        arn = template.format(p=partition, r=region, a=account)
        request = Request(principal, account, action, arn, account, {"aws:RequestedRegion": region})
        result = evaluate(request, scps)
        if result.decision is Decision.ALLOW:
            allowed.append(action)
        elif result.decision is Decision.CONDITIONAL:
            pending.extend(result.pending)
        else:
            reasons.extend(r for r in result.reasons if r.startswith("SCP"))
    unique = tuple(dict.fromkeys(reasons))
    return _RegionVerdict(region, country, tuple(allowed), tuple(dict.fromkeys(pending)), unique)


def _evaluate_regions(
    subject: Resource,
    account: str,
    partition: str,
    levels: tuple[tuple[Mapping[str, object], ...], ...],
    outside: Mapping[str, str | None],
    label: str,
) -> Result:
    scps = PolicySet(identity=(ALLOW_ALL,), scps=levels)
    try:
        verdicts = [
            _probe_region(account, partition, region, country, scps)
            for region, country in sorted(outside.items())
        ]
    except PolicyDocumentError as err:
        return Result(subject, Status.UNKNOWN, f"{label}: an SCP could not be read: {err}")
    open_ = [v for v in verdicts if v.allowed]
    if open_:
        return Result(subject, Status.FAIL, _open_message(label, levels, open_), _lines(open_))
    unclear = [v for v in verdicts if v.pending]
    if unclear:
        keys = sorted({k for v in unclear for k in v.pending})
        message = (
            f"{label}: whether its SCPs deny {_regions(unclear)} depends on "
            f"{', '.join(keys)}, which govaudit cannot decide offline"
        )
        return Result(subject, Status.UNKNOWN, message, _lines(unclear))
    deciding = sorted({r for v in verdicts for r in v.reasons})
    names = ", ".join(sorted({_policy_name(r) for r in deciding}))
    message = (
        f"{label}: SCPs ({names}) deny placing data in all {len(verdicts)} regions "
        f"outside the allowed countries: {_regions(verdicts)}"
    )
    return Result(subject, Status.PASS, message, tuple(deciding))


def _regions(verdicts: list[_RegionVerdict]) -> str:
    return shortlist([f"{v.region} ({v.country or '?'})" for v in verdicts], SHOWN)


def _open_message(
    label: str, levels: tuple[tuple[Mapping[str, object], ...], ...], open_: list[_RegionVerdict]
) -> str:
    what = ", ".join(open_[0].allowed)
    if not levels:
        return (
            f"{label}: SCPs are not enabled in its organisation, so nothing denies "
            f"{_regions(open_)}; allowed there: {what}"
        )
    return (
        f"{label}: its SCPs ({len(levels)} levels, root to account) do not deny "
        f"{_regions(open_)}; allowed there: {what}"
    )


def _lines(verdicts: list[_RegionVerdict]) -> tuple[str, ...]:
    lines = []
    for v in verdicts:
        where = f"{v.region} ({v.country or '?'})"
        if v.allowed:
            lines.append(f"{where}: SCPs allow {', '.join(v.allowed)}")
        else:
            lines.append(f"{where}: decision depends on {', '.join(v.pending)}")
    return tuple(lines)


def _policy_name(reason: str) -> str:
    """The SCP's name in an evaluator reason ("SCP level 1 'region-guard', statement ...")."""
    match = re.search(r"'([^']+)'", reason)
    return match[1] if match else reason.split(":", 1)[0]


# --- SOV-007 ------------------------------------------------------------------------------------

# What a tag value matching pi_regex looks like, so the finding can say so without repeating it.
PI_SHAPES: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"\d{17}[\dXx]"), "an ID-card number"),
    (re.compile(r"1[3-9]\d{9}"), "a mobile phone number"),
)
PRINCIPAL_TYPES = frozenset({"iam:user", "iam:role", "organizations:account"})
_WORSE = {Status.PASS: 0, Status.UNKNOWN: 1, Status.FAIL: 2}


@dataclass(frozen=True, slots=True)
class _Aspect:
    """One reason for a verdict on a resource; several merge into the resource's one Result."""

    status: Status
    message: str
    evidence: tuple[str, ...] = ()
    severity: Severity | None = None


@check(
    CheckMeta(
        id="SOV-007",
        title="Technical metadata (audit logs, identity tags) abroad or holding personal data",
        theme=Theme.SOVEREIGNTY,
        severity=Severity.MEDIUM,
        fails_when=(
            "a bucket a CloudTrail trail delivers to sits in a country outside log_jurisdictions "
            "(or, when unset, the organisation's home jurisdiction) (medium), or a tag of an IAM "
            "user or role or of an organisation account holds personal data matching "
            "tags.pi_regex such as an ID-card or mobile number (high)"
        ),
        frameworks=(
            "SecNumCloud 3.2 19.2(d)",
            "PIPL art. 36",
            "GB/T 22239-2019 8.2.4.5(a)",
        ),
        remediation=(
            "Deliver trail logs to a log-archive bucket in an allowed region; replace personal "
            "data in IAM and Organizations tags with pseudonymous ids (p-0001) kept in the "
            "policy, since the provider's control plane holds tags outside the data's region."
        ),
        cli=(
            "aws cloudtrail update-trail --name TRAIL --s3-bucket-name "
            "LOG_ARCHIVE_IN_ALLOWED_REGION"
        ),
    )
)
def metadata_abroad(ctx: CheckContext) -> Iterator[Result]:
    aspects: dict[str, list[_Aspect]] = {}
    subjects: dict[str, Resource] = {}
    for subject, aspect in (*_trail_bucket_aspects(ctx), *_tag_aspects(ctx)):
        subjects.setdefault(subject.uid, subject)
        aspects.setdefault(subject.uid, []).append(aspect)
    for uid in sorted(subjects):
        yield _merge(subjects[uid], aspects[uid])


def _merge(subject: Resource, aspects: list[_Aspect]) -> Result:
    """One verdict per resource: the worst aspect decides, every aspect is told."""
    ordered = sorted(aspects, key=lambda a: -_WORSE[a.status])
    worst = ordered[0].status
    severities = [a.severity for a in ordered if a.status is worst and a.severity is not None]
    severity = max(severities, key=lambda s: s.rank) if severities else None
    message = "; ".join(a.message for a in ordered)
    evidence = tuple(line for a in ordered for line in a.evidence)
    return Result(subject, worst, message, evidence, severity)


def _trail_bucket_aspects(ctx: CheckContext) -> Iterator[tuple[Resource, _Aspect]]:
    buckets: dict[str, list[tuple[Resource, str]]] = {}
    for trail in own_resources(ctx, Kind.TRAIL):
        for _, dst, data in ctx.graph.out_edges(trail.uid, data=True):
            if data["relation"] == Relation.DELIVERS_LOGS_TO and ":s3:::" in dst:
                buckets.setdefault(str(dst), []).append((trail, str(data["evidence"])))
    allowed = log_countries(ctx)
    for uid, trails in sorted(buckets.items()):
        bucket = ctx.resources.get(uid)
        names = ", ".join(sorted(t.name for t, _ in trails))
        evidence = tuple(line for _, line in trails)
        if bucket is None:
            # The bucket is outside the inventory (another account): judge the trails instead.
            for trail, line in trails:
                message = (
                    f"trail {trail.name} delivers to {uid}, which the audit could not see; "
                    "its country is unknown"
                )
                yield trail, _Aspect(Status.UNKNOWN, message, (line,))
            continue
        yield bucket, _judge_trail_bucket(bucket, names, allowed, evidence)


def _judge_trail_bucket(
    bucket: Resource, trails: str, allowed: frozenset[str] | None, evidence: tuple[str, ...]
) -> _Aspect:
    where = location(bucket)
    holds = f"trail bucket {bucket.name} (audit logs of trail {trails})"
    if unreadable(bucket, "location"):
        return _Aspect(Status.UNKNOWN, f"location of {holds} could not be read", evidence)
    if allowed is None:
        message = (
            f"{holds} sits in {where}; the policy sets neither log_jurisdictions nor a home "
            "jurisdiction to judge it by"
        )
        return _Aspect(Status.UNKNOWN, message, evidence)
    allowed_text = ", ".join(sorted(allowed)) or "nowhere"
    if bucket.jurisdiction is None:
        message = f"{holds} sits in {where}, whose country is unknown"
        return _Aspect(Status.UNKNOWN, message, evidence)
    if bucket.jurisdiction not in allowed:
        message = f"{holds} sits in {where}; audit logs may be kept only in {allowed_text}"
        return _Aspect(Status.FAIL, message, evidence, Severity.MEDIUM)
    return _Aspect(Status.PASS, f"{holds} sits in {where} (allowed: {allowed_text})", evidence)


def _pi_pattern(regex: str) -> re.Pattern[str]:
    # Digits run on inside longer numbers (timestamps, account ids): a match counts only when
    # it is not part of a longer run of digits.
    return re.compile(rf"(?<!\d)(?:{regex})(?!\d)")


def _shape(text: str) -> str:
    for pattern, shape in PI_SHAPES:
        if pattern.fullmatch(text):
            return shape
    return "personal data (matches tags.pi_regex)"


def _what(resource: Resource) -> str:
    kind = {"iam:user": "IAM user", "iam:role": "IAM role"}.get(resource.native_type, "account")
    return f"{kind} {resource.name}"


def _tag_aspects(ctx: CheckContext) -> Iterator[tuple[Resource, _Aspect]]:
    pattern = _pi_pattern(ctx.policy.pi_regex)
    for resource in own_resources(ctx, Kind.USER, Kind.ROLE, Kind.ACCOUNT):
        if resource.native_type not in PRINCIPAL_TYPES:
            continue
        if unreadable(resource, "tags"):
            message = f"tags of {_what(resource)} could not be read; personal data not assessed"
            yield resource, _Aspect(Status.UNKNOWN, message)
            continue
        if not resource.tags:
            continue
        # Only the tag key and the shape of the value are named: the finding, its report and
        # its exports must not copy the personal data they point at.
        found = [
            f"tag {key!r} holds a value that looks like {_shape(match[0])}"
            for key, value in sorted(resource.tags.items())
            if (match := pattern.search(value)) is not None
        ]
        if found:
            message = f"{_what(resource)}: {'; '.join(found)} (value withheld)"
            yield resource, _Aspect(Status.FAIL, message, severity=Severity.HIGH)
        else:
            count = len(resource.tags)
            message = f"the {count} tag(s) of {_what(resource)} hold no personal data pattern"
            yield resource, _Aspect(Status.PASS, message)


# --- SOV-008 ------------------------------------------------------------------------------------

# Stores that are backed up; snapshots, images and vaults are themselves the copies, and queues,
# topics and log groups are not restored from backups.
BACKED_UP_KINDS = (Kind.OBJECT_STORE, Kind.DATABASE, Kind.VOLUME)
COPY_RELATIONS = frozenset({Relation.COPIES_TO, Relation.REPLICATES_TO})
# Coverage outcomes after which the absence of backup plans is a fact.
BACKUP_READ = frozenset({"ok", "not_enabled"})


@dataclass(frozen=True, slots=True)
class _InPlace:
    """A backup the service keeps in the store's own region, or why there is none."""

    state: str  # "yes" | "no" | "unknown"
    text: str


@check(
    CheckMeta(
        id="SOV-008",
        title="Data that must be backed up has no copy in an allowed jurisdiction",
        theme=Theme.SOVEREIGNTY,
        severity=Severity.MEDIUM,
        fails_when=(
            "a bucket, database or volume whose class sets backup_required has no copy in a "
            "country its class allows: no snapshot, backup copy or replica there, no RDS "
            "automated backups or DynamoDB point-in-time recovery in an allowed region, and no "
            "AWS Backup plan in its region that could cover it (high for restricted classes)"
        ),
        frameworks=(
            "GB/T 22239-2019 8.2.4.6(a), (b)",
            "GB/T 22239-2019 8.1.4.9",
        ),
        remediation=(
            "Back the store up inside the allowed jurisdiction: an AWS Backup plan with an "
            "in-country vault, RDS automated backups, DynamoDB point-in-time recovery, or S3 "
            "versioning with replication to a bucket in an allowed region; keep an offline "
            "export on premises for the most sensitive data."
        ),
        cli=(
            "aws s3api put-bucket-replication --bucket BUCKET --replication-configuration "
            "file://replicate-to-allowed-region.json"
        ),
    )
)
def no_backup_in_allowed_place(ctx: CheckContext) -> Iterator[Result]:
    for store in own_resources(ctx, *BACKED_UP_KINDS):
        verdict = classification_of(ctx, store)
        cls = verdict.classification
        if not cls.backup_required:
            message = f"{store.name} is {cls.name}; its class does not require a backup"
            yield Result(store, Status.PASS, message)
            continue
        yield _judge_backup(ctx, store, cls, class_label(store, verdict))


def _judge_backup(ctx: CheckContext, store: Resource, cls: Classification, label: str) -> Result:
    good, elsewhere = _copies(ctx, store, cls)
    if good:
        node, path = good[0]
        message = f"{label} has a copy in an allowed jurisdiction: {describe_node(ctx.graph, node)}"
        return Result(store, Status.PASS, message, tuple(explain_path(ctx.graph, path)))
    origin = _origin(ctx, store, cls)
    if origin is not None:
        source, evidence = origin
        message = f"{label} is itself a copy of {describe_node(ctx.graph, source)}"
        return Result(store, Status.PASS, message, (evidence,))
    in_place = _in_place(store)
    home = cls.allows(store.jurisdiction)
    where = location(store)
    if in_place.state == "yes" and home:
        return Result(store, Status.PASS, f"{label}: {in_place.text} in {where}")
    if in_place.state == "unknown":
        return Result(store, Status.UNKNOWN, f"{label}: {in_place.text}; not assessed")
    if in_place.state == "yes" and home is None:
        message = f"{label}: {in_place.text}, but in {where}, whose country is unknown"
        return Result(store, Status.UNKNOWN, message)
    found = [in_place.text if in_place.state == "no" else f"{in_place.text}, but in {where}"]
    found += elsewhere
    plans = _aws_backup(ctx, store)
    if plans:
        return Result(store, Status.UNKNOWN, f"{label}: {'; '.join(found)}; {plans}")
    message = f"{label} has no copy in {cls.allowed_text()}: {'; '.join(found)}"
    severity = weighted(cls, Severity.HIGH, Severity.MEDIUM)
    return Result(store, Status.FAIL, message, severity=severity)


def _copies(
    ctx: CheckContext, store: Resource, cls: Classification
) -> tuple[list[tuple[str, tuple[Hop, ...]]], list[str]]:
    """Copies (snapshots, backup copies, replicas) in allowed countries; what the others are."""
    good, elsewhere = [], []
    for node, path in sorted(data_reaches(ctx.graph, store.uid, COPY_RELATIONS).items()):
        allowed = cls.allows(ctx.graph.nodes[node].get("jurisdiction"))
        if allowed:
            good.append((node, path))
        elif allowed is None:
            elsewhere.append(f"copy {describe_node(ctx.graph, node)} is in an unknown country")
        else:
            elsewhere.append(
                f"copy {describe_node(ctx.graph, node)} is outside {cls.allowed_text()}"
            )
    # The shortest path names the nearest copy: the one the message points at.
    good.sort(key=lambda item: len(item[1]))
    return good, elsewhere


def _origin(ctx: CheckContext, store: Resource, cls: Classification) -> tuple[str, str] | None:
    """The store a replica or copy was made from, when that one sits in an allowed country."""
    edges = sorted(ctx.graph.in_edges(store.uid, data=True), key=lambda e: str(e[0]))
    for source, _, data in edges:
        allowed = cls.allows(ctx.graph.nodes[source].get("jurisdiction"))
        if data["relation"] in COPY_RELATIONS and allowed:
            return str(source), str(data["evidence"])
    return None


def _in_place(store: Resource) -> _InPlace:
    """The backup a service keeps beside the store, from the facts its adapter read."""
    kind = store.native_type
    if kind in ("rds:db", "rds:cluster"):
        days = store.attrs.get("backup_retention_period")
        if not isinstance(days, int):
            return _InPlace("unknown", "its backup retention period was not read")
        if days > 0:
            return _InPlace("yes", f"automated backups are kept {days} days")
        return _InPlace("no", "automated backups are off (BackupRetentionPeriod 0)")
    if kind == "dynamodb:table":
        if unreadable(store, "pitr") or store.attrs.get("pitr_status") is None:
            return _InPlace("unknown", "its point-in-time recovery setting was not read")
        if store.attrs.get("pitr") == "ENABLED":
            return _InPlace("yes", "point-in-time recovery is on")
        return _InPlace("no", "point-in-time recovery is off")
    if kind in ("s3:bucket", "s3compat:bucket"):  # the same S3 replication and versioning
        if unreadable(store, "replication", "versioning"):
            return _InPlace("unknown", "its replication or versioning could not be read")
        # Versions stay in the same bucket: they survive an overwrite, not the bucket's loss.
        if store.attrs.get("versioning") == "Enabled":
            return _InPlace(
                "no",
                "no replica in an allowed region (versioning is on, but old "
                "versions stay in the same bucket)",
            )
        return _InPlace("no", "no replica in an allowed region and versioning is off")
    if kind == "ec2:volume":
        # DescribeSnapshots is read with the volumes: a snapshot would be a copies_to edge.
        return _InPlace("no", "no snapshot")
    return _InPlace("unknown", f"govaudit reads no backup facts of {kind}")


def _aws_backup(ctx: CheckContext, store: Resource) -> str:
    """Why AWS Backup might still protect the store, or "" when it cannot."""
    if store.provider != "aws":
        return ""
    outcome = ctx.coverage.get((store.account or "", store.region or "", "backup"))
    if outcome not in BACKUP_READ:
        why = f"coverage: {outcome}" if outcome else "not collected"
        return f"AWS Backup of {store.region} was not read ({why}); it may protect the store"
    plans = sorted(
        plan.name
        for plan in ctx.of_kind(Kind.BACKUP_PLAN)
        if (plan.account, plan.region) == (store.account, store.region)
    )
    if plans:
        # Backup selections are not inventoried: a plan of the region may or may not cover it.
        return (
            f"backup plan(s) {', '.join(plans)} of {store.region} may cover it, but their "
            "resource selections are not inventoried; confirm and waive"
        )
    return ""
