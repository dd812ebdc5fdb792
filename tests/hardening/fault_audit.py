"""Audits of the fault estate with one fault injected, judged against a fault-free baseline.

A full collection of the estate takes seconds; the fault matrix needs hundreds of audits.  So
the baseline audit records what every (service, account, region) collection returned and
which operations it sent, and each faulted audit runs `pipeline.collect` and `pipeline.check`
for real with one change: only the collections that sent the faulted operation run live, over
HTTP from moto through the injector; every other one would send exactly the baseline's
requests and is answered from the recording.  KMS aliases (the one fact a collection hands to
another, through `SharedFacts`) are recorded and replayed per account and region with the rest.
`test_replayed_audit_equals_the_live_one` checks that replaying changes nothing.
"""

from __future__ import annotations

import dataclasses
import re
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from auditor import pipeline
from auditor.demo import sample_policy_path
from auditor.demo_estate import ACCOUNTS
from auditor.inventories import aws as aws_adapter
from auditor.inventories.aws import AwsTarget
from auditor.inventories.aws import session as aws_session
from auditor.inventories.aws.registry import Service, ServiceContext, SharedFacts, services
from auditor.model import Coverage, Finding, Outcome, Record, Resource, Status
from auditor.pipeline import AwsScope
from auditor.policy import Policy
from auditor.policy_loader import read_policy
from auditor.store import Store
from tests.hardening.fault_estate import seed_fault_estate
from tests.hardening.fault_injector import Fault, FaultInjector, service_id

# Attempts per request while faults run: botocore still decides and counts every retry, only
# fewer of them, and without the sleeps (see `fast_retries`).
FAULT_MAX_ATTEMPTS = 3

Key = tuple[str, str, str]  # (service, account, region the collection ran for)
Verdicts = dict[tuple[str, str], Status]  # (check, resource) -> status


@dataclass
class Estate:
    """The seeded moto server and one boto3 session per demo account."""

    endpoint: str
    policy: Policy
    sessions: dict[str, Any]

    def scopes(self) -> list[AwsScope]:
        return [
            AwsScope(
                targets=[AwsTarget(self.sessions[a.account], self.endpoint, a.account)],
                regions=a.regions,
            )
            for a in ACCOUNTS
        ]


def seed(endpoint: str) -> Estate:
    credentials = seed_fault_estate(endpoint)
    sessions = {a.account: credentials[a.account].session(a.regions[0]) for a in ACCOUNTS}
    return Estate(endpoint, read_policy(sample_policy_path()), sessions)


@dataclass
class Recording:
    """What each collection returned, to answer from in faulted audits, and the operations
    (service id, operation) each sent."""

    records: dict[Key, list[Record]] = field(default_factory=dict)
    aliases: dict[tuple[str, str], dict[str, str]] = field(default_factory=dict)
    sent: dict[Key, set[tuple[str, str]]] = field(default_factory=dict)

    def callers(self, client: str, operation: str) -> set[Key]:
        """The collections that sent `operation` of botocore service `client`."""
        wanted = (service_id(client), operation)
        return {key for key, sent in self.sent.items() if wanted in sent}


# The collection the current thread runs, for the `before-send` recorder.
_current = threading.local()


def _record_send(event_name: str = "", **_: Any) -> None:
    key = getattr(_current, "key", None)
    sink = getattr(_current, "sink", None)
    if key is not None and sink is not None:
        _event, service, operation = event_name.split(".")
        sink.sent.setdefault(key, set()).add((service, operation))


@dataclass
class Audit:
    """One audit's outcome: completed or not, its coverage, resources and verdicts, and what
    the live collections returned."""

    completed: bool
    error: str
    coverage: list[Coverage]
    resources: dict[str, Resource]
    verdicts: Verdicts
    seconds: float
    live: Recording = field(default_factory=Recording)


def _key(service: Service, ctx: ServiceContext) -> Key:
    return service.name, ctx.identity.account, ctx.region


