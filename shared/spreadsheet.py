"""Text cells of the CSV exports that a spreadsheet opens: shown, never run."""

from __future__ import annotations

#: What a spreadsheet reads as the start of a formula in a cell.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(value: str) -> str:
    """``value`` as a spreadsheet shows it and never runs it: a cell starting with
    ``=``, ``+``, ``-``, ``@``, a tab or a carriage return gets a single quote first.
    For free text (names, comments); a number's cell is written as it is."""
    return f"'{value}" if value.startswith(FORMULA_STARTS) else value
