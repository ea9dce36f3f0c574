"""civicgrid backup and restore: an online SQLite backup is one consistent moment even while
a writer goes on; a restore checks the file, moves it into place in one rename, migrates
it and replays every case; bad input gets one line and changes nothing."""

from __future__ import annotations

import hashlib
import os
import shutil
import sqlite3
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import closing
from datetime import UTC, datetime
from pathlib import Path

import pytest
from alembic import command as alembic_command
from click.testing import Result
from sqlalchemy import Engine, create_engine, select, text
from sqlalchemy.exc import DBAPIError
from typer.testing import CliRunner

from civicgrid.cli import app
from civicgrid.demo import load_demo
from civicgrid.domain.vocabulary import Channel
from civicgrid.schemas import CaseCreate
from civicgrid.services.cases import CentreRules, create_case
from civicgrid.settings import Settings, get_settings
from civicgrid.store.db import make_engine, make_session_factory, session_scope
from civicgrid.store.migrate import alembic_config, head_revision, upgrade
from civicgrid.store.models import User
from tests.factories import build_world, new_case

runner = CliRunner()
DEMO_CASES = 12
RULES = CentreRules.from_settings(Settings())
NEW_CASE = CaseCreate(
    channel=Channel.HOTLINE_12345, category_code="C0101", title="井盖缺失", lng=120.1493, lat=30.2771
)


@pytest.fixture(scope="module")
def demo_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A closed database file holding the demo district with a few cases in every state."""
    path = tmp_path_factory.mktemp("demo") / "demo.db"
    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)
    with session_scope(make_session_factory(engine)) as session:
        load_demo(session, RULES, datetime.now(UTC), cases=DEMO_CASES, seed=7)
    engine.dispose()
    return path


@pytest.fixture
def use(monkeypatch: pytest.MonkeyPatch) -> Iterator[object]:
    """``use(url)`` points the command line at the database ``url``."""

    def point_at(url: str) -> None:
        monkeypatch.setenv("CIVICGRID_DATABASE_URL", url)
        get_settings.cache_clear()

    yield point_at
    get_settings.cache_clear()


@pytest.fixture
def centre(tmp_path: Path, demo_db: Path, use) -> Path:  # type: ignore[no-untyped-def]
    """The centre's database, a copy of the demo, that the command line works on."""
    path = tmp_path / "centre" / "civicgrid.db"
    path.parent.mkdir()
    shutil.copy(demo_db, path)
    use(f"sqlite:///{path}")
    return path


def refused(result: Result, words: str) -> None:
    """The command failed with one line on stderr saying ``words``, and no traceback."""
    assert result.exit_code == 1, result.output
    assert isinstance(result.exception, SystemExit)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and words in lines[0], result.stderr
    assert "Traceback" not in result.output


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def rows(path: Path, query: str) -> list[tuple[object, ...]]:
    with closing(sqlite3.connect(path)) as connection:
        return connection.execute(query).fetchall()


def test_an_online_backup_is_one_moment_and_restores_to_the_same_cases(
    centre: Path, tmp_path: Path, use
) -> None:  # type: ignore[no-untyped-def]
    acknowledged: list[str] = []
    stop = threading.Event()
    engine = make_engine(f"sqlite:///{centre}")
    factory = make_session_factory(engine)

    def writer() -> None:
        while not stop.is_set():
            with session_scope(factory) as session:
                operator = session.scalars(select(User).where(User.username == "operator")).one()
                number = create_case(session, operator, NEW_CASE, RULES, datetime.now(UTC)).number
            acknowledged.append(number)

    def wait_for(count: int) -> None:
        deadline = time.monotonic() + 30
        while len(acknowledged) < count and time.monotonic() < deadline:
            time.sleep(0.01)
        assert len(acknowledged) >= count

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        wait_for(5)
        before = len(acknowledged)
        backup = tmp_path / "civicgrid-backup.db"
        result = runner.invoke(app, ["backup", str(backup)])
        after = len(acknowledged)
        wait_for(after + 3)  # the writer was never stopped by the backup
    finally:
        stop.set()
        thread.join()
        engine.dispose()

    assert result.exit_code == 0, result.output
    ((cases,),) = rows(backup, "SELECT count(*) FROM cases")
    ((events,),) = rows(backup, "SELECT count(*) FROM case_events")
    assert f"integrity ok, schema {head_revision()}, {cases} cases, {events} events" in result.stdout
    # One moment: every case acknowledged before the backup began, and of the later ones
    # exactly those committed first, each with its event and its number counted.
    written = cases - DEMO_CASES
    assert before <= written <= after + 1
    numbers = {number for (number,) in rows(backup, "SELECT number FROM cases")}
    assert set(acknowledged[:written]) <= numbers and not set(acknowledged[written:]) & numbers
    assert rows(backup, "SELECT sum(last) FROM case_number_counters") == [(cases,)]
    assert rows(backup, "SELECT count(*) FROM cases WHERE id NOT IN (SELECT case_id FROM case_events)") == [
        (0,)
    ]
    assert rows(backup, "PRAGMA journal_mode") == [("delete",)]  # one self-contained file
    assert not list(tmp_path.glob("*.partial"))

    restored = tmp_path / "elsewhere" / "civicgrid.db"
    restored.parent.mkdir()
    use(f"sqlite:///{restored}")
    result = runner.invoke(app, ["restore", str(backup)])
    assert result.exit_code == 0, result.output
    assert f"{cases} cases, {events} events" in result.stdout
    assert "every case replays to its cached state" in result.stdout
    query = "SELECT number, state, version FROM cases ORDER BY number"
    assert rows(restored, query) == rows(backup, query)
    assert rows(restored, "PRAGMA journal_mode") == [("wal",)]
    assert sorted(path.name for path in restored.parent.iterdir()) == ["civicgrid.db"]


