"""Reading a policy file: YAML with line numbers, every problem reported with its location.

Kept apart from `auditor.policy`, which holds what a policy *is*; this module holds how a
file becomes one, including the governance sections (agreements, approvals, waivers).
"""

from __future__ import annotations

import difflib
import hashlib
import re
import unicodedata
from collections.abc import Mapping
from datetime import date, datetime
from pathlib import Path
from typing import Any

import yaml

from auditor.errors import PolicyError
from auditor.model import Severity
from auditor.policy import (
    ANYWHERE,
    BUILTIN_SETS,
    DEFAULT_CUSTODY_LEVELS,
    DEFAULT_PI_REGEX,
    DEFAULT_PROVIDERS,
    KEY_CUSTODY_LEVELS,
    KNOWN_KEYS,
    SHARING_ATTRIBUTES,
    AccountInfo,
    BreakGlass,
    Classification,
    Department,
    Person,
    Policy,
    Provider,
    SharingAgreement,
    SodRule,
    Thresholds,
    TransferApproval,
    TrustedParty,
    Waiver,
)

# --------------------------------------------------------------------------------------------
# loading

# A policy nests a handful of levels; anything far deeper is a mistake or an attack, and
# PyYAML's composer (and our own walk) would otherwise die of Python's recursion limit.
MAX_DEPTH = 64
# Numbers beyond this many bits cannot be a policy value; past ~14000 bits Python refuses even
# to print them (int_max_str_digits), which would turn a typo into a crash.
MAX_INT_BITS = 256
# Characters that would break "one problem, one line": line breaks, other controls, and the
# format characters (bidi overrides) that reorder what a terminal shows.
_UNPRINTABLE = frozenset({"Cc", "Cf", "Zl", "Zp"})


def _one_line(text: str) -> str:
    """`text` with every control or format character written as an escape."""
    if text.isprintable():
        return text
    return "".join(
        c.encode("unicode_escape").decode("ascii") if unicodedata.category(c) in _UNPRINTABLE else c
        for c in text
    )


def _builtin_names() -> str:
    return ", ".join("@" + name for name in sorted(BUILTIN_SETS))


# Digits-only account ids have a provider's length; any other length is a typo.
ACCOUNT_DIGITS = frozenset({12, 16})
ACCOUNT_LABEL = re.compile(r"[A-Za-z0-9._:-]{1,128}")


