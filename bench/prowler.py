"""Run Prowler (from its own virtual environment) against a moto server, measured (bench only).

    python bench/prowler.py --endpoint http://127.0.0.1:5000 \\
        --regions cn-north-1 cn-northwest-1 ap-east-1 eu-central-1 --services s3 kms sqs --count

Prowler is installed apart from govaudit (its pins clash with ours), see bench/prowler-notes.md:

    python3 -m venv ~/.cache/govaudit-bench/prowler-venv
    ~/.cache/govaudit-bench/prowler-venv/bin/pip install prowler

Prowler audits one partition per run (it takes the partition from sts:GetCallerIdentity), so
regions of several partitions (cn-* is aws-cn) are run one partition after the other and the
runs are added up: wall time and findings summed, peak RSS the largest of the runs.

Each run is a child process with `AWS_ENDPOINT_URL` pointing every boto3 client at the
endpoint, dummy credentials, and a HOME of its own (no ~/.aws of the user is read).  Wall
time is measured around the child; peak RSS is the child's own ``ru_maxrss`` from
`os.wait4` (as bench/probe.py's parent does).  Prowler's log timestamps split the wall time
into startup (imports, loading check and compliance metadata: no API call), scan (provider
set-up, service collection and checks, interleaved) and output (writing reports).

Exit codes of Prowler 5: 0 done with no FAIL finding, 3 done with at least one (unless
``--ignore-exit-code-3``; we pass it, so 3 does not happen), 1 an error (bad credentials,
unreachable endpoint, a crash), 2 bad arguments (argparse).  A check or service that raises
does not change the exit code (Prowler logs it at ERROR), so the log's ERROR lines are counted
too.  A run is ``ok`` with exit 0 (or 3) and an output file.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import re
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

DEFAULT_VENV = Path.home() / ".cache" / "govaudit-bench" / "prowler-venv"
# Prowler services over what bench/estate.py seeds and govaudit collects (CloudWatch Logs
# log groups are checked by Prowler's `cloudwatch` service).
SEEDED_SERVICES = ("s3", "kms", "ec2", "sqs", "sns", "dynamodb", "cloudwatch", "iam")
# The other services govaudit collects (nothing of them is seeded).
OTHER_SERVICES = (
    "cloudtrail",
    "backup",
    "ecr",
    "awslambda",
    "rds",
    "secretsmanager",
    "organizations",
    "vpc",
)
EXIT_CODES = {
    0: "completed, no FAIL finding",
    1: "error (credentials, endpoint, crash)",
    2: "bad arguments",
    3: "completed with FAIL findings",
}
# Log lines that open and close the scan (prowler/providers/aws/aws_provider.py, lib/outputs).
SCAN_STARTS = "Initializing AWS provider"
SCAN_ENDS = "Extracting audit statistics"


def prowler_bin(venv: Path = DEFAULT_VENV) -> Path:
    return Path(venv) / "bin" / "prowler"


def prowler_available(venv: Path = DEFAULT_VENV) -> bool:
    """Whether `venv` holds a runnable Prowler (an executable entry point and its python)."""
    python = Path(venv) / "bin" / "python"
    return os.access(prowler_bin(venv), os.X_OK) and os.access(python, os.X_OK)


def prowler_version(venv: Path = DEFAULT_VENV) -> str | None:
    """Prowler's and boto3's installed versions, e.g. ``"5.46.0 (boto3 1.40.61)"``."""
    if not prowler_available(venv):
        return None
    code = (
        "from importlib.metadata import version as v\n"
        "print(v('prowler'), '(boto3', v('boto3') + ')')"
    )
    done = subprocess.run(
        [str(Path(venv) / "bin" / "python"), "-c", code],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    if done.returncode != 0:
        return None
    return done.stdout.strip() or None


def partition_of(region: str) -> str:
    if region.startswith("cn-"):
        return "aws-cn"
    if region.startswith("us-gov-"):
        return "aws-us-gov"
    return "aws"


def by_partition(regions: list[str]) -> dict[str, list[str]]:
    groups: dict[str, list[str]] = {}
    for region in regions:
        groups.setdefault(partition_of(region), []).append(region)
    return groups


def count_findings(ocsf_file: Path) -> dict[str, Any]:
    """Findings of a Prowler json-ocsf file per status (PASS/FAIL/MANUAL/...), service, muted."""
    statuses: Counter[str] = Counter()
    services: Counter[str] = Counter()
    muted = 0
    findings = json.loads(ocsf_file.read_text(encoding="utf-8") or "[]")
    for finding in findings:
        # OCSF status_code holds PASS/FAIL/MANUAL; status is "New"/"Suppressed" (muted).
        statuses[str(finding.get("status_code", "UNKNOWN")).upper()] += 1
        group = finding.get("metadata", {}).get("event_code", "")
        services[group.split("_", 1)[0] or "?"] += 1
        muted += finding.get("status") == "Suppressed"
    return {
        "total": sum(statuses.values()),
        "by_status": dict(statuses.most_common()),
        "by_service": dict(services.most_common()),
        "muted": muted,
    }


def count_findings_csv(csv_file: Path) -> dict[str, Any]:
    """The same from Prowler's CSV output (``;``-separated, a STATUS column)."""
    statuses: Counter[str] = Counter()
    services: Counter[str] = Counter()
    with csv_file.open(encoding="utf-8", newline="") as handle:
        for row in csv.DictReader(handle, delimiter=";"):
            statuses[row.get("STATUS", "UNKNOWN").upper()] += 1
            services[row.get("SERVICE_NAME", "?")] += 1
    return {
        "total": sum(statuses.values()),
        "by_status": dict(statuses.most_common()),
        "by_service": dict(services.most_common()),
    }


