"""The pages' authorization matrix: every page route × every role × a target in and out of
the actor's scope, each expected outcome written once below. As in the API's matrix, the
routes come from the application's route table: a new page without a row here fails.

"In scope" is of 东湖街道 (the street of the street staff); "out of scope" of 西山街道, which
district-wide roles (leader, admin) reach as well. Outcomes are status codes: 303 is a
redirect (to the sign-in page for anonymous requests), 404 an object that is not there for
this actor."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from io import BytesIO
from itertools import count
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.routing import iter_route_contexts
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from civicgrid.domain.vocabulary import AlertKind, AttachmentPurpose
from civicgrid.services import attachments
from civicgrid.services.cases import CentreRules
from civicgrid.settings import Settings
from civicgrid.store.files import FileStore
from civicgrid.store.models import Case, Notification
from civicgrid.web.pages import PageRoute
from tests import factories
from tests.factories import PASSWORD, World
from tests.images import photo
from tests.web.conftest import csrf_of

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
STAFF = [actor for actor in ACTORS if actor not in ("anonymous", "citizen")]
ADMINS = ("street_admin", "admin")
DISTRICT_WIDE = ("leader", "admin")

Expected = tuple[int, int]


@dataclass(frozen=True)
class Targets:
    """What the probes act on, in (东湖) and out of (西山) the street staff's scope."""

    case: dict[str, str]
    #: A photo on each case (its id).
    attachment: dict[str, int]
    username: dict[str, str]
    department: dict[str, str]
    region: dict[str, str]
    #: A notification of each actor (by actor name), and one of another user ("out of").
    notification: dict[str, int]


#: A request: method, path, form fields (a CSRF token is added to every POST).
Request = tuple[str, str, dict[str, Any]]
_serial = count(1)


def _table(anonymous: int, citizen: int, staff: Expected, **by_actor: Expected) -> dict[str, Expected]:
    table = {actor: staff for actor in STAFF}
    table.update(anonymous=(anonymous, anonymous), citizen=(citizen, citizen))
    table.update(by_actor)
    return table


def _case_page(ok: int) -> dict[str, Expected]:
    # Street staff and the handler of its department see the east's case; the district sees both.
    return _table(303, 403, (ok, 404), leader=(ok, ok), admin=(ok, ok))


def _intake_helper() -> dict[str, Expected]:
    # The intake form's helpers answer those who register cases; what they list is scoped.
    reporters = {actor: (200, 200) for actor in ("operator", "dispatcher", "inspector")}
    return _table(303, 403, (403, 403), **reporters)


def _admins_only(ok: Expected) -> dict[str, Expected]:
    forbidden = {actor: (403, 403) for actor in STAFF if actor not in ADMINS}
    return _table(303, 403, ok, **forbidden)


Probe = Callable[[Targets, str], Request]


def get(path: str) -> Probe:
    return lambda targets, where: ("GET", path, {})


def new_case(targets: Targets, where: str) -> Request:
    lng = "120.005" if where == "in" else "120.105"
    fields = {
        "channel": "hotline_12345",
        "category_code": "C0101",
        "title": "井盖",
        "lng": lng,
        "lat": "30.005",
    }
    return ("POST", "/cases", fields)


def new_user(targets: Targets, where: str) -> Request:
    fields = {
        "username": f"page_user_{next(_serial)}",
        "full_name": "新同事",
        "password": "a-long-password",
        "role": "operator",
        "region_code": targets.region[where],
    }
    return ("POST", "/admin/users", fields)


def new_department(targets: Targets, where: str) -> Request:
    fields = {
        "code": f"D-NEW-{next(_serial)}",
        "name": "新部门",
        "function": "sanitation",
        "level": "street",
        "region_code": targets.region[where],
    }
    return ("POST", "/admin/departments", fields)


def _public(status: int) -> dict[str, Expected]:
    # The citizens' portal answers everyone alike: a staff or citizen session grants nothing
    # there, only a verified phone does (tests/portal covers those pages with one).
    return _table(status, status, (status, status))


PORTAL_PHONE = "13800138000"

