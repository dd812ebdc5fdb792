"""The shared libcloud plumbing: the read-only guard, outcomes, safe details, coverage rows."""

from __future__ import annotations

import io
import json

import pytest
import requests
import requests_mock
from libcloud.common.exceptions import BaseHTTPError, RateLimitReachedError
from libcloud.common.types import InvalidCredsError, MalformedResponseError, ProviderError
from libcloud.compute.drivers.openstack import OpenStack_2_NodeDriver
from libcloud.storage.drivers.rgw import S3RGWStorageDriver

from auditor.errors import ReadOnlyViolation
from auditor.inventories.libcloud.common import (
    OAPI_READ_PREFIXES,
    CallCounter,
    Faults,
    Request,
    Where,
    check_action,
    check_request,
    collect_service,
    guard_connection,
    keystone_or_read,
    outcome_of,
    read_verbs,
    request_of,
    rpc_reads,
    safe_detail,
    safe_text,
)
from auditor.model import Coverage, Outcome, Resource

HOST = "s3.gov.example"
BASE = f"https://{HOST}"
WHERE = Where("s3", "minio-gov", "global")


def s3_driver() -> S3RGWStorageDriver:
    return S3RGWStorageDriver(
        "AKIDEXAMPLE", "secret-key-value", host=HOST, region="eu-west-3", signature_version="4"
    )


# --- the guard --------------------------------------------------------------------------------


@pytest.mark.parametrize("method", ["PUT", "POST", "DELETE", "PATCH", "put"])
def test_http_guard_refuses_writes_before_any_request(method):
    driver = s3_driver()
    counter = guard_connection(driver.connection, read_verbs)
    with requests_mock.Mocker() as mock:
        mock.register_uri(requests_mock.ANY, requests_mock.ANY, status_code=200, text="")
        with pytest.raises(ReadOnlyViolation, match=f"refused {method.upper()} /bucket"):
            driver.connection.request("/bucket", method=method)
        assert mock.call_count == 0
    assert counter.total == 0


def test_http_guard_lets_reads_through_and_counts_them():
    driver = s3_driver()
    counter = guard_connection(driver.connection, read_verbs)
    with requests_mock.Mocker() as mock:
        mock.get(f"{BASE}/bucket?acl=", text="<AccessControlPolicy/>")
        mock.head(f"{BASE}/bucket", status_code=200)
        driver.connection.request("/bucket", params={"acl": ""}, raw=True)
        driver.connection.request("/bucket", method="HEAD")
        assert [r.method for r in mock.request_history] == ["GET", "HEAD"]
    assert counter.total == 2


def test_driver_write_operations_are_refused():
    """What a caller of the driver would do: create, delete, upload."""
    driver = s3_driver()
    guard_connection(driver.connection, read_verbs)
    with requests_mock.Mocker() as mock:
        mock.register_uri(requests_mock.ANY, requests_mock.ANY, status_code=200, text="")
        with pytest.raises(ReadOnlyViolation):
            driver.create_container("new-bucket")
        with pytest.raises(ReadOnlyViolation):
            driver.connection.request("/bucket", method="DELETE")
        assert mock.call_count == 0


def test_the_http_client_below_is_guarded_too_and_survives_a_reconnect():
    driver = s3_driver()
    guard_connection(driver.connection, read_verbs)
    with requests_mock.Mocker() as mock:
        mock.register_uri(requests_mock.ANY, requests_mock.ANY, status_code=200, text="")
        http = driver.connection.connection
        assert http is not None
        with pytest.raises(ReadOnlyViolation):
            http.request("DELETE", "/bucket")
        driver.connection.connect()  # a new HTTP client, from the guarded class
        http = driver.connection.connection
        assert http is not None
        with pytest.raises(ReadOnlyViolation):
            http.request("PUT", "/bucket")
        with pytest.raises(ReadOnlyViolation):
            http.prepared_request("POST", "/bucket", body=io.BytesIO())
        assert mock.call_count == 0


KEYSTONE = "https://keystone.gov.example:5000"


def openstack_driver() -> OpenStack_2_NodeDriver:
    return OpenStack_2_NodeDriver(
        "auditor", "keystone-password", ex_force_auth_url=KEYSTONE,
        ex_force_auth_version="3.x_password", ex_tenant_name="ministry-x",
        ex_domain_name="Default", ex_force_service_region="fr-par-gov",
    )  # fmt: skip


