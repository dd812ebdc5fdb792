"""AWS adapter: read-only collection of S3, KMS and IAM into resources, edges and coverage.

Coverage rows: one per (account, region, service) attempted. Global services (IAM, the S3
bucket listing) are reported under region `"global"`; STS (the caller identity) under the home
region. Regions of another partition than the target's are not attempted and get no row.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Generator, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from itertools import groupby

import boto3
from botocore.exceptions import (
    ClientError,
    CredentialRetrievalError,
    NoCredentialsError,
    PartialCredentialsError,
)

from auditor.errors import CollectionError, ReadOnlyViolation
from auditor.inventories.aws.accounts import assumed_session, role_arn
from auditor.inventories.aws.calls import (
    DENIED_CODES,
    NETWORK_ERRORS,
    NOT_ENABLED_CODES,
    READ_FAILURES,
    REGION_DISABLED_CODES,
    THROTTLED_CODES,
    UNSUPPORTED_CODES,
    error_code,
    fault_detail,
    faults,
    reset_faults,
)
from auditor.inventories.aws.identity import CallerIdentity, get_caller_identity, transform_identity
from auditor.inventories.aws.registry import (
    Scope,
    Service,
    ServiceContext,
    SharedFacts,
    all_permissions,
    services,
)
from auditor.inventories.aws.session import (
    Clients,
    MalformedAnswerError,
    call_count,
    last_operation,
    partition_of,
    reset_call_count,
)
from auditor.model import Coverage, Outcome, Record

log = logging.getLogger(__name__)

PROVIDER = "aws"
GLOBAL = "global"
# Used only when neither the session nor the caller names a region.
FALLBACK_REGION = "us-east-1"

NOT_OPTED_IN = "opt-in region not enabled for the account"
# Concurrent (service, region) collections per account; botocore clients are thread-safe.
DEFAULT_WORKERS = 8

__all__ = ["AwsTarget", "CallerIdentity", "collect_account", "collect_aws", "identify"]


def __getattr__(name: str) -> tuple[str, ...]:
    # PERMISSIONS is computed on first use: the service modules import this package.
    if name == "PERMISSIONS":
        return all_permissions()
    raise AttributeError(name)


@dataclass
class AwsTarget:
    """One set of credentials to audit (one account), optionally against a custom endpoint.

    With `role_name`, the target is an organisation's management (or delegated
    administrator) account: every other active member account is audited too, through that
    role.  A member whose role cannot be assumed becomes a coverage row, not a failure.
    """

    session: boto3.Session
    endpoint_url: str | None = None
    label: str = ""
    role_name: str | None = None
    external_id: str | None = None
    # A target the user named must work (exit 3 otherwise); a discovered member need not.
    required: bool = True


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
    except READ_FAILURES as err:
        raise CollectionError(
            f"cannot reach STS in {home} for target {name}: {type(err).__name__}"
        ) from err
    return transform_identity(raw, partition_of(clients.session, home))


def account_regions(
    clients: Clients, identity: CallerIdentity, home: str, regions: Sequence[str] | None
) -> tuple[list[str], list[Coverage]]:
    """Regions to collect, and a coverage row for each region skipped as not enabled.

    Requested regions are kept when they belong to the caller's partition.  With none
    requested, every region botocore knows in the partition, less opt-in regions the account
    has not enabled (EC2 DescribeRegions says which; if it cannot, all are tried).
    """
    session, partition = clients.session, identity.partition
    if regions is not None:
        return [r for r in regions if partition_of(session, r) == partition], []
    known = list(session.get_available_regions("kms", partition_name=partition))
    try:
        answer = clients.get("ec2", home).describe_regions(AllRegions=True)
    except (ClientError, *READ_FAILURES) as err:
        log.info("aws %s: DescribeRegions failed (%s); trying every region", identity.account, err)
        return known, []
    disabled = {
        r["RegionName"] for r in answer.get("Regions", []) if r.get("OptInStatus") == "not-opted-in"
    }
    skipped = [
        Coverage(
            PROVIDER,
            identity.account,
            r,
            "region",
            Outcome.NOT_ENABLED,
            "opt-in region not enabled",
        )
        for r in known
        if r in disabled
    ]
    return [r for r in known if r not in disabled], skipped


def _outcome(err: ClientError, region: str, home: str) -> tuple[Outcome, str]:
    code = error_code(err)
    detail = f"{err.operation_name}: {code}"
    if code in DENIED_CODES:
        return Outcome.DENIED, detail
    if code in THROTTLED_CODES:
        return Outcome.THROTTLED, f"{detail} (still throttled after retries)"
    if code in NOT_ENABLED_CODES or (code in REGION_DISABLED_CODES and region != home):
        return Outcome.NOT_ENABLED, f"{detail} (service or region not enabled for the account)"
    if code in UNSUPPORTED_CODES:
        return Outcome.UNSUPPORTED, detail
    return Outcome.ERROR, detail


def _collect(service: Service, ctx: ServiceContext) -> tuple[list[Record], Outcome, str]:
    """The service's records, outcome and detail; no failure of a read escapes.

    A per-fact read that was denied, throttled or not answered leaves the service's row
    not "ok" (the checks say UNKNOWN over that fact; the row says why).  An answer an adapter
    cannot use at all drops what the service found in that region: the row says so.
    """
    reset_faults()
    try:
        records, detail = service.collect(ctx)
    except ClientError as err:
        return [], *_outcome(err, ctx.region, ctx.home)
    except NETWORK_ERRORS as err:
        return [], Outcome.ERROR, type(err).__name__
    except MalformedAnswerError as err:
        return [], Outcome.ERROR, str(err)
    except READ_FAILURES as err:
        # botocore's parser error quotes the whole body: keep the row to one line.
        return [], Outcome.ERROR, f"{last_operation()}: {type(err).__name__}"
    except (ReadOnlyViolation, AssertionError):
        # A refused write is a bug to stop at; so is a test stub's failed expectation.
        raise
    except Exception as err:
        # An answer no adapter expected (a null where an id belongs, ...) must not end the
        # audit of every other service and account.
        log.exception("aws %s %s %s failed", ctx.identity.account, ctx.region, service.name)
        why = f"{type(err).__name__}: {err}".splitlines()[0][:120]
        return [], Outcome.ERROR, f"unexpected answer after {last_operation()} ({why})"
    met = faults()
    if not met:
        return records, Outcome.OK, detail
    outcome, why = fault_detail(met)
    return records, outcome, f"{detail}; {why}"


def _run_service(service: Service, ctx: ServiceContext) -> list[Record]:
    """Run one service in one region; every failure becomes its coverage row, with timings."""
    started = time.perf_counter()
    reset_call_count()
    records, outcome, detail = _collect(service, ctx)
    elapsed_ms = round((time.perf_counter() - started) * 1000)
    calls = call_count()
    region = GLOBAL if service.scope is Scope.GLOBAL else ctx.region
    log.info(
        "aws %s %s %s: %s %s (%s calls, %s ms)",
        ctx.identity.account, region, service.name, outcome.value, detail, calls, elapsed_ms,
    )  # fmt: skip
    coverage = Coverage(
        PROVIDER, ctx.identity.account, region, service.name, outcome, detail, elapsed_ms, calls
    )
    return [*records, coverage]


def _tasks(
    phase: Sequence[Service], clients: Clients, identity: CallerIdentity, home: str,
    regions: Sequence[str], facts: SharedFacts, only: Scope | None,
) -> list[tuple[Service, ServiceContext]]:  # fmt: skip
    tasks = []
    for service in phase:
        if only is not None and service.scope is not only:
            continue
        where = [home] if service.scope is Scope.GLOBAL else list(regions)
        for region in where:
            tasks.append((service, ServiceContext(clients, identity, region, home, facts)))
    return tasks


def collect_account(
    clients: Clients,
    identity: CallerIdentity,
    home: str,
    regions: Sequence[str],
    workers: int = DEFAULT_WORKERS,
    only: Scope | None = None,
    facts: SharedFacts | None = None,
) -> Iterator[Record]:
    """Every service in every region of one account, `workers` at a time, phase by phase.

    Records are yielded as each (service, region) finishes, so the caller can store them in
    batches while the rest is still being collected.  `only` keeps the global or the
    regional services (a distributed collection runs them as separate tasks); `facts` carries
    what other tasks learned (the KMS aliases of every region, for the global S3 listing).
    """
    facts = facts if facts is not None else SharedFacts()
    for _, phase in groupby(services(), key=lambda s: s.phase):
        tasks = _tasks(list(phase), clients, identity, home, regions, facts, only)
        with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
            # No list of the futures is kept here: as_completed lets go of each future once
            # yielded, so a (service, region)'s records are freed as soon as they are stored
            # instead of the whole phase's staying in memory (1.2 GB at 50k resources).
            for future in as_completed(
                [pool.submit(_run_service, service, ctx) for service, ctx in tasks]
            ):
                records = future.result()
                del future
                yield from records
                del records


def collect_aws(
    targets: Iterable[AwsTarget],
    regions: Sequence[str] | None = None,
    workers: int = DEFAULT_WORKERS,
) -> Iterator[Record]:
    """Collect every target; only a named target that cannot be identified raises."""
    for target in targets:
        clients = Clients(target.session, target.endpoint_url)
        home = home_region(target.session, regions)
        try:
            identity = identify(clients, home, target.label)
        except CollectionError as err:
            if target.required:
                raise
            yield Coverage(PROVIDER, target.label, home, "sts", Outcome.DENIED, str(err))
            continue
        log.info("aws %s (%s) as %s", identity.account, identity.partition, identity.arn)
        yield Coverage(PROVIDER, identity.account, home, "sts", Outcome.OK, identity.arn)
        chosen, skipped = account_regions(clients, identity, home, regions)
        yield from skipped
        yield from collect_account(clients, identity, home, chosen, workers)
        if target.role_name:
            members = yield from _member_targets(clients, target, identity, home)
            yield from collect_aws(members, regions, workers)


def member_role_arns(
    clients: Clients, target: AwsTarget, identity: CallerIdentity, home: str
) -> Generator[Coverage, None, list[str]]:
    """The audit role's ARN in each of the organisation's other active accounts; a listing
    that fails is one coverage row (yielded) and no member."""
    # Imported here: the organizations module is itself a service of this package.
    from auditor.inventories.aws.organizations import list_member_accounts

    assert target.role_name is not None
    try:
        members = list_member_accounts(clients, home)
    except ClientError as err:
        detail = f"cannot list member accounts for --role-name: {error_code(err)}"
        yield Coverage(PROVIDER, identity.account, GLOBAL, "organizations", Outcome.DENIED, detail)
        return []
    except READ_FAILURES as err:
        detail = f"cannot list member accounts for --role-name: {type(err).__name__}"
        yield Coverage(PROVIDER, identity.account, GLOBAL, "organizations", Outcome.ERROR, detail)
        return []
    arns = [
        role_arn(identity.partition, member["id"], target.role_name)
        for member in members
        if member["id"] != identity.account and member.get("status") == "ACTIVE"
    ]
    log.info("aws %s: %s member account(s) to audit", identity.account, len(arns))
    return arns


def _member_targets(
    clients: Clients, target: AwsTarget, identity: CallerIdentity, home: str
) -> Generator[Record, None, list[AwsTarget]]:
    """The organisation's other active accounts, each through the audit role."""
    arns = yield from member_role_arns(clients, target, identity, home)
    return [
        AwsTarget(
            assumed_session(target.session, arn, home, target.endpoint_url, target.external_id),
            target.endpoint_url,
            f"{arn.split(':')[4]} via {arn}",
            required=False,
        )
        for arn in arns
    ]
