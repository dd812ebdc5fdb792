"""SOV: where data and keys sit, against the jurisdictions their classification allows."""

from __future__ import annotations

from collections.abc import Iterator

from auditor.checking import CheckContext, CheckMeta, Result, Theme, check
from auditor.checks.common import (
    classification_of,
    location,
    own_resources,
    party_of,
    rights_unread,
    unreadable,
    weighted,
)
from auditor.graph import explain_path, who_can
from auditor.model import DATA_KINDS, Kind, Relation, Severity, Status


@check(
    CheckMeta(
        id="SOV-001",
        title="Data stored outside the jurisdictions its classification allows",
        theme=Theme.SOVEREIGNTY,
        severity=Severity.HIGH,
        fails_when=(
            "a classified store or key sits in a region whose country is not among the "
            "allowed_jurisdictions of its class"
        ),
        frameworks=(
            "GB/T 22239-2019 8.2.1.1, 8.2.4.5(a)",
            "PIPL art. 36, 40",
            "CSL art. 37",
            "DSL art. 31",
            "SecNumCloud 3.2 19.2(b)",
            "GDPR art. 44",
            "NIST 800-53 SA-9(5)",
        ),
        remediation=(
            "Move the data to an allowed region and delete the copy abroad (crypto-shred its "
            "key), or reclassify it if the tag is wrong; then deny other regions by SCP."
        ),
    )
)
def data_outside_allowed_jurisdictions(ctx: CheckContext) -> Iterator[Result]:
    for resource in own_resources(ctx, *DATA_KINDS, Kind.KEY):
        verdict = classification_of(ctx, resource)
        cls = verdict.classification
        where = location(resource)
        allowed = cls.allows(resource.jurisdiction)
        severity = weighted(cls, Severity.CRITICAL, Severity.HIGH)
        if allowed is None:
            message = (
                f"{resource.name} is {cls.name} ({verdict.reason}) but its region "
                f"{resource.region or '(none)'} has no known jurisdiction"
            )
            yield Result(resource, Status.UNKNOWN, message)
        elif allowed:
            message = (
                f"{resource.name} ({cls.name}) sits in {where}, allowed ({cls.allowed_text()})"
            )
            yield Result(resource, Status.PASS, message)
        else:
            message = (
                f"{resource.name} holds {cls.name} data ({verdict.reason}) in {where}; "
                f"its class allows only {cls.allowed_text()}"
            )
            yield Result(resource, Status.FAIL, message, severity=severity)


@check(
    CheckMeta(
        id="SOV-006",
        title="Restricted data administrable from a foreign jurisdiction",
        theme=Theme.SOVEREIGNTY,
        severity=Severity.HIGH,
        fails_when=(
            "a party whose jurisdiction the data's class does not allow holds can_admin on a "
            "restricted store or its key, directly or through roles it can assume"
        ),
        frameworks=(
            "GB/T 22239-2019 8.2.7.1 (运维地点境内)",
            "SecNumCloud 3.2 19.2(c), 9.7(d)",
            "ITAR (US persons)",
        ),
        remediation=(
            "Remove the foreign party's administrative rights; route any foreign support "
            "through a supervised bastion inside the allowed jurisdiction."
        ),
    )
)
def administrable_from_abroad(ctx: CheckContext) -> Iterator[Result]:
    for store in own_resources(ctx, *DATA_KINDS, Kind.KEY):
        cls = classification_of(ctx, store).classification
        if not cls.restricted:
            continue
        foreign, unclear = [], []
        for grant in who_can(ctx.graph, store.uid, Relation.CAN_ADMIN):
            kind, who = party_of(ctx, grant.principal)
            if kind in ("own", "service"):
                continue
            party = ctx.policy.trusted_party(str(ctx.graph.nodes[grant.principal].get("account")))
            country = party.jurisdiction if party else None
            lines = explain_path(ctx.graph, grant.path)
            if kind == "public":
                foreign.append((f"{who} [anywhere]", lines))
            elif country is not None and cls.allows(country) is False:
                foreign.append((f"{who} [{country}]", lines))
            elif country is None:
                unclear.append((who, lines))
        if foreign:
            message = f"{'; '.join(w for w, _ in foreign)} can administer {store.name} ({cls.name})"
            evidence = tuple(line for _, lines in foreign for line in lines)
            yield Result(store, Status.FAIL, message, evidence)
        elif unclear:
            message = (
                f"{'; '.join(w for w, _ in unclear)} can administer {store.name} ({cls.name}) "
                "from a jurisdiction the policy does not state"
            )
            evidence = tuple(line for _, lines in unclear for line in lines)
            yield Result(store, Status.UNKNOWN, message, evidence)
        elif blind := [*unreadable(store, "policy", "acl"), *rights_unread(ctx, store)]:
            message = f"who can administer {store.name} is not fully known: {'; '.join(blind)}"
            yield Result(store, Status.UNKNOWN, message)
        else:
            message = f"only parties in {cls.allowed_text()} can administer {store.name}"
            yield Result(store, Status.PASS, message)
