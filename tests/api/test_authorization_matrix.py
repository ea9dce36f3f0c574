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

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from itertools import count
from typing import Any, Literal

import pytest
from fastapi import FastAPI
from fastapi.routing import iter_route_contexts
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from civicgrid.calendar_file import format_calendar
from civicgrid.domain.calendar import official_arrangement
from civicgrid.domain.vocabulary import (
    Channel,
    DepartmentFunction,
    DepartmentLevel,
    GridKind,
    RegionLevel,
    Role,
)
from civicgrid.exchange.partners import create_partner
from civicgrid.exchange.schemas import PartnerIn
from civicgrid.services.cases import CentreRules
from civicgrid.store.models import Department, Grid
from tests.factories import PASSWORD, World, act, new_case, region, square, user

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
    points: dict[str, tuple[float, float]]
    serial: Iterator[int]

    def key(self, role: str, scope: Scope) -> str:
        """ "in", or the out-of-scope target for this role: another street or district."""
        if scope == "in":
            return "in"
        return "other_district" if role in DISTRICT_WIDE else "other_street"

    def unique(self, stem: str) -> str:
        """A fresh code or username, so repeated creations do not collide."""
        return f"{stem}{next(self.serial)}"


def build_targets(session: Session, world: World, rules: CentreRules, now: datetime) -> Targets:
    """A street admin, a second district with its own case, and the cases of both streets."""
    other = region(session, "T02", "邻区", RegionLevel.DISTRICT, None)
    other_street = region(session, "T0201", "邻区街道", RegionLevel.STREET, other)
    other_community = region(session, "T020101", "邻区社区", RegionLevel.COMMUNITY, other_street)
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
    # A partner for the partner routes (its orders come signed, not with a token).
    create_partner(session, None, PartnerIn(code="12345-city", name="市12345热线"), now)
    session.commit()
    return Targets(
        cases=cases,
        departments={"in": "D-SZ-E", "other_street": "D-CG-W", "other_district": "D-CG-T02"},
        users={"in": "inspector", "other_street": "operator_west", "other_district": "operator_t02"},
        regions={"in": "T010101", "other_street": "T010201", "other_district": "T020101"},
        points={
            "in": (120.005, 30.005),
            "other_street": (120.105, 30.005),
            "other_district": (121.005, 31.005),
        },
        serial=count(1),
    )


# --- the probes: how to call each endpoint, and what each role gets -----------------------

#: A request: method is the row's; path (with parameters filled in) and body (a dict is
#: sent as JSON, a string as a calendar file).
Request = tuple[str, dict[str, Any] | str | None]
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


def on_case(suffix: str = "", body: dict[str, Any] | None = None) -> Build:
    def build(targets: Targets, role: str, scope: Scope) -> Request:
        return f"/api/v1/cases/{targets.cases[targets.key(role, scope)]}{suffix}", body

    return build


def new_case_body(targets: Targets, role: str, scope: Scope) -> Request:
    lng, lat = targets.points[targets.key(role, scope)]
    return "/api/v1/cases", {
        "channel": "web",
        "category_code": "C0101",
        "title": "井盖缺失",
        "lng": lng,
        "lat": lat,
    }


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


ATTACHMENT = {
    "filename": "现场.jpg",
    "content_type": "image/jpeg",
    "size_bytes": 1024,
    "sha256": "0" * 64,
    "uri": "https://files.example.org/a.jpg",
}

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
    ("POST", "/api/v1/cases/{number}/attachments"): Probe(
        on_case("/attachments", ATTACHMENT),
        {role: (201, 404) for role in ACTORS} | {"anonymous": (401, 401), "citizen": (403, 403)},
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
    # The working calendar: admins read it; it is the whole centre's, so only an admin of
    # the top region loads a year.
    ("GET", "/api/v1/calendar"): Probe(fixed("/api/v1/calendar"), only(dict.fromkeys(ADMINS, (200, 200)))),
    ("GET", "/api/v1/calendar/{year}"): Probe(
        fixed("/api/v1/calendar/2026"), only(dict.fromkeys(ADMINS, (200, 200)))
    ),
    ("PUT", "/api/v1/calendar/{year}"): Probe(calendar_file, only({"admin": (200, 200)})),
    # The category tree is the district's: only an admin of the top region edits it.
    ("POST", "/api/v1/categories"): Probe(new_category, only({"admin": (201, 201)})),
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
    ("PATCH", "/api/v1/categories/{code}"): Probe(
        fixed("/api/v1/categories/C0101", {"closure_standard": "井盖完好、平稳"}), only({"admin": (200, 200)})
    ),
}


def application_endpoints(app: FastAPI) -> set[tuple[str, str]]:
    """Every (method, path) the application answers, from its route table."""
    return {
        (method, route.path)
        for route in iter_route_contexts(app.routes)
        if route.path is not None
        for method in route.methods or ()
        if method != "HEAD"
    }


def test_every_endpoint_has_a_row(app: FastAPI) -> None:
    endpoints = application_endpoints(app)
    assert sorted(endpoints - MATRIX.keys()) == [], "endpoints without a row in the authorization matrix"
    assert sorted(MATRIX.keys() - endpoints) == [], "rows for endpoints the application no longer has"


@pytest.fixture
def targets(session: Session, world: World, rules: CentreRules, now: datetime) -> Targets:
    return build_targets(session, world, rules, now)


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
    rows = reply.json()
    rows = rows["items"] if isinstance(rows, dict) else rows
    return "seen" if any(row[probe.seen_by[0]] == target for row in rows) else "unseen"


def test_authorization_matrix(
    client: TestClient, targets: Targets, sign_in: Callable[[str | None], dict[str, str]]
) -> None:
    """Every cell of the matrix, on each database; all wrong cells are reported at once."""
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
