"""S3-compatible endpoints against a real moto server over HTTP: every bucket fact, what the
checks make of them, the read-only guard, failures as coverage rows, and secrets kept out."""

from __future__ import annotations

import json
import logging
import re
from typing import Any
from urllib.parse import urlsplit

import boto3
import pytest
import requests_mock

from auditor import pipeline
from auditor.cli import main
from auditor.errors import ReadOnlyViolation, UsageError
from auditor.inventories.libcloud import s3compat
from auditor.inventories.libcloud.common import Faults
from auditor.inventories.providers import clouds
from auditor.model import Coverage, Edge, Outcome, Relation, Resource, Status
from auditor.policy import load_policy
from auditor.store import Store
from tests.conftest import free_port

pytestmark = pytest.mark.moto

# moto's werkzeug request log would otherwise reach the stderr a CLI test reads.
logging.getLogger("werkzeug").setLevel(logging.ERROR)

ACCESS_KEY = "AKIAGOVAUDITS3TEST01"
SECRET_KEY = "s3cret-Key-Value-Never-Stored-9Xq"  # the secret the tests hunt for
REGION = "eu-west-2"  # Outscale's France region in the jurisdiction table


def settings(endpoint_url: str, **extra: str) -> dict[str, str]:
    parts = urlsplit(endpoint_url)
    values = {
        "host": str(parts.hostname),
        "port": str(parts.port),
        "secure": "false",
        "access_key": ACCESS_KEY,
        "secret_key": SECRET_KEY,
        "region": REGION,
        "flavour": "outscale",
    }
    return values | extra


def s3_client(endpoint_url: str) -> Any:
    return boto3.client(
        "s3",
        endpoint_url=endpoint_url,
        region_name=REGION,
        aws_access_key_id=ACCESS_KEY,
        aws_secret_access_key=SECRET_KEY,
    )


def make_bucket(client: Any, name: str, tags: dict[str, str] | None = None, **kw: Any) -> None:
    client.create_bucket(
        Bucket=name, CreateBucketConfiguration={"LocationConstraint": REGION}, **kw
    )
    if tags:
        tag_set = [{"Key": k, "Value": v} for k, v in tags.items()]
        client.put_bucket_tagging(Bucket=name, Tagging={"TagSet": tag_set})


def encrypt(client: Any, name: str, algorithm: str, key: str | None = None) -> None:
    default: dict[str, str] = {"SSEAlgorithm": algorithm}
    if key:
        default["KMSMasterKeyID"] = key
    client.put_bucket_encryption(
        Bucket=name,
        ServerSideEncryptionConfiguration={
            "Rules": [{"ApplyServerSideEncryptionByDefault": default}]
        },
    )


def versioned(client: Any, name: str) -> None:
    client.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"})


@pytest.fixture
def estate(moto_endpoint: str) -> str:
    """A ministry's OOS estate: core records replicated to a mislabelled replica, open data
    published with a public ACL, a public-by-policy bucket, and an untagged bucket."""
    client = s3_client(moto_endpoint)
    make_bucket(client, "core-records", {"data-class": "core", "owner-dept": "dsj"})
    encrypt(client, "core-records", "aws:kms", "kes-core-key")
    versioned(client, "core-records")
    make_bucket(client, "core-replica", {"data-class": "general", "owner-dept": "dsj"})
    encrypt(client, "core-replica", "AES256")
    versioned(client, "core-replica")
    client.put_bucket_replication(
        Bucket="core-records",
        ReplicationConfiguration={
            "Role": "arn:aws:iam::000000000000:role/replication",
            "Rules": [
                {
                    "ID": "to-replica",
                    "Status": "Enabled",
                    "Prefix": "",
                    "Destination": {"Bucket": "arn:aws:s3:::core-replica"},
                }
            ],
        },
    )
    make_bucket(
        client, "open-data", {"data-class": "public", "owner-dept": "mz"}, ACL="public-read"
    )
    make_bucket(client, "leaky-policy", {"data-class": "important", "owner-dept": "nobody"})
    client.put_bucket_policy(
        Bucket="leaky-policy",
        Policy=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Sid": "world",
                        "Effect": "Allow",
                        "Principal": "*",
                        "Action": "s3:GetObject",
                        "Resource": "arn:aws:s3:::leaky-policy/*",
                    }
                ],
            }
        ),
    )
    make_bucket(client, "untagged")
    return moto_endpoint


