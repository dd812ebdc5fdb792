"""Seed a synthetic estate of a chosen scale on a moto server (bench only).

One scale unit puts, in each of four regions, 10 buckets, 5 KMS keys, 10 EBS volumes with
a snapshot each, 5 SQS queues, 5 SNS topics, 5 DynamoDB tables and 5 log groups, plus 20
IAM roles per account: about 240 resources.  Scale 50 is about 12,000.
"""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import boto3

REGIONS = ("cn-north-1", "cn-northwest-1", "ap-east-1", "eu-central-1")
PER_REGION = {
    "buckets": 10,
    "keys": 5,
    "volumes": 10,
    "queues": 5,
    "topics": 5,
    "tables": 5,
    "log_groups": 5,
}
ROLES = 20
TAGS = {"data-class": "一般", "owner-dept": "dsj"}


def _client(endpoint: str, service: str, region: str) -> Any:
    return boto3.client(
        service,
        region_name=region,
        endpoint_url=endpoint,
        aws_access_key_id="bench",
        aws_secret_access_key="bench",  # noqa: S106 - moto accepts any key
    )


def _seed_region(endpoint: str, region: str, unit: int) -> int:
    s3, kms, ec2, sqs, sns, ddb, logs = (
        _client(endpoint, n, region) for n in ("s3", "kms", "ec2", "sqs", "sns", "dynamodb", "logs")
    )
    key_tags = [{"TagKey": k, "TagValue": v} for k, v in TAGS.items()]
    made = 0
    tag_list = [{"Key": k, "Value": v} for k, v in TAGS.items()]
    for i in range(PER_REGION["buckets"]):
        name = f"bench-{region}-{unit}-{i}"
        location = {"LocationConstraint": region}
        s3.create_bucket(Bucket=name, CreateBucketConfiguration=location)
        s3.put_bucket_tagging(Bucket=name, Tagging={"TagSet": tag_list})
        made += 1
    for i in range(PER_REGION["keys"]):
        kms.create_key(Description=f"bench {unit}-{i}", Tags=key_tags)
        made += 1
    for _ in range(PER_REGION["volumes"]):
        volume = ec2.create_volume(AvailabilityZone=f"{region}a", Size=8, Encrypted=True)
        ec2.create_snapshot(VolumeId=volume["VolumeId"])
        made += 2
    for i in range(PER_REGION["queues"]):
        sqs.create_queue(QueueName=f"bench-{unit}-{i}", tags=TAGS)
        sns.create_topic(Name=f"bench-{unit}-{i}", Tags=tag_list)
        made += 2
    for i in range(PER_REGION["tables"]):
        ddb.create_table(
            TableName=f"bench-{unit}-{i}",
            KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
        logs.create_log_group(logGroupName=f"/bench/{unit}/{i}", tags=TAGS)
        made += 2
    return made


def seed(endpoint: str, scale: int, workers: int = 4) -> int:
    """Create `scale` units of resources; return how many were made."""
    iam = _client(endpoint, "iam", REGIONS[0])
    trust = json.dumps({"Version": "2012-10-17", "Statement": []})
    made = 0
    for unit in range(scale):
        for i in range(ROLES):
            iam.create_role(RoleName=f"bench-{unit}-{i}", AssumeRolePolicyDocument=trust)
            made += 1
    with ThreadPoolExecutor(max_workers=workers) as pool:
        jobs = [pool.submit(_seed_region, endpoint, r, u) for u in range(scale) for r in REGIONS]
        made += sum(job.result() for job in jobs)
    return made
