"""The dashboard (指挥大屏): today's and this month's intake by channel, open cases by state
and light, the most reported categories, the trend of the last 30 days, the departments
ranked by on-time handling and the red cases, for the user's scope.

Nothing is counted here: every figure comes from the statistics service (the same tables
as ``/api/v1/statistics/table``) or from the case list's queries (the same filters as
``/api/v1/cases``), so the big screen and those APIs cannot disagree.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from threading import Lock
from typing import TypeVar
from zoneinfo import ZoneInfo

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from civicgrid.domain.errors import RoleNotAllowed
from civicgrid.domain.indicators import Period, PeriodKind
from civicgrid.domain.vocabulary import (
    CHANNEL_LABELS,
    LIGHT_LABELS,
    NO_LIGHT_LABEL,
    OPEN_STATES,
    STATE_LABELS,
    Channel,
    Light,
    Role,
)
from civicgrid.schemas import CaseFilters
from civicgrid.schemas_dashboard import (
    CategoryCount,
    ChannelIntake,
    Dashboard,
    DepartmentRank,
    LightCount,
    RedCase,
    StateCount,
    TrendDay,
)
from civicgrid.services import statistics
from civicgrid.services.statistics import NONE_KEY, GroupBy, Query
from civicgrid.store import cases as case_queries
from civicgrid.store.db import is_memory_sqlite, session_scope
from civicgrid.store.models import User

#: The month's headline figures (keys of the statistics catalogue).
HEADLINE = ["reported", "registered", "closed", "closure_rate", "on_time_closure_rate", "satisfaction_rate"]
DEPARTMENT_FIGURES = ["due_handling", "handled", "handled_on_time", "overdue", "on_time_handling_rate"]
TREND_DAYS = 30
TOP_CATEGORIES = 10
RED_CASES = 20


#: How long a dashboard, once computed, serves every screen of the same scope: screens
#: refresh on every live event (and every 30 s), and a large centre's figures take the
#: database a second or more, so a burst of events or a wall of screens costs one count.
CACHE_SECONDS = 10.0


class Recent:
    """Dashboards computed in the last ``CACHE_SECONDS``, by scope (what ``scoped`` reads of
    the user: role, region, department) and region asked for; one per application."""

    def __init__(self, seconds: float = CACHE_SECONDS, clock: Callable[[], float] = time.monotonic) -> None:
        self.seconds = seconds
        self.clock = clock
        self._kept: dict[tuple[object, ...], tuple[float, Dashboard]] = {}
        self._lock = Lock()

    def get(self, actor: User, region_code: str | None, compute: Callable[[], Dashboard]) -> Dashboard:
        """The dashboard of ``actor``'s scope: a recent one, or ``compute()``'s."""
        key = (*_scope_key(actor), region_code)
        with self._lock:
            found = self._kept.get(key)
            if found is not None and self.clock() - found[0] < self.seconds:
                return found[1]
        board = compute()
        with self._lock:
            now = self.clock()
            self._kept = {k: v for k, v in self._kept.items() if now - v[0] < self.seconds}
            self._kept[key] = (now, board)
        return board


def _scope_key(actor: User) -> tuple[object, ...]:
    """What decides which cases ``actor`` sees (as ``scoped`` reads it): a handler's
    department, anyone else's region; citizens have no dashboard."""
    _require_staff(actor)
    if actor.role is Role.HANDLER:
        return ("department", actor.department_id)
    return ("region", actor.region_id)


def _require_staff(actor: User) -> None:
    if actor.role is Role.CITIZEN:
        raise RoleNotAllowed("the dashboard is for the centre's staff")


def _scope_label(actor: User) -> str:
    if actor.role is Role.HANDLER and actor.department is not None:
        return actor.department.name
    return actor.region.name if actor.region is not None else "未分配区域"


