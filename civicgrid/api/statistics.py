"""Statistics routes: the indicator catalogue, a table of figures for a period grouped by
one dimension, the cases behind any figure of it (cursor-paged like the case list), and
the evaluation (考核) ranking under the centre's scheme."""

from __future__ import annotations

from datetime import date
from enum import StrEnum
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import StreamingResponse

from civicgrid.api.deps import Actor, DbSession, Now, Rules
from civicgrid.api.downloads import DOWNLOAD_RESPONSES, FormatParam, case_download, download
from civicgrid.api.errors import ERROR_RESPONSES
from civicgrid.api.present import case_summary
from civicgrid.domain.errors import InvalidInput
from civicgrid.domain.evaluation import TARGET_LABELS as EVALUATION_LABELS
from civicgrid.domain.evaluation import Scheme
from civicgrid.domain.indicators import COUNTS, RATES, Period, PeriodKind
from civicgrid.exports.tables import evaluation_columns, evaluation_rows, statistics_columns, statistics_rows
from civicgrid.schemas import COUNT_LIMIT, CasePage, CodeRef, Cursor, decode_cursor, encode_cursor
from civicgrid.schemas_statistics import EvaluationTable, IndicatorInfo, StatisticsTable
from civicgrid.services import evaluation as evaluation_service
from civicgrid.services import statistics as statistics_service
from civicgrid.services.statistics import GroupBy
from civicgrid.store import cases as case_queries

router = APIRouter(prefix="/api/v1/statistics", tags=["statistics"], responses=ERROR_RESPONSES)

#: The indicators a table shows when none are asked for: the ones a centre is ranked by.
DEFAULT_INDICATORS = (
    "registered,due_closure,closed,closed_on_time,closure_rate,on_time_closure_rate,"
    "on_time_handling_rate,rework_rate,satisfaction_rate"
)


def requested_period(
    rules: Rules,
    now: Now,
    period: Annotated[
        PeriodKind | None, Query(description="a calendar period containing `date` (or give `from` and `to`)")
    ] = None,
    day: Annotated[date | None, Query(alias="date", description="a day in the period; default today")] = None,
    first: Annotated[date | None, Query(alias="from", description="first day of a from–to period")] = None,
    last: Annotated[
        date | None, Query(alias="to", description="last day of a from–to period (included)")
    ] = None,
) -> Period:
    """The period a request asks for, in the centre's timezone."""
    zone = rules.calendar.timezone
    if period is not None:
        if first is not None or last is not None:
            raise InvalidInput("give either period (with date) or from and to, not both")
        return Period.containing(period, day or now.astimezone(zone).date(), zone)
    if first is not None and last is not None:
        if day is not None:
            raise InvalidInput("date goes with period; a from–to period takes from and to only")
        return Period.between(first, last, zone)
    raise InvalidInput("say which period: period=day|week|month|quarter|year (with date), or from and to")


RequestedPeriod = Annotated[Period, Depends(requested_period)]
RegionParam = Annotated[CodeRef | None, Query(description="narrow to this region (within your scope)")]


def statistics_query(
    period: RequestedPeriod,
    group_by: Annotated[GroupBy, Query(description="what the rows are")] = GroupBy.NONE,
    indicators: Annotated[
        str, Query(max_length=2000, description="comma-separated keys of counts and rates (see /indicators)")
    ] = DEFAULT_INDICATORS,
    region: RegionParam = None,
) -> statistics_service.Query:
    """The period, grouping, indicators and region of a statistics request."""
    keys = [key.strip() for key in indicators.split(",") if key.strip()]
    if not keys:
        raise InvalidInput("name at least one indicator")
    return statistics_service.Query(period, group_by, keys, region)


StatisticsQuery = Annotated[statistics_service.Query, Depends(statistics_query)]


@router.get(
    "/indicators", response_model=list[IndicatorInfo], summary="The counts and rates, with their definitions"
)
def list_indicators(_actor: Actor) -> list[IndicatorInfo]:
    counts = [
        IndicatorInfo(key=c.key, label=c.label, kind="count", definition=c.definition)
        for c in COUNTS.values()
    ]
    rates = [
        IndicatorInfo(
            key=r.key,
            label=r.label,
            kind="rate",
            definition=r.definition,
            numerator=r.numerator,
            denominator=r.denominator,
            higher_is_better=r.higher_is_better,
        )
        for r in RATES.values()
    ]
    return counts + rates


@router.get(
    "/table",
    response_model=StatisticsTable,
    summary="Indicators for a period, grouped by region, grid, department, category, channel, "
    "request type, person or month; a rate with a zero denominator is null, shown as —",
)
def statistics_table(session: DbSession, actor: Actor, now: Now, query: StatisticsQuery) -> StatisticsTable:
    return statistics_service.table(session, actor, query, now)


