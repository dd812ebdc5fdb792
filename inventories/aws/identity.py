"""Who the audit runs as: STS GetCallerIdentity → account, caller ARN, partition."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from auditor.inventories.aws.calls import clean

log = logging.getLogger(__name__)

PERMISSIONS: tuple[str, ...] = ()  # sts:GetCallerIdentity needs no permission
OPERATIONS: dict[tuple[str, str], str] = {
    ("sts", "GetCallerIdentity"): "sts:GetCallerIdentity",
    # Which opt-in regions the account has enabled, when no --regions are given.
    ("ec2", "DescribeRegions"): "ec2:DescribeRegions",
}


@dataclass(frozen=True, slots=True)
class CallerIdentity:
    """The account and principal behind a target's credentials."""

    account: str
    arn: str
    partition: str


def get_caller_identity(sts: Any) -> dict[str, Any]:
    """Call STS GetCallerIdentity; errors propagate (the caller decides they are fatal)."""
    raw: dict[str, Any] = clean(sts.get_caller_identity())
    return raw


def transform_identity(raw: dict[str, Any], partition: str) -> CallerIdentity:
    """Build the identity; `partition` comes from the region, which botocore maps reliably.

    The ARN's partition is only cross-checked: emulators (and moto for GovCloud IAM) have been
    seen to answer `arn:aws:` in other partitions.
    """
    arn = str(raw["Arn"])
    arn_partition = arn.split(":")[1] if arn.count(":") >= 5 else None
    if arn_partition and arn_partition != partition:
        log.warning(
            "caller ARN %s names partition %s, region says %s", arn, arn_partition, partition
        )
    return CallerIdentity(account=str(raw["Account"]), arn=arn, partition=partition)
