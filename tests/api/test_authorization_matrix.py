"""The authorization matrix: every endpoint of the application × every role × a target in
and out of the actor's scope, each with its expected outcome written once below.

The endpoints come from the application's route table, not from a hand list: a new
endpoint without a row here fails ``test_every_endpoint_has_a_row``.

"In scope" is the object the actor works on (a case, department, user or region of their
street, or of their district for district-wide roles); "out of scope" is the nearest one
they must not reach: the neighbouring street's for street staff, another district's for
district-wide roles. The in-scope case was reported by the citizen and is dispatched to the
handler's department, so it is in scope for every role.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from io import BytesIO
from itertools import count
from typing import Any, Literal
from uuid import uuid4

import h3
import pytest
from fastapi import FastAPI
from fastapi.routing import iter_route_contexts
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from civicgrid.calendar_file import format_calendar
from civicgrid.domain.briefings import BriefingFormat, BriefingKind
from civicgrid.domain.calendar import official_arrangement
from civicgrid.domain.vocabulary import (
    AlertKind,
    Channel,
    DepartmentFunction,
    DepartmentLevel,
    GridKind,
    RegionLevel,
    Role,
)
from civicgrid.exchange.partners import create_partner
from civicgrid.exchange.schemas import PartnerIn
from civicgrid.services import attachments
from civicgrid.services.api_keys import issue_key
from civicgrid.services.cases import CentreRules
from civicgrid.services.geo import cluster_size
from civicgrid.store.files import FileStore
from civicgrid.store.models import Briefing as StoredBriefing
from civicgrid.store.models import (
    BriefingFile,
    BriefingSchedule,
    Case,
    Department,
    Grid,
    Notification,
    PublishedEvaluation,
    Region,
)
from civicgrid.web.pages import PageRoute
from tests.factories import PASSWORD, World, act, new_case, region, square, user
from tests.images import photo

Scope = Literal["in", "out of"]
#: A status code, or for lists whether the target is among the rows: "seen" / "unseen".
Outcome = int | str
#: (in scope, out of scope)
Expected = tuple[Outcome, Outcome]

#: Who acts: a username of the test world, or None for a request without a token.
ACTORS: dict[str, str | None] = {
    "anonymous": None,
    "citizen": "citizen",
    "operator": "operator",
    "dispatcher": "dispatcher",
    "handler": "handler_cg",
    "inspector": "inspector",
    "supervisor": "supervisor",
    "leader": "leader",
    "street_admin": "admin_east",
    "admin": "admin",
}
#: Roles whose scope is the whole district: their "out of scope" is another district.
DISTRICT_WIDE = {"leader", "admin"}


def everyone(outcome: Outcome, anonymous: Outcome = 401) -> dict[str, Expected]:
    """The same outcome for every signed-in role, in and out of scope."""
    return {role: (anonymous, anonymous) if role == "anonymous" else (outcome, outcome) for role in ACTORS}


def only(allowed: dict[str, Expected], others: Outcome = 403) -> dict[str, Expected]:
    """``allowed`` roles as given; every other signed-in role refused with ``others``."""
    table = everyone(others)
    table.update(allowed)
    return table


#: The map: staff see their own area's; citizens have no map.
MAP_READERS = (
    everyone("seen")
    | {role: ("seen", "unseen") for role in ACTORS if role not in ("anonymous", "citizen")}
    | {"citizen": (403, 403)}
)
#: Every role may see a case in scope, and none out of it (404: it does not exist for them).
CASE_READERS = everyone(200) | {role: (200, 404) for role in ACTORS if role != "anonymous"}
ADMINS = ("admin", "street_admin")


# --- the targets ------------------------------------------------------------------------


@dataclass
class Targets:
    """The objects each probe points at, by scope and by how wide the actor's scope is."""

    cases: dict[str, str]
    departments: dict[str, str]
    users: dict[str, str]
    regions: dict[str, str]
    grids: dict[str, str]
    #: Regions and grids that nothing is in use under, for retiring.
    spare_regions: dict[str, str]
    spare_grids: dict[str, str]
    points: dict[str, tuple[float, float]]
    cells: dict[str, str]
    #: The id of the case cluster (at zoom 18) each target case falls in.
    clusters: dict[str, str]
    #: A stored photo on each case.
    attachments: dict[str, int]
    #: A briefing schedule, and a stored monthly briefing (PDF), of each region.
    schedules: dict[str, int]
    briefings: dict[str, int]
    #: A schedule per admin and region, for each admin to delete its own.
    deletable_schedules: dict[tuple[str, str], int]
    serial: Iterator[int]
    #: An Open311 key of the in-scope street (东湖), and how to issue a fresh key in a region.
    api_key: str
    key_names: dict[str, str]
    issue_key: Callable[[str], str]
    #: A notification of each actor (by role) on the in-scope case, and one of a user of
    #: the other district ("other").
    notifications: dict[str, int] = field(default_factory=dict)

    def key(self, role: str, scope: Scope) -> str:
        """ "in", or the out-of-scope target for this role: another street or district."""
        if scope == "in":
            return "in"
        return "other_district" if role in DISTRICT_WIDE else "other_street"

    def unique(self, stem: str) -> str:
        """A fresh code or username, so repeated creations do not collide."""
        return f"{stem}{next(self.serial)}"


