"""Lambda: transforms on recorded moto answers, collection against a real moto server.

moto creates functions without Docker; nothing here invokes one.
"""

from __future__ import annotations

import io
import json
import zipfile

import boto3
import pytest

from auditor.inventories.aws import functions, kms
from auditor.inventories.aws.session import Clients
from auditor.model import Coverage, Kind, Outcome, Relation
from tests.inventories.conftest import CN1, CN2, HK, HK_ACCOUNT, MAIN, VENDOR, assumed_session
from tests.inventories.test_aws_messaging import (
    context,
    coverage_of,
    deny,
    edge_set,
    identity_of,
    load,
    offline_clients,
    run_services,
    split,
    stubbed,
)

INGEST = f"arn:aws-cn:lambda:{CN1}:{MAIN}:function:ingest"
REPORT = f"arn:aws-cn:lambda:{CN1}:{MAIN}:function:report"
HK_FN = f"arn:aws:lambda:{HK}:{HK_ACCOUNT}:function:hk-fn"
ROLE = f"arn:aws-cn:iam::{MAIN}:role/fn-exec"
# Values that must never leave ListFunctions: they look like credentials.
SECRET_VALUES = ("AKIAIOSFODNN7EXAMPLE", "s3cr3t-Passw0rd", "wJalrXUtnFEMI")
ENVIRONMENT = {
    "DB_USER": "app",
    "AWS_ACCESS_KEY_ID": SECRET_VALUES[0],
    "DB_PASSWORD": SECRET_VALUES[1],
    "SIGNING_KEY": SECRET_VALUES[2],
}


def code() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("index.py", "def handler(event, context):\n    return None\n")
    return buffer.getvalue()


def role(session: boto3.Session, endpoint: str, region: str) -> str:
    """An execution role Lambda may assume (moto checks); IAM's partition follows `region`."""
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "lambda.amazonaws.com"},
                "Action": "sts:AssumeRole",
            }
        ],
    }
    iam = session.client("iam", region_name=region, endpoint_url=endpoint)
    created = iam.create_role(RoleName="fn-exec", AssumeRolePolicyDocument=json.dumps(trust))
    return str(created["Role"]["Arn"])


def seed_cn(session: boto3.Session, endpoint: str) -> str:
    """Two functions in cn-north-1; returns the ARN of the key of `ingest`'s environment."""
    key = session.client("kms", region_name=CN1, endpoint_url=endpoint).create_key()
    key_arn = str(key["KeyMetadata"]["Arn"])
    client = session.client("lambda", region_name=CN1, endpoint_url=endpoint)
    common = {"Runtime": "python3.12", "Handler": "index.handler", "Code": {"ZipFile": code()}}
    client.create_function(
        FunctionName="ingest",
        Role=role(session, endpoint, CN1),
        Environment={"Variables": ENVIRONMENT},
        KMSKeyArn=key_arn,
        VpcConfig={"SubnetIds": ["subnet-0a1"], "SecurityGroupIds": ["sg-0b2"]},
        Tags={"data-class": "重要数据"},
        **common,
    )
    client.add_permission(
        FunctionName="ingest",
        StatementId="vendor-invoke",
        Action="lambda:InvokeFunction",
        Principal=VENDOR,
    )
    client.create_function_url_config(FunctionName="ingest", AuthType="NONE")
    client.create_function(FunctionName="report", Role=ROLE, **common)
    return key_arn


def seed_hk(session: boto3.Session, endpoint: str) -> None:
    client = session.client("lambda", region_name=HK, endpoint_url=endpoint)
    client.create_function(
        FunctionName="hk-fn",
        Role=role(session, endpoint, HK),
        Runtime="python3.12",
        Handler="index.handler",
        Code={"ZipFile": code()},
    )
    client.create_function_url_config(FunctionName="hk-fn", AuthType="AWS_IAM")


def seed_functions(endpoint: str) -> tuple[boto3.Session, boto3.Session]:
    cn = boto3.Session(region_name=CN1)
    hk = assumed_session(endpoint, "aws", HK_ACCOUNT, HK)
    seed_cn(cn, endpoint)
    seed_hk(hk, endpoint)
    return cn, hk