def collected(endpoint_url: str, label: str = "oos-gov", **extra: str) -> list[Any]:
    return list(s3compat.build(label, settings(endpoint_url, **extra)).records())


def by_name(records: list[Any]) -> dict[str, Resource]:
    return {r.name: r for r in records if isinstance(r, Resource)}


def edges(records: list[Any], relation: Relation) -> set[tuple[str, str]]:
    return {(e.src, e.dst) for e in records if isinstance(e, Edge) and e.relation is relation}


def uid(endpoint_url: str, name: str) -> str:
    parts = urlsplit(endpoint_url)
    return f"s3compat://{parts.hostname}:{parts.port}/{name}"


# --- what is collected ------------------------------------------------------------------------


def test_every_bucket_fact_is_read(estate):
    records = collected(estate)
    buckets = by_name(records)
    assert sorted(buckets) == [
        "core-records", "core-replica", "leaky-policy", "open-data", "untagged",
    ]  # fmt: skip
    core = buckets["core-records"]
    assert core.uid == uid(estate, "core-records")
    assert (core.provider, core.native_type, core.account) == ("s3", "s3compat:bucket", "oos-gov")
    assert (core.region, core.jurisdiction) == (REGION, "FR")
    assert core.tags == {"data-class": "core", "owner-dept": "dsj"}
    attrs = core.attrs
    assert attrs["location_status"] == attrs["tags_status"] == "read"
    assert attrs["encryption_status"] == "read"
    assert (attrs["sse_algorithm"], attrs["kms_key"], attrs["encrypted"]) == (
        "aws:kms", "kes-core-key", True,
    )  # fmt: skip
    assert attrs["kms_key_arn"] == uid(estate, "kms-key/kes-core-key")
    assert (attrs["versioning_status"], attrs["versioning"]) == ("read", "Enabled")
    assert attrs["replication_status"] == "read"
    assert attrs["replication_rules"][0]["destination"] == "arn:aws:s3:::core-replica"
    assert attrs["policy_status"] == "none" and attrs["policy"] is None
    assert attrs["acl_status"] == "read"

    untagged = buckets["untagged"].attrs
    assert untagged["tags_status"] == "none" and buckets["untagged"].tags == {}
    assert (untagged["encryption_status"], untagged["encrypted"]) == ("none", False)
    assert untagged["versioning"] is None and untagged["versioning_status"] == "read"
    assert untagged["replication_status"] == "none"
    assert buckets["core-replica"].attrs["key_owner"] == "provider_managed"


def test_edges_for_keys_replicas_and_public_access(estate):
    records = collected(estate)
    core, replica = uid(estate, "core-records"), uid(estate, "core-replica")
    assert edges(records, Relation.ENCRYPTED_BY) == {(core, uid(estate, "kms-key/kes-core-key"))}
    assert edges(records, Relation.REPLICATES_TO) == {(core, replica)}
    public_reads = {dst for src, dst in edges(records, Relation.CAN_READ) if src == "public:*"}
    assert public_reads == {uid(estate, "open-data"), uid(estate, "leaky-policy")}
    # The owner's own ACL grant points at the endpoint's account label.
    assert ("account:oos-gov", core) in edges(records, Relation.CAN_ADMIN)


def test_coverage_row_counts_every_call(estate):
    records = collected(estate)
    rows = [r for r in records if isinstance(r, Coverage)]
    assert len(rows) == 1
    row = rows[0]
    assert (row.provider, row.account, row.region, row.service) == ("s3", "oos-gov", REGION, "s3")
    assert row.outcome is Outcome.OK
    assert row.detail == "5 buckets"
    assert row.api_calls == 1 + 5 * len(s3compat.FACTS)


