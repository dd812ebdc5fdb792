"""Every registered check is complete, listed, and governed by the policy."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from auditor.checking import THEME_PREFIX, load_checks
from auditor.cli import cli
from tests.helpers import policy

CHECKS = load_checks()


def test_the_catalog_has_at_least_45_checks_covering_every_theme():
    assert len(CHECKS) >= 45
    assert {c.meta.theme for c in CHECKS} == set(THEME_PREFIX)


@pytest.mark.parametrize("chk", CHECKS, ids=lambda c: c.meta.id)
def test_every_check_has_complete_metadata(chk):
    meta = chk.meta
    assert re.fullmatch(r"(SOV|FLOW|KEY|ACC|RSP|LOG)-\d{3}", meta.id)
    assert meta.id.startswith(THEME_PREFIX[meta.theme] + "-")
    assert len(meta.title) >= 15, "a title a security officer understands"
    assert len(meta.fails_when) >= 30
    assert meta.frameworks and all(ref.strip() for ref in meta.frameworks)
    assert len(meta.remediation) >= 30
    assert chk.run.__doc__ is None or chk.run.__doc__.strip()
    if meta.cli:
        assert meta.cli.startswith("aws "), "fix commands are AWS CLI commands"


def test_checks_list_shows_every_check_with_its_metadata():
    result = CliRunner().invoke(cli, ["checks", "list", "--json"])
    assert result.exit_code == 0, result.output
    rows = {row["id"]: row for row in json.loads(result.output)}
    assert set(rows) == {c.meta.id for c in CHECKS}
    for chk in CHECKS:
        row = rows[chk.meta.id]
        assert row["title"] == chk.meta.title
        assert row["frameworks"] == list(chk.meta.frameworks)
        assert row["enabled"] is True
    table = CliRunner().invoke(cli, ["checks", "list"]).output
    assert all(c.meta.id in table for c in CHECKS)


def test_the_policy_disables_a_check_and_overrides_a_severity(tmp_path):
    source = policy().path
    text = Path(source).read_text(encoding="utf-8")
    path = tmp_path / "p.yaml"
    path.write_text(
        text + "checks: {disabled: [KEY-006], severity: {SOV-001: low}}\n", encoding="utf-8"
    )
    result = CliRunner().invoke(cli, ["checks", "list", "--json", "--policy", str(path)])
    rows = {row["id"]: row for row in json.loads(result.output)}
    assert rows["KEY-006"]["enabled"] is False
    assert rows["SOV-001"]["severity"] == "low"
    assert rows["SOV-001"]["default_severity"] == "high"
    table = CliRunner().invoke(cli, ["checks", "list", "--policy", str(path)]).output
    assert "KEY-006" in table and "[disabled by policy]" in table

    from auditor.checking import REGISTRY, run_checks
    from auditor.policy import load_policy
    from tests.helpers import bucket, make_ctx

    ctx = make_ctx([bucket("abroad", region="us-east-1")], pol=load_policy(path))
    found = run_checks(ctx, [REGISTRY["SOV-001"], REGISTRY["KEY-006"]])
    assert {f.check_id for f in found} == {"SOV-001"}
    assert all(f.severity.value == "low" for f in found)
