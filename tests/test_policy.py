from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from auditor.errors import PolicyError
from auditor.policy import load_policy
from tests.conftest import FIXTURES

MINIMAL = FIXTURES / "policies" / "minimal.yaml"


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "policy.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def error_of(path: Path) -> str:
    with pytest.raises(PolicyError) as info:
        load_policy(path)
    return str(info.value)


def test_minimal_policy_loads_every_section():
    policy = load_policy(MINIMAL)
    assert policy.organisation == "测试局"
    assert policy.classifications["general"].allowed == frozenset({"CN", "HK"})
    assert policy.classifications["public"].allowed is None
    assert policy.classifications["important"].restricted
    assert not policy.classifications["general"].restricted
    assert policy.trusted["444444444444"].contract_expiry == date(2026, 1, 31)
    assert policy.accounts["111111111111"].dept == "dsj"
    assert policy.department("市民政局") is not None
    assert len(policy.sha256) == 64


@pytest.mark.parametrize(
    ("tags", "expected", "reason_part"),
    [
        ({"data-class": "核心"}, "core", "tagged"),
        ({"data-class": "Important"}, "important", "tagged"),
        ({"data-class": "一般数据"}, "general", "tagged"),
        ({}, "important", "untagged"),
        ({"data-class": "  "}, "important", "untagged"),
        ({"data-class": "绝密"}, "core", "fail-closed"),
    ],
)
def test_classify_by_name_label_alias_and_fail_closed(tags, expected, reason_part):
    verdict = load_policy(MINIMAL).classify(tags)
    assert verdict.classification.name == expected
    assert reason_part in verdict.reason


def test_country_membership_is_unknown_for_unknown_country():
    general = load_policy(MINIMAL).classifications["general"]
    assert general.allows("HK") is True
    assert general.allows("DE") is False
    assert general.allows(None) is None


def test_builtin_eu_set(tmp_path):
    path = write(
        tmp_path,
        "version: 1\nclassifications:\n  eu: {allowed_jurisdictions: ['@EU27']}\n",
    )
    allowed = load_policy(path).classifications["eu"].allowed
    assert allowed is not None
    assert "DE" in allowed
    assert "GB" not in allowed
    assert "CH" not in allowed


@pytest.mark.parametrize(
    ("text", "line", "fragment"),
    [
        ("version: 1\nclasifications: {}\n", 2, "did you mean 'classifications'"),
        ("version: 1\nclassifications:\n  a: {allowed_jurisdictions: [XX1]}\n", 3, "neither"),
        (
            "version: 1\nclassifications:\n  a:\n    allowed_jurisdictions: [CN]\n"
            "    key_custody: maybe\n",
            5,
            "key_custody",
        ),
        (
            "version: 1\nclassifications:\n  a: {allowed_jurisdictions: [CN]}\n"
            "trusted_accounts:\n  - {account: '12', org: x}\n",
            5,
            "not an account id: 12 digits",
        ),
        (
            "version: 1\nclassifications:\n  a: {allowed_jurisdictions: [CN]}\n"
            "trusted_accounts:\n  - account: '123456789012'\n    org: x\n"
            "    contract_expiry: someday\n",
            7,
            "not a date",
        ),
        ("version: 1\nclassifications: [a, b]\n", 2, "expected a mapping"),
        ("version: 1\nclassifications:\n  a: {zh: x}\n", 3, "allowed_jurisdictions is required"),
        (
            "version: 1\nclassifications:\n  a: {allowed_jurisdictions: [CN]}\n"
            "classification_defaults: {untagged: secret}\n",
            4,
            "not a defined classification",
        ),
        ("version: 2\nclassifications:\n  a: {allowed_jurisdictions: [CN]}\n", 1, "version"),
        (
            "version: 1\nclassifications:\n  a: {allowed_jurisdictions: [CN]}\n"
            "accounts:\n  '111111111111': {dept: nobody}\n",
            5,
            "not a department id",
        ),
    ],
)
def test_errors_name_file_line_and_key(tmp_path, text, line, fragment):
    path = write(tmp_path, text)
    message = error_of(path)
    assert message.startswith(f"{path}:{line}: ")
    assert fragment in message
    assert "\n" not in message


