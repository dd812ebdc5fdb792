"""IAM credentials, account facts and identity providers: moto over HTTP, then recorded fixtures.

Seeded in aws-cn, account 123456789012, on top of `conftest.seed_iam` (alice with MFA, group
admins, role vendor-ops): user bob with a console password and one access key, a password
policy, the SAML provider gov-idp and the OIDC provider oidc.gov.example.cn.
"""

from __future__ import annotations

import copy
import json
from types import SimpleNamespace
from typing import Any

import boto3
import pytest

from auditor.inventories.aws import iam
from auditor.inventories.aws.session import make_client
from auditor.model import Kind, Resource
from tests.conftest import FIXTURES
from tests.inventories.conftest import CN1, MAIN, seed_iam

PARTITION = "aws-cn"
ACCOUNT_ARN = f"arn:{PARTITION}:iam::{MAIN}:root"
BOB = f"arn:{PARTITION}:iam::{MAIN}:user/bob"
ALICE = f"arn:{PARTITION}:iam::{MAIN}:user/alice"
SAML = f"arn:{PARTITION}:iam::{MAIN}:saml-provider/gov-idp"
OIDC = f"arn:{PARTITION}:iam::{MAIN}:oidc-provider/oidc.gov.example.cn"
# A SAML metadata document moto accepts; its content is never read back.
METADATA = "<EntityDescriptor xmlns='urn:oasis:names:tc:SAML:2.0:metadata'/>" + " " * 1000


def seed_credentials(session: boto3.Session, endpoint: str) -> str:
    """Bob, his key and password, the password policy and two IdPs; returns bob's secret."""
    client = session.client("iam", region_name=CN1, endpoint_url=endpoint)
    client.create_user(UserName="bob")
    key = client.create_access_key(UserName="bob")["AccessKey"]
    client.create_login_profile(UserName="bob", Password="Gov-Audit-2024!")
    client.update_account_password_policy(MinimumPasswordLength=14, RequireSymbols=True)
    client.create_saml_provider(Name="gov-idp", SAMLMetadataDocument=METADATA)
    client.create_open_id_connect_provider(
        Url="https://oidc.gov.example.cn", ClientIDList=["govaudit"], ThumbprintList=["a" * 40]
    )
    return str(key["SecretAccessKey"])


def fail(client: Any, operation: str, code: str) -> None:
    """Make `client` answer `operation` with error `code` without sending it."""

    def answer(**_: Any) -> Any:
        error = {"Error": {"Code": code, "Message": "injected"}, "ResponseMetadata": {}}
        return SimpleNamespace(status_code=403), error

    client.meta.events.register(f"before-call.iam.{operation}", answer)


def resources_of(raw: dict[str, Any]) -> dict[str, Resource]:
    return {r.uid: r for r in iam.transform_iam(raw, MAIN, PARTITION) if isinstance(r, Resource)}


