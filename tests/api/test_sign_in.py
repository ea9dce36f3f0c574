"""Sign-in over HTTP (SQLite and PostgreSQL): the throttle on guessing, the audit of
attempts, answers that do not tell unknown users from wrong passwords, sessions ended by a
new password, role or scope, and expired tokens purged."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from httpx import Response
from sqlalchemy import Connection, select
from sqlalchemy.orm import Session, sessionmaker

from civicgrid.domain.vocabulary import SignInOutcome
from civicgrid.services import auth, throttle
from civicgrid.settings import Settings
from civicgrid.store.models import ApiToken, SignInAttempt, User
from tests.api.helpers import Headers
from tests.conftest import Probe, WatchedHasher
from tests.factories import PASSWORD

NEW_PASSWORD = "a-brand-new-password"


def sign_in(client: TestClient, username: str, password: str = PASSWORD) -> Response:
    return client.post("/api/v1/auth/token", json={"username": username, "password": password})


def bearer(reply: Response) -> Headers:
    assert reply.status_code == 200, reply.text
    return {"Authorization": f"Bearer {reply.json()['access_token']}"}


def fail(client: TestClient, username: str, times: int) -> None:
    for _ in range(times):
        reply = sign_in(client, username, "wrong-guess")
        assert reply.status_code == 401, reply.text


def assert_locked(reply: Response, seconds: int) -> None:
    assert reply.status_code == 429, reply.text
    assert reply.headers["Retry-After"] == str(seconds)
    body = reply.json()
    assert body["error"] == "too_many_attempts"
    assert "登录失败次数过多" in body["detail"] and "too many failed sign-ins" in body["detail"]


def test_guessing_locks_the_account_even_for_the_right_password(
    client: TestClient, clock: Callable[[datetime], None], now: datetime
) -> None:
    fail(client, "operator", 5)
    assert_locked(sign_in(client, "operator"), 15 * 60)
    clock(now + timedelta(minutes=10))
    assert_locked(sign_in(client, "operator"), 5 * 60)
    # Other accounts from the same address still sign in.
    bearer(sign_in(client, "dispatcher"))
    clock(now + timedelta(minutes=15, seconds=1))
    bearer(sign_in(client, "operator"))
    assert "429" in client.get("/openapi.json").json()["paths"]["/api/v1/auth/token"]["post"]["responses"]


def test_refused_attempts_do_not_extend_the_lock(
    client: TestClient, clock: Callable[[datetime], None], now: datetime
) -> None:
    fail(client, "operator", 5)
    for minutes in (5, 10, 14):
        clock(now + timedelta(minutes=minutes))
        assert sign_in(client, "operator", "wrong-guess").status_code == 429
    clock(now + timedelta(minutes=15, seconds=1))
    bearer(sign_in(client, "operator"))


def test_a_success_resets_the_count_and_old_failures_expire(
    client: TestClient, clock: Callable[[datetime], None], now: datetime
) -> None:
    fail(client, "operator", 4)
    bearer(sign_in(client, "operator"))
    fail(client, "operator", 4)
    clock(now + timedelta(minutes=16))
    fail(client, "operator", 4)
    bearer(sign_in(client, "operator"))
    fail(client, "operator", 5)
    assert sign_in(client, "operator").status_code == 429


def test_one_address_guessing_at_many_accounts_is_locked(
    app: FastAPI, client: TestClient, settings: Settings
) -> None:
    app.state.settings = settings.model_copy(update={"login_max_failures_per_address": 6})
    for name in ("operator", "dispatcher", "ghost-1", "ghost-2", "ghost-3", "ghost-4"):
        fail(client, name, 1)
    assert_locked(sign_in(client, "leader"), 15 * 60)
    # Another address is not held back by this one.
    with TestClient(app, client=("198.51.100.7", 50000)) as elsewhere:
        bearer(sign_in(elsewhere, "leader"))
    # Signing in to one's own account between guesses does not reset the address.
    assert sign_in(client, "supervisor").status_code == 429


def test_unknown_users_and_wrong_passwords_are_answered_alike(
    client: TestClient, watch_hasher: Callable[[Probe], WatchedHasher]
) -> None:
    verified = watch_hasher(lambda password_hash: password_hash)
    wrong = sign_in(client, "operator", "wrong-guess")
    unknown = sign_in(client, "nobody-here", "wrong-guess")
    inactive = bearer(sign_in(client, "admin"))
    assert (
        client.patch("/api/v1/users/leader", json={"is_active": False}, headers=inactive).status_code == 200
    )
    closed = sign_in(client, "leader")
    for reply in (wrong, unknown, closed):
        assert reply.status_code == 401
        body = reply.json()
        assert (body["error"], body["detail"]) == ("unauthenticated", "wrong username or password")
        assert reply.headers["WWW-Authenticate"] == "Bearer"
    # Each was checked with argon2 once, the unknown one against a hash of the same strength.
    hashes = [seen for seen in verified.seen if seen is not None]
    assert len(hashes) == 4 and len({password_hash.split("$")[3] for password_hash in hashes}) == 1
    # Names that do not exist are locked like real ones: a lock tells nothing either.
    fail(client, "nobody-here", 4)
    assert_locked(sign_in(client, "nobody-here", "wrong-guess"), 15 * 60)


def test_every_attempt_is_recorded(
    client: TestClient, session: Session, settings: Settings, now: datetime, clock: Callable[[datetime], None]
) -> None:
    bearer(sign_in(client, "operator"))
    fail(client, "Operator", 1)
    fail(client, "dispatcher", 5)
    assert sign_in(client, "dispatcher").status_code == 429
    session.expire_all()
    rows = session.execute(
        select(
            SignInAttempt.username, SignInAttempt.address, SignInAttempt.outcome, SignInAttempt.at
        ).order_by(SignInAttempt.id)
    ).all()
    assert [(row.username, row.outcome) for row in rows] == [
        ("operator", SignInOutcome.SUCCEEDED),
        ("Operator", SignInOutcome.FAILED),
        *[("dispatcher", SignInOutcome.FAILED)] * 5,
        ("dispatcher", SignInOutcome.LOCKED),
    ]
    assert {row.address for row in rows} == {"testclient"} and {row.at for row in rows} == {now}


def test_an_admins_new_password_ends_the_lock(client: TestClient, clock: Callable[[datetime], None]) -> None:
    fail(client, "operator", 5)
    assert sign_in(client, "operator").status_code == 429
    admin = bearer(sign_in(client, "admin"))
    assert (
        client.patch("/api/v1/users/operator", json={"password": NEW_PASSWORD}, headers=admin).status_code
        == 200
    )
    assert sign_in(client, "operator").status_code == 401
    bearer(sign_in(client, "operator", NEW_PASSWORD))


def test_failures_recorded_while_the_password_was_checked_still_lock(
    client: TestClient,
    session_factory: sessionmaker[Session],
    monkeypatch: pytest.MonkeyPatch,
    clock: Callable[[datetime], None],
    now: datetime,
) -> None:
    # Parallel guesses, recorded between this attempt's read and its write, are counted.
    real_matches = auth.password_matches

    def matches_while_others_guess(password_hash: str | None, password: str) -> bool:
        with session_factory.begin() as other:
            for _ in range(5):
                throttle.record(other, "operator", "203.0.113.9", SignInOutcome.FAILED, now)
        return real_matches(password_hash, password)

    monkeypatch.setattr(auth, "password_matches", matches_while_others_guess)
    assert_locked(sign_in(client, "operator"), 15 * 60)


def test_a_password_changed_while_it_was_checked_signs_nobody_in(
    client: TestClient,
    session_factory: sessionmaker[Session],
    monkeypatch: pytest.MonkeyPatch,
    clock: Callable[[datetime], None],
) -> None:
    real_matches = auth.password_matches

    def matches_while_an_admin_resets(password_hash: str | None, password: str) -> bool:
        with session_factory.begin() as other:
            user = other.scalars(select(User).where(User.username == "operator")).one()
            user.password_hash = auth.hash_password(NEW_PASSWORD)
        return real_matches(password_hash, password)

    monkeypatch.setattr(auth, "password_matches", matches_while_an_admin_resets)
    reply = sign_in(client, "operator")
    assert reply.status_code == 401 and reply.json()["detail"] == "wrong username or password"


@pytest.mark.parametrize(
    "change",
    [
        {"password": NEW_PASSWORD},
        {"is_active": False},
        {"role": "dispatcher"},
        {"region_code": "T010101"},
        {"department_code": "D-SZ-E"},
    ],
    ids=["password", "deactivated", "role", "region", "department"],
)
def test_a_new_password_role_or_scope_signs_the_user_out_everywhere(
    client: TestClient, change: dict[str, Any]
) -> None:
    admin = bearer(sign_in(client, "admin"))
    sessions = [bearer(sign_in(client, "operator")), bearer(sign_in(client, "operator"))]
    bystander = bearer(sign_in(client, "dispatcher"))
    reply = client.patch("/api/v1/users/operator", json=change, headers=admin)
    assert reply.status_code == 200, reply.text
    for headers in sessions:
        reply = client.get("/api/v1/auth/me", headers=headers)
        assert (
            reply.status_code == 401 and reply.json()["detail"] == "invalid or expired token: sign in again"
        )
    assert client.get("/api/v1/auth/me", headers=bystander).status_code == 200
    assert client.get("/api/v1/auth/me", headers=admin).status_code == 200


@pytest.mark.parametrize(
    "change",
    [{"phone": "0571-88888888"}, {"full_name": "王坐席"}, {"grid_code": "T010101-01"}, {"role": "operator"}],
)
def test_other_changes_keep_the_user_signed_in(client: TestClient, change: dict[str, Any]) -> None:
    admin = bearer(sign_in(client, "admin"))
    operator = bearer(sign_in(client, "operator"))
    assert client.patch("/api/v1/users/operator", json=change, headers=admin).status_code == 200
    assert client.get("/api/v1/auth/me", headers=operator).status_code == 200


def test_sign_in_purges_tokens_expired_over_a_day_ago(
    client: TestClient, session: Session, clock: Callable[[datetime], None], now: datetime
) -> None:
    operator = session.scalar(select(User).where(User.username == "operator"))
    ages = {"long-gone": timedelta(days=3), "yesterday": timedelta(hours=25), "recent": timedelta(hours=2)}
    for name, age in ages.items():
        session.add(ApiToken(user=operator, token_hash=name.ljust(64, "0"), expires_at=now - age))
    session.commit()
    bearer(sign_in(client, "operator"))
    session.expire_all()
    left = set(session.scalars(select(ApiToken.token_hash).where(ApiToken.expires_at < now)))
    assert left == {"recent".ljust(64, "0")}


def test_the_purge_is_bounded(session: Session, world: Any, now: datetime) -> None:
    operator = world.users["operator"]
    for number in range(3):
        session.add(
            ApiToken(user=operator, token_hash=f"{number}".ljust(64, "0"), expires_at=now - timedelta(days=2))
        )
    session.flush()
    assert auth.purge_expired_tokens(session, now, batch=2) == 2
    assert auth.purge_expired_tokens(session, now, batch=2) == 1


def test_passwords_are_hashed_and_checked_outside_any_transaction(
    client: TestClient, connection: Connection, watch_hasher: Callable[[Probe], WatchedHasher]
) -> None:
    # Each request's sessions are savepoints on the test's connection: none may be open
    # while argon2 works, or a write transaction (on SQLite, the one write lock) waits on it.
    watched = watch_hasher(lambda _password_hash: connection.in_nested_transaction())
    admin = bearer(sign_in(client, "admin"))
    assert sign_in(client, "admin", "wrong-guess").status_code == 401
    assert sign_in(client, "ghost", "wrong-guess").status_code == 401
    user = {"username": "newcomer", "full_name": "新人", "password": NEW_PASSWORD, "role": "operator"}
    reply = client.post("/api/v1/users", json={**user, "region_code": "T0101"}, headers=admin)
    assert reply.status_code == 201, reply.text
    reply = client.patch("/api/v1/users/newcomer", json={"password": "another-long-pw"}, headers=admin)
    assert reply.status_code == 200, reply.text
    assert len(watched.seen) >= 5 and not any(watched.seen), watched.seen
    # Nothing is hashed for a stranger or a non-admin: the slow work needs an admin first.
    watched.seen.clear()
    operator = bearer(sign_in(client, "operator"))
    watched.seen.clear()
    for headers in ({}, operator, {"Authorization": "Bearer forged"}):
        reply = client.post("/api/v1/users", json={**user, "username": "x2"}, headers=headers)
        assert reply.status_code in (401, 403), reply.text
        reply = client.patch("/api/v1/users/newcomer", json={"password": NEW_PASSWORD}, headers=headers)
        assert reply.status_code in (401, 403), reply.text
    assert watched.seen == []


def test_a_hash_of_other_parameters_is_upgraded_at_the_next_sign_in(
    client: TestClient, session: Session
) -> None:
    # As an installation from before the parameters changed would hold it.
    old = auth.PasswordHasher(time_cost=3, memory_cost=64 * 1024, parallelism=4).hash(PASSWORD)
    operator = session.scalars(select(User).where(User.username == "operator")).one()
    operator.password_hash = old
    session.commit()
    assert auth.needs_rehash(old)
    assert sign_in(client, "operator", "wrong-guess").status_code == 401
    session.expire_all()
    assert operator.password_hash == old  # a failed attempt changes nothing
    assert sign_in(client, "operator").status_code == 200
    session.expire_all()
    assert operator.password_hash != old and not auth.needs_rehash(operator.password_hash)
    assert auth.password_matches(operator.password_hash, PASSWORD)
    assert sign_in(client, "operator").status_code == 200


def test_sign_in_deletes_attempts_older_than_the_audit_period(
    client: TestClient, session: Session, settings: Settings, now: datetime, clock: Callable[[datetime], None]
) -> None:
    kept = timedelta(days=settings.login_audit_days)
    for name, age in {"too-old": kept + timedelta(hours=1), "just-kept": kept - timedelta(hours=1)}.items():
        session.add(
            SignInAttempt(username=name, address="10.0.0.1", at=now - age, outcome=SignInOutcome.FAILED)
        )
    session.commit()
    bearer(sign_in(client, "operator"))
    session.expire_all()
    assert set(session.scalars(select(SignInAttempt.username))) == {"just-kept", "operator"}


def test_the_audit_purge_is_bounded(session: Session, now: datetime) -> None:
    for number in range(3):
        session.add(
            SignInAttempt(
                username=f"old-{number}",
                address="10.0.0.1",
                at=now - timedelta(days=400),
                outcome=SignInOutcome.FAILED,
            )
        )
    session.flush()
    assert throttle.purge_old_attempts(session, now, timedelta(days=365), batch=2) == 2
    assert throttle.purge_old_attempts(session, now, timedelta(days=365), batch=2) == 1
