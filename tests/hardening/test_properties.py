"""Property tests: the policy loader and the IAM evaluator over thousands of generated documents.

Both read text nobody vetted (a policy file typed by hand, policy documents collected from a
cloud), so neither may fail with anything but its own error: `PolicyError` naming the file and
line, `PolicyDocumentError` naming the policy and statement.  Every example is derandomised and
the example database is off, so CI runs the same documents every time.

Crashes these properties found are kept as plain regression tests at the end of the file.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from auditor.access import Decision, Evaluation, PolicyDocumentError, PolicySet, Request, evaluate
from auditor.errors import PolicyError
from auditor.inventories.aws.policy_rights import (
    PolicyDocumentError as RightsDocumentError,
)
from auditor.inventories.aws.policy_rights import (
    glob_regex,
    load_document,
    matches,
    normalise_principals,
    rights_from_policy,
)
from auditor.policy import Policy, load_policy

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def fixed(examples: int) -> settings:
    """Reproducible runs: the same documents every time, no example database, no deadline."""
    return settings(
        max_examples=examples,
        derandomize=True,
        database=None,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )


# --- shared building blocks -------------------------------------------------------------------

# Surrogates cannot be written as UTF-8; every other code point is fair game.
ANY_TEXT = st.text(st.characters(exclude_categories=["Cs"]), max_size=12)
HOSTILE_TEXT = st.sampled_from(
    [
        "",
        " ",
        "\n",
        "a\nb",
        "\r\n",
        "\t",
        "\x00",
        "\x1b[2J",
        "\x1b]8;;http://evil\x07x\x1b]8;;\x07",
        "\u202eevil",
        "\u2028",
        "\x85",
        "\ufeff",
        "某市大数据管理局",
        "🙂",
        "${aws:username}",
        "${",
        "*" * 40,
        "*a" * 25 + "b",
        "?" * 30,
        "a{99999999999}",
        "(" * 300 + ")" * 300,
        "[",
        "9" * 400,
        "-9" * 30,
        "1e400",
        "nan",
        "inf",
        "2026-02-30",
        "2026-12-31T25:00:00Z",
        "99999999999999999999",
        "0x" + "f" * 40,
        "::1/200",
        "10.0.0.0/8",
        "a" * 300,
    ]
)
TEXT = st.one_of(ANY_TEXT, HOSTILE_TEXT)
SCALAR = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.integers(min_value=-(10**30), max_value=10**30),
    st.floats(allow_nan=True, allow_infinity=True),
    TEXT,
)
JUNK: st.SearchStrategy[Any] = st.recursive(
    SCALAR,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(TEXT, inner, max_size=4)),
    max_leaves=8,
)


def mostly(good: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """Usually a well-formed value, sometimes junk of any type."""
    return st.one_of(good, good, good, JUNK)


# --- 1. policy files ------------------------------------------------------------------------


class Shapes:
    """Strategies for one kind of document: well-formed (`junk=False`, values of the right type
    drawn from plausible ones) or hostile (`junk=True`, any value of any type anywhere)."""

    def __init__(self, junk: bool) -> None:
        self.junk = junk

    def value(self, good: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
        return mostly(good) if self.junk else good

    def pick(self, *good: Any, bad: tuple[Any, ...] = ()) -> st.SearchStrategy[Any]:
        """One of the good values; when hostile, also a bad one or any text."""
        if not self.junk:
            return st.sampled_from(good)
        return st.one_of(st.sampled_from(good + bad), TEXT)

    def section(
        self,
        required: dict[str, st.SearchStrategy[Any]],
        optional: dict[str, st.SearchStrategy[Any]],
    ) -> st.SearchStrategy[Any]:
        """A mapping of the policy format; when hostile, with a foreign key now and then."""
        fields = {k: self.value(v) for k, v in required.items()}
        extras = {k: self.value(v) for k, v in optional.items()}
        if self.junk:
            extras["unknown_key"] = JUNK
        return self.value(st.fixed_dictionaries(fields, optional=extras))

    def listing(self, item: st.SearchStrategy[Any], max_size: int = 3) -> st.SearchStrategy[Any]:
        return self.value(st.lists(item, max_size=max_size))

    def named(
        self, item: st.SearchStrategy[Any], keys: st.SearchStrategy[Any] | None = None
    ) -> st.SearchStrategy[Any]:
        return self.value(st.dictionaries(TEXT if keys is None else keys, item, max_size=3))


def policy_documents(junk: bool) -> st.SearchStrategy[dict[str, Any]]:
    """Policy files as YAML values, mirroring CHECKS.md §4 and examples/starter-policy.yaml."""
    s = Shapes(junk)
    country = s.pick("CN", "HK", "US", "DE", "MO", "TW")
    day = st.one_of(
        st.dates(min_value=date(1, 1, 1), max_value=date(9999, 12, 31)),
        s.pick("2027-12-31", bad=("2026-02-30", "31/12/2027", "2027-12-31 10:00:00")),
    )
    account = st.one_of(
        s.pick("111111111111", "222222222222", "012345678901", bad=("12345",)),
        st.integers(min_value=0, max_value=10**13) if junk else st.nothing(),
    )
    person = s.pick("p-0001", "p-0002", bad=("p-9999",))
    dept = s.pick("dsj", "mz", bad=("nowhere",))
    klass = s.pick("core", "important", "general", "public", bad=("secret",))
    check_id = s.pick("FLOW-003", "RSP-001", bad=("ACC-1", "XYZ-001"))
    regex = s.pick(r"\d{17}[\dXx]", "^(admin|ops)", bad=("(", "a{99999999999}", "(" * 300))
    arn = s.pick("arn:aws-cn:iam::111111111111:role/audit-admin", "arn:aws-cn:s3:::x/*")
    flag = st.booleans()
    whole = st.one_of(st.integers(min_value=-5, max_value=400), st.integers(), st.floats())
    if not junk:
        whole = st.integers(min_value=0, max_value=400)
    label = TEXT if junk else st.sampled_from(["某市大数据管理局", "Archive", "日志", ""])

    classification = s.section(
        {
            "allowed_jurisdictions": s.listing(
                st.one_of(country, s.pick("*", "@EU27", bad=("CN_X",)))
            )
        },
        {
            "zh": label,
            "rank": whole,
            "allowed_operators": s.listing(country),
            "key_custody": s.pick("hyok", "byok", "customer_managed", "any", bad=("bogus",)),
            "log_retention_days": whole,
            "backup_required": flag,
            "allow_global_edge": flag,
            "allow_public": flag,
            "restricted": flag,
        },
    )
    waiver = s.section(
        {"check": check_id, "resource": arn, "expires": day},
        {"reason": label, "approver": person, "approved_on": day, "ticket": label},
    )
    sections: dict[str, st.SearchStrategy[Any]] = {
        "organisation": s.section({"name": label}, {"home_jurisdiction": country}),
        "jurisdictions": s.named(
            st.one_of(
                s.listing(st.one_of(country, s.pick("@EU27", "A", "B", bad=("@NOPE",)))), country
            ),
            s.pick("A", "B", bad=("CN_X",)),
        ),
        "region_overrides": s.named(country, s.pick("aws:cn-north-1", "openstack:RegionOne")),
        "providers": s.named(
            s.section({"operator": country}, {"parent": country}), s.pick("aws", "aws-cn")
        ),
        "classification_defaults": s.section(
            {}, {"untagged": klass, "aliases": s.named(klass, s.pick("核心", "x"))}
        ),
        "tags": s.section(
            {},
            {
                "classification": label,
                "owner_dept": label,
                "accountable_person": label,
                "sharing": label,
                "custodian": label,
                "pi_regex": regex,
            },
        ),
        "departments": s.listing(s.section({"id": dept}, {"name": label})),
        "people": s.listing(
            s.section(
                {"id": person}, {"dept": dept, "status": s.pick("active", "left", bad=("x",))}
            )
        ),
        "accounts": s.named(
            s.section(
                {}, {"name": label, "dept": dept, "purpose": label, "classification_max": klass}
            ),
            account,
        ),
        "trusted_accounts": s.listing(
            s.section(
                {"account": account, "org": label},
                {
                    "kind": s.pick("vendor", "department"),
                    "jurisdiction": country,
                    "dept_sponsor": dept,
                    "contract": label,
                    "contract_expiry": day,
                    "require_external_id": flag,
                    "require_source_identity": flag,
                },
            )
        ),
        "external_endpoints": s.listing(
            s.section({"host": s.pick("api.example", "X.Example"), "country": country}, {})
        ),
        "sharing_agreements": s.listing(
            s.section(
                {"id": label, "from": dept, "to": dept, "resources": s.listing(arn)},
                {"attribute": s.pick("conditional", "none", bad=("x",)), "expires": day},
            )
        ),
        "transfer_approvals": s.listing(
            s.section({"id": label, "resources": s.listing(arn), "basis": label}, {"expires": day})
        ),
        "key_custody": s.section(
            {},
            {
                "approved_custodians": s.named(s.listing(person), dept),
                "levels": s.named(
                    s.listing(s.pick("EXTERNAL", "AWS_KMS")), s.pick("hyok", bad=("no",))
                ),
            },
        ),
        "roles": s.section(
            {},
            {
                "audit_admins": s.listing(arn),
                "capability_actions": s.named(
                    s.listing(s.pick("s3:*", "kms:Decrypt")), s.pick("key_admin", "log_admin")
                ),
                "sod_rules": s.listing(
                    s.section(
                        {"id": label, "exclusive": s.listing(s.pick("key_admin", bad=("x",)))}, {}
                    )
                ),
            },
        ),
        "break_glass": s.section(
            {"principals": s.listing(arn)},
            {"max_count": whole, "hardware_mfa": flag, "alarm_required": flag},
        ),
        "identity": s.section(
            {},
            {
                "federation_required": flag,
                "idps": s.listing(s.section({"name": label}, {"country": country})),
                "technical_accounts": s.listing(label),
                "shared_name_regex": regex,
            },
        ),
        "log_jurisdictions": s.listing(country),
        "thresholds": s.named(whole, s.pick("max_admins", "key_max_age_days", bad=("typo",))),
        "waiver_policy": s.section(
            {},
            {
                "approvers": s.named(s.listing(person), s.pick("critical", "high", bad=("x",))),
                "max_days": whole,
            },
        ),
        # A string names a waivers file next to the policy; most names do not exist.
        "waivers": st.one_of(
            s.listing(waiver),
            s.pick("waivers.yaml", ".", "a\x00b") if junk else st.nothing(),
        ),
        "checks": s.section(
            {}, {"disabled": s.listing(check_id), "severity": s.named(s.pick("high"), check_id)}
        ),
    }
    if junk:
        sections.update(raci=JUNK, alerts=JUNK, versoin=JUNK)
    required = {
        "version": st.one_of(st.just(1), whole, TEXT) if junk else st.just(1),
        "classifications": s.named(classification, klass),
    }
    if not junk:
        # Well-formed policies declare the departments and people other sections name.
        required["departments"] = st.just([{"id": "dsj"}, {"id": "mz", "name": "民政"}])
        required["people"] = st.just([{"id": "p-0001", "dept": "dsj"}, {"id": "p-0002"}])
        del sections["departments"], sections["people"]
    return st.fixed_dictionaries(required, optional=sections)


POLICY_DOC = st.one_of(policy_documents(junk=False), policy_documents(junk=True))

# YAML that PyYAML reads into things a dumper never writes: odd tags, odd keys, aliases,
# numbers too big to print, timestamps that are not dates.
YAML_SNIPPETS = [
    "version: 0x" + "f" * 4000,
    "version: -0b" + "1" * 20000,
    "rank: 1:2:3:4:5:6:7",
    "2026-02-30: x",
    "2026-02-28: x",
    "2026-02-28 10:00:00: x",
    "0x" + "f" * 4000 + ": x",
    "9" * 5000 + ": x",
    "? [a, b]\n: c",
    "? {a: b}\n: c",
    "!!map x: 1",
    "!!binary '!!!': x",
    "!!python/object:os.system x: 1",
    "!!set {a, b}: x",
    "x: !!binary '!!!'",
    "x: !!timestamp 2026-02-30",
    "x: !!float abc",
    "x: !!int abc",
    "x: !custom {a: 1}",
    "a: &a [*a]",
    "a: &a {b: *a}",
    "b: *missing",
    "x: [" * 200 + "]" * 200,
    "x: " + "[" * 100 + "]" * 100,
    "x: " + "{a: " * 100 + "1" + "}" * 100,
    '"a\\nb": 1',
    '"\\x1b[2J": 1',
    '"\\u202e": 1',
    "~: 1",
    "true: 1",
    ".nan: 1",
    "version: 1\n---\nversion: 2",
    "%YAML 1.1\n---\nversion: 1",
    "\t- x",
    "x: '''",
    "x: 'a\x00b'",
    "x:\x07y",
]


def _mutate(text: str, edits: list[tuple[int, int, str]]) -> str:
    lines = text.splitlines()
    for where, how, snippet in edits:
        at = where % (len(lines) + 1)
        if how == 0:
            lines.insert(at, snippet)
        elif how == 1 and lines:
            del lines[min(at, len(lines) - 1)]
        elif how == 2 and lines:
            line = lines[min(at, len(lines) - 1)]
            lines[min(at, len(lines) - 1)] = "  " + line
        elif how == 3:
            # Put a snippet under an existing key, one level down.
            lines.insert(at, "  " + snippet.replace("\n", "\n  "))
    return "\n".join(lines) + "\n"


EDIT = st.tuples(st.integers(0, 400), st.integers(0, 3), st.sampled_from(YAML_SNIPPETS))


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("policies")


# Control and format characters (C0, C1, bidi overrides, line and paragraph separators).
UNSAFE = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def assert_loads_or_clear_error(path: Path) -> Policy | None:
    """The loader's contract: a Policy, or a PolicyError of one line per problem."""
    try:
        policy = load_policy(path)
    except PolicyError as err:
        located = re.compile(re.escape(str(path)) + r":\d+: \S")
        for message in (str(err), *err.errors):
            assert located.match(message), message[:300]
            assert len(message.splitlines()) == 1, message[:300]
            # Nor anything a terminal would act on: the file's own text is escaped.
            assert not UNSAFE.search(message), message[:300]
        return None
    assert isinstance(policy, Policy)
    return policy


