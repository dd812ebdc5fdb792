"""The report's languages: gettext catalogs under reports/locale, loaded with Babel.

Message ids are the English text.  Interface strings are marked `_()` in the templates and
`N_()` in Python; a check's title, fails_when and remediation are catalog entries too, their
msgid being the CheckMeta text exactly (pybabel finds them with `extract_check_meta`).

Only .po files are shipped, and compiled in memory on first use (about 50 ms per language and
process): a plain `pip install` of a clean clone has them, no build step can forget them, and no
stale .mo can outlive its .po.
"""

from __future__ import annotations

import ast
import io
from collections.abc import Collection, Iterator, Mapping
from dataclasses import dataclass, replace
from functools import cache
from importlib import resources
from importlib.resources.abc import Traversable
from typing import IO, TYPE_CHECKING, TypeVar

from babel import Locale
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import NullTranslations, Translations

if TYPE_CHECKING:
    from auditor.checking import CheckMeta

DOMAIN = "messages"
DEFAULT_LANG = "zh-CN"
# BCP 47 tag (what <html lang> carries) -> catalog folder under reports/locale.
LOCALES = {"zh-CN": "zh_CN", "en": "en"}
_ALIASES = {
    "zh-cn": "zh-CN",
    "zh": "zh-CN",
    "zh-hans": "zh-CN",
    "zh-hans-cn": "zh-CN",
    "en": "en",
    "en-us": "en",
    "en-gb": "en",
}
# The CheckMeta fields a reader sees, each a catalog entry.
CHECK_FIELDS = ("title", "fails_when", "remediation")

K = TypeVar("K")


def N_(message: str) -> str:  # noqa: N802 - the gettext convention pybabel looks for
    """Mark a string for extraction where it is defined; it is translated where it is shown."""
    return message


def lang_code(lang: str) -> str:
    """The canonical tag of a language name (zh_CN, zh, en-US ...); ValueError if unknown."""
    code = _ALIASES.get(lang.strip().replace("_", "-").lower())
    if code is None:
        raise ValueError(f"unknown language {lang!r}: choose {' or '.join(LOCALES)}")
    return code


@dataclass(frozen=True)
class Language:
    """One language of the report: its BCP 47 tag and its compiled catalog."""

    code: str
    catalog: NullTranslations

    @property
    def chinese(self) -> bool:
        return self.code.startswith("zh")

    def territory(self, code: str) -> str:
        """CLDR's name of a country or region code ("" if it has none)."""
        return str(_cldr(LOCALES[self.code]).territories.get(code.upper(), ""))

    def gettext(self, message: str) -> str:
        # gettext("") is the catalog's header, never what a caller of an empty field wants.
        return self.catalog.gettext(message) if message else message

    def ngettext(self, singular: str, plural: str, n: int) -> str:
        return self.catalog.ngettext(singular, plural, n)

    def labels(self, msgids: Mapping[K, str]) -> dict[K, str]:
        return {key: self.gettext(text) for key, text in msgids.items()}

    def check_meta(self, meta: CheckMeta) -> CheckMeta:
        return replace(
            meta,
            title=self.gettext(meta.title),
            fails_when=self.gettext(meta.fails_when),
            remediation=self.gettext(meta.remediation),
        )


@cache
def _cldr(locale: str) -> Locale:
    return Locale.parse(locale)


# What the builders show when no language is given: the English msgids, untranslated.
SOURCE = Language("en", NullTranslations())


@cache
def language(lang: str = DEFAULT_LANG) -> Language:
    code = lang_code(lang)
    return Language(code, catalog(LOCALES[code]))


def po_path(locale: str) -> Traversable:
    return resources.files("auditor.reports").joinpath(
        "locale", locale, "LC_MESSAGES", f"{DOMAIN}.po"
    )


@cache
def catalog(locale: str) -> Translations:
    """The compiled translations of one locale; fuzzy entries stay untranslated, as msgfmt does."""
    with po_path(locale).open("rb") as handle:
        messages = read_po(handle, locale=locale, domain=DOMAIN)
    compiled = io.BytesIO()
    write_mo(compiled, messages, use_fuzzy=False)
    compiled.seek(0)
    return Translations(compiled, domain=DOMAIN)


# extraction -----------------------------------------------------------------------------------

ExtractResult = Iterator[tuple[int, str, str, list[str]]]


def extract_check_meta(
    fileobj: IO[bytes],
    keywords: Collection[str],  # noqa: ARG001 - pybabel's extractor signature
    comment_tags: Collection[str],  # noqa: ARG001
    options: Mapping[str, object],  # noqa: ARG001
) -> ExtractResult:
    """pybabel extractor: the reader-facing text of each `CheckMeta(...)` in a check module.

    A check's metadata stays plain English where it is declared (it is also the check's
    documentation, `govaudit checks list` and findings.json), so pybabel reads it here; a test
    holds what this finds to `load_checks()`.
    """
    tree = ast.parse(fileobj.read())
    # Module constants, for f-strings such as f"within {ROOT_RECENT_USE_DAYS} days".
    names = {
        target.id: node.value.value
        for node in tree.body
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant)
        for target in node.targets
        if isinstance(target, ast.Name)
    }
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Call) and _called(node.func) == "CheckMeta"):
            continue
        fields = {k.arg: k.value for k in node.keywords if k.arg}
        check_id = _text(fields.get("id"), names) or "?"
        for name in CHECK_FIELDS:
            value = fields.get(name)
            text = _text(value, names)
            if value is not None and text:
                yield value.lineno, "", text, [f"{check_id} {name}"]


def _called(func: ast.expr) -> str:
    if isinstance(func, ast.Name):
        return func.id
    return func.attr if isinstance(func, ast.Attribute) else ""


def _text(node: ast.expr | None, names: Mapping[str, object]) -> str:
    """The string a constant or an f-string of module constants makes; "" for anything else."""
    if isinstance(node, ast.Constant):
        return node.value if isinstance(node.value, str) else ""
    if not isinstance(node, ast.JoinedStr):
        return ""
    parts = []
    for part in node.values:
        if isinstance(part, ast.Constant):
            parts.append(str(part.value))
        elif (
            isinstance(part, ast.FormattedValue)
            and isinstance(part.value, ast.Name)
            and part.value.id in names
            and part.conversion == -1
            and part.format_spec is None
        ):
            parts.append(str(names[part.value.id]))
        else:
            return ""
    return "".join(parts)
