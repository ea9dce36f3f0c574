"""Page sessions: a signed cookie that carries the sign-in's token and when it was last used
(idle timeout), and the CSRF token every form and state-changing request must send back."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from fastapi import Request, Response
from itsdangerous import BadSignature, URLSafeSerializer

#: The signed-in page session; the pre-session cookie ties the sign-in form's CSRF token
#: to this browser before anyone is signed in.
SESSION_COOKIE = "civicgrid_session"
PRE_SESSION_COOKIE = "civicgrid_presession"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "X-CSRF-Token"


@dataclass(frozen=True)
class PageSession:
    """What the session cookie says: the bearer token of the sign-in, and when (Unix
    seconds) a page was last asked for with it."""

    token: str
    seen: int


def _serializer(secret_key: str) -> URLSafeSerializer:
    return URLSafeSerializer(secret_key, salt="civicgrid.web.session")


def read_session(request: Request, secret_key: str) -> PageSession | None:
    """The page session of the request's cookie, or None if it has none or a forged one."""
    raw = request.cookies.get(SESSION_COOKIE)
    if not raw:
        return None
    try:
        data = _serializer(secret_key).loads(raw)
    except BadSignature:
        return None
    if not (isinstance(data, dict) and isinstance(data.get("t"), str) and isinstance(data.get("s"), int)):
        return None
    return PageSession(token=data["t"], seen=data["s"])


def is_idle(page_session: PageSession, now: datetime, idle: timedelta) -> bool:
    """Whether the session went unused for longer than ``idle``."""
    return now.timestamp() - page_session.seen > idle.total_seconds()


def _secure(request: Request) -> bool:
    return request.url.scheme == "https"


def set_session(response: Response, request: Request, secret_key: str, token: str, now: datetime) -> None:
    """Give the browser (again) the session cookie for ``token``, marked used at ``now``."""
    value = _serializer(secret_key).dumps({"t": token, "s": int(now.timestamp())})
    response.set_cookie(
        SESSION_COOKIE, value, httponly=True, samesite="lax", secure=_secure(request), path="/"
    )


def clear_session(response: Response, request: Request) -> None:
    """Make the browser forget its session cookie."""
    response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="lax", secure=_secure(request))


def pre_session(request: Request) -> str:
    """The browser's pre-session nonce: the cookie's, or a new one for ``keep_pre_session``."""
    given = request.cookies.get(PRE_SESSION_COOKIE, "")
    if 20 <= len(given) <= 100 and given.isascii():
        return given
    fresh: str | None = getattr(request.state, "new_pre_session", None)
    if fresh is None:
        fresh = secrets.token_urlsafe(24)
        request.state.new_pre_session = fresh
    return fresh


def keep_pre_session(response: Response, request: Request) -> None:
    """Store a nonce that ``pre_session`` made for this request in the browser."""
    fresh: str | None = getattr(request.state, "new_pre_session", None)
    if fresh is not None:
        response.set_cookie(
            PRE_SESSION_COOKIE, fresh, httponly=True, samesite="lax", secure=_secure(request), path="/"
        )


def csrf_token(secret_key: str, basis: str) -> str:
    """The CSRF token of a session (``basis``: its token, or the pre-session nonce): a keyed
    hash, so another site can neither read nor make it."""
    return hmac.new(secret_key.encode(), f"csrf|{basis}".encode(), hashlib.sha256).hexdigest()


def csrf_matches(secret_key: str, basis: str, given: str) -> bool:
    """Whether ``given`` is the CSRF token of ``basis`` (compared in constant time)."""
    return bool(given) and hmac.compare_digest(csrf_token(secret_key, basis), given)
