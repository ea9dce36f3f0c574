"""Regions and grids one at a time: read, rename, retire, and who serves each grid (网格员,
网格长). Admins manage the places of their own region's subtree; every staff member reads
them, with the open cases they may see."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from civicgrid.domain.errors import Conflict, InvalidInput, RoleNotAllowed
from civicgrid.domain.vocabulary import FINAL_STATES, GridDuty, Role
from civicgrid.schemas import GridPatch, GridStaffIn
from civicgrid.services.directory import apply_changes, require_admin
from civicgrid.store.lookups import edited_by_code
from civicgrid.store.models import Case, Grid, GridStaff, Region, User
from civicgrid.store.scoping import managed_users, region_in_scope, scoped

#: Roles that may lead a grid (网格长): staff of a region, not a department's handler.
LEADER_ROLES = frozenset(
    {Role.INSPECTOR, Role.LEADER, Role.SUPERVISOR, Role.ADMIN, Role.DISPATCHER, Role.OPERATOR}
)


def staff_problem(user: User | None, name: str, duty: GridDuty, region: Region) -> str | None:
    """Why ``user`` cannot serve a grid of ``region`` as ``duty``, or None: an inspector
    (网格员) has the inspector role, a leader (网格长) a region staff role, and both work in
    a region that holds the grid."""
    if user is None:
        return f"no user {name!r} (create the users before naming them as grid staff)"
    allowed = {Role.INSPECTOR} if duty is GridDuty.INSPECTOR else LEADER_ROLES
    if user.role not in allowed or not user.is_active:
        return f"user {name!r} ({user.role.value}) cannot be the grid's {duty.value}"
    if user.region is None or not region.path.startswith(user.region.path):
        return f"user {name!r} works outside region {region.code!r}"
    return None


def _require_manager(actor: User, region: Region) -> None:
    require_admin(actor)
    if not region_in_scope(region, actor):
        raise RoleNotAllowed(f"region {region.code} is outside your scope")


def _require_staff(actor: User) -> None:
    if actor.role is Role.CITIZEN:
        raise RoleNotAllowed("grids and their staff are shown to staff only")


def rename_region(session: Session, actor: User, code: str, name: str) -> Region:
    """Give a region of the admin's subtree a new name."""
    region = edited_by_code(session, Region, code)
    _require_manager(actor, region)
    region.name = name
    session.flush()
    return region


def retire_region(session: Session, actor: User, code: str, now: datetime) -> Region:
    """Retire a region of the admin's subtree: it stays for the cases and history that name
    it, but takes nothing new. Refused while a region or grid under it is in use."""
    region = edited_by_code(session, Region, code)
    _require_manager(actor, region)
    if region.retired_at is not None:
        return region
    busy = session.scalar(
        select(Region.code).where(Region.parent_id == region.id, Region.retired_at.is_(None)).limit(1)
    ) or session.scalar(
        select(Grid.code).where(Grid.region_id == region.id, Grid.retired_at.is_(None)).limit(1)
    )
    if busy:
        raise Conflict(f"region {code} still has {busy} in use: retire what lies under it first")
    region.retired_at = now
    session.flush()
    return region


def grid_in_view(session: Session, actor: User, code: str) -> Grid:
    """A grid with its region and staff, for any staff member (or NotFound)."""
    _require_staff(actor)
    grid = edited_by_code(session, Grid, code)
    return grid


def update_grid(session: Session, actor: User, code: str, data: GridPatch) -> Grid:
    """Rename a grid of the admin's subtree, or set its overlay group (null clears it)."""
    grid = edited_by_code(session, Grid, code)
    _require_manager(actor, grid.region)
    apply_changes(grid, data.model_dump(exclude_unset=True), nullable=frozenset({"overlay_group"}))
    session.flush()
    return grid


def retire_grid(session: Session, actor: User, code: str, now: datetime) -> Grid:
    """Retire a grid of the admin's subtree: its cases keep it; new cases no longer land in it."""
    grid = edited_by_code(session, Grid, code)
    _require_manager(actor, grid.region)
    if grid.retired_at is None:
        grid.retired_at = now
        session.flush()
    return grid


def set_staff(session: Session, actor: User, code: str, data: GridStaffIn) -> Grid:
    """Make a grid's inspectors and leader exactly those named: users the admin manages, of
    the right role, working in a region that holds the grid."""
    grid = edited_by_code(session, Grid, code)
    _require_manager(actor, grid.region)
    if grid.retired_at is not None:
        raise Conflict(f"grid {code} is retired")
    duties = [(name, GridDuty.INSPECTOR) for name in dict.fromkeys(data.inspectors)]
    duties += [(data.leader, GridDuty.LEADER)] if data.leader else []
    names = {name for name, _ in duties}
    query = managed_users(select(User).where(User.username.in_(names)), actor)
    users = {u.username: u for u in session.scalars(query.options(selectinload(User.region)))}
    wanted = set()
    for name, duty in duties:
        problem = staff_problem(users.get(name), name, duty, grid.region)
        if problem:
            raise InvalidInput(problem)
        wanted.add((users[name].id, duty))
    have = {(s.user_id, s.duty): s for s in grid.staff}
    for key, row in have.items():
        if key not in wanted:
            grid.staff.remove(row)
    for user_id, duty in sorted(wanted - have.keys()):
        grid.staff.append(GridStaff(user_id=user_id, duty=duty))
    session.flush()
    session.refresh(grid, ["staff"])
    return grid


def open_case_counts(session: Session, actor: User, grid_ids: Sequence[int] | None = None) -> dict[int, int]:
    """Open cases per grid id, of those ``actor`` may see (grids without any are absent)."""
    query = scoped(select(Case).where(Case.state.not_in(FINAL_STATES), Case.grid_id.is_not(None)), actor)
    if grid_ids is not None:
        query = query.where(Case.grid_id.in_(grid_ids))
    counted = query.with_only_columns(Case.grid_id, func.count()).group_by(Case.grid_id)
    return {grid_id: count for grid_id, count in session.execute(counted)}


@dataclass(frozen=True)
class ServedGrid:
    """A grid the actor serves, and as what."""

    grid: Grid
    duty: GridDuty


def my_grids(session: Session, actor: User) -> list[ServedGrid]:
    """The grids ``actor`` serves as inspector or leader, by code (retired ones left out)."""
    rows = session.execute(
        select(Grid, GridStaff.duty)
        .join(GridStaff, GridStaff.grid_id == Grid.id)
        .where(GridStaff.user_id == actor.id, Grid.retired_at.is_(None))
        .options(selectinload(Grid.region))
        .order_by(Grid.code, GridStaff.duty)
    )
    return [ServedGrid(grid, duty) for grid, duty in rows]