# --- transform (recorded) -------------------------------------------------------------------


def test_environment_values_are_dropped_before_anything_is_kept():
    raw = load("lambda_cn_north_1.json")
    text = json.dumps(raw)
    for value in SECRET_VALUES:
        assert value not in text
    ingest = next(f for f in raw["functions"] if f["function"]["FunctionName"] == "ingest")
    assert "Environment" not in ingest["function"]
    assert ingest["function"]["EnvironmentVariableNames"] == sorted(ENVIRONMENT)


def test_without_environment_values():
    kept = functions.without_environment_values(
        {
            "FunctionName": "f",
            "Environment": {
                "Variables": {"TOKEN": "ghp_secret"},
                "Error": {"ErrorCode": "KMSAccessDenied", "Message": "ghp_secret"},
            },
        }
    )
    assert kept == {
        "FunctionName": "f",
        "EnvironmentVariableNames": ["TOKEN"],
        "EnvironmentErrorCode": "KMSAccessDenied",
    }


def test_function_resources():
    resources, _ = split(functions.transform_functions(load("lambda_cn_north_1.json"), "aws-cn"))
    assert set(resources) == {INGEST, REPORT}
    ingest = resources[INGEST]
    assert (ingest.kind, ingest.native_type, ingest.name) == (
        Kind.FUNCTION,
        "lambda:function",
        "ingest",
    )
    assert (ingest.account, ingest.region, ingest.partition, ingest.jurisdiction) == (
        MAIN,
        CN1,
        "aws-cn",
        "CN",
    )
    assert ingest.tags == {"data-class": "重要数据"}
    attrs = ingest.attrs
    assert (attrs["runtime"], attrs["role"]) == ("python3.12", ROLE)
    assert attrs["environment_variable_names"] == sorted(ENVIRONMENT)
    assert attrs["kms_key_arn"].startswith(f"arn:aws-cn:kms:{CN1}:{MAIN}:key/")
    assert (attrs["encrypted"], attrs["key_owner"]) == (True, None)
    assert attrs["vpc"]["subnet_ids"] == ["subnet-0a1"]
    assert attrs["vpc"]["security_group_ids"] == ["sg-0b2"]
    assert (attrs["policy_status"], attrs["url_status"], attrs["url_auth_type"]) == (
        "read",
        "read",
        "NONE",
    )
    report = resources[REPORT].attrs
    assert (report["policy_status"], report["url_status"], report["tags_status"]) == (
        "none",
        "none",
        "read",
    )
    assert (report["kms_key_arn"], report["key_owner"], report["environment_variable_names"]) == (
        None,
        "aws_managed",
        [],
    )


def test_function_edges():
    resources, edges = split(
        functions.transform_functions(load("lambda_cn_north_1.json"), "aws-cn")
    )
    key = resources[INGEST].attrs["kms_key_arn"]
    url = resources[INGEST].attrs["function_url"]
    assert edge_set(edges) == {
        (INGEST, "encrypted_by", key),
        ("public:*", "can_write", INGEST),
        (f"account:{VENDOR}", "can_write", INGEST),
    }
    evidence = {(e.src, e.relation): e.evidence for e in edges}
    assert evidence[("public:*", Relation.CAN_WRITE)] == (
        f"function URL {url} has AuthType NONE: anyone can invoke"
    )
    assert evidence[(f"account:{VENDOR}", Relation.CAN_WRITE)] == (
        f"function policy of {INGEST}, statement 'vendor-invoke' (lambda:InvokeFunction) "
        "grants can_write"
    )
    assert evidence[(INGEST, Relation.ENCRYPTED_BY)] == (
        f"environment variables of {INGEST} are encrypted with {key} (ListFunctions KMSKeyArn)"
    )


def test_unread_policy_and_url_stay_marked():
    raw = load("lambda_cn_north_1.json")
    for function in raw["functions"]:
        function["policy"] = {"status": "denied", "code": "AccessDeniedException"}
        function["url"] = {"status": "error", "code": "ServiceException"}
    resources, edges = split(functions.transform_functions(raw, "aws-cn"))
    assert {(r.attrs["policy_status"], r.attrs["url_status"]) for r in resources.values()} == {
        ("denied", "error")
    }
    assert {e.relation for e in edges} == {Relation.ENCRYPTED_BY}


