"""What each export holds: its Chinese columns and its rows.

- a case list (the case list's filters, or the cases behind a figure), read from the store
  in keyset batches: one round of a few thousand rows at a time, never the whole list;
- a statistics table (each rate followed by its numerator and denominator);
- an evaluation ranking, live or published (each item's figure, score and points).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, select
from sqlalchemy.orm import Session

from civicgrid.domain.clock import light_at
from civicgrid.domain.indicators import COUNTS, RATES
from civicgrid.domain.vocabulary import (
    CASE_KIND_LABELS,
    CHANNEL_LABELS,
    LIGHT_LABELS,
    REQUEST_TYPE_LABELS,
    SATISFACTION_LABELS,
    STAGE_LABELS,
    STATE_LABELS,
    URGENCY_LABELS,
    RegionLevel,
)
from civicgrid.exports.formats import Column, Value
from civicgrid.schemas_statistics import EvaluationRow, StatisticsTable
from civicgrid.store import cases as case_queries
from civicgrid.store.models import Case, Category, Department, Grid, Region

# --- cases -------------------------------------------------------------------------------

CASE_COLUMNS = (
    Column("案件编号", width=22),
    Column("标题", width=30),
    Column("来源渠道"),
    Column("案件类型", width=8),
    Column("诉求类型", width=8),
    Column("大类", width=14),
    Column("小类", width=16),
    Column("紧急程度", width=8),
    Column("状态", width=10),
    Column("当前环节", width=8),
    Column("灯色", width=10),
    Column("街道/镇", width=14),
    Column("社区/村", width=14),
    Column("网格", width=14),
    Column("责任部门", width=16),
    Column("地址", width=30),
    Column("经度", "number"),
    Column("纬度", "number"),
    Column("上报时间", "datetime", 19),
    Column("立案时间", "datetime", 19),
    Column("当前时限", "datetime", 19),
    Column("结案时间", "datetime", 19),
    Column("返工次数", "number", 8),
    Column("回访满意度", width=10),
)

#: What a case row of the export reads (the store adds created_at and id for the keyset).
_CASE_FIELDS: tuple[ColumnElement[Any], ...] = (
    Case.number,
    Case.title,
    Case.channel,
    Case.kind,
    Case.request_type,
    Case.category_id,
    Case.urgency,
    Case.state,
    Case.stage,
    Case.warning_at,
    Case.deadline_at,
    Case.region_id,
    Case.grid_id,
    Case.department_id,
    Case.address,
    Case.lng,
    Case.lat,
    Case.registered_at,
    Case.closed_at,
    Case.rework_count,
    Case.satisfaction,
)


@dataclass(frozen=True)
class _Names:
    """The names a case row shows for its ids, read once per export (the reference tables
    are small beside the cases)."""

    categories: dict[int, tuple[str, str]]
    regions: dict[int, tuple[str, str]]
    grids: dict[int, str]
    departments: dict[int, str]

    @classmethod
    def load(cls, session: Session) -> _Names:
        categories = session.execute(select(Category.id, Category.name, Category.parent_id)).all()
        category_names = {row.id: row.name for row in categories}
        regions = session.execute(
            select(Region.id, Region.code, Region.name, Region.level, Region.path)
        ).all()
        by_code = {row.code: row for row in regions}

        def named(path: str, level: RegionLevel) -> str:
            codes = (code for code in path.split("/") if code)
            return next((by_code[c].name for c in codes if c in by_code and by_code[c].level is level), "")

        return cls(
            categories={
                row.id: (category_names.get(row.parent_id, "") if row.parent_id else row.name, row.name)
                for row in categories
            },
            regions={
                row.id: (named(row.path, RegionLevel.STREET), named(row.path, RegionLevel.COMMUNITY))
                for row in regions
            },
            grids={row.id: row.code for row in session.execute(select(Grid.id, Grid.code))},
            departments={row.id: row.name for row in session.execute(select(Department.id, Department.name))},
        )


def case_rows(session: Session, query: Select[tuple[Case]], now: datetime) -> Iterator[tuple[Value, ...]]:
    """The rows of the cases of ``query`` (already scoped and filtered), newest first, read
    in keyset batches; lights as of ``now``."""
    names = _Names.load(session)
    for batch in case_queries.in_batches(session, query, _CASE_FIELDS):
        # Unpacked by position: a million rows read by attribute name cost seconds more.
        for (number, title, channel, kind, request_type, category_id, urgency, state, stage, warning_at,
             deadline_at, region_id, grid_id, department_id, address, lng, lat, registered_at, closed_at,
             rework_count, satisfaction, created_at, _) in batch:  # fmt: skip
            big, small = names.categories.get(category_id, ("", ""))
            street, community = names.regions.get(region_id, ("", ""))
            light = light_at(now, warning_at, deadline_at)
            yield (
                number,
                title,
                CHANNEL_LABELS[channel],
                CASE_KIND_LABELS[kind],
                REQUEST_TYPE_LABELS[request_type] if request_type else None,
                big,
                small,
                URGENCY_LABELS[urgency],
                STATE_LABELS[state],
                STAGE_LABELS[stage] if stage else None,
                LIGHT_LABELS[light][0] if light else None,
                street,
                community,
                names.grids.get(grid_id) if grid_id else None,
                names.departments.get(department_id) if department_id else None,
                address,
                lng,
                lat,
                created_at,
                registered_at,
                deadline_at,
                closed_at,
                rework_count,
                SATISFACTION_LABELS[satisfaction] if satisfaction else None,
            )


# --- a statistics table ------------------------------------------------------------------


def statistics_columns(table: StatisticsTable) -> list[Column]:
    """The group's code and name, then each indicator; a rate with its numerator and
    denominator beside it, so that every figure can be checked from the file."""
    columns = [Column("编码", width=14), Column(table.group_label, width=16)]
    for key in table.indicators:
        rate = RATES.get(key)
        if rate is None:
            columns.append(Column(table.labels[key], "number"))
            continue
        columns += [
            Column(rate.label, "percent"),
            Column(f"{rate.label}·分子({COUNTS[rate.numerator].label})", "number", 16),
            Column(f"{rate.label}·分母({COUNTS[rate.denominator].label})", "number", 16),
        ]
    return columns


def statistics_rows(table: StatisticsTable) -> Iterator[tuple[Value, ...]]:
    """One row per group, then the total row."""
    for row in [*table.rows, table.total]:
        values: list[Value] = [row.group.key or "", row.group.label]
        for key in table.indicators:
            cell = row.values[key]
            if key in RATES:
                values += [cell.value, cell.numerator, cell.denominator]
            else:
                values.append(cell.value)
        yield tuple(values)


# --- an evaluation ranking ---------------------------------------------------------------


def evaluation_columns(rows: Sequence[EvaluationRow]) -> list[Column]:
    """Rank, code, name, composite value and grade, then for each scored item its figure,
    score and points, and each adjustment's points (the items are the scheme's, the same
    on every row)."""
    columns = [
        Column("排名", "number", 6),
        Column("编码", width=14),
        Column("名称", width=16),
        Column("综合指标值", "number"),
        Column("等级", width=6),
    ]
    if rows:
        for item in rows[0].items:
            columns += [
                Column(f"{item.label}·指标值", width=14),
                Column(f"{item.label}·得分", "number"),
                Column(f"{item.label}·权重{item.weight:g}%·计分", "number", 18),
            ]
        columns += [Column(f"{adjustment.label}·加减分", "number") for adjustment in rows[0].adjustments]
    return columns


def evaluation_rows(rows: Sequence[EvaluationRow]) -> Iterator[tuple[Value, ...]]:
    """One row per evaluated object, best first."""
    for row in rows:
        values: list[Value] = [row.rank, row.group.key, row.group.label, row.value, row.grade]
        for item in row.items:
            values += [item.figure, item.score, item.points]
        values += [adjustment.points for adjustment in row.adjustments]
        yield tuple(values)
