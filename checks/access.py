"""ACC: who holds rights on the data, and whether any of them is public or outside."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from auditor.checking import CheckContext, CheckMeta, Result, Theme, check
from auditor.checks.common import (
    account_from_uid,
    classification_of,
    conditions_text,
    has_condition_key,
    narrowed,
    own_resources,
    party_of,
    policy_statements,
    unknown,
    unreadable,
)
from auditor.inventories.aws.policy_rights import (
    PUBLIC,
    PolicyDocumentError,
    normalise_principals,
)
from auditor.model import DATA_KINDS, RIGHTS, Kind, Relation, Resource, Severity, Status


@check(
    CheckMeta(
        id="ACC-001",
        title="Data readable by anyone",
        theme=Theme.ACCESS,
        severity=Severity.CRITICAL,
        fails_when=(
            "a resource policy, ACL or sharing setting lets anyone (Principal *, AllUsers, "
            "AuthenticatedUsers, a snapshot or image shared with all) read data whose class "
            "does not allow public access, and no public access block neutralises it"
        ),
        frameworks=(
            "CIS AWS Foundations 5.0 2.1.4",
            "SecNumCloud 3.2 9.7",
            "GB/T 22239-2019 8.2.4.5(b)",
        ),
        remediation=(
            "Remove the public statement or ACL grant and turn on S3 Block Public Access for "
            "the bucket and the account."
        ),
        cli=(
            "aws s3api put-public-access-block --bucket BUCKET --public-access-block-"
            "configuration BlockPublicAcls=true,IgnorePublicAcls=true,BlockPublicPolicy=true,"
            "RestrictPublicBuckets=true"
        ),
    )
)
def data_readable_by_anyone(ctx: CheckContext) -> Iterator[Result]:
    for resource in own_resources(ctx, *DATA_KINDS):
        cls = classification_of(ctx, resource).classification
        public, hedged = [], []
        for src, _, data in ctx.graph.in_edges(resource.uid, data=True):
            if src.startswith("public:") and data["relation"] == Relation.CAN_READ:
                if not data["conditions"]:
                    public.append(data["evidence"])
                elif not narrowed(data["conditions"]):
                    hedged.append(f"{data['evidence']} [if {conditions_text(data['conditions'])}]")
        if public and cls.allow_public:
            message = f"{resource.name} is public and its class {cls.name} allows public access"
            yield Result(resource, Status.PASS, message, tuple(public))
        elif public:
            message = f"anyone can read {resource.name}, which holds {cls.name} data"
            yield Result(resource, Status.FAIL, message, tuple(public))
        elif missing := unreadable(resource, "policy", "acl", "sharing"):
            yield unknown(resource, missing)
        elif hedged and not cls.allow_public:
            message = (
                f"anyone may read {resource.name} ({cls.name}) under conditions govaudit does "
                "not evaluate; review them"
            )
            yield Result(resource, Status.UNKNOWN, message, tuple(hedged))
        else:
            blocked = resource.attrs.get("public_grants_blocked") or []
            note = (
                f"; {len(blocked)} public grant(s) neutralised by Block Public Access"
                if blocked
                else ""
            )
            yield Result(resource, Status.PASS, f"{resource.name} is not publicly readable{note}")


@check(
    CheckMeta(
        id="ACC-002",
        title="A resource or trust policy grants rights to an account outside the organisation",
        theme=Theme.ACCESS,
        severity=Severity.HIGH,
        fails_when=(
            "a bucket policy, key policy or role trust policy grants a right (or AssumeRole) "
            "to an account that is neither one of the policy's accounts nor a trusted party"
        ),
        frameworks=(
            "GB/T 22239-2019 8.2.4.5(b)",
            "DSL art. 40",
            "CIS AWS Foundations 5.0 1.19",
        ),
        remediation=(
            "Remove the grant, or register the party in trusted_accounts with its contract, "
            "sponsor department and jurisdiction if it is a legitimate partner."
        ),
    )
)
def grants_to_outside_accounts(ctx: CheckContext) -> Iterator[Result]:
    relations = RIGHTS | {Relation.CAN_ASSUME}
    for resource in own_resources(ctx, *DATA_KINDS, Kind.KEY, Kind.ROLE, Kind.FUNCTION):
        outside = []
        for src, _, data in ctx.graph.in_edges(resource.uid, data=True):
            if data["relation"] not in relations:
                continue
            kind, who = party_of(ctx, src)
            if kind == "external":
                outside.append((who, data))
        if outside:
            holders = sorted({w for w, _ in outside})
            rights = sorted({d["relation"].value for _, d in outside})
            message = f"{'; '.join(holders)} holds {', '.join(rights)} on {resource.name}"
            yield Result(resource, Status.FAIL, message, tuple(d["evidence"] for _, d in outside))
        elif missing := unreadable(resource, "policy", "sharing", "trust_policy"):
            # Snapshots and images are shared by attribute, roles by trust: unread is unknown.
            yield unknown(resource, missing)
        else:
            yield Result(
                resource, Status.PASS, f"no outside account holds rights on {resource.name}"
            )


# A role that can do everything: its trust decides who owns the account.
ADMIN_POLICY_SUFFIXES = ("policy/AdministratorAccess",)
EXTERNAL_ID = frozenset({"sts:externalid"})
MFA = frozenset({"aws:multifactorauthpresent"})


@check(
    CheckMeta(
        id="ACC-003",
        title="Role trust without the conditions that keep it to the intended caller",
        theme=Theme.ACCESS,
        severity=Severity.HIGH,
        fails_when=(
            "a role trusts another account without sts:ExternalId when that account is not "
            "trusted or its trusted_accounts entry sets require_external_id, or an "
            "administrator role can be assumed without aws:MultiFactorAuthPresent"
        ),
        frameworks=(
            "AWS confused-deputy guidance",
            "SecNumCloud 3.2 9.6(f)",
            "GB/T 22239-2019 8.2.4.1",
        ),
        remediation=(
            "Add a Condition with sts:ExternalId (agreed with the third party) to cross-account "
            "trust, and aws:MultiFactorAuthPresent to administrator roles people assume."
        ),
        cli="aws iam update-assume-role-policy --role-name ROLE --policy-document file://trust.json",
    )
)
def trust_without_conditions(ctx: CheckContext) -> Iterator[Result]:
    for role in own_resources(ctx, Kind.ROLE):
        if missing := unreadable(role, "trust_policy"):
            yield unknown(role, missing)
            continue
        problems = [*_external_id_gaps(ctx, role), *_mfa_gaps(role)]
        if problems:
            message = f"trust of {role.name}: " + "; ".join(problems)
            yield Result(role, Status.FAIL, message, (f"trust policy of {role.uid}",))
        else:
            yield Result(role, Status.PASS, f"trust of {role.name} carries the conditions it needs")


def _trust_statements(role: Resource) -> list[Mapping[str, Any]]:
    """The Allow statements of the role's trust policy (unreadable or malformed: none)."""
    try:
        statements = policy_statements(role.attrs.get("trust_policy") or {})
    except PolicyDocumentError:
        return []
    return [s for s in statements if s.get("Effect") == "Allow"]


