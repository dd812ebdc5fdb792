"""Compliance frameworks as data: which requirement of a standard each check evidences.

A framework is one YAML file.  The built-in ones live in ``auditor/frameworks/``; users add
their own with ``govaudit frameworks --frameworks-dir DIR``.  File format::

    id: mlps2-level3                 # required; letters, digits, '.', '_', '-'; unique
    name: MLPS 2.0 level 3 ...       # required
    name_zh: 网络安全等级保护 ...      # optional
    version: "2019"                  # required (quote it: 5.0 would otherwise be a number)
    source: GB/T 22239-2019 ...      # optional: the publication the ids come from
    requirements:                    # required, at least one
      - id: "8.2.4.5(a)"             # required; unique in the file
        title: Customer data ...     # required
        title_zh: 应确保 ...           # optional
        checks: [SOV-001, FLOW-001]  # optional; catalog ids (SOV|FLOW|KEY|ACC|RSP|LOG)-NNN
        manual: What a human must verify that no check can.   # optional

Every plain scalar is read as text, so ids such as ``1.10`` keep their digits.  A requirement
is *automated* when at least one of its checks is registered, *manual* when it has none
registered but a ``manual`` text, and *not covered* otherwise.  Any problem in a file raises
`PolicyError` naming the file, line and key, and so ends the command with exit code 2.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import NoReturn

import yaml

from auditor.errors import PolicyError
from auditor.model import Finding, Status

BUILTIN_DIR = Path(__file__).parent / "frameworks"
CHECK_ID = re.compile(r"^(SOV|FLOW|KEY|ACC|RSP|LOG)-\d{3}$")
FRAMEWORK_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
TOP_KEYS = ("id", "name", "name_zh", "version", "source", "requirements")
REQUIREMENT_KEYS = ("id", "title", "title_zh", "checks", "manual")


@dataclass(frozen=True, slots=True)
class Requirement:
    id: str
    title: str
    title_zh: str = ""
    checks: tuple[str, ...] = ()
    manual: str = ""


@dataclass(frozen=True, slots=True)
class Framework:
    id: str
    name: str
    version: str
    requirements: tuple[Requirement, ...]
    name_zh: str = ""
    source: str = ""
    path: Path | None = None

    @property
    def check_ids(self) -> frozenset[str]:
        return frozenset(c for r in self.requirements for c in r.checks)


class CoverageKind(StrEnum):
    AUTOMATED = "automated"
    MANUAL = "manual"
    NOT_COVERED = "not_covered"


@dataclass(frozen=True, slots=True)
class Coverage:
    automated: int
    manual: int
    not_covered: int
    total: int


class ComplianceStatus(StrEnum):
    PASS = "PASS"  # noqa: S105 - a verdict, not a password
    FAIL = "FAIL"
    UNKNOWN = "UNKNOWN"
    MANUAL = "MANUAL"
    NOT_COVERED = "NOT_COVERED"


@dataclass(frozen=True, slots=True)
class RequirementStatus:
    """The verdict on one requirement, with the finding counts behind it."""

    requirement: Requirement
    status: ComplianceStatus
    detail: str
    failing: int = 0
    unknown: int = 0
    passing: int = 0
    # Statuses this module does not judge (a later WAIVED, say): counted, never failing.
    other: Mapping[str, int] = field(default_factory=dict)
    failing_checks: tuple[str, ...] = ()
    # Registered checks of the requirement that produced no finding at all.
    not_assessed: tuple[str, ...] = ()


# --------------------------------------------------------------------------------------------
# loading


class _TextLoader(yaml.SafeLoader):
    """SafeLoader that resolves every plain scalar to text (null aside).

    The format holds no numbers or booleans, and requirement ids like 1.10 or versions like
    5.0 must not be turned into floats that lose their digits.
    """


_NULL = "tag:yaml.org,2002:null"
_TextLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag == _NULL]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def load_frameworks(extra_dirs: Sequence[Path] = ()) -> list[Framework]:
    """Read the built-in frameworks, then those in each of `extra_dirs`, in that order."""
    frameworks: list[Framework] = []
    seen: dict[str, Path] = {}
    for folder in (BUILTIN_DIR, *extra_dirs):
        for path in _framework_files(Path(folder), required=folder is not BUILTIN_DIR):
            framework, id_line = _read(path)
            if framework.id in seen:
                raise PolicyError(
                    f"{path}:{id_line}: id: framework {framework.id!r} is already defined "
                    f"in {seen[framework.id]}"
                )
            seen[framework.id] = path
            frameworks.append(framework)
    return frameworks


def _framework_files(folder: Path, *, required: bool) -> list[Path]:
    if not folder.is_dir():
        raise PolicyError(f"{folder}: no such folder of framework files")
    files = sorted(
        p
        for p in folder.iterdir()
        if p.suffix in (".yaml", ".yml") and not p.name.startswith(".") and p.is_file()
    )
    if required and not files:
        # A user pointing at a folder without frameworks has most likely mistyped it.
        raise PolicyError(f"{folder}: no framework files (*.yaml) in this folder")
    return files


def read_framework(path: Path) -> Framework:
    """Read and validate one framework file; raise PolicyError naming file, line and key."""
    return _read(path)[0]


def _read(path: Path) -> tuple[Framework, int]:
    """The framework and the line of its id (for the duplicate-id message)."""
    try:
        text = path.read_bytes().decode("utf-8")
    except OSError as exc:
        raise PolicyError(f"{path}: cannot read framework file ({exc.strerror})") from exc
    except UnicodeDecodeError as exc:
        raise PolicyError(f"{path}: framework file is not UTF-8 text (byte {exc.start})") from exc
    try:
        node = yaml.compose(text, Loader=_TextLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else 1
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise PolicyError(f"{path}:{line}: invalid YAML: {problem}") from exc
    if node is None:
        raise PolicyError(f"{path}:1: (top level): framework file is empty")
    return _Parser(path).framework(node)


class _Parser:
    """Validates composed YAML nodes, so every problem can name the line it is on."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def fail(self, node: yaml.Node, key: str, problem: str) -> NoReturn:
        raise PolicyError(f"{self.path}:{node.start_mark.line + 1}: {key}: {problem}")

    def mapping(
        self, node: yaml.Node, key: str, allowed: Sequence[str], required: Sequence[str]
    ) -> dict[str, yaml.Node]:
        if not isinstance(node, yaml.MappingNode):
            self.fail(node, key, f"expected a mapping of keys, got {_kind(node)}")
        fields: dict[str, tuple[yaml.Node, yaml.Node]] = {}
        for key_node, value_node in node.value:
            name = str(key_node.value)
            where = f"{key}.{name}" if key != "(top level)" else name
            if name not in allowed:
                self.fail(key_node, where, f"unknown key (allowed: {', '.join(allowed)})")
            if name in fields:
                self.fail(key_node, where, "key given twice")
            fields[name] = (key_node, value_node)
        for name in required:
            if name not in fields:
                self.fail(node, key, f"missing required key {name!r}")
        return {name: value for name, (_, value) in fields.items()}

    def text(self, node: yaml.Node | None, key: str) -> str:
        if node is None:
            return ""
        if not isinstance(node, yaml.ScalarNode):
            self.fail(node, key, f"expected text, got {_kind(node)}")
        if node.tag == _NULL or not str(node.value).strip():
            self.fail(node, key, "must not be empty")
        return str(node.value).strip()

    def framework(self, node: yaml.Node) -> tuple[Framework, int]:
        fields = self.mapping(
            node, "(top level)", TOP_KEYS, ("id", "name", "version", "requirements")
        )
        framework_id = self.text(fields["id"], "id")
        if not FRAMEWORK_ID.match(framework_id):
            self.fail(
                fields["id"], "id", f"{framework_id!r} is not a framework id (a-z, 0-9, . _ -)"
            )
        listing = fields["requirements"]
        if not isinstance(listing, yaml.SequenceNode) or not listing.value:
            self.fail(listing, "requirements", "expected a list of at least one requirement")
        requirements: list[Requirement] = []
        lines: dict[str, int] = {}
        for index, item in enumerate(listing.value):
            requirement = self.requirement(item, f"requirements[{index}]")
            if requirement.id in lines:
                self.fail(
                    item,
                    f"requirements[{index}].id",
                    f"{requirement.id!r} is already listed on line {lines[requirement.id]}",
                )
            lines[requirement.id] = item.start_mark.line + 1
            requirements.append(requirement)
        framework = Framework(
            id=framework_id,
            name=self.text(fields["name"], "name"),
            version=self.text(fields["version"], "version"),
            requirements=tuple(requirements),
            name_zh=self.text(fields.get("name_zh"), "name_zh"),
            source=self.text(fields.get("source"), "source"),
            path=self.path,
        )
        return framework, fields["id"].start_mark.line + 1

    def requirement(self, node: yaml.Node, key: str) -> Requirement:
        fields = self.mapping(node, key, REQUIREMENT_KEYS, ("id", "title"))
        return Requirement(
            id=self.text(fields["id"], f"{key}.id"),
            title=self.text(fields["title"], f"{key}.title"),
            title_zh=self.text(fields.get("title_zh"), f"{key}.title_zh"),
            checks=self.checks(fields.get("checks"), f"{key}.checks"),
            manual=self.text(fields.get("manual"), f"{key}.manual"),
        )

    def checks(self, node: yaml.Node | None, key: str) -> tuple[str, ...]:
        if node is None or (isinstance(node, yaml.ScalarNode) and node.tag == _NULL):
            return ()
        if not isinstance(node, yaml.SequenceNode):
            self.fail(node, key, f"expected a list of check ids, got {_kind(node)}")
        found: list[str] = []
        for index, item in enumerate(node.value):
            check_id = self.text(item, f"{key}[{index}]")
            if not CHECK_ID.match(check_id):
                self.fail(
                    item,
                    f"{key}[{index}]",
                    f"{check_id!r} is not a check id (SOV|FLOW|KEY|ACC|RSP|LOG-NNN, e.g. SOV-001)",
                )
            if check_id in found:
                self.fail(item, f"{key}[{index}]", f"{check_id} listed twice")
            found.append(check_id)
        return tuple(found)


