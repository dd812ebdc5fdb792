"""S3 buckets of one account: location, encryption, replication, public access, policy and ACL;
where their access logs, inventories and event notifications go; versioning, Object Lock and
lifecycle (how long data and logs are kept).

Each per-bucket read is captured apart with a status (read / none / denied / error), so a check
can tell "no replication configured" from "not allowed to look".
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from functools import partial
from typing import Any

from auditor.inventories.aws.calls import (
    DENIED,
    ERROR,
    INCOMPLETE,
    NONE,
    READ,
    SKIPPED,
    attempt,
    unparsable_policy,
    unusable,
)
from auditor.inventories.aws.policy_rights import (
    PolicyDocumentError,
    PolicyRights,
    rights_from_acl,
    rights_from_policy,
)
from auditor.inventories.aws.registry import Collected, Scope, Service, ServiceContext
from auditor.inventories.aws.session import Clients
from auditor.inventories.regions import jurisdiction_of
from auditor.model import Edge, Kind, Relation, Resource

# (botocore service, API operation) → the IAM action it needs.
OPERATIONS: dict[tuple[str, str], str] = {
    ("s3", "ListBuckets"): "s3:ListAllMyBuckets",
    ("s3", "GetBucketLocation"): "s3:GetBucketLocation",
    ("s3", "GetBucketTagging"): "s3:GetBucketTagging",
    ("s3", "GetBucketEncryption"): "s3:GetEncryptionConfiguration",
    ("s3", "GetBucketReplication"): "s3:GetReplicationConfiguration",
    ("s3", "GetPublicAccessBlock"): "s3:GetBucketPublicAccessBlock",
    ("s3", "GetBucketPolicy"): "s3:GetBucketPolicy",
    ("s3", "GetBucketAcl"): "s3:GetBucketAcl",
    ("s3", "GetBucketLogging"): "s3:GetBucketLogging",
    ("s3", "ListBucketInventoryConfigurations"): "s3:GetInventoryConfiguration",
    ("s3", "GetBucketVersioning"): "s3:GetBucketVersioning",
    ("s3", "GetObjectLockConfiguration"): "s3:GetBucketObjectLockConfiguration",
    ("s3", "GetBucketLifecycleConfiguration"): "s3:GetLifecycleConfiguration",
    ("s3", "GetBucketNotificationConfiguration"): "s3:GetBucketNotification",
    ("s3control", "GetPublicAccessBlock"): "s3:GetAccountPublicAccessBlock",
}
PERMISSIONS: tuple[str, ...] = tuple(sorted(set(OPERATIONS.values())))

NATIVE_TYPE = "s3:bucket"
PAB_KEYS = ("BlockPublicAcls", "IgnorePublicAcls", "BlockPublicPolicy", "RestrictPublicBuckets")
# S3 answers every setting; a missing one must not read as "off".
PAB_FIELDS = tuple(f"PublicAccessBlockConfiguration.{key}" for key in PAB_KEYS)
NO_PAB = frozenset({"NoSuchPublicAccessBlockConfiguration"})
KMS_ALGORITHMS = frozenset({"aws:kms", "aws:kms:dsse"})
# The key S3 uses when SSE-KMS names none.
DEFAULT_S3_KEY = "alias/aws/s3"


def bucket_region(constraint: str | None, partition: str) -> str | None:
    """Region of a bucket from its LocationConstraint (None → us-east-1 in `aws`, EU → eu-west-1).

    >>> bucket_region(None, "aws"), bucket_region("EU", "aws"), bucket_region("cn-north-1", "aws")
    ('us-east-1', 'eu-west-1', 'cn-north-1')
    """
    if not constraint:
        # Only the commercial partition has a legacy "no constraint" region.
        return "us-east-1" if partition == "aws" else None
    return "eu-west-1" if constraint == "EU" else constraint


def bucket_arn(name: str, partition: str) -> str:
    """`arn:<partition>:s3:::<name>`; ListBuckets gives no ARN."""
    return f"arn:{partition}:s3:::{name}"


def _location_region(location: Mapping[str, Any], partition: str) -> str | None:
    if location["status"] != READ:
        return None
    return bucket_region(location["value"].get("LocationConstraint"), partition)


def _location(clients: Clients, name: str, home: str, partition: str) -> dict[str, Any]:
    """GetBucketLocation of one bucket.  No constraint means us-east-1 in `aws` only: elsewhere
    it is an answer without its one fact, and the bucket's country would go unknown unsaid."""
    fact = attempt(partial(clients.get("s3", home).get_bucket_location, Bucket=name))
    unplaced = fact["status"] == READ and not fact["value"].get("LocationConstraint")
    if unplaced and partition != "aws":
        return unusable("GetBucketLocation", INCOMPLETE)
    return fact


