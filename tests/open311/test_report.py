"""POST requests: a report from an Open311 client enters the loop as a case, traceable to
its API key; every refusal has the spec's error body and leaves the store unchanged."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Connection, event, select
from sqlalchemy.orm import Session

from civicgrid.domain.vocabulary import Action, CaseState, Channel, Role
from civicgrid.services.api_keys import revoke_key
from civicgrid.services.rate_limit import RateLimiter
from civicgrid.store.models import ApiKey, Case
from tests.api.helpers import stored
from tests.open311.conftest import V2

FORM = "application/x-www-form-urlencoded"
REPORT = {
    "service_code": "C0101",
    "lat": "30.005",
    "long": "120.005",
    "description": "望江路12号门前井盖缺失，夜间很危险",
    "attribute[condition]": "missing",
    "first_name": "小明",
    "last_name": "王",
    "phone": "13800000000",
    "email": "wang@example.org",
    "device_id": "dev-1",
    "account_id": "acc-1",
    "media_url": "https://photos.example.org/1.jpg",
}


def post_form(
    client: TestClient,
    fields: dict[str, Any] | list[tuple[str, str]],
    fmt: str = "json",
    content_type: str = f"{FORM}; charset=utf-8",
) -> Any:
    return client.post(
        f"{V2}/requests.{fmt}", content=urlencode(fields).encode(), headers={"Content-Type": content_type}
    )


def errors_of(reply: Any, status: int) -> str:
    """The description of the spec's JSON or XML error body ``status``."""
    assert reply.status_code == status, reply.text
    if reply.headers["content-type"].startswith("text/xml"):
        assert reply.headers["content-type"] == "text/xml; charset=utf-8"
        assert reply.text.startswith('<?xml version="1.0" encoding="utf-8"?>')
        root = ET.fromstring(reply.content)
        assert root.tag == "errors" and [e.tag for e in root] == ["error"]
        assert root.findtext("error/code") == str(status)
        return root.findtext("error/description") or ""
    assert reply.headers["content-type"] == "application/json; charset=utf-8"
    body = reply.json()
    assert isinstance(body, list) and len(body) == 1 and set(body[0]) == {"code", "description"}
    assert body[0]["code"] == status
    return str(body[0]["description"])


def test_a_form_report_becomes_a_reported_case_traceable_to_its_key(
    client: TestClient, session: Session, key: str
) -> None:
    reply = post_form(client, {**REPORT, "api_key": key, "jurisdiction_id": "civicgrid.local"})
    assert reply.status_code == 200, reply.text
    assert reply.headers["content-type"] == "application/json; charset=utf-8"
    [answer] = reply.json()
    assert set(answer) == {"service_request_id", "service_notice", "account_id"}
    assert answer["account_id"] == "acc-1" and answer["service_notice"].startswith("结案标准：")
    session.expire_all()
    case = session.scalar(select(Case).where(Case.number == answer["service_request_id"]))
    assert case is not None
    assert (case.state, case.channel, case.category.code) == (
        CaseState.REPORTED,
        Channel.THIRD_PARTY,
        "C0101",
    )
    assert case.grid is not None and case.grid.code == "T010101-01"
    assert case.external_id is not None and case.external_id.startswith("o311-")
    assert case.answers == {"condition": "missing"}
    assert case.media_url == "https://photos.example.org/1.jpg"
    assert (case.reporter_name, case.reporter_phone) == ("王小明", "13800000000")
    assert case.title.startswith("上水井盖：望江路12号")
    [event] = case.events
    row = session.scalar(select(ApiKey).where(ApiKey.name == "随手拍App"))
    assert row is not None and event.actor_id == row.user_id and event.actor_role is Role.OPERATOR
    assert event.action is Action.REPORT
    assert event.data == {
        "api_key": "随手拍App",
        "open311": {"email": "wang@example.org", "device_id": "dev-1", "account_id": "acc-1"},
    }
    token = client.get(f"{V2}/tokens/{case.external_id}.json")
    assert token.json() == [{"service_request_id": case.number, "token": case.external_id}]


