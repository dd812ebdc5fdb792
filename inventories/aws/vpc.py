"""VPC networking of one region: VPCs with their flow logs, peerings and security groups.

VPCs and security groups are resources.  Peering connections and transit-gateway peering
attachments become `peers_with` edges (requester → accepter); flow logs become
`delivers_logs_to` edges from the VPC to where its logs land.  Only DescribeVpcs is the
service's listing: every other call is captured apart with a status, recorded on each VPC and in
the coverage detail, so a denied peering listing never reads as "no peering".
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from functools import partial
from typing import Any

from auditor.inventories.aws.calls import READ, attempt, clean, paginate, require
from auditor.inventories.aws.ec2 import tag_dict
from auditor.inventories.aws.registry import Collected, Scope, Service, ServiceContext
from auditor.inventories.regions import jurisdiction_of
from auditor.model import Edge, Kind, Relation, Resource

# (botocore service, API operation) → the IAM action it needs.
OPERATIONS: dict[tuple[str, str], str] = {
    ("ec2", "DescribeVpcs"): "ec2:DescribeVpcs",
    ("ec2", "DescribeFlowLogs"): "ec2:DescribeFlowLogs",
    ("ec2", "DescribeVpcPeeringConnections"): "ec2:DescribeVpcPeeringConnections",
    (
        "ec2",
        "DescribeTransitGatewayPeeringAttachments",
    ): "ec2:DescribeTransitGatewayPeeringAttachments",
    ("ec2", "DescribeSecurityGroups"): "ec2:DescribeSecurityGroups",
}
PERMISSIONS: tuple[str, ...] = tuple(sorted(set(OPERATIONS.values())))

# Peerings in these states carry no traffic and never will again.
DEAD_PEERING = frozenset({"deleted", "deleting", "rejected", "failed", "expired"})
DEAD_ATTACHMENT = frozenset({"deleted", "deleting", "rejected", "rejecting", "failed", "failing"})
OPEN_CIDRS = frozenset({"0.0.0.0/0", "::/0"})

# Raw keys of the facts read besides the VPC listing, with the item key each listing holds
# and the id every item of it carries.
LISTINGS = {
    "flow_logs": ("describe_flow_logs", "FlowLogs", "FlowLogId"),
    "peerings": (
        "describe_vpc_peering_connections",
        "VpcPeeringConnections",
        "VpcPeeringConnectionId",
    ),
    "transit_gateway_peerings": (
        "describe_transit_gateway_peering_attachments",
        "TransitGatewayPeeringAttachments",
        "TransitGatewayAttachmentId",
    ),
    "security_groups": ("describe_security_groups", "SecurityGroups", "GroupId"),
}


# --- get (boto3) ------------------------------------------------------------------------------


def _listing(client: Any, operation: str, key: str, ident: str) -> dict[str, Any]:
    items = clean(paginate(client, operation, key))
    # An item without its id would become a peering of "None" or a group nobody can name.
    for item in items:
        require(item, ident, operation)
    return {key: items}


def get_vpc(client: Any, region: str, account: str) -> dict[str, Any]:
    """VPCs of `region` (a denied DescribeVpcs raises), then each other listing captured apart."""
    raw: dict[str, Any] = {
        "region": region,
        "account": account,
        "vpcs": clean(paginate(client, "describe_vpcs", "Vpcs")),
    }
    for fact, (operation, key, ident) in LISTINGS.items():
        raw[fact] = attempt(partial(_listing, client, operation, key, ident))
    return raw


# --- transform (pure) -------------------------------------------------------------------------


@dataclass(frozen=True)
class Place:
    """The region one raw listing comes from, and what its ARNs are built of."""

    region: str
    account: str
    partition: str

    def ec2_arn(self, kind: str, ident: str, region: str = "", account: str = "") -> str:
        """`arn:<p>:ec2:<region>:<account>:<kind>/<id>`, here unless told otherwise.

        >>> Place("cn-north-1", "1", "aws-cn").ec2_arn("vpc", "vpc-9", account="2")
        'arn:aws-cn:ec2:cn-north-1:2:vpc/vpc-9'
        """
        where, owner = region or self.region, account or self.account
        return f"arn:{self.partition}:ec2:{where}:{owner}:{kind}/{ident}"


def listed(raw: Mapping[str, Any], fact: str) -> list[Mapping[str, Any]]:
    """The items of one captured listing; empty when it was not read (its status says so)."""
    captured = raw[fact]
    key = LISTINGS[fact][1]
    return list(captured.get("value", {}).get(key, [])) if captured["status"] == READ else []


def _resource(
    item: Mapping[str, Any], uid: str, kind: Kind, native_type: str, name: str,
    attrs: dict[str, Any], place: Place,
) -> Resource:  # fmt: skip
    tags = tag_dict(item)
    return Resource(
        uid=uid,
        provider="aws",
        kind=kind,
        native_type=native_type,
        name=tags.get("Name") or name,
        account=str(item.get("OwnerId") or place.account),
        region=place.region,
        partition=place.partition,
        jurisdiction=jurisdiction_of("aws", place.region),
        tags=tags,
        # Tags come inline with every describe call, so they are read whenever the item is.
        attrs={**attrs, "tags_status": READ},
    )


# Flow logs --------------------------------------------------------------------------------


def flow_log_destination(flow: Mapping[str, Any], place: Place) -> str | None:
    """The ARN of the resource a flow log delivers to (an S3 bucket, a log group, a stream).

    An S3 destination may carry a key prefix (`arn:…:s3:::bucket/prefix/`): the bucket is the
    resource.  A CloudWatch Logs destination may come only as a group name.
    """
    destination = flow.get("LogDestination")
    if flow.get("LogDestinationType") == "s3" and destination:
        return str(destination).split("/", 1)[0]
    if destination:
        return str(destination)
    group = flow.get("LogGroupName")
    if group:
        return f"arn:{place.partition}:logs:{place.region}:{place.account}:log-group:{group}"
    return None


def _flow_log_attrs(flow: Mapping[str, Any], place: Place) -> dict[str, Any]:
    return {
        "flow_log_id": flow.get("FlowLogId"),
        "status": flow.get("FlowLogStatus"),
        "deliver_status": flow.get("DeliverLogsStatus"),
        "traffic_type": flow.get("TrafficType"),
        "destination_type": flow.get("LogDestinationType"),
        "destination": flow.get("LogDestination") or flow.get("LogGroupName"),
        "destination_arn": flow_log_destination(flow, place),
    }


def _flow_log_edges(vpc_arn: str, flows: list[Mapping[str, Any]], place: Place) -> Iterator[Edge]:
    for flow in flows:
        destination = flow_log_destination(flow, place)
        if destination is None:
            continue
        field = "LogDestination" if flow.get("LogDestination") else "LogGroupName"
        shown = flow.get("LogDestination") or flow.get("LogGroupName")
        yield Edge(
            vpc_arn,
            destination,
            Relation.DELIVERS_LOGS_TO,
            f"DescribeFlowLogs {flow.get('FlowLogId')} ({flow.get('LogDestinationType')}, "
            f"{flow.get('TrafficType')}) {field}: {shown}",
        )


# Peering ------------------------------------------------------------------------------------


def _side(info: Mapping[str, Any], place: Place) -> tuple[str, str, str]:
    """(region, owner, id) of one end of a peering; this region and account when not given."""
    return (
        str(info.get("Region") or place.region),
        str(info.get("OwnerId") or place.account),
        str(info.get("VpcId") or info.get("TransitGatewayId")),
    )


def peering_edge(peering: Mapping[str, Any], place: Place) -> Edge | None:
    """requester VPC —peers_with→ accepter VPC, unless the peering is gone."""
    status = str(peering.get("Status", {}).get("Code"))
    if status in DEAD_PEERING:
        return None
    req_region, req_owner, req_vpc = _side(peering.get("RequesterVpcInfo", {}), place)
    acc_region, acc_owner, acc_vpc = _side(peering.get("AccepterVpcInfo", {}), place)
    ident = peering.get("VpcPeeringConnectionId")
    return Edge(
        place.ec2_arn("vpc", req_vpc, req_region, req_owner),
        place.ec2_arn("vpc", acc_vpc, acc_region, acc_owner),
        Relation.PEERS_WITH,
        f"DescribeVpcPeeringConnections {ident} (status {status}): requester {req_vpc} "
        f"({req_region}, account {req_owner}) → accepter {acc_vpc} "
        f"(AccepterVpcInfo Region {acc_region}, OwnerId {acc_owner})",
    )


def transit_gateway_edge(attachment: Mapping[str, Any], place: Place) -> Edge | None:
    """requester transit gateway —peers_with→ accepter transit gateway, unless it is gone."""
    state = str(attachment.get("State"))
    if state in DEAD_ATTACHMENT:
        return None
    req_region, req_owner, req_tgw = _side(attachment.get("RequesterTgwInfo", {}), place)
    acc_region, acc_owner, acc_tgw = _side(attachment.get("AccepterTgwInfo", {}), place)
    ident = attachment.get("TransitGatewayAttachmentId")
    return Edge(
        place.ec2_arn("transit-gateway", req_tgw, req_region, req_owner),
        place.ec2_arn("transit-gateway", acc_tgw, acc_region, acc_owner),
        Relation.PEERS_WITH,
        f"DescribeTransitGatewayPeeringAttachments {ident} (state {state}): requester {req_tgw} "
        f"({req_region}, account {req_owner}) → accepter {acc_tgw} "
        f"(AccepterTgwInfo Region {acc_region}, OwnerId {acc_owner})",
    )


def _peering_summary(peering: Mapping[str, Any], vpc_id: str, place: Place) -> dict[str, Any]:
    """One peering as seen from `vpc_id`: its role and the VPC at the other end."""
    requester = peering.get("RequesterVpcInfo", {})
    role = "requester" if requester.get("VpcId") == vpc_id else "accepter"
    other = peering.get("AccepterVpcInfo" if role == "requester" else "RequesterVpcInfo", {})
    region, owner, peer = _side(other, place)
    return {
        "peering_id": peering.get("VpcPeeringConnectionId"),
        "status": peering.get("Status", {}).get("Code"),
        "role": role,
        "peer_vpc_arn": place.ec2_arn("vpc", peer, region, owner),
        "peer_region": region,
        "peer_account": owner,
    }


def _peerings_of(raw: Mapping[str, Any], vpc_id: str, place: Place) -> list[dict[str, Any]]:
    ends = ("RequesterVpcInfo", "AccepterVpcInfo")
    return [
        _peering_summary(p, vpc_id, place)
        for p in listed(raw, "peerings")
        if any(
            p.get(end, {}).get("VpcId") == vpc_id
            and _side(p.get(end, {}), place)[:2] == (place.region, place.account)
            for end in ends
        )
    ]


# VPCs and security groups -----------------------------------------------------------------


def _cidrs(vpc: Mapping[str, Any]) -> list[str]:
    v4 = [str(a["CidrBlock"]) for a in vpc.get("CidrBlockAssociationSet", [])]
    v6 = [str(a["Ipv6CidrBlock"]) for a in vpc.get("Ipv6CidrBlockAssociationSet", [])]
    return v4 + v6


def transform_vpc(
    vpc: Mapping[str, Any], raw: Mapping[str, Any], place: Place
) -> Iterator[Resource | Edge]:
    """A VPC with its flow logs (attrs and `delivers_logs_to` edges) and peerings (attrs)."""
    ident = str(vpc["VpcId"])
    uid = place.ec2_arn("vpc", ident, account=str(vpc.get("OwnerId") or place.account))
    flows = [f for f in listed(raw, "flow_logs") if f.get("ResourceId") == ident]
    attrs = {
        "vpc_id": ident,
        "cidr": vpc.get("CidrBlock"),
        "cidr_blocks": _cidrs(vpc),
        "is_default": bool(vpc.get("IsDefault", False)),
        "state": vpc.get("State"),
        "flow_logs_status": raw["flow_logs"]["status"],
        "flow_logs": [_flow_log_attrs(f, place) for f in flows],
        "peerings_status": raw["peerings"]["status"],
        "peerings": _peerings_of(raw, ident, place),
        # A regional fact kept on each VPC so FLOW-007 can tell "none" from "not readable".
        "transit_gateway_peerings_status": raw["transit_gateway_peerings"]["status"],
        "security_groups_status": raw["security_groups"]["status"],
    }
    yield _resource(vpc, uid, Kind.NETWORK, "ec2:vpc", ident, attrs, place)
    yield from _flow_log_edges(uid, flows, place)


def _port_range(rule: Mapping[str, Any]) -> str:
    protocol = str(rule.get("IpProtocol"))
    if protocol == "-1":
        return "all"
    low, high = rule.get("FromPort"), rule.get("ToPort")
    if low is None or (low == -1 and high == -1):
        return f"{protocol}/all"
    return f"{protocol}/{low}" if low == high else f"{protocol}/{low}-{high}"


def open_ingress(group: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Ingress rules that admit the whole internet (0.0.0.0/0 or ::/0), with their ports."""
    found = []
    for rule in group.get("IpPermissions", []):
        cidrs = [r.get("CidrIp") for r in rule.get("IpRanges", [])]
        cidrs += [r.get("CidrIpv6") for r in rule.get("Ipv6Ranges", [])]
        for cidr in cidrs:
            if cidr in OPEN_CIDRS:
                found.append(
                    {
                        "protocol": rule.get("IpProtocol"),
                        "from_port": rule.get("FromPort"),
                        "to_port": rule.get("ToPort"),
                        "ports": _port_range(rule),
                        "cidr": cidr,
                    }
                )
    return found


