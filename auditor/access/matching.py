"""Matching of IAM policy elements: actions, resource ARNs, principals. Pure.

- Actions: case-insensitive, `*` and `?` (reuses `policy_rights.matches`).
- Resource ARNs ("IAM JSON policy elements: Resource"): case-sensitive; `*` and `?` work within
  each of the six colon-separated ARN segments; in the last segment (the resource, which may
  itself contain colons) `*` matches anything. A pattern that does not have six segments
  (`"*"`, `"arn:aws-cn:s3:*"`) is matched against the whole ARN with `*` crossing colons, as a
  `*` at the end of a segment "can expand to match beyond the colon boundaries".
- Principals ("IAM JSON policy elements: Principal"): see `match_principal`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import Enum
from functools import cache

from auditor.inventories.aws.policy_rights import glob_regex
from auditor.inventories.aws.policy_rights import matches as action_matches

__all__ = ["Grant", "Principal", "action_matches", "arn_matches", "excluded_by", "match_principal"]

_ACCOUNT_ID = re.compile(r"^\d{12}$")
_IAM_ARN = re.compile(r"^arn:(?P<p>[a-z0-9-]+):(?P<svc>iam|sts)::(?P<acct>\d{12}):(?P<rest>.+)$")


@cache
def _glob(pattern: str) -> re.Pattern[str]:
    # Only the resource segment may hold colons, so `*` crossing them changes nothing in the
    # five segments before it.
    return glob_regex(pattern)


def arn_matches(pattern: str, arn: str) -> bool:
    """Match a Resource (or ArnLike) pattern against an ARN, case-sensitively.

    >>> arn_matches("arn:aws-cn:s3:::bucket/*", "arn:aws-cn:s3:::bucket/a/b")
    True
    >>> arn_matches("arn:aws:iam::*:role/x", "arn:aws:iam::111111111111:role/x")
    True
    >>> arn_matches("arn:aws:s3:::Bucket/*", "arn:aws:s3:::bucket/k")
    False
    """
    if pattern == "*":
        return True
    wanted, actual = pattern.split(":", 5), arn.split(":", 5)
    if len(wanted) != 6 or len(actual) != 6:
        return _glob(pattern).fullmatch(arn) is not None
    heads = zip(wanted[:5], actual[:5], strict=True)
    if not all(_glob(w).fullmatch(a) for w, a in heads):
        return False
    return _glob(wanted[5]).fullmatch(actual[5]) is not None


class Grant(Enum):
    """How a resource-policy statement's Principal names the caller; decides what else must allow.

    DIRECT: the caller's own ARN (IAM user, role session, federated user, service, provider).
    ROLE: the role ARN of a role session (or the role itself).
    ACCOUNT: the caller's account (`123456789012` or `arn:<p>:iam::<acct>:root`) — delegation:
        the account's identity policies must also allow.
    ANYONE: `"*"` or `{"AWS": "*"}`.
    """

    DIRECT = "direct"
    ROLE = "role"
    ACCOUNT = "account"
    ANYONE = "anyone"


@dataclass(frozen=True, slots=True)
class Principal:
    """The caller, parsed from its ARN (or service / identity-provider name)."""

    arn: str
    account: str
    kind: str  # "root", "user", "role", "session", "federated-user", or "external"
    partition: str = ""
    role_name: str = ""  # for "role" and "session"

    @staticmethod
    def parse(arn: str, account: str) -> Principal:
        found = _IAM_ARN.match(arn)
        if not found:
            # Services ("s3.amazonaws.com") and identity providers have no IAM identity.
            return Principal(arn, account, "external")
        partition, rest = found["p"], found["rest"]
        acct = found["acct"]
        if found["svc"] == "iam":
            if rest == "root":
                return Principal(arn, acct, "root", partition)
            if rest.startswith("user/"):
                return Principal(arn, acct, "user", partition)
            if rest.startswith("role/"):
                return Principal(arn, acct, "role", partition, rest.rsplit("/", 1)[-1])
            return Principal(arn, acct, "external", partition)
        if rest.startswith("assumed-role/") and rest.count("/") >= 2:
            return Principal(arn, acct, "session", partition, rest.split("/")[1])
        if rest.startswith("federated-user/"):
            return Principal(arn, acct, "federated-user", partition)
        return Principal(arn, acct, "external", partition)

    @property
    def is_iam(self) -> bool:
        return self.kind != "external"

    @property
    def role_arn(self) -> str:
        """The role ARN of a role or role session (path unknown for sessions: AWS drops it)."""
        if self.kind == "role":
            return self.arn
        if self.kind == "session":
            return f"arn:{self.partition}:iam::{self.account}:role/{self.role_name}"
        return ""

    @property
    def is_service_linked_role(self) -> bool:
        # Service-linked roles live under the path /aws-service-role/ and are named
        # AWSServiceRoleFor…; a session ARN keeps only the name.
        return "/aws-service-role/" in self.arn or self.role_name.startswith("AWSServiceRoleFor")


def _entries(element: object) -> list[tuple[str, str]]:
    """(kind, value) pairs of a Principal/NotPrincipal element; a bare string is an AWS one."""
    if isinstance(element, str):
        return [("AWS", element)]
    if not isinstance(element, Mapping):
        raise ValueError('Principal must be "*" or an object such as {"AWS": [...]}')
    pairs: list[tuple[str, str]] = []
    for kind, values in element.items():
        listed = [values] if isinstance(values, str) else values
        if not isinstance(listed, Sequence) or not all(isinstance(v, str) for v in listed):
            raise ValueError(f"Principal {kind!r} must be a string or a list of strings")
        pairs.extend((str(kind), v) for v in listed)
    return pairs


def _account_named(value: str, principal: Principal) -> bool:
    if _ACCOUNT_ID.match(value):
        return value == principal.account
    found = _IAM_ARN.match(value)
    if not found or found["svc"] != "iam" or found["rest"] != "root":
        return False
    return found["acct"] == principal.account


def _same_role(value: str, principal: Principal) -> bool:
    # A role ARN in a policy names the role whatever its path; sessions carry only the name.
    found = _IAM_ARN.match(value)
    if not found or found["svc"] != "iam" or not found["rest"].startswith("role/"):
        return False
    return found["acct"] == principal.account and found["rest"].rsplit("/", 1)[-1] == (
        principal.role_name
    )


def _grant_of(kind: str, value: str, principal: Principal) -> Grant | None:
    if kind == "AWS":
        if value == "*":
            return Grant.ANYONE
        if not principal.is_iam:
            return None
        # Role first: a resource policy naming a role ARN is limited by the role's boundary
        # even when the caller is given as the role itself rather than a session.
        if principal.role_name and _same_role(value, principal):
            return Grant.ROLE
        if value == principal.arn:
            return Grant.DIRECT
        return Grant.ACCOUNT if _account_named(value, principal) else None
    if kind in ("Service", "Federated"):
        # Service principal names compare case-insensitively; "*" is not allowed here by AWS.
        return Grant.DIRECT if value.lower() == principal.arn.lower() else None
    return None  # CanonicalUser and unknown kinds never match an ARN-named caller


_STRENGTH = (Grant.DIRECT, Grant.ROLE, Grant.ANYONE, Grant.ACCOUNT)


def match_principal(element: object, principal: Principal) -> Grant | None:
    """The strongest way `element` (a Principal element) names the caller, or None.

    Strongest first: a direct grant needs nothing else in the same account; a role grant is
    still limited by the permissions boundary; an account grant delegates to identity policies.
    Raises ValueError when the element is malformed.
    """
    grants = {_grant_of(kind, value, principal) for kind, value in _entries(element)}
    return next((g for g in _STRENGTH if g in grants), None)


def excluded_by(element: object, principal: Principal) -> bool:
    """Whether a NotPrincipal element exempts the caller.

    "IAM JSON policy elements: NotPrincipal": AWS checks the caller and its account, so a
    caller is exempt only when its own ARN (a session's assumed-role ARN, not its role ARN)
    and its account are both listed; `"*"` exempts everyone. A service or provider is exempt
    when it is listed.
    """
    entries = _entries(element)
    if ("AWS", "*") in entries:
        return True
    grants = {_grant_of(kind, value, principal) for kind, value in entries}
    if not principal.is_iam or principal.kind == "root":
        return Grant.DIRECT in grants or Grant.ACCOUNT in grants
    own = Grant.ROLE if principal.kind == "role" else Grant.DIRECT
    return own in grants and Grant.ACCOUNT in grants
