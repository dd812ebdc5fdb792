"""Classify botocore failures so a fact that could not be read stays distinguishable from absent."""

from __future__ import annotations

from collections.abc import Callable, Collection
from datetime import datetime
from typing import Any

from botocore.exceptions import ClientError, HTTPClientError
from botocore.exceptions import ConnectionError as BotoConnectionError

# Per-fact statuses stored in resource attrs (`<fact>_status`).
READ = "read"
NONE = "none"
DENIED = "denied"
ERROR = "error"
# The fact does not exist for this kind of resource (rotation of an AWS-managed key).
NOT_APPLICABLE = "not_applicable"
# Not asked because a fact it depends on could not be read; checks treat it as unknown.
SKIPPED = "skipped"

DENIED_CODES = frozenset(
    {
        "AccessDenied",
        "AccessDeniedException",
        "UnauthorizedOperation",
        "UnauthorizedAccess",
        "AuthorizationError",
        "AllAccessDisabled",
    }
)
# What a region that is not enabled for the account answers (opt-in regions).
REGION_DISABLED_CODES = frozenset(
    {"UnrecognizedClientException", "InvalidClientTokenId", "AuthFailure"}
)
# Still throttled after botocore's adaptive retries gave up.
THROTTLED_CODES = frozenset(
    {
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "RequestLimitExceeded",
        "TooManyRequestsException",
        "RequestThrottled",
        "SlowDown",
        "ProvisionedThroughputExceededException",
    }
)
# The service is not turned on for the account (not subscribed, opted out, no detector).
NOT_ENABLED_CODES = frozenset(
    {"OptInRequired", "SubscriptionRequiredException", "InvalidAccessException"}
)
UNSUPPORTED_CODES = frozenset({"NotImplemented", "UnsupportedOperation", "NotImplementedError"})

# The network failures worth a coverage row rather than a traceback.
NETWORK_ERRORS: tuple[type[Exception], ...] = (BotoConnectionError, HTTPClientError)


def error_code(err: ClientError) -> str:
    """The AWS error code of `err` ("AccessDenied", "NoSuchBucketPolicy", ...)."""
    return str(err.response.get("Error", {}).get("Code", "Unknown"))


def fact_status(code: str, none_codes: Collection[str]) -> str:
    """Map an error code to a fact status: none, denied or error."""
    if code in none_codes:
        return NONE
    return DENIED if code in DENIED_CODES else ERROR


def attempt(call: Callable[[], dict[str, Any]], none_codes: Collection[str] = ()) -> dict[str, Any]:
    """Run one read and capture it as `{"status": ..., "value": ...}` or `{"status", "code"}`."""
    try:
        value = call()
    except ClientError as err:
        code = error_code(err)
        return {"status": fact_status(code, none_codes), "code": code}
    except NETWORK_ERRORS as err:
        return {"status": ERROR, "code": type(err).__name__}
    return {"status": READ, "value": clean(value)}


def clean(value: Any) -> Any:
    """Drop ResponseMetadata and turn datetimes into ISO strings, so raw dicts are JSON."""
    if isinstance(value, dict):
        return {k: clean(v) for k, v in value.items() if k != "ResponseMetadata"}
    if isinstance(value, list):
        return [clean(v) for v in value]
    if isinstance(value, datetime):
        return value.isoformat()
    return value


def paginate(client: Any, operation: str, key: str, **kwargs: Any) -> list[Any]:
    """Every item under `key` across all pages of `operation`."""
    items: list[Any] = []
    for page in client.get_paginator(operation).paginate(**kwargs):
        items.extend(page.get(key, []))
    return items
