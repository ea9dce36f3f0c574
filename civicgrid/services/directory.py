"""Departments and users: who handles cases and who signs in. Admins manage them."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from civicgrid.domain.errors import Conflict, InvalidInput, NotFound, RoleNotAllowed
from civicgrid.domain.vocabulary import Role
from civicgrid.schemas import DepartmentIn, DepartmentPatch, UserIn, UserPatch
from civicgrid.services.auth import revoke_tokens
from civicgrid.store.lookups import by_code, edited_by_code, require_unused_code, user_by_username
from civicgrid.store.models import Department, Grid, Region, User
from civicgrid.store.scoping import is_top_level, managed_users, region_in_scope

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


def require_top_admin(actor: User, what: str) -> None:
    """Refuse anyone but an admin of the top region (the district): ``what`` is district-wide."""
    require_admin(actor)
    if not is_top_level(actor):
        raise RoleNotAllowed(f"only an admin of the top region manages {what}")


def _region_in_reach(session: Session, actor: User | None, code: str) -> Region:
    """The region ``code``, within the admin's scope (anywhere for the console: None)."""
    region = by_code(session, Region, code)
    if actor is not None and not region_in_scope(region, actor):
        raise RoleNotAllowed(f"region {code} is outside your scope")
    return region


def _department_in_reach(session: Session, actor: User | None, code: str) -> Department:
    department = by_code(session, Department, code)
    if actor is not None and not region_in_scope(department.region, actor):
        raise RoleNotAllowed(f"department {code} is outside your scope")
    return department


def create_department(session: Session, actor: User, data: DepartmentIn) -> Department:
    """Add a department serving a region of the admin's scope (under a parent of it, if any)."""
    require_admin(actor)
    require_unused_code(session, Department, data.code)
    department = Department(
        code=data.code,
        name=data.name,
        function=data.function,
        level=data.level,
        region=_region_in_reach(session, actor, data.region_code),
        parent_id=_department_in_reach(session, actor, data.parent_code).id if data.parent_code else None,
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
    _region_in_reach(session, actor, department.region.code)
    apply_changes(department, data.model_dump(exclude_unset=True), nullable=frozenset({"phone"}))
    session.flush()
    return department


def list_departments(session: Session) -> list[Department]:
    """Every department, by code (all staff may see whom a case can go to)."""
    return list(session.scalars(select(Department).order_by(Department.code)))


@dataclass(frozen=True)
class Placement:
    """A user's role and scope, by code: what an admin grants."""

    role: Role
    region_code: str | None
    department_code: str | None
    grid_code: str | None

    @classmethod
    def of(cls, user: User) -> Placement:
        """Where ``user`` is placed now."""
        return cls(
            role=user.role,
            region_code=user.region.code if user.region else None,
            department_code=user.department.code if user.department else None,
            grid_code=user.grid.code if user.grid else None,
        )


#: The fields of a user body that place the user.
PLACEMENT_FIELDS = ("role", "region_code", "department_code", "grid_code")


def _place(
    session: Session, actor: User | None, placement: Placement
) -> tuple[Region | None, Department | None, Grid | None]:
    """The region, department and grid of a user placed as ``placement``, each within the
    admin's scope (``actor``; None: the server's console, which reaches everywhere). Roles
    have no order below admin, and an admin grants at most their own region's subtree, so
    nobody grants more than they hold."""
    if placement.role is Role.CITIZEN:
        if actor is not None:
            require_top_admin(actor, "citizens' accounts")
        if placement.region_code or placement.department_code or placement.grid_code:
            raise InvalidInput("a citizen has no region, department or grid")
        return None, None, None
    department = None
    if placement.department_code is not None:
        department = _department_in_reach(session, actor, placement.department_code)
    if placement.role in DEPARTMENT_ROLES and department is None:
        raise InvalidInput(f"a {placement.role.value} needs a department_code")
    if placement.region_code is not None:
        region = _region_in_reach(session, actor, placement.region_code)
    elif department is not None:
        region = department.region
    else:
        raise InvalidInput(f"a {placement.role.value} needs a region_code (their scope)")
    grid = None
    if placement.grid_code is not None:
        grid = by_code(session, Grid, placement.grid_code)
        if not grid.region.path.startswith(region.path):
            raise InvalidInput(f"grid {grid.code} is not in region {region.code}")
    return region, department, grid


def create_user(session: Session, actor: User | None, data: UserIn, password_hash: str) -> User:
    """Add a user placed within the admin's scope. ``password_hash`` is ``data.password``
    hashed beforehand (``services.auth.hash_password``), outside the write transaction.
    ``actor`` None is the server's console (``civicgrid create-user``): how a centre creates
    its first admin, before anyone can sign in."""
    if actor is not None:
        require_admin(actor)
    if user_by_username(session, data.username) is not None:
        raise Conflict(f"username '{data.username}' is taken")
    region, department, grid = _place(
        session, actor, Placement(data.role, data.region_code, data.department_code, data.grid_code)
    )
    user = User(
        username=data.username,
        full_name=data.full_name,
        password_hash=password_hash,
        role=data.role,
        region=region,
        department=department,
        grid=grid,
        phone=data.phone,
        is_active=True,
    )
    session.add(user)
    session.flush()
    return user


def managed_user(session: Session, actor: User, username: str) -> User:
    """The user ``username`` if the admin manages them, or NotFound."""
    require_admin(actor)
    user = session.scalar(managed_users(select(User).where(User.username == username), actor))
    if user is None:
        raise NotFound(f"no user '{username}' in your scope")
    return user


def update_user(
    session: Session,
    actor: User,
    username: str,
    data: UserPatch,
    now: datetime,
    password_hash: str | None = None,
) -> User:
    """Change a user's name, password, phone, role, scope or whether they may sign in; a new
    role or scope is checked as on creation. A new password (hashed beforehand, as
    ``password_hash``), a deactivation or a new role or scope signs the user out everywhere."""
    if (data.password is not None) != (password_hash is not None):
        raise ValueError("give password_hash exactly when the patch sets a password")
    user = managed_user(session, actor, username)
    changes = data.model_dump(exclude_unset=True)
    for field in ("password", "role"):
        if field in changes and changes[field] is None:
            raise InvalidInput(f"{field} cannot be empty")
    signs_out = changes.pop("password", None) is not None or changes.get("is_active") is False
    placed = {field: changes.pop(field) for field in PLACEMENT_FIELDS if field in changes}
    if placed:
        before = (user.role, user.region, user.department)
        user.region, user.department, user.grid = _place(
            session, actor, replace(Placement.of(user), **placed)
        )
        user.role = placed.get("role", user.role)
        signs_out = signs_out or before != (user.role, user.region, user.department)
    if password_hash is not None:
        user.password_hash = password_hash
        user.password_changed_at = now
    apply_changes(user, changes, nullable=frozenset({"phone"}))
    session.flush()
    if signs_out:
        revoke_tokens(session, user, now)
    return user


def list_users(session: Session, actor: User) -> list[User]:
    """The users an admin manages (see ``managed_users``), by username."""
    require_admin(actor)
    query = select(User).options(selectinload(User.region), selectinload(User.department))
    return list(session.scalars(managed_users(query, actor).order_by(User.username)))
