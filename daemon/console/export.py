"""The month's scorecard for spreadsheets: CSV (the very file ``shopwatch scorecard --format
csv`` prints) and XLSX (the same columns, headed in the reader's language, numbers as
numbers)."""

from __future__ import annotations

import csv
import io
from decimal import Decimal

from openpyxl import Workbook
from openpyxl.styles import Font

from daemon.console.i18n import N_, Words
from daemon.scoring.render import CSV_COLUMNS, render
from daemon.scoring.scorecard import Scorecard

HEADINGS = {
    "month": N_("Month"),
    "agent": N_("Agent"),
    "name": N_("Name"),
    "score": N_("Score"),
    "grade": N_("Grade"),
    "points_deducted": N_("Points deducted"),
    "bonus": N_("Bonus"),
    "adjustment": N_("Adjustment"),
    "pay_adjustment": N_("Pay adjustment (CNY)"),
    "fines": N_("Fines (CNY)"),
    "violations": N_("Violations"),
    "inquiries": N_("Inquiries"),
    "converted": N_("Converted"),
    "conversion_rate": N_("Conversion rate"),
    "converted_sales": N_("Converted sales (CNY)"),
    "commission": N_("Commission (CNY)"),
    "top_award": N_("Top agent award (CNY)"),
    "conversion_status": N_("Conversion status"),
    "flags": N_("Flags"),
}


def scorecard_csv(card: Scorecard) -> bytes:
    """UTF-8 with a byte-order mark, so a spreadsheet opened by double-click reads the
    Chinese names right."""
    return ("\ufeff" + render(card, "csv")).encode("utf-8")


def _cell(value: str) -> str | int | float:
    try:
        number = Decimal(value)
    except ArithmeticError:
        return value
    if not number.is_finite():
        return value
    return int(number) if number == number.to_integral_value() else float(number)


def scorecard_xlsx(card: Scorecard, words: Words) -> bytes:
    rows = list(csv.reader(io.StringIO(render(card, "csv"))))
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = str(card.month)
    header = ["month", *CSV_COLUMNS]
    sheet.append([words.gettext(HEADINGS[name]) for name in header])
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    text_columns = {"month", "agent", "name", "grade", "conversion_status", "flags"}
    for row in rows[1:]:
        sheet.append(
            [
                value if name in text_columns or value == "" else _cell(value)
                for name, value in zip(header, row, strict=True)
            ]
        )
    sheet.freeze_panes = "C2"
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()
