"""The command-centre pages: sign-in, the workbench of each role, the case file with the
actions open to the user, and the intake form. Every rule stays in the services and the
workflow table; these routes parse a form, call one service, and render."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Form, Query, Request, Response
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse
from pydantic import ValidationError
from sqlalchemy import select

from civicgrid.api.deps import DbSession, Now, UnsignedRules, get_rules_unsigned, get_settings
from civicgrid.domain import workflow
from civicgrid.domain.clock import light_at
from civicgrid.domain.errors import (
    Conflict,
    DomainError,
    InvalidInput,
    NotFound,
    RoleNotAllowed,
    TooManyAttempts,
    Unauthenticated,
)
from civicgrid.domain.questions import Question
from civicgrid.domain.vocabulary import (
    ACTION_LABELS,
    ATTACHMENT_PURPOSE_LABELS,
    CASE_KIND_LABELS,
    CHANNEL_LABELS,
    GRID_KIND_LABELS,
    LIGHT_LABELS,
    REQUEST_TYPE_LABELS,
    ROLE_LABELS,
    SATISFACTION_LABELS,
    STAGE_LABELS,
    STATE_LABELS,
    URGENCY_LABELS,
    Action,
    CaseState,
    Channel,
    CoordinateSystem,
    Light,
    RequestType,
    Role,
    Satisfaction,
    Urgency,
)
from civicgrid.geo.crs import to_wgs84
from civicgrid.geo.index import territory_index
from civicgrid.schemas import (
    COUNT_LIMIT,
    CaseCreate,
    CaseCursor,
    CaseFilters,
    TransitionRequest,
    decode_cursor,
    encode_cursor,
)
from civicgrid.services import auth, duplicates
from civicgrid.services import cases as case_service
from civicgrid.services import geo as geo_service
from civicgrid.services.categories import list_categories
from civicgrid.services.directory import list_departments
from civicgrid.services.throttle import Limits
from civicgrid.store import cases as case_queries
from civicgrid.store import geo as geo_queries
from civicgrid.store.models import Case, Category, Grid, Region, User
from civicgrid.web import maps, photos, sessions
from civicgrid.web.format import remaining
from civicgrid.web.pages import Csrf, PageRoute, PageUser, PhotoRefused, SignInCsrf, refusal_page, render
from civicgrid.web.queues import WORKBENCHES, Queue

router = APIRouter(route_class=PageRoute, include_in_schema=False)

PAGE_SIZE = 30
#: The navigation counts stop here ("999+"): a count of a large queue reads every row.
NAV_COUNT_LIMIT = 999
#: The duplicate hint lists at most this many cases, the nearest first.
NEARBY_SHOWN = 10

LABELS = {
    "state": STATE_LABELS,
    "action": ACTION_LABELS,
    "channel": CHANNEL_LABELS,
    "request_type": REQUEST_TYPE_LABELS,
    "urgency": URGENCY_LABELS,
    "kind": CASE_KIND_LABELS,
    "stage": STAGE_LABELS,
    "satisfaction": SATISFACTION_LABELS,
    "role": ROLE_LABELS,
    "grid_kind": GRID_KIND_LABELS,
    "light": {light: label for light, (label, _) in LIGHT_LABELS.items()},
}


# --- sign-in ------------------------------------------------------------------------------

SIGN_IN_NOTES = {
    "idle": "长时间未操作，已自动退出，请重新登录。",
    "expired": "登录已过期，请重新登录。",
    "signed_out": "您已安全退出。",
}


def _safe_next(target: str) -> str:
    # Only a path of this site: never another host (//evil.example or a scheme).
    if target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return "/workbench"


@router.get("/")
def home() -> RedirectResponse:
    return RedirectResponse("/workbench", status_code=303)


@router.get("/login", response_class=HTMLResponse)
def login_page(request: Request, next: str = "/workbench", reason: str = "") -> HTMLResponse:
    return render(request, "login.html", {"next": _safe_next(next), "note": SIGN_IN_NOTES.get(reason, "")})


@router.post("/login", response_class=HTMLResponse)
def login(
    request: Request,
    _csrf: SignInCsrf,
    now: Now,
    username: Annotated[str, Form(max_length=60)] = "",
    password: Annotated[str, Form(max_length=200)] = "",
    next: Annotated[str, Form(max_length=500)] = "/workbench",
) -> Response:
    settings = get_settings(request)
    state = request.app.state
    try:
        token, _ = auth.sign_in(
            state.read_session_factory,
            state.session_factory,
            username.strip(),
            password,
            address=request.client.host if request.client else "unknown",
            limits=Limits.from_settings(settings),
            secret_key=settings.secret_key,
            hours=settings.token_hours,
            now=now,
        )
    except (TooManyAttempts, Unauthenticated) as error:
        locked = isinstance(error, TooManyAttempts)
        message = error.detail.split(" (")[0] if locked else "用户名或密码错误。"
        context = {"next": _safe_next(next), "error": message, "username": username}
        headers = (
            {"Retry-After": str(error.retry_after_seconds)} if isinstance(error, TooManyAttempts) else {}
        )
        response = render(request, "login.html", context, status_code=429 if locked else 401)
        response.headers.update(headers)
        return response
    response = RedirectResponse(_safe_next(next), status_code=303)
    sessions.set_session(response, request, settings.secret_key, token, now)
    return response


@router.post("/logout")
def logout(request: Request, session: DbSession, user: PageUser, _csrf: Csrf, now: Now) -> Response:
    settings = get_settings(request)
    auth.logout(session, request.state.page_token, secret_key=settings.secret_key, now=now)
    request.state.page_token = None
    response = RedirectResponse("/login?reason=signed_out", status_code=303)
    sessions.clear_session(response, request)
    return response


# --- workbench ----------------------------------------------------------------------------


def _filters(
    request: Request, queue: Queue, values: dict[str, Any], zone: ZoneInfo
) -> tuple[CaseFilters, dict[str, Any]]:
    """The list filters of a queue narrowed by what the user chose; and the choices, to
    show them again. Empty form fields mean "any"."""
    chosen = {name: value for name, value in values.items() if value not in ("", None, [])}
    data: dict[str, Any] = {k: v for k, v in chosen.items() if k not in ("date_from", "date_to")}
    data.setdefault("state", list(queue.states))
    if queue.light is not None:
        data.setdefault("light", queue.light)
    try:
        if "date_from" in chosen:
            data["created_from"] = datetime.combine(
                datetime.fromisoformat(chosen["date_from"]).date(), time(), zone
            )
        if "date_to" in chosen:
            end = datetime.fromisoformat(chosen["date_to"]).date() + timedelta(days=1)
            data["created_to"] = datetime.combine(end, time(), zone)
        return CaseFilters.model_validate(data), chosen
    except (ValueError, ValidationError) as error:
        raise InvalidInput(f"筛选条件有误: {error}") from None


def _queue_query(
    session: Any,
    user: User,
    queue: Queue,
    filters: CaseFilters,
    rules: case_service.CentreRules,
    now: datetime,
) -> Any:
    """The user's cases in ``queue``, narrowed by ``filters``."""
    query = case_queries.filtered(session, user, filters, now)
    if queue.mine_today:
        today = datetime.combine(
            now.astimezone(rules.calendar.timezone).date(), time(), rules.calendar.timezone
        )
        query = case_queries.reported_by(query, user, today)
    if queue.satisfaction is not None:
        query = case_queries.rated(query, queue.satisfaction)
    if queue.own_grids:
        query = case_queries.in_own_grids(query, user)
    return query


