"""Fault injection per service: the measured table of the README.

    .venv/bin/python bench/faults.py            # the operations tests/hardening/test_faults.py runs
    .venv/bin/python bench/faults.py --full     # every operation of every service

Starts a moto server, seeds the demo estate plus one resource of every service
(`tests/hardening/fault_estate.py`), audits it once without faults, then audits it again
once per (operation, fault): AccessDenied, throttling past the retry budget, a read timeout,
a connection reset, a proxy's HTML page, a truncated answer and an answer stripped of its
values, each on every request of the operation (`tests/hardening/fault_injector.py`).
Prints one Markdown table per fault kind and the cases that broke a property (an audit that
did not complete, an inventory change no coverage row names, a finding wrongly PASS); exits 1
if any did.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import tempfile
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from auditor.demo import moto_server  # noqa: E402 - bench scripts run from any folder
from tests.hardening import fault_audit  # noqa: E402
from tests.hardening.fault_audit import Case  # noqa: E402
from tests.hardening.fault_injector import Fault, FaultInjector  # noqa: E402
from tests.hardening.test_faults import ABSENCE_IS_AN_ANSWER, PICKS  # noqa: E402


@dataclass
class Row:
    cases: int = 0
    injected: int = 0
    requests: int = 0
    completed: int = 0
    changed: int = 0
    reported: int = 0
    unknown: int = 0
    wrongly_pass: int = 0
    seconds: float = 0.0
    problems: list[str] = field(default_factory=list)


def run(cases: list[Case], verbose: bool = False) -> dict[Fault, Row]:
    rows: dict[Fault, Row] = defaultdict(Row)
    patch = pytest.MonkeyPatch()
    with moto_server() as endpoint, tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        estate = fault_audit.seed(endpoint)
        base = fault_audit.baseline(estate, folder / "baseline.db", patch)
        if not base.completed or any(c.outcome.value != "ok" for c in base.coverage):
            sys.exit(f"the fault-free audit is not clean: {base.error}")
        with fault_audit.fast_retries(patch):
            for number, case in enumerate(cases, start=1):
                row = rows[case.fault]
                started = time.perf_counter()
                live = base.live.callers(case.client, case.operation)
                injector = FaultInjector(case.client, case.operation, case.fault)
                audit = fault_audit.faulted(
                    estate, base, injector, live, folder / f"{number}.db", patch
                )
                judged = fault_audit.judge(base, audit, case.service)
                if verbose:
                    gaps = sorted({f"{g[2]}: {g[3]}" for g in judged.gaps})
                    wrong = sorted({w[0] for w in judged.wrongly_pass})
                    print(
                        f"{case.id} injected={injector.injected} changed={judged.changed} "
                        f"wrongly_pass={wrong} gaps={gaps[:2]}",
                        file=sys.stderr,
                    )
                row.cases += 1
                row.seconds += time.perf_counter() - started
                if not injector.injected:
                    continue  # the estate never sends it: nothing was injected
                row.injected += 1
                row.requests += injector.injected
                row.completed += judged.completed
                row.changed += judged.changed
                row.reported += judged.changed and bool(judged.gaps)
                row.unknown += judged.now_unknown
                row.wrongly_pass += len(judged.wrongly_pass)
                absent_ok = (case.service, case.operation) in ABSENCE_IS_AN_ANSWER
                if not judged.completed:
                    row.problems.append(f"{case.id}: audit did not complete ({judged.error})")
                elif judged.silent and not absent_ok:
                    row.problems.append(f"{case.id}: changed the inventory, no coverage row")
                if judged.wrongly_pass:
                    row.problems.append(f"{case.id}: wrongly PASS {list(judged.wrongly_pass)}")
    patch.undo()
    return rows


def table(rows: dict[Fault, Row]) -> str:
    lines = [
        "| fault | faults injected | requests faulted | audits completed "
        "| inventory changed / shown in coverage | findings turned UNKNOWN "
        "| findings wrongly PASS |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    total = Row()
    for fault in Fault:
        row = rows.get(fault)
        if row is None:
            continue
        for name in ("injected", "requests", "completed", "changed", "reported", "unknown"):
            setattr(total, name, getattr(total, name) + getattr(row, name))
        total.wrongly_pass += row.wrongly_pass
        lines.append(_line(fault.value, row))
    lines.append(_line("**total**", total))
    return "\n".join(lines)


def _line(name: str, row: Row) -> str:
    return (
        f"| {name} | {row.injected} | {row.requests:,} | {row.completed} "
        f"| {row.changed} / {row.reported} | {row.unknown:,} "
        f"| {row.wrongly_pass} |"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--full", action="store_true", help="every operation of every service")
    parser.add_argument("--fault", action="append", choices=[f.value for f in Fault])
    parser.add_argument("--service", action="append", help="coverage name, e.g. s3 or lambda")
    parser.add_argument("--verbose", action="store_true", help="one line per case on stderr")
    args = parser.parse_args()
    # The audits must never read the developer's AWS configuration or credentials.
    for name in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL"):
        os.environ.pop(name, None)
    os.environ["AWS_CONFIG_FILE"] = os.environ["AWS_SHARED_CREDENTIALS_FILE"] = os.devnull
    # A collection that fails logs its traceback; the table is the output here.
    logging.disable(logging.CRITICAL)
    faults = [Fault(f) for f in args.fault] if args.fault else list(Fault)
    cases = fault_audit.matrix(None if args.full else PICKS, faults)
    if args.service:
        cases = [c for c in cases if c.service in args.service]
    started = time.perf_counter()
    rows = run(cases, args.verbose)
    print(table(rows))
    print(
        f"\n{len(cases)} cases ({'every operation' if args.full else 'picked operations'}), "
        f"{time.perf_counter() - started:.0f} s"
    )
    problems = [p for row in rows.values() for p in row.problems]
    for problem in problems:
        print(f"- {problem}")
    sys.exit(1 if problems else 0)


if __name__ == "__main__":
    main()
