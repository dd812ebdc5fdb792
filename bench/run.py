"""Benchmark collection: seed a synthetic estate on a moto server, audit it, measure; and
Prowler on the same estate when it is installed.

    python bench/run.py --scale 1 --scale 10 --scale 50

For each scale: a fresh moto server (its own process, so its memory is not counted), the
estate of bench/estate.py, then one `collect` and `check` in a child process through a
counting proxy: wall time, CPU, peak RSS, API calls, resources and findings, printed as a
table and appended to bench/results.jsonl (`--results`).  When Prowler's venv exists
(bench/prowler-notes.md), Prowler audits the same estate and services through its own
counting proxy, and a side-by-side table with Prowler ÷ govaudit ratios follows.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any
from urllib.request import urlopen

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from counting_proxy import start as start_proxy  # noqa: E402 - bench scripts run anywhere
from estate import REGIONS, seed  # noqa: E402
from prowler import (  # noqa: E402
    OTHER_SERVICES,
    SEEDED_SERVICES,
    RunOptions,
    prowler_available,
    run_prowler,
)

POLICY = HERE.parent / "examples" / "sample-policy.yaml"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_moto() -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    # moto's public AMIs (and their snapshots) would otherwise read as the account's own for
    # any tool that does not filter them (Prowler does not): thousands of extra calls.
    env = {**os.environ, "MOTO_EC2_LOAD_DEFAULT_AMIS": "false"}
    server = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=env,
    )
    endpoint = f"http://127.0.0.1:{port}"
    for _ in range(100):
        try:
            with urlopen(f"{endpoint}/moto-api/", timeout=1):  # noqa: S310 - loopback only
                return server, endpoint
        except OSError:
            time.sleep(0.1)
    server.kill()
    raise SystemExit("moto server did not start")


def measure(endpoint: str, workers: int) -> dict[str, Any]:
    """govaudit's collect and check in a child process, through a counting proxy."""
    url, counter, stop = start_proxy(endpoint)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            db = str(Path(tmp) / "bench.db")
            probe = subprocess.Popen(
                [sys.executable, str(HERE / "probe.py"), url, db, str(POLICY), str(workers)],
                stdout=subprocess.PIPE,
            )
            assert probe.stdout is not None
            out = probe.stdout.read()
            # wait4 gives this child's own peak RSS and CPU; moto is another process.
            _, status, usage = os.wait4(probe.pid, 0)
            probe.returncode = os.waitstatus_to_exitcode(status)
            if probe.returncode != 0:
                raise SystemExit(f"probe failed with {probe.returncode}")
    finally:
        stop()
    result: dict[str, Any] = json.loads(out.decode().strip().splitlines()[-1])
    result["peak_rss_mb"] = round(usage.ru_maxrss / 1024, 1)
    result["cpu_s"] = round(usage.ru_utime + usage.ru_stime, 2)
    result["proxy_requests"] = counter.total()
    return result


def measure_prowler(endpoint: str, retries: int | None) -> dict[str, Any]:
    """Prowler over the same services and regions, through its own counting proxy."""
    url, counter, stop = start_proxy(endpoint)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            options = RunOptions(http_proxy=url, retries=retries, timeout=3600)
            services = [*SEEDED_SERVICES, *OTHER_SERVICES]
            result = run_prowler(url, list(REGIONS), services, Path(tmp), options=options)
    finally:
        stop()
    result.pop("runs", None)
    result["proxy_requests"] = counter.total()
    return result


def _ratio(theirs: Any, ours: Any) -> str:
    if not isinstance(theirs, int | float) or not isinstance(ours, int | float) or not ours:
        return "-"
    return f"{theirs / ours:.1f}x"


def side_by_side(ours: dict[str, Any], theirs: dict[str, Any]) -> str:
    """The two tools on one estate, and Prowler's figure divided by govaudit's."""
    our_findings = sum(ours["findings"].values())
    their_findings = theirs["findings"]["total"]
    rows = [
        ("collection wall s (Prowler: scan)", ours["wall_s"], theirs["scan_s"]),
        ("end to end wall s", round(ours["wall_s"] + ours["check_s"], 2), theirs["wall_s"]),
        ("CPU s", ours["cpu_s"], theirs["cpu_s"]),
        ("peak RSS MB", ours["peak_rss_mb"], theirs["peak_rss_mb"]),
        ("API requests", ours["proxy_requests"], theirs["proxy_requests"]),
        ("findings", our_findings, their_findings),
    ]
    lines = [f"{'':<36} {'govaudit':>10} {'Prowler':>10} {'ratio':>7}"]
    for name, mine, other in rows:
        lines.append(f"{name:<36} {mine!s:>10} {other!s:>10} {_ratio(other, mine):>7}")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=int, action="append", default=[])
    parser.add_argument("--workers", type=int, default=8)
    parser.add_argument(
        "--prowler",
        choices=["auto", "off"],
        default="auto",
        help="auto: also run Prowler when its venv exists (bench/prowler-notes.md)",
    )
    parser.add_argument(
        "--prowler-retries",
        type=int,
        default=0,
        help="Prowler's boto3 retries (0: every request once; moto answers some with 500)",
    )
    parser.add_argument("--results", type=Path, default=HERE / "results.jsonl")
    args = parser.parse_args()
    with_prowler = args.prowler == "auto" and prowler_available()
    print(f"{'scale':>5} {'seeded':>7} {'stored':>7} {'wall s':>7} {'calls':>6} "
          f"{'calls/res':>9} {'repeats':>7} {'RSS MB':>7} {'check s':>7} "
          f"{'findings':>8} {'RSS MB w/ check':>15}")  # fmt: skip
    for scale in args.scale or [1]:
        server, endpoint = start_moto()
        try:
            seeded = seed(endpoint, scale)
            result = measure(endpoint, args.workers)
            theirs = measure_prowler(endpoint, args.prowler_retries) if with_prowler else None
        finally:
            server.terminate()
            server.wait()
        result |= {"scale": scale, "seeded": seeded, "workers": args.workers}
        per = int(result["logical_calls"]) / max(1, int(result["resources"]))
        findings = sum(result["findings"].values())
        print(f"{scale:>5} {seeded:>7} {result['resources']:>7} {result['wall_s']:>7} "
              f"{result['logical_calls']:>6} {per:>9.2f} {result['repeated_calls']:>7} "
              f"{result['collect_peak_rss_mb']:>7} {result['check_s']:>7} {findings:>8} "
              f"{result['peak_rss_mb']:>15}")  # fmt: skip
        if theirs is not None:
            result["prowler"] = theirs
            print(f"\nscale {scale}: govaudit and Prowler {theirs['version']} on the same estate")
            print(side_by_side(result, theirs) + "\n")
        elif args.prowler == "auto":
            print("(Prowler not installed: see bench/prowler-notes.md to compare)")
        with args.results.open("a", encoding="utf-8") as log:
            log.write(json.dumps(result, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    main()
