"""The shape of the dashboard (指挥大屏): every figure the big screen shows, in one answer."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from civicgrid.domain.vocabulary import CaseState, Channel, Light
from civicgrid.schemas_statistics import Cell


class ChannelIntake(BaseModel):
    """Cases reported (上报数) through one channel today and this month."""

    channel: Channel
    label: str
    today: int
    month: int


class StateCount(BaseModel):
    state: CaseState
    label: str
    count: int


class LightCount(BaseModel):
    """Open cases of one light; ``light`` null: no clock runs (挂账, or no time limit)."""

    light: Light | None
    label: str
    colour: str
    count: int


class CategoryCount(BaseModel):
    code: str
    name: str
    count: int


class TrendDay(BaseModel):
    """One day of the trend: reported (上报数) and closed (结案数) that day."""

    day: str = Field(description="YYYY-MM-DD in the centre's timezone")
    reported: int
    closed: int


class DepartmentRank(BaseModel):
    """A department's handling this month, ranked by 按期处置率 (equal rates share a rank;
    a department with nothing due is listed last, unranked)."""

    rank: int | None
    code: str
    name: str
    due_handling: int
    handled: int
    handled_on_time: int
    overdue: int
    on_time_handling_rate: Cell


class RedCase(BaseModel):
    """An overdue (red) open case, most overdue first."""

    number: str
    title: str
    category_name: str
    state: CaseState
    state_label: str
    region_name: str
    department_name: str | None
    deadline_at: datetime
    overdue_seconds: int


class Dashboard(BaseModel):
    """The big screen's figures for the user's scope (a street leader: the street), each
    computed by the statistics service or the case list's queries, so it agrees with them:
    ``open_by_light`` red = the case list's ``light=red`` count, ``intake`` = the statistics
    table's 上报数 by channel, ``month`` = the table's total row for the month."""

    generated_at: datetime
    scope_label: str
    region_code: str | None
    today_label: str
    month_label: str
    today_reported: int
    month: dict[str, Cell] = Field(description="this month's headline figures (the statistics table's total)")
    labels: dict[str, str] = Field(description="Chinese names of the keys of ``month``")
    intake: list[ChannelIntake]
    open_total: int
    open_by_state: list[StateCount]
    open_by_light: list[LightCount]
    top_categories: list[CategoryCount] = Field(description="this month's most reported small classes")
    trend: list[TrendDay] = Field(description="the last 30 days, today included")
    departments: list[DepartmentRank]
    red_total: int
    red_cases: list[RedCase]
