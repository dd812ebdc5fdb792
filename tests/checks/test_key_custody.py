"""KEY-002, 003, 006, 007, 008: custody, place, rotation and state of keys; unencrypted copies."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from auditor.inventories.regions import jurisdiction_of
from auditor.model import Kind, Relation, Resource, Severity, Status
from tests.helpers import bucket, edge, key, make_ctx, policy, run_one

ACCOUNT = "111111111111"
CORE = {"data-class": "核心"}
IMPORTANT = {"data-class": "重要"}
GENERAL = {"data-class": "一般"}
SENSITIVE = {"data-class": "敏感"}


def _aws(
    uid: str,
    kind: Kind,
    native_type: str,
    name: str,
    region: str,
    tags: Mapping[str, str] | None,
    attrs: dict[str, Any],
    account: str = ACCOUNT,
) -> Resource:
    """A resource shaped the way the EC2 and RDS adapters emit it."""
    return Resource(
        uid=uid,
        provider="aws",
        kind=kind,
        native_type=native_type,
        name=name,
        account=account,
        region=region,
        partition="aws-cn",
        jurisdiction=jurisdiction_of("aws", region),
        tags=dict(tags or {}),
        attrs={"tags_status": "read", **attrs},
    )


def volume(
    ident: str,
    tags: Mapping[str, str] | None = None,
    region: str = "cn-north-1",
    account: str = ACCOUNT,
    **attrs: Any,
) -> Resource:
    base = {
        "volume_id": ident,
        "encryption_status": "read",
        "encrypted": True,
        "kms_key_arn": None,
        "ebs_default_encryption": False,
        "ebs_default_encryption_status": "read",
        "ebs_default_kms_key_arn": "arn:aws-cn:kms:cn-north-1:111111111111:alias/aws/ebs",
        "ebs_default_kms_key_status": "read",
    }
    uid = f"arn:aws-cn:ec2:{region}:{account}:volume/{ident}"
    return _aws(uid, Kind.VOLUME, "ec2:volume", ident, region, tags, base | attrs, account=account)


def ebs_snapshot(ident: str, tags: Mapping[str, str] | None = None, **attrs: Any) -> Resource:
    base = {
        "snapshot_id": ident,
        "encryption_status": "read",
        "encrypted": False,
        "kms_key_arn": None,
        "sharing_status": "read",
        "shared_with_accounts": [],
        "public": False,
    }
    uid = f"arn:aws-cn:ec2:cn-north-1::snapshot/{ident}"
    return _aws(uid, Kind.SNAPSHOT, "ec2:snapshot", ident, "cn-north-1", tags, base | attrs)


def image(ident: str, **attrs: Any) -> Resource:
    # An AMI whose snapshots the account listing did not show: encryption unknown.
    base: dict[str, Any] = {
        "image_id": ident,
        "encryption_status": "skipped",
        "encrypted": None,
        "kms_key_arn": None,
        "kms_key_arns": [],
        "sharing_status": "read",
    }
    uid = f"arn:aws-cn:ec2:cn-north-1::image/{ident}"
    return _aws(uid, Kind.IMAGE, "ec2:image", ident, "cn-north-1", None, base | attrs)


def database(name: str, tags: Mapping[str, str] | None = None) -> Resource:
    uid = f"arn:aws-cn:rds:cn-north-1:{ACCOUNT}:db:{name}"
    attrs = {"encryption_status": "read", "encrypted": True, "kms_key_arn": None}
    return _aws(uid, Kind.DATABASE, "rds:db", name, "cn-north-1", tags, attrs)


def db_snapshot(name: str, encrypted: bool | None) -> Resource:
    uid = f"arn:aws-cn:rds:cn-north-1:{ACCOUNT}:snapshot:{name}"
    attrs = {
        "snapshot_type": "manual",
        "encryption_status": "read",
        "encrypted": encrypted,
        "kms_key_id": None,
        "kms_key_arn": None,
        "key_owner": None,
    }
    return _aws(uid, Kind.SNAPSHOT, "rds:snapshot", name, "cn-north-1", None, attrs)


# --- KEY-002 ----------------------------------------------------------------------------------


def test_key002_custody_against_the_class_of_the_protected_data():
    keys = [
        key("kms-core"),
        key("xks", origin="EXTERNAL_KEY_STORE", custom_key_store_id="cks-1"),
        key("aws-managed", key_manager="AWS"),
        key("cmk"),
        key("blind", describe_status="denied", origin=None, key_manager=None),
        key("for-general"),
        key("idle"),
    ]
    stores = [
        bucket("core-a", tags=CORE),
        bucket("core-b", tags=CORE),
        bucket("imp-a", tags=IMPORTANT),
        bucket("imp-b", tags=IMPORTANT),
        bucket("imp-c", tags=IMPORTANT),
        bucket("gen", tags=GENERAL),
    ]
    edges = [edge(s, k, Relation.ENCRYPTED_BY) for s, k in zip(stores, keys, strict=False)]
    found = run_one("KEY-002", make_ctx([*keys, *stores], edges))

    fail = found["kms-core"]
    assert (fail.status, fail.severity) == (Status.FAIL, Severity.CRITICAL)
    assert "core" in fail.message and "'hyok'" in fail.message
    assert "origin AWS_KMS" in fail.message and "core-a" in fail.message
    assert "EXTERNAL_KEY_STORE" in fail.message  # what would satisfy the class
    # A new key is made, so the placeholders stay: the judged key's id fills none of them.
    assert fail.fix_command.endswith(
        "--custom-key-store-id CUSTOM_KEY_STORE_ID --xks-key-id EXTERNAL_KEY"
    )

    assert found["xks"].status is Status.PASS
    assert found["xks"].severity is Severity.CRITICAL

    managed = found["aws-managed"]
    assert (managed.status, managed.severity) == (Status.FAIL, Severity.HIGH)
    assert "managed by AWS" in managed.message and "important" in managed.message

    assert found["cmk"].status is Status.PASS
    assert "customer_managed" in found["cmk"].message

    blind = found["blind"]
    assert (blind.status, blind.severity) == (Status.UNKNOWN, Severity.HIGH)
    assert "could not read describe" in blind.message

    assert found["for-general"].status is Status.PASS
    assert "'any'" in found["for-general"].message
    assert "idle" not in found  # protects nothing: no data to hold it against


def test_key002_byok_uses_the_policys_custody_levels():
    keys = [
        key("hsm", origin="AWS_CLOUDHSM"),
        key("imported", origin="EXTERNAL"),
        key("nameless", origin=None),
    ]
    stores = [bucket(f"s{i}", tags=SENSITIVE) for i in range(3)]
    edges = [edge(s, k, Relation.ENCRYPTED_BY) for s, k in zip(stores, keys, strict=True)]
    found = run_one("KEY-002", make_ctx([*keys, *stores], edges, policy("custody")))
    hsm = found["hsm"]
    # CloudHSM is byok by default; this policy's key_custody.levels accepts imported only.
    assert (hsm.status, hsm.severity) == (Status.FAIL, Severity.HIGH)
    assert "sensitive" in hsm.message and "'byok'" in hsm.message
    assert "origin AWS_CLOUDHSM" in hsm.message
    assert found["imported"].status is Status.PASS
    assert found["nameless"].status is Status.UNKNOWN
    assert "origin unknown" in found["nameless"].message


# --- KEY-003 ----------------------------------------------------------------------------------


def test_key003_keys_and_replicas_against_the_allowed_jurisdictions():
    eu_replica = f"arn:aws:kms:eu-central-1:{ACCOUNT}:key/mrk-1"
    primary_cn = f"arn:aws-cn:kms:cn-northwest-1:{ACCOUNT}:key/mrk-2"
    keys = [
        key("home"),
        key(
            "mrk-1",
            multi_region=True,
            multi_region_type="PRIMARY",
            replica_key_arns=[eu_replica],
        ),
        key("abroad", region="eu-west-1"),
        key(
            "mrk-2",
            multi_region=True,
            multi_region_type="REPLICA",
            primary_key_arn=primary_cn,
            replica_key_arns=[f"arn:aws-cn:kms:cn-north-1:{ACCOUNT}:key/mrk-2"],
        ),
        key(
            "mrk-3",
            multi_region=True,
            multi_region_type="PRIMARY",
            replica_key_arns=[f"arn:aws:kms:xx-nowhere-1:{ACCOUNT}:key/mrk-3"],
        ),
        key("blind", describe_status="denied"),
        key("hk-ok", multi_region=True, multi_region_type="PRIMARY"),
    ]
    stores = [
        bucket("core", tags=CORE),
        bucket("imp", tags=IMPORTANT),
        bucket("imp2", tags=IMPORTANT),
        bucket("imp3", tags=IMPORTANT),
        bucket("imp4", tags=IMPORTANT),
        bucket("imp5", tags=IMPORTANT),
        bucket("gen", tags=GENERAL),
    ]
    hk_replica = f"arn:aws:kms:ap-east-1:{ACCOUNT}:key/hk-ok"
    edges = [edge(s, k, Relation.ENCRYPTED_BY) for s, k in zip(stores, keys, strict=True)]
    edges += [
        edge(keys[1], eu_replica, Relation.REPLICATES_TO),
        # A replica known only from the primary's edge, not from the key's own attrs.
        edge(keys[6], hk_replica, Relation.REPLICATES_TO),
    ]
    found = run_one("KEY-003", make_ctx([*keys, *stores], edges))

    assert found["home"].status is Status.PASS
    assert "sits in CN" in found["home"].message

    replica = found["mrk-1"]
    assert (replica.status, replica.severity) == (Status.FAIL, Severity.HIGH)
    assert "important" in replica.message and "imp" in replica.message
    assert f"replica {eu_replica} in eu-central-1 (DE)" in replica.message
    assert "allowed: CN" in replica.message
    assert any("shares key material" in line for line in replica.evidence)

    itself = found["abroad"]
    assert itself.status is Status.FAIL
    assert "the key itself in eu-west-1 (IE)" in itself.message

    assert found["mrk-2"].status is Status.PASS
    assert "1 multi-Region copy sit" in found["mrk-2"].message

    unclear = found["mrk-3"]
    assert unclear.status is Status.UNKNOWN
    assert "xx-nowhere-1" in unclear.message and "not known" in unclear.message

    assert found["blind"].status is Status.UNKNOWN
    assert "could not be read" in found["blind"].message

    # general data may sit in Hong Kong, so its replica there is allowed.
    assert found["hk-ok"].status is Status.PASS
    assert "CN, HK" in found["hk-ok"].message


def test_key003_policy_region_overrides_place_replicas():
    replica = f"arn:aws:kms:xx-nowhere-1:{ACCOUNT}:key/k"
    k = key("k", multi_region=True, multi_region_type="PRIMARY", replica_key_arns=[replica])
    b = bucket("b", tags=IMPORTANT)
    pol = dataclasses.replace(policy(), region_overrides={"aws:xx-nowhere-1": "CN"})
    found = run_one("KEY-003", make_ctx([k, b], [edge(b, k, Relation.ENCRYPTED_BY)], pol))
    assert found["k"].status is Status.PASS


# --- KEY-006 ----------------------------------------------------------------------------------


def test_key006_rotation_of_symmetric_customer_keys():
    symmetric: dict[str, Any] = {"key_spec": "SYMMETRIC_DEFAULT", "key_state": "Enabled"}
    keys = [
        key("rotating", rotation_status="read", rotation_enabled=True, **symmetric),
        key("static", rotation_status="read", rotation_enabled=False, **symmetric),
        key("denied", rotation_status="denied", rotation_enabled=None, **symmetric),
        key("rsa", key_spec="RSA_2048", rotation_status="not_applicable"),
        key("hmac", key_spec="HMAC_256", rotation_status="not_applicable"),
        key("imported", origin="EXTERNAL", key_spec="SYMMETRIC_DEFAULT"),
        key("aws", key_manager="AWS", key_spec="SYMMETRIC_DEFAULT"),
        key(
            "dying",
            rotation_status="read",
            rotation_enabled=False,
            key_spec="SYMMETRIC_DEFAULT",
            key_state="PendingDeletion",
        ),
        key("blind", describe_status="denied", rotation_status="skipped"),
    ]
    b = bucket("core", tags=CORE)
    found = run_one("KEY-006", make_ctx([*keys, b], [edge(b, keys[1], Relation.ENCRYPTED_BY)]))

    assert found["rotating"].status is Status.PASS
    static = found["static"]
    assert (static.status, static.severity) == (Status.FAIL, Severity.MEDIUM)
    assert "core" in static.message and "rotation off" in static.message
    assert static.fix_command == "aws kms enable-key-rotation --key-id static"
    denied = found["denied"]
    assert denied.status is Status.UNKNOWN
    assert "rotation status" in denied.message and "denied" in denied.message
    assert found["blind"].status is Status.UNKNOWN
    for skipped in ("rsa", "hmac", "imported", "aws", "dying"):
        assert skipped not in found


# --- KEY-007 ----------------------------------------------------------------------------------


def test_key007_disabled_or_deleted_keys_under_live_data():
    keys = [
        key("live", key_state="Enabled"),
        key("doomed", key_state="PendingDeletion", deletion_date="2026-03-08T00:00:00+00:00"),
        key("off", key_state="Disabled"),
        key("idle", key_state="Disabled"),
        key("blind", describe_status="error", key_state=None),
        key("odd", key_state="SomethingNew"),
    ]
    stores = [bucket(n, tags=IMPORTANT) for n in ("b1", "b2", "b3")]
    edges = [
        edge(stores[0], keys[0], Relation.ENCRYPTED_BY),
        edge(stores[1], keys[1], Relation.ENCRYPTED_BY),
        edge(stores[2], keys[1], Relation.ENCRYPTED_BY),
        edge(stores[2], keys[2], Relation.ENCRYPTED_BY),
        edge(stores[0], keys[4], Relation.ENCRYPTED_BY),
        edge(stores[0], keys[5], Relation.ENCRYPTED_BY),
    ]
    found = run_one("KEY-007", make_ctx([*keys, *stores], edges))

    assert found["live"].status is Status.PASS
    assert "Enabled" in found["live"].message and "b1" in found["live"].message

    doomed = found["doomed"]
    assert (doomed.status, doomed.severity) == (Status.FAIL, Severity.HIGH)
    assert "scheduled for deletion" in doomed.message
    assert "2026-03-08, in 7 days" in doomed.message
    assert "2 resource(s)" in doomed.message and "b2, b3" in doomed.message
    assert "important" in doomed.message
    assert "cancel-key-deletion --key-id doomed" in doomed.fix_command

    assert found["off"].status is Status.FAIL
    assert "is disabled" in found["off"].message
    assert "idle" not in found  # a disabled key that protects nothing locks nothing out
    assert found["blind"].status is Status.UNKNOWN
    assert "could not read the state" in found["blind"].message
    assert found["odd"].status is Status.UNKNOWN


# --- KEY-008 ----------------------------------------------------------------------------------


def test_key008_snapshots_take_the_strictest_class_of_their_lineage():
    vol_core = volume("vol-core", tags=CORE, ebs_default_encryption=True)
    vol_gen = volume("vol-gen", tags=GENERAL, ebs_default_encryption=True)
    db = database("db-imp", tags=IMPORTANT)
    copies = [
        ebs_snapshot("snap-plain"),
        ebs_snapshot("snap-enc", encrypted=True, kms_key_arn="arn:aws-cn:kms:cn-north-1:1:key/k"),
        ebs_snapshot("snap-gen"),
        ebs_snapshot("snap-mislabelled", tags=GENERAL),
        image("ami-1"),
        db_snapshot("db-snap", encrypted=False),
        db_snapshot("db-unk", encrypted=None),
        ebs_snapshot("snap-denied", encryption_status="denied", encrypted=None),
        ebs_snapshot("snap-orphan"),
    ]
    edges = [
        edge(vol_core, copies[0], Relation.COPIES_TO),
        edge(vol_core, copies[1], Relation.COPIES_TO),
        edge(vol_gen, copies[2], Relation.COPIES_TO),
        edge(vol_core, copies[3], Relation.COPIES_TO),
        edge(copies[0], copies[4], Relation.COPIES_TO),
        edge(db, copies[5], Relation.COPIES_TO),
        edge(db, copies[6], Relation.COPIES_TO),
        edge(vol_core, copies[7], Relation.COPIES_TO),
    ]
    found = run_one("KEY-008", make_ctx([vol_core, vol_gen, db, *copies], edges))

    plain = found["snap-plain"]
    assert (plain.status, plain.severity) == (Status.FAIL, Severity.HIGH)
    assert "core" in plain.message and "copied from" in plain.message
    assert "vol-core" in plain.message and "unencrypted EBS snapshot" in plain.message
    assert "SNAPSHOT_ID" in plain.fix_command

    assert found["snap-enc"].status is Status.PASS
    assert "encrypted with" in found["snap-enc"].message
    gen = found["snap-gen"]
    assert gen.status is Status.PASS
    assert "general does not require encryption (it is unencrypted)" in gen.message
    mislabelled = found["snap-mislabelled"]
    assert mislabelled.status is Status.FAIL and "(core," in mislabelled.message

    ami = found["ami-1"]  # two hops from the volume, through the snapshot
    assert ami.status is Status.UNKNOWN
    assert "core" in ami.message and "AMI" in ami.message

    assert found["db-snap"].status is Status.FAIL
    assert "important" in found["db-snap"].message and "RDS snapshot" in found["db-snap"].message
    assert found["db-unk"].status is Status.UNKNOWN
    assert found["snap-denied"].status is Status.UNKNOWN
    assert "could not read encryption" in found["snap-denied"].message

    orphan = found["snap-orphan"]  # untagged, source unknown: the policy default applies
    assert orphan.status is Status.FAIL
    assert "untagged, treated as important" in orphan.message


def test_key008_ebs_default_encryption_once_per_account_and_region():
    volumes = [
        volume("vol-b", tags=CORE, encrypted=False),
        volume("vol-a", tags=GENERAL),
        volume("vol-on", region="cn-northwest-1", ebs_default_encryption=True),
        volume("vol-gen", tags=GENERAL, account="222222222222"),
        volume(
            "vol-hidden",
            region="cn-northwest-1",
            account="222222222222",
            ebs_default_encryption=None,
            ebs_default_encryption_status="denied",
        ),
    ]
    found = run_one("KEY-008", make_ctx(volumes))

    off = found["vol-a"]  # the region's first volume carries the regional verdict
    assert "vol-b" not in found
    assert (off.status, off.severity) == (Status.FAIL, Severity.HIGH)
    assert "cn-north-1 of account 111111111111" in off.message
    assert "2 volume(s)" in off.message and "holding core data" in off.message
    assert "is off" in off.message and "1 of them unencrypted" in off.message

    on = found["vol-on"]
    assert on.status is Status.PASS
    assert "is on" in on.message and "alias/aws/ebs" in on.message

    general_only = found["vol-gen"]
    assert (general_only.status, general_only.severity) == (Status.FAIL, Severity.MEDIUM)

    hidden = found["vol-hidden"]
    assert hidden.status is Status.UNKNOWN
    assert "could not read EBS default encryption in cn-northwest-1" in hidden.message
