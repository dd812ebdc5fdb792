"""The report in zh-CN or en: complete catalogs, translated check metadata, one language a page."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterator
from functools import cache
from html.parser import HTMLParser
from pathlib import Path

import markupsafe
import pytest
from babel.messages.catalog import Catalog, Message
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.pofile import read_po

from auditor.checking import load_checks
from auditor.cli import cli
from auditor.compliance import load_frameworks
from auditor.history import FindingHistory, HistoryLabel
from auditor.model import Kind, WaiverMark
from auditor.reports import committee, i18n, render, sections
from auditor.reports.estate import EstateFacts, Flow, RunTotals
from auditor.reports.render import ReportInput, render_html, render_pages
from tests.reports.conftest import HOSTILE_IMG, HOSTILE_SCRIPT, sample_input
from tests.test_cli import run_main, seeded_db
from tests.test_policy import MINIMAL

ROOT = Path(__file__).resolve().parents[2]
CJK = re.compile(r"[\u3400-\u9fff\u3000-\u303f\uff00-\uffef]")


# catalogs -------------------------------------------------------------------------------------


@cache
def extracted() -> dict[str, tuple[str, ...]]:
    """msgid -> where it is used, extracted now with babel.cfg as `make catalogs` does."""
    with (ROOT / "babel.cfg").open(encoding="utf-8") as handle:
        method_map, options_map = parse_mapping_cfg(handle)
    keywords = {**DEFAULT_KEYWORDS, "N_": None}
    found: dict[str, list[str]] = {}
    for filename, _, message, _, _ in extract_from_dir(
        str(ROOT), method_map, options_map, keywords=keywords
    ):
        msgid = message if isinstance(message, str) else message[0]
        found.setdefault(msgid, []).append(filename)
    return {msgid: tuple(places) for msgid, places in found.items()}


@cache
def catalog(locale: str) -> Catalog:
    with i18n.po_path(locale).open("rb") as handle:
        return read_po(handle, locale=locale)


def translated(message: Message) -> bool:
    strings = message.string if isinstance(message.string, (tuple, list)) else [message.string]
    return all(isinstance(s, str) and s.strip() for s in strings)


def check_texts() -> Iterator[tuple[str, str, str]]:
    for check in load_checks():
        for name in i18n.CHECK_FIELDS:
            yield check.meta.id, name, getattr(check.meta, name)


def test_extraction_finds_the_templates_python_labels_and_checks():
    places = {p.split("/")[0] for found in extracted().values() for p in found}
    assert places == {"checks", "reports"}
    assert "Committee view" in extracted()  # a template
    assert "Mainland China" in extracted()  # an N_() label in Python
    assert "%(num)d failing finding" in extracted()  # an ngettext call in Python


@pytest.mark.parametrize("locale", sorted(i18n.LOCALES.values()))
def test_every_extracted_message_is_in_each_catalog(locale):
    ids = {m.id if isinstance(m.id, str) else m.id[0] for m in catalog(locale) if m.id}
    missing = sorted(set(extracted()) - ids)
    assert missing == [], f"run `make catalogs`, then translate: {missing}"


def test_every_message_has_a_chinese_translation_that_is_not_fuzzy():
    zh = catalog("zh_CN")
    untranslated = [m.id for m in zh if m.id and not translated(m)]
    fuzzy = [m.id for m in zh if m.id and m.fuzzy]
    assert untranslated == []
    assert fuzzy == [], "a fuzzy entry is shown in English: review it and drop the flag"


@pytest.mark.parametrize("locale", sorted(i18n.LOCALES.values()))
def test_translations_keep_their_placeholders(locale):
    # Babel's checkers compare the %(name)s placeholders of msgid and msgstr.
    problems = [(m.id, [str(e) for e in errors]) for m, errors in catalog(locale).check()]
    assert problems == []


def test_translations_bring_no_markup_of_their_own():
    # Template translations are trusted markup (they may sit in attributes): a translation
    # may keep the tags and quotes of its msgid, never add any.
    def tags(text: str) -> list[str]:
        return sorted(re.findall(r"<[^>]*>", text))

    for locale in i18n.LOCALES.values():
        for message in catalog(locale):
            msgid = message.id if isinstance(message.id, str) else message.id[0]
            strings = (
                message.string if isinstance(message.string, (tuple, list)) else [message.string]
            )
            for text in (s for s in strings if isinstance(s, str) and s and msgid):
                assert tags(text) == tags(msgid), (locale, msgid)
                assert text.count('"') <= msgid.count('"'), (locale, msgid)
                assert "&" not in text or "&" in msgid, (locale, msgid)


def test_the_runtime_catalog_is_the_po_file():
    zh = i18n.language("zh-CN")
    assert zh.gettext("Summary") == "概览"
    assert zh.ngettext("%(num)s day left", "%(num)s days left", 3) == "剩余 %(num)s 天"
    assert i18n.language("en").gettext("Summary") == "Summary"
    # An empty field stays empty: gettext("") would be the catalog's header.
    assert zh.gettext("") == ""


# check metadata -------------------------------------------------------------------------------


def test_every_check_title_condition_and_remediation_is_translated():
    zh = catalog("zh_CN")
    language = i18n.language("zh-CN")
    problems = []
    for check_id, name, text in check_texts():
        message = zh.get(text)
        if message is None or not translated(message) or message.fuzzy:
            problems.append(f"{check_id} {name}: no reviewed zh_CN translation")
        elif not CJK.search(language.gettext(text)):
            problems.append(f"{check_id} {name}: its translation is not Chinese")
    assert problems == [], "run `make catalogs` and translate:\n" + "\n".join(problems)


def test_the_extractor_reads_exactly_the_registered_check_metadata():
    interface = set(interface_msgids())
    from_checks = {m for m in extracted() if m not in interface}
    assert from_checks == {text for _, _, text in check_texts()}


def test_the_chinese_report_shows_real_checks_in_chinese():
    checks = [c.meta for c in load_checks()]
    data = dataclasses.replace(sample_input(), checks=checks)
    zh = render_html(data)
    for meta in checks:
        for name in i18n.CHECK_FIELDS:
            text = i18n.language("zh-CN").gettext(getattr(meta, name))
            if name != "remediation":  # no finding of the sample shows a real remediation
                assert str(markupsafe.escape(text)) in zh, (meta.id, name)
    en = render_html(dataclasses.replace(data, lang="en"))
    assert str(markupsafe.escape(checks[0].fails_when)) in en


def test_finding_title_and_remediation_follow_the_language_the_message_does_not():
    meta = next(c.meta for c in load_checks() if c.meta.id == "KEY-006")
    finding = dataclasses.replace(
        sample_input().findings[3], title=meta.title, remediation=meta.remediation
    )
    zh_view = sections.finding_views([finding], [meta], lang=i18n.language("zh-CN"))[0]
    assert zh_view.title == "客户密钥未开启自动轮换"
    assert CJK.search(zh_view.remediation)
    assert zh_view.message == finding.message
    en_view = sections.finding_views([finding], [meta], lang=i18n.language("en"))[0]
    assert (en_view.title, en_view.remediation) == (meta.title, meta.remediation)


def test_every_kind_has_an_inventory_label():
    assert set(sections.KIND_LABELS) == set(Kind)


# one language per page ------------------------------------------------------------------------


class _Visible(HTMLParser):
    """Text a reader sees or hears: text nodes and title/aria-label/placeholder attributes.

    In a Chinese page, elements marked lang="en" hold the checks' English messages: their text
    goes to `english`.  Style and script are not text.
    """

    VOID = frozenset({"meta", "link", "input", "br", "img", "hr", "col", "source", "wbr"})
    HIDDEN = frozenset({"style", "script"})
    HEADINGS = frozenset({"h1", "h2", "h3", "h5", "th", "figcaption", "summary", "label"})

    def __init__(self, page_lang: str) -> None:
        super().__init__(convert_charrefs=True)
        self.page_lang = page_lang
        # (tag, hidden, marked English) of each open element
        self.stack: list[tuple[str, bool, bool]] = []
        self.texts: list[str] = []
        self.english: list[str] = []
        self.headings: list[str] = []
        self._heading: list[str] = []

    def _inside(self, index: int) -> bool:
        return any(entry[index] for entry in self.stack)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        english = dict(attrs).get("lang") == "en" and self.page_lang != "en"
        where = self.english if english or self._inside(2) else self.texts
        where.extend(v for k, v in attrs if k in ("title", "aria-label", "placeholder") and v)
        if tag not in self.VOID:
            self.stack.append((tag, tag in self.HIDDEN, english))
        if tag in self.HEADINGS:
            self._heading = []

    def handle_endtag(self, tag: str) -> None:
        if tag in self.HEADINGS and "".join(self._heading).strip():
            self.headings.append(" ".join("".join(self._heading).split()))
            self._heading = []
        while self.stack and self.stack.pop()[0] != tag:
            pass

    def handle_data(self, data: str) -> None:
        if self._inside(1) or not data.strip():
            return
        if self._inside(2):
            self.english.append(data)
            return
        self.texts.append(data)
        if any(entry[0] in self.HEADINGS for entry in self.stack):
            self._heading.append(data)


def visible(page: str, lang: str) -> _Visible:
    parser = _Visible(lang)
    parser.feed(page)
    return parser


def rich_input(lang: str) -> ReportInput:
    """The sample with every section filled: estate, history, frameworks and a waiver."""
    data = sample_input()
    first, second = data.findings[0], data.findings[1]
    waived = dataclasses.replace(
        data.findings[2],
        waiver=WaiverMark("waived", "SEC-1", "p-0001", "迁移窗口", "2025-03-01", 45, "note"),
    )
    estate = EstateFacts(
        {"CN": 5, "DE": 1, "BR": 1},
        [Flow("CN", "DE", 2, ("replicates_to", "copies_to"), (first.resource,))],
        {first.resource: "市民政局 (mz)", second.resource: "市大数据局 (dsj)"},
        [RunTotals(5, "2024-12-01", {"critical": 3}), RunTotals(7, "2025-01-15", {"critical": 2})],
    )
    history = {
        (first.check_id, first.resource): FindingHistory(
            HistoryLabel.REOPENED, 3, "2025-01-01", 7, "", 12, "FPF"
        )
    }
    return dataclasses.replace(
        data,
        findings=[first, second, waived, *data.findings[3:]],
        estate=estate,
        history=history,
        frameworks=load_frameworks(),
        lang=lang,
    )


def data_strings(data: ReportInput) -> list[str]:
    """What came from the cloud, the policy or the frameworks: shown as it is in any language."""
    strings = [data.organisation, data.policy_path, data.run.policy_path]
    for f in data.findings:
        strings += [f.message, f.title, f.remediation, f.resource, f.fix_command, *f.evidence]
        if f.waiver:
            strings += [f.waiver.reason, f.waiver.note, f.waiver.approver, f.waiver.ticket]
    for meta in data.checks:
        strings += [meta.title, meta.fails_when, meta.remediation, *meta.frameworks]
    strings += [c.detail for c in data.coverage]
    if data.estate:
        strings += list(data.estate.owners.values())
    for framework in data.frameworks:
        strings += [framework.name, framework.name_zh, framework.version]
        for requirement in framework.requirements:
            strings += [requirement.title, requirement.title_zh or "", requirement.manual or ""]
    return sorted({s for s in strings if s}, key=len, reverse=True)


def interface_text(page: str, data: ReportInput) -> tuple[str, _Visible]:
    seen = visible(page, i18n.lang_code(data.lang))
    text = "\n".join(seen.texts)
    for value in data_strings(data):
        text = text.replace(value, " ")
    return text, seen


def _literal(msgid: str) -> str:
    """The longest run of a msgid's own words, between its %(name)s placeholders and markup."""
    return max(re.split(r"%\(\w+\)[sd]|<[^>]+>", msgid), key=len).strip()


