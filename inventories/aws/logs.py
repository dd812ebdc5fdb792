"""CloudWatch Logs of one region: log groups (retention, key), where their events are streamed,
and who may use the region's log destinations and write to its groups.

Logs hold personal information (IPs, identities, request bodies), so a subscription filter that
streams a group to a destination in another account or region is a data flow like a replica:
each becomes a `delivers_logs_to` edge, and the destination's ARN tells where it lands.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from functools import partial
from typing import Any

from auditor.inventories.aws.calls import READ, attempt, paginate, unparsable_policy
from auditor.inventories.aws.facts import INVALID
from auditor.inventories.aws.policy_rights import PolicyDocumentError, rights_from_policy
from auditor.inventories.aws.registry import Collected, Scope, Service, ServiceContext
from auditor.inventories.regions import jurisdiction_of
from auditor.model import Edge, Kind, Record, Relation, Resource

# (botocore service, API operation) → the IAM action it needs.
OPERATIONS: dict[tuple[str, str], str] = {
    ("logs", "DescribeLogGroups"): "logs:DescribeLogGroups",
    ("logs", "DescribeSubscriptionFilters"): "logs:DescribeSubscriptionFilters",
    ("logs", "DescribeDestinations"): "logs:DescribeDestinations",
    ("logs", "DescribeResourcePolicies"): "logs:DescribeResourcePolicies",
    ("logs", "ListTagsForResource"): "logs:ListTagsForResource",
}

NATIVE_TYPE = "logs:log-group"
DESTINATION_TYPE = "logs:destination"


def group_uid(group: Mapping[str, Any]) -> str:
    """The group's ARN without the `:*` suffix `arn` carries (`logGroupArn` has none)."""
    return str(group.get("logGroupArn") or str(group["arn"]).removesuffix(":*"))


def _filters(client: Any, name: str) -> dict[str, Any]:
    filters = paginate(
        client, "describe_subscription_filters", "subscriptionFilters", logGroupName=name
    )
    return {"subscriptionFilters": filters}


def get_group(client: Any, group: Mapping[str, Any]) -> dict[str, Any]:
    """One log group with its subscription filters and tags, each captured apart."""
    name = str(group["logGroupName"])
    return {
        "group": dict(group),
        "subscriptions": attempt(partial(_filters, client, name)),
        "tags": attempt(partial(client.list_tags_for_resource, resourceArn=group_uid(group))),
    }


def get_logs(client: Any, region: str) -> dict[str, Any]:
    """Every log group, destination and resource policy of `region`.

    A denied DescribeLogGroups raises (→ coverage row); destinations and resource policies are
    captured apart, so their absence never hides the groups.
    """
    groups = paginate(client, "describe_log_groups", "logGroups")
    return {
        "region": region,
        "groups": [get_group(client, g) for g in groups],
        "destinations": attempt(
            lambda: {"destinations": paginate(client, "describe_destinations", "destinations")}
        ),
        "resource_policies": attempt(
            lambda: {
                "resourcePolicies": paginate(
                    client, "describe_resource_policies", "resourcePolicies"
                )
            }
        ),
    }


# --- transform (pure) -------------------------------------------------------------------------


def _region_account(arn: str) -> tuple[str, str]:
    parts = arn.split(":")
    return parts[3], parts[4]


def _encryption(group: Mapping[str, Any]) -> dict[str, Any]:
    key = group.get("kmsKeyId")
    # Without a customer key, CloudWatch Logs encrypts with a key the service owns.
    return {
        "encryption_status": READ,
        "encrypted": True,
        "kms_key_arn": key,
        "key_owner": None if key else "aws_owned",
    }


def _subscription_attrs(fact: Mapping[str, Any]) -> dict[str, Any]:
    filters = fact.get("value", {}).get("subscriptionFilters", [])
    return {
        "subscriptions_status": fact["status"],
        "subscription_filters": [
            {
                "name": f.get("filterName"),
                "destination_arn": f.get("destinationArn"),
                "filter_pattern": f.get("filterPattern"),
                "role_arn": f.get("roleArn"),
                "distribution": f.get("distribution"),
            }
            for f in filters
        ],
    }


def _policy_rights(policies: Mapping[str, Any], uid: str) -> tuple[list[Edge], list[str], str]:
    """Rights the region's resource policies grant on one group, their names, and a status.

    Policies name groups as `...:log-group:<name>` or `...:log-group:<name>:*`; both forms are
    matched, the edges always point at the group's uid.
    """
    if policies["status"] != READ:
        return [], [], str(policies["status"])
    edges: dict[tuple[str, str, str], Edge] = {}
    named: list[str] = []
    status = READ
    for policy in policies["value"].get("resourcePolicies", []):
        name = str(policy.get("policyName"))
        label = f"CloudWatch Logs resource policy {name}"
        try:
            found = [
                edge
                for target in (uid, f"{uid}:*")
                for edge in rights_from_policy(
                    policy["policyDocument"], target, label, "logs"
                ).edges
            ]
        except PolicyDocumentError:
            unparsable_policy("logs resource policy")
            status = INVALID
            continue
        for edge in found:
            moved = Edge(edge.src, uid, edge.relation, edge.evidence, edge.conditions)
            edges.setdefault((moved.src, moved.relation.value, moved.evidence), moved)
        if found:
            named.append(name)
    return list(edges.values()), sorted(set(named)), status


