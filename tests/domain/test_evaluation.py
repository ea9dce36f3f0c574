"""Evaluation schemes: the shipped default, the scores worked out by hand, and every
mistake a centre can make in its file refused with the place and the reason."""

from __future__ import annotations

import copy
import tomllib
from datetime import date, datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from civicgrid.domain.errors import InvalidInput
from civicgrid.domain.evaluation import SchemeError, evaluate, parse_scheme
from civicgrid.domain.indicators import Period, PeriodKind
from civicgrid.evaluation_file import default_scheme_path, load_scheme

DEFAULT = tomllib.loads(default_scheme_path().read_text(encoding="utf-8"))


def test_the_default_scheme_is_evaluation_md_section_3() -> None:
    scheme = load_scheme(default_scheme_path())
    assert set(scheme.targets) == {"department", "street", "dispatcher", "inspector", "operator"}

    def weights(kind: str) -> dict[str, object]:
        return {item.indicator: (item.weight, item.method.value) for item in scheme.targets[kind].items}

    assert weights("department") == {
        "registered": (10, "steps"), "closure_rate": (30, "rate"), "on_time_handling_rate": (30, "rate"),
        "rework_rate": (30, "inverse_rate"),
    }  # fmt: skip
    assert weights("inspector") == {
        "valid_report_rate": (40, "rate"), "missed_report_rate": (20, "inverse_rate"),
        "on_time_verification_rate": (20, "rate"), "on_time_check_rate": (20, "rate"),
    }  # fmt: skip
    # 受理数 alone: the two 按时派发率 are not recorded, so its 25 % becomes the whole.
    assert weights("operator") == {"reported": (100, "steps")}
    operator_steps = [(s.low, s.high, s.score) for s in scheme.targets["operator"].items[0].steps]
    assert operator_steps == [
        (0, 100, 0), (101, 300, 40), (301, 500, 60), (501, 1200, 75), (1201, 2000, 90), (2001, None, 100)
    ]  # fmt: skip
    assert [(g.name, g.minimum) for g in scheme.grades] == [
        ("A", 90),
        ("B", 75),
        ("C", 60),
        ("D", 40),
        ("E", 0),
    ]


def test_a_department_scored_by_hand() -> None:
    scheme = parse_scheme(DEFAULT)
    # 8 registered → 100; 结案率 6/7; 按期处置率 5/7; 返工率 1/6 → (1 − 1/6) × 100.
    values = {"registered": 8, "closed": 6, "due_closure": 7, "handled_on_time": 5, "due_handling": 7}
    score = evaluate(scheme, scheme.targets["department"], {**values, "rework": 1, "handled": 6})
    # 100×10% + 85.714×30% + 71.429×30% + 83.333×30% = 10 + 25.714 + 21.429 + 25.000
    assert score.value == Decimal("82.14") and score.grade == "B"
    assert [line.figure for line in score.items] == ["8", "85.71%", "71.43%", "16.67%"]


def test_an_item_without_a_figure_is_left_out_and_the_rest_reweighted() -> None:
    scheme = parse_scheme(DEFAULT)
    # Nothing handled: 返工率 is "—"; 100 × 10 / 70 from the 立案数 item alone.
    score = evaluate(
        scheme, scheme.targets["department"], {"registered": 1, "due_closure": 1, "due_handling": 1}
    )
    assert score.value == Decimal("14.29") and score.grade == "E"
    assert score.items[3].score is None and score.items[3].figure == "—"


def test_per_grid_steps_and_capped_adjustments() -> None:
    data = copy.deepcopy(DEFAULT)
    data["street"]["adjustments"] = [{"indicator": "rework", "points": -2, "limit": 5}]
    scheme = parse_scheme(data)
    street = scheme.targets["street"]
    values = {"registered": 10, "public_verified": 0, "closed": 10, "due_closure": 10, "closed_on_time": 10}
    # 10 cases over 4 grids = 2.5 → 3 per grid → 75 points: 10 + 15 + 30 + 40 = 95, less 5 (capped).
    score = evaluate(scheme, street, {**values, "rework": 4}, grids=4)
    assert score.items[1].figure == "10/4网格" and score.items[1].score == 75
    assert (
        score.adjustments == (("rework", Decimal(-5)),) and score.value == Decimal(90) and score.grade == "A"
    )


