"""Fixtures of the live tests: a committed database per backend with the test world, the
real app served over HTTP (as many instances as a test wants, each with its own engine),
and a reader of the event stream."""

from __future__ import annotations

import json
import queue
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import httpx
import pytest
import uvicorn
from fastapi import FastAPI
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from civicgrid.api.app import create_app
from civicgrid.services.cases import CentreRules
from civicgrid.settings import Settings
from civicgrid.store.db import make_engine, make_session_factory
from tests.factories import PASSWORD, World, build_world


@pytest.fixture
def live_settings(tmp_path: Any) -> Settings:
    """Quick heartbeats and polls, so that the tests need not wait long."""
    return Settings(
        environment="test",
        database_url="sqlite://",
        token_hours=720,
        secret_key="live-test-secret-" * 3,
        upload_dir=str(tmp_path / "files"),
        live_heartbeat_seconds=0.5,
        live_poll_seconds=0.2,
        live_connection_seconds=60,
    )


@dataclass
class Committed:
    """A migrated database of its own with the test world committed in it."""

    engine: Engine
    factory: sessionmaker[Session]
    world: World
    ids: dict[str, int]

    def session(self) -> Session:
        return self.factory()


@pytest.fixture
def committed(fresh_engine: Engine) -> Committed:
    factory = make_session_factory(fresh_engine)
    with factory() as session:
        world = build_world(session)
        session.commit()
        ids = {name: u.id for name, u in world.users.items()}
    return Committed(fresh_engine, factory, world, ids)


@dataclass
class Served:
    """An app instance served over HTTP."""

    url: str
    app: FastAPI
    engine: Engine
    server: uvicorn.Server
    thread: threading.Thread

    def token(self, username: str) -> str:
        reply = httpx.post(f"{self.url}/api/v1/auth/token", json={"username": username, "password": PASSWORD})
        assert reply.status_code == 200, reply.text
        return str(reply.json()["access_token"])

    def headers(self, username: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token(username)}"}


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@pytest.fixture
def serve(live_settings: Settings) -> Iterator[Callable[..., Served]]:
    """Start the app on ``engine``'s database (a new engine of its own, as another server
    process would have), over HTTP on a free port."""
    started: list[Served] = []

    def start(engine: Engine, settings: Settings | None = None, own_engine: bool = True) -> Served:
        chosen = settings or live_settings
        used = make_engine(engine.url.render_as_string(hide_password=False)) if own_engine else engine
        app = create_app(chosen, used)
        port = _free_port()
        config = uvicorn.Config(
            app, host="127.0.0.1", port=port, log_level="warning", timeout_graceful_shutdown=1
        )
        server = uvicorn.Server(config)
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        deadline = time.monotonic() + 30
        while not server.started:
            assert time.monotonic() < deadline, "the server did not start"
            time.sleep(0.02)
        served = Served(f"http://127.0.0.1:{port}", app, used, server, thread)
        started.append(served)
        return served

    yield start
    for served in started:
        served.server.should_exit = True
    for served in started:
        served.thread.join(10)
        served.engine.dispose()


@dataclass
class Event:
    """One dispatched Server-Sent Event (or a comment)."""

    event: str
    data: Any
    id: str | None
    comment: str | None = None


@dataclass
class EventStream:
    """Reads an event stream in a thread; the test takes its events with a timeout."""

    url: str
    headers: dict[str, str]
    events: queue.Queue[Event] = field(default_factory=queue.Queue)
    status: int | None = None
    opened: threading.Event = field(default_factory=threading.Event)
    ended: threading.Event = field(default_factory=threading.Event)
    last_id: str | None = None
    _stop: bool = False

    def start(self) -> EventStream:
        threading.Thread(target=self._read, daemon=True).start()
        assert self.opened.wait(15), "the stream did not open"
        return self

    def _read(self) -> None:
        try:
            with httpx.stream(
                "GET", self.url, headers=self.headers, timeout=httpx.Timeout(10, read=30)
            ) as reply:
                self.status = reply.status_code
                self.opened.set()
                fields: dict[str, str] = {}
                comment = None
                for line in reply.iter_lines():
                    if self._stop:
                        return
                    if line == "":
                        if "id" in fields:
                            self.last_id = fields["id"]
                        if "data" in fields or comment is not None:
                            data = json.loads(fields["data"]) if "data" in fields else None
                            self.events.put(
                                Event(fields.get("event", "message"), data, fields.get("id"), comment)
                            )
                        fields, comment = {}, None
                    elif line.startswith(":"):
                        comment = line[1:].strip()
                    else:
                        name, _, value = line.partition(":")
                        fields[name] = value[1:] if value.startswith(" ") else value
        except httpx.HTTPError:
            pass
        finally:
            self.opened.set()
            self.ended.set()

    def take(self, wanted: Callable[[Event], bool], timeout: float = 5.0) -> Event:
        """The next event that is ``wanted`` (others are passed over), within ``timeout``."""
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            assert left > 0, f"no such event within {timeout} s"
            try:
                found = self.events.get(timeout=left)
            except queue.Empty:
                continue
            if wanted(found):
                return found

    def collect(self, seconds: float) -> list[Event]:
        """Every event that comes within ``seconds``."""
        found = []
        deadline = time.monotonic() + seconds
        while (left := deadline - time.monotonic()) > 0:
            try:
                found.append(self.events.get(timeout=left))
            except queue.Empty:
                break
        return found

    def close(self) -> None:
        self._stop = True


@pytest.fixture
def streams() -> Iterator[Callable[..., EventStream]]:
    opened: list[EventStream] = []

    def open_stream(url: str, headers: dict[str, str] | None = None) -> EventStream:
        stream = EventStream(url, headers or {}).start()
        opened.append(stream)
        return stream

    yield open_stream
    for stream in opened:
        stream.close()


def case_event(number: str) -> Callable[[Event], bool]:
    """Matches the ``case`` event of case ``number``."""
    return lambda event: event.event == "case" and event.data["number"] == number


def new_case_body(lng: float = 120.005, lat: float = 30.005, **fields: Any) -> dict[str, Any]:
    """A case for the API: 东湖一社区's grid by default; 西山 at (120.105, 30.005)."""
    return {
        "channel": "hotline_12345",
        "category_code": "C0101",
        "title": "井盖缺失",
        "lng": lng,
        "lat": lat,
        **fields,
    }


@pytest.fixture
def live_rules(live_settings: Settings) -> CentreRules:
    return CentreRules.from_settings(live_settings)


def at(moment: datetime) -> str:
    return moment.isoformat()
