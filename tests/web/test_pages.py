"""The pages without a browser, on both databases: the session cookie, CSRF, idle timeout,
sign-out, the throttle, the scope of every role, escaping and the security headers."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from itsdangerous import URLSafeSerializer
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from civicgrid.api.app import create_app
from civicgrid.services.cases import CentreRules
from civicgrid.settings import Settings
from civicgrid.store.models import Case
from tests import factories
from tests.api.helpers import stored
from tests.factories import PASSWORD, World
from tests.web.conftest import csrf_of

Pages = Callable[[str], TestClient]
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def dispatched(session: Session, world: World, rules: CentreRules, now: datetime) -> Case:
    """A case in 东湖一社区, registered and dispatched to 东湖市政所."""
    case = factories.new_case(session, world, rules, now, title="望江路井盖缺失")
    factories.act(session, world, rules, case, "operator", "register", now)
    factories.act(session, world, rules, case, "dispatcher", "dispatch", now, department_code="D-SZ-E")
    return case


def test_sign_in_sets_an_http_only_same_site_cookie(app: FastAPI, session: Session) -> None:
    session.commit()
    with TestClient(app, base_url="https://testserver", follow_redirects=False) as client:
        form = client.get("/login")
        assert "civicgrid_presession" in form.headers["set-cookie"]
        reply = client.post(
            "/login", data={"csrf_token": csrf_of(form.text), "username": "operator", "password": PASSWORD}
        )
    assert reply.status_code == 303 and reply.headers["location"] == "/workbench"
    cookie = reply.headers["set-cookie"].lower()
    assert cookie.startswith("civicgrid_session=")
    assert "httponly" in cookie and "samesite=lax" in cookie and "secure" in cookie


def test_over_plain_http_the_cookie_is_not_marked_secure(pages: Pages) -> None:
    client = pages("operator")
    reply = client.get("/workbench")
    assert reply.status_code == 200
    assert "secure" not in reply.headers["set-cookie"].lower()


def test_a_wrong_password_and_the_lockout_read_in_chinese(app: FastAPI, session: Session) -> None:
    session.commit()
    with TestClient(app, follow_redirects=False) as client:
        token = csrf_of(client.get("/login").text)
        for _ in range(5):  # CIVICGRID_LOGIN_MAX_FAILURES
            reply = client.post("/login", data={"csrf_token": token, "username": "operator", "password": "x"})
            assert reply.status_code == 401 and "用户名或密码错误" in reply.text
        reply = client.post(
            "/login", data={"csrf_token": token, "username": "operator", "password": PASSWORD}
        )
    assert reply.status_code == 429
    assert "登录失败次数过多，请 15 分钟后再试" in reply.text
    assert int(reply.headers["Retry-After"]) > 0


def test_sign_in_without_the_csrf_token_is_refused(app: FastAPI, session: Session) -> None:
    session.commit()
    with TestClient(app, follow_redirects=False) as client:
        client.get("/login")
        reply = client.post("/login", data={"username": "operator", "password": PASSWORD})
        forged = client.post(
            "/login", data={"csrf_token": "0" * 64, "username": "operator", "password": PASSWORD}
        )
    assert reply.status_code == 403 and forged.status_code == 403
    assert "安全令牌" in reply.text
    assert "civicgrid_session" not in reply.headers.get("set-cookie", "")


def test_an_action_without_the_csrf_token_changes_nothing(
    pages: Pages, session: Session, dispatched: Case
) -> None:
    handler = pages("handler_sz")
    before = stored(session)
    url = f"/cases/{dispatched.number}/actions/accept"
    assert handler.post(url, data={}).status_code == 403
    assert handler.post(url, data={"csrf_token": "f" * 64}).status_code == 403
    assert stored(session) == before
    token = csrf_of(handler.get(f"/cases/{dispatched.number}").text)
    accepted = handler.post(url, data={"csrf_token": token})
    assert accepted.status_code == 303
    assert stored(session)[1] == before[1] + 1  # one more event
    # htmx sends the token as a header instead of a form field.
    remark = handler.post(
        f"/cases/{dispatched.number}/actions/comment",
        data={"note": "已到现场"},
        headers={"X-CSRF-Token": token},
    )
    assert remark.status_code == 303


def test_a_session_idle_too_long_is_signed_out(
    pages: Pages, page_clock: Callable[[datetime], None], now: datetime
) -> None:
    client = pages("operator")
    page_clock(now + timedelta(minutes=29))
    assert client.get("/workbench").status_code == 200  # used: the idle time starts over
    page_clock(now + timedelta(minutes=58))
    assert client.get("/workbench").status_code == 200
    page_clock(now + timedelta(minutes=89))
    reply = client.get("/workbench")
    assert reply.status_code == 303
    assert reply.headers["location"] == "/login?next=%2Fworkbench&reason=idle"
    assert "长时间未操作" in client.get(reply.headers["location"]).text


def test_sign_out_revokes_the_session(pages: Pages) -> None:
    client = pages("operator")
    page = client.get("/workbench")
    stolen = client.cookies.get("civicgrid_session")
    reply = client.post("/logout", data={"csrf_token": csrf_of(page.text)})
    assert reply.status_code == 303 and reply.headers["location"] == "/login?reason=signed_out"
    client.cookies.set("civicgrid_session", stolen or "")
    assert client.get("/workbench").status_code == 303


def test_a_forged_cookie_signs_nobody_in(pages: Pages) -> None:
    client = pages("operator")
    assert client.get("/workbench").status_code == 200
    client.cookies.clear()
    client.cookies.set("civicgrid_session", "eyJ0IjoiYWJjIiwicyI6MX0.forged")
    assert client.get("/workbench").status_code == 303


def test_htmx_requests_are_sent_to_the_sign_in_page_whole(app: FastAPI, session: Session) -> None:
    session.commit()
    with TestClient(app, follow_redirects=False) as client:
        reply = client.get("/workbench?queue=all", headers={"HX-Request": "true"})
    assert reply.status_code == 401
    assert reply.headers["HX-Redirect"].startswith("/login?next=")


def test_sign_in_goes_on_only_to_this_site(app: FastAPI, session: Session) -> None:
    session.commit()
    with TestClient(app, follow_redirects=False) as client:
        token = csrf_of(client.get("/login?next=//evil.example/").text)
        reply = client.post(
            "/login",
            data={
                "csrf_token": token,
                "username": "operator",
                "password": PASSWORD,
                "next": "//evil.example/",
            },
        )
    assert reply.headers["location"] == "/workbench"


#: Who gets the page of a case in 东湖一社区 dispatched to 东湖市政所.
CASE_PAGE = [
    ("operator", 200),
    ("dispatcher", 200),
    ("inspector", 200),
    ("supervisor", 200),
    ("leader", 200),
    ("admin", 200),
    ("admin_east", 200),
    ("district_dispatcher", 200),
    ("handler_sz", 200),
    ("handler_cg", 404),
    ("handler_hw", 404),
    ("operator_west", 404),
    ("dispatcher_west", 404),
    ("admin_west", 404),
    ("citizen", 403),
]


@pytest.mark.parametrize(("username", "status"), CASE_PAGE)
def test_each_role_in_and_out_of_scope(pages: Pages, dispatched: Case, username: str, status: int) -> None:
    client = pages(username)
    number = dispatched.number
    assert client.get(f"/cases/{number}").status_code == status
    assert client.get(f"/cases/{number}/actions/comment").status_code == status
    workbench = client.get("/workbench")
    assert workbench.status_code == (403 if username == "citizen" else 200)
    token = "" if username == "citizen" else csrf_of(workbench.text)
    posted = client.post(f"/cases/{number}/actions/comment", data={"csrf_token": token, "note": "看看"})
    assert posted.status_code == (303 if status == 200 else status)


@pytest.mark.parametrize("path", ["/workbench", "/cases/JD-20260930-000001", "/cases/new", "/"])
def test_pages_need_a_signed_in_user(client: TestClient, path: str) -> None:
    reply = client.get(path, follow_redirects=False)
    assert reply.status_code == 303
    assert reply.headers["location"].startswith("/login") or reply.headers["location"] == "/workbench"


def test_a_title_with_markup_is_escaped(
    pages: Pages, session: Session, world: World, rules: CentreRules, now: datetime
) -> None:
    case = factories.new_case(session, world, rules, now, title="<script>alert(1)</script>")
    session.commit()
    client = pages("operator")
    for page in (client.get(f"/cases/{case.number}"), client.get("/workbench?queue=all")):
        assert "<script>alert(1)</script>" not in page.text
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page.text


def test_pages_forbid_inline_scripts_and_framing(pages: Pages) -> None:
    reply = pages("operator").get("/workbench")
    policy = reply.headers["Content-Security-Policy"]
    assert "script-src 'self'" in policy and "frame-ancestors 'none'" in policy
    assert "unsafe-inline" not in policy
    assert reply.headers["X-Content-Type-Options"] == "nosniff"
    assert reply.headers["Referrer-Policy"] == "no-referrer"
    assert reply.headers["Cache-Control"] == "no-store"
    assert "<script>" not in reply.text and " onclick" not in reply.text


def test_the_bearer_api_keeps_working_beside_the_pages(client: TestClient) -> None:
    reply = client.post("/api/v1/auth/token", json={"username": "operator", "password": PASSWORD})
    token = reply.json()["access_token"]
    me = client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {token}"})
    assert me.json()["username"] == "operator"
    # A bearer token is no page session, and a page session cookie is no bearer token.
    assert (
        client.get(
            "/workbench", headers={"Authorization": f"Bearer {token}"}, follow_redirects=False
        ).status_code
        == 303
    )


def test_a_signed_cookie_of_another_shape_signs_nobody_in(pages: Pages, settings: Settings) -> None:
    client = pages("operator")
    client.cookies.clear()
    odd = URLSafeSerializer(settings.secret_key, salt="civicgrid.web.session").dumps(["not", "a", "session"])
    client.cookies.set("civicgrid_session", odd)
    assert client.get("/workbench").status_code == 303


def test_htmx_is_served_from_the_pinned_npm_package(client: TestClient) -> None:
    lock = json.loads((ROOT / "package-lock.json").read_text())
    pinned = lock["packages"]["node_modules/htmx.org"]["version"]
    reply = client.get("/assets/htmx.org/dist/htmx.min.js")
    assert reply.status_code == 200, "run `npm ci` in the checkout"
    assert "javascript" in reply.headers["content-type"]
    assert f'version:"{pinned}"' in reply.text.replace(" ", "")


def test_leaflet_is_served_from_the_pinned_npm_package(client: TestClient) -> None:
    package = json.loads((ROOT / "package.json").read_text())
    lock = json.loads((ROOT / "package-lock.json").read_text())
    assert (
        package["dependencies"]["leaflet"] == lock["packages"]["node_modules/leaflet"]["version"] == "1.9.4"
    )
    script = client.get("/assets/leaflet/dist/leaflet.js")
    assert script.status_code == 200, "run `npm ci` in the checkout"
    assert 'version = "1.9.4"' in script.text or '"1.9.4"' in script.text
    assert client.get("/assets/leaflet/dist/leaflet.css").status_code == 200
    assert client.get("/static/map.js").status_code == 200


def test_without_the_libraries_the_server_warns_and_starts(
    settings: Settings, engine: Engine, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    missing = settings.model_copy(update={"web_assets_dir": str(tmp_path / "none")})
    with caplog.at_level(logging.WARNING, logger="civicgrid.web"):
        app = create_app(missing, engine)
    assert "npm ci" in caplog.text
    assert app.url_path_for("web-assets", path="htmx.org/dist/htmx.min.js")
