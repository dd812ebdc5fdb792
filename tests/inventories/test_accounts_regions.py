"""Which regions and which accounts one run covers."""

from __future__ import annotations

import boto3

from auditor.inventories.aws import account_regions
from auditor.inventories.aws.accounts import assumed_session, role_arn
from auditor.inventories.aws.identity import CallerIdentity
from auditor.inventories.aws.session import Clients
from auditor.model import Outcome


def test_requested_regions_are_kept_only_in_the_callers_partition(moto_endpoint):
    clients = Clients(boto3.Session(region_name="cn-north-1"), moto_endpoint)
    who = CallerIdentity("123456789012", "arn:aws-cn:iam::123456789012:user/a", "aws-cn")
    chosen, skipped = account_regions(
        clients, who, "cn-north-1", ["cn-north-1", "eu-central-1", "cn-northwest-1"]
    )
    assert chosen == ["cn-north-1", "cn-northwest-1"]
    assert skipped == []


def test_without_regions_the_partition_is_enumerated_and_opt_in_regions_skipped(moto_endpoint):
    clients = Clients(boto3.Session(region_name="us-east-1"), moto_endpoint)
    who = CallerIdentity("123456789012", "arn:aws:iam::123456789012:user/a", "aws")
    chosen, skipped = account_regions(clients, who, "us-east-1", None)
    everything = set(boto3.Session().get_available_regions("kms", partition_name="aws"))
    assert "us-east-1" in chosen
    assert "cn-north-1" not in chosen
    not_enabled = {row.region for row in skipped}
    assert not_enabled  # moto reports opt-in regions such as af-south-1 as not opted in
    assert all(row.outcome is Outcome.NOT_ENABLED and row.service == "region" for row in skipped)
    assert set(chosen) | not_enabled == everything
    assert not set(chosen) & not_enabled


def test_china_partition_lists_only_china_regions(moto_endpoint):
    clients = Clients(boto3.Session(region_name="cn-north-1"), moto_endpoint)
    who = CallerIdentity("123456789012", "arn:aws-cn:iam::123456789012:user/a", "aws-cn")
    chosen, skipped = account_regions(clients, who, "cn-north-1", None)
    assert sorted(chosen) == ["cn-north-1", "cn-northwest-1"]
    assert skipped == []


def test_assumed_session_becomes_the_member_account(moto_endpoint):
    base = boto3.Session(region_name="cn-north-1")
    arn = role_arn("aws-cn", "210987654321", "GovauditAudit")
    assert arn == "arn:aws-cn:iam::210987654321:role/GovauditAudit"
    session = assumed_session(base, arn, "cn-north-1", moto_endpoint, external_id="x-1")
    sts = session.client("sts", endpoint_url=moto_endpoint)
    who = sts.get_caller_identity()
    assert who["Account"] == "210987654321"
    assert who["Arn"].startswith("arn:aws-cn:sts::210987654321:assumed-role/GovauditAudit/")
