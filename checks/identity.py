"""ACC and RSP over IAM identities: administrators, the root user, MFA, stale credentials,
unused roles, shared accounts, break-glass accounts and users whose person has left.

Every fact comes from the IAM adapter (`auditor.inventories.aws.iam`): users, groups, roles and
managed policies from GetAccountAuthorizationDetails, the credential report, ListMFADevices,
ListAccessKeys and GetAccessKeyLastUsed on users, and the account summary on `iam:account`.
A fact whose `<fact>_status` is anything but "read" was not seen, and a check that needs it
says UNKNOWN rather than PASS.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

from auditor.checking import CheckContext, CheckMeta, Result, Theme, check
from auditor.checks.common import (
    as_date,
    days_since,
    has_condition_key,
    own_resources,
    plural,
    policy_statements,
)
from auditor.inventories.aws.policy_rights import PolicyDocumentError
from auditor.model import Kind, Resource, Severity, Status
from auditor.policy import Person

READ = "read"
IAM_USER, IAM_GROUP, IAM_ROLE, IAM_ACCOUNT = "iam:user", "iam:group", "iam:role", "iam:account"
# AWS creates and owns these roles; only the service may change or delete them.
SERVICE_LINKED_PATH = "/aws-service-role/"
# The one AWS-managed policy that grants every action on every resource.
ADMINISTRATOR_ACCESS = re.compile(r"^arn:[a-z-]+:iam::aws:policy/AdministratorAccess$")
# Root use this recent is not forgotten setup: someone signs in as root for daily work.
ROOT_RECENT_USE_DAYS = 90
# IAM reports a role's last use over a trailing window of this many days only.
ROLE_ACTIVITY_WINDOW_DAYS = 400
MFA_CONDITIONS = frozenset({"aws:multifactorauthpresent", "aws:multifactorauthage"})
# Names that announce an emergency account, so an undeclared one can be caught.
BREAK_GLASS_NAME = re.compile(r"break[-_ ]?glass|emergency|紧急|应急", re.IGNORECASE)
# A tag naming several people ("p-0001,p-0002") binds the user to none of them alone.
PERSON_SEPARATORS = re.compile(r"[,;/\s]+")


# --- facts ------------------------------------------------------------------------------------


def _not_read(resource: Resource, *facts: str) -> list[str]:
    return [f for f in facts if resource.attrs.get(f"{f}_status") != READ]


def _iam(ctx: CheckContext, kind: Kind, native_type: str) -> list[Resource]:
    found = [r for r in own_resources(ctx, kind) if r.native_type == native_type]
    return sorted(found, key=lambda r: r.uid)


def _service_linked(role: Resource) -> bool:
    return str(role.attrs.get("path") or "").startswith(SERVICE_LINKED_PATH)


def _password(user: Resource) -> bool | None:
    """Whether the user has a console password; None when the credential report was not read."""
    if _not_read(user, "credential_report"):
        return None
    return user.attrs.get("password_enabled") is True


@dataclass(frozen=True, slots=True)
class _Key:
    label: str
    active: bool
    created: date | None
    last_used: date | None
    # False when GetAccessKeyLastUsed could not be read for this key.
    use_known: bool


def _keys(user: Resource) -> list[_Key] | None:
    """The user's access keys: ListAccessKeys when read, else the credential report; None."""
    attrs = user.attrs
    if not _not_read(user, "access_keys"):
        return [
            _Key(
                str(k.get("id")),
                k.get("status") == "Active",
                as_date(k.get("create_date")),
                as_date(k.get("last_used_date")),
                k.get("last_used_status") == READ,
            )
            for k in attrs.get("access_keys") or []
        ]
    if not _not_read(user, "credential_report"):
        return [
            _Key(
                f"key {n}",
                k.get("active") is True,
                as_date(k.get("last_rotated")),
                as_date(k.get("last_used_date")),
                True,
            )
            for n, k in enumerate(attrs.get("report_access_keys") or [], 1)
            # The report always has two key columns; "N/A" rotation means no key there.
            if k.get("active") is True or k.get("last_rotated") is not None
        ]
    return None


def _active_keys(user: Resource) -> list[_Key] | None:
    keys = _keys(user)
    return None if keys is None else [k for k in keys if k.active]


def _mfa(user: Resource) -> bool | None:
    """Whether the user has an MFA device, from ListMFADevices or the credential report."""
    if not _not_read(user, "mfa"):
        return bool(user.attrs.get("mfa_devices"))
    if not _not_read(user, "credential_report"):
        return user.attrs.get("mfa_active") is True
    return None


# --- administrators ---------------------------------------------------------------------------