def test_public_access_block_neutralises_a_public_acl(estate):
    client = s3_client(estate)
    client.put_public_access_block(
        Bucket="open-data",
        PublicAccessBlockConfiguration={
            "BlockPublicAcls": True, "IgnorePublicAcls": True,
            "BlockPublicPolicy": True, "RestrictPublicBuckets": True,
        },
    )  # fmt: skip
    records = collected(estate)
    open_data = by_name(records)["open-data"]
    assert open_data.attrs["public_access_block_status"] == "read"
    assert open_data.attrs["public_grants_blocked"]
    assert ("public:*", open_data.uid) not in edges(records, Relation.CAN_READ)


@pytest.mark.parametrize(
    ("extra", "country"),
    [
        ({"flavour": "minio", "jurisdiction": "de"}, "DE"),  # no table: the declared country
        ({"flavour": "minio"}, None),  # neither table nor setting: unknown, never a guess
        ({"flavour": "outscale", "jurisdiction": "DE"}, "FR"),  # the table knows eu-west-2
        ({"flavour": "ovh", "region": "gra"}, "FR"),  # OVH's lower-case region name
        ({"flavour": "outscale", "region": "xx-nowhere-1"}, None),
    ],
)
def test_jurisdiction_from_table_or_setting(moto_endpoint, extra, country):
    # No LocationConstraint: the bucket sits in the endpoint's configured region.
    boto3.client(
        "s3", endpoint_url=moto_endpoint, region_name="us-east-1",
        aws_access_key_id=ACCESS_KEY, aws_secret_access_key=SECRET_KEY,
    ).create_bucket(Bucket="placed")  # fmt: skip
    bucket = by_name(collected(moto_endpoint, **extra))["placed"]
    assert bucket.jurisdiction == country


# --- failures ---------------------------------------------------------------------------------

ERROR_XML = (
    "<?xml version='1.0'?><Error><Code>{code}</Code><Message>m</Message>"
    f"<AWSAccessKeyId>{ACCESS_KEY}</AWSAccessKeyId></Error>"
)


def test_a_denied_fact_is_unread_and_the_row_says_denied(estate):
    """moto answers everything; requests-mock turns one ACL read into a 403."""
    with requests_mock.Mocker(real_http=True) as mock:
        mock.get(
            re.compile(r".*/open-data\?acl"),
            status_code=403,
            text=ERROR_XML.format(code="AccessDenied"),
        )
        records = collected(estate)
    open_data = by_name(records)["open-data"]
    assert open_data.attrs["acl_status"] == "denied"
    # The public ACL could not be seen: no edge, and ACC-001 must say UNKNOWN (below).
    assert ("public:*", open_data.uid) not in edges(records, Relation.CAN_READ)
    row = next(r for r in records if isinstance(r, Coverage))
    assert row.outcome is Outcome.DENIED
    assert "acl:denied×1" in row.detail and "GET ?acl AccessDenied×1" in row.detail
    assert len(by_name(records)) == 5  # the other facts and buckets still count


class StubResponse:
    def __init__(self, status: int, body: str) -> None:
        self.status, self.body = status, body


class StubConnection:
    """Answers every raw read with one canned status and body."""

    def __init__(self, status: int = 200, body: str = "", exc: Exception | None = None) -> None:
        self.answer, self.exc = StubResponse(status, body), exc

    def request(self, action: str, params: dict[str, str], raw: bool = False) -> StubResponse:
        if self.exc is not None:
            raise self.exc
        return self.answer


