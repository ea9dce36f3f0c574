"""Importing and exporting the territory on each database: in place by code, never
orphaning a case, all or nothing."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest
from shapely.geometry import Point, shape
from sqlalchemy import select
from sqlalchemy.orm import Session

from civicgrid.demo import load_demo
from civicgrid.geo.territory_file import TerritoryFeature, read_territory, write_geojson, write_shapefile_zip
from civicgrid.services.cases import CentreRules
from civicgrid.services.territory import TerritoryRefused, export_features, import_territory
from civicgrid.store.models import Case, Grid, GridStaff, Region, TerritoryRevision, User
from tests.factories import World, new_case
from tests.geo.territory_data import box, encoded, small_territory, spoiled


def features_of(document: dict[str, Any]) -> list[TerritoryFeature]:
    return read_territory(encoded(document), "t.geojson", 10**8)


def snapshot(session: Session) -> list[Any]:
    """Every row of the territory's tables, to compare before and after."""
    session.expire_all()
    regions = session.execute(
        select(Region.id, Region.code, Region.name, Region.path, Region.boundary, Region.retired_at).order_by(
            Region.id
        )
    ).all()
    grids = session.execute(
        select(Grid.id, Grid.code, Grid.name, Grid.region_id, Grid.boundary, Grid.retired_at).order_by(
            Grid.id
        )
    ).all()
    staff = session.execute(
        select(GridStaff.grid_id, GridStaff.user_id, GridStaff.duty).order_by(GridStaff.grid_id)
    ).all()
    mark = session.scalar(select(TerritoryRevision.mark))
    return [regions, grids, staff, mark]


def world_document(session: Session) -> dict[str, Any]:
    """The test world's territory, as export-territory writes it."""
    import json

    return json.loads(write_geojson(export_features(session)))


def without(document: dict[str, Any], *codes: str) -> dict[str, Any]:
    document["features"] = [f for f in document["features"] if f["properties"]["code"] not in codes]
    return document


def test_a_new_territory_is_added_and_what_the_file_lacks_goes(
    session: Session, world: World, now: datetime
) -> None:
    report = import_territory(session, features_of(small_territory()), now)
    assert report.written and report.errors == []
    assert (report.regions.added, report.grids.added) == (4, 5)
    # The world's grids had no cases: deleted; its communities then held nothing: deleted;
    # its district and streets have users and departments: retired.
    assert (report.grids.deleted, report.regions.deleted, report.regions.retired) == (3, 3, 3)
    community = session.scalar(select(Region).where(Region.code == "990201001002"))
    assert community is not None and community.path == "/990201/990201001/990201001002/"
    grid = session.scalar(select(Grid).where(Grid.code == "990201001002-Z01"))
    assert grid is not None and grid.overlay_group == "self_governance" and grid.region_id == community.id
    assert world.regions["east"].retired_at == now


def test_a_re_import_of_the_same_file_changes_nothing(session: Session, world: World, now: datetime) -> None:
    import_territory(session, features_of(small_territory()), now)
    before = snapshot(session)[:3]
    report = import_territory(session, features_of(small_territory()), now)
    assert (report.regions.unchanged, report.grids.unchanged) == (4, 5)
    assert (report.regions.updated, report.grids.updated, report.grids.added) == (0, 0, 0)
    assert snapshot(session)[:3] == before


def test_a_re_import_updates_in_place_by_code(session: Session, world: World, now: datetime) -> None:
    import_territory(session, features_of(small_territory()), now)
    grid_id = session.scalar(select(Grid.id).where(Grid.code == "990201001001-01"))
    moved = spoiled(4, name="东门社区一网格", geometry=box(121.40, 31.20, 121.411, 31.22))
    moved["features"][5]["geometry"] = box(121.411, 31.20, 121.42, 31.22)
    report = import_territory(session, features_of(moved), now)
    assert report.grids.updated == 2
    grid = session.get(Grid, grid_id)
    assert grid is not None and grid.name == "东门社区一网格"
    assert shape(grid.boundary).bounds[2] == pytest.approx(121.411)


def test_a_grid_with_cases_is_retired_and_its_cases_keep_it(
    session: Session, world: World, rules: CentreRules, now: datetime
) -> None:
    case = new_case(session, world, rules, now)
    assert case.grid_id == world.grids["g1"].id
    report = import_territory(session, features_of(without(world_document(session), "T010101-01")), now)
    assert (report.grids.retired, report.grids.deleted, report.grids.unchanged) == (1, 0, 2)
    session.refresh(case)
    assert case.grid_id == world.grids["g1"].id and world.grids["g1"].retired_at == now
    # Left out again (the export leaves retired grids out), it stays retired, counted once;
    # named again, it comes back into use.
    report = import_territory(session, features_of(world_document(session)), now)
    back = import_territory(session, features_of(_with_grid_of(session, world)), now)
    assert back.grids.updated == 1 and world.grids["g1"].retired_at is None
    assert report.grids.retired == 0


def _with_grid_of(session: Session, world: World) -> dict[str, Any]:
    document = world_document(session)
    document["features"].append(
        {
            "type": "Feature",
            "properties": {
                "code": "T010101-01",
                "name": "x",
                "level": "grid",
                "parent": "T010101",
                "kind": "comprehensive",
            },
            "geometry": world.grids["g1"].boundary,
        }
    )
    return document


def test_a_region_with_cases_is_retired_not_deleted(
    session: Session, world: World, rules: CentreRules, now: datetime
) -> None:
    new_case(session, world, rules, now)
    report = import_territory(
        session, features_of(without(world_document(session), "T010101", "T010101-01")), now
    )
    assert report.regions.retired == 1 and world.regions["c1"].retired_at == now


