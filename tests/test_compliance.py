"""Compliance frameworks: the built-in files, coverage, compliance verdicts and the CLI."""

from __future__ import annotations

import json
import re
from enum import StrEnum
from pathlib import Path
from typing import cast

import click
import pytest
from click.testing import CliRunner

import auditor.cli
from auditor.checking import load_checks
from auditor.compliance import (
    BUILTIN_DIR,
    CHECK_ID,
    ComplianceStatus,
    Coverage,
    Framework,
    compliance,
    coverage,
    load_frameworks,
    read_framework,
)
from auditor.compliance_cli import frameworks_command
from auditor.errors import PolicyError
from auditor.model import Finding, Severity, Status

# The check catalog (CHECKS.md section 3): SOV 8, FLOW 10, KEY 8, ACC 11, RSP 12, LOG 9.
CATALOG_IDS = frozenset(
    f"{prefix}-{number:03d}"
    for prefix, count in (
        ("SOV", 8),
        ("FLOW", 10),
        ("KEY", 8),
        ("ACC", 11),
        ("RSP", 12),
        ("LOG", 9),
    )
    for number in range(1, count + 1)
)
BUILTIN_IDS = {
    "cis-aws-foundations-v5",
    "dsl-pipl-cross-border",
    "eu-cloud-sovereignty-framework",
    "mlps2-level3",
    "secnumcloud-3.2",
}

SMALL = """\
id: small
name: Small test framework
version: "1.0"
requirements:
  - id: "1.10"
    title: Automated by a registered check
    checks: [SOV-001, SOV-007]
  - id: R2
    title: Cited check not registered, but a manual procedure
    checks: [SOV-007]
    manual: Ask someone.
  - id: R3
    title: Manual only
    manual: Look at the contract.
  - id: R4
    title: Cited check not registered, no manual text
    checks: [LOG-009]
  - id: R5
    title: Nothing at all
"""


class _Later(StrEnum):
    """A status the model may gain later, which compliance() must list but not fail on."""

    WAIVED = "WAIVED"


