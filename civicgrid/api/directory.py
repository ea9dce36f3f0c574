"""Reference data routes: regions, grids, departments, users, categories, labels."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from civicgrid.api.deps import Actor, AdminFirst, DbSession, Now
from civicgrid.api.errors import ERROR_RESPONSES
from civicgrid.api.present import (
    category_out,
    department_out,
    grid_detail,
    grid_out,
    region_detail,
    user_out,
)
from civicgrid.domain import vocabulary as v
from civicgrid.schemas import (
    CategoryIn,
    CategoryOut,
    CategoryPatch,
    DepartmentIn,
    DepartmentOut,
    DepartmentPatch,
    GridDetail,
    GridOut,
    GridPatch,
    GridStaffIn,
    MyGridOut,
    RegionDetail,
    RegionOut,
    RegionPatch,
    UserIn,
    UserOut,
    UserPatch,
)
from civicgrid.services import auth, categories, directory, places
from civicgrid.store.lookups import edited_by_code
from civicgrid.store.models import Grid, Region

router = APIRouter(prefix="/api/v1", tags=["directory"], responses=ERROR_RESPONSES)


@router.get("/regions", response_model=list[RegionOut], summary="The region tree, top down")
def list_regions(
    session: DbSession,
    _actor: Actor,
    retired: Annotated[bool, Query(description="include retired regions")] = False,
) -> list[RegionOut]:
    query = select(Region).order_by(Region.path)
    if not retired:
        query = query.where(Region.retired_at.is_(None))
    return [RegionOut.model_validate(region) for region in session.scalars(query)]


@router.get("/regions/{code}", response_model=RegionDetail, summary="A region, with its boundary")
def get_region(code: str, session: DbSession, _actor: Actor) -> RegionDetail:
    return region_detail(edited_by_code(session, Region, code))


@router.patch("/regions/{code}", response_model=RegionDetail, summary="Rename a region (admin)")
def rename_region(code: str, data: RegionPatch, session: DbSession, actor: Actor) -> RegionDetail:
    return region_detail(places.rename_region(session, actor, code, data.name))


@router.post(
    "/regions/{code}/retire",
    response_model=RegionDetail,
    summary="Retire a region with nothing in use under it (admin)",
)
def retire_region(code: str, session: DbSession, actor: Actor, now: Now) -> RegionDetail:
    return region_detail(places.retire_region(session, actor, code, now))


@router.get("/grids", response_model=list[GridOut], summary="The grids, optionally with polygons")
def list_grids(
    session: DbSession,
    actor: Actor,
    boundary: Annotated[bool, Query()] = False,
    open_cases: Annotated[bool, Query(description="count each grid's open cases you may see")] = False,
    retired: Annotated[bool, Query(description="include retired grids")] = False,
) -> list[GridOut]:
    query = select(Grid).options(selectinload(Grid.region)).order_by(Grid.code)
    if not retired:
        query = query.where(Grid.retired_at.is_(None))
    grids = list(session.scalars(query))
    counts = places.open_case_counts(session, actor) if open_cases else None
    return [grid_out(grid, boundary, counts) for grid in grids]


@router.get("/grids/{code}", response_model=GridDetail, summary="A grid, its staff and open cases (staff)")
def get_grid(code: str, session: DbSession, actor: Actor) -> GridDetail:
    grid = places.grid_in_view(session, actor, code)
    return grid_detail(grid, places.open_case_counts(session, actor, [grid.id]))


@router.patch(
    "/grids/{code}", response_model=GridDetail, summary="Rename a grid or set its overlay group (admin)"
)
def update_grid(code: str, data: GridPatch, session: DbSession, actor: Actor) -> GridDetail:
    grid = places.update_grid(session, actor, code, data)
    return grid_detail(grid, places.open_case_counts(session, actor, [grid.id]))


@router.post("/grids/{code}/retire", response_model=GridDetail, summary="Retire a grid (admin)")
def retire_grid(code: str, session: DbSession, actor: Actor, now: Now) -> GridDetail:
    grid = places.retire_grid(session, actor, code, now)
    return grid_detail(grid, places.open_case_counts(session, actor, [grid.id]))


@router.put(
    "/grids/{code}/staff",
    response_model=GridDetail,
    summary="Set a grid's inspectors (网格员) and leader (网格长) (admin)",
)
def set_grid_staff(code: str, data: GridStaffIn, session: DbSession, actor: Actor) -> GridDetail:
    grid = places.set_staff(session, actor, code, data)
    return grid_detail(grid, places.open_case_counts(session, actor, [grid.id]))


@router.get("/me/grids", response_model=list[MyGridOut], summary="The grids you serve, with their open cases")
def my_grids(session: DbSession, actor: Actor) -> list[MyGridOut]:
    served = places.my_grids(session, actor)
    counts = places.open_case_counts(session, actor, [s.grid.id for s in served])
    return [MyGridOut(**grid_out(s.grid, False, counts).model_dump(), duty=s.duty) for s in served]


@router.get("/departments", response_model=list[DepartmentOut], summary="All departments")
def list_departments(session: DbSession, _actor: Actor) -> list[DepartmentOut]:
    return [department_out(d) for d in directory.list_departments(session)]


@router.post("/departments", status_code=201, response_model=DepartmentOut, summary="Add a department")
def create_department(data: DepartmentIn, session: DbSession, actor: Actor) -> DepartmentOut:
    return department_out(directory.create_department(session, actor, data))


@router.patch("/departments/{code}", response_model=DepartmentOut, summary="Edit a department")
def update_department(code: str, data: DepartmentPatch, session: DbSession, actor: Actor) -> DepartmentOut:
    return department_out(directory.update_department(session, actor, code, data))


@router.get("/users", response_model=list[UserOut], summary="Users in your scope (admin)")
def list_users(session: DbSession, actor: Actor) -> list[UserOut]:
    return [user_out(user) for user in directory.list_users(session, actor)]


@dataclass(frozen=True)
class HashedUserIn:
    """A new user's body, with the password hashed."""

    data: UserIn
    password_hash: str


