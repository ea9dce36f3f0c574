"""The hub and the feed without a server: fan-out by scope and by user, each change once, a
connection that stops reading is ended, sign-outs end the right connections, a stopping
server ends them all; the minute job's loop; what a journal row becomes on the stream."""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.exc import OperationalError

from civicgrid.jobs import start
from civicgrid.live import hub as hub_module
from civicgrid.live import journal
from civicgrid.live.changes import ALERT, CASE, SIGNOUT, Change, event_text
from civicgrid.live.feed import Feed
from civicgrid.live.hub import Hub, Viewer
from civicgrid.live.lights import LightJob
from civicgrid.services import alerts
from civicgrid.settings import Settings
from civicgrid.store.models import JobMark
from civicgrid.store.scoping import CaseScope
from tests.live.conftest import Committed

AT = datetime(2026, 9, 30, 2, tzinfo=UTC)
EAST = CaseScope("region", path="/T01/T0101/")
WEST = CaseScope("region", path="/T01/T0102/")


def case_change(
    ident: int, path: str = "/T01/T0101/T010101/", departments: frozenset[int] = frozenset()
) -> Change:
    return Change(ident, CASE, AT, region_path=path, department_ids=departments, text=f"id: {ident}\n\n")


def alert_change(ident: int, user: int) -> Change:
    return Change(ident, ALERT, AT, user_id=user, payload={"unread": 1}, text=f"id: {ident}\n\n")


def new_hub(committed_engine: Any = None) -> Hub:
    hub = Hub(committed_engine, Settings(environment="test", secret_key="x" * 40))
    hub.last_id = 0
    return hub


async def drain(queue: asyncio.Queue[Change | None]) -> list[int | None]:
    await asyncio.sleep(0)  # the hub's callbacks run on this loop
    found = []
    while not queue.empty():
        item = queue.get_nowait()
        found.append(item.id if item is not None else None)
    return found


def test_changes_go_to_the_scopes_and_users_that_see_them_once() -> None:
    async def scenario() -> None:
        hub = new_hub()
        east = hub.subscribe(Viewer(1, EAST, token_id=11))
        west = hub.subscribe(Viewer(2, WEST, token_id=12))
        handler = hub.subscribe(Viewer(3, CaseScope("department", ident=7), token_id=13))
        assert hub.connections == 3
        hub.deliver([case_change(1), case_change(2, departments=frozenset({7})), alert_change(3, user=2)])
        hub.deliver([case_change(2), case_change(4, path="/T01/T0102/T010201/")])  # 2 again: dropped
        assert await drain(east.queue) == [1, 2]
        assert await drain(west.queue) == [3, 4]
        assert await drain(handler.queue) == [2]
        # Every connection's cursor may move past what it does not see.
        assert east.horizon == west.horizon == handler.horizon == 4
        hub.unsubscribe(east)
        hub.unsubscribe(west)
        hub.unsubscribe(handler)
        assert hub.connections == 0

    asyncio.run(scenario())