def interface_msgids() -> list[str]:
    return [
        m for m, places in extracted().items() if not any(p.startswith("checks/") for p in places)
    ]


def test_the_chinese_report_has_no_english_interface_text():
    data = rich_input("zh-CN")
    main = render_html(data)
    assert main.startswith('<!DOCTYPE html>\n<html lang="zh-CN">')
    text, seen = interface_text(main, data)
    for word in ("Summary", "Findings", "Committee view", "Evidence path", "Remediation"):
        assert not re.search(rf"\b{word}\b", text), word
    # Every multi-word English interface string, in any section.
    leftovers = [m for m in interface_msgids() if " " in _literal(m) and _literal(m) in text]
    assert leftovers == []
    english_headings = [h for h in seen.headings if not CJK.search(h)]
    assert english_headings == []
    # The checks' own messages are there, marked as English.
    assert any("Bucket policy grants" in t for t in seen.english)


def test_the_english_report_has_no_chinese_interface_text():
    data = rich_input("en")
    main, _ = render_pages(data)
    assert main.startswith('<!DOCTYPE html>\n<html lang="en">')
    text, seen = interface_text(main, data)
    assert CJK.findall(text) == [], [line for line in text.splitlines() if CJK.search(line)]
    assert seen.english == []  # nothing needs marking in an English page
    for heading in ("Summary", "Findings", "Committee view", "Compliance by framework"):
        assert heading in seen.headings