def _kind(node: yaml.Node) -> str:
    if isinstance(node, yaml.MappingNode):
        return "a mapping"
    if isinstance(node, yaml.SequenceNode):
        return "a list"
    return "null" if node.tag == _NULL else "text"


# --------------------------------------------------------------------------------------------
# evaluation


def registered_check_ids() -> frozenset[str]:
    """Ids of every check this install registers."""
    # Imported here so reading frameworks does not import every check module.
    from auditor.checking import load_checks

    return frozenset(check.meta.id for check in load_checks())


def coverage_kind(requirement: Requirement, registered_ids: Collection[str]) -> CoverageKind:
    if any(check_id in registered_ids for check_id in requirement.checks):
        return CoverageKind.AUTOMATED
    return CoverageKind.MANUAL if requirement.manual else CoverageKind.NOT_COVERED


def coverage(framework: Framework, registered_ids: Collection[str]) -> Coverage:
    """How many requirements the registered checks decide, a human must, or nobody does."""
    kinds = Counter(coverage_kind(r, registered_ids) for r in framework.requirements)
    return Coverage(
        automated=kinds[CoverageKind.AUTOMATED],
        manual=kinds[CoverageKind.MANUAL],
        not_covered=kinds[CoverageKind.NOT_COVERED],
        total=len(framework.requirements),
    )


