"""RSP-002, 003, 009, 011: a named, active person and a proper department behind what matters.

DSL art. 27 and PIPL art. 52 demand a responsible person (数据安全负责人) for important data;
MLPS asks that privileged accounts be tied to people.  People are pseudonymous ids from the
policy; nothing here reads or prints a name.
"""

from __future__ import annotations

from collections.abc import Iterator

from auditor.checking import CheckContext, CheckMeta, Result, Theme, check
from auditor.checks.common import (
    account_department,
    account_label,
    classification_of,
    inventoried,
    own_resources,
    owner_department,
    unknown,
    unreadable,
)
from auditor.duties import capabilities_of, persons_of
from auditor.graph import who_can
from auditor.model import DATA_KINDS, Kind, Relation, Resource, Severity, Status

# Services whose delegated administrator sees or controls the whole organisation's security.
SECURITY_SERVICES = frozenset(
    {
        "guardduty.amazonaws.com",
        "securityhub.amazonaws.com",
        "config.amazonaws.com",
        "config-multiaccountsetup.amazonaws.com",
        "access-analyzer.amazonaws.com",
        "macie.amazonaws.com",
        "inspector2.amazonaws.com",
        "detective.amazonaws.com",
        "cloudtrail.amazonaws.com",
        "sso.amazonaws.com",
        "backup.amazonaws.com",
        "fms.amazonaws.com",
        "stacksets.cloudformation.amazonaws.com",
    }
)
# Account purposes fit to administer security services for the organisation.
SECURITY_PURPOSES = frozenset({"security", "audit", "log-archive", "management"})


@check(
    CheckMeta(
        id="RSP-002",
        title="Important data without an active accountable person",
        theme=Theme.RESPONSIBILITY,
        severity=Severity.HIGH,
        fails_when=(
            "a store of a restricted class has no accountable-person tag, or the tag names a "
            "person the policy does not know, who has left, or who belongs to another "
            "department than the store's owner"
        ),
        frameworks=("DSL art. 27", "PIPL art. 52", "网络数据安全管理条例 (NDSR)"),
        remediation=(
            "Name the data's accountable person (数据安全负责人) of the owning department in the "
            "accountable-person tag, using the pseudonymous id from the policy's people list."
        ),
        cli=(
            "aws s3api put-bucket-tagging --bucket BUCKET "
            "--tagging 'TagSet=[{Key=accountable-person,Value=PERSON_ID}]'"
        ),
    )
)
def data_without_accountable_person(ctx: CheckContext) -> Iterator[Result]:
    policy = ctx.policy
    tag = policy.person_tag
    for store in own_resources(ctx, *DATA_KINDS):
        cls = classification_of(ctx, store).classification
        if not cls.restricted:
            continue
        named = store.tags.get(tag, "").strip()
        if not named:
            if missing := unreadable(store, "tags"):
                yield unknown(store, missing)
                continue
            message = f"{store.name} holds {cls.name} data and names no accountable person ({tag})"
            yield Result(store, Status.FAIL, message)
            continue
        person = policy.people.get(named)
        owner = owner_department(ctx, store)
        if person is None:
            message = f"{store.name} names {tag}={named}, who is not in the policy's people"
            yield Result(store, Status.FAIL, message)
        elif person.status != "active":
            message = f"{store.name}'s accountable person {named} has left ({cls.name} data)"
            yield Result(store, Status.FAIL, message)
        elif owner is not None and person.dept is not None and person.dept != owner.id:
            message = (
                f"{store.name} is owned by {owner.name} but its accountable person {named} "
                f"belongs to department {person.dept}"
            )
            yield Result(store, Status.FAIL, message, severity=Severity.MEDIUM)
        else:
            yield Result(store, Status.PASS, f"{named} is accountable for {store.name}")


@check(
    CheckMeta(
        id="RSP-003",
        title="Privileged identity that no active person answers for",
        theme=Theme.RESPONSIBILITY,
        severity=Severity.HIGH,
        fails_when=(
            "an IAM user or role that can administer restricted data or keys, or holds a "
            "capability of roles.capability_actions, is not tied to an active person of the "
            "policy (users by their accountable-person tag; roles through the users who can "
            "assume them)"
        ),
        frameworks=(
            "GB/T 22239-2019 8.1.7.3",
            "NIST 800-53 AC-2, AC-6(5)",
            "SecNumCloud 3.2 9.5(d)",
        ),
        remediation=(
            "Tie the identity to a named (pseudonymous) person: tag the users with their person "
            "id, let only tagged users assume the role, or delete the identity."
        ),
    )
)
def privileged_without_person(ctx: CheckContext) -> Iterator[Result]:
    policy = ctx.policy
    privileged: dict[str, list[str]] = {}
    for name, evidence in _capabilities(ctx):
        privileged.setdefault(name[0], []).append(f"{name[1]}: {evidence}")
    for target in own_resources(ctx, *DATA_KINDS, Kind.KEY):
        if not classification_of(ctx, target).classification.restricted:
            continue
        for grant in who_can(ctx.graph, target.uid, Relation.CAN_ADMIN):
            if len(grant.path) > 1:  # direct holders only: delegators are judged through them
                continue
            privileged.setdefault(grant.principal, []).append(f"can administer {target.name}")
    for uid, why in sorted(privileged.items()):
        principal = inventoried(ctx, uid)
        if principal is None or principal.kind not in (Kind.USER, Kind.ROLE):
            continue
        if not policy.is_own_account(principal.account or ""):
            continue
        if principal.kind is Kind.ROLE and "/aws-service-role/" in uid:
            continue  # service-linked roles are the provider's to answer for
        persons = persons_of(ctx.graph, ctx.resources, uid, policy.person_tag)
        active = sorted(
            p for p in persons if p in policy.people and policy.people[p].status == "active"
        )
        held = "; ".join(sorted(set(why))[:5])
        proof = tuple(f"{p} via {via}" for p, via in sorted(persons.items()))
        if active:
            message = f"{principal.name} ({held}) answers to {', '.join(active)}"
            yield Result(principal, Status.PASS, message, proof)
        elif persons:
            gone = ", ".join(sorted(persons))
            message = f"{principal.name} ({held}) is tied only to {gone}, not an active person"
            yield Result(principal, Status.FAIL, message, proof)
        else:
            message = f"no person answers for {principal.name}, which is privileged ({held})"
            yield Result(principal, Status.FAIL, message)