def build_targets(
    session: Session, world: World, rules: CentreRules, now: datetime, files: FileStore
) -> Targets:
    """A street admin, a second district with its own case, and the cases of both streets,
    each with a photo."""
    other = region(session, "T02", "邻区", RegionLevel.DISTRICT, None)
    other_street = region(session, "T0201", "邻区街道", RegionLevel.STREET, other)
    other_community = region(session, "T020101", "邻区社区", RegionLevel.COMMUNITY, other_street)
    # Communities with boundaries, so that the map's region layer has them.
    world.regions["c1"].boundary = square(120.00, 30.00)
    world.regions["c3"].boundary = square(120.10, 30.00)
    other_community.boundary = square(121.00, 31.00)
    session.add(
        Grid(
            code="T020101-01",
            name="邻区网格",
            kind=GridKind.COMPREHENSIVE,
            region=other_community,
            boundary=square(121.00, 31.00),
        )
    )
    session.add(
        Department(
            code="D-CG-T02",
            name="邻区城管中队",
            function=DepartmentFunction.URBAN_MANAGEMENT,
            level=DepartmentLevel.STREET,
            region=other_street,
            linkage_level=2,
            is_active=True,
        )
    )
    for code, name, parent in (
        ("T010103", "东湖三社区", world.regions["east"]),
        ("T010202", "西山二社区", world.regions["west"]),
        ("T020102", "邻区二社区", other_street),
    ):
        region(session, code, name, RegionLevel.COMMUNITY, parent)
    for code, community, corner in (
        ("T010101-S", world.regions["c1"], (120.002, 30.002)),
        ("T010201-S", world.regions["c3"], (120.102, 30.002)),
        ("T020101-S", other_community, (121.002, 31.002)),
    ):
        session.add(
            Grid(
                code=code,
                name="备用网格",
                kind=GridKind.DEDICATED,
                region=community,
                boundary=square(*corner, 0.001),
            )
        )
    world.users["operator_t02"] = user(session, "operator_t02", Role.OPERATOR, region=other_street)
    world.users["dispatcher_t02"] = user(session, "dispatcher_t02", Role.DISPATCHER, region=other_street)
    session.flush()

    def dispatched(reporter: str, dispatcher: str, department: str, lng: float, lat: float) -> str:
        channel = Channel.WEB if reporter == "citizen" else Channel.HOTLINE_12345
        case = new_case(session, world, rules, now, actor=reporter, channel=channel, lng=lng, lat=lat)
        act(session, world, rules, case, "operator" if reporter == "citizen" else reporter, "register", now)
        act(session, world, rules, case, dispatcher, "dispatch", now, department_code=department)
        return case.number

    cases = {
        "in": dispatched("citizen", "dispatcher", "D-CG-E", 120.005, 30.005),
        "other_street": dispatched("operator_west", "dispatcher_west", "D-CG-W", 120.105, 30.005),
        "other_district": dispatched("operator_t02", "dispatcher_t02", "D-CG-T02", 121.005, 31.005),
    }
    photos = {}
    uploaders = {"in": "dispatcher", "other_street": "dispatcher_west", "other_district": "dispatcher_t02"}
    for key, number in cases.items():
        prepared = attachments.prepare_upload(
            files, BytesIO(photo()), "现场.jpg", max_bytes=10**6, thumbnail_pixels=100
        )
        recorded = attachments.record_upload(
            session, world.users[uploaders[key]], number, prepared, None, None, now
        )
        photos[key] = recorded.id
    # A partner for the partner routes (its orders come signed, not with a token).
    create_partner(session, None, PartnerIn(code="12345-city", name="市12345热线"), now)
    for code in ("T010101", "T010201", "T020101"):
        publish_directly(session, world, code, now)
    schedules, briefings, deletable = _briefing_targets(session, world, files, now)
    session.commit()
    points = {
        "in": (120.005, 30.005),
        "other_street": (120.105, 30.005),
        "other_district": (121.005, 31.005),
    }

    def fresh_key(region_code: str) -> str:
        name = f"key-{uuid4().hex[:8]}"
        issue_key(
            session,
            None,
            name,
            region_code=region_code,
            channel=Channel.THIRD_PARTY,
            secret_key=SECRET,
            now=now,
        )
        session.commit()
        return name

    _row, api_key = issue_key(
        session, None, "matrix", region_code="T0101", channel=Channel.THIRD_PARTY, secret_key=SECRET, now=now
    )
    key_names = {"in": "matrix", "other_street": fresh_key("T0102"), "other_district": fresh_key("T02")}
    notifications = _notifications(session, world, cases["in"], now)
    return Targets(
        notifications=notifications,
        api_key=api_key,
        key_names=key_names,
        issue_key=fresh_key,
        cases=cases,
        departments={"in": "D-SZ-E", "other_street": "D-CG-W", "other_district": "D-CG-T02"},
        users={"in": "inspector", "other_street": "operator_west", "other_district": "operator_t02"},
        regions={"in": "T010101", "other_street": "T010201", "other_district": "T020101"},
        grids={"in": "T010101-01", "other_street": "T010201-01", "other_district": "T020101-01"},
        spare_regions={"in": "T010103", "other_street": "T010202", "other_district": "T020102"},
        spare_grids={"in": "T010101-S", "other_street": "T010201-S", "other_district": "T020101-S"},
        points=points,
        cells={key: h3.latlng_to_cell(lat, lng, 8) for key, (lng, lat) in points.items()},
        clusters={
            key: f"18/{math.floor((lng + 180) / cluster_size(18))}/{math.floor((lat + 90) / cluster_size(18))}"
            for key, (lng, lat) in points.items()
        },
        attachments=photos,
        schedules=schedules,
        briefings=briefings,
        deletable_schedules=deletable,
        serial=count(1),
    )