@pytest.mark.parametrize(
    ("fact", "status", "body", "expected", "fault"),
    [
        ("policy", 404, ERROR_XML.format(code="NoSuchBucketPolicy"), "none", None),
        ("encryption", 404,
         ERROR_XML.format(code="ServerSideEncryptionConfigurationNotFoundError"), "none", None),
        ("tagging", 404, ERROR_XML.format(code="NoSuchTagSet"), "none", None),
        ("acl", 403, ERROR_XML.format(code="AccessDenied"), "denied", Outcome.DENIED),
        ("acl", 401, "", "denied", Outcome.DENIED),
        ("acl", 503, ERROR_XML.format(code="SlowDown"), "error", Outcome.THROTTLED),
        ("acl", 429, "", "error", Outcome.THROTTLED),
        ("acl", 500, ERROR_XML.format(code="InternalError"), "error", Outcome.ERROR),
        ("acl", 404, ERROR_XML.format(code="NoSuchBucket"), "error", Outcome.ERROR),
        # A store that lacks the feature: unknown, but no fault of the collection.
        ("replication", 501, ERROR_XML.format(code="NotImplemented"), "error", None),
        ("acl", 200, "<html>proxy login page", "invalid", None),
        ("acl", 200, "<LocationConstraint>eu</LocationConstraint>", "invalid", None),
        ("acl", 200, "<!DOCTYPE x [<!ENTITY a 'b'>]><AccessControlPolicy/>", "invalid", None),
    ],
)  # fmt: skip
def test_read_fact_status(fact, status, body, expected, fault):
    faults = Faults()
    got = s3compat.read_fact(StubConnection(status, body), "bucket", fact, faults)
    assert got["status"] == expected
    assert [outcome for _, _, outcome in faults.met] == ([fault] if fault else [])


def test_read_fact_network_failure_is_an_error_fact():
    faults = Faults()
    got = s3compat.read_fact(StubConnection(exc=ConnectionError("reset")), "b", "acl", faults)
    assert got == {"status": "error", "code": "ConnectionError"}
    assert faults.met == [("GET ?acl", "ConnectionError", Outcome.ERROR)]


def test_read_fact_lets_a_refused_write_through():
    faults = Faults()
    with pytest.raises(ReadOnlyViolation):
        s3compat.read_fact(StubConnection(exc=ReadOnlyViolation("x")), "b", "acl", faults)


def _facts(**overrides: dict[str, Any]) -> dict[str, dict[str, Any]]:
    facts: dict[str, dict[str, Any]] = {
        name: {"status": "none", "code": "x"} for name in s3compat.FACTS
    }
    facts["location"] = {"status": "read", "value": s3compat.parse_xml("<LocationConstraint/>")}
    facts["versioning"] = {
        "status": "read",
        "value": s3compat.parse_xml("<VersioningConfiguration/>"),
    }
    return facts | overrides


def test_unparsable_policy_and_incomplete_acl_are_invalid():
    endpoint = s3compat.endpoint_of("lab", settings("http://127.0.0.1:9000", flavour="minio"))
    acl_without_grantee = (
        "<AccessControlPolicy><Owner><ID>o</ID></Owner><AccessControlList><Grant>"
        "<Permission>READ</Permission></Grant></AccessControlList></AccessControlPolicy>"
    )
    facts = _facts(
        policy={"status": "read", "value": "{not json"},
        acl={"status": "read", "value": s3compat.parse_xml(acl_without_grantee)},
    )
    bucket = next(iter(s3compat.transform_bucket(endpoint, "b", facts)))
    assert isinstance(bucket, Resource)
    assert bucket.attrs["policy_status"] == "invalid"
    assert bucket.attrs["acl_status"] == "invalid"
    # No constraint: the endpoint's configured region; minio has no table, no setting.
    assert (bucket.region, bucket.jurisdiction) == (REGION, None)


def test_encryption_answer_without_algorithm_is_invalid_not_unencrypted():
    endpoint = s3compat.endpoint_of("lab", settings("http://127.0.0.1:9000"))
    xml = "<ServerSideEncryptionConfiguration><Rule/></ServerSideEncryptionConfiguration>"
    facts = _facts(encryption={"status": "read", "value": s3compat.parse_xml(xml)})
    bucket = next(iter(s3compat.transform_bucket(endpoint, "b", facts)))
    assert isinstance(bucket, Resource)
    assert (bucket.attrs["encryption_status"], bucket.attrs["encrypted"]) == ("invalid", None)


