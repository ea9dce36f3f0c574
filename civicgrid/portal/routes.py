"""The citizens' portal pages at /portal: verify a phone by SMS code, report a problem with
photos and a place, look a case up by number and phone, follow one's own cases, rate a
closed one, and the public map of open problems. Each route parses a form, calls the
portal's service, and renders; refusals are pages in Chinese."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from datetime import timedelta
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, Form, Query, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse
from fastapi.routing import APIRoute
from pydantic import BaseModel, Field, ValidationError
from starlette.datastructures import FormData, UploadFile
from starlette.exceptions import HTTPException

from civicgrid.api.deps import DbSession, Now, UnsignedRules, get_rules_unsigned, get_settings
from civicgrid.api.errors import STATUS
from civicgrid.api.present import case_public
from civicgrid.domain.errors import (
    Conflict,
    DomainError,
    InvalidInput,
    NotFound,
    RoleNotAllowed,
    TooLarge,
    TooManyAttempts,
    TransitionNotAllowed,
    UnsupportedFile,
)
from civicgrid.domain.vocabulary import SATISFACTION_LABELS, STATE_LABELS, CoordinateSystem, Satisfaction
from civicgrid.portal import PREFIX, REPORT_PATH, phones, service, verification
from civicgrid.portal import sessions as portal_sessions
from civicgrid.portal.sessions import PortalSession
from civicgrid.schemas import CodeRef, Line, Text
from civicgrid.services import attachments
from civicgrid.store import public_cases
from civicgrid.store.db import session_scope
from civicgrid.store.files import FileStore
from civicgrid.store.models import Case
from civicgrid.web import sessions as web_sessions
from civicgrid.web.maps import tile_crs
from civicgrid.web.pages import CsrfRefused, PageRoute, render

#: A report's form fields besides its photos: few and short.
REPORT_FIELDS = 12

#: The heading of each refusal as the citizen reads it; the service's reason goes under it.
REFUSALS: dict[type[DomainError], str] = {
    NotFound: "未找到",
    InvalidInput: "填写的内容有误",
    TooManyAttempts: "操作过于频繁",
    TransitionNotAllowed: "暂时不能进行此操作",
    Conflict: "无法重复操作",
    RoleNotAllowed: "暂不受理",
    TooLarge: "照片过大",
    UnsupportedFile: "照片格式不支持",
}


class VerificationRequired(Exception):
    """The page needs a verified phone; ``then`` is where to go once verified."""

    def __init__(self, then: str) -> None:
        super().__init__(then)
        self.then = then


def refusal(request: Request, status: int, heading: str, detail: str) -> HTMLResponse:
    """A refusal as a portal page."""
    context = {"heading": heading, "detail": detail}
    return portal_render(request, "portal/refused.html", context, status_code=status)


class PortalRoute(PageRoute):
    """A portal page: a refusal becomes a page in Chinese (or the verification form when the
    page needs a verified phone). No staff session is read or renewed here."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = APIRoute.get_route_handler(self)

        async def portal_handler(request: Request) -> Response:
            try:
                return await handler(request)
            except VerificationRequired as needed:
                return RedirectResponse(
                    f"{PREFIX}/verify?next={quote(needed.then, safe='')}", status_code=303
                )
            except CsrfRefused:
                return refusal(
                    request, 403, "页面已过期", "表单缺少有效的安全令牌(CSRF)，请返回刷新页面后重试。"
                )
            except DomainError as error:
                status = next(code for kind, code in STATUS.items() if isinstance(error, kind))
                heading = next(
                    (text for kind, text in REFUSALS.items() if isinstance(error, kind)), "无法办理"
                )
                return refusal(request, status, heading, error.detail)
            except RequestValidationError:
                return refusal(request, 422, "请求的参数有误", "请返回重新填写。")

        return portal_handler


router = APIRouter(prefix=PREFIX, route_class=PortalRoute, include_in_schema=False)


# --- sessions, CSRF and rendering -----------------------------------------------------------


def current_session(request: Request, now: Now) -> PortalSession | None:
    """The browser's verified phone, if its portal session is still live."""
    settings = get_settings(request)
    found = portal_sessions.read(
        request, settings.secret_key, now, timedelta(minutes=settings.portal_session_minutes)
    )
    request.state.portal_session = found
    return found


Verified = Annotated[PortalSession | None, Depends(current_session)]