def test_keystone_connection_inherits_the_guard():
    """libcloud builds the identity connection from the compute one: a GET/HEAD-only guard
    refuses even the token POST, proving the identity connection is guarded."""
    driver = openstack_driver()
    guard_connection(driver.connection, read_verbs)
    with requests_mock.Mocker() as mock:
        mock.register_uri(requests_mock.ANY, requests_mock.ANY, status_code=201, json={})
        with pytest.raises(ReadOnlyViolation, match="POST /v3/auth/tokens"):
            driver.list_nodes()
        assert mock.call_count == 0


def test_keystone_guard_lets_the_token_post_through():
    driver = openstack_driver()
    guard_connection(driver.connection, keystone_or_read)
    with requests_mock.Mocker() as mock:
        mock.post(
            f"{KEYSTONE}/v3/auth/tokens",
            status_code=401,
            json={"error": {"code": 401}},
            headers={"content-type": "application/json"},
        )
        with pytest.raises(InvalidCredsError) as info:
            driver.list_nodes()
        assert [r.path for r in mock.request_history] == ["/v3/auth/tokens"]
    assert outcome_of(info.value) is Outcome.DENIED


@pytest.mark.parametrize(
    ("request_", "allowed"),
    [
        (Request("GET", "/v2.1/servers/detail"), True),
        (Request("HEAD", "/v1/AUTH_x/container"), True),
        (Request("POST", "/v3/auth/tokens"), True),
        (Request("POST", "/identity/v3/auth/tokens/"), True),
        (Request("POST", "/v2.0/tokens"), True),
        (Request("POST", "/v3/auth/tokens/extra"), False),
        (Request("POST", "/v2.0/tenants"), False),
        (Request("POST", "/v2.1/servers"), False),
        (Request("PUT", "/v3/auth/tokens"), False),
        (Request("DELETE", "/v3/auth/tokens"), False),
    ],
)
def test_keystone_or_read(request_, allowed):
    assert keystone_or_read(request_) is allowed


@pytest.mark.parametrize(
    ("method", "url", "body", "allowed"),
    [
        ("GET", "/?Action=DescribeInstances&RegionId=cn-hangzhou", None, True),
        ("GET", "/?Action=ListTagResources", None, True),
        ("POST", "/", "Action=DescribeDisks&Signature=abc", True),
        ("GET", "/?Action=DeleteInstance", None, False),
        ("GET", "/?Action=ModifyDiskAttribute", None, False),
        ("POST", "/", "Action=CreateDisk", False),
        ("GET", "/?RegionId=cn-hangzhou", None, False),
        ("PUT", "/?Action=DescribeInstances", None, False),
        ("GET", "/?Action=describeinstances", None, False),
    ],
)
def test_rpc_reads(method, url, body, allowed):
    assert rpc_reads(request_of(method, url, body)) is allowed


def test_refusal_message_never_carries_the_query():
    request = request_of("GET", "/?Action=DeleteDisk&AccessKeyId=LTAIsecret&Signature=sig123")
    with pytest.raises(ReadOnlyViolation) as info:
        check_request(request, rpc_reads)
    message = str(info.value)
    assert "Action=DeleteDisk" in message
    assert "LTAIsecret" not in message and "sig123" not in message


@pytest.mark.parametrize("action", ["ReadVms", "ReadApiAccessRules"])
def test_oapi_reads_pass(action):
    check_action(action, OAPI_READ_PREFIXES)


@pytest.mark.parametrize(
    "action", ["CreateVms", "DeleteVolume", "UpdateVm", "readVms", "RebootVms"]
)
def test_oapi_writes_are_refused(action):
    with pytest.raises(ReadOnlyViolation, match=action):
        check_action(action, OAPI_READ_PREFIXES)


# --- outcomes ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("exc", "outcome"),
    [
        (InvalidCredsError("nope"), Outcome.DENIED),
        (ProviderError("forbidden", 403), Outcome.DENIED),
        (BaseHTTPError(401, "unauthorised"), Outcome.DENIED),
        (BaseHTTPError(403, "forbidden"), Outcome.DENIED),
        (RateLimitReachedError(), Outcome.THROTTLED),
        (BaseHTTPError(429, "slow down"), Outcome.THROTTLED),
        (BaseHTTPError(500, "boom"), Outcome.ERROR),
        (ProviderError("unavailable", 503), Outcome.ERROR),
        (requests.ConnectionError("refused"), Outcome.ERROR),
        (requests.Timeout("slow"), Outcome.ERROR),
        (TimeoutError("slow"), Outcome.ERROR),
        (ConnectionRefusedError(111, "refused"), Outcome.ERROR),
        (MalformedResponseError("bad xml", body="<"), Outcome.ERROR),
        (json.JSONDecodeError("bad", "{", 0), Outcome.ERROR),
        (KeyError("Vms"), Outcome.ERROR),
    ],
)
def test_outcome_of(exc, outcome):
    assert outcome_of(exc) is outcome


