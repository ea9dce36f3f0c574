"""Admin pages: users (create, reset password, role, scope, deactivate), departments and
categories (limits, default department). The directory and category services check every
rule, as for the API; these routes turn a form into their input schemas."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse
from pydantic import ValidationError
from sqlalchemy import select
from starlette.datastructures import FormData

from civicgrid.api.deps import DbSession, Now, get_settings
from civicgrid.domain.errors import InvalidInput, NotFound, Unauthenticated
from civicgrid.domain.vocabulary import (
    DEPARTMENT_FUNCTION_LABELS,
    ROLE_LABELS,
    STAGE_LABELS,
    URGENCY_LABELS,
    DepartmentFunction,
    DepartmentLevel,
    Role,
    Stage,
    Urgency,
)
from civicgrid.schemas import CategoryPatch, DepartmentIn, DepartmentPatch, UserIn, UserPatch
from civicgrid.services import auth, categories, directory
from civicgrid.store.db import session_scope
from civicgrid.store.models import Category, Grid, Region
from civicgrid.web import sessions
from civicgrid.web.pages import Csrf, PageRoute, PageUser, SignInRequired, render

router = APIRouter(prefix="/admin", route_class=PageRoute, include_in_schema=False)

LEVEL_LABELS = {DepartmentLevel.DISTRICT: "区级", DepartmentLevel.STREET: "街道级"}
ROLES = [role for role in Role if role is not Role.CITIZEN]


def _problems(error: ValidationError) -> str:
    return "；".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in error.errors())


def _validated(model: Any, data: dict[str, Any]) -> Any:
    try:
        return model.model_validate(data)
    except ValidationError as error:
        raise InvalidInput(_problems(error)) from None


def _text(form: FormData, name: str) -> str:
    value = form.get(name, "")
    return value.strip() if isinstance(value, str) else ""


async def hashed_form_password(request: Request, now: Now) -> str | None:
    """The form's new password hashed, for an admin only, before the write transaction
    begins (argon2 is slow on purpose and must not hold the write lock)."""
    settings = get_settings(request)
    page_session = sessions.read_session(request, settings.secret_key)
    if page_session is None:
        raise SignInRequired()
    with session_scope(request.app.state.read_session_factory) as session:
        try:
            actor = auth.authenticate(session, page_session.token, secret_key=settings.secret_key, now=now)
        except Unauthenticated:
            raise SignInRequired("expired") from None
        directory.require_admin(actor)
    password = _text(await request.form(), "password")
    return auth.hash_password(password) if password else None


#: Declared before the session and the user, so FastAPI hashes before the transaction begins.
HashedPassword = Annotated[str | None, Depends(hashed_form_password)]


def _choices(session: Any) -> dict[str, Any]:
    return {
        "roles": ROLES,
        "role_labels": ROLE_LABELS,
        "regions": session.scalars(select(Region).order_by(Region.path)).all(),
        "departments": directory.list_departments(session),
        "grids": session.scalars(select(Grid).order_by(Grid.code)).all(),
        "functions": list(DepartmentFunction),
        "function_labels": DEPARTMENT_FUNCTION_LABELS,
        "levels": list(DepartmentLevel),
        "level_labels": LEVEL_LABELS,
    }


# --- users --------------------------------------------------------------------------------


@router.get("/users", response_class=HTMLResponse)
def users(request: Request, session: DbSession, user: PageUser) -> HTMLResponse:
    return render(
        request, "admin_users.html", {"users": directory.list_users(session, user), **_choices(session)}
    )


@router.post("/users")
async def create_user(
    request: Request, password_hash: HashedPassword, user: PageUser, session: DbSession, _csrf: Csrf
) -> Response:
    form = await request.form()
    fields = (
        "username",
        "full_name",
        "password",
        "role",
        "region_code",
        "department_code",
        "grid_code",
        "phone",
    )
    data = _validated(UserIn, {name: _text(form, name) for name in fields if _text(form, name)})
    directory.create_user(session, user, data, password_hash or "")
    return RedirectResponse("/admin/users", status_code=303)


@router.get("/users/{username}", response_class=HTMLResponse)
def edit_user(request: Request, session: DbSession, user: PageUser, username: str) -> HTMLResponse:
    managed = directory.managed_user(session, user, username)
    return render(request, "admin_user.html", {"managed": managed, **_choices(session)})


@router.post("/users/{username}")
async def update_user(
    request: Request,
    password_hash: HashedPassword,
    user: PageUser,
    session: DbSession,
    _csrf: Csrf,
    now: Now,
    username: str,
) -> Response:
    form = await request.form()
    data: dict[str, Any] = {
        "full_name": _text(form, "full_name"),
        "role": _text(form, "role"),
        "phone": _text(form, "phone") or None,
        "is_active": form.get("is_active") == "on",
    }
    for name in ("region_code", "department_code", "grid_code"):
        data[name] = _text(form, name) or None
    if password_hash is not None:
        data["password"] = _text(form, "password")
    patch = _validated(UserPatch, data)
    directory.update_user(session, user, username, patch, now, password_hash)
    return RedirectResponse("/admin/users", status_code=303)


# --- departments --------------------------------------------------------------------------


@router.get("/departments", response_class=HTMLResponse)
def departments(request: Request, session: DbSession, user: PageUser) -> HTMLResponse:
    directory.require_admin(user)
    return render(request, "admin_departments.html", _choices(session))


@router.post("/departments")
async def create_department(request: Request, user: PageUser, session: DbSession, _csrf: Csrf) -> Response:
    form = await request.form()
    fields = ("code", "name", "function", "level", "region_code", "parent_code", "linkage_level", "phone")
    data = _validated(DepartmentIn, {name: _text(form, name) for name in fields if _text(form, name)})
    directory.create_department(session, user, data)
    return RedirectResponse("/admin/departments", status_code=303)


@router.post("/departments/{code}")
async def update_department(
    request: Request, user: PageUser, session: DbSession, _csrf: Csrf, code: str
) -> Response:
    form = await request.form()
    data = {
        "name": _text(form, "name"),
        "linkage_level": _text(form, "linkage_level"),
        "phone": _text(form, "phone") or None,
        "is_active": form.get("is_active") == "on",
    }
    directory.update_department(session, user, code, _validated(DepartmentPatch, data))
    return RedirectResponse("/admin/departments", status_code=303)


# --- categories ---------------------------------------------------------------------------


def _category_context(session: Any) -> dict[str, Any]:
    return {
        "categories": categories.list_categories(session),
        "urgencies": list(Urgency),
        "stages": list(Stage),
        "urgency_labels": URGENCY_LABELS,
        "stage_labels": STAGE_LABELS,
        "function_labels": DEPARTMENT_FUNCTION_LABELS,
        "functions": list(DepartmentFunction),
    }


@router.get("/categories", response_class=HTMLResponse)
def category_list(request: Request, session: DbSession, user: PageUser) -> HTMLResponse:
    directory.require_admin(user)
    return render(request, "admin_categories.html", _category_context(session))


@router.get("/categories/{code}", response_class=HTMLResponse)
def edit_category(request: Request, session: DbSession, user: PageUser, code: str) -> HTMLResponse:
    directory.require_admin(user)
    category = session.scalar(select(Category).where(Category.code == code))
    if category is None:
        raise NotFound(f"没有类别 {code}")
    return render(request, "admin_category.html", {"category": category, **_category_context(session)})


@router.post("/categories/{code}")
async def update_category(
    request: Request, user: PageUser, session: DbSession, _csrf: Csrf, code: str
) -> Response:
    form = await request.form()
    limits = {
        urgency.value: {
            stage.value: _text(form, f"limit_{urgency.value}_{stage.value}")
            for stage in Stage
            if _text(form, f"limit_{urgency.value}_{stage.value}")
        }
        for urgency in Urgency
    }
    data = {
        "name": _text(form, "name"),
        "department_function": _text(form, "department_function") or None,
        "closure_standard": _text(form, "closure_standard"),
        "limits": {urgency: stages for urgency, stages in limits.items() if stages},
        "is_active": form.get("is_active") == "on",
    }
    categories.update_category(session, user, code, _validated(CategoryPatch, data))
    return RedirectResponse(f"/admin/categories/{code}", status_code=303)
