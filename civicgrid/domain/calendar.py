"""The centre's working calendar: which days are working days (statutory holidays and
adjusted workdays, 调休, included) and which hours of a working day are working time.

Working-time limits (工作时 / 工作日) are counted on this calendar; natural-time limits are not.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import cache, lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import chinese_calendar

#: The centre's home timezone unless its settings say otherwise.
SHANGHAI = ZoneInfo("Asia/Shanghai")

#: 08:30–12:00 and 13:30–17:30: the usual office hours, 7.5 hours a day.
DEFAULT_PERIODS: tuple[tuple[time, time], ...] = (
    (time(8, 30), time(12, 0)),
    (time(13, 30), time(17, 30)),
)

_PERIODS_EXAMPLE = "08:30-12:00,13:30-17:30"
_PERIOD_PATTERN = re.compile(r"(\d{1,2}):(\d{2})\s*[-~]\s*(\d{1,2}):(\d{2})")


# Bounded: a few decades of days is all a centre ever asks about.
@lru_cache(maxsize=16384)
def _official_workday(day: date) -> bool | None:
    """Whether ``day`` is a working day by the State Council's schedule; None when the
    installed ``chinesecalendar`` has no data for its year."""
    try:
        return bool(chinese_calendar.is_workday(day))
    except NotImplementedError:
        return None


@cache
def _known_year(year: int) -> bool:
    """Whether the installed ``chinesecalendar`` knows the holidays of ``year``."""
    # The package refuses whole years at once, so one day stands for its year.
    return _official_workday(date(year, 1, 1)) is not None


def require_aware(name: str, moment: datetime) -> None:
    """Refuse a naive datetime: the centre's instants always carry their timezone."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"{name} must be a timezone-aware datetime, got naive {moment.isoformat()}")


def _seconds_of_day(moment: time) -> int:
    return moment.hour * 3600 + moment.minute * 60 + moment.second


def _check_periods(periods: tuple[tuple[time, time], ...]) -> None:
    """Refuse periods the centre could not mean: none at all, empty or reversed ones,
    overlapping or out-of-order ones."""
    if not periods:
        raise ValueError("a working day needs at least one working period")
    for number, (start, end) in enumerate(periods, start=1):
        if start.tzinfo is not None or end.tzinfo is not None:
            raise ValueError(f"period {number} must be given in local wall-clock time, without a timezone")
        if start.microsecond or end.microsecond:
            raise ValueError(f"period {number} must start and end on a whole second")
        if end <= start:
            raise ValueError(
                f"period {number} ({start:%H:%M}-{end:%H:%M}) must end after it starts "
                "(periods across midnight are not supported)"
            )
        if number > 1:
            previous_start, previous_end = periods[number - 2]
            if start < previous_start:
                raise ValueError(
                    f"period {number} ({start:%H:%M}-{end:%H:%M}) comes before period {number - 1} "
                    f"({previous_start:%H:%M}-{previous_end:%H:%M}): list periods in order of the day"
                )
            if start < previous_end:
                raise ValueError(
                    f"period {number} ({start:%H:%M}-{end:%H:%M}) overlaps period {number - 1} "
                    f"({previous_start:%H:%M}-{previous_end:%H:%M})"
                )


