"""The built-in demo estate: a municipal government's clouds, seeded into a moto server.

云州市 (a fictional city) runs its 政务云 in two aws-cn accounts and promotes tourism from a
commercial-partition account.  Each planted risk is named beside the resource that carries
it, so the demo report can be read against this file.  Seeding uses plain boto3 clients
with write calls: it talks only to the local moto server, never to a real cloud.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3

PRODUCTION = "111111111111"  # 政务云生产账号, aws-cn, dept 市大数据局
SHARED = "222222222222"  # 政务云共享平台, aws-cn, no department
TOURISM = "333333333333"  # 文旅国际推广, commercial partition, dept 市文化和旅游局
VENDOR = "444444444444"  # 云州数联运维服务有限公司, contract expired 2025-06-30
UNKNOWN_PARTY = "999988887777"  # in no policy list: an outsider
SEED_ROLE = "govaudit-demo-seed"


@dataclass(frozen=True)
class DemoAccount:
    account: str
    partition: str
    regions: tuple[str, ...]


ACCOUNTS = (
    DemoAccount(PRODUCTION, "aws-cn", ("cn-north-1", "cn-northwest-1")),
    DemoAccount(SHARED, "aws-cn", ("cn-north-1", "cn-northwest-1")),
    DemoAccount(TOURISM, "aws", ("ap-east-1", "eu-central-1")),
)


@dataclass(frozen=True)
class Credentials:
    access_key: str
    secret_key: str
    token: str

    def session(self, region: str) -> boto3.Session:
        return boto3.Session(
            aws_access_key_id=self.access_key,
            aws_secret_access_key=self.secret_key,
            aws_session_token=self.token,
            region_name=region,
        )


@dataclass(frozen=True)
class Bucket:
    name: str
    region: str
    tags: dict[str, str]
    encryption: str | None = "AES256"  # "AES256", a key alias of this account, or None
    replicate_to: tuple[str, ...] = ()
    policy: dict[str, Any] | None = None
    public_read_acl: bool = False


@dataclass(frozen=True)
class Key:
    alias: str
    region: str
    tags: dict[str, str]
    extra_statements: tuple[dict[str, Any], ...] = ()


@dataclass(frozen=True)
class Role:
    name: str
    trusted_account: str
    tags: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Volume:
    """An EBS volume with one snapshot, shared with the accounts named."""

    name: str
    region: str
    tags: dict[str, str]
    key_alias: str | None = None
    snapshot_shared_with: tuple[str, ...] = ()


@dataclass(frozen=True)
class Table:
    """A DynamoDB table on its default (AWS-owned) key."""

    name: str
    region: str
    tags: dict[str, str]


@dataclass(frozen=True)
class Queue:
    name: str
    region: str
    tags: dict[str, str]
    encrypted: bool = False


@dataclass(frozen=True)
class Estate:
    buckets: tuple[Bucket, ...] = ()
    keys: tuple[Key, ...] = ()
    roles: tuple[Role, ...] = ()
    volumes: tuple[Volume, ...] = ()
    tables: tuple[Table, ...] = ()
    queues: tuple[Queue, ...] = ()


def _read_grant(sid: str, partition: str, account: str, bucket: str) -> dict[str, Any]:
    return {
        "Sid": sid,
        "Effect": "Allow",
        "Principal": {"AWS": f"arn:{partition}:iam::{account}:root"},
        "Action": ["s3:GetObject", "s3:ListBucket"],
        "Resource": [f"arn:{partition}:s3:::{bucket}", f"arn:{partition}:s3:::{bucket}/*"],
    }


ESTATES: dict[str, Estate] = {
    PRODUCTION: Estate(
        buckets=(
            # 低保 (minimum living allowance) records: core data, CMK, in-country DR copy.
            Bucket(
                "yz-mz-dibao-core",
                "cn-north-1",
                {
                    "data-class": "核心",
                    "owner-dept": "mz",
                    "系统": "低保救助",
                    # The 低保 system's accountable person has left: nobody answers for it.
                    "accountable-person": "p-0212",
                },
                encryption="alias/mz-core",
                replicate_to=("yz-mz-dibao-dr",),
                # RISK RSP-007: the vendor's contract lapsed but it still reads the data.
                policy={
                    "Version": "2012-10-17",
                    "Statement": [
                        _read_grant("VendorOps", "aws-cn", VENDOR, "yz-mz-dibao-core"),
                    ],
                },
            ),
            Bucket(
                "yz-mz-dibao-dr",
                "cn-northwest-1",
                {"data-class": "核心", "owner-dept": "mz"},
                encryption="alias/mz-dr",
            ),
            # RISK KEY-001: important health data on S3-managed keys.
            # RISK ACC-002: an account in no policy list may read it.
            Bucket(
                "yz-wjw-vaccination-export",
                "cn-north-1",
                {"data-class": "重要", "owner-dept": "wjw"},
                policy={
                    "Version": "2012-10-17",
                    "Statement": [
                        _read_grant(
                            "PartnerAnalytics", "aws-cn", UNKNOWN_PARTY, "yz-wjw-vaccination-export"
                        ),
                    ],
                },
            ),
            # Open data, public on purpose: the policy's public class allows it.
            Bucket(
                "yz-dsj-opendata",
                "cn-north-1",
                {"data-class": "公开", "owner-dept": "dsj"},
                policy={
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            "Sid": "OpenData",
                            "Effect": "Allow",
                            "Principal": "*",
                            "Action": "s3:GetObject",
                            "Resource": "arn:aws-cn:s3:::yz-dsj-opendata/*",
                        }
                    ],
                },
            ),
            # RISK ACC-001: 12345 hotline recordings made world-readable by an ACL.
            Bucket(
                "yz-dsj-hotline-recordings",
                "cn-north-1",
                {"data-class": "重要", "owner-dept": "dsj"},
                encryption="alias/dsj-hotline",
                public_read_acl=True,
            ),
        ),
        keys=(
            # RISK KEY-004 and ACC-002: an outsider may decrypt core data.
            # RISK RSP-007: so may the vendor whose contract lapsed.
            Key(
                "alias/mz-core",
                "cn-north-1",
                {"owner-dept": "mz"},
                extra_statements=(
                    {
                        "Sid": "VendorOpsDecrypt",
                        "Effect": "Allow",
                        "Principal": {"AWS": f"arn:aws-cn:iam::{VENDOR}:root"},
                        "Action": ["kms:Decrypt", "kms:DescribeKey"],
                        "Resource": "*",
                    },
                    {
                        "Sid": "PartnerDecrypt",
                        "Effect": "Allow",
                        "Principal": {"AWS": f"arn:aws-cn:iam::{UNKNOWN_PARTY}:root"},
                        "Action": "kms:Decrypt",
                        "Resource": "*",
                    },
                ),
            ),
            Key("alias/mz-dr", "cn-northwest-1", {"owner-dept": "mz"}),
            Key("alias/dsj-hotline", "cn-north-1", {"owner-dept": "dsj"}),
        ),
        volumes=(
            # RISK ACC-002: a snapshot of the social-assistance database disk is shared
            # with an account in no list of the policy.
            Volume(
                "mz-dibao-db-disk",
                "cn-north-1",
                {"data-class": "核心", "owner-dept": "mz"},
                key_alias="alias/mz-core",
                snapshot_shared_with=(UNKNOWN_PARTY,),
            ),
        ),
        queues=(
            # RISK KEY-001: 12345 hotline work orders (important) in an unencrypted queue.
            Queue(
                "yz-dsj-hotline-orders",
                "cn-north-1",
                {"data-class": "重要", "owner-dept": "dsj", "accountable-person": "p-0001"},
            ),
        ),
        roles=(
            Role("audit-readonly", PRODUCTION, {"owner-dept": "dsj"}),
            # RISK RSP-007: the lapsed vendor can still assume its operations role.
            Role("vendor-ops", VENDOR, {"owner-dept": "dsj"}),
            # RISK ACC-002: a role an outside account can assume.
            Role("partner-sync", UNKNOWN_PARTY),
        ),
    ),
    SHARED: Estate(
        buckets=(
            # RISK RSP-001: nobody owns it, and the account has no department.
            Bucket("yz-shared-tmp-upload", "cn-northwest-1", {"data-class": "一般"}),
            # RISK RSP-001: owner names a body the policy does not know.
            # RISK KEY-001: untagged, so treated as important (fail-closed), on SSE-S3.
            Bucket("yz-legacy-archive", "cn-northwest-1", {"owner-dept": "市档案馆"}),
            Bucket(
                "yz-shared-gis-tiles", "cn-north-1", {"data-class": "一般", "owner-dept": "dsj"}
            ),
        ),
    ),
    TOURISM: Estate(
        buckets=(
            # RISK FLOW-001: general data in Hong Kong (allowed) copied on to Frankfurt.
            Bucket(
                "yz-wl-visitor-stats",
                "ap-east-1",
                {"data-class": "一般", "owner-dept": "wl"},
                replicate_to=("yz-wl-visitor-stats-eu",),
            ),
            # RISK SOV-001: general data in Germany.
            Bucket(
                "yz-wl-visitor-stats-eu", "eu-central-1", {"data-class": "一般", "owner-dept": "wl"}
            ),
            # RISK SOV-001, FLOW-001, KEY-001: visitors' personal data (important) abroad,
            # copied HK -> HK backup -> Frankfurt.
            Bucket(
                "yz-wl-ticketing-pii",
                "ap-east-1",
                {"data-class": "重要", "owner-dept": "wl"},
                replicate_to=("yz-wl-ticketing-hk-backup",),
            ),
            Bucket(
                "yz-wl-ticketing-hk-backup",
                "ap-east-1",
                {"data-class": "重要", "owner-dept": "wl"},
                replicate_to=("yz-wl-ticketing-archive-fra",),
            ),
            Bucket(
                "yz-wl-ticketing-archive-fra",
                "eu-central-1",
                {"data-class": "重要", "owner-dept": "wl"},
            ),
        ),
        # RISK SOV-001, KEY-001: visitors' bookings (important) in Hong Kong on AWS's key.
        tables=(Table("yz-wl-bookings", "ap-east-1", {"data-class": "重要", "owner-dept": "wl"}),),
    ),
}


def demo_credentials(endpoint_url: str, account: DemoAccount) -> Credentials:
    """Credentials for one demo account: moto maps assumed-role keys to the role's account."""
    sts = boto3.client(
        "sts",
        region_name=account.regions[0],
        endpoint_url=endpoint_url,
        aws_access_key_id="demo",
        aws_secret_access_key="demo",  # noqa: S106 - moto accepts any key
    )
    role_arn = f"arn:{account.partition}:iam::{account.account}:role/{SEED_ROLE}"
    creds = sts.assume_role(RoleArn=role_arn, RoleSessionName="govaudit-demo")["Credentials"]
    return Credentials(creds["AccessKeyId"], creds["SecretAccessKey"], creds["SessionToken"])


