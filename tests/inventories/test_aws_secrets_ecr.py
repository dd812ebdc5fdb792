"""Secrets Manager and ECR: transforms on recorded moto answers, collection against moto."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest

from auditor.inventories.aws import ecr, functions, kms, secrets, sns, sqs
from auditor.inventories.aws.session import Clients, is_read_only
from auditor.model import Coverage, Kind, Outcome, Relation
from tests.inventories.conftest import CN1, CN2, FRA, HK, HK_ACCOUNT, MAIN, VENDOR, assumed_session
from tests.inventories.test_aws_functions import seed_cn as seed_functions_cn
from tests.inventories.test_aws_messaging import (
    GOV_ALIAS,
    GOV_KEY,
    coverage_of,
    deny,
    edge_set,
    gov_key,
    identity_of,
    load,
    offline_clients,
    run_services,
    seed_queues,
    seed_topic,
    split,
    stubbed,
)

SECRET_VALUE = "hunter2-must-never-be-read"
WEB = f"arn:aws-cn:ecr:{CN1}:{MAIN}:repository/app/web"
BASE = f"arn:aws-cn:ecr:{CN1}:{MAIN}:repository/tools/base"
ECR_KEY = f"arn:aws-cn:kms:{CN1}:{MAIN}:key/11111111-2222-3333-4444-555555555555"


def vendor_policy(action: str | list[str], resource: str = "*") -> str:
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "Vendor",
                    "Effect": "Allow",
                    "Principal": {"AWS": f"arn:aws-cn:iam::{VENDOR}:root"},
                    "Action": action,
                    "Resource": resource,
                }
            ],
        }
    )


def seed_secrets(endpoint: str) -> tuple[boto3.Session, boto3.Session]:
    """db/password (alias/gov-data, replica in cn-northwest-1, vendor policy), api/token
    (default key) in aws-cn; hk/token (replica in eu-central-1) in the commercial account."""
    cn = boto3.Session(region_name=CN1)
    gov_key(cn, endpoint)
    client = cn.client("secretsmanager", region_name=CN1, endpoint_url=endpoint)
    client.create_secret(
        Name="db/password",
        SecretString=SECRET_VALUE,
        KmsKeyId="alias/gov-data",
        AddReplicaRegions=[{"Region": CN2}],
        Tags=[{"Key": "data-class", "Value": "核心数据"}],
    )
    client.put_resource_policy(
        SecretId="db/password", ResourcePolicy=vendor_policy("secretsmanager:GetSecretValue")
    )
    client.create_secret(Name="api/token", SecretString=SECRET_VALUE)
    hk = assumed_session(endpoint, "aws", HK_ACCOUNT, HK)
    hk.client("secretsmanager", region_name=HK, endpoint_url=endpoint).create_secret(
        Name="hk/token", SecretString=SECRET_VALUE, AddReplicaRegions=[{"Region": FRA}]
    )
    return cn, hk


def seed_ecr(session: boto3.Session, endpoint: str) -> None:
    """app/web (KMS, scan on push, vendor pull policy), tools/base (AES256); one replication
    rule: 'app/' → the vendor's registry in cn-north-1 and this registry in cn-northwest-1.

    moto accepts a single rule ("This feature is disabled" for more; AWS allows 10): a rule
    without filters is added by hand in `with_catch_all_rule`.
    """
    client = session.client("ecr", region_name=CN1, endpoint_url=endpoint)
    client.create_repository(
        repositoryName="app/web",
        encryptionConfiguration={"encryptionType": "KMS", "kmsKey": ECR_KEY},
        imageScanningConfiguration={"scanOnPush": True},
        tags=[{"Key": "owner-dept", "Value": "dsj"}],
    )
    client.set_repository_policy(
        repositoryName="app/web",
        policyText=vendor_policy(["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"]),
    )
    client.create_repository(repositoryName="tools/base")
    client.put_replication_configuration(
        replicationConfiguration={
            "rules": [
                {
                    "destinations": [
                        {"region": CN1, "registryId": VENDOR},
                        {"region": CN2, "registryId": MAIN},
                    ],
                    "repositoryFilters": [{"filter": "app/", "filterType": "PREFIX_MATCH"}],
                }
            ]
        }
    )
    # Registry policies grant replication into this registry: no right over data here.
    client.put_registry_policy(
        policyText=vendor_policy(
            ["ecr:ReplicateImage", "ecr:CreateRepository"],
            f"arn:aws-cn:ecr:{CN1}:{MAIN}:repository/*",
        )
    )


# --- Secrets Manager transform (recorded) ---------------------------------------------------


def secret_arns(raw: dict[str, Any]) -> dict[str, str]:
    return {s["listed"]["Name"]: s["listed"]["ARN"] for s in raw["secrets"]}


def test_secret_resources():
    raw = load("secretsmanager_cn_north_1.json")
    arns = secret_arns(raw)
    resources, _ = split(secrets.transform_secrets(raw, "aws-cn", {GOV_ALIAS: GOV_KEY}))
    assert set(resources) == set(arns.values())
    db = resources[arns["db/password"]]
    assert (db.kind, db.native_type, db.name) == (
        Kind.SECRET,
        "secretsmanager:secret",
        "db/password",
    )
    assert (db.account, db.region, db.jurisdiction, db.tags) == (
        MAIN,
        CN1,
        "CN",
        {"data-class": "核心数据"},
    )
    keys = ("encryption_status", "encrypted", "kms_key", "kms_key_arn", "key_owner")
    assert tuple(db.attrs[k] for k in keys) == ("read", True, "alias/gov-data", GOV_KEY, None)
    token = resources[arns["api/token"]]
    assert tuple(token.attrs[k] for k in keys) == ("read", True, None, None, "aws_managed")
    assert [r["region"] for r in db.attrs["replicas"]] == [CN2]
    assert (db.attrs["is_replica"], db.attrs["policy_status"]) == (False, "read")
    assert token.attrs["policy_status"] == "none"


def test_secret_edges():
    raw = load("secretsmanager_cn_north_1.json")
    db = secret_arns(raw)["db/password"]
    _, edges = split(secrets.transform_secrets(raw, "aws-cn", {GOV_ALIAS: GOV_KEY}))
    replica = db.replace(f":{CN1}:", f":{CN2}:")
    assert edge_set(edges) == {
        (db, "replicates_to", replica),
        (db, "encrypted_by", GOV_KEY),
        (f"account:{VENDOR}", "can_read", db),
    }
    replication = next(e for e in edges if e.relation is Relation.REPLICATES_TO)
    assert replication.evidence == (
        f"DescribeSecret ReplicationStatus: {db} has a replica in {CN2} (status InSync)"
    )


def test_secret_falls_back_to_the_listing_when_describe_is_denied():
    raw = load("secretsmanager_cn_north_1.json")
    for secret in raw["secrets"]:
        secret["describe"] = {"status": "denied", "code": "AccessDeniedException"}
        secret["policy"] = {"status": "denied", "code": "AccessDeniedException"}
    resources, edges = split(secrets.transform_secrets(raw, "aws-cn", {GOV_ALIAS: GOV_KEY}))
    db = resources[secret_arns(raw)["db/password"]]
    assert db.attrs["kms_key_arn"] == GOV_KEY  # ListSecrets names the key too
    assert (db.attrs["replication_status"], db.attrs["replicas"]) == ("denied", [])
    assert db.attrs["policy_status"] == "denied"
    assert {e.relation for e in edges} == {Relation.ENCRYPTED_BY}


def test_no_secret_value_in_the_recording():
    text = (json.dumps(load("secretsmanager_cn_north_1.json")),)
    assert SECRET_VALUE not in text[0]


# --- ECR transform (recorded) ---------------------------------------------------------------


def with_catch_all_rule(raw: dict[str, Any]) -> dict[str, Any]:
    """Add a second rule, without filters, replicating to the vendor in cn-northwest-1."""
    rules = raw["registry"]["value"]["replicationConfiguration"]["rules"]
    rules.append({"destinations": [{"region": CN2, "registryId": VENDOR}]})
    return raw


def test_repository_resources():
    resources, _ = split(ecr.transform_ecr(load("ecr_cn_north_1.json"), "aws-cn"))
    assert set(resources) == {WEB, BASE}
    web = resources[WEB]
    assert (web.kind, web.native_type, web.name, web.account, web.region) == (
        Kind.REPOSITORY,
        "ecr:repository",
        "app/web",
        MAIN,
        CN1,
    )
    assert web.tags == {"owner-dept": "dsj"}
    keys = ("encrypted", "encryption_type", "kms_key_arn", "key_owner")
    assert tuple(web.attrs[k] for k in keys) == (True, "KMS", ECR_KEY, None)
    assert tuple(resources[BASE].attrs[k] for k in keys) == (True, "AES256", None, "aws_owned")
    assert web.attrs["image_scanning"] == {"scan_on_push": True}
    assert (web.attrs["policy_status"], resources[BASE].attrs["policy_status"]) == ("read", "none")
    assert web.attrs["registry_policy_status"] == "read"
    assert web.attrs["replication_destinations"] == [
        {"rule": 0, "region": CN1, "registry_id": VENDOR},
        {"rule": 0, "region": CN2, "registry_id": MAIN},
    ]
    assert resources[BASE].attrs["replication_destinations"] == []


def test_repository_edges():
    _, edges = split(ecr.transform_ecr(load("ecr_cn_north_1.json"), "aws-cn"))
    assert edge_set(edges) == {
        (WEB, "replicates_to", f"arn:aws-cn:ecr:{CN1}:{VENDOR}:repository/app/web"),
        (WEB, "replicates_to", f"arn:aws-cn:ecr:{CN2}:{MAIN}:repository/app/web"),
        (WEB, "encrypted_by", ECR_KEY),
        (f"account:{VENDOR}", "can_read", WEB),
    }
    evidence = {e.dst: e.evidence for e in edges if e.relation is Relation.REPLICATES_TO}
    assert evidence[f"arn:aws-cn:ecr:{CN1}:{VENDOR}:repository/app/web"] == (
        f"ECR registry replication rule #0 of registry {MAIN} in {CN1} (PREFIX_MATCH 'app/') "
        f"→ {CN1}, registry {VENDOR} (DescribeRegistry replicationConfiguration)"
    )


def test_a_rule_without_filters_replicates_every_repository():
    raw = with_catch_all_rule(load("ecr_cn_north_1.json"))
    _, edges = split(ecr.transform_ecr(raw, "aws-cn"))
    to_vendor_nx = {
        (e.src, e.evidence)
        for e in edges
        if e.relation is Relation.REPLICATES_TO and f":{CN2}:{VENDOR}:" in e.dst
    }
    assert to_vendor_nx == {
        (
            repo,
            f"ECR registry replication rule #1 of registry {MAIN} in {CN1} (all repositories) "
            f"→ {CN2}, registry {VENDOR} (DescribeRegistry replicationConfiguration)",
        )
        for repo in (WEB, BASE)
    }


def test_kms_without_a_named_key_is_the_aws_managed_ecr_key():
    raw = load("ecr_cn_north_1.json")
    base = raw["repositories"][1]["repository"]
    base["encryptionConfiguration"] = {"encryptionType": "KMS"}
    resources, _ = split(ecr.transform_ecr(raw, "aws-cn"))
    attrs = resources[BASE].attrs
    assert (attrs["kms_key_arn"], attrs["key_owner"]) == (
        f"arn:aws-cn:kms:{CN1}:{MAIN}:alias/aws/ecr",
        "aws_managed",
    )


def test_unread_registry_marks_replication_unknown():
    raw = load("ecr_cn_north_1.json")
    raw["registry"] = {"status": "denied", "code": "AccessDeniedException"}
    resources, edges = split(ecr.transform_ecr(raw, "aws-cn"))
    assert resources[WEB].attrs["replication_status"] == "denied"
    assert not [e for e in edges if e.relation is Relation.REPLICATES_TO]


@pytest.mark.parametrize(
    ("filters", "name", "expected"),
    [
        ([], "anything", True),
        ([{"filter": "app/", "filterType": "PREFIX_MATCH"}], "app/web", True),
        ([{"filter": "app/", "filterType": "PREFIX_MATCH"}], "tools/app/web", False),
    ],
)
def test_rule_matches(filters, name, expected):
    assert ecr.rule_matches({"repositoryFilters": filters}, name) is expected


# --- against moto ---------------------------------------------------------------------------


@pytest.mark.moto
def test_collect_secrets_and_repositories(moto_endpoint, monkeypatch):
    cn, hk = seed_secrets(moto_endpoint)
    seed_ecr(cn, moto_endpoint)
    chosen = [kms.SERVICE, secrets.SERVICE, ecr.SERVICE]
    cn_records = run_services(
        monkeypatch, Clients(cn, moto_endpoint), identity_of(MAIN, "aws-cn"), [CN1, CN2], chosen
    )
    hk_records = run_services(
        monkeypatch, Clients(hk, moto_endpoint), identity_of(HK_ACCOUNT, "aws"), [HK, FRA], chosen
    )
    assert coverage_of(cn_records) >= {
        (CN1, "secretsmanager", Outcome.OK, "2 secrets"),
        (CN2, "secretsmanager", Outcome.OK, "1 secrets"),
        (CN1, "ecr", Outcome.OK, "2 repositories"),
        (CN2, "ecr", Outcome.OK, "0 repositories"),
    }
    assert (FRA, "secretsmanager", Outcome.OK, "1 secrets") in coverage_of(hk_records)
    resources, edges = split([*cn_records, *hk_records])
    found = {
        (r.name, r.account, r.region, r.jurisdiction, r.attrs.get("is_replica"))
        for r in resources.values()
        if r.kind in (Kind.SECRET, Kind.REPOSITORY)
    }
    assert found == {
        ("db/password", MAIN, CN1, "CN", False),
        ("db/password", MAIN, CN2, "CN", True),
        ("api/token", MAIN, CN1, "CN", False),
        ("hk/token", HK_ACCOUNT, HK, "HK", False),
        ("hk/token", HK_ACCOUNT, FRA, "DE", True),
        ("app/web", MAIN, CN1, "CN", None),
        ("tools/base", MAIN, CN1, "CN", None),
    }
    by_name = {(r.name, r.region): uid for uid, r in resources.items()}
    db, db_replica = by_name[("db/password", CN1)], by_name[("db/password", CN2)]
    hk_token, hk_replica = by_name[("hk/token", HK)], by_name[("hk/token", FRA)]
    replicas = {(s, d) for s, r, d in edge_set(edges) if r == "replicates_to" and ":kms:" not in s}
    assert replicas == {
        (db, db_replica),  # the edge lands on the replica's own resource
        (hk_token, hk_replica),
        (WEB, f"arn:aws-cn:ecr:{CN1}:{VENDOR}:repository/app/web"),
        (WEB, f"arn:aws-cn:ecr:{CN2}:{MAIN}:repository/app/web"),
    }
    assert resources[db].attrs["kms_key_arn"].startswith(f"arn:aws-cn:kms:{CN1}:{MAIN}:key/")
    assert (f"account:{VENDOR}", "can_read", db) in edge_set(edges)
    assert (f"account:{VENDOR}", "can_read", WEB) in edge_set(edges)
    assert SECRET_VALUE not in repr(cn_records + hk_records)


# --- failures -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("service", "method", "detail"),
    [
        (secrets.SERVICE, "list_secrets", "ListSecrets: AccessDeniedException"),
        (ecr.SERVICE, "describe_repositories", "DescribeRepositories: AccessDeniedException"),
    ],
)
def test_denied_listing_is_a_coverage_row(monkeypatch, service, method, detail):
    clients = offline_clients()
    _, stub = stubbed(clients, service.name, CN1)
    deny(stub, method, "AccessDeniedException", 400)
    records = run_services(monkeypatch, clients, identity_of(MAIN, "aws-cn"), [CN1], [service])
    assert all(isinstance(r, Coverage) for r in records)
    assert coverage_of(records) == {(CN1, service.name, Outcome.DENIED, detail)}


def test_denied_registry_and_repository_reads_are_recorded(monkeypatch):
    clients = offline_clients()
    _, stub = stubbed(clients, "ecr", CN1)
    repo = {
        "repositoryArn": WEB,
        "registryId": MAIN,
        "repositoryName": "app/web",
        "encryptionConfiguration": {"encryptionType": "AES256"},
    }
    stub.add_response("describe_repositories", {"repositories": [repo]})
    deny(stub, "describe_registry", "AccessDeniedException", 400)
    deny(stub, "get_registry_policy", "AccessDeniedException", 400)
    deny(stub, "get_repository_policy", "AccessDeniedException", 400)
    deny(stub, "list_tags_for_resource", "AccessDeniedException", 400)
    records = run_services(monkeypatch, clients, identity_of(MAIN, "aws-cn"), [CN1], [ecr.SERVICE])
    resources, edges = split(records)
    attrs = resources[WEB].attrs
    statuses = ("replication_status", "registry_policy_status", "policy_status", "tags_status")
    assert {attrs[k] for k in statuses} == {"denied"}
    assert edges == []
    stub.assert_no_pending_responses()


# --- every call declared --------------------------------------------------------------------


@pytest.mark.moto
def test_every_call_of_these_services_is_declared_and_read_only(moto_endpoint, monkeypatch):
    cn, _ = seed_secrets(moto_endpoint)
    seed_ecr(cn, moto_endpoint)
    seed_functions_cn(cn, moto_endpoint)
    seed_queues(cn, moto_endpoint)
    seed_topic(cn, moto_endpoint)
    called: set[tuple[str, str]] = set()

    def record(model: Any, **_: Any) -> None:
        called.add((model.service_model.service_name, model.name))

    cn.events.register("before-call", record)
    mine = [functions.SERVICE, sqs.SERVICE, sns.SERVICE, secrets.SERVICE, ecr.SERVICE]
    records = run_services(
        monkeypatch, Clients(cn, moto_endpoint), identity_of(MAIN, "aws-cn"), [CN1], mine
    )
    assert {row[2] for row in coverage_of(records)} == {Outcome.OK}
    declared = {op for service in mine for op in service.operations}
    # Every call made is declared, and with resources of every kind seeded, every declared
    # operation is exercised (so none is dead weight in the auditor's IAM policy).
    assert called == declared
    assert all(is_read_only(operation) for _, operation in called)
    assert ("secretsmanager", "GetSecretValue") not in called