def _aws_principals(statement: Mapping[str, Any]) -> list[str]:
    """The AWS principals a statement trusts, as graph uids (account:N, ARNs, public:*)."""
    return [
        uid
        for uid in normalise_principals(statement.get("Principal"))
        if uid.startswith(("account:", "arn:", "public:"))
    ]


def _external_id_gaps(ctx: CheckContext, role: Resource) -> list[str]:
    gaps = []
    for statement in _trust_statements(role):
        if has_condition_key(statement.get("Condition") or {}, EXTERNAL_ID):
            continue
        for principal in _aws_principals(statement):
            account = account_from_uid(principal)
            if account is None:
                shown = "anyone" if principal == PUBLIC else principal
                gaps.append(f"{shown} may assume it with no sts:ExternalId")
            elif not ctx.policy.is_own_account(account):
                party = ctx.policy.trusted_party(account)
                if party is None or party.require_external_id:
                    who = party.org if party else "an account in no list of the policy"
                    gaps.append(f"account {account} ({who}) may assume it with no sts:ExternalId")
    return gaps


def _mfa_gaps(role: Resource) -> list[str]:
    attached = role.attrs.get("attached_policies") or []
    if not any(str(arn).endswith(ADMIN_POLICY_SUFFIXES) for arn in attached):
        return []
    return [
        f"administrator role assumable by {', '.join(_aws_principals(statement))} without MFA"
        for statement in _trust_statements(role)
        if _aws_principals(statement)
        and not has_condition_key(statement.get("Condition") or {}, MFA)
    ]


@check(
    CheckMeta(
        id="ACC-004",
        title="A principal can escalate its own privileges",
        theme=Theme.ACCESS,
        severity=Severity.HIGH,
        fails_when=(
            "identity policies (evaluated with boundaries and SCPs) let a user or role rewrite "
            "its own policies, create credentials for another user, rewrite a role's trust, or "
            "pass a role to code it runs: it can become more than it was granted"
        ),
        frameworks=(
            "GB/T 22239-2019 8.1.4.2(d) 最小权限",
            "NIST 800-53 AC-6",
            "CIS AWS Foundations 5.0 1.15",
        ),
        remediation=(
            "Remove the IAM write actions (or scope iam:PassRole to the roles the workload "
            "needs), and set a permissions boundary on principals that must manage IAM."
        ),
    )
)
def privilege_escalation(ctx: CheckContext) -> Iterator[Result]:
    for principal in own_resources(ctx, Kind.USER, Kind.ROLE):
        paths = [
            (dst, data)
            for _, dst, data in ctx.graph.out_edges(principal.uid, data=True)
            if data["relation"] == Relation.CAN_ESCALATE
        ]
        if not paths:
            yield Result(principal, Status.PASS, f"{principal.name} cannot change its own rights")
            continue
        targets = sorted({"itself" if dst == principal.uid else dst for dst, _ in paths})
        pending = sorted({k for _, d in paths for k in d["conditions"].get("pending", [])})
        note = f" (if {', '.join(pending)})" if pending else ""
        message = f"{principal.name} can escalate to {', '.join(targets)}{note}"
        yield Result(principal, Status.FAIL, message, tuple(d["evidence"] for _, d in paths))
