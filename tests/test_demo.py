"""The demo district: territory, people, and cases spread over every state and light, each
with a history that replays to its state."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from argon2 import PasswordHasher
from shapely.geometry import Point, shape
from shapely.ops import unary_union
from sqlalchemy import select
from sqlalchemy.orm import Session

from civicgrid.demo import DEMO_PASSWORD, load_demo
from civicgrid.domain.clock import light_at
from civicgrid.domain.errors import Conflict
from civicgrid.domain.vocabulary import (
    FINAL_STATES,
    Action,
    CaseState,
    Channel,
    GridKind,
    Light,
    RegionLevel,
    Role,
)
from civicgrid.domain.workflow import replay
from civicgrid.services.cases import CentreRules
from civicgrid.settings import Settings
from civicgrid.store.db import make_engine, make_session_factory
from civicgrid.store.migrate import upgrade
from civicgrid.store.models import Case, Category, Department, Grid, Region, User

NOW = datetime(2026, 11, 20, 10, 0, tzinfo=ZoneInfo("Asia/Shanghai"))
CASES = 150
RULES = CentreRules.from_settings(Settings())


def _load(path: Path, cases: int, seed: int = 20261124) -> tuple[str, list[tuple[str, str, str]]]:
    """Load the demo into a fresh database file; the summary and (number, title, state) of each case."""
    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)
    factory = make_session_factory(engine)
    try:
        with factory() as session:
            summary = load_demo(session, RULES, NOW, cases=cases, seed=seed)
            session.commit()
            rows = session.execute(select(Case.number, Case.title, Case.state).order_by(Case.number)).all()
    finally:
        engine.dispose()
    return summary, [(number, title, state.value) for number, title, state in rows]


@pytest.fixture(scope="module")
def loaded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Session, str]]:
    """A database holding the demo with CASES cases, read back through a new session."""
    path = tmp_path_factory.mktemp("demo") / "demo.db"
    summary, _ = _load(path, CASES)
    engine = make_engine(f"sqlite:///{path}")
    with make_session_factory(engine)() as session:
        yield session, summary
    engine.dispose()


@pytest.fixture(scope="module")
def session(loaded: tuple[Session, str]) -> Session:
    return loaded[0]


@pytest.fixture(scope="module")
def cases(session: Session) -> list[Case]:
    return list(session.scalars(select(Case).order_by(Case.number)))


def test_every_state_of_the_loop_appears(cases: list[Case]) -> None:
    assert len(cases) == CASES
    states = Counter(case.state for case in cases)
    assert set(states) == set(CaseState), f"missing: {set(CaseState) - set(states)}"
    finished = sum(states[s] for s in (CaseState.CLOSED, CaseState.REVISITED, CaseState.ARCHIVED))
    assert finished > CASES * 0.4


def test_open_cases_show_green_yellow_and_red(cases: list[Case]) -> None:
    lights = Counter(
        light_at(NOW, case.warning_at, case.deadline_at) for case in cases if case.state not in FINAL_STATES
    )
    assert lights[Light.GREEN] >= 3
    assert lights[Light.YELLOW] >= 3
    assert lights[Light.RED] >= 3
    for case in cases:
        if case.state in FINAL_STATES or case.state in (CaseState.SUSPENDED, CaseState.CHECKED):
            assert light_at(NOW, case.warning_at, case.deadline_at) is None, case.number


def test_every_history_replays_to_the_cached_state_and_ends_before_now(cases: list[Case]) -> None:
    for case in cases:
        events = case.events
        assert replay([event.action for event in events]) is case.state, case.number
        assert [event.seq for event in events] == list(range(1, len(events) + 1))
        assert events[0].at == case.created_at
        times = [event.at for event in events]
        assert times == sorted(times), case.number
        assert times[-1] <= NOW
        assert NOW - case.created_at < timedelta(days=45)
        assert events[-1].to_state is case.state


def test_every_case_lies_in_the_most_specific_grid_and_counts_in_its_overlays(
    session: Session, cases: list[Case]
) -> None:
    grids = list(session.scalars(select(Grid)))
    for case in cases:
        point = Point(case.lng, case.lat)
        covering = {grid.kind: grid for grid in grids if shape(grid.boundary).intersects(point)}
        assert case.grid is not None, case.number
        assert case.grid is covering.get(GridKind.DEDICATED, covering[GridKind.COMPREHENSIVE]), case.number
        assert shape(case.grid.boundary).contains(point), case.number
        assert case.region_id == case.grid.region_id
        overlays = [
            grid for grid in grids if grid.kind is GridKind.OVERLAY and shape(grid.boundary).intersects(point)
        ]
        assert case.overlay_grids == sorted(overlays, key=lambda grid: grid.code), case.number
    per_grid = Counter(case.grid.code for case in cases if case.grid is not None)
    dedicated = [grid for grid in grids if grid.kind is GridKind.DEDICATED]
    assert len(dedicated) == 2
    assert all(per_grid[grid.code] >= 2 for grid in dedicated), per_grid
    assert sum(bool(case.overlay_grids) for case in cases) > CASES / 4


def test_dedicated_grid_inspectors_check_their_own_cases(session: Session, cases: list[Case]) -> None:
    inspectors = {user.id: user for user in session.scalars(select(User).where(User.role == Role.INSPECTOR))}
    for case in cases:
        if case.grid is None or case.grid.kind is not GridKind.DEDICATED:
            continue
        on_site = [
            inspectors[event.actor_id]
            for event in case.events
            if event.action in (Action.VERIFY, Action.CHECK) and event.actor_id is not None
        ]
        assert all(inspector.grid_id == case.grid_id for inspector in on_site), case.number


def test_twenty_plus_twenty_five_grids_tile_the_communities(session: Session) -> None:
    grids = list(session.scalars(select(Grid)))
    kinds = Counter(grid.kind for grid in grids)
    assert kinds[GridKind.COMPREHENSIVE] == 20
    assert kinds[GridKind.OVERLAY] == 25
    street = session.scalar(select(Region).where(Region.level == RegionLevel.STREET))
    assert street is not None and street.name == "江滨街道" and street.path == "/990101/990101001/"
    communities = list(session.scalars(select(Region).where(Region.level == RegionLevel.COMMUNITY)))
    assert 5 <= len(communities) <= 6
    for community in communities:
        assert community.path == f"{street.path}{community.code}/"
        assert community.code.startswith(street.code)
    street_shape = shape(street.boundary)
    base = [shape(grid.boundary) for grid in grids if grid.kind is GridKind.COMPREHENSIVE]
    # No gaps and no overlaps: the union is the street, and the areas add up to it.
    assert unary_union(base).symmetric_difference(street_shape).area < 1e-12
    assert sum(polygon.area for polygon in base) == pytest.approx(street_shape.area, rel=1e-9)
    assert (
        unary_union([shape(c.boundary) for c in communities]).symmetric_difference(street_shape).area < 1e-12
    )
    for grid in grids:
        assert shape(grid.region.boundary).covers(shape(grid.boundary)), grid.code
        assert grid.code.startswith(f"{grid.region.code}-")
    assert all("-Z" in grid.code for grid in grids if grid.kind is GridKind.OVERLAY)
    # Roughly 2.5 km by 2 km around lng 120.16, lat 30.27.
    west, south, east, north = street_shape.bounds
    assert 0.02 < east - west < 0.03 and 0.015 < north - south < 0.022
    assert west < 120.16 < east and south < 30.27 < north


def test_one_user_of_every_role_with_the_demo_password(session: Session) -> None:
    users = list(session.scalars(select(User)))
    assert {user.role for user in users} == set(Role)
    names = {user.username for user in users}
    assert {
        "admin",
        "leader",
        "operator",
        "operator2",
        "dispatcher",
        "supervisor",
        "citizen",
        "handler_cg",
    } <= names
    assert len({user.password_hash for user in users}) == 1
    assert PasswordHasher().verify(users[0].password_hash, DEMO_PASSWORD)
    inspectors = [user for user in users if user.role is Role.INSPECTOR]
    grids = {grid.id: grid for grid in session.scalars(select(Grid))}
    # One inspector for each comprehensive grid and each dedicated grid.
    assert len(inspectors) == 22
    assert len({user.grid_id for user in inspectors}) == 22
    assert Counter(grids[user.grid_id].kind for user in inspectors) == {
        GridKind.COMPREHENSIVE: 20,
        GridKind.DEDICATED: 2,
    }
    for inspector in inspectors:
        assert inspector.username.startswith("inspector")
        assert inspector.region_id == grids[inspector.grid_id].region_id
    departments = list(session.scalars(select(Department)))
    handled = {user.department_id for user in users if user.role is Role.HANDLER}
    assert handled == {department.id for department in departments}
    assert {department.linkage_level for department in departments} == {1, 2, 3}


def test_departments_cover_every_function_the_categories_name(session: Session) -> None:
    functions = {department.function for department in session.scalars(select(Department))}
    needed = {
        category.department_function
        for category in session.scalars(select(Category).where(Category.parent_id.is_not(None)))
    }
    assert needed <= functions


def test_cases_go_to_the_department_of_their_category(cases: list[Case]) -> None:
    dispatched = [case for case in cases if case.department is not None]
    assert len(dispatched) > CASES / 2
    for case in dispatched:
        assert case.department.function is case.category.department_function, case.number
    for case in cases:
        if case.state is CaseState.REJECTED_BY_DEPARTMENT:
            assert case.department is None
            assert case.events[-1].action is Action.REJECT


def test_side_paths_are_complete(cases: list[Case]) -> None:
    for case in cases:
        if case.state is CaseState.MERGED:
            kept = case.merged_into
            assert kept is not None and kept.state not in FINAL_STATES
            assert kept.category_id == case.category_id and kept.created_at <= case.created_at
        if case.state is CaseState.JOINT:
            leads = [task for task in case.tasks if task.is_lead]
            assert len(leads) == 1 and leads[0].department_id == case.department_id
            assert any(not task.is_lead for task in case.tasks)
        if case.state is CaseState.REWORK:
            assert case.rework_count >= 1
    joint_tasks = [task for case in cases if case.state is CaseState.JOINT for task in case.tasks]
    assert any(task.done_at is not None for task in joint_tasks if not task.is_lead)
    approved = [event for case in cases for event in case.events if event.action is Action.APPROVE_EXTENSION]
    assert approved and all(event.extension_seconds > 0 for event in approved)
    revisited = [case for case in cases if case.state is CaseState.REVISITED]
    assert all(case.satisfaction is not None for case in revisited)


def test_channels_urgency_and_request_types_look_like_a_real_centre(cases: list[Case]) -> None:
    channels = Counter(case.channel for case in cases)
    assert {channel for channel, _ in channels.most_common(2)} == {Channel.HOTLINE_12345, Channel.INSPECTOR}
    assert all(case.request_type is not None for case in cases if case.channel is Channel.HOTLINE_12345)
    urgent = sum(case.urgency.value == "urgent" for case in cases)
    assert 0.03 * CASES <= urgent <= 0.2 * CASES
    assert all(any("\u4e00" <= ch <= "\u9fff" for ch in case.title) for case in cases)


def test_summary_counts_what_was_loaded(loaded: tuple[Session, str]) -> None:
    summary = loaded[1]
    assert summary.startswith("示范区江滨街道: 6 communities, 47 grids")
    assert "20 comprehensive, 25 overlay, 2 dedicated" in summary
    assert re.search(r"; [1-9]\d* in dedicated grids, [1-9]\d* also in an overlay grid;", summary), summary
    assert f"{CASES} cases" in summary


def test_loading_twice_is_refused(session: Session) -> None:
    with pytest.raises(Conflict):
        load_demo(session, RULES, NOW, cases=5)
    session.rollback()


def test_the_same_seed_gives_the_same_district(tmp_path: Path) -> None:
    first = _load(tmp_path / "a.db", 40)[1]
    again = _load(tmp_path / "b.db", 40)[1]
    other = _load(tmp_path / "c.db", 40, seed=7)[1]
    assert first == again
    assert len(first) == 40
    assert [title for _, title, _ in other] != [title for _, title, _ in first]