MATRIX: dict[tuple[str, str], tuple[Probe, dict[str, Expected]]] = {
    ("GET", "/"): (get("/"), _table(303, 303, (303, 303))),
    ("GET", "/login"): (get("/login"), _table(200, 200, (200, 200))),
    # Signing in again, as the actor (a citizen signs in, and the pages then refuse them).
    ("POST", "/login"): (
        lambda targets, where: ("POST", "/login", {"username": "operator", "password": PASSWORD}),
        _table(303, 303, (303, 303)),
    ),
    ("POST", "/logout"): (lambda targets, where: ("POST", "/logout", {}), _table(303, 403, (303, 303))),
    ("GET", "/workbench"): (get("/workbench"), _table(303, 403, (200, 200))),
    ("GET", "/cases/new"): (
        get("/cases/new"),
        _table(303, 403, (403, 403), operator=(200, 200), dispatcher=(200, 200), inspector=(200, 200)),
    ),
    ("GET", "/cases/new/place"): (
        get("/cases/new/place?lng=120.005&lat=30.005"),
        _table(303, 403, (200, 200)),
    ),
    ("GET", "/cases/new/nearby"): (
        lambda t, w: (
            "GET",
            f"/cases/new/nearby?category_code=C0101&lng={'120.005' if w == 'in' else '120.105'}&lat=30.005",
            {},
        ),
        _intake_helper(),
    ),
    ("GET", "/cases/new/grids"): (get("/cases/new/grids"), _intake_helper()),
    ("POST", "/cases"): (
        new_case,
        _table(303, 403, (403, 403), operator=(303, 403), dispatcher=(303, 403), inspector=(303, 403)),
    ),
    ("GET", "/cases/{number}"): (lambda t, w: ("GET", f"/cases/{t.case[w]}", {}), _case_page(200)),
    ("GET", "/cases/{number}/actions/{name}"): (
        lambda t, w: ("GET", f"/cases/{t.case[w]}/actions/comment", {}),
        _case_page(200),
    ),
    ("POST", "/cases/{number}/actions/{name}"): (
        lambda t, w: ("POST", f"/cases/{t.case[w]}/actions/comment", {"note": "已阅"}),
        _case_page(303),
    ),
    # Notifications: one's own (someone else's is not there for you); settings one's own.
    ("GET", "/notifications"): (get("/notifications"), _table(303, 403, (200, 200))),
    ("POST", "/notifications/read-all"): (
        lambda t, w: ("POST", "/notifications/read-all", {}),
        _table(303, 403, (303, 303)),
    ),
    ("POST", "/notifications/{notification_id}/read"): (
        lambda t, w: (
            "POST",
            "/notifications/{mine}/read" if w == "in" else f"/notifications/{t.notification['out of']}/read",
            {"open": "1"},
        ),
        _table(303, 403, (303, 404)),
    ),
    ("GET", "/notifications/settings"): (get("/notifications/settings"), _table(303, 403, (200, 200))),
    ("POST", "/notifications/settings"): (
        lambda t, w: ("POST", "/notifications/settings", {"sms_phone": "13800000000", "kinds": "red"}),
        _table(303, 403, (303, 303)),
    ),
    # The map and the dashboard: every staff member, each showing their own area (a region
    # outside it is ignored: the dashboard shows the whole area).
    ("GET", "/map"): (get("/map"), _table(303, 403, (200, 200))),
    ("GET", "/dashboard"): (
        lambda t, w: ("GET", f"/dashboard?region={t.region[w]}", {}),
        _table(303, 403, (200, 200)),
    ),
    # A case's photos: for who may see the case; 404 for anyone else, as for the case.
    ("GET", "/cases/{number}/attachments/{attachment_id}"): (
        lambda t, w: ("GET", f"/cases/{t.case[w]}/attachments/{t.attachment[w]}", {}),
        _case_page(200),
    ),
    ("GET", "/cases/{number}/attachments/{attachment_id}/thumbnail"): (
        lambda t, w: ("GET", f"/cases/{t.case[w]}/attachments/{t.attachment[w]}/thumbnail", {}),
        _case_page(200),
    ),
    ("GET", "/admin/users"): (get("/admin/users"), _admins_only((200, 200))),
    ("POST", "/admin/users"): (new_user, _admins_only((303, 403)) | {"admin": (303, 303)}),
    ("GET", "/admin/users/{username}"): (
        lambda t, w: ("GET", f"/admin/users/{t.username[w]}", {}),
        _admins_only((200, 404)) | {"admin": (200, 200)},
    ),
    ("POST", "/admin/users/{username}"): (
        lambda t, w: (
            "POST",
            f"/admin/users/{t.username[w]}",
            {"full_name": "改名", "role": "operator", "region_code": t.region[w], "is_active": "on"},
        ),
        _admins_only((303, 404)) | {"admin": (303, 303)},
    ),
    ("GET", "/admin/departments"): (get("/admin/departments"), _admins_only((200, 200))),
    ("POST", "/admin/departments"): (new_department, _admins_only((303, 403)) | {"admin": (303, 303)}),
    ("POST", "/admin/departments/{code}"): (
        lambda t, w: (
            "POST",
            f"/admin/departments/{t.department[w]}",
            {"name": "改名", "linkage_level": "2", "is_active": "on"},
        ),
        _admins_only((303, 403)) | {"admin": (303, 303)},
    ),
    # The category tree is the district's: only an admin of the top region edits it.
    ("GET", "/admin/categories"): (get("/admin/categories"), _admins_only((200, 200))),
    ("GET", "/admin/categories/{code}"): (get("/admin/categories/C0101"), _admins_only((200, 200))),
    ("POST", "/admin/categories/{code}"): (
        lambda t, w: (
            "POST",
            "/admin/categories/C0101",
            {
                "name": "上水井盖",
                "department_function": "municipal",
                "limit_normal_handle": "3wd",
                "is_active": "on",
            },
        ),
        _admins_only((403, 403)) | {"admin": (303, 303)},
    ),
    # The citizens' portal: public pages; those of a verified phone send everyone else to
    # the verification form (303); a lookup with a phone that is not the reporter's is 404.
    ("GET", "/portal"): (get("/portal"), _public(200)),
    ("GET", "/portal/verify"): (get("/portal/verify"), _public(200)),
    ("POST", "/portal/verify/code"): (
        lambda t, w: ("POST", "/portal/verify/code", {"phone": PORTAL_PHONE}),
        _public(200),
    ),
    ("POST", "/portal/verify"): (
        lambda t, w: ("POST", "/portal/verify", {"phone": PORTAL_PHONE, "code": "000000"}),
        _public(422),  # no code was sent
    ),
    ("POST", "/portal/logout"): (lambda t, w: ("POST", "/portal/logout", {}), _public(303)),
    ("GET", "/portal/report"): (get("/portal/report"), _public(303)),
    ("POST", "/portal/report"): (
        lambda t, w: ("POST", "/portal/report", {"category_code": "C0101", "description": "井盖"}),
        _public(303),
    ),
    ("GET", "/portal/place"): (get("/portal/place?lng=120.005&lat=30.005"), _public(200)),
    ("GET", "/portal/lookup"): (get("/portal/lookup"), _public(200)),
    ("POST", "/portal/lookup"): (
        lambda t, w: ("POST", "/portal/lookup", {"number": t.case[w], "phone": PORTAL_PHONE}),
        _public(404),
    ),
    ("GET", "/portal/mine"): (get("/portal/mine"), _public(303)),
    ("GET", "/portal/cases/{number}"): (
        lambda t, w: ("GET", f"/portal/cases/{t.case[w]}", {}),
        _public(303),
    ),
    ("POST", "/portal/cases/{number}/rating"): (
        lambda t, w: ("POST", f"/portal/cases/{t.case[w]}/rating", {"satisfaction": "satisfied"}),
        _public(303),
    ),
    ("GET", "/portal/map"): (get("/portal/map"), _public(200)),
    ("GET", "/portal/map/data"): (get("/portal/map/data"), _public(200)),
}