def row_view(case: Case, rules: case_service.CentreRules, now: datetime) -> dict[str, Any]:
    """What a queue row and the case file show of the case's clock."""
    light = light_at(now, case.warning_at, case.deadline_at)
    limit = case_service.stage_limits(case.category, case.urgency).get(case.stage) if case.stage else None
    return {
        "case": case,
        "light": light,
        "light_label": LIGHT_LABELS[light][0] if light else "",
        "remaining": remaining(case.deadline_at, limit, rules.calendar, now) if light else "",
    }


@router.get("/workbench", response_class=HTMLResponse)
def workbench(
    request: Request,
    session: DbSession,
    user: PageUser,
    rules: UnsignedRules,
    now: Now,
    queue: str = "",
    state: Annotated[list[str], Query()] = [],  # noqa: B006 - FastAPI copies the default
    light: str = "",
    category_code: str = "",
    channel: str = "",
    region_code: str = "",
    grid_code: str = "",
    date_from: str = "",
    date_to: str = "",
    q: Annotated[str, Query(max_length=100)] = "",
    cursor: Annotated[str, Query(max_length=120)] = "",
) -> HTMLResponse:
    bench = WORKBENCHES[user.role]
    current = bench.queue(queue)
    values = {
        "state": [s for s in state if s],
        "light": light,
        "category_code": category_code,
        "channel": [channel] if channel else [],
        "region_code": region_code,
        "grid_code": grid_code,
        "date_from": date_from,
        "date_to": date_to,
        "q": q.strip(),
    }
    filters, chosen = _filters(request, current, values, rules.calendar.timezone)
    query = _queue_query(session, user, current, filters, rules, now)
    following: str | None
    try:
        if current.urgent_first:
            after = case_queries.decode_urgency_cursor(cursor) if cursor else None
            rows, nxt = case_queries.page_by_urgency(session, query, after, PAGE_SIZE, now)
            following = case_queries.encode_urgency_cursor(nxt) if nxt else None
        else:
            newest_after: CaseCursor | None = decode_cursor(cursor) if cursor else None
            rows, newest = case_queries.page(session, query, newest_after, PAGE_SIZE)
            following = encode_cursor(newest) if newest else None
    except ValueError:
        raise InvalidInput("翻页参数无效，请从第一页重新打开列表") from None
    total, more = case_queries.count_list(
        session,
        query,
        filters,
        lambda some: _queue_query(session, user, current, some, rules, now),
        COUNT_LIMIT,
    )
    counts = {
        q.key: case_queries.count_up_to(
            session,
            _queue_query(session, user, q, CaseFilters(state=list(q.states), light=q.light), rules, now),
            NAV_COUNT_LIMIT,
        )
        for q in bench.queues
    }
    context = {
        "bench": bench,
        "queue": current,
        "counts": counts,
        "rows": [row_view(case, rules, now) for case in rows],
        "total": f"{total:,}+" if more else f"{total:,}",
        "next_cursor": following,
        "chosen": chosen,
        "labels": LABELS,
        "light_choices": list(Light),
        "state_choices": list(CaseState),
        "channel_choices": list(Channel),
        "categories": _category_tree(session),
        "grids": session.scalars(select(Grid).order_by(Grid.code)).all(),
        "regions": session.scalars(select(Region).order_by(Region.path)).all(),
        "may_report": user.role in case_service.REPORTING_ROLES,
    }
    template = "queue_rows.html" if request.headers.get("HX-Request") else "workbench.html"
    return render(request, template, context)


