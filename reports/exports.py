"""Export a run as findings.csv, findings.sarif (SARIF 2.1.0) and findings.ocsf.json (OCSF).

The HTML page and findings.json are written by `auditor.reports.render`; these three feed
spreadsheets, code-scanning dashboards and SIEMs.  Every string that came from the cloud is
hostile: control characters are stripped from all three, and the CSV also defuses formulas.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import re
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from auditor.checking import CheckMeta
from auditor.model import Severity, Status, WaiverMark
from auditor.reports.render import ReportInput, _write_atomically
from auditor.reports.sections import FindingView, finding_views

FORMATS = ("html", "json", "csv", "sarif", "ocsf")
CSV_NAME = "findings.csv"
SARIF_NAME = "findings.sarif"
OCSF_NAME = "findings.ocsf.json"
FILE_NAMES = {"csv": CSV_NAME, "sarif": SARIF_NAME, "ocsf": OCSF_NAME}

TOOL_NAME = "govaudit"
SARIF_VERSION = "2.1.0"
SARIF_SCHEMA_URI = (
    "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
)
# The OCSF release the Detection Finding objects are validated against in the tests.
OCSF_VERSION = "1.5.0"
# Cloud resources are not in any file; the provider is the only cloud govaudit inventories.
CLOUD_PROVIDER = "AWS"

CSV_COLUMNS = (
    "run_id",
    "check_id",
    "title",
    "status",
    "severity",
    "waiver",
    "waiver_days_left",
    "waiver_ticket",
    "resource",
    "account",
    "region",
    "jurisdiction",
    "message",
    "evidence",
    "remediation",
    "fix_command",
)
EVIDENCE_SEPARATOR = " | "

# GitHub code scanning and others read this property as a CVSS-like score; a string, per their docs.
SECURITY_SEVERITY = {
    Severity.CRITICAL: "9.5",
    Severity.HIGH: "8.0",
    Severity.MEDIUM: "5.5",
    Severity.LOW: "3.0",
    Severity.INFO: "0.0",
}
SARIF_LEVEL = {
    Severity.CRITICAL: "error",
    Severity.HIGH: "error",
    Severity.MEDIUM: "warning",
    Severity.LOW: "warning",
    Severity.INFO: "note",
}
OCSF_SEVERITY = {
    Severity.CRITICAL: (5, "Critical"),
    Severity.HIGH: (4, "High"),
    Severity.MEDIUM: (3, "Medium"),
    Severity.LOW: (2, "Low"),
    Severity.INFO: (1, "Informational"),
}
OCSF_CLASS_UID = 2004
OCSF_CATEGORY_UID = 2
OCSF_ACTIVITY_CREATE = 1
OCSF_STATUS_NEW = (1, "New")
OCSF_STATUS_SUPPRESSED = (3, "Suppressed")
OCSF_ANALYTIC_RULE = 1

# PASS findings are evidence of compliance, not problems: SARIF and OCSF carry only these.
REPORTED = (Status.FAIL, Status.UNKNOWN)

# ANSI CSI and OSC sequences go whole, so no "[31m" residue is left once ESC is gone; then
# every other C0/C1 control but newline, and the bidi overrides that reorder what a reader
# sees (Trojan Source).
_ESCAPE_SEQUENCE = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?")
_CONTROL = re.compile(r"[\x00-\x09\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
# OWASP CSV injection: a cell starting with these may be run as a formula.  The full-width
# forms are included because CJK input methods type them and some spreadsheets fold them.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "＝", "＋", "－", "＠")
_PLAIN_NUMBER = re.compile(r"-?\d+(?:\.\d+)?")


def parse_formats(text: str) -> tuple[str, ...]:
    """`"html, JSON,csv"` -> ("html", "json", "csv"); unknown names raise ValueError."""
    chosen: list[str] = []
    for part in text.split(","):
        name = part.strip().lower()
        if not name:
            continue
        if name not in FORMATS:
            raise ValueError(f"unknown report format {name!r}; choose from {', '.join(FORMATS)}")
        if name not in chosen:
            chosen.append(name)
    if not chosen:
        raise ValueError(f"no report format given; choose from {', '.join(FORMATS)}")
    return tuple(chosen)


def write_exports(out_dir: Path, data: ReportInput, formats: Sequence[str]) -> dict[str, Path]:
    """Write the CSV, SARIF and OCSF files asked for, each atomically; html and json are
    `write_report`'s and are skipped here."""
    unknown = [name for name in formats if name not in FORMATS]
    if unknown:
        raise ValueError(f"unknown report format {unknown[0]!r}; choose from {', '.join(FORMATS)}")
    out_dir.mkdir(parents=True, exist_ok=True)
    written: dict[str, Path] = {}
    for name in dict.fromkeys(formats):
        if name not in FILE_NAMES:
            continue
        path = out_dir / FILE_NAMES[name]
        _write_atomically(path, _render(name, data))
        written[name] = path
    return written


