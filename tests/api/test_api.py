"""The JSON API end to end (SQLite and PostgreSQL): sign in, register, act, list, refuse."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Connection, event, func, select
from sqlalchemy.orm import Session

from civicgrid.domain.vocabulary import GridKind
from civicgrid.store.models import Case, CaseEvent, Department, Grid, User, case_overlay_grids
from tests.factories import World, square

Headers = dict[str, str]
HOTLINE_CASE = {
    "channel": "hotline_12345",
    "category_code": "C0101",
    "title": "望江路12号门前井盖缺失",
    "lng": 120.005,
    "lat": 30.005,
    "reporter_name": "王先生",
    "reporter_phone": "13800000000",
    "request_type": "complaint",
}


def counts(session: Session) -> tuple[int, int]:
    session.expire_all()
    cases = session.scalar(select(func.count()).select_from(Case)) or 0
    events = session.scalar(select(func.count()).select_from(CaseEvent)) or 0
    return cases, events


def create(client: TestClient, headers: Headers, **fields: Any) -> dict[str, Any]:
    reply = client.post("/api/v1/cases", json={**HOTLINE_CASE, **fields}, headers=headers)
    assert reply.status_code == 201, reply.text
    return reply.json()


def act(client: TestClient, headers: Headers, number: str, action: str, **body: Any) -> dict[str, Any]:
    reply = client.post(f"/api/v1/cases/{number}/actions/{action}", json=body, headers=headers)
    assert reply.status_code == 200, reply.text
    return reply.json()


def test_openapi_documents_the_api(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    assert "/api/v1/cases/{number}/actions/{action}" in spec["paths"]
    assert "409" in spec["paths"]["/api/v1/cases"]["post"]["responses"]
    assert client.get("/docs").status_code == 200
    assert client.get("/healthz").json() == {"status": "ok"}


def test_a_case_walks_the_whole_loop_over_http(
    client: TestClient, login: Callable[[str], Headers], clock: Callable[[datetime], None], now: datetime
) -> None:
    case = create(client, login("operator"))
    number = case["number"]
    assert case["state"] == "reported" and case["state_label"] == "上报" and case["grid_code"] == "T010101-01"
    assert case["light"] == "green" and "register" in case["allowed_actions"]
    steps = [
        ("inspector", "verify", {}),
        ("operator", "register", {}),
        ("dispatcher", "dispatch", {"department_code": "D-SZ-E"}),
        ("handler_sz", "accept", {}),
        ("handler_sz", "handle", {"note": "已更换井盖"}),
        ("inspector", "check", {"note": "现场核查通过"}),
        ("operator", "close", {}),
        ("operator", "revisit", {"satisfaction": "satisfied"}),
        ("dispatcher", "archive", {}),
    ]
    for minutes, (user, action, body) in enumerate(steps, start=1):
        clock(now + timedelta(minutes=15 * minutes))
        case = act(client, login(user), number, action, **body)
    assert case["state"] == "archived" and case["satisfaction"] == "satisfied" and case["light"] is None
    timeline = client.get(f"/api/v1/cases/{number}", headers=login("leader")).json()["timeline"]
    assert [e["action"] for e in timeline] == ["report", *(step[1] for step in steps)]
    assert timeline[3]["data"] == {"department": "D-SZ-E"} and timeline[3]["actor_role"] == "dispatcher"
    assert timeline[5]["note"] == "已更换井盖" and timeline[5]["action_label"] == "处置反馈"


def test_list_filters_and_pages(
    client: TestClient, login: Callable[[str], Headers], clock: Callable[[datetime], None], now: datetime
) -> None:
    operator = login("operator")
    first = create(client, operator)
    clock(now + timedelta(days=2))
    second = create(client, operator, channel="inspector", category_code="E0101", lng=120.015, lat=30.005)
    act(client, login("operator"), second["number"], "register")

    def numbers(**params: Any) -> list[str]:
        reply = client.get("/api/v1/cases", params=params, headers=login("leader"))
        assert reply.status_code == 200, reply.text
        return [item["number"] for item in reply.json()["items"]]

    assert numbers() == [second["number"], first["number"]]
    assert numbers(state="registered") == [second["number"]]
    assert numbers(state=["registered", "reported"]) == [second["number"], first["number"]]
    assert numbers(channel="inspector") == [second["number"]]
    assert numbers(grid_code="T010102-01") == [second["number"]]
    assert numbers(region_code="T010101") == [first["number"]]
    assert numbers(region_code="T0102") == []
    assert numbers(category_code="C01") == [first["number"]]
    assert numbers(created_to=(now + timedelta(days=1)).isoformat()) == [first["number"]]
    assert numbers(q="望江路") == [second["number"], first["number"]]
    page = client.get("/api/v1/cases", params={"page_size": 1}, headers=login("leader")).json()
    assert [i["number"] for i in page["items"]] == [second["number"]] and page["next_cursor"]
    assert (page["total"], page["total_is_estimate"], page["total_display"]) == (2, False, "2")
    params = {"page_size": 1, "cursor": page["next_cursor"]}
    page = client.get("/api/v1/cases", params=params, headers=login("leader")).json()
    assert [i["number"] for i in page["items"]] == [first["number"]] and page["next_cursor"] is None
    # Two days on, the first case's 2-hour verification limit is long past: red.
    assert numbers(light="red") == [first["number"]]
    assert numbers(light="green") == [second["number"]]
    assert numbers(light="yellow") == []


def test_list_runs_a_fixed_number_of_queries(
    client: TestClient,
    login: Callable[[str], Headers],
    connection: Connection,
    clock: Callable[[datetime], None],
) -> None:
    headers = login("leader")
    statements: list[str] = []

    @contextmanager
    def counting() -> Iterator[None]:
        def record(*args: Any) -> None:
            statements.append(args[2])

        event.listen(connection, "before_cursor_execute", record)
        try:
            yield
        finally:
            event.remove(connection, "before_cursor_execute", record)

    def queries_for_list() -> int:
        statements.clear()
        with counting():
            assert client.get("/api/v1/cases", headers=headers).status_code == 200
        return len(statements)

    create(client, login("operator"))
    few = queries_for_list()
    for _ in range(6):
        create(client, login("operator"), category_code="E0101")
    assert queries_for_list() == few


def test_the_case_file_runs_three_statements_however_long_its_history(
    client: TestClient, login: Callable[[str], Headers], connection: Connection
) -> None:
    headers = login("leader")
    statements: list[str] = []

    def record(*args: Any) -> None:
        statements.append(args[2])

    def statements_for(path: str) -> list[str]:
        statements.clear()
        event.listen(connection, "before_cursor_execute", record)
        try:
            assert client.get(path, headers=headers).status_code == 200
        finally:
            event.remove(connection, "before_cursor_execute", record)
        return list(statements)

    number = create(client, login("operator"))["number"]
    signed_in = len(statements_for("/api/v1/auth/me"))
    short = statements_for(f"/api/v1/cases/{number}")
    assert len(short) - signed_in <= 3, "\n".join(s[:90] for s in short)
    act(client, login("inspector"), number, "verify")
    act(client, login("operator"), number, "register")
    act(client, login("dispatcher"), number, "dispatch", department_code="D-SZ-E")
    for _ in range(4):
        act(client, login("supervisor"), number, "comment", note="请尽快处置")
    client.post(
        f"/api/v1/cases/{number}/attachments",
        json={
            "filename": "a.jpg",
            "content_type": "image/jpeg",
            "size_bytes": 1,
            "sha256": "0" * 64,
            "uri": "https://files.example/a.jpg",
        },
        headers=login("operator"),
    )
    long = statements_for(f"/api/v1/cases/{number}")
    assert len(long) == len(short), long


BAD_CREATES: list[tuple[str, dict[str, Any], int, str]] = [
    ("operator", {"category_code": "NOPE"}, 422, "unknown category code 'NOPE'"),
    ("operator", {"lng": 190.0}, 422, "lng"),
    ("operator", {"lng": 121.5, "lat": 31.2}, 422, "outside the territory"),
    ("operator", {"lat": None}, 422, "both lng and lat"),
    ("operator", {"channel": "carrier_pigeon"}, 422, "channel"),
    ("operator", {"colour": "red"}, 422, "colour"),
    ("operator_west", {}, 403, "outside your scope"),
    ("handler_cg", {}, 403, "cannot report"),
]


@pytest.mark.parametrize(
    "user, fields, status, reason", BAD_CREATES, ids=[f"{b[2]}-{i}" for i, b in enumerate(BAD_CREATES)]
)
def test_bad_creation_gets_a_clear_error_and_stores_nothing(
    client: TestClient,
    login: Callable[[str], Headers],
    session: Session,
    user: str,
    fields: dict[str, Any],
    status: int,
    reason: str,
    clock: Callable[[datetime], None],
) -> None:
    before = counts(session)
    reply = client.post("/api/v1/cases", json={**HOTLINE_CASE, **fields}, headers=login(user))
    assert reply.status_code == status, reply.text
    body = reply.json()
    assert set(body) == {"error", "detail", "request_id"} and reason in str(body["detail"])
    assert counts(session) == before


def test_truncated_json_and_duplicate_id_are_refused(
    client: TestClient, login: Callable[[str], Headers], session: Session, clock: Callable[[datetime], None]
) -> None:
    headers = {**login("operator"), "Content-Type": "application/json"}
    create(client, login("operator"), external_id="12345-20260930-0001")
    before = counts(session)
    reply = client.post(
        "/api/v1/cases", content='{"channel": "hotline_12345", "title": "井'.encode(), headers=headers
    )
    assert reply.status_code == 422 and reply.json()["error"] == "invalid_request"
    assert "JSON" in str(reply.json()["detail"])
    reply = client.post(
        "/api/v1/cases", json={**HOTLINE_CASE, "external_id": "12345-20260930-0001"}, headers=headers
    )
    assert reply.status_code == 409 and "already case JD-" in reply.json()["detail"]
    assert counts(session) == before


def test_refused_actions_get_the_right_status_and_change_nothing(
    client: TestClient,
    login: Callable[[str], Headers],
    session: Session,
    clock: Callable[[datetime], None],
    now: datetime,
) -> None:
    number = create(client, login("operator"))["number"]
    act(client, login("operator"), number, "register")
    act(client, login("dispatcher"), number, "dispatch", department_code="D-SZ-E")
    act(client, login("handler_sz"), number, "accept")
    before = counts(session)
    refusals = [
        (
            "operator",
            "close",
            {},
            409,
            "transition_not_allowed",
            "「结案」(close) from state 「处置中」(in_progress)",
        ),
        ("inspector", "handle", {}, 403, "forbidden", "needs the role"),
        ("dispatcher_west", "comment", {"note": "x"}, 404, "not_found", "no case"),
        (
            "handler_sz",
            "request_extension",
            {"note": "x", "new_deadline": (now - timedelta(days=1)).isoformat()},
            422,
            "invalid",
            "in the past",
        ),
        (
            "handler_sz",
            "request_extension",
            {"note": "x", "new_deadline": "2026-12-01T10:00:00"},
            422,
            "invalid_request",
            "timezone",
        ),
        ("handler_sz", "handle", {"expected_version": 1}, 409, "conflict", "changed since you read it"),
        ("dispatcher", "teleport", {}, 422, "invalid_request", "action"),
    ]
    for user, action, body, status, error, reason in refusals:
        reply = client.post(f"/api/v1/cases/{number}/actions/{action}", json=body, headers=login(user))
        assert (reply.status_code, reply.json()["error"]) == (status, error), reply.text
        assert reason in str(reply.json()["detail"])
        # The API answers the English reason only; the Chinese one is for the pages.
        assert set(reply.json()) == {"error", "detail", "request_id"}
        assert (
            "案件处于" not in reply.text and "已经过去" not in reply.text and "已被他人修改" not in reply.text
        )
    assert counts(session) == before
    assert client.get("/api/v1/cases/JD-19990101-000001", headers=login("leader")).status_code == 404


#: Far beyond any time the API takes (refused as input), and past the centre's bound.
FAR_DEADLINES = [
    ("9999-12-31T00:00:00Z", "invalid_request", "between the years 1970 and 2199"),
    ("2500-01-01T00:00:00Z", "invalid_request", "between the years 1970 and 2199"),
    ("2028-01-01T00:00:00Z", "invalid", "more than 365 days from now"),
]


@pytest.mark.parametrize(("new_deadline", "error", "reason"), FAR_DEADLINES)
def test_an_extension_beyond_the_centres_bound_is_refused_at_once(
    client: TestClient,
    login: Callable[[str], Headers],
    session: Session,
    clock: Callable[[datetime], None],
    new_deadline: str,
    error: str,
    reason: str,
) -> None:
    number = create(client, login("operator"))["number"]
    act(client, login("operator"), number, "register")
    act(client, login("dispatcher"), number, "dispatch", department_code="D-SZ-E")
    act(client, login("handler_sz"), number, "accept")
    before = counts(session)
    reply = client.post(
        f"/api/v1/cases/{number}/actions/request_extension",
        json={"note": "需采购", "new_deadline": new_deadline},
        headers=login("handler_sz"),
    )
    assert reply.status_code == 422 and reply.json()["error"] == error, reply.text
    assert reason in str(reply.json()["detail"])
    assert counts(session) == before


def test_authentication(client: TestClient, login: Callable[[str], Headers]) -> None:
    assert client.get("/api/v1/cases").status_code == 401
    reply = client.get("/api/v1/cases", headers={"Authorization": "Bearer forged"})
    assert reply.status_code == 401 and reply.json()["error"] == "unauthenticated"
    wrong = client.post("/api/v1/auth/token", json={"username": "operator", "password": "guess"})
    assert wrong.status_code == 401 and wrong.json()["detail"] == "wrong username or password"
    headers = login("dispatcher")
    me = client.get("/api/v1/auth/me", headers=headers).json()
    assert me["role"] == "dispatcher" and me["role_label"] == "派遣员" and me["region_code"] == "T0101"
    assert client.post("/api/v1/auth/logout", headers=headers).status_code == 204
    assert client.get("/api/v1/auth/me", headers=headers).status_code == 401


def test_scope_over_http(
    client: TestClient, login: Callable[[str], Headers], clock: Callable[[datetime], None]
) -> None:
    number = create(client, login("operator"))["number"]
    west = login("dispatcher_west")
    assert client.get("/api/v1/cases", headers=west).json()["total"] == 0
    assert client.get(f"/api/v1/cases/{number}", headers=west).status_code == 404
    assert client.get(f"/api/v1/cases/{number}", headers=login("leader")).status_code == 200


def test_admin_manages_departments_users_and_categories(
    client: TestClient, login: Callable[[str], Headers], session: Session
) -> None:
    admin = login("admin")
    department = {
        "code": "D-YL-E",
        "name": "东湖园林所",
        "function": "landscaping",
        "level": "street",
        "region_code": "T0101",
    }
    reply = client.post("/api/v1/departments", json=department, headers=admin)
    assert reply.status_code == 201 and reply.json()["region_code"] == "T0101"
    assert client.post("/api/v1/departments", json=department, headers=admin).status_code == 409
    assert (
        client.post(
            "/api/v1/departments", json={**department, "code": "D-2"}, headers=login("operator")
        ).status_code
        == 403
    )
    reply = client.patch("/api/v1/departments/D-YL-E", json={"linkage_level": 1}, headers=admin)
    assert reply.json()["linkage_level"] == 1
    user = {
        "username": "handler_yl",
        "full_name": "李园林",
        "password": "long-enough-pw",
        "role": "handler",
        "department_code": "D-YL-E",
    }
    assert client.post("/api/v1/users", json=user, headers=admin).status_code == 201
    assert (
        client.post(
            "/api/v1/users", json={**user, "username": "nodept", "department_code": None}, headers=admin
        ).status_code
        == 422
    )
    signed_in = client.post(
        "/api/v1/auth/token", json={"username": "handler_yl", "password": "long-enough-pw"}
    )
    assert signed_in.status_code == 200
    assert (
        client.patch("/api/v1/users/handler_yl", json={"is_active": False}, headers=admin).json()["is_active"]
        is False
    )
    assert (
        client.post(
            "/api/v1/auth/token", json={"username": "handler_yl", "password": "long-enough-pw"}
        ).status_code
        == 401
    )
    category = {
        "code": "E0199",
        "name": "测试小类",
        "kind": "event",
        "parent_code": "E01",
        "limits": {"normal": {"handle": "3wd"}},
    }
    assert client.post("/api/v1/categories", json=category, headers=admin).status_code == 201
    bad = client.patch(
        "/api/v1/categories/E0199", json={"limits": {"normal": {"handle": "soon"}}}, headers=admin
    )
    assert bad.status_code == 422 and "limits.normal.handle" in bad.json()["detail"]
    session.expire_all()
    assert session.scalar(select(Department.linkage_level).where(Department.code == "D-YL-E")) == 1
    assert session.scalar(select(User.is_active).where(User.username == "handler_yl")) is False
    codes = [c["code"] for c in client.get("/api/v1/categories", headers=login("operator")).json()]
    assert "E0199" in codes and "C0101" in codes


def test_labels_and_reference_lists(client: TestClient, login: Callable[[str], Headers]) -> None:
    labels = client.get("/api/v1/labels").json()
    assert labels["states"]["rework"] == "返工" and labels["lights"]["red"]["label"].startswith("红灯")
    headers = login("operator")
    assert [r["code"] for r in client.get("/api/v1/regions", headers=headers).json()][:2] == ["T01", "T0101"]
    grids = client.get("/api/v1/grids", params={"boundary": True}, headers=headers).json()
    assert grids[0]["boundary"]["type"] == "Polygon"
    assert {d["code"] for d in client.get("/api/v1/departments", headers=headers).json()} >= {
        "D-CG-E",
        "D-SZ-E",
    }


@pytest.fixture
def school_and_estate(session: Session, world: World) -> tuple[str, str]:
    """A school's dedicated grid and a residents' overlay grid inside 东湖一社区's grid."""
    community = world.regions["c1"]
    school = Grid(
        code="T010101-D01",
        name="东湖小学专属网格",
        kind=GridKind.DEDICATED,
        region=community,
        boundary=square(120.004, 30.004, 0.002),
    )
    estate = Grid(
        code="T010101-Z01",
        name="东湖花园居民自治网格",
        kind=GridKind.OVERLAY,
        region=community,
        boundary=square(120.003, 30.003, 0.004),
    )
    session.add_all([school, estate])
    session.flush()
    return school.code, estate.code