def write(folder: Path, name: str, text: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def finding(check_id: str, status: Status, resource: str = "arn:aws-cn:s3:::b") -> Finding:
    return Finding(check_id, status, Severity.HIGH, resource, message="m")


# built-in files ------------------------------------------------------------------------------


def test_every_builtin_framework_loads():
    frameworks = load_frameworks()
    assert {f.id for f in frameworks} == BUILTIN_IDS
    for framework in frameworks:
        assert framework.path is not None and framework.path.parent == BUILTIN_DIR
        assert framework.name and framework.version and framework.source
        assert framework.requirements
        for requirement in framework.requirements:
            assert requirement.title
            assert all(CHECK_ID.match(c) for c in requirement.checks)


def test_every_registered_check_is_mapped_to_a_framework():
    # A check nobody can trace to a legal ground is a product defect: keep this strict.
    registered = {check.meta.id for check in load_checks()}
    mapped = set().union(*(f.check_ids for f in load_frameworks()))
    assert not registered - mapped, f"checks in no framework file: {sorted(registered - mapped)}"


def test_every_catalog_id_is_mapped_and_nothing_else():
    assert len(CATALOG_IDS) == 58
    mapped = set().union(*(f.check_ids for f in load_frameworks()))
    assert not CATALOG_IDS - mapped, f"catalog ids in no framework: {sorted(CATALOG_IDS - mapped)}"
    assert not mapped - CATALOG_IDS, f"ids outside the catalog: {sorted(mapped - CATALOG_IDS)}"


def test_builtin_ids_that_look_like_numbers_keep_their_digits():
    cis = next(f for f in load_frameworks() if f.id == "cis-aws-foundations-v5")
    ids = [r.id for r in cis.requirements]
    assert "1.10" in ids and "1.20" in ids and "5.1.1" in ids
    assert cis.version == "5.0.0"
    assert len(ids) == 63


def test_key_management_is_item_d_of_level_3():
    mlps = next(f for f in load_frameworks() if f.id == "mlps2-level3")
    items = {r.id: r for r in mlps.requirements}
    assert "KEY-002" in items["8.2.4.5(d)"].checks
    assert "8.2.4.5(e)" not in items


# coverage and compliance ---------------------------------------------------------------------


def test_coverage_counts_automated_manual_and_not_covered(tmp_path):
    framework = read_framework(write(tmp_path, "small.yaml", SMALL))
    assert framework.requirements[0].id == "1.10"
    assert coverage(framework, {"SOV-001"}) == Coverage(
        automated=1, manual=2, not_covered=2, total=5
    )
    assert coverage(framework, {"SOV-001", "SOV-007", "LOG-009"}) == Coverage(
        automated=3, manual=1, not_covered=1, total=5
    )
    assert coverage(framework, set()) == Coverage(automated=0, manual=2, not_covered=3, total=5)


def test_compliance_verdicts(tmp_path):
    framework = read_framework(
        write(
            tmp_path,
            "verdicts.yaml",
            """\
id: verdicts
name: Verdicts
version: "1"
requirements:
  - {id: FAILS, title: t, checks: [SOV-001, KEY-001]}
  - {id: UNDECIDED, title: t, checks: [KEY-001, FLOW-001]}
  - {id: PASSES, title: t, checks: [ACC-001]}
  - {id: NOT-ASSESSED, title: t, checks: [LOG-001]}
  - {id: WAIVED, title: t, checks: [RSP-001]}
  - {id: MANUAL, title: t, checks: [LOG-009], manual: Read the contract.}
  - {id: NONE, title: t}
""",
        )
    )
    waived = cast(Status, _Later.WAIVED)
    findings = [
        finding("SOV-001", Status.FAIL, "a"),
        finding("SOV-001", Status.FAIL, "b"),
        finding("SOV-001", Status.PASS, "c"),
        finding("KEY-001", Status.PASS),
        finding("FLOW-001", Status.UNKNOWN),
        finding("ACC-001", Status.PASS),
        finding("ACC-001", Status.PASS, "d"),
        Finding("RSP-001", waived, Severity.HIGH, "e", message="m"),
        finding("RSP-001", Status.PASS),
    ]
    registered = {"SOV-001", "KEY-001", "FLOW-001", "ACC-001", "LOG-001", "RSP-001"}
    verdicts = {v.requirement.id: v for v in compliance(framework, findings, registered)}

    assert verdicts["FAILS"].status is ComplianceStatus.FAIL
    assert (verdicts["FAILS"].failing, verdicts["FAILS"].passing) == (2, 2)
    assert verdicts["FAILS"].failing_checks == ("SOV-001",)
    assert verdicts["UNDECIDED"].status is ComplianceStatus.UNKNOWN
    assert verdicts["UNDECIDED"].unknown == 1
    assert verdicts["PASSES"].status is ComplianceStatus.PASS
    assert verdicts["PASSES"].passing == 2
    assert verdicts["NOT-ASSESSED"].status is ComplianceStatus.UNKNOWN
    assert verdicts["NOT-ASSESSED"].not_assessed == ("LOG-001",)
    assert "not assessed" in verdicts["NOT-ASSESSED"].detail
    assert verdicts["WAIVED"].status is ComplianceStatus.PASS
    assert dict(verdicts["WAIVED"].other) == {"WAIVED": 1}
    assert "1 waived" in verdicts["WAIVED"].detail
    assert verdicts["MANUAL"].status is ComplianceStatus.MANUAL
    assert verdicts["MANUAL"].detail == "Read the contract."
    assert verdicts["NONE"].status is ComplianceStatus.NOT_COVERED


def test_compliance_defaults_to_the_registered_checks():
    mlps = next(f for f in load_frameworks() if f.id == "mlps2-level3")
    verdicts = {v.requirement.id: v for v in compliance(mlps, [finding("SOV-001", Status.FAIL)])}
    assert verdicts["8.2.1.1"].status is ComplianceStatus.FAIL
    # SOV-006 is registered but produced nothing here: not assessed, never a pass.
    assert verdicts["8.2.7.1"].status is ComplianceStatus.UNKNOWN


# the command ---------------------------------------------------------------------------------


def test_frameworks_table_lists_builtins_with_counts():
    result = CliRunner().invoke(frameworks_command, [])
    assert result.exit_code == 0, result.output
    registered = {check.meta.id for check in load_checks()}
    for framework in load_frameworks():
        counts = coverage(framework, registered)
        row = re.search(
            rf"^{re.escape(framework.id)}\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+)\s", result.output, re.M
        )
        assert row, f"{framework.id} missing from:\n{result.output}"
        assert tuple(int(n) for n in row.groups()) == (
            counts.total,
            counts.automated,
            counts.manual,
            counts.not_covered,
        )


def test_user_folder_shows_in_table_and_json(tmp_path):
    folder = tmp_path / "mine"
    write(folder, "small.yaml", SMALL)
    result = CliRunner().invoke(frameworks_command, ["--frameworks-dir", str(folder)])
    assert result.exit_code == 0, result.output
    assert re.search(r"^small\s+5\s", result.output, re.M)
    assert "mlps2-level3" in result.output

    result = CliRunner().invoke(frameworks_command, ["--frameworks-dir", str(folder), "--json"])
    assert result.exit_code == 0, result.output
    rows = {row["id"]: row for row in json.loads(result.output)}
    assert set(rows) == BUILTIN_IDS | {"small"}
    small = rows["small"]
    assert small["requirements"] == 5
    assert small["file"] == str(folder / "small.yaml")
    assert small["automated"] + small["manual"] + small["not_covered"] == 5
    first = small["items"][0]
    assert first["id"] == "1.10"
    assert first["checks"] == ["SOV-001", "SOV-007"]
    assert first["coverage"] == "automated"
    assert "SOV-001" in first["registered_checks"]
    assert small["items"][2] == {
        "id": "R3",
        "title": "Manual only",
        "title_zh": "",
        "coverage": "manual",
        "checks": [],
        "registered_checks": [],
        "manual": "Look at the contract.",
    }


def test_frameworks_dir_must_exist(tmp_path):
    result = CliRunner().invoke(frameworks_command, ["--frameworks-dir", str(tmp_path / "nope")])
    assert result.exit_code == 2
    assert "does not exist" in result.output


# malformed files -----------------------------------------------------------------------------

MALFORMED = [
    pytest.param("id: x\nname: n: m\nversion: 1\n", 2, "invalid YAML", id="bad-yaml"),
    pytest.param(
        'name: No id\nversion: "1"\nrequirements:\n  - {id: A, title: t}\n',
        1,
        "(top level): missing required key 'id'",
        id="missing-id",
    ),
    pytest.param(
        'id: x\nname: n\nversion: "1"\nrequirements:\n  - id: A\n    title: t\n  - title: no id\n',
        7,
        "requirements[1]: missing required key 'id'",
        id="requirement-without-id",
    ),
    pytest.param(
        'id: x\nname: n\nversion: "1"\nrequirements:\n  - id: A\n    title: t\n'
        "    checks:\n      - SOV-001\n      - SOV-1\n",
        9,
        "requirements[0].checks[1]: 'SOV-1' is not a check id",
        id="bad-check-id",
    ),
    pytest.param(
        'id: x\nname: n\nversion: "1"\nrequirements:\n  - {id: A, title: t, check: [SOV-001]}\n',
        5,
        "requirements[0].check: unknown key",
        id="unknown-key",
    ),
    pytest.param(
        'id: x\nname: n\nversion: "1"\nrequirements:\n'
        "  - {id: A, title: t}\n  - {id: A, title: u}\n",
        6,
        "requirements[1].id: 'A' is already listed on line 5",
        id="duplicate-requirement",
    ),
    pytest.param(
        'id: x\nname: n\nversion: "1"\nrequirements: []\n', 4, "requirements:", id="empty-list"
    ),
    pytest.param("", 1, "framework file is empty", id="empty-file"),
    pytest.param(
        'id: x\nname: n\nversion: "1"\nrequirements:\n  - {id: A, title: t, checks: SOV-001}\n',
        5,
        "requirements[0].checks: expected a list of check ids",
        id="checks-not-a-list",
    ),
]


@pytest.mark.parametrize(("text", "line", "fragment"), MALFORMED)
def test_malformed_file_names_file_line_and_key(tmp_path, text, line, fragment):
    path = write(tmp_path / "user", "bad.yaml", text)
    with pytest.raises(PolicyError) as info:
        load_frameworks([path.parent])
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith(f"{path}:{line}: "), message
    assert fragment in message
    assert info.value.exit_code == 2


def test_duplicate_framework_id_across_folders(tmp_path):
    write(tmp_path / "one", "a.yaml", SMALL)
    second = write(tmp_path / "two", "b.yaml", "# same id again\n" + SMALL)
    with pytest.raises(PolicyError) as info:
        load_frameworks([tmp_path / "one", tmp_path / "two"])
    assert str(info.value) == (
        f"{second}:2: id: framework 'small' is already defined in {tmp_path / 'one' / 'a.yaml'}"
    )


def test_user_framework_may_not_reuse_a_builtin_id(tmp_path):
    path = write(tmp_path, "mlps.yaml", SMALL.replace("id: small", "id: mlps2-level3"))
    with pytest.raises(
        PolicyError, match=rf"^{re.escape(str(path))}:1: id: framework 'mlps2-level3'"
    ):
        load_frameworks([tmp_path])


def test_folder_without_frameworks_is_refused(tmp_path):
    with pytest.raises(PolicyError, match="no framework files"):
        load_frameworks([tmp_path])


@pytest.mark.parametrize(("text", "line", "fragment"), MALFORMED[:5])
def test_command_prints_one_error_line_and_exits_2(
    tmp_path, monkeypatch, capsys, text, line, fragment
):
    # The entry point is what users see: one `error:` line, exit code 2, no traceback.
    path = write(tmp_path / "user", "bad.yaml", text)
    group = click.Group("govaudit", commands={"frameworks": frameworks_command})
    monkeypatch.setattr(auditor.cli, "cli", group)
    with pytest.raises(SystemExit) as info:
        auditor.cli.main(["frameworks", "--frameworks-dir", str(path.parent)])
    out, err = capsys.readouterr()
    assert info.value.code == 2
    assert out == ""
    assert err.count("\n") == 1 and "Traceback" not in err
    assert err.startswith(f"error: {path}:{line}: ")
    assert fragment in err


def test_framework_dataclass_is_hashable_and_frozen():
    framework = load_frameworks()[0]
    assert isinstance(framework, Framework)
    assert hash(framework) == hash(load_frameworks()[0])
    with pytest.raises(AttributeError):
        framework.id = "other"  # type: ignore[misc]