def _render(name: str, data: ReportInput) -> str:
    if name == "csv":
        # Excel guesses the code page of a BOM-less CSV from the locale (GBK in zh-CN).
        return "\ufeff" + render_csv(data)
    if name == "sarif":
        return _json_text(sarif_log(data))
    return _json_text(ocsf_findings(data))


def _json_text(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, indent=2) + "\n"


# text hygiene -------------------------------------------------------------------------------


def clean_text(text: str) -> str:
    """Drop terminal escape sequences and control characters, keeping newlines."""
    return _CONTROL.sub("", _ESCAPE_SEQUENCE.sub("", text))


def csv_cell(value: object) -> str:
    """A cell a spreadsheet shows as text: controls stripped, formulas quoted with `'`."""
    if value is None:
        return ""
    text = clean_text(str(value))
    if _PLAIN_NUMBER.fullmatch(text):
        return text
    # Some spreadsheets skip leading blanks before looking for "=".
    if text.startswith(_FORMULA_START) or text.lstrip().startswith(_FORMULA_START):
        return "'" + text
    return text


# CSV ----------------------------------------------------------------------------------------


def render_csv(data: ReportInput) -> str:
    """All findings, one row each, in report order (no BOM: `write_exports` adds it)."""
    buffer = io.StringIO()
    # OWASP also asks for every cell quoted; CRLF is RFC 4180's line end.
    writer = csv.writer(buffer, quoting=csv.QUOTE_ALL, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for view in finding_views(data.findings, data.checks):
        waiver = view.waiver
        row = (
            data.run.id,
            view.check_id,
            view.title,
            view.status,
            view.severity,
            waiver.state if waiver else "",
            waiver.days_left if waiver else None,
            waiver.ticket if waiver else "",
            view.resource,
            view.account,
            view.region,
            view.jurisdiction,
            view.message,
            EVIDENCE_SEPARATOR.join(view.evidence),
            view.remediation,
            view.fix_command,
        )
        writer.writerow([csv_cell(value) for value in row])
    return buffer.getvalue()


# shared -------------------------------------------------------------------------------------


def fingerprint(check_id: str, resource: str) -> str:
    """Stable across runs, so a dashboard tracks one problem on one resource over time."""
    return hashlib.sha256(f"{check_id}\x00{resource}".encode()).hexdigest()


def _reported(data: ReportInput) -> list[FindingView]:
    return [v for v in finding_views(data.findings, data.checks) if v.status in REPORTED]


def _waived(view: FindingView) -> bool:
    return view.waiver is not None and view.waiver.state == "waived"


def _waiver_record(waiver: WaiverMark | None) -> dict[str, Any] | None:
    if waiver is None:
        return None
    return {
        "state": waiver.state,
        "ticket": clean_text(waiver.ticket),
        "approver": clean_text(waiver.approver),
        "reason": clean_text(waiver.reason),
        "expires": waiver.expires or None,
        "days_left": waiver.days_left,
        "note": clean_text(waiver.note) or None,
    }


def _verdict_detail(status: str) -> str:
    if status == Status.UNKNOWN:
        # UNKNOWN means the evidence could not be read: it is reported, never counted as a pass.
        return "UNKNOWN: govaudit could not judge this resource; treat it as not passing"
    return "FAIL: the check found a problem on this resource"


def _arn_parts(resource: str) -> tuple[str, str]:
    """(partition, service) of an ARN, ("", "") for anything else."""
    parts = resource.split(":", 3)
    if len(parts) >= 3 and parts[0] == "arn":
        return parts[1], parts[2]
    return "", ""


def _severity(view: FindingView) -> Severity:
    return Severity(view.severity)


# SARIF --------------------------------------------------------------------------------------


def sarif_log(data: ReportInput) -> dict[str, Any]:
    """One SARIF 2.1.0 run: every check as a rule, every FAIL and UNKNOWN as a result."""
    views = _reported(data)
    rules = _sarif_rules(data.checks, views)
    index = {rule["id"]: i for i, rule in enumerate(rules)}
    run = data.run
    invocation: dict[str, Any] = {
        # An incomplete collection ran but did not see everything.
        "executionSuccessful": run.status == "complete",
        "startTimeUtc": _utc(run.started_at),
    }
    if run.finished_at:
        invocation["endTimeUtc"] = _utc(run.finished_at)
    return {
        "$schema": SARIF_SCHEMA_URI,
        "version": SARIF_VERSION,
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": TOOL_NAME,
                        "version": run.tool_version,
                        "rules": rules,
                    }
                },
                "automationDetails": {"id": f"{TOOL_NAME}/run-{run.id}"},
                "invocations": [invocation],
                "results": [_sarif_result(view, index[view.check_id]) for view in views],
                "properties": {
                    "organisation": clean_text(data.organisation),
                    "runId": run.id,
                    "runStatus": run.status,
                    "policyPath": clean_text(run.policy_path),
                    "policySha256": run.policy_sha256,
                    "accounts": list(run.accounts),
                    "regions": list(run.regions),
                },
            }
        ],
    }