def get_bucket(clients: Clients, name: str, home: str, partition: str) -> dict[str, Any]:
    """Read every fact of one bucket, in the bucket's own region."""
    location = _location(clients, name, home, partition)
    client = clients.get("s3", _location_region(location, partition) or home)
    return {
        "Name": name,
        "location": location,
        "tagging": attempt(partial(client.get_bucket_tagging, Bucket=name), {"NoSuchTagSet"}),
        "encryption": attempt(
            partial(client.get_bucket_encryption, Bucket=name),
            {"ServerSideEncryptionConfigurationNotFoundError"},
            required=("ServerSideEncryptionConfiguration",),
        ),
        "replication": attempt(
            partial(client.get_bucket_replication, Bucket=name),
            {"ReplicationConfigurationNotFoundError"},
            required=("ReplicationConfiguration",),
        ),
        "public_access_block": attempt(
            partial(client.get_public_access_block, Bucket=name), NO_PAB, required=PAB_FIELDS
        ),
        "policy": attempt(partial(client.get_bucket_policy, Bucket=name), {"NoSuchBucketPolicy"}),
        "acl": checked_acl(attempt(partial(client.get_bucket_acl, Bucket=name))),
        **get_bucket_retention_and_flows(client, name),
    }


# What names the grantee of an ACL grant, by grantee type.
GRANTEE_IDS = {"CanonicalUser": "ID", "Group": "URI", "AmazonCustomerByEmail": "EmailAddress"}


def checked_acl(fact: dict[str, Any]) -> dict[str, Any]:
    """The ACL fact, or an error when a grant does not say what it grants to whom: read as
    is, such a grant would silently drop out (a public grant among them)."""
    if fact["status"] != READ:
        return fact
    for grant in fact["value"].get("Grants", []):
        grantee = grant.get("Grantee") or {}
        named_by = GRANTEE_IDS.get(str(grantee.get("Type")), "")
        if not grant.get("Permission") or not grantee.get(named_by):
            return unusable("GetBucketAcl", INCOMPLETE)
    return fact


def _inventories(client: Any, name: str) -> dict[str, Any]:
    """Every inventory configuration; the call has no paginator, only a continuation token."""
    configs: list[Any] = []
    token: dict[str, str] = {}
    while True:
        page = client.list_bucket_inventory_configurations(Bucket=name, **token)
        configs.extend(page.get("InventoryConfigurationList", []))
        if not page.get("IsTruncated") or not page.get("NextContinuationToken"):
            return {"InventoryConfigurationList": configs}
        token = {"ContinuationToken": str(page["NextContinuationToken"])}


def get_bucket_retention_and_flows(client: Any, name: str) -> dict[str, Any]:
    """Where the bucket sends logs, object names and keys; how long it keeps what it holds."""
    return {
        "logging": attempt(partial(client.get_bucket_logging, Bucket=name)),
        "inventory": attempt(partial(_inventories, client, name)),
        "versioning": attempt(partial(client.get_bucket_versioning, Bucket=name)),
        "object_lock": attempt(
            partial(client.get_object_lock_configuration, Bucket=name),
            {"ObjectLockConfigurationNotFoundError"},
            required=("ObjectLockConfiguration.ObjectLockEnabled",),
        ),
        "lifecycle": attempt(
            partial(client.get_bucket_lifecycle_configuration, Bucket=name),
            {"NoSuchLifecycleConfiguration"},
        ),
        "notification": attempt(partial(client.get_bucket_notification_configuration, Bucket=name)),
    }


