"""Privilege escalation in IAM: who can make themselves, or become, another principal. Pure.

Each technique is a row of data: the IAM actions a principal needs, and on what. Requests are
evaluated with `auditor.access.evaluate` under the principal's full policy set (identity ∩
boundary ∩ SCP/RCP levels), exactly as `auditor.rights` evaluates data rights; a technique
counts when every action it needs is ALLOW (CONDITIONAL ones give an edge that says so).
Each escalation is a `can_escalate` edge from the principal to the principal it can become
(itself, when it can widen its own policies), which `who_can` follows like `can_assume`.

Techniques (as catalogued by Rhino Security Labs and PMapper):
- rewrite its own policies: iam:CreatePolicyVersion on an attached customer policy;
  iam:PutUserPolicy / iam:AttachUserPolicy on itself (users), iam:PutRolePolicy /
  iam:AttachRolePolicy on itself (roles), iam:PutGroupPolicy / iam:AttachGroupPolicy on a
  group it is in;
- become another user: iam:CreateAccessKey, iam:CreateLoginProfile or
  iam:UpdateLoginProfile on that user; iam:AddUserToGroup puts itself in any group;
- become a role: iam:UpdateAssumeRolePolicy on it; iam:PassRole on it together with a service
  that runs code as the role (ec2:RunInstances, lambda:CreateFunction + lambda:InvokeFunction,
  cloudformation:CreateStack, glue:CreateDevEndpoint).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from dataclasses import dataclass

from auditor.access import Decision, PolicyDocumentError, Request, evaluate
from auditor.model import Edge, Kind, Relation, Resource
from auditor.rights import (  # one policy-set builder for rights, escalation and duties
    Policy,
    _account,
    _Principal,
    _statements,
    _strings,
    inventory_of,
)

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Technique:
    name: str
    # Every action is needed; "{target}" is the request resource, "*" means any resource.
    actions: tuple[tuple[str, str], ...]


SELF_USER = (
    Technique("put an inline policy on itself", (("iam:PutUserPolicy", "{target}"),)),
    Technique("attach a managed policy to itself", (("iam:AttachUserPolicy", "{target}"),)),
)
SELF_ROLE = (
    Technique("put an inline policy on itself", (("iam:PutRolePolicy", "{target}"),)),
    Technique("attach a managed policy to itself", (("iam:AttachRolePolicy", "{target}"),)),
)
OTHER_USER = (
    Technique("create an access key for it", (("iam:CreateAccessKey", "{target}"),)),
    Technique("set its console password", (("iam:CreateLoginProfile", "{target}"),)),
    Technique("reset its console password", (("iam:UpdateLoginProfile", "{target}"),)),
)
OTHER_ROLE = (
    Technique("rewrite its trust policy", (("iam:UpdateAssumeRolePolicy", "{target}"),)),
    Technique(
        "pass it to an EC2 instance it starts",
        (("iam:PassRole", "{target}"), ("ec2:RunInstances", "*")),
    ),
    Technique(
        "pass it to a Lambda function it creates and invokes",
        (
            ("iam:PassRole", "{target}"),
            ("lambda:CreateFunction", "*"),
            ("lambda:InvokeFunction", "*"),
        ),
    ),
    Technique(
        "pass it to a CloudFormation stack",
        (("iam:PassRole", "{target}"), ("cloudformation:CreateStack", "*")),
    ),
    Technique(
        "pass it to a Glue development endpoint",
        (("iam:PassRole", "{target}"), ("glue:CreateDevEndpoint", "*")),
    ),
)
REWRITE_POLICY = Technique(
    "write a new default version of a policy attached to it",
    (("iam:CreatePolicyVersion", "{target}"),),
)


def _decide(principal: _Principal, technique: Technique, target: str) -> tuple[Decision, list[str]]:
    """ALLOW when every action is allowed; CONDITIONAL when some only may be."""
    pending: list[str] = []
    conditional = False
    for action, resource in technique.actions:
        arn = target if resource == "{target}" else "*"
        request = Request(principal.uid, principal.account, action, arn, principal.account)
        result = evaluate(request, principal.policies(None))
        if result.decision is Decision.CONDITIONAL:
            conditional = True
            pending.extend(result.pending)
        elif result.decision is not Decision.ALLOW:
            return Decision.IMPLICIT_DENY, []
    return (Decision.CONDITIONAL if conditional else Decision.ALLOW), pending


def _edge(principal: _Principal, target: str, technique: Technique, pending: list[str]) -> Edge:
    actions = " + ".join(
        f"{a} on {target if r == '{target}' else '*'}" for a, r in technique.actions
    )
    evidence = f"{principal.uid} can {technique.name}: identity policies allow {actions}"
    conditions = {"pending": sorted(set(pending))} if pending else {}
    return Edge(principal.uid, target, Relation.CAN_ESCALATE, evidence, conditions)


def _attempts(
    me: Resource, peers: list[Resource], policies: list[str]
) -> Iterator[tuple[Technique, str]]:
    own = SELF_USER if me.kind is Kind.USER else SELF_ROLE
    yield from ((t, me.uid) for t in own)
    attached = {str(a) for a in me.attrs.get("attached_policies") or []}
    yield from ((REWRITE_POLICY, arn) for arn in sorted(attached & set(policies)))
    for other in peers:
        if other.uid == me.uid:
            continue
        techniques = OTHER_USER if other.kind is Kind.USER else OTHER_ROLE
        yield from ((t, other.uid) for t in techniques)


def _may_touch_iam(document: Policy) -> bool:
    """Cheap prefilter: some Allow statement names an iam: action, `*`, or uses NotAction."""
    for statement in _statements(document):
        if statement.get("Effect") != "Allow":
            continue
        if "NotAction" in statement:
            return True
        for action in _strings(statement.get("Action")):
            if action == "*" or action.lower().startswith(("iam:", "iam*")):
                return True
    return False


def escalation_edges(resources: Mapping[str, Resource]) -> Iterator[Edge]:
    """`can_escalate` edges for every IAM user and role, within its own account."""
    inventory = inventory_of(resources)
    customer_policies = [
        r.uid for r in inventory.managed.values() if not r.attrs.get("aws_managed")
    ]
    by_account: dict[str, list[Resource]] = {}
    for r in inventory.principals:
        by_account.setdefault(_account(r) or "", []).append(r)
    for me in inventory.principals:
        try:
            principal = inventory.principal(me)
        except PolicyDocumentError as err:
            log.warning("escalation of %s not evaluated, a policy is malformed: %s", me.uid, err)
            continue
        if not any(_may_touch_iam(doc) for doc in principal.identity):
            continue  # every technique needs an iam: action; most principals have none
        peers = by_account.get(principal.account, [])
        done: set[str] = set()
        for technique, target in _attempts(me, peers, customer_policies):
            key = target if target.startswith("arn:") and ":policy/" not in target else me.uid
            if key in done:
                continue
            decision, pending = _decide(principal, technique, target)
            if decision in (Decision.ALLOW, Decision.CONDITIONAL):
                done.add(key)
                yield _edge(principal, key, technique, pending)
