"""A 201 means stored: SQLite syncs every commit by default (FULL), NORMAL is a documented
choice, and under either an acknowledged write survives the process being killed."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import pytest
from pydantic import ValidationError
from sqlalchemy import Engine, text

from civicgrid.api.app import create_app
from civicgrid.settings import Settings
from civicgrid.store.db import make_engine, make_session_factory, session_scope
from civicgrid.store.migrate import upgrade
from tests.factories import build_world

ROOT = Path(__file__).resolve().parents[2]
#: Acknowledged commits to wait for before the kill: enough to land mid-write, still fast.
ACKNOWLEDGED = 150
#: PRAGMA synchronous answers with a number.
LEVELS = {"NORMAL": 1, "FULL": 2}


def synchronous(engine: Engine) -> int:
    with engine.connect() as connection:
        return int(connection.execute(text("PRAGMA synchronous")).scalar_one())


def test_sqlite_syncs_every_commit_unless_told_otherwise(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'centre.db'}"
    for engine, level in ((make_engine(url), "FULL"), (make_engine(url, synchronous="NORMAL"), "NORMAL")):
        assert synchronous(engine) == LEVELS[level]
        engine.dispose()
    with pytest.raises(ValueError, match="FULL, NORMAL"):
        make_engine(url, synchronous="OFF")


def test_the_setting_reaches_the_servers_engine(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'centre.db'}"
    assert Settings().sqlite_synchronous == "FULL"
    for value, level in (("FULL", 2), ("normal", 1)):
        settings = Settings(database_url=url, sqlite_synchronous=value)  # type: ignore[arg-type]
        engine = create_app(settings).state.engine
        assert synchronous(engine) == level
        engine.dispose()
    with pytest.raises(ValidationError, match="sqlite_synchronous"):
        Settings(sqlite_synchronous="OFF")  # type: ignore[arg-type]


@pytest.mark.parametrize("level", ["FULL", "NORMAL"])
def test_acknowledged_writes_survive_a_kill(level: str, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'centre.db'}"
    engine = make_engine(url)
    upgrade(engine)
    with session_scope(make_session_factory(engine)) as session:
        build_world(session)
    engine.dispose()

    errors = tmp_path / "writer.err"
    with errors.open("w") as stderr:
        writer = subprocess.Popen(
            [sys.executable, "-m", "tests.store.acknowledging_writer", url, level],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=stderr,
            text=True,
        )
        assert writer.stdout is not None
        acknowledged: list[str] = []
        try:
            header = writer.stdout.readline().split()
            while len(acknowledged) < ACKNOWLEDGED and (line := writer.stdout.readline()):
                acknowledged.append(line.strip())
        finally:
            writer.kill()  # SIGKILL: no clean-up, no checkpoint, as if it crashed mid-write
            rest, _ = writer.communicate(timeout=30)
    acknowledged += rest.split()  # printed before the kill: acknowledged as well
    assert header == ["synchronous", str(LEVELS[level])], errors.read_text()
    assert writer.returncode == -signal.SIGKILL, errors.read_text()
    assert len(acknowledged) >= ACKNOWLEDGED, errors.read_text()

    engine = make_engine(url)
    with engine.connect() as connection:
        assert connection.execute(text("PRAGMA integrity_check")).scalar_one() == "ok"
        stored = set(connection.execute(text("SELECT number FROM cases")).scalars())
    engine.dispose()
    assert set(acknowledged) <= stored
    # At most one more: committed, but killed before it could say so.
    assert len(stored) - len(acknowledged) in (0, 1)
