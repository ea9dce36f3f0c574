"""How the statistics scale: fill a store (``benchmarks/filler.py``), bring the statistics
facts cached on the cases up to date from the events, then time the tables a centre asks
for most:

- a month's department evaluation for the whole district (立案数, 结案率, 按期处置率, 返工率 per
  department: the figures of EVALUATION.md §3 (a));
- a year's monthly trend (twelve months of 立案数, 结案数, 结案率, 按期结案率);
- a month by street with every count and rate, and by dispatcher (dispatch events);
- the first page (50) of the cases behind a department's 应结案数.

    python benchmarks/bench_statistics.py [--cases 10000] [--repeat 5]
                                          [--database-url postgresql+psycopg://… | --postgres]
"""

from __future__ import annotations

import argparse
import statistics as stats
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import select

from benchmarks.bench_store import server_for, store_of
from benchmarks.filler import fill, prepare
from civicgrid.domain.indicators import COUNTS, RATES, Period, PeriodKind
from civicgrid.domain.vocabulary import Role
from civicgrid.services import statistics
from civicgrid.services.cases import CentreRules
from civicgrid.services.statistics import GroupBy, Query, rebuild_facts
from civicgrid.settings import Settings
from civicgrid.store import cases as case_queries
from civicgrid.store.db import make_session_factory, session_scope
from civicgrid.store.models import Department, User

DEPARTMENT_EVALUATION = ["registered", "closure_rate", "on_time_handling_rate", "rework_rate"]
TREND = ["registered", "closed", "closure_rate", "on_time_closure_rate"]


def _median_ms(run: Callable[[], object], rounds: int) -> float:
    times = []
    for _ in range(rounds):
        began = time.perf_counter()
        run()
        times.append(time.perf_counter() - began)
    return stats.median(times) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--cases", type=int, default=10_000, help="cases in the store")
    parser.add_argument("--repeat", type=int, default=5, help="repetitions of each table")
    parser.add_argument("--database-url", help="a PostgreSQL server URL (default: a SQLite file)")
    parser.add_argument("--postgres", action="store_true", help="run on a throw-away PostgreSQL cluster")
    args = parser.parse_args()
    now = datetime.now(UTC)
    backend = "postgresql" if args.postgres or args.database_url else "sqlite"
    with server_for(backend, args.database_url) as server, store_of(args.cases, server) as (engine, url):
        rules = CentreRules.from_settings(Settings(database_url=url))
        prepare(engine, rules, now)
        report = fill(engine, args.cases, rules, now)
        print(
            f"{engine.dialect.name}: filled {report.cases:,} cases, {report.events:,} events in {report.seconds:.1f} s"
        )
        factory = make_session_factory(engine)
        began = time.perf_counter()
        with session_scope(factory) as session:
            read, changed = rebuild_facts(session, rules, apply=True)
        seconds = time.perf_counter() - began
        print(f"statistics facts of {read:,} cases ({changed:,} written) in {seconds:.1f} s")
        with engine.connect() as connection:
            connection.exec_driver_sql("ANALYZE")
            connection.commit()
        zone = rules.calendar.timezone
        today = now.astimezone(zone).date()
        last_month = Period.containing(PeriodKind.MONTH, today.replace(day=1) - timedelta(days=1), zone)
        first = (today.replace(day=1) - timedelta(days=335)).replace(day=1)
        year = Period.between(first, today, zone)
        with session_scope(make_session_factory(engine, read_only=True)) as session:
            leader = session.scalars(select(User).where(User.role == Role.LEADER)).first()
            assert leader is not None
            department = session.scalars(select(Department.code).order_by(Department.id)).first()
            tables = {
                f"department evaluation, {last_month.label}": Query(
                    last_month, GroupBy.DEPARTMENT, DEPARTMENT_EVALUATION
                ),
                f"monthly trend, {year.label}": Query(year, GroupBy.MONTH, TREND),
                f"every indicator by street, {last_month.label}": Query(
                    last_month, GroupBy.STREET, [*COUNTS, *RATES]
                ),
                f"dispatches by dispatcher, {last_month.label}": Query(
                    last_month, GroupBy.DISPATCHER, ["dispatched", "accurate_dispatch_rate"]
                ),
            }
            print(f"{'table':58} {'rows':>5} {'median ms':>10}")
            for name, query in tables.items():
                result = statistics.table(session, leader, query, now)
                ms = _median_ms(lambda q=query: statistics.table(session, leader, q, now), args.repeat)
                print(f"{name:58} {len(result.rows):5} {ms:10.1f}")
            trace = Query(last_month, GroupBy.DEPARTMENT, ["closure_rate"])

            def page() -> object:
                cases = statistics.trace(
                    session, leader, trace, "closure_rate", "denominator", department, now
                )
                return case_queries.page(session, cases, None, 50)

            print(
                f"{f'cases behind 应结案数 of {department} (page of 50)':58} {'':5} {_median_ms(page, args.repeat):10.1f}"
            )


if __name__ == "__main__":
    main()