def _grants_everything(document: Any) -> bool:
    """An Allow of Action "*" (or "*:*") on Resource "*": the CIS definition of admin."""
    for statement in policy_statements(document):
        if statement.get("Effect") != "Allow":
            continue
        actions = _strings(statement.get("Action"))
        if {"*", "*:*"} & set(actions) and "*" in _strings(statement.get("Resource")):
            return True
    return False


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    return [str(v) for v in value] if isinstance(value, list) else []


@dataclass(frozen=True, slots=True)
class _Admin:
    """How a principal comes to be an administrator, and what could not be evaluated."""

    own: tuple[str, ...]
    # A user's administrator grants through its groups.
    inherited: tuple[str, ...] = ()
    unknown: tuple[str, ...] = ()

    @property
    def grants(self) -> tuple[str, ...]:
        return self.own + self.inherited


def _own_admin(ctx: CheckContext, owner: Resource) -> _Admin:
    """Administrator policies attached to or inline in one user, group or role."""
    grants, unknown = [], []
    for arn in sorted(str(a) for a in owner.attrs.get("attached_policies") or []):
        if ADMINISTRATOR_ACCESS.match(arn):
            grants.append(f"AWS-managed {arn}")
            continue
        managed = ctx.resources.get(arn)
        document = managed.attrs.get("document") if managed else None
        if document is None:
            # Other AWS-managed policies never allow * on *; a customer one must be read.
            if arn.split(":")[4:5] != ["aws"]:
                unknown.append(f"policy {arn} (document not read)")
            continue
        try:
            if _grants_everything(document):
                grants.append(f"managed policy {arn} allows * on *")
        except PolicyDocumentError:
            unknown.append(f"policy {arn} (malformed document)")
    inline = owner.attrs.get("inline_policies")
    for name, document in sorted(inline.items() if isinstance(inline, Mapping) else []):
        try:
            if document is not None and _grants_everything(document):
                grants.append(f"inline policy {name} allows * on *")
        except PolicyDocumentError:
            unknown.append(f"inline policy {name} (malformed document)")
    return _Admin(tuple(grants), unknown=tuple(unknown))


def _groups(ctx: CheckContext) -> dict[tuple[str | None, str], Resource]:
    return {(g.account, g.name): g for g in _iam(ctx, Kind.GROUP, IAM_GROUP)}


def _admin_of(
    ctx: CheckContext, principal: Resource, groups: Mapping[tuple[str | None, str], Resource]
) -> _Admin:
    """Own administrator grants, and for a user those of its groups too."""
    own = _own_admin(ctx, principal)
    inherited, unknown = [], list(own.unknown)
    if principal.kind is Kind.USER:
        for name in sorted(str(n) for n in principal.attrs.get("groups") or []):
            group = groups.get((principal.account, name))
            if group is None:
                unknown.append(f"group {name} (not inventoried)")
                continue
            via = _own_admin(ctx, group)
            inherited += [f"through group {name}: {g}" for g in via.own]
            unknown += [f"through group {name}: {u}" for u in via.unknown]
    return _Admin(own.own, tuple(inherited), tuple(unknown))


@check(
    CheckMeta(
        id="ACC-005",
        title="Full administrator rights, policies on users, or too many administrators",
        theme=Theme.ACCESS,
        severity=Severity.HIGH,
        fails_when=(
            "a user, group or role has a policy allowing every action on every resource "
            "(AdministratorAccess or Action * on Resource *) attached or inline (high); a user "
            "has policies attached directly rather than through a group (medium); an account "
            "has more administrators (users and roles, also through groups; declared "
            "break-glass principals not counted) than thresholds.max_admins (high)"
        ),
        frameworks=("CIS AWS Foundations 5.0 1.14, 1.15",),
        remediation=(
            "Grant users their rights through groups or, better, single sign-on permission "
            "sets; replace full administrator policies by policies scoped to the job, and keep "
            "the few real administrators within the policy's max_admins."
        ),
        cli="aws iam detach-user-policy --user-name USER_NAME --policy-arn POLICY_ARN",
    )
)
def administrators(ctx: CheckContext) -> Iterator[Result]:
    groups = _groups(ctx)
    admins: dict[str | None, list[str]] = {}
    undecided: dict[str | None, list[str]] = {}
    principals = [
        *_iam(ctx, Kind.USER, IAM_USER),
        *groups.values(),
        *(r for r in _iam(ctx, Kind.ROLE, IAM_ROLE) if not _service_linked(r)),
    ]
    # Emergency access is limited by break_glass.max_count (RSP-006), not by max_admins.
    emergency = _break_glass_uids(ctx)
    for principal in principals:
        admin = _admin_of(ctx, principal, groups)
        # A group is not a principal anyone acts as: its members are counted instead.
        if principal.kind is not Kind.GROUP and principal.uid not in emergency:
            if admin.grants:
                admins.setdefault(principal.account, []).append(principal.name)
            elif admin.unknown:
                undecided.setdefault(principal.account, []).append(principal.name)
        yield _judge_principal(principal, admin)
    for account in _iam(ctx, Kind.ACCOUNT, IAM_ACCOUNT):
        yield _judge_admin_count(
            ctx, account, admins.get(account.account, []), undecided.get(account.account, [])
        )