# --- against moto ---------------------------------------------------------------------------


@pytest.mark.moto
def test_collect_functions(moto_endpoint, monkeypatch):
    cn, hk = seed_functions(moto_endpoint)
    chosen = [kms.SERVICE, functions.SERVICE]
    cn_records = run_services(
        monkeypatch, Clients(cn, moto_endpoint), identity_of(MAIN, "aws-cn"), [CN1, CN2], chosen
    )
    hk_records = run_services(
        monkeypatch, Clients(hk, moto_endpoint), identity_of(HK_ACCOUNT, "aws"), [HK], chosen
    )
    assert coverage_of(cn_records) >= {
        (CN1, "lambda", Outcome.OK, "2 functions"),
        (CN2, "lambda", Outcome.OK, "0 functions"),
    }
    assert (HK, "lambda", Outcome.OK, "1 functions") in coverage_of(hk_records)
    resources, edges = split([*cn_records, *hk_records])
    found = {
        uid: (r.account, r.region, r.jurisdiction)
        for uid, r in resources.items()
        if r.kind is Kind.FUNCTION
    }
    assert found == {
        INGEST: (MAIN, CN1, "CN"),
        REPORT: (MAIN, CN1, "CN"),
        HK_FN: (HK_ACCOUNT, HK, "HK"),
    }
    key = resources[INGEST].attrs["kms_key_arn"]
    assert key in resources  # the environment key is the KMS key collected in phase 0
    assert {e for e in edge_set(edges) if found.keys() & {e[0], e[2]}} == {
        (INGEST, "encrypted_by", key),
        ("public:*", "can_write", INGEST),
        (f"account:{VENDOR}", "can_write", INGEST),
    }
    hk_fn = resources[HK_FN].attrs
    assert (hk_fn["url_auth_type"], hk_fn["policy_status"]) == ("AWS_IAM", "none")


@pytest.mark.moto
def test_environment_values_appear_nowhere(moto_endpoint):
    cn, _ = seed_functions(moto_endpoint)
    records, detail = functions.collect(context(cn, moto_endpoint, CN1))
    assert detail == "2 functions"
    text = repr(records)
    assert "DB_PASSWORD" in text  # names are kept
    for value in SECRET_VALUES:
        assert value not in text


# --- failures -------------------------------------------------------------------------------


def test_denied_listing_is_a_coverage_row(monkeypatch):
    clients = offline_clients()
    _, stub = stubbed(clients, "lambda", CN1)
    deny(stub, "list_functions", "AccessDeniedException")
    records = run_services(
        monkeypatch, clients, identity_of(MAIN, "aws-cn"), [CN1], [functions.SERVICE]
    )
    assert all(isinstance(r, Coverage) for r in records)
    assert coverage_of(records) == {
        (CN1, "lambda", Outcome.DENIED, "ListFunctions: AccessDeniedException")
    }


def test_denied_sub_calls_are_recorded_per_function(monkeypatch):
    clients = offline_clients()
    _, stub = stubbed(clients, "lambda", CN1)
    stub.add_response(
        "list_functions",
        {"Functions": [{"FunctionName": "ingest", "FunctionArn": INGEST, "Runtime": "python3.12"}]},
    )
    deny(stub, "get_policy", "AccessDeniedException")
    deny(stub, "get_function_url_config", "AccessDeniedException")
    deny(stub, "list_tags", "AccessDeniedException")
    records = run_services(
        monkeypatch, clients, identity_of(MAIN, "aws-cn"), [CN1], [functions.SERVICE]
    )
    resources, edges = split(records)
    attrs = resources[INGEST].attrs
    assert (attrs["policy_status"], attrs["url_status"], attrs["tags_status"]) == (
        "denied",
        "denied",
        "denied",
    )
    assert edges == []
    stub.assert_no_pending_responses()