def _then(request: Request) -> str:
    """Where to come back to after verifying: this page, or for a form sent, its page."""
    path = request.url.path
    if request.method == "GET":
        return path + (f"?{request.url.query}" if request.url.query else "")
    if path.endswith("/rating"):
        return path.removesuffix("/rating")  # the case's page, with its rating form
    return REPORT_PATH if path == REPORT_PATH else PREFIX


def verified_phone(request: Request, found: Verified) -> PortalSession:
    """The verified phone of the page, or the verification form first."""
    if found is None:
        raise VerificationRequired(_then(request))
    return found


Phone = Annotated[PortalSession, Depends(verified_phone)]


def _csrf_matches(request: Request, given: str) -> bool:
    settings = get_settings(request)
    found: PortalSession | None = getattr(request.state, "portal_session", None)
    if found is None:
        basis = request.cookies.get(web_sessions.PRE_SESSION_COOKIE, "")
        if not basis:
            return False
    else:
        basis = found.csrf_basis
    return web_sessions.csrf_matches(settings.secret_key, basis, given)


async def check_csrf(request: Request, _session: Verified) -> None:
    """Refuse a form whose CSRF token is not this browser's (its portal session's, or
    before verification its pre-session's)."""
    field = (await request.form()).get(web_sessions.CSRF_FIELD, "")
    if not _csrf_matches(request, field if isinstance(field, str) else ""):
        raise CsrfRefused()


Csrf = Annotated[None, Depends(check_csrf)]


def portal_render(
    request: Request, template: str, context: dict[str, Any] | None = None, status_code: int = 200
) -> HTMLResponse:
    """A portal page: the staff pages' base with the portal's header, the CSRF token of this
    browser, and the map tiles' origin allowed for images when tiles are configured."""
    settings = get_settings(request)
    found: PortalSession | None = getattr(request.state, "portal_session", None)
    basis = portal_sessions.csrf_basis(request, found)
    base = {
        "portal": found,
        "portal_phone": phones.masked(found.phone) if found else "",
        "csrf_token": web_sessions.csrf_token(settings.secret_key, basis),
        "map_tiles": settings.map_tile_url,
        "map_subdomains": settings.map_tile_subdomains,
        "map_attribution": settings.map_tile_attribution,
        "state_labels": STATE_LABELS,
        "satisfaction_labels": SATISFACTION_LABELS,
    }
    return render(request, template, {**base, **(context or {})}, status_code=status_code)


def _safe_then(target: str) -> str:
    # Only a portal path of this site: never another host or a staff page.
    if target.startswith(PREFIX) and not target.startswith("//") and "\\" not in target:
        return target
    return REPORT_PATH


def _address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


# --- home and verification ------------------------------------------------------------------


@router.get("", response_class=HTMLResponse)
def home(request: Request, found: Verified) -> HTMLResponse:
    return portal_render(request, "portal/home.html")


@router.get("/verify", response_class=HTMLResponse)
def verify_page(
    request: Request, found: Verified, next: Annotated[str, Query(max_length=300)] = ""
) -> HTMLResponse:
    return portal_render(request, "portal/verify.html", {"step": "phone", "then": _safe_then(next)})


def _wrong_phone(request: Request, phone: str, then: str) -> HTMLResponse:
    """The phone step again, saying the number typed is no mainland mobile number."""
    context = {"step": "phone", "then": then, "phone": phone, "error": "请输入正确的11位手机号码。"}
    return portal_render(request, "portal/verify.html", context, status_code=422)


@router.post("/verify/code", response_class=HTMLResponse)
def send_code(
    request: Request,
    session: DbSession,
    now: Now,
    found: Verified,
    _csrf: Csrf,
    phone: Annotated[str, Form(max_length=40)] = "",
    next: Annotated[str, Form(max_length=300)] = "",
) -> HTMLResponse:
    settings = get_settings(request)
    then = _safe_then(next)
    number = phones.normalized(phone)
    if number is None:
        return _wrong_phone(request, phone, then)
    context = {"step": "code", "then": then, "phone": number, "masked": phones.masked(number)}
    try:
        verification.send_code(
            session,
            number,
            _address(request),
            now,
            verification.CodePolicy.from_settings(settings),
            settings.secret_key,
        )
    except TooManyAttempts as error:
        response = portal_render(request, "portal/verify.html", {**context, "error": error.detail}, 429)
        response.headers["Retry-After"] = str(error.retry_after_seconds)
        return response
    minutes = settings.portal_code_minutes
    note = f"验证码已发送至 {phones.masked(number)}，{minutes}分钟内有效。"
    return portal_render(request, "portal/verify.html", {**context, "note": note})


