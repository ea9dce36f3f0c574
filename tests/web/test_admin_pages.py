"""Admin pages: users, departments and categories, with the services' validation."""

from __future__ import annotations

from collections.abc import Callable

import httpx
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from civicgrid.store.models import Category, Department, User
from tests.web.conftest import csrf_of

Pages = Callable[[str], TestClient]


def post(client: TestClient, path: str, **fields: str) -> httpx.Response:
    return client.post(path, data={"csrf_token": csrf_of(client.get("/workbench").text), **fields})


def test_an_admin_creates_a_user_who_then_signs_in(pages: Pages, session: Session) -> None:
    admin = pages("admin")
    page = admin.get("/admin/users").text
    assert "用户管理" in page and "handler_cg" in page
    reply = post(
        admin, "/admin/users", username="new_operator", full_name="新坐席", password="a-long-password",
        role="operator", region_code="T0101", phone="13900000000",
    )  # fmt: skip
    assert reply.status_code == 303
    created = session.scalars(select(User).where(User.username == "new_operator")).one()
    assert created.region is not None and created.region.code == "T0101"
    # The password works on the sign-in page.
    client = TestClient(admin.app, follow_redirects=False)
    form = client.get("/login").text
    signed = client.post(
        "/login",
        data={"csrf_token": csrf_of(form), "username": "new_operator", "password": "a-long-password"},
    )
    assert signed.status_code == 303


def test_bad_user_input_is_refused_with_its_reason(pages: Pages, session: Session) -> None:
    admin = pages("admin")
    short = post(admin, "/admin/users", username="x", full_name="某", password="short", role="operator")
    assert short.status_code == 422 and "username" in short.text
    taken = post(
        admin, "/admin/users", username="operator", full_name="某", password="a-long-password", role="operator",
        region_code="T0101",
    )  # fmt: skip
    assert taken.status_code == 409


def test_reset_password_and_deactivate_sign_the_user_out(pages: Pages, session: Session) -> None:
    operator = pages("operator")
    assert operator.get("/workbench").status_code == 200
    admin = pages("admin")
    edit = admin.get("/admin/users/operator").text
    assert 'value="operator" selected' in edit
    reply = post(
        admin, "/admin/users/operator", full_name="王丽", role="operator", region_code="T0101",
        password="another-long-password",
    )  # fmt: skip
    assert reply.status_code == 303
    assert operator.get("/workbench").status_code == 303  # signed out everywhere
    session.expire_all()
    user = session.scalars(select(User).where(User.username == "operator")).one()
    assert user.full_name == "王丽" and not user.is_active  # the box was not ticked: deactivated


def test_departments_are_edited_and_added(pages: Pages, session: Session) -> None:
    admin = pages("admin_east")
    assert "东湖环卫所" in admin.get("/admin/departments").text
    reply = post(
        admin, "/admin/departments/D-HW-E", name="东湖环境卫生所", linkage_level="1", phone="", is_active="on"
    )
    assert reply.status_code == 303
    added = post(
        admin, "/admin/departments", code="D-YL-E", name="东湖园林所", function="landscaping", level="street",
        region_code="T0101", linkage_level="2",
    )  # fmt: skip
    assert added.status_code == 303
    bad = post(
        admin,
        "/admin/departments",
        code="bad code!",
        name="坏",
        function="landscaping",
        level="street",
        region_code="T0101",
    )
    assert bad.status_code == 422
    session.expire_all()
    names = {d.code: (d.name, d.linkage_level) for d in session.scalars(select(Department))}
    assert names["D-HW-E"] == ("东湖环境卫生所", 1) and names["D-YL-E"][0] == "东湖园林所"


def test_category_limits_and_default_department(pages: Pages, session: Session) -> None:
    admin = pages("admin")
    assert "C0101" in admin.get("/admin/categories").text
    form = admin.get("/admin/categories/C0101").text
    assert 'name="limit_urgent_handle"' in form
    reply = post(
        admin, "/admin/categories/C0101", name="上水井盖", department_function="urban_management",
        closure_standard="井盖完好", limit_normal_handle="5wd", limit_normal_dispatch="30min", is_active="on",
    )  # fmt: skip
    assert reply.status_code == 303
    session.expire_all()
    category = session.scalars(select(Category).where(Category.code == "C0101")).one()
    assert category.limits == {"normal": {"dispatch": "30min", "handle": "5wd"}}
    assert (
        category.department_function is not None and category.department_function.value == "urban_management"
    )
    bad = post(admin, "/admin/categories/C0101", name="上水井盖", limit_normal_handle="soon", is_active="on")
    assert bad.status_code == 422 and "soon" in bad.text
    assert admin.get("/admin/categories/NOPE").status_code == 404
    assert post(admin, "/admin/categories/NOPE", name="无").status_code == 404
