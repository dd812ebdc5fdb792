"""KEY: whether the keys themselves are held as the data's class demands.

KEY-001 asks whether a store uses a customer key at all; these checks judge the keys: how
strong their custody is, where their material sits (replicas included), whether they rotate,
whether they still work for the data they protect, and whether copies of data (snapshots,
AMIs) were made without encryption.
"""

from __future__ import annotations

from collections import defaultdict, deque
from collections.abc import Iterator

from auditor.checking import CheckContext, CheckMeta, Result, Theme, check
from auditor.checks.common import (
    UNREADABLE,
    as_date,
    class_label,
    class_unread,
    classification_of,
    own_resources,
    plural,
    shortlist,
    unknown,
    unreadable,
    weighted,
)
from auditor.inventories.regions import jurisdiction_of
from auditor.model import Kind, Relation, Resource, Severity, Status
from auditor.policy import Verdict

# Classes at these levels accept any key, the provider's own included.
NO_CUSTODY = ("any", "provider_managed")
# What a custody level asks for, in words a security officer reads in the finding.
CUSTODY_WORDS = {
    "customer_managed": "a customer-managed key",
    "byok": "key material the organisation brings (imported or in its own CloudHSM)",
    "hyok": "a key held outside AWS in an external key store the organisation runs",
}
# Key states in which KMS refuses to decrypt: data under such a key is unreadable.
UNUSABLE_STATES = {
    "Disabled": "is disabled",
    "PendingDeletion": "is scheduled for deletion",
    "PendingReplicaDeletion": "is scheduled for deletion (multi-Region replica)",
    "PendingImport": "has no key material (imported material expired or was deleted)",
    "Unavailable": "is unavailable (its custom key store is disconnected)",
}
# States in which the key works, or is about to: nothing is locked out.
USABLE_STATES = frozenset({"Enabled", "Creating", "Updating"})
# Rotation is judged only where KMS offers automatic rotation.
ROTATABLE = {"key_spec": "SYMMETRIC_DEFAULT", "key_manager": "CUSTOMER", "origin": "AWS_KMS"}
# Keys on their way out are KEY-007's business; rotating them changes nothing.
LEAVING_STATES = frozenset({"PendingDeletion", "PendingReplicaDeletion"})
EBS_VOLUME = "ec2:volume"
COPY_WORDS = {
    "ec2:snapshot": "EBS snapshot",
    "ec2:image": "AMI",
    "rds:snapshot": "RDS snapshot",
    "rds:cluster-snapshot": "Aurora cluster snapshot",
}
# Stores named in a message before "and N more".
NAMED = 3


def protected_by(ctx: CheckContext, key: Resource) -> list[str]:
    """The uids of everything whose data `key` encrypts."""
    return sorted(
        {
            str(src)
            for src, _, data in ctx.graph.in_edges(key.uid, data=True)
            if data["relation"] == Relation.ENCRYPTED_BY
        }
    )


def _named(uids: list[str]) -> str:
    return shortlist([uid.rsplit(":", 1)[-1] for uid in uids], NAMED)


def _evidence(key: Resource, stores: list[str]) -> tuple[str, ...]:
    return tuple(f"{store} —encrypted_by→ {key.uid}" for store in stores)


# --- KEY-002 ----------------------------------------------------------------------------------


@check(
    CheckMeta(
        id="KEY-002",
        title="Key custody weaker than the data's classification requires",
        theme=Theme.KEY,
        severity=Severity.HIGH,
        fails_when=(
            "a key that encrypts data is managed by AWS, or its origin is not one the "
            "custody level of the data's class accepts (key_custody.levels: hyok needs an "
            "external key store, byok imported or CloudHSM material, customer_managed a "
            "customer-managed key)"
        ),
        frameworks=(
            "GB/T 22239-2019 8.2.4.5(d)",
            "SecNumCloud 3.2 10.5(c)",
            "EU Cloud Sovereignty Framework SOV-3",
            "ITAR 22 CFR 120.54(a)(5)",
        ),
        remediation=(
            "Create a key whose origin the class's custody level accepts (hyok: an external "
            "key store the organisation runs; byok: imported key material or its own CloudHSM "
            "cluster; customer_managed: any customer-managed key), re-encrypt the data under "
            "it, then disable and schedule deletion of the old key."
        ),
        cli=(
            "aws kms create-key --origin EXTERNAL_KEY_STORE --custom-key-store-id "
            "CUSTOM_KEY_STORE_ID --xks-key-id EXTERNAL_KEY"
        ),
    )
)
def custody_weaker_than_class(ctx: CheckContext) -> Iterator[Result]:
    for key in own_resources(ctx, Kind.KEY):
        stores = protected_by(ctx, key)
        if stores:
            yield _judge_custody(ctx, key, stores)


