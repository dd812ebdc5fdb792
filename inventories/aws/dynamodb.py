"""DynamoDB tables of one region: key custody, replicas, backups, exports and resource policy.

Where copies go: global-table replicas (`replicates_to` the replica table in its region) and
exports to S3 (`copies_to` the bucket, with the bucket's owner in the evidence).  A table
without `SSEDescription` is encrypted with a key AWS owns and does not name
(`key_owner: "aws_owned"`, no `encrypted_by` edge).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from functools import partial
from typing import Any

from auditor.inventories.aws.calls import (
    DENIED,
    ERROR,
    READ,
    UNSUPPORTED_CODES,
    attempt,
    paginate,
)
from auditor.inventories.aws.facts import resource_policy_rights
from auditor.inventories.aws.registry import Collected, Scope, Service, ServiceContext
from auditor.inventories.regions import jurisdiction_of
from auditor.model import Edge, Kind, Relation, Resource

# (botocore service, API operation) → the IAM action it needs.
OPERATIONS: dict[tuple[str, str], str] = {
    ("dynamodb", "ListTables"): "dynamodb:ListTables",
    ("dynamodb", "DescribeTable"): "dynamodb:DescribeTable",
    ("dynamodb", "DescribeContinuousBackups"): "dynamodb:DescribeContinuousBackups",
    ("dynamodb", "ListExports"): "dynamodb:ListExports",
    ("dynamodb", "DescribeExport"): "dynamodb:DescribeExport",
    ("dynamodb", "ListTagsOfResource"): "dynamodb:ListTagsOfResource",
    ("dynamodb", "GetResourcePolicy"): "dynamodb:GetResourcePolicy",
}
PERMISSIONS: tuple[str, ...] = tuple(sorted(set(OPERATIONS.values())))

NATIVE_TYPE = "dynamodb:table"
NO_POLICY = frozenset({"PolicyNotFoundException"})
# A fact the endpoint cannot serve at all (older regions, emulators): not "error", not "none".
UNSUPPORTED = "unsupported"
# An export that failed wrote nothing to the bucket.
FAILED_EXPORT = "FAILED"


# --- get (network) ----------------------------------------------------------------------------


def _read(
    call: Any, none_codes: frozenset[str] = frozenset(), required: tuple[str, ...] = ()
) -> dict[str, Any]:
    """`attempt`, with an operation the endpoint does not implement marked `unsupported`."""
    fact = attempt(call, none_codes, required)
    if fact.get("code") in UNSUPPORTED_CODES:
        fact["status"] = UNSUPPORTED
    return fact


def _list_exports(client: Any, table_arn: str) -> dict[str, Any]:
    # ListExports has no botocore paginator; follow NextToken by hand.
    summaries: list[Any] = []
    kwargs: dict[str, Any] = {"TableArn": table_arn}
    while True:
        page = client.list_exports(**kwargs)
        summaries.extend(page.get("ExportSummaries", []))
        if not page.get("NextToken"):
            return {"ExportSummaries": summaries}
        kwargs["NextToken"] = page["NextToken"]


def get_exports(client: Any, table_arn: str) -> dict[str, Any]:
    """The table's exports to S3, each described apart (bucket, owner, prefix)."""
    listing = _read(partial(_list_exports, client, table_arn))
    summaries = listing.get("value", {}).get("ExportSummaries", [])
    listing["exports"] = [
        _read(
            partial(client.describe_export, ExportArn=s["ExportArn"]),
            required=("ExportDescription.ExportArn", "ExportDescription.S3Bucket"),
        )
        for s in summaries
    ]
    return listing


def _tags(client: Any, arn: str) -> dict[str, Any]:
    return {"Tags": paginate(client, "list_tags_of_resource", "Tags", ResourceArn=arn)}


def table_arn(name: str, region: str, account: str, partition: str) -> str:
    """`arn:<p>:dynamodb:<region>:<account>:table/<name>`, when DescribeTable gave no ARN."""
    return f"arn:{partition}:dynamodb:{region}:{account}:table/{name}"


def get_table(client: Any, name: str, arn: str) -> dict[str, Any]:
    """Describe one table and read its backups, tags, policy and exports, each captured apart."""
    describe = _read(partial(client.describe_table, TableName=name), required=("Table",))
    arn = str(describe.get("value", {}).get("Table", {}).get("TableArn") or arn)
    return {
        "TableName": name,
        "TableArn": arn,
        "describe": describe,
        "continuous_backups": _read(
            partial(client.describe_continuous_backups, TableName=name),
            required=("ContinuousBackupsDescription",),
        ),
        "tags": _read(partial(_tags, client, arn)),
        "policy": _read(
            partial(client.get_resource_policy, ResourceArn=arn), NO_POLICY, ("Policy",)
        ),
        "exports": get_exports(client, arn),
    }