def _notifications(session: Session, world: World, number: str, now: datetime) -> dict[str, int]:
    """A notification for each actor on case ``number``, and one for another district's user."""
    case_id = session.scalars(select(Case.id).where(Case.number == number)).one()
    owners = {role: username for role, username in ACTORS.items() if username} | {"other": "operator_t02"}
    made = {}
    for role, username in owners.items():
        row = Notification(
            user_id=world.users[username].id,
            kind=AlertKind.SUPERVISION,
            case_id=case_id,
            occasion=f"matrix:{role}",
            text="督办",
            created_at=now,
        )
        session.add(row)
        session.flush()
        made[role] = row.id
    session.commit()
    return made


def publish_directly(session: Session, world: World, region_code: str, now: datetime) -> None:
    """Versions 1 and 2 of August 2026's department evaluation for the region, stored as they
    are (the probes read them; whether publishing computes them right is tested elsewhere)."""
    region_row = session.scalars(select(Region).where(Region.code == region_code)).one()
    for version in (1, 2):
        session.add(
            PublishedEvaluation(
                kind="department",
                period_key="2026-08",
                period_start=datetime(2026, 7, 31, 16, tzinfo=UTC),
                period_end=datetime(2026, 8, 31, 16, tzinfo=UTC),
                period_label="2026年8月",
                region=region_row,
                version=version,
                scheme_name="默认考核方案",
                scheme_version="2026.1",
                scheme_digest="0" * 64,
                scheme={},
                published_by=world.users["leader"],
                published_at=now,
                note="",
                result=[],
            )
        )


def _briefing_targets(
    session: Session, world: World, files: FileStore, now: datetime
) -> tuple[dict[str, int], dict[str, int], dict[tuple[str, str], int]]:
    """For the communities of each scope: a monthly schedule with a stored briefing (as the
    runner would store it), and a schedule for each admin to delete."""
    regions = {"in": "T010101", "other_street": "T010201", "other_district": "T020101"}
    sha256, _ = files.put(b"%PDF-1.7 briefing")
    schedules, briefings, deletable = {}, {}, {}
    for key, code in regions.items():
        region = session.scalars(select(Region).where(Region.code == code)).one()

        def schedule(region: Region = region) -> BriefingSchedule:
            row = BriefingSchedule(
                kind=BriefingKind.MONTHLY,
                region=region,
                formats=["pdf"],
                hour=8,
                is_active=True,
                created_at=now,
            )
            session.add(row)
            session.flush()
            return row

        made = schedule()
        stored = StoredBriefing(
            schedule_id=made.id,
            kind=BriefingKind.MONTHLY,
            region=region,
            period_start=now,
            period_end=now,
            period_label="2026年9月",
            title="工作简报",
            created_at=now,
            files=[
                BriefingFile(
                    format=BriefingFormat.PDF,
                    content_type="application/pdf",
                    filename="简报.pdf",
                    size_bytes=17,
                    sha256=sha256,
                )
            ],
        )
        session.add(stored)
        session.flush()
        schedules[key], briefings[key] = made.id, stored.id
        for admin in ADMINS:
            deletable[(admin, key)] = schedule().id
    return schedules, briefings, deletable


# --- the probes: how to call each endpoint, and what each role gets -----------------------


@dataclass(frozen=True)
class Multipart:
    """A body sent as multipart/form-data: (file name, bytes, declared type) by field."""

    files: dict[str, tuple[str, bytes, str]]


#: A request: method is the row's; path (with parameters filled in) and body (a dict is
#: sent as JSON, a string as a calendar file, ``Multipart`` as a form with files).
Request = tuple[str, dict[str, Any] | str | Multipart | None]
Build = Callable[[Targets, str, Scope], Request]


@dataclass(frozen=True)
class Probe:
    build: Build
    expected: dict[str, Expected]
    #: For lists: the key of the target's identifier in each row, and which target.
    seen_by: tuple[str, str] | None = None
    #: Sign in afresh for each request (the request ends the session).
    fresh_token: bool = False


def fixed(path: str, body: dict[str, Any] | None = None) -> Build:
    return lambda _targets, _role, _scope: (path, body)


def on_case(suffix: str = "", body: dict[str, Any] | Multipart | None = None) -> Build:
    def build(targets: Targets, role: str, scope: Scope) -> Request:
        return f"/api/v1/cases/{targets.cases[targets.key(role, scope)]}{suffix}", body

    return build


def on_attachment(suffix: str = "") -> Build:
    def build(targets: Targets, role: str, scope: Scope) -> Request:
        key = targets.key(role, scope)
        return f"/api/v1/cases/{targets.cases[key]}/attachments/{targets.attachments[key]}{suffix}", None

    return build


def nearby(targets: Targets, role: str, scope: Scope) -> Request:
    lng, lat = targets.points[targets.key(role, scope)]
    return f"/api/v1/cases/nearby?category_code=C0101&lng={lng}&lat={lat}", None


def new_case_body(targets: Targets, role: str, scope: Scope) -> Request:
    lng, lat = targets.points[targets.key(role, scope)]
    return "/api/v1/cases", {
        "channel": "web",
        "category_code": "C0101",
        "title": "井盖缺失",
        "lng": lng,
        "lat": lat,
    }


def at_point(targets: Targets, role: str, scope: Scope) -> Request:
    lng, lat = targets.points[targets.key(role, scope)]
    return f"/api/v1/geo/resolve?lng={lng}&lat={lat}", None


def new_department(targets: Targets, role: str, scope: Scope) -> Request:
    body = {
        "code": targets.unique("D-NEW-"),
        "name": "新设部门",
        "function": "municipal",
        "level": "street",
        "region_code": targets.regions[targets.key(role, scope)],
    }
    return "/api/v1/departments", body


def edit_department(targets: Targets, role: str, scope: Scope) -> Request:
    return f"/api/v1/departments/{targets.departments[targets.key(role, scope)]}", {"phone": "0571-1"}


