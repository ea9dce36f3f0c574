"""The evaluation service (考核评价): score each department, street, dispatcher, inspector
or operator of a period under the centre's scheme, from the statistics of its scope, and
rank them."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from civicgrid.domain.errors import InvalidInput
from civicgrid.domain.evaluation import Scheme, evaluate
from civicgrid.domain.indicators import COUNTS, RATES, Period, counts_needed
from civicgrid.domain.vocabulary import GridKind, Role
from civicgrid.schemas_statistics import AdjustmentOut, EvaluationRow, EvaluationTable, ItemScoreOut
from civicgrid.services import statistics
from civicgrid.services.statistics import NONE_KEY, PERSON_ROLES, GroupBy, Query
from civicgrid.store.models import Grid, Region, User


def _label(key: str) -> str:
    return RATES[key].label if key in RATES else COUNTS[key].label


def ranking(
    session: Session,
    actor: User,
    scheme: Scheme,
    kind: str,
    period: Period,
    now: datetime,
    region_code: str | None = None,
) -> EvaluationTable:
    """The objects of ``kind`` in the actor's scope (narrowed to ``region_code``), scored
    under ``scheme`` for ``period``, best first; equal values share a rank. Step tables
    (written for a month) are scaled to the period's length in months. People are ranked
    among those of the target's role (an inspector's own report makes no operator)."""
    target = scheme.targets.get(kind)
    if target is None:
        raise InvalidInput(
            f"the evaluation scheme does not evaluate {kind}; it evaluates {', '.join(scheme.targets)}"
        )
    months = period.length_in_months()
    counts = counts_needed(target.counts)
    table = statistics.table(session, actor, Query(period, GroupBy(kind), counts, region_code), now)
    grids = _grids_per_region(session) if any(item.per_grid for item in target.items) else {}
    role = PERSON_ROLES.get(GroupBy(kind))
    keys = [row.group.key for row in table.rows if row.group.key]
    staff = None if role is None else set(_usernames(session, role, keys))
    scored = []
    for row in table.rows:
        if row.group.key == NONE_KEY or row.group.key is None:
            continue
        if staff is not None and row.group.key not in staff:
            continue
        values = {key: int(cell.value or 0) for key, cell in row.values.items()}
        scored.append(
            (row.group, evaluate(scheme, target, values, grids.get(row.group.key, 1), row.group.key, months))
        )
    scored.sort(key=lambda pair: (-pair[1].value, pair[0].key or ""))
    rows = []
    for position, (group, score) in enumerate(scored, start=1):
        rank = rows[-1].rank if rows and rows[-1].value == float(score.value) else position
        rows.append(
            EvaluationRow(
                rank=rank,
                group=group,
                value=float(score.value),
                grade=score.grade,
                items=[
                    ItemScoreOut(
                        indicator=line.indicator,
                        label=_label(line.indicator),
                        figure=line.figure,
                        score=None if line.score is None else round(float(line.score), 2),
                        weight=float(line.weight),
                        points=round(float(line.points), 2),
                    )
                    for line in score.items
                ],
                adjustments=[
                    AdjustmentOut(indicator=key, label=_label(key), points=float(points))
                    for key, points in score.adjustments
                ],
            )
        )
    return EvaluationTable(
        scheme_name=scheme.name,
        scheme_version=scheme.version,
        target=kind,
        period_start=period.start,
        period_end=period.end,
        period_label=period.label,
        region_code=table.region_code,
        rows=rows,
    )


def _usernames(session: Session, role: Role, names: list[str]) -> list[str]:
    """Those of ``names`` that are users with ``role``."""
    return list(session.scalars(select(User.username).where(User.role == role, User.username.in_(names))))


def _grids_per_region(session: Session) -> dict[str, int]:
    """The comprehensive grids in each region's subtree, by region code."""
    regions = session.execute(select(Region.code, Region.path)).all()
    paths = session.scalars(
        select(Region.path).join(Grid, Grid.region_id == Region.id).where(Grid.kind == GridKind.COMPREHENSIVE)
    ).all()
    return {code: sum(path.startswith(prefix) for path in paths) for code, prefix in regions}
