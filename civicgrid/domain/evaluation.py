"""Evaluation schemes (考核方案) as data, and the scores they give.

A scheme names, for each kind of evaluated object (departments, streets, dispatchers …),
the indicators used, how each becomes a score of 0–100 (``rate`` × 100, (1 − rate) × 100
as ``inverse_rate``, or a ``steps`` table over a count, written for one month and scaled
to the period's length), their weights (adding up to 100 %), deductions and bonuses per
unit of a count (e.g. per rework), and the grade bands. Schemes are TOML files a centre
edits; ``parse_scheme`` refuses a bad one with a message naming the place of the mistake.
The defaults are EVALUATION.md §3, modelled on GB/T 30428.4 (never the standard itself).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from enum import StrEnum
from itertools import pairwise
from typing import Any

from civicgrid.domain.errors import InvalidInput
from civicgrid.domain.indicators import COUNTS, RATES, Rate


class SchemeError(ValueError):
    """An evaluation scheme that cannot be used, with the reason and where."""


class Method(StrEnum):
    """How an indicator becomes a score."""

    RATE = "rate"
    INVERSE_RATE = "inverse_rate"
    STEPS = "steps"


#: The kinds of evaluated object (each the statistics grouping of the same name).
TARGETS = ("department", "street", "community", "dispatcher", "inspector", "operator")
TARGET_LABELS = {
    "department": "部门",
    "street": "街道",
    "community": "社区",
    "dispatcher": "派遣员",
    "inspector": "监督员",
    "operator": "受理员",
}


@dataclass(frozen=True)
class Step:
    """Counts from ``low`` to ``high`` (both included; ``high`` None: no upper bound) score ``score``."""

    low: int
    high: int | None
    score: Decimal


@dataclass(frozen=True)
class Item:
    """One scored indicator of a scheme."""

    indicator: str
    weight: Decimal
    method: Method
    steps: tuple[Step, ...] = ()
    #: Score the count per grid of the object (rounded half up), as region evaluation does.
    per_grid: bool = False
    #: Step tables of classes of objects (a department group, an area class 二类区域 …).
    class_steps: Mapping[str, tuple[Step, ...]] = field(default_factory=dict)

    def score(
        self,
        values: Mapping[str, int],
        grids: int = 1,
        of_class: str | None = None,
        months: Decimal = Decimal(1),
    ) -> tuple[Decimal | None, str]:
        """The item's score 0–100 for the counts ``values`` of an object with ``grids``
        grids in class ``of_class`` over a period of ``months`` months, and the figure it
        came from (None when a rate's denominator is 0: the item is then left out and the
        others reweighted). A step table is written for one month: its bounds are scaled
        by ``months`` (a quarter's 301 dispatches score as a month's 101)."""
        if self.method is Method.STEPS:
            steps = self.class_steps.get(of_class or "", self.steps)
            count = values.get(self.indicator, 0)
            figure = str(count)
            if self.per_grid:
                average = (Decimal(count) / max(grids, 1)).quantize(Decimal(1), rounding=ROUND_HALF_UP)
                figure, count = f"{count}/{grids}网格", int(average)
            if months != 1:
                figure += f"({_months(months)}个月)"
            # The steps run from 0 without gaps: the first whose scaled bound holds the count.
            step = next(s for s in steps if s.high is None or count <= s.high * months)
            return step.score, figure
        rate = RATES[self.indicator]
        parts = Rate(values.get(rate.numerator, 0), values.get(rate.denominator, 0))
        if parts.value is None:
            return None, parts.display
        value = Decimal(parts.numerator) / Decimal(parts.denominator)
        return (value if self.method is Method.RATE else 1 - value) * 100, parts.display


@dataclass(frozen=True)
class Adjustment:
    """Points added (a bonus) or taken off (a deduction, negative ``points``) per unit of a
    count, up to ``limit`` points in all."""

    indicator: str
    points: Decimal
    limit: Decimal


@dataclass(frozen=True)
class Grade:
    """A grade band: composite values of at least ``minimum`` get ``name``."""

    name: str
    minimum: Decimal


@dataclass(frozen=True)
class Target:
    """How one kind of object is evaluated."""

    kind: str
    items: tuple[Item, ...]
    adjustments: tuple[Adjustment, ...]
    #: The class of each object that has one (department code or region code → class).
    classes: Mapping[str, str] = field(default_factory=dict)

    @property
    def counts(self) -> list[str]:
        """The indicators the statistics must give for this target."""
        return [*(item.indicator for item in self.items), *(a.indicator for a in self.adjustments)]


@dataclass(frozen=True)
class Scheme:
    """An evaluation scheme: its name, version, targets and grade bands (highest first)."""

    name: str
    version: str
    targets: dict[str, Target]
    grades: tuple[Grade, ...]

    def grade(self, value: Decimal) -> str:
        """The grade of a composite value."""
        return next(grade.name for grade in self.grades if value >= grade.minimum)


@dataclass(frozen=True)
class ItemScore:
    """One line of a score's breakdown."""

    indicator: str
    figure: str
    score: Decimal | None
    weight: Decimal
    points: Decimal