@router.post("/verify")
def verify(
    request: Request,
    session: DbSession,
    now: Now,
    found: Verified,
    _csrf: Csrf,
    phone: Annotated[str, Form(max_length=40)] = "",
    code: Annotated[str, Form(max_length=20)] = "",
    next: Annotated[str, Form(max_length=300)] = "",
) -> Response:
    settings = get_settings(request)
    then = _safe_then(next)
    number = phones.normalized(phone)
    if number is None:
        return _wrong_phone(request, phone, then)
    policy = verification.CodePolicy.from_settings(settings)
    outcome = verification.check_code(session, number, code, now, policy, settings.secret_key)
    if outcome is not verification.Check.ACCEPTED:
        context = {
            "step": "code",
            "then": then,
            "phone": number,
            "masked": phones.masked(number),
            "error": verification.CHECK_MESSAGES[outcome],
        }
        status = 429 if outcome is verification.Check.SPENT else 422
        # Rendered, not raised: the wrong try recorded on the code must be committed.
        return portal_render(request, "portal/verify.html", context, status_code=status)
    response = RedirectResponse(then, status_code=303)
    portal_sessions.start(response, request, settings.secret_key, number, now)
    return response


@router.post("/logout")
def logout(request: Request, found: Phone, _csrf: Csrf) -> Response:
    response = RedirectResponse(PREFIX, status_code=303)
    portal_sessions.end(response, request)
    return response


# --- reporting -----------------------------------------------------------------------------


class ReportForm(BaseModel):
    """The report form's fields, checked."""

    category_code: CodeRef
    description: Text = Field(min_length=1, max_length=2000)
    lng: float = Field(ge=-180, le=180, allow_inf_nan=False)
    lat: float = Field(ge=-90, le=90, allow_inf_nan=False)
    crs: CoordinateSystem = CoordinateSystem.WGS84
    address: Line = Field(default="", max_length=200)
    name: Line = Field(default="", max_length=50)


#: What the form says of each field at fault, in the citizen's words.
FIELD_PROBLEMS = {
    "category_code": "请选择问题类别。",
    "description": "请描述问题（不超过2000字）。",
    "lng": "请在地图上点选位置，或使用当前位置。",
    "lat": "请在地图上点选位置，或使用当前位置。",
    "crs": "位置的坐标系不正确，请重新选择位置。",
    "address": "地址描述不超过200字。",
    "name": "称呼不超过50字。",
}


def _category_groups(session: Any) -> list[tuple[str, list[Any]]]:
    """The active small classes under their big classes' names, in code order."""
    groups: dict[str, list[Any]] = {}
    for category in public_cases.active_services(session):
        assert category.parent is not None
        groups.setdefault(f"{category.parent.name}", []).append(category)
    return list(groups.items())


def _report_page(
    request: Request, session: Any, values: dict[str, str], problems: list[str], status: int = 200
) -> HTMLResponse:
    settings = get_settings(request)
    context = {
        "values": values,
        "problems": problems,
        "groups": _category_groups(session),
        "max_photos": settings.portal_max_photos,
        "max_photo_mb": settings.max_upload_bytes // (1024 * 1024),
    }
    return portal_render(request, "portal/report.html", context, status_code=status)


@router.get("/report", response_class=HTMLResponse)
def report_page(request: Request, session: DbSession, found: Phone) -> HTMLResponse:
    return _report_page(request, session, {}, [])


def _photos(form: FormData) -> list[UploadFile]:
    # A form sent without a photo still carries an empty file part.
    return [part for part in form.getlist("photos") if isinstance(part, UploadFile) and part.filename]