# Prowler's --log-file writes one JSON object per entry, but a message can hold raw newlines
# (an HTML error page of moto), so entries are found by their opening, not parsed whole.
LOG_ENTRY = re.compile(
    r'^\{"timestamp": "([^"]+)", "filename": "([^"]*)", "level": "(\w+)", '
    r'"module": "[^"]*", "message": "(.*)'
)


def _log_times(log_file: Path) -> tuple[float | None, float | None, Counter[str]]:
    """Epoch seconds of the scan's first and last log lines, and the ERROR/CRITICAL lines
    counted by file and message (the region before " -- " dropped)."""
    start = end = None
    errors: Counter[str] = Counter()
    if not log_file.exists():
        return None, None, errors
    for line in log_file.read_text(encoding="utf-8", errors="replace").splitlines():
        entry = LOG_ENTRY.match(line)
        if entry is None:
            continue
        stamp_text, filename, level, message = entry.groups()
        stamp = datetime.strptime(stamp_text, "%Y-%m-%d %H:%M:%S,%f").timestamp()
        if start is None and message.startswith(SCAN_STARTS):
            start = stamp
        if message.startswith(SCAN_ENDS):
            end = stamp
        if level in ("ERROR", "CRITICAL"):
            text = message.split(" -- ", 1)[-1].removesuffix('"}')
            errors[f"{filename}: {text}"[:240]] += 1
    return start, end, errors


@dataclass(frozen=True)
class RunOptions:
    """How Prowler is run, beyond what it audits.

    - timeout: seconds after which a partition's run is killed (None: no limit);
    - retries: Prowler's boto3 retries (None: its default, 3 in standard mode, where each
      HTTP 500 of moto costs seconds of back-off; 0 sends every request once);
    - http_proxy: exported as HTTP_PROXY; give the counting proxy's URL so that S3 Control's
      account-prefixed host (``123456789012.127.0.0.1``, unresolvable) reaches moto too.
    """

    timeout: float | None = None
    retries: int | None = None
    http_proxy: str | None = None