def _sarif_rules(checks: Sequence[CheckMeta], views: Iterable[FindingView]) -> list[dict[str, Any]]:
    rules = [_sarif_rule(meta) for meta in checks]
    known = {meta.id for meta in checks}
    # A finding of a check missing from the catalog still needs a rule for its ruleIndex.
    for view in views:
        if view.check_id not in known:
            known.add(view.check_id)
            rules.append(_orphan_rule(view))
    return rules


def _sarif_rule(meta: CheckMeta) -> dict[str, Any]:
    help_text = meta.remediation + (f"\n\nFix: {meta.cli}" if meta.cli else "")
    return {
        "id": meta.id,
        "name": _rule_name(meta.id, meta.title),
        "shortDescription": {"text": meta.title},
        "fullDescription": {"text": f"Fails when {meta.fails_when}."},
        "help": {"text": help_text or meta.title},
        "defaultConfiguration": {"level": SARIF_LEVEL[meta.severity]},
        "properties": {
            "theme": meta.theme.value,
            "frameworks": list(meta.frameworks),
            "severity": meta.severity.value,
            "security-severity": SECURITY_SEVERITY[meta.severity],
            "tags": ["security", meta.theme.value, *meta.frameworks],
        },
    }


def _orphan_rule(view: FindingView) -> dict[str, Any]:
    severity = _severity(view)
    title = clean_text(view.title) or view.check_id
    return {
        "id": view.check_id,
        "name": _rule_name(view.check_id, title),
        "shortDescription": {"text": title},
        "defaultConfiguration": {"level": SARIF_LEVEL[severity]},
        "properties": {
            "theme": view.theme,
            "frameworks": [],
            "severity": severity.value,
            "security-severity": SECURITY_SEVERITY[severity],
            "tags": ["security", view.theme],
        },
    }


def _rule_name(check_id: str, title: str) -> str:
    """SARIF wants an identifier-like name: the title's ASCII words in PascalCase."""
    words = re.findall(r"[A-Za-z0-9]+", title)
    return "".join(w[:1].upper() + w[1:] for w in words) or re.sub(r"\W", "", check_id)


def _sarif_result(view: FindingView, rule_index: int) -> dict[str, Any]:
    severity = _severity(view)
    # Kinds other than "fail" force level "none" (SARIF 3.27.9), which viewers hide; an UNKNOWN
    # stays a visible "fail" at level note so that it never reads as a pass.
    level = SARIF_LEVEL[severity] if view.status == Status.FAIL else "note"
    result: dict[str, Any] = {
        "ruleId": view.check_id,
        "ruleIndex": rule_index,
        "kind": "fail",
        "level": level,
        "message": {"text": clean_text(view.message) or clean_text(view.title)},
        "locations": [
            {
                "logicalLocations": [
                    {"fullyQualifiedName": clean_text(view.resource), "kind": "resource"}
                ]
            }
        ],
        "partialFingerprints": {
            "govauditCheckResource/v1": fingerprint(view.check_id, view.resource)
        },
        "properties": {
            "verdict": view.status,
            "severity": severity.value,
            "security-severity": SECURITY_SEVERITY[severity],
            "theme": view.theme,
            "account": view.account or None,
            "region": view.region or None,
            "jurisdiction": view.jurisdiction or None,
            "evidence": [clean_text(e) for e in view.evidence],
            "remediation": clean_text(view.remediation) or None,
            "fixCommand": clean_text(view.fix_command) or None,
            "waiver": _waiver_record(view.waiver),
        },
    }
    if view.waiver is not None and _waived(view):
        result["suppressions"] = [_sarif_suppression(view.waiver)]
    return result


def _sarif_suppression(waiver: WaiverMark) -> dict[str, Any]:
    justification = clean_text(waiver.reason)
    if waiver.ticket:
        justification = f"{justification} (ticket {clean_text(waiver.ticket)})".strip()
    suppression: dict[str, Any] = {
        # The waiver lives in the policy file, outside the scanned estate.
        "kind": "external",
        "status": "accepted",
        "justification": justification,
        "properties": {
            "approver": clean_text(waiver.approver),
            "expires": waiver.expires or None,
            "daysLeft": waiver.days_left,
        },
    }
    return suppression