@pytest.mark.parametrize("lang", ["zh-CN", "en"])
def test_detail_pages_are_in_the_language_too(monkeypatch, lang):
    monkeypatch.setattr(render, "INLINE_LIMIT", 3)
    monkeypatch.setattr(render, "MAIN_FAIL", 1)
    monkeypatch.setattr(render, "MAIN_UNKNOWN", 1)
    data = dataclasses.replace(sample_input(), lang=lang)
    main, pages = render_pages(data)
    assert pages
    for page in (main, *pages):
        assert page.startswith(f'<!DOCTYPE html>\n<html lang="{lang}">')
        text, seen = interface_text(page, data)
        if lang == "en":
            assert CJK.findall(text) == []
        else:
            assert [h for h in seen.headings if not CJK.search(h)] == []
            assert not re.search(r"\b(Findings|page|of|run|Back)\b", text)


def test_labels_of_the_builders_follow_the_language():
    zh = i18n.language("zh-CN")
    findings = sample_input().findings
    assert [c.label for c in sections.count_by_status(findings, zh)] == [
        "不通过",
        "无法判定",
        "通过",
    ]
    assert [c.label for c in sections.count_by_status(findings)] == ["FAIL", "UNKNOWN", "PASS"]
    assert committee.place_name("HK", zh) == "中国香港"
    assert committee.place_name("BR", zh) == "巴西"  # CLDR names what the catalog does not
    assert committee.place_name("BR") == "Brazil"
    assert committee.place_name("XQ", zh) == "XQ"


