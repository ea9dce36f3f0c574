"""The statistics service: a table of indicators for a period grouped by one dimension,
and the cases behind any of its figures, for the user's scope.

The counts come from ``civicgrid.store.statistics`` (one GROUP BY per query); this module
rolls communities up to streets and small classes up to big ones, names the groups and
computes the rates (``civicgrid.domain.indicators``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import TypeVar

from sqlalchemy import ColumnElement, Select, select, true
from sqlalchemy.orm import Session

from civicgrid.domain.errors import InvalidInput, RoleNotAllowed
from civicgrid.domain.facts import case_facts
from civicgrid.domain.indicators import COUNTS, RATES, Period, Rate, counts_needed, require_indicators
from civicgrid.domain.limits import TimeLimit
from civicgrid.domain.vocabulary import (
    CHANNEL_LABELS,
    REQUEST_TYPE_LABELS,
    Channel,
    RegionLevel,
    RequestType,
    Role,
    Stage,
    Urgency,
)
from civicgrid.schemas_statistics import Cell, Group, StatisticsRow, StatisticsTable
from civicgrid.services.cases import CentreRules, stage_limits
from civicgrid.store import facts as stored_facts
from civicgrid.store import statistics as queries
from civicgrid.store.lookups import by_code
from civicgrid.store.models import Case, Category, Department, Grid, Region, User
from civicgrid.store.scoping import in_region, region_in_scope

E = TypeVar("E", Channel, RequestType)


class GroupBy(StrEnum):
    """What a statistics table's rows are."""

    NONE = "none"
    DAY = "day"
    MONTH = "month"
    DISTRICT = "district"
    STREET = "street"
    COMMUNITY = "community"
    GRID = "grid"
    DEPARTMENT = "department"
    BIG_CATEGORY = "big_category"
    CATEGORY = "category"
    CHANNEL = "channel"
    REQUEST_TYPE = "request_type"
    INSPECTOR = "inspector"
    OPERATOR = "operator"
    DISPATCHER = "dispatcher"


GROUP_LABELS: dict[GroupBy, str] = {
    GroupBy.NONE: "合计",
    GroupBy.DAY: "日期",
    GroupBy.MONTH: "月份",
    GroupBy.DISTRICT: "区",
    GroupBy.STREET: "街道/镇",
    GroupBy.COMMUNITY: "社区/村",
    GroupBy.GRID: "网格",
    GroupBy.DEPARTMENT: "部门",
    GroupBy.BIG_CATEGORY: "大类",
    GroupBy.CATEGORY: "小类",
    GroupBy.CHANNEL: "渠道",
    GroupBy.REQUEST_TYPE: "诉求类型",
    GroupBy.INSPECTOR: "监督员",
    GroupBy.OPERATOR: "受理员",
    GroupBy.DISPATCHER: "派遣员",
}

#: The store column each grouping is counted by (regions and big classes are rolled up).
_COLUMN: dict[GroupBy, str | None] = {
    GroupBy.NONE: None,
    GroupBy.DAY: None,
    GroupBy.MONTH: None,
    GroupBy.DISTRICT: "region",
    GroupBy.STREET: "region",
    GroupBy.COMMUNITY: "region",
    GroupBy.GRID: "grid",
    GroupBy.DEPARTMENT: "department",
    GroupBy.BIG_CATEGORY: "category",
    GroupBy.CATEGORY: "category",
    GroupBy.CHANNEL: "channel",
    GroupBy.REQUEST_TYPE: "request_type",
    GroupBy.INSPECTOR: "inspector",
    GroupBy.OPERATOR: "operator",
    GroupBy.DISPATCHER: "dispatcher",
}
_LEVEL = {
    GroupBy.DISTRICT: RegionLevel.DISTRICT,
    GroupBy.STREET: RegionLevel.STREET,
    GroupBy.COMMUNITY: RegionLevel.COMMUNITY,
}
#: The role of the people each person grouping lists (their evaluation ranks only these).
PERSON_ROLES = {
    GroupBy.INSPECTOR: Role.INSPECTOR,
    GroupBy.OPERATOR: Role.OPERATOR,
    GroupBy.DISPATCHER: Role.DISPATCHER,
}
#: Groupings by time: each row is one span of the period (one query each), keyed like this.
_SPANS: dict[GroupBy, tuple[Callable[[Period], list[Period]], str]] = {
    GroupBy.DAY: (Period.days, "%Y-%m-%d"),
    GroupBy.MONTH: (Period.months, "%Y-%m"),
}
#: The key of the row of cases that have no value in the grouping (no grid, no department …).
NONE_KEY = "none"


