"""The minute job over a store of many open cases: fill a store (``benchmarks/filler.py``)
whose cases are all open, their lights spread as a real centre's (green, yellow, red), then
time the job as it runs:

- every minute for a while (the steady state: the cases whose warning or deadline passed
  in that minute), after a first minute in which the filler makes many turn at once;
- after it was stopped for an hour, and for a day (one run catches up the whole gap);
- the first run of a new install (no mark yet: the last minute).

Each run finds the turned cases, writes their alerts (notifications, journal entries,
outbox messages for signed-out users who asked) and moves the job's mark, in committed
slices of 2,000 cases; the figures are whole runs.

    python benchmarks/bench_lights.py [--cases 100000] [--minutes 10]
                                      [--backends sqlite,postgresql] [--database-url postgresql+psycopg://…]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import delete, func, select

from benchmarks.bench_store import server_for, store_of
from benchmarks.filler import fill, prepare
from civicgrid.domain.vocabulary import CaseState
from civicgrid.live.lights import LightJob
from civicgrid.services.alerts import LIGHT_JOB
from civicgrid.services.cases import CentreRules
from civicgrid.settings import Settings
from civicgrid.store.db import make_session_factory, session_scope
from civicgrid.store.models import Case, JobMark

S = CaseState
#: Every open state, weighted like the open part of a centre's store.
OPEN = {
    S.REPORTED: 10, S.VERIFIED: 8, S.REGISTERED: 15, S.DISPATCHED: 20, S.IN_PROGRESS: 50, S.HANDLED: 20,
    S.REJECTED_BY_DEPARTMENT: 8, S.REWORK: 10, S.ESCALATED: 6, S.EXTENSION_REQUESTED: 8, S.SUSPENDED: 8,
    S.JOINT: 15,
}  # fmt: skip


def _mark(factory: object, moment: datetime | None) -> None:
    with session_scope(factory) as session:  # type: ignore[arg-type]
        session.execute(delete(JobMark).where(JobMark.name == LIGHT_JOB))
        if moment is not None:
            session.add(JobMark(name=LIGHT_JOB, done_until=moment))


def _run(job: LightJob, at: datetime) -> tuple[float, int, int]:
    began = time.perf_counter()
    done = job.run_once(at)
    return time.perf_counter() - began, done.turned, done.notified


def measure(backend: str, server: str | None, cases: int, minutes: int) -> list[str]:
    lines = []
    with store_of(cases, server) as (engine, url):
        settings = Settings(database_url=url)
        rules = CentreRules.from_settings(settings)
        now = datetime.now(UTC).replace(microsecond=0)
        prepare(engine, rules, now)
        report = fill(engine, cases, rules, now, state_weights=OPEN)
        factory = make_session_factory(engine)
        with session_scope(factory) as session:
            open_cases = session.scalar(
                select(func.count()).select_from(Case).where(Case.closed_at.is_(None))
            )
            clocks = session.scalar(select(func.count()).where(Case.deadline_at.is_not(None)))
        print(
            f"{backend}: filled {report.cases:,} open cases ({clocks:,} with a running clock) "
            f"in {report.seconds:.1f} s",
            flush=True,
        )
        assert open_cases == cases
        job = LightJob(engine, settings)

        def row(name: str, took: float, turned: int, notified: int) -> None:
            lines.append(f"| {backend} | {name} | {took * 1000:,.0f} ms | {turned:,} | {notified:,} |")

        # The filler draws green cases' warnings no earlier than a minute after ``now``: many
        # of them turn yellow in that first minute, a burst no centre sees every day.
        _mark(factory, now)
        burst = _run(job, now + timedelta(minutes=1))
        row("a burst: the first minute after the fill (its slices of 2,000 in all)", *burst)
        # The steady state: one run a minute.
        runs = [_run(job, now + timedelta(minutes=m)) for m in range(2, minutes + 2)]
        took = [r[0] for r in runs]
        row(
            f"every minute after, {minutes} runs: median (max {max(took) * 1000:,.0f} ms)",
            statistics.median(took),
            sum(r[1] for r in runs),
            sum(r[2] for r in runs),
        )
        # Stopped for an hour, then for a day: one run covers the gap.
        start = now + timedelta(minutes=minutes + 1)
        _mark(factory, start)
        row("after an hour stopped", *_run(job, start + timedelta(hours=1)))
        _mark(factory, start)
        row("after a day stopped", *_run(job, start + timedelta(days=1)))
        _mark(factory, start)
        row("the same day again (every alert given already)", *_run(job, start + timedelta(days=1)))
        # A new install: no mark, the last minute.
        _mark(factory, None)
        row("first run of a new install", *_run(job, start + timedelta(days=1, minutes=1)))
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--cases", type=int, default=100_000, help="open cases in the store")
    parser.add_argument("--minutes", type=int, default=10, help="steady-state runs, one a minute")
    parser.add_argument("--backends", default="sqlite,postgresql", help="sqlite, postgresql or both")
    parser.add_argument("--database-url", help="a PostgreSQL server URL (default: a throw-away cluster)")
    args = parser.parse_args()
    lines = []
    for backend in args.backends.split(","):
        with server_for(backend, args.database_url) as server:
            lines += measure(backend, server, args.cases, args.minutes)
    print(f"\nThe minute job over {args.cases:,} open cases:\n")
    print("| database | run | time | cases turned | notifications |")
    print("|---|---|---|---|---|")
    for line in lines:
        print(line)


if __name__ == "__main__":
    main()
