"""`safe_line`: hostile cloud strings lose everything a terminal would act on, keep the rest."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from auditor.terminal import safe_line, safe_lines

# What may never reach a terminal: ESC, C0 but tab, DEL, C1, line breaks, bidi controls.
FORBIDDEN = re.compile(
    r"[\x00-\x08\x0a-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]"
)


@pytest.mark.parametrize(
    ("hostile", "shown"),
    [
        # OSC 8: a hyperlink whose target the reader never sees
        ("\x1b]8;;http://evil.example/\x07yz-mz-dibao-core\x1b]8;;\x07", "yz-mz-dibao-core"),
        ("\x1b]8;;http://evil.example/\x1b\\bucket\x1b]8;;\x1b\\", "bucket"),
        # CSI: clear the screen, move the cursor, recolour
        ("\x1b[2Jclean", "clean"),
        ("\x1b[1;1H\x1b[Kpass", "pass"),
        ("\x1b[32mPASS\x1b[0m", "PASS"),
        ("\x1b[?1049h", ""),  # switch to the alternate screen
        # OSC 0/2: retitle the window; OSC 52: write the clipboard
        ("\x1b]0;title\x07name", "name"),
        ("\x1b]2;title\x1b\\name", "name"),
        ("\x1b]52;c;cm0gLXJmIH4K\x07name", "name"),
        # DCS, APC, PM, SOS strings
        ("\x1bP+q544e\x1b\\after", "after"),
        ("\x1b_apc\x1b\\after", "after"),
        ("\x1b^pm\x07after", "after"),
        ("\x1bXsos\x1b\\after", "after"),
        # single-character and nF escapes
        ("\x1bcreset", "reset"),
        ("\x1b7saved\x1b8", "saved"),
        ("\x1b(0line drawing\x1b(B", "line drawing"),
        ("\x1b#8", ""),
        # 8-bit C1 forms of CSI and OSC
        ("\x9b2Jclean", "clean"),
        ("\x9d0;title\x9cname", "name"),
        # carriage return overwrite: "FAIL" printed over "PASS"
        ("PASS\rFAIL", "PASS FAIL"),
        ("ok\r\x1b[2KFAIL", "ok FAIL"),
        # backspaces that erase what came before
        ("PASS\b\b\b\bFAIL", "PASSFAIL"),
        # bidi: U+202E shows "evil.exe" reversed, isolates and marks reorder too
        ("invoice\u202eexe.pdf", "invoiceexe.pdf"),
        ("\u2066a\u2069\u2067b\u2069\u2068c\u2069", "abc"),
        ("\u202a\u202b\u202c\u202d\u200e\u200f\u061cx", "x"),
        # line breaks of every kind end up as one space
        ("line1\nline2", "line1 line2"),
        ("a\r\nb", "a b"),
        ("a\u2028b\u2029c\x85d\x0be\x0cf", "a b c d e f"),
        # other controls: NUL, BEL, DEL
        ("a\x00b\x07c\x7fd", "abcd"),
        # sequences cut off at the end swallow nothing that follows, because nothing does
        ("name\x1b", "name"),
        ("name\x1b[", "name"),
        ("name\x1b[31", "name"),
        ("name\x1b]8;;http://evil", "name"),
    ],
)
def test_payloads_are_stripped(hostile: str, shown: str) -> None:
    assert safe_line(hostile) == shown


@pytest.mark.parametrize(
    "text",
    [
        "arn:aws-cn:s3:::yz-mz-dibao-core/*",
        "核心数据 · 市民政局",
        "tab\tseparated",
        "emoji 🙂 and \u3000 ideographic space",
        "شبكة",  # right-to-left text without control characters is left as it is
        "",
    ],
)
def test_ordinary_text_is_left_alone(text: str) -> None:
    assert safe_line(text) == text


def test_safe_lines_keeps_line_breaks_and_cleans_each_line() -> None:
    assert safe_lines("Traceback:\n  \x1b[2Jvalue\rX\n") == "Traceback:\n  value X\n"


PAYLOADS = [
    ("\x1b[2J", ""),
    ("\x1b[38;5;196m", ""),
    ("\x1b]8;;http://evil\x07", ""),
    ("\x1b]0;title\x1b\\", ""),
    ("\x9b0m", ""),
    ("\x1bc", ""),
    ("\u202e", ""),
    ("\u2066", ""),
    ("\x00", ""),
    ("\x7f", ""),
    ("\n", " "),  # not "\r" as well: "\r" then "\n" is one line break, shown as one space
]
VISIBLE = st.text(
    st.characters(exclude_categories=("Cc", "Cf", "Cs", "Zl", "Zp"), include_characters="\t"),
    max_size=8,
)
EXAMPLES = settings(max_examples=500, derandomize=True, database=None, deadline=None)


@EXAMPLES
@given(st.text(max_size=40))
def test_nothing_a_terminal_acts_on_survives(text: str) -> None:
    shown = safe_line(text)
    assert not FORBIDDEN.search(shown)
    assert safe_line(shown) == shown  # idempotent: cleaning twice changes nothing more


@EXAMPLES
@given(st.lists(st.one_of(VISIBLE.map(lambda v: (v, v)), st.sampled_from(PAYLOADS)), max_size=8))
def test_visible_text_between_payloads_is_kept_in_order(pieces: list[tuple[str, str]]) -> None:
    hostile = "".join(raw for raw, _ in pieces)
    assert safe_line(hostile) == "".join(shown for _, shown in pieces)


@EXAMPLES
@given(VISIBLE)
def test_printable_text_is_returned_unchanged(text: str) -> None:
    assert safe_line(text) == text