def test_a_case_belongs_to_its_dedicated_grid_and_counts_in_its_overlay_grids(
    client: TestClient,
    login: Callable[[str], Headers],
    session: Session,
    school_and_estate: tuple[str, str],
    clock: Callable[[datetime], None],
) -> None:
    school, estate = school_and_estate
    session.commit()  # the new grids become visible to the app
    operator = login("operator")
    at_school = create(client, operator, lng=120.005, lat=30.005)
    assert (at_school["grid_code"], at_school["overlay_grid_codes"]) == (school, [estate])
    assert at_school["region_code"] == "T010101"
    in_estate = create(client, operator, lng=120.0035, lat=30.0035)
    assert (in_estate["grid_code"], in_estate["overlay_grid_codes"]) == ("T010101-01", [estate])
    elsewhere = create(client, operator, lng=120.009, lat=30.001)
    assert (elsewhere["grid_code"], elsewhere["overlay_grid_codes"]) == ("T010101-01", [])
    # An explicit grid code wins over the coordinate's grid; the overlay still counts.
    chosen = create(client, operator, lng=120.005, lat=30.005, grid_code="T010101-01")
    assert (chosen["grid_code"], chosen["overlay_grid_codes"]) == ("T010101-01", [estate])
    stored = client.get(f"/api/v1/cases/{at_school['number']}", headers=login("leader")).json()
    assert stored["grid_code"] == school and stored["overlay_grid_codes"] == [estate]

    def numbers(grid_code: str) -> set[str]:
        reply = client.get("/api/v1/cases", params={"grid_code": grid_code}, headers=login("leader"))
        assert reply.status_code == 200, reply.text
        return {item["number"] for item in reply.json()["items"]}

    assert numbers(school) == {at_school["number"]}
    assert numbers(estate) == {at_school["number"], in_estate["number"], chosen["number"]}
    assert numbers("T010101-01") == {in_estate["number"], elsewhere["number"], chosen["number"]}
    rows = session.execute(select(case_overlay_grids.c.case_id)).scalars().all()
    assert len(rows) == 3


