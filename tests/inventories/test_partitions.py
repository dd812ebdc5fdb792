"""Partitions are taken from the region, never assumed: aws-cn and the EU sovereign cloud."""

from __future__ import annotations

import boto3
import pytest

from auditor.inventories import aws as aws_adapter
from auditor.inventories.aws import AwsTarget, collect_aws
from auditor.inventories.aws.registry import services
from auditor.model import Coverage, Kind, Resource


@pytest.fixture(autouse=True)
def _storage_and_keys_only(monkeypatch: pytest.MonkeyPatch) -> None:
    chosen = tuple(s for s in services() if s.name in {"s3", "kms", "iam"})
    monkeypatch.setattr(aws_adapter, "services", lambda: chosen)


@pytest.mark.parametrize(
    ("region", "partition", "country"),
    [
        ("eusc-de-east-1", "aws-eusc", "DE"),
        ("cn-northwest-1", "aws-cn", "CN"),
        ("eu-central-1", "aws", "DE"),
    ],
)
def test_arns_and_jurisdictions_follow_the_partition(moto_endpoint, region, partition, country):
    s3 = boto3.client("s3", region_name=region, endpoint_url=moto_endpoint)
    s3.create_bucket(
        Bucket="sovereign-data", CreateBucketConfiguration={"LocationConstraint": region}
    )
    kms = boto3.client("kms", region_name=region, endpoint_url=moto_endpoint)
    key_arn = kms.create_key(Description="k")["KeyMetadata"]["Arn"]
    assert key_arn.startswith(f"arn:{partition}:kms:{region}:")

    # No --regions: the partition's own regions, from botocore, for the session's region.
    target = AwsTarget(boto3.Session(region_name=region), moto_endpoint, region)
    records = list(collect_aws([target], None, workers=2))

    sts = next(c for c in records if isinstance(c, Coverage) and c.service == "sts")
    assert sts.detail.startswith(f"arn:{partition}:")
    buckets = [r for r in records if isinstance(r, Resource) and r.kind is Kind.OBJECT_STORE]
    assert [(b.uid, b.partition, b.region, b.jurisdiction) for b in buckets] == [
        (f"arn:{partition}:s3:::sovereign-data", partition, region, country)
    ]
    keys = [r for r in records if isinstance(r, Resource) and r.kind is Kind.KEY]
    assert [(k.uid, k.jurisdiction) for k in keys] == [(key_arn, country)]
    regions = {c.region for c in records if isinstance(c, Coverage) and c.service == "kms"}
    expected = set(boto3.Session().get_available_regions("kms", partition_name=partition))
    skipped = {c.region for c in records if isinstance(c, Coverage) and c.service == "region"}
    assert regions | skipped == expected
    assert not [
        r for r in records if isinstance(r, Resource) and ":aws:" in r.uid and partition != "aws"
    ]
