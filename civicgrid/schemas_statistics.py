"""The shapes of the statistics API: a table of figures, each rate with its parts."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from civicgrid.schemas import Strict, Text


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


# --- published evaluations ---------------------------------------------------------------


class PublicationOut(BaseModel):
    """A published version of an evaluation: what was ranked, for which period and region,
    under which scheme, by whom and when."""

    kind: str
    period_key: str = Field(description='the period as written in paths: "2026-10", "2026-Q4", "2026"')
    period_label: str
    period_start: datetime
    period_end: datetime = Field(description="the end of the period, excluded")
    region_code: str = Field(description="the scope: the region whose cases were evaluated")
    region_name: str
    version: int
    scheme_name: str
    scheme_version: str = Field(description="the version the scheme file declares")
    scheme_digest: str = Field(description="SHA-256 of the scheme's content: changes with any weight or step")
    published_by: str = Field(description="the publisher's username")
    published_by_name: str
    published_at: datetime
    note: str


class PublishedEvaluationOut(PublicationOut):
    """A published version with its stored ranking: the figures as they were published,
    never recomputed."""

    rows: list[EvaluationRow]
    scheme: dict[str, Any] = Field(description="the scheme the figures were computed under")


class ItemChangeOut(BaseModel):
    """One indicator of an object whose figure, score or points changed between versions."""

    indicator: str
    label: str
    figure_before: str | None
    figure_after: str | None
    score_before: float | None
    score_after: float | None
    points_before: float | None
    points_after: float | None


class UnitChangeOut(BaseModel):
    """How one evaluated object changed: ``change`` is changed, added or removed."""

    key: str
    label: str
    change: str
    rank_before: int | None
    rank_after: int | None
    value_before: float | None
    value_after: float | None
    value_delta: float | None
    grade_before: str | None
    grade_after: str | None
    items: list[ItemChangeOut]


class EvaluationChangesOut(BaseModel):
    """The differences between a published version and the one before it."""

    kind: str
    period_key: str
    region_code: str
    version: int
    previous_version: int
    scheme_changed: bool = Field(description="the two versions were computed under different schemes")
    units: list[UnitChangeOut] = Field(description="the objects that changed, in the later version's order")
    unchanged: int = Field(description="objects whose rank, value, grade and breakdown are the same")


class PublishOut(PublishedEvaluationOut):
    """A version just published, with its differences from the version before (none for
    the first)."""

    changes: EvaluationChangesOut | None


class PublishIn(Strict):
    """Why a version is published (optional), e.g. which late results it takes in."""

    note: Text = Field(default="", max_length=500)