# hostile strings ------------------------------------------------------------------------------


@pytest.mark.parametrize("lang", ["zh-CN", "en"])
def test_hostile_strings_are_escaped_in_either_language(lang, hostile_payloads):
    data = rich_input(lang)
    owners = {f.resource: HOSTILE_SCRIPT for f in data.findings}
    waived = dataclasses.replace(
        data.findings[2],
        waiver=WaiverMark(
            "waived", HOSTILE_IMG, HOSTILE_SCRIPT, HOSTILE_IMG, "", 3, HOSTILE_SCRIPT
        ),
    )
    data = dataclasses.replace(
        data,
        organisation=HOSTILE_SCRIPT,
        findings=[*data.findings[:2], waived, *data.findings[3:]],
        estate=dataclasses.replace(data.estate, owners=owners) if data.estate else None,
    )
    page = render_html(data)
    for payload in hostile_payloads:
        assert payload not in page
        assert str(markupsafe.escape(payload)) in page
    assert page.count("<script>") == 1


# language names and the command line ----------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "code"),
    [("zh-CN", "zh-CN"), ("zh_CN", "zh-CN"), ("zh", "zh-CN"), ("en", "en"), ("en-US", "en")],
)
def test_language_aliases(name, code):
    assert i18n.lang_code(name) == code


@pytest.mark.parametrize("name", ["fr", "", "zh-TW", "english"])
def test_unknown_languages_are_refused(name):
    with pytest.raises(ValueError, match="unknown language"):
        i18n.lang_code(name)


def _checked_db(tmp_path: Path, capsys) -> Path:
    db = seeded_db(tmp_path)
    run_main(["check", "--policy", str(MINIMAL), "--db", str(db)], capsys)
    return db


@pytest.mark.parametrize(("option", "lang"), [([], "zh-CN"), (["--lang", "en-US"], "en")])
def test_report_command_writes_the_language_asked_for(tmp_path, capsys, option, lang):
    db = _checked_db(tmp_path, capsys)
    out = tmp_path / "r"
    code, _, err = run_main(["report", "--db", str(db), "--out", str(out), *option], capsys)
    assert code == 0, err
    page = (out / "report.html").read_text("utf-8")
    assert page.startswith(f'<!DOCTYPE html>\n<html lang="{lang}">')
    assert ("概览" in page) == (lang == "zh-CN")


def test_report_command_refuses_an_unknown_language(tmp_path, capsys):
    db = _checked_db(tmp_path, capsys)
    code, _, err = run_main(
        ["report", "--db", str(db), "--out", str(tmp_path / "r"), "--lang", "fr"], capsys
    )
    assert code == 2
    assert "unknown language 'fr'" in err
    assert not (tmp_path / "r" / "report.html").exists()


@pytest.mark.parametrize("command", ["audit", "demo", "report"])
def test_lang_is_offered_where_a_report_is_written(command):
    options = {name for p in cli.commands[command].params for name in p.opts}
    assert "--lang" in options
