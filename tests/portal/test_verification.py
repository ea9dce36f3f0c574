"""Phone verification: a code sent by SMS through the outbox, stored only as a keyed hash,
valid for minutes and a few tries, used once; throttled per phone and per address; the
portal session it gives is a short-lived, HttpOnly, SameSite=Lax cookie."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from itsdangerous import URLSafeSerializer
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from civicgrid.domain.errors import TooManyAttempts
from civicgrid.portal import phones
from civicgrid.portal.verification import Check, CodePolicy, check_code, send_code
from civicgrid.settings import Settings
from civicgrid.store.models import OutboxMessage, PhoneCode
from tests.portal.conftest import PHONE, Citizen, Clock, ask_code, code_sent_to, form_token, messages_to

SECRET = "test-only-secret-" * 3


@pytest.fixture
def policy(settings: Settings) -> CodePolicy:
    return CodePolicy.from_settings(settings)


def _verify(client: TestClient, code: str, phone: str = PHONE, then: str = "/portal/report") -> Any:
    data = {"csrf_token": form_token(client), "phone": phone, "code": code, "next": then}
    return client.post("/portal/verify", data=data)


def _wrong(code: str) -> str:
    return "0" * len(code) if code != "0" * len(code) else "1" * len(code)


@pytest.mark.parametrize(
    ("typed", "kept"),
    [
        ("13800138000", "13800138000"),
        ("138 0013 8000", "13800138000"),
        ("+86 138-0013-8000", "13800138000"),
        ("008613800138000", "13800138000"),
        ("12800138000", None),
        ("1380013800", None),
        ("010-12345678", None),
        ("", None),
    ],
)
def test_phone_numbers_are_kept_as_eleven_digits(typed: str, kept: str | None) -> None:
    assert phones.normalized(typed) == kept


def test_the_code_goes_out_by_sms_and_only_its_hash_is_stored(
    session: Session, policy: CodePolicy, now: datetime
) -> None:
    code = send_code(session, PHONE, "10.0.0.1", now, policy, SECRET)
    assert len(code) == 6 and code.isdigit()
    [row] = session.scalars(select(PhoneCode)).all()
    assert row.phone == PHONE and row.expires_at == now + timedelta(minutes=5)
    assert code not in row.code_hash and len(row.code_hash) == 64
    [message] = session.scalars(select(OutboxMessage)).all()
    assert (message.kind, message.target) == ("sms", PHONE) and code in message.body
    assert "5分钟内有效" in message.body


def test_a_code_and_its_sms_are_one_write(session: Session, policy: CodePolicy, now: datetime) -> None:
    # The SMS is written in the code's transaction: rolled back together, nothing is sent.
    savepoint = session.begin_nested()
    send_code(session, PHONE, "10.0.0.1", now, policy, SECRET)
    savepoint.rollback()
    assert session.scalar(select(func.count()).select_from(OutboxMessage)) == 0
    assert session.scalar(select(func.count()).select_from(PhoneCode)) == 0


def test_a_code_is_used_once_and_expires(session: Session, policy: CodePolicy, now: datetime) -> None:
    code = send_code(session, PHONE, "10.0.0.1", now, policy, SECRET)
    assert check_code(session, PHONE, code, now + timedelta(minutes=4), policy, SECRET) is Check.ACCEPTED
    assert check_code(session, PHONE, code, now + timedelta(minutes=4), policy, SECRET) is Check.NONE
    later = now + timedelta(minutes=10)
    fresh = send_code(session, PHONE, "10.0.0.1", later, policy, SECRET)
    assert (
        check_code(session, PHONE, fresh, later + timedelta(minutes=5, seconds=1), policy, SECRET)
        is Check.NONE
    )
    assert check_code(session, "13900000000", fresh, later, policy, SECRET) is Check.NONE


def test_wrong_tries_spend_the_code(session: Session, policy: CodePolicy, now: datetime) -> None:
    code = send_code(session, PHONE, "10.0.0.1", now, policy, SECRET)
    outcomes = [check_code(session, PHONE, _wrong(code), now, policy, SECRET) for _ in range(policy.attempts)]
    assert outcomes == [Check.WRONG] * (policy.attempts - 1) + [Check.SPENT]
    # Spent: even the right code is refused until a new one is asked for.
    assert check_code(session, PHONE, code, now, policy, SECRET) is Check.SPENT


def test_only_the_newest_code_counts(session: Session, policy: CodePolicy, now: datetime) -> None:
    first = send_code(session, PHONE, "10.0.0.1", now, policy, SECRET)
    second = send_code(session, PHONE, "10.0.0.1", now + timedelta(minutes=2), policy, SECRET)
    moment = now + timedelta(minutes=3)
    if first != second:
        assert check_code(session, PHONE, first, moment, policy, SECRET) is Check.WRONG
    assert check_code(session, PHONE, second, moment, policy, SECRET) is Check.ACCEPTED


def test_codes_are_throttled_per_phone_and_per_address(
    session: Session, policy: CodePolicy, now: datetime
) -> None:
    send_code(session, PHONE, "10.0.0.1", now, policy, SECRET)
    with pytest.raises(TooManyAttempts, match="验证码已发送") as refused:
        send_code(session, PHONE, "10.0.0.2", now + timedelta(seconds=30), policy, SECRET)
    assert refused.value.retry_after_seconds == 30
    for minute in range(1, policy.per_phone_hour):
        send_code(session, PHONE, "10.0.0.1", now + timedelta(minutes=minute * 2), policy, SECRET)
    with pytest.raises(TooManyAttempts, match="该号码获取验证码次数过多"):
        send_code(session, PHONE, "10.0.0.3", now + timedelta(minutes=30), policy, SECRET)
    # An hour on, the phone may have codes again.
    send_code(session, PHONE, "10.0.0.1", now + timedelta(minutes=61), policy, SECRET)
    # One address asking for many phones' codes (an SMS bomber) is stopped too.
    moment = now + timedelta(hours=3)
    for n in range(policy.per_address_hour):
        send_code(session, f"1390000{n:04d}", "10.9.9.9", moment, policy, SECRET)
    with pytest.raises(TooManyAttempts, match="获取验证码过于频繁"):
        send_code(session, "13700000000", "10.9.9.9", moment, policy, SECRET)
    assert len(messages_to(session, "13700000000")) == 0


def test_verifying_through_the_pages_sets_a_short_lived_portal_cookie(
    portal_client: Callable[[], TestClient], session: Session, clock: Clock, now: datetime
) -> None:
    client = portal_client()
    asked = ask_code(client, "138 0013 8000")
    assert asked.status_code == 200 and "验证码已发送至 138****8000" in asked.text
    code = code_sent_to(session, PHONE)
    assert code not in asked.text
    wrong = _verify(client, _wrong(code))
    assert wrong.status_code == 422 and "验证码不正确" in wrong.text
    reply = _verify(client, code, then="//evil.example/")
    assert reply.status_code == 303 and reply.headers["location"] == "/portal/report"
    cookie = reply.headers["set-cookie"].lower()
    assert cookie.startswith("civicgrid_portal=") and "httponly" in cookie and "samesite=lax" in cookie
    assert "path=/portal" in cookie and "secure" not in cookie
    assert client.get("/portal/report").status_code == 200
    clock(now + timedelta(minutes=29))
    assert client.get("/portal/mine").status_code == 200
    clock(now + timedelta(minutes=31))  # not renewed by use: the session has ended
    gone = client.get("/portal/mine")
    assert gone.status_code == 303 and gone.headers["location"] == "/portal/verify?next=%2Fportal%2Fmine"


def test_the_cookie_is_secure_over_https(app: FastAPI, session: Session, clock: Clock) -> None:
    session.commit()
    with TestClient(app, base_url="https://testserver", follow_redirects=False) as client:
        ask_code(client, PHONE)
        reply = _verify(client, code_sent_to(session, PHONE))
    assert reply.status_code == 303 and "secure" in reply.headers["set-cookie"].lower()


def test_a_forged_portal_cookie_verifies_nothing(portal_client: Callable[[], TestClient]) -> None:
    client = portal_client()
    client.cookies.set(
        "civicgrid_portal", "eyJwIjoiMTM4MDAxMzgwMDAiLCJuIjoieCIsInQiOjB9.forged", path="/portal"
    )
    reply = client.get("/portal/mine")
    assert reply.status_code == 303 and reply.headers["location"].startswith("/portal/verify")


def test_the_code_form_refuses_without_the_csrf_token(
    portal_client: Callable[[], TestClient], session: Session
) -> None:
    client = portal_client()
    client.get("/portal/verify")
    for token in ("", "f" * 64):
        reply = client.post("/portal/verify/code", data={"csrf_token": token, "phone": PHONE})
        assert reply.status_code == 403 and "安全令牌" in reply.text
    assert messages_to(session, PHONE) == []


def test_too_many_wrong_codes_through_the_pages(
    portal_client: Callable[[], TestClient], session: Session, settings: Settings
) -> None:
    client = portal_client()
    ask_code(client, PHONE)
    code = code_sent_to(session, PHONE)
    replies = [_verify(client, _wrong(code)) for _ in range(settings.portal_code_attempts)]
    assert [r.status_code for r in replies] == [422] * (settings.portal_code_attempts - 1) + [429]
    spent = _verify(client, code)
    assert spent.status_code == 429 and "重新获取验证码" in spent.text
    again = ask_code(client, PHONE)
    assert again.status_code == 429 and "秒后再试" in again.text
    assert int(again.headers["Retry-After"]) > 0


def test_a_bad_number_is_refused_in_chinese(
    portal_client: Callable[[], TestClient], session: Session
) -> None:
    client = portal_client()
    reply = ask_code(client, "12345")
    assert reply.status_code == 422 and "请输入正确的11位手机号码" in reply.text
    assert session.scalar(select(func.count()).select_from(OutboxMessage)) == 0


def test_verified_once_the_citizen_may_leave(citizen: Citizen) -> None:
    client = citizen()
    assert client.get("/portal/mine").status_code == 200
    reply = client.post("/portal/logout", data={"csrf_token": form_token(client)})
    assert reply.status_code == 303
    assert client.get("/portal/mine").status_code == 303


def test_odd_requests_get_pages_in_chinese(portal_client: Callable[[], TestClient], session: Session) -> None:
    client = portal_client()
    too_long = client.get("/portal/verify", params={"next": "/portal/" + "x" * 400})
    assert too_long.status_code == 422 and "请求的参数有误" in too_long.text
    form = form_token(client)
    bad = client.post("/portal/verify", data={"csrf_token": form, "phone": "110", "code": "123456"})
    assert bad.status_code == 422 and "请输入正确的11位手机号码" in bad.text
    # A browser that never opened a portal form has no token to send.
    with TestClient(client.app, follow_redirects=False) as cold:
        reply = cold.post("/portal/lookup", data={"csrf_token": form, "number": "JD-1", "phone": PHONE})
    assert reply.status_code == 403


def test_a_signed_cookie_of_another_shape_verifies_nothing(
    portal_client: Callable[[], TestClient], settings: Settings
) -> None:
    client = portal_client()
    home = client.get("/portal")
    assert home.status_code == 200 and "我要反映问题" in home.text and "我的反映" not in home.text
    odd = URLSafeSerializer(settings.secret_key, salt="civicgrid.portal.session").dumps({"p": 13800138000})
    client.cookies.set("civicgrid_portal", odd, path="/portal")
    assert client.get("/portal/mine").status_code == 303
