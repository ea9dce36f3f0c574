"""What a briefing says: the period's figures beside the period before (环比) and the same
period a year earlier (同比), intake by channel and request type, the most frequent problems,
the evaluation rankings with grades, the red (overdue) cases, the hotspots and the notable
cases, with a written summary.

Every figure comes from the statistics, evaluation and map services (and the store's
scoped case queries), with the reader's scope: a briefing shows what its reader may see.
The result is a plain structure (sections of paragraphs, tables and chart data) that the
renderers draw without further queries.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from civicgrid.domain.briefings import (
    BRIEFING_KIND_LABELS,
    BriefingKind,
    default_day,
    period_of,
    previous_period,
    require_past,
    same_length,
    year_earlier,
)
from civicgrid.domain.errors import InvalidInput, RoleNotAllowed
from civicgrid.domain.evaluation import Scheme
from civicgrid.domain.indicators import COUNTS, RATES, Period
from civicgrid.domain.vocabulary import (
    GRADE_COLOURS,
    GRID_KIND_LABELS,
    REGION_LEVEL_LABELS,
    STATE_LABELS,
    RegionLevel,
    Role,
)
from civicgrid.schemas import CaseFilters
from civicgrid.schemas_statistics import Cell, EvaluationTable, StatisticsTable
from civicgrid.services import evaluation, geo, statistics
from civicgrid.services.statistics import NONE_KEY, GroupBy, Query
from civicgrid.store import briefings as queries
from civicgrid.store.lookups import by_code
from civicgrid.store.models import Case, Region, User
from civicgrid.store.scoping import region_in_scope

#: The counts and rates of the overview, in the order a briefing lists them.
OVERVIEW_COUNTS = ("reported", "registered", "closed", "closed_on_time", "overdue", "due_closure")
OVERVIEW_RATES = ("closure_rate", "on_time_closure_rate", "on_time_handling_rate", "satisfaction_rate")
TREND_COUNTS = ("reported", "registered", "closed")
#: How many rows the ranked lists show.
TOP_CATEGORIES = 10
TOP_GRIDS = 10
TOP_PLACES = 10
RED_SHOWN = 20
NOTABLE_SHOWN = 8
#: Days the daily briefing's trend looks back over (its own day included).
DAILY_TREND_DAYS = 7


class ColumnKind(StrEnum):
    """How a column's values are written: the HTML and the workbook format each kind."""

    TEXT = "text"
    #: A whole number of cases.
    COUNT = "count"
    #: A rate as a fraction (0.9372 → 93.72%); None is "—".
    RATE = "rate"
    #: A relative change as a fraction (0.125 → +12.5%); None when there is nothing to compare.
    CHANGE = "change"
    #: A change of a rate in percentage points (1.23 → +1.23个百分点).
    POINTS = "points"
    #: An evaluation score out of 100.
    SCORE = "score"
    #: A moment, in the centre's time.
    MOMENT = "moment"
    #: An evaluation grade (A–E), in its colour.
    GRADE = "grade"


Value = str | int | float | datetime | None


@dataclass(frozen=True)
class Column:
    """A column of a table: its heading and how its values are written."""

    label: str
    kind: ColumnKind = ColumnKind.TEXT
    #: Its width in the workbook, in characters.
    width: int = 12
    #: Whether the page (and the PDF) shows it too: the workbook has every column.
    printed: bool = True
    #: Keep the value on one line on the page.
    nowrap: bool = False


@dataclass(frozen=True)
class Table:
    """A table of the briefing (a sheet of the workbook)."""

    key: str
    title: str
    columns: list[Column]
    rows: list[list[Value]]
    note: str = ""
    #: Whether the page (and the PDF) shows it: detail a chart shows already is left to the workbook.
    printed: bool = True

    @property
    def printed_columns(self) -> list[int]:
        """The indexes of the columns the page shows."""
        return [index for index, column in enumerate(self.columns) if column.printed]


class ChartKind(StrEnum):
    LINE = "line"
    BAR = "bar"
    PIE = "pie"


