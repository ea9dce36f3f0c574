"""The indicators of EVALUATION.md §1, §2 and §4 as data: each count with its Chinese name
and definition, each rate as numerator / denominator, the period a figure is counted over,
and how a rate is shown ("—" when its denominator is 0, never 0 %).

Which cases each count takes is written as a query in ``civicgrid.store.statistics``; this
module holds the vocabulary and the arithmetic, so it stays pure.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from enum import StrEnum
from zoneinfo import ZoneInfo

from civicgrid.domain.errors import InvalidInput


@dataclass(frozen=True)
class Count:
    """A base count: ``key`` in the API, ``label`` in the UI, ``definition`` in the centre's words."""

    key: str
    label: str
    definition: str


@dataclass(frozen=True)
class RateDef:
    """A rate = ``numerator`` / ``denominator`` (keys of counts); ``higher_is_better`` says
    how an evaluation scores it (rate × 100, or (1 − rate) × 100)."""

    key: str
    label: str
    numerator: str
    denominator: str
    higher_is_better: bool = True

    @property
    def definition(self) -> str:
        """The formula in the centre's words, e.g. '结案数 / 应结案数'."""
        return f"{COUNTS[self.numerator].label} / {COUNTS[self.denominator].label}"


_COUNTS = [
    Count("reported", "上报数", "在期内上报(登记)的问题,各渠道合计"),
    Count("inspector_reported", "监督员上报数", "期内由监督员(网格员)上报的问题"),
    Count("valid_inspector_reports", "有效上报数", "期内监督员上报并已立案的问题"),
    Count("public_verified", "监督举报核实数", "期内立案的非监督员渠道(公众举报等)问题,挂账除外"),
    Count("registered", "立案数", "期内立案的案件,挂账(当前挂账)除外"),
    Count("voided", "作废数", "期内立案、后被作废的案件"),
    Count("accurate_registered", "准确立案数", "期内立案且未作废的案件(立案数 − 作废数)"),
    Count("registered_on_time", "按时立案数", "期内立案且不晚于立案时限(从上报起算的核实/立案时限)"),
    Count("grid_registered", "网格立案数", "立案数中所在网格有网格员的案件(计入该网格员)"),
    Count(
        "missed_reports",
        "漏报数",
        "网格立案数中非监督员渠道(公众举报等)上报、未作废的案件:网格员未发现的问题",
    ),
    Count("closed", "结案数", "期内结案的案件"),
    Count("closed_on_time", "按期结案数", "期内结案且结案时间不晚于处置时限(含批准的延期,扣除挂账时间)"),
    Count("due_open", "到期未结案数", "处置时限落在期内且已届满、期末仍未结案的案件,挂账和作废除外"),
    Count("due_closure", "应结案数", "结案数 + 到期未结案数"),
    Count("handled", "处置数", "期内处置完毕(处置反馈)的案件"),
    Count("handled_on_time", "按期处置数", "期内处置完毕且不晚于处置时限"),
    Count("handled_late", "超期处置数", "期内处置完毕但晚于处置时限"),
    Count("due_unhandled", "超期未处置数", "处置时限落在期内且已届满、期末仍未处置完毕的案件,挂账和作废除外"),
    Count("due_handling", "应处置数", "处置数 + 超期未处置数"),
    Count("overdue", "超期数", "超期处置数 + 超期未处置数"),
    Count("supervised_overdue", "督办超期数", "超期数中期末前至少被督办过一次的案件"),
    Count("rework", "返工数", "期内处置完毕、此前至少一次核查不通过的案件"),
    Count("verified", "核实数", "期内完成核实的任务"),
    Count("verified_on_time", "按时核实数", "期内完成且不晚于核实时限"),
    Count("due_verification", "应核实数", "核实数 + 时限落在期内已届满而期末未核实的任务"),
    Count("checked", "核查数", "期内完成核查(通过或不通过)的任务"),
    Count("checked_on_time", "按时核查数", "期内完成且不晚于核查时限"),
    Count("due_check", "应核查数", "核查数 + 时限落在期内已届满而期末未核查的任务"),
    Count("dispatched", "派遣数", "期内的派遣(含联合派遣、退单后改派),每次派遣计一次"),
    Count("misdispatched", "错派退回数", "期内的派遣中被部门退单的"),
    Count("accurate_dispatched", "准确派遣数", "派遣数 − 错派退回数"),
    Count("dispatch_done", "按时派遣考核数", "期内完成派遣的案件(以最后一次派遣计)"),
    Count("dispatched_on_time", "按时派遣数", "期内完成派遣且不晚于派遣时限"),
    Count("due_dispatch", "应派遣数", "按时派遣考核数 + 时限落在期内已届满而期末未派遣的案件"),
    Count("revisited", "回访数", "期内结案、已回访的案件"),
    Count("rated", "有效评价数", "期内结案、回访时有满意度评价的案件"),
    Count("satisfied", "满意数", "期内结案、评价为满意或基本满意的案件"),
    Count("not_satisfied", "不满意数", "期内结案、评价为不满意的案件"),
    Count("merged", "重复工单数", "期内上报、被合并(并单)的重复诉求"),
]
COUNTS: dict[str, Count] = {count.key: count for count in _COUNTS}

