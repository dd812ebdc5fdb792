"""Kill -9 audits at random points of collection and reporting: nothing may be lost.

    .venv/bin/python bench/interruptions.py --trials 50 [--seed N]

Starts one moto server holding the demo estate and makes two complete audits (the first is
the baseline; both time the phases).  Each trial then starts `govaudit audit` or
`govaudit report` as a child process and sends it SIGKILL after a random delay inside the
phase it aims at: collection (between "run N: collecting" and "collected") or reporting
(check and report after collection, or a `report` command after its imports).  After the
kill it checks, from the files alone:

- `PRAGMA integrity_check` is ok;
- the baseline run and the last complete run hash to the same digest as before
  (`auditor.evidence.run_digest`), and at the end every complete run does;
- the killed run, if one was created, is in the state the point of death calls for:
  incomplete with no findings during collection; complete, with every resource and no
  findings while checking; complete and checked, with every finding, after;
- report.html and findings.json are the previous files or complete new ones (the HTML
  closes with </html>, its stamp names the run and `verify` agrees with the database);
- a kill between writing a temporary file and renaming it leaves `.report.html.*.tmp` (or
  `.findings.json.*.tmp`) behind; they are counted, as the next report neither needs nor
  removes them;
- the next audit succeeds and stamps its own run on report.html.

Where a trial died is read from the database and the report folder, not from the delay.
Prints one Markdown table; exits 1 if any property failed.
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import closing, contextmanager
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path

from auditor import evidence
from auditor.demo import moto_server, sample_policy_path
from auditor.demo_estate import ACCOUNTS, seed_estate, write_profiles
from auditor.store import RUN_COMPLETE, RunInfo, Store

ALL_REGIONS = ("cn-north-1", "cn-northwest-1", "ap-east-1", "eu-central-1")
# Exit codes of a successful audit of the demo estate: its planted risks fail (1).
AUDIT_OK = (0, 1)


# the estate -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Estate:
    """The seeded moto server, the AWS profile files that reach it, and what to audit."""

    endpoint: str
    env: dict[str, str]
    accounts: tuple[str, ...]

    @property
    def profiles(self) -> tuple[str, ...]:
        return tuple(f"demo-{account}" for account in self.accounts)

    @property
    def regions(self) -> tuple[str, ...]:
        chosen = [a for a in ACCOUNTS if a.account in self.accounts]
        return tuple(r for r in ALL_REGIONS if any(r in a.regions for a in chosen))

    def only(self, *accounts: str) -> Estate:
        """The same estate, audited through the named accounts' profiles alone."""
        return dataclasses.replace(self, accounts=accounts)


def seed(endpoint: str, folder: Path) -> Estate:
    """Seed the demo estate and write an AWS profile per account into `folder`."""
    folder.mkdir(parents=True, exist_ok=True)
    write_profiles(seed_estate(endpoint), folder / "credentials", folder / "config")
    # The children must see these profiles and nothing of the caller's own AWS setup.
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env["AWS_SHARED_CREDENTIALS_FILE"] = str(folder / "credentials")
    env["AWS_CONFIG_FILE"] = str(folder / "config")
    return Estate(endpoint, env, tuple(a.account for a in ACCOUNTS))


def audit_command(estate: Estate, db: Path, out: Path, *, verbose: bool = False) -> list[str]:
    args = [sys.executable, "-m", "auditor", *(["-v"] if verbose else [])]
    args += ["audit", "--policy", str(sample_policy_path()), "--db", str(db), "--out", str(out)]
    for profile in estate.profiles:
        args += ["--profile", profile]
    return [*args, "--regions", ",".join(estate.regions), "--endpoint-url", estate.endpoint]


def report_command(db: Path, out: Path, run_id: int) -> list[str]:
    args = [sys.executable, "-m", "auditor", "report", "--db", str(db), "--out", str(out)]
    return [*args, "--run", str(run_id)]


# phases -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Phases:
    """How long each phase lasts, from recent audits of this machine and estate.

    Kills in an audit are timed from the progress line that opens the phase ("run N:
    collecting", then "collected"), not from the start of the process, so a loaded machine
    shifts them with the work instead of out of the phase.
    """

    collection: float
    reporting: float  # check and report, up to the audit's exit
    report_command: tuple[float, float]  # after imports, up to the exit

    def describe(self) -> str:
        low, high = self.report_command
        return (
            f"audit: collection {self.collection:.2f} s, then check and report "
            f"{self.reporting:.2f} s; report command: imports {low:.2f} s, exit at {high:.2f} s"
        )


