"""AWS adapter: read-only collection of S3, KMS and IAM into resources, edges and coverage.

Coverage rows: one per (account, region, service) attempted. Global services (IAM, the S3
bucket listing) are reported under region `"global"`; STS (the caller identity) under the home
region. Regions of another partition than the target's are not attempted and get no row.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from functools import partial

import boto3
from botocore.exceptions import (
    ClientError,
    CredentialRetrievalError,
    NoCredentialsError,
    PartialCredentialsError,
)

from auditor.errors import CollectionError
from auditor.inventories.aws import iam, kms, s3
from auditor.inventories.aws.calls import (
    DENIED_CODES,
    NETWORK_ERRORS,
    REGION_DISABLED_CODES,
    UNSUPPORTED_CODES,
    error_code,
)
from auditor.inventories.aws.identity import CallerIdentity, get_caller_identity, transform_identity
from auditor.inventories.aws.session import Clients, partition_of
from auditor.model import Coverage, Outcome, Record

log = logging.getLogger(__name__)

PROVIDER = "aws"
GLOBAL = "global"
# Used only when neither the session nor the caller names a region.
FALLBACK_REGION = "us-east-1"

PERMISSIONS: tuple[str, ...] = tuple(sorted({*iam.PERMISSIONS, *kms.PERMISSIONS, *s3.PERMISSIONS}))

__all__ = ["AwsTarget", "CallerIdentity", "collect_account", "collect_aws", "identify"]


@dataclass
class AwsTarget:
    """One set of credentials to audit (one account), optionally against a custom endpoint."""

    session: boto3.Session
    endpoint_url: str | None = None
    label: str = ""


def home_region(session: boto3.Session, regions: Sequence[str] | None) -> str:
    """The region for STS and global services: the session's, else the first requested."""
    return session.region_name or (regions[0] if regions else FALLBACK_REGION)


def identify(clients: Clients, home: str, label: str = "") -> CallerIdentity:
    """Caller identity of a target; raises CollectionError when it has no usable credentials."""
    name = label or "default"
    try:
        raw = get_caller_identity(clients.get("sts", home))
    except (NoCredentialsError, PartialCredentialsError, CredentialRetrievalError) as err:
        raise CollectionError(f"no AWS credentials for target {name}") from err
    except ClientError as err:
        code = error_code(err)
        raise CollectionError(
            f"STS in {home} rejected the credentials of target {name}: {code}"
        ) from err
    except NETWORK_ERRORS as err:
        raise CollectionError(
            f"cannot reach STS in {home} for target {name}: {type(err).__name__}"
        ) from err
    return transform_identity(raw, partition_of(clients.session, home))


def account_regions(
    session: boto3.Session, partition: str, regions: Sequence[str] | None
) -> list[str]:
    """Requested regions of the target's partition, else every KMS region botocore knows there."""
    if regions is None:
        return list(session.get_available_regions("kms", partition_name=partition))
    return [r for r in regions if partition_of(session, r) == partition]


def _outcome(err: ClientError, region: str, home: str) -> tuple[Outcome, str]:
    code = error_code(err)
    detail = f"{err.operation_name}: {code}"
    if code in DENIED_CODES:
        return Outcome.DENIED, detail
    if code in UNSUPPORTED_CODES:
        return Outcome.UNSUPPORTED, detail
    if code in REGION_DISABLED_CODES and region != home:
        return Outcome.UNSUPPORTED, f"{detail} (region not enabled for this account?)"
    return Outcome.ERROR, detail


Produce = Callable[[], tuple[list[Record], str]]


def _service(
    identity: CallerIdentity, region: str, service: str, home: str, produce: Produce
) -> Iterator[Record]:
    """Run one service in one region; every failure becomes its coverage row."""
    try:
        records, detail = produce()
        outcome = Outcome.OK
    except ClientError as err:
        records = []
        outcome, detail = _outcome(err, region, home)
    except NETWORK_ERRORS as err:
        records, outcome, detail = [], Outcome.ERROR, type(err).__name__
    log.info("aws %s %s %s: %s %s", identity.account, region, service, outcome.value, detail)
    yield from records
    yield Coverage(PROVIDER, identity.account, region, service, outcome, detail)


def _iam(clients: Clients, identity: CallerIdentity, home: str) -> tuple[list[Record], str]:
    raw = iam.get_iam(clients.get("iam", home))
    records: list[Record] = list(iam.transform_iam(raw, identity.account, identity.partition))
    return (
        records,
        f"{len(raw['users'])} users, {len(raw['groups'])} groups, {len(raw['roles'])} roles",
    )


def _kms(
    clients: Clients, identity: CallerIdentity, region: str, aliases: dict[str, str]
) -> tuple[list[Record], str]:
    raw = kms.get_kms(clients.get("kms", region), region)
    aliases.update(kms.alias_targets(raw))
    return list(kms.transform_kms(raw, identity.partition)), f"{len(raw['keys'])} keys"


def _s3(
    clients: Clients, identity: CallerIdentity, home: str, aliases: dict[str, str]
) -> tuple[list[Record], str]:
    raw = s3.get_s3(clients, identity.account, home, identity.partition)
    unread = s3.unread_facts(raw)
    detail = f"{len(raw['buckets'])} buckets"
    if unread:
        detail += "; unread: " + ", ".join(f"{k}×{n}" for k, n in sorted(unread.items()))
    return list(s3.transform_s3(raw, aliases)), detail


def collect_account(
    clients: Clients, identity: CallerIdentity, home: str, regions: Sequence[str]
) -> Iterator[Record]:
    """IAM once, KMS in each region, then S3 once (it resolves KMS aliases found before)."""
    yield from _service(identity, GLOBAL, "iam", home, lambda: _iam(clients, identity, home))
    aliases: dict[str, str] = {}
    for region in regions:
        yield from _service(
            identity,
            region,
            "kms",
            home,
            partial(_kms, clients, identity, region, aliases),
        )
    yield from _service(identity, GLOBAL, "s3", home, lambda: _s3(clients, identity, home, aliases))


def collect_aws(
    targets: Iterable[AwsTarget], regions: Sequence[str] | None = None
) -> Iterator[Record]:
    """Collect every target; raises CollectionError only when a target cannot be identified."""
    for target in targets:
        clients = Clients(target.session, target.endpoint_url)
        home = home_region(target.session, regions)
        identity = identify(clients, home, target.label)
        log.info("aws %s (%s) as %s", identity.account, identity.partition, identity.arn)
        yield Coverage(PROVIDER, identity.account, home, "sts", Outcome.OK, identity.arn)
        yield from collect_account(
            clients, identity, home, account_regions(target.session, identity.partition, regions)
        )