def test_listing_denied_is_one_denied_row_without_secrets():
    values = settings("http://s3.gov.example:80", secure="true", port="443")
    with requests_mock.Mocker() as mock:
        mock.get(
            "https://s3.gov.example/",
            status_code=403,
            text=ERROR_XML.format(code=f"SignatureDoesNotMatch {SECRET_KEY}"),
        )
        records = list(s3compat.build("ministry", values).records())
    assert len(records) == 1
    row = records[0]
    assert isinstance(row, Coverage) and row.outcome is Outcome.DENIED
    assert row.region == REGION and row.api_calls == 1
    assert SECRET_KEY not in row.detail and ACCESS_KEY not in row.detail


def test_unreachable_endpoint_is_an_error_row():
    values = settings(f"http://127.0.0.1:{free_port()}")
    records = list(s3compat.build("gone", values).records())
    assert [(r.service, r.outcome) for r in records if isinstance(r, Coverage)] == [
        ("s3", Outcome.ERROR)
    ]
    assert all(isinstance(r, Coverage) for r in records)


@pytest.mark.parametrize(
    ("change", "fragment"),
    [
        ({"secure": "maybe"}, "secure"),
        ({"port": "https"}, "port"),
        ({"flavour": "azure"}, "flavour"),
        ({"jurisdiction": "France"}, "jurisdiction"),
        ({"host": "https://user:pw@s3.gov.example"}, "host"),
    ],
)
def test_bad_settings_are_usage_errors_without_secrets(change, fragment):
    with pytest.raises(UsageError, match=fragment) as info:
        s3compat.build("lab", settings("http://127.0.0.1:9000") | change)
    assert SECRET_KEY not in str(info.value) and "pw@" not in str(info.value)


def test_endpoint_repr_hides_the_keys():
    endpoint = s3compat.endpoint_of("lab", settings("http://127.0.0.1:9000"))
    assert SECRET_KEY not in repr(endpoint) and ACCESS_KEY not in repr(endpoint)


# --- read-only, against the real server ---------------------------------------------------------


def test_the_scope_driver_refuses_to_write(estate):
    endpoint = s3compat.endpoint_of("oos-gov", settings(estate))
    driver, counter = s3compat.connect(endpoint)
    with pytest.raises(ReadOnlyViolation):
        driver.create_container("created-by-govaudit")
    container = driver.get_container("untagged")
    with pytest.raises(ReadOnlyViolation):
        driver.delete_container(container)
    with pytest.raises(ReadOnlyViolation):
        driver.upload_object_via_stream(iter([b"data"]), container, "object.txt")
    names = {b["Name"] for b in s3_client(estate).list_buckets()["Buckets"]}
    assert "created-by-govaudit" not in names and "untagged" in names
    assert s3_client(estate).list_objects_v2(Bucket="untagged").get("KeyCount") == 0
    assert counter.total == 1  # only the HEAD of get_container went out


# --- what the checks make of it ---------------------------------------------------------------

POLICY = """
version: 1
organisation: {name: Ministère de test, home_jurisdiction: FR}
classifications:
  core: {rank: 4, allowed_jurisdictions: [FR], key_custody: customer_managed}
  important: {rank: 3, allowed_jurisdictions: [FR], key_custody: customer_managed}
  general: {rank: 2, allowed_jurisdictions: [FR, DE], key_custody: any}
  public: {rank: 1, allowed_jurisdictions: ["*"], key_custody: any, allow_public: true}
classification_defaults:
  untagged: important
tags: {classification: data-class, owner_dept: owner-dept}
departments:
  - {id: dsj, name: Direction des systèmes}
  - {id: mz, name: Direction des publics}
# The policy only knows 12-digit account ids: the endpoint's label must be one to inherit.
accounts:
  "222233334444": {name: OOS production, dept: dsj}
"""
GOV = "222233334444"


