"""Placing a new case: its grid's inspector, retired grids, points in no grid, points outside
the territory, and the cached index refreshed when another process changes the territory."""

from __future__ import annotations

import multiprocessing
from dataclasses import replace
from datetime import UTC, datetime

import pytest
import shapely
from sqlalchemy import Engine, select, update
from sqlalchemy.orm import Session

from civicgrid.domain.errors import InvalidInput
from civicgrid.domain.vocabulary import GridDuty
from civicgrid.geo import index
from civicgrid.services.cases import CentreRules
from civicgrid.services.territory import export_features, import_territory
from civicgrid.settings import Settings
from civicgrid.store.db import make_engine
from civicgrid.store.geo import territory_mark
from civicgrid.store.models import Grid, GridStaff, Region, territory_changed
from tests.factories import World, build_world, new_case, square


def test_a_new_case_gets_the_first_active_inspector_of_its_grid(
    session: Session, world: World, rules: CentreRules, now: datetime
) -> None:
    g1 = world.grids["g1"]
    first, second = world.users["inspector"], world.users["supervisor"]
    assert first.id < second.id
    session.add_all(
        [
            GridStaff(grid=g1, user=second, duty=GridDuty.INSPECTOR),
            GridStaff(grid=g1, user=first, duty=GridDuty.INSPECTOR),
            GridStaff(grid=g1, user=world.users["leader"], duty=GridDuty.LEADER),
        ]
    )
    session.flush()
    assert new_case(session, world, rules, now).inspector is first
    first.is_active = False
    session.flush()
    assert new_case(session, world, rules, now).inspector is second
    # A grid without an inspector leaves it open; so does a case placed by region alone.
    assert new_case(session, world, rules, now, lng=120.015, lat=30.005).inspector is None
    assert new_case(session, world, rules, now, lng=None, lat=None, region_code="T010101").inspector is None


def test_a_retired_grid_takes_no_new_cases(
    session: Session, world: World, rules: CentreRules, now: datetime
) -> None:
    world.grids["g1"].retired_at = datetime(2026, 9, 1, tzinfo=UTC)
    world.regions["c1"].boundary = square(120.00, 30.00)
    session.flush()
    case = new_case(session, world, rules, now)
    assert case.grid is None and case.region is world.regions["c1"]  # its community keeps the point
    with pytest.raises(InvalidInput, match="grid T010101-01 is retired"):
        new_case(session, world, rules, now, lng=None, lat=None, grid_code="T010101-01")


def test_a_point_in_a_community_between_grids_goes_to_the_community(
    session: Session, world: World, rules: CentreRules, now: datetime
) -> None:
    world.regions["east"].boundary = square(120.00, 30.00, 0.05)
    world.regions["c2"].boundary = square(120.01, 30.00, 0.02)
    session.flush()
    case = new_case(session, world, rules, now, lng=120.025, lat=30.015)
    assert case.grid is None and case.region is world.regions["c2"]
    case = new_case(session, world, rules, now, lng=120.045, lat=30.045)
    assert case.region is world.regions["east"]


def test_a_point_outside_the_territory_goes_to_the_district_when_the_setting_says_so(
    session: Session, world: World, rules: CentreRules, now: datetime
) -> None:
    with pytest.raises(InvalidInput, match=r"point \(121.500000, 31.200000\)"):
        new_case(session, world, rules, now, actor="district_dispatcher", lng=121.5, lat=31.2)
    to_district = replace(rules, outside_territory="district")
    case = new_case(session, world, to_district, now, actor="district_dispatcher", lng=121.5, lat=31.2)
    assert case.grid is None and case.region is world.regions["district"]
    assert (case.lng, case.lat) == (121.5, 31.2)


def test_the_setting_is_read_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CIVICGRID_OUTSIDE_TERRITORY", "district")
    assert CentreRules.from_settings(Settings()).outside_territory == "district"
    monkeypatch.setenv("CIVICGRID_OUTSIDE_TERRITORY", "ignore")
    with pytest.raises(ValueError, match="outside_territory"):
        Settings()


# --- the index seen by two processes -------------------------------------------------------


def _move_first_grid(url: str) -> None:
    """In another process: re-import the territory with 东湖一社区's grid moved far east."""
    engine = make_engine(url)
    with Session(engine) as session:
        features = [
            replace(f, geometry=shapely.geometry.shape(square(120.50, 30.50)))
            if f.code == "T010101-01"
            else f
            for f in export_features(session)
        ]
        report = import_territory(session, features, datetime.now(UTC))
        assert report.grids.updated == 1, report.summary()
        session.commit()
    engine.dispose()


def _owner(engine: Engine, lng: float, lat: float) -> str | None:
    with Session(engine) as session:
        found = index.territory_index(session, territory_mark(session)).grids.place(lng, lat).grid
        return found.code if found else None


def test_a_territory_change_in_another_process_rebuilds_this_process_index(fresh_engine: Engine) -> None:
    with Session(fresh_engine) as session:
        build_world(session)
        session.commit()
    assert _owner(fresh_engine, 120.005, 30.005) == "T010101-01"
    assert _owner(fresh_engine, 120.505, 30.505) is None
    url = fresh_engine.url.render_as_string(hide_password=False)
    worker = multiprocessing.get_context("spawn").Process(target=_move_first_grid, args=(url,))
    worker.start()
    worker.join(timeout=120)
    assert worker.exitcode == 0
    assert _owner(fresh_engine, 120.005, 30.005) is None
    assert _owner(fresh_engine, 120.505, 30.505) == "T010101-01"


def test_a_core_write_that_names_its_change_is_seen_and_retired_grids_leave_the_index(
    fresh_engine: Engine,
) -> None:
    with Session(fresh_engine) as session:
        build_world(session)
        session.commit()
    assert _owner(fresh_engine, 120.005, 30.005) == "T010101-01"
    with Session(fresh_engine) as session:
        session.execute(update(Grid).where(Grid.code == "T010101-01").values(retired_at=datetime.now(UTC)))
        territory_changed(session)
        session.commit()
    assert _owner(fresh_engine, 120.005, 30.005) is None
    with Session(fresh_engine) as session:
        region = session.scalars(select(Region).where(Region.code == "T010101")).one()
        region.retired_at = datetime.now(UTC)
        session.commit()
    with Session(fresh_engine) as session:
        territory = index.territory_index(session, territory_mark(session))
        assert "T010101" not in {r.code for r in territory.regions.values()}