def new_user(targets: Targets, role: str, scope: Scope) -> Request:
    # A handler placed by department alone: their scope must still be the admin's to give.
    body = {
        "username": targets.unique("new_handler_"),
        "full_name": "新处置人员",
        "password": "a-long-password",
        "role": "handler",
        "department_code": targets.departments[targets.key(role, scope)],
    }
    return "/api/v1/users", body


def edit_user(targets: Targets, role: str, scope: Scope) -> Request:
    return f"/api/v1/users/{targets.users[targets.key(role, scope)]}", {"phone": "13900000000"}


def on_place(kind: str, suffix: str = "", body: dict[str, Any] | None = None) -> Build:
    """A request on a region or grid (``kind``: a field of the targets) by scope."""

    def build(targets: Targets, role: str, scope: Scope) -> Request:
        code = getattr(targets, kind)[targets.key(role, scope)]
        return f"/api/v1/{'grids' if 'grid' in kind else 'regions'}/{code}{suffix}", body

    return build


#: A territory of one district, only checked (with check=true nothing is written).
TERRITORY = {
    "type": "FeatureCollection",
    "features": [
        {
            "type": "Feature",
            "properties": {"code": "T09", "name": "新区", "level": "district", "parent": None},
            "geometry": square(122.0, 30.0),
        }
    ],
}


def new_category(targets: Targets, _role: str, _scope: Scope) -> Request:
    return "/api/v1/categories", {"code": targets.unique("X"), "name": "新大类", "kind": "event"}


def new_partner(targets: Targets, _role: str, _scope: Scope) -> Request:
    return "/api/v1/partners", {"code": targets.unique("P"), "name": "上级平台", "channel": "upper_level"}


def sign_in_as(_targets: Targets, role: str, _scope: Scope) -> Request:
    username = ACTORS[role]
    body = {"username": username or "nobody", "password": PASSWORD if username else "wrong-password"}
    return "/api/v1/auth/token", body


def calendar_file(_targets: Targets, _role: str, _scope: Scope) -> Request:
    days = official_arrangement(2026)
    assert days is not None
    return "/api/v1/calendar/2026", format_calendar(days)


def statistics(suffix: str) -> Build:
    """A statistics request for October 2026 narrowed to the target region: a street's staff
    may ask for their own street's figures, never another's (a handler's scope is their
    department, asked for through their street)."""

    def build(targets: Targets, role: str, scope: Scope) -> Request:
        region = targets.regions[targets.key(role, scope)]
        return f"/api/v1/statistics/{suffix}period=month&date=2026-10-01&region={region}", None

    return build


def dashboard(targets: Targets, role: str, scope: Scope) -> Request:
    """The dashboard narrowed to the target region: one's own area's, never another's."""
    return f"/api/v1/dashboard?region={targets.regions[targets.key(role, scope)]}", None


def grid_summary(targets: Targets, role: str, scope: Scope) -> Request:
    return f"/api/v1/geo/grids/{targets.grids[targets.key(role, scope)]}/summary", None


def published(suffix: str = "") -> Build:
    """A request on August 2026's published department evaluation of the target region."""

    def build(targets: Targets, role: str, scope: Scope) -> Request:
        region = targets.regions[targets.key(role, scope)]
        joint = "&" if "?" in suffix else "?"
        return f"/api/v1/evaluations/department/2026-08{suffix}{joint}region={region}", None

    return build


def publish_july(targets: Targets, role: str, scope: Scope) -> Request:
    return f"/api/v1/evaluations/department/2026-07?region={targets.regions[targets.key(role, scope)]}", {}


#: Every staff role reads statistics of its own area; citizens none.
STATISTICS_READERS = {role: (200, 403) for role in ACTORS} | {"anonymous": (401, 401), "citizen": (403, 403)}


#: The settings fixture's secret key, which keys are hashed with.
SECRET = "test-only-secret-" * 3


def new_api_key(targets: Targets, role: str, scope: Scope) -> Request:
    region_code = targets.regions[targets.key(role, scope)]
    return "/api/v1/api-keys", {"name": targets.unique("App"), "region_code": region_code}


def revoke_api_key(targets: Targets, role: str, scope: Scope) -> Request:
    return f"/api/v1/api-keys/{targets.issue_key(targets.regions[targets.key(role, scope)])}/revoke", None


def open311_report(targets: Targets, role: str, scope: Scope) -> Request:
    """Open311 reports are authenticated by the API key, not by a user's token: the key of
    东湖 reports in 东湖 (in scope) and is refused elsewhere, whoever's token comes along."""
    lng, lat = targets.points[targets.key(role, scope)]
    body = {"api_key": targets.api_key, "service_code": "E0105", "lat": lat, "long": lng}
    return "/open311/v2/requests.json", body


def on_notification(targets: Targets, role: str, scope: Scope) -> Request:
    """One's own notification in scope; another user's out of it (404: not there for you)."""
    owner = role if scope == "in" and role != "anonymous" else "other"
    return f"/api/v1/notifications/{targets.notifications[owner]}/read", None


def user_settings(targets: Targets, role: str, scope: Scope) -> Request:
    username = targets.users[targets.key(role, scope)]
    return f"/api/v1/users/{username}/notification-settings", {
        "email": "someone@example.org",
        "kinds": ["red"],
    }


#: Settings as a user or admin sets them.
SETTINGS = {"sms_phone": "13800000000", "kinds": ["red", "supervision"]}

#: The public record: anyone reads it, with or without a token (every case: the public view).
PUBLIC = everyone(200, anonymous=200)


