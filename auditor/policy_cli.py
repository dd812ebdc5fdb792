"""`govaudit policy init|validate`: start a policy from the shipped starter, and check one.

The commands end with their own exit code (`ctx.exit`) instead of raising project errors:
`cli.main()` would map those, but a test runner or another Click host calling this group
directly would not, and a policy error must be exit 2 wherever the group runs.
"""

from __future__ import annotations

import difflib
import shlex
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date
from importlib import resources
from pathlib import Path
from typing import NoReturn

import click
import yaml

from auditor.checking import load_checks
from auditor.errors import PolicyError
from auditor.policy import Policy, load_policy

EXIT_OK, EXIT_POLICY, EXIT_OTHER = 0, 2, 4
STARTER = "starter-policy.yaml"


def starter_policy() -> bytes:
    """The commented starter policy shipped in examples/ (installed as auditor.examples)."""
    return (resources.files("auditor.examples") / STARTER).read_bytes()


def _fail(ctx: click.Context, message: str, code: int) -> NoReturn:
    click.echo(f"error: {message}", err=True)
    ctx.exit(code)


@click.group(name="policy")
def policy_group() -> None:
    """Write a starter policy file, and check a policy file before an audit."""


@policy_group.command()
@click.argument(
    "path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=Path("policy.yaml"),
)
@click.option("--force", is_flag=True, help="Overwrite PATH if it already exists.")
@click.pass_context
def init(ctx: click.Context, path: Path, force: bool) -> int:
    """Write a commented starter policy to PATH (default: policy.yaml).

    The starter holds strict defaults for a municipal government on aws-cn (core,
    important and general data in mainland China only) and placeholder accounts, people
    and dates to replace.  An existing file is kept unless --force is given.

    \b
    Example:
      govaudit policy init policy.yaml
      govaudit policy validate policy.yaml
    """
    # "x" refuses an existing file atomically, so a file appearing meanwhile is not lost.
    try:
        with path.open("wb" if force else "xb") as out:
            out.write(starter_policy())
    except FileExistsError:
        _fail(ctx, f"{path} already exists; use --force to overwrite it", EXIT_POLICY)
    except FileNotFoundError:
        _fail(ctx, f"cannot write {path}: folder {path.parent} does not exist", EXIT_POLICY)
    except OSError as exc:
        _fail(ctx, f"cannot write {path}: {exc.strerror or exc}", EXIT_OTHER)
    click.echo(f"wrote {path}: a starter policy; replace its placeholder accounts, people")
    click.echo("and dates with your organisation's before the first audit.")
    click.echo(f"next: govaudit policy validate {shlex.quote(str(path))}")
    return EXIT_OK


@policy_group.command()
@click.argument("file", type=click.Path(dir_okay=True, path_type=Path))
@click.option("--strict", is_flag=True, help="Treat warnings as errors (exit 2).")
@click.pass_context
def validate(ctx: click.Context, file: Path, strict: bool) -> int:
    """Check a policy FILE: list every error, or summarise what it says.

    Exit 0 when the policy is valid, 2 when it is not (every problem is printed as an
    `error:` line naming file, line and key).  Warnings (check ids this govaudit does not
    know, expired waivers) do not change the exit code unless --strict is given.

    \b
    Example:
      govaudit policy validate policy.yaml --strict
    """
    try:
        policy = load_policy(file)
    except PolicyError as exc:
        for line in exc.errors:
            click.echo(f"error: {line}", err=True)
        ctx.exit(EXIT_POLICY)
    for line in summary(policy, date.today()):
        click.echo(line)
    warnings = policy_warnings(policy, file, date.today())
    for line in warnings:
        click.echo(f"warning: {line}", err=True)
    if warnings and strict:
        _fail(ctx, f"{len(warnings)} warning(s) in {file} (--strict)", EXIT_POLICY)
    return EXIT_OK


# summary --------------------------------------------------------------------------------


