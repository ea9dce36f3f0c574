"""The pieces of an order that partners write in many ways: times and category names."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy.orm import Session

from civicgrid.domain.errors import InvalidInput
from civicgrid.exchange.orders import category_code, parse_time
from tests.exchange.helpers import add_partner
from tests.factories import World

SHANGHAI = ZoneInfo("Asia/Shanghai")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-11-26T17:30:00+08:00", datetime(2026, 11, 26, 17, 30, tzinfo=SHANGHAI)),
        ("2026-11-26T09:30:00Z", datetime(2026, 11, 26, 17, 30, tzinfo=SHANGHAI)),
        ("2026-11-26 17:30", datetime(2026, 11, 26, 17, 30, tzinfo=SHANGHAI)),
        ("2026/11/26 17:30", datetime(2026, 11, 26, 17, 30, tzinfo=SHANGHAI)),
        ("2026/11/26 17:30:05", datetime(2026, 11, 26, 17, 30, 5, tzinfo=SHANGHAI)),
        ("2026/11/26", datetime(2026, 11, 26, 23, 59, 59, tzinfo=SHANGHAI)),
        ("2026-11-26", datetime(2026, 11, 26, 23, 59, 59, tzinfo=SHANGHAI)),
    ],
)
def test_times_in_the_forms_partners_use(text: str, expected: datetime) -> None:
    assert parse_time(text, "deadline", SHANGHAI) == expected


@pytest.mark.parametrize("text", ["26.11.2026", "2026-02-30", "下周一", "2026/11/26 25:00"])
def test_a_malformed_time_names_the_field(text: str) -> None:
    with pytest.raises(InvalidInput, match=r"deadline: .* is not a time"):
        parse_time(text, "deadline", SHANGHAI)


def test_a_category_by_map_code_or_name_and_cached(session: Session, world: World, now: datetime) -> None:
    partner = add_partner(session, now)
    cache: dict[str, str] = {}
    assert category_code(session, partner, "井盖缺失", cache) == "C0101"  # the map
    assert category_code(session, partner, "C0102", cache) == "C0102"  # a small class's code
    assert category_code(session, partner, "污水井盖", cache) == "C0102"  # a small class's name
    assert cache == {"C0102": "C0102", "污水井盖": "C0102"}
    partner.category_map = {}
    assert category_code(session, partner, "污水井盖", cache) == "C0102"  # from the cache
    with pytest.raises(InvalidInput, match="neither in its category map"):
        category_code(session, partner, "C01", cache)  # a big class is not enough
