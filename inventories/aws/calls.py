"""Classify botocore failures so a fact that could not be read stays distinguishable from absent."""

from __future__ import annotations

import logging
import threading
from collections import Counter
from collections.abc import Callable, Collection
from datetime import datetime
from typing import Any

from botocore.exceptions import ClientError, HTTPClientError
from botocore.exceptions import ConnectionError as BotoConnectionError
from botocore.parsers import ResponseParserError

from auditor.errors import ReadOnlyViolation
from auditor.inventories.aws.session import MalformedAnswerError, last_operation
from auditor.model import Outcome

log = logging.getLogger(__name__)

# Per-fact statuses stored in resource attrs (`<fact>_status`).
READ = "read"
NONE = "none"
DENIED = "denied"
ERROR = "error"
# The fact does not exist for this kind of resource (rotation of an AWS-managed key).
NOT_APPLICABLE = "not_applicable"
# Not asked because a fact it depends on could not be read; checks treat it as unknown.
SKIPPED = "skipped"
# The code of a fact whose answer lacked what the API always sends.
INCOMPLETE = "IncompleteAnswer"

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
# The service failed to answer, still after retries.
SERVER_ERROR_CODES = frozenset(
    {
        "InternalError",
        "InternalFailure",
        "InternalServerError",
        "InternalServiceError",
        "InternalServiceErrorException",
        "ServiceUnavailable",
        "ServiceUnavailableException",
        "ServiceFailure",
        "500",
        "502",
        "503",
        "504",
    }
)

# The network failures worth a coverage row rather than a traceback.
NETWORK_ERRORS: tuple[type[Exception], ...] = (BotoConnectionError, HTTPClientError)
# ...and answers botocore could not read (MalformedAnswerError among them).
READ_FAILURES: tuple[type[Exception], ...] = (*NETWORK_ERRORS, ResponseParserError)


def error_code(err: ClientError) -> str:
    """The AWS error code of `err` ("AccessDenied", "NoSuchBucketPolicy", ...)."""
    return str(err.response.get("Error", {}).get("Code", "Unknown"))


def fact_status(code: str, none_codes: Collection[str]) -> str:
    """Map an error code to a fact status: none, denied or error."""
    if code in none_codes:
        return NONE
    return DENIED if code in DENIED_CODES else ERROR


# Faults the per-fact reads of the current thread met since `reset_faults`, for the coverage
# row of the service collected there: (operation, code, outcome).
_faults = threading.local()


def reset_faults() -> None:
    _faults.met = []


def faults() -> list[tuple[str, str, Outcome]]:
    return list(getattr(_faults, "met", []))


def fault_outcome(code: str) -> Outcome | None:
    """The coverage outcome a failed per-fact read with `code` deserves.

    None for a code that says neither denied, throttled nor down: moto answers operations it
    does not implement so, and the fact's own status already says it could not be read.
    """
    if code in DENIED_CODES:
        return Outcome.DENIED
    if code in THROTTLED_CODES:
        return Outcome.THROTTLED
    if code in SERVER_ERROR_CODES:
        return Outcome.ERROR
    return None


def note_fault(operation: str, code: str, outcome: Outcome | None) -> None:
    """Remember a per-fact read that failed, for the coverage row of the service."""
    if outcome is not None:
        if not hasattr(_faults, "met"):
            reset_faults()
        _faults.met.append((operation, code, outcome))


def _failure_outcome(err: Exception) -> Outcome | None:
    # An unparsable *error* answer is moto's page for an operation it lacks; a 2xx one is not.
    if isinstance(err, ResponseParserError) and not isinstance(err, MalformedAnswerError):
        return None
    return Outcome.ERROR


def attempt(
    call: Callable[[], dict[str, Any]],
    none_codes: Collection[str] = (),
    required: Collection[str] = (),
) -> dict[str, Any]:
    """Run one read and capture it as `{"status": ..., "value": ...}` or `{"status", "code"}`.

    `required` names the fields ("Policy", "Policy.Content") every answer of the call
    carries; an answer without one is an error, not a read fact (a key policy answer without
    its policy is not "no policy").
    """
    try:
        value = call()
    except ClientError as err:
        code = error_code(err)
        status = fact_status(code, none_codes)
        if status != NONE:
            note_fault(err.operation_name, code, fault_outcome(code))
        return {"status": status, "code": code}
    except READ_FAILURES as err:
        code = type(err).__name__
        note_fault(last_operation(), code, _failure_outcome(err))
        return {"status": ERROR, "code": code}
    except (ReadOnlyViolation, AssertionError):
        # A refused write is a bug to stop at; so is a test stub's failed expectation.
        raise
    except Exception as err:
        # An answer botocore's parser or the read's own helper chokes on (a map entry without
        # its key, a null where a list belongs): this fact is unknown, the others still count.
        log.warning("%s: unusable answer", last_operation(), exc_info=True)
        code = type(err).__name__
        note_fault(last_operation(), code, Outcome.ERROR)
        return {"status": ERROR, "code": code}
    if any(_lookup(value, name) is None for name in required):
        return unusable(last_operation(), INCOMPLETE)
    return {"status": READ, "value": clean(value)}


def _lookup(value: Any, dotted: str) -> Any:
    for name in dotted.split("."):
        value = value.get(name) if isinstance(value, dict) else None
    return value


def require(answer: dict[str, Any], name: str, operation: str) -> Any:
    """`answer[name]`, a field every answer of `operation` carries; a MalformedAnswerError
    when it is missing, so that no caller takes the gap for a setting."""
    value = answer.get(name)
    if value is None:
        raise MalformedAnswerError(f"{operation}: answer without {name}")
    return value


def unparsable_policy(what: str) -> None:
    """Note a policy read but not understood: its rights are unknown, the row must say so."""
    note_fault(what, "UnparsablePolicy", Outcome.ERROR)


def unusable(operation: str, why: str) -> dict[str, Any]:
    """The fact of an answer that came back without what it always carries: an error."""
    note_fault(operation, why, Outcome.ERROR)
    return {"status": ERROR, "code": why}


def fault_detail(met: list[tuple[str, str, Outcome]]) -> tuple[Outcome, str]:
    """The outcome and the "faults: ..." detail for the faults a service's reads met."""
    outcomes = {outcome for _, _, outcome in met}
    worst = next(o for o in (Outcome.ERROR, Outcome.THROTTLED, Outcome.DENIED) if o in outcomes)
    counts = Counter((operation, code) for operation, code, _ in met)
    shown = [f"{op} {code}×{n}" for (op, code), n in counts.most_common(3)]
    if len(counts) > len(shown):
        shown.append(f"{len(counts) - len(shown)} more")
    return worst, "faults: " + ", ".join(shown)


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
