"""Command line: `govaudit audit|collect|check|report|demo|checks`.

No audit logic lives here: commands parse options, call `auditor.pipeline` and map errors
to the documented exit codes (0 clean, 1 failing findings at or above --fail-on, 2 usage or
policy error, 3 collection failed, 4 other error, 5 internal error).
"""

from __future__ import annotations

import itertools
import json
import logging
import sys
import traceback
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import boto3
import botocore.exceptions
import click
import networkx as nx

from auditor import __version__, evidence, pipeline, queries
from auditor.checking import CheckMeta
from auditor.compliance_cli import frameworks_command
from auditor.errors import AuditorError, CollectionError, UsageError
from auditor.history_cli import diff_command
from auditor.inventories import providers as cloud_providers
from auditor.inventories.aws import AwsTarget
from auditor.model import Coverage, Finding, Severity, Status
from auditor.policy import Policy, load_policy, policy_sha256
from auditor.policy_cli import policy_group
from auditor.reports.exports import parse_formats
from auditor.reports.i18n import DEFAULT_LANG, LOCALES, lang_code
from auditor.store import RunInfo, Store
from auditor.terminal import safe_line, safe_lines

EXIT_OK, EXIT_FINDINGS, EXIT_USAGE, EXIT_INTERNAL = 0, 1, 2, 5
F = TypeVar("F", bound=Callable[..., Any])


PROGRESS = logging.getLogger("govaudit")


def _settings() -> dict[str, Any]:
    context = click.get_current_context(silent=True)
    return dict(context.find_root().params) if context is not None else {}


def progress(message: str) -> None:
    """Progress for people goes to stderr, so stdout stays clean for machine output."""
    settings = _settings()
    if settings.get("quiet"):
        return
    if settings.get("log_format") == "json":
        PROGRESS.info(message)
        return
    # On a terminal, first clear the live meter line (see _progress_meter).
    prefix = "\r\x1b[K" if sys.stderr.isatty() else ""
    # Messages name cloud resources; their escape sequences must not reach the terminal.
    click.echo(prefix + safe_line(message), err=True)


def _progress_meter() -> Callable[[Coverage], None] | None:
    """A one-line live count of collected services, on a terminal only."""
    settings = _settings()
    if settings.get("quiet") or settings.get("log_format") == "json" or not sys.stderr.isatty():
        return None
    seen = [0]

    def meter(row: Coverage) -> None:
        seen[0] += 1
        where = safe_line(f"{row.account} {row.region} {row.service}")
        click.echo(
            f"\r\x1b[K  collected {seen[0]}: {where} ({row.outcome.value})", err=True, nl=False
        )

    return meter


