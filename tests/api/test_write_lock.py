"""SQLite's one write lock, on a real file: readers never wait for it, a writer that
cannot get it in time is told to retry (503 JSON with Retry-After), never given a 500, and
nobody holds it while a password is hashed or checked."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from civicgrid import media
from civicgrid.api.app import create_app
from civicgrid.settings import Settings
from civicgrid.store.db import make_engine, make_session_factory, session_scope
from civicgrid.store.migrate import upgrade
from tests.api.test_api import HOTLINE_CASE
from tests.conftest import Probe, WatchedHasher
from tests.factories import PASSWORD, build_world
from tests.images import photo


@pytest.fixture
def database(tmp_path: Path) -> Iterator[tuple[Path, Engine]]:
    """A migrated SQLite file with the test world committed, and a short busy timeout."""
    path = tmp_path / "locked.db"
    engine = make_engine(f"sqlite:///{path}", busy_timeout_ms=200)
    upgrade(engine)
    with session_scope(make_session_factory(engine)) as session:
        build_world(session)
    yield path, engine
    engine.dispose()


@pytest.fixture
def client(database: tuple[Path, Engine], settings: Settings) -> Iterator[TestClient]:
    _, engine = database
    with TestClient(create_app(settings, engine)) as test_client:
        yield test_client


def sign_in(client: TestClient, username: str) -> dict[str, str]:
    reply = client.post("/api/v1/auth/token", json={"username": username, "password": PASSWORD})
    assert reply.status_code == 200, reply.text
    return {"Authorization": f"Bearer {reply.json()['access_token']}"}


def test_reads_do_not_wait_for_a_writer(client: TestClient) -> None:
    operator = sign_in(client, "operator")
    number = client.post("/api/v1/cases", json=HOTLINE_CASE, headers=operator).json()["number"]
    with _locked(client):
        assert client.get("/api/v1/cases", headers=operator).json()["total"] == 1
        assert client.get(f"/api/v1/cases/{number}", headers=operator).status_code == 200
        assert client.get("/api/v1/auth/me", headers=operator).status_code == 200


def test_a_writer_that_cannot_get_the_lock_is_told_to_retry(client: TestClient) -> None:
    operator = sign_in(client, "operator")
    with _locked(client):
        reply = client.post("/api/v1/cases", json=HOTLINE_CASE, headers=operator)
    assert reply.status_code == 503, reply.text
    assert reply.headers["Retry-After"] == "1"
    assert reply.json()["error"] == "database_busy"
    # Nothing was stored, and once the lock is free the same request succeeds.
    assert client.get("/api/v1/cases", headers=operator).json()["total"] == 0
    assert client.post("/api/v1/cases", json=HOTLINE_CASE, headers=operator).status_code == 201


def test_no_write_lock_is_held_while_a_password_is_hashed_or_checked(
    client: TestClient, database: tuple[Path, Engine], watch_hasher: Callable[[Probe], WatchedHasher]
) -> None:
    # argon2 takes ~50 ms on purpose; under the lock, a flood of sign-ins queues every
    # writer behind it until some give up. Each call checks that another program could write.
    path, _ = database
    watched = watch_hasher(lambda _password_hash: lock_is_free(path))
    admin = sign_in(client, "admin")
    assert (
        client.post("/api/v1/auth/token", json={"username": "admin", "password": "wrong"}).status_code == 401
    )
    assert (
        client.post("/api/v1/auth/token", json={"username": "ghost", "password": "wrong"}).status_code == 401
    )
    user = {"username": "newcomer", "full_name": "新人", "password": "long-enough-pw", "role": "operator"}
    reply = client.post("/api/v1/users", json={**user, "region_code": "T0101"}, headers=admin)
    assert reply.status_code == 201, reply.text
    reply = client.patch("/api/v1/users/newcomer", json={"password": "another-long-pw"}, headers=admin)
    assert reply.status_code == 200, reply.text
    assert len(watched.seen) >= 5 and all(watched.seen), watched.seen


def test_no_write_lock_is_held_while_a_file_streams_in_or_its_thumbnail_is_made(
    client: TestClient, database: tuple[Path, Engine], monkeypatch: pytest.MonkeyPatch
) -> None:
    path, _ = database
    seen: list[bool] = []
    real = media.thumbnail

    def watched(source: Path, pixels: int) -> bytes:
        seen.append(lock_is_free(path))
        return real(source, pixels)

    monkeypatch.setattr(media, "thumbnail", watched)
    operator = sign_in(client, "operator")
    number = client.post("/api/v1/cases", json=HOTLINE_CASE, headers=operator).json()["number"]
    reply = client.post(
        f"/api/v1/cases/{number}/attachments",
        files={"file": ("a.jpg", photo(), "image/jpeg")},
        headers=operator,
    )
    assert reply.status_code == 201, reply.text
    assert seen == [True]


def test_an_upload_that_cannot_be_recorded_leaves_no_file_behind(
    client: TestClient, settings: Settings
) -> None:
    operator = sign_in(client, "operator")
    number = client.post("/api/v1/cases", json=HOTLINE_CASE, headers=operator).json()["number"]
    url = f"/api/v1/cases/{number}/attachments"
    with _locked(client):
        reply = client.post(url, files={"file": ("a.jpg", photo(), "image/jpeg")}, headers=operator)
    assert reply.status_code == 503, reply.text
    assert [p for p in settings.files_path.rglob("*") if p.is_file()] == []
    assert client.get(f"/api/v1/cases/{number}", headers=operator).json()["attachments"] == []
    # The same content uploaded again is stored, and a failure then does not remove it.
    assert (
        client.post(url, files={"file": ("a.jpg", photo(), "image/jpeg")}, headers=operator).status_code
        == 201
    )
    with _locked(client):
        reply = client.post(url, files={"file": ("b.jpg", photo(), "image/jpeg")}, headers=operator)
    assert reply.status_code == 503
    assert len([p for p in settings.files_path.rglob("*") if p.is_file()]) == 2
    assert client.get(f"{url}/1", headers=operator).status_code == 200


def lock_is_free(path: Path) -> bool:
    """Whether another program could take the write lock of the database at ``path`` now."""
    other = sqlite3.connect(str(path), timeout=0, isolation_level=None)
    try:
        other.execute("BEGIN IMMEDIATE")
        other.execute("ROLLBACK")
        return True
    except sqlite3.OperationalError:
        return False
    finally:
        other.close()


@contextmanager
def _locked(client: TestClient) -> Iterator[None]:
    """Hold the write lock from another connection, as a second program would."""
    engine: Engine = client.app.state.engine  # type: ignore[attr-defined]
    holder = sqlite3.connect(str(engine.url.database), isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        yield
    finally:
        holder.execute("ROLLBACK")
        holder.close()