def load(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((FIXTURES / "aws" / name).read_text("utf-8"))
    return data


@pytest.fixture
def seeded(moto_endpoint: str) -> tuple[Any, str]:
    session = boto3.Session(region_name=CN1)
    seed_iam(session, moto_endpoint)
    secret = seed_credentials(session, moto_endpoint)
    return make_client(session, "iam", CN1, moto_endpoint), secret


# --- against moto ---------------------------------------------------------------------------


@pytest.mark.moto
def test_access_keys_are_identifiers_and_dates_never_secrets(seeded):
    client, secret = seeded
    raw = iam.get_iam(client)
    assert secret not in json.dumps(raw)
    bob = resources_of(raw)[BOB].attrs
    assert bob["access_keys_status"] == "read"
    [key] = bob["access_keys"]
    assert key["id"].startswith("AKIA") and key["status"] == "Active" and key["create_date"]
    # moto, like IAM, answers "N/A" for the service and region of a key never used.
    assert (key["last_used_status"], key["last_used_date"], key["last_used_service"]) == (
        "read",
        None,
        None,
    )
    assert resources_of(raw)[ALICE].attrs["access_keys"] == []


@pytest.mark.moto
def test_credential_report_facts_per_user(seeded):
    client, _ = seeded
    resources = resources_of(iam.get_iam(client))
    bob, alice = resources[BOB].attrs, resources[ALICE].attrs
    assert bob["credential_report_status"] == "read"
    assert (bob["password_enabled"], bob["mfa_active"]) == (True, False)
    assert bob["report_access_keys"][0]["active"] is True
    assert bob["report_access_keys"][0]["last_rotated"]
    assert bob["report_access_keys"][1]["active"] is False
    assert (alice["password_enabled"], alice["mfa_active"]) == (False, True)


@pytest.mark.moto
def test_account_resource_summary_password_policy_and_root(seeded):
    client, _ = seeded
    resources = resources_of(iam.get_iam(client))
    account = resources[ACCOUNT_ARN]
    assert (account.kind, account.native_type, account.name, account.account) == (
        Kind.ACCOUNT,
        "iam:account",
        MAIN,
        MAIN,
    )
    attrs = account.attrs
    assert (attrs["summary_status"], attrs["account_mfa_enabled"]) == ("read", False)
    assert attrs["account_access_keys_present"] is False
    assert attrs["password_policy_status"] == "read"
    assert attrs["password_policy"]["MinimumPasswordLength"] == 14
    assert attrs["credential_report_status"] == "read"
    assert attrs["credential_report_generated"]
    # moto's credential report has no <root_account> row (MOTO_SUPPORT.md).
    assert (attrs["root_status"], attrs["root_credentials"]) == ("not_in_report", None)


@pytest.mark.moto
def test_identity_providers_are_federated_principals(seeded):
    client, _ = seeded
    resources = resources_of(iam.get_iam(client))
    account = resources[ACCOUNT_ARN].attrs
    assert (account["saml_providers_status"], account["saml_providers"]) == ("read", [SAML])
    assert (account["oidc_providers_status"], account["oidc_providers"]) == ("read", [OIDC])
    saml, oidc = resources[SAML], resources[OIDC]
    assert (saml.kind, saml.native_type, saml.name) == (
        Kind.FEDERATED,
        "iam:saml-provider",
        "gov-idp",
    )
    assert saml.attrs["valid_until"] and saml.attrs["create_date"]
    assert (oidc.kind, oidc.native_type, oidc.name) == (
        Kind.FEDERATED,
        "iam:oidc-provider",
        "oidc.gov.example.cn",
    )
    assert oidc.attrs["url"] == "oidc.gov.example.cn"


@pytest.mark.moto
def test_no_password_policy_is_none_not_an_error(moto_endpoint):
    client = make_client(boto3.Session(region_name=CN1), "iam", CN1, moto_endpoint)
    attrs = resources_of(iam.get_iam(client))[ACCOUNT_ARN].attrs
    assert (attrs["password_policy_status"], attrs["password_policy"]) == ("none", None)
    assert (attrs["saml_providers"], attrs["oidc_providers"]) == ([], [])


@pytest.mark.moto
def test_denied_account_facts_are_marked_on_account_and_users(seeded):
    client, _ = seeded
    for operation in ("GetCredentialReport", "GetAccountSummary", "ListSAMLProviders"):
        fail(client, operation, "AccessDenied")
    fail(client, "ListAccessKeys", "AccessDenied")
    resources = resources_of(iam.get_iam(client))
    account = resources[ACCOUNT_ARN].attrs
    assert account["credential_report_status"] == "denied"
    assert (account["root_status"], account["summary_status"]) == ("denied", "denied")
    assert account["account_mfa_enabled"] is None
    assert (account["saml_providers_status"], account["oidc_providers_status"]) == (
        "denied",
        "read",
    )
    bob = resources[BOB].attrs
    assert (bob["credential_report_status"], bob["password_enabled"]) == ("denied", None)
    assert (bob["access_keys_status"], bob["access_keys"]) == ("denied", [])
    assert SAML not in resources and OIDC in resources


@pytest.mark.moto
def test_a_report_still_in_progress_is_an_error_status(seeded, monkeypatch):
    client, _ = seeded
    monkeypatch.setattr(iam, "REPORT_POLL_SECONDS", 0)
    generated: list[int] = []

    def still_running(**_: Any) -> Any:
        generated.append(1)
        return SimpleNamespace(status_code=200), {"State": "STARTED", "ResponseMetadata": {}}

    client.meta.events.register("before-call.iam.GenerateCredentialReport", still_running)
    fail(client, "GetCredentialReport", "ReportInProgress")
    raw = iam.get_iam(client)
    assert len(generated) == iam.REPORT_POLL_ATTEMPTS
    assert raw["account"]["credential_report"] == {"status": "error", "code": "ReportInProgress"}


# --- transforms on recorded responses -------------------------------------------------------

ROOT_ROW = (
    "<root_account>,arn:aws-cn:iam::123456789012:root,2024-01-02T03:04:05+00:00,not_supported,"
    "2024-06-01T00:00:00+00:00,not_supported,not_supported,true,true,2024-01-02T03:04:05+00:00,"
    "2024-05-01T00:00:00+00:00,cn-north-1,s3,false,N/A,N/A,N/A,N/A,false,N/A,false,N/A"
)


def with_root_row(raw: dict[str, Any]) -> dict[str, Any]:
    """The recorded report plus the <root_account> row real IAM writes first."""
    raw = copy.deepcopy(raw)
    report = raw["account"]["credential_report"]["value"]
    header, _, rest = report["Content"].partition("\n")
    report["Content"] = f"{header}\n{ROOT_ROW}\n{rest}"
    return raw


def test_parse_credential_report_cells():
    raw = with_root_row(load("iam_cn_credentials.json"))
    rows = iam.parse_credential_report(raw["account"]["credential_report"]["value"]["Content"])
    root = rows["<root_account>"]
    assert (root["password_enabled"], root["mfa_active"], root["access_key_2_active"]) == (
        "not_supported",
        True,
        False,
    )
    assert root["access_key_2_last_rotated"] is None  # "N/A"
    assert rows["bob"]["password_enabled"] is True


def test_transform_root_row_when_present():
    resources = resources_of(with_root_row(load("iam_cn_credentials.json")))
    attrs = resources[ACCOUNT_ARN].attrs
    assert attrs["root_status"] == "read"
    root = attrs["root_credentials"]
    assert (root["mfa_active"], root["password_last_used"]) == (True, "2024-06-01T00:00:00+00:00")
    assert root["report_access_keys"][0] == {
        "active": True,
        "last_rotated": "2024-01-02T03:04:05+00:00",
        "last_used_date": "2024-05-01T00:00:00+00:00",
        "last_used_region": "cn-north-1",
        "last_used_service": "s3",
    }


def test_transform_recorded_credentials():
    resources = resources_of(load("iam_cn_credentials.json"))
    assert {r.uid for r in resources.values() if r.kind in (Kind.ACCOUNT, Kind.FEDERATED)} == {
        ACCOUNT_ARN,
        SAML,
        OIDC,
    }
    bob = resources[BOB].attrs
    assert (bob["password_enabled"], bob["access_keys_status"], len(bob["access_keys"])) == (
        True,
        "read",
        1,
    )


def test_user_missing_from_the_report_is_marked():
    raw = copy.deepcopy(load("iam_cn_credentials.json"))
    report = raw["account"]["credential_report"]["value"]
    report["Content"] = report["Content"].partition("\n")[0] + "\n"
    attrs = resources_of(raw)[BOB].attrs
    assert (attrs["credential_report_status"], attrs["mfa_active"]) == ("not_in_report", None)


def test_older_recordings_without_account_facts_are_skipped_not_absent():
    resources = resources_of(load("iam_cn.json"))
    alice, account = resources[ALICE].attrs, resources[ACCOUNT_ARN].attrs
    assert (alice["access_keys_status"], alice["credential_report_status"]) == (
        "skipped",
        "skipped",
    )
    assert (account["summary_status"], account["root_status"]) == ("skipped", "skipped")


def test_managed_policies_carry_their_default_document(moto_endpoint):
    import json as _json

    import boto3 as _boto3

    from auditor.inventories.aws import iam as iam_module
    from auditor.inventories.aws.session import make_client
    from auditor.model import Kind as _Kind

    raw_iam = _boto3.client("iam", region_name="cn-north-1", endpoint_url=moto_endpoint)
    document = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}],
    }
    arn = raw_iam.create_policy(PolicyName="read-all", PolicyDocument=_json.dumps(document))[
        "Policy"
    ]["Arn"]
    raw_iam.create_role(RoleName="analyst", AssumeRolePolicyDocument=_json.dumps(document))
    raw_iam.attach_role_policy(RoleName="analyst", PolicyArn=arn)
    session = _boto3.Session(region_name="cn-north-1")
    raw = iam_module.get_iam(make_client(session, "iam", "cn-north-1", moto_endpoint))
    (policy,) = [
        r
        for r in iam_module.transform_policies(raw, "123456789012", "aws-cn")
        if r.kind is _Kind.IAM_POLICY
    ]
    assert policy.uid == arn == "arn:aws-cn:iam::123456789012:policy/read-all"
    assert policy.attrs["aws_managed"] is False
    assert policy.attrs["document_status"] == "read"
    stored = policy.attrs["document"]
    parsed = _json.loads(stored) if isinstance(stored, str) else stored
    assert parsed["Statement"][0]["Action"] == "s3:GetObject"