def dump(doc: Any) -> str:
    return yaml.safe_dump(doc, allow_unicode=True, sort_keys=False, width=80)


@fixed(400)
@given(doc=POLICY_DOC)
def test_generated_policies_load_or_fail_with_a_located_line(workdir: Path, doc: Any) -> None:
    path = workdir / "policy.yaml"
    path.write_text(dump(doc), encoding="utf-8")
    assert_loads_or_clear_error(path)


STARTER = (EXAMPLES / "starter-policy.yaml").read_text("utf-8")
SAMPLE = (EXAMPLES / "sample-policy.yaml").read_text("utf-8")


@fixed(300)
@given(
    base=st.one_of(st.sampled_from([STARTER, SAMPLE]), POLICY_DOC.map(dump)),
    edits=st.lists(EDIT, min_size=1, max_size=4),
)
def test_mutated_policy_files_load_or_fail_with_a_located_line(
    workdir: Path, base: str, edits: list[tuple[int, int, str]]
) -> None:
    path = workdir / "mutated.yaml"
    path.write_text(_mutate(base, edits), encoding="utf-8")
    assert_loads_or_clear_error(path)


@fixed(300)
@given(
    content=st.one_of(
        st.binary(max_size=300),
        st.text(max_size=300).map(lambda t: t.encode("utf-8", "surrogatepass")),
        st.lists(st.sampled_from([*YAML_SNIPPETS, "- a", "a:", "  b: c", "{", "}"]), max_size=6)
        .map("\n".join)
        .map(str.encode),
    )
)
def test_arbitrary_bytes_load_or_fail_with_a_located_line(workdir: Path, content: bytes) -> None:
    path = workdir / "raw.yaml"
    path.write_bytes(content)
    assert_loads_or_clear_error(path)


