"""A throw-away PostgreSQL cluster for the test suite, from Debian's ``postgresql`` package.

Started in a temporary folder on a free local port and removed afterwards. When the tests
run as root, the server runs as the ``postgres`` user (PostgreSQL refuses root).
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path


def find_bin_dir() -> Path | None:
    """The folder holding initdb and pg_ctl, newest version first, or None."""
    on_path = shutil.which("initdb")
    if on_path:
        # Resolved: a link on PATH may stand for initdb alone, not its sibling programs.
        return Path(on_path).resolve().parent
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), reverse=True)
    return Path(candidates[0]).parent if candidates else None


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _as_server_user(command: list[str]) -> list[str]:
    if os.geteuid() != 0:
        return command
    return ["runuser", "-u", "postgres", "--", *command]


def _run(command: list[str], check: bool = True) -> None:
    subprocess.run(_as_server_user(command), check=check, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def _pg_ctl(bin_dir: Path, data: Path, *args: str, check: bool = True) -> None:
    _run([str(bin_dir / "pg_ctl"), "-D", str(data), *args], check=check)


def _start(bin_dir: Path, folder: Path, data: Path, port: int) -> None:
    options = f"-p {port} -k {folder} -c listen_addresses=127.0.0.1 -c fsync=off -c full_page_writes=off"
    _pg_ctl(bin_dir, data, "-o", options, "-w", "-l", str(folder / f"{data.name}.log"), "start")


def _url(port: int) -> str:
    return f"postgresql+psycopg://postgres@127.0.0.1:{port}/postgres"


@contextmanager
def _folder() -> Iterator[Path]:
    folder = Path(tempfile.mkdtemp(prefix="civicgrid-pg-"))
    if os.geteuid() == 0:
        shutil.chown(folder, "postgres")
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


@contextmanager
def _primary(bin_dir: Path, folder: Path) -> Iterator[int]:
    data = folder / "data"
    port = _free_port()
    _run([str(bin_dir / "initdb"), "-D", str(data), "-U", "postgres", "-A", "trust", "-E", "UTF8"])
    _start(bin_dir, folder, data, port)
    try:
        yield port
    finally:
        _pg_ctl(bin_dir, data, "-m", "immediate", "stop")


@contextmanager
def throwaway_cluster(bin_dir: Path) -> Iterator[str]:
    """Run a fresh cluster; yield a SQLAlchemy URL of its ``postgres`` database."""
    with _folder() as folder, _primary(bin_dir, folder) as port:
        yield _url(port)


@dataclass
class StreamingPair:
    """A primary and a streaming replica of it (hot standby), each by URL; the replica can
    be stopped and started again."""

    bin_dir: Path
    folder: Path
    primary_url: str
    replica_url: str
    replica_port: int

    @property
    def replica_data(self) -> Path:
        return self.folder / "replica"

    def stop_replica(self) -> None:
        _pg_ctl(self.bin_dir, self.replica_data, "-m", "fast", "stop")

    def start_replica(self) -> None:
        _start(self.bin_dir, self.folder, self.replica_data, self.replica_port)


@contextmanager
def streaming_pair(bin_dir: Path) -> Iterator[StreamingPair]:
    """A fresh primary (initdb's defaults allow replication: wal_level=replica, WAL senders,
    trusted local replication connections) and a replica made by ``pg_basebackup -R``."""
    with _folder() as folder, _primary(bin_dir, folder) as port:
        replica = folder / "replica"
        backup = [str(bin_dir / "pg_basebackup"), "-h", "127.0.0.1", "-p", str(port), "-U", "postgres"]
        _run([*backup, "-D", str(replica), "-R", "-X", "stream"])
        replica_port = _free_port()
        pair = StreamingPair(bin_dir, folder, _url(port), _url(replica_port), replica_port)
        pair.start_replica()
        try:
            yield pair
        finally:
            _pg_ctl(bin_dir, replica, "-m", "immediate", "stop", check=False)
