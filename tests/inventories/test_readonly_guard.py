"""The read-only guard, checked against every operation botocore knows for the services we use."""

from __future__ import annotations

from typing import Any

import boto3
import botocore.session
import pytest

from auditor.errors import ReadOnlyViolation
from auditor.inventories.aws.session import (
    NEVER_CALL,
    READ_EXCEPTIONS,
    READ_PREFIXES,
    is_read_only,
    make_client,
)
from tests.inventories.conftest import CN1

SERVICES = (
    "s3", "kms", "iam", "ec2", "rds", "dynamodb", "lambda", "sqs", "sns", "secretsmanager",
    "ecr", "cloudtrail", "logs", "backup", "organizations", "sts",
)  # fmt: skip
MUTATING_PREFIXES = (
    "Create", "Put", "Delete", "Update", "Modify", "Attach", "Detach", "Start", "Stop", "Enable",
    "Disable", "Tag", "Untag", "Set", "Add", "Remove", "Revoke", "Authorize", "Associate",
    "Disassociate", "Copy", "Restore", "Import", "Replicate", "Cancel", "Schedule", "Register",
    "Deregister", "Invoke", "Publish", "Send", "Receive", "Accept", "Reject", "Reset", "Run",
    "Terminate", "Reboot", "Purge", "Rotate", "Retire", "Upload",
)  # fmt: skip
# Reads of customer data or credentials that must stay refused whatever the prefixes say.
CUSTOMER_DATA_AND_CREDENTIALS = (
    "GetSecretValue", "BatchGetSecretValue", "GetObject", "GetSessionToken", "GetItem",
    "BatchGetItem", "GetLogEvents", "FilterLogEvents", "GetQueryResults", "GetPasswordData",
    "GetAuthorizationToken",
)  # fmt: skip


def operation_names(service: str) -> list[str]:
    return list(botocore.session.get_session().get_service_model(service).operation_names)


@pytest.mark.parametrize("service", SERVICES)
def test_every_operation_of_the_service(service):
    """No mutating verb is allowed; everything allowed is a read verb or a named exception."""
    names = operation_names(service)
    allowed = [name for name in names if is_read_only(name)]
    assert allowed, f"{service}: nothing is allowed, the table is wrong"
    assert [name for name in allowed if name.startswith(MUTATING_PREFIXES)] == []
    assert [
        name
        for name in allowed
        if not name.startswith(READ_PREFIXES) and name not in READ_EXCEPTIONS
    ] == []
    assert [name for name in allowed if name in NEVER_CALL] == []


def test_generate_credential_report_is_the_only_non_prefixed_iam_read():
    allowed = [n for n in operation_names("iam") if is_read_only(n)]
    assert [n for n in allowed if not n.startswith(READ_PREFIXES)] == ["GenerateCredentialReport"]


@pytest.mark.parametrize("operation", CUSTOMER_DATA_AND_CREDENTIALS)
def test_customer_data_and_credentials_are_refused(operation):
    assert not is_read_only(operation)


@pytest.mark.parametrize(
    "operation",
    [
        "GenerateCredentialReport",
        "GetCallerIdentity",
        "BatchGetImage",
        "LookupEvents",
        "HeadBucket",
    ],
)
def test_explicit_and_prefixed_reads_are_allowed(operation):
    assert is_read_only(operation)


def test_the_exceptions_are_exactly_the_two_named():
    assert {"GenerateCredentialReport", "GetCallerIdentity"} == READ_EXCEPTIONS


@pytest.mark.moto
def test_a_guarded_client_refuses_put_bucket_policy_before_sending(moto_endpoint):
    session = boto3.Session(region_name=CN1)
    plain = session.client("s3", region_name=CN1, endpoint_url=moto_endpoint)
    plain.create_bucket(Bucket="gov-src", CreateBucketConfiguration={"LocationConstraint": CN1})
    client = make_client(session, "s3", CN1, moto_endpoint)
    sent: list[str] = []

    def count(request: Any, **_: Any) -> None:
        sent.append(request.url)

    client.meta.events.register("before-send", count)
    client.get_bucket_location(Bucket="gov-src")  # the hook does see what is sent
    assert len(sent) == 1
    with pytest.raises(ReadOnlyViolation, match="PutBucketPolicy"):
        client.put_bucket_policy(Bucket="gov-src", Policy="{}")
    assert len(sent) == 1
    with pytest.raises(plain.exceptions.ClientError, match="NoSuchBucketPolicy"):
        plain.get_bucket_policy(Bucket="gov-src")
