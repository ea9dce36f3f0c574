"""The centre's working calendar: which days are working days (statutory holidays and
adjusted workdays, 调休, included) and which hours of a working day are working time.

Holidays come from the ``chinesecalendar`` package, or from the arrangement a centre loads
itself for a year the package does not know yet. Working-time limits (工作时 / 工作日) are
counted on this calendar; natural-time limits are not.
"""

from __future__ import annotations

import math
import re
from bisect import bisect_left
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import MAXYEAR, UTC, date, datetime, time, timedelta
from functools import cache, cached_property
from types import MappingProxyType
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


@cache
def _official_years() -> tuple[int, ...]:
    """The years the installed ``chinesecalendar`` knows."""
    years = {day.year for day in chinese_calendar.holidays}
    return tuple(year for year in range(min(years), max(years) + 1) if _known_year(year))


@cache
def _official_exceptions() -> dict[date, bool]:
    """The days on which the State Council's schedule breaks the Monday-to-Friday rule
    (holidays on weekdays, adjusted workdays on weekends), with whether each is worked.

    Read from the package once: every other day of a year it knows follows the rule."""
    found = {day: _official_workday(day) for day in {*chinese_calendar.holidays, *chinese_calendar.workdays}}
    return {
        day: working
        for day, working in found.items()
        if working is not None and working != (day.weekday() < 5)
    }


#: The package's holiday names, in the centre's words.
HOLIDAY_NAMES = {
    "New Year's Day": "元旦",
    "Spring Festival": "春节",
    "Tomb-sweeping Day": "清明节",
    "Labour Day": "劳动节",
    "Dragon Boat Festival": "端午节",
    "Mid-autumn Festival": "中秋节",
    "National Day": "国庆节",
    "Anti-Fascist 70th Day": "抗战胜利70周年纪念日",
}
#: How an adjusted working day (a weekend day worked) is named after its holiday.
WORKED_SUFFIX = "调休上班"


@dataclass(frozen=True)
class ArrangedDay:
    """One day of a year's holiday arrangement (节假日安排) as the State Council publishes it:
    a day off (``working`` False) or an adjusted working day on a weekend (调休上班)."""

    day: date
    working: bool
    name: str


def official_arrangement(year: int) -> list[ArrangedDay] | None:
    """The arrangement of ``year`` in the installed ``chinesecalendar`` (every holiday, weekend
    days of a holiday included, and every adjusted working day), by date; None when the
    package does not know the year."""
    if not _known_year(year):
        return None
    days = [
        ArrangedDay(day, False, _chinese(name))
        for day, name in chinese_calendar.holidays.items()
        if day.year == year
    ]
    days += [
        ArrangedDay(day, True, _chinese(name) + WORKED_SUFFIX)
        for day, name in chinese_calendar.workdays.items()
        if day.year == year
    ]
    return sorted(days, key=lambda arranged: arranged.day)


def _chinese(name: object) -> str:
    english = str(getattr(name, "value", name))
    return HOLIDAY_NAMES.get(english, english)


