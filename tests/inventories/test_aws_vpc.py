"""VPCs, flow logs, VPC and transit-gateway peering, security groups.

The moto estate (seeded over HTTP with plain boto3 clients; moto adds a default VPC with its
default security group to every region, and a default security group to every VPC):
  aws-cn, account 123456789012
    cn-north-1: VPC `gov-core` 10.1.0.0/16 with flow logs to bucket gov-flowlogs (S3) and to log
      group vpc-flow (CloudWatch Logs); security group `web` in it, open to the internet on
      tcp/22 (IPv4) and tcp/443 (IPv6); VPC `old` whose peering with gov-core was deleted;
      transit gateway peered with one in cn-northwest-1.
    cn-northwest-1: VPC `gov-dr` 10.2.0.0/16, peered from gov-core (cross-region).
  aws-cn, account 999988887777: VPC `vendor` in cn-north-1, peered from gov-core.
  aws, account 111122223333: VPC `hk-app` (ap-east-1) peered to VPC `eu-app` (eu-central-1).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import boto3
import pytest
import requests
from botocore.stub import Stubber

from auditor.inventories import aws as aws_adapter
from auditor.inventories.aws import vpc
from auditor.inventories.aws.calls import READ
from auditor.inventories.aws.identity import CallerIdentity
from auditor.inventories.aws.registry import ServiceContext, SharedFacts, services
from auditor.inventories.aws.session import Clients, make_client
from auditor.model import Coverage, Edge, Kind, Outcome, Resource
from tests.conftest import FIXTURES
from tests.inventories.conftest import CN1, CN2, FRA, HK, HK_ACCOUNT, MAIN, VENDOR, assumed_session

CN_MAIN = CallerIdentity(MAIN, f"arn:aws-cn:iam::{MAIN}:user/auditor", "aws-cn")
AWS_HK = CallerIdentity(HK_ACCOUNT, f"arn:aws:iam::{HK_ACCOUNT}:role/seed", "aws")


# --- seeding ----------------------------------------------------------------------------------


def make_vpc(session: boto3.Session, endpoint: str, region: str, cidr: str, name: str) -> str:
    client = session.client("ec2", region_name=region, endpoint_url=endpoint)
    tags = [{"ResourceType": "vpc", "Tags": [{"Key": "Name", "Value": name}]}]
    return str(client.create_vpc(CidrBlock=cidr, TagSpecifications=tags)["Vpc"]["VpcId"])


def default_vpc(session: boto3.Session, endpoint: str, region: str) -> str:
    client = session.client("ec2", region_name=region, endpoint_url=endpoint)
    vpcs = client.describe_vpcs(Filters=[{"Name": "is-default", "Values": ["true"]}])["Vpcs"]
    return str(vpcs[0]["VpcId"])


def seed_flow_logs(session: boto3.Session, endpoint: str, vpc_id: str) -> dict[str, str]:
    s3 = session.client("s3", region_name=CN1, endpoint_url=endpoint)
    s3.create_bucket(Bucket="gov-flowlogs", CreateBucketConfiguration={"LocationConstraint": CN1})
    logs = session.client("logs", region_name=CN1, endpoint_url=endpoint)
    logs.create_log_group(logGroupName="vpc-flow")
    client = session.client("ec2", region_name=CN1, endpoint_url=endpoint)
    # moto takes everything after ":::" for the bucket name, so no key prefix here.
    to_s3 = client.create_flow_logs(
        ResourceIds=[vpc_id],
        ResourceType="VPC",
        TrafficType="ALL",
        LogDestinationType="s3",
        LogDestination="arn:aws-cn:s3:::gov-flowlogs",
    )["FlowLogIds"][0]
    to_logs = client.create_flow_logs(
        ResourceIds=[vpc_id],
        ResourceType="VPC",
        TrafficType="REJECT",
        LogGroupName="vpc-flow",
        DeliverLogsPermissionArn=f"arn:aws-cn:iam::{MAIN}:role/flow-logs",
    )["FlowLogIds"][0]
    return {"flow_s3": str(to_s3), "flow_logs": str(to_logs)}


def seed_security_group(session: boto3.Session, endpoint: str, vpc_id: str) -> str:
    client = session.client("ec2", region_name=CN1, endpoint_url=endpoint)
    group = str(
        client.create_security_group(GroupName="web", Description="web", VpcId=vpc_id)["GroupId"]
    )
    client.authorize_security_group_ingress(
        GroupId=group,
        IpPermissions=[
            {
                "IpProtocol": "tcp",
                "FromPort": 22,
                "ToPort": 22,
                "IpRanges": [{"CidrIp": "0.0.0.0/0"}],
            },
            {
                "IpProtocol": "tcp",
                "FromPort": 443,
                "ToPort": 443,
                "IpRanges": [{"CidrIp": "10.0.0.0/8"}],
                "Ipv6Ranges": [{"CidrIpv6": "::/0"}],
            },
            {"IpProtocol": "-1", "UserIdGroupPairs": [{"GroupId": group}]},
        ],
    )
    return group


def seed_transit_gateways(session: boto3.Session, endpoint: str) -> dict[str, str]:
    north = session.client("ec2", region_name=CN1, endpoint_url=endpoint)
    north_west = session.client("ec2", region_name=CN2, endpoint_url=endpoint)
    tgw1 = north.create_transit_gateway()["TransitGateway"]["TransitGatewayId"]
    tgw2 = north_west.create_transit_gateway()["TransitGateway"]["TransitGatewayId"]
    attachment = north.create_transit_gateway_peering_attachment(
        TransitGatewayId=tgw1, PeerTransitGatewayId=tgw2, PeerAccountId=MAIN, PeerRegion=CN2
    )["TransitGatewayPeeringAttachment"]["TransitGatewayAttachmentId"]
    return {"tgw1": str(tgw1), "tgw2": str(tgw2), "tgw_attachment": str(attachment)}


def seed_cn(cn: boto3.Session, vendor: boto3.Session, endpoint: str) -> dict[str, str]:
    """The aws-cn estate of the module docstring; returns the ids moto chose."""
    ids = {
        "core": make_vpc(cn, endpoint, CN1, "10.1.0.0/16", "gov-core"),
        "old": make_vpc(cn, endpoint, CN1, "10.9.0.0/16", "old"),
        "dr": make_vpc(cn, endpoint, CN2, "10.2.0.0/16", "gov-dr"),
        "vendor": make_vpc(vendor, endpoint, CN1, "10.3.0.0/16", "vendor"),
        "default1": default_vpc(cn, endpoint, CN1),
        "default2": default_vpc(cn, endpoint, CN2),
    }
    client = cn.client("ec2", region_name=CN1, endpoint_url=endpoint)
    peer = client.create_vpc_peering_connection
    ids["pcx_dr"] = peer(VpcId=ids["core"], PeerVpcId=ids["dr"], PeerRegion=CN2)[
        "VpcPeeringConnection"
    ]["VpcPeeringConnectionId"]
    ids["pcx_vendor"] = peer(VpcId=ids["core"], PeerVpcId=ids["vendor"], PeerOwnerId=VENDOR)[
        "VpcPeeringConnection"
    ]["VpcPeeringConnectionId"]
    ids["pcx_old"] = peer(VpcId=ids["core"], PeerVpcId=ids["old"])["VpcPeeringConnection"][
        "VpcPeeringConnectionId"
    ]
    client.delete_vpc_peering_connection(VpcPeeringConnectionId=ids["pcx_old"])
    ids |= seed_flow_logs(cn, endpoint, ids["core"])
    ids["web"] = seed_security_group(cn, endpoint, ids["core"])
    ids |= seed_transit_gateways(cn, endpoint)
    return ids


def seed_hk(session: boto3.Session, endpoint: str) -> dict[str, str]:
    hk_app = make_vpc(session, endpoint, HK, "10.4.0.0/16", "hk-app")
    eu_app = make_vpc(session, endpoint, FRA, "10.5.0.0/16", "eu-app")
    client = session.client("ec2", region_name=HK, endpoint_url=endpoint)
    pcx = client.create_vpc_peering_connection(VpcId=hk_app, PeerVpcId=eu_app, PeerRegion=FRA)
    return {
        "hk_app": hk_app,
        "eu_app": eu_app,
        "pcx": str(pcx["VpcPeeringConnection"]["VpcPeeringConnectionId"]),
    }


@dataclass
class VpcEstate:
    endpoint: str
    cn: boto3.Session
    aws: boto3.Session
    ids: dict[str, str]
    hk: dict[str, str]


@pytest.fixture(scope="module")
def vpc_estate(moto_server: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[VpcEstate]:
    """Seeded once for the module: every test here only reads the estate.

    Module-scoped, so it sets the dummy credentials the per-test autouse fixture would (it runs
    before that fixture), and resets moto itself.
    """
    home = tmp_path_factory.mktemp("aws")
    with pytest.MonkeyPatch.context() as env:
        for var in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL"):
            env.delenv(var, raising=False)
        env.setenv("AWS_ACCESS_KEY_ID", "testing")
        env.setenv("AWS_SECRET_ACCESS_KEY", "testing")
        env.setenv("AWS_CONFIG_FILE", str(home / "no-aws-config"))
        env.setenv("AWS_SHARED_CREDENTIALS_FILE", str(home / "no-aws-credentials"))
        endpoint = moto_server
        requests.post(f"{endpoint}/moto-api/reset", timeout=10)
        cn = boto3.Session(region_name=CN1)
        vendor = assumed_session(endpoint, "aws-cn", VENDOR, CN1)
        aws = assumed_session(endpoint, "aws", HK_ACCOUNT, HK)
        yield VpcEstate(endpoint, cn, aws, seed_cn(cn, vendor, endpoint), seed_hk(aws, endpoint))


def arn(kind: str, ident: str, region: str = CN1, account: str = MAIN, p: str = "aws-cn") -> str:
    return f"arn:{p}:ec2:{region}:{account}:{kind}/{ident}"


def collect_vpc(
    session: boto3.Session, endpoint: str, who: CallerIdentity, regions: list[str], monkeypatch
) -> list[Any]:
    """collect_account restricted to the vpc service (the others have their own tests)."""
    monkeypatch.setattr(aws_adapter, "services", lambda: (vpc.SERVICE,))
    clients = Clients(session, endpoint)
    return list(aws_adapter.collect_account(clients, who, regions[0], regions, workers=1))


def split(records: Any) -> tuple[dict[str, Resource], set[tuple[str, str, str, str]]]:
    records = list(records)
    resources = {r.uid: r for r in records if isinstance(r, Resource)}
    edges = {(e.src, e.relation.value, e.dst, e.evidence) for e in records if isinstance(e, Edge)}
    return resources, edges


# --- against the moto server ------------------------------------------------------------------


pytestmark = pytest.mark.moto


def test_collects_exact_cn_vpcs(vpc_estate, monkeypatch):
    ids = vpc_estate.ids
    records = collect_vpc(vpc_estate.cn, vpc_estate.endpoint, CN_MAIN, [CN1, CN2], monkeypatch)
    resources, _ = split(records)
    networks = {
        uid: (r.native_type, r.name, r.account, r.region, r.jurisdiction, r.attrs["cidr"],
              r.attrs["is_default"])
        for uid, r in resources.items()
        if r.kind is Kind.NETWORK
    }  # fmt: skip
    assert networks == {
        arn("vpc", ids["core"]): ("ec2:vpc", "gov-core", MAIN, CN1, "CN", "10.1.0.0/16", False),
        arn("vpc", ids["old"]): ("ec2:vpc", "old", MAIN, CN1, "CN", "10.9.0.0/16", False),
        arn("vpc", ids["default1"]): (
            "ec2:vpc", ids["default1"], MAIN, CN1, "CN", "172.31.0.0/16", True,
        ),
        arn("vpc", ids["dr"], CN2): ("ec2:vpc", "gov-dr", MAIN, CN2, "CN", "10.2.0.0/16", False),
        arn("vpc", ids["default2"], CN2): (
            "ec2:vpc", ids["default2"], MAIN, CN2, "CN", "172.31.0.0/16", True,
        ),
    }  # fmt: skip


def test_security_groups(vpc_estate, monkeypatch):
    ids = vpc_estate.ids
    records = collect_vpc(vpc_estate.cn, vpc_estate.endpoint, CN_MAIN, [CN1, CN2], monkeypatch)
    resources, _ = split(records)
    groups = [r for r in resources.values() if r.kind is Kind.FIREWALL]
    assert sorted((g.region, g.attrs["vpc_id"], g.name) for g in groups) == sorted(
        [
            (CN1, ids["default1"], "default"),
            (CN1, ids["core"], "default"),
            (CN1, ids["old"], "default"),
            (CN1, ids["core"], "web"),
            (CN2, ids["default2"], "default"),
            (CN2, ids["dr"], "default"),
        ]
    )
    for group in groups:
        # moto's SecurityGroupArn says arn:aws; the uid is built with the partition.
        assert group.uid == arn("security-group", group.attrs["group_id"], group.region or "")
        assert group.native_type == "ec2:security-group"
    web = resources[arn("security-group", ids["web"])].attrs
    assert web["open_to_internet"] is True
    assert web["open_ingress"] == [
        {"protocol": "tcp", "from_port": 22, "to_port": 22, "ports": "tcp/22", "cidr": "0.0.0.0/0"},
        {"protocol": "tcp", "from_port": 443, "to_port": 443, "ports": "tcp/443", "cidr": "::/0"},
    ]
    default = [g for g in groups if g.name == "default"]
    assert all(g.attrs["open_ingress"] == [] for g in default)


def test_flow_logs_and_peerings_on_the_vpc(vpc_estate, monkeypatch):
    ids = vpc_estate.ids
    records = collect_vpc(vpc_estate.cn, vpc_estate.endpoint, CN_MAIN, [CN1, CN2], monkeypatch)
    resources, _ = split(records)
    core = resources[arn("vpc", ids["core"])].attrs
    assert core["flow_logs_status"] == READ
    assert sorted(core["flow_logs"], key=lambda f: f["traffic_type"]) == [
        {
            "flow_log_id": ids["flow_s3"],
            "status": "ACTIVE",
            "deliver_status": "SUCCESS",
            "traffic_type": "ALL",
            "destination_type": "s3",
            "destination": "arn:aws-cn:s3:::gov-flowlogs",
            "destination_arn": "arn:aws-cn:s3:::gov-flowlogs",
        },
        {
            "flow_log_id": ids["flow_logs"],
            "status": "ACTIVE",
            "deliver_status": "SUCCESS",
            "traffic_type": "REJECT",
            "destination_type": "cloud-watch-logs",
            "destination": "vpc-flow",
            "destination_arn": f"arn:aws-cn:logs:{CN1}:{MAIN}:log-group:vpc-flow",
        },
    ]
    assert core["peerings_status"] == READ
    assert sorted(
        (p["peering_id"], p["role"], p["peer_vpc_arn"], p["status"]) for p in core["peerings"]
    ) == sorted(
        [
            (ids["pcx_dr"], "requester", arn("vpc", ids["dr"], CN2), "pending-acceptance"),
            (
                ids["pcx_vendor"],
                "requester",
                arn("vpc", ids["vendor"], CN1, VENDOR),
                "pending-acceptance",
            ),
            (ids["pcx_old"], "requester", arn("vpc", ids["old"]), "deleted"),
        ]
    )
    dr = resources[arn("vpc", ids["dr"], CN2)].attrs
    assert [(p["role"], p["peer_vpc_arn"]) for p in dr["peerings"]] == [
        ("accepter", arn("vpc", ids["core"]))
    ]
    assert (dr["flow_logs_status"], dr["flow_logs"]) == (READ, [])
    assert dr["transit_gateway_peerings_status"] == READ


def test_collects_exact_cn_edges(vpc_estate, monkeypatch):
    ids = vpc_estate.ids
    records = collect_vpc(vpc_estate.cn, vpc_estate.endpoint, CN_MAIN, [CN1, CN2], monkeypatch)
    _, edges = split(records)
    core, dr = arn("vpc", ids["core"]), arn("vpc", ids["dr"], CN2)
    vendor = arn("vpc", ids["vendor"], CN1, VENDOR)
    tgw1, tgw2 = arn("transit-gateway", ids["tgw1"]), arn("transit-gateway", ids["tgw2"], CN2)
    # Each peering is listed in both regions; the same edge with the same evidence comes twice
    # and is stored once.
    assert edges == {
        (
            core,
            "delivers_logs_to",
            "arn:aws-cn:s3:::gov-flowlogs",
            f"DescribeFlowLogs {ids['flow_s3']} (s3, ALL) LogDestination: "
            "arn:aws-cn:s3:::gov-flowlogs",
        ),
        (
            core,
            "delivers_logs_to",
            f"arn:aws-cn:logs:{CN1}:{MAIN}:log-group:vpc-flow",
            f"DescribeFlowLogs {ids['flow_logs']} (cloud-watch-logs, REJECT) LogGroupName: "
            "vpc-flow",
        ),
        (
            core,
            "peers_with",
            dr,
            f"DescribeVpcPeeringConnections {ids['pcx_dr']} (status pending-acceptance): "
            f"requester {ids['core']} ({CN1}, account {MAIN}) → accepter {ids['dr']} "
            f"(AccepterVpcInfo Region {CN2}, OwnerId {MAIN})",
        ),
        (
            core,
            "peers_with",
            vendor,
            f"DescribeVpcPeeringConnections {ids['pcx_vendor']} (status pending-acceptance): "
            f"requester {ids['core']} ({CN1}, account {MAIN}) → accepter {ids['vendor']} "
            f"(AccepterVpcInfo Region {CN1}, OwnerId {VENDOR})",
        ),
        (
            tgw1,
            "peers_with",
            tgw2,
            f"DescribeTransitGatewayPeeringAttachments {ids['tgw_attachment']} "
            f"(state pendingAcceptance): requester {ids['tgw1']} ({CN1}, account {MAIN}) → "
            f"accepter {ids['tgw2']} (AccepterTgwInfo Region {CN2}, OwnerId {MAIN})",
        ),
    }


def test_coverage_rows(vpc_estate, monkeypatch):
    records = collect_vpc(vpc_estate.cn, vpc_estate.endpoint, CN_MAIN, [CN1, CN2], monkeypatch)
    rows = {
        (c.account, c.region, c.service, c.outcome, c.detail)
        for c in records
        if isinstance(c, Coverage)
    }
    assert rows == {
        (MAIN, CN1, "vpc", Outcome.OK, "3 VPCs, 2 flow logs, 3 peerings, "
         "1 transit-gateway peering, 4 security groups"),
        (MAIN, CN2, "vpc", Outcome.OK, "2 VPCs, 0 flow logs, 1 peering, "
         "1 transit-gateway peering, 2 security groups"),
    }  # fmt: skip


def test_commercial_cross_jurisdiction_peering(vpc_estate, monkeypatch):
    hk = vpc_estate.hk
    records = collect_vpc(vpc_estate.aws, vpc_estate.endpoint, AWS_HK, [HK, FRA], monkeypatch)
    resources, edges = split(records)
    hk_app = arn("vpc", hk["hk_app"], HK, HK_ACCOUNT, "aws")
    eu_app = arn("vpc", hk["eu_app"], FRA, HK_ACCOUNT, "aws")
    assert (resources[hk_app].jurisdiction, resources[eu_app].jurisdiction) == ("HK", "DE")
    assert resources[hk_app].partition == "aws"
    assert {e for e in edges if e[1] == "peers_with"} == {
        (
            hk_app,
            "peers_with",
            eu_app,
            f"DescribeVpcPeeringConnections {hk['pcx']} (status pending-acceptance): "
            f"requester {hk['hk_app']} ({HK}, account {HK_ACCOUNT}) → accepter {hk['eu_app']} "
            f"(AccepterVpcInfo Region {FRA}, OwnerId {HK_ACCOUNT})",
        )
    }


def test_service_is_discovered():
    assert vpc.SERVICE in services()
    assert "ec2:DescribeFlowLogs" in aws_adapter.PERMISSIONS


# --- failures (Stubber on guarded clients) ----------------------------------------------------


def stubbed(region: str = CN1) -> tuple[Clients, Stubber]:
    session = boto3.Session(region_name=region)
    clients = Clients(session, "http://127.0.0.1:9")
    client = make_client(session, "ec2", region, clients.endpoint_url)
    clients.put("ec2", region, client)
    return clients, Stubber(client)


def test_denied_vpc_listing_becomes_a_coverage_row(monkeypatch):
    clients, stub = stubbed()
    stub.add_client_error("describe_vpcs", "UnauthorizedOperation", http_status_code=403)
    monkeypatch.setattr(aws_adapter, "services", lambda: (vpc.SERVICE,))
    with stub:
        records = list(aws_adapter.collect_account(clients, CN_MAIN, CN1, [CN1], workers=1))
    assert len(records) == 1  # the coverage row, nothing else
    assert [(r.service, r.outcome, r.detail) for r in records if isinstance(r, Coverage)] == [
        ("vpc", Outcome.DENIED, "DescribeVpcs: UnauthorizedOperation")
    ]
    stub.assert_no_pending_responses()


def test_denied_listings_are_marked_on_each_vpc_and_in_the_detail():
    clients, stub = stubbed()
    stub.add_response(
        "describe_vpcs", {"Vpcs": [{"VpcId": "vpc-1", "OwnerId": MAIN, "CidrBlock": "10.0.0.0/16"}]}
    )
    for operation in (
        "describe_flow_logs",
        "describe_vpc_peering_connections",
        "describe_transit_gateway_peering_attachments",
    ):
        stub.add_client_error(operation, "UnauthorizedOperation", http_status_code=403)
    stub.add_response("describe_security_groups", {"SecurityGroups": []})
    with stub:
        records, detail = vpc.collect(ServiceContext(clients, CN_MAIN, CN1, CN1, SharedFacts()))
    resources, edges = split(records)
    attrs = resources[arn("vpc", "vpc-1")].attrs
    assert {k: v for k, v in attrs.items() if k.endswith("_status")} == {
        "flow_logs_status": "denied",
        "peerings_status": "denied",
        "transit_gateway_peerings_status": "denied",
        "security_groups_status": READ,
        "tags_status": READ,
    }
    assert (attrs["flow_logs"], attrs["peerings"], edges) == ([], [], set())
    assert detail == (
        "1 VPC, 0 security groups; flow logs denied (UnauthorizedOperation); "
        "peerings denied (UnauthorizedOperation); "
        "transit-gateway peerings denied (UnauthorizedOperation)"
    )


# --- transforms on recorded moto responses and pure helpers -----------------------------------


def load(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((FIXTURES / "aws" / name).read_text("utf-8"))
    return data


def test_transform_recorded_cn_north_1():
    raw = load("vpc_cn_north_1.json")
    resources, edges = split(vpc.transform_vpcs(raw, "aws-cn"))
    assert sorted(r.kind.value for r in resources.values()) == ["firewall"] * 4 + ["network"] * 3
    assert all(r.partition == "aws-cn" and r.jurisdiction == "CN" for r in resources.values())
    assert sorted(e[1] for e in edges) == [
        "delivers_logs_to", "delivers_logs_to", "peers_with", "peers_with", "peers_with",
    ]  # fmt: skip
    assert all(e[0].startswith("arn:aws-cn:") and e[2].startswith("arn:aws-cn:") for e in edges)


@pytest.mark.parametrize(
    ("flow", "expected"),
    [
        (
            {"LogDestinationType": "s3", "LogDestination": "arn:aws-cn:s3:::logs/vpc/AWSLogs/"},
            "arn:aws-cn:s3:::logs",
        ),
        (
            {
                "LogDestinationType": "cloud-watch-logs",
                "LogDestination": "arn:aws-cn:logs:cn-north-1:1:log-group:g",
            },
            "arn:aws-cn:logs:cn-north-1:1:log-group:g",
        ),
        (
            {"LogDestinationType": "cloud-watch-logs", "LogGroupName": "g"},
            f"arn:aws-cn:logs:cn-north-1:{MAIN}:log-group:g",
        ),
        (
            {
                "LogDestinationType": "kinesis-data-firehose",
                "LogDestination": "arn:aws-cn:firehose:cn-north-1:1:deliverystream/s",
            },
            "arn:aws-cn:firehose:cn-north-1:1:deliverystream/s",
        ),
        ({"LogDestinationType": "s3"}, None),
    ],
)
def test_flow_log_destination(flow, expected):
    assert vpc.flow_log_destination(flow, vpc.Place(CN1, MAIN, "aws-cn")) == expected


def test_open_ingress_port_ranges():
    group = {
        "IpPermissions": [
            {"IpProtocol": "-1", "IpRanges": [{"CidrIp": "0.0.0.0/0"}]},
            {
                "IpProtocol": "udp",
                "FromPort": 1000,
                "ToPort": 2000,
                "Ipv6Ranges": [{"CidrIpv6": "::/0"}],
            },
            {
                "IpProtocol": "icmp",
                "FromPort": -1,
                "ToPort": -1,
                "IpRanges": [{"CidrIp": "0.0.0.0/0"}],
            },
            {
                "IpProtocol": "tcp",
                "FromPort": 5432,
                "ToPort": 5432,
                "IpRanges": [{"CidrIp": "10.0.0.0/8"}],
            },
        ]
    }
    assert [(r["ports"], r["cidr"]) for r in vpc.open_ingress(group)] == [
        ("all", "0.0.0.0/0"),
        ("udp/1000-2000", "::/0"),
        ("icmp/all", "0.0.0.0/0"),
    ]


def test_dead_peerings_make_no_edge():
    place = vpc.Place(CN1, MAIN, "aws-cn")
    for status in ("deleted", "rejected", "failed", "expired"):
        peering = {
            "VpcPeeringConnectionId": "pcx-1",
            "Status": {"Code": status},
            "RequesterVpcInfo": {"VpcId": "vpc-1", "OwnerId": MAIN, "Region": CN1},
            "AccepterVpcInfo": {"VpcId": "vpc-2", "OwnerId": VENDOR, "Region": CN2},
        }
        assert vpc.peering_edge(peering, place) is None
    attachment = {"State": "deleted", "RequesterTgwInfo": {}, "AccepterTgwInfo": {}}
    assert vpc.transit_gateway_edge(attachment, place) is None