def page_endpoints(app: FastAPI) -> set[tuple[str, str]]:
    """Every (method, path) of the command-centre pages, from the route table."""
    return {
        (method, context.path)
        for context in iter_route_contexts(app.routes)
        if context.path is not None and isinstance(context.original_route, PageRoute)
        for method in context.methods or ()
        if method != "HEAD"
    }


def test_every_page_has_a_row(app: FastAPI) -> None:
    assert sorted(page_endpoints(app) - MATRIX.keys()) == [], "pages without a row in the matrix"
    assert sorted(MATRIX.keys() - page_endpoints(app)) == [], "rows for pages the application no longer has"


def _photo_on(
    session: Session, world: World, settings: Settings, case: Case, actor: str, now: datetime
) -> int:
    """A photo the case's reporter took, in the file store; its attachment id."""
    prepared = attachments.prepare_upload(
        FileStore(settings.files_path), BytesIO(photo()), "现场.jpg", max_bytes=10**6, thumbnail_pixels=100
    )
    added = attachments.record_upload(
        session, world.users[actor], case.number, prepared, AttachmentPurpose.BEFORE, 1, now
    )
    return added.id


@pytest.fixture
def targets(session: Session, world: World, rules: CentreRules, settings: Settings, now: datetime) -> Targets:
    east: Case = factories.new_case(session, world, rules, now, title="东湖井盖")
    factories.act(session, world, rules, east, "operator", "register", now)
    factories.act(session, world, rules, east, "dispatcher", "dispatch", now, department_code="D-CG-E")
    west = factories.new_case(session, world, rules, now, actor="operator_west", lng=120.105, lat=30.005)
    factories.act(session, world, rules, west, "operator_west", "register", now)
    factories.act(session, world, rules, west, "dispatcher_west", "dispatch", now, department_code="D-CG-W")
    notification = {}
    for actor, username in [*ACTORS.items(), ("out of", "operator_west")]:
        if username is None:
            continue
        row = Notification(
            user_id=world.users[username].id,
            kind=AlertKind.SUPERVISION,
            case_id=east.id,
            occasion=f"matrix:{actor}",
            text="督办",
            created_at=now,
        )
        session.add(row)
        session.flush()
        notification[actor] = row.id
    photos = {
        "in": _photo_on(session, world, settings, east, "operator", now),
        "out of": _photo_on(session, world, settings, west, "operator_west", now),
    }
    session.commit()
    return Targets(
        notification=notification,
        case={"in": east.number, "out of": west.number},
        attachment=photos,
        username={"in": "operator", "out of": "operator_west"},
        department={"in": "D-HW-E", "out of": "D-CG-W"},
        region={"in": "T0101", "out of": "T0102"},
    )


