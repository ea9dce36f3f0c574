"""One broadcast path that every server process sees: on PostgreSQL two app instances, each
with its own engine, hear each other's changes through LISTEN/NOTIFY; on SQLite a change
written by another process reaches the stream by the journal poll. A listener that lost its
connection catches up on reconnecting."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from collections.abc import Callable

import httpx
import pytest
from sqlalchemy import Engine, text

from civicgrid.live import journal
from tests.live.conftest import Committed, EventStream, Served, case_event, new_case_body

WITHIN = 2.0


def create(served: Served, username: str, **fields: object) -> str:
    reply = httpx.post(
        f"{served.url}/api/v1/cases", json=new_case_body(**fields), headers=served.headers(username)
    )
    assert reply.status_code == 201, reply.text
    return str(reply.json()["number"])


@pytest.mark.parametrize("empty_engine", ["postgresql"], indirect=True)
def test_two_app_instances_see_each_others_changes_through_notify(
    committed: Committed, serve: Callable[..., Served], streams: Callable[..., EventStream]
) -> None:
    first, second = serve(committed.engine), serve(committed.engine)
    assert first.engine is not second.engine
    on_first = streams(f"{first.url}/live/events", first.headers("dispatcher"))
    on_second = streams(f"{second.url}/live/events", second.headers("leader"))
    written_on_first = create(first, "operator")
    assert on_second.take(case_event(written_on_first), WITHIN).data["state"] == "reported"
    assert on_first.take(case_event(written_on_first), WITHIN)
    written_on_second = create(second, "operator")
    assert on_first.take(case_event(written_on_second), WITHIN)
    # Delivered by NOTIFY, not by reading the table: each instance's feed listens.
    for served in (first, second):
        feed = served.app.state.live_hub.feed
        assert feed is not None and feed.postgresql and feed.listening.is_set()


@pytest.mark.parametrize("empty_engine", ["postgresql"], indirect=True)
def test_a_listener_that_lost_its_connection_catches_up(
    committed: Committed, serve: Callable[..., Served], streams: Callable[..., EventStream]
) -> None:
    served = serve(committed.engine)
    stream = streams(f"{served.url}/live/events", served.headers("dispatcher"))
    feed = served.app.state.live_hub.feed
    assert feed is not None and feed.listening.wait(5)
    # The server drops the listening connection (a restart, a network cut) ...
    _terminate_listeners(committed.engine)
    # ... a change is written meanwhile ...
    number = create(served, "operator")
    # ... and still arrives, read from the journal when the feed listens again.
    assert stream.take(case_event(number), 5).data["number"] == number


def _terminate_listeners(engine: Engine) -> None:
    with engine.connect() as connection:
        connection.execute(
            text(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE query LIKE 'LISTEN %' AND pid <> pg_backend_pid()"
            )
        )
        connection.commit()


@pytest.mark.parametrize("empty_engine", ["sqlite"], indirect=True)
def test_sqlite_brings_another_processs_changes_by_the_journal_poll(
    committed: Committed, serve: Callable[..., Served], streams: Callable[..., EventStream]
) -> None:
    served = serve(committed.engine)
    stream = streams(f"{served.url}/live/events", served.headers("dispatcher"))
    url = committed.engine.url.render_as_string(hide_password=False)
    script = textwrap.dedent(
        f"""
        from datetime import UTC, datetime
        from sqlalchemy import select
        from civicgrid.schemas import CaseCreate
        from civicgrid.services.cases import CentreRules, create_case
        from civicgrid.settings import Settings
        from civicgrid.store.db import make_engine, make_session_factory, session_scope
        from civicgrid.store.models import User

        engine = make_engine({url!r})
        rules = CentreRules.from_settings(Settings(database_url={url!r}))
        with session_scope(make_session_factory(engine)) as session:
            operator = session.scalars(select(User).where(User.username == "operator")).one()
            data = CaseCreate(channel="hotline_12345", category_code="C0101", title="另一进程", lng=120.005, lat=30.005)
            print(create_case(session, operator, data, rules, datetime.now(UTC)).number)
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=60
    )
    number = done.stdout.strip()
    assert stream.take(case_event(number), WITHIN).data["number"] == number


def test_journal_ids_follow_the_commit_order(committed: Committed) -> None:
    """Entries of overlapping transactions get ids in the order the transactions commit, so
    a client's last id is a complete cursor. The first writer stalls between writing its
    entry and committing; the second, which writes and commits meanwhile, must come after it
    (PostgreSQL: the ordering lock; SQLite: one writer at a time)."""
    import threading
    import time

    from sqlalchemy import event

    from civicgrid.live.changes import UNREAD

    user = committed.ids["dispatcher"]
    stalled = threading.Event()
    order: list[str] = []

    def stall(_connection: object) -> None:
        stalled.set()
        time.sleep(0.5)

    def write(name: str, slow: bool) -> None:
        with committed.factory() as session:
            journal.record(session, UNREAD, user, _now(), {"unread": 0, "writer": name})
            if slow:
                event.listen(session.connection(), "commit", stall)
            session.commit()
            order.append(name)

    first = threading.Thread(target=write, args=("first", True))
    first.start()
    assert stalled.wait(5)
    write("second", False)
    first.join()
    with committed.engine.connect() as connection:
        entries = journal.read_after(connection, 0, 10)
    assert order == ["first", "second"]
    assert [entry.payload["writer"] for entry in entries] == order


def _now():  # type: ignore[no-untyped-def]
    from datetime import UTC, datetime

    return datetime.now(UTC)