@dataclass(frozen=True)
class Score:
    """The composite value (0–100) of one evaluated object, its grade and breakdown."""

    value: Decimal
    grade: str
    items: tuple[ItemScore, ...]
    adjustments: tuple[tuple[str, Decimal], ...]


def _months(months: Decimal) -> str:
    """A number of months as the breakdown shows it: '3', '0.23'."""
    return f"{months:.2f}".rstrip("0").rstrip(".")


def evaluate(
    scheme: Scheme,
    target: Target,
    values: Mapping[str, int],
    grids: int = 1,
    key: str | None = None,
    months: Decimal = Decimal(1),
) -> Score:
    """The score of the object ``key`` with the counts ``values`` (and ``grids`` grids)
    over a period of ``months`` months under ``target`` of ``scheme``. Items whose rate has
    a zero denominator are left out and the rest reweighted to 100 %. InvalidInput if
    ``months`` is not more than 0."""
    if months <= 0:
        raise InvalidInput(f"a period of {months} months cannot be scored: it must be more than 0")
    of_class = target.classes.get(key or "")
    scored = [(item, *item.score(values, grids, of_class, months)) for item in target.items]
    weight = sum((item.weight for item, score, _ in scored if score is not None), Decimal(0))
    lines, total = [], Decimal(0)
    for item, score, figure in scored:
        points = score * item.weight / weight if score is not None and weight else Decimal(0)
        lines.append(ItemScore(item.indicator, figure, score, item.weight, points))
        total += points
    adjustments = []
    for adjustment in target.adjustments:
        raw = adjustment.points * values.get(adjustment.indicator, 0)
        capped = max(min(raw, adjustment.limit), -adjustment.limit)
        adjustments.append((adjustment.indicator, capped))
        total += capped
    value = min(max(total, Decimal(0)), Decimal(100)).quantize(Decimal("0.01"))
    return Score(value, scheme.grade(value), tuple(lines), tuple(adjustments))


def parse_scheme(data: Mapping[str, Any]) -> Scheme:
    """A scheme from its TOML data, checked: known indicators, weights adding up to 100 %,
    step tables without overlaps or gaps, grade bands that cover 0–100."""
    name, version = _text(data, "name", ""), _text(data, "version", "")
    unknown = set(data) - {"name", "version", "grades", *TARGETS}
    if unknown:
        raise SchemeError(f"unknown section(s) {', '.join(sorted(unknown))}; known: {', '.join(TARGETS)}")
    targets = {kind: _target(kind, data[kind]) for kind in TARGETS if kind in data}
    if not targets:
        raise SchemeError(f"the scheme evaluates nothing: add a section for one of {', '.join(TARGETS)}")
    return Scheme(name, version, targets, _grades(data.get("grades")))


def _text(data: Mapping[str, Any], key: str, where: str) -> str:
    value = data.get(key)
    if not isinstance(value, str) or not value.strip():
        raise SchemeError(f"{where}{key} must be a non-empty text")
    return value


def _number(value: object, where: str) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise SchemeError(f"{where} must be a number, not {value!r}")
    return Decimal(str(value))


def _target(kind: str, data: object) -> Target:
    if not isinstance(data, dict):
        raise SchemeError(f"[{kind}] must be a table")
    items = data.get("items")
    if not isinstance(items, list) or not items:
        raise SchemeError(f"[{kind}] needs at least one [[{kind}.items]]")
    parsed = tuple(_item(f"{kind}.items[{n}]", item) for n, item in enumerate(items, start=1))
    total = sum((item.weight for item in parsed), Decimal(0))
    if total != 100:
        weights = " + ".join(f"{item.indicator} {item.weight}" for item in parsed)
        raise SchemeError(f"[{kind}] weights add up to {total} %, not 100 %: {weights}")
    adjustments = data.get("adjustments", [])
    if not isinstance(adjustments, list):
        raise SchemeError(f"{kind}.adjustments must be a list of tables")
    classes = data.get("classes", {})
    if not isinstance(classes, dict) or not all(isinstance(v, str) and v for v in classes.values()):
        raise SchemeError(f'[{kind}.classes] must map codes to class names, e.g. "D-HW-E" = "环卫"')
    tabled = {name for item in parsed for name in item.class_steps}
    untabled = set(classes.values()) - tabled
    if untabled:
        raise SchemeError(
            f"[{kind}.classes] names class(es) {', '.join(sorted(untabled))} with no class_steps table"
        )
    return Target(
        kind,
        parsed,
        tuple(_adjustment(f"{kind}.adjustments[{n}]", a) for n, a in enumerate(adjustments, start=1)),
        classes,
    )


