"""Reporting through the portal: a verified phone reports with photos and a place; the case
enters as ``reported`` on the web channel, in its grid, by the portal's system user, with
the phone as reporter phone; photos go through the upload checks; a refusal stores nothing."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from civicgrid.api.app import create_app
from civicgrid.domain.errors import RoleNotAllowed
from civicgrid.domain.vocabulary import CaseState, Channel, CoordinateSystem, RegionLevel, Role
from civicgrid.portal import service
from civicgrid.portal.service import PORTAL_NAME, PORTAL_USERNAME
from civicgrid.services.cases import CentreRules
from civicgrid.settings import Settings
from civicgrid.store.models import Attachment, Case, User
from tests import factories
from tests.api.helpers import stored
from tests.factories import World
from tests.images import photo
from tests.portal.conftest import PHONE, Citizen, form_token, messages_to, report, reported_number

JPEG = ("photos", ("现场.jpg", photo(), "image/jpeg"))


def _case(session: Session, number: str) -> Case:
    session.expire_all()
    case = session.scalar(select(Case).where(Case.number == number))
    assert case is not None
    return case


def test_a_verified_phone_reports_with_photos(citizen: Citizen, session: Session, settings: Settings) -> None:
    client = citizen()
    page = client.get("/portal/report")
    assert page.status_code == 200 and "138****8000" in page.text
    reply = report(
        client,
        files=[JPEG, ("photos", ("2.png", photo(fmt="PNG"), "image/png"))],
        address="东湖路1号",
        name="王先生",
    )
    assert reply.status_code == 303, reply.text
    number = reported_number(reply)
    case = _case(session, number)
    assert (case.state, case.channel, case.reporter_phone) == (CaseState.REPORTED, Channel.WEB, PHONE)
    assert case.reporter_name == "王先生" and case.address == "东湖路1号"
    assert case.grid is not None and case.grid.code == "T010101-01"
    assert case.title == "上水井盖：人行道上井盖缺失，行人容易踩空"
    [event] = case.events
    assert event.actor is not None and event.actor.username == PORTAL_USERNAME
    assert (event.actor.full_name, event.actor.role) == (PORTAL_NAME, Role.OPERATOR)
    assert event.data == {"portal": True}
    photos = session.scalars(select(Attachment).where(Attachment.case_id == case.id)).all()
    assert sorted(p.content_type for p in photos) == ["image/jpeg", "image/png"]
    assert all(p.event_id == event.id and p.thumbnail_sha256 for p in photos)
    assert all((Path(settings.upload_dir) / p.sha256[:2] / p.sha256).is_file() for p in photos)
    # The receipt with the number goes out by SMS, written with the case.
    assert any(number in body for body in messages_to(session, PHONE))
    shown = client.get(f"/portal/cases/{number}?new=1")
    assert shown.status_code == 200 and "反映已提交" in shown.text and number in shown.text


def test_the_portal_has_one_system_user(citizen: Citizen, session: Session) -> None:
    first = report(citizen())
    second = report(citizen("13900139000"))
    assert first.status_code == second.status_code == 303
    session.expire_all()
    count = select(func.count()).select_from(User).where(User.username == PORTAL_USERNAME)
    assert session.scalar(count) == 1


def test_reporting_needs_a_verified_phone(portal_client: Callable[[], TestClient], session: Session) -> None:
    client = portal_client()
    page = client.get("/portal/report")
    assert page.status_code == 303 and page.headers["location"] == "/portal/verify?next=%2Fportal%2Freport"
    before = stored(session)
    token = form_token(client)
    reply = client.post("/portal/report", data={"csrf_token": token, "category_code": "C0101"})
    assert reply.status_code == 303 and reply.headers["location"].startswith("/portal/verify")
    assert stored(session) == before


def test_a_report_without_the_csrf_token_stores_nothing(citizen: Citizen, session: Session) -> None:
    client = citizen()
    before = stored(session)
    for token in ("", "0" * 64):
        reply = client.post(
            "/portal/report",
            data={
                "csrf_token": token,
                "category_code": "C0101",
                "description": "x",
                "lng": "120.005",
                "lat": "30.005",
            },
            files=[JPEG],
        )
        assert reply.status_code == 403 and "安全令牌" in reply.text
    assert stored(session) == before


@pytest.mark.parametrize(
    ("fields", "problem"),
    [
        ({"category_code": ""}, "请选择问题类别"),
        ({"description": ""}, "请描述问题"),
        ({"lng": "", "lat": ""}, "请在地图上点选位置"),
        ({"lng": "120.5", "lat": "31.5"}, "该位置不在本中心管辖范围内"),
        ({"category_code": "C01"}, "请选择问题类别"),  # a big class, not a small one
        ({"crs": "utm"}, "坐标系不正确"),
    ],
)
def test_a_report_with_a_problem_comes_back_in_chinese(
    citizen: Citizen, session: Session, fields: dict[str, str], problem: str
) -> None:
    client = citizen()
    before = stored(session)
    reply = report(client, **fields)
    assert reply.status_code == 422 and problem in reply.text
    assert "人行道上井盖缺失" in reply.text or fields.get("description") == ""  # what was typed stays
    assert stored(session) == before


@pytest.mark.parametrize(
    ("upload", "status", "problem"),
    [
        (
            ("photos", ("photo.jpg", b"<html><script>alert(1)</script></html>", "image/jpeg")),
            415,
            "照片格式不支持",
        ),
        (("photos", ("cut.jpg", photo()[:300], "image/jpeg")), 422, "照片已损坏"),
    ],
)
def test_photos_are_checked_by_their_bytes(
    citizen: Citizen,
    session: Session,
    settings: Settings,
    upload: tuple[str, tuple[str, bytes, str]],
    status: int,
    problem: str,
) -> None:
    client = citizen()
    before = stored(session)
    reply = report(client, files=[JPEG, upload])
    assert reply.status_code == status and problem in reply.text
    assert stored(session) == before
    # The good photo that came first was not kept either.
    assert not any(
        path.is_file() for path in Path(settings.upload_dir).rglob("*") if "incoming" not in path.parts
    )


def test_too_many_or_too_large_photos_are_refused(
    app: FastAPI, citizen: Citizen, session: Session, settings: Settings
) -> None:
    client = citizen()
    before = stored(session)
    four = [("photos", (f"{n}.jpg", photo(), "image/jpeg")) for n in range(settings.portal_max_photos + 1)]
    reply = report(client, files=four)
    assert reply.status_code in (400, 422) and f"最多上传 {settings.portal_max_photos} 张照片" in reply.text
    small = settings.model_copy(update={"max_upload_bytes": 2048})
    application = create_app(small, app.state.engine)
    application.state.session_factory = app.state.session_factory
    application.state.read_session_factory = app.state.read_session_factory
    application.dependency_overrides = app.dependency_overrides
    with TestClient(application, follow_redirects=False, cookies=client.cookies) as other:
        big = report(other, files=[("photos", ("big.jpg", photo((800, 800)), "image/jpeg"))])
    assert big.status_code == 413 and "照片过大" in big.text
    assert stored(session) == before


def test_a_description_with_markup_shows_as_text(citizen: Citizen) -> None:
    client = citizen()
    number = reported_number(report(client, description="<script>alert(1)</script>", address='"><img src=x>'))
    page = client.get(f"/portal/cases/{number}")
    assert (
        "<script>alert(1)</script>" not in page.text and "&lt;script&gt;alert(1)&lt;/script&gt;" in page.text
    )
    assert "<img src=x>" not in page.text
    assert "script-src 'self'" in page.headers["content-security-policy"]


def test_where_a_point_lies(citizen: Citizen) -> None:
    client = citizen()
    inside = client.get("/portal/place", params={"lng": "120.005", "lat": "30.005"})
    assert "东湖一社区 · 东湖一社区网格" in inside.text
    outside = client.get("/portal/place", params={"lng": "121", "lat": "31"})
    assert "不在本中心管辖范围内" in outside.text
    nonsense = client.get("/portal/place", params={"lng": "x", "lat": "30", "crs": "mars"})
    assert nonsense.status_code == 200 and "请在地图上点选" in nonsense.text


def test_the_portal_can_be_turned_off(app: FastAPI, settings: Settings) -> None:
    application = create_app(settings.model_copy(update={"portal_enabled": False}), app.state.engine)
    with TestClient(application, follow_redirects=False) as client:
        for path in ("/portal", "/portal/verify", "/portal/map/data"):
            assert client.get(path).status_code == 404
        assert client.post("/portal/verify/code", data={"phone": PHONE}).status_code == 404


def test_a_deactivated_system_user_stops_the_portal_taking_reports(
    citizen: Citizen, session: Session
) -> None:
    client = citizen()
    assert report(client).status_code == 303
    session.expire_all()
    user = session.scalars(select(User).where(User.username == PORTAL_USERNAME)).one()
    user.is_active = False
    session.commit()
    before = stored(session)
    reply = report(client)
    assert reply.status_code == 403 and "市民服务门户暂停受理" in reply.text
    assert stored(session) == before


def test_the_system_user_s_region(session: Session, world: World, settings: Settings) -> None:
    factories.region(session, "T02", "另一区", RegionLevel.DISTRICT, None)
    session.flush()
    with pytest.raises(RoleNotAllowed, match="CIVICGRID_PORTAL_REGION_CODE"):
        service.portal_user(session, settings)
    street = settings.model_copy(update={"portal_region_code": "T0101"})
    assert service.portal_user(session, street).region == world.regions["east"]


def test_a_point_in_a_region_without_a_grid_and_one_outside(
    session: Session, world: World, settings: Settings, rules: CentreRules
) -> None:
    world.regions["west"].boundary = factories.square(120.2, 30.0, 0.05)
    session.flush()
    inside = service.place(session, 120.21, 30.01, CoordinateSystem.WGS84, rules)
    assert inside == service.Place(True, "西山街道")
    outside = service.place(session, 121.0, 31.0, CoordinateSystem.WGS84, rules)
    assert not outside.inside
    district = replace(rules, outside_territory="district")
    assert service.place(session, 121.0, 31.0, CoordinateSystem.WGS84, district).inside


def test_photos_can_be_turned_off(app: FastAPI, citizen: Citizen, settings: Settings) -> None:
    client = citizen()
    application = create_app(settings.model_copy(update={"portal_max_photos": 0}), app.state.engine)
    application.state.session_factory = app.state.session_factory
    application.state.read_session_factory = app.state.read_session_factory
    application.dependency_overrides = app.dependency_overrides
    with TestClient(application, follow_redirects=False, cookies=client.cookies) as other:
        assert 'type="file"' not in other.get("/portal/report").text
        assert report(other, files=[JPEG]).status_code == 400
        assert report(other).status_code == 303
