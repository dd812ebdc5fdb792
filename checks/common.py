"""Helpers the theme modules share: classification, ownership, parties, severity, policy
documents, dates and the wording of messages."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import date, datetime
from typing import Any

from auditor.checking import CheckContext, Result
from auditor.inventories.aws.policy_rights import NARROWING_KEYS, load_document
from auditor.model import Kind, Relation, Resource, Severity, Status
from auditor.policy import Classification, Department, Verdict

# Facts an adapter could not read are marked so; checks over them say UNKNOWN. A document
# read but not parsable ("invalid") tells no more than one never read.
UNREADABLE = frozenset({"denied", "error", "invalid"})


# Coverage outcomes after which a service's silence means "there is nothing".
COLLECTED = frozenset({"ok", "not_enabled"})


def collection_gaps(ctx: CheckContext, service: str) -> dict[str, str]:
    """Accounts where coverage says `service` was not (fully) collected, with why.

    An account coverage says nothing of (a context built by hand) is taken at its inventory.
    """
    outcomes: dict[str, dict[str, str]] = {}
    for (account, region, svc), outcome in ctx.coverage.items():
        regions = outcomes.setdefault(account, {})
        if svc == service:
            regions[region] = outcome
    gaps: dict[str, str] = {}
    for account, regions in outcomes.items():
        failed = sorted(f"{r}: {out}" for r, out in regions.items() if out not in COLLECTED)
        if not regions:
            gaps[account] = f"{service} was not collected in account {account}"
        elif failed:
            gaps[account] = (
                f"{service} could not be listed in account {account} ({', '.join(failed)})"
            )
    return gaps


# Per provider, the coverage service whose rows say whether principals and their rights
# (identity policies, role assignments) were read.  A provider absent here has none collected.
IDENTITY_SERVICES = {"aws": "iam", "openstack": "keystone-role-assignments"}


def rights_unread(ctx: CheckContext, resource: Resource, accounts: Iterable[str] = ()) -> list[str]:
    """Why who holds rights on `resource` is not fully known: its provider's identities were
    not collected, or not in its account or in `accounts` (own accounts granted as a whole)."""
    service = IDENTITY_SERVICES.get(resource.provider)
    if service is None:
        return [f"govaudit does not collect {resource.provider} identities and their rights"]
    gaps = collection_gaps(ctx, service)
    wanted = {resource.account or "", *accounts}
    return [gaps[account] for account in sorted(wanted) if account in gaps]


def own_resources(ctx: CheckContext, *kinds: Kind) -> Iterator[Resource]:
    """Inventoried resources of the audited accounts (not other parties' buckets we saw)."""
    for resource in ctx.of_kind(*kinds):
        if not resource.attrs.get("observed_only"):
            yield resource


def inventoried(ctx: CheckContext, uid: str) -> Resource | None:
    """The resource if the audit read it as its own (an observed bucket has no settings)."""
    resource = ctx.resources.get(uid)
    return None if resource is None or resource.attrs.get("observed_only") else resource


def classification_of(ctx: CheckContext, resource: Resource) -> Verdict:
    """A key without its own class tag takes the strictest class of the data it protects."""
    policy = ctx.policy
    if resource.kind == Kind.KEY and policy.classification_tag not in resource.tags:
        protected = [
            (policy.classify(store.tags).classification, store.uid)
            for store in _protected_by(ctx, resource)
        ]
        if protected:
            cls, src = max(protected, key=lambda item: item[0].rank)
            return Verdict(cls, f"protects {src} ({cls.name})")
    return policy.classify(resource.tags)


def class_unread(ctx: CheckContext, resource: Resource) -> list[str]:
    """Resources whose unread tags `classification_of(resource)` stands on: its class is then
    a guess (the untagged default), good enough to fail on but never to pass on."""
    if unreadable(resource, "tags"):
        return [resource.name]
    if resource.kind != Kind.KEY or ctx.policy.classification_tag in resource.tags:
        return []
    return sorted(store.name for store in _protected_by(ctx, resource) if unreadable(store, "tags"))


def _protected_by(ctx: CheckContext, key: Resource) -> Iterator[Resource]:
    """The inventoried resources whose data `key` encrypts."""
    for src, _, data in ctx.graph.in_edges(key.uid, data=True):
        if data["relation"] == Relation.ENCRYPTED_BY and src in ctx.resources:
            yield ctx.resources[src]


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
    tagged = resource.tags.get(ctx.policy.owner_tag)
    if tagged:
        return ctx.policy.department(tagged)
    return account_department(ctx, resource.account or "")


def account_department(ctx: CheckContext, account: str) -> Department | None:
    """The department the policy gives an account, if it lists the account."""
    info = ctx.policy.accounts.get(account)
    return ctx.policy.department(info.dept) if info else None


def log_countries(ctx: CheckContext) -> frozenset[str] | None:
    """Where logs may be kept: log_jurisdictions, else the home jurisdiction, else unknown."""
    if ctx.policy.log_jurisdictions is not None:
        return ctx.policy.log_jurisdictions
    home = ctx.policy.home_jurisdiction
    return frozenset({home}) if home else None


# --- policy documents -------------------------------------------------------------------------


def policy_statements(document: Mapping[str, Any] | str) -> list[Mapping[str, Any]]:
    """The statements of a policy (a dict, JSON or URL-encoded JSON) that are JSON objects.

    A lone statement object counts as a list of one.  Raises `PolicyDocumentError` when the
    text is not a JSON object.
    """
    raw = load_document(document).get("Statement", [])
    if isinstance(raw, Mapping):
        return [raw]
    # A null, number or string Statement (hostile or broken documents) grants nothing.
    return [s for s in raw if isinstance(s, Mapping)] if isinstance(raw, list) else []


def account_from_uid(uid: str) -> str | None:
    """The account of a principal uid (`normalise_principals`): account:N, or an ARN's
    numeric account field; None for services, `*` and ARNs without an account id."""
    if uid.startswith("account:"):
        return uid.removeprefix("account:")
    parts = uid.split(":")
    return parts[4] if uid.startswith("arn:") and len(parts) > 4 and parts[4].isdigit() else None


# --- dates ------------------------------------------------------------------------------------


def as_date(value: object) -> date | None:
    """A date from a datetime, a date or an ISO string; None for "N/A", "no_information", ..."""
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, str) and value[:1].isdigit():
        try:
            return datetime.fromisoformat(value).date()
        except ValueError:
            return None
    return None