def _judge_principal(principal: Resource, admin: _Admin) -> Result:
    subject = f"IAM {principal.kind.value} {principal.name}"
    direct: list[str] = []
    if principal.kind is Kind.USER:
        inline = principal.attrs.get("inline_policies") or {}
        direct = [*(principal.attrs.get("attached_policies") or []), *sorted(inline)]
    problems = []
    if admin.own:
        problems.append(f"has full administrator rights: {'; '.join(admin.own)}")
    if direct:
        listed = ", ".join(str(d) for d in direct)
        problems.append(
            f"has {plural(len(direct), 'policy', 'policies')} attached directly: {listed}"
        )
    if problems:
        severity = Severity.HIGH if admin.own else Severity.MEDIUM
        return Result(
            principal, Status.FAIL, f"{subject} " + "; ".join(problems), admin.own, severity
        )
    if admin.unknown and not admin.inherited:
        message = f"whether {subject} is an administrator is unknown: " + "; ".join(admin.unknown)
        return Result(principal, Status.UNKNOWN, message)
    if admin.inherited:
        message = (
            f"{subject} has no policy of its own; it is an administrator {admin.inherited[0]} "
            "(counted against max_admins)"
        )
        return Result(principal, Status.PASS, message, admin.inherited)
    return Result(principal, Status.PASS, f"{subject} has no administrator or direct user policy")


def _judge_admin_count(
    ctx: CheckContext, account: Resource, admins: list[str], undecided: list[str]
) -> Result:
    most = ctx.policy.thresholds.max_admins
    who = f"{plural(len(admins), 'administrator')} ({', '.join(sorted(admins)) or 'none'})"
    evidence = tuple(sorted(admins))
    if len(admins) > most:
        message = f"account {account.name} has {who}, more than max_admins {most}"
        return Result(account, Status.FAIL, message, evidence)
    if len(admins) + len(undecided) > most:
        message = (
            f"account {account.name} has {who}; {', '.join(sorted(undecided))} may be "
            f"administrators too (policies not evaluated), which would exceed max_admins {most}"
        )
        return Result(account, Status.UNKNOWN, message, evidence)
    message = f"account {account.name} has {who}, within max_admins {most}"
    return Result(account, Status.PASS, message, evidence)


# --- root user --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Root:
    keys: bool | None
    mfa: bool | None
    last_used: date | None
    use_known: bool


def _root(account: Resource) -> _Root:
    """Root facts: the account summary first, the credential report's root row otherwise."""
    attrs = account.attrs
    row = attrs.get("root_credentials") if attrs.get("root_status") == READ else None
    summary = attrs.get("summary_status") == READ
    keys: bool | None = attrs.get("account_access_keys_present") if summary else None
    mfa: bool | None = attrs.get("account_mfa_enabled") if summary else None
    if not isinstance(row, Mapping):
        return _Root(keys, mfa, None, False)
    report_keys = row.get("report_access_keys") or []
    if keys is None:
        keys = any(k.get("active") is True for k in report_keys)
    if mfa is None:
        mfa = row.get("mfa_active") is True
    used = [as_date(row.get("password_last_used"))]
    used += [as_date(k.get("last_used_date")) for k in report_keys]
    return _Root(keys, mfa, max((d for d in used if d), default=None), True)


@check(
    CheckMeta(
        id="ACC-006",
        title="The root user has access keys, no MFA, or is used",
        theme=Theme.ACCESS,
        severity=Severity.CRITICAL,
        fails_when=(
            "the account's root user has an access key or no MFA device (critical), or signed "
            f"in or used a key within the last {ROOT_RECENT_USE_DAYS} days (medium)"
        ),
        frameworks=("CIS AWS Foundations 5.0 1.3-1.6, 4.3",),
        remediation=(
            "Delete the root access keys and enable a hardware MFA device on the root user "
            "(or remove root credentials with centralised root access in AWS Organizations); "
            "do daily work through named identities and keep root for the few tasks that "
            "need it."
        ),
        cli="aws iam delete-access-key --access-key-id ACCESS_KEY_ID",
    )
)
def root_user(ctx: CheckContext) -> Iterator[Result]:
    for account in _iam(ctx, Kind.ACCOUNT, IAM_ACCOUNT):
        yield _judge_root(ctx, account, _root(account))


