"""Times and durations as the centre reads them, in Chinese: 2026年11月25日 14:30,
剩余 3工作小时, 已超时 1工作日2工作小时."""

from __future__ import annotations

from datetime import datetime, tzinfo

from civicgrid.domain.calendar import WorkCalendar
from civicgrid.domain.limits import TimeLimit


def moment(value: datetime | None, zone: tzinfo) -> str:
    """``value`` in the centre's timezone, e.g. 2026年11月25日 14:30 ('' for None)."""
    if value is None:
        return ""
    local = value.astimezone(zone)
    return f"{local.year}年{local.month}月{local.day}日 {local:%H:%M}"


def duration(seconds: float, working: bool, workday_seconds: int) -> str:
    """A length of time in Chinese: working time in 工作日 / 工作小时 / 分钟, natural time in
    天 / 小时 / 分钟; the two largest units that are not zero, at least 1分钟."""
    minutes = max(1, round(seconds / 60))
    day = (workday_seconds if working else 86_400) // 60
    hour_unit, day_unit = ("工作小时", "工作日") if working else ("小时", "天")
    days, rest = divmod(minutes, day)
    hours, mins = divmod(rest, 60)
    if days:
        return f"{days}{day_unit}" + (f"{hours}{hour_unit}" if hours else "")
    if hours:
        return f"{hours}{hour_unit}" + (f"{mins}分钟" if mins else "")
    return f"{mins}分钟"


def remaining(
    deadline: datetime | None, limit: TimeLimit | None, calendar: WorkCalendar, now: datetime
) -> str:
    """How long is left before ``deadline`` in the stage limit's kind of time (working or
    natural), or how far past it the case is: 剩余 3工作小时, 已超时 2天4小时; '' when no
    clock runs."""
    if deadline is None or limit is None:
        return ""
    working = limit.working
    if deadline > now:
        return "剩余 " + duration(limit.measure(calendar, now, deadline), working, calendar.workday_seconds)
    return "已超时 " + duration(limit.measure(calendar, deadline, now), working, calendar.workday_seconds)