def test_outcome_of_a_refused_write_raises_it():
    with pytest.raises(ReadOnlyViolation):
        outcome_of(ReadOnlyViolation("refused PUT /x"))


def test_http_error_from_requests_response_is_classified():
    response = requests.Response()
    response.status_code = 403
    assert outcome_of(requests.HTTPError(response=response)) is Outcome.DENIED


# --- safe details -----------------------------------------------------------------------------

SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
ACCESS = "AKIAIOSFODNN7EXAMPLE"


def test_safe_text_removes_secrets_urls_and_key_like_runs():
    text = (
        f"failed https://user:{SECRET}@s3.gov.example:9000/bucket?X-Amz-Signature=abc123&X=1\n"
        f"<AWSAccessKeyId>{ACCESS}</AWSAccessKeyId> password=hunter2 token: tok-9 "
        "ServerSideEncryptionConfigurationNotFoundError"
    )
    line = safe_text(text, secrets=(SECRET,))
    for leaked in (SECRET, ACCESS, "user:", "X-Amz-Signature", "abc123", "hunter2", "tok-9"):
        assert leaked not in line
    assert "\n" not in line
    assert "https://s3.gov.example:9000/bucket" in line
    # An error code (letters only) is what the reader needs: it stays.
    assert "ServerSideEncryptionConfigurationNotFoundError" in line


def test_safe_text_is_bounded():
    assert len(safe_text("x " * 1000)) <= 200


def test_safe_detail_names_type_and_status():
    detail = safe_detail(InvalidCredsError(f"<Error><Code>AccessDenied</Code>{ACCESS}</Error>"))
    assert detail.startswith("InvalidCredsError HTTP 401: ")
    assert "AccessDenied" in detail and ACCESS not in detail
    assert safe_detail(BaseHTTPError(500, f"key {SECRET}"), (SECRET,)) == (
        "BaseHTTPError HTTP 500: key ***"
    )


# --- collect_service --------------------------------------------------------------------------


def _resource(uid: str) -> Resource:
    from auditor.model import Kind

    return Resource(uid, "s3", Kind.OBJECT_STORE, "s3compat:bucket", uid)


def test_collect_service_success_counts_calls():
    counter = CallCounter(total=5)

    def read():
        counter.total += 3
        return [_resource("a")], "1 buckets"

    records = collect_service(WHERE, "s3", read, counter)
    row = records[-1]
    assert isinstance(row, Coverage)
    assert (row.provider, row.account, row.region, row.service) == (
        "s3",
        "minio-gov",
        "global",
        "s3",
    )
    assert (row.outcome, row.detail, row.api_calls) == (Outcome.OK, "1 buckets", 3)
    assert records[:-1] == [_resource("a")]


def test_collect_service_failure_is_one_safe_row():
    def read():
        raise InvalidCredsError(f"denied for {ACCESS} with {SECRET}")

    records = collect_service(WHERE, "s3", read, secrets=(ACCESS, SECRET))
    assert len(records) == 1
    row = records[0]
    assert isinstance(row, Coverage) and row.outcome is Outcome.DENIED
    assert ACCESS not in row.detail and SECRET not in row.detail
    assert "\n" not in row.detail


def test_collect_service_faults_degrade_the_row_but_keep_records():
    faults = Faults()

    def read():
        faults.note("GetAcl", "AccessDenied", Outcome.DENIED)
        faults.note("GetAcl", "AccessDenied", Outcome.DENIED)
        faults.note("GetPolicy", "SlowDown", Outcome.THROTTLED)
        return [_resource("a")], "1 buckets"

    records = collect_service(WHERE, "s3", read, faults=faults)
    row = records[-1]
    assert isinstance(row, Coverage)
    assert row.outcome is Outcome.THROTTLED  # worse than denied
    assert row.detail == "1 buckets; faults: GetAcl AccessDenied×2, GetPolicy SlowDown×1"
    assert len(records) == 2


def test_collect_service_lets_a_refused_write_stop_the_run():
    def read():
        raise ReadOnlyViolation("refused PUT /bucket")

    with pytest.raises(ReadOnlyViolation):
        collect_service(WHERE, "s3", read)


def test_safe_text_drops_the_query_of_a_bare_path() -> None:
    """Some errors quote the request as a path only: its query (action, key id, signature)
    must go the way a full URL's does."""
    line = safe_text(
        "ConnectionError url: /?Action=DescribeDisks&AccessKeyId=LTAIxyz&Signature=abc"
    )
    assert line == "ConnectionError url: /"
    assert safe_text("GET /v3/volumes/detail?limit=1000 failed") == "GET /v3/volumes/detail failed"