def _judge_custody(ctx: CheckContext, key: Resource, stores: list[str]) -> Result:
    verdict = classification_of(ctx, key)
    cls = verdict.classification
    level = cls.key_custody
    label = class_label(key, verdict)
    evidence = _evidence(key, stores)
    severity = Severity.CRITICAL if level == "hyok" else Severity.HIGH
    # A class read off unread tags may be too lax: it can fail the key, never clear it.
    blind = class_unread(ctx, key)
    if level in NO_CUSTODY and blind:
        return _class_unknown(key, blind, evidence, severity)
    if level in NO_CUSTODY:
        message = f"{label}: its class sets key custody {level!r}, which any key meets"
        return Result(key, Status.PASS, message, evidence, severity)
    missing = unreadable(key, "describe")
    if missing:
        message = f"could not read {', '.join(missing)} of {label}; custody not assessed"
        return Result(key, Status.UNKNOWN, message, evidence, severity)
    origin, manager = key.attrs.get("origin"), key.attrs.get("key_manager")
    accepted = ctx.policy.custody_levels.get(level)
    if origin is None or manager is None or accepted is None:
        gap = "the policy names no origins for it" if accepted is None else "origin unknown"
        message = f"{label} needs custody {level!r}, but {gap}; not assessed"
        return Result(key, Status.UNKNOWN, message, evidence, severity)
    held = f"origin {origin}, managed by {manager}"
    wanted = f"{CUSTODY_WORDS.get(level, level)} (origin {', '.join(sorted(accepted))})"
    if manager != "CUSTOMER" or origin not in accepted:
        message = (
            f"{label} protects {_named(stores)}; {cls.name} requires key custody {level!r}: "
            f"{wanted}, but the key has {held}"
        )
        return Result(key, Status.FAIL, message, evidence, severity)
    if blind and level != "hyok":
        return _class_unknown(key, blind, evidence, severity)
    message = f"{label} has {held}, which meets key custody {level!r}"
    return Result(key, Status.PASS, message, evidence, severity)


def _class_unknown(
    key: Resource, blind: list[str], evidence: tuple[str, ...], severity: Severity
) -> Result:
    message = (
        f"could not read the tags of {shortlist(blind)}, so the class of {key.name} is "
        "unknown; custody not assessed"
    )
    return Result(key, Status.UNKNOWN, message, evidence, severity)


# --- KEY-003 ----------------------------------------------------------------------------------


@check(
    CheckMeta(
        id="KEY-003",
        title="Key or its multi-Region replica outside the data's allowed jurisdictions",
        theme=Theme.KEY,
        severity=Severity.HIGH,
        fails_when=(
            "a key that encrypts data, or its multi-Region primary or any replica (same key "
            "material), sits in a region whose country the protected data's class does not "
            "allow"
        ),
        frameworks=("GB/T 22239-2019 8.2.4.5(a), 8.2.4.5(d)",),
        remediation=(
            "Delete the multi-Region replica that sits abroad (schedule its deletion); if the "
            "key itself sits abroad, create a key in an allowed region and re-encrypt the data "
            "under it."
        ),
        cli="aws kms schedule-key-deletion --key-id REPLICA_KEY_ARN --pending-window-in-days 7",
    )
)
def key_outside_jurisdiction(ctx: CheckContext) -> Iterator[Result]:
    for key in own_resources(ctx, Kind.KEY):
        stores = protected_by(ctx, key)
        if stores:
            yield _judge_key_places(ctx, key, stores)


def _related_keys(ctx: CheckContext, key: Resource) -> list[str]:
    """The other keys sharing `key`'s material: its multi-Region primary and replicas."""
    related = {str(a) for a in key.attrs.get("replica_key_arns") or ()}
    if key.attrs.get("primary_key_arn"):
        related.add(str(key.attrs["primary_key_arn"]))
    # A replica seen only from its primary's listing still counts: both ends carry edges.
    for src, _, data in ctx.graph.in_edges(key.uid, data=True):
        if data["relation"] == Relation.REPLICATES_TO:
            related.add(str(src))
    for _, dst, data in ctx.graph.out_edges(key.uid, data=True):
        if data["relation"] == Relation.REPLICATES_TO:
            related.add(str(dst))
    related.discard(key.uid)
    return sorted(related)