class JsonLogFormatter(logging.Formatter):
    """One JSON object per line, for scheduled runs whose logs a machine reads."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S%z"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": safe_line(record.getMessage()),
        }
        return json.dumps(entry, ensure_ascii=False)


class SafeTextFormatter(logging.Formatter):
    """Plain log lines with cloud-sourced escape sequences and control characters removed."""

    def format(self, record: logging.LogRecord) -> str:
        return safe_lines(super().format(record))


# shared options -------------------------------------------------------------------------


def policy_option(required: bool = True) -> Callable[[F], F]:
    return click.option(
        "--policy",
        "policy_path",
        type=click.Path(dir_okay=False, path_type=Path),
        required=required,
        help="Policy file (YAML): allowed jurisdictions, accounts, departments, trusted parties.",
    )


def db_option(f: F) -> F:
    return click.option(
        "--db",
        "db_path",
        type=click.Path(dir_okay=False, path_type=Path),
        required=True,
        help="Audit database (SQLite). Created if missing; earlier runs are kept.",
    )(f)


def _formats(_ctx: click.Context, _param: click.Parameter, value: str) -> tuple[str, ...]:
    try:
        return parse_formats(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from exc


def _lang(_ctx: click.Context, _param: click.Parameter, value: str) -> str:
    try:
        return lang_code(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from exc


def lang_option(f: F) -> F:
    return click.option(
        "--lang",
        "lang",
        default=DEFAULT_LANG,
        show_default=True,
        metavar="|".join(LOCALES),
        callback=_lang,
        help="Language of report.html and its pages: zh-CN (简体中文) or en.",
    )(f)


def out_option(f: F) -> F:
    f = click.option(
        "--format",
        "formats",
        default="html,json",
        show_default=True,
        callback=_formats,
        help="Outputs to write, comma-separated: html, json, csv, sarif, ocsf.",
    )(f)
    f = click.option(
        "--frameworks-dir",
        "frameworks_dirs",
        multiple=True,
        type=click.Path(exists=True, file_okay=False, path_type=Path),
        help="A folder of your own framework files to report compliance on (repeatable).",
    )(f)
    return click.option(
        "--out",
        "out_dir",
        type=click.Path(file_okay=False, path_type=Path),
        required=True,
        help="Folder for report.html and findings.json.",
    )(f)


def run_option(f: F) -> F:
    return click.option(
        "--run",
        "run_id",
        type=int,
        default=None,
        help="Run id to work on (default: the latest complete run).",
    )(f)


def fail_on_option(f: F) -> F:
    return click.option(
        "--fail-on",
        type=click.Choice([s.value for s in Severity]),
        default=Severity.HIGH.value,
        show_default=True,
        help="Exit 1 when a finding of this severity or worse fails.",
    )(f)


def aws_options(f: F) -> F:
    options = [
        click.option(
            "--profile",
            "profiles",
            multiple=True,
            help="AWS profile; repeat for several accounts (default: the standard chain).",
        ),
        click.option(
            "--regions",
            default=None,
            help="Comma-separated regions (default: every region of the caller's partition).",
        ),
        click.option(
            "--endpoint-url",
            default=None,
            help="Send every AWS call to this endpoint (a moto server, a VPC endpoint).",
        ),
        click.option(
            "--role-name",
            default=None,
            help="Also audit every member account of the organisation through this role "
            "(the credentials must be the management or a delegated administrator account).",
        ),
        click.option(
            "--external-id", default=None, help="sts:ExternalId to present with --role-name."
        ),
        click.option(
            "--workers",
            type=click.IntRange(1, 64),
            default=8,
            show_default=True,
            help="Services and regions collected at once per account.",
        ),
        click.option(
            "--scheduler",
            default=None,
            metavar="ADDRESS",
            help="Hand account × region collection to the Dask distributed scheduler at "
            "ADDRESS (tcp://host:8786); results land in this run. Needs govaudit[dask].",
        ),
    ]
    for option in reversed(options):
        f = option(f)
    return f


def provider_options(f: F) -> F:
    options = [
        click.option(
            "--provider",
            "providers",
            multiple=True,
            default=("aws",),
            show_default=True,
            help="Cloud to audit; repeat for several in one run: aws, "
            + ", ".join(cloud_providers.registered())
            + " (settings from --cloud-config or GOVAUDIT_<PROVIDER>_<SETTING>).",
        ),
        click.option(
            "--cloud-config",
            type=click.Path(path_type=Path, dir_okay=False),
            default=None,
            envvar=cloud_providers.CONFIG_ENV,
            help="INI file with one section per non-AWS cloud ([openstack], [s3:minio-gov]).",
        ),
    ]
    for option in reversed(options):
        f = option(f)
    return f


# helpers ----------------------------------------------------------------------------------


def _regions(value: str | None) -> list[str] | None:
    if value is None:
        return None
    regions = [r.strip() for r in value.split(",") if r.strip()]
    if not regions:
        raise UsageError("--regions names no region")
    return regions


@dataclass(frozen=True)
class AwsChoice:
    """The AWS options of a command, as given."""

    profiles: Sequence[str]
    regions: str | None
    endpoint_url: str | None
    role_name: str | None
    external_id: str | None
    workers: int
    scheduler: str | None = None


def _aws_scope(choice: AwsChoice) -> pipeline.Scope:
    regions = _regions(choice.regions)
    targets = []
    chosen: list[str | None] = list(choice.profiles) or [None]
    for profile in chosen:
        try:
            session = boto3.Session(profile_name=profile)
        except botocore.exceptions.ProfileNotFound as exc:
            raise UsageError(f"AWS profile {profile!r} not found in the AWS config") from exc
        if session.region_name is None and regions:
            # The home region picks the partition: cn-north-1 means aws-cn, and so on.
            session = boto3.Session(profile_name=profile, region_name=regions[0])
        if session.region_name is None:
            raise UsageError(
                "no AWS region: pass --regions or set one in the profile or AWS_DEFAULT_REGION"
            )
        label = f"profile {profile}" if profile else "default credentials"
        targets.append(
            AwsTarget(
                session,
                endpoint_url=choice.endpoint_url,
                label=label,
                role_name=choice.role_name,
                external_id=choice.external_id,
            )
        )
    if choice.scheduler:
        from auditor.dask_collect import DaskScope  # Dask is an optional extra

        return DaskScope(choice.scheduler, targets, regions, choice.workers)
    return pipeline.AwsScope(targets=targets, regions=regions, workers=choice.workers)


def _scopes(
    chosen: Sequence[str], cloud_config: Path | None, aws: Mapping[str, Any]
) -> list[pipeline.Scope]:
    """The scopes of the providers chosen, AWS first; settings are checked before any call."""
    names = list(dict.fromkeys(chosen or ("aws",)))
    found: list[pipeline.Scope] = [_aws_scope(AwsChoice(**aws))] if "aws" in names else []
    others = [n for n in names if n != "aws"]
    return [*found, *cloud_providers.scopes(others, cloud_config)]


def _open(db_path: Path) -> Store:
    if not db_path.parent.exists():
        raise UsageError(f"{db_path}: folder {db_path.parent} does not exist")
    return Store(db_path)


def _run(store: Store, run_id: int | None) -> RunInfo:
    run = store.get_run(run_id) if run_id is not None else store.latest_run()
    if run.status != "complete":
        raise UsageError(f"run {run.id} is incomplete (its collection did not finish)")
    return run


def _policy_of_run(run: RunInfo) -> Policy | None:
    """The policy the run was audited with, if its file is still there unchanged."""
    path = Path(run.policy_path)
    if run.policy_path and path.is_file() and policy_sha256(path) == run.policy_sha256:
        return load_policy(path)
    return None


def _summarise(findings: Sequence[Finding], fail_on: str) -> int:
    failed = [f for f in findings if f.status is Status.FAIL]
    unknown = sum(1 for f in findings if f.status is Status.UNKNOWN)
    by_severity = {s.value: sum(1 for f in failed if f.severity is s) for s in Severity}
    counts = ", ".join(f"{n} {s}" for s, n in by_severity.items() if n)
    waived = sum(1 for f in failed if f.waived)
    accepted = f", {waived} of them waived" if waived else ""
    progress(
        f"{len(findings)} findings: {len(failed)} FAIL ({counts or 'none'}{accepted}), "
        f"{unknown} UNKNOWN"
    )
    gate = pipeline.failing(findings, Severity(fail_on))
    return EXIT_FINDINGS if gate else EXIT_OK


# commands ---------------------------------------------------------------------------------


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="govaudit")
@click.option("-v", "--verbose", count=True, help="More detail on stderr (-vv for debug).")
@click.option("-q", "--quiet", is_flag=True, help="No progress lines on stderr.")
@click.option(
    "--log-format",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    help="json: progress and logs as one JSON object per line (for scheduled runs).",
)
def cli(verbose: int, quiet: bool, log_format: str) -> None:
    """govaudit: audit government clouds for data sovereignty and responsibility.

    政务云数据主权与责任审计: where data sits and where its copies go, who holds rights
    on it, and who is accountable for it.
    """
    level = logging.ERROR if quiet else logging.WARNING - 10 * verbose
    handler = logging.StreamHandler(sys.stderr)
    if log_format == "json":
        handler.setFormatter(JsonLogFormatter())
    else:
        handler.setFormatter(SafeTextFormatter("%(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(max(level, logging.DEBUG))
    # Progress lines are INFO; in JSON mode they are the log, so they always pass.
    PROGRESS.setLevel(logging.INFO if log_format == "json" and not quiet else logging.NOTSET)


@cli.command()
@policy_option()
@db_option
@out_option
@lang_option
@provider_options
@aws_options
@fail_on_option
def audit(  # noqa: PLR0913 - the audit command's options
    policy_path: Path,
    db_path: Path,
    out_dir: Path,
    frameworks_dirs: tuple[Path, ...],
    formats: tuple[str, ...],
    lang: str,
    providers: tuple[str, ...],
    cloud_config: Path | None,
    fail_on: str,
    **aws: Any,
) -> int:
    """Collect, check and report in one go (a new run in the database).

    \b
    Example:
      govaudit audit --policy policy.yaml --db audit.db --out report/ \\
          --profile gov-prod --regions cn-north-1,cn-northwest-1
      govaudit audit --policy policy.yaml --db audit.db --out report/ \\
          --provider aws --provider openstack --cloud-config clouds.ini
    """
    policy = load_policy(policy_path)
    scopes = _scopes(providers, cloud_config, aws)
    return _audit(policy, db_path, out_dir, scopes, fail_on, frameworks_dirs, formats, lang)


def _audit(  # noqa: PLR0913 - the audit command's options, passed on
    policy: Policy,
    db_path: Path,
    out_dir: Path,
    scopes: Sequence[pipeline.Scope],
    fail_on: str,
    frameworks_dirs: Sequence[Path] = (),
    formats: Sequence[str] = ("html", "json"),
    lang: str = DEFAULT_LANG,
) -> int:
    store = _open(db_path)
    try:
        run = pipeline.collect(store, policy, scopes, _progress_meter())
        gaps = pipeline.coverage_gaps(store.coverage(run.id))
        progress(
            f"run {run.id}: collected {len(run.accounts)} account(s), "
            f"{len(run.regions)} region(s); {len(gaps)} service(s) not fully read"
        )
        findings = pipeline.check(store, policy, run)
        paths = pipeline.report(store, policy, run, out_dir, frameworks_dirs, formats, lang)
        for kind, path in paths.items():
            progress(f"wrote {kind}: {path}")
        progress(f"database: {db_path}")
        return _summarise(findings, fail_on)
    finally:
        store.close()


@cli.command()
@policy_option()
@db_option
@provider_options
@aws_options
def collect(
    policy_path: Path,
    db_path: Path,
    providers: tuple[str, ...],
    cloud_config: Path | None,
    **aws: Any,
) -> int:
    """Inventory the clouds into a new run of the database (read-only API calls)."""
    policy = load_policy(policy_path)
    scopes = _scopes(providers, cloud_config, aws)
    store = _open(db_path)
    try:
        run = pipeline.collect(store, policy, scopes, _progress_meter())
        gaps = pipeline.coverage_gaps(store.coverage(run.id))
    finally:
        store.close()
    progress(f"run {run.id}: complete; {len(gaps)} service(s) could not be fully read")
    return EXIT_OK


@cli.command(name="check")
@policy_option()
@db_option
@run_option
@fail_on_option
def check_command(policy_path: Path, db_path: Path, run_id: int | None, fail_on: str) -> int:
    """Run the checks over a collected run and store the findings."""
    policy = load_policy(policy_path)
    store = _open(db_path)
    try:
        run = _run(store, run_id)
        findings = pipeline.check(store, policy, run)
    finally:
        store.close()
    return _summarise(findings, fail_on)


@cli.command()
@db_option
@out_option
@lang_option
@run_option
@policy_option(required=False)
def report(
    db_path: Path,
    out_dir: Path,
    frameworks_dirs: tuple[Path, ...],
    formats: tuple[str, ...],
    lang: str,
    run_id: int | None,
    policy_path: Path | None,
) -> int:
    """Write report.html and findings.json for a checked run."""
    policy = load_policy(policy_path) if policy_path else None
    store = _open(db_path)
    try:
        run = _run(store, run_id)
        policy = policy or _policy_of_run(run)
        if run.checked_at is None:
            raise UsageError(f"run {run.id} has not been checked yet: run `govaudit check` first")
        paths = pipeline.report(store, policy, run, out_dir, frameworks_dirs, formats, lang)
    finally:
        store.close()
    for kind, path in paths.items():
        progress(f"wrote {kind}: {path}")
    return EXIT_OK


@cli.command()
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("govaudit-demo"),
    show_default=True,
    help="Folder for report.html, findings.json and audit.db.",
)
@click.option(
    "--db",
    "db_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Audit database (default: OUT/audit.db).",
)
@policy_option(required=False)
@lang_option
def demo(out_dir: Path, db_path: Path | None, policy_path: Path | None, lang: str) -> int:
    """Audit the built-in demo estate of a municipal government on a local moto server.

    Starts a moto server on 127.0.0.1, seeds two aws-cn accounts and one commercial
    account with planted risks, audits them over HTTP and writes the report.  Exits 0
    even though the planted risks fail: the demo succeeded when the report shows them.
    """
    from auditor import demo as demo_module  # late import keeps moto optional

    policy = load_policy(policy_path or demo_module.sample_policy_path())
    out_dir.mkdir(parents=True, exist_ok=True)
    db_path = db_path or out_dir / "audit.db"
    with demo_module.moto_server() as endpoint:
        progress(f"moto server on {endpoint}; seeding the demo estate")
        scopes = demo_module.demo_scopes(endpoint)
        _audit(policy, db_path, out_dir, scopes, Severity.CRITICAL.value, lang=lang)
    progress(f"open {out_dir / 'report.html'} in a browser")
    return EXIT_OK


@cli.group()
def checks() -> None:
    """The check catalog."""


@checks.command(name="list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@click.option(
    "--policy",
    "policy_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Show each check as this policy runs it (disabled, severity overridden).",
)
def list_checks(as_json: bool, policy_path: Path | None) -> int:
    """List every check with its theme, severity and legal grounds."""
    catalog = pipeline.check_catalog()
    policy = load_policy(policy_path) if policy_path else None

    def enabled(check_id: str) -> bool:
        return policy.check_enabled(check_id) if policy else True

    def severity(meta: CheckMeta) -> str:
        override = policy.severity_override(meta.id) if policy else None
        return (override or meta.severity).value

    if as_json:
        rows = [
            {
                "id": m.id,
                "title": m.title,
                "theme": m.theme.value,
                "severity": severity(m),
                "default_severity": m.severity.value,
                "enabled": enabled(m.id),
                "fails_when": m.fails_when,
                "frameworks": list(m.frameworks),
                "remediation": m.remediation,
                "fix_command": m.cli,
            }
            for m in catalog
        ]
        click.echo(json.dumps(rows, ensure_ascii=False, indent=2))
        return EXIT_OK
    for m in catalog:
        state = "" if enabled(m.id) else "  [disabled by policy]"
        click.echo(f"{m.id:<9} {severity(m):<9} {m.theme.value:<15} {m.title}{state}")
    return EXIT_OK


def _run_graph(db_path: Path, run_id: int | None) -> Any:
    store = _open(db_path)
    try:
        run = _run(store, run_id)
        # The run's own policy names the parties behind account numbers, when unchanged.
        return pipeline.graph_of(store, run, _policy_of_run(run))
    finally:
        store.close()


def _answer(answers: list[queries.Answer], as_json: bool, empty: str) -> int:
    if as_json:
        click.echo(queries.as_json(answers))
    elif not answers:
        progress(empty)
    else:
        for line in queries.as_lines(answers):
            click.echo(safe_line(line))
    return EXIT_OK


json_option = click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")


@cli.command(name="who-can")
@click.argument("resource")
@db_option
@run_option
@click.option(
    "--right",
    "rights",
    type=click.Choice(sorted(queries.RIGHT_NAMES)),
    multiple=True,
    help="Only this right (repeatable; default: all four).",
)
@json_option
def who_can_command(
    resource: str, db_path: Path, run_id: int | None, rights: tuple[str, ...], as_json: bool
) -> int:
    """Who holds rights on RESOURCE (an ARN or a unique name), through roles and groups.

    \b
    Example:
      govaudit who-can yz-mz-dibao-core --db audit.db --right read
    """
    graph = _run_graph(db_path, run_id)
    uid = queries.resolve(graph, resource)
    answers = queries.who_can_answer(graph, uid, rights or sorted(queries.RIGHT_NAMES))
    return _answer(answers, as_json, f"nobody holds those rights on {uid} in this run")


@cli.command()
@click.argument("resource")
@db_option
@run_option
@json_option
def reach(resource: str, db_path: Path, run_id: int | None, as_json: bool) -> int:
    """Every place the data of RESOURCE or its copies can reach, with jurisdictions."""
    graph = _run_graph(db_path, run_id)
    uid = queries.resolve(graph, resource)
    return _answer(queries.reach_answer(graph, uid), as_json, f"{uid} has no copies elsewhere")


@cli.command()
@click.argument("source")
@click.argument("target")
@db_option
@run_option
@json_option
def path(source: str, target: str, db_path: Path, run_id: int | None, as_json: bool) -> int:
    """The shortest chain of edges from SOURCE to TARGET, with each edge's evidence."""
    graph = _run_graph(db_path, run_id)
    start, end = queries.resolve(graph, source), queries.resolve(graph, target)
    return _answer(
        queries.path_answer(graph, start, end), as_json, f"no path from {start} to {end}"
    )