def _judge_root(ctx: CheckContext, account: Resource, root: _Root) -> Result:
    problems: list[tuple[Severity, str]] = []
    if root.keys:
        problems.append((Severity.CRITICAL, "has an access key"))
    if root.mfa is False:
        problems.append((Severity.CRITICAL, "has no MFA device"))
    since = days_since(ctx, root.last_used) if root.last_used else None
    if since is not None and since <= ROOT_RECENT_USE_DAYS:
        problems.append((Severity.MEDIUM, f"was used {since} days ago ({root.last_used})"))
    subject = f"root user of account {account.name}"
    if problems:
        severity = max((s for s, _ in problems), key=lambda s: s.rank)
        message = f"{subject} " + "; ".join(p for _, p in problems)
        return Result(account, Status.FAIL, message, severity=severity)
    missing = [
        fact
        for fact, known in (
            ("access keys", root.keys is not None),
            ("MFA", root.mfa is not None),
            (f"last use ({_root_row_note(account)})", root.use_known),
        )
        if not known
    ]
    if missing:
        return Result(account, Status.UNKNOWN, f"{subject}: {', '.join(missing)} not read")
    used = f"last used {since} days ago" if since is not None else "no recorded use"
    message = f"{subject} has MFA, no access key and {used}"
    return Result(account, Status.PASS, message)


def _root_row_note(account: Resource) -> str:
    status = account.attrs.get("root_status")
    if status == "not_in_report":
        return "the credential report has no <root_account> row"
    return f"credential report: {status or 'not collected'}"


# --- console users ----------------------------------------------------------------------------


@check(
    CheckMeta(
        id="ACC-007",
        title="Console user without MFA, or IAM console users where federation is required",
        theme=Theme.ACCESS,
        severity=Severity.HIGH,
        fails_when=(
            "an IAM user with a console password has no MFA device, or has a console password "
            "at all while identity.federation_required is true"
        ),
        frameworks=(
            "CIS AWS Foundations 5.0 1.9, 1.20",
            "GB/T 22239-2019 8.1.4.1(d)",
            "SecNumCloud 3.2 9.6(f)",
        ),
        remediation=(
            "Have each console user enable an MFA device; where the policy requires federation, "
            "sign people in through the identity provider or IAM Identity Center and delete the "
            "IAM user's console password."
        ),
        cli=(
            "aws iam enable-mfa-device --user-name USER_NAME --serial-number MFA_SERIAL "
            "--authentication-code1 CODE1 --authentication-code2 CODE2"
        ),
    )
)
def console_without_mfa(ctx: CheckContext) -> Iterator[Result]:
    federated = ctx.policy.federation_required
    for user in _iam(ctx, Kind.USER, IAM_USER):
        password = _password(user)
        if password is None:
            yield _unread(user, "console password (credential report)")
            continue
        if not password:
            yield Result(user, Status.PASS, f"IAM user {user.name} has no console password")
            continue
        problems = []
        if federated:
            problems.append("has a console password although the policy requires federation")
        mfa = _mfa(user)
        if mfa is False:
            problems.append("signs in to the console without MFA")
        if problems:
            yield Result(user, Status.FAIL, f"IAM user {user.name} " + "; ".join(problems))
        elif mfa is None:
            yield _unread(user, "MFA devices")
        else:
            yield Result(user, Status.PASS, f"console user {user.name} has MFA")


def _unread(resource: Resource, fact: str) -> Result:
    return Result(
        resource, Status.UNKNOWN, f"{fact} of {resource.name} not read (see coverage); not assessed"
    )


# --- stale credentials ------------------------------------------------------------------------


@check(
    CheckMeta(
        id="ACC-008",
        title="Unused or old passwords and access keys",
        theme=Theme.ACCESS,
        severity=Severity.MEDIUM,
        fails_when=(
            "a console password or active access key has not been used for "
            "thresholds.credential_unused_days or more (counted from its creation when never "
            "used), an active key is older than thresholds.key_max_age_days, or a user has two "
            "active keys"
        ),
        frameworks=(
            "CIS AWS Foundations 5.0 1.10-1.13",
            "GB/T 22239-2019 8.1.4.2(c)",
            "NIST 800-53 AC-2(3)",
        ),
        remediation=(
            "Deactivate and then delete credentials nobody uses; rotate keys older than the "
            "maximum age (create the new key, switch the workload, delete the old one), and "
            "keep one active key per user."
        ),
        cli=(
            "aws iam update-access-key --user-name USER_NAME --access-key-id ACCESS_KEY_ID "
            "--status Inactive"
        ),
    )
)
def stale_credentials(ctx: CheckContext) -> Iterator[Result]:
    for user in _iam(ctx, Kind.USER, IAM_USER):
        problems, missing = _password_staleness(ctx, user)
        keys = _active_keys(user)
        if keys is None:
            missing.append("access keys")
        else:
            key_problems, key_missing = _key_staleness(ctx, keys)
            problems += key_problems
            missing += key_missing
        if problems:
            yield Result(user, Status.FAIL, f"IAM user {user.name}: " + "; ".join(problems))
        elif missing:
            yield _unread(user, ", ".join(missing))
        else:
            count = plural(len(keys or []), "active access key")
            message = f"IAM user {user.name}: no stale console password or key ({count})"
            yield Result(user, Status.PASS, message)