def _country_of(ctx: CheckContext, uid: str) -> tuple[str | None, str | None]:
    """(region, country) of a key ARN, from the inventory or else from the ARN itself."""
    resource = ctx.resources.get(uid)
    if resource is not None:
        return resource.region, resource.jurisdiction
    parts = uid.split(":")
    region = parts[3] if len(parts) > 3 and parts[3] else None
    provider = "aws" if uid.startswith("arn:aws") else (parts[1] if len(parts) > 1 else "")
    return region, jurisdiction_of(provider, region, ctx.policy.region_overrides)


def _judge_key_places(ctx: CheckContext, key: Resource, stores: list[str]) -> Result:
    verdict = classification_of(ctx, key)
    cls = verdict.classification
    label = class_label(key, verdict)
    places = [(key.uid, key.region, key.jurisdiction)]
    places += [(uid, *_country_of(ctx, uid)) for uid in _related_keys(ctx, key)]
    evidence = _evidence(key, stores) + tuple(
        f"{key.uid} shares key material with multi-Region key {uid}" for uid, _, _ in places[1:]
    )
    outside = [p for p in places if cls.allows(p[2]) is False]
    unclear = [p for p in places if cls.allows(p[2]) is None]
    if outside:
        where = "; ".join(
            f"{_which(key, uid)} in {region} ({country})" for uid, region, country in outside
        )
        message = (
            f"{label} protects {_named(stores)}, but key material sits where {cls.name} may "
            f"not go: {where}; allowed: {cls.allowed_text()}"
        )
        return Result(key, Status.FAIL, message, evidence)
    if unclear:
        where = "; ".join(
            f"{_which(key, uid)} in {region or 'unknown region'}" for uid, region, _ in unclear
        )
        message = f"{label}: the jurisdiction of {where} is not known; not assessed"
        return Result(key, Status.UNKNOWN, message, evidence)
    if unreadable(key, "describe"):
        message = (
            f"{label} sits in an allowed region, but its multi-Region replicas could not be read"
        )
        return Result(key, Status.UNKNOWN, message, evidence)
    countries = ", ".join(sorted({str(country) for _, _, country in places}))
    others = plural(len(places) - 1, "multi-Region copy", "multi-Region copies")
    copies = f" and its {others} sit" if len(places) > 1 else " sits"
    message = f"{label}{copies} in {countries}, allowed for {cls.name} ({cls.allowed_text()})"
    return Result(key, Status.PASS, message, evidence)


def _which(key: Resource, uid: str) -> str:
    if uid == key.uid:
        return "the key itself"
    role = "primary" if uid == key.attrs.get("primary_key_arn") else "replica"
    return f"its multi-Region {role} {uid}"


# --- KEY-006 ----------------------------------------------------------------------------------


@check(
    CheckMeta(
        id="KEY-006",
        title="Customer key not rotated automatically",
        theme=Theme.KEY,
        severity=Severity.MEDIUM,
        fails_when=(
            "a symmetric customer-managed key with KMS-made material (the keys KMS can rotate) "
            "has automatic rotation off; keys pending deletion are left to KEY-007"
        ),
        frameworks=("CIS AWS Foundations 5.0 3.6", "SecNumCloud 3.2 10.5"),
        remediation=(
            "Turn on automatic rotation: KMS then makes new key material every year (or the "
            "period set) and keeps the old material to decrypt what it encrypted."
        ),
        cli="aws kms enable-key-rotation --key-id KEY_ID",
    )
)
def key_not_rotated(ctx: CheckContext) -> Iterator[Result]:
    for key in own_resources(ctx, Kind.KEY):
        missing = unreadable(key, "describe")
        if missing:
            # Without DescribeKey nobody can tell whether the key could rotate at all.
            yield unknown(key, missing)
            continue
        if any(key.attrs.get(attr) != value for attr, value in ROTATABLE.items()):
            continue  # asymmetric, HMAC, imported or external material: KMS cannot rotate it
        if key.attrs.get("key_state") in LEAVING_STATES:
            continue
        yield _judge_rotation(ctx, key)


