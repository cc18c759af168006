"""Untrusted text on its way out: CSV cells, terminal output and messages of bounded length.

Segment names, patient IDs, lesion names and file names come from files sirtkit did not write. Every CSV
writer passes its cells through :func:`csv_cell` (or :func:`csv_row`), and every terminal printer passes
text through :func:`terminal_text`, so that the rule lives in one place (docs/design/ARCHITECTURE.md,
"text that leaves in a CSV, HTML page or terminal is neutralised by one shared helper").

* **CSV / formula injection.** Spreadsheets (Excel, LibreOffice Calc, Google Sheets) run a cell that
  starts with ``=``, ``+``, ``-`` or ``@`` as a formula, and also one that starts with a tab or a
  carriage return. OWASP ("CSV Injection", owasp.org/www-community/attacks/CSV_Injection) asks that such
  cells be prefixed with a single quote, which spreadsheets read as "this is text"; OWASP ASVS 5.0
  requirement 1.2.10 adds the NUL character. Quoting of commas and double quotes is the CSV writer's job
  (RFC 4180 §2.6–2.7; Python's :mod:`csv` does it). Numbers are left alone (``-1.5`` stays a number):
  only text is neutralised, as OWASP notes that escaping would otherwise corrupt numeric data.
* **Terminal control sequences.** An ID holding ``ESC [ 2 J`` clears the screen; other escape sequences
  can rewrite what was printed before or set the window title. :func:`terminal_text` shows every control
  character (C0, DEL, C1) except newline and tab as a visible escape (``\\x1b``), so the text stays
  readable and nothing reaches the terminal as a command.
* **Length.** A message that holds 24 MB of coordinates would take the terminal printer minutes to lay
  out; :func:`bounded` cuts any text to a length a person reads, saying how much was cut.

Examples
--------
>>> csv_cell("=HYPERLINK(\\"http://x\\")"), csv_cell("Tumor 1"), csv_cell("-1.5"), csv_cell(-3)
('\\'=HYPERLINK("http://x")', 'Tumor 1', '-1.5', -3)
>>> terminal_text("P\\x1b[2J01")
'P\\\\x1b[2J01'
>>> bounded("x" * 50, 20)
'xxxxxxxxxxxxxxxxxxxx … [cut: 50 characters in all]'
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any, TypeVar

__all__ = ["CSV_FORMULA_PREFIXES", "DICOM_LO_MAX_CHARS", "MAX_MESSAGE_CHARS", "bounded", "csv_cell", "csv_row",
           "dicom_lo", "dicom_text", "terminal_text"]

# First characters that make a spreadsheet read a cell as a formula: OWASP "CSV Injection"
# (= + - @, tab 0x09, carriage return 0x0D) and OWASP ASVS 5.0 V1.2.10 (also NUL).
CSV_FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r", "\0")
# DICOM VR LO (Long String): at most 64 characters, no backslash (it separates values), no control
# characters other than ESC (DICOM PS3.5 Table 6.2-1).
DICOM_LO_MAX_CHARS = 64
_LO_FORBIDDEN = re.compile(r"[\x00-\x1f\x7f-\x9f]")
# Longest message printed whole (characters): a screenful. Longer ones are cut (sirtkit convention).
MAX_MESSAGE_CHARS = 2000

# A plain decimal number, possibly signed, with an exponent: left as it is in a CSV cell.
_NUMBER = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")
# Control characters other than tab and newline: C0, DEL and C1 (ECMA-48 / ISO 6429).
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")

T = TypeVar("T")


def csv_cell(value: T) -> T | str:
    """``value`` made safe as a CSV cell: text that a spreadsheet would run as a formula gets a leading ``'``.

    Non-text values (numbers, None, ...) and text that is a plain number are returned unchanged.
    """
    if not isinstance(value, str) or not value.startswith(CSV_FORMULA_PREFIXES) or _NUMBER.fullmatch(value):
        return value
    return "'" + value


def csv_row(row: Iterable[Any]) -> list[Any]:
    """:func:`csv_cell` of every cell of ``row``."""
    return [csv_cell(cell) for cell in row]


def terminal_text(text: str) -> str:
    """``text`` with every control character except newline and tab shown as an escape (``\\x1b``)."""
    return _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", text)


def bounded(text: str, limit: int = MAX_MESSAGE_CHARS) -> str:
    """``text`` cut to ``limit`` characters, saying so (and how long it was) when it is cut."""
    if len(text) <= limit:
        return text
    return f"{text[:limit]} … [cut: {len(text)} characters in all]"


def dicom_text(value: Any) -> str:
    r"""The text of a DICOM string element as a person typed it: a multi-valued element (a name holding a
    backslash, ``Liver\seg``, reads back as two values) is joined again with the backslash.

    Examples
    --------
    >>> from pydicom.multival import MultiValue
    >>> dicom_text(MultiValue(str, ["Liver", "seg"])), dicom_text("Tumor 1"), dicom_text(None)
    ('Liver\\seg', 'Tumor 1', '')
    """
    if value is None:
        return ""
    if isinstance(value, (list, tuple)) or type(value).__name__ == "MultiValue":
        return "\\".join(str(v) for v in value)
    return str(value)


def dicom_lo(text: str) -> str:
    r"""``text`` as one DICOM LO value: backslashes become ``/`` (a backslash would split it into two
    values), control characters (tab and newline included) are dropped, at most :data:`DICOM_LO_MAX_CHARS`
    characters.

    Examples
    --------
    >>> dicom_lo("Liver\\seg\x1b[2J\n"), len(dicom_lo("x" * 80))
    ('Liver/seg[2J', 64)
    """
    return _LO_FORBIDDEN.sub("", text.replace("\\", "/"))[:DICOM_LO_MAX_CHARS]