def test_a_connection_that_stops_reading_is_ended(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(hub_module, "QUEUE_SIZE", 2)

    async def scenario() -> None:
        hub = new_hub()
        slow = hub.subscribe(Viewer(1, EAST, token_id=11))
        hub.deliver([case_change(n) for n in range(1, 5)])
        await asyncio.sleep(0)
        assert slow.ended == "too slow"
        hub.deliver([case_change(9)])
        assert await drain(slow.queue) == [1, 2]  # nothing more is offered to it

    asyncio.run(scenario())


def test_signing_out_ends_that_tokens_connections_or_all_of_the_users() -> None:
    async def scenario() -> None:
        hub = new_hub()
        first = hub.subscribe(Viewer(1, EAST, token_id=11))
        second = hub.subscribe(Viewer(1, EAST, token_id=12))
        other = hub.subscribe(Viewer(2, EAST, token_id=13))
        hub.deliver([Change(1, SIGNOUT, AT, user_id=1, payload={"token_id": 11})])
        await asyncio.sleep(0)
        assert (first.ended, second.ended, other.ended) == ("signed out", None, None)
        hub.deliver([Change(2, SIGNOUT, AT, user_id=1, payload={"token_id": None})])
        await asyncio.sleep(0)
        assert (second.ended, other.ended) == ("signed out", None)
        assert await drain(second.queue) == [None]
        hub.close()
        await asyncio.sleep(0)
        assert other.ended == "server stopping"

    asyncio.run(scenario())


def test_a_closed_event_loop_is_passed_over() -> None:
    hub = new_hub()

    async def subscribe() -> None:
        hub.subscribe(Viewer(1, EAST, token_id=11))

    asyncio.run(subscribe())  # its loop is closed afterwards
    hub.deliver([case_change(1)])  # no error
    hub.close()
    assert hub.last_id == 1


def test_what_a_journal_row_becomes_on_the_stream() -> None:
    row = {
        "id": 7, "kind": CASE, "at": "2026-09-30T10:00:00+08:00", "number": "JD-1", "state": "closed",
        "warning_at": None, "deadline_at": None, "region_path": "/T01/", "department_ids": ",3,,5,",
    }  # fmt: skip
    change = Change.from_row(row)
    assert change.at == AT and change.department_ids == frozenset({3, 5})
    assert change.payload["light"] is None and change.payload["state_label"] == "结案"
    assert change.text.startswith("id: 7\nevent: case\ndata: {") and change.text.endswith("}\n\n")
    assert event_text("reset", {"reason": "x"}) == 'event: reset\ndata: {"reason":"x"}\n\n'


def test_the_feed_goes_on_after_a_failed_read(
    committed: Committed, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    if committed.engine.dialect.name != "sqlite":
        pytest.skip("the poll is SQLite's")
    got: list[list[Change]] = []
    feed = Feed(committed.engine, got.append, poll_seconds=0.05)
    feed.start()
    real = journal.read_all_after
    failures = iter([True])

    def flaky(connection: Any, after: int, batch: int = 1000) -> Any:
        if next(failures, False):
            raise OperationalError("SELECT", None, Exception("database is locked"))
        return real(connection, after, batch)

    monkeypatch.setattr(journal, "read_all_after", flaky)
    try:
        with caplog.at_level(logging.ERROR, "civicgrid.live"), committed.session() as session:
            journal.record(session, ALERT, committed.ids["dispatcher"], AT, {"unread": 1})
            session.commit()
            deadline = time.monotonic() + 5
            while not got and time.monotonic() < deadline:
                time.sleep(0.05)
    finally:
        feed.stop()
    assert got and got[0][0].kind == ALERT
    assert "reading the live journal failed" in caplog.text


def test_the_minute_job_runs_every_period_and_stops(committed: Committed, settings: Settings) -> None:
    quick = settings.model_copy(update={"light_job_seconds": 0.1})
    thread, stop = start("civicgrid-lights", LightJob(committed.engine, quick).run)
    deadline = time.monotonic() + 10
    mark = None
    while mark is None and time.monotonic() < deadline:
        time.sleep(0.1)
        with committed.session() as session:
            mark = session.scalar(select(JobMark.done_until).where(JobMark.name == alerts.LIGHT_JOB))
    stop.set()
    thread.join(5)
    assert mark is not None and not thread.is_alive()
    standby = LightJob(committed.engine, quick)
    assert standby.lock.try_acquire()  # the stopped job let go of its lock
    standby.lock.release()


def test_a_failing_run_is_logged_and_the_job_goes_on(
    committed: Committed,
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    job = LightJob(committed.engine, settings.model_copy(update={"light_job_seconds": 0.05}))
    calls: list[int] = []

    def failing(*_args: Any, **_kwargs: Any) -> Any:
        calls.append(1)
        raise OperationalError("SELECT", None, Exception("server closed the connection"))

    monkeypatch.setattr(job, "run_once", failing)
    stop = threading.Event()
    runner = threading.Thread(target=job.run, args=(stop,))
    with caplog.at_level(logging.ERROR, "civicgrid.lights"):
        runner.start()
        time.sleep(0.4)
        stop.set()
        runner.join(5)
    assert len(calls) >= 2 and "the minute job failed" in caplog.text


def test_a_run_at_the_marks_time_does_nothing(committed: Committed, settings: Settings) -> None:
    job = LightJob(committed.engine, settings)
    moment = datetime.now(UTC)
    job.run_once(moment)
    again = job.run_once(moment)
    assert (again.since, again.turned, again.notified) == (moment, 0, 0)
    assert job.run_once(moment - timedelta(minutes=1)).turned == 0  # a clock set back