def _judge_rotation(ctx: CheckContext, key: Resource) -> Result:
    label = class_label(key, classification_of(ctx, key))
    enabled = key.attrs.get("rotation_enabled")
    status = key.attrs.get("rotation_status")
    if status in UNREADABLE or enabled is None:
        message = f"could not read the rotation status of {label}: GetKeyRotationStatus {status}"
        return Result(key, Status.UNKNOWN, message)
    if enabled:
        return Result(key, Status.PASS, f"{label} rotates its key material automatically")
    message = (
        f"{label} is a symmetric customer-managed key with automatic rotation off: the same "
        "key material protects its data for as long as the key lives"
    )
    return Result(key, Status.FAIL, message, (f"GetKeyRotationStatus {key.uid}: false",))


# --- KEY-007 ----------------------------------------------------------------------------------


@check(
    CheckMeta(
        id="KEY-007",
        title="Key protecting live data is disabled or scheduled for deletion",
        theme=Theme.KEY,
        severity=Severity.HIGH,
        fails_when=(
            "a key that something is still encrypted with is Disabled, PendingDeletion, "
            "PendingReplicaDeletion, PendingImport or Unavailable: the data cannot be read, "
            "and is lost for good once the key is deleted"
        ),
        frameworks=("CIS AWS Foundations 5.0 4.7",),
        remediation=(
            "Cancel the scheduled deletion and enable the key again; if the data really is to "
            "be destroyed (crypto-shredding), delete the data first and record the decision."
        ),
        cli="aws kms cancel-key-deletion --key-id KEY_ID; aws kms enable-key --key-id KEY_ID",
    )
)
def key_unusable_for_live_data(ctx: CheckContext) -> Iterator[Result]:
    for key in own_resources(ctx, Kind.KEY):
        stores = protected_by(ctx, key)
        if stores:
            yield _judge_state(ctx, key, stores)


def _judge_state(ctx: CheckContext, key: Resource, stores: list[str]) -> Result:
    label = class_label(key, classification_of(ctx, key))
    evidence = _evidence(key, stores)
    state = key.attrs.get("key_state")
    missing = unreadable(key, "describe")
    if missing or state is None:
        message = f"could not read the state of {label}, which protects {_named(stores)}"
        return Result(key, Status.UNKNOWN, message, evidence)
    if state in USABLE_STATES:
        message = f"{label} is {state} and protects {_named(stores)}"
        return Result(key, Status.PASS, message, evidence)
    if state not in UNUSABLE_STATES:
        message = f"{label} is in state {state}, which govaudit does not know; not assessed"
        return Result(key, Status.UNKNOWN, message, evidence)
    when = _deletion_note(ctx, key)
    message = (
        f"{label} {UNUSABLE_STATES[state]}{when}, yet {len(stores)} resource(s) are still "
        f"encrypted with it ({_named(stores)}): their data cannot be decrypted"
    )
    return Result(key, Status.FAIL, message, (f"KeyState: {state}{when}", *evidence))


def _deletion_note(ctx: CheckContext, key: Resource) -> str:
    raw = key.attrs.get("deletion_date")
    if not raw:
        return ""
    text = str(raw)[:10]
    day = as_date(text)
    if day is None:
        return f" (deletion date {raw})"
    days = (day - ctx.today).days
    return f" (deleted on {text}, in {days} days)" if days >= 0 else f" (deletion date {text})"


# --- KEY-008 ----------------------------------------------------------------------------------


@check(
    CheckMeta(
        id="KEY-008",
        title="Unencrypted snapshot or image of restricted data; EBS default encryption off",
        theme=Theme.KEY,
        severity=Severity.HIGH,
        fails_when=(
            "an EBS snapshot, AMI or RDS (cluster) snapshot whose class (its own tag, or the "
            "strictest class of the volumes and databases it was copied from) is restricted is "
            "unencrypted; or EBS default encryption is off in a region where the account has "
            "volumes"
        ),
        frameworks=("GB/T 22239-2019 8.2.4.4(c)", "CIS AWS Foundations 5.0 5.1.1"),
        remediation=(
            "Copy the snapshot with encryption under a customer key (copy-snapshot --encrypted, "
            "rds copy-db-snapshot --kms-key-id), check the copy, then delete the plaintext one. "
            "Turn on EBS default encryption in every region used: aws ec2 "
            "enable-ebs-encryption-by-default --region REGION."
        ),
        cli=(
            "aws ec2 copy-snapshot --source-region REGION --source-snapshot-id SNAPSHOT_ID "
            "--encrypted --kms-key-id KEY_ARN"
        ),
    )
)
def unencrypted_copies(ctx: CheckContext) -> Iterator[Result]:
    for copy in own_resources(ctx, Kind.SNAPSHOT, Kind.IMAGE):
        yield _judge_copy(ctx, copy)
    yield from _judge_ebs_defaults(ctx)