def seed_estate(endpoint_url: str) -> dict[str, Credentials]:
    """Create the demo estate on a moto server; return credentials per account."""
    credentials = {}
    for account in ACCOUNTS:
        creds = demo_credentials(endpoint_url, account)
        credentials[account.account] = creds
        _seed_account(endpoint_url, account, creds, ESTATES[account.account])
    return credentials


def write_profiles(
    credentials: dict[str, Credentials], credentials_file: Path, config_file: Path
) -> list[str]:
    """AWS credentials and config files with one profile per demo account; the profile names."""
    creds_lines, config_lines, names = [], [], []
    for account in ACCOUNTS:
        c = credentials[account.account]
        name = f"demo-{account.account}"
        names.append(name)
        creds_lines += [
            f"[{name}]",
            f"aws_access_key_id = {c.access_key}",
            f"aws_secret_access_key = {c.secret_key}",
            f"aws_session_token = {c.token}",
        ]
        config_lines += [f"[profile {name}]", f"region = {account.regions[0]}"]
    credentials_file.write_text("\n".join(creds_lines) + "\n")
    config_file.write_text("\n".join(config_lines) + "\n")
    return names


def _seed_account(endpoint: str, account: DemoAccount, creds: Credentials, estate: Estate) -> None:
    key_arns = {key.alias: _create_key(endpoint, account, creds, key) for key in estate.keys}
    regions = {b.name: b.region for b in estate.buckets}
    for bucket in estate.buckets:
        _create_bucket(endpoint, creds, bucket, key_arns)
    for bucket in estate.buckets:
        if bucket.replicate_to:
            _replicate(endpoint, account, creds, bucket, regions)
    for volume in estate.volumes:
        _create_volume(endpoint, creds, volume, key_arns)
    for table in estate.tables:
        _create_table(endpoint, creds, table)
    for queue in estate.queues:
        sqs = creds.session(queue.region).client("sqs", endpoint_url=endpoint)
        attributes = {"SqsManagedSseEnabled": "true" if queue.encrypted else "false"}
        sqs.create_queue(QueueName=queue.name, Attributes=attributes, tags=queue.tags)
    iam = creds.session(account.regions[0]).client("iam", endpoint_url=endpoint)
    for role in estate.roles:
        trust = {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {
                        "AWS": f"arn:{account.partition}:iam::{role.trusted_account}:root"
                    },
                    "Action": "sts:AssumeRole",
                }
            ],
        }
        iam.create_role(
            RoleName=role.name,
            AssumeRolePolicyDocument=json.dumps(trust),
            Tags=[{"Key": k, "Value": v} for k, v in role.tags.items()],
        )


