"""Notifications through the API: one's own only, unread first and paged, marked read one
by one or all at once; the settings for SMS and e-mail, one's own and an admin's."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from civicgrid.domain.vocabulary import AlertKind
from civicgrid.store.models import LiveChange, Notification, NotificationSetting
from tests.api.helpers import Headers, assert_error, new_case
from tests.factories import World

Login = Callable[[str], Headers]


def notify(
    session: Session, world: World, username: str, number_id: int, count: int, now: datetime
) -> list[int]:
    """``count`` notifications for ``username``, a minute apart (the newest last)."""
    ids = []
    for n in range(count):
        row = Notification(
            user_id=world.users[username].id,
            kind=AlertKind.RED if n % 2 else AlertKind.SUPERVISION,
            case_id=number_id,
            occasion=f"test:{n}",
            text=f"第{n}条",
            created_at=now + timedelta(minutes=n),
        )
        session.add(row)
        session.flush()
        ids.append(row.id)
    session.commit()
    return ids


def case_id(session: Session, client: TestClient, login: Login) -> int:
    number = new_case(client, login("operator"))["number"]
    from civicgrid.store.models import Case

    return session.scalars(select(Case.id).where(Case.number == number)).one()


def test_unread_first_then_newest_first_in_pages(
    client: TestClient, session: Session, world: World, login: Login, now: datetime
) -> None:
    headers = login("dispatcher")
    ids = notify(session, world, "dispatcher", case_id(session, client, login), 5, now)
    notify(session, world, "supervisor", case_id(session, client, login), 2, now)  # not theirs
    assert client.post(f"/api/v1/notifications/{ids[4]}/read", headers=headers).status_code == 200
    first = client.get("/api/v1/notifications?page_size=3", headers=headers).json()
    assert (first["total"], first["unread"], first["next_page"]) == (5, 4, 2)
    assert [item["id"] for item in first["items"]] == [ids[3], ids[2], ids[1]]
    assert first["items"][0]["kind"] == "red" and first["items"][0]["kind_label"] == "红灯超期"
    assert first["items"][0]["read_at"] is None and first["items"][0]["number"].startswith("JD-")
    second = client.get("/api/v1/notifications?page_size=3&page=2", headers=headers).json()
    assert [item["id"] for item in second["items"]] == [ids[0], ids[4]]  # the read one last
    assert second["items"][1]["read_at"] is not None and second["next_page"] is None


def test_reading_tells_the_users_other_pages(
    client: TestClient, session: Session, world: World, login: Login, now: datetime
) -> None:
    headers = login("dispatcher")
    ids = notify(session, world, "dispatcher", case_id(session, client, login), 3, now)
    client.post(f"/api/v1/notifications/{ids[0]}/read", headers=headers)
    client.post(f"/api/v1/notifications/{ids[0]}/read", headers=headers)  # again: nothing more
    reply = client.post("/api/v1/notifications/read-all", headers=headers)
    assert reply.json() == {"marked": 2, "unread": 0}
    assert client.post("/api/v1/notifications/read-all", headers=headers).json() == {"marked": 0, "unread": 0}
    session.expire_all()
    counts = session.scalars(
        select(LiveChange.data).where(
            LiveChange.kind == "unread", LiveChange.user_id == world.users["dispatcher"].id
        )
    ).all()
    assert counts == [{"unread": 2}, {"unread": 0}]


def test_another_users_notification_is_not_there(
    client: TestClient, session: Session, world: World, login: Login, now: datetime
) -> None:
    theirs = notify(session, world, "supervisor", case_id(session, client, login), 1, now)[0]
    reply = client.post(f"/api/v1/notifications/{theirs}/read", headers=login("dispatcher"))
    assert_error(reply, 404, "not_found")
    session.expire_all()
    assert session.get(Notification, theirs).read_at is None  # type: ignore[union-attr]


def test_settings_of_ones_own_and_of_managed_users(
    client: TestClient, session: Session, world: World, login: Login
) -> None:
    headers = login("supervisor")
    empty = client.get("/api/v1/me/notification-settings", headers=headers).json()
    assert empty == {"username": "supervisor", "sms_phone": None, "email": None, "kinds": []}
    body = {
        "sms_phone": "+86 138-0000-0000",
        "email": "duban@example.org",
        "kinds": ["red", "supervision", "red"],
    }
    saved = client.put("/api/v1/me/notification-settings", json=body, headers=headers).json()
    assert saved["kinds"] == ["red", "supervision"]
    assert client.get("/api/v1/me/notification-settings", headers=headers).json() == saved
    for bad in ({"sms_phone": "call me"}, {"email": "not-an-address"}, {"kinds": ["blue"]}, {"pager": "1"}):
        assert client.put("/api/v1/me/notification-settings", json=bad, headers=headers).status_code == 422
    # An admin of the street sets a user's of the street; another street's is not theirs.
    admin = login("admin_east")
    reply = client.put(
        "/api/v1/users/dispatcher/notification-settings", json={"email": "pq@example.org"}, headers=admin
    )
    assert reply.status_code == 200 and reply.json()["email"] == "pq@example.org"
    assert_error(
        client.get("/api/v1/users/dispatcher_west/notification-settings", headers=admin), 404, "not_found"
    )
    assert_error(
        client.get("/api/v1/users/dispatcher/notification-settings", headers=headers), 403, "forbidden"
    )
    session.expire_all()
    stored = session.get(NotificationSetting, world.users["dispatcher"].id)
    assert stored is not None and stored.email == "pq@example.org" and stored.kinds == []
