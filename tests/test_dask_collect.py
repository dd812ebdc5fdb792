"""`--scheduler`: collection handed to a local Dask cluster of worker processes, over HTTP to
a real moto server, lands in one run and audits exactly like a local collection."""

from __future__ import annotations

import json
import logging
import os
import pickle
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from auditor.cli import main
from auditor.dask_collect import plan
from auditor.demo import sample_policy_path
from auditor.inventories.aws import AwsTarget
from auditor.model import Coverage
from tests.test_end_to_end import EXPECTED_FAILURES, EXPECTED_UNKNOWN, outcomes, write_profiles

distributed = pytest.importorskip("distributed")
pytestmark = pytest.mark.moto

REGIONS = "cn-north-1,cn-northwest-1,ap-east-1,eu-central-1"


@pytest.fixture
def cluster(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """Two worker processes; they inherit this test's AWS configuration files."""
    monkeypatch.delenv("AWS_DEFAULT_REGION", raising=False)
    root = logging.getLogger()
    handlers = root.handlers[:]
    with distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
    ) as local:
        yield local
        # The CLI pointed logging at the test's captured stderr, closed by now; the cluster
        # logs its shutdown.
        root.handlers[:] = handlers


def test_audit_on_a_dask_cluster_finds_exactly_what_a_local_audit_finds(
    moto_endpoint: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], cluster: Any
) -> None:
    profiles = write_profiles(moto_endpoint)
    db, out = tmp_path / "audit.db", tmp_path / "report"
    args = ["audit", "--policy", str(sample_policy_path()), "--db", str(db), "--out", str(out)]
    for profile in profiles:
        args += ["--profile", profile]
    args += ["--regions", REGIONS, "--endpoint-url", moto_endpoint]
    args += ["--scheduler", cluster.scheduler_address]
    with distributed.Client(cluster) as watcher, distributed.get_task_stream(watcher) as stream:
        with pytest.raises(SystemExit) as info:
            main(args)
        ran = stream.data
    _, stderr = capsys.readouterr()
    assert info.value.code == 1, stderr

    findings = json.loads((out / "findings.json").read_text("utf-8"))
    assert outcomes(findings, db, "FAIL") == EXPECTED_FAILURES
    assert outcomes(findings, db, "UNKNOWN") == EXPECTED_UNKNOWN
    con = sqlite3.connect(db)
    assert con.execute("select count(*), min(status) from runs").fetchone() == (1, "complete")
    # Every account × region of its partition (two each), and each account's global
    # services, ran as a worker task.
    keys = {t["key"].rsplit(" ", 1)[0] for t in ran}
    accounts = ("111111111111", "222222222222", "333333333333")
    assert {f"govaudit {a} global" for a in accounts} <= keys
    assert len(keys) == len(accounts) * 3
    workers = {t["worker"] for t in ran}
    assert len(workers) == 2  # both worker processes took tasks
    # Each (account, region, service) was collected once: no task ran twice into the run.
    rows = con.execute("select account, region, service, count(*) from coverage group by 1, 2, 3")
    assert all(n == 1 for *_, n in rows)


def test_tasks_carry_no_secret(moto_endpoint: str) -> None:
    profiles = write_profiles(moto_endpoint)
    import boto3

    session = boto3.Session(profile_name=profiles[0])
    target = AwsTarget(session, endpoint_url=moto_endpoint, label=f"profile {profiles[0]}")
    planned = list(plan([target], ["cn-north-1", "cn-northwest-1"], workers=2))
    tasks = [t for item in planned if not isinstance(item, Coverage) for t in item]
    assert [t.region for t in tasks] == ["cn-north-1", "cn-northwest-1", None]
    assert all(t.profile == profiles[0] and t.role_arn is None for t in tasks)
    credentials = Path(os.environ["AWS_SHARED_CREDENTIALS_FILE"]).read_text()
    secrets = [line.split(" = ")[1] for line in credentials.splitlines() if "secret" in line]
    wire = pickle.dumps(tasks)
    assert secrets and not any(s.encode() in wire for s in secrets)


def test_an_unreachable_scheduler_is_one_clear_error(
    moto_endpoint: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    profiles = write_profiles(moto_endpoint)
    args = ["collect", "--policy", str(sample_policy_path()), "--db", str(tmp_path / "a.db")]
    args += ["--profile", profiles[0], "--regions", "cn-north-1"]
    args += ["--endpoint-url", moto_endpoint, "--scheduler", "tcp://127.0.0.1:9"]
    with pytest.raises(SystemExit) as info:
        main(args)
    _, stderr = capsys.readouterr()
    assert info.value.code == 2
    lines = [line for line in stderr.splitlines() if line.startswith("error:")]
    assert len(lines) == 1 and "Dask scheduler at tcp://127.0.0.1:9" in lines[0], stderr
    # The failed collection left its run incomplete, not complete with nothing in it.
    con = sqlite3.connect(tmp_path / "a.db")
    assert con.execute("select status from runs").fetchall() == [("incomplete",)]
