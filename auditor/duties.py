"""Segregation of duties: which capabilities each principal holds, and which person acts as it.

A capability (key_admin, log_admin, system_admin, ... from the policy's
`roles.capability_actions`) is held when the principal's identity policies, evaluated with its
boundary and SCPs (`auditor.access`), allow at least one of its actions, on any resource or on
a resource an Allow statement names.  Wildcard actions in the policy (`iam:Put*Policy`) are
expanded through botocore's service models, so a capability is judged on real actions.

People are pseudonymous ids from the `accountable-person` tag of IAM users (tag key from the
policy).  A person acts as the users tagged with their id and as every role those users can
assume (following `can_assume`, `member_of` and `can_escalate` in the graph).  Pure functions.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from functools import cache

import botocore.session
import networkx as nx
from botocore.exceptions import UnknownServiceError

from auditor.access import Decision, PolicyDocumentError, Request, evaluate
from auditor.graph import _delegators
from auditor.inventories.aws.policy_rights import matches
from auditor.model import Kind, Resource
from auditor.rights import _Principal, _statements, _strings, inventory_of

log = logging.getLogger(__name__)

# IAM action prefixes whose botocore service name differs.
_BOTOCORE_NAMES = {
    "logs": "logs",
    "es": "es",
    "monitoring": "cloudwatch",
    "states": "stepfunctions",
}


@cache
def _operations(prefix: str) -> tuple[str, ...]:
    name = _BOTOCORE_NAMES.get(prefix, prefix)
    try:
        model = botocore.session.get_session().get_service_model(name)
    except UnknownServiceError:
        return ()
    return tuple(f"{prefix}:{op}" for op in model.operation_names)


@cache  # pure: the same patterns are expanded for every principal of the estate
def expand(pattern: str) -> tuple[str, ...]:
    """Concrete actions a pattern covers: itself when literal or of an unknown service.

    >>> "iam:PutRolePolicy" in expand("iam:Put*Policy")
    True
    >>> expand("kms:Decrypt")
    ('kms:Decrypt',)
    """
    if "*" not in pattern and "?" not in pattern:
        return (pattern,)
    prefix = pattern.split(":", 1)[0].lower()
    found = tuple(a for a in _operations(prefix) if matches(pattern, a))
    return found or (pattern,)


def _named(principal: _Principal, action: str) -> list[str]:
    """Resources the principal's Allow statements name for `action` (to evaluate on)."""
    resources: list[str] = []
    for doc in principal.identity:
        for statement in _statements(doc):
            if statement.get("Effect") != "Allow":
                continue
            acts = _strings(statement.get("Action"))
            if any(matches(a, action) for a in acts) or "NotAction" in statement:
                resources += [r for r in _strings(statement.get("Resource")) if r not in resources]
    return resources


def _holds(principal: _Principal, patterns: Iterable[str]) -> str | None:
    """Evidence that the principal holds one of the actions, or None."""
    for pattern in patterns:
        for action in expand(pattern):
            for resource in _named(principal, action):
                request = Request(
                    principal.uid, principal.account, action, resource, principal.account
                )
                result = evaluate(request, principal.policies(None))
                if result.decision in (Decision.ALLOW, Decision.CONDITIONAL):
                    maybe = " (conditionally)" if result.decision is Decision.CONDITIONAL else ""
                    because = "; ".join(result.reasons) or "identity policies"
                    return f"{principal.uid} may {action} on {resource}{maybe}: {because}"
    return None


def capabilities_of(
    resources: Mapping[str, Resource], capabilities: Mapping[str, tuple[str, ...]]
) -> dict[str, dict[str, str]]:
    """principal uid -> {capability: evidence} for every IAM user and role."""
    inventory = inventory_of(resources)
    held: dict[str, dict[str, str]] = {}
    for me in inventory.principals:
        try:
            principal = inventory.principal(me)
        except PolicyDocumentError as err:
            log.warning("capabilities of %s not evaluated, a policy is malformed: %s", me.uid, err)
            continue
        for name, patterns in capabilities.items():
            evidence = _holds(principal, patterns)
            if evidence is not None:
                held.setdefault(me.uid, {})[name] = evidence
    return held


def person_of(resource: Resource | None, tag: str) -> str | None:
    """The person an IAM user stands for (its `tag`), or None for anything else."""
    if resource is None or resource.kind is not Kind.USER:
        return None
    return resource.tags.get(tag) or None


def persons_of(
    graph: nx.MultiDiGraph[str], resources: Mapping[str, Resource], uid: str, tag: str
) -> dict[str, str]:
    """person id -> the user through which that person acts as `uid`."""
    found: dict[str, str] = {}
    for delegate, _ in _delegators(graph, uid) if uid in graph else [(uid, ())]:
        person = person_of(resources.get(delegate), tag)
        if person is not None:
            found.setdefault(person, delegate)
    return found
