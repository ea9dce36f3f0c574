"""The cached grid index: built once per territory revision and process, rebuilt when grids
are written (their boundaries too, not only their number)."""

from __future__ import annotations

from datetime import datetime

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from civicgrid.domain.vocabulary import GridKind
from civicgrid.geo import index
from civicgrid.services.cases import CentreRules
from civicgrid.store.models import Grid, TerritoryRevision, territory_changed
from tests.factories import World, new_case, square


@pytest.fixture
def builds(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """One entry per index build."""
    counted: list[int] = []
    real = index.build_index

    def counting(session: Session) -> index.Territory:
        counted.append(1)
        return real(session)

    monkeypatch.setattr(index, "build_index", counting)
    return counted


def mark(session: Session) -> str | None:
    return session.scalar(select(TerritoryRevision.mark))


def test_the_index_is_built_once_while_the_territory_is_unchanged(
    session: Session, world: World, rules: CentreRules, now: datetime, builds: list[int]
) -> None:
    for _ in range(3):
        assert new_case(session, world, rules, now).grid is world.grids["g1"]
    assert len(builds) == 1


def test_a_case_after_a_boundary_change_lands_in_the_new_grid(
    session: Session, world: World, rules: CentreRules, now: datetime, builds: list[int]
) -> None:
    assert new_case(session, world, rules, now).grid is world.grids["g1"]
    before = mark(session)
    # Same number of grids, same ids: only the boundaries move.
    world.grids["g1"].boundary = square(120.50, 30.50)
    world.grids["g2"].boundary = square(120.00, 30.00)
    session.flush()
    assert mark(session) != before
    assert new_case(session, world, rules, now).grid is world.grids["g2"]
    assert len(builds) == 2


def test_a_new_grid_is_found_and_a_core_write_names_its_change(
    session: Session, world: World, rules: CentreRules, now: datetime, builds: list[int]
) -> None:
    new_case(session, world, rules, now)
    school = Grid(
        code="T010101-D01",
        name="东湖小学",
        kind=GridKind.DEDICATED,
        region=world.regions["c1"],
        boundary=square(120.004, 30.004, 0.002),
    )
    session.add(school)
    assert new_case(session, world, rules, now).grid is school
    before = mark(session)
    territory_changed(session)
    assert mark(session) != before
    new_case(session, world, rules, now)
    assert len(builds) == 3