def dashboard(
    session: Session,
    actor: User,
    now: datetime,
    zone: ZoneInfo,
    region_code: str | None = None,
    reader: Callable[[], Session] | None = None,
) -> Dashboard:
    """The big screen's figures for what ``actor`` may see (narrowed to ``region_code``,
    which must lie in their scope), as of ``now``; days and months in ``zone``. Given
    ``reader`` (read-only sessions on the same database), the parts that do not depend on
    each other are read side by side, each on a connection of its own: the screen waits
    for the slowest part, not for their sum."""
    _require_staff(actor)
    today = now.astimezone(zone).date()
    day = Period.containing(PeriodKind.DAY, today, zone)
    month = Period.containing(PeriodKind.MONTH, today, zone)
    last_days = Period.between(today - timedelta(days=TREND_DAYS - 1), today, zone)

    def this_month(s: Session, who: User) -> dict[GroupBy, statistics.StatisticsTable]:
        """The month's tables, in one reading of the month."""
        groupings = {
            GroupBy.NONE: HEADLINE,
            GroupBy.CHANNEL: ["reported"],
            GroupBy.CATEGORY: ["reported"],
            GroupBy.DEPARTMENT: DEPARTMENT_FIGURES,
        }
        return statistics.tables(s, who, month, groupings, now, region_code)

    def trend(s: Session, who: User) -> list[TrendDay]:
        days = statistics.table(
            s, who, Query(last_days, GroupBy.DAY, ["reported", "closed"], region_code), now
        )
        return [
            TrendDay(
                day=row.group.key or "",
                reported=int(row.values["reported"].value or 0),
                closed=int(row.values["closed"].value or 0),
            )
            for row in days.rows
        ]

    def right_now(s: Session, who: User) -> _Now:
        return _right_now(s, who, day, now, region_code)

    if reader is not None and _own_connections(session):
        with ThreadPoolExecutor(max_workers=2, thread_name_prefix="civicgrid-dashboard") as pool:
            later_trend = pool.submit(_aside, reader, actor, trend)
            later_now = pool.submit(_aside, reader, actor, right_now)
            month_tables = this_month(session, actor)
            days, current = later_trend.result(), later_now.result()
    else:
        month_tables = this_month(session, actor)
        days, current = trend(session, actor), right_now(session, actor)

    headline = month_tables[GroupBy.NONE]
    month_by_channel = _by_channel(month_tables[GroupBy.CHANNEL])
    intake = [
        ChannelIntake(
            channel=channel,
            label=CHANNEL_LABELS[channel],
            today=current.today_by_channel.get(channel.value, 0),
            month=month_by_channel.get(channel.value, 0),
        )
        for channel in Channel
    ]
    return Dashboard(
        generated_at=now,
        scope_label=_scope_label(actor),
        region_code=region_code,
        today_label=day.label,
        month_label=month.label,
        today_reported=sum(current.today_by_channel.values()),
        month=headline.total.values,
        labels=headline.labels,
        intake=intake,
        open_total=current.open_total,
        open_by_state=current.open_by_state,
        open_by_light=current.open_by_light,
        top_categories=_top_categories(month_tables[GroupBy.CATEGORY]),
        trend=days,
        departments=_departments(month_tables[GroupBy.DEPARTMENT]),
        red_total=current.red_total,
        red_cases=current.red_cases,
    )


T = TypeVar("T")


def _own_connections(session: Session) -> bool:
    """Whether other sessions get connections of their own beside ``session``'s: not when
    it runs on one given connection (a test's transaction), nor on an in-memory SQLite
    database (one per thread, each empty)."""
    bind = session.get_bind()
    return isinstance(bind, Engine) and not is_memory_sqlite(bind.url)


def _aside(reader: Callable[[], Session], actor: User, part: Callable[[Session, User], T]) -> T:
    """``part`` read in a session of its own (for another thread), as ``actor``."""
    with session_scope(reader) as side:
        who = side.get(User, actor.id)
        if who is None:  # removed since the request began
            raise RoleNotAllowed("the signed-in user no longer exists")
        return part(side, who)


