"""Identity hygiene: ACC-005..010, RSP-006 and RSP-008 over resources the IAM adapter builds.

The resources are made by the adapter's own transform (`iam.transform_iam`) from hand-written
AWS-shaped responses, so the checks read exactly the attrs a real audit gives them.
TODAY is 2026-03-01; dates below are chosen relative to it.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

from auditor.checks.common import as_date as _day
from auditor.inventories.aws import iam
from auditor.model import Edge, Finding, Resource, Severity, Status
from auditor.policy import BreakGlass, Person, Policy, Thresholds
from tests.helpers import make_ctx, policy, role, run_one

ACCOUNT = "111111111111"
PARTITION = "aws-cn"
OLD = "2025-01-01T00:00:00+00:00"
ADMIN_ACCESS = "arn:aws-cn:iam::aws:policy/AdministratorAccess"
EVERYTHING = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}],
}
READ_S3 = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": "s3:Get*", "Resource": "*"}],
}
REPORT_COLUMNS = (
    "user,arn,user_creation_time,password_enabled,password_last_used,password_last_changed,"
    "password_next_rotation,mfa_active,access_key_1_active,access_key_1_last_rotated,"
    "access_key_1_last_used_date,access_key_1_last_used_region,access_key_1_last_used_service,"
    "access_key_2_active,access_key_2_last_rotated,access_key_2_last_used_date,"
    "access_key_2_last_used_region,access_key_2_last_used_service,cert_1_active,"
    "cert_1_last_rotated,cert_2_active,cert_2_last_rotated"
)
DENIED = {"status": "denied", "code": "AccessDenied"}


def arn(kind: str, name: str, account: str = ACCOUNT) -> str:
    return f"arn:{PARTITION}:iam::{account}:{kind}/{name}"


@dataclass
class Key:
    id: str
    created: str = "2026-02-01T00:00:00+00:00"
    last_used: str | None = None
    status: str = "Active"


@dataclass
class User:
    """One IAM user as IAM would describe it across GAAD, the report and the per-user calls."""

    name: str
    tags: dict[str, str] = field(default_factory=dict)
    groups: list[str] = field(default_factory=list)
    attached: list[str] = field(default_factory=list)
    inline: dict[str, Any] = field(default_factory=dict)
    created: str = OLD
    password: bool = False
    # Credential-report cells: an ISO date, "no_information" or "N/A".
    password_last_used: str = "N/A"
    password_last_changed: str = "N/A"
    mfa: list[str] = field(default_factory=list)
    keys: list[Key] = field(default_factory=list)
    mfa_status: str = "read"
    keys_status: str = "read"
    last_used_status: str = "read"
    in_report: bool = True


def aws_user(u: User) -> dict[str, Any]:
    return {
        "UserName": u.name,
        "UserId": f"AIDA{u.name.upper()}",
        "Arn": arn("user", u.name),
        "Path": "/",
        "CreateDate": u.created,
        "GroupList": u.groups,
        "AttachedManagedPolicies": [
            {"PolicyName": a.rsplit("/", 1)[-1], "PolicyArn": a} for a in u.attached
        ],
        "UserPolicyList": [{"PolicyName": n, "PolicyDocument": d} for n, d in u.inline.items()],
        "Tags": [{"Key": k, "Value": v} for k, v in u.tags.items()],
    }


def aws_group(name: str, attached: Sequence[str] = ()) -> dict[str, Any]:
    return {
        "GroupName": name,
        "GroupId": f"AGPA{name.upper()}",
        "Arn": arn("group", name),
        "Path": "/",
        "CreateDate": OLD,
        "GroupPolicyList": [],
        "AttachedManagedPolicies": [
            {"PolicyName": a.rsplit("/", 1)[-1], "PolicyArn": a} for a in attached
        ],
    }


def aws_role(
    name: str,
    *,
    path: str = "/",
    created: str | None = OLD,
    last_used: str | None = None,
    attached: Sequence[str] = (),
    trust: dict[str, Any] | None = None,
) -> dict[str, Any]:
    principal = {"AWS": f"arn:{PARTITION}:iam::{ACCOUNT}:root"}
    statement = {"Effect": "Allow", "Principal": principal, "Action": "sts:AssumeRole"}
    return {
        "RoleName": name,
        "RoleId": f"AROA{name.upper()}",
        "Arn": arn("role", name),
        "Path": path,
        "CreateDate": created,
        "AssumeRolePolicyDocument": trust or {"Version": "2012-10-17", "Statement": [statement]},
        "InstanceProfileList": [],
        "RolePolicyList": [],
        "AttachedManagedPolicies": [
            {"PolicyName": a.rsplit("/", 1)[-1], "PolicyArn": a} for a in attached
        ],
        "Tags": [],
        # IAM answers an empty RoleLastUsed for a role without recorded use.
        "RoleLastUsed": {"LastUsedDate": last_used, "Region": "cn-north-1"} if last_used else {},
    }


def aws_policy(name: str, document: dict[str, Any]) -> dict[str, Any]:
    return {
        "PolicyName": name,
        "Arn": arn("policy", name),
        "DefaultVersionId": "v1",
        "AttachmentCount": 1,
        "PolicyVersionList": [{"Document": document, "VersionId": "v1", "IsDefaultVersion": True}],
    }


def report_row(u: User) -> str:
    keys = [*u.keys[:2], None, None][:2]
    cells = [
        u.name,
        arn("user", u.name),
        u.created,
        "true" if u.password else "false",
        u.password_last_used if u.password else "N/A",
        u.password_last_changed,
        "N/A",
        "true" if u.mfa else "false",
    ]
    for key in keys:
        if key is None:
            cells += ["false", "N/A", "N/A", "N/A", "N/A"]
        else:
            active = "true" if key.status == "Active" else "false"
            cells += [active, key.created, key.last_used or "N/A", "N/A", "N/A"]
    return ",".join([*cells, "false", "N/A", "false", "N/A"])


def root_row(password_last_used: str = "N/A", mfa: bool = True, key_active: bool = False) -> str:
    key = (
        ["true", OLD, "N/A", "N/A", "N/A"] if key_active else ["false", "N/A", "N/A", "N/A", "N/A"]
    )
    cells = ["<root_account>", f"arn:{PARTITION}:iam::{ACCOUNT}:root", OLD, "not_supported"]
    cells += [password_last_used, "not_supported", "not_supported", "true" if mfa else "false"]
    cells += [*key, "false", "N/A", "N/A", "N/A", "N/A", "false", "N/A", "false", "N/A"]
    return ",".join(cells)


def read(value: dict[str, Any]) -> dict[str, Any]:
    return {"status": "read", "value": value}


def raw_iam(
    users: Sequence[User] = (),
    *,
    groups: Sequence[dict[str, Any]] = (),
    roles: Sequence[dict[str, Any]] = (),
    policies: Sequence[dict[str, Any]] = (),
    report: bool = True,
    root: str | None = None,
    summary: dict[str, int] | None = None,
) -> dict[str, Any]:
    """GAAD plus the per-user and account calls, shaped as `iam.get_iam` stores them."""
    rows = [report_row(u) for u in users if u.in_report] + ([root] if root else [])
    content = "\n".join([REPORT_COLUMNS, *rows]) + "\n"
    summary_map = {"AccountMFAEnabled": 1, "AccountAccessKeysPresent": 0} | (summary or {})
    return {
        "users": [aws_user(u) for u in users],
        "groups": list(groups),
        "roles": list(roles),
        "policies": list(policies),
        "mfa": {
            u.name: read({"MFADevices": [{"SerialNumber": s, "UserName": u.name} for s in u.mfa]})
            if u.mfa_status == "read"
            else DENIED
            for u in users
        },
        "access_keys": {
            u.name: read(
                {
                    "AccessKeyMetadata": [
                        {"AccessKeyId": k.id, "Status": k.status, "CreateDate": k.created}
                        for k in u.keys
                    ]
                }
            )
            if u.keys_status == "read"
            else DENIED
            for u in users
        },
        "key_last_used": {
            k.id: read(
                {
                    "AccessKeyLastUsed": {
                        "LastUsedDate": k.last_used,
                        "ServiceName": "s3" if k.last_used else "N/A",
                        "Region": "cn-north-1" if k.last_used else "N/A",
                    }
                }
            )
            if u.last_used_status == "read"
            else DENIED
            for u in users
            for k in u.keys
        },
        "account": {
            "summary": read({"SummaryMap": summary_map}) if summary is not None else DENIED,
            "password_policy": {"status": "none", "code": "NoSuchEntity"},
            "credential_report": read(
                {"Content": content, "GeneratedTime": "2026-03-01T00:00:00+00:00"}
            )
            if report
            else DENIED,
            "saml": read({"SAMLProviderList": []}),
            "oidc": read({"OpenIDConnectProviderList": []}),
        },
    }


def run(check_id: str, raw: dict[str, Any], pol: Policy | None = None) -> dict[str, Finding]:
    records = list(iam.transform_iam(raw, ACCOUNT, PARTITION))
    resources = [r for r in records if isinstance(r, Resource)]
    edges = [e for e in records if isinstance(e, Edge)]
    return run_one(check_id, make_ctx(resources, edges, pol))


def identity(**changes: Any) -> Policy:
    return dataclasses.replace(policy("identity"), **changes)


# --- dates ------------------------------------------------------------------------------------


def test_dates_are_read_from_strings_datetimes_and_dates_and_ignore_report_words():
    moment = datetime(2026, 2, 1, 23, 30, tzinfo=UTC)
    assert _day(moment) == moment.date()
    assert _day(moment.date()) == moment.date()
    assert _day("2026-02-01T23:30:00+00:00") == moment.date()
    assert _day("2026-02-01T23:30:00Z") == moment.date()
    for word in (None, "N/A", "no_information", "not_supported", "", "9999-99-99"):
        assert _day(word) is None


# --- ACC-005 ----------------------------------------------------------------------------------


def admin_estate() -> dict[str, Any]:
    return raw_iam(
        [
            User("alice", groups=["admins"]),
            User("bob", attached=[arn("policy", "ReadS3")]),
            User("carol", inline={"all": EVERYTHING}),
            User("erin", groups=["readers"]),
        ],
        groups=[
            aws_group("admins", [ADMIN_ACCESS]),
            aws_group("readers", [arn("policy", "ReadS3")]),
        ],
        roles=[
            aws_role("ops-admin", attached=[arn("policy", "FullAdmin")]),
            aws_role("reader", attached=[arn("policy", "ReadS3")]),
            aws_role("mystery", attached=[arn("policy", "NotInventoried")]),
            aws_role("AWSServiceRoleForSupport", path="/aws-service-role/support.amazonaws.com/"),
        ],
        policies=[aws_policy("FullAdmin", EVERYTHING), aws_policy("ReadS3", READ_S3)],
    )


def test_acc005_admin_policies_direct_user_policies_and_unknown_documents():
    found = run("ACC-005", admin_estate(), identity())
    assert found["admins"].status is Status.FAIL
    assert found["admins"].severity is Severity.HIGH
    assert "AdministratorAccess" in found["admins"].message
    assert found["carol"].status is Status.FAIL
    assert found["carol"].severity is Severity.HIGH
    assert "inline policy all allows * on *" in found["carol"].message
    assert found["bob"].status is Status.FAIL
    assert found["bob"].severity is Severity.MEDIUM
    assert "attached directly" in found["bob"].message
    assert found["ops-admin"].status is Status.FAIL
    assert "FullAdmin allows * on *" in found["ops-admin"].message
    # Through a group is how users should get rights; alice still counts as an administrator.
    assert found["alice"].status is Status.PASS
    assert "through group admins" in found["alice"].message
    assert found["erin"].status is Status.PASS
    assert found["reader"].status is Status.PASS
    assert found["readers"].status is Status.PASS
    assert found["mystery"].status is Status.UNKNOWN
    assert "NotInventoried (document not read)" in found["mystery"].message
    assert "AWSServiceRoleForSupport" not in found


def test_acc005_administrator_count_against_max_admins():
    raw = admin_estate()
    found = run("ACC-005", raw, identity())  # max_admins 2
    assert found["root"].status is Status.FAIL
    assert found["root"].severity is Severity.HIGH
    assert (
        "3 administrators (alice, carol, ops-admin), more than max_admins 2"
        in found["root"].message
    )
    # The undecided role could be the one too many.
    found = run("ACC-005", raw, identity(thresholds=Thresholds(max_admins=3)))
    assert found["root"].status is Status.UNKNOWN
    assert "mystery may be administrators too" in found["root"].message
    found = run("ACC-005", raw, identity(thresholds=Thresholds(max_admins=4)))
    assert found["root"].status is Status.PASS
    assert "within max_admins 4" in found["root"].message


def test_acc005_a_url_encoded_policy_document_is_evaluated():
    # IAM's wire form: URL-encoded JSON, with "*:*" for every action.
    statement = {"Effect": "Allow", "Action": "*:*", "Resource": "*"}
    encoded = quote(json.dumps({"Statement": [statement]}), safe="")
    raw = raw_iam(
        roles=[aws_role("r", attached=[arn("policy", "P")])], policies=[aws_policy("P", {})]
    )
    raw["policies"][0]["PolicyVersionList"][0]["Document"] = encoded
    found = run("ACC-005", raw, identity())
    assert found["r"].status is Status.FAIL
    assert found["root"].status is Status.PASS


# --- ACC-006 ----------------------------------------------------------------------------------


def root_finding(
    summary: dict[str, int] | None = None, root: str | None = None, report: bool = True
) -> Finding:
    return run("ACC-006", raw_iam(summary=summary, root=root, report=report))["root"]


def test_acc006_root_keys_and_missing_mfa_are_critical():
    keys = root_finding({"AccountAccessKeysPresent": 1}, root_row())
    assert (keys.status, keys.severity) == (Status.FAIL, Severity.CRITICAL)
    assert "has an access key" in keys.message
    no_mfa = root_finding({"AccountMFAEnabled": 0}, root_row(mfa=False))
    assert (no_mfa.status, no_mfa.severity) == (Status.FAIL, Severity.CRITICAL)
    assert "has no MFA device" in no_mfa.message
    # Without the account summary, the credential report's root row still tells.
    fallback = root_finding(None, root_row(mfa=False, key_active=True))
    assert (fallback.status, fallback.severity) == (Status.FAIL, Severity.CRITICAL)
    assert "has an access key; has no MFA device" in fallback.message


def test_acc006_recent_root_use_is_medium_and_old_use_passes():
    recent = root_finding({}, root_row("2026-02-19T08:00:00+00:00"))
    assert (recent.status, recent.severity) == (Status.FAIL, Severity.MEDIUM)
    assert "was used 10 days ago (2026-02-19)" in recent.message
    old = root_finding({}, root_row("2025-06-01T08:00:00+00:00"))
    assert old.status is Status.PASS
    assert "last used 273 days ago" in old.message
    never = root_finding({}, root_row("no_information"))
    assert never.status is Status.PASS
    assert "no recorded use" in never.message


def test_acc006_unknown_without_the_root_row_or_anything():
    # moto's credential report has no <root_account> row: last use cannot be judged.
    moto_like = root_finding({}, None)
    assert moto_like.status is Status.UNKNOWN
    assert "last use" in moto_like.message
    nothing = root_finding(None, None, report=False)
    assert nothing.status is Status.UNKNOWN
    assert "access keys, MFA, last use" in nothing.message


# --- ACC-007 ----------------------------------------------------------------------------------


def console_estate() -> dict[str, Any]:
    serial = arn("mfa", "with-mfa")
    return raw_iam(
        [
            User("with-mfa", password=True, mfa=[serial]),
            User("no-mfa", password=True),
            User("api-only"),
            User("late", password=True, in_report=False),
            User("unlisted", password=True, mfa_status="denied"),
        ]
    )


def test_acc007_console_users_need_mfa():
    found = run("ACC-007", console_estate())
    assert found["with-mfa"].status is Status.PASS
    assert found["no-mfa"].status is Status.FAIL
    assert found["no-mfa"].severity is Severity.HIGH
    assert "without MFA" in found["no-mfa"].message
    assert found["api-only"].status is Status.PASS
    assert "no console password" in found["api-only"].message
    # Created after the report was generated: its password is not known.
    assert found["late"].status is Status.UNKNOWN
    assert "console password" in found["late"].message
    # ListMFADevices denied: the report's mfa_active still answers.
    assert found["unlisted"].status is Status.FAIL


def test_acc007_federation_required_fails_every_console_password():
    found = run("ACC-007", console_estate(), identity())
    assert found["with-mfa"].status is Status.FAIL
    assert "requires federation" in found["with-mfa"].message
    assert found["api-only"].status is Status.PASS
    found = run("ACC-007", raw_iam([User("x", password=True)], report=False), identity())
    assert found["x"].status is Status.UNKNOWN


# --- ACC-008 ----------------------------------------------------------------------------------


def test_acc008_fresh_credentials_pass():
    fresh = User(
        "fresh",
        password=True,
        password_last_used="2026-02-20T09:00:00+00:00",
        keys=[Key("AKIAFRESH", "2026-01-15T00:00:00+00:00", "2026-02-28T00:00:00+00:00")],
    )
    retired = User("retired", keys=[Key("AKIAOLD", OLD, None, status="Inactive")])
    found = run("ACC-008", raw_iam([fresh, retired]))
    assert found["fresh"].status is Status.PASS
    assert "no stale console password or key (1 active access key)" in found["fresh"].message
    assert found["retired"].status is Status.PASS


def test_acc008_unused_old_and_doubled_credentials_fail():
    users = [
        User("idle-password", password=True, password_last_used="2025-12-01T00:00:00+00:00"),
        User("never-signed-in", password=True, password_last_used="no_information",
             password_last_changed="2025-10-01T00:00:00+00:00"),
        User("old-key", keys=[Key("AKIAOLDKEY", "2025-06-01", "2026-02-28T00:00:00+00:00")]),
        User("idle-key", keys=[Key("AKIAIDLE", "2026-01-01", "2026-01-05T00:00:00+00:00")]),
        User("two-keys", keys=[Key("AKIAONE", last_used="2026-02-27T00:00:00+00:00"),
                               Key("AKIATWO", last_used="2026-02-27T00:00:00+00:00")]),
    ]  # fmt: skip
    found = run("ACC-008", raw_iam(users))
    for name in ("idle-password", "never-signed-in", "old-key", "idle-key", "two-keys"):
        assert found[name].status is Status.FAIL, name
        assert found[name].severity is Severity.MEDIUM
    assert "console password unused for 90 days (limit 45)" in found["idle-password"].message
    assert "never used since it was set 151 days ago" in found["never-signed-in"].message
    assert "AKIAOLDKEY is 273 days old (max 90)" in found["old-key"].message
    assert "AKIAIDLE unused for 55 days" in found["idle-key"].message
    assert "2 active access keys (AKIAONE, AKIATWO)" in found["two-keys"].message


def test_acc008_falls_back_to_the_report_and_says_unknown_when_facts_are_missing():
    users = [
        User("report-only", keys=[Key("AKIAREPORT", OLD, "2026-02-28")], keys_status="denied"),
        User("blind", keys=[Key("AKIABLIND")], keys_status="denied"),
        User("no-last-used", keys=[Key("AKIANOLU", "2026-02-01")], last_used_status="denied"),
    ]  # fmt: skip
    found = run("ACC-008", raw_iam(users))
    assert found["report-only"].status is Status.FAIL
    assert "access key key 1 is 424 days old" in found["report-only"].message
    assert found["no-last-used"].status is Status.UNKNOWN
    assert "last use of access key AKIANOLU" in found["no-last-used"].message
    found = run("ACC-008", raw_iam(users[1:2], report=False))
    assert found["blind"].status is Status.UNKNOWN
    assert "access keys" in found["blind"].message


# --- ACC-009 ----------------------------------------------------------------------------------


def test_acc009_role_use_against_role_unused_days():
    roles = [
        aws_role("busy", last_used="2026-02-19T00:00:00+00:00"),
        aws_role("idle", last_used="2025-11-01T00:00:00+00:00"),
        aws_role("new", created="2026-01-30T00:00:00+00:00"),
        aws_role("forgotten", created="2025-08-01T00:00:00+00:00"),
        aws_role("ancient", created="2024-01-01T00:00:00+00:00"),
        aws_role("idle-admin", last_used="2025-11-01T00:00:00+00:00", attached=[ADMIN_ACCESS]),
        aws_role("undated", created=None),
        # moto stamps roles with the real clock, later than the pinned audit date.
        aws_role("future", created="2026-11-26T18:46:31.661477+00:00"),
        aws_role("AWSServiceRoleForConfig", path="/aws-service-role/config.amazonaws.com/"),
    ]
    found = run("ACC-009", raw_iam(roles=roles))
    assert found["busy"].status is Status.PASS
    assert "used 10 days ago" in found["busy"].message
    assert found["idle"].status is Status.FAIL
    assert found["idle"].severity is Severity.LOW
    assert "last used 120 days ago (2025-11-01), limit 90" in found["idle"].message
    assert found["new"].status is Status.PASS
    assert "30 days old and not used yet" in found["new"].message
    assert found["forgotten"].status is Status.FAIL
    assert "shows no use since its creation" in found["forgotten"].message
    assert found["ancient"].status is Status.FAIL
    assert "400-day tracking window" in found["ancient"].message
    assert found["idle-admin"].severity is Severity.MEDIUM
    assert found["undated"].status is Status.UNKNOWN
    assert found["future"].status is Status.PASS
    assert "0 days old" in found["future"].message
    assert "AWSServiceRoleForConfig" not in found


def test_acc009_unknown_when_last_use_was_never_read():
    # A role from somewhere that does not report RoleLastUsed carries no role_last_used attr.
    found = run_one("ACC-009", make_ctx([role("elsewhere")]))
    assert found["elsewhere"].status is Status.UNKNOWN
    assert "last use of elsewhere not read" in found["elsewhere"].message


def test_acc009_reads_datetime_attrs_too():
    raw = raw_iam(roles=[aws_role("r", last_used="2026-02-27T00:00:00+00:00")])
    [resource] = [
        r
        for r in iam.transform_iam(raw, ACCOUNT, PARTITION)
        if isinstance(r, Resource) and r.name == "r"
    ]
    moment = datetime(2025, 6, 1, tzinfo=UTC)
    attrs = dict(resource.attrs) | {"role_last_used": moment, "create_date": moment}
    found = run_one("ACC-009", make_ctx([dataclasses.replace(resource, attrs=attrs)]))
    assert found["r"].status is Status.FAIL
    assert "273 days ago" in found["r"].message


# --- ACC-010 ----------------------------------------------------------------------------------


def test_acc010_one_person_or_a_technical_account():
    users = [
        User("alice", tags={"accountable-person": "p-0001"}),
        User("nobody"),
        User("pair", tags={"accountable-person": "p-0001, p-0002"}),
        User("stranger", tags={"accountable-person": "p-9999"}),
        User("admin-1", tags={"accountable-person": "p-0001"}),
        User("svc-backup"),
    ]
    found = run("ACC-010", raw_iam(users), identity())
    assert found["alice"].status is Status.PASS
    assert "belongs to person p-0001" in found["alice"].message
    assert found["svc-backup"].status is Status.PASS
    assert "registered technical account" in found["svc-backup"].message
    for name in ("nobody", "pair", "stranger", "admin-1"):
        assert found[name].status is Status.FAIL, name
        assert found[name].severity is Severity.MEDIUM
    assert "no accountable-person tag" in found["nobody"].message
    assert "shared by 2 people: p-0001, p-0002" in found["pair"].message
    assert "p-9999, who is not a person of the policy" in found["stranger"].message
    assert "shared account's name" in found["admin-1"].message


def test_acc010_unknown_when_the_policy_lists_no_people():
    found = run("ACC-010", raw_iam([User("alice", tags={"accountable-person": "p-0001"})]))
    assert found["alice"].status is Status.UNKNOWN
    assert "lists no people" in found["alice"].message


# --- RSP-006 ----------------------------------------------------------------------------------


def break_glass_estate() -> dict[str, Any]:
    mfa_trust = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:{PARTITION}:iam::{ACCOUNT}:root"},
                "Action": "sts:AssumeRole",
                "Condition": {"Bool": {"aws:MultiFactorAuthPresent": "true"}},
            }
        ],
    }
    return raw_iam(
        [
            User("bg-1", password=True, mfa=["GAHT12345678"]),
            User("bg-virtual", password=True, mfa=[arn("mfa", "bg-virtual")]),
            User("bg-keys", password=True, mfa=["GAHT87654321"], keys=[Key("AKIABG")]),
            User("bg-unread", password=True, mfa=["GAHT11112222"], mfa_status="denied"),
            User("emergency-admin", password=True),
        ],
        roles=[aws_role("bg-role", trust=mfa_trust), aws_role("bg-open")],
    )


def test_rsp006_declared_break_glass_principals_are_judged():
    found = run("RSP-006", break_glass_estate(), identity())
    assert found["bg-1"].status is Status.PASS
    assert "use-alarm is not assessed" in found["bg-1"].message
    assert found["bg-role"].status is Status.PASS
    assert found["bg-virtual"].status is Status.FAIL
    assert found["bg-virtual"].severity is Severity.HIGH
    assert "only virtual MFA" in found["bg-virtual"].message
    assert found["bg-keys"].status is Status.FAIL
    assert "has access keys: AKIABG (active)" in found["bg-keys"].message
    assert found["bg-open"].status is Status.FAIL
    assert "can be assumed without MFA" in found["bg-open"].message
    # The report says MFA is on, but only ListMFADevices tells hardware from virtual.
    assert found["bg-unread"].status is Status.UNKNOWN
    assert "MFA devices" in found["bg-unread"].message
    assert found["bg-gone"].status is Status.FAIL
    assert "does not exist" in found["bg-gone"].message
    assert found["bg-elsewhere"].status is Status.UNKNOWN
    assert "not audited" in found["bg-elsewhere"].message
    assert found["emergency-admin"].status is Status.FAIL
    assert "not declared" in found["emergency-admin"].message


def test_rsp006_count_per_account_and_virtual_mfa_when_hardware_is_not_required():
    found = run("RSP-006", break_glass_estate(), identity())
    assert found["root"].status is Status.FAIL
    assert "7 declared break-glass principals, more than max_count 2" in found["root"].message
    relaxed = BreakGlass(
        principals=policy("identity").break_glass.principals, max_count=7, hardware_mfa=False
    )
    found = run("RSP-006", break_glass_estate(), identity(break_glass=relaxed))
    assert found["root"].status is Status.PASS
    assert found["bg-virtual"].status is Status.PASS
    assert found["bg-unread"].status is Status.PASS


def test_rsp006_a_declared_arn_may_omit_the_path():
    raw = raw_iam([User("bg-1", mfa=["GAHT12345678"])])
    raw["users"][0]["Path"] = "/emergency/"
    raw["users"][0]["Arn"] = arn("user", "emergency/bg-1")
    declared = BreakGlass(principals=(arn("user", "bg-1"),))
    found = run("RSP-006", raw, identity(break_glass=declared))
    assert found["bg-1"].status is Status.PASS
    assert found["root"].status is Status.PASS


def test_rsp006_no_declared_break_glass_is_a_medium_finding_per_account():
    found = run("RSP-006", raw_iam([User("alice")]))
    assert found["root"].status is Status.FAIL
    assert found["root"].severity is Severity.MEDIUM
    assert "declares no break-glass principal" in found["root"].message
    assert "alice" not in found


# --- RSP-008 ----------------------------------------------------------------------------------


def leavers() -> list[User]:
    return [
        User("active", password=True, tags={"accountable-person": "p-0001"}),
        User("leaver", password=True, tags={"accountable-person": "p-0212"}),
        User("disabled", tags={"accountable-person": "p-0212"},
             keys=[Key("AKIAOFF", status="Inactive")]),
        User("stranger", tags={"accountable-person": "p-9999"}, keys=[Key("AKIAON")]),
        User("unread", tags={"accountable-person": "p-0212"}, keys_status="denied"),
        User("untagged", password=True),
    ]  # fmt: skip


def test_rsp008_usable_users_of_people_who_left_or_are_unknown():
    found = run("RSP-008", raw_iam(leavers()), identity())
    assert found["active"].status is Status.PASS
    assert "p-0001, who is active" in found["active"].message
    assert found["leaver"].status is Status.FAIL
    assert found["leaver"].severity is Severity.HIGH
    assert "still usable (a console password) but p-0212 has left" in found["leaver"].message
    assert found["stranger"].status is Status.FAIL
    assert "active access key(s) AKIAON" in found["stranger"].message
    assert "p-9999 is not a person of the policy" in found["stranger"].message
    assert found["disabled"].status is Status.PASS
    assert "no usable credentials" in found["disabled"].message
    assert "untagged" not in found
    # ListAccessKeys denied: the credential report still shows no password and no active key.
    assert found["unread"].status is Status.PASS
    found = run("RSP-008", raw_iam(leavers(), report=False), identity())
    assert found["unread"].status is Status.UNKNOWN
    assert "could not be read" in found["unread"].message


def test_rsp008_dissolved_department_and_a_policy_without_people():
    people = dict(policy("identity").people) | {"p-0300": Person("p-0300", "old-dept", "active")}
    user = User("orphan", password=True, tags={"accountable-person": "p-0300"})
    found = run("RSP-008", raw_iam([user]), identity(people=people))
    assert found["orphan"].status is Status.FAIL
    assert "department old-dept no longer exists" in found["orphan"].message
    found = run("RSP-008", raw_iam([user]))
    assert found["orphan"].status is Status.UNKNOWN