def test_a_refused_import_changes_nothing(session: Session, world: World, now: datetime) -> None:
    before = snapshot(session)
    with pytest.raises(TerritoryRefused) as refused:
        import_territory(session, features_of(spoiled(4, kind="special")), now)
    assert refused.value.detail["errors"][0]["index"] == 4  # type: ignore[index]
    assert snapshot(session) == before
    # An error found only while writing (an unknown inspector) rolls back what was written.
    with pytest.raises(TerritoryRefused) as refused:
        import_territory(session, features_of(spoiled(8, inspectors=["nobody"])), now)
    assert refused.value.report.errors[0].message.startswith("no user 'nobody'")
    assert snapshot(session) == before


def test_a_check_reports_what_an_import_would_do_and_writes_nothing(
    session: Session, world: World, now: datetime
) -> None:
    before = snapshot(session)
    report = import_territory(session, features_of(small_territory()), now, check_only=True)
    assert not report.written and (report.regions.added, report.grids.added, report.grids.deleted) == (
        4,
        5,
        3,
    )
    assert snapshot(session) == before


def test_an_import_gives_the_territory_a_new_revision_mark(
    session: Session, world: World, now: datetime
) -> None:
    mark = session.scalar(select(TerritoryRevision.mark))
    import_territory(session, features_of(small_territory()), now)
    assert session.scalar(select(TerritoryRevision.mark)) != mark


def test_grid_staff_come_from_the_file(session: Session, world: World, now: datetime) -> None:
    document = world_document(session)
    grid = next(f for f in document["features"] if f["properties"]["code"] == "T010101-01")
    grid["properties"].update(inspectors=["inspector"], leader="supervisor")
    import_territory(session, features_of(document), now)
    staff = {(s.user.username, s.duty.value) for s in world.grids["g1"].staff}
    assert staff == {("inspector", "inspector"), ("supervisor", "leader")}
    # Without the keys the staff stay; with an empty list they go.
    for key in ("inspectors", "leader"):
        grid["properties"].pop(key)
    import_territory(session, features_of(document), now)
    assert len(world.grids["g1"].staff) == 2
    grid["properties"]["inspectors"] = []
    report = import_territory(session, features_of(document), now)
    assert report.grids.updated == 1 and world.grids["g1"].staff == []


@pytest.mark.parametrize(
    ("inspectors", "leader", "expected"),
    [
        (["dispatcher"], None, "user 'dispatcher' (dispatcher) cannot be the grid's inspector"),
        ([], "handler_cg", "user 'handler_cg' (handler) cannot be the grid's leader"),
        ([], "citizen", "user 'citizen' (citizen) cannot be the grid's leader"),
    ],
)
def test_grid_staff_of_the_wrong_role_are_refused(
    session: Session, world: World, now: datetime, inspectors: list[str], leader: str | None, expected: str
) -> None:
    document = world_document(session)
    grid = next(f for f in document["features"] if f["properties"]["code"] == "T010101-01")
    grid["properties"].update(inspectors=inspectors, leader=leader)
    with pytest.raises(TerritoryRefused) as refused:
        import_territory(session, features_of(document), now)
    assert [str(p) for p in refused.value.report.errors] == [
        f"feature {grid_index(document)} (T010101-01): {expected}"
    ]


def grid_index(document: dict[str, Any]) -> int:
    return next(i for i, f in enumerate(document["features"]) if f["properties"]["code"] == "T010101-01")


def test_an_inspector_of_another_street_is_refused(session: Session, world: World, now: datetime) -> None:
    from civicgrid.domain.vocabulary import Role
    from tests.factories import user

    user(session, "inspector_west", Role.INSPECTOR, region=world.regions["west"])
    session.flush()
    document = world_document(session)
    document["features"][grid_index(document)]["properties"]["inspectors"] = ["inspector_west"]
    with pytest.raises(TerritoryRefused) as refused:
        import_territory(session, features_of(document), now)
    assert "user 'inspector_west' works outside region 'T010101'" in str(refused.value.report.errors[0])


def test_a_community_moved_to_another_street_gets_its_new_path(
    session: Session, world: World, now: datetime
) -> None:
    document = world_document(session)
    moved = next(f for f in document["features"] if f["properties"]["code"] == "T010102")
    moved["properties"]["parent"] = "T0102"
    for street in document["features"]:
        if street["properties"]["code"] == "T0102":
            street["geometry"] = None  # the streets have no boundaries in the test world
    import_territory(session, features_of(document), now)
    assert world.regions["c2"].path == "/T01/T0102/T010102/"


def test_the_demo_territory_exports_and_imports_unchanged(
    session: Session, rules: CentreRules, now: datetime
) -> None:
    load_demo(session, rules, now, cases=12, seed=7)
    before = snapshot(session)[:3]
    for data, name in (
        (write_geojson(export_features(session)), "demo.geojson"),
        (write_shapefile_zip(export_features(session)), "demo.zip"),
    ):
        report = import_territory(session, read_territory(data, name, 10**8), now)
        assert report.errors == [] and report.warnings == [] and report.repairs == []
        assert (report.regions.unchanged, report.grids.unchanged) == (8, 47)
        assert report.regions.updated + report.grids.updated + report.grids.added == 0
        assert snapshot(session)[:3] == before
    for case in session.scalars(select(Case).where(Case.lng.is_not(None))):
        assert case.grid is not None and shape(case.grid.boundary).covers(Point(case.lng, case.lat))
    assert session.scalar(select(User.id).join(GridStaff, GridStaff.user_id == User.id).limit(1)) is not None
