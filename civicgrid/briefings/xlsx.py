"""The briefing as a workbook (openpyxl): a cover sheet with the masthead, logo and summary,
then one sheet per table, each with its header row frozen and filterable and its figures as
numbers in the right format (rates as percentages), so the centre can go on calculating with
them. The charts are the page's and the PDF's."""

from __future__ import annotations

from datetime import datetime
from io import BytesIO

from openpyxl import Workbook
from openpyxl.drawing.image import Image
from openpyxl.styles import Alignment, Border, Font, PatternFill, Side
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet

from civicgrid.briefings.content import Briefing, ColumnKind, Table, Value
from civicgrid.domain.vocabulary import GRADE_COLOURS

#: The number format of each kind of column.
NUMBER_FORMATS = {
    ColumnKind.COUNT: "#,##0",
    ColumnKind.RATE: "0.00%",
    ColumnKind.CHANGE: "+0.0%;-0.0%;0.0%",
    ColumnKind.POINTS: "+0.00;-0.00;0.00",
    ColumnKind.SCORE: "0.00",
    ColumnKind.MOMENT: "yyyy-mm-dd hh:mm",
}
#: What a figure without a value (a rate without denominator) shows, as in the API.
NO_FIGURE = "—"
_HEADER_FILL = PatternFill("solid", fgColor="ECEFF1")
_THIN = Side(style="thin", color="B0BEC5")
_BORDER = Border(left=_THIN, right=_THIN, top=_THIN, bottom=_THIN)
_TITLE_RED = "C62828"
_SHEET_NAME_FORBIDDEN = str.maketrans({character: "_" for character in "[]:*?/\\"})


def sheet_name(title: str, taken: set[str]) -> str:
    """A sheet name for ``title``: at most 31 characters, none of []:*?/\\, unique."""
    base = title.translate(_SHEET_NAME_FORBIDDEN)[:31] or "表"
    name, number = base, 2
    while name in taken:
        suffix = f"({number})"
        name, number = base[: 31 - len(suffix)] + suffix, number + 1
    taken.add(name)
    return name


def render(briefing: Briefing) -> bytes:
    """The workbook of the briefing."""
    workbook = Workbook()
    taken: set[str] = set()
    cover = workbook.active
    assert cover is not None
    cover.title = sheet_name("简报", taken)
    _cover(cover, briefing)
    for table in briefing.tables:
        _table(workbook.create_sheet(sheet_name(table.title, taken)), table)
    workbook.properties.title = f"{briefing.heading} {briefing.period.label}"
    workbook.properties.creator = briefing.title
    out = BytesIO()
    workbook.save(out)
    return out.getvalue()


def _cover(sheet: Worksheet, briefing: Briefing) -> None:
    sheet.column_dimensions["A"].width = 14
    sheet.column_dimensions["B"].width = 100
    row = 1
    if briefing.logo:
        logo = Image(BytesIO(briefing.logo))
        scale = 60 / max(logo.height, 1)
        logo.width, logo.height = logo.width * scale, logo.height * scale
        sheet.add_image(logo, "A1")
        sheet.row_dimensions[1].height = 48
    sheet.cell(row, 2, briefing.title).font = Font(size=20, bold=True, color=_TITLE_RED)
    sheet.cell(row, 2).alignment = Alignment(vertical="center")
    row += 1
    sheet.cell(row, 2, briefing.heading).font = Font(size=14, bold=True)
    facts: list[tuple[str, Value]] = [
        ("期间", briefing.period.label),
        ("统计截至", briefing.as_of.replace(tzinfo=None)),
        ("统计范围", briefing.scope),
        ("比较口径", briefing.compared_with),
        ("生成时间", briefing.generated_at.replace(tzinfo=None)),
    ]
    row += 2
    for label, value in facts:
        sheet.cell(row, 1, label).font = Font(bold=True)
        cell = sheet.cell(row, 2, value)
        if isinstance(value, datetime):
            cell.number_format = NUMBER_FORMATS[ColumnKind.MOMENT]
            cell.alignment = Alignment(horizontal="left")
        row += 1
    row += 1
    sheet.cell(row, 1, "本期概要").font = Font(bold=True, size=12)
    for paragraph in briefing.summary:
        cell = sheet.cell(row, 2, paragraph)
        cell.alignment = Alignment(wrap_text=True, vertical="top")
        sheet.row_dimensions[row].height = 15 * (len(paragraph) // 55 + 1)
        row += 1
    row += 1
    sheet.cell(row, 1, "各表").font = Font(bold=True, size=12)
    for table in briefing.tables:
        sheet.cell(row, 2, table.title + (f"：{table.note}" if table.note else ""))
        row += 1


def _table(sheet: Worksheet, table: Table) -> None:
    for index, column in enumerate(table.columns, start=1):
        cell = sheet.cell(1, index, column.label)
        cell.font = Font(bold=True)
        cell.fill = _HEADER_FILL
        cell.border = _BORDER
        cell.alignment = Alignment(horizontal="center", vertical="center", wrap_text=True)
        sheet.column_dimensions[get_column_letter(index)].width = column.width
    for row_index, row in enumerate(table.rows, start=2):
        for index, (column, value) in enumerate(zip(table.columns, row, strict=True), start=1):
            cell = sheet.cell(row_index, index, _cell_value(value, column.kind))
            cell.border = _BORDER
            if column.kind in NUMBER_FORMATS and not isinstance(value, str) and value is not None:
                cell.number_format = NUMBER_FORMATS[column.kind]
            elif column.kind is ColumnKind.GRADE and isinstance(value, str):
                cell.font = Font(bold=True, color=GRADE_COLOURS.get(value, "616161").lstrip("#"))
                cell.alignment = Alignment(horizontal="center")
            elif column.kind in NUMBER_FORMATS:
                cell.alignment = Alignment(horizontal="right")
    # The header stays in view and filters the rows; the note follows after a blank row.
    sheet.freeze_panes = "A2"
    if table.rows:
        sheet.auto_filter.ref = f"A1:{get_column_letter(len(table.columns))}{len(table.rows) + 1}"
    if table.note:
        sheet.cell(len(table.rows) + 3, 1, f"注：{table.note}").font = Font(italic=True, color="757575")


def _cell_value(value: Value, kind: ColumnKind) -> Value:
    if value is None:
        return NO_FIGURE if kind is not ColumnKind.TEXT else ""
    if isinstance(value, datetime):
        # Excel keeps no time zone: the centre's local time is written.
        return value.replace(tzinfo=None)
    return value