def _category_tree(session: Any) -> list[tuple[Category, list[Category]]]:
    """Big classes with their active small classes, in code order."""
    everything = [c for c in list_categories(session) if c.is_active]
    return [
        (big, [small for small in everything if small.parent_id == big.id])
        for big in everything
        if big.parent_id is None
    ]


# --- the case file and its actions --------------------------------------------------------


def _may_report(user: User) -> None:
    if user.role not in case_service.REPORTING_ROLES:
        raise RoleNotAllowed(f"「{ROLE_LABELS[user.role]}」不登记案件")


@router.get("/cases/new", response_class=HTMLResponse)
def intake_page(request: Request, session: DbSession, user: PageUser) -> HTMLResponse:
    _may_report(user)
    return _intake(request, session, user, {}, [])


def _photo_input(request: Request, user: User) -> dict[str, Any]:
    """What a form's photo input says of its limits; the inspector's phone opens the camera."""
    settings = get_settings(request)
    return {
        "max_photos": settings.web_max_photos,
        "max_photo_bytes": settings.max_upload_bytes,
        "max_photo_mb": f"{settings.max_upload_bytes / 2**20:g}",
        "capture": user.role is Role.INSPECTOR,
        "photo_field": photos.FIELD,
    }


def _intake(
    request: Request, session: Any, user: User, values: dict[str, Any], problems: list[str], status: int = 200
) -> HTMLResponse:
    default_channel = Channel.INSPECTOR if user.role.value == "inspector" else Channel.HOTLINE_12345
    context = {
        "values": {"channel": default_channel.value, "urgency": Urgency.NORMAL.value, **values},
        "problems": problems,
        "labels": LABELS,
        "channels": list(Channel),
        "request_types": list(RequestType),
        "urgencies": list(Urgency),
        "categories": _category_tree(session),
        "map_config": maps.config(get_settings(request)),
        **_photo_input(request, user),
    }
    return render(request, "intake.html", context, status_code=status)


def _coordinate(lng: str, lat: str) -> tuple[float, float] | None:
    """A typed (or picked) point, if both numbers are there and on the globe."""
    try:
        x, y = float(lng), float(lat)
    except ValueError:
        return None
    return (x, y) if -180 <= x <= 180 and -90 <= y <= 90 else None


