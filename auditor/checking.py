"""The check registry and runner.

A check is a small generator over a `CheckContext` that yields one `Result` per resource it
judges.  Metadata is declared once, on the decorator, and is the check's documentation.
Modules in `auditor.checks` register themselves on import; `load_checks()` imports them all.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from datetime import date
from enum import StrEnum
from typing import TYPE_CHECKING

from auditor.model import Finding, Resource, Severity, Status

if TYPE_CHECKING:
    import networkx as nx

    from auditor.policy import Policy


class Theme(StrEnum):
    SOVEREIGNTY = "sovereignty"
    FLOW = "flow"
    KEY = "key"
    ACCESS = "access"
    RESPONSIBILITY = "responsibility"
    LOG = "log"


THEME_PREFIX = {
    Theme.SOVEREIGNTY: "SOV",
    Theme.FLOW: "FLOW",
    Theme.KEY: "KEY",
    Theme.ACCESS: "ACC",
    Theme.RESPONSIBILITY: "RSP",
    Theme.LOG: "LOG",
}


@dataclass(frozen=True, slots=True)
class CheckMeta:
    """What a check is, why it exists and how to fix what it finds."""

    id: str
    title: str
    theme: Theme
    severity: Severity
    fails_when: str
    frameworks: tuple[str, ...]
    remediation: str
    cli: str = ""
    # Governance checks judge the other checks' findings (RSP-012 judges waivers against
    # what they waive); they run after all others, with the findings in the context.
    reads_findings: bool = False


@dataclass(frozen=True, slots=True)
class Result:
    """A check's verdict on one resource; the runner turns it into a `Finding`."""

    resource: Resource
    status: Status
    message: str
    evidence: tuple[str, ...] = ()
    # Checks whose severity depends on the data's classification set it here.
    severity: Severity | None = None


@dataclass(frozen=True)
class CheckContext:
    """Everything a check may read: the inventory, the graph and the policy.  No I/O."""

    resources: Mapping[str, Resource]
    graph: nx.MultiDiGraph[str]
    policy: Policy
    # (account, region, service) -> outcome value, for UNKNOWN when a service was not seen.
    coverage: Mapping[tuple[str, str, str], str] = field(default_factory=dict)
    today: date = field(default_factory=date.today)
    # The findings of every other check; filled only for checks with `reads_findings`.
    findings: tuple[Finding, ...] = ()

    def of_kind(self, *kinds: str) -> Iterator[Resource]:
        return (r for r in self.resources.values() if r.kind in kinds)


CheckFunction = Callable[[CheckContext], Iterable[Result]]


@dataclass(frozen=True, slots=True)
class Check:
    meta: CheckMeta
    run: CheckFunction


REGISTRY: dict[str, Check] = {}


def check(meta: CheckMeta) -> Callable[[CheckFunction], CheckFunction]:
    """Register a check function under its stable catalog id."""
    if not meta.id.startswith(THEME_PREFIX[meta.theme] + "-"):
        raise ValueError(f"check {meta.id} lacks its theme's prefix {THEME_PREFIX[meta.theme]}")

    def register(function: CheckFunction) -> CheckFunction:
        if meta.id in REGISTRY and REGISTRY[meta.id].run is not function:
            raise ValueError(f"check id {meta.id} registered twice")
        REGISTRY[meta.id] = Check(meta, function)
        return function

    return register


def load_checks() -> list[Check]:
    """Import every module of `auditor.checks` and return the registry, ordered by id."""
    package = importlib.import_module("auditor.checks")
    for module in pkgutil.iter_modules(package.__path__):
        importlib.import_module(f"auditor.checks.{module.name}")
    return [REGISTRY[key] for key in sorted(REGISTRY)]


def run_checks(ctx: CheckContext, checks: Iterable[Check]) -> list[Finding]:
    """Run each enabled check and stamp its metadata onto the findings.

    Checks over the inventory run first; checks that read findings run after them.
    """
    chosen = list(checks)
    findings = _run(ctx, [c for c in chosen if not c.meta.reads_findings])
    later = [c for c in chosen if c.meta.reads_findings]
    if later:
        findings += _run(replace(ctx, findings=tuple(findings)), later)
    return findings


def _run(ctx: CheckContext, checks: Iterable[Check]) -> list[Finding]:
    findings: list[Finding] = []
    for chk in checks:
        if not ctx.policy.check_enabled(chk.meta.id):
            continue
        override = ctx.policy.severity_override(chk.meta.id)
        judged: set[str] = set()
        for result in chk.run(ctx):
            # One verdict per check and resource: the store keys findings that way.
            if result.resource.uid in judged:
                raise ValueError(f"{chk.meta.id} judged {result.resource.uid} twice")
            judged.add(result.resource.uid)
            findings.append(to_finding(chk.meta, result, override))
    return findings


def to_finding(meta: CheckMeta, result: Result, override: Severity | None = None) -> Finding:
    resource = result.resource
    return Finding(
        check_id=meta.id,
        status=result.status,
        severity=override or result.severity or meta.severity,
        resource=resource.uid,
        message=result.message,
        title=meta.title,
        theme=meta.theme.value,
        account=resource.account,
        region=resource.region,
        jurisdiction=resource.jurisdiction,
        evidence=result.evidence,
        remediation=meta.remediation,
        fix_command=fill_placeholders(meta.cli, resource),
    )


def fill_placeholders(command: str, resource: Resource) -> str:
    """Put the resource's own name into a fix command, so ops can run it as it stands.

    Only names that cloud naming rules keep shell-safe are filled in (S3 bucket names,
    KMS key ids); anything else keeps its placeholder.
    """
    if resource.native_type == "s3:bucket":
        return command.replace("BUCKET", resource.name)
    if resource.native_type == "kms:key":
        return command.replace("KEY_ID", resource.uid.rsplit("/", 1)[-1])
    return command