def _enabled_rules(bucket: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    replication = bucket["replication"]
    if replication["status"] != READ:
        return []
    rules = replication["value"].get("ReplicationConfiguration", {}).get("Rules", [])
    return [r for r in rules if r.get("Status") == "Enabled" and r.get("Destination", {})]


def _destination_name(bucket_arn_or_name: str) -> str:
    return bucket_arn_or_name.rsplit(":::", 1)[-1]


def get_observed(
    clients: Clients, buckets: Sequence[Mapping[str, Any]], home: str
) -> list[dict[str, Any]]:
    """Locate replication destinations that are not among the listed buckets (other accounts)."""
    listed = {b["Name"] for b in buckets}
    observed: dict[str, dict[str, Any]] = {}
    for bucket in buckets:
        for rule in _enabled_rules(bucket):
            dest = rule["Destination"]
            name = _destination_name(str(dest["Bucket"]))
            if name in listed or name in observed:
                continue
            location = attempt(partial(clients.get("s3", home).get_bucket_location, Bucket=name))
            observed[name] = {
                "Name": name,
                "Arn": dest["Bucket"],
                "Account": dest.get("Account"),
                "location": location,
            }
    return list(observed.values())


def get_s3(clients: Clients, account: str, home: str, partition: str) -> dict[str, Any]:
    """List the account's buckets and read each; a denied ListBuckets raises (→ coverage row)."""
    client = clients.get("s3", home)
    listing = client.list_buckets()
    account_pab = attempt(
        partial(clients.get("s3control", home).get_public_access_block, AccountId=account),
        NO_PAB,
        required=PAB_FIELDS,
    )
    names = [str(b["Name"]) for b in listing.get("Buckets", [])]
    buckets = [get_bucket(clients, name, home, partition) for name in names]
    return {
        "account": account,
        "partition": partition,
        "owner": listing.get("Owner", {}),
        "account_public_access_block": account_pab,
        "buckets": buckets,
        "observed": get_observed(clients, buckets, home),
    }


def unread_facts(raw: Mapping[str, Any]) -> dict[str, int]:
    """How many per-bucket facts were denied or failed, by fact name (for the coverage row)."""
    counts: dict[str, int] = {}
    for bucket in raw["buckets"]:
        for fact, value in bucket.items():
            if isinstance(value, dict) and value.get("status") in (DENIED, ERROR):
                key = f"{fact}:{value['status']}"
                counts[key] = counts.get(key, 0) + 1
    return counts


# --- transform (pure) -------------------------------------------------------------------------


def _pab_config(fact: Mapping[str, Any]) -> dict[str, bool] | None:
    if fact["status"] != READ:
        return None
    config = fact["value"].get("PublicAccessBlockConfiguration", {})
    return {k: bool(config.get(k, False)) for k in PAB_KEYS}


def effective_public_access_block(
    bucket: Mapping[str, Any], account: Mapping[str, Any]
) -> dict[str, bool | None]:
    """Each setting is on if bucket or account turns it on; None when that cannot be known."""
    result: dict[str, bool | None] = {}
    for key in PAB_KEYS:
        values: list[bool | None] = []
        for fact in (bucket, account):
            config = _pab_config(fact)
            values.append(config[key] if config else (False if fact["status"] == NONE else None))
        result[key] = True if True in values else (None if None in values else False)
    return result


def resolve_kms_key(
    configured: str | None,
    region: str | None,
    account: str,
    partition: str,
    aliases: Mapping[str, str],
) -> str | None:
    """ARN of the key an SSE-KMS setting names.

    Key ARNs stay; key ids become `arn:<p>:kms:<region>:<account>:key/<id>` (S3 only accepts a
    key in the bucket's region); aliases become alias ARNs, then key ARNs when `aliases` (from
    the KMS listing) knows them, else the alias ARN stays. No setting means `alias/aws/s3`.
    """
    key = configured or DEFAULT_S3_KEY
    if key.startswith("arn:"):
        return aliases.get(key, key)
    if region is None:
        return None
    if key.startswith("alias/"):
        alias_arn = f"arn:{partition}:kms:{region}:{account}:{key}"
        return aliases.get(alias_arn, alias_arn)
    return f"arn:{partition}:kms:{region}:{account}:key/{key}"


def _encryption(bucket: Mapping[str, Any]) -> dict[str, Any]:
    fact = bucket["encryption"]
    rules = fact.get("value", {}).get("ServerSideEncryptionConfiguration", {}).get("Rules", [])
    default = rules[0].get("ApplyServerSideEncryptionByDefault", {}) if rules else {}
    return {
        "encryption_status": fact["status"],
        "sse_algorithm": default.get("SSEAlgorithm"),
        "kms_key": default.get("KMSMasterKeyID"),
        "bucket_key_enabled": rules[0].get("BucketKeyEnabled") if rules else None,
    }


def _replication(bucket: Mapping[str, Any]) -> dict[str, Any]:
    fact = bucket["replication"]
    config = fact.get("value", {}).get("ReplicationConfiguration", {})
    rules = [
        {
            "id": rule.get("ID"),
            "status": rule.get("Status"),
            "priority": rule.get("Priority"),
            "filter": rule.get("Filter", rule.get("Prefix")),
            "destination": rule.get("Destination", {}).get("Bucket"),
            "destination_account": rule.get("Destination", {}).get("Account"),
            "replica_kms_key": rule.get("Destination", {})
            .get("EncryptionConfiguration", {})
            .get("ReplicaKmsKeyID"),
        }
        for rule in config.get("Rules", [])
    ]
    return {
        "replication_status": fact["status"],
        "replication_role": config.get("Role"),
        "replication_rules": rules,
    }


def _policy_document(bucket: Mapping[str, Any]) -> str | None:
    fact = bucket["policy"]
    return str(fact["value"]["Policy"]) if fact["status"] == READ else None


def _acl(bucket: Mapping[str, Any]) -> dict[str, Any]:
    fact = bucket["acl"]
    value = fact.get("value", {})
    return {
        "acl_status": fact["status"],
        "acl_owner_id": value.get("Owner", {}).get("ID"),
        "acl_grants": [
            {"grantee": g.get("Grantee", {}), "permission": g.get("Permission")}
            for g in value.get("Grants", [])
        ],
    }


def _rights(
    bucket: Mapping[str, Any], uid: str, account: str, pab: Mapping[str, bool | None]
) -> tuple[PolicyRights, str]:
    """Policy and ACL rights of one bucket, and the policy status (may become "invalid")."""
    edges: list[Edge] = []
    blocked: list[str] = []
    status = str(bucket["policy"]["status"])
    document = _policy_document(bucket)
    if document is not None:
        label = f"bucket policy of {uid}"
        try:
            found = rights_from_policy(
                document, uid, label, "s3", pab["RestrictPublicBuckets"] is True
            )
        except PolicyDocumentError:
            unparsable_policy("s3 bucket policy")
            found, status = PolicyRights(), "invalid"
        edges += found.edges
        blocked += found.public_blocked
    if bucket["acl"]["status"] == READ:
        acl = bucket["acl"]["value"]
        found = rights_from_acl(
            acl.get("Grants", []),
            uid,
            acl.get("Owner", {}).get("ID"),
            f"account:{account}",
            pab["IgnorePublicAcls"] is True,
        )
        edges += found.edges
        blocked += found.public_blocked
    return PolicyRights(tuple(edges), tuple(blocked)), status


def _replication_edges(bucket: Mapping[str, Any], uid: str, account: str) -> Iterator[Edge]:
    for index, rule in enumerate(_enabled_rules(bucket)):
        dest = rule["Destination"]
        rule_id = f"'{rule['ID']}'" if rule.get("ID") else f"#{index}"
        yield Edge(
            uid,
            str(dest["Bucket"]),
            Relation.REPLICATES_TO,
            f"S3 replication rule {rule_id} ({rule['Status']}) of {uid} → {dest['Bucket']}, "
            f"account {dest.get('Account') or account}",
        )


def _encryption_edge(uid: str, attrs: Mapping[str, Any]) -> Iterator[Edge]:
    if attrs["sse_algorithm"] in KMS_ALGORITHMS and attrs["kms_key_arn"]:
        named = attrs["kms_key"] or f"{DEFAULT_S3_KEY} (no key named)"
        yield Edge(
            uid,
            str(attrs["kms_key_arn"]),
            Relation.ENCRYPTED_BY,
            f"default encryption ({attrs['sse_algorithm']}) of {uid} uses {named} "
            "(GetBucketEncryption ApplyServerSideEncryptionByDefault.KMSMasterKeyID)",
        )


# Recordings made before a fact was read lack it: it was not asked, so it is unknown.
NOT_ASKED: Mapping[str, Any] = {"status": SKIPPED}
# Event notification targets: response key, ARN field, and the target's kind.
NOTIFICATION_TARGETS = (
    ("QueueConfigurations", "QueueArn", "queue"),
    ("TopicConfigurations", "TopicArn", "topic"),
    ("LambdaFunctionConfigurations", "LambdaFunctionArn", "lambda"),
)


def _fact(bucket: Mapping[str, Any], name: str) -> Mapping[str, Any]:
    fact: Mapping[str, Any] = bucket.get(name, NOT_ASKED)
    return fact


def _logging(bucket: Mapping[str, Any]) -> dict[str, Any]:
    fact = _fact(bucket, "logging")
    enabled = fact.get("value", {}).get("LoggingEnabled")
    return {
        "logging_status": fact["status"],
        "access_logging_enabled": bool(enabled) if fact["status"] == READ else None,
        "access_logging_target_bucket": (enabled or {}).get("TargetBucket"),
        "access_logging_target_prefix": (enabled or {}).get("TargetPrefix"),
    }


def _inventory(bucket: Mapping[str, Any]) -> dict[str, Any]:
    fact = _fact(bucket, "inventory")
    configs = fact.get("value", {}).get("InventoryConfigurationList", [])
    listed = []
    for config in configs:
        dest = config.get("Destination", {}).get("S3BucketDestination", {})
        listed.append(
            {
                "id": config.get("Id"),
                "enabled": config.get("IsEnabled"),
                "destination": dest.get("Bucket"),
                "destination_account": dest.get("AccountId"),
                "format": dest.get("Format"),
                "prefix": dest.get("Prefix"),
                "encryption": sorted(dest.get("Encryption", {})),
                "included_object_versions": config.get("IncludedObjectVersions"),
                "frequency": config.get("Schedule", {}).get("Frequency"),
            }
        )
    return {"inventory_status": fact["status"], "inventory_configurations": listed}


def _versioning(bucket: Mapping[str, Any]) -> dict[str, Any]:
    fact = _fact(bucket, "versioning")
    value = fact.get("value", {})
    return {
        "versioning_status": fact["status"],
        # None with status "read": versioning was never turned on.
        "versioning": value.get("Status"),
        "mfa_delete": value.get("MFADelete"),
    }


def _object_lock(bucket: Mapping[str, Any]) -> dict[str, Any]:
    fact = _fact(bucket, "object_lock")
    config = fact.get("value", {}).get("ObjectLockConfiguration", {})
    retention = config.get("Rule", {}).get("DefaultRetention", {})
    known = fact["status"] in (READ, NONE)
    return {
        "object_lock_status": fact["status"],
        "object_lock_enabled": config.get("ObjectLockEnabled") == "Enabled" if known else None,
        "object_lock_mode": retention.get("Mode"),
        "object_lock_days": retention.get("Days"),
        "object_lock_years": retention.get("Years"),
    }


def _lifecycle(bucket: Mapping[str, Any]) -> dict[str, Any]:
    fact = _fact(bucket, "lifecycle")
    rules = [
        {
            "id": rule.get("ID"),
            "status": rule.get("Status"),
            "filter": rule.get("Filter", rule.get("Prefix")),
            "expiration_days": rule.get("Expiration", {}).get("Days"),
            "expiration_date": rule.get("Expiration", {}).get("Date"),
            "noncurrent_expiration_days": rule.get("NoncurrentVersionExpiration", {}).get(
                "NoncurrentDays"
            ),
            "transitions": [
                {"days": t.get("Days"), "storage_class": t.get("StorageClass")}
                for t in rule.get("Transitions", [])
            ],
        }
        for rule in fact.get("value", {}).get("Rules", [])
    ]
    expiring = [
        int(r["expiration_days"])
        for r in rules
        if r["status"] == "Enabled" and r["expiration_days"] is not None
    ]
    return {
        "lifecycle_status": fact["status"],
        "lifecycle_rules": rules,
        # The shortest time an enabled rule keeps current objects (None: no rule expires them).
        "lifecycle_min_expiration_days": min(expiring) if expiring else None,
    }


def _notification(bucket: Mapping[str, Any]) -> dict[str, Any]:
    fact = _fact(bucket, "notification")
    value = fact.get("value", {})
    targets = [
        {
            "id": config.get("Id"),
            "type": kind,
            "arn": config.get(arn_field),
            "events": list(config.get("Events", [])),
        }
        for key, arn_field, kind in NOTIFICATION_TARGETS
        for config in value.get(key, [])
    ]
    return {
        "notification_status": fact["status"],
        "notification_targets": targets,
        "eventbridge_notifications": "EventBridgeConfiguration" in value
        if fact["status"] == READ
        else None,
    }


def _logging_edge(uid: str, attrs: Mapping[str, Any], partition: str) -> Iterator[Edge]:
    target = attrs["access_logging_target_bucket"]
    if attrs["access_logging_enabled"] and target:
        yield Edge(
            uid,
            bucket_arn(str(target), partition),
            Relation.DELIVERS_LOGS_TO,
            f"server access logs of {uid} go to {bucket_arn(str(target), partition)} prefix "
            f"'{attrs['access_logging_target_prefix'] or ''}' "
            "(GetBucketLogging LoggingEnabled.TargetBucket)",
        )


def _inventory_edges(uid: str, attrs: Mapping[str, Any], account: str) -> Iterator[Edge]:
    for config in attrs["inventory_configurations"]:
        if not config["enabled"] or not config["destination"]:
            continue
        yield Edge(
            uid,
            str(config["destination"]),
            Relation.COPIES_TO,
            f"S3 inventory '{config['id']}' of {uid} writes object names and metadata to "
            f"{config['destination']}, account {config['destination_account'] or account} "
            "(ListBucketInventoryConfigurations Destination.S3BucketDestination.Bucket)",
        )


def _notification_edges(
    uid: str, attrs: Mapping[str, Any], region: str | None, account: str, partition: str
) -> Iterator[Edge]:
    for target in attrs["notification_targets"]:
        if not target["arn"]:
            continue
        yield Edge(
            uid,
            str(target["arn"]),
            Relation.COPIES_TO,
            f"S3 event notification '{target['id']}' of {uid} sends object keys "
            f"({', '.join(target['events'])}) to {target['type']} {target['arn']} "
            "(GetBucketNotificationConfiguration)",
        )
    if attrs["eventbridge_notifications"] and region:
        # EventBridge receives the events on the default bus of the bucket's account and region.
        bus = f"arn:{partition}:events:{region}:{account}:event-bus/default"
        yield Edge(
            uid,
            bus,
            Relation.COPIES_TO,
            f"S3 event notifications of {uid} go to EventBridge {bus} "
            "(GetBucketNotificationConfiguration EventBridgeConfiguration)",
        )


def retention_and_flow_attrs(bucket: Mapping[str, Any]) -> dict[str, Any]:
    """Logging, inventory, versioning, Object Lock, lifecycle and notification attrs."""
    return {
        **_logging(bucket),
        **_inventory(bucket),
        **_versioning(bucket),
        **_object_lock(bucket),
        **_lifecycle(bucket),
        **_notification(bucket),
    }


def transform_bucket(
    bucket: Mapping[str, Any],
    raw: Mapping[str, Any],
    aliases: Mapping[str, str],
) -> Iterator[Resource | Edge]:
    """One bucket → its Resource, `replicates_to`, `encrypted_by` and rights edges."""
    partition, account = str(raw["partition"]), str(raw["account"])
    uid = bucket_arn(str(bucket["Name"]), partition)
    region = _location_region(bucket["location"], partition)
    account_pab = raw["account_public_access_block"]
    pab = effective_public_access_block(bucket["public_access_block"], account_pab)
    rights, policy_status = _rights(bucket, uid, account, pab)
    attrs: dict[str, Any] = {
        "location_status": bucket["location"]["status"],
        "tags_status": bucket["tagging"]["status"],
        **_encryption(bucket),
        **_replication(bucket),
        "public_access_block_status": bucket["public_access_block"]["status"],
        "public_access_block": _pab_config(bucket["public_access_block"]),
        "account_public_access_block_status": account_pab["status"],
        "account_public_access_block": _pab_config(account_pab),
        "effective_public_access_block": pab,
        "policy_status": policy_status,
        "policy": _policy_document(bucket),
        **_acl(bucket),
        "public_grants_blocked": list(rights.public_blocked),
        **retention_and_flow_attrs(bucket),
        "observed_only": False,
    }
    attrs["kms_key_arn"] = (
        resolve_kms_key(attrs["kms_key"], region, account, partition, aliases)
        if attrs["sse_algorithm"] in KMS_ALGORITHMS
        else None
    )
    tag_set = bucket["tagging"].get("value", {}).get("TagSet", [])
    yield Resource(
        uid=uid,
        provider="aws",
        kind=Kind.OBJECT_STORE,
        native_type=NATIVE_TYPE,
        name=str(bucket["Name"]),
        account=account,
        region=region,
        partition=partition,
        jurisdiction=jurisdiction_of("aws", region),
        tags={str(t["Key"]): str(t["Value"]) for t in tag_set},
        attrs=attrs,
    )
    yield from _replication_edges(bucket, uid, account)
    yield from _encryption_edge(uid, attrs)
    yield from _logging_edge(uid, attrs, partition)
    yield from _inventory_edges(uid, attrs, account)
    yield from _notification_edges(uid, attrs, region, account, partition)
    yield from rights.edges


def transform_observed(observed: Mapping[str, Any], partition: str) -> Iterator[Resource]:
    """A replication destination outside the listing → Resource, only if its location answered."""
    region = _location_region(observed["location"], partition)
    if observed["location"]["status"] != READ:
        return
    yield Resource(
        uid=str(observed["Arn"]),
        provider="aws",
        kind=Kind.OBJECT_STORE,
        native_type=NATIVE_TYPE,
        name=str(observed["Name"]),
        account=observed.get("Account"),
        region=region,
        partition=partition,
        jurisdiction=jurisdiction_of("aws", region),
        attrs={"observed_only": True, "location_status": READ},
    )


def transform_s3(
    raw: Mapping[str, Any], aliases: Mapping[str, str] | None = None
) -> Iterator[Resource | Edge]:
    """The account's raw S3 listing → bucket resources, observed destinations and edges.

    `aliases` (alias ARN → key ARN, from `kms.alias_targets`) lets `encrypted_by` point at key
    ARNs rather than alias ARNs.
    """
    for bucket in raw["buckets"]:
        yield from transform_bucket(bucket, raw, aliases or {})
    for observed in raw["observed"]:
        yield from transform_observed(observed, str(raw["partition"]))


def collect(ctx: ServiceContext) -> Collected:
    """Every bucket of the account (one global listing), after KMS has shared its aliases."""
    raw = get_s3(ctx.clients, ctx.identity.account, ctx.home, ctx.identity.partition)
    unread = unread_facts(raw)
    detail = f"{len(raw['buckets'])} buckets"
    if unread:
        detail += "; unread: " + ", ".join(f"{k}×{n}" for k, n in sorted(unread.items()))
    return list(transform_s3(raw, ctx.facts.aliases())), detail


SERVICE = Service("s3", Scope.GLOBAL, collect, OPERATIONS, phase=1)