#: The systems a point may come to the intake helpers in: typed (GPS, WGS-84) or picked on
#: the map (the tiles' system).
PICKED_CRS = {system.value: system for system in (CoordinateSystem.WGS84, CoordinateSystem.GCJ02)}


@router.get("/cases/new/place", response_class=HTMLResponse)
def intake_place(
    request: Request,
    session: DbSession,
    user: PageUser,
    lng: Annotated[str, Query(max_length=30)] = "",
    lat: Annotated[str, Query(max_length=30)] = "",
    crs: Annotated[str, Query(max_length=10)] = "wgs84",
    picked: Annotated[str, Query(max_length=1)] = "",
) -> HTMLResponse:
    """Where a typed coordinate, or a point picked on the map (``picked``, in the tiles'
    system ``crs``), lies: its grid and community as soon as it is known, with the point in
    WGS-84 (a picked one fills the form's fields) and drawn for the map."""
    found: Grid | None = None
    given = _coordinate(lng, lat)
    system = PICKED_CRS.get(crs)
    if system is None:
        raise InvalidInput(f"坐标系「{crs}」无效：wgs84 或 gcj02")
    point: tuple[float, float] | None = to_wgs84(*given, system) if given else None
    drawn: dict[str, Any] | None = None
    if point is not None:
        placement = territory_index(session, geo_queries.territory_mark(session)).grids.place(*point)
        if placement.grid is not None:
            found = session.get(Grid, placement.grid.id)
        shown = maps.tile_crs(get_settings(request))
        drawn = {
            "point": maps.point(*point, shown),
            "grid": maps.grid_feature(found, shown) if found is not None else None,
        }
    context = {
        "known": point is not None,
        "point": point,
        "picked": bool(picked),
        "drawn": drawn,
        "grid": found,
        "labels": LABELS,
    }
    return render(request, "place.html", context)


@router.get("/cases/new/nearby", response_class=HTMLResponse)
def intake_nearby(
    request: Request,
    session: DbSession,
    user: PageUser,
    now: Now,
    category_code: Annotated[str, Query(max_length=40)] = "",
    lng: Annotated[str, Query(max_length=30)] = "",
    lat: Annotated[str, Query(max_length=30)] = "",
) -> HTMLResponse:
    """The duplicate hint: open cases of the chosen small class in the point's grid or close
    to it, registered lately, each to merge the new report into (合并)."""
    _may_report(user)
    settings = get_settings(request)
    point = _coordinate(lng, lat)
    found = None
    if category_code and point is not None:
        try:
            found = duplicates.nearby_cases(
                session,
                user,
                category_code,
                *point,
                CoordinateSystem.WGS84,
                radius_m=settings.duplicate_radius_m,
                days=settings.duplicate_days,
                now=now,
                limit=NEARBY_SHOWN,
            )
        except InvalidInput:  # a category code the form does not offer: no hint
            found = None
    context = {
        "found": found,
        "radius_m": f"{settings.duplicate_radius_m:g}",
        "days": settings.duplicate_days,
        "may_merge": Action.MERGE in workflow.allowed_actions(CaseState.REPORTED, user.role),
        "labels": LABELS,
    }
    return render(request, "nearby.html", context)


@router.get("/cases/new/grids")
def intake_grids(request: Request, session: DbSession, user: PageUser) -> JSONResponse:
    """The grids of the user's region, drawn on the intake map to pick a point in."""
    _may_report(user)
    shown = maps.tile_crs(get_settings(request))
    layer = geo_service.layer(session, user, "grids", maps.LAYER_ZOOM, shown)
    return JSONResponse(layer.model_dump(mode="json"), headers={"Cache-Control": "no-store"})


_INTAKE_FIELDS = (
    "channel",
    "request_type",
    "category_code",
    "urgency",
    "title",
    "description",
    "address",
    "reporter_name",
    "reporter_phone",
    "lng",
    "lat",
)


def _intake_again(request: Request, user: User, values: dict[str, Any], problems: list[str]) -> HTMLResponse:
    with photos.reading(request) as session:
        return _intake(request, session, user, values, problems, status=422)


