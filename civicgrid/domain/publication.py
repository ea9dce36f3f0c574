"""Published (frozen) evaluations: which periods can be published and how they are named,
the fingerprint of the scheme a result was computed under, and what changed between two
published versions of the same evaluation.

A published evaluation is the ranking of one kind of object (departments, streets …) for a
finished calendar period, stored as it was computed; late events change the live figures,
never a published version. Publishing again stores version n + 1, and the differences
between the two are listed per evaluated object.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from civicgrid.domain.errors import InvalidInput
from civicgrid.domain.evaluation import Scheme
from civicgrid.domain.indicators import Period, PeriodKind

#: How a publishable period is written: a month "2026-10", a quarter "2026-Q4", a year "2026".
PERIOD_KEY_FORMS = "a month (2026-10), a quarter (2026-Q4) or a year (2026)"
_MONTH = re.compile(r"^(\d{4})-(\d{2})$")
_QUARTER = re.compile(r"^(\d{4})-Q([1-4])$")
_YEAR = re.compile(r"^(\d{4})$")


@dataclass(frozen=True)
class PublishedPeriod:
    """A calendar period that an evaluation is published for, with its printable key."""

    key: str
    kind: PeriodKind
    period: Period


def period_of_key(key: str, zone: ZoneInfo) -> PublishedPeriod:
    """The period a key names ("2026-10", "2026-Q4", "2026"), in the centre's timezone;
    InvalidInput naming the forms for anything else."""
    text = key.strip().upper()
    if found := _MONTH.match(text):
        year, month = int(found[1]), int(found[2])
        if not 1 <= month <= 12:
            raise InvalidInput(f"period '{key}': there is no month {month}; write {PERIOD_KEY_FORMS}")
        kind, first = PeriodKind.MONTH, date(year, month, 1)
    elif found := _QUARTER.match(text):
        kind, first = PeriodKind.QUARTER, date(int(found[1]), (int(found[2]) - 1) * 3 + 1, 1)
    elif found := _YEAR.match(text):
        kind, first = PeriodKind.YEAR, date(int(found[1]), 1, 1)
    else:
        raise InvalidInput(f"period '{key}' is not {PERIOD_KEY_FORMS}")
    if first.year < 2000:
        raise InvalidInput(f"period '{key}' lies before 2000")
    return PublishedPeriod(text, kind, Period.containing(kind, first, zone))


def require_finished(published: PublishedPeriod, now: datetime) -> None:
    """Refuse a period that is not over at ``now``: its figures can still change with every
    case handled today, so there is nothing final to publish yet."""
    if now < published.period.end:
        end = published.period.end
        raise InvalidInput(
            f"the period {published.period.label} ({published.key}) is not over: it ends "
            f"{end.strftime('%Y-%m-%d %H:%M')} ({end.tzinfo}); publish it after that"
        )


def scheme_content(scheme: Scheme) -> dict[str, Any]:
    """The scheme as plain data (numbers as text), in a stable shape: what a publication
    keeps of the scheme it was computed under."""
    return json.loads(json.dumps(asdict(scheme), default=_plain, sort_keys=True))  # type: ignore[no-any-return]


def scheme_digest(scheme: Scheme) -> str:
    """A fingerprint of the scheme's content (SHA-256 of its canonical JSON): equal for two
    files that differ in comments or layout only, different for any changed weight, step or
    grade, even when the file's ``version`` was not raised."""
    canonical = json.dumps(scheme_content(scheme), ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def _plain(value: object) -> object:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, Mapping):
        return dict(value)
    raise TypeError(f"not JSON: {value!r}")  # pragma: no cover - a scheme holds nothing else


# --- differences between two published versions ------------------------------------------


@dataclass(frozen=True)
class ItemChange:
    """One indicator of an evaluated object whose figure, score or points changed."""

    indicator: str
    label: str
    figure_before: str | None
    figure_after: str | None
    score_before: float | None
    score_after: float | None
    points_before: float | None
    points_after: float | None


