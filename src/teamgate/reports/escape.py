"""Text from the ledger made inert for each place a report goes.

Team names come from the config, but model names and key names come from
ledger rows, and old ledgers may hold whatever a client once sent as its model.
Each output neutralises what is active in it:

- CSV (reports, exports): a cell starting with ``=``, ``+``, ``-``, ``@``, a tab or a
  carriage return is a formula to a spreadsheet; it gets a leading ``'``. Plain numbers
  (``-1.50``) stay numbers.
- Slack mrkdwn (``report --send``): ``&``, ``<``, ``>`` become entities (so no
  ``<!channel>`` or ``<http://link|text>``), a backtick becomes ``ˋ`` (so no code
  block is closed), newlines become spaces.
- Markdown (``--format md``): the same with HTML entities, and ``|`` escaped.
- Terminal tables: control characters (newlines, ANSI escapes) become ``?``.

>>> csv_cell('=HYPERLINK("http://evil","x")'), csv_cell("-1.50"), csv_cell(7)
('\\'=HYPERLINK("http://evil","x")', '-1.50', 7)
>>> slack_text("x```\\n<!channel> & <http://e|go>")
'xˋˋˋ &lt;!channel&gt; &amp; &lt;http://e|go&gt;'
>>> markdown_cell("a|b`<i>`")
'a\\\\|b&#96;&lt;i&gt;&#96;'
"""

from __future__ import annotations

import csv
import dataclasses
import re
from collections.abc import Callable, Iterable
from typing import Any, TextIO, TypeVar

from teamgate.reports.build import Report

T = TypeVar("T")

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_PLAIN_NUMBER = re.compile(r"[+-]?\d+(\.\d+)?%?")
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def csv_cell(value: T) -> T | str:
    """``value`` as a CSV cell no spreadsheet will evaluate."""
    formula = isinstance(value, str) and value.startswith(_FORMULA_START)
    if formula and not _PLAIN_NUMBER.fullmatch(str(value)):
        return "'" + str(value)
    return value


class SafeCsvWriter:
    """``csv.writer`` whose every cell goes through :func:`csv_cell` (the one CSV writer)."""

    def __init__(self, out: TextIO) -> None:
        self._writer = csv.writer(out, lineterminator="\n")
        # csv quotes a lone CR only when it is in the line terminator: rows holding one
        # are written fully quoted, so no cell can start a row of its own.
        self._quoted = csv.writer(out, lineterminator="\n", quoting=csv.QUOTE_ALL)

    def writerow(self, row: Iterable[Any]) -> None:
        cells = [csv_cell(cell) for cell in row]
        has_cr = any(isinstance(cell, str) and "\r" in cell for cell in cells)
        (self._quoted if has_cr else self._writer).writerow(cells)


def one_line(text: str) -> str:
    return text.replace("\r\n", " ").replace("\n", " ").replace("\r", " ")


def slack_text(text: str) -> str:
    """Literal text for Slack's mrkdwn (the three characters Slack asks to escape, and more)."""
    text = plain_text(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return text.replace("`", "ˋ")


def markdown_cell(text: str) -> str:
    """Literal text for a Markdown table cell."""
    text = plain_text(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return text.replace("`", "&#96;").replace("|", "\\|")


def plain_text(text: str) -> str:
    """Printable text for a terminal table (no newlines, no escape sequences)."""
    return _CONTROL.sub("?", one_line(text))


def with_texts(report: Report, clean: Callable[[str], str]) -> Report:
    """``report`` with every ledger-sourced text (teams, models, breakdown values) cleaned."""
    teams = [
        dataclasses.replace(
            line,
            team=clean(line.team),
            top_model=None if line.top_model is None else clean(line.top_model),
        )
        for line in report.teams
    ]
    breakdown = [
        dataclasses.replace(b, team=clean(b.team), value=clean(b.value)) for b in report.breakdown
    ]
    total = report.total
    if total.top_model is not None:
        total = dataclasses.replace(total, top_model=clean(total.top_model))
    return dataclasses.replace(report, teams=teams, breakdown=breakdown, total=total)