def _password_staleness(ctx: CheckContext, user: Resource) -> tuple[list[str], list[str]]:
    password = _password(user)
    if password is None:
        return [], ["console password (credential report)"]
    if not password:
        return [], []
    limit = ctx.policy.thresholds.credential_unused_days
    last = as_date(user.attrs.get("password_last_used"))
    if last is not None:
        idle = days_since(ctx, last)
        problem = f"console password unused for {idle} days (limit {limit})"
    else:
        # "no_information": never used since it was set.
        attrs = user.attrs
        since = as_date(attrs.get("password_last_changed")) or as_date(attrs.get("create_date"))
        if since is None:
            return [], ["when the console password was set"]
        idle = days_since(ctx, since)
        problem = f"console password never used since it was set {idle} days ago (limit {limit})"
    return ([problem] if idle >= limit else []), []


def _key_staleness(ctx: CheckContext, keys: list[_Key]) -> tuple[list[str], list[str]]:
    limits = ctx.policy.thresholds
    problems, missing = [], []
    if len(keys) > 1:
        problems.append(f"{len(keys)} active access keys ({', '.join(k.label for k in keys)})")
    for key in keys:
        age = days_since(ctx, key.created) if key.created else None
        if age is None:
            missing.append(f"creation date of access key {key.label}")
        elif age > limits.key_max_age_days:
            problems.append(
                f"access key {key.label} is {age} days old (max {limits.key_max_age_days})"
            )
        if not key.use_known:
            missing.append(f"last use of access key {key.label}")
            continue
        if key.last_used is not None:
            idle = days_since(ctx, key.last_used)
            if idle >= limits.credential_unused_days:
                problems.append(f"access key {key.label} unused for {idle} days")
        elif age is not None and age >= limits.credential_unused_days:
            problems.append(f"access key {key.label} never used since its creation {age} days ago")
    return problems, missing


# --- unused roles -----------------------------------------------------------------------------


@check(
    CheckMeta(
        id="ACC-009",
        title="Role unused for a long time",
        theme=Theme.ACCESS,
        severity=Severity.LOW,
        fails_when=(
            "an IAM role (not service-linked) was last used more than thresholds.role_unused_days "
            "ago, or was never used and is older than that; medium when the role has full "
            "administrator rights"
        ),
        frameworks=("GB/T 22239-2019 8.1.4.2(c), (d)", "NIST 800-53 AC-6(7)"),
        remediation=(
            "Confirm with the role's owner that nothing needs it, then detach its policies and "
            "delete it; a role that is needed rarely should be documented as such."
        ),
        cli="aws iam delete-role --role-name ROLE_NAME",
    )
)
def unused_roles(ctx: CheckContext) -> Iterator[Result]:
    groups = _groups(ctx)
    for role in _iam(ctx, Kind.ROLE, IAM_ROLE):
        if _service_linked(role):
            continue
        severity = Severity.MEDIUM if _admin_of(ctx, role, groups).grants else Severity.LOW
        yield _judge_role_use(ctx, role, severity)


def _judge_role_use(ctx: CheckContext, role: Resource, severity: Severity) -> Result:
    limit = ctx.policy.thresholds.role_unused_days
    # The adapter sets the attr from GAAD's RoleLastUsed; absent, the fact was never read.
    if "role_last_used" not in role.attrs:
        return _unread(role, "last use")
    last = as_date(role.attrs.get("role_last_used"))
    if last is not None:
        idle = days_since(ctx, last)
        if idle > limit:
            message = f"role {role.name} was last used {idle} days ago ({last}), limit {limit}"
            return Result(role, Status.FAIL, message, severity=severity)
        return Result(role, Status.PASS, f"role {role.name} was used {idle} days ago ({last})")
    created = as_date(role.attrs.get("create_date"))
    if created is None:
        return _unread(role, "creation date")
    age = days_since(ctx, created)
    if age <= limit:
        message = f"role {role.name} is {age} days old and not used yet (limit {limit})"
        return Result(role, Status.PASS, message)
    # IAM returns an empty RoleLastUsed when it saw no use in its tracking window.
    window = (
        f"in IAM's {ROLE_ACTIVITY_WINDOW_DAYS}-day tracking window"
        if age > ROLE_ACTIVITY_WINDOW_DAYS
        else "since its creation"
    )
    message = f"role {role.name} ({age} days old) shows no use {window}; limit {limit}"
    return Result(role, Status.FAIL, message, severity=severity)


