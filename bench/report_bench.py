"""Report size and first-screen time at scale (bench only; synthetic findings, no cloud).

    python bench/report_bench.py --findings 100000

Builds `findings` findings (about 10 % FAIL, 5 % UNKNOWN, the rest PASS, over the whole check
catalog), writes the report into a temporary folder, and opens report.html in headless
Chromium (Debian's, through Playwright), timing navigation to the first contentful paint and
to `load`.  Prints one JSON line; targets: first screen under 2 s, report.html under 20 MB.
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import tempfile
import time
from pathlib import Path

from auditor.checking import load_checks
from auditor.model import Coverage, Finding, Outcome, Severity, Status
from auditor.reports.estate import EstateFacts, Flow
from auditor.reports.render import ReportInput, write_report
from auditor.store import RunInfo

CHROMIUM = "/usr/bin/chromium"


def synthetic(n: int, seed: int = 11) -> ReportInput:
    rng = random.Random(seed)
    checks = [c.meta for c in load_checks()]
    regions = [("cn-north-1", "CN"), ("cn-northwest-1", "CN"), ("ap-east-1", "HK")]
    findings = []
    for i in range(n):
        meta = checks[i % len(checks)]
        roll = rng.random()
        status = Status.FAIL if roll < 0.10 else Status.UNKNOWN if roll < 0.15 else Status.PASS
        region, country = regions[i % len(regions)]
        uid = f"arn:aws-cn:s3:::bucket-{i:06d}"
        findings.append(
            Finding(
                check_id=meta.id,
                status=status,
                severity=meta.severity if status is Status.FAIL else Severity.INFO,
                resource=uid,
                message=f"bucket-{i:06d} (important) {meta.title.lower()}",
                title=meta.title,
                theme=meta.theme.value,
                account=f"{111111111111 + i % 40}",
                region=region,
                jurisdiction=country,
                evidence=(f"{uid} —replicates_to→ arn:aws:s3:::copy-{i} (eu-central-1, DE): rule",),
                remediation=meta.remediation,
                fix_command=meta.cli,
            )
        )
    run = RunInfo(
        id=1,
        started_at="2026-11-26T00:00:00+00:00",
        finished_at="2026-11-26T00:30:00+00:00",
        status="complete",
        tool_version="bench",
        policy_path="policy.yaml",
        policy_sha256="0" * 64,
        accounts=tuple(f"{111111111111 + a}" for a in range(40)),
        regions=tuple(r for r, _ in regions),
        checked_at="2026-11-26T00:31:00+00:00",
    )
    coverage = [
        Coverage("aws", f"{111111111111 + a}", r, s, Outcome.OK)
        for a in range(40)
        for r, _ in regions
        for s in ("s3", "kms", "iam")
    ]
    estate = EstateFacts(
        {"CN": n // 2, "HK": n // 4}, [Flow("HK", "DE", 300, ("replicates_to",), ())], {}
    )
    return ReportInput(
        run=run,
        findings=findings,
        coverage=coverage,
        checks=checks,
        organisation="bench",
        policy_path="policy.yaml",
        resource_counts={"object_store": n},
        region_table_version="bench",
        generated_at="2026-11-26T00:32:00+00:00",
        estate=estate,
    )


def first_screen(html: Path) -> tuple[float, float]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM)
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.goto(html.as_uri(), wait_until="load", timeout=120_000)
        fcp = page.evaluate(
            "performance.getEntriesByName('first-contentful-paint')[0]?.startTime ?? -1"
        )
        load = page.evaluate("performance.getEntriesByType('navigation')[0].loadEventEnd")
        browser.close()
    return fcp / 1000, load / 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--findings", type=int, default=100_000)
    args = parser.parse_args()
    data = synthetic(args.findings)
    with tempfile.TemporaryDirectory() as folder:
        started = time.perf_counter()
        paths = write_report(Path(folder), data)
        render_s = time.perf_counter() - started
        html = paths["html"]
        pages = sorted(Path(folder).glob("*.html"))
        fcp, load = first_screen(html)
        print(
            json.dumps(
                {
                    "bench": "report",
                    "findings": args.findings,
                    "render_s": round(render_s, 2),
                    "report_mb": round(html.stat().st_size / 1e6, 2),
                    "pages": len(pages),
                    "all_pages_mb": round(sum(p.stat().st_size for p in pages) / 1e6, 2),
                    "first_contentful_paint_s": round(fcp, 2),
                    "load_s": round(load, 2),
                    "peak_rss_mb": round(
                        resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1
                    ),
                }
            )
        )


if __name__ == "__main__":
    main()