CELLS = [
    pytest.param(endpoint, actor, where, id=f"{endpoint[0]} {endpoint[1]} {actor} {where}")
    for endpoint in MATRIX
    for actor in ACTORS
    for where in ("in", "out of")
]


@pytest.mark.parametrize(("endpoint", "actor", "where"), CELLS)
def test_page_matrix(
    app: FastAPI,
    pages: Callable[[str], TestClient],
    targets: Targets,
    endpoint: tuple[str, str],
    actor: str,
    where: str,
) -> None:
    probe, expected = MATRIX[endpoint]
    username = ACTORS[actor]
    client = pages(username) if username else TestClient(app, follow_redirects=False)
    method, path, fields = probe(targets, where)
    path = path.replace("{mine}", str(targets.notification.get(actor, 0)))
    if method == "POST":
        if endpoint == ("POST", "/login"):
            token = csrf_of(client.get("/login").text)  # the sign-in form's (the pre-session's)
        elif path.startswith("/portal"):
            token = csrf_of(client.get("/portal/verify").text)  # the portal's forms' token
        elif actor in STAFF:
            token = csrf_of(client.get("/workbench").text)  # the page session's
        else:
            token = ""  # no page session: refused before the token matters
        reply = client.post(path, data={**fields, "csrf_token": token})
    else:
        reply = client.get(path)
    assert reply.status_code == expected[actor][0 if where == "in" else 1], reply.text[-600:]