def get_dynamodb(client: Any, region: str, account: str, partition: str) -> dict[str, Any]:
    """List and read every table in `region`; a denied ListTables raises (→ coverage row)."""
    names = [str(n) for n in paginate(client, "list_tables", "TableNames")]
    tables = [get_table(client, n, table_arn(n, region, account, partition)) for n in names]
    return {"region": region, "account": account, "tables": tables}


# --- transform (pure) -------------------------------------------------------------------------


@dataclass(frozen=True)
class Where:
    region: str
    account: str
    partition: str


def _table(table: Mapping[str, Any]) -> Mapping[str, Any]:
    value: Mapping[str, Any] = table["describe"].get("value", {}).get("Table", {})
    return value


def _encryption(table: Mapping[str, Any]) -> dict[str, Any]:
    """No SSEDescription (or SSE turned off) means DynamoDB's default: a key AWS owns."""
    status = table["describe"]["status"]
    sse = _table(table).get("SSEDescription") or {}
    # A table turned back to the default keeps an SSEDescription with Status DISABLED.
    customer_key = sse.get("SSEType") == "KMS" and sse.get("Status") != "DISABLED"
    key_arn = sse.get("KMSMasterKeyArn") if customer_key else None
    known = status == READ
    return {
        "encryption_status": status,
        "encrypted": True if known else None,
        "kms_key_arn": key_arn,
        "key_owner": ("aws_owned" if not key_arn else None) if known else None,
        "sse_type": sse.get("SSEType"),
        "sse_status": sse.get("Status"),
    }


def _replicas(table: Mapping[str, Any], where: Where) -> list[dict[str, Any]]:
    return [
        {
            "region": r.get("RegionName"),
            "status": r.get("ReplicaStatus"),
            "kms_key_arn": r.get("KMSMasterKeyId"),
            "table_arn": table_arn(
                str(table["TableName"]), str(r["RegionName"]), where.account, where.partition
            ),
        }
        for r in _table(table).get("Replicas", [])
        if r.get("RegionName") and r.get("RegionName") != where.region
    ]


def _pitr(table: Mapping[str, Any]) -> dict[str, Any]:
    fact = table["continuous_backups"]
    description = fact.get("value", {}).get("ContinuousBackupsDescription", {})
    recovery = description.get("PointInTimeRecoveryDescription", {})
    return {
        "pitr_status": fact["status"],
        "pitr": recovery.get("PointInTimeRecoveryStatus"),
        "pitr_recovery_period_days": recovery.get("RecoveryPeriodInDays"),
        "continuous_backups": description.get("ContinuousBackupsStatus"),
    }


def _export(fact: Mapping[str, Any]) -> dict[str, Any]:
    export = fact.get("value", {}).get("ExportDescription", {})
    return {
        "describe_status": fact["status"],
        "arn": export.get("ExportArn"),
        "status": export.get("ExportStatus"),
        "type": export.get("ExportType"),
        "format": export.get("ExportFormat"),
        "time": export.get("ExportTime"),
        "bucket": export.get("S3Bucket"),
        "bucket_owner": export.get("S3BucketOwner"),
        "prefix": export.get("S3Prefix"),
        "sse_algorithm": export.get("S3SseAlgorithm"),
        "kms_key": export.get("S3SseKmsKeyId"),
    }


def _exports(table: Mapping[str, Any]) -> dict[str, Any]:
    fact = table["exports"]
    return {
        "exports_status": fact["status"],
        "exports": [_export(e) for e in fact.get("exports", [])],
    }


def _policy_document(table: Mapping[str, Any]) -> str | None:
    fact = table["policy"]
    return str(fact["value"]["Policy"]) if fact["status"] == READ else None


def _table_attrs(table: Mapping[str, Any], where: Where) -> dict[str, Any]:
    described = _table(table)
    return {
        "describe_status": table["describe"]["status"],
        "table_status": described.get("TableStatus"),
        "billing_mode": described.get("BillingModeSummary", {}).get("BillingMode"),
        "deletion_protection": described.get("DeletionProtectionEnabled"),
        "global_table_version": described.get("GlobalTableVersion"),
        **_encryption(table),
        "replicas_status": table["describe"]["status"],
        "replicas": _replicas(table, where),
        **_pitr(table),
        **_exports(table),
        "tags_status": table["tags"]["status"],
        "policy_status": table["policy"]["status"],
        "policy": _policy_document(table),
    }


