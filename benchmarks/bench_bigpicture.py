"""The big picture at scale: the map (一张图) and the dashboard (指挥大屏) over a large territory.

A store gets the synthetic territory (``benchmarks/synthetic_territory.py``: 10,000 grids by
default, in 1,000 communities of 16 streets), a department of each kind, an inspector on
every grid, a district leader and a street leader, then ``--cases`` cases
(``benchmarks/filler.py``; ``--open-share`` of them open, one in ten by default as in the
target: 100,000 open of 1,000,000) and their statistics facts. Then, over
HTTP through the app (bearer tokens), beside ``/healthz``:

- the map of a street-sized view (one street, 640 grids, zoom 14): the grids of the view,
  the open cases in it (capped at ``CIVICGRID_MAP_CASE_LIMIT``), and, when capped, the
  case clusters the map draws instead; "map view" is the sum the page waits for (target
  under 200 ms);
- the same for a community (zoom 16) and the whole district (zoom 11), a grid's popup,
  the region layer;
- the dashboard of the district leader and of the street leader, counted afresh (target
  under 500 ms), and as another screen of the same scope gets it within ten seconds.

    python benchmarks/bench_bigpicture.py [--grids 10000] [--cases 100000] [--open-share 0.1]
                                          [--repeat 20] [--store FILE]
                                          [--database-url postgresql+psycopg://… | --postgres]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, insert, select
from sqlalchemy.orm import Session

from benchmarks.bench_store import server_for, store_of
from benchmarks.filler import fill, with_open_share
from benchmarks.synthetic_territory import (
    COMMUNITY_SIZE,
    DISTRICT_CODE,
    ORIGIN,
    STREET_BLOCK,
    synthetic_territory,
)
from civicgrid.api.app import create_app
from civicgrid.catalog import default_categories_path, load_categories
from civicgrid.domain.vocabulary import (
    OPEN_STATES,
    DepartmentFunction,
    DepartmentLevel,
    GridDuty,
    RegionLevel,
    Role,
)
from civicgrid.geo.territory_file import read_territory
from civicgrid.services.auth import hash_password
from civicgrid.services.cases import CentreRules
from civicgrid.services.categories import import_categories
from civicgrid.services.dashboard import Recent
from civicgrid.services.statistics import rebuild_facts
from civicgrid.services.territory import import_territory
from civicgrid.settings import Settings
from civicgrid.store.db import make_engine, make_session_factory, session_scope
from civicgrid.store.maintenance import optimize
from civicgrid.store.migrate import upgrade
from civicgrid.store.models import Case, Department, Grid, GridStaff, Region, User

PASSWORD = "benchmark-password"
SECRET = "benchmark-only-secret-" * 2
OPEN = [state.value for state in OPEN_STATES]
#: The share of the cases left open: the target's 100,000 open of 1,000,000.
OPEN_SHARE = 0.1
TARGETS = {"map view, street": 200.0, "dashboard, district leader": 500.0, "dashboard, street leader": 500.0}


def prepare(engine: Engine, grids: int, now: datetime) -> str:
    """The synthetic territory with its people and departments, ready for the filler; the
    code of the first street."""
    document = synthetic_territory(grids)
    data = json.dumps(document, ensure_ascii=False).encode()
    factory = make_session_factory(engine)
    with session_scope(factory) as session:
        report = import_territory(session, read_territory(data, "bench.geojson", len(data)), now)
        assert report.written, report.summary()
        import_categories(session, load_categories(default_categories_path()))
    with session_scope(factory) as session:
        district = session.scalars(select(Region).where(Region.code == DISTRICT_CODE)).one()
        street = session.scalars(
            select(Region).where(Region.level == RegionLevel.STREET).order_by(Region.code)
        ).first()
        assert street is not None
        password_hash = hash_password(PASSWORD)
        for function in DepartmentFunction:
            session.add(
                Department(
                    code=f"BENCH-{function.value}",
                    name=f"基准区{function.value}",
                    function=function,
                    level=DepartmentLevel.DISTRICT,
                    region=district,
                    linkage_level=2,
                    is_active=True,
                )
            )
        for username, role, region in (
            ("operator", Role.OPERATOR, district),
            ("dispatcher_qu", Role.DISPATCHER, district),
            ("supervisor", Role.SUPERVISOR, district),
            ("leader", Role.LEADER, district),
            ("leader_street", Role.LEADER, street),
        ):
            session.add(
                User(
                    username=username,
                    full_name=username,
                    password_hash=password_hash,
                    role=role,
                    region=region,
                )
            )
        session.flush()
        for department in session.scalars(select(Department)):
            session.add(
                User(
                    username=f"handler_{department.code}",
                    full_name="处置人员",
                    password_hash=password_hash,
                    role=Role.HANDLER,
                    region=district,
                    department=department,
                )
            )
        rows = session.execute(select(Grid.id, Grid.code, Grid.region_id)).all()
        session.execute(
            insert(User),
            [
                {
                    "username": f"inspector_{code}",
                    "full_name": f"{code}网格员",
                    "password_hash": password_hash,
                    "role": Role.INSPECTOR,
                    "region_id": region_id,
                    "grid_id": grid_id,
                    "phone": "13800000000",
                    "is_active": True,
                }
                for grid_id, code, region_id in rows
            ],
        )
        inspectors = session.execute(select(User.grid_id, User.id).where(User.role == Role.INSPECTOR)).all()
        session.execute(
            insert(GridStaff),
            [{"grid_id": g, "user_id": u, "duty": GridDuty.INSPECTOR} for g, u in inspectors],
        )
        return street.code


def _timed(client: TestClient, url: str, headers: dict[str, str], repeat: int) -> tuple[float, float, Any]:
    """p50 and p95 (ms) of ``repeat`` GETs after one warm-up, and the last answer."""
    reply = client.get(url, headers=headers)
    assert reply.status_code == 200, (url, reply.status_code, reply.text[:300])
    runs = []
    for _ in range(repeat):
        began = time.perf_counter()
        reply = client.get(url, headers=headers)
        runs.append((time.perf_counter() - began) * 1000)
    runs.sort()
    return statistics.median(runs), runs[max(0, round(0.95 * len(runs)) - 1)], reply.json()


#: What the map's script does (civicgrid/web/static/territory-map.js): grids from zoom 13 on in a
#: territory of more than 1,500 grids; below zoom 15 the counts per square first, the points
#: only when the view holds no more than the case limit; at 15 and above the points first,
#: the counts per square when the points were capped.
GRID_MIN_ZOOM, FEW_GRIDS, POINTS_ZOOM, CASE_LIMIT = 13, 1500, 15, 5000


def _view(
    client: TestClient, headers: dict[str, str], bbox: str, zoom: int, grids: int, repeat: int
) -> list[tuple[str, float, float, str]]:
    """The requests the map's script makes for one view, each timed, and their sum."""
    open_states = "&".join(f"state={s}" for s in OPEN)
    rows: list[tuple[str, float, float, str]] = []

    def request(label: str, url: str, note: Callable[[Any], str]) -> Any:
        p50, p95, body = _timed(client, url, headers, repeat)
        rows.append((label, p50, p95, note(body)))
        return body

    def counted(body: Any) -> str:
        cases = sum(f["properties"]["count"] for f in body["features"])
        return f"{len(body['features'])} squares, {cases:,} cases"

    if grids <= FEW_GRIDS or zoom >= GRID_MIN_ZOOM:
        grid_url = f"/api/v1/geo/grids?zoom={zoom}&bbox={bbox}"
        request("  grids of the view", grid_url, lambda b: f"{len(b['features'])} grids")
    clusters_url = f"/api/v1/geo/cases/clusters?bbox={bbox}&zoom={zoom}&{open_states}"
    total = None
    if zoom < POINTS_ZOOM:
        clusters = request("  open cases counted per square", clusters_url, counted)
        total = sum(f["properties"]["count"] for f in clusters["features"])
    if total is None or total <= CASE_LIMIT:
        points = request(
            "  open cases as points",
            f"/api/v1/geo/cases?bbox={bbox}&{open_states}",
            lambda b: f"{len(b['features'])} points" + (", capped" if b["truncated"] else ""),
        )
        if points["truncated"]:
            request("  open cases counted per square", clusters_url, counted)
    return [
        *rows,
        ("  = map view", sum(r[1] for r in rows), sum(r[2] for r in rows), "what the page waits for"),
    ]


