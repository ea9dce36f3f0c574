"""Departments and users: who handles cases and who signs in. Admins manage them."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from civicgrid.domain.errors import Conflict, InvalidInput, NotFound, RoleNotAllowed
from civicgrid.domain.vocabulary import Role
from civicgrid.schemas import DepartmentIn, DepartmentPatch, UserIn, UserPatch
from civicgrid.services.auth import hash_password
from civicgrid.store.lookups import (
    by_code,
    edited_by_code,
    optional_by_code,
    require_unused_code,
    user_by_username,
)
from civicgrid.store.models import Department, Grid, Region, User
from civicgrid.store.scoping import region_in_scope

#: Roles whose scope is a department rather than a region.
DEPARTMENT_ROLES = frozenset({Role.HANDLER})


def apply_changes(target: object, changes: dict[str, Any], nullable: frozenset[str] = frozenset()) -> None:
    """Set the fields a PATCH body gave; only ``nullable`` ones may be cleared with null."""
    for field, value in changes.items():
        if value is None and field not in nullable:
            raise InvalidInput(f"{field} cannot be empty")
        setattr(target, field, value)


def require_admin(actor: User) -> None:
    """Refuse anyone but an admin."""
    if actor.role is not Role.ADMIN:
        raise RoleNotAllowed("only an admin manages departments, users and categories")


def _region_for_admin(session: Session, actor: User, code: str) -> Region:
    region = by_code(session, Region, code)
    if not region_in_scope(region, actor):
        raise RoleNotAllowed(f"region {code} is outside your scope")
    return region


def create_department(session: Session, actor: User, data: DepartmentIn) -> Department:
    """Add a department serving a region of the admin's scope."""
    require_admin(actor)
    require_unused_code(session, Department, data.code)
    department = Department(
        code=data.code,
        name=data.name,
        function=data.function,
        level=data.level,
        region=_region_for_admin(session, actor, data.region_code),
        parent_id=optional_by_code(session, Department, data.parent_code).id if data.parent_code else None,
        linkage_level=data.linkage_level,
        phone=data.phone,
        is_active=True,
    )
    session.add(department)
    session.flush()
    return department


def update_department(session: Session, actor: User, code: str, data: DepartmentPatch) -> Department:
    """Change a department's name, linkage level, phone or whether it is active."""
    require_admin(actor)
    department = edited_by_code(session, Department, code)
    _region_for_admin(session, actor, department.region.code)
    apply_changes(department, data.model_dump(exclude_unset=True), nullable=frozenset({"phone"}))
    session.flush()
    return department


def list_departments(session: Session) -> list[Department]:
    """Every department, by code (all staff may see whom a case can go to)."""
    return list(session.scalars(select(Department).order_by(Department.code)))


def create_user(session: Session, actor: User, data: UserIn) -> User:
    """Add a user; staff need a region in the admin's scope, handlers a department."""
    require_admin(actor)
    if user_by_username(session, data.username) is not None:
        raise Conflict(f"username '{data.username}' is taken")
    department = optional_by_code(session, Department, data.department_code)
    if data.role in DEPARTMENT_ROLES and department is None:
        raise InvalidInput(f"a {data.role.value} needs a department_code")
    region = None
    if data.region_code is not None:
        region = _region_for_admin(session, actor, data.region_code)
    elif department is not None:
        region = department.region
    elif data.role is not Role.CITIZEN:
        raise InvalidInput(f"a {data.role.value} needs a region_code (their scope)")
    user = User(
        username=data.username,
        full_name=data.full_name,
        password_hash=hash_password(data.password),
        role=data.role,
        region=region,
        department=department,
        grid_id=optional_by_code(session, Grid, data.grid_code).id if data.grid_code else None,
        phone=data.phone,
        is_active=True,
    )
    session.add(user)
    session.flush()
    return user


def update_user(session: Session, actor: User, username: str, data: UserPatch) -> User:
    """Change a user's name, password, phone or whether they may sign in."""
    require_admin(actor)
    user = user_by_username(session, username)
    if user is None or (user.region is not None and not region_in_scope(user.region, actor)):
        raise NotFound(f"no user '{username}' in your scope")
    changes = data.model_dump(exclude_unset=True)
    if "password" in changes:
        user.password_hash = hash_password(changes.pop("password"))
    apply_changes(user, changes, nullable=frozenset({"phone"}))
    session.flush()
    return user


def list_users(session: Session, actor: User) -> list[User]:
    """The users an admin manages (their region's subtree), by username."""
    require_admin(actor)
    users = session.scalars(select(User).order_by(User.username)).all()
    return [user for user in users if user.region is None or region_in_scope(user.region, actor)]