class _Located:
    """Line numbers of every key path in the YAML document."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.lines: dict[tuple[str, ...], int] = {}
        self.errors: list[str] = []
        # Nodes being read, to refuse an alias that contains itself.
        self._open: set[int] = set()
        # Aliases may repeat a node many times over ("billion laughs"): cap the expansion.
        self._budget = 200_000

    def record(self, node: yaml.Node, where: tuple[str, ...]) -> Any:
        self.lines.setdefault(where, node.start_mark.line + 1)
        self._budget -= 1
        if self._budget < 0:
            if self._budget == -1:
                self.error(where, "invalid YAML: aliases expand to more than 200000 values")
            return None
        if id(node) in self._open:
            self.error(where, "invalid YAML: an alias refers to a node that contains it")
            return None
        if len(where) > MAX_DEPTH:
            self.error(where, f"invalid YAML: nested more than {MAX_DEPTH} levels deep")
            return None
        self._open.add(id(node))
        try:
            if isinstance(node, yaml.MappingNode):
                return self._mapping(node, where)
            if isinstance(node, yaml.SequenceNode):
                return [self.record(item, (*where, str(i))) for i, item in enumerate(node.value)]
            return self._bounded(self._scalar(node), where)
        finally:
            self._open.discard(id(node))

    def _bounded(self, value: Any, where: tuple[str, ...]) -> Any:
        if isinstance(value, int) and value.bit_length() > MAX_INT_BITS:
            self.error(where, "invalid YAML: number too large")
            return None
        return value

    def _mapping(self, node: yaml.MappingNode, where: tuple[str, ...]) -> dict[Any, Any]:
        result: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            line = key_node.start_mark.line + 1
            if not isinstance(key_node, yaml.ScalarNode):
                self.lines.setdefault((*where, "?"), line)
                self.error(
                    (*where, "?"), "invalid YAML: a key must be plain text, not a list or map"
                )
                continue
            key = self._key(key_node)
            if isinstance(key, int) and key.bit_length() > MAX_INT_BITS:
                key = key_node.value  # kept as written: str() of it could fail
            path = (*where, str(key))
            if key in result:
                first = self.lines.get(path, line)
                self.lines[path] = line
                self.error(path, f"{key!r} is given twice (first on line {first}); keep one")
                continue
            self.lines[path] = line
            result[key] = self.record(value_node, path)
        return result

    @staticmethod
    def _key(node: yaml.ScalarNode) -> Any:
        try:
            key = yaml.safe_load(yaml.serialize(node))
        except (ValueError, yaml.YAMLError):
            # An impossible date (2026-02-30:), a Python tag, a number past int_max_str_digits:
            # the key is what was written, and the section reports it as unknown.
            return node.value
        # YAML 1.1 reads 012345670123 as an octal number: keep digits exactly as written,
        # since numeric keys in a policy are account ids.
        if isinstance(key, int) and not isinstance(key, bool) and node.value.isdigit():
            return node.value
        return key

    @staticmethod
    def _scalar(node: yaml.Node) -> Any:
        try:
            value = yaml.safe_load(yaml.serialize(node))
        except (ValueError, yaml.YAMLError):
            # A timestamp like 2026-02-30 fails in PyYAML's constructor; the field's own
            # reader then reports it in its own words ("... is not a date").
            return node.value
        if isinstance(value, datetime):
            return node.value  # a date with a time: the date readers refuse it as text
        return value

    def line(self, where: tuple[str, ...]) -> int:
        probe = where
        while probe and probe not in self.lines:
            probe = probe[:-1]
        return self.lines.get(probe, 1)

    def error(self, where: tuple[str, ...], message: str) -> None:
        line = self.line(where)
        key = ".".join(where) or "(top level)"
        # Keys and values are the file's own text: a newline in a key must not split the line.
        self.errors.append(_one_line(f"{self.path}:{line}: {key}: {message}"))


def read_policy(path: Path) -> Policy:
    """Read and validate a policy file; raise PolicyError naming file, line and key."""
    content, located, raw = _read_yaml(path)
    if not isinstance(raw, dict):
        raise PolicyError(
            f"{path}:{located.line(())}: a policy is a mapping of keys, not a {type(raw).__name__}"
        )
    policy = _Builder(located, raw).build(hashlib.sha256(content).hexdigest())
    if located.errors:
        more = f" (and {len(located.errors) - 1} more)" if len(located.errors) > 1 else ""
        raise PolicyError(located.errors[0] + more, errors=located.errors)
    return policy


def _read_yaml(path: Path) -> tuple[bytes, _Located, Any]:
    """The file's bytes, the line map and the values of a YAML file; PolicyError if unreadable."""
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
        line = content[: exc.start].count(b"\n") + 1
        raise PolicyError(
            f"{path}:{line}: policy file is not UTF-8 text (byte {exc.start})"
        ) from exc
    except ValueError as exc:
        # A name with a NUL byte (a waivers file named in the policy) is no file at all.
        raise PolicyError(_one_line(f"{path}: cannot read policy file ({exc})")) from exc
    located = _Located(path)
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.reader.ReaderError as exc:
        # Control characters: the reader knows the offset, not the line.
        line = text[: exc.position].count("\n") + 1
        raise PolicyError(
            f"{path}:{line}: invalid YAML: character {exc.character!r} is not allowed"
        ) from exc
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else 1
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise PolicyError(_one_line(f"{path}:{line}: invalid YAML: {problem}")) from exc
    except RecursionError as exc:
        # PyYAML composes nested collections recursively; its parser does not.
        line = _too_deep(text)
        raise PolicyError(
            f"{path}:{line}: invalid YAML: nested more than {MAX_DEPTH} levels deep"
        ) from exc
    if node is None:
        raise PolicyError(f"{path}:1: policy file is empty")
    return content, located, located.record(node, ())