@dataclass(frozen=True)
class Query:
    """What a statistics request asks: the period, the grouping, the indicators (counts or
    rates) and optionally a region to narrow to."""

    period: Period
    group_by: GroupBy
    indicators: list[str]
    region_code: str | None = None
    #: Narrow to the cases owned by this grid (its row of a table grouped by grid).
    grid_code: str | None = None


def _require_reader(actor: User) -> None:
    if actor.role is Role.CITIZEN:
        raise RoleNotAllowed("statistics are for the centre's staff")


def _narrow(session: Session, actor: User, query: Query) -> tuple[ColumnElement[bool], Region | None]:
    """The condition for the region and grid asked for (which must lie in the actor's scope)."""
    condition: ColumnElement[bool] = true()
    region = None
    if query.region_code is not None:
        region = by_code(session, Region, query.region_code)
        if not region_in_scope(region, actor):
            raise RoleNotAllowed(f"region {region.code} ({region.name}) is outside your scope")
        # Days and weeks are found by time, the region only sifting them (see in_region).
        short = query.group_by is GroupBy.DAY or query.period.end - query.period.start <= queries.SHORT
        condition = in_region(region, by_time=short)
    if query.grid_code is not None:
        grid = by_code(session, Grid, query.grid_code)
        if not region_in_scope(grid.region, actor):
            raise RoleNotAllowed(f"grid {grid.code} ({grid.name}) is outside your scope")
        condition = condition & (Case.grid_id == grid.id)
    return condition, region


def table(session: Session, actor: User, query: Query, now: datetime) -> StatisticsTable:
    """The indicators of ``query`` for each group, with a total row; every rate with its
    numerator and denominator."""
    _require_reader(actor)
    keys = require_indicators(query.indicators)
    counts = counts_needed(keys)
    narrow, region = _narrow(session, actor, query)
    if query.group_by in _SPANS:
        grouped: dict[object, dict[str, int]] = {}
        names: dict[object, tuple[str, str]] = {}
        spans, key_format = _SPANS[query.group_by]
        for span in spans(query.period):
            window = queries.Window.of(span.start, span.end, now)
            found = queries.count(session, actor, window, counts, None, narrow).get(None, {})
            key = span.start.strftime(key_format)
            grouped[key], names[key] = found, (key, span.label)
    else:
        window = queries.Window.of(query.period.start, query.period.end, now)
        raw = queries.count(session, actor, window, counts, _COLUMN[query.group_by], narrow)
        roll, names = _grouping(session, query.group_by)
        grouped = _rolled_up(raw.items(), roll)
    return _table(query, keys, counts, grouped, names, region)


def tables(
    session: Session,
    actor: User,
    period: Period,
    groupings: dict[GroupBy, list[str]],
    now: datetime,
    region_code: str | None = None,
) -> dict[GroupBy, StatisticsTable]:
    """The tables of one ``period``, each grouping with its indicators, as ``table`` gives
    them, counted in a single query grouped by all their columns together: a screen showing
    one month several ways reads the month once. A table may have a row of zeros more than
    ``table`` gives (a group whose cases count only for another table). Groupings by a
    case's own columns (and NONE) only; indicators counted from events are refused."""
    _require_reader(actor)
    wanted = {group_by: require_indicators(keys) for group_by, keys in groupings.items()}
    refused = [g.value for g in wanted if g is not GroupBy.NONE and _COLUMN[g] not in queries.CASE_COLUMNS]
    if refused:
        raise InvalidInput(f"these groupings cannot be counted together: {', '.join(refused)}")
    counts = sorted({count for keys in wanted.values() for count in counts_needed(keys)})
    columns = sorted({_COLUMN[g] or "" for g in wanted if g is not GroupBy.NONE})
    narrow, region = _narrow(session, actor, Query(period, GroupBy.NONE, counts, region_code))
    window = queries.Window.of(period.start, period.end, now)
    raw = queries.count_grouped(session, actor, window, counts, columns, narrow)
    found = {}
    for group_by, keys in wanted.items():
        position = columns.index(_COLUMN[group_by] or "") if group_by is not GroupBy.NONE else None
        roll, names = _grouping(session, group_by)
        stored = ((None if position is None else key[position], values) for key, values in raw.items())
        grouped = _rolled_up(stored, roll)
        query = Query(period, group_by, keys, region_code)
        found[group_by] = _table(query, keys, counts_needed(keys), grouped, names, region)
    return found


def _rolled_up(stored: Iterable[tuple[object, dict[str, int]]], roll: Roll) -> dict[object, dict[str, int]]:
    """The counts of each stored key added up under the row key ``roll`` gives it."""
    grouped: dict[object, dict[str, int]] = {}
    for key, values in stored:
        target = grouped.setdefault(roll(key), {})
        for name, value in values.items():
            target[name] = target.get(name, 0) + value
    return grouped