@cli.group()
def graph() -> None:
    """The audit graph of a run."""


@graph.command(name="export")
@db_option
@run_option
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["graphml", "json"]),
    default="graphml",
    show_default=True,
    help="graphml for Gephi or yEd; json for networkx node-link data.",
)
@click.option(
    "--out",
    "out_file",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="File to write (default: stdout).",
)
def export_graph(db_path: Path, run_id: int | None, fmt: str, out_file: Path | None) -> int:
    """Export the graph of a run, every edge with its relation and evidence."""
    plain = queries.exportable(_run_graph(db_path, run_id))
    if fmt == "graphml":
        text = "\n".join(nx.generate_graphml(plain, encoding="utf-8", prettyprint=True))
    else:
        text = json.dumps(nx.node_link_data(plain, edges="edges"), ensure_ascii=False, indent=2)
    if out_file is None:
        click.echo(text)
    else:
        out_file.write_text(text + "\n", encoding="utf-8")
        progress(f"wrote {fmt}: {out_file}")
    return EXIT_OK


@cli.command(name="iam-policy")
@click.option(
    "--role-name",
    default=None,
    help="Add the statement that lets the caller assume this role in member accounts.",
)
def iam_policy(role_name: str | None) -> int:
    """Print the least-privilege IAM policy for the role or user govaudit runs as.

    \b
    Example:
      govaudit iam-policy > govaudit-readonly.json
      aws iam create-policy --policy-name govaudit-readonly \\
          --policy-document file://govaudit-readonly.json
    """
    click.echo(json.dumps(pipeline.least_privilege_policy(role_name), indent=2))
    return EXIT_OK


