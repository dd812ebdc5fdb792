"""Secrets never leave the cloud through govaudit: not into the database, logs or reports.

One moto estate holds every kind of secret an account has: Lambda environment values, a
Secrets Manager value, an SSM SecureString, an IAM user's secret access key and console
password, secret-looking S3, DynamoDB and CloudWatch Logs data, and the auditor's own profile
with a session token.  A full audit writes every output format with JSON logs; then every byte
it produced is searched for every secret.  Identifiers (access key ids, names) may appear.
"""

from __future__ import annotations

import io
import json
import logging
import os
import zipfile
from pathlib import Path
from typing import Any
from urllib.parse import quote

import boto3
import pytest

from auditor.cli import main
from auditor.demo import sample_policy_path
from auditor.demo_estate import ACCOUNTS, demo_credentials

# The in-process moto server logs each request through werkzeug to the root logger, whose
# handler an earlier CLI run bound to a stream pytest has since closed: its "Logging error"
# would land in the stderr this test reads as govaudit's own JSON log lines.
logging.getLogger("werkzeug").setLevel(logging.ERROR)

pytestmark = pytest.mark.moto

ACCOUNT = ACCOUNTS[0]  # an aws-cn account of the sample policy
REGION = "cn-north-1"
FORMATS = "html,json,csv,sarif,ocsf"

# Values shaped like real credentials; none holds a character HTML or JSON would escape, so a
# leak cannot hide behind &amp; or \u0026.
LAMBDA_ENVIRONMENT = {
    "DB_USER": "payroll_app",  # not a secret: the names and this value are configuration
    "DB_PASSWORD": "S3cr3t-Payroll-2026-kX9q",
    "AWS_SECRET_ACCESS_KEY": "wJalrXUtnFEMIK7MDENGbPxRfiCYz9Lq8Hd4TuV2",
    "API_TOKEN": "ghp_R4nd0mT0k3nV4lu3F0rGovaudit1234567",
    "DATABASE_URL": "postgres://payroll:Pa55w0rdInUrl-77@db.internal:5432/payroll",
}
SECRET_STRING = "SM-master-Pw-h7Gd2kLq9Zx"
SSM_VALUE = "SSM-SecureString-v4lue-Qp3"
LOGIN_PASSWORD = "Console-L0gin-Pw-Jr82x"
S3_OBJECT = "s3-object-body-secret-Nw5e"
DYNAMODB_ITEM = "dynamodb-item-secret-Ty6m"
LOG_EVENT = "log-event-secret-Bq1z"
PROFILE = "secrets-test"


def _zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("index.py", "def handler(event, context):\n    return None\n")
    return buffer.getvalue()


