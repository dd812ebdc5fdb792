"""A small literal audit of 云州市大数据管理局, with one finding that carries hostile markup."""

from __future__ import annotations

import pytest

from auditor.checking import CheckMeta, Theme
from auditor.model import Coverage, Finding, Outcome, Severity, Status
from auditor.reports.render import ReportInput
from auditor.store import RunInfo

# Each payload, if it ever ran, would set window.__pwned or open a dialog.
HOSTILE_SCRIPT = "<script>window.__pwned=1;alert(1)</script>"
HOSTILE_IMG = '"><img src=x onerror="window.__pwned=2;alert(2)">'
HOSTILE_SVG = '<svg onload="window.__pwned=3;alert(3)"></svg>'
HOSTILE_ATTR = "' autofocus onfocus='window.__pwned=4'"
HOSTILE_RESOURCE = f"arn:aws-cn:s3:::evil{HOSTILE_IMG}"

REPLICATION_HOP = (
    "arn:aws-cn:s3:::citizen-records —replicates_to→ "
    "arn:aws:s3:::citizen-records-backup (eu-central-1, DE)"
)

CHECKS = (
    CheckMeta(
        id="SOV-001",
        title="Classified store outside allowed jurisdictions 数据存放在境外",
        theme=Theme.SOVEREIGNTY,
        severity=Severity.CRITICAL,
        fails_when="a classified store sits in a region whose country is not allowed",
        frameworks=("PIPL 36/40", "DSL 31"),
        remediation="Migrate the data to an allowed region.",
    ),
    CheckMeta(
        id="FLOW-001",
        title="Replication leaves allowed jurisdictions 复制出境",
        theme=Theme.FLOW,
        severity=Severity.CRITICAL,
        fails_when="a replication path leaves the allowed jurisdictions",
        frameworks=("DSL 31",),
        remediation="Delete the replication rule.",
        cli="aws s3api delete-bucket-replication --bucket citizen-records",
    ),
    CheckMeta(
        id="KEY-006",
        title="Customer key without rotation 密钥未轮换",
        theme=Theme.KEY,
        severity=Severity.MEDIUM,
        fails_when="a symmetric customer key has rotation off",
        frameworks=("CIS5 3.6",),
        remediation="Enable key rotation.",
        cli="aws kms enable-key-rotation --key-id 1234abcd",
    ),
    CheckMeta(
        id="ACC-002",
        title="Grant to an account outside the organisation 授权给组织外账号",
        theme=Theme.ACCESS,
        severity=Severity.HIGH,
        fails_when="a resource policy grants an untrusted account",
        frameworks=("GB-C 8.2.4.5b",),
        remediation="Remove the grant.",
    ),
    CheckMeta(
        id="RSP-001",
        title="Resource without owner department 资源无责任部门",
        theme=Theme.RESPONSIBILITY,
        severity=Severity.MEDIUM,
        fails_when="no owner department after inheritance",
        frameworks=("DSL 27",),
        remediation="Tag the resource with its owner department.",
    ),
    CheckMeta(
        id="LOG-001",
        title="Audit trail stored abroad 审计日志存放境外",
        theme=Theme.LOG,
        severity=Severity.HIGH,
        fails_when="trail bucket outside allowed jurisdictions",
        frameworks=("SNC 19.2d",),
        remediation="Relocate the trail bucket.",
    ),
)