@router.post("/cases", response_class=HTMLResponse)
async def intake(request: Request, session: DbSession, now: Now) -> Response:
    """Register a case with its photos (tied to the report, 处置前); or, when the operator
    chose 合并 on a case of the duplicate hint, register it and merge it into that case at
    once: one transaction either way."""
    with photos.reading(request) as reading:
        user = photos.signed_in(request, reading, now)
    _may_report(user)
    async with photos.posted_form(request) as form:
        values = {name: str(form.get(name, "")).strip() for name in _INTAKE_FIELDS}
        merge_into = str(form.get("merge_into", "")).strip()
        data = {name: value for name, value in values.items() if value}
        try:
            created = CaseCreate.model_validate(data)
        except ValidationError as error:
            problems = [f"{'.'.join(str(p) for p in e['loc']) or '位置'}: {e['msg']}" for e in error.errors()]
            if photos.chosen(form):
                problems.append("照片需重新选择。")
            return _intake_again(request, user, values, problems)
        try:
            prepared = await photos.prepare(request, photos.chosen(form))
        except PhotoRefused as refusal:
            return _intake_again(request, user, values, [refusal.detail, "未保存任何内容，照片需重新选择。"])

    def register() -> str:
        actor = photos.actor_again(request, session)
        rules = get_rules_unsigned(request, session)
        case = case_service.create_case(session, actor, created, rules, now)
        photos.record(session, actor, case.number, prepared, Action.REPORT, 1, now)
        if merge_into:
            merge = TransitionRequest(
                note=f"登记时发现与 {merge_into} 为同一问题，合并上报", merge_into=merge_into
            )
            case_service.transition(session, actor, case.number, Action.MERGE, merge, rules, now)
        return case.number

    number = await photos.write(request, session, prepared, register)
    return RedirectResponse(f"/cases/{number}", status_code=303)


@router.get("/cases/{number}", response_class=HTMLResponse)
def case_file(
    request: Request, session: DbSession, user: PageUser, rules: UnsignedRules, now: Now, number: str
) -> HTMLResponse:
    case = case_queries.get_visible(session, user, number, case_file=True)
    settings = get_settings(request)
    open_now = case_service.open_actions(case, user)
    context = {
        **row_view(case, rules, now),
        "actions": [a for a in open_now if a is not Action.COMMENT],
        "may_comment": Action.COMMENT in open_now,
        "department_names": {d.code: d.name for d in list_departments(session)},
        "photos_by_event": photos.by_event(case),
        "answers": answered(case),
        "purpose_labels": ATTACHMENT_PURPOSE_LABELS,
        "map_config": maps.config(settings),
        "map_data": maps.case_map(case, maps.tile_crs(settings)),
        "labels": LABELS,
    }
    return render(request, "case.html", context)


def answered(case: Case) -> list[tuple[str, str]]:
    """The case's answers to its category's questions, in the questions' order, as (question,
    answer) with the names of the chosen options."""
    given = case.answers or {}
    shown = []
    for question in sorted((Question.from_dict(q) for q in case.category.questions), key=lambda q: q.order):
        if question.code in given:
            names = {choice.key: choice.name for choice in question.values}
            value = given[question.code]
            values = value if isinstance(value, list) else [value]
            shown.append(
                (question.description or question.code, "、".join(names.get(str(v), str(v)) for v in values))
            )
    return shown


def _open_action(case: Case, user: User, name: str) -> Action:
    """The action ``name`` if the workflow table offers it to ``user`` on ``case`` now."""
    try:
        action = Action(name)
    except ValueError:
        raise NotFound(f"没有「{name}」这一操作") from None
    if action not in workflow.allowed_actions(case.state, user.role):
        workflow.apply(case.state, action, user.role, reason="?")  # raises, naming state and action
    return action


def _action_page(
    request: Request,
    session: Any,
    user: User,
    case: Case,
    action: Action,
    rules: case_service.CentreRules,
    now: datetime,
    problems: list[str] | None = None,
    note: str = "",
) -> HTMLResponse:
    fields = case_service.ACTION_FIELDS.get(action, frozenset())
    departments = [d for d in list_departments(session) if d.is_active]
    wanted = case.category.department_function
    departments.sort(key=lambda d: (d.function != wanted, d.code))
    context = {
        **row_view(case, rules, now),
        "action": action,
        "fields": fields,
        "needs_reason": action in workflow.NEEDS_REASON,
        "departments": departments,
        "suggested": wanted,
        "satisfactions": list(Satisfaction),
        "takes_photos": photos.takes_photos(action),
        "purpose_label": ATTACHMENT_PURPOSE_LABELS[photos.purpose(action)],
        "problems": problems or [],
        "note": note,
        "labels": LABELS,
        **_photo_input(request, user),
    }
    return render(request, "action.html", context, status_code=422 if problems else 200)


