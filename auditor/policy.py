"""The audit policy: a YAML file written by the security officer.

Loading keeps each key's line number so every error names the file, the line and the key.
Unknown classification values fail closed: they count as the strictest class configured.
"""

from __future__ import annotations

import difflib
import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import yaml

from auditor.errors import PolicyError
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
    purpose: str = ""


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

    # check selection ---------------------------------------------------------------------

    def check_enabled(self, check_id: str) -> bool:
        return check_id not in self.disabled_checks

    def severity_override(self, check_id: str) -> Severity | None:
        return self.severity_overrides.get(check_id)


# --------------------------------------------------------------------------------------------
# loading


def _builtin_names() -> str:
    return ", ".join("@" + name for name in sorted(BUILTIN_SETS))


class _Located:
    """Line numbers of every key path in the YAML document."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.lines: dict[tuple[str, ...], int] = {}
        self.errors: list[str] = []

    def record(self, node: yaml.Node, where: tuple[str, ...]) -> Any:
        self.lines.setdefault(where, node.start_mark.line + 1)
        if isinstance(node, yaml.MappingNode):
            result: dict[Any, Any] = {}
            for key_node, value_node in node.value:
                key = yaml.safe_load(yaml.serialize(key_node))
                self.lines[(*where, str(key))] = key_node.start_mark.line + 1
                result[key] = self.record(value_node, (*where, str(key)))
            return result
        if isinstance(node, yaml.SequenceNode):
            return [self.record(item, (*where, str(i))) for i, item in enumerate(node.value)]
        return yaml.safe_load(yaml.serialize(node))

    def error(self, where: tuple[str, ...], message: str) -> None:
        probe = where
        while probe and probe not in self.lines:
            probe = probe[:-1]
        line = self.lines.get(probe, 1)
        key = ".".join(where) or "(top level)"
        self.errors.append(f"{self.path}:{line}: {key}: {message}")


def policy_sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def load_policy(path: Path) -> Policy:
    """Read and validate a policy file; raise PolicyError naming file, line and key."""
    try:
        content = path.read_bytes()
        text = content.decode("utf-8")
    except FileNotFoundError as exc:
        raise PolicyError(f"{path}: policy file not found") from exc
    except IsADirectoryError as exc:
        raise PolicyError(f"{path}: is a folder, not a policy file") from exc
    except OSError as exc:
        raise PolicyError(f"{path}: cannot read policy file ({exc.strerror})") from exc
    except UnicodeDecodeError as exc:
        raise PolicyError(f"{path}: policy file is not UTF-8 text (byte {exc.start})") from exc
    located = _Located(path)
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else 1
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise PolicyError(f"{path}:{line}: invalid YAML: {problem}") from exc
    if node is None:
        raise PolicyError(f"{path}:1: policy file is empty")
    raw = located.record(node, ())
    if not isinstance(raw, dict):
        raise PolicyError(f"{path}:1: a policy is a mapping of keys, not a {type(raw).__name__}")
    policy = _Builder(located, raw).build(hashlib.sha256(content).hexdigest())
    if located.errors:
        more = f" (and {len(located.errors) - 1} more)" if len(located.errors) > 1 else ""
        raise PolicyError(located.errors[0] + more, errors=located.errors)
    return policy


class _Builder:
    """Turns the raw mapping into a Policy, reporting every problem with its location."""

    def __init__(self, located: _Located, raw: dict[str, Any]) -> None:
        self.loc = located
        self.raw = raw

    def err(self, where: tuple[str, ...], message: str) -> None:
        self.loc.error(where, message)

    def mapping(self, where: tuple[str, ...], value: Any) -> dict[str, Any]:
        if value is None:
            return {}
        if not isinstance(value, dict):
            self.err(where, f"expected a mapping, got {type(value).__name__}")
            return {}
        return value

    def sequence(self, where: tuple[str, ...], value: Any) -> list[Any]:
        if value is None:
            return []
        if not isinstance(value, list):
            self.err(where, f"expected a list, got {type(value).__name__}")
            return []
        return value

    def text(self, where: tuple[str, ...], value: Any, *, required: bool = False) -> str:
        if value is None:
            if required:
                self.err(where, "is required")
            return ""
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            self.err(where, f"expected text, got {type(value).__name__}")
            return ""
        return str(value)

    def account_id(self, where: tuple[str, ...], value: Any) -> str:
        # YAML reads unquoted digits as a number: 012345678901 would lose its zero.
        if isinstance(value, int) and not isinstance(value, bool) and len(str(value)) == 12:
            return str(value)
        if isinstance(value, str) and value.isdigit() and len(value) == 12:
            return value
        self.err(where, f"{value!r} is not a 12-digit account id (quote it: '012345678901')")
        return str(value)

    def flag(self, where: tuple[str, ...], value: Any, default: bool) -> bool:
        if value is None:
            return default
        if not isinstance(value, bool):
            self.err(where, f"expected true or false, got {value!r}")
            return default
        return value

    def day(self, where: tuple[str, ...], value: Any) -> date | None:
        if value is None:
            return None
        if isinstance(value, date):
            return value
        try:
            return date.fromisoformat(str(value))
        except ValueError:
            self.err(where, f"{value!r} is not a date (YYYY-MM-DD)")
            return None

    # ------------------------------------------------------------------------------------

    def build(self, sha256: str) -> Policy:
        for key in self.raw:
            if key not in KNOWN_KEYS:
                hint = difflib.get_close_matches(str(key), KNOWN_KEYS, n=1)
                suggestion = f"; did you mean {hint[0]!r}?" if hint else ""
                self.err((str(key),), f"unknown key{suggestion}")
        version = self.raw.get("version", 1)
        if version != 1:
            self.err(
                ("version",), f"unsupported policy version {version!r} (this govaudit reads 1)"
            )
        org = self.mapping(("organisation",), self.raw.get("organisation"))
        sets = self.jurisdiction_sets()
        classifications = self.classifications(sets)
        defaults = self.mapping(
            ("classification_defaults",), self.raw.get("classification_defaults")
        )
        untagged, aliases = self.defaults(defaults, classifications)
        tags = self.mapping(("tags",), self.raw.get("tags"))
        checks = self.mapping(("checks",), self.raw.get("checks"))
        disabled, overrides = self.check_selection(checks)
        return Policy(
            path=str(self.loc.path),
            sha256=sha256,
            organisation=self.text(("organisation", "name"), org.get("name")) or "(unnamed)",
            home_jurisdiction=self.text(
                ("organisation", "home_jurisdiction"), org.get("home_jurisdiction")
            )
            or None,
            classifications=classifications,
            untagged_default=untagged,
            aliases=aliases,
            classification_tag=self.text(("tags", "classification"), tags.get("classification"))
            or "data-class",
            owner_tag=self.text(("tags", "owner_dept"), tags.get("owner_dept")) or "owner-dept",
            departments=self.departments(),
            accounts=self.accounts(),
            trusted=self.trusted_accounts(),
            region_overrides={
                str(k): self.text(("region_overrides", str(k)), v)
                for k, v in self.mapping(
                    ("region_overrides",), self.raw.get("region_overrides")
                ).items()
            },
            log_jurisdictions=self.log_jurisdictions(sets),
            audit_admins=self.audit_admins(),
            external_endpoints=self.external_endpoints(),
            people=self.people(),
            idps=self.idps(),
            person_tag=self.text(("tags", "accountable_person"), tags.get("accountable_person"))
            or "accountable-person",
            capabilities=self.capabilities(),
            sod_rules=self.sod_rules(),
            disabled_checks=disabled,
            severity_overrides=overrides,
        )

    def jurisdiction_sets(self) -> dict[str, frozenset[str]]:
        raw = self.mapping(("jurisdictions",), self.raw.get("jurisdictions"))
        sets: dict[str, frozenset[str]] = {}
        for name, value in raw.items():
            where = ("jurisdictions", str(name))
            members = value if isinstance(value, list) else [value]
            countries: set[str] = set()
            for i, member in enumerate(members):
                countries |= self.countries((*where, str(i)), member, sets)
            sets[str(name)] = frozenset(countries)
        return sets

    def countries(
        self, where: tuple[str, ...], member: Any, sets: Mapping[str, frozenset[str]]
    ) -> set[str]:
        text = self.text(where, member)
        if text.startswith("@"):
            if text[1:] in BUILTIN_SETS:
                return set(BUILTIN_SETS[text[1:]])
            self.err(
                where,
                f"unknown built-in set {text!r} (known: {_builtin_names()})",
            )
            return set()
        if text in sets:
            return set(sets[text])
        if len(text) == 2 and text.isalpha() and text.isupper():
            return {text}
        if text:
            self.err(where, f"{text!r} is neither a jurisdiction set nor an ISO-3166 country code")
        return set()

    def classifications(self, sets: Mapping[str, frozenset[str]]) -> dict[str, Classification]:
        raw = self.mapping(("classifications",), self.raw.get("classifications"))
        if not raw:
            self.err(("classifications",), "at least one classification is required")
        result: dict[str, Classification] = {}
        for rank_default, (name, body) in enumerate(reversed(list(raw.items())), start=1):
            where = ("classifications", str(name))
            body = self.mapping(where, body)
            allowed_raw = self.sequence(
                (*where, "allowed_jurisdictions"), body.get("allowed_jurisdictions")
            )
            if "allowed_jurisdictions" not in body:
                self.err(where, "allowed_jurisdictions is required (use ['*'] for anywhere)")
            allowed: frozenset[str] | None
            if ANYWHERE in allowed_raw:
                allowed = None
            else:
                found: set[str] = set()
                for i, member in enumerate(allowed_raw):
                    found |= self.countries((*where, "allowed_jurisdictions", str(i)), member, sets)
                allowed = frozenset(found)
            custody = self.text((*where, "key_custody"), body.get("key_custody")) or "any"
            if custody not in KEY_CUSTODY_LEVELS:
                self.err(
                    (*where, "key_custody"),
                    f"{custody!r} is not one of {', '.join(KEY_CUSTODY_LEVELS)}",
                )
            rank = body.get("rank", rank_default)
            if not isinstance(rank, int) or isinstance(rank, bool):
                self.err((*where, "rank"), "rank must be a whole number (higher is more sensitive)")
                rank = rank_default
            label = self.text((*where, "zh"), body.get("zh")) or str(name)
            allow_public = self.flag((*where, "allow_public"), body.get("allow_public"), False)
            restricted = self.flag(
                (*where, "restricted"),
                body.get("restricted"),
                custody not in ("any", "provider_managed"),
            )
            result[str(name)] = Classification(
                str(name), label, rank, allowed, custody, allow_public, restricted
            )
        return result

    def defaults(
        self, raw: Mapping[str, Any], classes: Mapping[str, Classification]
    ) -> tuple[str, dict[str, str]]:
        where = ("classification_defaults",)
        untagged = self.text((*where, "untagged"), raw.get("untagged"))
        if untagged and untagged not in classes:
            self.err((*where, "untagged"), f"{untagged!r} is not a defined classification")
            untagged = ""
        if not untagged and classes:
            # Fail closed: with no default, untagged data counts as the most sensitive class.
            untagged = max(classes.values(), key=lambda c: c.rank).name
        aliases: dict[str, str] = {}
        for alias, target in self.mapping((*where, "aliases"), raw.get("aliases")).items():
            target_name = self.text((*where, "aliases", str(alias)), target)
            if target_name not in classes:
                self.err(
                    (*where, "aliases", str(alias)),
                    f"{target_name!r} is not a defined classification",
                )
                continue
            aliases[str(alias)] = target_name
        return untagged, aliases

    def departments(self) -> dict[str, Department]:
        result: dict[str, Department] = {}
        for i, item in enumerate(self.sequence(("departments",), self.raw.get("departments"))):
            where = ("departments", str(i))
            body = self.mapping(where, item)
            dept_id = self.text((*where, "id"), body.get("id"), required=True)
            if dept_id in result:
                self.err((*where, "id"), f"department {dept_id!r} is declared twice")
            result[dept_id] = Department(
                dept_id, self.text((*where, "name"), body.get("name")) or dept_id
            )
        return result

    def accounts(self) -> dict[str, AccountInfo]:
        result: dict[str, AccountInfo] = {}
        departments = {
            str(d.get("id"))
            for d in self.sequence(("departments",), self.raw.get("departments"))
            if isinstance(d, dict)
        }
        for key, body in self.mapping(("accounts",), self.raw.get("accounts")).items():
            where = ("accounts", str(key))
            account = self.account_id(where, key)
            body = self.mapping(where, body)
            dept = self.text((*where, "dept"), body.get("dept")) or None
            if dept is not None and dept not in departments:
                self.err((*where, "dept"), f"{dept!r} is not a department id of this policy")
            result[account] = AccountInfo(
                account,
                name=self.text((*where, "name"), body.get("name")),
                dept=dept,
                purpose=self.text((*where, "purpose"), body.get("purpose")),
            )
        return result

    def trusted_accounts(self) -> dict[str, TrustedParty]:
        result: dict[str, TrustedParty] = {}
        for i, item in enumerate(
            self.sequence(("trusted_accounts",), self.raw.get("trusted_accounts"))
        ):
            where = ("trusted_accounts", str(i))
            body = self.mapping(where, item)
            account = self.account_id((*where, "account"), body.get("account"))
            jurisdiction = self.text((*where, "jurisdiction"), body.get("jurisdiction")) or None
            if jurisdiction is not None and not (len(jurisdiction) == 2 and jurisdiction.isupper()):
                self.err(
                    (*where, "jurisdiction"), f"{jurisdiction!r} is not an ISO-3166 country code"
                )
            result[account] = TrustedParty(
                account=account,
                org=self.text((*where, "org"), body.get("org"), required=True),
                kind=self.text((*where, "kind"), body.get("kind")) or "vendor",
                jurisdiction=jurisdiction,
                contract_expiry=self.day((*where, "contract_expiry"), body.get("contract_expiry")),
                dept_sponsor=self.text((*where, "dept_sponsor"), body.get("dept_sponsor")) or None,
                contract=self.text((*where, "contract"), body.get("contract")),
                require_external_id=self.flag(
                    (*where, "require_external_id"), body.get("require_external_id"), False
                ),
            )
        return result

    def idps(self) -> dict[str, str | None]:
        identity = self.mapping(("identity",), self.raw.get("identity"))
        where = ("identity", "idps")
        found: dict[str, str | None] = {}
        for i, item in enumerate(self.sequence(where, identity.get("idps"))):
            body = self.mapping((*where, str(i)), item)
            name = self.text((*where, str(i), "name"), body.get("name"), required=True)
            found[name] = self.text((*where, str(i), "country"), body.get("country")) or None
        return found

    def people(self) -> dict[str, Person]:
        found: dict[str, Person] = {}
        for i, item in enumerate(self.sequence(("people",), self.raw.get("people"))):
            where = ("people", str(i))
            body = self.mapping(where, item)
            person = self.text((*where, "id"), body.get("id"), required=True)
            status = self.text((*where, "status"), body.get("status")) or "active"
            if status not in ("active", "left"):
                self.err((*where, "status"), f"{status!r} is not active or left")
            found[person] = Person(
                person, self.text((*where, "dept"), body.get("dept")) or None, status
            )
        return found

    def capabilities(self) -> dict[str, tuple[str, ...]]:
        roles = self.mapping(("roles",), self.raw.get("roles"))
        where = ("roles", "capability_actions")
        return {
            str(name): tuple(
                self.text((*where, str(name), str(i)), a)
                for i, a in enumerate(self.sequence((*where, str(name)), actions))
            )
            for name, actions in self.mapping(where, roles.get("capability_actions")).items()
        }

    def sod_rules(self) -> tuple[SodRule, ...]:
        roles = self.mapping(("roles",), self.raw.get("roles"))
        known = set(self.mapping(("roles", "capability_actions"), roles.get("capability_actions")))
        rules = []
        for i, item in enumerate(self.sequence(("roles", "sod_rules"), roles.get("sod_rules"))):
            where = ("roles", "sod_rules", str(i))
            body = self.mapping(where, item)
            exclusive = tuple(
                self.text((*where, "exclusive", str(j)), c)
                for j, c in enumerate(self.sequence((*where, "exclusive"), body.get("exclusive")))
            )
            for cap in exclusive:
                if cap not in known:
                    self.err((*where, "exclusive"), f"{cap!r} is not in roles.capability_actions")
            rules.append(
                SodRule(self.text((*where, "id"), body.get("id")) or f"rule {i}", exclusive)
            )
        return tuple(rules)

    def external_endpoints(self) -> dict[str, str]:
        found = {}
        where = ("external_endpoints",)
        for i, item in enumerate(self.sequence(where, self.raw.get("external_endpoints"))):
            body = self.mapping((*where, str(i)), item)
            host = self.text((*where, str(i), "host"), body.get("host"), required=True)
            country = self.text((*where, str(i), "country"), body.get("country"), required=True)
            if country and not (len(country) == 2 and country.isupper()):
                self.err(
                    (*where, str(i), "country"), f"{country!r} is not an ISO-3166 country code"
                )
            found[host.lower()] = country
        return found

    def audit_admins(self) -> frozenset[str]:
        roles = self.mapping(("roles",), self.raw.get("roles"))
        where = ("roles", "audit_admins")
        found = set()
        for i, value in enumerate(self.sequence(where, roles.get("audit_admins"))):
            arn = self.text((*where, str(i)), value)
            if not arn.startswith("arn:"):
                self.err((*where, str(i)), f"{arn!r} is not an ARN")
            found.add(arn)
        return frozenset(found)

    def log_jurisdictions(self, sets: Mapping[str, frozenset[str]]) -> frozenset[str] | None:
        raw = self.raw.get("log_jurisdictions")
        if raw is None:
            return None
        found: set[str] = set()
        for i, member in enumerate(self.sequence(("log_jurisdictions",), raw)):
            found |= self.countries(("log_jurisdictions", str(i)), member, sets)
        return frozenset(found)

    def check_selection(self, raw: Mapping[str, Any]) -> tuple[frozenset[str], dict[str, Severity]]:
        disabled = frozenset(
            self.text(("checks", "disabled", str(i)), v)
            for i, v in enumerate(self.sequence(("checks", "disabled"), raw.get("disabled")))
        )
        overrides: dict[str, Severity] = {}
        for check_id, value in self.mapping(("checks", "severity"), raw.get("severity")).items():
            try:
                overrides[str(check_id)] = Severity(str(value).lower())
            except ValueError:
                self.err(
                    ("checks", "severity", str(check_id)),
                    f"{value!r} is not one of {', '.join(s.value for s in Severity)}",
                )
        return disabled, overrides
