"""One audit of two clouds: the demo AWS estate and an S3-compatible store (a second moto
server standing in for MinIO or Outscale OOS), in one run and one report, read in Chromium."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto.server import ThreadedMotoServer

from auditor.cli import main
from auditor.demo import sample_policy_path
from tests.conftest import free_port
from tests.test_end_to_end import write_profiles

pytestmark = [pytest.mark.moto, pytest.mark.browser]

SECRET = "compat-Secret-Never-Shown-4471"


@pytest.fixture
def compat_endpoint() -> Iterator[str]:
    """A second S3 endpoint: an S3-compatible store of a sovereign provider, in France."""
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    url = f"http://127.0.0.1:{port}"
    s3 = boto3.client(
        "s3", endpoint_url=url, region_name="eu-west-2",
        aws_access_key_id="compat", aws_secret_access_key=SECRET,
    )  # fmt: skip
    location = {"LocationConstraint": "eu-west-2"}
    for name, tags in (
        ("oos-core-records", {"data-class": "核心", "owner-dept": "dsj"}),
        ("oos-open-data", {"data-class": "公开", "owner-dept": "dsj"}),
    ):
        s3.create_bucket(Bucket=name, CreateBucketConfiguration=location)
        tagset = [{"Key": k, "Value": v} for k, v in tags.items()]
        s3.put_bucket_tagging(Bucket=name, Tagging={"TagSet": tagset})
    yield url
    server.stop()


def test_aws_and_s3_compatible_findings_side_by_side(
    moto_endpoint: str,
    compat_endpoint: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    browser: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("AWS_DEFAULT_REGION", raising=False)
    profiles = write_profiles(moto_endpoint)
    port = compat_endpoint.rsplit(":", 1)[1]
    config = tmp_path / "clouds.ini"
    config.write_text(
        "[s3:oos-gov]\nhost = 127.0.0.1\n"
        f"port = {port}\nsecure = false\naccess_key = compat\nsecret_key = {SECRET}\n"
        "region = eu-west-2\nflavour = outscale\n",
        "utf-8",
    )
    out = tmp_path / "report"
    args = ["audit", "--policy", str(sample_policy_path()), "--db", str(tmp_path / "a.db")]
    args += ["--out", str(out), "--profile", profiles[0], "--regions", "cn-north-1,cn-northwest-1"]
    args += ["--endpoint-url", moto_endpoint, "--provider", "aws", "--provider", "s3"]
    args += ["--cloud-config", str(config)]
    with pytest.raises(SystemExit):
        main(args)
    _, stderr = capsys.readouterr()

    findings = json.loads((out / "findings.json").read_text("utf-8"))
    by_provider = {f["resource"].split(":", 1)[0] for f in findings}
    assert {"arn", "s3compat"} <= by_provider, stderr
    sov = {
        f["resource"].rsplit("/", 1)[-1]: f["status"]
        for f in findings
        if f["check_id"] == "SOV-001" and f["resource"].startswith("s3compat:")
    }
    # Core data in France breaks a policy that keeps core data in mainland China; open data
    # may sit anywhere.
    assert sov == {"oos-core-records": "FAIL", "oos-open-data": "PASS"}

    page = browser.new_page(viewport={"width": 1280, "height": 900})
    page.goto((out / "report.html").as_uri(), wait_until="load")
    page.fill("#filter-text", "oos-core-records")
    rows = page.locator(".finding:visible")
    assert rows.count() >= 3  # SOV-001, KEY-001, FLOW-009 ... on the S3-compatible bucket
    text = rows.first.inner_text()
    assert "oos-core-records" in text and "FR" in text
    page.fill("#filter-text", "")
    page.select_option("#filter-check", "SOV-001")
    shown = page.locator(".finding:visible").all_inner_texts()
    assert any("oos-core-records" in t for t in shown)
    assert any("yz-" in t for t in shown)  # the AWS demo buckets beside it
    assert page.locator('#sovereignty-map g.place[data-place="FR"]').is_visible()
    assert SECRET not in page.content()
    page.close()
