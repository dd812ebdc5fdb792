"""Provider region → ISO-3166 jurisdiction, from the versioned table beside this module."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

import yaml

TABLE_FILE = "region_jurisdiction.yaml"


@dataclass(frozen=True, slots=True)
class PartitionInfo:
    """Who operates a partition and whose law reaches its operator."""

    name: str
    operator_jurisdiction: str | None
    parent_jurisdiction: str | None


@cache
def _table() -> dict[str, Any]:
    text = resources.files("auditor.inventories").joinpath(TABLE_FILE).read_text("utf-8")
    data = yaml.safe_load(text)
    assert isinstance(data, dict)
    return data


def table_version() -> str:
    """The version stamp of the region table, shown in reports as evidence."""
    return str(_table()["version"])


def jurisdiction_of(
    provider: str, region: str | None, overrides: Mapping[str, str] | None = None
) -> str | None:
    """Return the country code of `region` at `provider`, or None when it is not known.

    `overrides` come from the policy (`region_overrides`, keyed "provider:region") and win.

    >>> jurisdiction_of("aws", "cn-north-1")
    'CN'
    >>> jurisdiction_of("aliyun", "cn-hongkong")
    'HK'
    >>> jurisdiction_of("aws", "xx-nowhere-1") is None
    True
    """
    if region is None:
        return None
    if overrides and f"{provider}:{region}" in overrides:
        return overrides[f"{provider}:{region}"]
    # aws-cn, aws-us-gov, aws-eusc all share the AWS region table.
    family = "aws" if provider.startswith("aws") else provider
    row = _table()["providers"].get(family, {}).get(region)
    if not isinstance(row, dict):
        return None
    country = row.get("country")
    return str(country) if country else None


def partition_of_region(region: str) -> str | None:
    """The AWS partition a region belongs to, from the table (None if unknown)."""
    row = _table()["providers"]["aws"].get(region)
    return str(row["partition"]) if isinstance(row, dict) else None


def partition_info(partition: str) -> PartitionInfo | None:
    row = _table()["partitions"].get(partition)
    if not isinstance(row, dict):
        return None
    return PartitionInfo(
        name=str(row.get("name", partition)),
        operator_jurisdiction=row.get("operator_jurisdiction"),
        parent_jurisdiction=row.get("ultimate_parent_jurisdiction"),
    )


def known_regions(provider: str) -> list[str]:
    return sorted(_table()["providers"].get(provider, {}))
