"""Render a run into report.html (one self-contained page) and findings.json.

The page carries its CSS and its few lines of JavaScript inline, and a Content-Security-Policy
that allows exactly those two blocks (by hash) and nothing from any network.  Everything that
came from the cloud is autoescaped; only our own packaged CSS and JS are marked safe.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import secrets
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import jinja2

from auditor.checking import CheckMeta, Theme
from auditor.compliance import Framework
from auditor.history import AuditDiff, FindingHistory
from auditor.model import Coverage, Finding
from auditor.reports import committee, i18n, sections
from auditor.reports.changes import build_changes
from auditor.reports.estate import EstateFacts
from auditor.store import RunInfo

HTML_NAME = "report.html"
JSON_NAME = "findings.json"
# Detail pages of a large report: report-findings-001.html, ...
PAGE_NAME = "report-findings-{:03d}.html"
PAGE_GLOB = "report-findings-*.html"
# Up to this many findings, one page holds them all.  Beyond it the main page keeps the worst
# failures and undecided findings, and detail pages hold the rest, so the page a committee
# opens stays small and fast at 100k findings (measured in bench/report_bench.py).
INLINE_LIMIT = 2000
MAIN_FAIL, MAIN_UNKNOWN = 1000, 300
PAGE_SIZE = 2500


@dataclass(frozen=True)
class ReportInput:
    run: RunInfo
    findings: Sequence[Finding]
    coverage: Sequence[Coverage]
    checks: Sequence[CheckMeta]
    organisation: str
    policy_path: str
    resource_counts: Mapping[str, int]
    region_table_version: str
    generated_at: str
    # Compliance frameworks to report on (built-in and the user's own).
    frameworks: Sequence[Framework] = ()
    # Placements, cross-border flows, owners and the trend of earlier audits.
    estate: EstateFacts | None = None
    # (check id, resource) -> the finding's status across audits.
    history: Mapping[tuple[str, str], FindingHistory] = field(default_factory=dict)
    # sha256 of the run's rows in the database (auditor.evidence), for `govaudit verify`.
    run_digest: str = ""
    # The language of report.html and its pages (zh-CN or en; aliases as i18n.lang_code takes).
    # findings.json and the exports stay in the checks' own words, for machines.
    lang: str = i18n.DEFAULT_LANG
    # What changed since the previous complete audit of the same database, if there is one.
    changes: AuditDiff | None = None


def write_report(
    out_dir: Path, data: ReportInput, formats: Sequence[str] = ("html", "json")
) -> dict[str, Path]:
    """Write report.html and findings.json (those asked for) into out_dir, each atomically."""
    out_dir.mkdir(parents=True, exist_ok=True)
    _remove_abandoned_temporaries(out_dir)
    written = {}
    if "json" in formats:
        payload = json.dumps(findings_json(data), ensure_ascii=False, indent=2) + "\n"
        written["json"] = _write_atomically(out_dir / JSON_NAME, payload)
    if "html" in formats:
        main, pages = render_pages(data)
        for number, page in enumerate(pages, start=1):
            _write_atomically(out_dir / PAGE_NAME.format(number), page)
        written["html"] = _write_atomically(out_dir / HTML_NAME, main)
        # Only once the new main page is in place: pages an earlier, larger report left
        # behind are stale.  missing_ok, because a report running beside this one may too.
        current = {PAGE_NAME.format(n) for n in range(1, len(pages) + 1)}
        for old in out_dir.glob(PAGE_GLOB):
            if old.name not in current:
                old.unlink(missing_ok=True)
    return written


# A temporary file this old was abandoned by a killed writer; a younger one may be in use.
ABANDONED_AFTER_S = 3600


def _remove_abandoned_temporaries(out_dir: Path) -> None:
    now = time.time()
    for temporary in out_dir.glob(".*.tmp"):
        try:
            if now - temporary.stat().st_mtime > ABANDONED_AFTER_S:
                temporary.unlink(missing_ok=True)
        except FileNotFoundError:
            continue


def render_html(data: ReportInput) -> str:
    """Render the main report page as one string (detail pages aside)."""
    return render_pages(data)[0]


@dataclass(frozen=True, slots=True)
class PageLink:
    name: str
    number: int
    count: int
    first: str
    last: str


def split_views(
    views: Sequence[sections.FindingView],
) -> tuple[sections.FindingGroups, list[list[sections.FindingView]]]:
    """The findings the main page lists, and the pages holding the rest (report order)."""
    groups = sections.group_views(views)
    if len(views) <= INLINE_LIMIT:
        return groups, []
    rest = [*groups.fail[MAIN_FAIL:], *groups.unknown[MAIN_UNKNOWN:], *groups.passed]
    main = sections.FindingGroups(groups.fail[:MAIN_FAIL], groups.unknown[:MAIN_UNKNOWN], ())
    return main, [rest[i : i + PAGE_SIZE] for i in range(0, len(rest), PAGE_SIZE)]


def render_pages(data: ReportInput) -> tuple[str, list[str]]:
    """The main page and the detail pages of a report, each self-contained."""
    css, script = _static_text("report.css"), _static_text("report.js")
    estate = data.estate
    lang = i18n.language(data.lang)
    views = sections.finding_views(
        data.findings, data.checks, estate.owners if estate else None, data.history, lang
    )
    main_groups, pages = split_views(views)
    status_labels = lang.labels(sections.STATUS_LABELS)
    links = [
        PageLink(
            PAGE_NAME.format(n),
            n,
            len(page),
            f"{status_labels[page[0].status]} {page[0].check_id}",
            f"{status_labels[page[-1].status]} {page[-1].check_id}",
        )
        for n, page in enumerate(pages, start=1)
    ]
    common = {
        "css": css,
        "script": script,
        "csp": _content_security_policy(css, script),
        "lang": lang.code,
        "header": sections.build_header(data),
        "status_labels": status_labels,
        "severity_labels": lang.labels(sections.SEVERITY_LABELS),
        "theme_labels": lang.labels(sections.THEME_LABELS),
        "waiver_labels": lang.labels(sections.WAIVER_LABELS),
        "history_labels": lang.labels(sections.HISTORY_LABELS),
        "departments": sorted({v.owner for v in views if v.owner}),
        "check_ids": sorted({v.check_id for v in views}),
        "total_findings": len(views),
        "pages": links,
    }
    # Which file each finding is listed in, so links from any page reach it.
    home = {v.anchor: PAGE_NAME.format(n) for n, page in enumerate(pages, start=1) for v in page}

    def linker(here: str) -> Callable[[str], str]:
        def href(anchor: str) -> str:
            where = home.get(anchor, HTML_NAME)
            return f"#{anchor}" if where == here else f"{where}#{anchor}"

        return href

    page_template = _environment(lang.code).get_template("findings_page.html.j2")
    rendered = [
        page_template.render(
            common, groups=sections.group_views(page), page=link, href=linker(link.name)
        )
        for page, link in zip(pages, links, strict=True)
    ]
    main = _render_main(data, views, main_groups, {**common, "href": linker(HTML_NAME)}, lang)
    return main, rendered


def _render_main(
    data: ReportInput,
    views: Sequence[sections.FindingView],
    groups: sections.FindingGroups,
    common: Mapping[str, Any],
    lang: i18n.Language,
) -> str:
    estate = data.estate
    themes = [t.value for t in Theme]
    checks = [lang.check_meta(meta) for meta in data.checks]
    return (
        _environment(lang.code)
        .get_template("report.html.j2")
        .render(
            common,
            summary=sections.build_summary(data.findings, checks, data.resource_counts, lang),
            coverage=sections.build_coverage(data.coverage),
            outcome_labels=lang.labels(sections.OUTCOME_LABELS),
            check_rows=sections.build_check_rows(checks, data.findings),
            groups=groups,
            committee=committee.build_committee(
                views, data.findings, data.coverage, estate.trend if estate else (), checks
            ),
            sovmap=committee.build_map(estate, views, lang),
            relation_labels=lang.labels(committee.RELATION_LABELS),
            responsibility=committee.build_responsibility(
                views, estate.owners if estate else {}, themes, lang
            ),
            framework_rows=sections.build_framework_rows(
                data.frameworks, data.findings, data.checks, lang
            ),
            framework_status_labels=lang.labels(sections.FRAMEWORK_STATUS_LABELS),
            waived=sections.waived_views(views),
            changes=build_changes(data.changes),
            change_labels=lang.labels(sections.CHANGE_LABELS),
        )
    )


def findings_json(data: ReportInput) -> list[dict[str, Any]]:
    """Findings as plain records in report order (FAIL by severity, UNKNOWN, PASS)."""
    records = []
    owners = data.estate.owners if data.estate else None
    for view in sections.finding_views(data.findings, data.checks, owners, data.history):
        record = asdict(view)
        record["evidence"] = list(view.evidence)
        record["jurisdiction"] = view.jurisdiction or None
        record["account"] = view.account or None
        record["region"] = view.region or None
        record["run_id"] = data.run.id
        records.append(record)
    return records


@cache
def _environment(lang: str = i18n.DEFAULT_LANG) -> jinja2.Environment:
    """The templates with `_`, `gettext` and `ngettext` in one language (babel.cfg mirrors this).

    New-style gettext formats `%(name)s` itself and escapes each value it substitutes, so a
    translation is trusted markup and whatever fills it is still escaped.
    """
    environment = jinja2.Environment(
        loader=jinja2.PackageLoader("auditor.reports", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        extensions=["jinja2.ext.i18n"],
    )
    # {% trans %} blocks are written across lines; their msgids are the text on one line.
    environment.policies["ext.i18n.trimmed"] = True
    environment.install_gettext_translations(  # type: ignore[attr-defined]
        i18n.language(lang).catalog, newstyle=True
    )
    return environment


@cache
def _static_text(name: str) -> str:
    text = resources.files("auditor.reports").joinpath("static", name).read_text("utf-8")
    # The file is inlined raw into <style>/<script>; a closing tag in it would end that block.
    if "</" in text:
        raise ValueError(f"static/{name} must not contain '</'")
    return text


def _csp_hash(text: str) -> str:
    digest = hashlib.sha256(text.encode("utf-8")).digest()
    return "'sha256-" + base64.b64encode(digest).decode("ascii") + "'"


def _content_security_policy(css: str, script: str) -> str:
    """Allow our inline style and script, nothing else: no fetch, no image, no form, no frame."""
    return "; ".join(
        [
            "default-src 'none'",
            f"style-src {_csp_hash(css)}",
            f"script-src {_csp_hash(script)}",
            "img-src data:",
            "base-uri 'none'",
            "form-action 'none'",
        ]
    )


def _write_atomically(path: Path, text: str) -> Path:
    """Write beside the target then rename, so readers see the old file or the new, never half."""
    temporary = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    try:
        # Mode "x" honours the umask, unlike mkstemp's fixed 0600.
        with temporary.open("x", encoding="utf-8", newline="\n") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        temporary.replace(path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    return path
