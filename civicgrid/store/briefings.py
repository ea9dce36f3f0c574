"""Queries behind the briefings: the red (overdue) cases, the places where problems come back,
the notable cases of a period, and the stored briefings and their schedules.

Case queries start from ``civicgrid.store.cases.filtered``, so a briefing lists only the
cases its reader's case list would show; stored briefings are read through
``regions_in_scope``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Select, exists, func, select
from sqlalchemy.orm import Session, selectinload

from civicgrid.domain.briefings import BriefingKind
from civicgrid.domain.vocabulary import Action, CaseState, Light, Satisfaction, Urgency
from civicgrid.schemas import CaseFilters
from civicgrid.store.cases import count_up_to, filtered
from civicgrid.store.models import (
    Attachment,
    Briefing,
    BriefingFile,
    BriefingSchedule,
    Case,
    CaseEvent,
    Category,
    Region,
    User,
)
from civicgrid.store.scoping import region_subtree, regions_in_scope

#: What a listed case shows besides its own columns.
_LISTED = (
    selectinload(Case.category),
    selectinload(Case.region),
    selectinload(Case.grid),
    selectinload(Case.department),
)
#: Red cases are counted no further than this (the list shows the most overdue).
RED_COUNT_LIMIT = 100_000


def _in_period(
    session: Session, actor: User, region_code: str, start: datetime, end: datetime, now: datetime
) -> Select[tuple[Case]]:
    """The actor's cases in the region reported in [start, end)."""
    filters = CaseFilters(region_code=region_code, created_from=start, created_to=end)
    return filtered(session, actor, filters, now)


def red_cases(
    session: Session, actor: User, region_code: str, now: datetime, limit: int
) -> tuple[list[Case], int, bool]:
    """The ``limit`` most overdue of the actor's cases in the region whose running stage is
    past its deadline at ``now`` (红灯), how many there are, and whether more than counted."""
    query = filtered(session, actor, CaseFilters(light=Light.RED, region_code=region_code), now)
    rows = session.scalars(
        query.order_by(None).order_by(Case.deadline_at, Case.id).options(*_LISTED).limit(limit)
    ).all()
    total, more = count_up_to(session, query, RED_COUNT_LIMIT)
    return list(rows), total, more


@dataclass(frozen=True)
class RepeatedPlace:
    """An address where several problems were reported in the period."""

    address: str
    count: int
    last_reported_at: datetime
    #: The small classes reported there, most first: (name, count).
    categories: list[tuple[str, int]]


def repeated_places(
    session: Session,
    actor: User,
    region_code: str,
    start: datetime,
    end: datetime,
    now: datetime,
    limit: int,
) -> list[RepeatedPlace]:
    """The addresses with two or more of the actor's cases reported in [start, end), most
    first, each with what was reported there."""
    cases = _in_period(session, actor, region_code, start, end, now).order_by(None).where(Case.address != "")
    count = func.count().label("count")
    latest = func.max(Case.created_at).label("latest")
    places = session.execute(
        cases.with_only_columns(Case.address, count, latest)
        .group_by(Case.address)
        .having(func.count() >= 2)
        .order_by(count.desc(), latest.desc(), Case.address)
        .limit(limit)
    ).all()
    addresses = [address for address, _, _ in places]
    kinds: dict[str, list[tuple[str, int]]] = {}
    if addresses:
        rows = session.execute(
            cases.join(Category, Category.id == Case.category_id)
            .where(Case.address.in_(addresses))
            .with_only_columns(Case.address, Category.name, func.count())
            .group_by(Case.address, Category.name)
            .order_by(Case.address, func.count().desc(), Category.name)
        )
        for address, name, number in rows:
            kinds.setdefault(address, []).append((name, number))
    return [
        RepeatedPlace(address, number, latest_at, kinds.get(address, []))
        for address, number, latest_at in places
    ]


@dataclass(frozen=True)
class NotableCase:
    """A case of the period worth a line in the briefing, and why."""

    case: Case
    supervised: bool
    escalated: bool
    reworked: bool
    not_satisfied: bool
    urgent: bool
    #: Later reports of the same problem merged into it (重复诉求).
    duplicates: int