def _capabilities(ctx: CheckContext) -> Iterator[tuple[tuple[str, str], str]]:
    if not ctx.policy.capabilities:
        return
    for uid, held in capabilities_of(ctx.resources, ctx.policy.capabilities).items():
        for name, evidence in held.items():
            yield (uid, name), evidence


@check(
    CheckMeta(
        id="RSP-009",
        title="Cloud account without an owner department or outside the organisation's list",
        theme=Theme.RESPONSIBILITY,
        severity=Severity.MEDIUM,
        fails_when=(
            "an account of the AWS organisation (or an audited account) is not in the policy's "
            "accounts, or has no department (policy dept or owner tag)"
        ),
        frameworks=("CIS AWS Foundations 5.0 1.2", "GB/T 22239-2019 8.1.7.1"),
        remediation=(
            "Register the account in the policy with its department and purpose, and tag it in "
            "Organizations with its owner department; close accounts nobody owns."
        ),
        cli=(
            "aws organizations tag-resource --resource-id ACCOUNT_ID "
            "--tags Key=owner-dept,Value=DEPT"
        ),
    )
)
def account_without_owner(ctx: CheckContext) -> Iterator[Result]:
    policy = ctx.policy
    for account in _accounts(ctx):
        account_id = account.account or ""
        info = policy.accounts.get(account_id)
        tagged = policy.department(account.tags.get(policy.owner_tag))
        dept = tagged or account_department(ctx, account_id)
        label = _account_label(ctx, account)
        if info is None:
            message = f"{label} is not in the policy's accounts: nobody is recorded as owning it"
            yield Result(account, Status.FAIL, message, severity=Severity.HIGH)
        elif dept is None:
            if account.native_type == "organizations:account" and unreadable(account, "tags"):
                yield unknown(account, unreadable(account, "tags"))
                continue
            yield Result(account, Status.FAIL, f"{label} has no owner department")
        else:
            purpose = f", purpose {info.purpose}" if info.purpose else ", purpose not stated"
            yield Result(account, Status.PASS, f"{label} is owned by {dept.name}{purpose}")


def _account_label(ctx: CheckContext, account: Resource) -> str:
    """The account as "account 1234 (name)", named by the policy or the organisation."""
    account_id = account.account or ""
    return account_label(ctx, account_id, account.name if account.name != account_id else "")


def _accounts(ctx: CheckContext) -> list[Resource]:
    """One node per account: the organisation's view when listed, else the audited account."""
    listed = {
        r.account: r for r in ctx.of_kind(Kind.ACCOUNT) if r.native_type == "organizations:account"
    }
    audited = [
        r
        for r in ctx.of_kind(Kind.ACCOUNT)
        if r.native_type == "iam:account" and r.account not in listed
    ]
    return [*listed.values(), *audited]


@check(
    CheckMeta(
        id="RSP-011",
        title="Security service administered by a vendor or a non-security account",
        theme=Theme.RESPONSIBILITY,
        severity=Severity.HIGH,
        fails_when=(
            "an account delegated to administer a security service for the organisation "
            "(GuardDuty, Security Hub, Config, CloudTrail, IAM Identity Center, ...) is a "
            "vendor's, not in the policy, or has no security, audit or log-archive purpose"
        ),
        frameworks=("GB/T 22239-2019 8.2.4.5(b)", "SecNumCloud 3.2 19.6(c)"),
        remediation=(
            "Deregister the delegated administrator and delegate the service to the "
            "organisation's security (or audit) account."
        ),
        cli=(
            "aws organizations deregister-delegated-administrator --account-id ACCOUNT_ID "
            "--service-principal SERVICE_PRINCIPAL"
        ),
    )
)
def security_delegated_to_wrong_account(ctx: CheckContext) -> Iterator[Result]:
    policy = ctx.policy
    for account in ctx.of_kind(Kind.ACCOUNT):
        if account.native_type != "organizations:account":
            continue
        if missing := unreadable(account, "delegated_services"):
            yield unknown(account, missing)
            continue
        services = sorted(set(account.attrs.get("delegated_services") or []) & SECURITY_SERVICES)
        if not services:
            continue
        account_id = account.account or ""
        label = _account_label(ctx, account)
        listed = ", ".join(services)
        info = policy.accounts.get(account_id)
        party = policy.trusted_party(account_id)
        if party is not None:
            message = f"{label} of {party.org} ({party.kind}) administers {listed}"
            yield Result(account, Status.FAIL, message, severity=Severity.CRITICAL)
        elif info is None:
            yield Result(account, Status.FAIL, f"{label}, not in the policy, administers {listed}")
        elif info.purpose not in SECURITY_PURPOSES:
            purpose = info.purpose or "no stated purpose"
            message = f"{label} ({purpose}) administers {listed}; use a security account"
            yield Result(account, Status.FAIL, message)
        else:
            message = f"{label} ({info.purpose}) administers {listed}"
            yield Result(account, Status.PASS, message)