def _table(
    query: Query,
    keys: list[str],
    counts: list[str],
    grouped: dict[object, dict[str, int]],
    names: dict[object, tuple[str, str]],
    region: Region | None,
) -> StatisticsTable:
    """The table of ``query`` from its ``counts`` per row key (``grouped``), rows named by ``names``."""
    rows = [
        StatisticsRow(group=_group(key, names), values=_cells(keys, counts, values))
        for key, values in sorted(grouped.items(), key=lambda item: _order(item[0], names))
    ]
    total = {name: sum(values.get(name, 0) for values in grouped.values()) for name in counts}
    return StatisticsTable(
        period_start=query.period.start,
        period_end=query.period.end,
        period_label=query.period.label,
        region_code=region.code if region else None,
        group_by=query.group_by.value,
        group_label=GROUP_LABELS[query.group_by],
        indicators=keys,
        labels={key: (RATES[key].label if key in RATES else COUNTS[key].label) for key in keys},
        rows=rows,
        total=StatisticsRow(group=Group(key=None, label="合计"), values=_cells(keys, counts, total)),
    )


def _cells(keys: list[str], counts: list[str], values: dict[str, int]) -> dict[str, Cell]:
    cells = {}
    for key in keys:
        rate = RATES.get(key)
        if rate is None:
            cells[key] = Cell(value=values.get(key, 0))
        else:
            figure = Rate(values.get(rate.numerator, 0), values.get(rate.denominator, 0))
            cells[key] = Cell(
                value=figure.value,
                numerator=figure.numerator,
                denominator=figure.denominator,
                display=figure.display,
            )
    return cells


def _group(key: object, names: dict[object, tuple[str, str]]) -> Group:
    if key is None:
        return Group(key=NONE_KEY, label="(未归属)")
    code, label = names.get(key, (str(key), str(key)))
    return Group(key=code, label=label)


def _order(key: object, names: dict[object, tuple[str, str]]) -> tuple[int, str]:
    return (1, "") if key is None else (0, names.get(key, (str(key), ""))[0])


Roll = Callable[[object], object]


def _grouping(session: Session, group_by: GroupBy) -> tuple[Roll, dict[object, tuple[str, str]]]:
    """How a stored key rolls up to the row's key, and each row key's (code, name)."""
    if group_by in _LEVEL:
        regions = session.execute(
            select(Region.id, Region.code, Region.name, Region.level, Region.path)
        ).all()
        by_path_code = {row.code: row for row in regions}
        level = _LEVEL[group_by]
        up: dict[object, object] = {}
        for row in regions:
            codes = [code for code in row.path.split("/") if code]
            up[row.id] = next((by_path_code[c].id for c in codes if by_path_code[c].level is level), None)
        return (lambda key: up.get(key)), {row.id: (row.code, row.name) for row in regions}
    if group_by in (GroupBy.CATEGORY, GroupBy.BIG_CATEGORY):
        categories = session.execute(
            select(Category.id, Category.code, Category.name, Category.parent_id)
        ).all()
        names: dict[object, tuple[str, str]] = {row.id: (row.code, row.name) for row in categories}
        if group_by is GroupBy.CATEGORY:
            return (lambda key: key), names
        parents = {row.id: row.parent_id or row.id for row in categories}
        return (lambda key: parents.get(key, key)), names
    if group_by is GroupBy.GRID:
        grids = session.execute(select(Grid.id, Grid.code, Grid.name)).all()
        return (lambda key: key), {row.id: (row.code, row.name) for row in grids}
    if group_by is GroupBy.DEPARTMENT:
        departments = session.execute(select(Department.id, Department.code, Department.name)).all()
        return (lambda key: key), {row.id: (row.code, row.name) for row in departments}
    if group_by is GroupBy.CHANNEL:
        return (lambda key: key), {
            channel: (channel.value, label) for channel, label in CHANNEL_LABELS.items()
        }
    if group_by is GroupBy.REQUEST_TYPE:
        return (lambda key: key), {kind: (kind.value, label) for kind, label in REQUEST_TYPE_LABELS.items()}
    if group_by in PERSON_ROLES:
        people = session.execute(select(User.id, User.username, User.full_name)).all()
        return (lambda key: key), {row.id: (row.username, row.full_name) for row in people}
    return (lambda key: None), {}