def seed(session: boto3.Session, endpoint: str) -> list[str]:
    """The estate; returns the secrets it was given beyond the module's constants."""

    def client(name: str) -> Any:
        return session.client(name, region_name=REGION, endpoint_url=endpoint)

    iam = client("iam")
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
    role = iam.create_role(RoleName="payroll-exec", AssumeRolePolicyDocument=json.dumps(trust))[
        "Role"
    ]["Arn"]
    client("lambda").create_function(
        FunctionName="payroll",
        Runtime="python3.12",
        Handler="index.handler",
        Role=role,
        Code={"ZipFile": _zip()},
        Environment={"Variables": LAMBDA_ENVIRONMENT},
    )
    client("secretsmanager").create_secret(
        Name="payroll/db-master", SecretString=json.dumps({"password": SECRET_STRING})
    )
    client("ssm").put_parameter(Name="/payroll/db-password", Value=SSM_VALUE, Type="SecureString")
    iam.create_user(UserName="ci-bot")
    key = iam.create_access_key(UserName="ci-bot")["AccessKey"]
    iam.create_login_profile(UserName="ci-bot", Password=LOGIN_PASSWORD)
    s3 = client("s3")
    s3.create_bucket(
        Bucket="payroll-exports", CreateBucketConfiguration={"LocationConstraint": REGION}
    )
    s3.put_object(Bucket="payroll-exports", Key="db.env", Body=S3_OBJECT.encode())
    dynamodb = client("dynamodb")
    dynamodb.create_table(
        TableName="payroll-tokens",
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    dynamodb.put_item(
        TableName="payroll-tokens", Item={"id": {"S": "1"}, "token": {"S": DYNAMODB_ITEM}}
    )
    logs = client("logs")
    logs.create_log_group(logGroupName="/payroll/app")
    logs.create_log_stream(logGroupName="/payroll/app", logStreamName="s")
    logs.put_log_events(
        logGroupName="/payroll/app",
        logStreamName="s",
        logEvents=[{"timestamp": 1_700_000_000_000, "message": f"password={LOG_EVENT}"}],
    )
    return [str(key["SecretAccessKey"])]


def write_profile(access_key: str, secret_key: str, token: str) -> None:
    """A named profile with a session token, as an operator's assumed-role profile has."""
    Path(os.environ["AWS_SHARED_CREDENTIALS_FILE"]).write_text(
        f"[{PROFILE}]\naws_access_key_id = {access_key}\n"
        f"aws_secret_access_key = {secret_key}\naws_session_token = {token}\n"
    )
    Path(os.environ["AWS_CONFIG_FILE"]).write_text(f"[profile {PROFILE}]\nregion = {REGION}\n")


def leaks(secrets: list[str], outputs: dict[str, bytes]) -> list[str]:
    """'secret in output' for every secret found, as written or URL-encoded."""
    found = []
    for secret in secrets:
        forms = {secret.encode(), quote(secret, safe="").encode()}
        found += [
            f"{secret[:6]}… in {name}"
            for name, data in outputs.items()
            if any(form in data for form in forms)
        ]
    return found


# JSON logs at -v, as scheduled runs log; plain text at -vv, where botocore would print every
# request header (the session token) and response body (the Lambda environment).
@pytest.mark.parametrize(("log_format", "verbosity"), [("json", "-v"), ("text", "-vv")])
def test_a_full_audit_writes_no_secret_anywhere(
    moto_endpoint: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    log_format: str,
    verbosity: str,
) -> None:
    creds = demo_credentials(moto_endpoint, ACCOUNT)
    seeded = seed(creds.session(REGION), moto_endpoint)
    write_profile(creds.access_key, creds.secret_key, creds.token)
    db, out = tmp_path / "audit.db", tmp_path / "report"
    args = ["--log-format", log_format, verbosity, "audit", "--policy", str(sample_policy_path())]
    args += ["--db", str(db), "--out", str(out), "--format", FORMATS]
    args += ["--profile", PROFILE, "--regions", REGION, "--endpoint-url", moto_endpoint]

    with pytest.raises(SystemExit) as info:
        main(args)
    stdout, stderr = capsys.readouterr()
    assert info.value.code in (0, 1), stderr  # findings may fail the gate; nothing crashed

    outputs = {"stdout": stdout.encode(), "stderr": stderr.encode()}
    # The database with its journal files, and every file of every output format.
    outputs |= {p.name: p.read_bytes() for p in tmp_path.glob("audit.db*")}
    outputs |= {str(p.relative_to(out)): p.read_bytes() for p in out.rglob("*") if p.is_file()}
    written = {p.suffix for p in out.rglob("*") if p.is_file()}
    assert {".html", ".json", ".csv", ".sarif"} <= written, written

    # The estate was collected: names are there, so the scan looks at real data.
    database = outputs["audit.db"]
    for name in (b"payroll", b"DB_PASSWORD", b"payroll/db-master"):
        assert name in database, name
    if log_format == "json":
        assert all(json.loads(line)["level"] for line in stderr.splitlines() if line)
    else:
        # botocore's debug lines flowed, so its wire loggers would have had their chance.
        assert "Event before-call.lambda.ListFunctions" in stderr

    secrets = [
        *(v for k, v in LAMBDA_ENVIRONMENT.items() if k != "DB_USER"),
        SECRET_STRING,
        SSM_VALUE,
        LOGIN_PASSWORD,
        S3_OBJECT,
        DYNAMODB_ITEM,
        LOG_EVENT,
        creds.secret_key,
        creds.token,
        *seeded,
    ]
    assert leaks(secrets, outputs) == []
