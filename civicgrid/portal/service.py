"""The citizens' portal's service: a report becomes a case, a lookup shows its public view, a
rating after closure is the case's call-back (回访), and the public map shows open problems
roughly placed. Functions take a session and never commit.

The portal acts through one system user of its own, as each Open311 key does: role operator,
scoped to the district (the only top region, or ``CIVICGRID_PORTAL_REGION_CODE``), a
password no sign-in accepts, named 市民服务门户. So the case service checks and records a
portal report or rating exactly as it does an operator's, and the history names the portal
as the actor. The citizen is the case's reporter phone, verified by an SMS code first.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session, joinedload

from civicgrid.domain.errors import (
    Conflict,
    InvalidInput,
    NotFound,
    RoleNotAllowed,
    TooManyAttempts,
    TransitionNotAllowed,
)
from civicgrid.domain.vocabulary import (
    FINAL_STATES,
    SATISFACTION_LABELS,
    STATE_LABELS,
    Action,
    AttachmentPurpose,
    CaseState,
    Channel,
    CoordinateSystem,
    GridKind,
    Role,
    Satisfaction,
)
from civicgrid.geo import mapdata
from civicgrid.geo.crs import from_wgs84, to_wgs84
from civicgrid.geo.index import territory_index
from civicgrid.outbox.messages import enqueue_sms
from civicgrid.portal import phones
from civicgrid.schemas import CaseCreate, TransitionRequest
from civicgrid.services import attachments
from civicgrid.services.cases import CentreRules, create_case, transition
from civicgrid.settings import Settings
from civicgrid.store import geo as geo_queries
from civicgrid.store import portal as portal_queries
from civicgrid.store import public_cases
from civicgrid.store.lookups import by_code
from civicgrid.store.models import Case, Grid, PortalLookupFailure, Region, User, utcnow

#: The portal's system user: this name is not one a person is given (it has a dot and no
#: password that any sign-in accepts).
PORTAL_USERNAME = "portal.system"
PORTAL_NAME = "市民服务门户"
NO_PASSWORD = "!portal"
#: Lookups: failures within this window count; at the limit, lookups there wait this long.
LOOKUP_WINDOW = timedelta(minutes=15)
LOOKUP_LOCKOUT = timedelta(minutes=15)
RETENTION = timedelta(days=1)
#: The same answer for an unknown number and a wrong phone, so numbers do not leak.
NOT_FOUND = "未找到该案件，请核对案件编号和手机号码。"
#: The portal's own list of a phone's cases shows at most this many, newest first.
MY_CASES = 50
#: States a case shows on the public map in: open, and registered (立案) at least, so an
#: unchecked report (or a prank) never shows.
MAP_STATES = frozenset(CaseState) - FINAL_STATES - {CaseState.REPORTED}
#: The grids the map draws are at this web-map zoom (a street block fills the phone).
MAP_ZOOM = 14
#: A cell of the map lists at most this many of its cases (its count says how many).
CELL_LISTED = 20


def portal_user(session: Session, settings: Settings) -> User:
    """The portal's system user, created on first use; RoleNotAllowed when an admin has
    deactivated it (the portal then takes nothing in)."""
    query = select(User).options(joinedload(User.region)).where(User.username == PORTAL_USERNAME)
    found = session.scalar(query)
    if found is None:
        # An insert that yields to a concurrent first use: two first reports, one user.
        region = _portal_region(session, settings.portal_region_code)
        values = {
            "username": PORTAL_USERNAME,
            "full_name": PORTAL_NAME,
            "password_hash": NO_PASSWORD,
            "role": Role.OPERATOR,
            "region_id": region.id,
            "is_active": True,
            "created_at": utcnow(),
        }
        insert = INSERTS[session.get_bind().dialect.name]
        session.execute(insert(User).values(**values).on_conflict_do_nothing(index_elements=["username"]))
        found = session.scalars(query).one()
    if not found.is_active or found.role is not Role.OPERATOR:
        raise RoleNotAllowed("市民服务门户暂停受理，请拨打服务热线反映问题")
    return found


#: The dialects' INSERT … ON CONFLICT DO NOTHING.
INSERTS = {"postgresql": postgresql_insert, "sqlite": sqlite_insert}


def _portal_region(session: Session, code: str) -> Region:
    if code:
        return by_code(session, Region, code)
    roots = list(session.scalars(select(Region).where(Region.parent_id.is_(None)).limit(2)))
    if len(roots) != 1:
        raise RoleNotAllowed("市民服务门户尚未配置：辖区有多个顶级区域时请设置 CIVICGRID_PORTAL_REGION_CODE")
    return roots[0]


@dataclass(frozen=True)
class Report:
    """What a citizen reports: the small class, what is wrong, where (a point in ``crs``,
    and a description of the place), and how to address them (optional)."""

    category_code: str
    description: str
    lng: float
    lat: float
    crs: CoordinateSystem = CoordinateSystem.WGS84
    address: str = ""
    name: str = ""


@dataclass(frozen=True)
class Place:
    """Where a point lies for the citizen: the community and grid, or only a region, or
    nowhere in the centre's territory."""

    inside: bool
    label: str