def transform_security_group(group: Mapping[str, Any], place: Place) -> Resource:
    """A security group; moto's SecurityGroupArn says `arn:aws` in every partition, so the
    ARN is built from the partition."""
    ident = str(group["GroupId"])
    owner = str(group.get("OwnerId") or place.account)
    ingress = open_ingress(group)
    attrs = {
        "group_id": ident,
        "group_name": group.get("GroupName"),
        "description": group.get("Description"),
        "vpc_id": group.get("VpcId"),
        "open_ingress": ingress,
        "open_to_internet": bool(ingress),
    }
    uid = place.ec2_arn("security-group", ident, account=owner)
    name = str(group.get("GroupName") or ident)
    return _resource(group, uid, Kind.FIREWALL, "ec2:security-group", name, attrs, place)


def _peering_edges(raw: Mapping[str, Any], place: Place) -> Iterator[Edge]:
    # Both ends' regions list a peering: identical edges (same evidence) are stored once.
    for peering in listed(raw, "peerings"):
        edge = peering_edge(peering, place)
        if edge is not None:
            yield edge
    for attachment in listed(raw, "transit_gateway_peerings"):
        edge = transit_gateway_edge(attachment, place)
        if edge is not None:
            yield edge


def transform_vpcs(raw: Mapping[str, Any], partition: str) -> Iterator[Resource | Edge]:
    """Every VPC, security group and peering of one region → resources and edges."""
    place = Place(str(raw["region"]), str(raw["account"]), partition)
    for vpc in raw["vpcs"]:
        yield from transform_vpc(vpc, raw, place)
    for group in listed(raw, "security_groups"):
        yield transform_security_group(group, place)
    yield from _peering_edges(raw, place)


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def detail(raw: Mapping[str, Any]) -> str:
    """The coverage line: "2 VPCs, 1 peering, 0 transit-gateway peerings, 3 security groups",
    then any listing that could not be read ("; flow logs denied")."""
    counts = [_count(len(raw["vpcs"]), "VPC")]
    nouns = {
        "flow_logs": "flow log",
        "peerings": "peering",
        "transit_gateway_peerings": "transit-gateway peering",
        "security_groups": "security group",
    }
    unread = []
    for fact, noun in nouns.items():
        status = raw[fact]["status"]
        if status == READ:
            counts.append(_count(len(listed(raw, fact)), noun))
        else:
            unread.append(f"{noun}s {status} ({raw[fact].get('code')})")
    return "; ".join([", ".join(counts), *unread])


def collect(ctx: ServiceContext) -> Collected:
    """VPCs, their flow logs and peerings, and the security groups of one region."""
    raw = get_vpc(ctx.clients.get("ec2", ctx.region), ctx.region, ctx.identity.account)
    return list(transform_vpcs(raw, ctx.identity.partition)), detail(raw)


SERVICE = Service("vpc", Scope.REGIONAL, collect, OPERATIONS, phase=1)