def findings_by(findings: list[Any], check_id: str) -> dict[str, Status]:
    return {f.resource: f.status for f in findings if f.check_id == check_id}


def test_checks_judge_s3_compatible_buckets(estate, tmp_path):
    policy_path = tmp_path / "policy.yaml"
    policy_path.write_text(POLICY, encoding="utf-8")
    policy = load_policy(policy_path)
    lab = s3compat.build("minio-lab", settings(estate, host="localhost", flavour="minio"))
    scopes = [s3compat.build(GOV, settings(estate)), lab]
    store = Store(tmp_path / "audit.db")
    try:
        run = pipeline.collect(store, policy, scopes)
        findings = pipeline.check(store, policy, run)
    finally:
        store.close()

    def gov(name: str) -> str:
        return uid(estate, name)

    lab_untagged = f"s3compat://localhost:{urlsplit(estate).port}/untagged"

    sov = findings_by(findings, "SOV-001")
    assert sov[gov("core-records")] is Status.PASS  # FR, allowed
    assert sov[lab_untagged] is Status.UNKNOWN  # minio without a declared country

    key = findings_by(findings, "KEY-001")
    assert key[gov("untagged")] is Status.FAIL  # important by default, unencrypted
    assert key[gov("core-records")] is Status.UNKNOWN  # a KES key the audit cannot see
    assert key[gov("core-replica")] is Status.PASS  # general: any custody

    flow = findings_by(findings, "FLOW-009")
    assert flow[gov("core-replica")] is Status.FAIL  # copy of core labelled general
    assert flow[gov("untagged")] is Status.FAIL  # no classification tag
    assert flow[gov("core-records")] is Status.PASS

    rsp = findings_by(findings, "RSP-001")
    assert rsp[gov("core-records")] is Status.PASS  # owner-dept tag
    assert rsp[gov("untagged")] is Status.PASS  # through the endpoint's account → dsj
    assert rsp[gov("leaky-policy")] is Status.FAIL  # names an unknown department
    assert rsp[lab_untagged] is Status.FAIL  # minio-lab has no department

    acc = findings_by(findings, "ACC-001")
    assert acc[gov("leaky-policy")] is Status.FAIL  # Principal * on important data
    assert acc[gov("open-data")] is Status.PASS  # public class, public ACL
    assert acc[gov("untagged")] is Status.PASS


def test_checks_say_unknown_over_a_denied_acl(estate, tmp_path):
    policy_path = tmp_path / "policy.yaml"
    policy_path.write_text(POLICY, encoding="utf-8")
    policy = load_policy(policy_path)
    store = Store(tmp_path / "audit.db")
    try:
        with requests_mock.Mocker(real_http=True) as mock:
            mock.get(
                re.compile(r".*/leaky-policy\?(acl|policy)"),
                status_code=403,
                text=ERROR_XML.format(code="AccessDenied"),
            )
            run = pipeline.collect(store, policy, [s3compat.build(GOV, settings(estate))])
        findings = pipeline.check(store, policy, run)
    finally:
        store.close()
    assert findings_by(findings, "ACC-001")[uid(estate, "leaky-policy")] is Status.UNKNOWN


# --- the CLI, with the keys in the cloud config -----------------------------------------------