def place(session: Session, lng: float, lat: float, crs: CoordinateSystem, rules: CentreRules) -> Place:
    """The community and grid of a point given in ``crs``, as the citizen reads it."""
    x, y = to_wgs84(lng, lat, crs)
    territory = territory_index(session, geo_queries.territory_mark(session))
    placement = territory.grids.place(x, y)
    if placement.grid is not None:
        grid = session.get(Grid, placement.grid.id)
        assert grid is not None  # the index was built in this transaction's view
        return Place(True, f"{grid.region.name} · {grid.name}")
    region = territory.region_at(x, y)
    if region is not None:
        return Place(True, region.name)
    if rules.outside_territory == "district" and territory.nearest_root(x, y) is not None:
        return Place(True, "辖区外，将由区指挥中心转办")
    return Place(False, "该位置不在本中心管辖范围内")


def report(
    session: Session,
    settings: Settings,
    rules: CentreRules,
    phone: str,
    data: Report,
    photos: list[attachments.PreparedUpload],
    now: datetime,
) -> Case:
    """Register the citizen's report as a case on the web channel, reported by the portal's
    system user with the verified ``phone``, its photos tied to the report event, and an SMS
    with the case number written to the outbox. Raises a domain error (in Chinese) and
    writes nothing when the class or the place will not do."""
    user = portal_user(session, settings)
    category = public_cases.active_service(session, data.category_code)
    if category is None:
        raise InvalidInput("请选择问题类别")
    where = place(session, data.lng, data.lat, data.crs, rules)
    if not where.inside:
        raise InvalidInput(f"{where.label}，请重新选择位置")
    summary = data.description.strip().splitlines()[0][:60] if data.description.strip() else ""
    created = CaseCreate(
        channel=Channel.WEB,
        category_code=category.code,
        title=f"{category.name}：{summary}" if summary else category.name,
        description=data.description,
        address=data.address,
        lng=data.lng,
        lat=data.lat,
        crs=data.crs,
        reporter_name=data.name or None,
        reporter_phone=phone,
    )
    case = create_case(session, user, created, rules, now, event_data={"portal": True})
    for photo in photos:
        attachments.record_upload(session, user, case.number, photo, AttachmentPurpose.BEFORE, 1, now)
    enqueue_sms(
        session,
        phone,
        f"您反映的问题已登记，案件编号 {case.number}。凭编号和本手机号可在市民服务门户查询办理进度。",
        now,
    )
    return case


def _failures_lock(session: Session, now: datetime, limit: int, **which: str) -> datetime | None:
    count, latest = portal_queries.lookup_failures(session, now - LOOKUP_WINDOW, **which)
    return latest + LOOKUP_LOCKOUT if count >= limit and latest is not None else None


def lookup(
    session: Session, number: str, phone: str, address: str, now: datetime, max_failures: int
) -> Case | None:
    """Case ``number`` if ``phone`` is its reporter's; None otherwise (an unknown number and a
    wrong phone alike), and the failure is recorded, so the caller must commit even then.
    TooManyAttempts, recording nothing, while the address or the number has failed too often."""
    number = number.strip().upper()[:40]
    locks = [
        _failures_lock(session, now, max_failures, address=address[:64]),
        _failures_lock(session, now, max_failures, number=number),
    ]
    until = max((lock for lock in locks if lock is not None and lock > now), default=None)
    if until is not None:
        minutes = max(1, math.ceil((until - now).total_seconds() / 60))
        raise TooManyAttempts(
            f"查询失败次数过多，请 {minutes} 分钟后再试",
            retry_after_seconds=int((until - now).total_seconds()) + 1,
        )
    given = phones.normalized(phone)
    case = public_cases.for_reporter(session, number) if given and number else None
    if case is None or phones.normalized(case.reporter_phone) != given:
        session.add(PortalLookupFailure(number=number, address=address[:64], at=now))
        portal_queries.purge(session, now, RETENTION)
        session.flush()
        return None
    return case