def test_the_shipped_policies_still_load(workdir: Path) -> None:
    # The properties above only prove "no crash"; this keeps them honest about success.
    for name in ("starter-policy.yaml", "sample-policy.yaml"):
        assert assert_loads_or_clear_error(EXAMPLES / name) is not None


# --- 2. IAM policy documents ----------------------------------------------------------------

A, B = "111111111111", "222222222222"
PRINCIPAL_ARNS = [
    f"arn:aws-cn:iam::{A}:user/alice",
    f"arn:aws-cn:iam::{A}:role/app",
    f"arn:aws-cn:sts::{A}:assumed-role/app/s1",
    f"arn:aws-cn:iam::{A}:root",
    f"arn:aws-cn:iam::{B}:user/vendor",
    f"arn:aws-cn:iam::{A}:role/aws-service-role/rds.amazonaws.com/AWSServiceRoleForRDS",
    f"arn:aws-cn:sts::{A}:federated-user/bob",
    "s3.amazonaws.com",
    "cognito-identity.amazonaws.com",
]
RESOURCE_ARNS = [
    "arn:aws-cn:s3:::data",
    "arn:aws-cn:s3:::data/report.csv",
    f"arn:aws-cn:kms:cn-north-1:{A}:key/1234abcd",
    f"arn:aws-cn:sqs:cn-north-1:{A}:orders",
    f"arn:aws-cn:iam::{A}:role/target",
    f"arn:aws-cn:iam::{B}:role/target",
    ":role/",
    "role/x:role/",
    "*",
]
ACTIONS = [
    "s3:GetObject",
    "s3:PutObject",
    "s3:ListBucket",
    "kms:Decrypt",
    "sts:AssumeRole",
    "sts:TagSession",
    "iam:PassRole",
    "sqs:SendMessage",
]
CONTEXT_KEYS = [
    "aws:SourceIp",
    "aws:username",
    "aws:userid",
    "aws:PrincipalOrgID",
    "aws:PrincipalArn",
    "aws:PrincipalTag/dept",
    "aws:CurrentTime",
    "aws:EpochTime",
    "aws:MultiFactorAuthPresent",
    "aws:MultiFactorAuthAge",
    "aws:SecureTransport",
    "aws:TagKeys",
    "aws:SourceVpce",
    "aws:ResourceAccount",
    "s3:prefix",
    "sts:ExternalId",
    "kms:ViaService",
]
OPERATOR_BASES = [
    "StringEquals",
    "StringNotEquals",
    "StringEqualsIgnoreCase",
    "StringNotEqualsIgnoreCase",
    "StringLike",
    "StringNotLike",
    "NumericEquals",
    "NumericNotEquals",
    "NumericLessThan",
    "NumericLessThanEquals",
    "NumericGreaterThan",
    "NumericGreaterThanEquals",
    "DateEquals",
    "DateNotEquals",
    "DateLessThan",
    "DateLessThanEquals",
    "DateGreaterThan",
    "DateGreaterThanEquals",
    "Bool",
    "BinaryEquals",
    "IpAddress",
    "NotIpAddress",
    "ArnEquals",
    "ArnNotEquals",
    "ArnLike",
    "ArnNotLike",
    "Null",
    "Bogus",
]
VALUE_TEXT = st.one_of(
    st.sampled_from(
        [
            "true",
            "false",
            "0",
            "-1",
            "3600",
            "1.5",
            "1e308",
            "9" * 400,
            "-" + "9" * 30,
            "99999999999999999999",
            "2026-01-01",
            "2026-01-01T00:00:00Z",
            "2026-13-45T99:00:00",
            "0001-01-01T00:00:00+14:00",
            "9999-12-31T23:59:59-14:00",
            "10.0.0.0/8",
            "10.0.0.1",
            "2001:db8::/32",
            "::1",
            "300.1.1.1",
            "o-abc123",
            "arn:aws-cn:iam::*:role/*",
            "${aws:username}",
            "${aws:username}/*",
            "*",
        ]
    ),
    TEXT,
)
ACTION_PATTERNS = [*ACTIONS, "*", "s3:*", "s3:Get*", "s3:?etObject", "sts:*", "kms:*crypt"]
RESOURCE_PATTERNS = [
    *RESOURCE_ARNS,
    "arn:aws-cn:s3:::data/*",
    "arn:aws-cn:s3:::${aws:username}/*",
    "arn:aws-cn:iam::*:role/*",
    "arn:*:*:*:*:*",
    "arn:aws-cn:s3:*",
]
PRINCIPAL_VALUES = [*PRINCIPAL_ARNS, A, B, "*"]