# entry point ------------------------------------------------------------------------------


def _fail(message: str, code: int, argv: Sequence[str]) -> None:
    """One error line on stderr (a JSON object under --log-format json), then exit."""
    if _wants_json(argv):
        entry = {
            "level": "error",
            "logger": "govaudit",
            "message": safe_line(message),
            "exit_code": code,
        }
        click.echo(json.dumps(entry, ensure_ascii=False), err=True)
    else:
        click.echo(f"error: {safe_line(message)}", err=True)
    sys.exit(code)


@cli.command(name="verify")
@click.argument(
    "report_path", metavar="REPORT", type=click.Path(dir_okay=False, exists=True, path_type=Path)
)
@db_option
def verify_report(report_path: Path, db_path: Path) -> int:
    """Check that a report.html was made from this database's run, unchanged.

    Recomputes the sha256 of the run's rows (resources, edges, coverage, findings) and
    compares it with the digest stamped in the report.  Exit 0 when they match, 1 when not.
    """
    if not db_path.is_file():
        raise UsageError(f"{db_path}: no such audit database")
    store = _open(db_path)
    try:
        verdict = evidence.verify(report_path, store)
    finally:
        store.close()
    for line in verdict.lines:
        click.echo(safe_line(line))
    return EXIT_OK if verdict.ok else EXIT_FINDINGS