def briefing(suffix: str) -> Build:
    """A daily briefing of the target region made on demand (a workbook: no charts to draw)."""

    def build(targets: Targets, role: str, scope: Scope) -> Request:
        region = targets.regions[targets.key(role, scope)]
        return f"/api/v1/briefings/{suffix}?date=2026-09-29&region={region}&format=xlsx", None

    return build


def on_stored_briefing(targets: Targets, role: str, scope: Scope) -> Request:
    return f"/api/v1/briefings/stored/{targets.briefings[targets.key(role, scope)]}/pdf", None


def on_schedule(body: dict[str, Any] | None, deleting: bool = False) -> Build:
    """A schedule of the target region; deleting, each admin its own (a deleted one is gone)."""

    def build(targets: Targets, role: str, scope: Scope) -> Request:
        key = targets.key(role, scope)
        ident = (
            targets.deletable_schedules[(role, key)]
            if deleting and role in ADMINS
            else targets.schedules[key]
        )
        return f"/api/v1/briefings/schedules/{ident}", body

    return build


def new_schedule(targets: Targets, role: str, scope: Scope) -> Request:
    body = {
        "kind": "weekly",
        "region_code": targets.regions[targets.key(role, scope)],
        "formats": ["pdf", "xlsx"],
    }
    return "/api/v1/briefings/schedules", body


#: Stored briefings are region-wide documents: staff of the region read them; a handler,
#: whose figures are their department's, reads none; citizens none at all.
STORED_BRIEFING_READERS = (
    everyone("seen")
    | {role: ("seen", "unseen") for role in ACTORS if role not in ("anonymous", "citizen", "handler")}
    | {"handler": ("unseen", "unseen"), "citizen": (403, 403)}
)