@router.post("/report", response_class=HTMLResponse)
async def report(request: Request, session: DbSession, now: Now, found: Phone) -> Response:
    """The file work (type, size, thumbnail) is done before the short transaction that
    registers the case, as for uploads through the API."""
    settings = get_settings(request)
    files: FileStore = request.app.state.file_store
    try:
        form = await request.form(max_files=settings.portal_max_photos, max_fields=REPORT_FIELDS)
    except HTTPException as error:
        too_large = error.status_code == 413
        detail = (
            f"照片过大：每张不超过 {settings.max_upload_bytes // (1024 * 1024)} MB。"
            if too_large
            else f"表单有误：最多上传 {settings.portal_max_photos} 张照片。"
        )
        return refusal(request, error.status_code, "照片过大" if too_large else "填写的内容有误", detail)
    try:
        checked = await _checked_report(request, form, files)
    finally:
        await form.close()
    if isinstance(checked, Response):
        return checked
    data, prepared = checked

    def register() -> Case:
        try:
            return service.report(
                session,
                settings,
                get_rules_unsigned(request, session),
                found.phone,
                service.Report(
                    category_code=data.category_code,
                    description=data.description,
                    lng=data.lng,
                    lat=data.lat,
                    crs=data.crs,
                    address=data.address,
                    name=data.name,
                ),
                prepared,
                now,
            )
        except BaseException:
            session.rollback()
            _forget(request, files, prepared)
            raise

    try:
        case = await run_in_threadpool(register)
    except InvalidInput as error:
        values = {name: str(value) for name, value in data.model_dump(mode="json").items()}
        return await run_in_threadpool(_report_page_read, request, values, [error.detail], 422)
    return RedirectResponse(f"{PREFIX}/cases/{quote(case.number)}?new=1", status_code=303)


async def _checked_report(
    request: Request, form: FormData, files: FileStore
) -> tuple[ReportForm, list[attachments.PreparedUpload]] | Response:
    """The report's fields and its photos kept in the file store (no transaction open), or
    the form again with what is wrong."""
    settings = get_settings(request)
    given = form.get(web_sessions.CSRF_FIELD, "")
    if not _csrf_matches(request, given if isinstance(given, str) else ""):
        raise CsrfRefused()
    values = {name: str(form.get(name, "")).strip() for name in FIELD_PROBLEMS}
    try:
        data = ReportForm.model_validate({k: v for k, v in values.items() if v})
    except ValidationError as error:
        problems = sorted({FIELD_PROBLEMS[str(e["loc"][0])] for e in error.errors()})
        return await run_in_threadpool(_report_page_read, request, values, problems)
    uploads = _photos(form)
    prepared: list[attachments.PreparedUpload] = []
    try:
        for upload in uploads:
            prepared.append(
                await run_in_threadpool(
                    attachments.prepare_upload,
                    files,
                    upload.file,
                    upload.filename,
                    max_bytes=settings.max_upload_bytes,
                    thumbnail_pixels=settings.thumbnail_pixels,
                )
            )
    except (TooLarge, UnsupportedFile, InvalidInput) as error:
        await run_in_threadpool(_forget, request, files, prepared)
        problem = _photo_problem(error, settings.max_upload_bytes)
        status = next(code for kind, code in STATUS.items() if isinstance(error, kind))
        return await run_in_threadpool(_report_page_read, request, values, [problem], status)
    return data, prepared


def _report_page_read(
    request: Request, values: dict[str, str], problems: list[str], status: int = 422
) -> HTMLResponse:
    """The report form again, read in a transaction of its own (the request's is for writing)."""
    with session_scope(request.app.state.read_session_factory) as reading:
        return _report_page(request, reading, values, problems, status)


def _forget(request: Request, files: FileStore, prepared: list[attachments.PreparedUpload]) -> None:
    with session_scope(request.app.state.read_session_factory) as reading:
        for upload in prepared:
            attachments.forget_upload(reading, files, upload)


def _photo_problem(error: DomainError, max_bytes: int) -> str:
    if isinstance(error, TooLarge):
        return f"照片过大：每张不超过 {max_bytes // (1024 * 1024)} MB。"
    if isinstance(error, UnsupportedFile):
        return "照片格式不支持：请上传 JPEG、PNG 或 WebP 图片。"
    return "照片已损坏或无法读取，请重新拍摄。"


@router.get("/place", response_class=HTMLResponse)
def where(
    request: Request,
    session: DbSession,
    rules: UnsignedRules,
    lng: Annotated[str, Query(max_length=30)] = "",
    lat: Annotated[str, Query(max_length=30)] = "",
    crs: Annotated[str, Query(max_length=10)] = "wgs84",
) -> HTMLResponse:
    """Where a chosen point lies (htmx), as soon as it is chosen."""
    found: service.Place | None = None
    try:
        x, y, system = float(lng), float(lat), CoordinateSystem(crs)
        if -180 <= x <= 180 and -90 <= y <= 90:
            found = service.place(session, x, y, system, rules)
    except ValueError:
        pass
    return portal_render(request, "portal/place.html", {"place": found})


