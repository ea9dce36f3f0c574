"""How long the briefings take: fill a store (``benchmarks/filler.py``, cases spread over the
last 12 months), bring the statistics facts up to date, then time the district's monthly
briefing as a PDF, as the centre's command line makes it: its content (every query of the
statistics, evaluation and map services), its charts, the A4 PDF; and the workbook. The goal:
a district of 1,000,000 cases in under 15 s.

    python benchmarks/bench_briefings.py [--cases 100000] [--repeat 3]
                                         [--database-url postgresql+psycopg://… | --postgres]
"""

from __future__ import annotations

import argparse
import statistics as stats
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import select

from benchmarks.bench_store import server_for, store_of
from benchmarks.filler import fill, prepare
from civicgrid.briefings import html, pdf, xlsx
from civicgrid.briefings.content import BriefingRequest, Masthead, assemble
from civicgrid.demo import DISTRICT_CODE
from civicgrid.domain.briefings import BriefingKind
from civicgrid.evaluation_file import default_scheme_path, load_scheme
from civicgrid.services.briefings import system_reader
from civicgrid.services.cases import CentreRules
from civicgrid.services.statistics import rebuild_facts
from civicgrid.settings import Settings
from civicgrid.store.db import make_session_factory, session_scope
from civicgrid.store.models import Region


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--cases", type=int, default=100_000, help="cases in the store")
    parser.add_argument("--repeat", type=int, default=3, help="briefings made (the median is shown)")
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
            f"{engine.dialect.name}: filled {report.cases:,} cases, {report.events:,} events "
            f"in {report.seconds:.1f} s"
        )
        began = time.perf_counter()
        with session_scope(make_session_factory(engine)) as session:
            rebuild_facts(session, rules, apply=True)
        print(f"statistics facts rebuilt in {time.perf_counter() - began:.1f} s")
        with engine.connect() as connection:
            connection.exec_driver_sql("ANALYZE")
            connection.commit()
        zone = rules.calendar.timezone
        last_month = (now.astimezone(zone).replace(day=1) - timedelta(days=1)).date()
        scheme = load_scheme(default_scheme_path())
        masthead = Masthead("示范区城市运行管理中心工作简报")
        steps: dict[str, list[float]] = {
            "content": [],
            "charts": [],
            "pdf": [],
            "total (PDF)": [],
            "xlsx": [],
        }
        for _ in range(args.repeat):
            began = time.perf_counter()
            with session_scope(make_session_factory(engine, read_only=True)) as session:
                district = session.scalars(select(Region).where(Region.code == DISTRICT_CODE)).one()
                briefing = assemble(
                    session,
                    system_reader(district),
                    BriefingRequest(BriefingKind.MONTHLY, last_month, DISTRICT_CODE),
                    now,
                    zone=zone,
                    scheme=scheme,
                    masthead=masthead,
                )
            content = time.perf_counter()
            images = html.draw_charts(briefing)
            drawn = time.perf_counter()
            document = pdf.render(briefing, images)
            done = time.perf_counter()
            xlsx.render(briefing)
            steps["content"].append(content - began)
            steps["charts"].append(drawn - content)
            steps["pdf"].append(done - drawn)
            steps["total (PDF)"].append(done - began)
            steps["xlsx"].append(time.perf_counter() - done)
        reported = briefing.tables[0].rows[0][1]
        print(
            f"monthly briefing of the district, {briefing.period.label}: {reported:,} cases reported in the "
            f"month, PDF of {len(document):,} bytes"
        )
        print(f"{'step':24} {'median s':>9}")
        for name, times in steps.items():
            print(f"{name:24} {stats.median(times):9.2f}")


if __name__ == "__main__":
    main()
