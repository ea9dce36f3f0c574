"""The periods of the briefings (简报: 日报, 周报, 月报): which period a briefing covers, the
periods it is compared with (环比: the one before; 同比: the same one a year earlier), and
when a scheduled briefing falls due. Pure date arithmetic in the centre's timezone."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

from civicgrid.domain.errors import InvalidInput
from civicgrid.domain.indicators import Period, PeriodKind


class BriefingKind(StrEnum):
    """How long a briefing's period is."""

    DAILY = "daily"
    WEEKLY = "weekly"
    MONTHLY = "monthly"


BRIEFING_KIND_LABELS: dict[BriefingKind, str] = {
    BriefingKind.DAILY: "日报",
    BriefingKind.WEEKLY: "周报",
    BriefingKind.MONTHLY: "月报",
}


class BriefingFormat(StrEnum):
    """The file a briefing is written as."""

    PDF = "pdf"
    XLSX = "xlsx"
    HTML = "html"


#: Each format's media type and file name ending.
FORMAT_TYPES: dict[BriefingFormat, tuple[str, str]] = {
    BriefingFormat.PDF: ("application/pdf", ".pdf"),
    BriefingFormat.XLSX: ("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", ".xlsx"),
    BriefingFormat.HTML: ("text/html; charset=utf-8", ".html"),
}

_PERIOD_KIND = {
    BriefingKind.DAILY: PeriodKind.DAY,
    BriefingKind.WEEKLY: PeriodKind.WEEK,
    BriefingKind.MONTHLY: PeriodKind.MONTH,
}
_WEEKDAYS = "一二三四五六日"
#: How many of a schedule's missed periods are made up for at most (after the worker was down).
CATCH_UP = {BriefingKind.DAILY: 7, BriefingKind.WEEKLY: 4, BriefingKind.MONTHLY: 2}


def period_of(kind: BriefingKind, day: date, zone: ZoneInfo) -> Period:
    """The day, week (Monday first) or month that contains ``day``, labelled as a briefing
    names it: 2026年11月25日(星期三), 2026年第48周(11月23日—11月29日), 2026年11月."""
    period = Period.containing(_PERIOD_KIND[kind], day, zone)
    first = period.start.date()
    if kind is BriefingKind.DAILY:
        label = f"{first.year}年{first.month}月{first.day}日（星期{_WEEKDAYS[first.weekday()]}）"
    elif kind is BriefingKind.WEEKLY:
        last = first + timedelta(days=6)
        year, week, _ = first.isocalendar()
        label = f"{year}年第{week}周（{first.month}月{first.day}日—{last.month}月{last.day}日）"
    else:
        label = period.label
    return Period(period.start, period.end, label)


def previous_period(kind: BriefingKind, period: Period) -> Period:
    """The period just before ``period`` (环比)."""
    zone = _zone(period)
    return period_of(kind, period.start.date() - timedelta(days=1), zone)


def year_earlier(kind: BriefingKind, period: Period) -> Period:
    """The same period a year earlier (同比): the same date, the same ISO week number (week 53
    becomes 52), the same month."""
    zone = _zone(period)
    first = period.start.date()
    if kind is BriefingKind.WEEKLY:
        year, week, _ = first.isocalendar()
        weeks = date(year - 1, 12, 28).isocalendar()[1]
        return period_of(kind, date.fromisocalendar(year - 1, min(week, weeks), 1), zone)
    if first.month == 2 and first.day == 29:
        return period_of(kind, date(first.year - 1, 2, 28), zone)
    return period_of(kind, first.replace(year=first.year - 1), zone)


def same_length(period: Period, like: Period, as_of: datetime) -> Period:
    """``period`` cut to as long as ``like`` has run by ``as_of``: a month still under way is
    compared with the same number of days (and hours) of the month before, not all of it."""
    if as_of >= like.end:
        return period
    elapsed = max(as_of - like.start, timedelta(0))
    return Period(period.start, min(period.start + elapsed, period.end), period.label)


def default_day(now: datetime, zone: ZoneInfo) -> date:
    """The day a briefing covers unless told: yesterday, so the daily briefing is of the last
    full day, the weekly of the last week on a Monday, the monthly of the last month on the 1st."""
    return now.astimezone(zone).date() - timedelta(days=1)


#: The earliest day a briefing covers (the centre's records start later than this).
EARLIEST_DAY = date(1970, 1, 1)


def require_past(day: date, now: datetime, zone: ZoneInfo) -> date:
    """``day`` if it is today or earlier in the centre's timezone (and not before 1970);
    InvalidInput otherwise."""
    today = now.astimezone(zone).date()
    if day > today:
        raise InvalidInput(f"{day.isoformat()} lies in the future (today is {today.isoformat()})")
    if day < EARLIEST_DAY:
        raise InvalidInput(
            f"{day.isoformat()} is before {EARLIEST_DAY.isoformat()}: no briefing goes back so far"
        )
    return day


@dataclass(frozen=True)
class Due:
    """A scheduled briefing's period, and the moment it falls due."""

    period: Period
    due_at: datetime


def due_periods(
    kind: BriefingKind, hour: int, created_at: datetime, now: datetime, zone: ZoneInfo
) -> list[Due]:
    """The periods of a schedule that are due at ``now``, oldest first: each one falls due at
    ``hour`` o'clock on the day after it ends (each morning, each Monday, each 1st), counting
    only periods that ended after the schedule was made, and at most CATCH_UP[kind] of them."""
    if not 0 <= hour <= 23:
        raise InvalidInput(f"a briefing hour is 0–23, not {hour}")
    local = now.astimezone(zone)
    # The latest period whose end (a midnight) plus ``hour`` has passed: the one that holds
    # the day before, unless that one is still under way.
    period = period_of(kind, (local - timedelta(hours=hour)).date() - timedelta(days=1), zone)
    if period.end + timedelta(hours=hour) > now:
        period = previous_period(kind, period)
    found: list[Due] = []
    while period.end > created_at and len(found) < CATCH_UP[kind]:
        found.append(Due(period, period.end + timedelta(hours=hour)))
        period = previous_period(kind, period)
    return found[::-1]


def _zone(period: Period) -> ZoneInfo:
    zone = period.start.tzinfo
    assert isinstance(zone, ZoneInfo)
    return zone