def _tag_list(tags: dict[str, str]) -> list[dict[str, str]]:
    return [{"Key": k, "Value": v} for k, v in tags.items()]


def _create_volume(endpoint: str, creds: Credentials, volume: Volume, keys: dict[str, str]) -> None:
    ec2 = creds.session(volume.region).client("ec2", endpoint_url=endpoint)
    tags = {"Name": volume.name, **volume.tags}
    encryption: dict[str, Any] = {"Encrypted": volume.key_alias is not None}
    if volume.key_alias is not None:
        encryption["KmsKeyId"] = keys[volume.key_alias]
    made = ec2.create_volume(
        AvailabilityZone=f"{volume.region}a",
        Size=100,
        TagSpecifications=[{"ResourceType": "volume", "Tags": _tag_list(tags)}],
        **encryption,
    )
    snapshot = ec2.create_snapshot(
        VolumeId=made["VolumeId"],
        Description=f"{volume.name} nightly",
        TagSpecifications=[{"ResourceType": "snapshot", "Tags": _tag_list(tags)}],
    )
    if volume.snapshot_shared_with:
        ec2.modify_snapshot_attribute(
            SnapshotId=snapshot["SnapshotId"],
            Attribute="createVolumePermission",
            OperationType="add",
            UserIds=list(volume.snapshot_shared_with),
        )


