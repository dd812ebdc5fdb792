"""`govaudit frameworks`: the compliance frameworks and how much of each the checks decide.

Kept out of `auditor.cli` so the command can be registered with one line there.  Errors in
framework files propagate as `PolicyError`, which the CLI's entry point prints as one line
and turns into exit code 2.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from auditor.checking import load_checks
from auditor.compliance import Framework, coverage, coverage_kind, load_frameworks


@click.command(name="frameworks")
@click.option(
    "--frameworks-dir",
    "extra_dirs",
    multiple=True,
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="Folder of extra framework files (*.yaml), read after the built-in ones. Repeatable.",
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON with every requirement.")
def frameworks_command(extra_dirs: tuple[Path, ...], as_json: bool) -> int:
    """List compliance frameworks and how many requirements the checks decide."""
    frameworks = load_frameworks(extra_dirs)
    registered = frozenset(check.meta.id for check in load_checks())
    if as_json:
        rows = [_as_json(f, registered) for f in frameworks]
        click.echo(json.dumps(rows, ensure_ascii=False, indent=2))
        return 0
    header = ("FRAMEWORK", "REQUIREMENTS", "AUTOMATED", "MANUAL", "NOT COVERED", "NAME")
    lines = [header]
    for framework in frameworks:
        counts = coverage(framework, registered)
        lines.append(
            (
                framework.id,
                str(counts.total),
                str(counts.automated),
                str(counts.manual),
                str(counts.not_covered),
                framework.name,
            )
        )
    # The name goes last: it is the only free-text column and may be long.
    width = max(len(line[0]) for line in lines)
    for line in lines:
        numbers = "".join(
            f"{value:>{len(title) + 2}}"
            for value, title in zip(line[1:5], header[1:5], strict=True)
        )
        click.echo(f"{line[0]:<{width}}{numbers}  {line[5]}")
    click.echo(
        f"\nautomated: a cited check is registered ({len(registered)} checks registered); "
        "manual: a human procedure is given; not covered: neither."
    )
    return 0


def _as_json(framework: Framework, registered: frozenset[str]) -> dict[str, Any]:
    counts = coverage(framework, registered)
    return {
        "id": framework.id,
        "name": framework.name,
        "name_zh": framework.name_zh,
        "version": framework.version,
        "source": framework.source,
        "file": str(framework.path) if framework.path else None,
        "requirements": counts.total,
        "automated": counts.automated,
        "manual": counts.manual,
        "not_covered": counts.not_covered,
        "items": [
            {
                "id": r.id,
                "title": r.title,
                "title_zh": r.title_zh,
                "coverage": coverage_kind(r, registered).value,
                "checks": list(r.checks),
                "registered_checks": [c for c in r.checks if c in registered],
                "manual": r.manual,
            }
            for r in framework.requirements
        ],
    }
