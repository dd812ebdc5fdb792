"""CloudTrail trails of one region: what is logged, whether it is, and where the logs go.

A trail is listed in its home region only (`includeShadowTrails=False`), so a multi-Region
trail is one resource, not one per region.  Its S3 bucket and CloudWatch Logs group are where
the audit trail of the account lands: `delivers_logs_to` edges let the checks judge their
jurisdiction and owner.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from functools import partial
from typing import Any

from auditor.inventories.aws.calls import READ, SKIPPED, attempt, paginate
from auditor.inventories.aws.registry import Collected, Scope, Service, ServiceContext
from auditor.inventories.regions import jurisdiction_of
from auditor.model import Edge, Kind, Record, Relation, Resource

# (botocore service, API operation) → the IAM action it needs.
OPERATIONS: dict[tuple[str, str], str] = {
    ("cloudtrail", "DescribeTrails"): "cloudtrail:DescribeTrails",
    ("cloudtrail", "GetTrailStatus"): "cloudtrail:GetTrailStatus",
    ("cloudtrail", "GetEventSelectors"): "cloudtrail:GetEventSelectors",
    ("cloudtrail", "ListTags"): "cloudtrail:ListTags",
}

NATIVE_TYPE = "cloudtrail:trail"


def _tags(client: Any, arn: str) -> dict[str, Any]:
    return {
        "ResourceTagList": paginate(client, "list_tags", "ResourceTagList", ResourceIdList=[arn])
    }


def get_trail(client: Any, trail: Mapping[str, Any]) -> dict[str, Any]:
    """One trail's description with its status, event selectors and tags, each captured apart."""
    arn = str(trail["TrailARN"])
    return {
        "trail": dict(trail),
        "status": attempt(partial(client.get_trail_status, Name=arn), required=("IsLogging",)),
        # Every answer names the trail: one that does not is no proof of "no selectors".
        "selectors": attempt(
            partial(client.get_event_selectors, TrailName=arn), required=("TrailARN",)
        ),
        "tags": attempt(partial(_tags, client, arn)),
    }


def get_cloudtrail(client: Any, region: str) -> dict[str, Any]:
    """Trails whose home is `region`; a denied DescribeTrails raises (→ coverage row)."""
    # DescribeTrails has no paginator: it answers every trail at once.
    listed = client.describe_trails(includeShadowTrails=False).get("trailList", [])
    # Only the home region's copy, even if a shadow slipped through, so no trail is doubled.
    own = [t for t in listed if t.get("HomeRegion") in (region, None)]
    return {"region": region, "trails": [get_trail(client, t) for t in own]}


# --- transform (pure) -------------------------------------------------------------------------


def log_group_uid(arn: str) -> str:
    """A log group's uid: its ARN without the `:*` the API often appends.

    >>> log_group_uid("arn:aws-cn:logs:cn-north-1:123456789012:log-group:app:*")
    'arn:aws-cn:logs:cn-north-1:123456789012:log-group:app'
    """
    return arn.removesuffix(":*")


def _field_values(selector: Mapping[str, Any], field: str) -> list[str]:
    for field_selector in selector.get("FieldSelectors", []):
        if field_selector.get("Field") == field:
            return [str(v) for v in field_selector.get("Equals", [])]
    return []


