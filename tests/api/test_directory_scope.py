"""An admin's reach over HTTP (SQLite and PostgreSQL): every directory write stays within
the admin's region subtree — the region, department, parent department, grid and role
granted — and citizens and the category tree belong to the admins of the top region."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from civicgrid.store.models import Department, User
from tests.factories import PASSWORD

Headers = dict[str, str]
NEW_PASSWORD = "a-brand-new-password"


@pytest.fixture
def login(client: TestClient) -> Callable[[str], Headers]:
    def headers(username: str, password: str = PASSWORD) -> Headers:
        reply = client.post("/api/v1/auth/token", json={"username": username, "password": password})
        assert reply.status_code == 200, reply.text
        return {"Authorization": f"Bearer {reply.json()['access_token']}"}

    return headers


def stored(session: Session) -> tuple[int, int, list[tuple[str, str]]]:
    """Users and departments, and every user's password hash: what a refusal must not change."""
    session.expire_all()
    hashes = list(session.execute(select(User.username, User.password_hash).order_by(User.username)))
    departments = session.scalar(select(func.count()).select_from(Department)) or 0
    return len(hashes), departments, [tuple(row) for row in hashes]


def new_user(**fields: Any) -> dict[str, Any]:
    return {"username": "newcomer", "full_name": "新人", "password": NEW_PASSWORD, **fields}


def test_a_street_admin_cannot_make_a_district_admin(
    client: TestClient, login: Callable[..., Headers], session: Session
) -> None:
    # The hole: no region_code, a district department, so the new admin got the district.
    east = login("admin_east")
    before = stored(session)
    body = new_user(role="admin", department_code="D-CG-D")
    reply = client.post("/api/v1/users", json=body, headers=east)
    assert reply.status_code == 403, reply.text
    assert reply.json()["error"] == "forbidden"
    assert reply.json()["detail"] == "department D-CG-D is outside your scope"
    reset = client.patch("/api/v1/users/admin", json={"password": NEW_PASSWORD}, headers=east)
    assert reset.status_code == 404 and reset.json()["detail"] == "no user 'admin' in your scope"
    assert stored(session) == before
    login("admin")  # the district admin's password still works


STREET_ADMIN_REFUSALS: list[tuple[dict[str, Any], int, str]] = [
    ({"role": "admin", "region_code": "T01"}, 403, "region T01 is outside your scope"),
    ({"role": "dispatcher", "department_code": "D-CG-D"}, 403, "department D-CG-D is outside your scope"),
    ({"role": "dispatcher", "region_code": "T0102"}, 403, "region T0102 is outside your scope"),
    ({"role": "handler", "department_code": "D-CG-W"}, 403, "department D-CG-W is outside your scope"),
    (
        {"role": "handler", "department_code": "D-CG-E", "region_code": "T01"},
        403,
        "region T01 is outside your scope",
    ),
    (
        {"role": "inspector", "region_code": "T010101", "grid_code": "T010201-01"},
        422,
        "grid T010201-01 is not in region T010101",
    ),
    (
        {"role": "inspector", "region_code": "T010102", "grid_code": "T010101-01"},
        422,
        "grid T010101-01 is not in region T010102",
    ),
    ({"role": "citizen"}, 403, "only an admin of the top region manages citizens' accounts"),
    ({"role": "handler"}, 422, "a handler needs a department_code"),
    ({"role": "operator"}, 422, "a operator needs a region_code"),
]


@pytest.mark.parametrize(
    "fields, status, reason",
    STREET_ADMIN_REFUSALS,
    ids=[f"{r[0]['role']}-{i}" for i, r in enumerate(STREET_ADMIN_REFUSALS)],
)
def test_a_street_admin_grants_nothing_beyond_the_street(
    client: TestClient,
    login: Callable[..., Headers],
    session: Session,
    fields: dict[str, Any],
    status: int,
    reason: str,
) -> None:
    headers = login("admin_east")
    before = stored(session)
    reply = client.post("/api/v1/users", json=new_user(**fields), headers=headers)
    assert reply.status_code == status, reply.text
    assert reason in reply.json()["detail"]
    assert stored(session) == before


