"""Exceptions that end a command, each with the exit code the CLI documents."""

from __future__ import annotations


class AuditorError(Exception):
    """A failure the user can act on; printed as one `error: ...` line."""

    exit_code = 4


class PolicyError(AuditorError):
    """The policy file is missing, malformed or inconsistent."""

    exit_code = 2

    def __init__(self, message: str, errors: list[str] | None = None) -> None:
        super().__init__(message)
        # Every problem found, for `policy validate`; the message names the first.
        self.errors = errors or [message]


class UsageError(AuditorError):
    """A command was given options that cannot work together."""

    exit_code = 2


class CollectionError(AuditorError):
    """Nothing could be collected (no credentials, no reachable endpoint)."""

    exit_code = 3


class StoreError(AuditorError):
    """The database file is unreadable or holds no run to work on."""

    exit_code = 4


class ReadOnlyViolation(AuditorError):  # noqa: N818 - the name says what happened
    """An adapter tried an API call that could change the cloud."""

    exit_code = 4
