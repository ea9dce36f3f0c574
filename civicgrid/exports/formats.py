"""The two file formats of an export, each written as a stream of byte chunks while the rows
arrive, in constant memory:

- **CSV**: UTF-8 with a byte-order mark, so that Excel opens Chinese text correctly; times
  in the centre's timezone; a text cell that a spreadsheet would read as a formula is
  prefixed with an apostrophe (CSV injection).
- **xlsx**: written by XlsxWriter in constant-memory mode to a temporary file (strings
  inline, times as Excel dates, rates as percentages), then sent: the memory stays flat
  however many rows there are, and the first byte leaves when the workbook is complete. A
  sheet holds at most 1,048,575 rows below its header; more rows continue on further sheets.
"""

from __future__ import annotations

import csv
import io
import re
import tempfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any, Literal
from urllib.parse import quote
from zoneinfo import ZoneInfo

import xlsxwriter

#: A cell's value: text, a number, a time (aware), a rate as a fraction, or nothing.
Value = str | int | float | datetime | None
Kind = Literal["text", "number", "percent", "datetime"]


class ExportFormat(StrEnum):
    """The file formats an export is written in."""

    CSV = "csv"
    XLSX = "xlsx"


MEDIA_TYPES = {
    ExportFormat.CSV: "text/csv; charset=utf-8",
    ExportFormat.XLSX: "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}


@dataclass(frozen=True)
class Column:
    """A column of an export: its Chinese header, the kind of its values, its width in xlsx."""

    header: str
    kind: Kind = "text"
    width: int = 12


#: What a rate without a denominator shows, as in the API's ``display``.
NO_RATE = "—"
#: Rows written per chunk of a CSV stream.
CSV_CHUNK_ROWS = 1000
#: Excel's limit is 1,048,576 rows a sheet, the header included.
SHEET_ROWS = 1_048_575
#: Excel keeps at most this many characters in a cell.
CELL_CHARS = 32_767


def write(
    file_format: ExportFormat,
    columns: Sequence[Column],
    rows: Iterable[Sequence[Value]],
    zone: ZoneInfo,
    sheet: str = "Sheet1",
) -> Iterator[bytes]:
    """The file as chunks of bytes, written while ``rows`` are read."""
    if file_format is ExportFormat.CSV:
        return csv_chunks(columns, rows, zone)
    return xlsx_chunks(columns, rows, zone, sheet)


# --- CSV ---------------------------------------------------------------------------------

#: A spreadsheet reads a cell starting with these as a formula.
_FORMULA_START = frozenset("=+-@\t\r")


def _csv_text(value: Value) -> Value:
    if isinstance(value, str) and value[:1] in _FORMULA_START:
        return "'" + value
    return value


def _csv_cell(kind: Kind, zone: ZoneInfo) -> Callable[[Value], Value]:
    if kind == "datetime":
        return lambda value: (
            value.astimezone(zone).isoformat(" ", "seconds")[:19] if isinstance(value, datetime) else value
        )
    if kind == "percent":
        return lambda value: NO_RATE if value is None else f"{float(value) * 100:.2f}%"  # type: ignore[arg-type]
    if kind == "number":
        return lambda value: value
    return _csv_text


def csv_chunks(columns: Sequence[Column], rows: Iterable[Sequence[Value]], zone: ZoneInfo) -> Iterator[bytes]:
    """A CSV file: BOM and header first, then ``CSV_CHUNK_ROWS`` rows a chunk."""
    cells = [_csv_cell(column.kind, zone) for column in columns]
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow([column.header for column in columns])
    yield "\ufeff".encode() + buffer.getvalue().encode("utf-8")
    buffer.seek(0)
    buffer.truncate()
    pending = 0
    for row in rows:
        writer.writerow([cell(value) for cell, value in zip(cells, row, strict=True)])
        pending += 1
        if pending == CSV_CHUNK_ROWS:
            yield buffer.getvalue().encode("utf-8")
            buffer.seek(0)
            buffer.truncate()
            pending = 0
    if pending:
        yield buffer.getvalue().encode("utf-8")


# --- xlsx --------------------------------------------------------------------------------

#: Characters XML 1.0 does not allow (a spreadsheet refuses the whole file over one).
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
#: Characters a sheet name may not have.
_NOT_IN_SHEET_NAME = re.compile(r"[\[\]:*?/\\]")
#: Bytes read from the finished workbook per chunk sent.
XLSX_CHUNK_BYTES = 1 << 16


def sheet_name(name: str) -> str:
    """``name`` as Excel accepts a sheet's name: at most 31 characters, none of []:*?/\\."""
    return _NOT_IN_SHEET_NAME.sub("-", name)[:31] or "Sheet1"


def xlsx_chunks(
    columns: Sequence[Column], rows: Iterable[Sequence[Value]], zone: ZoneInfo, sheet: str = "Sheet1"
) -> Iterator[bytes]:
    """An xlsx workbook written by XlsxWriter in constant-memory mode (each row goes to a
    temporary file as it is written, strings inline), then sent from that file in chunks.
    A sheet holds ``SHEET_ROWS`` rows below its bold, frozen header; more rows go on on
    further sheets."""
    with tempfile.TemporaryFile() as file:
        book = xlsxwriter.Workbook(
            file,
            {
                "constant_memory": True,
                # Text stays text: never read as a formula, a link or a number.
                "strings_to_formulas": False,
                "strings_to_urls": False,
                "strings_to_numbers": False,
            },
        )
        styles = {
            "header": book.add_format({"bold": True}),
            "datetime": book.add_format({"num_format": "yyyy-mm-dd hh:mm:ss"}),
            "percent": book.add_format({"num_format": "0.00%"}),
        }
        number, page = SHEET_ROWS, 0
        worksheet = None
        for row in rows:
            if number == SHEET_ROWS:
                page += 1
                worksheet = _new_sheet(book, sheet if page == 1 else f"{sheet}({page})", columns, styles)
                number = 0
            number += 1
            for index, (column, value) in enumerate(zip(columns, row, strict=True)):
                _write_cell(worksheet, number, index, column.kind, value, zone, styles)
        if worksheet is None:
            _new_sheet(book, sheet, columns, styles)
        book.close()
        file.seek(0)
        while chunk := file.read(XLSX_CHUNK_BYTES):
            yield chunk


def _new_sheet(book: Any, name: str, columns: Sequence[Column], styles: dict[str, Any]) -> Any:
    """A sheet with the columns' widths and the bold header frozen above the rows."""
    worksheet = book.add_worksheet(sheet_name(name))
    worksheet.freeze_panes(1, 0)
    for index, column in enumerate(columns):
        worksheet.set_column(index, index, column.width)
        worksheet.write_string(0, index, column.header, styles["header"])
    return worksheet


def _write_cell(
    worksheet: Any, row: int, col: int, kind: Kind, value: Value, zone: ZoneInfo, styles: dict[str, Any]
) -> None:
    if value is None:
        if kind == "percent":
            worksheet.write_string(row, col, NO_RATE)
    elif isinstance(value, str):
        worksheet.write_string(row, col, _NOT_XML.sub("", value)[:CELL_CHARS])
    elif isinstance(value, datetime):
        worksheet.write_datetime(row, col, value.astimezone(zone).replace(tzinfo=None), styles["datetime"])
    elif kind == "percent":
        worksheet.write_number(row, col, float(value), styles["percent"])
    else:
        worksheet.write_number(row, col, value)


# --- the file's name ---------------------------------------------------------------------


def content_disposition(name: str, fallback: str) -> str:
    """The Content-Disposition of a download named ``name`` (Chinese allowed): an ASCII
    ``filename`` for old clients, and ``filename*`` in UTF-8 (RFC 5987 / RFC 6266)."""
    plain = re.sub(r"[^A-Za-z0-9._-]", "_", fallback) or "export"
    return f"attachment; filename=\"{plain}\"; filename*=UTF-8''{quote(name, safe='')}"