def test_a_street_admin_manages_its_own_street(
    client: TestClient, login: Callable[..., Headers], session: Session
) -> None:
    east = login("admin_east")
    handler = new_user(username="handler_east", role="handler", department_code="D-CG-E")
    reply = client.post("/api/v1/users", json=handler, headers=east)
    assert reply.status_code == 201, reply.text
    assert (reply.json()["region_code"], reply.json()["department_code"]) == ("T0101", "D-CG-E")
    inspector = new_user(
        username="inspector_east", role="inspector", region_code="T010101", grid_code="T010101-01"
    )
    assert client.post("/api/v1/users", json=inspector, headers=east).status_code == 201
    deputy = new_user(username="admin_east_2", role="admin", region_code="T0101")
    assert client.post("/api/v1/users", json=deputy, headers=east).status_code == 201
    listed = {user["username"] for user in client.get("/api/v1/users", headers=east).json()}
    assert listed == {
        "admin_east",
        "admin_east_2",
        "dispatcher",
        "handler_cg",
        "handler_east",
        "handler_hw",
        "handler_sz",
        "inspector",
        "inspector_east",
        "operator",
        "supervisor",
    }
    reply = client.patch("/api/v1/users/operator", json={"phone": "0571-1234"}, headers=east)
    assert reply.status_code == 200, reply.text


def test_a_handler_of_a_district_department_is_beyond_a_street_admin(
    client: TestClient, login: Callable[..., Headers]
) -> None:
    # Working in 东湖 does not make them 东湖's: a handler acts for the whole department.
    handler = new_user(
        username="handler_district", role="handler", department_code="D-CG-D", region_code="T0101"
    )
    assert client.post("/api/v1/users", json=handler, headers=login("admin")).status_code == 201
    east = login("admin_east")
    reply = client.patch("/api/v1/users/handler_district", json={"password": NEW_PASSWORD}, headers=east)
    assert reply.status_code == 404, reply.text
    assert "handler_district" not in {u["username"] for u in client.get("/api/v1/users", headers=east).json()}


@pytest.mark.parametrize(
    "username, patch, status",
    [
        ("admin", {"password": NEW_PASSWORD}, 404),
        ("leader", {"is_active": False}, 404),
        ("district_dispatcher", {"full_name": "x"}, 404),
        ("dispatcher_west", {"password": NEW_PASSWORD}, 404),
        ("admin_west", {"role": "operator"}, 404),
        ("citizen", {"password": NEW_PASSWORD}, 404),
        ("operator", {"region_code": "T01"}, 403),
        ("operator", {"region_code": "T0102"}, 403),
        ("operator", {"role": "admin", "region_code": "T01"}, 403),
        ("operator", {"role": "handler", "department_code": "D-CG-D"}, 403),
        ("operator", {"role": "handler", "department_code": "D-CG-W"}, 403),
        ("operator", {"role": "citizen", "region_code": None}, 403),
        ("operator", {"role": "handler"}, 422),
        ("operator", {"role": None}, 422),
        ("operator", {"password": None}, 422),
        ("inspector", {"grid_code": "T010201-01"}, 422),
        ("handler_cg", {"department_code": None}, 422),
    ],
)
def test_a_street_admin_edits_only_its_users_and_only_within_the_street(
    client: TestClient,
    login: Callable[..., Headers],
    session: Session,
    username: str,
    patch: dict[str, Any],
    status: int,
) -> None:
    headers = login("admin_east")
    before = stored(session)
    reply = client.patch(f"/api/v1/users/{username}", json=patch, headers=headers)
    assert reply.status_code == status, reply.text
    assert stored(session) == before