# --- looking up and rating ------------------------------------------------------------------


def _case_page(
    request: Request, case: Case, mine: bool, extra: dict[str, Any] | None = None, status: int = 200
) -> HTMLResponse:
    context = {
        "view": case_public(case),
        "mine": mine,
        "may_rate": mine and service.may_rate(case),
        "satisfactions": list(Satisfaction),
        **(extra or {}),
    }
    return portal_render(request, "portal/case.html", context, status_code=status)


@router.get("/lookup", response_class=HTMLResponse)
def lookup_page(request: Request, found: Verified) -> HTMLResponse:
    return portal_render(request, "portal/lookup.html", {})


@router.post("/lookup", response_class=HTMLResponse)
def lookup(
    request: Request,
    session: DbSession,
    now: Now,
    found: Verified,
    _csrf: Csrf,
    number: Annotated[str, Form(max_length=60)] = "",
    phone: Annotated[str, Form(max_length=40)] = "",
) -> HTMLResponse:
    settings = get_settings(request)
    values = {"number": number.strip(), "phone": phone.strip()}
    try:
        case = service.lookup(
            session, number, phone, _address(request), now, settings.portal_lookup_max_failures
        )
    except TooManyAttempts as error:
        response = portal_render(
            request, "portal/lookup.html", {"values": values, "error": error.detail}, 429
        )
        response.headers["Retry-After"] = str(error.retry_after_seconds)
        return response
    if case is None:
        # Rendered, not raised: the failure recorded for the throttle must be committed.
        context = {"values": values, "error": service.NOT_FOUND}
        return portal_render(request, "portal/lookup.html", context, status_code=404)
    return _case_page(request, case, mine=found is not None and found.phone == phones.normalized(phone))


@router.get("/mine", response_class=HTMLResponse)
def mine(request: Request, session: DbSession, found: Phone) -> HTMLResponse:
    return portal_render(request, "portal/mine.html", {"rows": service.my_cases(session, found.phone)})


@router.get("/cases/{number}", response_class=HTMLResponse)
def case_page(
    request: Request, session: DbSession, found: Phone, number: str, new: str = "", rated: str = ""
) -> HTMLResponse:
    case = service.owned(session, found.phone, number)
    return _case_page(request, case, mine=True, extra={"new": bool(new), "rated": bool(rated)})


@router.post("/cases/{number}/rating", response_class=HTMLResponse)
def rate(
    request: Request,
    session: DbSession,
    rules: UnsignedRules,
    now: Now,
    found: Phone,
    _csrf: Csrf,
    number: str,
    satisfaction: Annotated[str, Form(max_length=30)] = "",
    reason: Annotated[str, Form(max_length=500)] = "",
) -> Response:
    settings = get_settings(request)
    try:
        chosen = Satisfaction(satisfaction)
    except ValueError:
        chosen = None
    try:
        if chosen is None:
            raise InvalidInput("请选择满意、基本满意或不满意。")
        case = service.rate(session, settings, rules, found.phone, number, chosen, reason, now)
    except InvalidInput as error:
        case = service.owned(session, found.phone, number)
        extra = {"rating_error": error.detail, "chosen": satisfaction, "reason": reason}
        return _case_page(request, case, mine=True, extra=extra, status=422)
    return RedirectResponse(f"{PREFIX}/cases/{quote(case.number)}?rated=1", status_code=303)


# --- the public map -------------------------------------------------------------------------


@router.get("/map", response_class=HTMLResponse)
def map_page(request: Request, found: Verified) -> HTMLResponse:
    return portal_render(request, "portal/map.html", {})


@router.get("/map/data")
def map_data(request: Request, session: DbSession, rules: UnsignedRules) -> JSONResponse:
    """The open problems roughly placed, and the grids' outlines, for the map's script."""
    settings = get_settings(request)
    data = service.public_map(session, settings, rules.calendar.timezone, tile_crs(settings))
    return JSONResponse(data, headers={"Cache-Control": "no-store"})
