"""KEY: the customer's custody of the keys that protect its data."""

from __future__ import annotations

from collections.abc import Iterator

from auditor.checking import CheckContext, CheckMeta, Result, Theme, check
from auditor.checks.common import (
    class_label,
    classification_of,
    conditions_text,
    own_resources,
    party_of,
    unknown,
    unreadable,
)
from auditor.duties import person_of
from auditor.graph import Grant, explain_path, who_can
from auditor.model import DATA_KINDS, Kind, Relation, Resource, Severity, Status

# S3 server-side encryption that leaves the key with the provider.
PROVIDER_HELD = {"AES256": "S3-managed keys (SSE-S3)"}


@check(
    CheckMeta(
        id="KEY-001",
        title="Restricted data unencrypted or on a provider-managed key",
        theme=Theme.KEY,
        severity=Severity.HIGH,
        fails_when=(
            "a data store whose class requires customer key custody is unencrypted, or "
            "encrypted with a key the provider owns or manages (SSE-S3, alias/aws/*, "
            "DynamoDB's and SQS's default keys)"
        ),
        frameworks=(
            "GB/T 22239-2019 8.2.4.5(d)",
            "SecNumCloud 3.2 10.1",
            "CIS AWS Foundations 5.0 2.2.1, 2.3.1",
        ),
        remediation=(
            "Create a customer-managed KMS key in an allowed region, set it as the bucket's "
            "default encryption and re-encrypt existing objects (S3 Batch Operations copy)."
        ),
        cli=(
            "aws s3api put-bucket-encryption --bucket BUCKET --server-side-encryption-"
            'configuration \'{"Rules":[{"ApplyServerSideEncryptionByDefault":'
            '{"SSEAlgorithm":"aws:kms","KMSMasterKeyID":"KEY_ARN"}}]}\''
        ),
    )
)
def restricted_data_without_customer_key(ctx: CheckContext) -> Iterator[Result]:
    for store in own_resources(ctx, *DATA_KINDS):
        verdict = classification_of(ctx, store)
        cls = verdict.classification
        if cls.key_custody in ("any", "provider_managed"):
            message = f"{store.name} is {cls.name}; its class sets no customer key custody"
            yield Result(store, Status.PASS, message)
            continue
        missing = unreadable(store, "encryption")
        if missing:
            yield unknown(store, missing)
            continue
        label = class_label(store, verdict)
        if store.native_type == "s3:bucket":
            yield _judge_bucket(ctx, store, label)
        else:
            yield _judge_store(ctx, store, label)


def _key_of(ctx: CheckContext, store: Resource) -> str | None:
    for _, dst, data in ctx.graph.out_edges(store.uid, data=True):
        if data["relation"] == Relation.ENCRYPTED_BY:
            return str(dst)
    return None


def _judge_bucket(ctx: CheckContext, store: Resource, label: str) -> Result:
    algorithm = store.attrs.get("sse_algorithm")
    if not algorithm:
        return Result(store, Status.FAIL, f"{label} has no default encryption")
    if algorithm in PROVIDER_HELD:
        return Result(store, Status.FAIL, f"{label} is encrypted with {PROVIDER_HELD[algorithm]}")
    key = _key_of(ctx, store)
    if key is None:
        # SSE-KMS without a key id means the AWS-managed key aws/s3.
        return Result(store, Status.FAIL, f"{label} uses the AWS-managed key aws/s3")
    return _judge_key(ctx, store, label, key)


# `key_owner` values of keys the cloud provider holds, not the organisation.
PROVIDER_KEYS = {
    "aws_owned": "a key AWS owns",
    "aws_managed": "an AWS-managed key",
    "provider_managed": "a key the storage provider manages (server-side, not the customer's)",
}


def _judge_store(ctx: CheckContext, store: Resource, label: str) -> Result:
    """Any data store but a bucket, through the attrs every adapter sets the same way."""
    encrypted = store.attrs.get("encrypted")
    if encrypted is False:
        return Result(store, Status.FAIL, f"{label} is not encrypted")
    owner = store.attrs.get("key_owner")
    if owner in PROVIDER_KEYS:
        return Result(store, Status.FAIL, f"{label} is encrypted with {PROVIDER_KEYS[owner]}")
    key = _key_of(ctx, store)
    if key is not None:
        return _judge_key(ctx, store, label, key)
    if encrypted is True:
        message = f"{label} is encrypted, but the adapter could not tell with whose key"
        return Result(store, Status.UNKNOWN, message)
    return Result(store, Status.UNKNOWN, f"{label}: encryption unknown")


def _judge_key(ctx: CheckContext, store: Resource, label: str, key: str) -> Result:
    evidence = (f"{store.uid} —encrypted_by→ {key}",)
    key_resource = ctx.resources.get(key)
    if key_resource is None:
        if "alias/aws/" in key:
            return Result(store, Status.FAIL, f"{label} uses AWS-managed {key}", evidence)
        message = f"{label} uses {key}, which the audit could not see; custody unknown"
        return Result(store, Status.UNKNOWN, message, evidence)
    manager = key_resource.attrs.get("key_manager")
    if manager == "CUSTOMER":
        return Result(store, Status.PASS, f"{label} uses customer-managed key {key}", evidence)
    if manager is None:
        return Result(store, Status.UNKNOWN, f"{label}: key manager of {key} unknown", evidence)
    return Result(store, Status.FAIL, f"{label} uses {manager}-managed key {key}", evidence)