def test_citizens_and_the_category_tree_belong_to_the_top_region(
    client: TestClient, login: Callable[..., Headers], session: Session
) -> None:
    east = login("admin_east")
    assert "citizen" not in {u["username"] for u in client.get("/api/v1/users", headers=east).json()}
    category = {"code": "E0198", "name": "街道自设小类", "kind": "event", "parent_code": "E01"}
    for reply in (
        client.post("/api/v1/categories", json=category, headers=east),
        client.patch("/api/v1/categories/C0101", json={"name": "改名"}, headers=east),
    ):
        assert reply.status_code == 403, reply.text
        assert reply.json()["detail"] == "only an admin of the top region manages the category tree"
    district = login("admin")
    assert "citizen" in {u["username"] for u in client.get("/api/v1/users", headers=district).json()}
    assert client.post("/api/v1/categories", json=category, headers=district).status_code == 201
    reply = client.patch("/api/v1/users/citizen", json={"password": NEW_PASSWORD}, headers=district)
    assert reply.status_code == 200, reply.text
    login("citizen", NEW_PASSWORD)
    citizen = new_user(username="citizen_2", role="citizen")
    assert client.post("/api/v1/users", json=citizen, headers=district).status_code == 201
    placed = new_user(username="citizen_3", role="citizen", region_code="T0101")
    reply = client.post("/api/v1/users", json=placed, headers=district)
    assert reply.status_code == 422 and "a citizen has no region" in reply.json()["detail"]


def test_departments_stay_within_the_admins_scope(
    client: TestClient, login: Callable[..., Headers], session: Session
) -> None:
    east = login("admin_east")
    branch = {"code": "D-CG-E2", "name": "东湖城管二分队", "function": "urban_management", "level": "street"}
    before = stored(session)
    refusals = [
        (
            client.post("/api/v1/departments", json={**branch, "region_code": "T0102"}, headers=east),
            "region T0102",
        ),
        (
            client.post(
                "/api/v1/departments",
                json={**branch, "region_code": "T0101", "parent_code": "D-CG-D"},
                headers=east,
            ),
            "department D-CG-D",
        ),
        (client.patch("/api/v1/departments/D-CG-W", json={"phone": "110"}, headers=east), "region T0102"),
        (client.patch("/api/v1/departments/D-CG-D", json={"is_active": False}, headers=east), "region T01"),
    ]
    for reply, what in refusals:
        assert reply.status_code == 403, reply.text
        assert reply.json()["detail"] == f"{what} is outside your scope"
    assert stored(session) == before
    own = {**branch, "region_code": "T0101", "parent_code": "D-CG-E"}
    assert client.post("/api/v1/departments", json=own, headers=east).status_code == 201
    district_branch = {**branch, "code": "D-CG-D1", "region_code": "T0101", "parent_code": "D-CG-D"}
    assert client.post("/api/v1/departments", json=district_branch, headers=login("admin")).status_code == 201


def test_a_district_admin_moves_a_user_and_the_user_signs_in_again(
    client: TestClient, login: Callable[..., Headers]
) -> None:
    district = login("admin")
    operator = login("operator")
    change = {"role": "inspector", "region_code": "T010102", "grid_code": "T010102-01"}
    reply = client.patch("/api/v1/users/operator", json=change, headers=district)
    assert reply.status_code == 200, reply.text
    assert (reply.json()["role"], reply.json()["region_code"]) == ("inspector", "T010102")
    assert client.get("/api/v1/auth/me", headers=operator).status_code == 401
    me = client.get("/api/v1/auth/me", headers=login("operator")).json()
    assert (me["role"], me["region_code"]) == ("inspector", "T010102")
    # A handler moved to another department; region_code null takes the department's region.
    move = {"department_code": "D-CG-W", "region_code": None}
    reply = client.patch("/api/v1/users/handler_cg", json=move, headers=district)
    assert (reply.json()["department_code"], reply.json()["region_code"]) == ("D-CG-W", "T0102")
