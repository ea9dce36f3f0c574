"""The portal session: a signed cookie saying which phone was verified, and when.

It is short-lived (``CIVICGRID_PORTAL_SESSION_MINUTES``, not renewed by use) and holds no
account: it lets the browser report with that phone and read that phone's cases, nothing
else. Forms carry a CSRF token tied to the session's random nonce (before verification, to
the pre-session cookie the staff pages use too)."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from fastapi import Request, Response
from itsdangerous import BadSignature, URLSafeSerializer

from civicgrid.web import sessions as web_sessions

COOKIE = "civicgrid_portal"
#: The cookie is sent to the portal's pages only.
COOKIE_PATH = "/portal"


@dataclass(frozen=True)
class PortalSession:
    """A verified phone: the number, a random nonce (the CSRF token's basis), and when
    (Unix seconds) it was verified."""

    phone: str
    nonce: str
    verified: int

    @property
    def csrf_basis(self) -> str:
        """What the session's CSRF token is made from."""
        return f"portal|{self.nonce}"


def _serializer(secret_key: str) -> URLSafeSerializer:
    return URLSafeSerializer(secret_key, salt="civicgrid.portal.session")


def read(request: Request, secret_key: str, now: datetime, lifetime: timedelta) -> PortalSession | None:
    """The live portal session of the request, or None (none, forged, or expired)."""
    raw = request.cookies.get(COOKIE)
    if not raw:
        return None
    try:
        data = _serializer(secret_key).loads(raw)
    except BadSignature:
        return None
    if not (
        isinstance(data, dict)
        and isinstance(data.get("p"), str)
        and isinstance(data.get("n"), str)
        and isinstance(data.get("t"), int)
    ):
        return None
    session = PortalSession(phone=data["p"], nonce=data["n"], verified=data["t"])
    age = now.timestamp() - session.verified
    return session if -60 <= age <= lifetime.total_seconds() else None


def start(response: Response, request: Request, secret_key: str, phone: str, now: datetime) -> PortalSession:
    """Give the browser a new portal session for ``phone``, verified at ``now``."""
    session = PortalSession(phone=phone, nonce=secrets.token_urlsafe(18), verified=int(now.timestamp()))
    value = _serializer(secret_key).dumps({"p": session.phone, "n": session.nonce, "t": session.verified})
    response.set_cookie(
        COOKIE,
        value,
        httponly=True,
        samesite="lax",
        secure=request.url.scheme == "https",
        path=COOKIE_PATH,
    )
    return session


def end(response: Response, request: Request) -> None:
    """Make the browser forget its portal session."""
    response.delete_cookie(
        COOKIE, path=COOKIE_PATH, httponly=True, samesite="lax", secure=request.url.scheme == "https"
    )


def csrf_basis(request: Request, session: PortalSession | None) -> str:
    """What this browser's CSRF token is made from: the portal session's nonce, or before
    verification the pre-session nonce."""
    return session.csrf_basis if session is not None else web_sessions.pre_session(request)