@dataclass(frozen=True)
class HashedUserPatch:
    """A user patch, with the new password (if any) hashed."""

    data: UserPatch
    password_hash: str | None


def _hash_new_user(data: UserIn, _admin: AdminFirst) -> HashedUserIn:
    return HashedUserIn(data, auth.hash_password(data.password))


def _hash_user_patch(data: UserPatch, _admin: AdminFirst) -> HashedUserPatch:
    return HashedUserPatch(data, None if data.password is None else auth.hash_password(data.password))


# The user routes declare these before the session and the actor, which begin the write
# transaction: FastAPI resolves dependencies in that order, so the slow hash holds no lock.
NewUser = Annotated[HashedUserIn, Depends(_hash_new_user)]
ChangedUser = Annotated[HashedUserPatch, Depends(_hash_user_patch)]


@router.post("/users", status_code=201, response_model=UserOut, summary="Add a user (admin)")
def create_user(new: NewUser, session: DbSession, actor: Actor) -> UserOut:
    return user_out(directory.create_user(session, actor, new.data, new.password_hash))


@router.patch("/users/{username}", response_model=UserOut, summary="Edit a user (admin)")
def update_user(username: str, change: ChangedUser, session: DbSession, actor: Actor, now: Now) -> UserOut:
    return user_out(directory.update_user(session, actor, username, change.data, now, change.password_hash))


@router.get("/categories", response_model=list[CategoryOut], summary="The category tree")
def list_categories(session: DbSession, _actor: Actor) -> list[CategoryOut]:
    return [category_out(c) for c in categories.list_categories(session)]


@router.post("/categories", status_code=201, response_model=CategoryOut, summary="Add a class (admin)")
def create_category(data: CategoryIn, session: DbSession, actor: Actor) -> CategoryOut:
    return category_out(categories.create_category(session, actor, data))


@router.patch("/categories/{code}", response_model=CategoryOut, summary="Edit a class (admin)")
def update_category(code: str, data: CategoryPatch, session: DbSession, actor: Actor) -> CategoryOut:
    return category_out(categories.update_category(session, actor, code, data))


@router.get("/labels", summary="Chinese labels of every state, action, role, channel and light")
def labels() -> dict[str, Any]:
    return {
        "states": v.STATE_LABELS,
        "actions": v.ACTION_LABELS,
        "roles": v.ROLE_LABELS,
        "channels": v.CHANNEL_LABELS,
        "kinds": v.CASE_KIND_LABELS,
        "request_types": v.REQUEST_TYPE_LABELS,
        "urgencies": v.URGENCY_LABELS,
        "stages": v.STAGE_LABELS,
        "lights": {
            light: {"label": label, "colour": colour} for light, (label, colour) in v.LIGHT_LABELS.items()
        },
        "satisfaction": v.SATISFACTION_LABELS,
        "attachment_purposes": v.ATTACHMENT_PURPOSE_LABELS,
        "department_functions": v.DEPARTMENT_FUNCTION_LABELS,
        "coordinate_systems": v.COORDINATE_SYSTEM_LABELS,
    }