def test_a_form_without_charset_and_an_address_only_report_land_in_the_keys_region(
    client: TestClient, session: Session, key: str
) -> None:
    fields = {"api_key": key, "service_code": "E0105", "address_string": "望江路12号"}
    reply = post_form(client, fields, fmt="xml", content_type=FORM)
    assert reply.status_code == 200, reply.text
    assert reply.headers["content-type"] == "text/xml; charset=utf-8"
    root = ET.fromstring(reply.content)
    assert root.tag == "service_requests" and [e.tag for e in root] == ["request"]
    number = root.findtext("request/service_request_id")
    case = session.scalar(select(Case).where(Case.number == number))
    assert case is not None and case.region.code == "T0101" and case.grid is None
    assert case.address == "望江路12号" and case.answers == {}
    by_id = post_form(client, {"api_key": key, "service_code": "E0105", "address_id": "A-77"})
    assert by_id.status_code == 200, by_id.text
    other = session.scalar(select(Case).where(Case.number == by_id.json()[0]["service_request_id"]))
    assert other is not None and other.address == "地址编号 A-77"


def test_a_json_report_with_list_answers_and_the_keys_own_channel(
    client: TestClient, session: Session, issue: Callable[..., str]
) -> None:
    key = issue("微信小程序", channel=Channel.WECHAT)
    body = {
        "api_key": key,
        "service_code": "C0108",
        "lat": 30.005,
        "long": 120.005,
        "attribute": {"fault": ["dark", "leaning"], "lamp_number": "LD-0012"},
    }
    reply = client.post(
        f"{V2}/requests.json", content=json.dumps(body), headers={"Content-Type": "application/json"}
    )
    assert reply.status_code == 200, reply.text
    case = session.scalar(select(Case).where(Case.number == reply.json()[0]["service_request_id"]))
    assert case is not None and case.channel is Channel.WECHAT
    assert case.answers == {"lamp_number": "LD-0012", "fault": ["dark", "leaning"]}
    form = [
        ("api_key", key),
        ("service_code", "C0108"),
        ("lat", "30.005"),
        ("long", "120.005"),
        ("attribute[fault][]", "dark"),
        ("attribute[fault][]", "flicker"),
    ]
    reply = post_form(client, form)
    assert reply.status_code == 200, reply.text
    case = session.scalar(select(Case).where(Case.number == reply.json()[0]["service_request_id"]))
    assert case is not None and case.answers == {"fault": ["dark", "flicker"]}


def _without(name: str) -> dict[str, Any]:
    return {k: v for k, v in REPORT.items() if k != name}


REFUSALS: list[tuple[str, Callable[[str], Any], int, str]] = [
    ("no api_key", lambda key: _without("api_key"), 403, "api_key is required"),
    ("a wrong api_key", lambda key: {**REPORT, "api_key": key + "x"}, 403, "invalid or revoked api_key"),
    (
        "an unknown service",
        lambda key: {**REPORT, "api_key": key, "service_code": "Z9999"},
        404,
        "service_code 'Z9999'",
    ),
    (
        "a big class as service",
        lambda key: {**REPORT, "api_key": key, "service_code": "C01"},
        404,
        "service_code 'C01'",
    ),
    (
        "no location",
        lambda key: {**_without("lat"), "long": "", "api_key": key},
        400,
        "a location is required",
    ),
    ("lat without long", lambda key: {**_without("long"), "api_key": key}, 400, "both lat and long"),
    (
        "a required attribute missing",
        lambda key: {**_without("attribute[condition]"), "api_key": key},
        400,
        "attribute condition is required",
    ),
    (
        "a value outside the list",
        lambda key: {**REPORT, "api_key": key, "attribute[condition]": "stolen"},
        400,
        "'stolen' is not one of",
    ),
    (
        "an unknown attribute",
        lambda key: {**REPORT, "api_key": key, "attribute[colour]": "red"},
        400,
        "unknown attribute(s): colour",
    ),
    (
        "a description over 4000 characters",
        lambda key: {**REPORT, "api_key": key, "description": "坑" * 4001},
        400,
        "description",
    ),
    (
        "an unknown field",
        lambda key: {**REPORT, "api_key": key, "colour": "red"},
        400,
        "colour: not an Open311 field",
    ),
    (
        "a media_url that is no web link",
        lambda key: {**REPORT, "api_key": key, "media_url": "javascript:alert(1)"},
        400,
        "media_url",
    ),
    (
        "a point outside every grid",
        lambda key: {**REPORT, "api_key": key, "lat": "10", "long": "10"},
        400,
        "lies outside the territory",
    ),
    (
        "a point outside the key's region",
        lambda key: {**REPORT, "api_key": key, "long": "120.105"},
        403,
        "outside your scope",
    ),
    (
        "another jurisdiction",
        lambda key: {**REPORT, "api_key": key, "jurisdiction_id": "sfgov.org"},
        404,
        "jurisdiction_id 'sfgov.org'",
    ),
    (
        "a field given twice",
        lambda key: [*({**REPORT, "api_key": key}.items()), ("phone", "1")],
        400,
        "phone is given more than once",
    ),
]


