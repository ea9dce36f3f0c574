"""The working-calendar API end to end (SQLite and PostgreSQL): what it knows, loading a
year as an admin of the whole centre, and the running app using the new calendar at once.

The 2027 days are made up for testing (测试假日): no 2027 arrangement is published yet.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from civicgrid.api.app import create_app
from civicgrid.api.deps import get_now
from civicgrid.calendar_file import format_calendar
from civicgrid.domain.calendar import official_arrangement
from civicgrid.settings import Settings
from civicgrid.store.models import CalendarDay
from tests.api.test_api import Headers, act, create
from tests.conftest import SHANGHAI
from tests.factories import World

TEST_2027 = (
    "date,type,name\n2027-01-01,holiday,测试假日\n2027-01-04,holiday,测试假日\n2027-01-09,workday,测试调休\n"
)
CSV = {"Content-Type": "text/csv"}
NEW_YEARS_EVE = datetime(2026, 12, 31, 16, tzinfo=SHANGHAI)


def put_year(client: TestClient, headers: Headers, year: int, text: str) -> Any:
    return client.put(f"/api/v1/calendar/{year}", content=text.encode(), headers={**headers, **CSV})


def dispatched_case(client: TestClient, login: Callable[[str], Headers]) -> dict[str, Any]:
    number = create(client, login("operator"))["number"]
    act(client, login("operator"), number, "register")
    return act(client, login("dispatcher"), number, "dispatch", department_code="D-SZ-E")


def loaded_days(session: Session) -> int:
    session.expire_all()
    return session.scalar(select(func.count()).select_from(CalendarDay)) or 0


def test_the_calendar_says_what_it_knows_and_warns(
    client: TestClient, login: Callable[[str], Headers], clock: Callable[[datetime], None]
) -> None:
    clock(datetime(2026, 11, 25, 10, tzinfo=SHANGHAI))
    body = client.get("/api/v1/calendar", headers=login("admin")).json()
    assert body["known_years"] == list(range(2004, 2027)) and body["loaded"] == []
    assert body["known_through"] == "2026-12-31"
    assert "only until 2026-12-31 (36 days from now)" in body["warning"]
    assert (
        "civicgrid import-calendar FILE" in body["warning"] and "PUT /api/v1/calendar/2027" in body["warning"]
    )
    clock(datetime(2026, 6, 1, 10, tzinfo=SHANGHAI))
    assert client.get("/api/v1/calendar", headers=login("admin")).json()["warning"] is None
    reply = client.get("/api/v1/calendar/2026", headers=login("admin"))
    assert reply.status_code == 200 and reply.headers["content-type"].startswith("text/csv")
    assert reply.text == format_calendar(official_arrangement(2026) or [])
    reply = client.get("/api/v1/calendar/2027", headers=login("admin"))
    assert reply.status_code == 404 and "no arrangement of 2027" in reply.json()["detail"]
    for username in ("leader", "dispatcher"):
        reply = client.get("/api/v1/calendar", headers=login(username))
        assert reply.status_code == 403 and reply.json()["error"] == "forbidden"


def test_an_admin_of_the_centre_loads_2027_and_open_deadlines_move(
    client: TestClient, login: Callable[[str], Headers], clock: Callable[[datetime], None], session: Session
) -> None:
    clock(NEW_YEARS_EVE)
    case = dispatched_case(client, login)
    assert case["deadline_at"] == "2027-01-01T08:00:00Z"  # Fri 16:00 in Shanghai: a workday, unknown
    reply = put_year(client, login("admin"), 2027, TEST_2027)
    assert reply.status_code == 200, reply.text
    body = reply.json()
    assert (body["year"], body["days"], body["replaced"], body["recomputed"], body["changed"]) == (
        2027,
        3,
        False,
        1,
        1,
    )
    assert body["calendar"]["known_through"] == "2027-12-31"
    assert body["calendar"]["loaded"][0]["loaded_by"] == "admin"
    moved = client.get(f"/api/v1/cases/{case['number']}", headers=login("leader")).json()
    assert moved["deadline_at"] == "2027-01-05T08:00:00Z" and len(moved["timeline"]) == len(case["timeline"])
    # A case dispatched now gets its deadline on the new calendar too.
    assert dispatched_case(client, login)["deadline_at"] == "2027-01-05T08:00:00Z"
    assert put_year(client, login("admin"), 2027, TEST_2027).json()["replaced"] is True


def test_another_server_process_picks_up_the_new_calendar(
    client: TestClient,
    login: Callable[[str], Headers],
    settings: Settings,
    app: FastAPI,
    clock: Callable[[datetime], None],
) -> None:
    other = create_app(settings, app.state.engine)
    other.state.session_factory = app.state.session_factory
    other.dependency_overrides[get_now] = lambda: NEW_YEARS_EVE
    clock(NEW_YEARS_EVE)
    with TestClient(other) as elsewhere:
        assert dispatched_case(elsewhere, login)["deadline_at"] == "2027-01-01T08:00:00Z"
        assert put_year(client, login("admin"), 2027, TEST_2027).status_code == 200
        assert dispatched_case(elsewhere, login)["deadline_at"] == "2027-01-05T08:00:00Z"


def test_only_an_admin_of_the_whole_centre_may_load_a_year(
    client: TestClient, login: Callable[[str], Headers], session: Session, world: World
) -> None:
    session.commit()
    for username in ("admin_east", "leader", "dispatcher", "handler_sz", "citizen"):
        reply = put_year(client, login(username), 2027, TEST_2027)
        assert reply.status_code == 403, username
        assert "only an admin of the whole centre" in reply.json()["detail"]
    assert client.get("/api/v1/calendar", headers=login("admin_east")).status_code == 200
    assert client.put("/api/v1/calendar/2027", content=TEST_2027.encode(), headers=CSV).status_code == 401
    assert loaded_days(session) == 0


def test_a_bad_or_disagreeing_file_is_refused_and_nothing_is_stored(
    client: TestClient, login: Callable[[str], Headers], session: Session
) -> None:
    admin = login("admin")
    official = official_arrangement(2026) or []
    moved = format_calendar(official).replace("2026-10-07,holiday", "2026-10-08,holiday")
    refusals = [
        (2027, TEST_2027 + "2027-01-11,workday,测试\n", "line 5: 2027-01-11 is a Monday"),
        (2027, TEST_2027.replace("2027-01-04", "2026-01-04"), "line 3: 2026-01-04 is not in 2027"),
        (2028, TEST_2027, "the file lists days of 2027, not of 2028"),
        (
            2026,
            moved,
            "disagrees with the chinesecalendar package on whether these days are worked: 2026-10-07, 2026-10-08",
        ),
    ]
    for year, text, reason in refusals:
        reply = put_year(client, admin, year, text)
        assert (reply.status_code, reply.json()["error"]) == (422, "invalid"), reply.text
        assert reason in reply.json()["detail"]
    reply = put_year(client, admin, 2127, TEST_2027)
    assert reply.status_code == 422 and reply.json()["error"] == "invalid_request"
    reply = put_year(client, admin, 2027, "x" * 100_001)
    assert reply.status_code == 422 and reply.json()["error"] == "invalid_request"
    assert loaded_days(session) == 0
    assert put_year(client, admin, 2026, format_calendar(official)).json()["changed"] == 0
    assert loaded_days(session) == len(official)


def test_the_calendar_routes_are_documented(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    put = spec["paths"]["/api/v1/calendar/{year}"]["put"]
    assert "text/csv" in put["requestBody"]["content"] and "403" in put["responses"]
    assert "/api/v1/calendar" in spec["paths"]
