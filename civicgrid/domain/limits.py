"""Stage time limits as a centre writes them: ``30min`` and ``2h`` in natural time,
``4wh`` (working hours) and ``3wd`` (working days) on the working calendar."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from functools import lru_cache

from civicgrid.domain.calendar import WorkCalendar, require_aware


class LimitUnit(StrEnum):
    """The unit of a time limit, as written after the number."""

    MINUTE = "min"
    HOUR = "h"
    WORKING_HOUR = "wh"
    WORKING_DAY = "wd"


UNIT_LABELS: dict[LimitUnit, str] = {
    LimitUnit.MINUTE: "分钟",
    LimitUnit.HOUR: "小时",
    LimitUnit.WORKING_HOUR: "工作小时",
    LimitUnit.WORKING_DAY: "工作日",
}

#: Seconds per unit; a working day's length comes from the calendar instead.
_UNIT_SECONDS: dict[LimitUnit, int] = {
    LimitUnit.MINUTE: 60,
    LimitUnit.HOUR: 3600,
    LimitUnit.WORKING_HOUR: 3600,
}

_ALLOWED_FORMS = (
    "a positive number followed by min or h (natural time), wh (working hours) or wd (working days), "
    "e.g. '30min', '2h', '1.5h', '4wh', '3wd', '0.5wd'"
)
_LIMIT_PATTERN = re.compile(r"(\d+(?:\.\d+)?)\s*(min|wh|wd|h)", re.IGNORECASE)


@dataclass(frozen=True)
class TimeLimit:
    """A limit as a centre writes it: '30min', '2h' (natural time), '4wh' (working hours),
    '3wd' (working days). Build one with :func:`parse_limit`."""

    amount: Decimal
    unit: LimitUnit

    def __post_init__(self) -> None:
        if not self.amount.is_finite() or self.amount <= 0:
            raise ValueError(f"a time limit must be a positive amount, got {self.amount}")

    @property
    def working(self) -> bool:
        """Whether the limit runs in working time only (wh, wd) rather than natural time."""
        return self.unit in (LimitUnit.WORKING_HOUR, LimitUnit.WORKING_DAY)

    @property
    def text(self) -> str:
        """The limit written in its normal form, e.g. '1.5h', '3wd'."""
        # normalize() alone would write 30 as '3E+1'.
        return f"{format(self.amount.normalize(), 'f')}{self.unit.value}"

    @property
    def label(self) -> str:
        """The limit in Chinese, e.g. '3工作日', '1.5小时'."""
        return f"{format(self.amount.normalize(), 'f')}{UNIT_LABELS[self.unit]}"

    def __str__(self) -> str:
        return self.text

    def total_seconds(self, calendar: WorkCalendar) -> float:
        """The limit's length in seconds of its own kind of time; a working day counts as
        ``calendar.workday_seconds``."""
        if self.unit is LimitUnit.WORKING_DAY:
            return float(self.amount * calendar.workday_seconds)
        return float(self.amount * _UNIT_SECONDS[self.unit])

    def measure(self, calendar: WorkCalendar, start: datetime, end: datetime) -> float:
        """The time in seconds from ``start`` to ``end`` in this limit's kind of time (working
        or natural); 0 when ``end`` is not after ``start``."""
        if self.working:
            return calendar.working_seconds(start, end)
        require_aware("start", start)
        require_aware("end", end)
        # In UTC: subtracting two datetimes of one zone ignores DST shifts.
        return max((end.astimezone(UTC) - start.astimezone(UTC)).total_seconds(), 0.0)

    def advance(self, calendar: WorkCalendar, start: datetime, seconds: float) -> datetime:
        """The instant at which ``seconds`` of this limit's kind of time have passed since
        ``start``, in the calendar's timezone."""
        if self.working:
            return calendar.add_working_seconds(start, seconds)
        require_aware("start", start)
        if not math.isfinite(seconds) or seconds < 0:
            raise ValueError(f"seconds to advance must be a finite number >= 0, got {seconds!r}")
        return (start.astimezone(UTC) + timedelta(seconds=seconds)).astimezone(calendar.timezone)


@lru_cache(maxsize=1024)  # the category tree's few dozen texts, parsed at every write
def parse_limit(text: str) -> TimeLimit:
    """The time limit written in ``text`` ('30min', '2h', '1.5h', '4wh', '3wd', '0.5wd');
    ValueError quoting the text and the allowed forms otherwise."""
    match = _LIMIT_PATTERN.fullmatch(text.strip())
    if match is None:
        raise ValueError(f"time limit {text!r} is not understood: write {_ALLOWED_FORMS}")
    amount = Decimal(match.group(1))
    if amount <= 0:
        raise ValueError(f"time limit {text!r} must be longer than zero: write {_ALLOWED_FORMS}")
    return TimeLimit(amount=amount, unit=LimitUnit(match.group(2).lower()))