def _runner(
    live: Callable[[Key], bool], replay: Recording, sink: Recording
) -> Callable[[Service, ServiceContext], list[Record]]:
    """`_run_service` that collects live keys into `sink` and answers the rest from `replay`."""
    real = aws_adapter._run_service

    def run(service: Service, ctx: ServiceContext) -> list[Record]:
        key = _key(service, ctx)
        where = (ctx.identity.account, ctx.region)
        if not live(key):
            ctx.facts.add_aliases(replay.aliases.get(where, {}))
            return replay.records[key]
        # A private SharedFacts shows what this collection alone learned.
        own = SharedFacts()
        _current.key, _current.sink = key, sink
        try:
            records = real(service, dataclasses.replace(ctx, facts=own))
        finally:
            _current.key = _current.sink = None
        ctx.facts.add_aliases(own.aliases())
        sink.records[key] = records
        if own.aliases():
            sink.aliases[where] = own.aliases()
        return records

    return run


def _audit(estate: Estate, db: Path) -> Audit:
    started = time.perf_counter()
    store = Store(db)
    try:
        try:
            run = pipeline.collect(store, estate.policy, estate.scopes())
            findings: list[Finding] = pipeline.check(store, estate.policy, run)
        except Exception as err:
            # What escapes the pipeline is the finding here, not a test error.
            return Audit(False, f"{type(err).__name__}: {err}".splitlines()[0], [], {}, {}, 0.0)
        completed = store.get_run(run.id).status == "complete"
        return Audit(
            completed,
            "",
            store.coverage(run.id),
            {r.uid: r for r in store.resources(run.id)},
            {(f.check_id, f.resource): f.status for f in findings},
            time.perf_counter() - started,
        )
    finally:
        store.close()


def baseline(estate: Estate, db: Path, monkeypatch: pytest.MonkeyPatch) -> Audit:
    """The fault-free audit, every service live, each collection recorded in `live`."""
    sink = Recording()
    for session in estate.sessions.values():
        session.events.register("before-send", _record_send, unique_id="fault-recorder")
    try:
        with monkeypatch.context() as patch:
            runner = _runner(lambda _: True, Recording(), sink)
            patch.setattr(aws_adapter, "_run_service", runner)
            audit = _audit(estate, db)
    finally:
        for session in estate.sessions.values():
            session.events.unregister("before-send", _record_send, unique_id="fault-recorder")
    audit.live = sink
    return audit


