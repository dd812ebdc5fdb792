"""The audit policy: a YAML file written by the security officer.

Loading keeps each key's line number so every error names the file, the line and the key.
Unknown classification values fail closed: they count as the strictest class configured.
"""

from __future__ import annotations

import fnmatch
import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from auditor.model import Severity

ANYWHERE = "*"

# Built-in jurisdiction sets a policy may cite as "@NAME".
BUILTIN_SETS: dict[str, frozenset[str]] = {
    "EU27": frozenset(
        [
            "AT",
            "BE",
            "BG",
            "HR",
            "CY",
            "CZ",
            "DK",
            "EE",
            "FI",
            "FR",
            "DE",
            "GR",
            "HU",
            "IE",
            "IT",
            "LV",
            "LT",
            "LU",
            "MT",
            "NL",
            "PL",
            "PT",
            "RO",
            "SK",
            "SI",
            "ES",
            "SE",
        ]
    ),
    "CN_MAINLAND": frozenset({"CN"}),
}
BUILTIN_SETS["EEA"] = BUILTIN_SETS["EU27"] | {"IS", "LI", "NO"}

KEY_CUSTODY_LEVELS = ("any", "provider_managed", "customer_managed", "byok", "hyok")

# Which KMS key origins satisfy a custody level (design CHECKS.md KEY-002).
DEFAULT_CUSTODY_LEVELS: dict[str, frozenset[str]] = {
    "hyok": frozenset({"EXTERNAL_KEY_STORE"}),
    "byok": frozenset({"EXTERNAL", "AWS_CLOUDHSM", "EXTERNAL_KEY_STORE"}),
    "customer_managed": frozenset({"AWS_KMS", "EXTERNAL", "AWS_CLOUDHSM", "EXTERNAL_KEY_STORE"}),
}
SHARING_ATTRIBUTES = ("unconditional", "conditional", "none")
# 18-digit resident ID numbers and mainland mobile numbers: personal data in metadata.
DEFAULT_PI_REGEX = r"\d{17}[\dXx]|1[3-9]\d{9}"

# Top-level keys of the full policy format (design CHECKS.md §4).  Keys this version does
# not act on yet are accepted so one policy file serves later releases too.
KNOWN_KEYS = frozenset(
    {
        "version",
        "organisation",
        "jurisdictions",
        "region_overrides",
        "providers",
        "classifications",
        "classification_defaults",
        "tags",
        "departments",
        "people",
        "accounts",
        "trusted_accounts",
        "external_endpoints",
        "sharing_agreements",
        "transfer_approvals",
        "key_custody",
        "roles",
        "raci",
        "break_glass",
        "identity",
        "log_jurisdictions",
        "alerts",
        "thresholds",
        "waiver_policy",
        "waivers",
        "checks",
    }
)


@dataclass(frozen=True, slots=True)
class Classification:
    name: str
    label: str
    rank: int
    # Country codes, or None when the class may sit anywhere.
    allowed: frozenset[str] | None
    key_custody: str = "any"
    # May this class be readable by anyone (open data)?
    allow_public: bool = False
    # Restricted classes demand customer key custody; their findings weigh more.
    restricted: bool = False
    # Countries whose companies may operate the cloud holding this class; None = any.
    allowed_operators: frozenset[str] | None = None
    # Audit logs about this class must be kept this long (days); None = no requirement.
    log_retention_days: int | None = None
    # Must a copy exist in an allowed jurisdiction (backup, PITR or versioning)?
    backup_required: bool = False
    # May this class be served from CDN edges or global acceleration (copies worldwide)?
    allow_global_edge: bool = False

    def allows(self, country: str | None) -> bool | None:
        """Whether data of this class may sit in `country`; None when the country is unknown."""
        if self.allowed is None:
            return True
        if country is None:
            return None
        return country in self.allowed

    def allowed_text(self) -> str:
        return "anywhere" if self.allowed is None else ", ".join(sorted(self.allowed)) or "nowhere"


@dataclass(frozen=True, slots=True)
class Department:
    id: str
    name: str


@dataclass(frozen=True, slots=True)
class Person:
    """A pseudonymous person (p-0001), never a name: the policy holds no personal data."""

    id: str
    dept: str | None
    status: str  # active | left