@st.composite
def statements(draw: st.DrawFn, junk: bool, principal: bool) -> Any:
    """One statement; `principal` for resource policies and RCPs, which must name one.

    Well-formed statements pass AWS's own checks, so the evaluator decides them; hostile ones
    break a rule now and then (two of Action/NotAction, a wrong type anywhere).
    """
    s = Shapes(junk)
    rule_breaker = draw(st.booleans()) if junk else False

    def one_or_more(strategy: st.SearchStrategy[Any]) -> Any:
        return draw(s.value(st.one_of(strategy, st.lists(strategy, min_size=1, max_size=3))))

    # Mostly Allow: with as many Denies, nearly every request would end in an explicit deny.
    effect = st.sampled_from(["Allow", "Allow", "Allow", "Allow", "Deny"])
    stmt: dict[str, Any] = {"Effect": draw(s.value(effect))}
    if draw(st.booleans()):
        stmt["Sid"] = draw(st.one_of(TEXT, JUNK) if junk else st.sampled_from(["Read", "x"]))
    # The Not- forms match nearly everything, so they come up less often than the plain ones.
    if rule_breaker and draw(st.booleans()):
        action_keys = ["Action", "NotAction"]
    else:
        action_keys = [draw(st.sampled_from(["Action", "Action", "Action", "NotAction"]))]
    for key in action_keys:
        stmt[key] = one_or_more(s.pick(*ACTION_PATTERNS))
    resource_keys = [[], ["Resource"], ["Resource"], ["Resource"], ["NotResource"]]
    if rule_breaker:
        resource_keys.append(["Resource", "NotResource"])
    for key in draw(st.sampled_from(resource_keys)):
        stmt[key] = one_or_more(s.pick(*RESOURCE_PATTERNS))
    if principal or (rule_breaker and draw(st.booleans())):
        key = draw(st.sampled_from(["Principal", "Principal", "NotPrincipal"]))
        value = one_or_more(s.pick(*PRINCIPAL_VALUES))
        kinds = st.sampled_from(["AWS", "Service", "Federated", "CanonicalUser", "Other"])
        element = draw(st.one_of(st.just("*"), st.dictionaries(kinds, st.just(value), min_size=1)))
        stmt[key] = draw(s.value(st.just(element)))
    if draw(st.integers(0, 2)) == 0:
        stmt["Condition"] = draw(s.value(conditions(junk)))
    if rule_breaker and draw(st.booleans()):
        del stmt[draw(st.sampled_from(sorted(stmt)))]
    return stmt


