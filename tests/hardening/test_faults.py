"""Fault injection per service: every audit completes, says what it could not read, and
never turns a FAIL or UNKNOWN of the fault-free audit into a PASS.

Each case injects one fault (see `Fault`) into every request of one operation, at botocore's
HTTP layer in front of the real moto server, then runs `pipeline.collect` and `pipeline.check`
with the sample policy (see `fault_audit` for how collections the fault cannot reach are
replayed from the fault-free audit).  This file runs the operations of `PICKS`; every
operation of every service, with the measured table of the README, is

    .venv/bin/python bench/faults.py --full
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import requests

from auditor.model import Outcome
from tests.hardening import fault_audit
from tests.hardening.fault_audit import Case
from tests.hardening.fault_injector import Fault, FaultInjector

pytestmark = pytest.mark.moto

# Per service: the listing every other read hangs on, and the per-resource reads the checks
# lean on most (policies, sharing, encryption, tags, key rotation).
PICKS: dict[str, tuple[str, ...]] = {
    "iam": ("GetAccountAuthorizationDetails", "ListAccessKeys"),
    "kms": ("ListKeys", "GetKeyPolicy", "GetKeyRotationStatus"),
    "organizations": ("ListAccounts", "DescribePolicy"),
    "backup": ("ListBackupVaults", "GetBackupPlan"),
    "cloudtrail": ("DescribeTrails", "GetEventSelectors"),
    "dynamodb": ("ListTables", "DescribeTable"),
    "ec2": ("DescribeVolumes", "DescribeSnapshotAttribute"),
    "ecr": ("DescribeRepositories", "GetRepositoryPolicy"),
    "lambda": ("ListFunctions", "GetPolicy"),
    "logs": ("DescribeLogGroups", "DescribeResourcePolicies"),
    "rds": ("DescribeDBInstances", "DescribeDBSnapshotAttributes"),
    "s3": ("ListBuckets", "GetBucketEncryption", "GetBucketAcl", "GetBucketPolicy"),
    "secretsmanager": ("ListSecrets", "GetResourcePolicy"),
    "sns": ("ListTopics", "GetTopicAttributes"),
    "sqs": ("ListQueues", "GetQueueAttributes"),
    "vpc": ("DescribeVpcs", "DescribeFlowLogs"),
}

# Operations whose answer stripped of its values is a legitimate answer: no client can tell.
ABSENCE_IS_AN_ANSWER: dict[tuple[str, str], str] = {
    ("s3", "GetBucketVersioning"): "an answer without Status is S3's 'never versioned'",
    # aws-cn buckets without a constraint are marked unread; in `aws` it means us-east-1.
    ("s3", "GetBucketLocation"): "an empty LocationConstraint is S3's 'us-east-1'",
}


@pytest.fixture(scope="module")
def audited(moto_server: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """The seeded estate and its fault-free audit, once for the module."""
    tmp = tmp_path_factory.mktemp("faults")
    with pytest.MonkeyPatch.context() as patch:
        # Module fixtures start before conftest's per-test isolation of AWS settings.
        for name in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_SESSION_TOKEN"):
            patch.delenv(name, raising=False)
        patch.setenv("AWS_CONFIG_FILE", str(tmp / "no-aws-config"))
        patch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp / "no-aws-credentials"))
        requests.post(f"{moto_server}/moto-api/reset", timeout=10)
        estate = fault_audit.seed(moto_server)
        base = fault_audit.baseline(estate, tmp / "baseline.db", patch)
        with fault_audit.fast_retries(patch):
            yield estate, base, tmp


def test_fault_free_audit_is_complete_and_reads_everything(audited: Any) -> None:
    _, base, _ = audited
    assert base.completed, base.error
    assert [c for c in base.coverage if c.outcome is not Outcome.OK] == []
    # The estate gives every picked operation something to answer.
    for case in fault_audit.matrix(PICKS, [Fault.DENIED]):
        assert base.live.callers(case.client, case.operation), case.id


def test_replayed_audit_equals_the_live_one(audited: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """Nothing injected, every collection live again: the same inventory and verdicts."""
    estate, base, tmp = audited
    idle = FaultInjector("sts", "NoSuchOperation", Fault.DENIED)
    everything = set(base.live.records)
    audit = fault_audit.faulted(estate, base, idle, everything, tmp / "idle.db", monkeypatch)
    assert audit.completed, audit.error
    assert audit.verdicts == base.verdicts
    assert not fault_audit.judge(base, audit, "").changed


@pytest.mark.parametrize("case", fault_audit.matrix(PICKS), ids=lambda c: c.id)
def test_fault(case: Case, audited: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    estate, base, tmp = audited
    live = base.live.callers(case.client, case.operation)
    injector = FaultInjector(case.client, case.operation, case.fault)
    audit = fault_audit.faulted(estate, base, injector, live, tmp / f"{case.id}.db", monkeypatch)
    judged = fault_audit.judge(base, audit, case.service)

    assert injector.injected, "the fault never fired"
    assert judged.completed, judged.error
    for row in judged.gaps:
        assert row[3] and "\n" not in row[3], row
    if (case.service, case.operation) not in ABSENCE_IS_AN_ANSWER:
        assert not judged.silent, "the fault changed the inventory and no coverage row says so"
    assert judged.wrongly_pass == (), "findings wrongly PASS"
