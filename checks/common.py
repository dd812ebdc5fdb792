"""Helpers the theme modules share: classification, ownership, parties, severity."""

from __future__ import annotations

from collections.abc import Iterator, Mapping

from auditor.checking import CheckContext, Result
from auditor.inventories.aws.policy_rights import NARROWING_KEYS
from auditor.model import Kind, Relation, Resource, Severity, Status
from auditor.policy import Classification, Department, Verdict

# Facts an adapter could not read are marked so; checks over them say UNKNOWN.
UNREADABLE = frozenset({"denied", "error"})


def own_resources(ctx: CheckContext, *kinds: Kind) -> Iterator[Resource]:
    """Inventoried resources of the audited accounts (not other parties' buckets we saw)."""
    for resource in ctx.of_kind(*kinds):
        if not resource.attrs.get("observed_only"):
            yield resource


def classification_of(ctx: CheckContext, resource: Resource) -> Verdict:
    """A key without its own class tag takes the strictest class of the data it protects."""
    policy = ctx.policy
    if resource.kind == Kind.KEY and policy.classification_tag not in resource.tags:
        protected = [
            (policy.classify(ctx.resources[src].tags).classification, src)
            for src, _, data in ctx.graph.in_edges(resource.uid, data=True)
            if data["relation"] == Relation.ENCRYPTED_BY and src in ctx.resources
        ]
        if protected:
            cls, src = max(protected, key=lambda item: item[0].rank)
            return Verdict(cls, f"protects {src} ({cls.name})")
    return policy.classify(resource.tags)


def weighted(cls: Classification, restricted: Severity, other: Severity) -> Severity:
    """Severity that depends on the data: restricted classes weigh more."""
    return restricted if cls.restricted else other


def unreadable(resource: Resource, *facts: str) -> list[str]:
    """The named facts (attrs `<fact>_status`) the adapter could not read."""
    return [f for f in facts if resource.attrs.get(f"{f}_status") in UNREADABLE]


def unknown(resource: Resource, facts: list[str]) -> Result:
    return Result(
        resource,
        Status.UNKNOWN,
        f"could not read {', '.join(facts)} of {resource.name} (see coverage); not assessed",
    )


def account_of_principal(ctx: CheckContext, principal: str) -> str | None:
    """The account a principal node belongs to, if it belongs to one."""
    attrs = ctx.graph.nodes[principal] if principal in ctx.graph else {}
    account = attrs.get("account")
    return str(account) if account else None


def party_of(ctx: CheckContext, principal: str) -> tuple[str, str]:
    """Classify a principal as ('own'|'trusted'|'external'|'public'|'service', description)."""
    if principal.startswith("public:"):
        return "public", "anyone (Principal *)"
    if principal.startswith("service:"):
        return "service", f"cloud service {principal.removeprefix('service:')}"
    if principal.startswith("federated:"):
        return "external", f"federated identity provider {principal.removeprefix('federated:')}"
    account = account_of_principal(ctx, principal)
    if account is None:
        return "external", f"{principal} (account unknown)"
    # An account principal reads best as "account N"; a role or user keeps its ARN.
    name = f"account {account}" if principal.startswith("account:") else principal
    if ctx.policy.is_own_account(account):
        return "own", f"{name} (own account)"
    party = ctx.policy.trusted_party(account)
    if party is not None:
        where = party.jurisdiction or "jurisdiction unknown"
        return "trusted", f"{name} ({party.org}, {party.kind}, {where})"
    if principal.startswith("account:"):
        return "external", f"{name} (in no list of the policy)"
    return "external", f"{name} (account {account}, in no list of the policy)"


def condition_keys(conditions: Mapping[str, object]) -> set[str]:
    """The condition keys of a Condition block, as written."""
    return {
        str(key) for block in conditions.values() if isinstance(block, Mapping) for key in block
    }


def has_condition_key(conditions: Mapping[str, object], wanted: frozenset[str]) -> bool:
    """Whether any key of `wanted` (lower case) is used; condition keys ignore case."""
    return any(key.casefold() in wanted for key in condition_keys(conditions))


def conditions_text(conditions: Mapping[str, object]) -> str:
    return ", ".join(sorted(condition_keys(conditions)))


def narrowed(conditions: Mapping[str, object]) -> bool:
    """True when a grant's conditions restrict it to known callers (org, account, VPC, IP)."""
    return has_condition_key(conditions, NARROWING_KEYS)


def owner_department(ctx: CheckContext, resource: Resource) -> Department | None:
    """The department accountable for a resource: its owner tag, else its account's dept."""
    policy = ctx.policy
    tagged = resource.tags.get(policy.owner_tag)
    if tagged:
        return policy.department(tagged)
    account = policy.accounts.get(resource.account or "")
    return policy.department(account.dept) if account else None