_RATES = [
    RateDef("closure_rate", "结案率", "closed", "due_closure"),
    RateDef("on_time_closure_rate", "按期结案率", "closed_on_time", "due_closure"),
    RateDef("handling_rate", "处置率", "handled", "due_handling"),
    RateDef("on_time_handling_rate", "按期处置率", "handled_on_time", "due_handling"),
    RateDef("rework_rate", "返工率", "rework", "handled", higher_is_better=False),
    RateDef("overdue_rate", "超期率", "overdue", "due_handling", higher_is_better=False),
    RateDef("public_report_rate", "监督举报率", "public_verified", "registered", higher_is_better=False),
    RateDef("valid_report_rate", "监督员有效上报率", "valid_inspector_reports", "inspector_reported"),
    RateDef("missed_report_rate", "漏报率", "missed_reports", "grid_registered", higher_is_better=False),
    RateDef("on_time_verification_rate", "按时核实率", "verified_on_time", "due_verification"),
    RateDef("check_rate", "核查率", "checked", "due_check"),
    RateDef("on_time_check_rate", "按时核查率", "checked_on_time", "due_check"),
    RateDef("accurate_registration_rate", "准确立案率", "accurate_registered", "registered"),
    RateDef("on_time_registration_rate", "按时立案率", "registered_on_time", "registered"),
    RateDef("on_time_dispatch_rate", "按时派遣率", "dispatched_on_time", "due_dispatch"),
    RateDef("accurate_dispatch_rate", "准确派遣率", "accurate_dispatched", "dispatched"),
    RateDef("rejection_rate", "退单率", "misdispatched", "dispatched", higher_is_better=False),
    RateDef("revisit_rate", "回访率", "revisited", "closed"),
    RateDef("satisfaction_rate", "满意率", "satisfied", "rated"),
    RateDef("duplicate_rate", "重复诉求率", "merged", "reported", higher_is_better=False),
]
RATES: dict[str, RateDef] = {rate.key: rate for rate in _RATES}


def require_indicators(keys: list[str]) -> list[str]:
    """``keys`` if each names a count or a rate; InvalidInput listing the unknown ones."""
    unknown = [key for key in keys if key not in COUNTS and key not in RATES]
    if unknown:
        raise InvalidInput(
            f"unknown indicator(s) {', '.join(unknown)}; known: {', '.join([*COUNTS, *RATES])}"
        )
    return keys


def counts_needed(keys: list[str]) -> list[str]:
    """The counts the indicators ``keys`` are computed from, each once, in catalogue order."""
    wanted: set[str] = set()
    for key in keys:
        rate = RATES.get(key)
        wanted.update((rate.numerator, rate.denominator) if rate else (key,))
    return [key for key in COUNTS if key in wanted]


@dataclass(frozen=True)
class Rate:
    """A rate with its parts: ``value`` is None when the denominator is 0 (shown "—")."""

    numerator: int
    denominator: int

    @property
    def value(self) -> float | None:
        """numerator / denominator, or None for a zero denominator."""
        return self.numerator / self.denominator if self.denominator else None

    @property
    def display(self) -> str:
        """As the centre reads it: '93.72%', or '—' for a zero denominator (never 0 %)."""
        value = self.value
        return "—" if value is None else f"{value * 100:.2f}%"


