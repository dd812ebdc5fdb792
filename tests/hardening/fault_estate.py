"""The demo estate, plus at least one resource of every service govaudit collects.

The demo estate leaves trails, log groups, vaults, repositories, functions, databases,
secrets, topics, instances and an organisation out; without them a fault in a per-resource
operation of those services would never be sent, and the fault matrix would prove nothing.
Everything extra lives in the production account in cn-north-1, next to the demo's own risks;
most of it is shared with or granted to the outsider, so that a check which loses the fact
has a FAIL to turn into a wrong PASS.
"""

from __future__ import annotations

import io
import json
import zipfile
from typing import Any

from auditor.demo_estate import PRODUCTION, UNKNOWN_PARTY, Credentials, seed_estate

REGION = "cn-north-1"
PARTITION = "aws-cn"
TAGS = {"data-class": "重要", "owner-dept": "dsj"}


def _tag_list(tags: dict[str, str] | None = None) -> list[dict[str, str]]:
    return [{"Key": k, "Value": v} for k, v in (tags or TAGS).items()]


def _grant(principal: str, actions: list[str], resource: str) -> str:
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "Outsider",
                    "Effect": "Allow",
                    "Principal": {"AWS": principal},
                    "Action": actions,
                    "Resource": resource,
                }
            ],
        }
    )


def _zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("index.py", "def handler(event, context):\n    return event\n")
    return buffer.getvalue()


def seed_fault_estate(endpoint: str) -> dict[str, Credentials]:
    """Seed the demo estate and the extras; return credentials per demo account."""
    credentials = seed_estate(endpoint)
    session = credentials[PRODUCTION].session(REGION)

    def client(service: str) -> Any:
        return session.client(service, region_name=REGION, endpoint_url=endpoint)

    key = client("kms").create_key(Description="fault estate")["KeyMetadata"]["Arn"]
    _iam(client("iam"))
    _logging(client, key)
    _vpc(client("ec2"))
    _compute(client, key)
    _stores(client, key)
    _organization(client("organizations"))
    return credentials


def _iam(iam: Any) -> None:
    iam.update_account_password_policy(MinimumPasswordLength=14, RequireSymbols=True)
    iam.create_user(UserName="ops-li", Tags=_tag_list())
    iam.create_access_key(UserName="ops-li")
    iam.create_group(GroupName="ops")
    iam.add_user_to_group(GroupName="ops", UserName="ops-li")
    document = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}],
    }
    arn = iam.create_policy(PolicyName="ops-admin", PolicyDocument=json.dumps(document))
    iam.attach_group_policy(GroupName="ops", PolicyArn=arn["Policy"]["Arn"])


def _logging(client: Any, key: str) -> None:
    s3 = client("s3")
    # The trail's archive: locked, kept 400 days, never public, with its access logged.
    s3.create_bucket(
        Bucket="yz-audit-trail",
        CreateBucketConfiguration={"LocationConstraint": REGION},
        ObjectLockEnabledForBucket=True,
    )
    s3.put_object_lock_configuration(
        Bucket="yz-audit-trail",
        ObjectLockConfiguration={
            "ObjectLockEnabled": "Enabled",
            "Rule": {"DefaultRetention": {"Mode": "COMPLIANCE", "Days": 400}},
        },
    )
    s3.put_bucket_lifecycle_configuration(
        Bucket="yz-audit-trail",
        LifecycleConfiguration={
            "Rules": [
                {"ID": "expire", "Status": "Enabled", "Filter": {}, "Expiration": {"Days": 400}}
            ]
        },
    )
    s3.put_public_access_block(
        Bucket="yz-audit-trail",
        PublicAccessBlockConfiguration={
            "BlockPublicAcls": True,
            "IgnorePublicAcls": True,
            "BlockPublicPolicy": True,
            "RestrictPublicBuckets": True,
        },
    )
    trail = client("cloudtrail")
    trail.create_trail(
        Name="gov-trail",
        S3BucketName="yz-audit-trail",
        IsMultiRegionTrail=True,
        KmsKeyId=key,
        TagsList=_tag_list(),
    )
    trail.start_logging(Name="gov-trail")
    logs = client("logs")
    logs.create_log_group(logGroupName="/yz/app", kmsKeyId=key, tags=TAGS)
    logs.put_retention_policy(logGroupName="/yz/app", retentionInDays=180)
    client("kinesis").create_stream(StreamName="yz-events", ShardCount=1)
    logs.put_subscription_filter(
        logGroupName="/yz/app",
        filterName="to-stream",
        filterPattern="",
        destinationArn=f"arn:{PARTITION}:kinesis:{REGION}:{PRODUCTION}:stream/yz-events",
        roleArn=f"arn:{PARTITION}:iam::{PRODUCTION}:role/cwl-to-kinesis",
    )
    document = _grant(UNKNOWN_PARTY, ["logs:PutLogEvents"], "*")
    logs.put_resource_policy(policyName="outsider", policyDocument=document)
    stream = f"arn:{PARTITION}:kinesis:{REGION}:{PRODUCTION}:stream/yz-events"
    role = f"arn:{PARTITION}:iam::{PRODUCTION}:role/cwl-destination"
    logs.put_destination(destinationName="yz-in", targetArn=stream, roleArn=role)
    logs.put_destination_policy(
        destinationName="yz-in",
        accessPolicy=_grant(UNKNOWN_PARTY, ["logs:PutSubscriptionFilter"], "*"),
    )