def test_backup_does_not_overwrite_unless_told(centre: Path, tmp_path: Path) -> None:
    backup = tmp_path / "backup.db"
    backup.write_text("last week's backup")
    refused(runner.invoke(app, ["backup", str(backup)]), "exists already (add --overwrite")
    assert backup.read_text() == "last week's backup"
    result = runner.invoke(app, ["backup", str(backup), "--overwrite"])
    assert result.exit_code == 0, result.output
    assert rows(backup, "SELECT count(*) FROM cases") == [(DEMO_CASES,)]
    assert oct(backup.stat().st_mode & 0o777) == oct(0o600)  # personal data: the owner's only


def test_backup_refuses_what_it_cannot_back_up(tmp_path: Path, use) -> None:  # type: ignore[no-untyped-def]
    target = tmp_path / "backup.db"
    cases = [
        ("sqlite://", "in-memory database"),
        (f"sqlite:///{tmp_path / 'missing.db'}", "no such database file"),
    ]
    stranger = tmp_path / "stranger.db"
    with closing(sqlite3.connect(stranger)) as connection:
        connection.execute("CREATE TABLE notes (body TEXT)")
    cases.append((f"sqlite:///{stranger}", "not a civicgrid database"))
    scribble = tmp_path / "scribble.db"
    scribble.write_text("not a database at all\n" * 50)
    cases.append((f"sqlite:///{scribble}", "damaged or not a SQLite database"))
    for url, words in cases:
        use(url)
        refused(runner.invoke(app, ["backup", str(target)]), words)
    use(f"sqlite:///{stranger}")
    refused(runner.invoke(app, ["backup", str(tmp_path / "no" / "such" / "folder.db")]), "no such folder")
    refused(runner.invoke(app, ["backup", str(tmp_path)]), "is a folder")
    assert sorted(path.name for path in tmp_path.iterdir()) == ["scribble.db", "stranger.db"]


def _damage(path: Path) -> None:
    """Change one key inside the index on case states, as a failing disk would."""
    with closing(sqlite3.connect(path)) as connection:
        (root,) = connection.execute(
            "SELECT rootpage FROM sqlite_master WHERE name = 'ix_cases_state_created_at_id'"
        ).fetchone()
        (size,) = connection.execute("PRAGMA page_size").fetchone()
    data = bytearray(path.read_bytes())
    start = (root - 1) * size
    page = data[start : start + size]
    where = next(
        page.find(word) for word in (b"reported", b"registered", b"closed", b"archived") if word in page
    )
    data[start + where] ^= 0x20
    path.write_bytes(bytes(data))


def _unknown_revision(path: Path) -> None:
    with closing(sqlite3.connect(path, isolation_level=None)) as connection:
        connection.execute("UPDATE alembic_version SET version_num = '9999'")


def _not_civicgrid(path: Path) -> None:
    path.unlink()
    with closing(sqlite3.connect(path)) as connection:
        connection.execute("CREATE TABLE notes (body TEXT)")


