"""The AWS services govaudit collects, discovered from the modules of this package.

A service module declares one `SERVICE = Service(...)`: its coverage name, whether it runs
once per account (global) or in every region, the function that collects it, and the
botocore operations it calls with the IAM action each needs.  Adding a service is one new
module (plus its tests): nothing else lists services by hand.

What a service module emits, so the checks can judge every kind the same way:

- `Resource` with `kind` from `auditor.model.Kind`, `native_type` "<service>:<type>"
  (e.g. "ec2:volume", "rds:db-snapshot"), `uid` = the ARN the API gives (build one from
  the partition only when the API gives none), `region`, `account`, `partition`,
  `jurisdiction=jurisdiction_of("aws", region)`, `tags`.
- attrs, for every resource that holds data (`DATA_KINDS`):
  `encryption_status` ("read" | "none" | "denied" | "error"; see `calls.py`),
  `encrypted` (True/False, None when unknown), `kms_key_arn` (the key's ARN, or None), and
  `key_owner` = "aws_owned" when the service encrypts with a key AWS owns and does not name
  (DynamoDB's default, SSE-SQS); `tags_status`; `policy_status` where a resource policy
  exists; `public` facts only through rights edges from "public:*".
- Edges (Relation): `encrypted_by` resource → KMS key ARN; `replicates_to` (replicas,
  read replicas, global tables/clusters, multi-Region keys); `copies_to` (snapshot of a
  volume, backup copy to another vault, export to a bucket); `shared_with` resource →
  "account:<id>" or "public:*" (snapshot/AMI sharing), together with the matching
  `can_read` right from that principal; `delivers_logs_to` (trail → bucket, log group →
  subscription destination); `peers_with` (VPC peering, transit-gateway peering); rights from
  resource policies through `policy_rights.rights_from_policy`.  Evidence names the API call
  and field, e.g. "DescribeSnapshotAttribute createVolumePermission: UserId 111122223333".
"""

from __future__ import annotations

import importlib
import pkgutil
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from functools import cache

from auditor.inventories.aws.identity import OPERATIONS as IDENTITY_OPERATIONS
from auditor.inventories.aws.identity import CallerIdentity
from auditor.inventories.aws.session import Clients
from auditor.model import Record


class Scope(StrEnum):
    GLOBAL = "global"  # once per account (IAM, the S3 bucket listing, Organizations)
    REGIONAL = "regional"  # once per account and region


@dataclass
class SharedFacts:
    """What one service learns that a later phase needs (KMS aliases resolve S3 keys)."""

    kms_aliases: dict[str, str] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add_aliases(self, aliases: Mapping[str, str]) -> None:
        with self.lock:
            self.kms_aliases.update(aliases)

    def aliases(self) -> dict[str, str]:
        """Alias ARN → key ARN, as KMS (phase 0) learned them in every region."""
        with self.lock:
            return dict(self.kms_aliases)


@dataclass(frozen=True)
class ServiceContext:
    """Everything a service's collect function may use."""

    clients: Clients
    identity: CallerIdentity
    region: str  # the region collected; the home region for global services
    home: str
    facts: SharedFacts


# Records found, and a one-line detail for the coverage row ("12 buckets").
Collected = tuple[list[Record], str]


@dataclass(frozen=True)
class Service:
    name: str
    scope: Scope
    collect: Callable[[ServiceContext], Collected]
    # (botocore service name, operation name) -> IAM action that allows it.
    operations: Mapping[tuple[str, str], str]
    # Services of phase 0 run before the others, which may read what they learned.
    phase: int = 1

    @property
    def permissions(self) -> tuple[str, ...]:
        return tuple(sorted({action for action in self.operations.values() if action}))


@cache
def services() -> tuple[Service, ...]:
    """Every service of this package, by phase then name."""
    package = importlib.import_module("auditor.inventories.aws")
    found: list[Service] = []
    for info in pkgutil.iter_modules(package.__path__):
        module = importlib.import_module(f"auditor.inventories.aws.{info.name}")
        service = getattr(module, "SERVICE", None)
        if isinstance(service, Service):
            found.append(service)
    return tuple(sorted(found, key=lambda s: (s.phase, s.name)))


def all_operations() -> dict[tuple[str, str], str]:
    """Every operation any service may call, with its IAM action."""
    merged = dict(IDENTITY_OPERATIONS)
    for service in services():
        merged.update(service.operations)
    return merged


def all_permissions() -> tuple[str, ...]:
    """The least-privilege IAM actions for the auditor role.

    sts:GetCallerIdentity is left out: AWS allows it to every principal, always.
    """
    actions = set(all_operations().values()) - {"sts:GetCallerIdentity", ""}
    return tuple(sorted(actions))
