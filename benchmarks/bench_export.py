"""How the exports scale: fill a store (``benchmarks/filler.py``), then export the district
leader's whole case list (every case) as CSV and as xlsx, each in a fresh process, and print
the rows per second, the file's size and the process's peak memory (RSS) next to its memory
before the export began. The target: under 300 MB of peak RSS at 1,000,000 cases.

    python benchmarks/bench_export.py [--cases 200000] [--formats csv,xlsx]
                                      [--database-url postgresql+psycopg://… | --postgres]

The export runs the same code as ``GET /api/v1/cases/export`` and ``civicgrid export
cases`` (the list's scoped query, keyset batches, the streaming writers), into a file.
The store is filled by one process and exported by others, so that the filler's memory
does not count in the export's peak.
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import select

from civicgrid.domain.vocabulary import Role
from civicgrid.exports.formats import ExportFormat, write
from civicgrid.exports.tables import CASE_COLUMNS, case_rows
from civicgrid.schemas import CaseFilters
from civicgrid.services.cases import CentreRules
from civicgrid.settings import Settings
from civicgrid.store import cases as case_queries
from civicgrid.store.db import make_engine, make_session_factory, session_scope
from civicgrid.store.models import User


def _peak_mb() -> float:
    """This process's peak resident memory so far: Linux's VmHWM (getrusage's ru_maxrss
    would carry the parent's peak over the fork), elsewhere ru_maxrss."""
    status = Path("/proc/self/status")
    if status.exists():
        for line in status.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / (
        1024 if sys.platform != "darwin" else 1024**2
    )


def export(url: str, file_format: ExportFormat) -> None:
    """Export the leader's case list to a temporary file and print one result line."""
    engine = make_engine(url)
    rules = CentreRules.from_settings(Settings(database_url=url))
    zone = rules.calendar.timezone
    now = datetime.now(UTC)
    before = _peak_mb()
    began = time.perf_counter()
    rows = size = 0
    with (
        session_scope(make_session_factory(engine, read_only=True)) as session,
        tempfile.TemporaryFile() as out,
    ):
        leader = session.scalars(select(User).where(User.role == Role.LEADER)).first()
        assert leader is not None
        query = case_queries.filtered(session, leader, CaseFilters(), now)

        def counted():  # type: ignore[no-untyped-def]
            nonlocal rows
            for row in case_rows(session, query, now):
                rows += 1
                yield row

        for chunk in write(file_format, CASE_COLUMNS, counted(), zone, "案件"):
            out.write(chunk)
            size += len(chunk)
    seconds = time.perf_counter() - began
    print(
        f"| {engine.dialect.name} | {file_format.value} | {rows:,} | {seconds:.1f} | {rows / seconds:,.0f} "
        f"| {size / 1e6:,.1f} | {before:.0f} | {_peak_mb():.0f} |",
        flush=True,
    )
    engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--cases", type=int, default=200_000, help="cases in the store")
    parser.add_argument("--formats", default="csv,xlsx", help="formats to export, comma-separated")
    parser.add_argument("--database-url", help="a PostgreSQL server URL (default: a SQLite file)")
    parser.add_argument("--postgres", action="store_true", help="run on a throw-away PostgreSQL cluster")
    parser.add_argument("--export-from", help=argparse.SUPPRESS)  # the child: export from this store
    parser.add_argument("--format", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.export_from:
        export(args.export_from, ExportFormat(args.format))
        return

    from benchmarks.bench_store import server_for, store_of
    from benchmarks.filler import fill, prepare

    now = datetime.now(UTC)
    backend = "postgresql" if args.postgres or args.database_url else "sqlite"
    with server_for(backend, args.database_url) as server, store_of(args.cases, server) as (engine, url):
        rules = CentreRules.from_settings(Settings(database_url=url))
        prepare(engine, rules, now)
        report = fill(engine, args.cases, rules, now)
        print(f"{engine.dialect.name}: filled {report.cases:,} cases in {report.seconds:.1f} s", flush=True)
        print(
            "| database | format | rows | seconds | rows/s | MB written | RSS before (MB) | peak RSS (MB) |"
        )
        print("|---|---|---|---|---|---|---|---|")
        for name in args.formats.split(","):
            subprocess.run(
                [sys.executable, __file__, "--export-from", url, "--format", name.strip()],
                check=True,
                env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])},
            )


if __name__ == "__main__":
    main()