class PeriodKind(StrEnum):
    """The calendar periods a figure can be counted over (besides an explicit from–to)."""

    DAY = "day"
    WEEK = "week"
    MONTH = "month"
    QUARTER = "quarter"
    YEAR = "year"


@dataclass(frozen=True)
class Period:
    """The half-open interval [start, end) a figure is counted over, in the centre's timezone."""

    start: datetime
    end: datetime
    label: str

    @classmethod
    def containing(cls, kind: PeriodKind, day: date, zone: ZoneInfo) -> Period:
        """The day, week (Monday first), month, quarter or year that contains ``day``."""
        if kind is PeriodKind.DAY:
            first, after, label = day, day + timedelta(days=1), day.isoformat()
        elif kind is PeriodKind.WEEK:
            first = day - timedelta(days=day.weekday())
            after = first + timedelta(days=7)
            year, week, _ = first.isocalendar()
            label = f"{year}年第{week}周"
        elif kind is PeriodKind.MONTH:
            first, after, label = (
                day.replace(day=1),
                _add_months(day.replace(day=1), 1),
                f"{day.year}年{day.month}月",
            )
        elif kind is PeriodKind.QUARTER:
            quarter = (day.month - 1) // 3
            first = date(day.year, quarter * 3 + 1, 1)
            after, label = _add_months(first, 3), f"{day.year}年第{quarter + 1}季度"
        else:
            first, after, label = date(day.year, 1, 1), date(day.year + 1, 1, 1), f"{day.year}年"
        return cls(_midnight(first, zone), _midnight(after, zone), label)

    @classmethod
    def between(cls, first: date, last: date, zone: ZoneInfo) -> Period:
        """The days ``first`` to ``last``, both included; InvalidInput if it ends before it starts."""
        if last < first:
            raise InvalidInput(f"the period ends ({last.isoformat()}) before it starts ({first.isoformat()})")
        return cls(_midnight(first, zone), _midnight(last + timedelta(days=1), zone), f"{first}至{last}")

    def months(self) -> list[Period]:
        """The calendar months this period covers, each cut to the period (for trends)."""
        zone = self.start.tzinfo
        assert isinstance(zone, ZoneInfo)
        months = []
        cursor = self.start.date().replace(day=1)
        while _midnight(cursor, zone) < self.end:
            month = Period.containing(PeriodKind.MONTH, cursor, zone)
            months.append(Period(max(month.start, self.start), min(month.end, self.end), month.label))
            cursor = _add_months(cursor, 1)
        return months

    def length_in_months(self) -> Decimal:
        """How many calendar months the period spans: 1 for a month, 3 for a quarter, 12 for
        a year, and a share of each month for other spans (a week in a 30-day month: 7/30).
        InvalidInput for an empty period."""
        if self.end <= self.start:
            raise InvalidInput(f"the period {self.label} is empty: it ends when it starts")
        zone = self.start.tzinfo
        assert isinstance(zone, ZoneInfo)
        total = Decimal(0)
        for part in self.months():
            whole = Period.containing(PeriodKind.MONTH, part.start.astimezone(zone).date(), zone)
            share = Decimal((part.end - part.start).total_seconds())
            total += share / Decimal((whole.end - whole.start).total_seconds())
        return total

    def days(self) -> list[Period]:
        """The calendar days this period covers, each cut to the period (for daily trends);
        InvalidInput beyond ``MAX_DAYS`` days (a day is one query)."""
        zone = self.start.tzinfo
        assert isinstance(zone, ZoneInfo)
        first, after = self.start.date(), self.end.astimezone(zone).date()
        if self.end > _midnight(after, zone):
            after += timedelta(days=1)
        if (after - first).days > MAX_DAYS:
            raise InvalidInput(
                f"a daily table covers at most {MAX_DAYS} days; this period has {(after - first).days}"
            )
        days = []
        for offset in range((after - first).days):
            day = Period.containing(PeriodKind.DAY, first + timedelta(days=offset), zone)
            days.append(Period(max(day.start, self.start), min(day.end, self.end), day.label))
        return days


#: The most days a table grouped by day covers.
MAX_DAYS = 92


def _midnight(day: date, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, time(), tzinfo=zone)


def _add_months(first: date, months: int) -> date:
    index = first.year * 12 + first.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)