def conditions(junk: bool) -> st.SearchStrategy[dict[str, Any]]:
    s = Shapes(junk)
    qualifiers = ["", "ForAnyValue:", "ForAllValues:", "forallvalues:"]
    bases = [b for b in OPERATOR_BASES if b != "Bogus"]
    if junk:
        qualifiers += ["Bad:", "a:b:"]
        bases += ["Bogus"]
    operator = st.builds(
        # AWS refuses NullIfExists; hostile policies may still carry it.
        lambda q, base, if_exists: q + base + ("" if base == "Null" and not junk else if_exists),
        st.sampled_from(qualifiers),
        st.sampled_from(bases),
        st.sampled_from(["", "IfExists", "ifexists"]),
    )
    values = s.value(st.one_of(VALUE_TEXT, st.lists(VALUE_TEXT, max_size=3)))
    keys = s.pick(*CONTEXT_KEYS)
    return st.dictionaries(
        st.one_of(operator, TEXT) if junk else operator,
        s.value(st.dictionaries(keys, values, min_size=1, max_size=2)),
        min_size=1,
        max_size=3,
    )


def documents(junk: bool, principal: bool) -> st.SearchStrategy[Any]:
    s = Shapes(junk)
    listed = st.lists(statements(junk, principal), min_size=1, max_size=3)
    body = st.one_of(listed, statements(junk, principal)) if junk else listed
    return s.value(
        st.fixed_dictionaries(
            {"Statement": s.value(body)},
            optional={
                "Version": st.sampled_from(["2012-10-17", "2008-10-17"]),
                "Id": TEXT if junk else st.sampled_from(["p1", "AdministratorAccess"]),
            },
        )
    )


def policy_sets(junk: bool) -> st.SearchStrategy[PolicySet]:
    """Every policy of a request; documents are mappings, as the inventory stores them."""

    def objects(principal: bool) -> st.SearchStrategy[Any]:
        found = documents(junk, principal).filter(lambda d: isinstance(d, dict))
        # AWS's default FullAWSAccess policies: without them an SCP or RCP level allows
        # almost nothing, and the properties would only ever see implicit denies.
        full = {"Effect": "Allow", "Action": "*", "Resource": "*"}
        if principal:
            full["Principal"] = "*"
        return st.one_of(found, st.just({"Statement": [full]}))

    return st.builds(
        PolicySet,
        identity=st.lists(objects(False), max_size=3),
        resource=st.one_of(st.none(), objects(True)),
        boundary=st.one_of(st.none(), objects(False)),
        # AWS always attaches a policy at every level; an empty level is a hostile-only shape.
        scps=st.lists(st.lists(objects(False), min_size=int(not junk), max_size=2), max_size=2),
        rcps=st.lists(st.lists(objects(True), min_size=int(not junk), max_size=2), max_size=2),
        resource_is_kms_key=st.booleans(),
    )


