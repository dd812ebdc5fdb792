"""The records that flow through the pipeline: resources, edges, coverage, findings."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class Relation(StrEnum):
    """Closed vocabulary of graph edges."""

    # data flow: data (or a copy of it) can move from src to dst
    REPLICATES_TO = "replicates_to"
    COPIES_TO = "copies_to"
    SHARED_WITH = "shared_with"
    DELIVERS_LOGS_TO = "delivers_logs_to"
    PEERS_WITH = "peers_with"
    # dependency: src's data is protected by key dst
    ENCRYPTED_BY = "encrypted_by"
    # rights: principal src holds the right on resource dst
    CAN_READ = "can_read"
    CAN_WRITE = "can_write"
    CAN_ADMIN = "can_admin"
    CAN_DECRYPT = "can_decrypt"
    # may hand a copy to another account (snapshot and image sharing)
    CAN_SHARE = "can_share"
    CAN_ASSUME = "can_assume"
    # src can make itself (or become) dst by changing IAM: a privilege escalation.
    CAN_ESCALATE = "can_escalate"
    MEMBER_OF = "member_of"
    OWNED_BY = "owned_by"


DATA_FLOW = frozenset(
    {
        Relation.REPLICATES_TO,
        Relation.COPIES_TO,
        Relation.SHARED_WITH,
        Relation.DELIVERS_LOGS_TO,
        Relation.PEERS_WITH,
    }
)
RIGHTS = frozenset(
    {
        Relation.CAN_READ,
        Relation.CAN_WRITE,
        Relation.CAN_ADMIN,
        Relation.CAN_DECRYPT,
        Relation.CAN_SHARE,
    }
)
# Edges a principal follows to act as another principal.
DELEGATION = frozenset({Relation.CAN_ASSUME, Relation.MEMBER_OF, Relation.CAN_ESCALATE})


class Kind(StrEnum):
    """What a node is, independent of provider."""

    # where data rests
    OBJECT_STORE = "object_store"  # S3 bucket, Swift container, OSS bucket
    VOLUME = "volume"  # EBS, Cinder, ECS disk
    SNAPSHOT = "snapshot"  # EBS, RDS and cluster snapshots
    IMAGE = "image"  # AMI, Glance image
    DATABASE = "database"  # RDS instance or cluster, DynamoDB table
    QUEUE = "queue"  # SQS
    TOPIC = "topic"  # SNS
    LOG_GROUP = "log_group"  # CloudWatch Logs
    BACKUP_VAULT = "backup_vault"  # AWS Backup
    REPOSITORY = "repository"  # ECR
    SECRET = "secret"  # noqa: S105 - Secrets Manager: a kind of resource, not a password
    # what protects, runs or moves it
    KEY = "key"
    INSTANCE = "instance"  # EC2 instance, Nova server
    FUNCTION = "function"  # Lambda
    NETWORK = "network"  # VPC
    FIREWALL = "firewall"  # security group
    TRAIL = "trail"  # CloudTrail trail
    BACKUP_PLAN = "backup_plan"
    ENDPOINT = "endpoint"  # an outside URL or address data is sent to
    # who acts on it
    USER = "user"
    ROLE = "role"
    GROUP = "group"
    ACCOUNT = "account"
    PUBLIC = "public"
    SERVICE = "service"
    FEDERATED = "federated"
    # how the organisation is governed
    ORG_UNIT = "org_unit"
    ORG_POLICY = "org_policy"  # SCP, RCP
    IAM_POLICY = "iam_policy"  # a managed identity policy and its default version
    WAIVER = "waiver"  # an accepted risk written in the policy file (judged by RSP-012)


# Kinds that hold data whose location, copies and keys the checks judge.
DATA_KINDS = frozenset(
    {
        Kind.OBJECT_STORE,
        Kind.VOLUME,
        Kind.SNAPSHOT,
        Kind.IMAGE,
        Kind.DATABASE,
        Kind.QUEUE,
        Kind.TOPIC,
        Kind.LOG_GROUP,
        Kind.BACKUP_VAULT,
        Kind.REPOSITORY,
        Kind.SECRET,
    }
)
PRINCIPAL_KINDS = frozenset(
    {Kind.USER, Kind.ROLE, Kind.GROUP, Kind.ACCOUNT, Kind.PUBLIC, Kind.SERVICE, Kind.FEDERATED}
)


class Status(StrEnum):
    PASS = "PASS"  # noqa: S105 - a verdict, not a password
    FAIL = "FAIL"
    UNKNOWN = "UNKNOWN"


class Severity(StrEnum):
    CRITICAL = "critical"
    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"
    INFO = "info"

    @property
    def rank(self) -> int:
        """Higher is worse; used for --fail-on and sorting."""
        return _SEVERITY_RANK[self]


_SEVERITY_RANK = {
    Severity.INFO: 0,
    Severity.LOW: 1,
    Severity.MEDIUM: 2,
    Severity.HIGH: 3,
    Severity.CRITICAL: 4,
}


class Outcome(StrEnum):
    """How collecting one service in one account and region went."""

    OK = "ok"
    DENIED = "denied"
    NOT_ENABLED = "not_enabled"
    THROTTLED = "throttled"
    ERROR = "error"
    UNSUPPORTED = "unsupported"


@dataclass(frozen=True, slots=True)
class Resource:
    """One inventoried thing: a bucket, a key, a principal."""

    uid: str
    provider: str
    kind: Kind
    native_type: str
    name: str
    account: str | None = None
    region: str | None = None
    partition: str | None = None
    # ISO-3166 alpha-2 of where the data sits; None means unknown, never "allowed".
    jurisdiction: str | None = None
    tags: Mapping[str, str] = field(default_factory=dict)
    attrs: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Edge:
    """A relation between two node uids, with the evidence that justifies it."""

    src: str
    dst: str
    relation: Relation
    evidence: str
    conditions: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Coverage:
    """What happened when one service was collected in one account and region."""

    provider: str
    account: str
    region: str
    service: str
    outcome: Outcome
    detail: str = ""
    duration_ms: int = 0
    api_calls: int = 0


Record = Resource | Edge | Coverage


@dataclass(frozen=True, slots=True)
class WaiverMark:
    """What a waiver in the policy did to a failing finding, kept with the finding."""

    # waived: accepted until `expires`; expired: re-opened; refused: the waiver is invalid.
    state: str
    ticket: str
    approver: str
    reason: str
    expires: str  # ISO date, "" when none
    days_left: int | None
    # Why an expired or refused waiver does not apply (shown to the reader).
    note: str = ""


@dataclass(frozen=True, slots=True)
class Finding:
    """The outcome of one check on one resource."""

    check_id: str
    status: Status
    severity: Severity
    resource: str
    message: str
    title: str = ""
    theme: str = ""
    account: str | None = None
    region: str | None = None
    jurisdiction: str | None = None
    evidence: tuple[str, ...] = ()
    remediation: str = ""
    # A command that fixes the finding, where one exists (AWS CLI).
    fix_command: str = ""
    # Set when a waiver of the policy matches this failing finding.
    waiver: WaiverMark | None = None

    @property
    def waived(self) -> bool:
        """A failing finding accepted by a valid, unexpired waiver."""
        return self.waiver is not None and self.waiver.state == "waived"