def test_cli_collect_keeps_the_keys_out_of_everything(estate, tmp_path, capsys):
    parts = urlsplit(estate)
    config = tmp_path / "clouds.ini"
    config.write_text(
        f"[s3:{GOV}]\n"
        f"host = {parts.hostname}\nport = {parts.port}\nsecure = false\n"
        f"access_key = {ACCESS_KEY}\nsecret_key = {SECRET_KEY}\n"
        f"region = {REGION}\nflavour = outscale\n",
        encoding="utf-8",
    )
    policy_path = tmp_path / "policy.yaml"
    policy_path.write_text(POLICY, encoding="utf-8")
    db = tmp_path / "audit.db"
    args = ["collect", "--policy", str(policy_path), "--db", str(db), "--provider", "s3",
            "--cloud-config", str(config)]  # fmt: skip
    with pytest.raises(SystemExit) as info:
        main(args)
    out, err = capsys.readouterr()
    assert info.value.code == 0, err
    store = Store(db)
    try:
        run = store.latest_run()
        names = sorted(r.name for r in store.resources(run.id))
        coverage = store.coverage(run.id)
    finally:
        store.close()
    assert names == ["core-records", "core-replica", "leaky-policy", "open-data", "untagged"]
    assert [(c.provider, c.outcome) for c in coverage] == [("s3", Outcome.OK)]
    written = b"".join(p.read_bytes() for p in tmp_path.glob("audit.db*"))
    for secret in (SECRET_KEY, ACCESS_KEY):
        assert secret.encode() not in written
        assert secret not in out and secret not in err


def test_the_registry_resolves_s3_settings_from_file_and_environment(tmp_path, monkeypatch):
    config = tmp_path / "clouds.ini"
    config.write_text("[s3:lab]\nhost = minio.lab\naccess_key = from-file\n", encoding="utf-8")
    monkeypatch.setenv("GOVAUDIT_S3_SECRET_KEY", SECRET_KEY)
    (cloud,) = clouds("s3", config)
    assert cloud.label == "lab"
    assert cloud.values["secret_key"] == SECRET_KEY and cloud.values["flavour"] == "s3"
    assert SECRET_KEY not in repr(cloud)
    scope = cloud.provider.build(cloud.label, cloud.values)
    assert isinstance(scope, s3compat.S3CompatScope)
    assert SECRET_KEY not in repr(scope)


def test_cli_audit_of_s3_and_outscale_together(estate, tmp_path, capsys):
    """`govaudit audit --provider s3 --provider outscale`: moto for S3, our OAPI answers for
    Outscale; no key reaches the database, the report files or the console."""
    from tests.inventories.libcloud import test_outscale as osc

    parts = urlsplit(estate)
    config = tmp_path / "clouds.ini"
    config.write_text(
        f"[s3:{GOV}]\nhost = {parts.hostname}\nport = {parts.port}\nsecure = false\n"
        f"access_key = {ACCESS_KEY}\nsecret_key = {SECRET_KEY}\nregion = {REGION}\n"
        "flavour = outscale\n\n"
        f"[outscale:{osc.ACCOUNT}]\naccess_key = {osc.ACCESS_KEY}\n"
        f"secret_key = {osc.SECRET_KEY}\nregions = {osc.REGION}\n",
        encoding="utf-8",
    )
    policy_path = tmp_path / "policy.yaml"
    policy_path.write_text(POLICY, encoding="utf-8")
    db, out_dir = tmp_path / "audit.db", tmp_path / "report"
    args = ["audit", "--policy", str(policy_path), "--db", str(db), "--out", str(out_dir),
            "--provider", "s3", "--provider", "outscale",
            "--cloud-config", str(config)]  # fmt: skip
    with requests_mock.Mocker(real_http=True) as mock:
        osc.serve(mock)
        with pytest.raises(SystemExit) as info:
            main(args)
    out, err = capsys.readouterr()
    assert info.value.code == 1, err  # failing findings at the default --fail-on high
    findings = json.loads((out_dir / "findings.json").read_text("utf-8"))
    providers = {f["resource"].split(":", 1)[0] for f in findings}
    assert {"s3compat", "outscale"} <= providers
    written = b"".join(
        p.read_bytes() for p in [*tmp_path.glob("audit.db*"), *out_dir.rglob("*")] if p.is_file()
    )
    for secret in (SECRET_KEY, ACCESS_KEY, osc.SECRET_KEY, osc.ACCESS_KEY):
        assert secret.encode() not in written
        assert secret not in out and secret not in err