def _too_deep(text: str) -> int:
    """The line where the YAML text first nests deeper than MAX_DEPTH (1 if never found)."""
    depth = 0
    try:
        for event in yaml.parse(text, Loader=yaml.SafeLoader):
            if isinstance(event, yaml.CollectionStartEvent):
                depth += 1
                if depth > MAX_DEPTH:
                    mark = event.start_mark
                    return mark.line + 1 if mark is not None else 1
            elif isinstance(event, yaml.CollectionEndEvent):
                depth -= 1
    except yaml.YAMLError:
        pass
    return 1


# The keys each section may hold ("*" is any name or list position).  A misspelt key would
# otherwise be ignored and leave its setting at the default: a typo must not fail open.
SECTION_FIELDS: dict[tuple[str, ...], frozenset[str]] = {
    ("organisation",): frozenset({"name", "home_jurisdiction"}),
    ("providers", "*"): frozenset({"operator", "parent"}),
    ("classifications", "*"): frozenset(
        {
            "zh",
            "rank",
            "allowed_jurisdictions",
            "allowed_operators",
            "key_custody",
            "log_retention_days",
            "backup_required",
            "allow_global_edge",
            "allow_public",
            "restricted",
        }
    ),
    ("classification_defaults",): frozenset({"untagged", "aliases"}),
    ("tags",): frozenset(
        {"classification", "owner_dept", "accountable_person", "sharing", "custodian", "pi_regex"}
    ),
    ("departments", "*"): frozenset({"id", "name"}),
    ("people", "*"): frozenset({"id", "dept", "status"}),
    ("accounts", "*"): frozenset({"name", "dept", "purpose", "classification_max"}),
    ("trusted_accounts", "*"): frozenset(
        {
            "account",
            "org",
            "kind",
            "dept",
            "jurisdiction",
            "dept_sponsor",
            "contract",
            "contract_expiry",
            "require_external_id",
            "require_source_identity",
        }
    ),
    ("external_endpoints", "*"): frozenset({"host", "country"}),
    ("sharing_agreements", "*"): frozenset(
        {"id", "from", "to", "resources", "attribute", "purpose", "approver", "expires"}
    ),
    ("transfer_approvals", "*"): frozenset({"id", "resources", "basis", "expires"}),
    ("key_custody",): frozenset({"approved_custodians", "levels"}),
    ("roles",): frozenset({"audit_admins", "capability_actions", "sod_rules"}),
    ("roles", "sod_rules", "*"): frozenset({"id", "exclusive"}),
    ("break_glass",): frozenset({"principals", "max_count", "hardware_mfa", "alarm_required"}),
    ("identity",): frozenset(
        {"federation_required", "idps", "technical_accounts", "shared_name_regex"}
    ),
    ("identity", "idps", "*"): frozenset({"name", "country"}),
    ("waiver_policy",): frozenset({"approvers", "max_days"}),
    ("waivers", "*"): frozenset(
        {"check", "resource", "reason", "approver", "approved_on", "expires", "ticket"}
    ),
    ("checks",): frozenset({"disabled", "severity"}),
}