def days_since(ctx: CheckContext, day: date) -> int:
    """Whole days from `day` to the audit date.

    A date after the audit date (clock skew, a pinned audit date) counts as today.
    """
    return max((ctx.today - day).days, 0)


# --- wording ----------------------------------------------------------------------------------


def plural(count: int, word: str, words: str = "") -> str:
    """A counted noun, "1 key" or "2 keys"; `words` for an irregular plural ("policies")."""
    return f"{count} {word}" if count == 1 else f"{count} {words or word + 's'}"


def shortlist(names: Sequence[str], limit: int = 3) -> str:
    """The first `limit` names, then "and N more": "a, b, c and 2 more"."""
    more = len(names) - limit
    shown = ", ".join(names[:limit])
    return f"{shown} and {more} more" if more > 0 else shown


def class_label(resource: Resource, verdict: Verdict) -> str:
    """The resource with its class and why: "name (CLASS, tagged data-class=CLASS)"."""
    return f"{resource.name} ({verdict.classification.name}, {verdict.reason})"


def location(resource: Resource) -> str:
    """Where a resource sits: "region (country)", with placeholders for what is unknown."""
    return f"{resource.region or 'unknown region'} ({resource.jurisdiction or '?'})"


def account_label(ctx: CheckContext, account: str | None, name: str = "") -> str:
    """An account as "account 1234 (name)": the policy's name for it, else `name`, else none."""
    info = ctx.policy.accounts.get(account or "")
    shown = (info.name if info else "") or name
    return f"account {account}" + (f" ({shown})" if shown else "")