@contextmanager
def fast_retries(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Keep botocore's retry decisions, drop its waiting: no backoff sleep, no rate limiter.

    Clients are made after this takes effect (a new `Clients` per audit), so they pick up the
    lower attempt count.
    """
    import botocore.retries.adaptive
    import botocore.retries.standard

    with monkeypatch.context() as patch:
        patch.setattr(aws_session, "MAX_ATTEMPTS", FAULT_MAX_ATTEMPTS)
        patch.setattr(botocore.retries.standard.ExponentialBackoff, "delay_amount", _no_delay)
        patch.setattr(botocore.retries.adaptive.ClientRateLimiter, "on_sending_request", _no_wait)
        yield


def _no_delay(self: Any, context: Any) -> float:
    return 0.0


def _no_wait(self: Any, request: Any, **_: Any) -> None:
    return None


def faulted(
    estate: Estate,
    base: Audit,
    injector: FaultInjector,
    live: set[Key],
    db: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> Audit:
    """Audit with `injector` on every session; only the `live` collections run, over HTTP.

    The collections that sent the faulted operation in the baseline are the ones a fault can
    change; every other one would send the same requests as in the baseline and is replayed.
    """
    for session in estate.sessions.values():
        injector.install(session)
    sink = Recording()
    try:
        with monkeypatch.context() as patch:
            runner = _runner(lambda key: key in live, base.live, sink)
            patch.setattr(aws_adapter, "_run_service", runner)
            audit = _audit(estate, db)
    finally:
        for session in estate.sessions.values():
            injector.remove(session)
    audit.live = sink
    return audit


# --- judging ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Judgement:
    """How a faulted audit compares with the baseline."""

    completed: bool
    error: str
    # Coverage rows of the faulted service that are not "ok", as (account, region, outcome, detail)
    gaps: tuple[tuple[str, str, str, str], ...]
    # (check, resource, baseline status) now PASS although the baseline said FAIL or UNKNOWN
    wrongly_pass: tuple[tuple[str, str, str], ...]
    # Whether the faulted service's resources or edges differ from the baseline's
    changed: bool
    # Findings that went from PASS or FAIL to UNKNOWN
    now_unknown: int

    @property
    def silent(self) -> bool:
        """The fault changed what the audit read, and no coverage row says so."""
        return self.changed and not self.gaps


# Attrs moto changes between two reads of the same estate: CloudTrail's last delivery is "now".
VOLATILE_ATTRS = frozenset({"latest_delivery_time"})


def _comparable(record: Record) -> str:
    if isinstance(record, Resource):
        attrs = {k: v for k, v in record.attrs.items() if k not in VOLATILE_ATTRS}
        record = dataclasses.replace(record, attrs=attrs)
    return repr(record)


def _inventory(recording: Recording, keys: Iterable[Key]) -> list[str]:
    """The resources and edges the `keys` collections returned, comparable across audits."""
    return sorted(
        _comparable(record)
        for key in keys
        for record in recording.records.get(key, [])
        if not isinstance(record, Coverage)
    )


# An account is judged on its Organizations resource when that was read, on its IAM one
# otherwise: the same subject under two uids.
_ACCOUNT_UIDS = re.compile(
    r"^arn:[^:]+:(?:iam::(\d{12}):root|organizations::\d{12}:account/o-[^/]+/(\d{12}))$"
)


def _subjects(audit: Audit) -> dict[tuple[str, str], Status]:
    """Verdicts by (check, subject)."""
    subjects: dict[tuple[str, str], Status] = {}
    for (check, uid), status in audit.verdicts.items():
        if found := _ACCOUNT_UIDS.match(uid):
            uid = f"account:{found.group(1) or found.group(2)}"
        subjects[(check, uid)] = status
    return subjects


def judge(base: Audit, audit: Audit, service: str) -> Judgement:
    gaps = tuple(
        (c.account, c.region, c.outcome.value, c.detail)
        for c in audit.coverage
        if c.service == service and c.outcome is not Outcome.OK
    )
    before, after = _subjects(base), _subjects(audit)
    wrong = tuple(
        (check, uid, was.value)
        for (check, uid), was in sorted(before.items())
        if was is not Status.PASS and after.get((check, uid)) is Status.PASS
    )
    # A resource the fault made up (a table named "None") has no verdict to compare with: any
    # PASS on it is wrong.  A check newly judging a known resource (its class unknown now, so
    # taken as restricted) is not.
    new_pass = tuple(
        (check, uid, "absent")
        for (check, uid), now in sorted(after.items())
        if now is Status.PASS
        and (check, uid) not in before
        and uid in audit.resources
        and uid not in base.resources
    )
    now_unknown = sum(
        1
        for key, was in base.verdicts.items()
        if was is not Status.UNKNOWN and audit.verdicts.get(key) is Status.UNKNOWN
    )
    live = list(audit.live.records)
    changed = _inventory(audit.live, live) != _inventory(base.live, live)
    return Judgement(audit.completed, audit.error, gaps, wrong + new_pass, changed, now_unknown)


# --- the matrix ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    service: str  # coverage name ("lambda", "secretsmanager")
    client: str  # botocore service name the operation belongs to
    operation: str
    fault: Fault

    @property
    def id(self) -> str:
        # S3 reads the account's public access block through s3control.
        client = "" if self.client == self.service else f"{self.client}."
        return f"{self.service}-{client}{self.operation}-{self.fault}"


def operations_of(service: str) -> list[tuple[str, str]]:
    """(botocore service, operation) pairs the service declares, sorted."""
    found = next(s for s in services() if s.name == service)
    return sorted(set(found.operations))


def matrix(
    picks: Mapping[str, Sequence[str]] | None, faults: Sequence[Fault] = tuple(Fault)
) -> list[Case]:
    """Every fault × the picked operations of each service (all of them without picks)."""
    cases: list[Case] = []
    for service in services():
        for client, operation in operations_of(service.name):
            if picks is not None and operation not in picks.get(service.name, ()):
                continue
            cases.extend(Case(service.name, client, operation, fault) for fault in faults)
    return cases