def _sections(raw: Any, pattern: tuple[str, ...], where: tuple[str, ...] = ()) -> Any:
    """(path, mapping) of every place in `raw` the pattern names."""
    if not pattern:
        if isinstance(raw, dict):
            yield where, raw
        return
    head, rest = pattern[0], pattern[1:]
    if head == "*":
        # A section of another type (a number, a string) has no members; its own reader
        # reports the type.
        if not isinstance(raw, dict | list):
            return
        items = raw.items() if isinstance(raw, dict) else enumerate(raw)
        for key, value in items:
            yield from _sections(value, rest, (*where, str(key)))
    elif isinstance(raw, dict) and head in raw:
        yield from _sections(raw[head], rest, (*where, head))


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
        """An AWS or Outscale account (12 digits), an Aliyun account (16 digits), or the id
        other clouds give (an OpenStack project id, a cloud config section label)."""
        # YAML reads unquoted digits as a number: 012345678901 would lose its zero.
        text = str(value) if isinstance(value, int) and not isinstance(value, bool) else value
        if isinstance(text, str) and text.isdigit() and len(text) in ACCOUNT_DIGITS:
            return text
        if isinstance(text, str) and not text.isdigit() and ACCOUNT_LABEL.fullmatch(text):
            return text
        self.err(
            where,
            f"{value!r} is not an account id: 12 digits for AWS (quote it: '012345678901'), "
            "16 for Aliyun, or a project id or cloud label of letters, digits and . _ : -",
        )
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
        self.unknown_fields()
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
        identity = self.mapping(("identity",), self.raw.get("identity"))
        self.check_classification_refs(classifications)
        approvers, max_days = self.waiver_policy()
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
            providers=self.providers(),
            sharing_tag=self.text(("tags", "sharing"), tags.get("sharing")) or "share-attr",
            custodian_tag=self.text(("tags", "custodian"), tags.get("custodian"))
            or "key-custodian",
            pi_regex=self.regex(("tags", "pi_regex"), tags.get("pi_regex")) or DEFAULT_PI_REGEX,
            sharing_agreements=self.sharing_agreements(),
            transfer_approvals=self.transfer_approvals(),
            approved_custodians=self.custodians(),
            custody_levels=self.custody_levels(),
            break_glass=self.break_glass(),
            federation_required=self.flag(
                ("identity", "federation_required"), identity.get("federation_required"), False
            ),
            technical_accounts=frozenset(
                self.text(("identity", "technical_accounts", str(i)), v)
                for i, v in enumerate(
                    self.sequence(
                        ("identity", "technical_accounts"), identity.get("technical_accounts")
                    )
                )
            ),
            shared_name_regex=self.regex(
                ("identity", "shared_name_regex"), identity.get("shared_name_regex")
            ),
            thresholds=self.thresholds(),
            waiver_approvers=approvers,
            waiver_max_days=max_days,
            waivers=self.waivers(),
        )

    def unknown_fields(self) -> None:
        for pattern, known in SECTION_FIELDS.items():
            for where, body in _sections(self.raw, pattern):
                for key in body:
                    if str(key) not in known:
                        hint = difflib.get_close_matches(str(key), known, n=1)
                        suggestion = f"; did you mean {hint[0]!r}?" if hint else ""
                        self.err((*where, str(key)), f"unknown key{suggestion}")

    def jurisdiction_sets(self) -> dict[str, frozenset[str]]:
        """Named sets, which may name each other in any order (but not themselves)."""
        raw = {
            str(k): v
            for k, v in self.mapping(("jurisdictions",), self.raw.get("jurisdictions")).items()
        }
        sets: dict[str, frozenset[str]] = {}
        resolving: list[str] = []

        def resolve(name: str) -> frozenset[str]:
            if name in sets:
                return sets[name]
            if name in resolving:
                return frozenset()
            resolving.append(name)
            value = raw[name]
            where = ("jurisdictions", name)
            countries: set[str] = set()
            for i, member in enumerate(value if isinstance(value, list) else [value]):
                text = self.text((*where, str(i)), member)
                if text in resolving:
                    self.err((*where, str(i)), f"set {text!r} contains itself through {name!r}")
                elif text in raw and text not in sets:
                    countries |= resolve(text)
                else:
                    countries |= self.countries((*where, str(i)), member, sets)
            resolving.pop()
            sets[name] = frozenset(countries)
            return sets[name]

        for name in raw:
            resolve(str(name))
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
            retention = body.get("log_retention_days")
            if retention is not None and (
                not isinstance(retention, int) or isinstance(retention, bool) or retention < 1
            ):
                self.err((*where, "log_retention_days"), "expected a positive number of days")
                retention = None
            operators_raw = body.get("allowed_operators")
            operators: frozenset[str] | None = None
            if operators_raw is not None:
                found_ops: set[str] = set()
                for i, member in enumerate(
                    self.sequence((*where, "allowed_operators"), operators_raw)
                ):
                    found_ops |= self.countries((*where, "allowed_operators", str(i)), member, sets)
                operators = frozenset(found_ops)
            result[str(name)] = Classification(
                str(name),
                label,
                rank,
                allowed,
                custody,
                allow_public,
                restricted,
                allowed_operators=operators,
                log_retention_days=retention,
                backup_required=self.flag(
                    (*where, "backup_required"), body.get("backup_required"), False
                ),
                allow_global_edge=self.flag(
                    (*where, "allow_global_edge"), body.get("allow_global_edge"), False
                ),
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
                classification_max=self.text(
                    (*where, "classification_max"), body.get("classification_max")
                )
                or None,
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
                require_source_identity=self.flag(
                    (*where, "require_source_identity"),
                    body.get("require_source_identity"),
                    False,
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

    # ------------------------------------------------------------------------------------
    # governance: operators, agreements, approvals, custody, break-glass, waivers

    def whole_number(self, where: tuple[str, ...], value: Any, default: int) -> int:
        if value is None:
            return default
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            self.err(where, f"expected a whole number, got {value!r}")
            return default
        return value

    def regex(self, where: tuple[str, ...], value: Any) -> str:
        text = self.text(where, value)
        if text:
            try:
                re.compile(text)
            except (re.error, OverflowError) as exc:
                # OverflowError: a repeat count past sre's limit, as in a{99999999999}.
                self.err(where, f"invalid regular expression: {exc}")
                return ""
            except RecursionError:
                self.err(where, "invalid regular expression: groups nested too deeply")
                return ""
        return text

    def country(self, where: tuple[str, ...], value: Any, *, required: bool = False) -> str:
        text = self.text(where, value, required=required)
        if text and not (len(text) == 2 and text.isalpha() and text.isupper()):
            self.err(where, f"{text!r} is not an ISO-3166 country code")
        return text

    def check_classification_refs(self, classes: Mapping[str, Classification]) -> None:
        """classification_max of accounts must name a defined class (or alias)."""
        aliases = self.mapping(
            ("classification_defaults", "aliases"),
            self.mapping(("classification_defaults",), self.raw.get("classification_defaults")).get(
                "aliases"
            ),
        )
        for key, body in self.mapping(("accounts",), self.raw.get("accounts")).items():
            value = body.get("classification_max") if isinstance(body, dict) else None
            if value is not None and str(value) not in classes and str(value) not in aliases:
                self.err(
                    ("accounts", str(key), "classification_max"),
                    f"{value!r} is not a defined classification",
                )

    def providers(self) -> dict[str, Provider]:
        found = dict(DEFAULT_PROVIDERS)
        for name, body in self.mapping(("providers",), self.raw.get("providers")).items():
            where = ("providers", str(name))
            body = self.mapping(where, body)
            operator = self.country((*where, "operator"), body.get("operator"), required=True)
            parent = self.country((*where, "parent"), body.get("parent")) or operator
            found[str(name)] = Provider(operator, parent)
        return found

    def globs(self, where: tuple[str, ...], value: Any) -> tuple[str, ...]:
        items = tuple(
            self.text((*where, str(i)), v) for i, v in enumerate(self.sequence(where, value))
        )
        if not items:
            self.err(where, "at least one resource pattern is required")
        return items

    def sharing_agreements(self) -> tuple[SharingAgreement, ...]:
        found = []
        departments = self.department_ids()
        where = ("sharing_agreements",)
        for i, item in enumerate(self.sequence(where, self.raw.get("sharing_agreements"))):
            at = (*where, str(i))
            body = self.mapping(at, item)
            ends = {}
            for end in ("from", "to"):
                dept = self.text((*at, end), body.get(end), required=True)
                if dept and dept not in departments:
                    self.err((*at, end), f"{dept!r} is not a department id of this policy")
                ends[end] = dept
            attribute = self.text((*at, "attribute"), body.get("attribute")) or "conditional"
            if attribute not in SHARING_ATTRIBUTES:
                self.err(
                    (*at, "attribute"),
                    f"{attribute!r} is not one of {', '.join(SHARING_ATTRIBUTES)}",
                )
            found.append(
                SharingAgreement(
                    id=self.text((*at, "id"), body.get("id"), required=True),
                    from_dept=ends["from"],
                    to_dept=ends["to"],
                    resources=self.globs((*at, "resources"), body.get("resources")),
                    attribute=attribute,
                    expires=self.day((*at, "expires"), body.get("expires")),
                    purpose=self.text((*at, "purpose"), body.get("purpose")),
                    approver=self.text((*at, "approver"), body.get("approver")),
                )
            )
        return tuple(found)

    def transfer_approvals(self) -> tuple[TransferApproval, ...]:
        found = []
        where = ("transfer_approvals",)
        for i, item in enumerate(self.sequence(where, self.raw.get("transfer_approvals"))):
            at = (*where, str(i))
            body = self.mapping(at, item)
            found.append(
                TransferApproval(
                    id=self.text((*at, "id"), body.get("id"), required=True),
                    resources=self.globs((*at, "resources"), body.get("resources")),
                    basis=self.text((*at, "basis"), body.get("basis"), required=True),
                    expires=self.day((*at, "expires"), body.get("expires")),
                )
            )
        return tuple(found)

    def department_ids(self) -> set[str]:
        return {
            str(d.get("id"))
            for d in self.sequence(("departments",), self.raw.get("departments"))
            if isinstance(d, dict)
        }

    def person_ids(self) -> set[str]:
        return {
            str(p.get("id"))
            for p in self.sequence(("people",), self.raw.get("people"))
            if isinstance(p, dict)
        }

    def people_list(self, where: tuple[str, ...], value: Any) -> frozenset[str]:
        known = self.person_ids()
        found = set()
        for i, item in enumerate(self.sequence(where, value)):
            person = self.text((*where, str(i)), item)
            if person and known and person not in known:
                self.err((*where, str(i)), f"{person!r} is not a person id of this policy")
            found.add(person)
        return frozenset(found)

    def custodians(self) -> dict[str, frozenset[str]]:
        custody = self.mapping(("key_custody",), self.raw.get("key_custody"))
        where = ("key_custody", "approved_custodians")
        found = {}
        departments = self.department_ids()
        for dept, people in self.mapping(where, custody.get("approved_custodians")).items():
            if str(dept) not in departments:
                self.err((*where, str(dept)), f"{dept!r} is not a department id of this policy")
            found[str(dept)] = self.people_list((*where, str(dept)), people)
        return found

    def custody_levels(self) -> dict[str, frozenset[str]]:
        custody = self.mapping(("key_custody",), self.raw.get("key_custody"))
        where = ("key_custody", "levels")
        found = dict(DEFAULT_CUSTODY_LEVELS)
        for level, origins in self.mapping(where, custody.get("levels")).items():
            if level not in KEY_CUSTODY_LEVELS:
                self.err(
                    (*where, str(level)), f"{level!r} is not one of {', '.join(KEY_CUSTODY_LEVELS)}"
                )
                continue
            found[str(level)] = frozenset(
                self.text((*where, str(level), str(i)), o)
                for i, o in enumerate(self.sequence((*where, str(level)), origins))
            )
        return found

    def break_glass(self) -> BreakGlass:
        where = ("break_glass",)
        body = self.mapping(where, self.raw.get("break_glass"))
        principals = tuple(
            self.text((*where, "principals", str(i)), v)
            for i, v in enumerate(self.sequence((*where, "principals"), body.get("principals")))
        )
        for i, arn in enumerate(principals):
            if not arn.startswith("arn:"):
                self.err((*where, "principals", str(i)), f"{arn!r} is not an ARN")
        return BreakGlass(
            principals=principals,
            max_count=self.whole_number((*where, "max_count"), body.get("max_count"), 2),
            hardware_mfa=self.flag((*where, "hardware_mfa"), body.get("hardware_mfa"), True),
            alarm_required=self.flag((*where, "alarm_required"), body.get("alarm_required"), True),
        )

    def thresholds(self) -> Thresholds:
        where = ("thresholds",)
        body = self.mapping(where, self.raw.get("thresholds"))
        defaults = Thresholds()
        known = set(Thresholds.__dataclass_fields__)
        for key in body:
            if key not in known:
                names = ", ".join(sorted(known))
                self.err((*where, str(key)), f"unknown threshold (known: {names})")
        return Thresholds(
            **{
                name: self.whole_number((*where, name), body.get(name), getattr(defaults, name))
                for name in known
            }
        )

    def waiver_policy(self) -> tuple[dict[str, frozenset[str]], int]:
        where = ("waiver_policy",)
        body = self.mapping(where, self.raw.get("waiver_policy"))
        approvers: dict[str, frozenset[str]] = {}
        for severity, people in self.mapping((*where, "approvers"), body.get("approvers")).items():
            if str(severity) not in {s.value for s in Severity}:
                self.err(
                    (*where, "approvers", str(severity)),
                    f"{severity!r} is not one of {', '.join(s.value for s in Severity)}",
                )
                continue
            approvers[str(severity)] = self.people_list(
                (*where, "approvers", str(severity)), people
            )
        return approvers, self.whole_number((*where, "max_days"), body.get("max_days"), 365)

    def waivers(self) -> tuple[Waiver, ...]:
        value = self.raw.get("waivers")
        if isinstance(value, str) and value:
            return self.waivers_file(value)
        found = []
        where = ("waivers",)
        for i, item in enumerate(self.sequence(where, self.raw.get("waivers"))):
            at = (*where, str(i))
            body = self.mapping(at, item)
            check_id = self.text((*at, "check"), body.get("check"), required=True)
            if check_id and not re.fullmatch(r"(SOV|FLOW|KEY|ACC|RSP|LOG)-\d{3}", check_id):
                self.err((*at, "check"), f"{check_id!r} is not a check id (like FLOW-003)")
            approved = self.day((*at, "approved_on"), body.get("approved_on"))
            expires = self.day((*at, "expires"), body.get("expires"))
            if "expires" not in body:
                self.err(at, "expires is required: a waiver without an end date is not a waiver")
            if approved and expires and expires < approved:
                self.err((*at, "expires"), f"expires {expires} is before approved_on {approved}")
            found.append(
                Waiver(
                    check=check_id,
                    resource=self.text((*at, "resource"), body.get("resource"), required=True),
                    reason=self.text((*at, "reason"), body.get("reason")),
                    approver=self.text((*at, "approver"), body.get("approver")),
                    approved_on=approved,
                    expires=expires,
                    ticket=self.text((*at, "ticket"), body.get("ticket")),
                    where=f"{self.loc.path}:{self.loc.line(at)}",
                )
            )
        return tuple(found)

    def waivers_file(self, name: str) -> tuple[Waiver, ...]:
        """Waivers kept in their own file (named relative to the policy), so the committee's
        register can change without touching the policy.  Errors name that file."""
        path = self.loc.path.parent / name
        try:
            _, located, raw = _read_yaml(path)
        except PolicyError as exc:
            self.err(("waivers",), f"cannot read the waivers file: {exc}")
            return ()
        if isinstance(raw, list):
            # Line numbers of a bare list are keyed as if it sat under "waivers".
            located.lines = {("waivers", *k): v for k, v in located.lines.items()}
        elif isinstance(raw, dict) and set(raw) <= {"waivers"}:
            raw = raw.get("waivers")
        if not isinstance(raw, list):
            located.error((), "a waivers file is a list of waivers (or a mapping 'waivers:')")
            self.loc.errors.extend(located.errors)
            return ()
        sub = _Builder(located, {"waivers": raw})
        sub.unknown_fields()
        found = sub.waivers()
        self.loc.errors.extend(located.errors)
        return found