def test_a_class_of_objects_has_its_own_step_table() -> None:
    data = copy.deepcopy(DEFAULT)
    data["street"]["classes"] = {"T0102": "二类"}
    scheme = parse_scheme(data)
    street = scheme.targets["street"]
    values = {"registered": 3, "closed": 1, "due_closure": 1, "closed_on_time": 1}
    # 3 per grid: 一类 → 75, 二类 (1–3) → 90.
    assert evaluate(scheme, street, values, 1, "T0101").items[1].score == 75
    assert evaluate(scheme, street, values, 1, "T0102").items[1].score == 90


def _broken(change: Any) -> dict[str, Any]:
    data = copy.deepcopy(DEFAULT)
    change(data)
    return data


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            lambda d: d["department"]["items"][0].update(weight=20),
            "[department] weights add up to 110 %, not 100 %",
        ),
        (
            lambda d: d["department"]["items"][1].update(indicator="happiness"),
            "department.items[2]: unknown indicator",
        ),
        (
            lambda d: d["department"]["items"][0]["steps"].__setitem__(
                1, {"from": 40, "to": 100, "score": 90}
            ),
            "department.items[1].steps overlap: 0–50 and 40–100",
        ),
        (
            lambda d: d["department"]["items"][0]["steps"].__setitem__(
                1, {"from": 60, "to": 100, "score": 90}
            ),
            "leave a gap between 50 and 60",
        ),
        (lambda d: d["department"]["items"][0]["steps"].pop(), "must end open"),
        (lambda d: d["department"]["items"][0]["steps"].pop(0), "must start from 0"),
        (lambda d: d["department"]["items"][0].update(steps=[]), "steps must list the step table"),
        (lambda d: d["department"]["items"][0]["steps"][0].update(score=120), "score must lie in 0–100"),
        (lambda d: d["department"]["items"][0]["steps"][0].update(to=-1), "'to' (-1) is below 'from' (0)"),
        (lambda d: d["department"]["items"][1].update(method="steps"), "a step table scores a count"),
        (
            lambda d: d["department"]["items"][0].update(method="rate"),
            "scores a rate, and 'registered' is a count",
        ),
        (lambda d: d["department"]["items"][0].update(method="log"), "method must be one of rate"),
        (lambda d: d["department"]["items"][0].update(weight=0), "weight must be more than 0"),
        (lambda d: d["department"]["items"][0].update(weight="ten"), "weight must be a number"),
        (lambda d: d["street"]["items"][1].update(per_grid="yes"), "per_grid must be true or false"),
        (lambda d: d["department"].update(items=[]), "needs at least one [[department.items]]"),
        (lambda d: d.update(department=3), "[department] must be a table"),
        (lambda d: d["department"]["items"].__setitem__(0, 3), "department.items[1] must be a table"),
        (lambda d: d["department"]["items"][0]["steps"].__setitem__(0, 3), "steps[1] must be a table"),
        (lambda d: d.update(parks={}), "unknown section(s) parks"),
        (
            lambda d: [d.pop(k) for k in ("department", "street", "dispatcher", "inspector", "operator")],
            "evaluates nothing",
        ),
        (lambda d: d.update(name=""), "name must be a non-empty text"),
        (lambda d: d["grades"].pop("E"), "must cover 0–100"),
        (lambda d: d["grades"].update(B=90), "two grades start at the same value"),
        (lambda d: d.update(grades=[]), "[grades] must map each grade"),
        (lambda d: d["department"].update(adjustments={}), "adjustments must be a list"),
        (
            lambda d: d["street"].update(classes={"T0102": "三类"}),
            "names class(es) 三类 with no class_steps table",
        ),
        (
            lambda d: d["street"].update(classes={"T0102": 2}),
            "[street.classes] must map codes to class names",
        ),
        (lambda d: d["street"]["items"][1].update(class_steps=[]), "class_steps must map class names"),
        (
            lambda d: d["street"]["items"][1]["class_steps"]["二类"].pop(),
            "street.items[2].class_steps.二类.steps must end open",
        ),
        (lambda d: d["department"].update(adjustments=[3]), "adjustments[1] must be a table"),
        (
            lambda d: d["department"].update(
                adjustments=[{"indicator": "closure_rate", "points": 1, "limit": 1}]
            ),
            "points are given per unit of a count",
        ),
        (
            lambda d: d["department"].update(adjustments=[{"indicator": "rework", "points": 1, "limit": -1}]),
            "limit must be 0 or more",
        ),
    ],
)
def test_a_bad_scheme_is_refused_with_the_place_and_reason(change: Any, message: str) -> None:
    with pytest.raises(SchemeError) as refused:
        parse_scheme(_broken(change))
    assert message in str(refused.value)