@dataclass(frozen=True)
class WorkCalendar:
    """China's working calendar: statutory holidays and adjusted workdays (调休) from the
    ``chinese_calendar`` package, plus the centre's daily working periods.

    For a year the package has no data for, Monday to Friday are working days
    (see :meth:`knows_year`).
    """

    timezone: ZoneInfo = SHANGHAI
    periods: tuple[tuple[time, time], ...] = DEFAULT_PERIODS

    def __post_init__(self) -> None:
        _check_periods(self.periods)

    @classmethod
    def from_text(cls, periods: str, timezone: str = "Asia/Shanghai") -> WorkCalendar:
        """The calendar for working periods written as ``"08:30-12:00,13:30-17:30"`` in the
        IANA ``timezone``; ValueError saying what is wrong with badly written text."""
        parsed: list[tuple[time, time]] = []
        for number, piece in enumerate(re.split(r"[,，]", periods), start=1):
            match = _PERIOD_PATTERN.fullmatch(piece.strip())
            if match is None:
                raise ValueError(
                    f"working periods {periods!r}: period {number} ({piece.strip()!r}) is not written "
                    f"as HH:MM-HH:MM; write them like {_PERIODS_EXAMPLE!r}"
                )
            start_hour, start_minute, end_hour, end_minute = (int(group) for group in match.groups())
            try:
                parsed.append((time(start_hour, start_minute), time(end_hour, end_minute)))
            except ValueError:
                raise ValueError(
                    f"working periods {periods!r}: period {number} ({piece.strip()!r}) is not a time "
                    "of day (00:00 to 23:59)"
                ) from None
        try:
            zone = ZoneInfo(timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(
                f"timezone {timezone!r} is not an IANA timezone name such as 'Asia/Shanghai'"
            ) from None
        try:
            return cls(timezone=zone, periods=tuple(parsed))
        except ValueError as error:
            raise ValueError(f"working periods {periods!r}: {error}") from None

    def is_workday(self, day: date) -> bool:
        """Whether ``day`` is a working day: holidays are not, adjusted workdays (调休) are."""
        if isinstance(day, datetime):
            raise TypeError("is_workday takes a date; use the date in the calendar's timezone")
        official = _official_workday(day)
        return day.weekday() < 5 if official is None else official

    def knows_year(self, year: int) -> bool:
        """Whether the holidays of ``year`` are known; if not, Monday to Friday are taken
        as working days and holidays are missed."""
        return _known_year(year)

    @property
    def workday_seconds(self) -> int:
        """The length of one working day in seconds (27000, 7.5 hours, by default)."""
        return sum(_seconds_of_day(end) - _seconds_of_day(start) for start, end in self.periods)

    def working_seconds(self, start: datetime, end: datetime) -> float:
        """The working time in seconds within ``[start, end)``; 0 when ``end`` is not after ``start``."""
        require_aware("start", start)
        require_aware("end", end)
        # Arithmetic in UTC: subtracting two datetimes of one zone ignores DST shifts.
        start_utc, end_utc = start.astimezone(UTC), end.astimezone(UTC)
        if end_utc <= start_utc:
            return 0.0
        total = timedelta()
        day, last_day = start.astimezone(self.timezone).date(), end.astimezone(self.timezone).date()
        while day <= last_day:
            for period_start, period_end in self._periods_of(day):
                overlap = min(period_end, end_utc) - max(period_start, start_utc)
                if overlap > timedelta():
                    total += overlap
            day += timedelta(days=1)
        return total.total_seconds()

    def add_working_seconds(self, start: datetime, seconds: float) -> datetime:
        """The earliest instant at which ``seconds`` of working time have passed since ``start``
        (``start`` itself for 0), in the calendar's timezone."""
        require_aware("start", start)
        if not math.isfinite(seconds) or seconds < 0:
            raise ValueError(f"working seconds to add must be a finite number >= 0, got {seconds!r}")
        remaining = timedelta(seconds=seconds)
        if remaining == timedelta():
            return start.astimezone(self.timezone)
        start_utc = start.astimezone(UTC)
        day = start.astimezone(self.timezone).date()
        while True:
            for period_start, period_end in self._periods_of(day):
                begin = max(period_start, start_utc)
                if begin >= period_end:
                    continue
                available = period_end - begin
                if remaining <= available:
                    return (begin + remaining).astimezone(self.timezone)
                remaining -= available
            day += timedelta(days=1)

    def _periods_of(self, day: date) -> list[tuple[datetime, datetime]]:
        """The working periods of ``day`` as UTC instants; none on a day off."""
        if not self.is_workday(day):
            return []
        return [
            (
                datetime.combine(day, start, tzinfo=self.timezone).astimezone(UTC),
                datetime.combine(day, end, tzinfo=self.timezone).astimezone(UTC),
            )
            for start, end in self.periods
        ]
