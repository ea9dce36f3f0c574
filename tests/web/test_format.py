"""Times and durations in Chinese, and the queue cursor."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from civicgrid.domain.calendar import WorkCalendar
from civicgrid.domain.limits import parse_limit
from civicgrid.store.cases import UrgencyCursor, decode_urgency_cursor, encode_urgency_cursor
from civicgrid.web.format import duration, moment, remaining

SHANGHAI = ZoneInfo("Asia/Shanghai")
CALENDAR = WorkCalendar.from_text("08:30-12:00,13:30-17:30", "Asia/Shanghai")


def test_a_moment_reads_as_a_chinese_date() -> None:
    assert moment(datetime(2026, 11, 25, 6, 30, tzinfo=UTC), SHANGHAI) == "2026年11月25日 14:30"
    assert moment(None, SHANGHAI) == ""


@pytest.mark.parametrize(
    ("seconds", "working", "text"),
    [
        (10, False, "1分钟"),
        (45 * 60, False, "45分钟"),
        (3 * 3600, True, "3工作小时"),
        (3 * 3600 + 20 * 60, False, "3小时20分钟"),
        (27000 + 2 * 3600, True, "1工作日2工作小时"),
        (2 * 86400 + 4 * 3600, False, "2天4小时"),
        (2 * 27000, True, "2工作日"),
    ],
)
def test_durations(seconds: float, working: bool, text: str) -> None:
    assert duration(seconds, working, 27000) == text


def test_remaining_and_overdue_in_the_limits_kind_of_time() -> None:
    monday = datetime(2026, 11, 23, 9, 0, tzinfo=SHANGHAI)
    deadline = datetime(2026, 11, 23, 14, 30, tzinfo=SHANGHAI)  # 4 working hours on (lunch is off)
    assert remaining(deadline, parse_limit("4wh"), CALENDAR, monday) == "剩余 4工作小时"
    assert remaining(deadline, parse_limit("6h"), CALENDAR, monday) == "剩余 5小时30分钟"
    later = deadline + timedelta(days=1)
    assert remaining(deadline, parse_limit("4wh"), CALENDAR, later) == "已超时 1工作日"
    assert remaining(None, parse_limit("4wh"), CALENDAR, monday) == ""
    assert remaining(deadline, None, CALENDAR, monday) == ""


def test_an_urgency_cursor_goes_round_and_refuses_anything_else() -> None:
    cursor = UrgencyCursor(1, datetime(2026, 11, 25, 6, 30, tzinfo=UTC), 42)
    assert decode_urgency_cursor(encode_urgency_cursor(cursor)) == cursor
    for bad in (
        "",
        "xyz",
        "MXwyfDM",
        encode_urgency_cursor(cursor._replace(rank=7)),
        encode_urgency_cursor(cursor._replace(id=0)),
    ):
        with pytest.raises(ValueError, match="not a cursor"):
            decode_urgency_cursor(bad)