MATRIX: dict[tuple[str, str], Probe] = {
    # Public: the service's own pages and liveness.
    ("GET", "/openapi.json"): Probe(fixed("/openapi.json"), everyone(200, anonymous=200)),
    ("GET", "/docs"): Probe(fixed("/docs"), everyone(200, anonymous=200)),
    ("GET", "/healthz"): Probe(fixed("/healthz"), everyone(200, anonymous=200)),
    ("GET", "/readyz"): Probe(fixed("/readyz"), everyone(200, anonymous=200)),
    ("GET", "/api/v1/labels"): Probe(fixed("/api/v1/labels"), everyone(200, anonymous=200)),
    # Sign-in: anyone with their own password; a wrong one is 401.
    ("POST", "/api/v1/auth/token"): Probe(sign_in_as, everyone(200)),
    ("POST", "/api/v1/auth/logout"): Probe(fixed("/api/v1/auth/logout"), everyone(204), fresh_token=True),
    ("GET", "/api/v1/auth/me"): Probe(fixed("/api/v1/auth/me"), everyone(200)),
    # Cases: reporting roles register within their area (citizens anywhere, on the web).
    ("POST", "/api/v1/cases"): Probe(
        new_case_body,
        only(
            {
                "citizen": (201, 201),
                "operator": (201, 403),
                "dispatcher": (201, 403),
                "inspector": (201, 403),
            }
        ),
    ),
    ("GET", "/api/v1/cases"): Probe(
        fixed("/api/v1/cases?page_size=200"),
        everyone("seen") | {role: ("seen", "unseen") for role in ACTORS if role != "anonymous"},
        seen_by=("number", "cases"),
    ),
    ("GET", "/api/v1/cases/{number}"): Probe(on_case(), CASE_READERS),
    ("POST", "/api/v1/cases/{number}/actions/{action}"): Probe(
        on_case("/actions/comment", {"note": "已电话联系"}),
        CASE_READERS | {"citizen": (403, 404)},
    ),
    # Uploads (a photo here; a JSON link is checked the same way): staff on cases they see.
    ("POST", "/api/v1/cases/{number}/attachments"): Probe(
        on_case("/attachments", Multipart({"file": ("现场.jpg", photo(), "image/jpeg")})),
        {role: (201, 404) for role in ACTORS} | {"anonymous": (401, 401), "citizen": (403, 403)},
    ),
    # The map and point resolution: staff, within their area.
    ("GET", "/api/v1/geo/resolve"): Probe(
        at_point,
        only({role: (200, 403) for role in ACTORS if role not in ("anonymous", "citizen")}),
    ),
    ("GET", "/api/v1/geo/regions"): Probe(
        fixed("/api/v1/geo/regions"), MAP_READERS, seen_by=("properties.code", "regions")
    ),
    ("GET", "/api/v1/geo/grids"): Probe(
        fixed("/api/v1/geo/grids"), MAP_READERS, seen_by=("properties.code", "grids")
    ),
    ("GET", "/api/v1/geo/cases"): Probe(
        fixed("/api/v1/geo/cases?bbox=119,29,122,32"), MAP_READERS, seen_by=("properties.number", "cases")
    ),
    ("GET", "/api/v1/geo/cases/clusters"): Probe(
        fixed("/api/v1/geo/cases/clusters?bbox=119,29,122,32&zoom=18"),
        MAP_READERS,
        seen_by=("id", "clusters"),
    ),
    # A grid's people, open cases and month: staff, for the grids of their own area.
    ("GET", "/api/v1/geo/grids/{code}/summary"): Probe(
        grid_summary,
        only({role: (200, 403) for role in ACTORS if role not in ("anonymous", "citizen")}),
    ),
    ("GET", "/api/v1/geo/hotspots/grids"): Probe(
        fixed("/api/v1/geo/hotspots/grids"), MAP_READERS, seen_by=("code", "grids")
    ),
    ("GET", "/api/v1/geo/hotspots/hexagons"): Probe(
        fixed("/api/v1/geo/hotspots/hexagons?resolution=8"), MAP_READERS, seen_by=("properties.cell", "cells")
    ),
    ("GET", "/api/v1/cases/{number}/attachments/{attachment_id}"): Probe(on_attachment(), CASE_READERS),
    ("GET", "/api/v1/cases/{number}/attachments/{attachment_id}/thumbnail"): Probe(
        on_attachment("/thumbnail"), CASE_READERS
    ),
    # The duplicate hint lists only the cases the case list would show.
    ("GET", "/api/v1/cases/nearby"): Probe(
        nearby,
        everyone("seen") | {role: ("seen", "unseen") for role in ACTORS if role != "anonymous"},
        seen_by=("number", "cases"),
    ),
    # Reference data: every signed-in user reads it.
    ("GET", "/api/v1/regions"): Probe(fixed("/api/v1/regions"), everyone(200)),
    ("GET", "/api/v1/grids"): Probe(fixed("/api/v1/grids"), everyone(200)),
    ("GET", "/api/v1/departments"): Probe(fixed("/api/v1/departments"), everyone(200)),
    ("GET", "/api/v1/categories"): Probe(fixed("/api/v1/categories"), everyone(200)),
    # Directory writes: admins, within their own region's subtree.
    ("POST", "/api/v1/departments"): Probe(new_department, only(dict.fromkeys(ADMINS, (201, 403)))),
    ("PATCH", "/api/v1/departments/{code}"): Probe(edit_department, only(dict.fromkeys(ADMINS, (200, 403)))),
    ("GET", "/api/v1/users"): Probe(
        fixed("/api/v1/users"),
        only(dict.fromkeys(ADMINS, ("seen", "unseen"))),
        seen_by=("username", "users"),
    ),
    ("POST", "/api/v1/users"): Probe(new_user, only(dict.fromkeys(ADMINS, (201, 403)))),
    ("PATCH", "/api/v1/users/{username}"): Probe(edit_user, only(dict.fromkeys(ADMINS, (200, 404)))),
    # Regions and grids: staff read them; admins manage those of their own subtree.
    ("GET", "/api/v1/regions/{code}"): Probe(on_place("regions"), everyone(200)),
    ("PATCH", "/api/v1/regions/{code}"): Probe(
        on_place("regions", body={"name": "改名社区"}), only(dict.fromkeys(ADMINS, (200, 403)))
    ),
    ("POST", "/api/v1/regions/{code}/retire"): Probe(
        on_place("spare_regions", "/retire"), only(dict.fromkeys(ADMINS, (200, 403)))
    ),
    ("GET", "/api/v1/grids/{code}"): Probe(on_place("grids"), everyone(200) | {"citizen": (403, 403)}),
    ("PATCH", "/api/v1/grids/{code}"): Probe(
        on_place("grids", body={"name": "改名网格"}), only(dict.fromkeys(ADMINS, (200, 403)))
    ),
    ("POST", "/api/v1/grids/{code}/retire"): Probe(
        on_place("spare_grids", "/retire"), only(dict.fromkeys(ADMINS, (200, 403)))
    ),
    ("PUT", "/api/v1/grids/{code}/staff"): Probe(
        on_place("grids", "/staff", {"inspectors": ["inspector"], "leader": "supervisor"}),
        only(dict.fromkeys(ADMINS, (200, 403))),
    ),
    ("GET", "/api/v1/me/grids"): Probe(fixed("/api/v1/me/grids"), everyone(200)),
    # The territory is the whole centre's: only an admin of the top region loads or exports it.
    ("POST", "/api/v1/territory/import"): Probe(
        fixed("/api/v1/territory/import?check=true", TERRITORY), only({"admin": (200, 200)})
    ),
    ("GET", "/api/v1/territory/export"): Probe(
        fixed("/api/v1/territory/export"), only({"admin": (200, 200)})
    ),
    # The working calendar: admins read it; it is the whole centre's, so only an admin of
    # the top region loads a year.
    ("GET", "/api/v1/calendar"): Probe(fixed("/api/v1/calendar"), only(dict.fromkeys(ADMINS, (200, 200)))),
    ("GET", "/api/v1/calendar/{year}"): Probe(
        fixed("/api/v1/calendar/2026"), only(dict.fromkeys(ADMINS, (200, 200)))
    ),
    ("PUT", "/api/v1/calendar/{year}"): Probe(calendar_file, only({"admin": (200, 200)})),
    # The category tree is the district's: only an admin of the top region edits it.
    ("POST", "/api/v1/categories"): Probe(new_category, only({"admin": (201, 201)})),
    # Statistics: the indicator catalogue for everyone signed in; figures and the cases
    # behind them within one's own area only.
    ("GET", "/api/v1/statistics/indicators"): Probe(fixed("/api/v1/statistics/indicators"), everyone(200)),
    ("GET", "/api/v1/statistics/table"): Probe(statistics("table?group_by=department&"), STATISTICS_READERS),
    ("GET", "/api/v1/statistics/cases"): Probe(statistics("cases?indicator=reported&"), STATISTICS_READERS),
    ("GET", "/api/v1/statistics/evaluation/{target}"): Probe(
        statistics("evaluation/department?"), STATISTICS_READERS
    ),
    # The dashboard: the figures of one's own area, as the statistics.
    ("GET", "/api/v1/dashboard"): Probe(dashboard, STATISTICS_READERS),
    # Partners are the district's: only an admin of the top region manages them. Their work
    # orders are signed with the partner's secret: a token, any token, is not enough.
    ("GET", "/api/v1/partners"): Probe(fixed("/api/v1/partners"), only({"admin": (200, 200)})),
    ("POST", "/api/v1/partners"): Probe(new_partner, only({"admin": (201, 201)})),
    ("PATCH", "/api/v1/partners/{code}"): Probe(
        fixed("/api/v1/partners/12345-city", {"webhook_url": "https://12345.example.org/hook"}),
        only({"admin": (200, 200)}),
    ),
    ("POST", "/api/v1/exchange/{partner}/orders"): Probe(
        fixed(
            "/api/v1/exchange/12345-city/orders", {"order_number": "1", "content": "x", "category": "C0101"}
        ),
        everyone(401),
    ),
    # Exports: the case list's file holds what the list shows; tables and evaluations as their
    # JSON, within one's own area only.
    ("GET", "/api/v1/cases/export"): Probe(
        fixed("/api/v1/cases/export?format=csv"),
        everyone("seen") | {role: ("seen", "unseen") for role in ACTORS if role != "anonymous"},
        seen_by=("案件编号", "cases"),
    ),
    ("GET", "/api/v1/statistics/table/export"): Probe(
        statistics("table/export?format=csv&group_by=department&"), STATISTICS_READERS
    ),
    ("GET", "/api/v1/statistics/cases/export"): Probe(
        statistics("cases/export?format=xlsx&indicator=reported&"), STATISTICS_READERS
    ),
    ("GET", "/api/v1/statistics/evaluation/{target}/export"): Probe(
        statistics("evaluation/department/export?format=csv&"), STATISTICS_READERS
    ),
    # Published evaluations: a leader publishes within their region (the centre's verdict is
    # the leadership's act, not an admin's); staff read those of their own area.
    ("GET", "/api/v1/evaluations"): Probe(
        fixed("/api/v1/evaluations"),
        STATISTICS_READERS
        | {role: ("seen", "unseen") for role in STATISTICS_READERS if role not in ("anonymous", "citizen")},
        seen_by=("region_code", "regions"),
    ),
    ("POST", "/api/v1/evaluations/{kind}/{period}"): Probe(publish_july, only({"leader": (201, 403)})),
    ("GET", "/api/v1/evaluations/{kind}/{period}/{version}"): Probe(published("/1"), STATISTICS_READERS),
    ("GET", "/api/v1/evaluations/{kind}/{period}/{version}/changes"): Probe(
        published("/2/changes"), STATISTICS_READERS
    ),
    ("GET", "/api/v1/evaluations/{kind}/{period}/{version}/export"): Probe(
        published("/2/export?format=xlsx"), STATISTICS_READERS
    ),
    # Briefings: made on demand within one's own area (as statistics); stored ones read by the
    # region's staff; schedules managed by admins within their subtree.
    ("GET", "/api/v1/briefings/{kind}"): Probe(briefing("daily"), STATISTICS_READERS),
    ("GET", "/api/v1/briefings"): Probe(
        fixed("/api/v1/briefings?limit=200"), STORED_BRIEFING_READERS, seen_by=("id", "briefings")
    ),
    ("GET", "/api/v1/briefings/stored/{briefing_id}/{file_format}"): Probe(
        on_stored_briefing,
        {role: (200, 404) for role in ACTORS}
        | {"anonymous": (401, 401), "citizen": (403, 403), "handler": (404, 404)},
    ),
    ("GET", "/api/v1/briefings/schedules"): Probe(
        fixed("/api/v1/briefings/schedules"),
        only(dict.fromkeys(ADMINS, ("seen", "unseen"))),
        seen_by=("id", "schedules"),
    ),
    ("POST", "/api/v1/briefings/schedules"): Probe(new_schedule, only(dict.fromkeys(ADMINS, (201, 403)))),
    ("PATCH", "/api/v1/briefings/schedules/{schedule_id}"): Probe(
        on_schedule({"title": "东湖街道工作简报"}), only(dict.fromkeys(ADMINS, (200, 404)))
    ),
    ("DELETE", "/api/v1/briefings/schedules/{schedule_id}"): Probe(
        on_schedule(None, deleting=True), only(dict.fromkeys(ADMINS, (204, 404)))
    ),
    ("PATCH", "/api/v1/categories/{code}"): Probe(
        fixed("/api/v1/categories/C0101", {"closure_standard": "井盖完好、平稳"}), only({"admin": (200, 200)})
    ),
    # API keys: admins issue and revoke them for regions of their own subtree.
    ("POST", "/api/v1/api-keys"): Probe(new_api_key, only(dict.fromkeys(ADMINS, (201, 403)))),
    ("GET", "/api/v1/api-keys"): Probe(
        fixed("/api/v1/api-keys"),
        only(dict.fromkeys(ADMINS, ("seen", "unseen"))),
        seen_by=("name", "key_names"),
    ),
    ("POST", "/api/v1/api-keys/{name}/revoke"): Probe(
        revoke_api_key, only(dict.fromkeys(ADMINS, (200, 404)))
    ),
    # Open311: the public reads every case's public view; a key reports within its region.
    ("GET", "/open311/discovery.{fmt}"): Probe(fixed("/open311/discovery.json"), PUBLIC),
    ("GET", "/open311/v2/services.{fmt}"): Probe(fixed("/open311/v2/services.xml"), PUBLIC),
    ("GET", "/open311/v2/services/{code}.{fmt}"): Probe(fixed("/open311/v2/services/C0101.json"), PUBLIC),
    ("GET", "/open311/v2/requests.{fmt}"): Probe(
        fixed("/open311/v2/requests.json?start_date=2026-09-01T00:00:00Z&end_date=2026-10-30T00:00:00Z"),
        everyone("seen", anonymous="seen"),
        seen_by=("service_request_id", "cases"),
    ),
    ("GET", "/open311/v2/requests/{number}.{fmt}"): Probe(
        lambda targets, role, scope: (
            f"/open311/v2/requests/{targets.cases[targets.key(role, scope)]}.json",
            None,
        ),
        PUBLIC,
    ),
    ("GET", "/open311/v2/tokens/{token}.{fmt}"): Probe(
        fixed("/open311/v2/tokens/o311-none.json"), everyone(404, 404)
    ),
    ("POST", "/open311/v2/requests.{fmt}"): Probe(open311_report, {role: (200, 403) for role in ACTORS}),
    # Live updates: every signed-in user gets a stream of what their scope sees (the events
    # themselves are checked by scope in tests/live); without a sign-in, 401.
    ("GET", "/live/events"): Probe(fixed("/live/events"), everyone(200)),
    # Notifications: one's own only; settings one's own, or an admin's for the users they manage.
    ("GET", "/api/v1/notifications"): Probe(fixed("/api/v1/notifications"), everyone(200)),
    ("POST", "/api/v1/notifications/read-all"): Probe(fixed("/api/v1/notifications/read-all"), everyone(200)),
    ("POST", "/api/v1/notifications/{notification_id}/read"): Probe(
        on_notification, everyone(200) | {role: (200, 404) for role in ACTORS if role != "anonymous"}
    ),
    ("GET", "/api/v1/me/notification-settings"): Probe(
        fixed("/api/v1/me/notification-settings"), everyone(200)
    ),
    ("PUT", "/api/v1/me/notification-settings"): Probe(
        fixed("/api/v1/me/notification-settings", SETTINGS), everyone(200)
    ),
    ("GET", "/api/v1/users/{username}/notification-settings"): Probe(
        user_settings, only(dict.fromkeys(ADMINS, (200, 404)))
    ),
    ("PUT", "/api/v1/users/{username}/notification-settings"): Probe(
        user_settings, only(dict.fromkeys(ADMINS, (200, 404)))
    ),
}


