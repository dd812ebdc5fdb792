"""The benchmarks still run end to end at a small scale (no timing is asserted: speed and
memory targets live in bench/README.md, measured on purpose, not in the suite)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.moto


def _run(*argv: str) -> list[dict[str, object]]:
    done = subprocess.run(
        [sys.executable, *argv], cwd=ROOT, capture_output=True, text=True, timeout=600, check=False
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]


def test_checks_bench_multiplies_the_demo_and_runs_every_check() -> None:
    (result,) = _run("bench/checks_bench.py", "--resources", "400", "--edges", "1500")
    assert result["resources"] == 400
    assert result["stored_edges"] == 1500
    assert isinstance(result["findings"], int) and result["findings"] > 400
    phases = result["phases_s"]
    assert isinstance(phases, dict) and set(phases) >= {"run every check", "store findings"}


def test_collection_bench_seeds_audits_and_records(tmp_path: Path) -> None:
    """bench/run.py at scale 1: a moto server of its own, the synthetic estate, govaudit's
    collect and check through the counting proxy; Prowler left out (not installed in CI)."""
    results = tmp_path / "results.jsonl"
    _run("bench/run.py", "--scale", "1", "--prowler", "off", "--results", str(results))
    (row,) = [json.loads(line) for line in results.read_text().splitlines()]
    assert row["seeded"] == 240 and row["resources"] >= 240
    # The proxy saw every request the probe's botocore hook counted, and no more.
    assert row["proxy_requests"] == row["logical_calls"] > 0
    assert sum(row["findings"].values()) > 0
    assert "prowler" not in row