@router.get("/cases/{number}/actions/{name}", response_class=HTMLResponse)
def action_form(
    request: Request,
    session: DbSession,
    user: PageUser,
    rules: UnsignedRules,
    now: Now,
    number: str,
    name: str,
) -> HTMLResponse:
    case = case_queries.get_visible(session, user, number, case_file=True)
    action = _open_action(case, user, name)
    return _action_page(request, session, user, case, action, rules, now)


def _transition_data(form: Any, action: Action, rules: case_service.CentreRules) -> dict[str, Any]:
    """The fields ``action`` takes, as the form sent them."""
    fields = case_service.ACTION_FIELDS.get(action, frozenset())
    data: dict[str, Any] = {
        "note": str(form.get("note", "")),
        "note_is_public": bool(form.get("note_is_public")),
    }
    version = str(form.get("expected_version", ""))
    if version:
        data["expected_version"] = version
    if "department_code" in fields:
        data["department_code"] = str(form.get("department_code", "")) or None
    if "assisting_department_codes" in fields:
        data["assisting_department_codes"] = [str(v) for v in form.getlist("assisting_department_codes") if v]
    if "satisfaction" in fields:
        data["satisfaction"] = str(form.get("satisfaction", "")) or None
    if "merge_into" in fields:
        data["merge_into"] = str(form.get("merge_into", "")).strip() or None
    if "new_deadline" in fields:
        typed = str(form.get("new_deadline", ""))
        try:
            data["new_deadline"] = (
                datetime.fromisoformat(typed).replace(tzinfo=rules.calendar.timezone) if typed else None
            )
        except ValueError:
            raise InvalidInput(f"新的期限「{typed}」不是有效的日期时间") from None
    return data


@router.post("/cases/{number}/actions/{name}")
async def act(request: Request, session: DbSession, now: Now, number: str, name: str) -> Response:
    """Take an action from its form, with the photos of the step if the action takes them:
    the action and its photos are stored together, or nothing is."""
    try:
        action = Action(name)
    except ValueError:
        raise NotFound(f"没有「{name}」这一操作") from None
    # Who, which case, which action: refused before a byte of the body (photos) is read. The
    # user is read apart, so that a refusal below (a rollback) leaves them readable.
    with photos.reading(request) as reading:
        user = photos.signed_in(request, reading, now)
    with photos.reading(request) as reading:
        case = case_queries.get_visible(reading, user, number)
        version = case.version
        try:
            _open_action(case, user, name)
            closed: DomainError | None = None
        except DomainError as error:
            closed = error
        rules = get_rules_unsigned(request, reading)
    async with photos.posted_form(request) as form:
        data = _transition_data(form, action, rules)
        if closed is not None:
            # The step is not open (now): its photos are not even looked at. If the form was
            # read from an older version, that is the better reason to give.
            read = str(data.get("expected_version", ""))
            if read and read != str(version):
                raise Conflict(
                    f"case {number} changed since you read it (version {read}, now {version})",
                    zh=case_service.changed_zh(number, read, version),
                )
            raise closed
        try:
            TransitionRequest.model_validate(data)
        except ValidationError as error:
            detail = "；".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in error.errors())
            return refusal_page(request, 422, "填写的内容有误", detail, f"/cases/{number}")
        uploads = photos.chosen(form)
        try:
            if uploads and not photos.takes_photos(action):
                raise PhotoRefused(f"「{ACTION_LABELS[action]}」这一步不附照片")
            prepared = await photos.prepare(request, uploads)
        except PhotoRefused as refusal:
            with photos.reading(request) as again:
                case = case_queries.get_visible(again, user, number, case_file=True)
                problems = [refusal.detail, "未作任何更改，照片需重新选择。"]
                return _action_page(request, again, user, case, action, rules, now, problems, data["note"])

    def take() -> bool:
        actor = photos.actor_again(request, session)
        rules = get_rules_unsigned(request, session)
        taken = photos.record(session, actor, number, prepared, action, None, now)
        ids = {"attachment_ids": [attachment.id for attachment in taken]} if taken else {}
        request_data = TransitionRequest.model_validate({**data, **ids})
        case_service.transition(session, actor, number, action, request_data, rules, now)
        return case_queries.is_visible(session, actor, number)

    still_seen = await photos.write(request, session, prepared, take)
    # A department that sent the case back (退单) no longer sees it: back to its workbench.
    return RedirectResponse(f"/cases/{number}" if still_seen else "/workbench", status_code=303)
