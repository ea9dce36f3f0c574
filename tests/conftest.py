"""Test fixtures: one migrated database per backend (SQLite file and a throw-away
PostgreSQL cluster) per worker; each test runs in a transaction that is rolled back."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Connection, Engine, create_engine, text
from sqlalchemy.orm import Session, sessionmaker

from civicgrid.api.app import create_app
from civicgrid.services import auth
from civicgrid.services.cases import CentreRules
from civicgrid.settings import Settings
from civicgrid.store.db import make_engine
from civicgrid.store.migrate import upgrade
from tests.factories import World, build_world
from tests.pg_cluster import StreamingPair, find_bin_dir, streaming_pair, throwaway_cluster

SHANGHAI = ZoneInfo("Asia/Shanghai")
BACKENDS = ["sqlite", "postgresql"]


def _require_postgres() -> bool:
    return os.environ.get("CIVICGRID_REQUIRE_POSTGRES") == "1"


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[str]:
    """A PostgreSQL server URL: CIVICGRID_TEST_POSTGRES_URL, or a throw-away cluster."""
    given = os.environ.get("CIVICGRID_TEST_POSTGRES_URL")
    if given:
        yield given
        return
    bin_dir = find_bin_dir()
    if bin_dir is None:
        message = (
            "PostgreSQL is not installed (apt-get install postgresql) and no CIVICGRID_TEST_POSTGRES_URL"
        )
        if _require_postgres():
            pytest.fail(message)
        pytest.skip(message)
    with throwaway_cluster(bin_dir) as url:
        yield url


@pytest.fixture(scope="session")
def replicated() -> Iterator[StreamingPair]:
    """A throw-away primary with a streaming replica, the schema migrated and the world
    committed on the primary (only the replica tests start it)."""
    bin_dir = find_bin_dir()
    if bin_dir is None:
        message = "PostgreSQL is not installed (apt-get install postgresql): no streaming replica"
        if _require_postgres():
            pytest.fail(message)
        pytest.skip(message)
    with streaming_pair(bin_dir) as pair:
        primary = make_engine(pair.primary_url)
        upgrade(primary)
        with Session(primary) as session:
            build_world(session)
            session.commit()
        primary.dispose()
        yield pair


def _worker() -> str:
    return os.environ.get("PYTEST_XDIST_WORKER", "main")


@pytest.fixture(scope="session")
def sqlite_engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    path: Path = tmp_path_factory.mktemp("db") / "civicgrid.db"
    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)
    yield engine
    engine.dispose()


@pytest.fixture(scope="session")
def postgresql_engine(postgres_server: str) -> Iterator[Engine]:
    name = f"civicgrid_test_{_worker()}"
    admin = create_engine(postgres_server, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f"DROP DATABASE IF EXISTS {name}"))
        connection.execute(text(f"CREATE DATABASE {name}"))
    admin.dispose()
    engine = make_engine(postgres_server.rsplit("/", 1)[0] + f"/{name}")
    upgrade(engine)
    yield engine
    engine.dispose()


@pytest.fixture(params=BACKENDS)
def empty_engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    """An empty database of its own, for tests that commit or migrate for real."""
    if request.param == "sqlite":
        engine = make_engine(f"sqlite:///{tmp_path / 'fresh.db'}")
        yield engine
        engine.dispose()
        return
    server: str = request.getfixturevalue("postgres_server")
    name = f"civicgrid_fresh_{_worker()}"
    admin = create_engine(server, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f"DROP DATABASE IF EXISTS {name}"))
        connection.execute(text(f"CREATE DATABASE {name}"))
    engine = make_engine(server.rsplit("/", 1)[0] + f"/{name}")
    yield engine
    engine.dispose()
    with admin.connect() as connection:
        connection.execute(text(f"DROP DATABASE {name}"))
    admin.dispose()


@pytest.fixture
def fresh_engine(empty_engine: Engine) -> Engine:
    """A migrated database of its own, for tests that commit for real."""
    upgrade(empty_engine)
    return empty_engine


@pytest.fixture(params=BACKENDS)
def engine(request: pytest.FixtureRequest) -> Engine:
    """A migrated engine of each backend in turn."""
    return request.getfixturevalue(f"{request.param}_engine")


@pytest.fixture
def connection(engine: Engine) -> Iterator[Connection]:
    """A connection whose outer transaction is rolled back after the test."""
    with engine.connect() as connection:
        transaction = connection.begin()
        yield connection
        transaction.rollback()


@pytest.fixture
def session_factory(connection: Connection) -> sessionmaker[Session]:
    """Sessions on the test's connection; their commits become savepoints."""
    return sessionmaker(bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False)


@pytest.fixture
def session(session_factory: sessionmaker[Session]) -> Iterator[Session]:
    with session_factory() as session:
        yield session


@pytest.fixture
def world(session: Session) -> World:
    """Two streets, departments, a user per role and the default categories."""
    return build_world(session)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(
        environment="test",
        database_url="sqlite://",
        token_hours=720,
        secret_key="test-only-secret-" * 3,
        upload_dir=str(tmp_path / "files"),
        # A live stream answers, then ends soon (test clients read a response to its end).
        live_connection_seconds=0.05,
    )


@pytest.fixture
def rules(settings: Settings) -> CentreRules:
    return CentreRules.from_settings(settings)


@pytest.fixture
def now() -> datetime:
    """Wednesday 30 September 2026, 10:00 in Shanghai: the eve of the National Day holiday."""
    return datetime(2026, 9, 30, 10, 0, tzinfo=SHANGHAI)


@pytest.fixture
def app(settings: Settings, engine: Engine, session_factory: sessionmaker[Session], world: World) -> FastAPI:
    """The API on the test's transaction (the world committed to its savepoint)."""
    application = create_app(settings, engine)
    application.state.session_factory = session_factory
    application.state.read_session_factory = session_factory
    return application


@pytest.fixture
def client(app: FastAPI, session: Session) -> Iterator[TestClient]:
    session.commit()  # the world becomes visible to the app's sessions on the same connection
    with TestClient(app) as test_client:
        yield test_client


#: Called at every argon2 hash (with None) or verify (with the stored hash).
Probe = Callable[[str | None], Any]


class WatchedHasher:
    """The password hasher, with a probe run at each hash or verify: the work is slow on
    purpose, so what is held meanwhile matters."""

    def __init__(self, probe: Probe, hasher: Any) -> None:
        self.hasher = hasher
        self.probe = probe
        self.seen: list[Any] = []

    def hash(self, password: str) -> str:
        self.seen.append(self.probe(None))
        return self.hasher.hash(password)

    def verify(self, password_hash: str, password: str) -> bool:
        self.seen.append(self.probe(password_hash))
        return self.hasher.verify(password_hash, password)

    def check_needs_rehash(self, password_hash: str) -> bool:
        return bool(self.hasher.check_needs_rehash(password_hash))


@pytest.fixture
def watch_hasher(monkeypatch: pytest.MonkeyPatch) -> Callable[[Probe], WatchedHasher]:
    """Swap the password hasher for one that runs ``probe`` at each call and keeps its results."""

    def install(probe: Probe) -> WatchedHasher:
        watched = WatchedHasher(probe, auth._hasher)
        monkeypatch.setattr(auth, "_hasher", watched)
        return watched

    return install
