"""The two file formats of an export, each written as a stream of byte chunks while the rows
arrive, in constant memory:

- **CSV**: UTF-8 with a byte-order mark, so that Excel opens Chinese text correctly; times
  in the centre's timezone; a text cell that a spreadsheet would read as a formula is
  prefixed with an apostrophe (CSV injection).
- **xlsx**: the sheet's XML is written straight into a zip stream (entries with data
  descriptors, as a zip written to a pipe has), strings inline, times as Excel dates and
  rates as percentages. No temporary file and no shared-strings table: the first bytes leave
  at once and the memory stays flat however many rows follow. A sheet holds at most
  1,048,575 rows below its header; more rows continue on further sheets.
"""

from __future__ import annotations

import csv
import io
import re
import zipfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from functools import lru_cache
from itertools import chain
from typing import Literal
from urllib.parse import quote
from xml.sax.saxutils import escape
from zoneinfo import ZoneInfo

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
#: A sheet's XML is closed after this many bytes (a zip entry written to a stream without
#: ZIP64 holds less than 2 GiB), and the rows go on on the next sheet.
SHEET_BYTES = 1 << 30
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

_MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
_RELATIONSHIPS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
_PACKAGE = "http://schemas.openxmlformats.org/package/2006"
_HEADER = '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
#: Cell styles of styles.xml: 1 the bold header, 2 a date and time, 3 a percentage.
_BOLD, _DATETIME, _PERCENT = 1, 2, 3
_STYLES = (
    f'{_HEADER}<styleSheet xmlns="{_MAIN}">'
    '<numFmts count="1"><numFmt numFmtId="164" formatCode="yyyy-mm-dd hh:mm:ss"/></numFmts>'
    '<fonts count="2"><font><sz val="11"/><name val="等线"/><family val="2"/></font>'
    '<font><b/><sz val="11"/><name val="等线"/><family val="2"/></font></fonts>'
    '<fills count="2"><fill><patternFill patternType="none"/></fill>'
    '<fill><patternFill patternType="gray125"/></fill></fills>'
    '<borders count="1"><border><left/><right/><top/><bottom/><diagonal/></border></borders>'
    '<cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0"/></cellStyleXfs>'
    '<cellXfs count="4"><xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0"/>'
    '<xf numFmtId="0" fontId="1" fillId="0" borderId="0" xfId="0" applyFont="1"/>'
    '<xf numFmtId="164" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/>'
    '<xf numFmtId="10" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/></cellXfs>'
    '<cellStyles count="1"><cellStyle name="Normal" xfId="0" builtinId="0"/></cellStyles>'
    "</styleSheet>"
)
#: Characters XML 1.0 does not allow (a spreadsheet refuses the whole file over one).
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
_EXCEL_EPOCH = datetime(1899, 12, 30)
#: Marks the end of the rows when looking one row ahead.
_END: Sequence[Value] = ()
#: Characters a sheet name may not have.
_NOT_IN_SHEET_NAME = re.compile(r"[\[\]:*?/\\]")


class _Sink:
    """A write-only file whose contents are taken as they come: zipfile, unable to seek in
    it, writes each entry's sizes after its data, as when writing to a pipe."""

    def __init__(self) -> None:
        self._parts: list[bytes] = []

    def write(self, data: bytes) -> int:
        self._parts.append(bytes(data))
        return len(data)

    def flush(self) -> None:
        pass

    def take(self) -> bytes:
        data = b"".join(self._parts)
        self._parts.clear()
        return data


def _letters(index: int) -> str:
    """The column letters of the 0-based column ``index`` (0 → A, 26 → AA)."""
    letters = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        letters = chr(65 + rest) + letters
    return letters


@lru_cache(maxsize=8192)
def _inline(value: str) -> str:
    """A text cell's type and contents; cached, since labels and names repeat on most rows."""
    value = _NOT_XML.sub("", value)[:CELL_CHARS]
    space = ' xml:space="preserve"' if value != value.strip() else ""
    return f' t="inlineStr"><is><t{space}>{escape(value)}</t></is></c>'


def _text_cell(ref: str, value: str, style: int = 0) -> str:
    return f'<c r="{ref}" s="{style}"{_inline(value)}' if style else f'<c r="{ref}"{_inline(value)}'


def _xlsx_cell(kind: Kind, zone: ZoneInfo) -> Callable[[str, Value], str]:
    def cell(ref: str, value: Value) -> str:
        if value is None:
            return _text_cell(ref, NO_RATE) if kind == "percent" else ""
        if isinstance(value, str):
            return _text_cell(ref, value)
        if isinstance(value, datetime):
            days = (value.astimezone(zone).replace(tzinfo=None) - _EXCEL_EPOCH).total_seconds() / 86_400
            return f'<c r="{ref}" s="{_DATETIME}"><v>{days!r}</v></c>'
        if kind == "percent":
            return f'<c r="{ref}" s="{_PERCENT}"><v>{float(value)!r}</v></c>'
        return f'<c r="{ref}"><v>{value!r}</v></c>'

    return cell


def sheet_name(name: str) -> str:
    """``name`` as Excel accepts a sheet's name: at most 31 characters, none of []:*?/\\."""
    return _NOT_IN_SHEET_NAME.sub("-", name)[:31] or "Sheet1"


