"""SOV: where data and keys sit, against the jurisdictions their classification allows."""

from __future__ import annotations

from collections.abc import Iterator

from auditor.checking import CheckContext, CheckMeta, Result, Theme, check
from auditor.checks.common import classification_of, own_resources, weighted
from auditor.model import DATA_KINDS, Kind, Severity, Status


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
        where = f"{resource.region or 'unknown region'} ({resource.jurisdiction or '?'})"
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