@dataclass(frozen=True, slots=True)
class SodRule:
    """Capabilities no single person may hold together (三员分立 and the like)."""

    id: str
    exclusive: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class AccountInfo:
    id: str
    name: str = ""
    dept: str | None = None
    # workload | log-archive | security | shared-platform | ...
    purpose: str = ""
    # The most sensitive class this account may hold (its region-deny SCP must match).
    classification_max: str | None = None


@dataclass(frozen=True, slots=True)
class Provider:
    """Who operates a cloud partition and under whose law its parent company falls."""

    operator: str
    parent: str


# Defaults for AWS partitions, overridable by `providers:` in the policy.  aws-cn is run by
# Chinese operators (Sinnet, NWCD); aws-eusc by an EU entity under a US parent.
DEFAULT_PROVIDERS: dict[str, Provider] = {
    "aws": Provider("US", "US"),
    "aws-us-gov": Provider("US", "US"),
    "aws-cn": Provider("CN", "CN"),
    "aws-eusc": Provider("DE", "US"),
}


@dataclass(frozen=True, slots=True)
class SharingAgreement:
    """A cross-department data-sharing agreement (政务数据共享协议)."""

    id: str
    from_dept: str
    to_dept: str
    resources: tuple[str, ...]
    attribute: str  # unconditional | conditional | none
    expires: date | None
    purpose: str = ""
    approver: str = ""


@dataclass(frozen=True, slots=True)
class TransferApproval:
    """An approved cross-border transfer (security assessment, standard contract, ...)."""

    id: str
    resources: tuple[str, ...]
    basis: str
    expires: date | None


@dataclass(frozen=True, slots=True)
class BreakGlass:
    principals: tuple[str, ...] = ()
    max_count: int = 2
    hardware_mfa: bool = True
    alarm_required: bool = True


@dataclass(frozen=True, slots=True)
class Thresholds:
    credential_unused_days: int = 45
    key_max_age_days: int = 90
    role_unused_days: int = 90
    contract_warning_days: int = 30
    max_admins: int = 3


@dataclass(frozen=True, slots=True)
class Waiver:
    """An accepted risk: one check on resources matching a glob, approved until a date."""

    check: str
    resource: str
    reason: str
    approver: str
    approved_on: date | None
    expires: date | None
    ticket: str
    # Where it is written, so RSP-012 and `policy validate` can point at it.
    where: str = ""


@dataclass(frozen=True, slots=True)
class TrustedParty:
    account: str
    org: str
    kind: str
    jurisdiction: str | None
    contract_expiry: date | None = None
    dept_sponsor: str | None = None
    contract: str = ""
    # Role trust for this party must demand sts:ExternalId (confused-deputy protection).
    require_external_id: bool = False
    # Role trust for this party must demand sts:SourceIdentity (sessions name a person).
    require_source_identity: bool = False


@dataclass(frozen=True, slots=True)
class Verdict:
    """How a resource was classified, and why, for the finding's message."""

    classification: Classification
    reason: str


