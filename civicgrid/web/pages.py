"""The page machinery: templates, the signed-in user of a page, CSRF checks, and the route
class that turns a refusal into a page in Chinese (the JSON API keeps its own errors)."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from datetime import datetime, timedelta
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote, urlencode

from fastapi import Depends, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.routing import APIRoute
from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.templating import Jinja2Templates

from civicgrid.api.deps import DbSession, Now, get_settings
from civicgrid.api.errors import STATUS
from civicgrid.domain.errors import (
    Conflict,
    DomainError,
    InvalidInput,
    NotFound,
    RoleNotAllowed,
    TooLarge,
    TooManyAttempts,
    TransitionNotAllowed,
    Unauthenticated,
    UnsupportedFile,
)
from civicgrid.domain.vocabulary import ROLE_LABELS, Role
from civicgrid.services import auth
from civicgrid.services.notifications import unread_of_user
from civicgrid.store.models import ApiToken, User
from civicgrid.web import sessions
from civicgrid.web.format import moment
from civicgrid.web.maps import tile_source

environment = Environment(
    loader=FileSystemLoader(Path(__file__).parent / "templates"),
    autoescape=select_autoescape(default=True, default_for_string=True),
    trim_blocks=True,
    lstrip_blocks=True,
)
environment.filters["pager"] = lambda params, cursor: urlencode(
    [(name, value) for name, value in params.multi_items() if name != "cursor"] + [("cursor", cursor)]
)
environment.filters["as_moment"] = datetime.fromisoformat
templates = Jinja2Templates(env=environment)


class PhotoRefused(InvalidInput):
    """A photo sent with a page's form was refused (too large, not a photo, damaged, too
    many); ``detail`` says which and why, in Chinese. Nothing of the form was stored."""


#: The Chinese heading of each refusal (the first that matches); the server's own reason, in
#: Chinese (``DomainError.reason_zh``), is shown under it.
REFUSALS: dict[type[DomainError], str] = {
    PhotoRefused: "照片未能保存",
    Unauthenticated: "请先登录",
    RoleNotAllowed: "无权进行此操作",
    NotFound: "未找到该页面或案件",
    TransitionNotAllowed: "案件当前状态不允许此操作",
    Conflict: "案件已被他人修改，请刷新后重试",
    InvalidInput: "填写的内容有误",
    TooManyAttempts: "操作过于频繁",
    TooLarge: "文件过大",
    UnsupportedFile: "文件类型不支持",
}


#: Pages run only the scripts and styles this server serves: no inline script or handler, so
#: an injected one does nothing. Case files are private: never kept by a browser or proxy.
#: Images come from this server, except the map's tiles from the host the centre set.
def page_headers(tile_url: str) -> dict[str, str]:
    """The headers of every page, for a centre whose map tiles come from ``tile_url``."""
    tiles = tile_source(tile_url)
    return {
        "Content-Security-Policy": "; ".join(
            [
                "default-src 'self'",
                "script-src 'self'",
                "style-src 'self'",
                "img-src 'self' data:" + (f" {tiles}" if tiles else ""),
                "connect-src 'self'",
                "form-action 'self'",
                "frame-ancestors 'none'",
                "base-uri 'none'",
                "object-src 'none'",
            ]
        ),
        "Cache-Control": "no-store",
    }


#: Sent by live.js with the queue refreshes it makes on a live update.
LIVE_REFRESH_HEADER = "X-Civicgrid-Live"


class SignInRequired(Exception):
    """The page needs a signed-in user; ``reason`` says why the old session ended, if one did."""

    def __init__(self, reason: str = "") -> None:
        super().__init__(reason)
        self.reason = reason


class CsrfRefused(Exception):
    """A state-changing request without the session's CSRF token."""


def page_user(request: Request, session: DbSession, now: Now) -> User:
    """The staff member signed in to this page session (SignInRequired otherwise)."""
    settings = get_settings(request)
    page_session = sessions.read_session(request, settings.secret_key)
    if page_session is None:
        raise SignInRequired()
    if sessions.is_idle(page_session, now, timedelta(minutes=settings.web_idle_minutes)):
        raise SignInRequired("idle")
    try:
        # The navigation's unread badge rides along with the sign-in's one statement.
        user, (unread,) = auth.authenticate_reading(
            session,
            page_session.token,
            secret_key=settings.secret_key,
            now=now,
            reading=[unread_of_user(ApiToken.user_id).scalar_subquery()],
        )
    except Unauthenticated:
        raise SignInRequired("expired") from None
    if user.role is Role.CITIZEN:
        raise RoleNotAllowed("市民请通过网站或微信等公众渠道反映问题，指挥中心页面仅供工作人员使用")
    request.state.page_token = page_session.token
    request.state.page_user = user
    request.state.page_now = now
    request.state.unread = int(unread or 0)
    return user


PageUser = Annotated[User, Depends(page_user)]


