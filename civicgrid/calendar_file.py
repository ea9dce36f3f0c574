"""A year's holiday arrangement (节假日安排) as a centre's staff write it: a CSV file with
one row per day off and per adjusted working day (调休上班), read into plain objects. No
database here: the calendar service stores what this reads.

    date,type,name
    2026-01-01,holiday,元旦
    2026-01-04,workday,元旦调休上班

``type`` is ``holiday`` (a day off) or ``workday`` (a weekend day worked); every other day
of the year is worked Monday to Friday. Holiday rows may include the weekend days of a
holiday, as the State Council's notice lists them. The year is the one every date is in:
a file holds one year. ``civicgrid export-calendar 2026`` writes an example.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from civicgrid.csvfile import CsvFileError, records
from civicgrid.domain.calendar import ArrangedDay

#: The file's columns, in the order an exported file writes them.
COLUMNS: tuple[str, ...] = ("date", "type", "name")
#: The words of the ``type`` column, and whether each is worked.
TYPES = {"holiday": False, "workday": True}
#: The years a file may hold: a later one is a typing slip, not a published arrangement.
FIRST_YEAR, LAST_YEAR = 2000, 2099
NAME_LENGTH = 100
#: 2027-01-01, or 2027/1/1 as spreadsheet programs write dates back.
_DATE = re.compile(r"(\d{4})[-/](\d{1,2})[-/](\d{1,2})")
_WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


class CalendarFileError(CsvFileError):
    """A calendar file that cannot be used; the message names the line at fault."""


@dataclass(frozen=True)
class YearArrangement:
    """The days off and adjusted working days of one year, by date."""

    year: int
    days: tuple[ArrangedDay, ...]


def parse_calendar(text: str) -> YearArrangement:
    """Parse the text of a calendar file; raise CalendarFileError at the first fault."""
    days: dict[date, tuple[ArrangedDay, int]] = {}
    year: tuple[int, int] | None = None  # the year, and the line that set it
    for line, row in records(text, _checked_header, CalendarFileError):
        arranged = _parse_row(row, line)
        if year is None:
            year = (arranged.day.year, line)
        elif arranged.day.year != year[0]:
            raise CalendarFileError(
                f"{arranged.day} is not in {year[0]}, the year of line {year[1]}: a file holds one year",
                line=line,
            )
        if arranged.day in days:
            raise CalendarFileError(
                f"{arranged.day} is listed twice (first on line {days[arranged.day][1]})", line=line
            )
        days[arranged.day] = (arranged, line)
    if year is None:
        raise CalendarFileError(
            "no days listed: a year's arrangement lists its holidays and adjusted workdays"
        )
    return YearArrangement(year=year[0], days=tuple(days[day][0] for day in sorted(days)))


def load_calendar(path: Path) -> YearArrangement:
    """Read a UTF-8 calendar file (a leading BOM, as Excel writes, is accepted) and parse it."""
    try:
        text = Path(path).read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        # Excel's plain "CSV" on a Chinese Windows is GBK.
        raise CalendarFileError('the file is not UTF-8 text: save it as "CSV UTF-8"') from None
    return parse_calendar(text)


def format_calendar(days: list[ArrangedDay] | tuple[ArrangedDay, ...]) -> str:
    """The calendar file of ``days``, by date."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(COLUMNS)
    for arranged in sorted(days, key=lambda d: d.day):
        writer.writerow(
            (arranged.day.isoformat(), "workday" if arranged.working else "holiday", arranged.name)
        )
    return out.getvalue()


def _checked_header(names: list[str]) -> list[str]:
    header = [name.strip().lower() for name in names]
    if sorted(header) != sorted(COLUMNS):
        raise CalendarFileError(
            f"the header must name the columns {','.join(COLUMNS)}, got {','.join(header)}", line=1
        )
    return header


def _parse_row(row: dict[str, str], line: int) -> ArrangedDay:
    match = _DATE.fullmatch(row["date"])
    try:
        day = date(*(int(part) for part in match.groups())) if match else None
    except ValueError:
        day = None
    if day is None:
        raise CalendarFileError(f"date {row['date']!r} is not a date written as 2027-01-01", line=line)
    if not FIRST_YEAR <= day.year <= LAST_YEAR:
        raise CalendarFileError(f"{day} is outside the years {FIRST_YEAR} to {LAST_YEAR}", line=line)
    kind = row["type"].lower()
    if kind not in TYPES:
        raise CalendarFileError(
            f"type {row['type']!r} is neither holiday (a day off) nor workday (a weekend day worked)",
            line=line,
        )
    if TYPES[kind] and day.weekday() < 5:
        raise CalendarFileError(
            f"{day} is a {_WEEKDAYS[day.weekday()]}, worked anyway: only a weekend day can be an "
            "adjusted workday (调休上班)",
            line=line,
        )
    name = row["name"]
    if not name or len(name) > NAME_LENGTH:
        raise CalendarFileError(
            f"name must be 1 to {NAME_LENGTH} characters (e.g. 春节, 春节调休上班)", line=line
        )
    return ArrangedDay(day=day, working=TYPES[kind], name=name)
