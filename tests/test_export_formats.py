"""The export file formats on their own: CSV with BOM and defused formulas, xlsx that a
spreadsheet reads back (inline strings, dates, percentages, more sheets past Excel's row
limit, characters XML cannot hold dropped), and the download's name."""

from __future__ import annotations

import io
import zipfile
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import openpyxl
import pytest

from civicgrid.exports import formats
from civicgrid.exports.formats import Column, ExportFormat

SHANGHAI = ZoneInfo("Asia/Shanghai")
COLUMNS = [
    Column("编号"),
    Column("数量", "number"),
    Column("结案率", "percent"),
    Column("上报时间", "datetime"),
]
ROWS = [
    ('=HYPERLINK("x") <b>&', 3, 0.5, datetime(2026, 10, 1, 2, 0, tzinfo=UTC)),
    (" 空格 \x07", None, None, None),
]


def test_csv_starts_with_a_bom_and_defuses_formulas() -> None:
    data = b"".join(formats.write(ExportFormat.CSV, COLUMNS, ROWS, SHANGHAI))
    assert data.startswith("\ufeff编号,数量,结案率,上报时间\r\n".encode())
    lines = data.decode("utf-8-sig").splitlines()
    assert lines[1] == '"\'=HYPERLINK(""x"") <b>&",3,50.00%,2026-10-01 10:00:00'
    assert lines[2].endswith(",,—,")


def test_xlsx_reads_back_with_its_types() -> None:
    data = b"".join(formats.write(ExportFormat.XLSX, COLUMNS, ROWS, SHANGHAI, "案件:10月"))
    book = openpyxl.load_workbook(io.BytesIO(data))
    assert book.sheetnames == ["案件-10月"]
    sheet = book.active
    assert sheet is not None
    assert [cell.value for cell in sheet[1]] == ["编号", "数量", "结案率", "上报时间"]
    assert sheet["A1"].font.b
    assert [cell.value for cell in sheet[2]] == ['=HYPERLINK("x") <b>&', 3, 0.5, datetime(2026, 10, 1, 10, 0)]
    assert sheet["A2"].data_type == "s", "text stays text, never a formula"
    assert (sheet["C2"].number_format, sheet["D2"].number_format) == ("0.00%", "yyyy-mm-dd hh:mm:ss")
    assert [cell.value for cell in sheet[3]] == [" 空格 ", None, "—", None]
    names = zipfile.ZipFile(io.BytesIO(data)).namelist()
    assert "xl/sharedStrings.xml" not in names, "strings are inline: no table of them grows in memory"


def test_xlsx_goes_on_to_another_sheet_past_the_row_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(formats, "SHEET_ROWS", 3)
    rows = [(f"JD-{n}", n, None, None) for n in range(7)]
    book = openpyxl.load_workbook(io.BytesIO(b"".join(formats.xlsx_chunks(COLUMNS, rows, SHANGHAI, "案件"))))
    assert book.sheetnames == ["案件", "案件(2)", "案件(3)"]
    values = [[row[0] for row in sheet.iter_rows(min_row=2, values_only=True)] for sheet in book.worksheets]
    assert values == [["JD-0", "JD-1", "JD-2"], ["JD-3", "JD-4", "JD-5"], ["JD-6"]]
    exact = [(f"JD-{n}", n, None, None) for n in range(6)]
    book = openpyxl.load_workbook(io.BytesIO(b"".join(formats.xlsx_chunks(COLUMNS, exact, SHANGHAI, "案件"))))
    assert book.sheetnames == ["案件", "案件(2)"], "no empty sheet when the rows end on a sheet's last row"


def test_the_download_is_named_in_chinese_with_an_ascii_fallback() -> None:
    header = formats.content_disposition("考核结果-部门-2026年10月.xlsx", "evaluation 2026/10.xlsx")
    assert header == (
        'attachment; filename="evaluation_2026_10.xlsx"; '
        "filename*=UTF-8''%E8%80%83%E6%A0%B8%E7%BB%93%E6%9E%9C-%E9%83%A8%E9%97%A8-2026%E5%B9%B410%E6%9C%88.xlsx"
    )
