"""sirtkit.text: the one neutraliser of untrusted text (CSV cells, terminal output, message length)."""

from __future__ import annotations

import pytest

from sirtkit.text import MAX_MESSAGE_CHARS, bounded, csv_cell, csv_row, terminal_text


@pytest.mark.parametrize("cell", ["=1+1", "+41 79 000", "-2+3", "@SUM(A1:A2)", "\t=1", "\r=1", "\0x",
                                  "=HYPERLINK(\"http://evil\",\"click\")", "=cmd|' /C calc'!A0"])
def test_formula_cells_get_a_leading_quote(cell: str) -> None:
    """OWASP "CSV Injection": cells starting with = + - @ tab CR (ASVS 5.0 1.2.10: also NUL) are
    prefixed with a single quote, so that a spreadsheet shows them as text."""
    assert csv_cell(cell) == "'" + cell


@pytest.mark.parametrize("cell", ["Tumor 1", "", "'=already", "-1.5", "+2", "-3e-4", ".5", "liver = 3"])
def test_text_and_numbers_unchanged(cell: str) -> None:
    assert csv_cell(cell) == cell


def test_non_text_values_unchanged() -> None:
    assert csv_row([-3, -1.5, None, True, "=x"]) == [-3, -1.5, None, True, "'=x"]


def test_terminal_text_shows_control_characters() -> None:
    """ANSI/ECMA-48 escape sequences (clear screen, colours, window title via OSC) are shown, not obeyed."""
    raw = "P\x1b[2J\x1b]0;owned\x07\x9b31m01\x7f"
    shown = terminal_text(raw)
    assert not any(ord(ch) < 32 or 0x7F <= ord(ch) <= 0x9F for ch in shown)
    assert shown == "P\\x1b[2J\\x1b]0;owned\\x07\\x9b31m01\\x7f"
    assert terminal_text("line 1\n\tline 2 — µmol/L") == "line 1\n\tline 2 — µmol/L"


def test_bounded_cuts_and_says_so() -> None:
    text = "0123456789" * 2_400_000  # 24 MB, as the error message of issue 10
    cut = bounded(text)
    assert len(cut) < MAX_MESSAGE_CHARS + 60
    assert cut.startswith(text[:MAX_MESSAGE_CHARS]) and "24000000 characters in all" in cut
    assert bounded("short") == "short"