def _vpc(ec2: Any) -> None:
    vpc = ec2.describe_vpcs()["Vpcs"][0]["VpcId"]
    ec2.create_flow_logs(
        ResourceIds=[vpc],
        ResourceType="VPC",
        TrafficType="ALL",
        LogDestinationType="s3",
        LogDestination=f"arn:{PARTITION}:s3:::yz-audit-trail",
    )
    group = ec2.create_security_group(GroupName="ssh", Description="ssh", VpcId=vpc)["GroupId"]
    ec2.authorize_security_group_ingress(
        GroupId=group,
        IpPermissions=[
            {
                "IpProtocol": "tcp",
                "FromPort": 22,
                "ToPort": 22,
                "IpRanges": [{"CidrIp": "0.0.0.0/0"}],
            }
        ],
    )
    other = ec2.create_vpc(CidrBlock="10.9.0.0/16")["Vpc"]["VpcId"]
    ec2.create_vpc_peering_connection(VpcId=vpc, PeerVpcId=other)


def _compute(client: Any, key: str) -> None:
    ec2 = client("ec2")
    ami = ec2.describe_images(Owners=["amazon"])["Images"][0]["ImageId"]
    instance = ec2.run_instances(
        ImageId=ami,
        MinCount=1,
        MaxCount=1,
        TagSpecifications=[{"ResourceType": "instance", "Tags": _tag_list()}],
    )["Instances"][0]["InstanceId"]
    image = ec2.create_image(InstanceId=instance, Name="yz-app-image")["ImageId"]
    ec2.modify_image_attribute(ImageId=image, LaunchPermission={"Add": [{"UserId": UNKNOWN_PARTY}]})
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "lambda.amazonaws.com"},
                "Action": "sts:AssumeRole",
            }
        ],
    }
    role = client("iam").create_role(RoleName="fn-exec", AssumeRolePolicyDocument=json.dumps(trust))
    functions = client("lambda")
    functions.create_function(
        FunctionName="yz-ingest",
        Role=role["Role"]["Arn"],
        Runtime="python3.12",
        Handler="index.handler",
        Code={"ZipFile": _zip()},
        KMSKeyArn=key,
        Environment={"Variables": {"STAGE": "prod"}},
        Tags=TAGS,
    )
    functions.add_permission(
        FunctionName="yz-ingest",
        StatementId="outsider-invoke",
        Action="lambda:InvokeFunction",
        Principal=UNKNOWN_PARTY,
    )
    functions.create_function_url_config(FunctionName="yz-ingest", AuthType="NONE")


