"""ACC: who holds rights on the data, and whether any of them is public or outside."""

from __future__ import annotations

from collections.abc import Iterator

from auditor.checking import CheckContext, CheckMeta, Result, Theme, check
from auditor.checks.common import (
    classification_of,
    conditions_text,
    narrowed,
    own_resources,
    party_of,
    unknown,
    unreadable,
)
from auditor.model import DATA_KINDS, RIGHTS, Kind, Relation, Severity, Status


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
            if data["relation"] in relations and party_of(ctx, src)[0] == "external":
                outside.append((party_of(ctx, src)[1], data))
        if outside:
            who = sorted({w for w, _ in outside})
            rights = sorted({d["relation"].value for _, d in outside})
            message = f"{'; '.join(who)} holds {', '.join(rights)} on {resource.name}"
            yield Result(resource, Status.FAIL, message, tuple(d["evidence"] for _, d in outside))
        elif missing := unreadable(resource, "policy"):
            yield unknown(resource, missing)
        else:
            yield Result(
                resource, Status.PASS, f"no outside account holds rights on {resource.name}"
            )
