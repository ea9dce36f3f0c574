"""Backup and restore of the store.

SQLite: a backup is a consistent snapshot taken online with SQLite's backup API (the server
may keep writing meanwhile), written beside the target and renamed into place, then checked
with ``PRAGMA integrity_check``. A restore checks the backup, copies it beside the database,
migrates the copy to the newest schema and renames it into place. PostgreSQL has its own
tools: ``pg_dump`` (run here when it is on PATH) and ``pg_restore``.
"""

from __future__ import annotations

import os
import secrets
import shutil
import sqlite3
import stat
import subprocess
from collections.abc import Iterator, Sequence
from contextlib import closing, contextmanager
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import URL, make_url

from civicgrid.store.db import make_engine
from civicgrid.store.migrate import known_revisions, upgrade

#: Backups hold citizens' names and phone numbers: readable by their owner only.
PRIVATE = 0o600


class BackupError(Exception):
    """A backup or restore was refused or failed; the message says why in one line."""


@dataclass(frozen=True)
class Snapshot:
    """What a checked SQLite backup holds."""

    path: Path
    revision: str
    cases: int
    events: int


def sqlite_file(url: str) -> Path:
    """The database file behind a SQLite URL."""
    database = make_url(url).database
    if not database or database == ":memory:" or database.startswith("file::memory:"):
        raise BackupError("an in-memory database has nothing to back up or restore")
    return Path(database)


def backup_sqlite(database: Path, target: Path, *, overwrite: bool = False) -> Snapshot:
    """Copy ``database`` to ``target`` as one consistent snapshot while others may write,
    then check the copy. An existing ``target`` is replaced only with ``overwrite``."""
    if not database.is_file():
        raise BackupError(f"{database}: no such database file")
    _check_target(target, overwrite, "--overwrite")
    with _beside(target, mode=PRIVATE) as partial:
        try:
            with closing(_connect(database)) as source, closing(sqlite3.connect(partial)) as copy:
                _revision(source, database)  # refuse what is not a civicgrid database
                # One step (pages=-1) reads the whole source in one read transaction: a
                # snapshot of one moment. In WAL mode writers go on meanwhile.
                source.backup(copy)
                # One self-contained file: no -wal beside it to forget when copying it away.
                copy.execute("PRAGMA journal_mode=DELETE")
        except sqlite3.DatabaseError as error:
            raise BackupError(f"{database}: damaged or not a SQLite database ({error})") from None
        snapshot = _inspect(partial, shown_as=target)
        _move_into_place(partial, target)
    return snapshot


def inspect_backup(path: Path) -> Snapshot:
    """Check that ``path`` is an intact civicgrid SQLite database this version can migrate."""
    if not path.is_file():
        raise BackupError(f"{path}: no such file")
    return _inspect(path, shown_as=path)


def restore_sqlite(backup: Path, database: Path, *, force: bool = False) -> Snapshot:
    """Put the checked ``backup`` in place of ``database``, migrated to the newest schema.
    A database holding cases is replaced only with ``force``; one in use never is."""
    snapshot = inspect_backup(backup)
    if not database.parent.is_dir():
        raise BackupError(f"{database.parent}: no such folder")
    replaced_mode = None
    if database.exists():
        _check_replaceable(database, force)
        replaced_mode = stat.S_IMODE(database.stat().st_mode)
    with _beside(database, mode=0o666) as partial:  # as SQLite creates a database
        if replaced_mode is not None:
            partial.chmod(replaced_mode)  # the server's user must still be able to write it
        with closing(_connect(backup, read_only=True)) as source, closing(sqlite3.connect(partial)) as copy:
            source.backup(copy)
        engine = make_engine(f"sqlite:///{partial}")
        try:
            upgrade(engine)
        finally:
            engine.dispose()  # the last connection checkpoints the WAL into the file
        # The migration's writers lined up on a lock file of the partial's name: no one else can.
        Path(f"{partial}.writers.lock").unlink(missing_ok=True)
        # A -wal or -shm left from the old database would be replayed onto the new file.
        for sidecar in _sidecars(database):
            sidecar.unlink(missing_ok=True)
        _move_into_place(partial, database)
    return snapshot