def _env(endpoint_url: str, region: str, home: Path, options: RunOptions) -> dict[str, str]:
    home.mkdir(parents=True, exist_ok=True)
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(home),
        "LANG": "C.UTF-8",
        "AWS_ENDPOINT_URL": endpoint_url,
        "AWS_ACCESS_KEY_ID": "bench",
        "AWS_SECRET_ACCESS_KEY": "bench",  # moto accepts any key
        "AWS_DEFAULT_REGION": region,
        "AWS_REGION": region,
        # Never the user's profiles or SSO: the files do not exist.
        "AWS_CONFIG_FILE": str(home / "no-aws-config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(home / "no-aws-credentials"),
        "AWS_EC2_METADATA_DISABLED": "true",
    }
    if options.retries is not None:
        env["PROWLER_AWS_BOTO3_RETRIES_MAX_ATTEMPTS"] = str(options.retries)
    if options.http_proxy:
        env["HTTP_PROXY"] = env["http_proxy"] = options.http_proxy
    return env


def prowler_command(
    venv: Path, regions: list[str], services: list[str], out_dir: Path, name: str
) -> list[str]:
    return [
        str(prowler_bin(venv)),
        "aws",
        "--no-banner",
        "--no-color",
        "--ignore-exit-code-3",
        "--region",
        *regions,
        "--service",
        *services,
        "--output-formats",
        "json-ocsf",
        "--output-directory",
        str(out_dir),
        "--output-filename",
        name,
        "--log-level",
        "INFO",
        "--log-file",
        str(out_dir / f"{name}.log.jsonl"),
    ]


def _run_one(
    command: list[str], env: dict[str, str], out_dir: Path, name: str, timeout: float | None
) -> dict[str, Any]:
    stdout_path = out_dir / f"{name}.stdout.txt"
    ocsf = out_dir / f"{name}.ocsf.json"
    log_file = out_dir / f"{name}.log.jsonl"
    for stale in (ocsf, log_file):  # a failed run must not be credited with an older output
        stale.unlink(missing_ok=True)
    timed_out = False
    with stdout_path.open("wb") as stdout:
        started = time.time()
        child = subprocess.Popen(command, stdout=stdout, stderr=subprocess.STDOUT, env=env)
        if timeout is None:
            _, status, usage = os.wait4(child.pid, 0)
        else:
            while True:
                pid, status, usage = os.wait4(child.pid, os.WNOHANG)
                if pid:
                    break
                if time.time() > started + timeout:
                    child.kill()
                    timed_out = True
                    _, status, usage = os.wait4(child.pid, 0)
                    break
                time.sleep(0.05)
        ended = time.time()
    child.returncode = exit_code = os.waitstatus_to_exitcode(status)
    scan_start, scan_end, errors = _log_times(log_file)
    findings = count_findings(ocsf) if ocsf.exists() else None
    return {
        "regions": command[command.index("--region") + 1 : command.index("--service")],
        "command": command,
        "exit_code": exit_code,
        "exit_meaning": "timed out" if timed_out else EXIT_CODES.get(exit_code, "killed/other"),
        "ok": exit_code in (0, 3) and findings is not None and not timed_out,
        "wall_s": round(ended - started, 2),
        "startup_s": round(scan_start - started, 2) if scan_start else None,
        "scan_s": round(scan_end - scan_start, 2) if scan_start and scan_end else None,
        "output_s": round(ended - scan_end, 2) if scan_end else None,
        "peak_rss_mb": round(usage.ru_maxrss / 1024, 1),
        # CPU of Prowler itself (not moto's): what wall time hides on a loaded machine.
        "cpu_s": round(usage.ru_utime + usage.ru_stime, 2),
        "findings": findings,
        "log_errors": sum(errors.values()),
        "log_error_kinds": dict(errors.most_common(25)),
        "stdout_tail": stdout_path.read_text(encoding="utf-8", errors="replace")[-1500:],
    }


