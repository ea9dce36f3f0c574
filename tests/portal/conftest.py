"""Fixtures of the portal tests: the app's clock, a browser-like client whose phone is
verified through the portal's own pages (the code read from the SMS in the outbox), and
cases reported through the portal."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from civicgrid.api.deps import get_now
from civicgrid.store.models import OutboxMessage
from tests.web.conftest import csrf_of

#: A point in 东湖一社区's grid of the test world (WGS-84).
LNG, LAT = "120.005", "30.005"
PHONE = "13800138000"

Clock = Callable[[datetime], None]
Citizen = Callable[..., TestClient]


@pytest.fixture
def clock(app: FastAPI, now: datetime) -> Iterator[Clock]:
    """Set the app's clock (starts at the ``now`` fixture)."""

    def set_time(moment: datetime) -> None:
        app.dependency_overrides[get_now] = lambda: moment

    set_time(now)
    yield set_time
    app.dependency_overrides.clear()


def messages_to(session: Session, phone: str) -> list[str]:
    """The SMS texts written to the outbox for ``phone``, oldest first."""
    session.expire_all()
    query = select(OutboxMessage.body).where(OutboxMessage.kind == "sms", OutboxMessage.target == phone)
    return list(session.scalars(query.order_by(OutboxMessage.id)))


def code_sent_to(session: Session, phone: str) -> str:
    """The code of the newest verification SMS sent to ``phone``."""
    codes = [
        found.group(1) for body in messages_to(session, phone) if (found := re.search(r"验证码：(\d+)", body))
    ]
    assert codes, f"no verification code was sent to {phone}"
    return codes[-1]


def form_token(client: TestClient, path: str = "/portal/lookup") -> str:
    """The CSRF token of the portal's forms for this browser."""
    return csrf_of(client.get(path).text)


def ask_code(client: TestClient, phone: str, then: str = "/portal/report") -> Any:
    return client.post(
        "/portal/verify/code", data={"csrf_token": form_token(client), "phone": phone, "next": then}
    )


@pytest.fixture
def portal_client(app: FastAPI, session: Session, clock: Clock) -> Iterator[Callable[[], TestClient]]:
    """A fresh browser-like client (its own cookies), not verified."""
    session.commit()  # the world becomes visible to the app's sessions on the same connection
    opened: list[TestClient] = []

    def open_one() -> TestClient:
        client = TestClient(app, follow_redirects=False)
        client.__enter__()
        opened.append(client)
        return client

    yield open_one
    for client in opened:
        client.__exit__(None, None, None)


@pytest.fixture
def citizen(portal_client: Callable[[], TestClient], session: Session) -> Citizen:
    """A client whose phone is verified through the portal's pages."""

    def verified(phone: str = PHONE) -> TestClient:
        client = portal_client()
        assert ask_code(client, phone).status_code == 200
        reply = client.post(
            "/portal/verify",
            data={
                "csrf_token": form_token(client),
                "phone": phone,
                "code": code_sent_to(session, phone),
                "next": "/portal/report",
            },
        )
        assert reply.status_code == 303 and reply.headers["location"] == "/portal/report", reply.text
        return client

    return verified


def report(
    client: TestClient, files: list[tuple[str, tuple[str, bytes, str]]] | None = None, **fields: str
) -> Any:
    """Send the report form (with ``files`` as photos)."""
    data = {
        "csrf_token": form_token(client, "/portal/report"),
        "category_code": "C0101",
        "description": "人行道上井盖缺失，行人容易踩空",
        "lng": LNG,
        "lat": LAT,
        **fields,
    }
    return client.post("/portal/report", data=data, files=files or [])


def reported_number(reply: Any) -> str:
    """The case number a successful report went on to."""
    location = reply.headers["location"]
    found = re.fullmatch(r"/portal/cases/([A-Z]+-\d{8}-\d{6})\?new=1", location)
    assert found, location
    return found.group(1)
