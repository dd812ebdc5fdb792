"""Text from the cloud made safe to print on a terminal.

Resource names, tags, policy Sids and AWS error messages are written by whoever controls the
account audited.  Printed as they are, an escape sequence in a bucket tag could clear the
screen, retitle the window, hide a finding behind a carriage return, or turn text into a
hyperlink (OSC 8) that points somewhere else; a bidi override could make `evil.txt` read as
something harmless.  `safe_line` keeps what a person should read and drops what a terminal
would act on.  Reports and JSON are data and are not passed through it; only terminal output
is.
"""

from __future__ import annotations

import re

__all__ = ["safe_line", "safe_lines"]

# ECMA-48 escape sequences, 7-bit (ESC ...) and 8-bit (C1) forms alike.  A sequence cut off
# at the end of the text is removed too: the terminal would swallow what follows it.
_SEQUENCE = re.compile(
    r"""
    (?:\x1b\[|\x9b) [\x30-\x3f]* [\x20-\x2f]* [\x40-\x7e]?      # CSI: colours, cursor, erase
  | (?:\x1b[\]PX^_]|[\x90\x98\x9d\x9e\x9f]) .*? (?:\x07|\x1b\\|\x9c|\Z)
                                          # OSC (titles, hyperlinks), DCS, SOS, PM, APC strings
  | \x1b [\x20-\x2f]* [\x30-\x7e]?        # every other escape: ESC c (reset), ESC 7, ESC ( B
    """,
    re.VERBOSE | re.DOTALL,
)
# Line breaks become a space so that words on either side stay apart.
_BREAK = re.compile(r"\r\n|[\n\r\v\f\x85\u2028\u2029]")
# What is left to drop: C0 controls but tab, DEL, C1 controls, and the bidi controls
# (marks, embeddings, overrides, isolates) that reorder what is shown.
_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def safe_line(text: str) -> str:
    """`text` as one line a terminal shows exactly as written: escape sequences, control
    characters (but tab) and bidi controls removed, line breaks turned into spaces.

    >>> safe_line("bucket\\x1b[2J")
    'bucket'
    >>> safe_line("\\x1b]8;;http://evil.example\\x07click\\x1b]8;;\\x07")
    'click'
    >>> safe_line("ok\\rFAIL")
    'ok FAIL'
    """
    if text.isprintable():
        return text  # the common case: nothing to look for
    text = _SEQUENCE.sub("", text)
    text = _BREAK.sub(" ", text)
    return _CONTROL.sub("", text)


def safe_lines(text: str) -> str:
    """Several lines (a traceback, a multi-line log record), each made safe; breaks kept."""
    return "\n".join(safe_line(line) for line in text.split("\n"))