def _indicator(where: str, data: Mapping[str, Any]) -> str:
    key = _text(data, "indicator", f"{where}.")
    if key not in COUNTS and key not in RATES:
        raise SchemeError(f"{where}: unknown indicator '{key}'")
    return key


def _item(where: str, data: object) -> Item:
    if not isinstance(data, dict):
        raise SchemeError(f"{where} must be a table")
    indicator = _indicator(where, data)
    try:
        method = Method(str(data.get("method")))
    except ValueError:
        raise SchemeError(f"{where}.method must be one of {', '.join(m.value for m in Method)}") from None
    weight = _number(data.get("weight"), f"{where}.weight")
    if weight <= 0:
        raise SchemeError(f"{where}.weight must be more than 0")
    if method is Method.STEPS:
        if indicator not in COUNTS:
            raise SchemeError(f"{where}: a step table scores a count, and '{indicator}' is a rate")
        per_grid = data.get("per_grid", False)
        if not isinstance(per_grid, bool):
            raise SchemeError(f"{where}.per_grid must be true or false")
        class_steps = data.get("class_steps", {})
        if not isinstance(class_steps, dict):
            raise SchemeError(f"{where}.class_steps must map class names to step tables")
        tables = {name: _steps(f"{where}.class_steps.{name}", rows) for name, rows in class_steps.items()}
        return Item(indicator, weight, method, _steps(where, data.get("steps")), per_grid, tables)
    if indicator not in RATES:
        raise SchemeError(f"{where}: method {method.value} scores a rate, and '{indicator}' is a count")
    return Item(indicator, weight, method)


def _steps(where: str, data: object) -> tuple[Step, ...]:
    if not isinstance(data, list) or not data:
        raise SchemeError(
            f"{where}.steps must list the step table, e.g. {{ from = 0, to = 50, score = 100 }}"
        )
    steps = []
    for n, row in enumerate(data, start=1):
        place = f"{where}.steps[{n}]"
        if not isinstance(row, dict):
            raise SchemeError(f"{place} must be a table")
        low = int(_number(row.get("from"), f"{place}.from"))
        high = None if row.get("to") is None else int(_number(row["to"], f"{place}.to"))
        score = _number(row.get("score"), f"{place}.score")
        if high is not None and high < low:
            raise SchemeError(f"{place}: 'to' ({high}) is below 'from' ({low})")
        if not 0 <= score <= 100:
            raise SchemeError(f"{place}.score must lie in 0–100")
        steps.append(Step(low, high, score))
    steps.sort(key=lambda step: step.low)
    if steps[0].low != 0:
        raise SchemeError(f"{where}.steps must start from 0, not {steps[0].low}")
    for before, after in pairwise(steps):
        if before.high is None or after.low <= before.high:
            raise SchemeError(
                f"{where}.steps overlap: {before.low}–{before.high if before.high is not None else '∞'} "
                f"and {after.low}–{after.high if after.high is not None else '∞'}"
            )
        if after.low != before.high + 1:
            raise SchemeError(f"{where}.steps leave a gap between {before.high} and {after.low}")
    if steps[-1].high is not None:
        raise SchemeError(f"{where}.steps must end open ('to' left out), not at {steps[-1].high}")
    return tuple(steps)


def _adjustment(where: str, data: object) -> Adjustment:
    if not isinstance(data, dict):
        raise SchemeError(f"{where} must be a table")
    indicator = _indicator(where, data)
    if indicator not in COUNTS:
        raise SchemeError(f"{where}: points are given per unit of a count, and '{indicator}' is a rate")
    limit = _number(data.get("limit"), f"{where}.limit")
    if limit < 0:
        raise SchemeError(f"{where}.limit must be 0 or more")
    return Adjustment(indicator, _number(data.get("points"), f"{where}.points"), limit)


def _grades(data: object) -> tuple[Grade, ...]:
    if not isinstance(data, dict) or not data:
        raise SchemeError("[grades] must map each grade to its lowest composite value, e.g. A = 90")
    grades = sorted(
        (Grade(name, _number(value, f"grades.{name}")) for name, value in data.items()),
        key=lambda grade: grade.minimum,
        reverse=True,
    )
    if len({grade.minimum for grade in grades}) != len(grades):
        raise SchemeError("[grades] two grades start at the same value")
    if grades[-1].minimum != 0 or grades[0].minimum > 100:
        raise SchemeError("[grades] must cover 0–100: the lowest grade starts at 0")
    return tuple(grades)
