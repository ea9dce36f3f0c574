"""Writers in several processes on one SQLite file line up on ``<database>.writers.lock``:
none fails, none is lost, and a writer that waits too long still gets the "database is
locked" error that the API answers with 503."""

from __future__ import annotations

import fcntl
import multiprocessing
import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError

from civicgrid.store.db import make_engine, writers_lock_path

PROCESSES = 2
THREADS = 4
WRITES = 40


def _count_up(engine: Engine, writer: str) -> None:
    """One write: read the counter, store it plus one, and a row naming the writer."""
    with engine.begin() as connection:
        value = connection.execute(text("SELECT n FROM counter")).scalar_one()
        connection.execute(text("UPDATE counter SET n = :n"), {"n": value + 1})
        connection.execute(text("INSERT INTO tally (writer) VALUES (:writer)"), {"writer": writer})


def _writer_process(url: str, name: str, start: float) -> None:
    engine = make_engine(url, busy_timeout_ms=5000)
    time.sleep(max(start - time.time(), 0))  # both processes begin at the same moment
    with ThreadPoolExecutor(THREADS) as pool:
        for done in [
            pool.submit(_count_up, engine, f"{name}-{thread}")
            for thread in range(THREADS)
            for _ in range(WRITES)
        ]:
            done.result()  # an error here ends the process with a non-zero code
    engine.dispose()


def _new_database(tmp_path: Path, **options: int) -> Engine:
    engine = make_engine(f"sqlite:///{tmp_path / 'writers.db'}", **options)
    with engine.begin() as connection:
        connection.execute(text("CREATE TABLE counter (n INTEGER NOT NULL)"))
        connection.execute(text("INSERT INTO counter VALUES (0)"))
        connection.execute(text("CREATE TABLE tally (writer TEXT NOT NULL)"))
    return engine


def test_writers_in_two_processes_all_succeed(tmp_path: Path) -> None:
    engine = _new_database(tmp_path)
    url = str(engine.url)
    context = multiprocessing.get_context("spawn")
    start = time.time() + 2  # time for the interpreters to start
    processes = [
        context.Process(target=_writer_process, args=(url, f"p{i}", start)) for i in range(PROCESSES)
    ]
    for process in processes:
        process.start()
    for process in processes:
        process.join(timeout=120)
    assert [process.exitcode for process in processes] == [0] * PROCESSES
    with engine.connect() as connection:
        assert connection.execute(text("SELECT n FROM counter")).scalar_one() == PROCESSES * THREADS * WRITES
        per_writer = dict(
            connection.execute(text("SELECT writer, count(*) FROM tally GROUP BY writer")).all()
        )
    assert per_writer == {f"p{p}-{t}": WRITES for p in range(PROCESSES) for t in range(THREADS)}
    assert Path(f"{tmp_path / 'writers.db'}.writers.lock").exists()
    engine.dispose()


def _hold(lock_file: str) -> int:
    """Take the writers' lock as another process would (its own open file)."""
    descriptor = os.open(lock_file, os.O_RDWR | os.O_CREAT)
    fcntl.flock(descriptor, fcntl.LOCK_EX)
    return descriptor


def test_a_writer_waits_for_the_lock_file_holder(tmp_path: Path) -> None:
    engine = _new_database(tmp_path, busy_timeout_ms=10_000)
    lock_file = writers_lock_path(engine.url)
    assert lock_file is not None
    holder = _hold(lock_file)
    writer = threading.Thread(target=_count_up, args=(engine, "waited"))
    writer.start()
    writer.join(timeout=0.5)
    assert writer.is_alive()  # delayed while the other process holds the turn
    os.close(holder)
    writer.join(timeout=10)
    assert not writer.is_alive()
    with engine.connect() as connection:
        assert connection.execute(text("SELECT n FROM counter")).scalar_one() == 1
    engine.dispose()


def test_a_writer_that_waits_too_long_gets_database_is_locked(tmp_path: Path) -> None:
    engine = _new_database(tmp_path, busy_timeout_ms=200)
    lock_file = writers_lock_path(engine.url)
    assert lock_file is not None
    holder = _hold(lock_file)
    started = time.monotonic()
    with pytest.raises(OperationalError, match="database is locked"):
        _count_up(engine, "too late")
    assert 0.15 < time.monotonic() - started < 5
    os.close(holder)
    _count_up(engine, "next")  # the turn was handed on: the next writer goes through
    with engine.connect() as connection:
        assert connection.execute(text("SELECT writer FROM tally")).scalars().all() == ["next"]
    engine.dispose()


@pytest.mark.parametrize(
    ("url", "lock_file"),
    [
        ("sqlite://", None),
        ("sqlite:///:memory:", None),
        ("sqlite:///file:shared?mode=memory&cache=shared&uri=true", None),
        ("sqlite:///var/civicgrid.db", "var/civicgrid.db.writers.lock"),
    ],
)
def test_which_databases_get_a_lock_file(url: str, lock_file: str | None) -> None:
    assert writers_lock_path(make_url(url)) == lock_file
