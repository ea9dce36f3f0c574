"""The notification pages and the navigation's badge, without a browser, on both databases;
and the live refresh that does not count as using the page."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime, timedelta

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from civicgrid.domain.vocabulary import AlertKind
from civicgrid.services.cases import CentreRules
from civicgrid.store.models import Notification, NotificationSetting
from civicgrid.web.sessions import SESSION_COOKIE
from tests import factories
from tests.factories import World
from tests.web.conftest import csrf_of

Pages = Callable[[str], TestClient]
BADGE = re.compile(r'<span class="badge" id="unread-badge"[^>]*data-unread="(\d+)"( hidden)?>([^<]*)</span>')


def alerts_for(
    session: Session, world: World, rules: CentreRules, now: datetime, username: str, count: int
) -> str:
    case = factories.new_case(session, world, rules, now, title="望江路井盖缺失")
    for n in range(count):
        session.add(
            Notification(
                user_id=world.users[username].id,
                kind=AlertKind.RED,
                case_id=case.id,
                occasion=f"page:{n}",
                text=f"{case.number}「望江路井盖缺失」处置已超期 {n}",
                created_at=now + timedelta(minutes=n),
            )
        )
    session.commit()
    return case.number


def badge(html: str) -> tuple[int, bool, str]:
    found = BADGE.search(html)
    assert found, "no unread badge in the navigation"
    return int(found.group(1)), found.group(2) is None, found.group(3)


def test_the_badge_counts_the_users_unread_notifications(
    pages: Pages, session: Session, world: World, rules: CentreRules, now: datetime
) -> None:
    alerts_for(session, world, rules, now, "dispatcher", 3)
    dispatcher = pages("dispatcher").get("/workbench").text
    assert badge(dispatcher) == (3, True, "3")
    assert '<script src="/static/live.js" defer></script>' in dispatcher
    assert 'data-live="/live/events"' in dispatcher
    assert badge(pages("supervisor").get("/workbench").text) == (0, False, "0")
    login = TestClient(pages("operator").app).get("/login").text
    assert "live.js" not in login and "unread-badge" not in login  # nobody signed in


def test_opening_a_notification_marks_it_read_and_shows_the_case(
    pages: Pages, session: Session, world: World, rules: CentreRules, now: datetime
) -> None:
    number = alerts_for(session, world, rules, now, "dispatcher", 2)
    client = pages("dispatcher")
    page = client.get("/notifications")
    assert page.status_code == 200 and page.text.count('class="notification kind-red unread"') == 2
    assert page.text.index("处置已超期 1") < page.text.index("处置已超期 0")  # newest first
    first = session.scalars(select(Notification.id).order_by(Notification.id)).first()
    reply = client.post(f"/notifications/{first}/read", data={"csrf_token": csrf_of(page.text), "open": "1"})
    assert (reply.status_code, reply.headers["location"]) == (303, f"/cases/{number}")
    again = client.get("/notifications").text
    assert again.count("unread") >= 1 and badge(again)[0] == 1
    assert client.post("/notifications/read-all", data={"csrf_token": csrf_of(again)}).status_code == 303
    # An id beyond any row (and beyond PostgreSQL's integer) is refused, not an error.
    huge = client.post("/notifications/474827036982/read", data={"csrf_token": csrf_of(again)})
    assert huge.status_code == 422
    assert badge(client.get("/notifications").text)[0] == 0


def test_the_settings_page_saves_and_refuses_with_reasons(
    pages: Pages, session: Session, world: World
) -> None:
    client = pages("supervisor")
    form = client.get("/notifications/settings")
    assert form.status_code == 200 and 'name="kinds" value="red"' in form.text
    token = csrf_of(form.text)
    saved = client.post(
        "/notifications/settings",
        data={"csrf_token": token, "sms_phone": "13800000000", "email": "", "kinds": ["red", "supervision"]},
    )
    assert (saved.status_code, saved.headers["location"]) == (303, "/notifications/settings?saved=1")
    shown = client.get("/notifications/settings?saved=1").text
    assert "已保存" in shown and 'value="13800000000"' in shown
    session.expire_all()
    stored = session.get(NotificationSetting, world.users["supervisor"].id)
    assert stored is not None and stored.kinds == ["red", "supervision"] and stored.email is None
    bad = client.post("/notifications/settings", data={"csrf_token": token, "sms_phone": "call me"})
    assert bad.status_code == 422 and "sms_phone" in bad.text and 'value="call me"' in bad.text
    nowhere = client.post("/notifications/settings", data={"csrf_token": token, "kinds": "red"})
    assert nowhere.status_code == 422 and "手机号码或电子邮箱" in nowhere.text


def test_a_live_refresh_does_not_count_as_using_the_page(
    pages: Pages, page_clock: Callable[[datetime], None], now: datetime
) -> None:
    client = pages("operator")
    page_clock(now + timedelta(minutes=20))
    live = client.get("/workbench", headers={"HX-Request": "true", "X-Civicgrid-Live": "1"})
    assert live.status_code == 200 and SESSION_COOKIE not in live.headers.get("set-cookie", "")
    page_clock(now + timedelta(minutes=40))  # 40 minutes since the last real use: idle
    reply = client.get("/workbench")
    assert reply.status_code == 303 and "reason=idle" in reply.headers["location"]
