"""Reference data routes: regions, grids, departments, users, categories, labels."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from civicgrid.api.deps import Actor, AdminFirst, DbSession, Now
from civicgrid.api.errors import ERROR_RESPONSES
from civicgrid.api.present import category_out, department_out, grid_out, user_out
from civicgrid.domain import vocabulary as v
from civicgrid.schemas import (
    CategoryIn,
    CategoryOut,
    CategoryPatch,
    DepartmentIn,
    DepartmentOut,
    DepartmentPatch,
    GridOut,
    RegionOut,
    UserIn,
    UserOut,
    UserPatch,
)
from civicgrid.services import auth, categories, directory
from civicgrid.store.models import Grid, Region

router = APIRouter(prefix="/api/v1", tags=["directory"], responses=ERROR_RESPONSES)


@router.get("/regions", response_model=list[RegionOut], summary="The region tree, top down")
def list_regions(session: DbSession, _actor: Actor) -> list[RegionOut]:
    regions = session.scalars(select(Region).order_by(Region.path))
    return [RegionOut.model_validate(region) for region in regions]


@router.get("/grids", response_model=list[GridOut], summary="The grids, optionally with polygons")
def list_grids(
    session: DbSession, _actor: Actor, boundary: Annotated[bool, Query()] = False
) -> list[GridOut]:
    grids = session.scalars(select(Grid).options(selectinload(Grid.region)).order_by(Grid.code))
    return [grid_out(grid, boundary) for grid in grids]


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