# --- one person per user ----------------------------------------------------------------------


def _tagged_persons(user: Resource, tag: str, people: Mapping[str, Person]) -> list[str]:
    """The person ids the user's tag names; a known id containing a separator stays whole."""
    value = (user.tags.get(tag) or "").strip()
    if not value or value in people:
        return [value] if value else []
    return [p for p in PERSON_SEPARATORS.split(value) if p]


def _technical(ctx: CheckContext, user: Resource) -> bool:
    return bool({user.name, user.uid} & ctx.policy.technical_accounts)


@check(
    CheckMeta(
        id="ACC-010",
        title="IAM user not tied to exactly one person or a registered technical account",
        theme=Theme.ACCESS,
        severity=Severity.MEDIUM,
        fails_when=(
            "an IAM user that is not listed in identity.technical_accounts has a name matching "
            "identity.shared_name_regex (admin, ops, test...), or its accountable-person tag is "
            "missing, names several people, or names an id not in the policy's people"
        ),
        frameworks=("GB/T 22239-2019 8.1.4.2(c) 避免共享账户", "SecNumCloud 3.2 9.5(d)"),
        remediation=(
            "Give every person their own identity (single sign-on preferred) and tag each IAM "
            "user with the pseudonymous id of the one person accountable for it; register "
            "machine users in identity.technical_accounts; retire shared accounts."
        ),
        cli="aws iam tag-user --user-name USER_NAME --tags Key=accountable-person,Value=PERSON_ID",
    )
)
def users_bound_to_a_person(ctx: CheckContext) -> Iterator[Result]:
    policy = ctx.policy
    shared = re.compile(policy.shared_name_regex) if policy.shared_name_regex else None
    for user in _iam(ctx, Kind.USER, IAM_USER):
        if _technical(ctx, user):
            message = f"IAM user {user.name} is a registered technical account"
            yield Result(user, Status.PASS, message)
            continue
        if shared is not None and shared.search(user.name):
            message = (
                f"IAM user {user.name} has a shared account's name "
                f"(matches {policy.shared_name_regex!r})"
            )
            yield Result(user, Status.FAIL, message)
            continue
        yield _judge_person_binding(ctx, user)


def _judge_person_binding(ctx: CheckContext, user: Resource) -> Result:
    tag, people = ctx.policy.person_tag, ctx.policy.people
    persons = _tagged_persons(user, tag, people)
    if not persons:
        message = f"IAM user {user.name} has no {tag} tag and is not a registered technical account"
        return Result(user, Status.FAIL, message)
    if len(persons) > 1:
        message = f"IAM user {user.name} is shared by {len(persons)} people: {', '.join(persons)}"
        return Result(user, Status.FAIL, message)
    [person] = persons
    if not people:
        message = f"IAM user {user.name} names {person}, but the policy lists no people to check"
        return Result(user, Status.UNKNOWN, message)
    if person not in people:
        message = f"IAM user {user.name} names {tag}={person}, who is not a person of the policy"
        return Result(user, Status.FAIL, message)
    return Result(user, Status.PASS, f"IAM user {user.name} belongs to person {person}")


# --- break-glass accounts ---------------------------------------------------------------------


def _principal_index(ctx: CheckContext) -> dict[tuple[str | None, str, str], Resource]:
    """Users and roles by (account, user|role, name): a declared ARN may omit the path."""
    found = {}
    for kind, native in ((Kind.USER, IAM_USER), (Kind.ROLE, IAM_ROLE)):
        for r in _iam(ctx, kind, native):
            found[(r.account, kind.value, r.name)] = r
    return found


def _arn_account(arn: str) -> str | None:
    parts = arn.split(":")
    return parts[4] if len(parts) > 5 and parts[4] else None


def _resolve(
    ctx: CheckContext, arn: str, index: Mapping[tuple[str | None, str, str], Resource]
) -> Resource | None:
    if arn in ctx.resources:
        return ctx.resources[arn]
    kind, _, rest = arn.split(":", 5)[-1].partition("/")
    return index.get((_arn_account(arn), kind, rest.rsplit("/", 1)[-1]))


def _break_glass_uids(ctx: CheckContext) -> set[str]:
    index = _principal_index(ctx)
    found = (_resolve(ctx, arn, index) for arn in ctx.policy.break_glass.principals)
    return {r.uid for r in found if r is not None}


