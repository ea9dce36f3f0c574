"""The shapes of the statistics API: a table of figures, each rate with its parts."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field


class Cell(BaseModel):
    """One figure. A count has ``value`` only; a rate has its ``numerator`` and
    ``denominator``, ``value`` (null when the denominator is 0) and ``display`` ("—" then)."""

    value: float | int | None
    numerator: int | None = None
    denominator: int | None = None
    display: str | None = None


class Group(BaseModel):
    """A row's group: its key (a code, username, enum value or month; "none" for cases that
    have no value in the grouping) and its Chinese name."""

    key: str | None
    label: str


class StatisticsRow(BaseModel):
    group: Group
    values: dict[str, Cell]


class StatisticsTable(BaseModel):
    """The indicators for a period, one row per group and a total row."""

    period_start: datetime
    period_end: datetime = Field(description="the end of the period, excluded")
    period_label: str
    region_code: str | None
    group_by: str
    group_label: str
    indicators: list[str]
    labels: dict[str, str]
    rows: list[StatisticsRow]
    total: StatisticsRow


class IndicatorInfo(BaseModel):
    """An indicator of the catalogue: a count, or a rate with its formula."""

    key: str
    label: str
    kind: str = Field(description="count or rate")
    definition: str
    numerator: str | None = None
    denominator: str | None = None
    higher_is_better: bool | None = None


class ItemScoreOut(BaseModel):
    """One scored indicator of an evaluation: its figure, score 0–100, weight (%) and the
    points it adds to the composite value (weight reapplied when an item has no figure)."""

    indicator: str
    label: str
    figure: str
    score: float | None
    weight: float
    points: float


class AdjustmentOut(BaseModel):
    indicator: str
    label: str
    points: float


class EvaluationRow(BaseModel):
    """One evaluated object: its rank, composite value (综合指标值), grade and breakdown."""

    rank: int
    group: Group
    value: float
    grade: str
    items: list[ItemScoreOut]
    adjustments: list[AdjustmentOut]


class EvaluationTable(BaseModel):
    """The ranked evaluation of one kind of object for a period, under a named scheme version."""

    scheme_name: str
    scheme_version: str
    target: str
    period_start: datetime
    period_end: datetime
    period_label: str
    region_code: str | None
    rows: list[EvaluationRow]