def notable_cases(
    session: Session,
    actor: User,
    region_code: str,
    start: datetime,
    end: datetime,
    now: datetime,
    limit: int,
) -> list[NotableCase]:
    """The ``limit`` most notable of the actor's cases reported in [start, end): supervised
    (督办), escalated (上报上级), reworked (返工), rated not satisfied, urgent, or reported again
    (duplicates merged into it); the most notable first, then the newest."""
    period = _in_period(session, actor, region_code, start, end, now).order_by(None)
    duplicates = dict(
        session.execute(
            period.where(Case.state == CaseState.MERGED, Case.merged_into_id.is_not(None))
            .with_only_columns(Case.merged_into_id, func.count())
            .group_by(Case.merged_into_id)
        ).all()
    )
    supervised = exists().where(CaseEvent.case_id == Case.id, CaseEvent.action == Action.SUPERVISE)
    escalated = exists().where(CaseEvent.case_id == Case.id, CaseEvent.action == Action.ESCALATE)
    flags = (
        supervised,
        escalated,
        Case.rework_count > 0,
        Case.satisfaction == Satisfaction.NOT_SATISFIED,
        Case.urgency == Urgency.URGENT,
    )
    live = period.where(Case.state.not_in((CaseState.MERGED, CaseState.VOIDED)))
    candidates = session.execute(
        live.where(
            supervised
            | escalated
            | flags[2]
            | flags[3]
            | flags[4]
            | Case.id.in_([key for key in duplicates if key is not None])
        ).with_only_columns(Case.id, Case.created_at, *flags)
    ).all()
    found = [
        (case_id, created, tuple(bool(flag) for flag in row_flags))
        for case_id, created, *row_flags in candidates
    ]

    def weight(item: tuple[int, datetime, tuple[bool, ...]]) -> int:
        # Supervision, escalation and a dissatisfied citizen weigh double; repeats count up to 3.
        case_id, _, (sup, esc, rew, unhappy, urgent) = item
        return 2 * (sup + esc + unhappy) + rew + urgent + min(duplicates.get(case_id, 0), 3)

    chosen = sorted(found, key=lambda item: (-weight(item), -item[1].timestamp(), item[0]))[:limit]
    loaded = {
        case.id: case
        for case in session.scalars(
            select(Case).where(Case.id.in_([case_id for case_id, _, _ in chosen])).options(*_LISTED)
        )
    }
    return [
        NotableCase(loaded[case_id], *row_flags, duplicates=duplicates.get(case_id, 0))
        for case_id, _, row_flags in chosen
    ]


def big_classes(session: Session) -> dict[str, tuple[str, str]]:
    """Each small class's big class, by small class code: (code, name)."""
    parent = select(Category.id, Category.code, Category.name).subquery()
    rows = session.execute(
        select(Category.code, parent.c.code, parent.c.name).join(parent, parent.c.id == Category.parent_id)
    )
    return {code: (big_code, big_name) for code, big_code, big_name in rows}


# --- stored briefings and schedules ---------------------------------------------------------


def stored_briefings(
    session: Session,
    actor: User,
    *,
    kind: BriefingKind | None,
    region: Region | None,
    before_id: int | None,
    limit: int,
) -> list[Briefing]:
    """The stored briefings of the regions in the actor's scope, newest first (narrowed to
    a kind, a region's subtree, and ids below ``before_id`` for the next page)."""
    query = select(Briefing).where(regions_in_scope(Briefing.region_id, actor))
    if kind is not None:
        query = query.where(Briefing.kind == kind)
    if region is not None:
        query = query.where(Briefing.region_id.in_(region_subtree(region.path)))
    if before_id is not None:
        query = query.where(Briefing.id < before_id)
    query = query.options(selectinload(Briefing.region), selectinload(Briefing.files))
    return list(session.scalars(query.order_by(Briefing.id.desc()).limit(limit)))


def stored_briefing(session: Session, actor: User, briefing_id: int) -> Briefing | None:
    """The stored briefing ``briefing_id`` if its region is in the actor's scope."""
    query = select(Briefing).where(Briefing.id == briefing_id, regions_in_scope(Briefing.region_id, actor))
    return session.scalar(query.options(selectinload(Briefing.files), selectinload(Briefing.region)))


def schedules_in_scope(session: Session, actor: User) -> list[BriefingSchedule]:
    """The schedules of the regions in the actor's scope, by id."""
    query = select(BriefingSchedule).where(regions_in_scope(BriefingSchedule.region_id, actor))
    return list(
        session.scalars(query.options(selectinload(BriefingSchedule.region)).order_by(BriefingSchedule.id))
    )


def active_schedules(session: Session) -> list[BriefingSchedule]:
    """Every schedule that is switched on, by id (for the worker that runs them)."""
    query = select(BriefingSchedule).where(BriefingSchedule.is_active)
    return list(
        session.scalars(query.options(selectinload(BriefingSchedule.region)).order_by(BriefingSchedule.id))
    )


def made_periods(session: Session, schedule_id: int, starts: Sequence[datetime]) -> set[datetime]:
    """Which of the period starts a schedule has a stored briefing of already."""
    rows = session.scalars(
        select(Briefing.period_start).where(
            Briefing.schedule_id == schedule_id, Briefing.period_start.in_(starts)
        )
    )
    return set(rows)


def files_in_use(session: Session, sha256s: Sequence[str]) -> set[str]:
    """Which of the files (by SHA-256) a stored briefing or an attachment refers to: the same
    bytes are kept once, so a file written twice at once may be another row's too."""
    if not sha256s:
        return set()
    used = set(session.scalars(select(BriefingFile.sha256).where(BriefingFile.sha256.in_(sha256s))))
    used |= set(session.scalars(select(Attachment.sha256).where(Attachment.sha256.in_(sha256s))))
    used |= set(
        session.scalars(select(Attachment.thumbnail_sha256).where(Attachment.thumbnail_sha256.in_(sha256s)))
    )
    return used