def _classic_selectors(selectors: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    management = [s for s in selectors if s.get("IncludeManagementEvents", True)]
    data = [
        {
            "resource_type": r.get("Type"),
            "values": list(r.get("Values", [])),
            "read_write": s.get("ReadWriteType", "All"),
        }
        for s in selectors
        for r in s.get("DataResources", [])
    ]
    return {
        "management_events": bool(management),
        "management_read_write": sorted({str(s.get("ReadWriteType", "All")) for s in management}),
        "data_events": data,
    }


def _advanced_selectors(selectors: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    management = [s for s in selectors if "Management" in _field_values(s, "eventCategory")]
    data = [
        {
            "name": s.get("Name"),
            "resource_types": _field_values(s, "resources.type"),
            "field_selectors": list(s.get("FieldSelectors", [])),
        }
        for s in selectors
        if "Data" in _field_values(s, "eventCategory")
    ]
    read_only = [_field_values(s, "readOnly") for s in management]
    return {
        "management_events": bool(management),
        # No readOnly field means both reads and writes are logged.
        "management_read_write": sorted(
            {"All" if not v else ("ReadOnly" if v == ["true"] else "WriteOnly") for v in read_only}
        ),
        "data_events": data,
    }


def _selector_attrs(fact: Mapping[str, Any]) -> dict[str, Any]:
    """What the trail records; management/data facts are None when the selectors are unread."""
    value = fact.get("value", {})
    advanced = list(value.get("AdvancedEventSelectors") or [])
    classic = list(value.get("EventSelectors") or [])
    unknown = fact["status"] != READ
    summary = _advanced_selectors(advanced) if advanced else _classic_selectors(classic)
    return {
        "selectors_status": fact["status"],
        "selector_mode": None if unknown else ("advanced" if advanced else "classic"),
        "event_selectors": classic,
        "advanced_event_selectors": advanced,
        "management_events": None if unknown else summary["management_events"],
        "management_read_write": None if unknown else summary["management_read_write"],
        "data_events": None if unknown else summary["data_events"],
        "data_event_resource_types": None
        if unknown
        else sorted(
            {str(d["resource_type"]) for d in summary["data_events"] if d.get("resource_type")}
            | {str(t) for d in summary["data_events"] for t in d.get("resource_types", [])}
        ),
    }


def _status_attrs(fact: Mapping[str, Any]) -> dict[str, Any]:
    value = fact.get("value", {})
    return {
        "status_status": fact["status"],
        "is_logging": value.get("IsLogging"),
        # An empty string (moto) and an absent field both mean no error reported.
        "latest_delivery_error": value.get("LatestDeliveryError") or None,
        "latest_delivery_time": value.get("LatestDeliveryTime") or None,
        "latest_cloudwatch_logs_delivery_error": value.get("LatestCloudWatchLogsDeliveryError")
        or None,
        "start_logging_time": value.get("StartLoggingTime") or None,
        "stop_logging_time": value.get("StopLoggingTime") or None,
    }


def _trail_attrs(raw: Mapping[str, Any]) -> dict[str, Any]:
    trail = raw["trail"]
    key = trail.get("KmsKeyId")
    return {
        "home_region": trail.get("HomeRegion"),
        "multi_region": bool(trail.get("IsMultiRegionTrail")),
        "organization_trail": bool(trail.get("IsOrganizationTrail")),
        "include_global_service_events": trail.get("IncludeGlobalServiceEvents"),
        "log_file_validation": bool(trail.get("LogFileValidationEnabled")),
        "s3_bucket_name": trail.get("S3BucketName"),
        "s3_key_prefix": trail.get("S3KeyPrefix"),
        "sns_topic_arn": trail.get("SnsTopicARN"),
        "cloudwatch_logs_group_arn": trail.get("CloudWatchLogsLogGroupArn"),
        "cloudwatch_logs_role_arn": trail.get("CloudWatchLogsRoleArn"),
        # Without a KMS key, log files are still encrypted with SSE-S3 by the bucket.
        "kms_key_arn": key,
        "cmk_encrypted": bool(key),
        **_status_attrs(raw["status"]),
        **_selector_attrs(raw["selectors"]),
        "tags_status": raw.get("tags", {"status": SKIPPED})["status"],
    }


def _tag_dict(raw: Mapping[str, Any]) -> dict[str, str]:
    listed = raw.get("tags", {}).get("value", {}).get("ResourceTagList", [])
    return {str(t["Key"]): str(t["Value"]) for item in listed for t in item.get("TagsList", [])}


def _edges(arn: str, name: str, attrs: Mapping[str, Any], partition: str) -> Iterator[Edge]:
    if attrs["s3_bucket_name"]:
        bucket = f"arn:{partition}:s3:::{attrs['s3_bucket_name']}"
        yield Edge(
            arn,
            bucket,
            Relation.DELIVERS_LOGS_TO,
            f"CloudTrail trail {name} delivers log files to {bucket} (DescribeTrails S3BucketName)",
        )
    if attrs["cloudwatch_logs_group_arn"]:
        group = log_group_uid(str(attrs["cloudwatch_logs_group_arn"]))
        yield Edge(
            arn,
            group,
            Relation.DELIVERS_LOGS_TO,
            f"CloudTrail trail {name} sends events to {group} "
            "(DescribeTrails CloudWatchLogsLogGroupArn)",
        )
    if attrs["kms_key_arn"]:
        yield Edge(
            arn,
            str(attrs["kms_key_arn"]),
            Relation.ENCRYPTED_BY,
            f"CloudTrail trail {name} encrypts log files with {attrs['kms_key_arn']} "
            "(DescribeTrails KmsKeyId)",
        )


def transform_trail(
    raw: Mapping[str, Any], region: str, partition: str
) -> Iterator[Resource | Edge]:
    """One trail → its Resource and `delivers_logs_to` / `encrypted_by` edges."""
    arn = str(raw["trail"]["TrailARN"])
    name = str(raw["trail"].get("Name") or arn.rsplit("/", 1)[-1])
    attrs = _trail_attrs(raw)
    home = str(attrs["home_region"] or region)
    yield Resource(
        uid=arn,
        provider="aws",
        kind=Kind.TRAIL,
        native_type=NATIVE_TYPE,
        name=name,
        account=arn.split(":")[4],
        region=home,
        partition=partition,
        jurisdiction=jurisdiction_of("aws", home),
        tags=_tag_dict(raw),
        attrs=attrs,
    )
    yield from _edges(arn, name, attrs, partition)


def transform_cloudtrail(raw: Mapping[str, Any], partition: str) -> Iterator[Resource | Edge]:
    """Every trail of one region's raw listing → resources and edges."""
    for trail in raw["trails"]:
        yield from transform_trail(trail, str(raw["region"]), partition)


def collect(ctx: ServiceContext) -> Collected:
    """The trails whose home is this region."""
    raw = get_cloudtrail(ctx.clients.get("cloudtrail", ctx.region), ctx.region)
    records: list[Record] = list(transform_cloudtrail(raw, ctx.identity.partition))
    return records, f"{len(raw['trails'])} trails"


SERVICE = Service("cloudtrail", Scope.REGIONAL, collect, OPERATIONS, phase=1)