def application_endpoints(app: FastAPI) -> set[tuple[str, str]]:
    """Every (method, path) the application answers, from its route table, but the
    command-centre pages: they sign in with a cookie, and have their own matrix
    (``tests/web/test_page_matrix.py``)."""
    return {
        (method, route.path)
        for route in iter_route_contexts(app.routes)
        if route.path is not None and not isinstance(route.original_route, PageRoute)
        for method in route.methods or ()
        if method != "HEAD"
    }


def test_every_endpoint_has_a_row(app: FastAPI) -> None:
    endpoints = application_endpoints(app)
    assert sorted(endpoints - MATRIX.keys()) == [], "endpoints without a row in the authorization matrix"
    assert sorted(MATRIX.keys() - endpoints) == [], "rows for endpoints the application no longer has"


@pytest.fixture
def targets(session: Session, world: World, rules: CentreRules, now: datetime, app: FastAPI) -> Targets:
    return build_targets(session, world, rules, now, app.state.file_store)


@pytest.fixture
def sign_in(client: TestClient) -> Callable[[str | None], dict[str, str]]:
    def headers(username: str | None) -> dict[str, str]:
        if username is None:
            return {}
        reply = client.post("/api/v1/auth/token", json={"username": username, "password": PASSWORD})
        assert reply.status_code == 200, reply.text
        return {"Authorization": f"Bearer {reply.json()['access_token']}"}

    return headers


