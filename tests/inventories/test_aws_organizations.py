"""AWS Organizations against a real moto server, and its transforms on recorded responses.

The organisation (aws-cn, management account 123456789012), seeded over HTTP:
  Root (SCP FullAWSAccess, RCP RCPFullAWSAccess, RCPs enabled)
  ├── management account
  ├── security (sec.admin@dsj.gov.cn): delegated administrator for GuardDuty and Access Analyzer
  └── OU prod (SCP cn-regions-only)
      └── OU prod-data (RCP no-foreign-principals)
          └── vendor-ops (ops.zhang@vendor.example.cn), tags owner-dept=vendor
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from botocore.stub import Stubber

from auditor.inventories.aws import organizations
from auditor.inventories.aws.identity import CallerIdentity
from auditor.inventories.aws.registry import ServiceContext, SharedFacts
from auditor.inventories.aws.session import Clients, make_client
from auditor.model import Edge, Kind, Relation, Resource
from tests.conftest import FIXTURES
from tests.inventories.conftest import CN1, MAIN

PARTITION = "aws-cn"
REGION_LOCK = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Sid": "DenyOutsideChina",
            "Effect": "Deny",
            "NotAction": ["iam:*", "organizations:*", "sts:*"],
            "Resource": "*",
            "Condition": {
                "StringNotEquals": {"aws:RequestedRegion": ["cn-north-1", "cn-northwest-1"]}
            },
        }
    ],
}
NO_FOREIGN = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Sid": "OnlyOurOrg",
            "Effect": "Deny",
            "Principal": "*",
            "Action": "s3:*",
            "Resource": "*",
            "Condition": {"StringNotEqualsIfExists": {"aws:PrincipalOrgID": "o-placeholder"}},
        }
    ],
}


def seed_organization(session: boto3.Session, endpoint: str) -> dict[str, str]:
    """The organisation of the module docstring; returns the ids the tests name."""
    org = session.client("organizations", region_name=CN1, endpoint_url=endpoint)
    org.create_organization(FeatureSet="ALL")
    root = org.list_roots()["Roots"][0]["Id"]
    org.enable_policy_type(RootId=root, PolicyType="RESOURCE_CONTROL_POLICY")
    prod = org.create_organizational_unit(ParentId=root, Name="prod")["OrganizationalUnit"]["Id"]
    data = org.create_organizational_unit(ParentId=prod, Name="prod-data")["OrganizationalUnit"][
        "Id"
    ]
    vendor = org.create_account(
        AccountName="vendor-ops",
        Email="ops.zhang@vendor.example.cn",
        Tags=[{"Key": "owner-dept", "Value": "vendor"}],
    )["CreateAccountStatus"]["AccountId"]
    org.move_account(AccountId=vendor, SourceParentId=root, DestinationParentId=data)
    security = org.create_account(AccountName="security", Email="sec.admin@dsj.gov.cn")[
        "CreateAccountStatus"
    ]["AccountId"]
    # moto accepts only six service principals for delegation; these two are among them.
    for principal in ("guardduty.amazonaws.com", "access-analyzer.amazonaws.com"):
        org.register_delegated_administrator(AccountId=security, ServicePrincipal=principal)
    scp = org.create_policy(
        Name="cn-regions-only",
        Description="deny regions outside China",
        Type="SERVICE_CONTROL_POLICY",
        Content=json.dumps(REGION_LOCK),
    )["Policy"]["PolicySummary"]["Id"]
    org.attach_policy(PolicyId=scp, TargetId=prod)
    rcp = org.create_policy(
        Name="no-foreign-principals",
        Description="data stays with the organisation",
        Type="RESOURCE_CONTROL_POLICY",
        Content=json.dumps(NO_FOREIGN),
    )["Policy"]["PolicySummary"]["Id"]
    org.attach_policy(PolicyId=rcp, TargetId=data)
    return {
        "root": root,
        "prod": prod,
        "data": data,
        "vendor": vendor,
        "security": security,
        "scp": scp,
        "rcp": rcp,
    }


def context(session: boto3.Session, endpoint: str) -> ServiceContext:
    who = CallerIdentity(MAIN, f"arn:{PARTITION}:iam::{MAIN}:user/auditor", PARTITION)
    return ServiceContext(Clients(session, endpoint), who, CN1, CN1, SharedFacts())


def fail(client: Any, operation: str, code: str, when: Callable[[str], bool] | None = None) -> None:
    """Make `client` answer `operation` with error `code` without sending it.

    `when` narrows the failure to requests whose serialized body it accepts.
    """

    def answer(params: Any, **_: Any) -> Any:
        body = params.get("body", b"")
        if when is not None and not when(body.decode() if isinstance(body, bytes) else str(body)):
            return None
        error = {"Error": {"Code": code, "Message": "injected"}}
        return SimpleNamespace(status_code=400), {**error, "ResponseMetadata": {}}

    client.meta.events.register(f"before-call.organizations.{operation}", answer)


def split(records: Any) -> tuple[dict[str, Resource], list[Edge]]:
    records = list(records)
    resources = {r.uid: r for r in records if isinstance(r, Resource)}
    return resources, [e for e in records if isinstance(e, Edge)]


def load(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((FIXTURES / "aws" / name).read_text("utf-8"))
    return data


# --- against moto ---------------------------------------------------------------------------


@pytest.fixture
def org(moto_endpoint: str) -> tuple[ServiceContext, dict[str, str], dict[str, str]]:
    session = boto3.Session(region_name=CN1)
    ids = seed_organization(session, moto_endpoint)
    plain = session.client("organizations", region_name=CN1, endpoint_url=moto_endpoint)
    arns = {a["Id"]: a["Arn"] for a in plain.list_accounts()["Accounts"]}
    roots = plain.list_roots()["Roots"]
    arns[ids["root"]] = roots[0]["Arn"]
    for parent in (ids["root"], ids["prod"]):
        for ou in plain.list_organizational_units_for_parent(ParentId=parent)[
            "OrganizationalUnits"
        ]:
            arns[ou["Id"]] = ou["Arn"]
    return context(session, moto_endpoint), ids, arns


@pytest.mark.moto
def test_collects_the_tree_accounts_and_policies(org):
    ctx, ids, arns = org
    records, detail = organizations.collect(ctx)
    resources, edges = split(records)
    org_id = resources[arns[ids["root"]]].attrs["organization_id"]
    assert detail == f"{org_id}: 3 accounts, 2 OUs, 4 policies"
    by_type = {(r.native_type, r.name) for r in resources.values()}
    assert by_type == {
        ("organizations:root", "Root"),
        ("organizations:ou", "prod"),
        ("organizations:ou", "prod-data"),
        ("organizations:account", "master"),
        ("organizations:account", "vendor-ops"),
        ("organizations:account", "security"),
        ("organizations:policy", "FullAWSAccess"),
        ("organizations:policy", "cn-regions-only"),
        ("organizations:policy", "RCPFullAWSAccess"),
        ("organizations:policy", "no-foreign-principals"),
    }
    assert {(e.src, e.relation, e.dst) for e in edges} == {
        (arns[ids["prod"]], Relation.MEMBER_OF, arns[ids["root"]]),
        (arns[ids["data"]], Relation.MEMBER_OF, arns[ids["prod"]]),
        (arns[MAIN], Relation.MEMBER_OF, arns[ids["root"]]),
        (arns[ids["security"]], Relation.MEMBER_OF, arns[ids["root"]]),
        (arns[ids["vendor"]], Relation.MEMBER_OF, arns[ids["data"]]),
    }
    vendor_edge = next(e for e in edges if e.src == arns[ids["vendor"]])
    assert vendor_edge.evidence == (
        f"ListParents ChildId {ids['vendor']}: ORGANIZATIONAL_UNIT {ids['data']}"
    )
    for resource in resources.values():
        assert resource.partition == PARTITION and resource.region is None
        assert resource.uid.startswith(f"arn:{PARTITION}:organizations::{MAIN}:")


@pytest.mark.moto
def test_account_attrs_mask_email_and_carry_tags_parent_and_delegations(org):
    ctx, ids, arns = org
    resources, _ = split(organizations.collect(ctx)[0])
    vendor = resources[arns[ids["vendor"]]]
    assert (vendor.kind, vendor.account, vendor.tags) == (
        Kind.ACCOUNT,
        ids["vendor"],
        {"owner-dept": "vendor"},
    )
    attrs = vendor.attrs
    assert attrs["email"] == "***@vendor.example.cn"
    assert "ops.zhang" not in json.dumps(attrs)
    assert (attrs["status"], attrs["joined_method"], attrs["management"]) == (
        "ACTIVE",
        "CREATED",
        False,
    )
    assert attrs["joined_timestamp"]
    assert (attrs["parent"], attrs["parents_status"], attrs["tags_status"]) == (
        ids["data"],
        "read",
        "read",
    )
    assert (attrs["delegated_services"], attrs["delegated_services_status"]) == ([], "read")
    security = resources[arns[ids["security"]]].attrs
    assert security["delegated_services"] == [
        "access-analyzer.amazonaws.com",
        "guardduty.amazonaws.com",
    ]
    assert resources[arns[MAIN]].attrs["management"] is True
    root = resources[arns[ids["root"]]].attrs
    assert root["management_account_id"] == MAIN
    assert root["management_account_email"] == "***@example.com"
    assert root["policy_types_enabled"] == ["RESOURCE_CONTROL_POLICY"]  # moto omits SCP here
    assert root["policy_types_status"] == {
        "SERVICE_CONTROL_POLICY": "read",
        "RESOURCE_CONTROL_POLICY": "read",
    }


@pytest.mark.moto
def test_policies_name_their_targets_and_targets_name_their_policies(org):
    ctx, ids, arns = org
    resources, _ = split(organizations.collect(ctx)[0])
    policies = {r.name: r for r in resources.values() if r.kind is Kind.ORG_POLICY}
    scp, rcp = policies["cn-regions-only"], policies["no-foreign-principals"]
    assert (scp.attrs["type"], scp.attrs["document"]) == ("SERVICE_CONTROL_POLICY", REGION_LOCK)
    assert (scp.attrs["targets"], scp.attrs["targets_status"]) == ([arns[ids["prod"]]], "read")
    assert (rcp.attrs["type"], rcp.attrs["document"]) == ("RESOURCE_CONTROL_POLICY", NO_FOREIGN)
    assert rcp.attrs["targets"] == [arns[ids["data"]]]
    assert policies["FullAWSAccess"].attrs["aws_managed"] is True
    # Like AWS, moto attaches the AWS-managed full-access policies to every new node.
    defaults = [policies["FullAWSAccess"].uid, policies["RCPFullAWSAccess"].uid]
    assert resources[arns[ids["prod"]]].attrs["policies"] == sorted([*defaults, scp.uid])
    assert resources[arns[ids["data"]]].attrs["policies"] == sorted([*defaults, rcp.uid])
    root = resources[arns[ids["root"]]].attrs
    assert (root["policies"], root["policies_status"]) == (sorted(defaults), "read")


@pytest.mark.moto
def test_unsupported_policy_type_is_skipped_with_a_status(org):
    ctx, ids, arns = org
    client = ctx.clients.get("organizations", CN1)

    def is_rcp(body: str) -> bool:
        return "RESOURCE_CONTROL_POLICY" in body

    fail(client, "ListPolicies", "InvalidInputException", is_rcp)
    records, detail = organizations.collect(ctx)
    resources, _ = split(records)
    assert detail.endswith("2 policies (RESOURCE_CONTROL_POLICY not_applicable)")
    root = resources[arns[ids["root"]]].attrs
    assert root["policy_types_status"]["RESOURCE_CONTROL_POLICY"] == "not_applicable"
    # A type that does not exist leaves nothing unread: the SCP map is still complete.
    assert root["policies_status"] == "read"
    assert {r.attrs["type"] for r in resources.values() if r.kind is Kind.ORG_POLICY} == {
        "SERVICE_CONTROL_POLICY"
    }


@pytest.mark.moto
def test_denied_sub_calls_are_marked_not_dropped(org):
    ctx, ids, arns = org
    client = ctx.clients.get("organizations", CN1)
    fail(client, "ListTagsForResource", "AccessDeniedException")
    fail(client, "ListTargetsForPolicy", "AccessDeniedException")
    fail(client, "ListDelegatedAdministrators", "AccessDeniedException")
    resources, _ = split(organizations.collect(ctx)[0])
    vendor = resources[arns[ids["vendor"]]]
    assert (vendor.tags, vendor.attrs["tags_status"]) == ({}, "denied")
    assert vendor.attrs["policies_status"] == "denied"
    assert vendor.attrs["delegated_services_status"] == "denied"
    scp = next(r for r in resources.values() if r.name == "cn-regions-only")
    assert (scp.attrs["targets"], scp.attrs["targets_status"]) == ([], "denied")


@pytest.mark.moto
def test_outside_an_organization_is_ok_with_no_records(moto_endpoint):
    records, detail = organizations.collect(context(boto3.Session(region_name=CN1), moto_endpoint))
    assert (records, detail) == ([], "not in an organization")


@pytest.mark.moto
def test_list_member_accounts(org):
    ctx, ids, _ = org
    members = organizations.list_member_accounts(ctx.clients, CN1)
    assert sorted(members, key=lambda m: m["name"]) == [
        {"id": MAIN, "name": "master", "status": "ACTIVE"},
        {"id": ids["security"], "name": "security", "status": "ACTIVE"},
        {"id": ids["vendor"], "name": "vendor-ops", "status": "ACTIVE"},
    ]


def test_a_member_account_is_denied_at_list_roots():
    # moto lets members list the organisation; real AWS denies every member but the
    # management account and delegated administrators, so this denial is stubbed.
    session = boto3.Session(region_name=CN1)
    client = make_client(session, "organizations", CN1, "http://127.0.0.1:9")
    stub = Stubber(client)
    stub.add_response(
        "describe_organization",
        {"Organization": {"Id": "o-exampleorg", "MasterAccountId": "210987654321"}},
    )
    stub.add_client_error("list_roots", "AccessDeniedException", http_status_code=400)
    ctx = context(session, "http://127.0.0.1:9")
    ctx.clients.put("organizations", CN1, client)
    with stub, pytest.raises(ClientError) as caught:
        organizations.collect(ctx)
    assert (caught.value.operation_name, caught.value.response["Error"]["Code"]) == (
        "ListRoots",
        "AccessDeniedException",
    )


# --- transforms on recorded responses -------------------------------------------------------


@pytest.mark.parametrize(
    ("email", "masked"),
    [
        ("ops.zhang@vendor.example.cn", "***@vendor.example.cn"),
        ("a@b@c.cn", "***@c.cn"),
        ("no-at-sign", "***"),
        ("", ""),
        (None, None),
    ],
)
def test_mask_email(email, masked):
    assert organizations.mask_email(email) == masked


def test_transform_recorded_organization():
    raw = load("organizations_cn.json")
    resources, edges = split(organizations.transform_organizations(raw, PARTITION))
    kinds = sorted(r.kind.value for r in resources.values())
    assert kinds == ["account"] * 3 + ["org_policy"] * 4 + ["org_unit"] * 3
    assert len(edges) == 5 and all(e.relation is Relation.MEMBER_OF for e in edges)
    ou_edges = [e for e in edges if e.evidence.startswith("ListOrganizationalUnitsForParent")]
    assert len(ou_edges) == 2


def test_transform_marks_unread_policy_targets_on_every_node():
    raw = copy.deepcopy(load("organizations_cn.json"))
    raw["policy_types"]["SERVICE_CONTROL_POLICY"] = {"status": "error", "code": "Throttling"}
    resources, _ = split(organizations.transform_organizations(raw, PARTITION))
    nodes = [r for r in resources.values() if r.kind in (Kind.ACCOUNT, Kind.ORG_UNIT)]
    assert {r.attrs["policies_status"] for r in nodes} == {"error"}


def test_transform_outside_an_organization_is_empty():
    assert list(organizations.transform_organizations({"organization": None}, PARTITION)) == []
