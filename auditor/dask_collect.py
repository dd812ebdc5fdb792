"""Collection on a Dask distributed cluster: account × region tasks, one run in one database.

Collection is embarrassingly parallel by account and region, so an organisation of thousands
of accounts is handed to an engine built for that (Dask distributed: scheduling, retries of
lost workers, dashboards) rather than to a home-made one.  This process plans the tasks,
submits them to the scheduler at ADDRESS, and stores the records each task returns as it
returns them: the database has one writer and the run is complete only when every task is.

Tasks carry no secret: a profile name, a role ARN, an external id, an endpoint and a region.
Each worker builds its own session from its own AWS configuration (the same profile, an
instance or pod role) and, for a member account, assumes the audit role itself.  Workers
therefore need the profile (or a role able to assume the audit role) and network access to
the AWS endpoints; they never need the database.

    dask scheduler                       # on one machine
    dask worker tcp://SCHEDULER:8786     # on each worker (same govaudit version installed)
    govaudit collect --policy p.yaml --db audit.db --profile mgmt --role-name GovAuditReadOnly \\
        --scheduler tcp://SCHEDULER:8786
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from auditor.errors import CollectionError, UsageError
from auditor.inventories.aws import (
    GLOBAL,
    PROVIDER,
    AwsTarget,
    account_regions,
    collect_account,
    home_region,
    identify,
    member_role_arns,
)
from auditor.inventories.aws.accounts import assumed_session
from auditor.inventories.aws.registry import Scope, SharedFacts
from auditor.inventories.aws.session import Clients
from auditor.model import Coverage, Outcome, Record

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class AccountTask:
    """One account's global services, or its services in one region: what a worker runs."""

    label: str
    home: str
    region: str | None  # None: the account's global services (IAM, S3 listing, ...)
    profile: str | None = None
    endpoint_url: str | None = None
    role_arn: str | None = None
    external_id: str | None = None
    workers: int = 4

    @property
    def key(self) -> str:
        return f"{self.label} {self.region or GLOBAL}"


@dataclass(frozen=True)
class TaskResult:
    records: list[Record]
    # KMS alias ARN -> key ARN learned in a region: the global task resolves S3 keys with them.
    aliases: dict[str, str]


def run_task(task: AccountTask, *regional: TaskResult) -> TaskResult:
    """Collect one task on a worker; every failure becomes a coverage row, never an error.

    `regional` are the results of the account's region tasks (passed to its global task).
    """
    import boto3  # on the worker

    facts = SharedFacts()
    for result in regional:
        facts.add_aliases(result.aliases)
    try:
        session = boto3.Session(profile_name=task.profile, region_name=task.home)
        if task.role_arn:
            session = assumed_session(
                session, task.role_arn, task.home, task.endpoint_url, task.external_id
            )
        clients = Clients(session, task.endpoint_url)
        identity = identify(clients, task.home, task.label)
    except (CollectionError, ValueError) as err:
        region = task.region or GLOBAL
        row = Coverage(PROVIDER, task.label, region, "sts", Outcome.DENIED, str(err))
        return TaskResult([row], {})
    only = Scope.GLOBAL if task.region is None else Scope.REGIONAL
    regions = [] if task.region is None else [task.region]
    records = list(
        collect_account(clients, identity, task.home, regions, task.workers, only, facts)
    )
    return TaskResult(records, facts.aliases() if task.region is not None else {})


def _profile_of(target: AwsTarget) -> str | None:
    # A session built from a profile names it; the default chain has none to pass on.
    name = target.session.profile_name
    return None if name == "default" and not target.label.startswith("profile ") else name


def plan(
    targets: Iterable[AwsTarget],
    regions: Sequence[str] | None,
    workers: int,
) -> Iterator[Coverage | list[AccountTask]]:
    """Identify each target here (a named target that fails stops the audit), then yield
    its coverage rows and, per account, its tasks: one per region, the global one last."""
    for target in targets:
        clients = Clients(target.session, target.endpoint_url)
        home = home_region(target.session, regions)
        identity = identify(clients, home, target.label)
        yield Coverage(PROVIDER, identity.account, home, "sts", Outcome.OK, identity.arn)
        chosen, skipped = account_regions(clients, identity, home, regions)
        yield from skipped
        base = AccountTask(
            label=identity.account,
            home=home,
            region=None,
            profile=_profile_of(target),
            endpoint_url=target.endpoint_url,
            workers=workers,
        )
        yield _account_tasks(base, chosen)
        if not target.role_name:
            continue
        arns = yield from member_role_arns(clients, target, identity, home)
        for arn in arns:
            member = dataclasses.replace(
                base, label=arn.split(":")[4], role_arn=arn, external_id=target.external_id
            )
            yield _account_tasks(member, chosen)


def _account_tasks(base: AccountTask, regions: Sequence[str]) -> list[AccountTask]:
    regional = [dataclasses.replace(base, region=r) for r in regions]
    return [*regional, base]


@dataclass(frozen=True)
class DaskScope:
    """AWS collected on a Dask cluster: a `pipeline.Scope`."""

    address: str
    targets: Sequence[AwsTarget]
    regions: Sequence[str] | None = None
    workers: int = 4

    def records(self) -> Iterator[Record]:
        try:
            from distributed import Client, as_completed
        except ImportError as exc:
            raise UsageError(
                "--scheduler needs Dask distributed: pip install 'govaudit[dask]'"
            ) from exc
        try:
            connect: Any = Client  # distributed is untyped
            client = connect(self.address, timeout="30s")
        except OSError as exc:
            raise UsageError(f"cannot reach the Dask scheduler at {self.address}: {exc}") from exc
        with client:
            yield from self._run(client, as_completed)

    def _run(self, client: Any, as_completed: Any) -> Iterator[Record]:
        futures = []
        for item in plan(self.targets, self.regions, self.workers):
            if isinstance(item, Coverage):
                yield item
                continue
            *regional, global_task = item
            # pure=False: the same task in a later audit must run again, not come from cache.
            region_futures = [client.submit(run_task, t, key=_key(t), pure=False) for t in regional]
            futures += region_futures
            futures.append(
                client.submit(run_task, global_task, *region_futures, key=_key(global_task))
            )
        log.info("dask: %s task(s) submitted to %s", len(futures), self.address)
        for future in as_completed(futures):
            result: TaskResult = future.result()
            yield from result.records
            future.release()


def _key(task: AccountTask) -> str:
    # Dask shows task keys on its dashboard: say what runs; unique per submission.
    import uuid

    return f"govaudit {task.key} {uuid.uuid4().hex[:8]}"