def xlsx_chunks(
    columns: Sequence[Column], rows: Iterable[Sequence[Value]], zone: ZoneInfo, sheet: str = "Sheet1"
) -> Iterator[bytes]:
    """An xlsx workbook: the sheets' XML first, written as the rows come, then the parts
    that name them (workbook, relationships, content types, styles)."""
    sink = _Sink()
    letters = [_letters(index) for index in range(len(columns))]
    cells = [_xlsx_cell(column.kind, zone) for column in columns]
    header = "".join(
        _text_cell(f"{letter}1", column.header, _BOLD)
        for letter, column in zip(letters, columns, strict=True)
    )
    widths = "".join(
        f'<col min="{n}" max="{n}" width="{column.width}" customWidth="1"/>'
        for n, column in enumerate(columns, start=1)
    )
    opening = (
        f'{_HEADER}<worksheet xmlns="{_MAIN}" xmlns:r="{_RELATIONSHIPS}">'
        '<sheetViews><sheetView workbookViewId="0">'
        '<pane ySplit="1" topLeftCell="A2" activePane="bottomLeft" state="frozen"/>'
        f"</sheetView></sheetViews><cols>{widths}</cols><sheetData>"
        f'<row r="1">{header}</row>'
    ).encode()
    closing = b"</sheetData></worksheet>"
    names: list[str] = []
    with zipfile.ZipFile(sink, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=5) as package:
        iterator: Iterator[Sequence[Value]] = iter(rows)
        more = True
        while more:
            names.append(sheet_name(sheet if not names else f"{sheet}({len(names) + 1})"))
            with package.open(f"xl/worksheets/sheet{len(names)}.xml", "w") as part:
                part.write(opening)
                written, number, batch = len(opening), 1, []
                more = False
                for row in iterator:
                    number += 1
                    batch.append(
                        f'<row r="{number}">'
                        + "".join(
                            cell(f"{letter}{number}", value)
                            for cell, letter, value in zip(cells, letters, row, strict=True)
                        )
                        + "</row>"
                    )
                    if len(batch) == CSV_CHUNK_ROWS or number > SHEET_ROWS:
                        data = "".join(batch).encode()
                        part.write(data)
                        written += len(data)
                        batch = []
                        if chunk := sink.take():
                            yield chunk
                    if number > SHEET_ROWS or written > SHEET_BYTES:
                        following = next(iterator, _END)
                        if following is not _END:
                            iterator, more = chain([following], iterator), True
                        break
                part.write("".join(batch).encode() + closing)
            yield sink.take()
        _package_parts(package, names)
    yield sink.take()


def _package_parts(package: zipfile.ZipFile, names: list[str]) -> None:
    """The workbook naming the sheets, the relationships, the content types and the styles."""
    sheets = "".join(
        f'<sheet name="{escape(name, {chr(34): "&quot;"})}" sheetId="{n}" r:id="rId{n}"/>'
        for n, name in enumerate(names, start=1)
    )
    package.writestr(
        "xl/workbook.xml",
        f'{_HEADER}<workbook xmlns="{_MAIN}" xmlns:r="{_RELATIONSHIPS}"><sheets>{sheets}</sheets></workbook>',
    )
    sheet_type = f"{_RELATIONSHIPS}/worksheet"
    relations = "".join(
        f'<Relationship Id="rId{n}" Type="{sheet_type}" Target="worksheets/sheet{n}.xml"/>'
        for n in range(1, len(names) + 1)
    )
    relations += (
        f'<Relationship Id="rId{len(names) + 1}" Type="{_RELATIONSHIPS}/styles" Target="styles.xml"/>'
    )
    package.writestr(
        "xl/_rels/workbook.xml.rels",
        f'{_HEADER}<Relationships xmlns="{_PACKAGE}/relationships">{relations}</Relationships>',
    )
    package.writestr("xl/styles.xml", _STYLES)
    package.writestr(
        "_rels/.rels",
        f'{_HEADER}<Relationships xmlns="{_PACKAGE}/relationships">'
        f'<Relationship Id="rId1" Type="{_RELATIONSHIPS}/officeDocument" Target="xl/workbook.xml"/>'
        "</Relationships>",
    )
    spreadsheet = "application/vnd.openxmlformats-officedocument.spreadsheetml"
    overrides = "".join(
        f'<Override PartName="/xl/worksheets/sheet{n}.xml" ContentType="{spreadsheet}.worksheet+xml"/>'
        for n in range(1, len(names) + 1)
    )
    package.writestr(
        "[Content_Types].xml",
        f'{_HEADER}<Types xmlns="{_PACKAGE}/content-types">'
        '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
        '<Default Extension="xml" ContentType="application/xml"/>'
        f'<Override PartName="/xl/workbook.xml" ContentType="{spreadsheet}.sheet.main+xml"/>'
        f'<Override PartName="/xl/styles.xml" ContentType="{spreadsheet}.styles+xml"/>'
        f"{overrides}</Types>",
    )


# --- the file's name ---------------------------------------------------------------------


def content_disposition(name: str, fallback: str) -> str:
    """The Content-Disposition of a download named ``name`` (Chinese allowed): an ASCII
    ``filename`` for old clients, and ``filename*`` in UTF-8 (RFC 5987 / RFC 6266)."""
    plain = re.sub(r"[^A-Za-z0-9._-]", "_", fallback) or "export"
    return f"attachment; filename=\"{plain}\"; filename*=UTF-8''{quote(name, safe='')}"
