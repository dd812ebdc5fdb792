"""The region table must know every region botocore knows, in the right partition."""

from __future__ import annotations

import botocore.session
import pytest

from auditor.inventories.regions import (
    jurisdiction_of,
    known_regions,
    partition_info,
    partition_of_region,
    table_version,
)


def botocore_regions() -> dict[str, str]:
    data = botocore.session.get_session().get_data("endpoints")
    return {region: p["partition"] for p in data["partitions"] for region in p["regions"]}


def test_every_botocore_region_is_in_the_table_with_its_partition():
    regions = botocore_regions()
    missing = sorted(set(regions) - set(known_regions("aws")))
    assert not missing, f"new AWS regions: add them to region_jurisdiction.yaml: {missing}"
    wrong = {
        r: (partition_of_region(r), p) for r, p in regions.items() if partition_of_region(r) != p
    }
    assert not wrong


def test_every_partition_has_operator_and_parent_jurisdiction_rows():
    data = botocore.session.get_session().get_data("endpoints")
    for partition in (p["partition"] for p in data["partitions"]):
        info = partition_info(partition)
        assert info is not None, partition
        assert info.parent_jurisdiction, partition


@pytest.mark.parametrize(
    ("provider", "region", "country"),
    [
        ("aws", "cn-north-1", "CN"),
        ("aws-cn", "cn-northwest-1", "CN"),
        ("aws", "ap-east-1", "HK"),  # Hong Kong is not mainland China
        ("aws", "ap-east-2", "TW"),
        ("aws", "eu-central-1", "DE"),
        ("aws", "us-gov-west-1", "US"),
        ("aws", "eusc-de-east-1", "DE"),
        ("aliyun", "cn-hongkong", "HK"),  # never by prefix
        ("aliyun", "cn-beijing", "CN"),
        ("aws", "cn-moon-1", None),  # an unknown region stays unknown
        ("nocloud", "cn-north-1", None),
    ],
)
def test_countries(provider, region, country):
    assert jurisdiction_of(provider, region) == country


def test_operators_and_parents():
    eusc = partition_info("aws-eusc")
    assert eusc is not None
    assert (eusc.operator_jurisdiction, eusc.parent_jurisdiction) == ("DE", "US")
    china = partition_info("aws-cn")
    assert china is not None
    assert (china.operator_jurisdiction, china.parent_jurisdiction) == ("CN", "CN")


def test_table_is_versioned():
    assert table_version()