def sample_findings() -> list[Finding]:
    return [
        Finding(
            check_id="FLOW-001",
            status=Status.FAIL,
            severity=Severity.CRITICAL,
            resource="arn:aws-cn:s3:::citizen-records",
            message="存储桶 citizen-records 复制到境外 (DE): replicates to eu-central-1",
            title=CHECKS[1].title,
            theme="flow",
            account="111122223333",
            region="cn-north-1",
            jurisdiction="CN",
            evidence=(REPLICATION_HOP,),
            remediation="Delete the replication rule.",
            fix_command="aws s3api delete-bucket-replication --bucket citizen-records",
        ),
        Finding(
            check_id="SOV-001",
            status=Status.FAIL,
            severity=Severity.CRITICAL,
            resource="arn:aws:s3:::citizen-records-backup",
            message="人口库备份位于 eu-central-1 (DE)，不在允许的法域 CN 内",
            title=CHECKS[0].title,
            theme="sovereignty",
            account="111122223333",
            region="eu-central-1",
            jurisdiction="DE",
            evidence=("arn:aws:s3:::citizen-records-backup located in eu-central-1 (DE)",),
            remediation="Migrate the data to an allowed region.",
        ),
        Finding(
            check_id="ACC-002",
            status=Status.FAIL,
            severity=Severity.HIGH,
            resource=HOSTILE_RESOURCE,
            message=f"Bucket policy grants 999988887777 {HOSTILE_SCRIPT} {HOSTILE_ATTR}",
            title=CHECKS[3].title,
            theme="access",
            account="444455556666",
            region="cn-northwest-1",
            jurisdiction="CN",
            evidence=(
                f"arn:aws:iam::999988887777:root —can_read→ {HOSTILE_RESOURCE}",
                f"statement {HOSTILE_SVG}",
            ),
            remediation=f"Remove the grant {HOSTILE_SCRIPT}",
            fix_command=f"aws s3api delete-bucket-policy --bucket '{HOSTILE_IMG}'",
        ),
        Finding(
            check_id="KEY-006",
            status=Status.FAIL,
            severity=Severity.MEDIUM,
            resource="arn:aws-cn:kms:cn-north-1:111122223333:key/1234abcd",
            message="密钥未开启自动轮换 rotation is off",
            title=CHECKS[2].title,
            theme="key",
            account="111122223333",
            region="cn-north-1",
            jurisdiction="CN",
            fix_command="aws kms enable-key-rotation --key-id 1234abcd",
        ),
        Finding(
            check_id="RSP-001",
            status=Status.UNKNOWN,
            severity=Severity.MEDIUM,
            resource="arn:aws-cn:s3:::open-data",
            message="标签不可读 tags could not be read (AccessDenied)",
            title=CHECKS[4].title,
            theme="responsibility",
            account="444455556666",
            region="cn-northwest-1",
        ),
        Finding(
            check_id="LOG-001",
            status=Status.PASS,
            severity=Severity.HIGH,
            resource="arn:aws-cn:s3:::trail-archive",
            message="审计日志存放于 cn-north-1 (CN)",
            title=CHECKS[5].title,
            theme="log",
            account="111122223333",
            region="cn-north-1",
            jurisdiction="CN",
        ),
    ]


def sample_coverage() -> list[Coverage]:
    return [
        Coverage("aws", "111122223333", "cn-north-1", "s3", Outcome.OK),
        Coverage("aws", "111122223333", "cn-north-1", "kms", Outcome.OK),
        Coverage(
            "aws",
            "444455556666",
            "cn-northwest-1",
            "s3",
            Outcome.DENIED,
            f"AccessDenied on GetBucketTagging {HOSTILE_SCRIPT}",
        ),
        Coverage("aws", "444455556666", "cn-northwest-1", "backup", Outcome.UNSUPPORTED),
    ]


def sample_run(status: str = "complete") -> RunInfo:
    return RunInfo(
        id=7,
        started_at="2025-01-15T02:00:00+00:00",
        finished_at="2025-01-15T02:03:41+00:00" if status == "complete" else None,
        status=status,
        tool_version="0.1.0",
        policy_path="policies/yunzhou.yaml",
        policy_sha256="9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
        accounts=("111122223333", "444455556666"),
        regions=("cn-north-1", "cn-northwest-1", "eu-central-1"),
        checked_at="2025-01-15T02:03:50+00:00",
    )


def sample_input(run: RunInfo | None = None) -> ReportInput:
    return ReportInput(
        run=run or sample_run(),
        findings=sample_findings(),
        coverage=sample_coverage(),
        checks=CHECKS,
        organisation="云州市大数据管理局",
        policy_path="policies/yunzhou.yaml",
        resource_counts={"object_store": 9, "key": 4, "role": 6},
        region_table_version="2025.01",
        generated_at="2025-01-15T02:04:00+00:00",
    )


@pytest.fixture
def report_input() -> ReportInput:
    return sample_input()


@pytest.fixture
def incomplete_input() -> ReportInput:
    return sample_input(sample_run(status="incomplete"))


@pytest.fixture
def hostile_payloads() -> tuple[str, ...]:
    """Markup that the sample findings and coverage carry in their cloud-sourced fields."""
    return (HOSTILE_SCRIPT, HOSTILE_IMG, HOSTILE_SVG, HOSTILE_ATTR)


@pytest.fixture
def replication_hop() -> str:
    return REPLICATION_HOP
