"""``civicgrid worker`` as real processes: killed in the middle of a run and replaced by a
standby, nothing is lost, each case's messages arrive in order, and a message that may
have been delivered when the sender died comes again only with its idempotency key."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from civicgrid.outbox.messages import Kind, enqueue
from civicgrid.store.db import make_engine
from civicgrid.store.migrate import upgrade
from civicgrid.store.models import OutboxMessage
from tests.exchange.helpers import add_partner
from tests.factories import build_world
from tests.outbox.receiver import Receiver

CASES, PER_CASE = 4, 5


@pytest.fixture
def database(tmp_path: Path) -> Iterator[tuple[str, Engine]]:
    url = f"sqlite:///{tmp_path / 'centre.db'}"
    engine = make_engine(url)
    upgrade(engine)
    yield url, engine
    engine.dispose()


def worker(url: str) -> subprocess.Popen[str]:
    environment = {
        **os.environ,
        "CIVICGRID_DATABASE_URL": url,
        "CIVICGRID_ENVIRONMENT": "development",
        "CIVICGRID_OUTBOX_POLL_SECONDS": "0.1",
        "CIVICGRID_OUTBOX_RETRY_BASE_SECONDS": "0.2",
    }
    return subprocess.Popen(
        [sys.executable, "-m", "civicgrid.cli", "worker"],
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def wait_for(condition: object, timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def test_a_worker_killed_mid_run_loses_nothing_and_sends_nothing_twice(database: tuple[str, Engine]) -> None:
    url, engine = database
    receiver = Receiver(delay_s=0.15)
    now = datetime.now(UTC)
    with Session(engine) as session:
        build_world(session)
        partner = add_partner(session, now, webhook_url=receiver.url)
        for seq in range(PER_CASE):
            for case in range(CASES):
                enqueue(
                    session,
                    Kind.WEBHOOK,
                    f"case:{case}",
                    receiver.url,
                    f"{case}-{seq}",
                    now,
                    partner_id=partner.id,
                )
        session.commit()
    first = worker(url)
    standby = None
    try:
        wait_for(
            lambda: first.poll() is None and os.path.exists(url.removeprefix("sqlite:///") + ".sender.lock")
        )
        time.sleep(1.0)  # the receiver is down: the first attempts fail and are retried
        receiver.start()
        wait_for(lambda: len(receiver.requests) >= 5)
        standby = worker(url)
        time.sleep(0.5)
        first.send_signal(signal.SIGKILL)  # in the middle of the run, perhaps of a delivery
        first.wait(10)
        wait_for(lambda: len(receiver.kept) == CASES * PER_CASE)
        with Session(engine) as session:
            wait_for(
                lambda: (
                    session.scalar(select(OutboxMessage.id).where(OutboxMessage.delivered_at.is_(None)))
                    is None
                )
            )
        standby.send_signal(signal.SIGTERM)
        assert standby.wait(20) == 0
        assert "stopped" in (standby.stdout.read() if standby.stdout else "")
    finally:
        for process in (first, standby):
            if process is not None:
                if process.poll() is None:
                    process.kill()
                    process.wait()
                if process.stdout is not None:
                    process.stdout.close()
        receiver.stop()
    with Session(engine) as session:
        stored = list(session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)))
    assert {m.idempotency_key for m in stored} == set(receiver.kept)
    assert all(m.delivered_at is not None for m in stored)
    assert any(m.attempts > 1 for m in stored)  # the receiver was down at first
    # Each case's messages arrived in order; a copy came only with the key of one already sent.
    seen: list[bytes] = []
    for request in receiver.requests:
        if request.body not in seen:
            seen.append(request.body)
    for case in range(CASES):
        assert [b for b in seen if b.startswith(f"{case}-".encode())] == [
            f"{case}-{s}".encode() for s in range(PER_CASE)
        ]
    assert len(receiver.requests) - len(receiver.kept) <= 1