@dataclass(frozen=True)
class Series:
    """One line or set of bars: its name and a value per category (colours per bar if given)."""

    label: str
    values: list[float]
    colours: list[str] | None = None


@dataclass(frozen=True)
class Chart:
    """A chart's data; ``charts`` draws it."""

    key: str
    title: str
    kind: ChartKind
    categories: list[str]
    series: list[Series]
    unit: str = "件"


@dataclass(frozen=True)
class Section:
    """A numbered part of the briefing: its heading, what it says, its charts and tables."""

    heading: str
    paragraphs: list[str] = field(default_factory=list)
    charts: list[Chart] = field(default_factory=list)
    tables: list[Table] = field(default_factory=list)


@dataclass(frozen=True)
class Briefing:
    """A briefing, ready to be drawn."""

    kind: BriefingKind
    title: str
    #: The centre's logo as a PNG, or None.
    logo: bytes | None
    region_code: str
    region_name: str
    #: Whose cases are counted, in the centre's words.
    scope: str
    period: Period
    #: Until when the figures are counted (the period's end, or now while it runs).
    as_of: datetime
    generated_at: datetime
    #: Comparison periods, in the centre's words.
    compared_with: str
    summary: list[str]
    sections: list[Section]

    @property
    def kind_label(self) -> str:
        return BRIEFING_KIND_LABELS[self.kind]

    @property
    def heading(self) -> str:
        """The document's own title, e.g. 江滨街道月报."""
        return f"{self.region_name}{self.kind_label}"

    @property
    def complete(self) -> bool:
        """Whether the period is over (else the figures run until ``as_of``)."""
        return self.as_of >= self.period.end

    @property
    def file_stem(self) -> str:
        """A file name without its ending, e.g. 江滨街道-月报-2026年11月."""
        label = self.period.label.split("（")[0]
        return f"{self.region_name}-{self.kind_label}-{label}"

    @property
    def tables(self) -> list[Table]:
        """Every table, in the order the briefing shows them."""
        return [table for section in self.sections for table in section.tables]

    @property
    def charts(self) -> list[Chart]:
        return [chart for section in self.sections for chart in section.charts]


@dataclass(frozen=True)
class BriefingRequest:
    """What a reader asks for: a kind, a day in its period (default: yesterday), a region
    (default: the reader's own) and a masthead other than the centre's."""

    kind: BriefingKind
    day: date | None = None
    region_code: str | None = None
    title: str | None = None


@dataclass(frozen=True)
class Masthead:
    """The centre's title and logo (PNG), printed on every briefing."""

    title: str
    logo: bytes | None = None


def target_region(session: Session, actor: User, region_code: str | None) -> Region:
    """The region a briefing is of: the one named (which must lie in the actor's scope), or
    the actor's own."""
    if actor.role is Role.CITIZEN:
        raise RoleNotAllowed("briefings are for the centre's staff")
    if region_code is None:
        if actor.region is None:
            raise InvalidInput("say which region the briefing is of (a region code)")
        return actor.region
    region = by_code(session, Region, region_code)
    if not region_in_scope(region, actor):
        raise RoleNotAllowed(f"region {region.code} ({region.name}) is outside your scope")
    return region


def briefing_period(request: BriefingRequest, now: datetime, zone: ZoneInfo) -> Period:
    """The period the request covers: the one containing its day (not in the future)."""
    day = require_past(request.day, now, zone) if request.day else default_day(now, zone)
    return period_of(request.kind, day, zone)


def assemble(
    session: Session,
    actor: User,
    request: BriefingRequest,
    now: datetime,
    *,
    zone: ZoneInfo,
    scheme: Scheme,
    masthead: Masthead,
) -> Briefing:
    """The briefing ``request`` asks for, as ``actor`` sees it at ``now``."""
    region = target_region(session, actor, request.region_code)
    period = briefing_period(request, now, zone)
    return _Assembly(session, actor, region, request.kind, period, now, zone, scheme).briefing(
        request.title or masthead.title, masthead.logo
    )


# --- writing figures in the centre's words ---------------------------------------------------