def test_a_file_that_is_not_toml_is_refused_with_its_name(tmp_path: Any) -> None:
    path = tmp_path / "kaohe.toml"
    path.write_text("name = ", encoding="utf-8")
    with pytest.raises(SchemeError, match=r"kaohe\.toml: "):
        load_scheme(path)
    path.write_text('name = "x"\nversion = "1"\n[grades]\nA = 0\n', encoding="utf-8")
    with pytest.raises(SchemeError, match=r"kaohe\.toml: the scheme evaluates nothing"):
        load_scheme(path)


def test_an_inspector_scored_by_hand() -> None:
    scheme = parse_scheme(DEFAULT)
    # 有效上报率 9/10 → 90; 漏报率 2/8 → (1 − 0.25) × 100 = 75; 按时核实率 3/4 → 75; 按时核查率 4/5 → 80.
    values = {
        "valid_inspector_reports": 9, "inspector_reported": 10, "missed_reports": 2, "grid_registered": 8,
        "verified_on_time": 3, "due_verification": 4, "checked_on_time": 4, "due_check": 5,
    }  # fmt: skip
    score = evaluate(scheme, scheme.targets["inspector"], values)
    # 90×40% + 75×20% + 75×20% + 80×20% = 36 + 15 + 15 + 16
    assert score.value == Decimal(82) and score.grade == "B"
    assert [line.figure for line in score.items] == ["90.00%", "25.00%", "75.00%", "80.00%"]


def test_a_quarter_with_three_months_volume_scores_like_a_month_with_one() -> None:
    scheme = parse_scheme(DEFAULT)
    dispatcher, quarter = scheme.targets["dispatcher"], Decimal(3)

    def volume_score(dispatched: int, months: Decimal) -> Decimal | None:
        return evaluate(scheme, dispatcher, {"dispatched": dispatched}, months=months).items[0].score

    # The monthly table: 501–1200 → 75, 1201–2000 → 90; a quarter's bounds are 1503–3600, 3601–6000.
    for monthly in (0, 100, 101, 700, 1200, 1201, 2000, 2001):
        assert volume_score(3 * monthly, quarter) == volume_score(monthly, Decimal(1)), monthly
    assert [volume_score(n, quarter) for n in (300, 301, 3600, 3601, 6000, 6001)] == [0, 40, 75, 90, 90, 100]
    # Unscaled, a quarter's 3600 would have scored 100.
    assert volume_score(3600, Decimal(1)) == 100
    # A week (7 of October's 31 days) needs far fewer: its 101–300 step holds 23–67.
    week = Decimal(7) / Decimal(31)
    assert [volume_score(n, week) for n in (22, 23, 67, 68)] == [0, 40, 40, 60]
    line = evaluate(scheme, dispatcher, {"dispatched": 2100}, months=quarter).items[0]
    assert line.figure == "2100(3个月)"
    with pytest.raises(InvalidInput, match="must be more than 0"):
        evaluate(scheme, dispatcher, {"dispatched": 1}, months=Decimal(0))


def test_per_grid_steps_are_scaled_to_the_period_too() -> None:
    scheme = parse_scheme(DEFAULT)
    street = scheme.targets["street"]
    # 18 cases over 2 grids in a quarter: 9 per grid, 3 per grid a month → the 3–4 step (75).
    score = evaluate(scheme, street, {"registered": 18}, grids=2, months=Decimal(3))
    assert score.items[1].figure == "18/2网格(3个月)" and score.items[1].score == 75
    assert evaluate(scheme, street, {"registered": 18}, grids=2).items[1].score == 0


def test_a_periods_length_in_months() -> None:
    zone = ZoneInfo("Asia/Shanghai")
    day = date(2026, 10, 15)
    assert Period.containing(PeriodKind.MONTH, day, zone).length_in_months() == 1
    assert Period.containing(PeriodKind.QUARTER, day, zone).length_in_months() == 3
    assert Period.containing(PeriodKind.YEAR, day, zone).length_in_months() == 12
    # Mon 28 Sep – Sun 4 Oct: 3 of September's 30 days and 4 of October's 31.
    week = Period.containing(PeriodKind.WEEK, date(2026, 9, 30), zone).length_in_months()
    assert abs(week - (Decimal(3) / 30 + Decimal(4) / 31)) < Decimal("1e-20")
    assert Period.between(date(2026, 2, 1), date(2026, 2, 14), zone).length_in_months() == Decimal("0.5")
    start = datetime(2026, 10, 1, tzinfo=zone)
    with pytest.raises(InvalidInput, match="is empty"):
        Period(start, start, "空").length_in_months()
