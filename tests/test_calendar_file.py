"""The calendar file a centre's staff write: read, refused with the line at fault, written."""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path

import pytest

from civicgrid.calendar_file import CalendarFileError, format_calendar, load_calendar, parse_calendar
from civicgrid.domain.calendar import ArrangedDay, disagreements, official_arrangement

HEADER = "date,type,name\n"


def test_a_year_is_read_in_date_order() -> None:
    text = "\ufeffname,date,TYPE\n测试调休,2027/1/9,Workday\n\n测试假日,2027-01-04,holiday\n"
    arrangement = parse_calendar(text)
    assert arrangement.year == 2027
    assert arrangement.days == (
        ArrangedDay(date(2027, 1, 4), False, "测试假日"),
        ArrangedDay(date(2027, 1, 9), True, "测试调休"),
    )


@pytest.mark.parametrize(
    ("body", "line", "message"),
    [
        ("2027-01-04,holiday\n", 2, "2 fields where the header has 3"),
        ("2027-02-30,holiday,x\n", 2, "'2027-02-30' is not a date"),
        ("04/01/2027,holiday,x\n", 2, "'04/01/2027' is not a date"),
        ("2027-01-04,off,x\n", 2, "type 'off' is neither holiday"),
        ("2027-01-04,workday,x\n", 2, "2027-01-04 is a Monday, worked anyway"),
        ("2027-01-04,holiday,\n", 2, "name must be 1 to 100 characters"),
        (f"2027-01-04,holiday,{'节' * 101}\n", 2, "name must be 1 to 100 characters"),
        (
            "2027-01-04,holiday,x\n2027-01-05,holiday,y\n2027-01-04,holiday,z\n",
            4,
            "listed twice (first on line 2)",
        ),
        ("2027-01-04,holiday,x\n2026-12-31,holiday,y\n", 3, "2026-12-31 is not in 2027, the year of line 2"),
        ("2127-01-04,holiday,x\n", 2, "outside the years 2000 to 2099"),
        ('2027-01-04,holiday,"x\n', 2, "malformed CSV"),
    ],
)
def test_a_bad_row_is_refused_naming_its_line(body: str, line: int, message: str) -> None:
    with pytest.raises(CalendarFileError, match=re.escape(message)) as refusal:
        parse_calendar(HEADER + body)
    assert refusal.value.line == line and str(refusal.value).startswith(f"line {line}: ")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "line 1: empty file"),
        ('"date,type,name\n', "line 1: malformed CSV"),
        ("day,type,name\n2027-01-04,holiday,x\n", "line 1: the header must name the columns date,type,name"),
        ("date,type,name,note\n", "line 1: the header must name"),
        (HEADER, "no days listed"),
        (HEADER + "\n,,\n", "no days listed"),
    ],
)
def test_a_file_without_a_year_is_refused(text: str, message: str) -> None:
    with pytest.raises(CalendarFileError, match=message):
        parse_calendar(text)


def test_every_year_of_the_package_writes_a_file_that_reads_back_and_agrees() -> None:
    for year in range(2004, 2027):
        days = official_arrangement(year)
        assert days, year
        arrangement = parse_calendar(format_calendar(days))
        assert (arrangement.year, list(arrangement.days)) == (year, days)
        assert disagreements(year, arrangement.days) == []


def test_the_written_2026_file(tmp_path: Path) -> None:
    days = official_arrangement(2026)
    assert days is not None
    text = format_calendar(days)
    lines = text.splitlines()
    assert lines[:5] == [
        "date,type,name",
        "2026-01-01,holiday,元旦",
        "2026-01-02,holiday,元旦",
        "2026-01-03,holiday,元旦",
        "2026-01-04,workday,元旦调休上班",
    ]
    assert "2026-02-15,holiday,春节" in lines and "2026-10-10,workday,国庆节调休上班" in lines
    assert len(lines) == 1 + 39
    path = tmp_path / "2026.csv"
    path.write_text(text, encoding="utf-8-sig")  # with a BOM, as Excel saves it
    assert load_calendar(path).days == tuple(days)


def test_a_file_in_another_encoding_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "gbk.csv"
    path.write_bytes((HEADER + "2027-01-04,holiday,测试假日\n").encode("gbk"))
    with pytest.raises(CalendarFileError, match="not UTF-8 text"):
        load_calendar(path)