def run_prowler(
    endpoint_url: str,
    regions: list[str],
    services: list[str],
    out_dir: Path,
    venv: Path = DEFAULT_VENV,
    options: RunOptions = RunOptions(),  # frozen: a shared default is safe
) -> dict[str, Any]:
    """Run Prowler once per partition of `regions` over `services`; measured and summed.

    See `RunOptions` for timeout, retries and the HTTP proxy.

    Returns wall_s (sum), startup_s/scan_s/output_s (sums, None if a log lacked the mark),
    cpu_s (Prowler's own user + system CPU, summed), peak_rss_mb (max), findings (total,
    by_status and by_service, summed), ok (every run exited 0 or 3 with an output file), and
    the per-partition runs with their commands, exit codes and the ERROR lines of Prowler's
    log counted by kind (a check or service that crashed is logged, not fatal).
    """
    if not prowler_available(venv):
        raise FileNotFoundError(f"no Prowler in {venv}: see bench/prowler-notes.md")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    runs = {}
    for partition, group in by_partition(list(regions)).items():
        name = f"prowler-{partition}"
        command = prowler_command(Path(venv), group, list(services), out_dir, name)
        env = _env(endpoint_url, group[0], out_dir / "home", options)
        runs[partition] = _run_one(command, env, out_dir, name, options.timeout)
    statuses: Counter[str] = Counter()
    by_service: Counter[str] = Counter()
    for run in runs.values():
        if run["findings"]:
            statuses.update(run["findings"]["by_status"])
            by_service.update(run["findings"]["by_service"])

    def total(key: str) -> float | None:
        values = [run[key] for run in runs.values()]
        return None if None in values else round(sum(values), 2)

    return {
        "tool": "prowler",
        "version": prowler_version(Path(venv)),
        "services": list(services),
        "regions": list(regions),
        "retries": options.retries,
        "http_proxy": options.http_proxy,
        "ok": all(run["ok"] for run in runs.values()),
        "wall_s": total("wall_s"),
        "startup_s": total("startup_s"),
        "scan_s": total("scan_s"),
        "output_s": total("output_s"),
        "cpu_s": total("cpu_s"),
        "peak_rss_mb": max(run["peak_rss_mb"] for run in runs.values()),
        "findings": {
            "total": sum(statuses.values()),
            "by_status": dict(statuses.most_common()),
            "by_service": dict(by_service.most_common()),
        },
        "log_errors": sum(run["log_errors"] for run in runs.values()),
        "runs": runs,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--endpoint", required=True, help="moto server or counting proxy URL")
    parser.add_argument("--regions", nargs="+", required=True)
    parser.add_argument("--services", nargs="+", default=list(SEEDED_SERVICES))
    parser.add_argument("--out", type=Path, default=Path("prowler-bench-out"))
    parser.add_argument("--venv", type=Path, default=DEFAULT_VENV)
    parser.add_argument("--timeout", type=float, default=None, help="seconds per partition")
    parser.add_argument("--retries", type=int, default=None, help="boto3 retries (default 3)")
    parser.add_argument(
        "--count", action="store_true", help="put a counting proxy in front of --endpoint"
    )
    args = parser.parse_args()
    if not prowler_available(args.venv):
        sys.exit(f"no Prowler in {args.venv}: see bench/prowler-notes.md")
    endpoint, stop, proxy = args.endpoint, None, None
    if args.count:
        sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
        from bench.counting_proxy import start

        endpoint, counter, stop = start(args.endpoint)
        proxy = endpoint
    options = RunOptions(timeout=args.timeout, retries=args.retries, http_proxy=proxy)
    try:
        result = run_prowler(endpoint, args.regions, args.services, args.out, args.venv, options)
    finally:
        if stop is not None:
            stop()
    if args.count:
        result["api"] = counter.as_dict()
    print(json.dumps(result, indent=1, ensure_ascii=False))
    sys.exit(0 if result["ok"] else 1)


if __name__ == "__main__":
    main()