@dataclass(frozen=True)
class Policy:
    path: str
    sha256: str
    organisation: str
    home_jurisdiction: str | None
    classifications: Mapping[str, Classification]
    untagged_default: str
    aliases: Mapping[str, str]
    classification_tag: str
    owner_tag: str
    departments: Mapping[str, Department]
    accounts: Mapping[str, AccountInfo]
    trusted: Mapping[str, TrustedParty]
    region_overrides: Mapping[str, str] = field(default_factory=dict)
    # Where audit logs may be delivered; None when the policy does not say (checks: UNKNOWN).
    log_jurisdictions: frozenset[str] | None = None
    # Principals (ARNs) allowed to alter audit logs: the audit administrators (审计管理员).
    audit_admins: frozenset[str] = frozenset()
    # Hosts and e-mail domains outside the clouds that data may be sent to: host -> country.
    external_endpoints: Mapping[str, str] = field(default_factory=dict)
    people: Mapping[str, Person] = field(default_factory=dict)
    # Identity providers (SAML/OIDC) by name, with the country they are run from.
    idps: Mapping[str, str | None] = field(default_factory=dict)
    person_tag: str = "accountable-person"
    # capability name -> IAM action patterns that confer it (key_admin, audit_admin, ...).
    capabilities: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    sod_rules: tuple[SodRule, ...] = ()
    disabled_checks: frozenset[str] = frozenset()
    severity_overrides: Mapping[str, Severity] = field(default_factory=dict)
    providers: Mapping[str, Provider] = field(default_factory=lambda: dict(DEFAULT_PROVIDERS))
    sharing_tag: str = "share-attr"
    custodian_tag: str = "key-custodian"
    # Personal data in IAM/Organizations tags (ID-card and phone numbers by default).
    pi_regex: str = DEFAULT_PI_REGEX
    sharing_agreements: tuple[SharingAgreement, ...] = ()
    transfer_approvals: tuple[TransferApproval, ...] = ()
    # dept -> pseudonymous ids allowed to hold the department's keys.
    approved_custodians: Mapping[str, frozenset[str]] = field(default_factory=dict)
    # custody level -> KMS key origins that satisfy it.
    custody_levels: Mapping[str, frozenset[str]] = field(
        default_factory=lambda: dict(DEFAULT_CUSTODY_LEVELS)
    )
    break_glass: BreakGlass = field(default_factory=BreakGlass)
    federation_required: bool = False
    technical_accounts: frozenset[str] = frozenset()
    shared_name_regex: str = ""
    thresholds: Thresholds = field(default_factory=Thresholds)
    # severity -> people who may approve a waiver of a finding that severe.
    waiver_approvers: Mapping[str, frozenset[str]] = field(default_factory=dict)
    waiver_max_days: int = 365
    waivers: tuple[Waiver, ...] = ()

    # classification ----------------------------------------------------------------------

    @property
    def strictest(self) -> Classification:
        return max(self.classifications.values(), key=lambda c: c.rank)

    def classification_named(self, value: str) -> Classification | None:
        """Find a class by name, label or alias, ignoring case and spaces."""
        wanted = value.strip().casefold()
        for cls in self.classifications.values():
            if wanted in (cls.name.casefold(), cls.label.casefold()):
                return cls
        for alias, target in self.aliases.items():
            if wanted == alias.casefold():
                return self.classifications[target]
        return None

    def classify(self, tags: Mapping[str, str]) -> Verdict:
        """Classify by the classification tag; untagged and unknown values fail closed."""
        value = tags.get(self.classification_tag)
        if value is None or not value.strip():
            default = self.classifications[self.untagged_default]
            return Verdict(default, f"untagged, treated as {default.name} (policy default)")
        found = self.classification_named(value)
        if found is not None:
            return Verdict(found, f"tagged {self.classification_tag}={value}")
        strict = self.strictest
        return Verdict(
            strict,
            f"unknown classification {value!r}, treated as {strict.name} (fail-closed)",
        )

    # parties -----------------------------------------------------------------------------

    def is_own_account(self, account: str) -> bool:
        return account in self.accounts

    def trusted_party(self, account: str) -> TrustedParty | None:
        return self.trusted.get(account)

    def department(self, value: str | None) -> Department | None:
        """Find a department by id or name."""
        if value is None:
            return None
        wanted = value.strip().casefold()
        for dept in self.departments.values():
            if wanted in (dept.id.casefold(), dept.name.casefold()):
                return dept
        return None

    def transfer_approval(self, uid: str, today: date) -> TransferApproval | None:
        """An unexpired cross-border transfer approval covering this resource."""
        for approval in self.transfer_approvals:
            if approval.expires is not None and approval.expires < today:
                continue
            if any(fnmatch.fnmatchcase(uid, pattern) for pattern in approval.resources):
                return approval
        return None

    def provider_of(self, partition: str | None) -> Provider | None:
        return self.providers.get(partition or "")

    # check selection ---------------------------------------------------------------------

    def check_enabled(self, check_id: str) -> bool:
        return check_id not in self.disabled_checks

    def severity_override(self, check_id: str) -> Severity | None:
        return self.severity_overrides.get(check_id)


def policy_sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def load_policy(path: Path) -> Policy:
    """Read and validate a policy file; raise PolicyError naming file, line and key."""
    # The reader lives in its own module; imported here so callers keep one entry point.
    from auditor.policy_loader import read_policy

    return read_policy(path)