async def _given_csrf(request: Request) -> str:
    given = request.headers.get(sessions.CSRF_HEADER, "")
    if not given:
        field = (await request.form()).get(sessions.CSRF_FIELD, "")
        given = field if isinstance(field, str) else ""
    return given


async def check_csrf(request: Request) -> None:
    """Refuse a state-changing request whose CSRF token (form field or header) is not the
    one of this browser's page session."""
    settings = get_settings(request)
    page_session = sessions.read_session(request, settings.secret_key)
    given = await _given_csrf(request)
    if page_session is None or not sessions.csrf_matches(settings.secret_key, page_session.token, given):
        raise CsrfRefused()


async def check_sign_in_csrf(request: Request) -> None:
    """Refuse a sign-in whose CSRF token is not the one of this browser's pre-session (the
    sign-in form is made before anyone is signed in): no other site signs a browser in."""
    settings = get_settings(request)
    basis = request.cookies.get(sessions.PRE_SESSION_COOKIE, "")
    if not basis or not sessions.csrf_matches(settings.secret_key, basis, await _given_csrf(request)):
        raise CsrfRefused()


Csrf = Annotated[None, Depends(check_csrf)]
SignInCsrf = Annotated[None, Depends(check_sign_in_csrf)]


def scope_label(user: User) -> str:
    """Where the user's work lies, as the header shows it."""
    if user.role is Role.HANDLER:
        return user.department.name if user.department else "未分配部门"
    where = user.region.name if user.region else "未分配区域"
    return f"{where} · {user.grid.name}" if user.grid else where


def render(
    request: Request, template: str, context: dict[str, Any] | None = None, status_code: int = 200
) -> HTMLResponse:
    """``template`` with what every page shows: the signed-in user, their scope, the CSRF token."""
    settings = get_settings(request)
    user: User | None = getattr(request.state, "page_user", None)
    token: str | None = getattr(request.state, "page_token", None)
    basis = token if token else sessions.pre_session(request)
    zone = settings.calendar().timezone
    base = {
        "user": user,
        "role_label": ROLE_LABELS[user.role] if user else "",
        "scope_label": scope_label(user) if user else "",
        "csrf_token": sessions.csrf_token(settings.secret_key, basis),
        "csrf_field": sessions.CSRF_FIELD,
        "when": lambda value: moment(value, zone),
        "unread": getattr(request.state, "unread", 0),
    }
    response = templates.TemplateResponse(
        request, template, {**base, **(context or {})}, status_code=status_code
    )
    response.headers.update(page_headers(settings.map_tile_url))
    if token is None:
        sessions.keep_pre_session(response, request)
    return response


def _sign_in_page(request: Request, reason: str) -> Response:
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    location = f"/login?next={quote(target, safe='')}" + (f"&reason={reason}" if reason else "")
    if request.headers.get("HX-Request"):
        # htmx follows this header with a full page load, rather than swapping a sign-in form in.
        return Response(status_code=401, headers={"HX-Redirect": location})
    response = RedirectResponse(location, status_code=303)
    sessions.clear_session(response, request)
    return response


def refusal_page(
    request: Request, status: int, heading: str, detail: str, back: str | None = None
) -> Response:
    """A refusal as a page: a heading in Chinese, the server's reason (in Chinese), a way back."""
    return render(
        request,
        "refused.html",
        {"heading": heading, "detail": detail, "back": back, "posted": request.method == "POST"},
        status_code=status,
    )


def _validation_detail(error: RequestValidationError) -> str:
    return "；".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in error.errors())


class PageRoute(APIRoute):
    """A page route: a refusal becomes a page (or a sign-in redirect), and a signed-in
    page session is marked used again (the idle timeout starts over)."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def page_handler(request: Request) -> Response:
            number = request.path_params.get("number")
            back = f"/cases/{quote(number)}" if number and request.method != "GET" else "/workbench"
            try:
                response = await handler(request)
            except SignInRequired as error:
                return _sign_in_page(request, error.reason)
            except CsrfRefused:
                return refusal_page(
                    request, 403, "页面已过期或来源不明", "表单缺少有效的安全令牌(CSRF)，请刷新页面后重试。"
                )
            except DomainError as error:
                status = next(code for kind, code in STATUS.items() if isinstance(error, kind))
                heading = next(text for kind, text in REFUSALS.items() if isinstance(error, kind))
                return refusal_page(request, status, heading, error.reason_zh, back)
            except RequestValidationError as error:
                return refusal_page(request, 422, "请求的参数有误", _validation_detail(error), back)
            token: str | None = getattr(request.state, "page_token", None)
            # A refresh that live.js asks for is no one's use of the page: an unattended
            # screen is still signed out after CIVICGRID_WEB_IDLE_MINUTES.
            live = request.headers.get(LIVE_REFRESH_HEADER) is not None
            if (
                token is not None
                and not live
                and sessions.SESSION_COOKIE not in response.headers.get("set-cookie", "")
            ):
                settings = get_settings(request)
                sessions.set_session(response, request, settings.secret_key, token, request.state.page_now)
            return response

        return page_handler