def trace(
    session: Session,
    actor: User,
    query: Query,
    indicator: str,
    part: str | None,
    group: str | None,
    now: datetime,
) -> Select[tuple[Case]]:
    """The cases behind one figure of a table: for a rate its ``part`` (numerator or
    denominator), for a count the count itself; in the row ``group`` (a key of the table's
    rows, "none" for the unattributed row, None for the total)."""
    _require_reader(actor)
    require_indicators([indicator])
    count = _part(indicator, part)
    narrow, _ = _narrow(session, actor, query)
    period = query.period
    person: tuple[str, int | None] | None = None
    if query.group_by in _SPANS and group is not None:
        spans, key_format = _SPANS[query.group_by]
        span = next((s for s in spans(period) if s.start.strftime(key_format) == group), None)
        if span is None:
            raise InvalidInput(f"{query.group_by.value} '{group}' is not in the period {period.label}")
        period = span
    elif group is not None and query.group_by is not GroupBy.NONE:
        condition, person = _group_condition(session, query.group_by, group)
        narrow = narrow & condition
    window = queries.Window.of(period.start, period.end, now)
    return queries.cases_of(actor, window, count, person, narrow)


def _part(indicator: str, part: str | None) -> str:
    rate = RATES.get(indicator)
    if rate is None:
        if part is not None:
            raise InvalidInput(
                f"'{indicator}' is a count: it has no numerator or denominator (leave part out)"
            )
        return indicator
    if part == "numerator":
        return rate.numerator
    if part == "denominator":
        return rate.denominator
    raise InvalidInput(f"'{indicator}' is a rate: say part=numerator or part=denominator")


def _group_condition(
    session: Session, group_by: GroupBy, group: str
) -> tuple[ColumnElement[bool], tuple[str, int | None] | None]:
    """The condition on cases of the row ``group`` (and, for a person, whom)."""
    missing = group == NONE_KEY
    if group_by in PERSON_ROLES:
        user_id = None if missing else session.scalar(select(User.id).where(User.username == group))
        if not missing and user_id is None:
            raise InvalidInput(f"unknown user '{group}'")
        return true(), (_COLUMN[group_by] or "", user_id)
    if group_by in _LEVEL:
        if missing:
            raise InvalidInput("the unattributed row of a region table cannot be opened; open the total")
        region = by_code(session, Region, group)
        if region.level is not _LEVEL[group_by]:
            raise InvalidInput(f"region {group} is not a {_LEVEL[group_by].value}")
        return in_region(region), None
    if group_by is GroupBy.GRID:
        return (Case.grid_id.is_(None) if missing else Case.grid_id == by_code(session, Grid, group).id), None
    if group_by is GroupBy.DEPARTMENT:
        if missing:
            return Case.department_id.is_(None), None
        return Case.department_id == by_code(session, Department, group).id, None
    if group_by in (GroupBy.CATEGORY, GroupBy.BIG_CATEGORY):
        category = by_code(session, Category, group)
        if group_by is GroupBy.BIG_CATEGORY:
            children = select(Category.id).where(Category.parent_id == category.id)
            return Case.category_id.in_(children) | (Case.category_id == category.id), None
        return Case.category_id == category.id, None
    if group_by is GroupBy.CHANNEL:
        return Case.channel == _enum(Channel, group), None
    if missing:
        return Case.request_type.is_(None), None
    return Case.request_type == _enum(RequestType, group), None


def _enum(kind: type[E], value: str) -> E:
    try:
        return kind(value)
    except ValueError:
        raise InvalidInput(f"unknown {kind.__name__} '{value}'") from None


def rebuild_facts(
    session: Session, rules: CentreRules, *, apply: bool = False, batch: int = 5000
) -> tuple[int, int]:
    """Recompute every case's statistics facts from its events, ``batch`` cases at a time;
    return (cases read, cases whose facts were out of date). Without ``apply`` nothing is
    written (a dry run). Run it after an upgrade or a bulk load: the case service keeps the
    facts of every case it writes."""
    categories = {category.id: category for category in session.scalars(select(Category))}
    limits: dict[tuple[int, Urgency], dict[Stage, TimeLimit]] = {}
    read = changed = 0
    last_id = 0
    while rows := stored_facts.case_batch(session, last_id, batch):
        events = stored_facts.events_between(session, rows[0].id, rows[-1].id)
        changes = []
        for row in rows:
            key = (row.category_id, row.urgency)
            if key not in limits:
                limits[key] = stage_limits(categories[row.category_id], row.urgency)
            values = stored_facts.fact_values(case_facts(events.get(row.id, []), limits[key], rules.calendar))
            if any(getattr(row, name) != value for name, value in values.items()):
                changes.append({"case_id": row.id, **values})
        read, changed, last_id = read + len(rows), changed + len(changes), rows[-1].id
        if apply:
            stored_facts.update_facts(session, changes)
    return read, changed