def _utc(stamp: str) -> str:
    """SARIF date-times are UTC with a Z suffix."""
    return _parse_time(stamp).strftime("%Y-%m-%dT%H:%M:%SZ")


def _parse_time(stamp: str) -> datetime:
    moment = datetime.fromisoformat(stamp)
    # The store writes aware UTC stamps; a naive one is taken as UTC rather than local time.
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


# OCSF ---------------------------------------------------------------------------------------


def ocsf_findings(data: ReportInput) -> list[dict[str, Any]]:
    """One OCSF Detection Finding (class 2004) per FAIL and UNKNOWN finding."""
    run = data.run
    time_ms = int(_parse_time(run.checked_at or run.finished_at or run.started_at).timestamp())
    time_ms *= 1000
    catalog = {meta.id: meta for meta in data.checks}
    return [
        _ocsf_finding(view, data, time_ms, catalog.get(view.check_id)) for view in _reported(data)
    ]


def _ocsf_finding(
    view: FindingView, data: ReportInput, time_ms: int, meta: CheckMeta | None
) -> dict[str, Any]:
    severity_id, severity = OCSF_SEVERITY[_severity(view)]
    status_id, status = OCSF_STATUS_SUPPRESSED if _waived(view) else OCSF_STATUS_NEW
    uid = fingerprint(view.check_id, view.resource)
    finding: dict[str, Any] = {
        "class_uid": OCSF_CLASS_UID,
        "class_name": "Detection Finding",
        "category_uid": OCSF_CATEGORY_UID,
        "category_name": "Findings",
        "activity_id": OCSF_ACTIVITY_CREATE,
        "activity_name": "Create",
        "type_uid": OCSF_CLASS_UID * 100 + OCSF_ACTIVITY_CREATE,
        "type_name": "Detection Finding: Create",
        "time": time_ms,
        "severity_id": severity_id,
        "severity": severity,
        "status_id": status_id,
        "status": status,
        "status_detail": _verdict_detail(view.status),
        "message": clean_text(view.message),
        "finding_info": {
            "uid": f"{TOOL_NAME}:{view.check_id}:{uid}",
            "title": clean_text(view.title) or view.check_id,
            "desc": clean_text(view.message),
            "types": [view.theme],
            "created_time": time_ms,
            "analytic": {
                "uid": view.check_id,
                "name": clean_text(view.title) or view.check_id,
                "type_id": OCSF_ANALYTIC_RULE,
                "type": "Rule",
            },
        },
        "resources": [_ocsf_resource(view)],
        "cloud": _ocsf_cloud(view),
        "metadata": {
            "version": OCSF_VERSION,
            "uid": f"{TOOL_NAME}:run-{data.run.id}:{uid}",
            "profiles": ["cloud"],
            "product": {
                "name": TOOL_NAME,
                "vendor_name": TOOL_NAME,
                "version": data.run.tool_version,
            },
        },
        # Detection Finding has no compliance object (that is Compliance Finding's), and the
        # jurisdiction, evidence and waiver have no OCSF attribute: they go to `unmapped`.
        "unmapped": _ocsf_unmapped(view, data, meta),
    }
    remediation = _remediation_text(view)
    if remediation:
        finding["remediation"] = {"desc": remediation}
    return finding


def _ocsf_resource(view: FindingView) -> dict[str, Any]:
    partition, service = _arn_parts(view.resource)
    resource: dict[str, Any] = {"uid": clean_text(view.resource)}
    if service:
        resource["type"] = clean_text(service)
    if partition:
        resource["cloud_partition"] = clean_text(partition)
    if view.region:
        resource["region"] = clean_text(view.region)
    return resource


def _ocsf_cloud(view: FindingView) -> dict[str, Any]:
    cloud: dict[str, Any] = {"provider": CLOUD_PROVIDER}
    if view.account:
        cloud["account"] = {"uid": clean_text(view.account)}
    if view.region:
        cloud["region"] = clean_text(view.region)
    partition, _ = _arn_parts(view.resource)
    if partition:
        cloud["cloud_partition"] = clean_text(partition)
    return cloud


def _ocsf_unmapped(view: FindingView, data: ReportInput, meta: CheckMeta | None) -> dict[str, Any]:
    return {
        "verdict": view.status,
        "run_id": data.run.id,
        "jurisdiction": view.jurisdiction or None,
        "evidence": [clean_text(e) for e in view.evidence],
        "fix_command": clean_text(view.fix_command) or None,
        "waiver": _waiver_record(view.waiver),
        "compliance": {"standards": list(meta.frameworks) if meta else []},
    }


def _remediation_text(view: FindingView) -> str:
    text = clean_text(view.remediation)
    if view.fix_command:
        text = f"{text}\n\nFix: {clean_text(view.fix_command)}".strip()
    return text
