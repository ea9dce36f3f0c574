"""The pure rules of publication: which periods are named how and when they are over, the
scheme's fingerprint, and the differences between two published rankings."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from civicgrid.domain.errors import InvalidInput
from civicgrid.domain.evaluation import Scheme
from civicgrid.domain.indicators import PeriodKind
from civicgrid.domain.publication import compare, period_of_key, require_finished, scheme_digest
from civicgrid.evaluation_file import default_scheme_path, load_scheme

SHANGHAI = ZoneInfo("Asia/Shanghai")


@pytest.mark.parametrize(
    ("key", "kind", "start", "end", "label"),
    [
        ("2026-10", PeriodKind.MONTH, datetime(2026, 10, 1), datetime(2026, 11, 1), "2026年10月"),
        ("2026-q4", PeriodKind.QUARTER, datetime(2026, 10, 1), datetime(2027, 1, 1), "2026年第4季度"),
        ("2026", PeriodKind.YEAR, datetime(2026, 1, 1), datetime(2027, 1, 1), "2026年"),
    ],
)
def test_period_keys(key: str, kind: PeriodKind, start: datetime, end: datetime, label: str) -> None:
    found = period_of_key(key, SHANGHAI)
    assert (found.key, found.kind, found.period.label) == (key.upper(), kind, label)
    assert (found.period.start, found.period.end) == (
        start.replace(tzinfo=SHANGHAI),
        end.replace(tzinfo=SHANGHAI),
    )


@pytest.mark.parametrize(
    ("key", "reason"),
    [("2026-13", "no month 13"), ("2026-00", "no month 0"), ("2026-Q5", "is not"), ("26-10", "is not"),
     ("1999", "before 2000"), ("2026-10-01", "is not")],
)  # fmt: skip
def test_bad_period_keys(key: str, reason: str) -> None:
    with pytest.raises(InvalidInput, match=reason):
        period_of_key(key, SHANGHAI)


def test_a_period_is_published_only_once_it_is_over() -> None:
    october = period_of_key("2026-10", SHANGHAI)
    with pytest.raises(InvalidInput, match="is not over: it ends 2026-11-01 00:00"):
        require_finished(october, datetime(2026, 10, 31, 23, 59, tzinfo=SHANGHAI))
    require_finished(october, datetime(2026, 11, 1, 0, 0, tzinfo=SHANGHAI))


def test_the_scheme_digest_follows_its_content_not_its_declared_version() -> None:
    scheme = load_scheme(default_scheme_path())
    assert scheme_digest(scheme) == scheme_digest(load_scheme(default_scheme_path()))
    assert scheme_digest(replace(scheme, version="2099.9")) != scheme_digest(scheme)
    department = scheme.targets["department"]
    item = replace(department.items[0], weight=Decimal(11))
    changed = Scheme(
        scheme.name,
        scheme.version,
        {**scheme.targets, "department": replace(department, items=(item, *department.items[1:]))},
        scheme.grades,
    )
    assert scheme_digest(changed) != scheme_digest(scheme)


def row(key: str, rank: int, value: float, grade: str, figure: str, **extra: Any) -> dict[str, Any]:
    return {
        "rank": rank,
        "group": {"key": key, "label": f"部门{key}"},
        "value": value,
        "grade": grade,
        "items": [
            {"indicator": "closure_rate", "label": "结案率", "figure": figure, "score": 90.0, "points": 27.0},
            {"indicator": "registered", "label": "立案数", "figure": "7", "score": 100.0, "points": 10.0},
        ],
        "adjustments": extra.get("adjustments", []),
    }


def test_the_differences_name_each_changed_object_and_indicator() -> None:
    before = [
        row("A", 1, 90.0, "A", "90.00%"),
        row("B", 2, 80.0, "B", "80.00%"),
        row("C", 3, 70.0, "C", "70%"),
    ]
    after = [
        row("B", 1, 91.5, "A", "95.00%"),
        row(
            "A",
            2,
            90.0,
            "A",
            "90.00%",
            adjustments=[{"indicator": "rework", "label": "返工数", "points": -1.0}],
        ),
        row("D", 3, 60.0, "C", "60.00%"),
    ]
    changes = compare(before, after, "x", "x")
    assert not changes.scheme_changed and changes.unchanged == 0
    assert [(unit.key, unit.change) for unit in changes.units] == [
        ("B", "changed"), ("A", "changed"), ("D", "added"), ("C", "removed")
    ]  # fmt: skip
    b, a, d, c = changes.units
    assert (b.rank_before, b.rank_after, b.value_delta, b.grade_before, b.grade_after) == (
        2,
        1,
        11.5,
        "B",
        "A",
    )
    assert [(item.indicator, item.figure_before, item.figure_after) for item in b.items] == [
        ("closure_rate", "80.00%", "95.00%")
    ]
    assert [(item.label, item.points_before, item.points_after) for item in a.items] == [
        ("返工数(加减分)", None, -1.0)
    ]
    assert d.value_delta is None and d.items == [] and c.rank_after is None
    same = compare(before, before, "x", "y")
    assert same.units == [] and same.unchanged == 3 and same.scheme_changed
