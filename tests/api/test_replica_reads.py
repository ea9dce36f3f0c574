"""The API with a streaming replica: reads from the replica, a client's own write visible
at its next read even while the replica lags, and 200s when the replica is gone."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from civicgrid.api.app import create_app
from civicgrid.api.read_your_writes import LSN_HEADER
from civicgrid.settings import Settings
from civicgrid.store.db import make_engine
from civicgrid.store.replicas import current_lsn
from tests.api.helpers import CASE
from tests.factories import PASSWORD
from tests.pg_cluster import StreamingPair


@pytest.fixture
def client(replicated: StreamingPair) -> Iterator[TestClient]:
    settings = Settings(
        environment="test",
        database_url=replicated.primary_url,
        database_replica_urls=replicated.replica_url,
        secret_key="test-only-secret-" * 3,
    )
    app = create_app(settings)
    with TestClient(app) as test_client:
        yield test_client
    app.state.replicas.dispose()
    app.state.engine.dispose()


def sign_in(client: TestClient, username: str) -> dict[str, str]:
    reply = client.post("/api/v1/auth/token", json={"username": username, "password": PASSWORD})
    assert reply.status_code == 200, reply.text
    assert LSN_HEADER in reply.headers
    return {"Authorization": f"Bearer {reply.json()['access_token']}"}


def pause_replay(replicated: StreamingPair, pause: bool) -> None:
    replica = make_engine(replicated.replica_url)
    with replica.connect() as connection:
        connection.execute(text(f"SELECT pg_wal_replay_{'pause' if pause else 'resume'}()"))
    replica.dispose()


def test_own_writes_are_read_back_while_the_replica_lags(
    client: TestClient, replicated: StreamingPair
) -> None:
    pause_replay(replicated, True)
    try:
        headers = sign_in(client, "operator")  # the new token authenticates at once
        reply = client.post("/api/v1/cases", json=CASE, headers=headers)
        assert reply.status_code == 201, reply.text
        number = reply.json()["number"]
        lsn = reply.headers[LSN_HEADER]
        assert client.get(f"/api/v1/cases/{number}", headers=headers).status_code == 200
        listed = client.get("/api/v1/cases", headers=headers).json()
        assert number in [case["number"] for case in listed["items"]]
        # Another process knows nothing of this client, but honours the position it sends back.
        client.app.state.replicas.last_writes = type(client.app.state.replicas.last_writes)()  # type: ignore[attr-defined]
        assert client.get(f"/api/v1/cases/{number}", headers={**headers, LSN_HEADER: lsn}).status_code == 200
    finally:
        pause_replay(replicated, False)


def test_reads_fall_back_to_the_primary_when_the_replica_is_gone(
    client: TestClient, replicated: StreamingPair
) -> None:
    headers = sign_in(client, "operator")
    replicated.stop_replica()
    try:
        for _ in range(3):
            assert client.get("/api/v1/cases", headers=headers).status_code == 200
        assert client.post("/api/v1/cases", json=CASE, headers=headers).status_code == 201
    finally:
        replicated.start_replica()


def test_reads_use_the_replica_once_it_has_caught_up(client: TestClient, replicated: StreamingPair) -> None:
    headers = sign_in(client, "operator")
    router = client.app.state.replicas  # type: ignore[attr-defined]
    written = current_lsn(router.primary)
    for _ in range(200):
        with router.read_session(written) as session:
            if session.scalar(text("SELECT pg_is_in_recovery()")):
                break
    else:
        raise AssertionError("the replica never caught up")
    assert client.get("/api/v1/auth/me", headers=headers).status_code == 200


def test_replicas_need_a_postgresql_primary() -> None:
    with pytest.raises(ValueError, match="REPLICA_URLS"):
        Settings(database_url="sqlite://", database_replica_urls="postgresql+psycopg://replica/db")
    with pytest.raises(ValueError, match="REPLICA_URLS"):
        Settings(database_url="postgresql+psycopg://primary/db", database_replica_urls="sqlite://")