def outcome(probe: Probe, reply: Any, target: str) -> Outcome:
    """The status, or for a list whether ``target`` is among its rows."""
    if probe.seen_by is None or reply.status_code != 200:
        return int(reply.status_code)
    if reply.headers["content-type"].startswith("text/csv"):
        return "seen" if any(row[probe.seen_by[0]] == target for row in csv_rows(reply.content)) else "unseen"
    rows = reply.json()
    if isinstance(rows, dict):  # a page's items, GeoJSON's features, or a hotspot list
        rows = next(rows[key] for key in ("items", "features", "grids") if key in rows)
    return "seen" if any(_field(row, probe.seen_by[0]) == target for row in rows) else "unseen"


def csv_rows(content: bytes) -> list[dict[str, str]]:
    """The rows of an exported CSV file by header."""
    return list(csv.DictReader(io.StringIO(content.decode("utf-8-sig"))))


def _field(row: dict[str, Any], dotted: str) -> Any:
    """``row``'s value at a dotted key such as ``properties.code``."""
    for key in dotted.split("."):
        row = row[key]
    return row


def test_authorization_matrix(
    client: TestClient,
    targets: Targets,
    sign_in: Callable[[str | None], dict[str, str]],
    clock: Callable[[datetime], None],
) -> None:
    """Every cell of the matrix, on each database, at the time the targets were made (the
    duplicate hint looks back a week); all wrong cells are reported at once."""
    tokens = {role: sign_in(username) for role, username in ACTORS.items()}
    wrong = []
    for (method, path_template), probe in sorted(MATRIX.items()):
        for role, username in ACTORS.items():
            for scope, expected in zip(("in", "out of"), probe.expected[role], strict=True):
                headers = sign_in(username) if probe.fresh_token else tokens[role]
                path, body = probe.build(targets, role, scope)
                if isinstance(body, str):
                    headers = {**headers, "Content-Type": "text/csv"}
                    reply = client.request(method, path, content=body.encode(), headers=headers)
                elif isinstance(body, Multipart):
                    reply = client.request(method, path, files=body.files, headers=headers)
                else:
                    reply = client.request(method, path, json=body, headers=headers)
                target = getattr(targets, probe.seen_by[1])[targets.key(role, scope)] if probe.seen_by else ""
                got = outcome(probe, reply, target)
                if got != expected:
                    wrong.append(
                        f"{method} {path_template} as {role}, {scope} scope: "
                        f"expected {expected}, got {got}: {reply.text[:160]}"
                    )
    assert wrong == [], "\n".join(wrong)
