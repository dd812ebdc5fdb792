"""bench/counting_proxy.py in front of a real moto server: forwards faithfully, counts right.

The bench compares govaudit's API calls with Prowler's through this proxy, so a request it
altered (S3 path-style, SigV4 Host, a form or JSON body) or named wrongly would skew both.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
import requests

from bench.counting_proxy import CallCounter, classify, start

pytestmark = pytest.mark.moto

REGION = "eu-central-1"
SCOPE = "Credential=AK/20260101/cn-north-1/{}/aws4_request"


@pytest.fixture
def proxy(moto_endpoint: str) -> Iterator[tuple[str, CallCounter]]:
    url, counter, stop = start(moto_endpoint)
    yield url, counter
    stop()


def client(service: str, endpoint: str) -> Any:
    return boto3.client(service, region_name=REGION, endpoint_url=endpoint)


def test_s3_path_style_round_trips_and_counts(proxy: tuple[str, CallCounter]) -> None:
    url, counter = proxy
    s3 = client("s3", url)
    location = {"LocationConstraint": REGION}
    s3.create_bucket(Bucket="bench-proxy", CreateBucketConfiguration=location)
    s3.put_bucket_tagging(Bucket="bench-proxy", Tagging={"TagSet": [{"Key": "k", "Value": "値"}]})
    body = bytes(range(256)) * 1000  # binary, 256 kB: a body the proxy must pass byte for byte
    s3.put_object(Bucket="bench-proxy", Key="a dir/o b.bin", Body=body)

    assert s3.get_object(Bucket="bench-proxy", Key="a dir/o b.bin")["Body"].read() == body
    tags = s3.get_bucket_tagging(Bucket="bench-proxy")["TagSet"]
    assert tags == [{"Key": "k", "Value": "値"}]
    head = s3.head_object(Bucket="bench-proxy", Key="a dir/o b.bin")
    assert head["ContentLength"] == len(body)
    assert s3.get_bucket_location(Bucket="bench-proxy")["LocationConstraint"] == REGION
    # The path-style request reached moto as a bucket, not as a virtual host of the proxy.
    assert [b["Name"] for b in s3.list_buckets()["Buckets"]] == ["bench-proxy"]

    assert counter.by_operation() == {
        "s3.CreateBucket": 1,
        "s3.PutBucketTagging": 1,
        "s3.PutObject": 1,
        "s3.GetObject": 1,
        "s3.GetBucketTagging": 1,
        "s3.HeadObject": 1,
        "s3.GetBucketLocation": 1,
        "s3.ListBuckets": 1,
    }
    assert counter.statuses() == {200: 7, 204: 1}  # PutBucketTagging answers 204


def test_query_and_json_apis_forward_and_count(
    proxy: tuple[str, CallCounter], moto_endpoint: str
) -> None:
    url, counter = proxy
    ec2 = client("ec2", url)
    volume = ec2.create_volume(AvailabilityZone=f"{REGION}a", Size=8, Encrypted=True)
    ddb = client("dynamodb", url)
    ddb.create_table(
        TableName="bench-proxy",
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    sns = client("sns", url)
    topic = sns.create_topic(Name="bench-proxy")["TopicArn"]
    sqs = client("sqs", url)
    queue = sqs.create_queue(QueueName="bench-proxy", tags={"owner": "dsj"})["QueueUrl"]

    # What went through the proxy is in moto, read back directly (and through the proxy).
    direct_ec2 = client("ec2", moto_endpoint)
    volumes = direct_ec2.describe_volumes()["Volumes"]
    assert [(v["VolumeId"], v["Encrypted"]) for v in volumes] == [(volume["VolumeId"], True)]
    assert client("dynamodb", moto_endpoint).list_tables()["TableNames"] == ["bench-proxy"]
    assert ddb.describe_table(TableName="bench-proxy")["Table"]["TableStatus"] == "ACTIVE"
    assert sns.get_topic_attributes(TopicArn=topic)["Attributes"]["TopicArn"] == topic
    assert sqs.list_queue_tags(QueueUrl=queue)["Tags"] == {"owner": "dsj"}
    missing = "does-not-exist"
    with pytest.raises(ddb.exceptions.ResourceNotFoundException):
        ddb.describe_table(TableName=missing)

    assert counter.by_operation() == {
        "ec2.CreateVolume": 1,
        "dynamodb.CreateTable": 1,
        "dynamodb.DescribeTable": 2,
        "sns.CreateTopic": 1,
        "sns.GetTopicAttributes": 1,
        "sqs.CreateQueue": 1,
        "sqs.ListQueueTags": 1,
    }
    assert counter.total() == 8
    assert counter.statuses() == {200: 7, 400: 1}
    assert counter.as_dict()["errors"] == 1


def test_forward_proxy_mode_reaches_s3_control(
    proxy: tuple[str, CallCounter], monkeypatch: pytest.MonkeyPatch
) -> None:
    """S3 Control's host `123456789012.127.0.0.1:port` does not resolve; as HTTP_PROXY the
    proxy receives the absolute URL and still forwards it to moto (how Prowler reaches it)."""
    url, counter = proxy
    monkeypatch.setenv("HTTP_PROXY", url)
    s3control = client("s3control", url)
    account = "123456789012"
    block = {"BlockPublicAcls": True, "IgnorePublicAcls": True}
    s3control.put_public_access_block(AccountId=account, PublicAccessBlockConfiguration=block)
    read = s3control.get_public_access_block(AccountId=account)["PublicAccessBlockConfiguration"]
    assert read["BlockPublicAcls"] is True
    assert read["BlockPublicPolicy"] is False
    assert counter.by_operation() == {
        "s3control.PutPublicAccessBlock": 1,
        "s3control.GetPublicAccessBlock": 1,
    }


def test_concurrent_clients_are_all_counted(proxy: tuple[str, CallCounter]) -> None:
    url, counter = proxy
    errors: list[BaseException] = []
    kms = client("kms", url)  # botocore clients are thread-safe once made

    def work() -> None:
        try:
            for _ in range(10):
                kms.list_keys()
        except BaseException as exc:  # reported by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert counter.by_operation() == {"kms.ListKeys": 80}


def test_proxy_answers_502_when_upstream_is_gone() -> None:
    url, counter, stop = start("http://127.0.0.1:9")  # discard port: nothing listens
    try:
        answer = requests.get(f"{url}/", timeout=10)
    finally:
        stop()
    assert answer.status_code == 502
    assert counter.statuses() == {502: 1}


@pytest.mark.parametrize(
    ("method", "target", "headers", "body", "expected"),
    [
        (
            "GET",
            "/b?tagging",
            {"authorization": SCOPE.format("s3")},
            b"",
            ("s3", "GetBucketTagging"),
        ),
        (
            "GET",
            "/b?lifecycle",
            {"authorization": SCOPE.format("s3")},
            b"",
            ("s3", "GetBucketLifecycleConfiguration"),  # not the deprecated GetBucketLifecycle
        ),
        (
            "PUT",
            "/b/k",
            {"authorization": SCOPE.format("s3"), "x-amz-copy-source": "a/b"},
            b"",
            ("s3", "CopyObject"),
        ),
        (
            "GET",
            "/v20180820/configuration/publicAccessBlock",
            {"authorization": SCOPE.format("s3"), "x-amz-account-id": "123456789012"},
            b"",
            ("s3control", "GetPublicAccessBlock"),
        ),
        (
            "POST",
            "/",
            {
                "authorization": SCOPE.format("iam"),
                "content-type": "application/x-www-form-urlencoded; charset=utf-8",
            },
            b"Action=ListRoles&Version=2010-05-08",
            ("iam", "ListRoles"),
        ),
        (
            "POST",
            "/service/GraniteServiceVersion20100801/operation/DescribeAlarms",
            {"authorization": SCOPE.format("monitoring")},
            b"",
            ("monitoring", "DescribeAlarms"),
        ),
        (
            "GET",
            "/?X-Amz-Credential=AK%2F20260101%2Fcn-north-1%2Fs3%2Faws4_request",
            {},
            b"",
            ("s3", "ListBuckets"),
        ),
        ("DELETE", "/nowhere", {"host": "127.0.0.1:1"}, b"", ("unknown", "DELETE ?")),
    ],
)
def test_classify(
    method: str, target: str, headers: dict[str, str], body: bytes, expected: tuple[str, str]
) -> None:
    assert classify(method, target, headers, body) == expected
