"""One run covers every member account of an organisation, through the audit role."""

from __future__ import annotations

import boto3
import pytest
from botocore.exceptions import ClientError
from botocore.stub import Stubber

from auditor.inventories import aws as aws_adapter
from auditor.inventories.aws import AwsTarget, collect_aws
from auditor.inventories.aws.registry import services
from auditor.inventories.aws.session import make_client
from auditor.model import Coverage, Outcome, Resource

MANAGEMENT = "123456789012"  # moto's default account: the caller below


@pytest.fixture
def organisation(moto_endpoint: str) -> list[str]:
    org = boto3.client("organizations", region_name="cn-north-1", endpoint_url=moto_endpoint)
    org.create_organization(FeatureSet="ALL")
    members = []
    for name in ("民政局", "卫健委"):
        made = org.create_account(AccountName=name, Email=f"{name}@gov.example")
        members.append(made["CreateAccountStatus"]["AccountId"])
    # one member account holds a bucket, so its collection is visible
    assume = boto3.client("sts", region_name="cn-north-1", endpoint_url=moto_endpoint)
    creds = assume.assume_role(
        RoleArn=f"arn:aws-cn:iam::{members[0]}:role/GovauditAudit", RoleSessionName="seed"
    )["Credentials"]
    s3 = boto3.client(
        "s3",
        region_name="cn-north-1",
        endpoint_url=moto_endpoint,
        aws_access_key_id=creds["AccessKeyId"],
        aws_secret_access_key=creds["SecretAccessKey"],
        aws_session_token=creds["SessionToken"],
    )
    s3.create_bucket(
        Bucket="mz-member-data", CreateBucketConfiguration={"LocationConstraint": "cn-north-1"}
    )
    return members


@pytest.fixture(autouse=True)
def _few_services(monkeypatch: pytest.MonkeyPatch) -> None:
    chosen = tuple(s for s in services() if s.name in {"organizations", "s3"})
    monkeypatch.setattr(aws_adapter, "services", lambda: chosen)


def test_role_name_audits_every_member_account(moto_endpoint, organisation):
    base = boto3.Session(region_name="cn-north-1")
    target = AwsTarget(base, moto_endpoint, "management", role_name="GovauditAudit")
    records = list(collect_aws([target], ["cn-north-1"], workers=2))
    sts_rows = {c.account: c for c in records if isinstance(c, Coverage) and c.service == "sts"}
    assert set(sts_rows) == {MANAGEMENT, *organisation}
    for member in organisation:
        assert sts_rows[member].outcome is Outcome.OK
        assert f"arn:aws-cn:sts::{member}:assumed-role/GovauditAudit/" in sts_rows[member].detail
    buckets = {
        r.uid: r.account for r in records if isinstance(r, Resource) and r.kind == "object_store"
    }
    assert buckets == {"arn:aws-cn:s3:::mz-member-data": organisation[0]}


def test_members_cannot_be_listed_is_a_coverage_row(moto_endpoint):
    base = boto3.Session(region_name="cn-north-1")
    target = AwsTarget(base, moto_endpoint, "not-management", role_name="GovauditAudit")
    records = list(collect_aws([target], ["cn-north-1"], workers=1))
    rows = [c for c in records if isinstance(c, Coverage) and c.service == "organizations"]
    # Not in an organisation: the service answers (ok) and the fan-out finds no member.
    assert rows
    assert not [
        c
        for c in records
        if isinstance(c, Coverage) and c.service == "sts" and c.account != MANAGEMENT
    ]


def test_throttled_and_not_enabled_outcomes():
    from auditor.inventories.aws import _outcome

    def error(code: str) -> ClientError:
        return ClientError({"Error": {"Code": code, "Message": "m"}}, "ListKeys")

    cases = [
        ("ThrottlingException", "cn-north-1", "cn-north-1", Outcome.THROTTLED),
        ("OptInRequired", "ap-east-1", "us-east-1", Outcome.NOT_ENABLED),
        ("UnrecognizedClientException", "ap-east-1", "us-east-1", Outcome.NOT_ENABLED),
        ("UnrecognizedClientException", "us-east-1", "us-east-1", Outcome.ERROR),
        ("AccessDenied", "us-east-1", "us-east-1", Outcome.DENIED),
        ("InternalFailure", "us-east-1", "us-east-1", Outcome.ERROR),
    ]
    for code, region, home, expected in cases:
        assert _outcome(error(code), region, home)[0] is expected, code


def test_a_throttled_service_is_a_coverage_row_and_the_rest_goes_on(moto_endpoint, monkeypatch):
    from auditor.inventories.aws import collect_account
    from auditor.inventories.aws.identity import CallerIdentity
    from auditor.inventories.aws.session import Clients

    chosen = tuple(s for s in services() if s.name in {"kms", "s3"})
    monkeypatch.setattr(aws_adapter, "services", lambda: chosen)
    session = boto3.Session(region_name="cn-north-1")
    clients = Clients(session, moto_endpoint)
    kms = make_client(session, "kms", "cn-north-1", moto_endpoint)
    stub = Stubber(kms)
    stub.add_client_error(
        "list_keys", service_error_code="ThrottlingException", http_status_code=400
    )
    stub.activate()
    clients.put("kms", "cn-north-1", kms)
    who = CallerIdentity(MANAGEMENT, f"arn:aws-cn:iam::{MANAGEMENT}:user/a", "aws-cn")
    rows = {
        (c.service, c.region): c.outcome
        for c in collect_account(clients, who, "cn-north-1", ["cn-north-1"], workers=2)
        if isinstance(c, Coverage)
    }
    assert rows == {("kms", "cn-north-1"): Outcome.THROTTLED, ("s3", "global"): Outcome.OK}