@dataclass(frozen=True)
class _Now:
    """The figures of the moment: today's intake by channel, the open cases by state and
    light, the red cases."""

    today_by_channel: dict[str | None, int]
    open_by_state: list[StateCount]
    open_by_light: list[LightCount]
    open_total: int
    red_total: int
    red_cases: list[RedCase]


def _right_now(session: Session, actor: User, day: Period, now: datetime, region_code: str | None) -> _Now:
    today = statistics.table(session, actor, Query(day, GroupBy.CHANNEL, ["reported"], region_code), now)
    filters = CaseFilters(region_code=region_code)
    states: dict[str, int] = {}
    lights: dict[Light | None, int] = dict.fromkeys([*Light, None], 0)
    for state, light, count in case_queries.open_counts(session, actor, filters, now):
        states[state.value] = states.get(state.value, 0) + count
        lights[light] += count
    red = case_queries.most_overdue(session, actor, filters, now, RED_CASES)
    return _Now(
        today_by_channel=_by_channel(today),
        open_by_state=[
            StateCount(state=state, label=STATE_LABELS[state], count=states.get(state.value, 0))
            for state in OPEN_STATES
        ],
        open_by_light=[
            LightCount(
                light=light,
                label=LIGHT_LABELS[light][0] if light else NO_LIGHT_LABEL[0],
                colour=LIGHT_LABELS[light][1] if light else NO_LIGHT_LABEL[1],
                count=lights[light],
            )
            for light in (Light.RED, Light.YELLOW, Light.GREEN, None)
        ],
        open_total=sum(lights.values()),
        red_total=lights[Light.RED],
        red_cases=[
            RedCase(
                number=case.number,
                title=case.title,
                category_name=case.category.name,
                state=case.state,
                state_label=STATE_LABELS[case.state],
                region_name=case.region.name,
                department_name=case.department.name if case.department else None,
                deadline_at=case.deadline_at,
                overdue_seconds=int((now - case.deadline_at).total_seconds()),
            )
            for case in red
            if case.deadline_at is not None
        ],
    )


def _by_channel(table: statistics.StatisticsTable) -> dict[str | None, int]:
    return {row.group.key: int(row.values["reported"].value or 0) for row in table.rows}


def _top_categories(table: statistics.StatisticsTable) -> list[CategoryCount]:
    """The most reported categories of ``table``, most first (ties by code)."""
    ranked = sorted(
        (row for row in table.rows if row.group.key not in (None, NONE_KEY)),
        key=lambda row: (-int(row.values["reported"].value or 0), row.group.key or ""),
    )
    return [
        CategoryCount(
            code=row.group.key or "", name=row.group.label, count=int(row.values["reported"].value or 0)
        )
        for row in ranked[:TOP_CATEGORIES]
        if row.values["reported"].value
    ]


def _departments(table: statistics.StatisticsTable) -> list[DepartmentRank]:
    """The departments of the table ranked by 按期处置率, best first; equal rates share a
    rank; those with nothing due this month come last, unranked."""
    rows = [row for row in table.rows if row.group.key not in (None, NONE_KEY)]
    rated = sorted(
        (row for row in rows if row.values["on_time_handling_rate"].value is not None),
        key=lambda row: (-(row.values["on_time_handling_rate"].value or 0), row.group.key or ""),
    )
    unrated = [row for row in rows if row.values["on_time_handling_rate"].value is None]
    ranked: list[DepartmentRank] = []
    for position, row in enumerate([*rated, *unrated], start=1):
        rate = row.values["on_time_handling_rate"]
        rank: int | None = None
        if rate.value is not None:
            before = ranked[-1] if ranked else None
            same = before is not None and before.on_time_handling_rate.value == rate.value
            rank = before.rank if same and before is not None else position
        ranked.append(
            DepartmentRank(
                rank=rank,
                code=row.group.key or "",
                name=row.group.label,
                due_handling=int(row.values["due_handling"].value or 0),
                handled=int(row.values["handled"].value or 0),
                handled_on_time=int(row.values["handled_on_time"].value or 0),
                overdue=int(row.values["overdue"].value or 0),
                on_time_handling_rate=rate,
            )
        )
    return ranked