def disagreements(year: int, days: Iterable[ArrangedDay]) -> list[date]:
    """The days of ``year`` that ``days`` (the rest of the year worked Monday to Friday) make a
    working day where the installed ``chinesecalendar`` does not, or the other way round;
    none when the package does not know the year."""
    if not _known_year(year):
        return []
    worked = {arranged.day: arranged.working for arranged in days}
    found, day = [], date(year, 1, 1)
    while day.year == year:
        if worked.get(day, day.weekday() < 5) != _official_workday(day):
            found.append(day)
        day += timedelta(days=1)
    return found


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
    ``chinese_calendar`` package or from the centre's own loaded ``days``, plus the centre's
    daily working periods.

    ``days`` maps each loaded day (a holiday, or an adjusted workday) to whether it is
    worked. A year with any loaded day is taken from them alone, whatever the package says;
    its days not listed are worked Monday to Friday. For a year neither knows, Monday to
    Friday are working days (see :meth:`knows_year`).

    Working-time arithmetic costs about the same for a day or for centuries: whole days are
    counted, not walked.
    """

    timezone: ZoneInfo = SHANGHAI
    periods: tuple[tuple[time, time], ...] = DEFAULT_PERIODS
    days: Mapping[date, bool] = field(default_factory=dict, hash=False)

    def __post_init__(self) -> None:
        _check_periods(self.periods)
        # A private read-only copy: the calendar's caches must not go stale.
        object.__setattr__(self, "days", MappingProxyType(dict(self.days)))

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
        if day.year in self._loaded_years:
            return self.days.get(day, day.weekday() < 5)
        return _official_exceptions().get(day, day.weekday() < 5)

    def knows_year(self, year: int) -> bool:
        """Whether the holidays of ``year`` are known (loaded, or in the package); if not,
        Monday to Friday are taken as working days and holidays are missed."""
        return year in self._loaded_years or _known_year(year)

    def known_years(self) -> list[int]:
        """The years whose holidays are known (loaded, or in the package), in order."""
        return sorted({*_official_years(), *self._loaded_years})

    def known_through(self, day: date) -> date | None:
        """The last day of the unbroken run of known years from ``day``'s year on; None when
        the holidays of ``day``'s year are not known."""
        if not self.knows_year(day.year):
            return None
        year = day.year
        while year < MAXYEAR and self.knows_year(year + 1):
            year += 1
        return date(year, 12, 31)

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
        first, last = start.astimezone(self.timezone).date(), end.astimezone(self.timezone).date()
        total = self._within(first, start_utc, end_utc)
        if last > first:
            total += self._whole_days(first.toordinal() + 1, last.toordinal())
            total += self._within(last, start_utc, end_utc)
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
        first = start.astimezone(self.timezone).date()
        reached, remaining = self._spend(first, start_utc, remaining)
        if reached is None:
            day, remaining = self._day_reaching(first.toordinal() + 1, remaining)
            reached, remaining = self._spend(date.fromordinal(day), start_utc, remaining)
        assert reached is not None  # _day_reaching picked the day on which the time runs out
        return reached

    def _within(self, day: date, start_utc: datetime, end_utc: datetime) -> timedelta:
        """The working time of ``day`` that lies within ``[start_utc, end_utc)``."""
        total = timedelta()
        for period_start, period_end in self._periods_of(day):
            overlap = min(period_end, end_utc) - max(period_start, start_utc)
            if overlap > timedelta():
                total += overlap
        return total

    def _spend(
        self, day: date, start_utc: datetime, remaining: timedelta
    ) -> tuple[datetime | None, timedelta]:
        """Spend ``remaining`` on the working periods of ``day`` from ``start_utc`` on: the
        instant it runs out, or None and what is left after the day."""
        for period_start, period_end in self._periods_of(day):
            begin = max(period_start, start_utc)
            if begin >= period_end:
                continue
            available = period_end - begin
            if remaining <= available:
                return (begin + remaining).astimezone(self.timezone), timedelta()
            remaining -= available
        return None, remaining

    def _day_reaching(self, first: int, remaining: timedelta) -> tuple[int, timedelta]:
        """The day (an ordinal, ``first`` or later) in whose working periods ``remaining`` runs
        out, and what is left of it when that day begins."""
        # Whole years first (a handful of sums each), then halve the days of the last year.
        while True:
            year = date.fromordinal(first).year
            stop = date(year + 1, 1, 1).toordinal() if year < MAXYEAR else date.max.toordinal() + 1
            in_year = self._whole_days(first, stop)
            if remaining <= in_year:
                break
            if year == MAXYEAR:
                raise OverflowError("the working time runs past 9999-12-31, the last day a date can hold")
            remaining -= in_year
            first = stop
        low, high = first, stop - 1
        while low < high:
            middle = (low + high) // 2
            if self._whole_days(first, middle + 1) >= remaining:
                high = middle
            else:
                low = middle + 1
        return low, remaining - self._whole_days(first, low)

    def _whole_days(self, first: int, stop: int) -> timedelta:
        """The working time of the whole days from ``first`` up to ``stop`` (ordinals, ``stop``
        excluded): the usual day's length per working day, corrected on the rare days a
        daylight-saving change falls into working hours. Costs the same for a week or a century."""
        if stop <= first:
            return timedelta()
        total = self._usual_day * self._workdays_between(first, stop)
        for year in range(date.fromordinal(first).year, date.fromordinal(stop - 1).year + 1):
            for ordinal, difference in _uneven_days(self.timezone, self.periods, year):
                if first <= ordinal < stop and self.is_workday(date.fromordinal(ordinal)):
                    total += difference
        return total

    def _workdays_between(self, first: int, stop: int) -> int:
        """How many working days lie from ``first`` up to ``stop`` (ordinals, ``stop`` excluded):
        Monday to Friday, counted by arithmetic, corrected by the days that break that rule."""
        days, running = self._exceptions
        corrections = running[bisect_left(days, stop)] - running[bisect_left(days, first)]
        return _weekdays_before(stop) - _weekdays_before(first) + corrections

    @cached_property
    def _exceptions(self) -> tuple[list[int], list[int]]:
        """The days (ordinals, in order) that break the Monday-to-Friday rule, and the running
        total of their effect on the count of working days (+1 an adjusted workday on a
        weekend, -1 a holiday on a weekday), before each of them and after the last."""
        breaking = {
            day: working
            for day, working in _official_exceptions().items()
            if day.year not in self._loaded_years
        }
        breaking.update(
            (day, working) for day, working in self.days.items() if working != (day.weekday() < 5)
        )
        ordered = sorted(breaking)
        running = [0]
        for day in ordered:
            running.append(running[-1] + (1 if breaking[day] else -1))
        return [day.toordinal() for day in ordered], running

    @cached_property
    def _usual_day(self) -> timedelta:
        return timedelta(seconds=self.workday_seconds)

    @cached_property
    def _loaded_years(self) -> frozenset[int]:
        return frozenset(day.year for day in self.days)

    def _periods_of(self, day: date) -> list[tuple[datetime, datetime]]:
        """The working periods of ``day`` as UTC instants; none on a day off."""
        if not self.is_workday(day):
            return []
        return _utc_periods(self.timezone, self.periods, day)