def lineage_classification(ctx: CheckContext, resource: Resource) -> Verdict:
    """The strictest class among a copy's own tag and the tagged stores it was copied from.

    Untagged copies inherit from their sources (snapshots rarely carry the tags of their
    volume); an untagged copy of untagged sources falls back to the policy default.
    """
    policy = ctx.policy
    found: list[tuple[Verdict, str]] = []
    if (resource.tags.get(policy.classification_tag) or "").strip():
        found.append((policy.classify(resource.tags), resource.uid))
    seen, queue = {resource.uid}, deque([resource.uid])
    while queue:
        for src, _, data in ctx.graph.in_edges(queue.popleft(), data=True):
            if data["relation"] != Relation.COPIES_TO or src in seen:
                continue
            seen.add(src)
            queue.append(src)
            source = ctx.resources.get(src)
            if source is not None and (source.tags.get(policy.classification_tag) or "").strip():
                found.append((policy.classify(source.tags), src))
    if not found:
        return policy.classify(resource.tags)
    verdict, uid = max(found, key=lambda item: item[0].classification.rank)
    if uid == resource.uid:
        return verdict
    return Verdict(verdict.classification, f"copied from {uid}, {verdict.reason}")


def _judge_copy(ctx: CheckContext, copy: Resource) -> Result:
    verdict = lineage_classification(ctx, copy)
    cls = verdict.classification
    label = class_label(copy, verdict)
    encrypted = copy.attrs.get("encrypted")
    if not cls.restricted:
        plain = " (it is unencrypted)" if encrypted is False else ""
        message = f"{label}: class {cls.name} does not require encryption{plain}"
        return Result(copy, Status.PASS, message)
    missing = unreadable(copy, "encryption")
    if missing:
        return unknown(copy, missing)
    what = COPY_WORDS.get(copy.native_type, copy.kind.value)
    if encrypted is None:
        message = f"{label}: govaudit could not tell whether this {what} is encrypted"
        return Result(copy, Status.UNKNOWN, message)
    if encrypted:
        key = copy.attrs.get("kms_key_arn") or "a key the adapter could not name"
        return Result(copy, Status.PASS, f"{label} is encrypted with {key}")
    message = (
        f"{label} is an unencrypted {what}: whoever can restore it reads the {cls.name} data, "
        "with no key permission needed"
    )
    return Result(copy, Status.FAIL, message, (f"{copy.uid} encrypted: false",))


def _judge_ebs_defaults(ctx: CheckContext) -> Iterator[Result]:
    """One verdict per account and region, on its first volume: the setting is regional."""
    regions: dict[tuple[str, str], list[Resource]] = defaultdict(list)
    for volume in own_resources(ctx, Kind.VOLUME):
        if volume.native_type == EBS_VOLUME:
            regions[(volume.account or "?", volume.region or "?")].append(volume)
    for (account, region), volumes in sorted(regions.items()):
        volumes.sort(key=lambda v: v.uid)
        yield _judge_ebs_default(ctx, account, region, volumes)


def _judge_ebs_default(
    ctx: CheckContext, account: str, region: str, volumes: list[Resource]
) -> Result:
    first = volumes[0]
    strictest = max(
        (classification_of(ctx, v).classification for v in volumes), key=lambda c: c.rank
    )
    plain = [v for v in volumes if v.attrs.get("encrypted") is False]
    where = (
        f"EBS default encryption in {region} of account {account} ({len(volumes)} volume(s), "
        f"the strictest holding {strictest.name} data; first {first.name})"
    )
    setting = first.attrs.get("ebs_default_encryption")
    missing = unreadable(first, "ebs_default_encryption")
    if missing or setting is None:
        return Result(first, Status.UNKNOWN, f"could not read {where}; not assessed")
    evidence = (f"GetEbsEncryptionByDefault {account} {region}: {setting}",)
    if setting:
        key = first.attrs.get("ebs_default_kms_key_arn") or "a default key govaudit could not read"
        return Result(first, Status.PASS, f"{where} is on, with {key}", evidence)
    unencrypted = f"; {len(plain)} of them unencrypted now" if plain else ""
    message = (
        f"{where} is off: new volumes, and the snapshots taken of them, are unencrypted unless "
        f"each request asks for encryption{unencrypted}"
    )
    severity = weighted(strictest, Severity.HIGH, Severity.MEDIUM)
    return Result(first, Status.FAIL, message, evidence, severity)
