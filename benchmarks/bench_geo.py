"""Point resolution against a synthetic territory: a regular lattice of square grids
(200 m), 10 × 10 grids to a community, 5 × 5 communities to a street, one district.

1. The index: building it from the grids' GeoJSON, and resolving random points in one
   vectorised batch (one core: Shapely's tree query runs in the calling thread).
2. The store (a SQLite file): the resolution step of case creation on the cached index,
   and creating a case (committed) with ``--grids`` grids and with 50, side by side.

    python benchmarks/bench_geo.py [--grids 10000] [--points 1000000] [--rounds 300]
"""

from __future__ import annotations

import argparse
import math
import statistics
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import numpy as np
from sqlalchemy import insert, select
from sqlalchemy.orm import Session, joinedload

from civicgrid.catalog import default_categories_path, load_categories
from civicgrid.domain.vocabulary import Channel, GridKind, RegionLevel, Role
from civicgrid.geo.index import GridIndex, GridShape, territory_index
from civicgrid.schemas import CaseCreate
from civicgrid.services import cases as case_service
from civicgrid.services.cases import CentreRules
from civicgrid.services.categories import import_categories
from civicgrid.settings import Settings
from civicgrid.store.db import make_engine, make_session_factory, session_scope
from civicgrid.store.geo import territory_mark
from civicgrid.store.migrate import upgrade
from civicgrid.store.models import Grid, Region, User, territory_changed

#: The lattice's south-west corner and its cells' size (degrees, about 200 m).
WEST, SOUTH, CELL = 120.0, 30.0, 0.002
GRIDS_PER_COMMUNITY_SIDE, COMMUNITIES_PER_STREET_SIDE = 10, 5


def box(west: float, south: float, east: float, north: float) -> dict[str, Any]:
    ring = [[west, south], [east, south], [east, north], [west, north], [west, south]]
    return {"type": "Polygon", "coordinates": [ring]}