@router.get(
    "/table/export",
    response_class=StreamingResponse,
    responses=DOWNLOAD_RESPONSES,
    summary="A statistics table as a CSV or xlsx file: one row per group and the total, each rate "
    "followed by its numerator and denominator",
)
def export_statistics_table(
    session: DbSession, actor: Actor, rules: Rules, now: Now, query: StatisticsQuery, file_format: FormatParam
) -> StreamingResponse:
    table = statistics_service.table(session, actor, query, now)
    start = table.period_start.astimezone(rules.calendar.timezone).strftime("%Y%m%d")
    return download(
        file_format,
        f"统计表-{table.group_label}-{table.period_label}",
        f"statistics-{table.group_by}-{start}",
        statistics_columns(table),
        statistics_rows(table),
        rules.calendar.timezone,
        table.period_label,
    )


@router.get(
    "/cases/export",
    response_class=StreamingResponse,
    responses=DOWNLOAD_RESPONSES,
    summary="The cases behind one figure of a table as a CSV or xlsx file, newest first, streamed",
)
def export_statistics_cases(
    request: Request,
    session: DbSession,
    actor: Actor,
    rules: Rules,
    now: Now,
    query: StatisticsQuery,
    indicator: Annotated[str, Query(max_length=60, description="the count or rate of the figure")],
    file_format: FormatParam,
    part: Annotated[
        str | None, Query(pattern="^(numerator|denominator)$", description="for a rate: which of its parts")
    ] = None,
    group: Annotated[
        str | None, Query(max_length=60, description="the row's group key; leave out for the total row")
    ] = None,
) -> StreamingResponse:
    cases = statistics_service.trace(session, actor, query, indicator, part, group, now)
    zone = rules.calendar.timezone
    return case_download(
        request, cases, now, zone, file_format, f"案件明细-{indicator}", f"cases-{indicator}"
    )


@router.get("/cases", response_model=CasePage, summary="The cases behind one figure of a table, newest first")
def statistics_cases(
    session: DbSession,
    actor: Actor,
    now: Now,
    query: StatisticsQuery,
    indicator: Annotated[str, Query(max_length=60, description="the count or rate of the figure")],
    part: Annotated[
        str | None, Query(pattern="^(numerator|denominator)$", description="for a rate: which of its parts")
    ] = None,
    group: Annotated[
        str | None, Query(max_length=60, description="the row's group key; leave out for the total row")
    ] = None,
    cursor: Annotated[
        Cursor | None, Query(description="the next_cursor of the page before; none for the first page")
    ] = None,
    page_size: Annotated[int, Query(ge=1, le=200)] = 50,
) -> CasePage:
    cases = statistics_service.trace(session, actor, query, indicator, part, group, now)
    rows, following = case_queries.page(session, cases, decode_cursor(cursor) if cursor else None, page_size)
    total, more = case_queries.count_up_to(session, cases, COUNT_LIMIT)
    return CasePage(
        items=[case_summary(c, now) for c in rows],
        page_size=page_size,
        next_cursor=encode_cursor(following) if following else None,
        total=total,
        total_is_estimate=more,
        total_display=f"{total:,}+" if more else f"{total:,}",
    )


class EvaluationTarget(StrEnum):
    """What an evaluation ranks."""

    DEPARTMENT = "department"
    STREET = "street"
    COMMUNITY = "community"
    DISPATCHER = "dispatcher"
    INSPECTOR = "inspector"
    OPERATOR = "operator"


@router.get(
    "/evaluation/{target}",
    response_model=EvaluationTable,
    summary="The evaluation (考核) of departments, streets, communities, dispatchers, inspectors or operators "
    "for a period: "
    "each one's composite value, grade and score breakdown under the centre's scheme, ranked",
)
def evaluation(
    target: EvaluationTarget,
    request: Request,
    session: DbSession,
    actor: Actor,
    now: Now,
    period: RequestedPeriod,
    region: RegionParam = None,
) -> EvaluationTable:
    scheme: Scheme = request.app.state.scheme
    return evaluation_service.ranking(session, actor, scheme, target.value, period, now, region)


@router.get(
    "/evaluation/{target}/export",
    response_class=StreamingResponse,
    responses=DOWNLOAD_RESPONSES,
    summary="The evaluation (考核) ranking as a CSV or xlsx file, each item's figure, score and points",
)
def export_evaluation(
    target: EvaluationTarget,
    request: Request,
    session: DbSession,
    actor: Actor,
    rules: Rules,
    now: Now,
    period: RequestedPeriod,
    file_format: FormatParam,
    region: RegionParam = None,
) -> StreamingResponse:
    scheme: Scheme = request.app.state.scheme
    table = evaluation_service.ranking(session, actor, scheme, target.value, period, now, region)
    start = table.period_start.astimezone(rules.calendar.timezone).strftime("%Y%m%d")
    return download(
        file_format,
        f"考核-{EVALUATION_LABELS[target.value]}-{table.period_label}",
        f"evaluation-{target.value}-{start}",
        evaluation_columns(table.rows),
        evaluation_rows(table.rows),
        rules.calendar.timezone,
        table.period_label,
    )
