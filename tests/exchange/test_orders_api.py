"""Work orders pushed down by a partner over the API: signed, idempotent, placed, reported
back; every refusal leaves the store unchanged."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from civicgrid.exchange.signing import SIGNATURE_HEADER, TIMESTAMP_HEADER
from civicgrid.store.models import Case, PartnerOrder
from tests.api.helpers import Headers, assert_error
from tests.exchange.helpers import ORDER, add_partner, reports, signed, stored
from tests.factories import World

URL = "/api/v1/exchange/12345-city/orders"


@pytest.fixture
def partner_client(
    client: TestClient, session: Session, now: datetime, clock: Callable[[datetime], None]
) -> TestClient:
    add_partner(session, now)
    session.commit()
    return client


def post(client: TestClient, now: datetime, body: dict[str, Any] | None = None, **changes: Any) -> Any:
    raw, headers = signed({**ORDER, **(body or {}), **changes}, now)
    return client.post(URL, content=raw, headers=headers)


def test_an_order_becomes_one_case_and_the_same_order_again_is_that_case(
    partner_client: TestClient, session: Session, now: datetime, world: World
) -> None:
    first = post(partner_client, now)
    assert first.status_code == 201, first.text
    answer = first.json()
    assert answer["created"] is True and answer["grid_code"] == "T010101-01" and answer["state"] == "reported"
    assert datetime.fromisoformat(answer["external_deadline_at"]) == datetime.fromisoformat(
        "2026-10-09T17:30:00+08:00"
    )
    case = session.scalar(select(Case).where(Case.number == answer["case_number"]))
    assert case is not None
    assert (case.channel.value, case.external_id, case.reporter_name) == (
        "hotline_12345",
        "GD-0001",
        "王先生",
    )
    assert case.request_type is not None and case.request_type.value == "complaint"
    assert case.events[0].actor is not None and case.events[0].actor.username == "partner.12345-city"
    order = session.scalar(select(PartnerOrder))
    assert order is not None and order.called_at == datetime.fromisoformat("2026-09-30T09:12:00+08:00")
    [accepted] = reports(session)
    assert accepted["type"] == "accepted" and accepted["order_number"] == "GD-0001"
    before = stored(session)
    again = post(partner_client, now)
    assert again.status_code == 200, again.text
    assert again.json()["created"] is False and again.json()["case_number"] == answer["case_number"]
    assert stored(session) == before


def test_an_order_no_grid_covers_waits_in_the_district_queue_with_a_note(
    partner_client: TestClient, session: Session, now: datetime
) -> None:
    reply = post(partner_client, now, lng=None, lat=None, address="南星路88号东门外")
    assert reply.status_code == 201, reply.text
    assert reply.json()["grid_code"] is None
    case = session.scalar(select(Case).where(Case.number == reply.json()["case_number"]))
    assert case is not None and case.region.code == "T01"
    assert [e.action.value for e in case.events] == ["report", "comment"]
    assert "未能定位到网格" in case.events[1].note and "南星路88号东门外" in case.events[1].note
    assert [r["type"] for r in reports(session)] == ["accepted"]  # the remark stays inside


def test_each_change_of_a_partner_case_is_reported_in_order(
    partner_client: TestClient, session: Session, now: datetime, login: Callable[[str], Headers]
) -> None:
    number = post(partner_client, now).json()["case_number"]

    def act(user: str, action: str, **body: Any) -> None:
        reply = partner_client.post(
            f"/api/v1/cases/{number}/actions/{action}", json=body, headers=login(user)
        )
        assert reply.status_code == 200, reply.text

    act("operator", "register")
    act("operator", "comment", note="内部备注")
    act("dispatcher", "dispatch", department_code="D-SZ-E")
    act("handler_sz", "accept")
    act("handler_sz", "handle", note="已补齐井盖")
    act("inspector", "check", note="现场核查通过")
    act("operator", "close", note="结案")
    sent = reports(session)
    assert [r["type"] for r in sent] == [
        "accepted",
        "updated",
        "dispatched",
        "updated",
        "handled",
        "updated",
        "closed",
    ]
    assert [r["seq"] for r in sent] == [1, 2, 4, 5, 6, 7, 8]
    assert sent[2]["department"] == "D-SZ-E"
    assert sent[-1]["result"] == "已补齐井盖" and sent[-1]["state_label"] == "结案"
    assert all(r["note"] != "内部备注" for r in sent)


def test_a_voided_partner_case_is_reported_rejected_with_the_reason(
    partner_client: TestClient, session: Session, now: datetime, login: Callable[[str], Headers]
) -> None:
    number = post(partner_client, now).json()["case_number"]
    reply = partner_client.post(
        f"/api/v1/cases/{number}/actions/void", json={"note": "不属于本辖区"}, headers=login("operator")
    )
    assert reply.status_code == 200, reply.text
    last = reports(session)[-1]
    assert (last["type"], last["reason"], last["state"]) == ("rejected", "不属于本辖区", "voided")


@pytest.mark.parametrize(
    ("headers", "reason"),
    [
        ({}, "sign the request"),
        ({SIGNATURE_HEADER: "sha256=" + "0" * 64}, "does not match"),
        ({TIMESTAMP_HEADER: "yesterday"}, "Unix seconds"),
    ],
)
def test_a_badly_signed_order_is_refused_with_the_reason(
    partner_client: TestClient, session: Session, now: datetime, headers: dict[str, str], reason: str
) -> None:
    raw, good = signed(ORDER, now)
    sent = {k: v for k, v in good.items() if k == "Content-Type"} if not headers else {**good, **headers}
    before = stored(session)
    body = assert_error(partner_client.post(URL, content=raw, headers=sent), 401, "unauthenticated")
    assert reason in body["detail"]
    assert stored(session) == before


def test_a_body_changed_after_signing_a_stale_timestamp_or_a_wrong_secret_are_refused(
    partner_client: TestClient, session: Session, now: datetime
) -> None:
    before = stored(session)
    raw, headers = signed(ORDER, now)
    tampered = raw.replace(b"GD-0001", b"GD-0002")
    assert (
        "does not match"
        in assert_error(partner_client.post(URL, content=tampered, headers=headers), 401, "unauthenticated")[
            "detail"
        ]
    )
    raw, headers = signed(ORDER, now - timedelta(minutes=6))
    assert (
        "stale"
        in assert_error(partner_client.post(URL, content=raw, headers=headers), 401, "unauthenticated")[
            "detail"
        ]
    )
    raw, headers = signed(ORDER, now, secret="another-secret-of-32-characters-long")
    assert_error(partner_client.post(URL, content=raw, headers=headers), 401, "unauthenticated")
    raw, headers = signed(ORDER, now)
    assert (
        "unknown or inactive"
        in assert_error(
            partner_client.post("/api/v1/exchange/nobody/orders", content=raw, headers=headers),
            401,
            "unauthenticated",
        )["detail"]
    )
    assert stored(session) == before


@pytest.mark.parametrize(
    ("changes", "status", "error", "words"),
    [
        ({"category": "天上掉馅饼"}, 422, "invalid", "category map"),
        ({"deadline": "2026-13-45 25:00"}, 422, "invalid", "deadline (办理时限)"),
        ({"called_at": "昨天上午"}, 422, "invalid", "called_at (来电时间)"),
        ({"deadline": "1999-12-31"}, 422, "invalid", "2000–2099"),
        ({"request_type": "表扬信"}, 422, "invalid", "request_type"),
        ({"content": ""}, 422, "invalid_request", None),
        ({"lat": None}, 422, "invalid_request", None),
        ({"colour": "red"}, 422, "invalid_request", None),
    ],
)
def test_bad_orders_are_refused_with_the_reason_and_store_nothing(
    partner_client: TestClient,
    session: Session,
    now: datetime,
    changes: dict[str, Any],
    status: int,
    error: str,
    words: str | None,
) -> None:
    before = stored(session)
    body = assert_error(post(partner_client, now, changes), status, error)
    if words is not None:
        assert words in body["detail"]
    assert stored(session) == before


def test_a_body_that_is_not_json_is_refused(
    partner_client: TestClient, session: Session, now: datetime
) -> None:
    from civicgrid.exchange.signing import signed_headers

    before = stored(session)
    reply = partner_client.post(
        URL,
        content=b"{not json",
        headers=signed_headers("a-shared-secret-of-the-12345-platform", b"{not json", now),
    )
    assert_error(reply, 422, "invalid_request")
    assert stored(session) == before


def test_an_order_number_another_case_has_on_the_channel_is_a_conflict(
    partner_client: TestClient, session: Session, now: datetime, login: Callable[[str], Headers]
) -> None:
    manual = {
        "channel": "hotline_12345",
        "category_code": "C0101",
        "title": "井盖",
        "lng": 120.005,
        "lat": 30.005,
        "external_id": "GD-0001",
    }
    assert partner_client.post("/api/v1/cases", json=manual, headers=login("operator")).status_code == 201
    before = stored(session)
    assert "already case" in assert_error(post(partner_client, now), 409, "conflict")["detail"]
    assert stored(session) == before


def test_admins_of_the_district_manage_partners(
    partner_client: TestClient, session: Session, login: Callable[[str], Headers]
) -> None:
    admin = login("admin")
    created = partner_client.post(
        "/api/v1/partners",
        json={
            "code": "upper",
            "name": "区指挥中心",
            "channel": "upper_level",
            "category_map": {"井盖": "C0101"},
        },
        headers=admin,
    )
    assert created.status_code == 201, created.text
    assert len(created.json()["secret"]) >= 32 and created.json()["region_code"] == "T01"
    listed = partner_client.get("/api/v1/partners", headers=admin).json()
    assert [p["code"] for p in listed] == ["12345-city", "upper"] and all("secret" not in p for p in listed)
    changed = partner_client.patch(
        "/api/v1/partners/upper",
        json={
            "webhook_url": "https://upper.example.org/hook",
            "name": "区城运中心",
            "is_active": False,
            "secret": "s" * 40,
        },
        headers=admin,
    )
    assert changed.status_code == 200, changed.text
    assert (changed.json()["webhook_url"], changed.json()["is_active"]) == (
        "https://upper.example.org/hook",
        False,
    )
    assert_error(partner_client.patch("/api/v1/partners/nobody", json={}, headers=admin), 404, "not_found")
    assert (
        "C9999"
        in assert_error(
            partner_client.patch(
                "/api/v1/partners/upper", json={"category_map": {"x": "C9999"}}, headers=admin
            ),
            422,
            "invalid",
        )["detail"]
    )
    assert_error(
        partner_client.post("/api/v1/partners", json={"code": "upper", "name": "again"}, headers=admin),
        409,
        "conflict",
    )
    assert_error(
        partner_client.post(
            "/api/v1/partners", json={"code": "web", "name": "网站", "channel": "web"}, headers=admin
        ),
        422,
        "invalid",
    )
    assert_error(
        partner_client.post(
            "/api/v1/partners", json={"code": "x", "name": "x", "region_code": "NOPE"}, headers=admin
        ),
        422,
        "invalid",
    )


def test_an_inactive_partner_is_refused(
    partner_client: TestClient, session: Session, now: datetime, login: Callable[[str], Headers]
) -> None:
    assert (
        partner_client.patch(
            "/api/v1/partners/12345-city", json={"is_active": False}, headers=login("admin")
        ).status_code
        == 200
    )
    before = stored(session)
    assert_error(post(partner_client, now), 401, "unauthenticated")
    assert stored(session) == before