def test_yaml_syntax_error_names_the_line(tmp_path):
    path = write(tmp_path, "version: 1\nclassifications:\n  a: {allowed: [CN\n")
    message = error_of(path)
    assert message.startswith(f"{path}:")
    assert "invalid YAML" in message


def test_missing_and_empty_files(tmp_path):
    assert "not found" in error_of(tmp_path / "absent.yaml")
    assert "empty" in error_of(write(tmp_path, ""))


def test_every_error_is_kept_for_validation(tmp_path):
    path = write(tmp_path, "version: 1\nfoo: 1\nbar: 2\nclassifications: {}\n")
    with pytest.raises(PolicyError) as info:
        load_policy(path)
    assert len(info.value.errors) == 3
    assert "(and 2 more)" in str(info.value)


def test_unquoted_twelve_digit_account_is_accepted(tmp_path):
    path = write(
        tmp_path,
        "version: 1\nclassifications:\n  a: {allowed_jurisdictions: [CN]}\n"
        "accounts:\n  123456789012: {name: x}\n",
    )
    assert "123456789012" in load_policy(path).accounts


def test_sample_policy_is_valid():
    from auditor.demo import sample_policy_path

    policy = load_policy(sample_policy_path())
    assert set(policy.classifications) == {"core", "important", "general", "public"}
    assert policy.classify({"data-class": "核心"}).classification.name == "core"


def test_non_utf8_and_folder_give_one_line_errors(tmp_path):
    latin = tmp_path / "latin1.yaml"
    latin.write_bytes("organisation: {name: caf\xe9}\n".encode("latin-1"))
    assert "not UTF-8" in error_of(latin)
    assert "is a folder" in error_of(tmp_path)


def test_an_unquoted_account_id_with_a_leading_zero_keeps_its_digits(tmp_path):
    # YAML 1.1 reads 012345670123 as an octal number; the loader keeps what was written.
    path = tmp_path / "p.yaml"
    path.write_text(
        "version: 1\nclassifications:\n  core: {allowed_jurisdictions: [CN]}\n"
        "accounts:\n  012345670123: {name: prod}\n",
        encoding="utf-8",
    )
    assert set(load_policy(path).accounts) == {"012345670123"}


def test_jurisdiction_sets_may_name_sets_defined_further_down(tmp_path):
    path = tmp_path / "p.yaml"
    path.write_text(
        "version: 1\njurisdictions:\n  WIDE: [NARROW, HK]\n  NARROW: [CN]\n"
        "classifications:\n  core: {allowed_jurisdictions: [WIDE]}\n",
        encoding="utf-8",
    )
    assert load_policy(path).classifications["core"].allowed == frozenset({"CN", "HK"})


def test_a_jurisdiction_set_that_contains_itself_is_an_error(tmp_path):
    path = tmp_path / "p.yaml"
    path.write_text(
        "version: 1\njurisdictions:\n  A: [B]\n  B: [A]\n"
        "classifications:\n  core: {allowed_jurisdictions: [A]}\n",
        encoding="utf-8",
    )
    with pytest.raises(PolicyError, match=r"p.yaml:4: jurisdictions.B.0: set .A. contains itself"):
        load_policy(path)


@pytest.mark.parametrize(
    ("account", "accepted"),
    [
        ("'123456789012'", True),  # AWS, Outscale
        ("'1688000000000001'", True),  # Aliyun
        ("3f2c9a0b7d4e4f1a9b8c7d6e5f4a3b2c", True),  # an OpenStack project id
        ("minio-gov", True),  # a cloud config section label
        ("'1234567890123'", False),  # 13 digits: a typo of an AWS id
        ("'12345678901'", False),
        ("'has space'", False),
    ],
)
def test_account_ids_of_every_provider(tmp_path: Path, account: str, accepted: bool) -> None:
    text = (
        "version: 1\nclassifications:\n  a: {allowed_jurisdictions: [CN]}\n"
        f"accounts:\n  {account}: {{name: x}}\n"
    )
    path = tmp_path / "p.yaml"
    path.write_text(text, "utf-8")
    if accepted:
        assert account.strip("'") in load_policy(path).accounts
    else:
        with pytest.raises(PolicyError, match="not an account id"):
            load_policy(path)
