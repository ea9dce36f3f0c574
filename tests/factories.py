"""Factories: a small territory (district → street → communities, grids), departments,
one user per role and the default categories, for tests to build on."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from functools import cache
from typing import Any

from sqlalchemy.orm import Session

from civicgrid.catalog import default_categories_path, load_categories
from civicgrid.domain.vocabulary import (
    Channel,
    DepartmentFunction,
    DepartmentLevel,
    GridKind,
    RegionLevel,
    Role,
)
from civicgrid.schemas import CaseCreate, TransitionRequest
from civicgrid.services import cases as case_service
from civicgrid.services.auth import hash_password
from civicgrid.services.categories import import_categories
from civicgrid.store.models import Case, Department, Grid, Region, User

PASSWORD = "correct-horse-battery"


def square(lng: float, lat: float, size: float = 0.01) -> dict[str, Any]:
    """A GeoJSON square polygon with its south-west corner at (lng, lat)."""
    ring = [[lng, lat], [lng + size, lat], [lng + size, lat + size], [lng, lat + size], [lng, lat]]
    return {"type": "Polygon", "coordinates": [ring]}


@dataclass
class World:
    """What the factories built, by short name."""

    regions: dict[str, Region] = field(default_factory=dict)
    grids: dict[str, Grid] = field(default_factory=dict)
    departments: dict[str, Department] = field(default_factory=dict)
    users: dict[str, User] = field(default_factory=dict)


def region(session: Session, code: str, name: str, level: RegionLevel, parent: Region | None) -> Region:
    """A region under ``parent``."""
    row = Region(
        code=code, name=name, level=level, parent=parent, path=f"{parent.path if parent else '/'}{code}/"
    )
    session.add(row)
    return row


@cache
def password_hash() -> str:
    """The test password's hash, computed once (argon2 is slow on purpose)."""
    return hash_password(PASSWORD)


def user(session: Session, username: str, role: Role, **scope: Any) -> User:
    """A user with the test password."""
    row = User(username=username, full_name=username, password_hash=password_hash(), role=role, **scope)
    session.add(row)
    return row


def build_world(session: Session) -> World:
    """Two streets of one district, so that scope can be tested: 东湖 (two communities with
    one grid each) and 西山 (one community, one grid); street departments of each and one
    district department; a user per role, and an admin per street besides the district's."""
    world = World()
    district = region(session, "T01", "测试区", RegionLevel.DISTRICT, None)
    east = region(session, "T0101", "东湖街道", RegionLevel.STREET, district)
    west = region(session, "T0102", "西山街道", RegionLevel.STREET, district)
    c1 = region(session, "T010101", "东湖一社区", RegionLevel.COMMUNITY, east)
    c2 = region(session, "T010102", "东湖二社区", RegionLevel.COMMUNITY, east)
    c3 = region(session, "T010201", "西山社区", RegionLevel.COMMUNITY, west)
    world.regions.update(district=district, east=east, west=west, c1=c1, c2=c2, c3=c3)
    for key, code, community, corner in (
        ("g1", "T010101-01", c1, (120.00, 30.00)),
        ("g2", "T010102-01", c2, (120.01, 30.00)),
        ("g3", "T010201-01", c3, (120.10, 30.00)),
    ):
        grid = Grid(
            code=code,
            name=f"{community.name}网格",
            kind=GridKind.COMPREHENSIVE,
            region=community,
            boundary=square(*corner),
        )
        session.add(grid)
        world.grids[key] = grid
    for key, code, name, function, street in (
        ("cg", "D-CG-E", "东湖城管中队", DepartmentFunction.URBAN_MANAGEMENT, east),
        ("sz", "D-SZ-E", "东湖市政所", DepartmentFunction.MUNICIPAL, east),
        ("hw", "D-HW-E", "东湖环卫所", DepartmentFunction.SANITATION, east),
        ("cg_west", "D-CG-W", "西山城管中队", DepartmentFunction.URBAN_MANAGEMENT, west),
    ):
        department = Department(
            code=code,
            name=name,
            function=function,
            level=DepartmentLevel.STREET,
            region=street,
            linkage_level=2,
            is_active=True,
        )
        session.add(department)
        world.departments[key] = department
    world.departments["cg_district"] = Department(
        code="D-CG-D",
        name="区城管执法局",
        function=DepartmentFunction.URBAN_MANAGEMENT,
        level=DepartmentLevel.DISTRICT,
        region=district,
        linkage_level=1,
        is_active=True,
    )
    session.add(world.departments["cg_district"])
    for key, role, scope in (
        ("operator", Role.OPERATOR, {"region": east}),
        ("dispatcher", Role.DISPATCHER, {"region": east}),
        ("inspector", Role.INSPECTOR, {"region": east}),
        ("supervisor", Role.SUPERVISOR, {"region": east}),
        ("leader", Role.LEADER, {"region": district}),
        ("admin", Role.ADMIN, {"region": district}),
        ("admin_east", Role.ADMIN, {"region": east}),
        ("admin_west", Role.ADMIN, {"region": west}),
        ("handler_cg", Role.HANDLER, {"department": world.departments["cg"], "region": east}),
        ("handler_sz", Role.HANDLER, {"department": world.departments["sz"], "region": east}),
        ("handler_hw", Role.HANDLER, {"department": world.departments["hw"], "region": east}),
        ("dispatcher_west", Role.DISPATCHER, {"region": west}),
        ("operator_west", Role.OPERATOR, {"region": west}),
        ("district_dispatcher", Role.DISPATCHER, {"region": district}),
        ("citizen", Role.CITIZEN, {}),
    ):
        world.users[key] = user(session, key, role, **scope)
    import_categories(session, load_categories(default_categories_path()))
    session.flush()
    return world


def new_case(
    session: Session,
    world: World,
    rules: case_service.CentreRules,
    now: datetime,
    *,
    actor: str = "operator",
    category: str = "C0101",
    **fields: Any,
) -> Case:
    """A reported case in 东湖一社区's grid, by the operator unless told otherwise."""
    data = {
        "channel": Channel.HOTLINE_12345,
        "category_code": category,
        "title": "井盖缺失",
        "lng": 120.005,
        "lat": 30.005,
        **fields,
    }
    return case_service.create_case(session, world.users[actor], CaseCreate(**data), rules, now)


def act(
    session: Session,
    world: World,
    rules: case_service.CentreRules,
    case: Case,
    actor: str,
    action: str,
    now: datetime,
    **fields: Any,
) -> Case:
    """``actor`` takes ``action`` on ``case``."""
    from civicgrid.domain.vocabulary import Action

    return case_service.transition(
        session, world.users[actor], case.number, Action(action), TransitionRequest(**fields), rules, now
    )