def summary(policy: Policy, today: date) -> list[str]:
    """What the policy says, on one screen: the officer checks it reads as intended."""
    home = f" (home jurisdiction {policy.home_jurisdiction})" if policy.home_jurisdiction else ""
    lines = [
        f"{policy.path}: valid policy (sha256 {policy.sha256[:12]})",
        f"organisation: {policy.organisation}{home}",
        f"classifications: {len(policy.classifications)}"
        f" (untagged data counts as {policy.untagged_default})",
    ]
    for cls in sorted(policy.classifications.values(), key=lambda c: -c.rank):
        label = f" ({cls.label})" if cls.label != cls.name else ""
        where = cls.allowed_text()
        where = where if where in ("anywhere", "nowhere") else f"in {where}"
        details = [f"rank {cls.rank}", f"allowed {where}"]
        if cls.allowed_operators is not None:
            details.append(f"operators {', '.join(sorted(cls.allowed_operators)) or 'none'}")
        if cls.key_custody != "any":
            details.append(f"keys {cls.key_custody}")
        if cls.allow_public:
            details.append("may be public")
        lines.append(f"  {cls.name}{label}: {'; '.join(details)}")
    left = sum(1 for p in policy.people.values() if p.status == "left")
    kinds = _counted(t.kind for t in policy.trusted.values())
    expired = sum(1 for w in policy.waivers if w.expires is not None and w.expires < today)
    disabled = ", ".join(sorted(policy.disabled_checks)) or "none"
    lines += [
        f"departments: {len(policy.departments)}",
        f"people: {len(policy.people)} ({left} left)",
        f"accounts: {len(policy.accounts)}",
        f"trusted parties: {len(policy.trusted)}" + (f" ({kinds})" if kinds else ""),
        f"waivers: {len(policy.waivers)} ({expired} expired)",
        f"disabled checks: {disabled}",
    ]
    return lines


def _counted(values: Iterable[str]) -> str:
    counts: dict[str, int] = {}
    for value in values:
        counts[value] = counts.get(value, 0) + 1
    return ", ".join(f"{n} {kind}" for kind, n in sorted(counts.items()))


# warnings -------------------------------------------------------------------------------


@dataclass
class _Places:
    """Line and scalar text of every key path of a YAML file, for warnings' locations."""

    lines: dict[tuple[str, ...], int] = field(default_factory=dict)
    scalars: dict[tuple[str, ...], str] = field(default_factory=dict)

    def walk(self, node: yaml.Node, where: tuple[str, ...]) -> None:
        self.lines.setdefault(where, node.start_mark.line + 1)
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                at = (*where, str(key.value))
                self.lines[at] = key.start_mark.line + 1
                self.walk(value, at)
        elif isinstance(node, yaml.SequenceNode):
            for i, item in enumerate(node.value):
                self.walk(item, (*where, str(i)))
        elif isinstance(node, yaml.ScalarNode):
            self.scalars[where] = str(node.value)

    def items(self, where: tuple[str, ...]) -> Iterator[tuple[tuple[str, ...], str]]:
        """The scalar items of the list at `where`, with their key paths."""
        i = 0
        while (*where, str(i)) in self.lines:
            at = (*where, str(i))
            if at in self.scalars:
                yield at, self.scalars[at]
            i += 1


def _places(path: Path) -> _Places:
    places = _Places()
    # The loader has just read this file, so it is UTF-8 YAML with a mapping at the top.
    root = yaml.compose(path.read_text(encoding="utf-8"), Loader=yaml.SafeLoader)
    if root is not None:
        places.walk(root, ())
    return places


def policy_warnings(policy: Policy, path: Path, today: date) -> list[str]:
    """Entries that load but do nothing or no longer hold: unknown check ids, expired waivers.

    A check id the loader accepts may still name no check (a typo, or a check of a later
    release); its entry then has no effect, which the officer should hear about.
    """
    known = sorted(c.meta.id for c in load_checks())
    places = _places(path)

    def unknown(check_id: str) -> str:
        hint = difflib.get_close_matches(check_id, known, n=1)
        suggestion = f"; did you mean {hint[0]!r}?" if hint else ""
        return f"{check_id!r} is not a check this govaudit knows, so it has no effect{suggestion}"

    def at(where: tuple[str, ...]) -> str:
        return f"{path}:{places.lines.get(where, 1)}: {'.'.join(where)}"

    found: list[str] = []
    for where, check_id in places.items(("checks", "disabled")):
        if check_id not in known:
            found.append(f"{at(where)}: {unknown(check_id)}")
    for check_id in policy.severity_overrides:
        if check_id not in known:
            found.append(f"{at(('checks', 'severity', check_id))}: {unknown(check_id)}")
    for i, waiver in enumerate(policy.waivers):
        written = waiver.where or f"{path}:1"
        if waiver.check not in known:
            found.append(f"{written}: waivers.{i}.check: {unknown(waiver.check)}")
        if waiver.expires is not None and waiver.expires < today:
            days = (today - waiver.expires).days
            found.append(
                f"{written}: waivers.{i}: the waiver of {waiver.check} on {waiver.resource}"
                f" expired on {waiver.expires} ({days} days ago); its findings count again"
            )
    return found