def rate_text(value: float | None) -> str:
    """93.72%, or — for a rate without a denominator."""
    return "—" if value is None else f"{value * 100:.2f}%"


def change(current: int, before: int) -> float | None:
    """The relative change of a count; None when the earlier count is 0."""
    return None if before == 0 else (current - before) / before


def points(current: float | None, before: float | None) -> float | None:
    """The change of a rate in percentage points; None when either is "—"."""
    return None if current is None or before is None else round((current - before) * 100, 2)


def trend_words(value: float | None) -> str:
    """上升12.5% / 下降3.0% / 持平 / 无可比数据."""
    if value is None:
        return "无可比数据"
    if abs(value) < 0.0005:
        return "持平"
    return f"{'上升' if value > 0 else '下降'}{abs(value) * 100:.1f}%"


def _share(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def _count(cell: Cell | None) -> int:
    return int(cell.value or 0) if cell is not None else 0


def _rate(cell: Cell | None) -> float | None:
    return None if cell is None or cell.value is None else float(cell.value)


def _local(moment: datetime, zone: ZoneInfo) -> datetime:
    return moment.astimezone(zone)


def _duration(seconds: float) -> str:
    """超期 3天5小时 / 4小时 / 25分钟."""
    minutes = int(seconds // 60)
    days, rest = divmod(minutes, 24 * 60)
    hours, minutes = divmod(rest, 60)
    if days:
        return f"{days}天{hours}小时"
    return f"{hours}小时{minutes}分钟" if hours else f"{minutes}分钟"


def _moment_text(moment: datetime) -> str:
    return f"{moment.month}月{moment.day}日{moment:%H:%M}"


class _Assembly:
    """One briefing's worth of questions to the services, for one reader, region and period."""

    def __init__(
        self,
        session: Session,
        actor: User,
        region: Region,
        kind: BriefingKind,
        period: Period,
        now: datetime,
        zone: ZoneInfo,
        scheme: Scheme,
    ) -> None:
        self.session, self.actor, self.region, self.kind = session, actor, region, kind
        self.period, self.now, self.zone, self.scheme = period, now, zone, scheme
        self.as_of = min(period.end, now)
        self.previous = same_length(previous_period(kind, period), period, now)
        self.last_year = same_length(year_earlier(kind, period), period, now)

    def table(self, group_by: GroupBy, keys: Sequence[str], period: Period | None = None) -> StatisticsTable:
        """A statistics table of the region (the service checks scope and role)."""
        query = Query(period or self.period, group_by, list(keys), self.region.code)
        return statistics.table(self.session, self.actor, query, self.now)

    def briefing(self, title: str, logo: bytes | None) -> Briefing:
        overview = self.overview()
        intake = self.intake()
        problems = self.problems()
        rankings = self.rankings()
        red = self.red_cases()
        hotspots = self.hotspots()
        notable = self.notable()
        summary = [
            *overview.paragraphs[:1],
            *intake.paragraphs[:1],
            *problems.paragraphs[:1],
            *rankings.paragraphs[:1],
            *red.paragraphs[:1],
            *hotspots.paragraphs[:1],
        ]
        sections = [overview, intake, problems, rankings, red, hotspots, notable, self.definitions()]
        numbered = [
            Section(
                f"{_NUMERALS[index]}、{section.heading}", section.paragraphs, section.charts, section.tables
            )
            for index, section in enumerate(sections[:-1])
        ]
        return Briefing(
            kind=self.kind,
            title=title,
            logo=logo,
            region_code=self.region.code,
            region_name=self.region.name,
            scope=self.scope(),
            period=self.period,
            as_of=_local(self.as_of, self.zone),
            generated_at=_local(self.now, self.zone),
            compared_with=self.compared_with(),
            summary=summary,
            sections=[*numbered, sections[-1]],
        )

    def scope(self) -> str:
        level = REGION_LEVEL_LABELS[self.region.level]
        if self.actor.role is Role.HANDLER and self.actor.department is not None:
            return f"{self.region.name}（{level}）内由{self.actor.department.name}承办的案件"
        return f"{self.region.name}（{level}）全部案件"

    def compared_with(self) -> str:
        cut = "" if self.as_of >= self.period.end else "同期"
        return f"上期为{self.previous.label}{cut}，去年同期为{self.last_year.label}{cut}"

    # --- 一、总体情况 -------------------------------------------------------------------

    def overview(self) -> Section:
        keys = [*OVERVIEW_COUNTS, *OVERVIEW_RATES]
        now_, before, year = (
            self.table(GroupBy.NONE, keys, period).total.values
            for period in (self.period, self.previous, self.last_year)
        )
        counts = Table(
            "overview_counts",
            "主要数量指标",
            [
                Column("指标", width=16),
                Column("本期", ColumnKind.COUNT),
                Column("上期", ColumnKind.COUNT),
                Column("环比", ColumnKind.CHANGE),
                Column("去年同期", ColumnKind.COUNT),
                Column("同比", ColumnKind.CHANGE),
            ],
            [
                [
                    COUNTS[key].label,
                    _count(now_[key]),
                    _count(before[key]),
                    change(_count(now_[key]), _count(before[key])),
                    _count(year[key]),
                    change(_count(now_[key]), _count(year[key])),
                ]
                for key in OVERVIEW_COUNTS
            ],
            note=self.compared_with(),
        )
        rates = Table(
            "overview_rates",
            "主要比率指标",
            [
                Column("指标", width=16),
                Column("本期", ColumnKind.RATE),
                Column("分子/分母", width=14),
                Column("上期", ColumnKind.RATE),
                Column("环比（百分点）", ColumnKind.POINTS, width=16),
                Column("去年同期", ColumnKind.RATE),
                Column("同比（百分点）", ColumnKind.POINTS, width=16),
            ],
            [
                [
                    RATES[key].label,
                    _rate(now_[key]),
                    f"{now_[key].numerator}/{now_[key].denominator}",
                    _rate(before[key]),
                    points(_rate(now_[key]), _rate(before[key])),
                    _rate(year[key]),
                    points(_rate(now_[key]), _rate(year[key])),
                ]
                for key in OVERVIEW_RATES
            ],
            note="比率为\u201c—\u201d表示分母为0；各指标口径见文末指标说明。",
        )
        figures = {key: _count(now_[key]) for key in OVERVIEW_COUNTS}
        summary = (
            f"{self.period.label}{'' if self.as_of >= self.period.end else '（截至' + _moment_text(_local(self.as_of, self.zone)) + '）'}，"
            f"{self.region.name}共受理各类问题{figures['reported']}件，"
            f"环比{trend_words(change(figures['reported'], _count(before['reported'])))}，"
            f"同比{trend_words(change(figures['reported'], _count(year['reported'])))}；"
            f"立案{figures['registered']}件，结案{figures['closed']}件，其中按期结案{figures['closed_on_time']}件；"
            f"超期{figures['overdue']}件。结案率{rate_text(_rate(now_['closure_rate']))}，"
            f"按期结案率{rate_text(_rate(now_['on_time_closure_rate']))}，"
            f"满意率{rate_text(_rate(now_['satisfaction_rate']))}。"
        )
        trend_table, trend_chart = self.trend()
        return Section("总体情况", [summary], [trend_chart], [counts, rates, trend_table])

    def trend_days(self) -> list[Period]:
        """The days the trend shows: the daily briefing's last week, else the period's days
        (up to today while the period runs)."""
        first = self.period.start.date()
        if self.kind is BriefingKind.DAILY:
            first -= timedelta(days=DAILY_TREND_DAYS - 1)
        days = []
        day = first
        while (start := period_of(BriefingKind.DAILY, day, self.zone)).start < min(self.period.end, self.now):
            days.append(start)
            day += timedelta(days=1)
        return days

    def trend(self) -> tuple[Table, Chart]:
        days = self.trend_days()
        totals = [self.table(GroupBy.NONE, TREND_COUNTS, day).total.values for day in days]
        labels = [f"{day.start.month}月{day.start.day}日" for day in days]
        table = Table(
            "trend",
            "每日趋势",
            [Column("日期"), *(Column(COUNTS[key].label, ColumnKind.COUNT) for key in TREND_COUNTS)],
            [
                [label, *(_count(values[key]) for key in TREND_COUNTS)]
                for label, values in zip(labels, totals, strict=True)
            ],
            printed=False,
        )
        chart = Chart(
            "trend",
            "每日上报、立案、结案数",
            ChartKind.LINE,
            labels,
            [Series(COUNTS[key].label, [_count(values[key]) for values in totals]) for key in TREND_COUNTS],
        )
        return table, chart

    # --- 二、受理情况 -------------------------------------------------------------------

    def intake(self) -> Section:
        channels = self.table(GroupBy.CHANNEL, ["reported", "registered"])
        types = self.table(GroupBy.REQUEST_TYPE, ["reported"])
        total = _count(channels.total.values["reported"])
        by_channel = sorted(
            channels.rows, key=lambda row: (-_count(row.values["reported"]), row.group.key or "")
        )
        by_type = sorted(types.rows, key=lambda row: (-_count(row.values["reported"]), row.group.key or ""))

        def type_label(key: str | None, label: str) -> str:
            return "未分类（巡查发现等）" if key == NONE_KEY else label

        channel_table = Table(
            "channels",
            "受理渠道",
            [
                Column("渠道", width=18),
                Column("上报数", ColumnKind.COUNT),
                Column("占比", ColumnKind.RATE),
                Column("立案数", ColumnKind.COUNT),
            ],
            [
                [
                    row.group.label,
                    _count(row.values["reported"]),
                    _share(_count(row.values["reported"]), total),
                    _count(row.values["registered"]),
                ]
                for row in by_channel
            ]
            + [["合计", total, _share(total, total), _count(channels.total.values["registered"])]],
        )
        type_table = Table(
            "request_types",
            "诉求类型",
            [
                Column("诉求类型", width=18),
                Column("上报数", ColumnKind.COUNT),
                Column("占比", ColumnKind.RATE),
            ],
            [
                [
                    type_label(row.group.key, row.group.label),
                    _count(row.values["reported"]),
                    _share(_count(row.values["reported"]), total),
                ]
                for row in by_type
            ],
        )
        shown = [row for row in by_channel if _count(row.values["reported"])]
        words = "、".join(
            f"{row.group.label}{_count(row.values['reported'])}件（占{rate_text(_share(_count(row.values['reported']), total))}）"
            for row in shown[:3]
        )
        paragraph = f"从受理渠道看，{words}位居前列。" if shown else "本期没有受理案件。"
        typed = [row for row in by_type if row.group.key != NONE_KEY and _count(row.values["reported"])]
        if typed:
            paragraph += (
                "诉求类型中，"
                + "、".join(f"{row.group.label}{_count(row.values['reported'])}件" for row in typed)
                + "。"
            )
        charts = [
            Chart(
                "channels",
                "受理渠道分布",
                ChartKind.PIE,
                [row.group.label for row in shown],
                [Series("上报数", [_count(row.values["reported"]) for row in shown])],
            ),
            Chart(
                "request_types",
                "诉求类型分布",
                ChartKind.PIE,
                [
                    type_label(row.group.key, row.group.label)
                    for row in by_type
                    if _count(row.values["reported"])
                ],
                [
                    Series(
                        "上报数",
                        [_count(row.values["reported"]) for row in by_type if _count(row.values["reported"])],
                    )
                ],
            ),
        ]
        return Section("受理情况", [paragraph], charts, [channel_table, type_table])

    # --- 三、高发问题 -------------------------------------------------------------------

    def problems(self) -> Section:
        keys = ["reported", "registered", "closed"]
        current = self.table(GroupBy.CATEGORY, keys)
        before = {
            row.group.key: _count(row.values["reported"])
            for row in self.table(GroupBy.CATEGORY, ["reported"], self.previous).rows
        }
        total = _count(current.total.values["reported"])
        parents = queries.big_classes(self.session)
        top = sorted(
            (row for row in current.rows if _count(row.values["reported"])),
            key=lambda row: (-_count(row.values["reported"]), row.group.key or ""),
        )[:TOP_CATEGORIES]
        table = Table(
            "categories",
            "高发问题",
            [
                Column("排名", ColumnKind.COUNT, width=6),
                Column("大类", width=16),
                Column("小类", width=18),
                Column("上报数", ColumnKind.COUNT),
                Column("占比", ColumnKind.RATE),
                Column("上期", ColumnKind.COUNT),
                Column("环比", ColumnKind.CHANGE),
                Column("立案数", ColumnKind.COUNT),
                Column("结案数", ColumnKind.COUNT),
            ],
            [
                [
                    rank,
                    parents.get(row.group.key or "", ("", ""))[1],
                    row.group.label,
                    _count(row.values["reported"]),
                    _share(_count(row.values["reported"]), total),
                    before.get(row.group.key, 0),
                    change(_count(row.values["reported"]), before.get(row.group.key, 0)),
                    _count(row.values["registered"]),
                    _count(row.values["closed"]),
                ]
                for rank, row in enumerate(top, start=1)
            ],
            note=f"按上报数排列，列出前{TOP_CATEGORIES}位小类。",
        )
        if top:
            paragraph = "高发问题前三位为：" + "、".join(
                f"{row.group.label}（{_count(row.values['reported'])}件）" for row in top[:3]
            )
            rising = [
                row
                for row in top
                if before.get(row.group.key, 0)
                and _count(row.values["reported"]) >= 2 * before[row.group.key]
            ]
            paragraph += (
                "。"
                if not rising
                else "；较上期明显上升的有" + "、".join(row.group.label for row in rising) + "。"
            )
        else:
            paragraph = "本期没有上报问题。"
        chart = Chart(
            "categories",
            "高发问题（上报数）",
            ChartKind.BAR,
            [row.group.label for row in top],
            [Series("上报数", [_count(row.values["reported"]) for row in top])],
        )
        return Section("高发问题", [paragraph], [chart], [table])

    # --- 四、考核排名 -------------------------------------------------------------------

    def rankings(self) -> Section:
        level = self.region.level
        tables, paragraphs, charts = [], [], []
        regional = None
        if level is RegionLevel.DISTRICT and "street" in self.scheme.targets:
            regional = ("street", "街道考核排名", "街道")
        elif level is RegionLevel.STREET and "community" in self.scheme.targets:
            regional = ("community", "社区考核排名", "社区")
        elif level is RegionLevel.STREET and "street" in self.scheme.targets:
            regional = ("street", "本街道考核结果", "街道")
        for target, title, noun in (
            *([regional] if regional else []),
            ("department", "部门考核排名", "部门"),
        ):
            if target not in self.scheme.targets:
                continue
            ranking = evaluation.ranking(
                self.session, self.actor, self.scheme, target, self.period, self.now, self.region.code
            )
            table = _ranking_table(target, title, ranking)
            tables.append(table)
            if ranking.rows:
                best, worst = ranking.rows[0], ranking.rows[-1]
                text = f"{title.removesuffix('排名').removesuffix('结果')}中，{best.group.label}综合指标值最高（{best.value:.2f}分，{best.grade}级）"
                if len(ranking.rows) > 1:
                    text += f"，{worst.group.label}最低（{worst.value:.2f}分，{worst.grade}级）"
                low = [row.group.label for row in ranking.rows if row.grade in ("D", "E")]
                text += (
                    f"；评为D、E级的{noun}有{len(low)}个" + (f"（{'、'.join(low)}）" if low else "") + "。"
                )
                paragraphs.append(text)
            if target == "department" and ranking.rows:
                charts.append(
                    Chart(
                        "departments",
                        "部门综合指标值",
                        ChartKind.BAR,
                        [row.group.label for row in ranking.rows],
                        [
                            Series(
                                "综合指标值",
                                [row.value for row in ranking.rows],
                                [GRADE_COLOURS.get(row.grade, "#9e9e9e") for row in ranking.rows],
                            )
                        ],
                        unit="分",
                    )
                )
        grades = "、".join(f"{grade.name}≥{grade.minimum:g}" for grade in self.scheme.grades)
        scheme = (
            f"考核方案：{self.scheme.name}（版本{self.scheme.version}），综合指标值满分100，等级{grades}。"
        )
        return Section("考核排名", ["".join(paragraphs) or "本期没有可考核的对象。", scheme], charts, tables)

    # --- 五、红灯案件 -------------------------------------------------------------------

    def red_cases(self) -> Section:
        cases, total, more = queries.red_cases(
            self.session, self.actor, self.region.code, self.now, RED_SHOWN
        )
        rows: list[list[Value]] = [
            [
                case.number,
                case.title,
                case.category.name,
                case.address,
                case.department.name if case.department else "",
                STATE_LABELS[case.state],
                _local(case.deadline_at, self.zone).replace(tzinfo=None) if case.deadline_at else None,
                _duration((self.now - case.deadline_at).total_seconds()) if case.deadline_at else "",
            ]
            for case in cases
        ]
        table = Table(
            "red_cases",
            "红灯案件",
            [
                Column("案件编号", width=20, nowrap=True),
                Column("问题", width=22),
                Column("小类", width=14),
                Column("地址", width=30, printed=False),
                Column("责任部门", width=16),
                Column("当前环节", width=10, nowrap=True),
                Column("时限", ColumnKind.MOMENT, width=17),
                Column("已超期", width=12, nowrap=True),
            ],
            rows,
            note=f"截至{_moment_text(_local(self.now, self.zone))}仍超期未办结的案件共{total}{'+' if more else ''}件，按超期时间由长到短列出前{RED_SHOWN}件。",
        )
        count = f"{total}{'件以上' if more else '件'}"
        if cases:
            first = cases[0]
            paragraph = (
                f"截至{_moment_text(_local(self.now, self.zone))}，超期未办结（红灯）案件{count}，"
                f"其中超期最久的是{first.number}（{first.title}，{first.department.name if first.department else '尚未派遣'}），"
                f"已超期{rows[0][7]}。请各责任单位抓紧办理并反馈。"
            )
        else:
            paragraph = f"截至{_moment_text(_local(self.now, self.zone))}，没有超期未办结（红灯）案件。"
        return Section("红灯案件", [paragraph], [], [table])

    # --- 六、热点区域 -------------------------------------------------------------------

    def hotspots(self) -> Section:
        filters = CaseFilters(
            region_code=self.region.code, created_from=self.period.start, created_to=self.as_of
        )
        grids = geo.grid_hotspots(self.session, self.actor, filters, self.now).grids[:TOP_GRIDS]
        places = queries.repeated_places(
            self.session, self.actor, self.region.code, self.period.start, self.as_of, self.now, TOP_PLACES
        )
        grid_table = Table(
            "grids",
            "热点网格",
            [
                Column("排名", ColumnKind.COUNT, width=6),
                Column("网格编号", width=16),
                Column("网格名称", width=26),
                Column("网格类型", width=10),
                Column("上报数", ColumnKind.COUNT),
            ],
            [
                [rank, grid.code, grid.name, GRID_KIND_LABELS[grid.kind], grid.count]
                for rank, grid in enumerate(grids, start=1)
            ],
            note="一件案件计入其所在网格，也计入其所在的叠加网格。",
        )
        place_table = Table(
            "places",
            "重复反映点位",
            [
                Column("排名", ColumnKind.COUNT, width=6),
                Column("地点", width=34),
                Column("上报次数", ColumnKind.COUNT),
                Column("反映的问题", width=30),
                Column("最近一次", ColumnKind.MOMENT, width=17),
            ],
            [
                [
                    rank,
                    place.address,
                    place.count,
                    "、".join(f"{name}{number}次" for name, number in place.categories[:3]),
                    _local(place.last_reported_at, self.zone).replace(tzinfo=None),
                ]
                for rank, place in enumerate(places, start=1)
            ],
            note="同一地址期内被反映两次及以上的点位。",
        )
        parts = []
        if grids:
            parts.append(f"上报最多的网格是{grids[0].name}（{grids[0].count}件）")
        parts.append(
            f"期内被重复反映的点位有{len(places)}{'处以上' if len(places) == TOP_PLACES else '处'}"
            + (f"，最多的是{places[0].address}（{places[0].count}次）" if places else "")
        )
        chart = Chart(
            "grids",
            "热点网格（上报数）",
            ChartKind.BAR,
            [grid.name for grid in grids],
            [Series("上报数", [grid.count for grid in grids])],
        )
        return Section(
            "热点区域", ["；".join(parts) + "。"], [chart] if grids else [], [grid_table, place_table]
        )

    # --- 七、典型案件 -------------------------------------------------------------------

    def notable(self) -> Section:
        found = queries.notable_cases(
            self.session, self.actor, self.region.code, self.period.start, self.as_of, self.now, NOTABLE_SHOWN
        )
        rows: list[list[Value]] = []
        for item in found:
            case = item.case
            reasons = [
                word
                for flag, word in (
                    (item.supervised, "督办"),
                    (item.escalated, "上报上级"),
                    (item.not_satisfied, "群众不满意"),
                    (item.reworked, "返工"),
                    (item.urgent, "紧急"),
                    (item.duplicates > 0, f"重复反映{item.duplicates + 1}次"),
                )
                if flag
            ]
            rows.append(
                [
                    case.number,
                    case.title,
                    case.category.name,
                    case.address,
                    STATE_LABELS[case.state],
                    "、".join(reasons),
                    _excerpt(case),
                ]
            )
        table = Table(
            "notable",
            "典型案件",
            [
                Column("案件编号", width=20, nowrap=True),
                Column("问题", width=22),
                Column("小类", width=14),
                Column("地址", width=30, printed=False),
                Column("当前环节", width=10, nowrap=True),
                Column("关注原因", width=18),
                Column("情况", width=40),
            ],
            rows,
            note="期内上报、经督办、上报上级、返工、群众不满意、紧急或被重复反映的案件，按关注程度列出。",
        )
        paragraph = f"本期值得关注的案件{len(rows)}件，详见下表。" if rows else "本期没有需要特别关注的案件。"
        return Section("典型案件", [paragraph], [], [table])

    # --- 附:指标说明 ---------------------------------------------------------------------

    def definitions(self) -> Section:
        keys = [*OVERVIEW_COUNTS, *OVERVIEW_RATES]
        rows: list[list[Value]] = [
            [RATES[key].label, f"{RATES[key].definition}"]
            if key in RATES
            else [COUNTS[key].label, COUNTS[key].definition]
            for key in keys
        ]
        rows.append(["红灯案件", "当前环节已超过时限仍未完成的案件（按生成时刻计）"])
        table = Table("definitions", "指标说明", [Column("指标", width=14), Column("口径", width=70)], rows)
        return Section(
            "附：指标说明",
            [f"统计范围：{self.scope()}。时间按{self.zone.key}时区计；期间为左闭右开区间。"],
            [],
            [table],
        )


_NUMERALS = "一二三四五六七八九十"


def _excerpt(case: Case, length: int = 60) -> str:
    text = " ".join(case.description.split())
    return text if len(text) <= length else text[: length - 1] + "…"


def _ranking_table(target: str, title: str, ranking: EvaluationTable) -> Table:
    items = [(item.indicator, item.label) for item in ranking.rows[0].items] if ranking.rows else []
    rows: list[list[Value]] = []
    for row in ranking.rows:
        figures = {item.indicator: item.figure for item in row.items}
        rows.append(
            [row.rank, row.group.label, row.value, row.grade, *(figures.get(key, "—") for key, _ in items)]
        )
    return Table(
        f"ranking_{target}",
        title,
        [
            Column("排名", ColumnKind.COUNT, width=6),
            Column("名称", width=20),
            Column("综合指标值", ColumnKind.SCORE),
            Column("等级", ColumnKind.GRADE, width=6),
            *(Column(label, width=12) for _, label in items),
        ],
        rows,
        note=f"按{ranking.scheme_name}计算，综合指标值满分100。",
    )