def compliance(
    framework: Framework,
    findings: Iterable[Finding],
    registered_ids: Collection[str] | None = None,
) -> list[RequirementStatus]:
    """Judge each requirement from the findings of its checks.

    FAIL when any finding fails; UNKNOWN when none fails but one is undecided, or when its
    registered checks produced no finding at all (not assessed); PASS otherwise.  Without
    findings or registered checks it is MANUAL or NOT_COVERED.  `registered_ids` defaults to
    the checks of this install.
    """
    registered = frozenset(registered_check_ids() if registered_ids is None else registered_ids)
    by_check: dict[str, list[Finding]] = defaultdict(list)
    for finding in findings:
        by_check[finding.check_id].append(finding)
    return [_judge(r, by_check, registered) for r in framework.requirements]


def _judge(
    requirement: Requirement,
    by_check: Mapping[str, list[Finding]],
    registered: frozenset[str],
) -> RequirementStatus:
    # A stored finding is evidence even if its check has since been removed.
    found = [f for check_id in requirement.checks for f in by_check.get(check_id, ())]
    # str() of a StrEnum is its value; it also copes with statuses stored as plain text.
    counts = Counter(str(f.status) for f in found)
    failing = counts.pop(Status.FAIL.value, 0)
    unknown = counts.pop(Status.UNKNOWN.value, 0)
    passing = counts.pop(Status.PASS.value, 0)
    other = dict(sorted(counts.items()))
    failing_checks = tuple(
        c for c in requirement.checks if any(f.status == Status.FAIL for f in by_check.get(c, ()))
    )
    not_assessed = tuple(c for c in requirement.checks if c in registered and not by_check.get(c))
    listed = "".join(f", {n} {name.lower()}" for name, n in other.items())
    if failing:
        status = ComplianceStatus.FAIL
        detail = f"{failing} failing finding(s) from {', '.join(failing_checks)}{listed}"
    elif unknown:
        status = ComplianceStatus.UNKNOWN
        detail = f"{unknown} undecided finding(s){listed}"
    elif found:
        status = ComplianceStatus.PASS
        detail = f"{passing} passing finding(s){listed}"
        if not_assessed:
            detail += f"; no finding from {', '.join(not_assessed)}"
    elif not_assessed:
        status = ComplianceStatus.UNKNOWN
        detail = f"not assessed: no finding from {', '.join(not_assessed)}"
    elif requirement.manual:
        status, detail = ComplianceStatus.MANUAL, requirement.manual
    else:
        status, detail = ComplianceStatus.NOT_COVERED, "no check and no manual procedure"
    return RequirementStatus(
        requirement=requirement,
        status=status,
        detail=detail,
        failing=failing,
        unknown=unknown,
        passing=passing,
        other=other,
        failing_checks=failing_checks,
        not_assessed=not_assessed,
    )