def test_a_case_is_not_merged_into_a_finished_one(
    client: TestClient,
    login: Callable[[str], Headers],
    session: Session,
    clock: Callable[[datetime], None],
) -> None:
    operator = login("operator")
    voided = create(client, operator)["number"]
    act(client, operator, voided, "void", note="无效来电")
    duplicate = create(client, operator)["number"]
    before = counts(session)
    reply = client.post(
        f"/api/v1/cases/{duplicate}/actions/merge",
        json={"note": "重复", "merge_into": voided},
        headers=operator,
    )
    assert reply.status_code == 422, reply.text
    assert reply.json()["error"] == "invalid"
    assert (
        reply.json()["detail"] == f"case {voided} is 作废 (voided); merge only into a case that is still open"
    )
    assert counts(session) == before
    assert client.get(f"/api/v1/cases/{duplicate}", headers=operator).json()["state"] == "reported"


def test_a_write_reads_the_calendar_revision_with_its_token(
    client: TestClient, login: Callable[[str], Headers], connection: Connection
) -> None:
    """The rules' check for a newly loaded calendar costs a write no statement of its own."""
    statements: list[str] = []

    def record(*args: Any) -> None:
        statements.append(args[2])

    headers = login("operator")
    create(client, headers)  # the first request builds the rules
    event.listen(connection, "before_cursor_execute", record)
    try:
        number = create(client, headers)["number"]
        act(client, headers, number, "register")
    finally:
        event.remove(connection, "before_cursor_execute", record)
    calendar = [s for s in statements if "calendar_days" in s]
    assert len(calendar) == 2, calendar
    assert all("api_tokens" in s for s in calendar), calendar
    # The token comes with its user's region, not with the region's polygon.
    tokens = [s for s in statements if "api_tokens" in s]
    assert len(tokens) == 2 and not [s for s in tokens if "boundary" in s], tokens