# The same shapes without the filter: the evaluator also meets lists, strings and nulls.
JUNK_POLICY_SET = st.builds(
    PolicySet,
    identity=st.lists(documents(True, False), max_size=2),
    resource=st.one_of(st.none(), documents(True, True)),
    boundary=st.one_of(st.none(), documents(True, False)),
    scps=st.lists(st.lists(documents(True, False), max_size=2), max_size=2),
    rcps=st.lists(st.lists(documents(True, True), max_size=2), max_size=2),
    resource_is_kms_key=st.booleans(),
)
POLICY_SET = st.one_of(policy_sets(junk=False), policy_sets(junk=False), policy_sets(junk=True))
CONTEXT = st.dictionaries(
    st.one_of(st.sampled_from(CONTEXT_KEYS), TEXT),
    st.one_of(VALUE_TEXT, st.booleans(), st.lists(VALUE_TEXT, max_size=3)),
    max_size=4,
)
DOCUMENT = st.one_of(documents(False, True), documents(True, True), documents(True, False))
PRINCIPAL_VALUE = st.one_of(st.sampled_from(PRINCIPAL_VALUES), TEXT)
PRINCIPAL = st.one_of(
    st.just("*"),
    st.dictionaries(
        st.sampled_from(["AWS", "Service", "Federated", "CanonicalUser", "Other"]),
        st.one_of(PRINCIPAL_VALUE, st.lists(PRINCIPAL_VALUE, max_size=3), JUNK),
        max_size=3,
    ),
    JUNK,
)


def usually(values: list[str]) -> st.SearchStrategy[str]:
    """One of `values` three times in four, else any text: requests that policies can name."""
    return st.integers(0, 3).flatmap(lambda i: st.sampled_from(values) if i else TEXT)


REQUEST = st.builds(
    Request,
    principal_arn=usually(PRINCIPAL_ARNS),
    principal_account=usually([A, B]),
    action=usually(ACTIONS),
    resource_arn=usually(RESOURCE_ARNS),
    resource_account=st.one_of(st.none(), usually([A, B])),
    context=CONTEXT,
)


def decide(request: Request, policies: PolicySet) -> Evaluation | PolicyDocumentError:
    """The evaluator's contract: an Evaluation, or a one-line PolicyDocumentError."""
    try:
        result = evaluate(request, policies)
    except PolicyDocumentError as err:
        message = str(err)
        assert message and len(message.splitlines()) == 1, message[:300]
        assert not UNSAFE.search(message), message[:300]
        return err
    assert isinstance(result, Evaluation)
    assert result.decision in Decision
    assert all(isinstance(r, str) for r in result.reasons)
    assert all(isinstance(k, str) for k in result.pending)
    if result.decision is not Decision.CONDITIONAL:
        assert result.pending == ()
    return result


@fixed(600)
@given(request=REQUEST, policies=POLICY_SET)
def test_evaluate_decides_or_names_the_malformed_policy(
    request: Request, policies: PolicySet
) -> None:
    first = decide(request, policies)
    # Same inputs, same answer: no hidden state (caches, dict order) leaks into a decision.
    second = decide(request, policies)
    if isinstance(first, Evaluation):
        assert first == second
    else:
        assert str(first) == str(second)


@fixed(200)
@given(request=REQUEST, policies=JUNK_POLICY_SET)
def test_evaluate_survives_documents_that_are_not_objects(
    request: Request, policies: PolicySet
) -> None:
    decide(request, policies)


def deny_everything(action: str) -> dict[str, Any]:
    return {"Statement": [{"Effect": "Deny", "Action": action, "Resource": "*"}]}


@fixed(300)
@given(request=REQUEST, policies=POLICY_SET, pattern=st.sampled_from(["{action}", "*"]))
def test_an_unconditional_deny_on_every_resource_always_wins(
    request: Request, policies: PolicySet, pattern: str
) -> None:
    denied = PolicySet(
        identity=[*policies.identity, deny_everything(pattern.format(action=request.action))],
        resource=policies.resource,
        boundary=policies.boundary,
        scps=policies.scps,
        rcps=policies.rcps,
        resource_is_kms_key=policies.resource_is_kms_key,
    )
    result = decide(request, denied)
    if isinstance(result, Evaluation):
        assert result.decision is Decision.EXPLICIT_DENY


@fixed(300)
@given(request=REQUEST, policies=POLICY_SET, other=st.sampled_from([*ACTIONS, "ec2:*", "x:y"]))
def test_an_allow_for_another_action_changes_nothing(
    request: Request, policies: PolicySet, other: str
) -> None:
    if matches(other, request.action):
        return
    before = decide(request, policies)
    unrelated = {"Statement": [{"Effect": "Allow", "Action": other, "Resource": "*"}]}
    after = decide(
        request,
        PolicySet(
            identity=[*policies.identity, unrelated],
            resource=policies.resource,
            boundary=policies.boundary,
            scps=policies.scps,
            rcps=policies.rcps,
            resource_is_kms_key=policies.resource_is_kms_key,
        ),
    )
    if isinstance(before, Evaluation):
        assert isinstance(after, Evaluation)
        assert after.decision is before.decision
        assert after.pending == before.pending
    else:
        assert isinstance(after, PolicyDocumentError)