def _create_table(endpoint: str, creds: Credentials, table: Table) -> None:
    dynamodb = creds.session(table.region).client("dynamodb", endpoint_url=endpoint)
    dynamodb.create_table(
        TableName=table.name,
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
        Tags=_tag_list(table.tags),
    )


def _create_key(endpoint: str, account: DemoAccount, creds: Credentials, key: Key) -> str:
    kms = creds.session(key.region).client("kms", endpoint_url=endpoint)
    root = f"arn:{account.partition}:iam::{account.account}:root"
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "EnableRootAccess",
                "Effect": "Allow",
                "Principal": {"AWS": root},
                "Action": "kms:*",
                "Resource": "*",
            },
            *key.extra_statements,
        ],
    }
    meta = kms.create_key(
        Policy=json.dumps(policy),
        Description=f"govaudit demo {key.alias}",
        Tags=[{"TagKey": k, "TagValue": v} for k, v in key.tags.items()],
    )["KeyMetadata"]
    kms.create_alias(AliasName=key.alias, TargetKeyId=meta["KeyId"])
    arn: str = meta["Arn"]
    return arn


def _create_bucket(endpoint: str, creds: Credentials, bucket: Bucket, keys: dict[str, str]) -> None:
    s3 = creds.session(bucket.region).client("s3", endpoint_url=endpoint)
    s3.create_bucket(
        Bucket=bucket.name, CreateBucketConfiguration={"LocationConstraint": bucket.region}
    )
    s3.put_bucket_tagging(
        Bucket=bucket.name,
        Tagging={"TagSet": [{"Key": k, "Value": v} for k, v in bucket.tags.items()]},
    )
    s3.put_bucket_versioning(Bucket=bucket.name, VersioningConfiguration={"Status": "Enabled"})
    if bucket.encryption is not None:
        default: dict[str, str] = {"SSEAlgorithm": "AES256"}
        if bucket.encryption != "AES256":
            default = {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": keys[bucket.encryption]}
        s3.put_bucket_encryption(
            Bucket=bucket.name,
            ServerSideEncryptionConfiguration={
                "Rules": [{"ApplyServerSideEncryptionByDefault": default}]
            },
        )
    if bucket.policy is not None:
        s3.put_bucket_policy(Bucket=bucket.name, Policy=json.dumps(bucket.policy))
    if bucket.public_read_acl:
        s3.put_bucket_acl(Bucket=bucket.name, ACL="public-read")


def _replicate(
    endpoint: str,
    account: DemoAccount,
    creds: Credentials,
    bucket: Bucket,
    regions: dict[str, str],
) -> None:
    s3 = creds.session(bucket.region).client("s3", endpoint_url=endpoint)
    role = f"arn:{account.partition}:iam::{account.account}:role/s3-replication"
    rules = [
        {
            "ID": f"to-{regions[target]}-{target}",
            "Priority": i,
            "Status": "Enabled",
            "Filter": {},
            "DeleteMarkerReplication": {"Status": "Disabled"},
            "Destination": {"Bucket": f"arn:{account.partition}:s3:::{target}"},
        }
        for i, target in enumerate(bucket.replicate_to, start=1)
    ]
    s3.put_bucket_replication(
        Bucket=bucket.name, ReplicationConfiguration={"Role": role, "Rules": rules}
    )