def _encryption_edge(uid: str, attrs: Mapping[str, Any]) -> Iterator[Edge]:
    if attrs["kms_key_arn"]:
        yield Edge(
            uid,
            str(attrs["kms_key_arn"]),
            Relation.ENCRYPTED_BY,
            f"DynamoDB table {uid} is encrypted with {attrs['kms_key_arn']} "
            "(DescribeTable SSEDescription.KMSMasterKeyArn)",
        )


def _replica_edges(uid: str, attrs: Mapping[str, Any]) -> Iterator[Edge]:
    for replica in attrs["replicas"]:
        yield Edge(
            uid,
            str(replica["table_arn"]),
            Relation.REPLICATES_TO,
            f"DynamoDB global table {uid} has a replica in {replica['region']} "
            f"(DescribeTable Replicas: RegionName {replica['region']}, "
            f"ReplicaStatus {replica['status']})",
        )


def _export_edges(uid: str, attrs: Mapping[str, Any], where: Where) -> Iterator[Edge]:
    for export in attrs["exports"]:
        if not export["bucket"] or export["status"] == FAILED_EXPORT:
            continue
        yield Edge(
            uid,
            f"arn:{where.partition}:s3:::{export['bucket']}",
            Relation.COPIES_TO,
            f"DynamoDB export {export['arn']} ({export['status']}) of {uid} to "
            f"s3://{export['bucket']}/{export['prefix'] or ''}, bucket owner "
            f"{export['bucket_owner'] or where.account} (DescribeExport S3Bucket, S3BucketOwner)",
        )


def _policy_rights(uid: str, attrs: dict[str, Any]) -> Iterator[Edge]:
    edges, attrs["policy_status"] = resource_policy_rights(
        attrs["policy_status"], attrs["policy"], uid, f"resource policy of {uid}", "dynamodb"
    )
    yield from edges


def transform_table(table: Mapping[str, Any], where: Where) -> Iterator[Resource | Edge]:
    """One table → its Resource, `encrypted_by`, `replicates_to`, `copies_to` and rights."""
    uid = str(table["TableArn"])
    attrs = _table_attrs(table, where)
    rights = list(_policy_rights(uid, attrs))
    tags = table["tags"].get("value", {}).get("Tags", [])
    yield Resource(
        uid=uid,
        provider="aws",
        kind=Kind.DATABASE,
        native_type=NATIVE_TYPE,
        name=str(table["TableName"]),
        account=uid.split(":")[4] or where.account,
        region=where.region,
        partition=where.partition,
        jurisdiction=jurisdiction_of("aws", where.region),
        tags={str(t["Key"]): str(t["Value"]) for t in tags},
        attrs=attrs,
    )
    yield from _encryption_edge(uid, attrs)
    yield from _replica_edges(uid, attrs)
    yield from _export_edges(uid, attrs, where)
    yield from rights


def transform_dynamodb(raw: Mapping[str, Any], partition: str) -> Iterator[Resource | Edge]:
    """Every table of one region's raw listing → resources and edges."""
    where = Where(str(raw["region"]), str(raw["account"]), partition)
    for table in raw["tables"]:
        yield from transform_table(table, where)


def unread_facts(raw: Mapping[str, Any]) -> dict[str, int]:
    """How many per-table facts were denied, failed or unsupported, by fact name."""
    counts: dict[str, int] = {}
    for table in raw["tables"]:
        for fact, value in table.items():
            status = value.get("status") if isinstance(value, dict) else None
            if status in (DENIED, ERROR, UNSUPPORTED):
                key = f"{fact}:{status}"
                counts[key] = counts.get(key, 0) + 1
        for export in table["exports"].get("exports", []):
            if export["status"] in (DENIED, ERROR, UNSUPPORTED):
                key = f"describe_export:{export['status']}"
                counts[key] = counts.get(key, 0) + 1
    return counts


def collect(ctx: ServiceContext) -> Collected:
    """DynamoDB tables of one region."""
    client = ctx.clients.get("dynamodb", ctx.region)
    raw = get_dynamodb(client, ctx.region, ctx.identity.account, ctx.identity.partition)
    detail = f"{len(raw['tables'])} tables"
    unread = unread_facts(raw)
    if unread:
        detail += "; unread: " + ", ".join(f"{k}×{n}" for k, n in sorted(unread.items()))
    return list(transform_dynamodb(raw, ctx.identity.partition)), detail


SERVICE = Service("dynamodb", Scope.REGIONAL, collect, OPERATIONS, phase=1)