# --- 3. documents as the adapters read them --------------------------------------------------

DOCUMENT_TEXT = st.one_of(
    DOCUMENT.map(lambda d: json.dumps(d, allow_nan=True)),
    st.text(max_size=200),
    st.sampled_from(
        [
            "[" * 5000 + "]" * 5000,
            '{"a":' * 5000 + "1" + "}" * 5000,
            "1" * 5000,
            '{"Statement": ' + "1" * 5000 + "}",
            "%7B",
            "%7B%22Statement%22%3A%5B%5D%7D",
            "%7b%ZZ",
            "NaN",
            "",
        ]
    ),
)


def rights_contract(action: Callable[[], object]) -> object:
    try:
        return action()
    except RightsDocumentError as err:
        message = str(err)
        assert message and len(message.splitlines()) == 1, message[:300]
        assert not UNSAFE.search(message), message[:300]
        return err


@fixed(600)
@given(text=DOCUMENT_TEXT)
def test_load_document_parses_or_raises_policy_document_error(text: str) -> None:
    loaded = rights_contract(lambda: load_document(text))
    if not isinstance(loaded, RightsDocumentError):
        assert isinstance(loaded, dict)


@fixed(800)
@given(block=st.one_of(PRINCIPAL, JUNK))
def test_normalise_principals_names_uids_or_raises_policy_document_error(block: Any) -> None:
    uids = rights_contract(lambda: normalise_principals(block))
    if not isinstance(uids, RightsDocumentError):
        assert isinstance(uids, tuple)
        assert all(isinstance(u, str) for u in uids)


@fixed(600)
@given(
    document=st.one_of(DOCUMENT, DOCUMENT_TEXT),
    resource=st.sampled_from(RESOURCE_ARNS),
    service=st.sampled_from(["s3", "kms", "sts", "sqs", "lambda"]),
    block_public=st.booleans(),
)
def test_rights_from_policy_gives_edges_or_raises_policy_document_error(
    document: Any, resource: str, service: str, block_public: bool
) -> None:
    rights_contract(
        lambda: rights_from_policy(document, resource, "policy of x", service, block_public)
    )


# --- regressions: each a crash the properties above found -----------------------------------


@fixed(1000)
@given(glob=st.text("ab*?", max_size=8), value=st.text("ab", max_size=10))
def test_glob_regex_matches_what_the_plain_translation_matches(glob: str, value: str) -> None:
    # The atomic translation must change how long a match takes, never what matches.
    plain = re.escape(glob).replace(r"\*", ".*").replace(r"\?", ".")
    expected = re.fullmatch(plain, value, re.DOTALL) is not None
    assert (glob_regex(glob).fullmatch(value) is not None) is expected


# --- regressions: each a crash the properties above found -----------------------------------

LOADER_CRASHES = {
    # a key with a line break split the "FILE:LINE: ..." error over two lines
    "key with a newline": '"a\\nb": 1\n',
    "key with a terminal escape": '"\\x1b[2J": 1\n',
    # TypeError: 'int' object is not iterable, in the unknown-field scan
    "section that is a number": "version: 1\nproviders: 5\n",
    # RecursionError in PyYAML's composer
    "deep nesting": "x: " + "[" * 3000 + "]" * 3000 + "\n",
    # ConstructorError / ValueError from keys PyYAML cannot construct
    "key with a Python tag": "!!python/object:os.system x: 1\n",
    "scalar key tagged as a map": "!!map x: 1\n",
    "key that is an impossible date": "2026-02-30: x\n",
    # ValueError: Exceeds the limit (4300 digits) for integer string conversion
    "hex number too large to print": "version: 0x" + "f" * 4000 + "\n",
    # (an explicit key: PyYAML refuses implicit keys longer than 1024 characters)
    "hex key too large to print": "? 0x" + "f" * 4000 + "\n: x\n",
    # OverflowError / RecursionError from re.compile
    "regex repeat count too large": "tags: {pi_regex: 'a{99999999999}'}\n",
    "regex nested too deeply": "tags: {pi_regex: '" + "(" * 1000 + ")" * 1000 + "'}\n",
    # ValueError: embedded null byte, reading the waivers file the policy names
    "waivers file name with NUL": 'waivers: "a\\0b"\n',
}


@pytest.mark.parametrize("text", LOADER_CRASHES.values(), ids=LOADER_CRASHES.keys())
def test_loader_regressions_fail_with_one_located_line(workdir: Path, text: str) -> None:
    path = workdir / "regression.yaml"
    path.write_text(text, encoding="utf-8")
    assert assert_loads_or_clear_error(path) is None


def test_deep_nesting_is_reported_where_it_happens(workdir: Path) -> None:
    path = workdir / "deep.yaml"
    path.write_text("version: 1\n\nx: " + "[" * 3000 + "]" * 3000 + "\n", encoding="utf-8")
    with pytest.raises(PolicyError, match=r":3: invalid YAML: nested more than 64 levels"):
        load_policy(path)


