"""A small AWS estate seeded over HTTP into the moto server, with plain (unguarded) boto3 clients.

aws-cn, account 123456789012 (the default credentials):
  gov-src (cn-north-1): tags, SSE-KMS by alias/gov-data, versioned, replication rules 'to-nx'
    → gov-dr (cn-northwest-1) and 'to-vendor' → vendor-copy (account 999988887777), a policy
    granting 999988887777 s3:GetObject and `*` s3:GetObject, RestrictPublicBuckets on.
  gov-dr (cn-northwest-1): nothing configured.
  key gov-data (cn-north-1): multi-Region, replica in cn-northwest-1, policy granting the
    vendor kms:Decrypt under a condition.
  user alice (MFA) in group admins; role vendor-ops trusting 999988887777 with an ExternalId.
aws-cn, account 999988887777 (assumed-role credentials): bucket vendor-copy (cn-northwest-1).
aws, account 111122223333 (assumed-role credentials): hk-cache (ap-east-1) replicating to
  eu-archive (eu-central-1), ACL granting AllUsers READ.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import boto3
import pytest

MAIN = "123456789012"
VENDOR = "999988887777"
HK_ACCOUNT = "111122223333"
CN1, CN2 = "cn-north-1", "cn-northwest-1"
HK, FRA = "ap-east-1", "eu-central-1"


@dataclass
class Estate:
    endpoint: str
    cn: boto3.Session
    vendor: boto3.Session
    aws: boto3.Session
    key_arn: str
    replica_arn: str


def assumed_session(endpoint: str, partition: str, account: str, region: str) -> boto3.Session:
    """Credentials moto maps to `account`, through STS AssumeRole."""
    sts = boto3.client("sts", region_name=region, endpoint_url=endpoint)
    creds = sts.assume_role(
        RoleArn=f"arn:{partition}:iam::{account}:role/seed", RoleSessionName="seed"
    )["Credentials"]
    return boto3.Session(
        aws_access_key_id=creds["AccessKeyId"],
        aws_secret_access_key=creds["SecretAccessKey"],
        aws_session_token=creds["SessionToken"],
        region_name=region,
    )


def make_bucket(session: boto3.Session, endpoint: str, name: str, region: str) -> Any:
    client = session.client("s3", region_name=region, endpoint_url=endpoint)
    client.create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": region})
    client.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"})
    return client


def seed_key(session: boto3.Session, endpoint: str) -> tuple[str, str]:
    kms = session.client("kms", region_name=CN1, endpoint_url=endpoint)
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "Enable IAM User Permissions",
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws-cn:iam::{MAIN}:root"},
                "Action": "kms:*",
                "Resource": "*",
            },
            {
                "Sid": "VendorDecrypt",
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws-cn:iam::{VENDOR}:root"},
                "Action": ["kms:Decrypt", "kms:DescribeKey"],
                "Resource": "*",
                "Condition": {"StringEquals": {"kms:ViaService": "s3.cn-north-1.amazonaws.com.cn"}},
            },
        ],
    }
    meta = kms.create_key(
        MultiRegion=True,
        Policy=json.dumps(policy),
        Tags=[{"TagKey": "owner-dept", "TagValue": "dsj"}],
    )["KeyMetadata"]
    kms.create_alias(AliasName="alias/gov-data", TargetKeyId=meta["KeyId"])
    kms.enable_key_rotation(KeyId=meta["KeyId"])
    replica = kms.replicate_key(KeyId=meta["KeyId"], ReplicaRegion=CN2)["ReplicaKeyMetadata"]
    return str(meta["Arn"]), str(replica["Arn"])


def seed_cn_buckets(session: boto3.Session, endpoint: str) -> None:
    src = make_bucket(session, endpoint, "gov-src", CN1)
    make_bucket(session, endpoint, "gov-dr", CN2)
    src.put_bucket_tagging(
        Bucket="gov-src", Tagging={"TagSet": [{"Key": "data-class", "Value": "重要数据"}]}
    )
    src.put_bucket_encryption(
        Bucket="gov-src",
        ServerSideEncryptionConfiguration={
            "Rules": [
                {
                    "ApplyServerSideEncryptionByDefault": {
                        "SSEAlgorithm": "aws:kms",
                        "KMSMasterKeyID": "alias/gov-data",
                    }
                }
            ]
        },
    )
    src.put_bucket_replication(
        Bucket="gov-src",
        ReplicationConfiguration={
            "Role": f"arn:aws-cn:iam::{MAIN}:role/replication",
            "Rules": [
                {
                    "ID": "to-nx",
                    "Priority": 1,
                    "Status": "Enabled",
                    "Filter": {"Prefix": ""},
                    "DeleteMarkerReplication": {"Status": "Disabled"},
                    "Destination": {"Bucket": "arn:aws-cn:s3:::gov-dr"},
                },
                {
                    "ID": "to-vendor",
                    "Priority": 2,
                    "Status": "Enabled",
                    "Filter": {"Prefix": "share/"},
                    "DeleteMarkerReplication": {"Status": "Disabled"},
                    "Destination": {"Bucket": "arn:aws-cn:s3:::vendor-copy", "Account": VENDOR},
                },
                {
                    "ID": "paused",
                    "Priority": 3,
                    "Status": "Disabled",
                    "Filter": {"Prefix": "old/"},
                    "DeleteMarkerReplication": {"Status": "Disabled"},
                    "Destination": {"Bucket": "arn:aws-cn:s3:::gov-dr"},
                },
            ],
        },
    )
    src.put_public_access_block(
        Bucket="gov-src",
        PublicAccessBlockConfiguration={
            "BlockPublicAcls": False,
            "IgnorePublicAcls": False,
            "BlockPublicPolicy": False,
            "RestrictPublicBuckets": True,
        },
    )
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "VendorRead",
                "Effect": "Allow",
                "Principal": {"AWS": VENDOR},
                "Action": "s3:GetObject",
                "Resource": "arn:aws-cn:s3:::gov-src/share/*",
            },
            {
                "Sid": "Anyone",
                "Effect": "Allow",
                "Principal": "*",
                "Action": "s3:GetObject",
                "Resource": "arn:aws-cn:s3:::gov-src/*",
            },
        ],
    }
    src.put_bucket_policy(Bucket="gov-src", Policy=json.dumps(policy))


def seed_iam(session: boto3.Session, endpoint: str) -> None:
    iam = session.client("iam", region_name=CN1, endpoint_url=endpoint)
    iam.create_group(GroupName="admins")
    iam.create_user(UserName="alice", Tags=[{"Key": "accountable-person", "Value": "p-0001"}])
    iam.add_user_to_group(GroupName="admins", UserName="alice")
    iam.put_group_policy(
        GroupName="admins",
        PolicyName="all",
        PolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}],
            }
        ),
    )
    serial = iam.create_virtual_mfa_device(VirtualMFADeviceName="alice")["VirtualMFADevice"][
        "SerialNumber"
    ]
    iam.enable_mfa_device(
        UserName="alice",
        SerialNumber=serial,
        AuthenticationCode1="123456",
        AuthenticationCode2="654321",
    )
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "Vendor",
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws-cn:iam::{VENDOR}:root"},
                "Action": "sts:AssumeRole",
                "Condition": {"StringEquals": {"sts:ExternalId": "HT-2024-017"}},
            }
        ],
    }
    iam.create_role(RoleName="vendor-ops", AssumeRolePolicyDocument=json.dumps(trust))


def seed_aws(session: boto3.Session, endpoint: str) -> None:
    cache = make_bucket(session, endpoint, "hk-cache", HK)
    make_bucket(session, endpoint, "eu-archive", FRA)
    cache.put_bucket_replication(
        Bucket="hk-cache",
        ReplicationConfiguration={
            "Role": f"arn:aws:iam::{HK_ACCOUNT}:role/replication",
            "Rules": [
                {
                    "ID": "to-eu",
                    "Priority": 1,
                    "Status": "Enabled",
                    "Filter": {"Prefix": ""},
                    "DeleteMarkerReplication": {"Status": "Disabled"},
                    "Destination": {"Bucket": "arn:aws:s3:::eu-archive"},
                }
            ],
        },
    )
    cache.put_bucket_acl(Bucket="hk-cache", ACL="public-read")


@pytest.fixture
def estate(moto_endpoint: str) -> Estate:
    cn = boto3.Session(region_name=CN1)
    vendor = assumed_session(moto_endpoint, "aws-cn", VENDOR, CN1)
    aws = assumed_session(moto_endpoint, "aws", HK_ACCOUNT, HK)
    key_arn, replica_arn = seed_key(cn, moto_endpoint)
    seed_cn_buckets(cn, moto_endpoint)
    make_bucket(vendor, moto_endpoint, "vendor-copy", CN2)
    seed_iam(cn, moto_endpoint)
    seed_aws(aws, moto_endpoint)
    return Estate(moto_endpoint, cn, vendor, aws, key_arn, replica_arn)