def _stores(client: Any, key: str) -> None:
    backup = client("backup")
    backup.create_backup_vault(
        BackupVaultName="yz-vault", EncryptionKeyArn=key, BackupVaultTags=TAGS
    )
    backup.create_backup_plan(
        BackupPlan={
            "BackupPlanName": "daily",
            "Rules": [
                {
                    "RuleName": "daily",
                    "TargetBackupVaultName": "yz-vault",
                    "ScheduleExpression": "cron(0 3 * * ? *)",
                    "CopyActions": [
                        {
                            "DestinationBackupVaultArn": (
                                f"arn:{PARTITION}:backup:cn-northwest-1:{PRODUCTION}"
                                ":backup-vault:yz-dr"
                            )
                        }
                    ],
                }
            ],
        },
        BackupPlanTags=TAGS,
    )
    ecr = client("ecr")
    ecr.create_repository(
        repositoryName="yz/app",
        encryptionConfiguration={"encryptionType": "KMS", "kmsKey": key},
        tags=_tag_list(),
    )
    ecr.set_repository_policy(
        repositoryName="yz/app", policyText=_grant(UNKNOWN_PARTY, ["ecr:BatchGetImage"], "*")
    )
    ecr.put_registry_policy(
        policyText=_grant(UNKNOWN_PARTY, ["ecr:ReplicateImage"], f"arn:{PARTITION}:ecr:*")
    )
    rds = client("rds")
    rds.create_db_instance(
        DBInstanceIdentifier="yz-db",
        DBInstanceClass="db.t3.micro",
        Engine="postgres",
        MasterUsername="admin_user",
        MasterUserPassword="not-a-secret-1",
        AllocatedStorage=20,
        StorageEncrypted=True,
        KmsKeyId=key,
        PubliclyAccessible=True,
        Tags=_tag_list(),
    )
    rds.create_db_snapshot(DBSnapshotIdentifier="yz-db-snap", DBInstanceIdentifier="yz-db")
    rds.modify_db_snapshot_attribute(
        DBSnapshotIdentifier="yz-db-snap", AttributeName="restore", ValuesToAdd=[UNKNOWN_PARTY]
    )
    rds.create_db_cluster(
        DBClusterIdentifier="yz-aurora",
        Engine="aurora-postgresql",
        MasterUsername="admin_user",
        MasterUserPassword="not-a-secret-1",
        StorageEncrypted=True,
        KmsKeyId=key,
        Tags=_tag_list(),
    )
    rds.create_db_cluster_snapshot(
        DBClusterSnapshotIdentifier="yz-aurora-snap", DBClusterIdentifier="yz-aurora"
    )
    rds.modify_db_cluster_snapshot_attribute(
        DBClusterSnapshotIdentifier="yz-aurora-snap",
        AttributeName="restore",
        ValuesToAdd=[UNKNOWN_PARTY],
    )
    dynamodb = client("dynamodb")
    dynamodb.create_table(
        TableName="yz-cases",
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
        SSESpecification={"Enabled": True, "SSEType": "KMS", "KMSMasterKeyId": key},
        Tags=_tag_list(),
    )
    dynamodb.update_continuous_backups(
        TableName="yz-cases",
        PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": True},
    )
    table = f"arn:{PARTITION}:dynamodb:{REGION}:{PRODUCTION}:table/yz-cases"
    dynamodb.export_table_to_point_in_time(
        TableArn=table, S3Bucket="yz-audit-trail", S3Prefix="exports/"
    )
    secrets = client("secretsmanager")
    secrets.create_secret(Name="yz/db", SecretString="x", KmsKeyId=key, Tags=_tag_list())
    secrets.put_resource_policy(
        SecretId="yz/db",
        ResourcePolicy=_grant(UNKNOWN_PARTY, ["secretsmanager:GetSecretValue"], "*"),
    )
    sns = client("sns")
    topic = sns.create_topic(
        Name="yz-alerts",
        Attributes={"Policy": _grant(UNKNOWN_PARTY, ["sns:Subscribe"], "*")},
        Tags=_tag_list(),
    )["TopicArn"]
    sns.subscribe(TopicArn=topic, Protocol="https", Endpoint="https://collector.example.com/in")
    client("sqs").create_queue(
        QueueName="yz-intake",
        Attributes={
            "KmsMasterKeyId": key,
            "Policy": _grant(UNKNOWN_PARTY, ["sqs:SendMessage"], "*"),
        },
        tags=TAGS,
    )


def _organization(org: Any) -> None:
    org.create_organization(FeatureSet="ALL")
    root = org.list_roots()["Roots"][0]["Id"]
    unit = org.create_organizational_unit(ParentId=root, Name="prod")["OrganizationalUnit"]["Id"]
    scp = org.create_policy(
        Name="cn-only",
        Description="deny regions outside China",
        Type="SERVICE_CONTROL_POLICY",
        Content=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Deny",
                        "Action": "*",
                        "Resource": "*",
                        "Condition": {"StringNotEquals": {"aws:RequestedRegion": ["cn-north-1"]}},
                    }
                ],
            }
        ),
    )["Policy"]["PolicySummary"]["Id"]
    org.attach_policy(PolicyId=scp, TargetId=unit)
    security = org.create_account(AccountName="security", Email="sec@dsj.example.cn")
    account = security["CreateAccountStatus"]["AccountId"]
    org.register_delegated_administrator(
        AccountId=account, ServicePrincipal="guardduty.amazonaws.com"
    )