@check(
    CheckMeta(
        id="KEY-004",
        title="A party outside the organisation and its trusted parties can decrypt",
        theme=Theme.KEY,
        severity=Severity.CRITICAL,
        fails_when=(
            "the key policy (directly or through assumable roles) lets an account outside the "
            "policy's accounts and trusted_accounts, or anyone, use the key to decrypt"
        ),
        frameworks=("GB/T 22239-2019 8.2.4.5(b)", "SecNumCloud 3.2 10.5(c)", "NIST 800-53 SC-12"),
        remediation=(
            "Remove the outside principal from the key policy (and revoke its grants); use a "
            "condition on aws:PrincipalOrgID for any cross-account use that is approved."
        ),
        cli="aws kms put-key-policy --key-id KEY_ID --policy-name default --policy file://fixed.json",
    )
)
def outsiders_can_decrypt(ctx: CheckContext) -> Iterator[Result]:
    for key in own_resources(ctx, Kind.KEY):
        missing = unreadable(key, "policy")
        if missing:
            yield unknown(key, missing)
            continue
        outsiders = []
        for grant in who_can(ctx.graph, key.uid, Relation.CAN_DECRYPT):
            kind, who = party_of(ctx, grant.principal)
            if kind in ("external", "public"):
                outsiders.append((who, grant))
        if not outsiders:
            cls = classification_of(ctx, key).classification.name
            message = f"only own accounts and trusted parties can decrypt with {key.name} ({cls})"
            yield Result(key, Status.PASS, message)
            continue
        evidence = tuple(line for _, g in outsiders for line in explain_path(ctx.graph, g.path))
        conditional = [
            conditions_text(ctx.graph.edges[h.src, h.dst, k]["conditions"])
            for _, g in outsiders
            for h in g.path
            for k in ctx.graph[h.src][h.dst]
            if ctx.graph.edges[h.src, h.dst, k]["conditions"]
        ]
        note = (
            f" (under conditions: {'; '.join(c for c in conditional if c)})" if conditional else ""
        )
        who_list = "; ".join(who for who, _ in outsiders)
        message = f"{who_list} can decrypt with {key.name}{note}"
        yield Result(key, Status.FAIL, message, evidence)


@check(
    CheckMeta(
        id="KEY-005",
        title="One person administers a key, uses it, and reads the data it protects",
        theme=Theme.KEY,
        severity=Severity.HIGH,
        fails_when=(
            "the same person (IAM users tagged with their id, and the roles they can assume) "
            "holds can_admin and can_decrypt on a key and can_read on a store the key encrypts"
        ),
        frameworks=(
            "GB/T 22239-2019 8.1.4.2(d), 8.1.7.1",
            "NIST 800-53 AC-5",
            "SecNumCloud 3.2 6.2",
        ),
        remediation=(
            "Give key administration and key use to different people: separate the "
            "administrator and user statements of the key policy."
        ),
    )
)
def key_duties_in_one_hand(ctx: CheckContext) -> Iterator[Result]:
    tag = ctx.policy.person_tag
    tagged = any(person_of(r, tag) for r in ctx.resources.values())
    for key in own_resources(ctx, Kind.KEY):
        stores = [
            src
            for src, _, data in ctx.graph.in_edges(key.uid, data=True)
            if data["relation"] == Relation.ENCRYPTED_BY
        ]
        if not stores:
            continue
        if not tagged:
            message = f"no IAM user carries the {tag} tag: who holds {key.name} is unknown"
            yield Result(key, Status.UNKNOWN, message)
            continue
        admins = _persons(ctx, who_can(ctx.graph, key.uid, Relation.CAN_ADMIN))
        users = _persons(ctx, who_can(ctx.graph, key.uid, Relation.CAN_DECRYPT))
        readers: dict[str, str] = {}
        for store in stores:
            readers |= _persons(ctx, who_can(ctx.graph, store, Relation.CAN_READ))
        everything = sorted(set(admins) & set(users) & set(readers))
        if everything:
            evidence = tuple(
                f"{p}: admin via {admins[p]}, decrypt via {users[p]}, read via {readers[p]}"
                for p in everything
            )
            message = (
                f"{', '.join(everything)} administer {key.name}, decrypt with it and read its data"
            )
            yield Result(key, Status.FAIL, message, evidence)
        else:
            yield Result(
                key, Status.PASS, f"no one person administers, uses and reads through {key.name}"
            )


def _persons(ctx: CheckContext, grants: list[Grant]) -> dict[str, str]:
    """person id -> principal through which they hold the grant."""
    found: dict[str, str] = {}
    for grant in grants:
        person = person_of(ctx.resources.get(grant.principal), ctx.policy.person_tag)
        if person is not None:
            found.setdefault(person, grant.principal)
    return found
