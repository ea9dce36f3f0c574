"""How the case list and the case file scale: load the demo district into a temporary SQLite
file, copy its cases set-based (one INSERT … SELECT from a recursive CTE) up to N rows,
bring the statistics up to date, then time the list's common filters and the case file at
the service layer, and each list's SQL alone beside it; then the duplicate hint at intake.

    python benchmarks/bench_lists.py [--cases 1000000]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime

from sqlalchemy import func, select, text

from civicgrid.demo import load_demo
from civicgrid.domain.vocabulary import CaseState, CoordinateSystem, Light, Role
from civicgrid.schemas import COUNT_LIMIT, CaseFilters
from civicgrid.services import duplicates
from civicgrid.services.cases import CentreRules
from civicgrid.settings import Settings
from civicgrid.store import cases as case_queries
from civicgrid.store.db import make_engine, make_session_factory, session_scope
from civicgrid.store.maintenance import optimize
from civicgrid.store.migrate import upgrade
from civicgrid.store.models import Case, Region, User

#: Copies of the demo's cases, spread back in time one minute apart, under new numbers.
FILL = """
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < :count)
INSERT INTO cases (number, channel, kind, request_type, category_id, urgency, title, description,
    address, lng, lat, region_id, grid_id, department_id, reporter_name, reporter_phone,
    state, stage, stage_started_at, warning_at, deadline_at, created_at, updated_at, closed_at,
    satisfaction, rework_count, version)
SELECT 'BENCH-' || n.i, c.channel, c.kind, c.request_type, c.category_id, c.urgency, c.title,
    c.description, c.address, c.lng, c.lat, c.region_id, c.grid_id, c.department_id,
    c.reporter_name, c.reporter_phone, c.state, c.stage, c.stage_started_at,
    datetime(c.warning_at, '-' || n.i || ' minutes'), datetime(c.deadline_at, '-' || n.i || ' minutes'),
    datetime(c.created_at, '-' || n.i || ' minutes'), c.updated_at, c.closed_at,
    c.satisfaction, c.rework_count, 1
FROM n JOIN cases AS c ON c.id = 1 + n.i % :demo
"""


def _median_ms(run: Callable[[], object], rounds: int = 7) -> float:
    times = []
    for _ in range(rounds):
        began = time.perf_counter()
        run()
        times.append(time.perf_counter() - began)
    return statistics.median(times) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--cases", type=int, default=100_000, help="cases in the store")
    parser.add_argument("--demo-cases", type=int, default=300, help="demo cases copied to fill it")
    args = parser.parse_args()
    url = f"sqlite:///{tempfile.mkdtemp()}/bench.db"
    engine = make_engine(url)
    upgrade(engine)
    factory = make_session_factory(engine)
    now = datetime.now(UTC)
    with session_scope(factory) as session:
        load_demo(
            session, CentreRules.from_settings(Settings(database_url=url)), now, args.demo_cases, seed=1
        )
    began = time.perf_counter()
    with engine.begin() as connection:
        fill = text(FILL).bindparams(count=args.cases - args.demo_cases, demo=args.demo_cases)
        connection.execute(fill)
    print(f"filled {args.cases:,} cases in {time.perf_counter() - began:.1f} s")
    began = time.perf_counter()
    optimize(engine, after_bulk_load=True)
    print(f"statistics (ANALYZE, analysis_limit) in {(time.perf_counter() - began) * 1000:.0f} ms")

    with session_scope(factory) as session:
        leader = session.scalars(select(User).where(User.role == Role.LEADER)).first()
        street = session.scalars(select(User).where(User.role == Role.DISPATCHER)).first()
        community = session.scalar(select(Region.code).where(Region.level == "community"))
        assert leader is not None and street is not None
        print(
            f"district user: {leader.username} ({leader.region.code}); street-level user: "
            f"{street.username} ({street.region.code if street.region else None})"
        )
        lists = {
            "default list (district)": (leader, CaseFilters()),
            "default list (street user)": (street, CaseFilters()),
            "light=red": (leader, CaseFilters(light=Light.RED)),
            "state=in_progress": (leader, CaseFilters(state=[CaseState.IN_PROGRESS])),
            f"region_code={community}": (leader, CaseFilters(region_code=community)),
            "q=路": (leader, CaseFilters(q="路")),
        }
        print(f"{'list (page of 50)':32} {'service ms':>10} {'page SQL ms':>11} {'count SQL ms':>12}  total")
        for name, (actor, filters) in lists.items():
            query = case_queries.filtered(session, actor, filters, now)

            def service(actor: User = actor, filters: CaseFilters = filters) -> object:
                query = case_queries.filtered(session, actor, filters, now)
                case_queries.page(session, query, None, 50)
                return case_queries.count_up_to(session, query, COUNT_LIMIT)

            page_sql = query.limit(51).compile(engine, compile_kwargs={"literal_binds": True})
            counted = query.order_by(None).with_only_columns(Case.id).limit(COUNT_LIMIT + 1).subquery()
            count_sql = (
                select(func.count())
                .select_from(counted)
                .compile(engine, compile_kwargs={"literal_binds": True})
            )
            total = service()
            print(
                f"{name:32} {_median_ms(service):10.1f} "
                f"{_median_ms(lambda s=str(page_sql): session.execute(text(s)).all()):11.1f} "
                f"{_median_ms(lambda s=str(count_sql): session.execute(text(s)).all()):12.1f}  {total}"
            )
        query = case_queries.filtered(session, leader, CaseFilters(), now)
        _rows, cursor = case_queries.page(session, query, None, 50)
        print(
            f"{'page 2 by cursor':32} {_median_ms(lambda: case_queries.page(session, query, cursor, 50)):10.1f}"
        )
        deep = session.scalar(select(Case).order_by(Case.created_at).limit(1).offset(100))
        assert deep is not None
        deep_cursor = case_queries.CaseCursor(deep.created_at, deep.id)
        print(
            f"{'a page near the end by cursor':32} "
            f"{_median_ms(lambda: case_queries.page(session, query, deep_cursor, 50)):10.1f}"
        )
        number = session.scalar(select(Case.number).order_by(Case.id).limit(1))
        assert number is not None

        def case_file() -> object:
            session.expunge_all()
            return case_queries.get_visible(session, leader, number, case_file=True)

        print(f"{'case file':32} {_median_ms(case_file):10.1f}")

        # The duplicate hint at intake, at the point of a recent open case (the copies stack
        # on the demo's points, so each point has many candidates: a hard case for it).
        recent = session.scalars(
            select(Case).where(Case.lng.is_not(None)).order_by(Case.created_at.desc()).limit(1)
        ).one()
        settings = Settings(database_url=url)
        lng, lat, code = recent.lng, recent.lat, recent.category.code
        assert lng is not None and lat is not None

        def hint() -> duplicates.NearbyFound:
            return duplicates.nearby_cases(
                session,
                street,
                code,
                lng,
                lat,
                CoordinateSystem.WGS84,
                radius_m=settings.duplicate_radius_m,
                days=settings.duplicate_days,
                now=now,
                limit=20,
            )

        print(f"{'duplicate hint (street user)':32} {_median_ms(hint):10.1f}  {len(hint().cases)} shown")


if __name__ == "__main__":
    main()