@check(
    CheckMeta(
        id="RSP-006",
        title="Break-glass accounts missing, too many, or not protected",
        theme=Theme.RESPONSIBILITY,
        severity=Severity.HIGH,
        fails_when=(
            "the policy declares no break-glass principal (medium, on each account); a declared "
            "one does not exist; an account has more than break_glass.max_count; a user or role "
            "named like an emergency account is not declared; a break-glass user has an access "
            "key, no MFA, or (hardware_mfa) only virtual MFA; a break-glass role's trust does "
            "not require MFA"
        ),
        frameworks=(
            "AWS Well-Architected SEC03-BP03",
            "NIST 800-53 AC-2(2)",
            "GB/T 22239-2019 8.1.10 应急",
        ),
        remediation=(
            "Declare one or two break-glass users per account in the policy, protect each with "
            "a hardware MFA device kept in a safe, give them no access keys, alarm on their "
            "sign-in, and rotate their password after every use."
        ),
        cli=(
            "aws iam enable-mfa-device --user-name USER_NAME --serial-number MFA_SERIAL "
            "--authentication-code1 CODE1 --authentication-code2 CODE2"
        ),
    )
)
def break_glass(ctx: CheckContext) -> Iterator[Result]:
    declared = list(dict.fromkeys(ctx.policy.break_glass.principals))
    accounts = _iam(ctx, Kind.ACCOUNT, IAM_ACCOUNT)
    if not declared:
        for account in accounts:
            message = (
                f"the policy declares no break-glass principal: account {account.name} has no "
                "known emergency access"
            )
            yield Result(account, Status.FAIL, message, severity=Severity.MEDIUM)
        return
    index = _principal_index(ctx)
    audited = {a.account for a in accounts}
    found: dict[str, Resource] = {}
    for arn in declared:
        principal = _resolve(ctx, arn, index)
        if principal is not None and principal.uid not in found:
            found[principal.uid] = principal
            yield _judge_break_glass(ctx, principal)
        elif principal is None:
            yield _missing_break_glass(arn, audited)
    for principal in index.values():
        if principal.uid not in found and BREAK_GLASS_NAME.search(principal.name):
            message = (
                f"{principal.kind.value} {principal.name} is named like a break-glass account "
                "but is not declared in break_glass.principals"
            )
            yield Result(principal, Status.FAIL, message)
    for account in accounts:
        yield _judge_break_glass_count(ctx, account, declared)


def _missing_break_glass(arn: str, audited: set[str | None]) -> Result:
    account = _arn_account(arn)
    kind = Kind.ROLE if ":role/" in arn else Kind.USER
    name = arn.rsplit("/", 1)[-1]
    subject = Resource(arn, "policy", kind, "policy:break-glass", name, account)
    if account not in audited:
        message = f"declared break-glass {arn} is in account {account}, which was not audited"
        return Result(subject, Status.UNKNOWN, message)
    message = f"declared break-glass {arn} does not exist: emergency access would fail"
    return Result(subject, Status.FAIL, message)


def _judge_break_glass(ctx: CheckContext, principal: Resource) -> Result:
    if principal.native_type == IAM_USER:
        problems, missing = _break_glass_user(ctx, principal)
    elif principal.native_type == IAM_ROLE:
        problems, missing = _break_glass_role(principal)
    else:
        return Result(
            principal,
            Status.UNKNOWN,
            f"break-glass {principal.name} is a {principal.native_type}, not an IAM user or role",
        )
    subject = f"break-glass {principal.kind.value} {principal.name}"
    if problems:
        return Result(principal, Status.FAIL, f"{subject} " + "; ".join(problems))
    if missing:
        return _unread(principal, ", ".join(missing))
    note = (
        " (its use-alarm is not assessed: metric filters are not inventoried)"
        if ctx.policy.break_glass.alarm_required
        else ""
    )
    return Result(principal, Status.PASS, f"{subject} is protected as declared{note}")


def _break_glass_user(ctx: CheckContext, user: Resource) -> tuple[list[str], list[str]]:
    problems, missing = [], []
    keys = _keys(user)
    if keys is None:
        missing.append("access keys")
    elif keys:
        listed = ", ".join(f"{k.label} ({'active' if k.active else 'inactive'})" for k in keys)
        problems.append(f"has access keys: {listed}")
    hardware = ctx.policy.break_glass.hardware_mfa
    if not _not_read(user, "mfa"):
        devices = [str(d) for d in user.attrs.get("mfa_devices") or []]
        # Virtual MFA serials are ARNs ":mfa/NAME"; FIDO keys ":u2f/..."; hardware TOTP
        # tokens are bare serial numbers.
        physical = [d for d in devices if ":mfa/" not in d]
        if not devices:
            problems.append("has no MFA device")
        elif hardware and not physical:
            problems.append(f"has only virtual MFA ({', '.join(devices)}), hardware required")
    else:
        # The credential report knows whether there is MFA, not whether it is hardware.
        mfa = _mfa(user)
        if mfa is False:
            problems.append("has no MFA device")
        elif hardware or mfa is None:
            missing.append("MFA devices")
    return problems, missing