# Command groups that live in their own modules.
cli.add_command(policy_group)
cli.add_command(frameworks_command)
cli.add_command(diff_command)


def _wants_json(argv: Sequence[str]) -> bool:
    args = list(argv)
    return "--log-format=json" in args or any(
        a == "--log-format" and b == "json" for a, b in itertools.pairwise(args)
    )


def main(argv: Sequence[str] | None = None) -> None:
    """Run the CLI and turn every outcome into one documented exit code."""
    args = list(sys.argv[1:] if argv is None else argv)
    try:
        code = cli.main(args=args, prog_name="govaudit", standalone_mode=False)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except click.ClickException as exc:
        # Usage mistakes are one line, like every other error (exit 2, as click does).
        _fail(f"{exc.format_message()} (try --help)", EXIT_USAGE, args)
    except click.Abort:
        _fail("interrupted; the run stays marked incomplete", 130, args)
    except CollectionError as exc:
        _fail(f"collection failed: {exc}", exc.exit_code, args)
    except AuditorError as exc:
        _fail(str(exc), exc.exit_code, args)
    except Exception:  # a bug: keep its traceback, never exit 1
        sys.stderr.write(safe_lines(traceback.format_exc()))
        _fail("internal error in govaudit (a bug); please report it", EXIT_INTERNAL, args)
    sys.exit(code if isinstance(code, int) else EXIT_OK)