@pytest.mark.parametrize(("what", "body", "status", "reason"), REFUSALS, ids=[r[0] for r in REFUSALS])
@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_a_refused_report_answers_the_specs_error_and_stores_nothing(
    client: TestClient,
    session: Session,
    key: str,
    what: str,
    body: Callable[[str], Any],
    status: int,
    reason: str,
    fmt: str,
) -> None:
    before = stored(session)
    reply = post_form(client, body(key), fmt=fmt)
    assert reason in errors_of(reply, status)
    assert stored(session) == before


@pytest.mark.parametrize(
    ("content_type", "body", "reason"),
    [
        ("multipart/form-data; boundary=x", b"--x--", "send a media_url"),
        ("text/plain", b"service_code=C0101", "x-www-form-urlencoded"),
        ("application/json", b"{not json", "not JSON"),
        ("application/json", b"[1, 2]", "must be an object"),
        ("application/json", b'{"service_code": {"a": 1}}', "must be a string or a number"),
        (FORM, b"service_code=C0101&phone=%FF", "not UTF-8"),
        (FORM, "service_code=上水井盖".encode("gb18030"), "not UTF-8"),
        (FORM, "&".join(["a=1"] * 501).encode(), "Max number of fields exceeded"),
    ],
)
def test_a_body_that_cannot_be_read_is_a_400(
    client: TestClient, session: Session, key: str, content_type: str, body: bytes, reason: str
) -> None:
    before = stored(session)
    reply = client.post(f"{V2}/requests.json", content=body, headers={"Content-Type": content_type})
    assert reason in errors_of(reply, 400)
    assert stored(session) == before


def test_an_unknown_format_is_a_404_and_stores_nothing(
    client: TestClient, session: Session, key: str
) -> None:
    before = stored(session)
    reply = post_form(client, {**REPORT, "api_key": key}, fmt="yaml")
    assert "unknown format" in errors_of(reply, 404)
    assert stored(session) == before


def test_a_revoked_key_is_refused(client: TestClient, session: Session, key: str, now: Any) -> None:
    revoke_key(session, None, "随手拍App", now)
    session.commit()
    reply = post_form(client, {**REPORT, "api_key": key})
    assert "invalid or revoked api_key" in errors_of(reply, 403)


def test_each_key_has_its_own_rate_limit(app: FastAPI, client: TestClient, issue: Callable[..., str]) -> None:
    app.state.open311_limiter = RateLimiter(per_minute=2)
    first, second = issue("甲"), issue("乙")
    for _ in range(2):
        assert post_form(client, {**REPORT, "api_key": first}).status_code == 200
    refused = post_form(client, {**REPORT, "api_key": first})
    assert "2 requests in the last minute" in errors_of(refused, 429)
    assert int(refused.headers["Retry-After"]) >= 1
    assert post_form(client, {**REPORT, "api_key": second}).status_code == 200


def test_a_report_reads_its_key_and_the_calendar_mark_in_one_statement(
    client: TestClient, key: str, connection: Connection
) -> None:
    assert post_form(client, {**REPORT, "api_key": key}).status_code == 200  # the grid index is built
    sent: list[str] = []

    def record(*args: Any) -> None:
        sent.append(args[2])

    event.listen(connection, "before_cursor_execute", record)
    try:
        assert post_form(client, {**REPORT, "api_key": key}).status_code == 200
    finally:
        event.remove(connection, "before_cursor_execute", record)
    [calendar] = [statement for statement in sent if "calendar_days" in statement]
    assert "FROM api_keys" in calendar
    # The key, the service with the territory mark, the grid, the number, the case, its
    # event and its journal entry (beside the test's savepoints and PostgreSQL's notify).
    aside = ("SAVEPOINT", "RELEASE", "SELECT pg_advisory_xact_lock", "SELECT pg_notify")
    work = [statement for statement in sent if not statement.startswith(aside)]
    assert len(work) <= 7, work