@pytest.mark.parametrize(
    "spoil, words",
    [
        (lambda path: path.unlink(), "no such file"),
        (lambda path: path.write_text("case list, typed by hand\n" * 50), "damaged or not a SQLite database"),
        (_not_civicgrid, "not a civicgrid database"),
        (_damage, "damaged, integrity check says: row"),
        (_unknown_revision, "schema revision 9999 is unknown to this version"),
    ],
    ids=["missing", "text", "not-civicgrid", "damaged", "newer"],
)
def test_restore_refuses_a_bad_file_and_changes_nothing(
    spoil, words: str, centre: Path, demo_db: Path, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    backup = tmp_path / "backup.db"
    shutil.copy(demo_db, backup)
    spoil(backup)
    before = digest(centre)
    refused(runner.invoke(app, ["restore", str(backup), "--force"]), words)
    assert digest(centre) == before
    assert sorted(path.name for path in centre.parent.iterdir()) == ["civicgrid.db"]


def test_restore_replaces_a_database_with_cases_only_when_forced_and_never_one_in_use(
    centre: Path, demo_db: Path, tmp_path: Path
) -> None:
    backup = tmp_path / "backup.db"
    shutil.copy(demo_db, backup)
    before = digest(centre)
    refused(runner.invoke(app, ["restore", str(backup)]), f"holds {DEMO_CASES} cases (add --force")
    engine = make_engine(f"sqlite:///{centre}")  # a server still running on it
    with engine.connect():
        refused(runner.invoke(app, ["restore", str(backup), "--force"]), "in use; stop the server")
    engine.dispose()
    assert digest(centre) == before
    centre.chmod(0o640)
    result = runner.invoke(app, ["restore", str(backup), "--force"])
    assert result.exit_code == 0, result.output
    assert oct(centre.stat().st_mode & 0o777) == oct(0o640)  # still the server's to open


def test_restore_over_a_file_that_is_no_database_needs_force(centre: Path, demo_db: Path) -> None:
    centre.write_text("not a database")
    refused(runner.invoke(app, ["restore", str(demo_db)]), "not a SQLite database (add --force")
    assert centre.read_text() == "not a database"
    assert runner.invoke(app, ["restore", str(demo_db), "--force"]).exit_code == 0
    assert rows(centre, "SELECT count(*) FROM cases") == [(DEMO_CASES,)]


def test_restore_migrates_an_older_backup_to_the_newest_schema(tmp_path: Path, use) -> None:  # type: ignore[no-untyped-def]
    old = tmp_path / "old.db"
    engine = make_engine(f"sqlite:///{old}")
    upgrade(engine)
    with session_scope(make_session_factory(engine)) as session:
        new_case(session, build_world(session), RULES, datetime.now(UTC))
    # Back to the first schema that had cases and events, as an old backup would be.
    config = alembic_config()
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        alembic_command.downgrade(config, "0002")
    engine.dispose()
    target = tmp_path / "civicgrid.db"
    use(f"sqlite:///{target}")
    result = runner.invoke(app, ["restore", str(old)])
    assert result.exit_code == 0, result.output
    assert "1 cases, 1 events" in result.stdout
    assert rows(target, "SELECT version_num FROM alembic_version") == [(head_revision(),)]
    assert rows(target, "SELECT name FROM sqlite_master WHERE name = 'cases_no_delete'") == [
        ("cases_no_delete",)
    ]


def test_restore_names_each_case_whose_history_gives_another_state(
    demo_db: Path, tmp_path: Path, use
) -> None:  # type: ignore[no-untyped-def]
    backup = tmp_path / "backup.db"
    shutil.copy(demo_db, backup)
    with closing(sqlite3.connect(backup, isolation_level=None)) as connection:
        (number, state) = connection.execute(
            "SELECT number, state FROM cases WHERE state != 'closed' ORDER BY id LIMIT 1"
        ).fetchone()
        connection.execute("UPDATE cases SET state = 'closed' WHERE number = ?", (number,))
    use(f"sqlite:///{tmp_path / 'civicgrid.db'}")
    result = runner.invoke(app, ["restore", str(backup)])
    assert result.exit_code == 1
    assert f"{number}: cached state closed, its events give {state}" in result.stdout
    assert "error: 1 cases do not replay to their cached state" in result.stderr


def test_a_bad_setting_is_one_line(centre: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CIVICGRID_SQLITE_SYNCHRONOUS", "off")
    for command in ("backup", "restore"):
        refused(
            runner.invoke(app, [command, str(tmp_path / "backup.db")]), "CIVICGRID_SQLITE_SYNCHRONOUS: Input"
        )
    monkeypatch.delenv("CIVICGRID_SQLITE_SYNCHRONOUS")
    monkeypatch.setenv("CIVICGRID_ENVIRONMENT", "production")
    get_settings.cache_clear()
    refused(
        runner.invoke(app, ["backup", str(tmp_path / "backup.db")]),
        "error: CIVICGRID_SECRET_KEY must be 32+ random characters",
    )


def test_restore_into_a_missing_folder_is_refused(demo_db: Path, tmp_path: Path, use) -> None:  # type: ignore[no-untyped-def]
    use(f"sqlite:///{tmp_path / 'no' / 'civicgrid.db'}")
    refused(runner.invoke(app, ["restore", str(demo_db)]), "no such folder")


def test_restore_says_so_when_counts_differ_from_the_backup(
    demo_db: Path, tmp_path: Path, use, monkeypatch: pytest.MonkeyPatch
) -> None:  # type: ignore[no-untyped-def]
    from civicgrid.store import backup as store_backup

    restore = store_backup.restore_sqlite

    def losing_one(backup: Path, database: Path, *, force: bool = False) -> store_backup.Snapshot:
        snapshot = restore(backup, database, force=force)
        return store_backup.Snapshot(snapshot.path, snapshot.revision, snapshot.cases, snapshot.events + 1)

    monkeypatch.setattr(store_backup, "restore_sqlite", losing_one)
    use(f"sqlite:///{tmp_path / 'civicgrid.db'}")
    result = runner.invoke(app, ["restore", str(demo_db)])
    assert result.exit_code == 1
    assert f"error: the backup held {DEMO_CASES} cases and" in result.stderr


def test_postgresql_is_backed_up_with_pg_dump_and_restored_with_pg_restore(
    postgresql_engine: Engine, postgres_server: str, tmp_path: Path, use, monkeypatch: pytest.MonkeyPatch
) -> None:  # type: ignore[no-untyped-def]
    use(postgresql_engine.url.render_as_string(hide_password=False))
    dump = tmp_path / "civicgrid.dump"
    result = runner.invoke(app, ["backup", str(dump)])
    assert result.exit_code == 0, result.output
    assert f"pg_dump -Fc wrote {dump}" in result.stdout
    assert dump.read_bytes()[:5] == b"PGDMP"
    refused(runner.invoke(app, ["backup", str(dump)]), "exists already")
    refused(runner.invoke(app, ["restore", str(dump)]), "restore PostgreSQL with pg_restore")

    # pg_restore brings back the schema with its guards.
    name = f"civicgrid_restored_{os.environ.get('PYTEST_XDIST_WORKER', 'main')}"
    admin = create_engine(postgres_server, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f"DROP DATABASE IF EXISTS {name}"))
        connection.execute(text(f"CREATE DATABASE {name}"))
    url = postgresql_engine.url.set(drivername="postgresql", database=name)
    conninfo = url.render_as_string(hide_password=False)
    subprocess.run(["pg_restore", "--no-owner", f"--dbname={conninfo}", str(dump)], check=True)
    restored = create_engine(url.set(drivername="postgresql+psycopg"))
    with restored.connect() as connection:
        assert (
            connection.execute(text("SELECT version_num FROM alembic_version")).scalar_one()
            == head_revision()
        )
        with pytest.raises(DBAPIError, match="append-only"):
            connection.execute(text("TRUNCATE case_events CASCADE"))
    restored.dispose()
    with admin.connect() as connection:
        connection.execute(text(f"DROP DATABASE {name}"))
    admin.dispose()

    # A failing pg_dump is one line, and the password never shows.
    missing = postgresql_engine.url.set(database="no_such_database", password="s3cret-pass")
    use(missing.render_as_string(hide_password=False))
    result = runner.invoke(app, ["backup", str(tmp_path / "other.dump")])
    refused(result, "pg_dump failed: ")
    assert "no_such_database" in result.stderr and "s3cret-pass" not in result.output
    assert not (tmp_path / "other.dump").exists()

    monkeypatch.setattr(shutil, "which", lambda _: None)
    refused(runner.invoke(app, ["backup", str(tmp_path / "other.dump")]), "pg_dump is not on PATH")