@dataclass(frozen=True)
class UnitChange:
    """How one evaluated object (a department, street …) fared between two versions:
    ``change`` is "changed", "added" (only in the later one) or "removed"."""

    key: str
    label: str
    change: str
    rank_before: int | None
    rank_after: int | None
    value_before: float | None
    value_after: float | None
    grade_before: str | None
    grade_after: str | None
    items: list[ItemChange] = field(default_factory=list)

    @property
    def value_delta(self) -> float | None:
        """The change of the composite value (None when the object is in one version only)."""
        if self.value_before is None or self.value_after is None:
            return None
        return round(self.value_after - self.value_before, 2)


@dataclass(frozen=True)
class Changes:
    """The differences between a version and the one before it."""

    scheme_changed: bool
    units: list[UnitChange]
    unchanged: int


def compare(
    before: Sequence[Mapping[str, Any]],
    after: Sequence[Mapping[str, Any]],
    scheme_before: str,
    scheme_after: str,
) -> Changes:
    """The differences between the ranked rows ``before`` and ``after`` (each as stored:
    ``rank``, ``group`` {key, label}, ``value``, ``grade``, ``items``, ``adjustments``),
    object by object, in the later version's order (removed objects last)."""
    old = {row["group"]["key"]: row for row in before}
    new = {row["group"]["key"]: row for row in after}
    units: list[UnitChange] = []
    unchanged = 0
    for key, row in new.items():
        previous = old.get(key)
        if previous is None:
            units.append(_unit(key, row["group"]["label"], "added", None, row))
            continue
        unit = _unit(key, row["group"]["label"], "changed", previous, row)
        if unit.items or (unit.rank_before, unit.value_before, unit.grade_before) != (
            unit.rank_after,
            unit.value_after,
            unit.grade_after,
        ):
            units.append(unit)
        else:
            unchanged += 1
    for key, row in old.items():
        if key not in new:
            units.append(_unit(key, row["group"]["label"], "removed", row, None))
    return Changes(scheme_before != scheme_after, units, unchanged)


def _unit(
    key: str, label: str, change: str, before: Mapping[str, Any] | None, after: Mapping[str, Any] | None
) -> UnitChange:
    return UnitChange(
        key=key,
        label=label,
        change=change,
        rank_before=before["rank"] if before else None,
        rank_after=after["rank"] if after else None,
        value_before=before["value"] if before else None,
        value_after=after["value"] if after else None,
        grade_before=before["grade"] if before else None,
        grade_after=after["grade"] if after else None,
        items=_items(before, after) if before and after else [],
    )


def _lines(row: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """The row's scored items and adjustments by indicator (an adjustment as points only)."""
    lines = {item["indicator"]: dict(item) for item in row["items"]}
    for adjustment in row.get("adjustments", []):
        lines[f"{adjustment['indicator']}:adjustment"] = {
            "indicator": adjustment["indicator"],
            "label": f"{adjustment['label']}(加减分)",
            "figure": None,
            "score": None,
            "points": adjustment["points"],
        }
    return lines


def _items(before: Mapping[str, Any], after: Mapping[str, Any]) -> list[ItemChange]:
    old, new = _lines(before), _lines(after)
    changes = []
    for name in [*new, *(name for name in old if name not in new)]:
        was, now = old.get(name, {}), new.get(name, {})
        fields = ("figure", "score", "points")
        if all(was.get(part) == now.get(part) for part in fields):
            continue
        changes.append(
            ItemChange(
                indicator=(now or was)["indicator"],
                label=(now or was)["label"],
                figure_before=was.get("figure"),
                figure_after=now.get("figure"),
                score_before=was.get("score"),
                score_after=now.get("score"),
                points_before=was.get("points"),
                points_after=now.get("points"),
            )
        )
    return changes