def _utc_periods(
    timezone: ZoneInfo, periods: tuple[tuple[time, time], ...], day: date
) -> list[tuple[datetime, datetime]]:
    """The working periods ``periods`` of ``day`` in ``timezone``, as UTC instants."""
    return [
        (
            datetime.combine(day, start, tzinfo=timezone).astimezone(UTC),
            datetime.combine(day, end, tzinfo=timezone).astimezone(UTC),
        )
        for start, end in periods
    ]


def _weekdays_before(ordinal: int) -> int:
    """How many days from 0001-01-01 (a Monday, ordinal 1) up to ``ordinal`` (excluded) fall
    on Monday to Friday."""
    weeks, rest = divmod(ordinal - 1, 7)
    return 5 * weeks + min(rest, 5)


#: Probe a zone's UTC offset at every third local midnight: no zone in the tz database has
#: changed its offset twice within three days (the closest: Africa/Freetown, 1939), so two
#: probes alike mean no change in between.
_PROBE_DAYS = 3
#: From 2200 on every zone follows its standing rule (the tz database spells out single
#: changes only up to 2087, Morocco's), and a rule repeats every 400 years: the Gregorian
#: cycle of 146097 days, a whole number of weeks.
_RULES_ONLY_FROM = 2200
_CYCLE_YEARS = 400
_CYCLE_DAYS = 146097


@cache
def _uneven_days(
    timezone: ZoneInfo, periods: tuple[tuple[time, time], ...], year: int
) -> tuple[tuple[int, timedelta], ...]:
    """The days of ``year`` (ordinals) on which a working day would not last its usual length,
    because the zone changes its UTC offset during working hours, with the difference.

    Cached per year; years from 2600 on are read off the same day 400 years earlier, so at
    most a few hundred years are ever probed.
    """
    if year >= _RULES_ONLY_FROM + _CYCLE_YEARS:
        cycles = (year - _RULES_ONLY_FROM) // _CYCLE_YEARS
        earlier = _uneven_days(timezone, periods, year - cycles * _CYCLE_YEARS)
        return tuple((ordinal + cycles * _CYCLE_DAYS, difference) for ordinal, difference in earlier)
    usual = timedelta(seconds=sum(_seconds_of_day(end) - _seconds_of_day(start) for start, end in periods))
    first, stop = date(year, 1, 1).toordinal(), date(year + 1, 1, 1).toordinal()
    probes = [*range(first, stop, _PROBE_DAYS), stop]
    offsets = [datetime.combine(date.fromordinal(o), time(), tzinfo=timezone).utcoffset() for o in probes]
    uneven = []
    for number in range(len(probes) - 1):
        if offsets[number] == offsets[number + 1]:
            continue
        for ordinal in range(probes[number], probes[number + 1]):
            length = sum(
                (end - start for start, end in _utc_periods(timezone, periods, date.fromordinal(ordinal))),
                timedelta(),
            )
            if length != usual:
                uneven.append((ordinal, length - usual))
    return tuple(uneven)