def _group_edges(uid: str, name: str, attrs: Mapping[str, Any]) -> Iterator[Edge]:
    if attrs["kms_key_arn"]:
        yield Edge(
            uid,
            str(attrs["kms_key_arn"]),
            Relation.ENCRYPTED_BY,
            f"log group {name} is encrypted with {attrs['kms_key_arn']} "
            "(DescribeLogGroups kmsKeyId)",
        )
    for sub in attrs["subscription_filters"]:
        if not sub["destination_arn"]:
            continue
        yield Edge(
            uid,
            str(sub["destination_arn"]),
            Relation.DELIVERS_LOGS_TO,
            f"subscription filter '{sub['name']}' of log group {name} streams events to "
            f"{sub['destination_arn']} (DescribeSubscriptionFilters destinationArn)",
        )


def transform_group(
    raw: Mapping[str, Any], policies: Mapping[str, Any], partition: str
) -> Iterator[Resource | Edge]:
    """One log group → its Resource, `encrypted_by`, `delivers_logs_to` and rights edges."""
    group = raw["group"]
    uid = group_uid(group)
    name = str(group["logGroupName"])
    region, account = _region_account(uid)
    retention = group.get("retentionInDays")
    rights, policy_names, policy_status = _policy_rights(policies, uid)
    attrs: dict[str, Any] = {
        # None: events never expire.
        "retention_days": retention,
        "never_expire": retention is None,
        "log_group_class": group.get("logGroupClass"),
        "stored_bytes": group.get("storedBytes"),
        "creation_time": group.get("creationTime"),
        "data_protection_status": group.get("dataProtectionStatus"),
        **_encryption(group),
        **_subscription_attrs(raw["subscriptions"]),
        "policy_status": policy_status,
        "resource_policies": policy_names,
        "tags_status": raw["tags"]["status"],
    }
    yield Resource(
        uid=uid,
        provider="aws",
        kind=Kind.LOG_GROUP,
        native_type=NATIVE_TYPE,
        name=name,
        account=account,
        region=region,
        partition=partition,
        jurisdiction=jurisdiction_of("aws", region),
        tags={str(k): str(v) for k, v in raw["tags"].get("value", {}).get("tags", {}).items()},
        attrs=attrs,
    )
    yield from _group_edges(uid, name, attrs)
    yield from rights


def transform_destination(
    destination: Mapping[str, Any], partition: str
) -> Iterator[Resource | Edge]:
    """A log destination of this account → Resource, its onward stream and its policy rights.

    Other accounts subscribe their groups to a destination; its access policy says which.
    """
    arn = str(destination["arn"])
    region, account = _region_account(arn)
    target = destination.get("targetArn")
    document = destination.get("accessPolicy")
    edges: Sequence[Edge] = ()
    status = READ if document else "none"
    if document:
        label = f"access policy of log destination {arn}"
        try:
            edges = rights_from_policy(document, arn, label, "logs").edges
        except PolicyDocumentError:
            unparsable_policy("logs destination policy")
            status = INVALID
    yield Resource(
        uid=arn,
        provider="aws",
        kind=Kind.ENDPOINT,
        native_type=DESTINATION_TYPE,
        name=str(destination.get("destinationName") or arn.rsplit(":", 1)[-1]),
        account=account,
        region=region,
        partition=partition,
        jurisdiction=jurisdiction_of("aws", region),
        attrs={
            "target_arn": target,
            "role_arn": destination.get("roleArn"),
            "policy_status": status,
            "policy": document,
        },
    )
    if target:
        yield Edge(
            arn,
            str(target),
            Relation.DELIVERS_LOGS_TO,
            f"log destination {arn} forwards events to {target} (DescribeDestinations targetArn)",
        )
    yield from edges


def transform_logs(raw: Mapping[str, Any], partition: str) -> Iterator[Resource | Edge]:
    """One region's raw listing → log groups, destinations and their edges."""
    for group in raw["groups"]:
        yield from transform_group(group, raw["resource_policies"], partition)
    for destination in raw["destinations"].get("value", {}).get("destinations", []):
        yield from transform_destination(destination, partition)


def collect(ctx: ServiceContext) -> Collected:
    """Log groups and destinations of one region."""
    raw = get_logs(ctx.clients.get("logs", ctx.region), ctx.region)
    records: list[Record] = list(transform_logs(raw, ctx.identity.partition))
    detail = f"{len(raw['groups'])} log groups"
    unread = [f for f in ("destinations", "resource_policies") if raw[f]["status"] != READ]
    if unread:
        detail += "; unread: " + ", ".join(f"{f}:{raw[f]['status']}" for f in unread)
    return records, detail


SERVICE = Service("logs", Scope.REGIONAL, collect, OPERATIONS, phase=1)