class Watch:
    """Reads an audit's -v progress on stderr into a log, noting when each phase begins."""

    def __init__(self, child: subprocess.Popen[str], log: Path) -> None:
        self.start = time.monotonic()
        self.marks: dict[str, float] = {}
        self.events = {"collecting": threading.Event(), "collected": threading.Event()}
        self.lines: list[str] = []
        self._thread = threading.Thread(target=self._read, args=(child, log), daemon=True)
        self._thread.start()

    def _read(self, child: subprocess.Popen[str], log: Path) -> None:
        assert child.stderr is not None
        with log.open("w") as sink:
            for line in child.stderr:
                sink.write(line)
                self.lines.append(line)
                for mark, event in self.events.items():
                    if f": {mark}" in line and not event.is_set():
                        self.marks[mark] = time.monotonic() - self.start
                        event.set()
        # A child that dies early must not leave anyone waiting for its phase.
        for event in self.events.values():
            event.set()

    def wait(self, mark: str, timeout: float = 300) -> None:
        self.events[mark].wait(timeout)

    def join(self) -> None:
        self._thread.join()
        self.marks["exit"] = time.monotonic() - self.start


def start_audit(
    estate: Estate, db: Path, out: Path, log: Path
) -> tuple[subprocess.Popen[str], Watch]:
    child = subprocess.Popen(
        audit_command(estate, db, out, verbose=True),
        env=estate.env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    return child, Watch(child, log)


def timed_audit(estate: Estate, db: Path, out: Path, log: Path) -> dict[str, float]:
    """Run an audit to the end; return when its phases began (seconds after its start)."""
    child, watch = start_audit(estate, db, out, log)
    try:
        code = child.wait()
    finally:
        if child.poll() is None:  # Ctrl-C: no audit may outlive the bench
            child.kill()
            child.wait()
    watch.join()
    if code not in AUDIT_OK or "collected" not in watch.marks:
        raise RuntimeError(f"audit failed with exit {code}:\n{''.join(watch.lines[-20:])}")
    return watch.marks


def timed(args: list[str], env: dict[str, str]) -> float:
    start = time.monotonic()
    subprocess.run(args, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
    return time.monotonic() - start


def measure(marks: Sequence[dict[str, float]], report_command: tuple[float, float]) -> Phases:
    # The shortest recent phase: a delay drawn within it kills the next audit before the phase
    # is over, even when that audit runs a little faster than the others.
    def shortest(start: str, end: str) -> float:
        return min(m[end] - m[start] for m in marks)

    return Phases(
        shortest("collecting", "collected"), shortest("collected", "exit"), report_command
    )


# what the files say -----------------------------------------------------------------------


def integrity(db: Path) -> str:
    with closing(sqlite3.connect(db)) as conn:
        rows = conn.execute("pragma integrity_check").fetchall()
    return "; ".join(str(r[0]) for r in rows)


def counts(store: Store, run_id: int) -> dict[str, int]:
    """Rows of one run in each table."""
    found = {}
    for table in ("resources", "edges", "coverage", "findings"):
        sql = f"select count(*) from {table} where run_id = ?"  # noqa: S608 - our table names
        found[table] = int(store.db.execute(sql, [run_id]).fetchone()[0])
    return found


class _HtmlEnd(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.closed_html = False

    def handle_endtag(self, tag: str) -> None:
        if tag == "html":
            self.closed_html = True


def complete_html(text: str) -> bool:
    parser = _HtmlEnd()
    parser.feed(text)
    parser.close()
    return parser.closed_html and text.rstrip().endswith("</html>")


def temp_files(out: Path) -> set[str]:
    if not out.is_dir():
        return set()
    return {p.name for p in out.iterdir() if p.name.startswith(".") and p.name.endswith(".tmp")}


@dataclass(frozen=True)
class Folder:
    """The report folder at one moment: its files' hashes and its temporary files."""

    html: str
    json: str
    temps: frozenset[str]


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest() if path.exists() else ""


def folder_state(out: Path) -> Folder:
    return Folder(
        _sha(out / "report.html"), _sha(out / "findings.json"), frozenset(temp_files(out))
    )


def report_problems(out: Path, store: Store, before: Folder, new_run: int | None) -> list[str]:
    """What is wrong with report.html and findings.json: each old, or complete and new."""
    problems = []
    html = out / "report.html"
    text = html.read_text("utf-8")
    if not complete_html(text):
        problems.append("report.html is not a complete page")
    elif _sha(html) != before.html:
        stamp = evidence.read_stamp(html)
        if stamp.run_id != new_run:
            problems.append(f"report.html names run {stamp.run_id}, expected {new_run}")
        elif not evidence.verify(html, store).ok:
            problems.append("report.html does not verify against the database")
    try:
        records = json.loads((out / "findings.json").read_text("utf-8"))
    except ValueError:
        problems.append("findings.json does not parse")
    else:
        runs = {r["run_id"] for r in records}
        if _sha(out / "findings.json") != before.json and runs != {new_run}:
            problems.append(f"findings.json holds runs {sorted(runs)}, expected {new_run}")
    return problems


# trials -----------------------------------------------------------------------------------


@dataclass
class Trial:
    number: int
    command: str  # audit or report
    aimed_at: str  # collection or reporting
    delay: float
    killed: bool = False
    died_in: str = ""  # read from the files: startup, collection, check, report, done
    integrity: str = ""
    earlier_runs_unchanged: bool = False
    run_state_ok: bool | None = None  # None: no run was created
    report_ok: bool = False
    report_was: str = ""  # previous or new
    temps_left: int = 0
    recovered: bool = False
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


@dataclass
class Session:
    """One database and one report folder, audited again and again."""

    estate: Estate
    folder: Path
    baseline: int = 0
    # Complete run id -> digest, taken when the run was made.
    digests: dict[int, str] = field(default_factory=dict)
    # Rows a complete run of this estate holds; every later complete run must match.
    expected: dict[str, int] = field(default_factory=dict)
    marks: list[dict[str, float]] = field(default_factory=list)
    report_command: tuple[float, float] = (0.0, 0.0)

    @property
    def db(self) -> Path:
        return self.folder / "audit.db"

    @property
    def out(self) -> Path:
        return self.folder / "report"

    def audit(self) -> int:
        """A normal audit that must succeed; remembers its run's digest and its timing."""
        log = self.folder / f"audit-{len(self.marks) + 1:03d}.log"
        self.marks.append(timed_audit(self.estate, self.db, self.out, log))
        with closing(Store(self.db)) as store:
            run = store.runs()[-1]
            assert run.status == RUN_COMPLETE and run.checked_at, run
            self.digests[run.id] = evidence.run_digest(store, run.id)
            rows = counts(store, run.id)
        self.expected = self.expected or rows
        assert rows == self.expected, (rows, self.expected)
        return run.id

    def start(self) -> None:
        """The baseline audit and one more, then the `report` command's timing."""
        self.baseline = self.audit()
        self.audit()
        scratch = self.folder / "scratch-report"
        # The quicker of two tries: a busy moment makes one slow, never fast.
        self.report_command = (
            min(timed([sys.executable, "-m", "auditor", "--help"], self.estate.env) for _ in "ab"),
            min(
                timed(report_command(self.db, scratch, self.baseline), self.estate.env)
                for _ in "ab"
            ),
        )

    def phases(self) -> Phases:
        # The last few audits only: they track the machine's load as it changes.
        return measure(self.marks[-3:], self.report_command)


def plan(number: int, phases: Phases, rng: random.Random) -> Trial:
    """Even trials aim at collection; odd ones at reporting, in `audit` or `report`.

    An audit's delay counts from the start of its phase and stays within the phase's recent
    shortest length; a `report` command's counts from its start and falls after its imports.
    """
    if number % 2 == 0:
        return Trial(number, "audit", "collection", rng.uniform(0, 0.9 * phases.collection))
    if number % 4 == 1:
        return Trial(number, "audit", "reporting", rng.uniform(0, 0.9 * phases.reporting))
    imported, ended = phases.report_command
    return Trial(
        number, "report", "reporting", rng.uniform(imported, imported + 0.9 * (ended - imported))
    )


def run_trial(session: Session, trial: Trial) -> Trial:
    with closing(Store(session.db)) as store:
        last = store.runs()[-1].id
    # The baseline, not the run report.html already shows, so a rewrite is plain to see.
    target = session.baseline
    before = folder_state(session.out)
    log = session.folder / f"trial-{trial.number + 1:03d}.log"
    if trial.command == "audit":
        child, watch = start_audit(session.estate, session.db, session.out, log)
        watch.wait("collecting" if trial.aimed_at == "collection" else "collected")
        _kill_after(child, trial.delay)
        watch.join()
    else:
        with log.open("w") as sink:
            start = time.monotonic()
            child = subprocess.Popen(
                report_command(session.db, session.out, target),
                env=session.estate.env,
                stdout=sink,
                stderr=sink,
                text=True,
            )
            _kill_after(child, trial.delay)
        took = time.monotonic() - start
        imported, ended = session.report_command
        if child.returncode == 0 and took < ended:
            # It ran faster than measured (the machine is less busy): aim the next ones earlier.
            session.report_command = (imported * took / ended, took)
    trial.killed = child.returncode == -signal.SIGKILL
    inspect(session, trial, last, target, before)
    recover(session, trial)
    return trial


def _kill_after(child: subprocess.Popen[str], delay: float) -> None:
    try:
        time.sleep(delay)
    finally:
        # Also on Ctrl-C: no audit may outlive the bench and its moto server.
        if child.poll() is None:
            child.send_signal(signal.SIGKILL)
        child.wait()


def inspect(session: Session, trial: Trial, last: int, target: int, before: Folder) -> None:
    """Judge the database and the report folder as the kill left them."""
    trial.integrity = integrity(session.db)
    if trial.integrity != "ok":
        trial.problems.append(f"integrity_check: {trial.integrity}")
        return
    with closing(Store(session.db)) as store:
        watched = {session.baseline, max(session.digests)}
        changed = [r for r in watched if evidence.run_digest(store, r) != session.digests[r]]
        trial.earlier_runs_unchanged = not changed
        if changed:
            trial.problems.append(f"complete runs changed: {changed}")
        new_runs = [r for r in store.runs() if r.id > last]
        if len(new_runs) > 1:
            trial.problems.append(f"{len(new_runs)} runs were created")
        new = new_runs[0] if new_runs else None
        trial.died_in, state_problems = _death(store, new, session.expected)
        if trial.command == "report":
            trial.died_in = "report"
        if new is not None:
            trial.run_state_ok = not state_problems
            trial.problems += state_problems
        # The run report.html may newly name: the audit's own, or the one `report` was given.
        new_run = target if trial.command == "report" else new.id if new is not None else None
        problems = report_problems(session.out, store, before, new_run)
        trial.report_ok = not problems
        trial.problems += problems
    after = folder_state(session.out)
    trial.report_was = "previous" if after.html == before.html else "new"
    if trial.report_was == "new":
        trial.died_in = "done" if trial.command == "audit" else "report (written)"
    trial.temps_left = len(after.temps - before.temps)


def _death(store: Store, run: RunInfo | None, expected: dict[str, int]) -> tuple[str, list[str]]:
    """Where an audit died, by its run's state, and what is wrong with that state."""
    if run is None:
        return "startup", []
    rows = counts(store, run.id)
    if run.status != RUN_COMPLETE:
        wrong = run.finished_at is not None or run.checked_at is not None or rows["findings"]
        return "collection", [f"incomplete run {run.id} is half-marked: {run}"] if wrong else []
    if run.checked_at is None:
        # Collection finished: every row is there; the findings come in one transaction.
        want = expected | {"findings": 0}
        wrong = rows != want
        return "check", [f"unchecked run {run.id} holds {rows}, expected {want}"] if wrong else []
    if rows != expected:
        return "report", [f"checked run {run.id} holds {rows}, expected {expected}"]
    return "report", []


def recover(session: Session, trial: Trial) -> None:
    """The next audit must succeed and report its own run."""
    try:
        run_id = session.audit()
    except (RuntimeError, AssertionError) as exc:
        trial.problems.append(f"next audit failed: {exc}")
        return
    html = session.out / "report.html"
    with closing(Store(session.db)) as store:
        trial.recovered = (
            evidence.read_stamp(html).run_id == run_id and evidence.verify(html, store).ok
        )
    if not trial.recovered:
        trial.problems.append("the next audit's report.html does not name and match its run")


def final_check(session: Session) -> list[str]:
    problems = []
    if (state := integrity(session.db)) != "ok":
        problems.append(f"integrity_check: {state}")
    with closing(Store(session.db)) as store:
        for run_id, digest in session.digests.items():
            if evidence.run_digest(store, run_id) != digest:
                problems.append(f"complete run {run_id} changed")
    return problems


# the table --------------------------------------------------------------------------------


def table(trials: Sequence[Trial], temps_at_end: int) -> str:
    killed = [t for t in trials if t.killed]
    in_collection = sum(1 for t in killed if t.died_in in ("startup", "collection"))
    in_reporting = len(killed) - in_collection
    with_run = [t for t in trials if t.run_state_ok is not None]
    header = (
        "| trials | killed during collection | killed during reporting | ended before the kill "
        "| corrupt databases | baseline changed | killed runs in the right state "
        "| report.html old or complete new | temp files left | next audit succeeded |"
    )
    row = (
        f"| {len(trials)} | {in_collection} | {in_reporting} | {len(trials) - len(killed)} "
        f"| {sum(1 for t in trials if t.integrity != 'ok')} "
        f"| {sum(1 for t in trials if not t.earlier_runs_unchanged)} "
        f"| {sum(1 for t in with_run if t.run_state_ok)}/{len(with_run)} "
        f"| {sum(1 for t in trials if t.report_ok)}/{len(trials)} "
        f"| {temps_at_end} "
        f"| {sum(1 for t in trials if t.recovered)}/{len(trials)} |"
    )
    return "\n".join([header, "|" + "---:|" * 10, row])


def breakdown(trials: Sequence[Trial]) -> str:
    where = Counter((t.command, t.died_in if t.killed else "ended before the kill") for t in trials)
    return ", ".join(f"{command} {died}: {n}" for (command, died), n in sorted(where.items()))


# entry point ------------------------------------------------------------------------------


@dataclass
class Outcome:
    trials: list[Trial]
    phases: Phases
    temps_at_end: int
    final_problems: list[str]

    @property
    def ok(self) -> bool:
        return all(t.ok for t in self.trials) and not self.final_problems


def run(
    estate: Estate,
    folder: Path,
    trials: int,
    seed_value: int,
    progress: bool = False,
) -> Outcome:
    """The whole experiment on one seeded estate; `folder` receives the database and logs."""
    session = Session(estate, folder)
    session.start()
    first = session.phases()
    if progress:
        print(f"phases: {first.describe()}", file=sys.stderr)
    rng = random.Random(seed_value)
    done = []
    for number in range(trials):
        trial = run_trial(session, plan(number, session.phases(), rng))
        done.append(trial)
        if progress:
            verdict = "ok" if trial.ok else "; ".join(trial.problems)
            print(
                f"trial {number + 1}/{trials}: {trial.command} aimed at {trial.aimed_at}, "
                f"kill {trial.delay:.2f} s in, died in {trial.died_in or '-'}"
                f"{'' if trial.killed else ' (ended first)'}: {verdict}",
                file=sys.stderr,
            )
    return Outcome(done, first, len(temp_files(session.out)), final_check(session))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--trials", type=int, default=50)
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--keep", type=Path, help="keep the database and logs in this folder")
    args = parser.parse_args(argv)
    started = time.monotonic()
    with _workdir(args.keep) as folder, moto_server() as endpoint:
        estate = seed(endpoint, folder / "aws")
        outcome = run(estate, folder, args.trials, args.seed, progress=True)
    print(table(outcome.trials, outcome.temps_at_end))
    print()
    print(f"Where the kills landed: {breakdown(outcome.trials)}.")
    print(f"Phases measured: {outcome.phases.describe()}.")
    print(
        f"Seed {args.seed}; wall time {time.monotonic() - started:.0f} s; "
        f"report.html was the previous file after "
        f"{sum(1 for t in outcome.trials if t.report_was == 'previous')} trials."
    )
    for trial in outcome.trials:
        for problem in trial.problems:
            print(f"- trial {trial.number + 1}: {problem}")
    for problem in outcome.final_problems:
        print(f"- at the end: {problem}")
    return 0 if outcome.ok else 1


@contextmanager
def _workdir(keep: Path | None) -> Iterator[Path]:
    if keep is not None:
        keep.mkdir(parents=True, exist_ok=True)
        yield keep
        return
    with tempfile.TemporaryDirectory(prefix="govaudit-interruptions-") as folder:
        yield Path(folder)


if __name__ == "__main__":
    sys.exit(main())