def dump_postgresql(url: str, target: Path, *, overwrite: bool = False, tables: Sequence[str] = ()) -> int:
    """Back up the PostgreSQL database at ``url`` with ``pg_dump -Fc`` (a consistent
    snapshot, restored with ``pg_restore``), or only ``tables``; return the size of the file."""
    pg_dump = shutil.which("pg_dump")
    if pg_dump is None:
        raise BackupError(
            "pg_dump is not on PATH: back up PostgreSQL with pg_dump -Fc or pg_basebackup (see the README)"
        )
    _check_target(target, overwrite, "--overwrite")
    parsed = make_url(url)
    # The password goes through the environment, not the command line others can read.
    environment = dict(os.environ)
    if parsed.password is not None:
        environment["PGPASSWORD"] = str(parsed.password)
    conninfo = URL.create(
        "postgresql",
        username=parsed.username,
        host=parsed.host,
        port=parsed.port,
        database=parsed.database,
        query=parsed.query,
    ).render_as_string(hide_password=False)
    with _beside(target, mode=PRIVATE) as partial:
        result = subprocess.run(
            [
                pg_dump,
                "--format=custom",
                f"--file={partial}",
                f"--dbname={conninfo}",
                *(f"--table={table}" for table in tables),
            ],
            env=environment,
            capture_output=True,
            text=True,
            check=False,
        )
        if result.returncode != 0:
            lines = result.stderr.strip().splitlines() or [f"exit status {result.returncode}"]
            raise BackupError(f"pg_dump failed: {lines[-1]}")
        _move_into_place(partial, target)
    return target.stat().st_size


def _connect(path: Path, *, read_only: bool = False) -> sqlite3.Connection:
    if read_only:
        return sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, timeout=30)
    return sqlite3.connect(path, timeout=30)


def _inspect(path: Path, *, shown_as: Path) -> Snapshot:
    try:
        with closing(_connect(path, read_only=True)) as connection:
            problems = [row[0] for row in connection.execute("PRAGMA integrity_check")]
            if problems != ["ok"]:
                raise BackupError(f"{shown_as}: damaged, integrity check says: {problems[0]}")
            revision = _revision(connection, shown_as)
            if revision not in known_revisions():
                raise BackupError(
                    f"{shown_as}: schema revision {revision} is unknown to this version of civicgrid"
                )
            cases = connection.execute("SELECT count(*) FROM cases").fetchone()[0]
            events = connection.execute("SELECT count(*) FROM case_events").fetchone()[0]
    except sqlite3.DatabaseError as error:
        raise BackupError(f"{shown_as}: damaged or not a SQLite database ({error})") from None
    return Snapshot(shown_as, revision, cases, events)


def _revision(connection: sqlite3.Connection, shown_as: Path) -> str:
    """The schema revision Alembic recorded, or BackupError if this is no civicgrid database."""
    tables = {row[0] for row in connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    row = (
        connection.execute("SELECT version_num FROM alembic_version").fetchone()
        if "alembic_version" in tables
        else None
    )
    if row is None or not {"cases", "case_events"} <= tables:
        raise BackupError(f"{shown_as}: not a civicgrid database (no migrations table or no cases)")
    return str(row[0])


def _check_target(target: Path, overwrite: bool, option: str) -> None:
    if target.is_dir():
        raise BackupError(f"{target}: is a folder, give a file name")
    if target.exists() and not overwrite:
        raise BackupError(f"{target}: exists already (add {option} to replace it)")
    if not target.parent.is_dir():
        raise BackupError(f"{target.parent}: no such folder")


def _check_replaceable(database: Path, force: bool) -> None:
    """Refuse to replace a database in use, or one holding cases unless ``force``."""
    try:
        with closing(sqlite3.connect(database, timeout=0, isolation_level=None)) as connection:
            # An exclusive lock is granted only when no other connection has the file open.
            connection.execute("PRAGMA locking_mode=EXCLUSIVE")
            try:
                connection.execute("BEGIN EXCLUSIVE")
            except sqlite3.OperationalError:
                raise BackupError(f"{database}: in use; stop the server and workers, then restore") from None
            tables = {
                row[0] for row in connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
            }
            cases = connection.execute("SELECT count(*) FROM cases").fetchone()[0] if "cases" in tables else 0
            connection.execute("ROLLBACK")
    except sqlite3.DatabaseError:
        if not force:
            raise BackupError(f"{database}: not a SQLite database (add --force to replace it)") from None
        return
    if cases and not force:
        raise BackupError(f"{database}: holds {cases} cases (add --force to replace it with the backup)")


@contextmanager
def _beside(target: Path, *, mode: int) -> Iterator[Path]:
    """A new file in ``target``'s folder (``mode`` less the umask), so that moving it into
    place is one atomic rename; removed unless it was moved."""
    partial = target.with_name(f".{target.name}.{secrets.token_hex(4)}.partial")
    os.close(os.open(partial, os.O_CREAT | os.O_EXCL | os.O_WRONLY, mode))
    try:
        yield partial
    finally:
        for leftover in (partial, *_sidecars(partial)):
            leftover.unlink(missing_ok=True)


def _sidecars(database: Path) -> list[Path]:
    return [database.with_name(database.name + suffix) for suffix in ("-wal", "-shm", "-journal")]


def _move_into_place(partial: Path, target: Path) -> None:
    """Make ``partial`` durable, rename it to ``target`` and make the rename durable."""
    _fsync(partial)
    os.replace(partial, target)
    if os.name == "posix":  # a folder can be synced only there
        _fsync(target.parent)


def _fsync(path: Path) -> None:
    handle = os.open(path, os.O_RDONLY)
    try:
        os.fsync(handle)
    finally:
        os.close(handle)