def _break_glass_role(role: Resource) -> tuple[list[str], list[str]]:
    if _not_read(role, "trust_policy"):
        return [], ["trust policy"]
    try:
        statements = policy_statements(role.attrs.get("trust_policy") or {})
    except PolicyDocumentError:
        return [], ["trust policy (malformed)"]
    open_ = [
        s
        for s in statements
        if s.get("Effect") == "Allow"
        and "AWS" in _principal_keys(s.get("Principal"))
        and not has_condition_key(s.get("Condition") or {}, MFA_CONDITIONS)
    ]
    if open_:
        return [f"can be assumed without MFA ({plural(len(open_), 'trust statement')})"], []
    return [], []


def _principal_keys(principal: Any) -> Iterable[str]:
    if principal == "*":
        return ("AWS",)
    return [str(k) for k in principal] if isinstance(principal, Mapping) else ()


def _judge_break_glass_count(ctx: CheckContext, account: Resource, declared: list[str]) -> Result:
    most = ctx.policy.break_glass.max_count
    mine = sorted(arn for arn in declared if _arn_account(arn) == account.account)
    if len(mine) > most:
        message = (
            f"account {account.name} has {len(mine)} declared break-glass principals, "
            f"more than max_count {most}"
        )
        return Result(account, Status.FAIL, message, tuple(mine))
    message = (
        f"account {account.name} has {len(mine)} declared break-glass "
        f"principal(s), within max_count {most}"
    )
    return Result(account, Status.PASS, message, tuple(mine))


# --- leavers ----------------------------------------------------------------------------------


def _gone(ctx: CheckContext, person: str) -> str | None:
    """Why the person can no longer be accountable, or None while they can."""
    found = ctx.policy.people.get(person)
    if found is None:
        return f"{person} is not a person of the policy"
    if found.status == "left":
        return f"{person} has left"
    if found.dept is not None and ctx.policy.department(found.dept) is None:
        return f"{person}'s department {found.dept} no longer exists in the policy"
    return None


def _usable(user: Resource) -> tuple[list[str], bool]:
    """The credentials that still let someone act as the user; False when not all were read."""
    usable = []
    password = _password(user)
    if password:
        usable.append("a console password")
    keys = _active_keys(user)
    if keys:
        usable.append(f"active access key(s) {', '.join(k.label for k in keys)}")
    return usable, password is not None and keys is not None


@check(
    CheckMeta(
        id="RSP-008",
        title="User still usable after its accountable person left",
        theme=Theme.RESPONSIBILITY,
        severity=Severity.HIGH,
        fails_when=(
            "an IAM user's accountable-person tag names someone who has left, is not in the "
            "policy's people, or whose department no longer exists, and the user still has a "
            "console password or an active access key"
        ),
        frameworks=(
            "GB/T 22239-2019 8.1.8.2",
            "NIST 800-53 PS-4",
            "NIST 800-53 AC-2(3)",
        ),
        remediation=(
            "Disable the user at once (delete its console password, deactivate its keys), hand "
            "what it runs over to an active person, then delete it."
        ),
        cli="aws iam delete-login-profile --user-name USER_NAME",
    )
)
def usable_after_leaving(ctx: CheckContext) -> Iterator[Result]:
    tag, people = ctx.policy.person_tag, ctx.policy.people
    for user in _iam(ctx, Kind.USER, IAM_USER):
        persons = _tagged_persons(user, tag, people)
        if not persons:
            continue
        if not people:
            message = f"IAM user {user.name} names {', '.join(persons)}; the policy lists no people"
            yield Result(user, Status.UNKNOWN, message)
            continue
        reasons = [r for r in (_gone(ctx, p) for p in persons) if r]
        if not reasons:
            verb = "is" if len(persons) == 1 else "are"
            message = f"IAM user {user.name} belongs to {', '.join(persons)}, who {verb} active"
            yield Result(user, Status.PASS, message)
            continue
        usable, complete = _usable(user)
        why = "; ".join(reasons)
        if usable:
            message = f"IAM user {user.name} is still usable ({', '.join(usable)}) but {why}"
            yield Result(user, Status.FAIL, message)
        elif complete:
            message = f"IAM user {user.name}: {why}, but it has no usable credentials left"
            yield Result(user, Status.PASS, message)
        else:
            message = f"IAM user {user.name}: {why}; its credentials could not be read"
            yield Result(user, Status.UNKNOWN, message)