def test_numbers_too_large_name_their_key(workdir: Path) -> None:
    path = workdir / "big.yaml"
    path.write_text("version: 1\nthresholds: {max_admins: 0x" + "f" * 4000 + "}\n", "utf-8")
    with pytest.raises(PolicyError, match=r":2: thresholds.max_admins: invalid YAML: number too"):
        load_policy(path)


USER = f"arn:aws-cn:iam::{A}:user/alice"
ALLOW_ALL = {"Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}


def test_a_policy_id_with_a_newline_stays_on_one_line() -> None:
    broken = {"Id": "evil\nid", "Statement": [{"Effect": "Permit"}]}
    with pytest.raises(PolicyDocumentError) as info:
        evaluate(Request(USER, A, "s3:GetObject", "arn:aws-cn:s3:::b", A), PolicySet([broken]))
    assert str(info.value).splitlines() == [str(info.value)]
    assert "'evil\\nid'" in str(info.value)


@pytest.mark.parametrize("resource", [":role/", "role/x:role/"])
def test_a_role_looking_resource_without_a_service_is_not_a_trust_request(resource: str) -> None:
    # IndexError: the trust-policy test read the third ARN field of a string without one.
    result = evaluate(Request(USER, A, "sts:AssumeRole", resource, A), PolicySet([ALLOW_ALL]))
    assert result.decision is Decision.ALLOW


@pytest.mark.parametrize("when", ["9" * 400, "-" + "9" * 30, "99999999999999999999"])
def test_an_epoch_past_year_9999_is_not_a_date(when: str) -> None:
    # OverflowError from datetime.fromtimestamp: now an unmatched date, as AWS treats it.
    doc = {
        "Statement": [
            {
                "Effect": "Allow",
                "Action": "*",
                "Resource": "*",
                "Condition": {"DateGreaterThan": {"aws:CurrentTime": "2020-01-01"}},
            }
        ]
    }
    request = Request(USER, A, "s3:GetObject", "arn:aws-cn:s3:::b", A, {"aws:CurrentTime": when})
    assert evaluate(request, PolicySet([doc])).decision is Decision.IMPLICIT_DENY


def test_many_stars_match_in_linear_time() -> None:
    # `*a*a*a…b` took seconds per star with the plain regex translation (exponential
    # backtracking); a bucket policy naming it would have hung the audit.
    hostile = "*a" * 30 + "b"
    doc = {"Statement": [{"Effect": "Allow", "Action": hostile, "Resource": hostile}]}
    started = time.perf_counter()
    assert not matches(hostile, "a" * 200)
    request = Request(USER, A, "s3:" + "a" * 200, "arn:aws-cn:s3:::" + "a" * 200, A)
    assert evaluate(request, PolicySet([doc])).decision is Decision.IMPLICIT_DENY
    assert (
        rights_from_policy(
            {"Statement": [{**doc["Statement"][0], "Principal": "*"}]},
            "arn:aws-cn:s3:::x",
            "p",
            "s3",
        ).edges
        == ()
    )
    assert time.perf_counter() - started < 5


RIGHTS_CRASHES: dict[str, Any] = {
    # RecursionError from json.loads
    "deeply nested JSON": "[" * 5000 + "]" * 5000,
    # ValueError (int_max_str_digits) from json.loads, not a JSONDecodeError
    "a 5000-digit number": '{"Statement": ' + "1" * 5000 + "}",
    # AttributeError: a list was returned as the document
    "a list": [1, 2],
    "None": None,
    # TypeError iterating a number as the statement list
    "Statement is a number": {"Statement": 5},
    # TypeError in tuple(str(v) for v in 5)
    "Action is a number": {"Statement": [{"Effect": "Allow", "Principal": "*", "Action": 5}]},
    # AttributeError: a list has no .items()
    "Principal is a list": {"Statement": [{"Effect": "Allow", "Principal": ["*"], "Action": "*"}]},
    # TypeError: a number of principals
    "principal value is a number": {
        "Statement": [{"Effect": "Allow", "Principal": {"AWS": 1}, "Action": "*"}]
    },
    # ValueError from dict() of a string Condition
    "Condition is a string": {
        "Statement": [{"Effect": "Allow", "Principal": "*", "Action": "*", "Condition": "x"}]
    },
    "condition operator maps to a string": {
        "Statement": [
            {"Effect": "Allow", "Principal": "*", "Action": "*", "Condition": {"Bool": "x"}}
        ]
    },
}


@pytest.mark.parametrize("document", RIGHTS_CRASHES.values(), ids=RIGHTS_CRASHES.keys())
def test_rights_regressions_raise_policy_document_error(document: Any) -> None:
    with pytest.raises(RightsDocumentError) as info:
        rights_from_policy(document, "arn:aws-cn:s3:::x", "bucket policy", "s3")
    assert str(info.value).splitlines() == [str(info.value)]


@pytest.mark.parametrize("block", [["*"], 5, {"AWS": 1}, {"AWS": [{"a": 1}]}])
def test_malformed_principals_raise_an_error_older_callers_still_catch(block: Any) -> None:
    # auditor/rights.py catches TypeError around normalise_principals; the new error must
    # still be one, and a PolicyDocumentError for everyone else.
    with pytest.raises(RightsDocumentError):
        normalise_principals(block)
    with pytest.raises(TypeError):
        normalise_principals(block)
