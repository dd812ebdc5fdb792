"""FLOW-008..010: data crossing departments, and labels that do not follow the data.

Government data belongs to the department that collected it (DSL art. 27, 39-40); sharing it
with another department goes through an agreement (政务数据共享), and a copy keeps the class
of its source.  These checks project the data-flow and rights graph onto departments.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterator

from auditor.checking import CheckContext, CheckMeta, Result, Theme, check
from auditor.checks.common import (
    account_department,
    own_resources,
    owner_department,
    rights_unread,
    shortlist,
    unknown,
    unreadable,
)
from auditor.graph import data_reaches, explain_path, who_can
from auditor.model import DATA_KINDS, PRINCIPAL_KINDS, Relation, Resource, Severity, Status
from auditor.policy import Classification, Department, SharingAgreement

# Mechanisms that make a copy of the data (not peering or log delivery).
COPIES = frozenset({Relation.REPLICATES_TO, Relation.COPIES_TO})

# Values of the sharing tag (政务数据共享属性), English and Chinese.
SHARING_VALUES = {
    "unconditional": "unconditional",
    "无条件共享": "unconditional",
    "conditional": "conditional",
    "有条件共享": "conditional",
    "none": "none",
    "不予共享": "none",
}


@check(
    CheckMeta(
        id="FLOW-008",
        title="A bulk export lands in a bucket of another account or department",
        theme=Theme.FLOW,
        severity=Severity.HIGH,
        fails_when=(
            "a DynamoDB export (or other bulk copy to S3) writes into a bucket owned by another "
            "account, or by a department other than the source's owner"
        ),
        frameworks=("DSL art. 40", "GB/T 22239-2019 8.2.4.5(b)"),
        remediation=(
            "Re-target the export to a bucket of the owning department's account, and delete "
            "the copies already written elsewhere."
        ),
    )
)
def export_to_other_owner(ctx: CheckContext) -> Iterator[Result]:
    for table in own_resources(ctx, *DATA_KINDS):
        if "exports_status" not in table.attrs:
            continue  # only stores with bulk exports (DynamoDB tables today)
        if missing := unreadable(table, "exports"):
            yield unknown(table, missing)
            continue
        exports = [e for e in table.attrs.get("exports", []) if e.get("bucket")]
        if not exports:
            yield Result(table, Status.PASS, f"{table.name} has no export to S3")
            continue
        source_dept = owner_department(ctx, table)
        problems, unclear, evidence = [], [], []
        for export in exports:
            target_account = str(export.get("bucket_owner") or table.account)
            bucket_uid = f"arn:{table.partition}:s3:::{export['bucket']}"
            evidence.append(f"{table.uid} —copies_to→ {bucket_uid} (owner {target_account})")
            if target_account != table.account and not ctx.policy.is_own_account(target_account):
                problems.append(f"s3://{export['bucket']} of outside account {target_account}")
                continue
            bucket = ctx.resources.get(bucket_uid)
            target_dept = (
                owner_department(ctx, bucket) if bucket else account_department(ctx, target_account)
            )
            if source_dept is None or target_dept is None:
                unclear.append(f"s3://{export['bucket']}")
            elif target_dept.id != source_dept.id:
                problems.append(f"s3://{export['bucket']} of {target_dept.name} ({target_dept.id})")
        owner = f"{source_dept.name} ({source_dept.id})" if source_dept else "an unknown owner"
        if problems:
            message = f"{table.name} of {owner} is exported to {'; '.join(problems)}"
            yield Result(table, Status.FAIL, message, tuple(evidence))
        elif unclear:
            message = f"{table.name} is exported to {', '.join(unclear)}; an owner is unknown"
            yield Result(table, Status.UNKNOWN, message, tuple(evidence))
        else:
            message = f"{table.name}'s exports stay with {owner}"
            yield Result(table, Status.PASS, message, tuple(evidence))


@check(
    CheckMeta(
        id="FLOW-009",
        title="A copy of data is labelled less sensitive than its source, or not labelled",
        theme=Theme.FLOW,
        severity=Severity.HIGH,
        fails_when=(
            "a store that receives a copy (replica, snapshot, export) of classified data carries "
            "a lower classification tag than its most sensitive source, or a store carries no "
            "classification tag at all (it is then treated as the policy's untagged default)"
        ),
        frameworks=("GB/T 22239-2019 8.1.4.2(g)", "DSL art. 21", "GB/T 43697-2024"),
        remediation=(
            "Tag the copy with its source's class (enable CopyTags on snapshots and backups, "
            "and enforce the classification tag with a tag policy)."
        ),
        cli=(
            "aws s3api put-bucket-tagging --bucket BUCKET "
            "--tagging 'TagSet=[{Key=data-class,Value=CLASS}]'"
        ),
    )
)
def label_drift(ctx: CheckContext) -> Iterator[Result]:
    policy = ctx.policy
    # The strictest labelled source reaching each store, with the path that proves it.
    required: dict[str, tuple[Classification, str, tuple[str, ...]]] = {}
    for source in own_resources(ctx, *DATA_KINDS):
        if policy.classification_tag not in source.tags:
            continue
        cls = policy.classify(source.tags).classification
        for node, path in data_reaches(ctx.graph, source.uid, COPIES).items():
            held = required.get(node)
            if held is None or cls.rank > held[0].rank:
                required[node] = (cls, source.uid, explain_path(ctx.graph, path))
    for store in own_resources(ctx, *DATA_KINDS):
        if missing := unreadable(store, "tags"):
            yield unknown(store, missing)
            continue
        own = policy.classify(store.tags)
        tagged = policy.classification_tag in store.tags
        reaching = required.get(store.uid)
        if reaching is not None and (not tagged or own.classification.rank < reaching[0].rank):
            cls, origin, evidence = reaching
            label = own.classification.name if tagged else "no classification tag"
            message = (
                f"{store.name} holds a copy of {origin} ({cls.name}) but carries {label}; "
                f"it must be labelled {cls.name} or stricter"
            )
            yield Result(store, Status.FAIL, message, evidence)
        elif not tagged:
            message = (
                f"{store.name} has no {policy.classification_tag} tag; it is treated as "
                f"{own.classification.name} by the policy default"
            )
            yield Result(store, Status.FAIL, message, severity=Severity.MEDIUM)
        else:
            message = f"{store.name} is labelled {own.classification.name}"
            if reaching is not None:
                message += f", at least as strict as its source {reaching[1]}"
            yield Result(store, Status.PASS, message)


@check(
    CheckMeta(
        id="FLOW-010",
        title="Data shared with another department without a sharing agreement",
        theme=Theme.FLOW,
        severity=Severity.HIGH,
        fails_when=(
            "a copy of a store, or the right to read it, reaches another department when the "
            "store's sharing attribute is 不予共享 (none), or is 有条件共享 (conditional, the "
            "default) without an unexpired sharing agreement covering the store and both "
            "departments"
        ),
        frameworks=(
            "DSL art. 38, 39, 40",
            "政务数据共享开放条例 (government data sharing regulations)",
            "GB/T 22239-2019 8.2.4.5(b)",
        ),
        remediation=(
            "Register the sharing through the government data-sharing platform with an "
            "agreement (add it to sharing_agreements), or revoke the other department's access."
        ),
    )
)
def sharing_without_agreement(ctx: CheckContext) -> Iterator[Result]:
    policy = ctx.policy
    for store in own_resources(ctx, *DATA_KINDS):
        if missing := unreadable(store, "tags"):
            yield unknown(store, missing)  # neither its owner nor its 共享属性 is known
            continue
        owner = owner_department(ctx, store)
        if owner is None:
            continue  # RSP-001 reports stores nobody owns
        raw = store.tags.get(policy.sharing_tag, "").strip()
        attribute = SHARING_VALUES.get(raw.casefold(), SHARING_VALUES.get(raw, "conditional"))
        reached, blind = _departments_reached(ctx, store, owner)
        breaches: list[str] = []
        covered: list[str] = []
        evidence: list[str] = []
        for dept, how, lines in reached:
            evidence.extend(lines)
            if attribute == "unconditional":
                covered.append(f"{dept.name} (unconditional sharing)")
                continue
            agreement = _agreement(policy.sharing_agreements, owner, dept, store, ctx)
            if attribute == "none":
                breaches.append(f"{dept.name} {how} although it is 不予共享 (not to be shared)")
            elif agreement is None:
                breaches.append(f"{dept.name} {how} without a sharing agreement")
            else:
                covered.append(f"{dept.name} under agreement {agreement.id}")
        if breaches:
            severity = Severity.CRITICAL if attribute == "none" else Severity.HIGH
            message = f"{store.name} of {owner.name}: {'; '.join(breaches)}"
            yield Result(store, Status.FAIL, message, tuple(evidence), severity)
        elif blind and attribute != "unconditional":
            message = (
                f"who outside {owner.name} reaches {store.name} is not fully known: "
                f"{'; '.join(blind)}; not assessed"
            )
            yield Result(store, Status.UNKNOWN, message, tuple(evidence))
        elif not reached:
            yield Result(store, Status.PASS, f"{store.name} stays within {owner.name}")
        else:
            message = f"{store.name} of {owner.name} is shared with {'; '.join(covered)}"
            yield Result(store, Status.PASS, message, tuple(evidence))


def _departments_reached(
    ctx: CheckContext, store: Resource, owner: Department
) -> tuple[list[tuple[Department, str, tuple[str, ...]]], list[str]]:
    """Other departments that receive a copy of the store or can read it, and what could not
    be seen: copies whose owner tag was not read, accounts whose IAM was not read."""
    found: dict[str, tuple[Department, str, tuple[str, ...]]] = {}
    untagged: list[str] = []
    for node, path in data_reaches(ctx.graph, store.uid, COPIES).items():
        target = ctx.resources.get(node)
        if target is not None and unreadable(target, "tags"):
            untagged.append(target.name)
            continue
        dept = owner_department(ctx, target) if target else None
        if dept is not None and dept.id != owner.id:
            found.setdefault(dept.id, (dept, "receives a copy", explain_path(ctx.graph, path)))
    # Readers are judged from identities: the store's account's, and those of any own
    # account the store's policy grants to as a whole.
    accounts: set[str] = set()
    for grant in who_can(ctx.graph, store.uid, Relation.CAN_READ):
        if grant.principal.startswith("account:"):
            accounts.add(grant.principal.removeprefix("account:"))
        principal = ctx.resources.get(grant.principal)
        if principal is None or principal.kind not in PRINCIPAL_KINDS:
            continue
        dept = owner_department(ctx, principal)
        if dept is not None and dept.id != owner.id:
            found.setdefault(dept.id, (dept, "can read it", explain_path(ctx.graph, grant.path)))
    blind = rights_unread(ctx, store, accounts)
    if untagged:
        blind.insert(0, f"the tags of {shortlist(sorted(untagged))} (copies) were not read")
    return list(found.values()), blind


def _agreement(
    agreements: tuple[SharingAgreement, ...],
    owner: Department,
    receiver: Department,
    store: Resource,
    ctx: CheckContext,
) -> SharingAgreement | None:
    for agreement in agreements:
        if agreement.from_dept != owner.id or agreement.to_dept != receiver.id:
            continue
        if agreement.attribute == "none":
            continue
        if agreement.expires is not None and agreement.expires < ctx.today:
            continue
        if any(fnmatch.fnmatchcase(store.uid, p) for p in agreement.resources):
            return agreement
    return None
