"""The replica router on a real streaming replica: reads on the replica when it has caught
up, else on the primary; a replica that is down is skipped."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, text

from civicgrid.store.db import make_engine
from civicgrid.store.replicas import LastWrites, ReplicaRouter, current_lsn, format_lsn, parse_lsn
from tests.pg_cluster import StreamingPair


def in_recovery(router: ReplicaRouter, min_lsn: int = 0) -> bool:
    """Whether the router's read session runs on a replica (a standby is in recovery)."""
    with router.read_session(min_lsn) as session:
        return bool(session.scalar(text("SELECT pg_is_in_recovery()")))


@pytest.fixture
def primary(replicated: StreamingPair) -> Iterator[Engine]:
    engine = make_engine(replicated.primary_url)
    yield engine
    engine.dispose()


@pytest.fixture
def router(primary: Engine, replicated: StreamingPair) -> Iterator[ReplicaRouter]:
    router = ReplicaRouter(primary, [replicated.replica_url], retry_after_seconds=60)
    yield router
    router.dispose()


def wait_for_replay(router: ReplicaRouter, lsn: int) -> None:
    for _ in range(200):
        if in_recovery(router, lsn):
            return
        with router.primary.connect() as connection:
            connection.execute(text("SELECT pg_sleep(0.02)"))
    raise AssertionError(f"the replica did not replay {format_lsn(lsn)}")


def test_lsn_text_round_trips() -> None:
    assert parse_lsn("0/3000060") == 0x3000060
    assert parse_lsn("1A/FF") == (0x1A << 32) | 0xFF
    assert format_lsn(parse_lsn("1A/FF") or 0) == "1A/FF"
    assert parse_lsn("garbage") is None
    assert parse_lsn(None) is None


def test_last_writes_keep_the_latest_and_forget_the_oldest() -> None:
    writes = LastWrites(capacity=2)
    writes.note("a", 5)
    writes.note("a", 3)
    assert writes.get("a") == 5
    writes.note("b", 1)
    writes.note("c", 1)
    assert writes.get("a") == 0
    assert writes.get("c") == 1


def test_reads_go_to_the_replica_and_writes_to_the_primary(router: ReplicaRouter, primary: Engine) -> None:
    wait_for_replay(router, current_lsn(primary))
    assert in_recovery(router)
    with primary.connect() as connection:
        assert connection.scalar(text("SELECT pg_is_in_recovery()")) is False


def test_a_paused_replica_serves_only_reads_it_has_replayed(
    primary: Engine, replicated: StreamingPair
) -> None:
    # Lag is not what this test is about: however long ago the last replay, the replica is
    # good enough for reads that do not need the write.
    router = ReplicaRouter(primary, [replicated.replica_url], max_lag_seconds=3600)
    replica = make_engine(replicated.replica_url)
    with replica.connect() as connection:
        connection.execute(text("SELECT pg_wal_replay_pause()"))
    try:
        with primary.begin() as connection:
            connection.execute(text("UPDATE regions SET name = name"))
        written = current_lsn(primary)
        # Someone else's reads may still use the replica; the writer's go to the primary.
        assert in_recovery(router)
        assert not in_recovery(router, written)
    finally:
        with replica.connect() as connection:
            connection.execute(text("SELECT pg_wal_replay_resume()"))
        replica.dispose()
    wait_for_replay(router, written)
    router.dispose()


def test_a_replica_too_far_behind_is_passed_over(primary: Engine, replicated: StreamingPair) -> None:
    router = ReplicaRouter(primary, [replicated.replica_url], max_lag_seconds=0.01)
    replica = make_engine(replicated.replica_url)
    with replica.connect() as connection:
        connection.execute(text("SELECT pg_wal_replay_pause()"))
    try:
        with primary.begin() as connection:
            connection.execute(text("UPDATE regions SET name = name"))
            connection.execute(text("SELECT pg_sleep(0.05)"))
        with primary.begin() as connection:
            connection.execute(text("UPDATE regions SET name = name"))
        with primary.connect() as connection:
            connection.execute(text("SELECT pg_sleep(0.1)"))
        assert not in_recovery(router)
    finally:
        with replica.connect() as connection:
            connection.execute(text("SELECT pg_wal_replay_resume()"))
        replica.dispose()
        router.dispose()


def test_a_stopped_replica_is_skipped(router: ReplicaRouter, replicated: StreamingPair) -> None:
    replicated.stop_replica()
    try:
        assert not in_recovery(router)
        down_until = router.replicas[0].down_until
        assert down_until > 0
        assert not in_recovery(router)
        assert router.replicas[0].down_until == down_until  # not tried again meanwhile
    finally:
        replicated.start_replica()
