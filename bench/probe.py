"""Child process of the bench: one collection, measured from inside (bench only).

Prints one JSON line: wall time, logical API calls (botocore operations), HTTP requests
(retries included), logical calls repeated with identical parameters, resources stored.
"""

from __future__ import annotations

import json
import resource
import sqlite3
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import boto3

from auditor.inventories.aws import AwsTarget
from auditor.pipeline import AwsScope, check, collect
from auditor.policy import load_policy
from auditor.store import Store

CHINA = ["cn-north-1", "cn-northwest-1"]
COMMERCIAL = ["ap-east-1", "eu-central-1"]


def main(endpoint: str, db_path: str, policy_path: str, workers: int) -> None:
    # Calls by a hash of (operation, parameters): a string per call would weigh tens of MB
    # at 50k resources and count against govaudit's peak RSS.  A call's text is kept only
    # once it repeats.
    calls: Counter[int] = Counter()
    repeated_text: dict[int, str] = {}
    by_operation: Counter[str] = Counter()

    def record(model: Any, params: Any, **_: Any) -> None:
        operation = f"{model.service_model.service_name}.{model.name}"
        body = json.dumps(params, sort_keys=True, default=str)
        key = hash((operation, body))
        calls[key] += 1
        by_operation[operation] += 1
        if calls[key] == 2:
            repeated_text[key] = f"{operation} {body}"

    scopes = []
    for regions in (CHINA, COMMERCIAL):
        session = boto3.Session(
            aws_access_key_id="bench",
            aws_secret_access_key="bench",  # noqa: S106 - moto accepts any key
            region_name=regions[0],
        )
        session.events.register("before-call", record)
        target = AwsTarget(session, endpoint_url=endpoint, label=regions[0])
        scopes.append(AwsScope(targets=[target], regions=regions, workers=workers))

    store = Store(Path(db_path))
    policy = load_policy(Path(policy_path))
    started = time.perf_counter()
    run = collect(store, policy, scopes)
    wall = time.perf_counter() - started
    # Peak RSS of the collection alone (the check stage below holds the graph and findings).
    collect_rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    # The check stage too, timed apart: the findings are what both tools are compared on.
    started = time.perf_counter()
    findings = check(store, policy, run)
    check_wall = time.perf_counter() - started
    con = sqlite3.connect(db_path)
    count = "select count(*) from resources where run_id = ?"
    resources = con.execute(count, [run.id]).fetchone()[0]
    total = "select sum(api_calls) from coverage where run_id = ?"
    requests = con.execute(total, [run.id]).fetchone()[0]
    print(
        json.dumps(
            {
                "wall_s": round(wall, 2),
                "check_s": round(check_wall, 2),
                "collect_peak_rss_mb": round(collect_rss_mb, 1),
                "findings": dict(Counter(f.status.value for f in findings).most_common()),
                "resources": resources,
                "logical_calls": sum(calls.values()),
                "http_requests": requests or 0,
                "repeated_calls": sum(n - 1 for n in calls.values() if n > 1),
                "repeated": sorted(text[:160] for text in repeated_text.values())[:10],
                "calls_by_operation": dict(by_operation.most_common()),
            }
        )
    )


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]))