def owned(session: Session, phone: str, number: str) -> Case:
    """Case ``number`` if the verified ``phone`` reported it; NotFound (as for an unknown
    number) otherwise."""
    case = public_cases.for_reporter(session, number.strip().upper())
    if case is None or phones.normalized(case.reporter_phone) != phone:
        raise NotFound(NOT_FOUND)
    return case


def my_cases(session: Session, phone: str) -> list[Any]:
    """The cases the verified ``phone`` reported (as stored with that number), newest first."""
    return public_cases.reported_by_phone(session, phone, MY_CASES)


def may_rate(case: Case) -> bool:
    """Whether the reporter may rate the case now: it is closed and not yet called back."""
    return case.state is CaseState.CLOSED and case.satisfaction is None


def rate(
    session: Session,
    settings: Settings,
    rules: CentreRules,
    phone: str,
    number: str,
    satisfaction: Satisfaction,
    reason: str,
    now: datetime,
) -> Case:
    """The reporter's rating of their closed case, taken as its call-back (回访): the
    workflow's ``revisit`` by the portal's system user, with the satisfaction, and the
    citizen's words as the event's (internal) note. Once per case. "Not satisfied" needs a
    reason; such a case then waits in the supervisors' 不满意回访 queue."""
    case = owned(session, phone, number)
    if case.satisfaction is not None or case.state is CaseState.REVISITED:
        raise Conflict("该案件已经评价过，每个案件只能评价一次")
    if case.state not in FINAL_STATES:
        raise TransitionNotAllowed(f"案件正在办理中（{STATE_LABELS[case.state]}），结案后才能评价")
    if case.state is not CaseState.CLOSED:
        raise TransitionNotAllowed(f"案件已{STATE_LABELS[case.state]}，不能再评价")
    reason = reason.strip()
    if satisfaction is Satisfaction.NOT_SATISFIED and not reason:
        raise InvalidInput("选择「不满意」时，请写明不满意的原因")
    label = SATISFACTION_LABELS[satisfaction]
    note = f"市民评价（{label}）：{reason}" if reason else f"市民评价：{label}"
    request = TransitionRequest(satisfaction=satisfaction, note=note, expected_version=case.version)
    return transition(
        session, portal_user(session, settings), case.number, Action.REVISIT, request, rules, now
    )


# --- the public map -------------------------------------------------------------------------

#: Metres per degree of latitude (and of longitude at the equator).
METRES_PER_DEGREE = 111_320.0


def snap(lng: float, lat: float, cell_m: float) -> tuple[float, float]:
    """The centre of the square cell of about ``cell_m`` metres that holds the point: every
    point in the cell shows at the same place, so no house can be picked out."""
    lat_step = cell_m / METRES_PER_DEGREE
    centre_lat = (math.floor(lat / lat_step) + 0.5) * lat_step
    lng_step = cell_m / (METRES_PER_DEGREE * max(math.cos(math.radians(centre_lat)), 0.01))
    centre_lng = (math.floor(lng / lng_step) + 0.5) * lng_step
    return centre_lng, centre_lat


def public_map(session: Session, settings: Settings, zone: tzinfo, crs: CoordinateSystem) -> dict[str, Any]:
    """The public map's data: the grids' outlines (name only) and the open cases grouped in
    cells, each with its rough centre (in ``crs``) and its cases' class, state and day —
    nothing else of them, no number, no text, no person."""
    limit = settings.map_case_limit
    rows = public_cases.points(session, MAP_STATES, limit + 1)
    cells: dict[tuple[float, float], dict[str, Any]] = {}
    for lng, lat, state, created_at, category in rows[:limit]:
        centre = snap(lng, lat, settings.portal_map_cell_m)
        cell = cells.get(centre)
        if cell is None:
            x, y = from_wgs84(*centre, crs)
            cell = cells[centre] = {"lng": round(x, 5), "lat": round(y, 5), "count": 0, "cases": []}
        cell["count"] += 1
        if len(cell["cases"]) < CELL_LISTED:
            day = created_at.astimezone(zone).date().isoformat()
            cell["cases"].append({"category": category, "state": STATE_LABELS[state], "date": day})
    grids = [
        {
            "type": "Feature",
            "geometry": f.feature["geometry"],
            "properties": {"name": f.feature["properties"]["name"]},
        }
        for f in mapdata.layer(session, geo_queries.territory_mark(session), "grids", MAP_ZOOM, crs)
        if f.feature["properties"]["kind"] != GridKind.OVERLAY
    ]
    return {
        "crs": crs.value,
        "cell_m": settings.portal_map_cell_m,
        "truncated": len(rows) > limit,
        "grids": {"type": "FeatureCollection", "features": grids},
        "cells": list(cells.values()),
    }