Row = tuple[str, float, float, str]


def measure(
    engine: Engine,
    url: str,
    grids: int,
    cases: int,
    repeat: int,
    fill_store: bool = True,
    open_share: float = OPEN_SHARE,
) -> list[Row]:
    """Prepare and fill the store of ``engine`` (at ``url``; unless ``fill_store`` is
    false: a store this benchmark filled before), then time the requests: rows of (what,
    p50 ms, p95 ms, note); a row of zeros is a heading."""
    now = datetime.now(UTC)
    settings = Settings(environment="test", database_url=url, secret_key=SECRET)
    rules = CentreRules.from_settings(settings)
    if fill_store:
        began = time.perf_counter()
        prepare(engine, grids, now)
        took = time.perf_counter() - began
        print(f"{engine.dialect.name}: territory of {grids:,} grids with its people in {took:.1f} s")
        report = fill(engine, cases, rules, now, state_weights=with_open_share(open_share))
        print(f"filled {report.cases:,} cases, {report.events:,} events in {report.seconds:.1f} s")
        began = time.perf_counter()
        with session_scope(make_session_factory(engine)) as session:
            read, _ = rebuild_facts(session, rules, apply=True)
        print(f"statistics facts of {read:,} cases in {time.perf_counter() - began:.1f} s")
    optimize(engine, after_bulk_load=True)
    with Session(engine) as session:
        stored_cases = session.scalar(select(func.count()).select_from(Case)) or 0
        opened = session.scalar(select(func.count()).select_from(Case).where(Case.state.in_(OPEN_STATES)))
        stored = session.scalar(select(func.count()).select_from(Grid)) or 0
        street = session.scalars(
            select(Region.code).where(Region.level == RegionLevel.STREET).order_by(Region.code)
        ).first()
    print(f"{stored:,} grids, {stored_cases:,} cases of which {opened:,} open")

    app = create_app(settings, engine)
    # Every dashboard counted afresh: what a screen waits for when none of its scope asked
    # in the last ten seconds (the cached answer is timed at the end).
    app.state.dashboards = Recent(seconds=0)
    with TestClient(app) as client:

        def sign_in(username: str) -> dict[str, str]:
            reply = client.post("/api/v1/auth/token", json={"username": username, "password": PASSWORD})
            return {"Authorization": f"Bearer {reply.json()['access_token']}"}

        leader, street_leader = sign_in("leader"), sign_in("leader_street")
        # The first street: the block of 8 × 8 communities at the district's south-west corner.
        west, south = ORIGIN
        east, north = west + STREET_BLOCK * COMMUNITY_SIZE[0], south + STREET_BLOCK * COMMUNITY_SIZE[1]
        street_box = f"{west},{south},{east},{north}"
        district_box = "119.99,29.99,120.4,30.3"
        began = time.perf_counter()
        client.get("/api/v1/geo/grids?zoom=14", headers=leader)
        cold = (time.perf_counter() - began) * 1000
        print(f"the grid layer at zoom 14, simplified once per process: {cold:.0f} ms")

        rows: list[Row] = []
        p50, p95, _ = _timed(client, "/healthz", {}, repeat)
        rows.append(("/healthz (baseline)", p50, p95, ""))
        rows.append((f"map, a street's view (street {street}, zoom 14)", 0, 0, ""))
        rows.extend(_view(client, leader, street_box, 14, stored, repeat))
        rows.append(("map, a community's view (zoom 16)", 0, 0, ""))
        community_box = f"{west},{south},{west + COMMUNITY_SIZE[0]},{south + COMMUNITY_SIZE[1]}"
        rows.extend(_view(client, leader, community_box, 16, stored, repeat))
        rows.append(("map, the whole district (zoom 11)", 0, 0, ""))
        rows.extend(_view(client, leader, district_box, 11, stored, repeat))
        p50, p95, regions = _timed(client, "/api/v1/geo/regions?zoom=15", leader, repeat)
        rows.append(("region layer (once per page)", p50, p95, f"{len(regions['features'])} regions"))
        p50, p95, _ = _timed(client, f"/api/v1/geo/grids/{DISTRICT_CODE}001001-01/summary", leader, repeat)
        rows.append(("a grid's popup (people, open cases, month)", p50, p95, ""))
        for name, headers in (
            ("dashboard, district leader", leader),
            ("dashboard, street leader", street_leader),
        ):
            p50, p95, board = _timed(client, "/api/v1/dashboard", headers, repeat)
            rows.append((name, p50, p95, f"{board['open_total']:,} open, {board['red_total']:,} red"))
        app.state.dashboards = Recent()
        p50, p95, _ = _timed(client, "/api/v1/dashboard", leader, repeat)
        rows.append(("dashboard, another screen within 10 s (cached)", p50, p95, ""))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--grids", type=int, default=10_000, help="grids in the synthetic territory")
    parser.add_argument("--cases", type=int, default=100_000, help="cases in the store")
    parser.add_argument(
        "--open-share", type=float, default=OPEN_SHARE, help="the share of the cases left open"
    )
    parser.add_argument("--repeat", type=int, default=20, help="timed requests of each kind")
    parser.add_argument("--database-url", help="a PostgreSQL server URL (default: a SQLite file)")
    parser.add_argument("--postgres", action="store_true", help="run on a throw-away PostgreSQL cluster")
    parser.add_argument(
        "--store",
        type=Path,
        help="a SQLite file to keep: filled on the first run, measured again on later ones",
    )
    args = parser.parse_args()
    backend = "postgresql" if args.postgres or args.database_url else "sqlite"
    if args.store:
        url = f"sqlite:///{args.store}"
        fresh = not args.store.exists()
        engine = make_engine(url)
        upgrade(engine)  # a store kept from an older version gets the new indexes
        try:
            rows = measure(
                engine, url, args.grids, args.cases, args.repeat, fill_store=fresh, open_share=args.open_share
            )
        finally:
            engine.dispose()
    else:
        with server_for(backend, args.database_url) as server, store_of(args.cases, server) as (engine, url):
            rows = measure(engine, url, args.grids, args.cases, args.repeat, open_share=args.open_share)
    print(f"\n{'request':52} {'p50 ms':>8} {'p95 ms':>8}  note")
    for name, p50, p95, note in rows:
        print(name if p50 == p95 == 0 else f"{name:52} {p50:8.1f} {p95:8.1f}  {note}")
    view = next(p50 for name, p50, _, _ in rows if name == "  = map view")
    dashboards = {name: p50 for name, p50, _, _ in rows if name in TARGETS and name.startswith("dashboard")}
    print(
        f"\ntargets (p50): street map view {view:.0f} ms (< {TARGETS['map view, street']:.0f}); "
        + "; ".join(f"{name} {ms:.0f} ms (< {TARGETS[name]:.0f})" for name, ms in dashboards.items())
    )


if __name__ == "__main__":
    main()