@dataclass(frozen=True)
class Lattice:
    """``grids`` square grids, row by row in a square lattice ``side`` cells wide."""

    grids: int

    @property
    def side(self) -> int:
        return math.ceil(math.sqrt(self.grids))

    def cells(self) -> list[tuple[int, int]]:
        return [(i % self.side, i // self.side) for i in range(self.grids)]

    def extent(self) -> tuple[float, float, float, float]:
        rows = math.ceil(self.grids / self.side)
        return WEST, SOUTH, WEST + self.side * CELL, SOUTH + rows * CELL


def grid_code(column: int, row: int) -> str:
    return f"G{column:04d}{row:04d}"


def synthetic_territory(session: Session, lattice: Lattice) -> None:
    """The lattice's district, streets, communities and grids, written with bulk inserts."""
    district = Region(code="B01", name="基准区", level=RegionLevel.DISTRICT, path="/B01/")
    session.add(district)
    session.flush()
    community_side = GRIDS_PER_COMMUNITY_SIDE
    street_side = community_side * COMMUNITIES_PER_STREET_SIDE
    streets: dict[tuple[int, int], Region] = {}
    communities: dict[tuple[int, int], Region] = {}
    for column, row in lattice.cells():
        s_key = (column // street_side, row // street_side)
        if s_key not in streets:
            code = f"B01S{s_key[0]:02d}{s_key[1]:02d}"
            streets[s_key] = Region(
                code=code, name=f"街道{code}", level=RegionLevel.STREET, parent=district, path=f"/B01/{code}/"
            )
        c_key = (column // community_side, row // community_side)
        if c_key not in communities:
            street = streets[s_key]
            code = f"{street.code}C{c_key[0]:03d}{c_key[1]:03d}"
            communities[c_key] = Region(
                code=code,
                name=f"社区{code}",
                level=RegionLevel.COMMUNITY,
                parent=street,
                path=f"{street.path}{code}/",
                boundary=box(
                    WEST + c_key[0] * community_side * CELL,
                    SOUTH + c_key[1] * community_side * CELL,
                    WEST + (c_key[0] + 1) * community_side * CELL,
                    SOUTH + (c_key[1] + 1) * community_side * CELL,
                ),
            )
    session.add_all([*streets.values(), *communities.values()])
    session.flush()
    rows = []
    for column, row in lattice.cells():
        west, south = WEST + column * CELL, SOUTH + row * CELL
        community = communities[(column // community_side, row // community_side)]
        rows.append(
            {
                "code": grid_code(column, row),
                "name": f"网格{column}-{row}",
                "kind": GridKind.COMPREHENSIVE,
                "region_id": community.id,
                "boundary": box(west, south, west + CELL, south + CELL),
            }
        )
    session.execute(insert(Grid), rows)
    territory_changed(session)


def random_points(lattice: Lattice, count: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    west, south, east, north = lattice.extent()
    rng = np.random.default_rng(seed)
    return rng.uniform(west, east, count), rng.uniform(south, north, count)


def bench_index(lattice: Lattice, count: int) -> dict[str, float]:
    """Build the index from GeoJSON, then resolve ``count`` random points in one batch."""
    shapes = [
        GridShape(i, grid_code(c, r), GridKind.COMPREHENSIVE, box(*cell_box(c, r)))
        for i, (c, r) in enumerate(lattice.cells())
    ]
    began = time.perf_counter()
    index = GridIndex(shapes)
    built = time.perf_counter() - began
    began = time.perf_counter()
    index.locate([], [])  # the batch's bucket lattice, built on first use
    buckets = time.perf_counter() - began
    lngs, lats = random_points(lattice, count, seed=1)
    began, cpu = time.perf_counter(), time.process_time()
    owners = index.locate(lngs, lats)
    resolved, resolved_cpu = time.perf_counter() - began, time.process_time() - cpu
    # Check the answers against the lattice's arithmetic (the last rows may be partly empty).
    columns = ((lngs - WEST) // CELL).astype(int)
    rows = ((lats - SOUTH) // CELL).astype(int)
    expected = rows * lattice.side + columns
    expected[expected >= lattice.grids] = -1
    found = np.array([index.grids[o].id if o >= 0 else -1 for o in owners[:10_000]])
    assert (found == expected[:10_000]).all(), "the batch placed points in the wrong grids"
    return {
        "index_build_s": round(built, 3),
        "batch_buckets_s": round(buckets, 3),
        "points": count,
        "resolve_s": round(resolved, 3),
        "points_per_s": round(count / resolved),
        "points_per_cpu_s": round(count / resolved_cpu),
        "outside": int((owners < 0).sum()),
    }


def cell_box(column: int, row: int) -> tuple[float, float, float, float]:
    west, south = WEST + column * CELL, SOUTH + row * CELL
    return west, south, west + CELL, south + CELL


def _median_us(run: Callable[[int], None], rounds: int) -> float:
    took = []
    for round_ in range(rounds):
        began = time.perf_counter()
        run(round_)
        took.append(time.perf_counter() - began)
    return statistics.median(took) * 1e6


@dataclass
class Store:
    """A SQLite file holding a lattice's territory, and how to create a case in it."""

    lattice: Lattice
    factory: Callable[[], Session]
    rules: CentreRules
    lngs: np.ndarray
    lats: np.ndarray
    index_build_s: float = 0.0

    def create(self, round_: int) -> None:
        """Create one case at the round's random point, committed, as a request does."""
        with session_scope(self.factory) as session:
            actor = session.scalar(
                select(User).options(joinedload(User.region)).where(User.username == "operator")
            )
            assert actor is not None
            at = round_ % len(self.lngs)
            data = CaseCreate(
                channel=Channel.HOTLINE_12345,
                category_code="C0101",
                title="基准",
                lng=float(self.lngs[at]),
                lat=float(self.lats[at]),
            )
            case_service.create_case(session, actor, data, self.rules, datetime.now(UTC))


def prepare_store(lattice: Lattice, rounds: int) -> Store:
    """A migrated SQLite file with the lattice's territory, the categories and an operator."""
    path = f"{tempfile.mkdtemp()}/bench_geo.db"
    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)
    factory = make_session_factory(engine)
    with session_scope(factory) as session:
        synthetic_territory(session, lattice)
        import_categories(session, load_categories(default_categories_path()))
        district = session.scalars(select(Region).where(Region.code == "B01")).one()
        session.add(
            User(
                username="operator", full_name="坐席", password_hash="-", role=Role.OPERATOR, region=district
            )
        )
    lngs, lats = random_points(lattice, rounds, seed=2)
    store = Store(
        lattice, factory, CentreRules.from_settings(Settings(database_url=f"sqlite:///{path}")), lngs, lats
    )
    with session_scope(factory) as session:
        began = time.perf_counter()
        territory_index(session, territory_mark(session))
        store.index_build_s = time.perf_counter() - began
    return store


def resolution_step_us(store: Store, rounds: int) -> float:
    """The resolution step of case creation, median µs: the cached index at the mark that
    creation reads with the category in its first statement, and the point's grids."""
    with session_scope(store.factory) as session:
        mark = territory_mark(session)
        return _median_us(
            lambda r: territory_index(session, mark).grids.place(store.lngs[r], store.lats[r]), rounds
        )


def create_side_by_side(stores: list[Store], rounds: int) -> list[float]:
    """Median µs of a committed case creation in each store, the stores taking turns at
    each round so that the disk's ups and downs fall on all of them alike."""
    took: list[list[float]] = [[] for _ in stores]
    for store in stores:
        store.create(0)  # the first creation of the process warms what is cached
    for round_ in range(1, rounds + 1):
        for position, store in enumerate(stores):
            began = time.perf_counter()
            store.create(round_)
            took[position].append(time.perf_counter() - began)
    return [statistics.median(times) * 1e6 for times in took]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--grids", type=int, default=10_000)
    parser.add_argument("--points", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=300)
    parser.add_argument("--small-grids", type=int, default=50, help="the territory compared with")
    args = parser.parse_args()
    lattice = Lattice(args.grids)
    index = bench_index(lattice, args.points)
    print(
        f"index of {args.grids:,} grids built in {index['index_build_s']} s "
        f"(+ {index['batch_buckets_s']} s for the batch's buckets); "
        f"{index['points']:,} random points resolved in {index['resolve_s']} s "
        f"= {index['points_per_s']:,} points/s, {index['points_per_cpu_s']:,} per CPU second "
        "(one batch, one core)"
    )
    stores = [prepare_store(Lattice(args.small_grids), args.rounds), prepare_store(lattice, args.rounds)]
    steps = [resolution_step_us(store, args.rounds) for store in stores]
    creates = create_side_by_side(stores, args.rounds)
    print(f"{'':34}{stores[0].lattice.grids:>12,} grids{stores[1].lattice.grids:>12,} grids")
    print(
        f"{'index build from the store (s)':34}{stores[0].index_build_s:>18.3f}{stores[1].index_build_s:>18.3f}"
    )
    print(f"{'resolution step, cached (µs)':34}{steps[0]:>18.1f}{steps[1]:>18.1f}")
    print(f"{'create a case, committed (µs)':34}{creates[0]:>18.0f}{creates[1]:>18.0f}")


if __name__ == "__main__":
    main()
