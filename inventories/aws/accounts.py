"""Many accounts in one run: the organisation's member accounts through a read-only role.

The role is assumed by botocore's own credential machinery (the same that serves a profile
with `role_arn`), so credentials refresh themselves during a long audit and never pass
through govaudit's code, its database or its output.
"""

from __future__ import annotations

from functools import partial

import boto3
import botocore.session
from botocore.credentials import AssumeRoleCredentialFetcher, DeferredRefreshableCredentials

SESSION_NAME = "govaudit"


def role_arn(partition: str, account: str, role_name: str) -> str:
    """The ARN of the audit role in a member account, in the caller's partition."""
    return f"arn:{partition}:iam::{account}:role/{role_name}"


def assumed_session(
    base: boto3.Session,
    arn: str,
    home: str,
    endpoint_url: str | None = None,
    external_id: str | None = None,
) -> boto3.Session:
    """A session whose credentials come from assuming `arn` with the base credentials."""
    source = base.get_credentials()
    if source is None:
        raise ValueError("the base session has no credentials to assume a role with")
    extra: dict[str, str] = {"RoleSessionName": SESSION_NAME}
    if external_id:
        extra["ExternalId"] = external_id
    fetcher = AssumeRoleCredentialFetcher(
        client_creator=partial(base.client, region_name=home, endpoint_url=endpoint_url),
        source_credentials=source,
        role_arn=arn,
        extra_args=extra,
    )
    credentials = DeferredRefreshableCredentials(
        method="assume-role", refresh_using=fetcher.fetch_credentials
    )
    core = botocore.session.Session()
    # botocore has no public setter for ready-made credentials; this is the usual idiom.
    core._credentials = credentials
    return boto3.Session(botocore_session=core, region_name=home)
