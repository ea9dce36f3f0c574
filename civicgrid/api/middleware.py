"""What every request passes through: an id to quote.

Plain ASGI middleware (no ``BaseHTTPMiddleware``), so bodies stream through untouched."""

from __future__ import annotations

import logging
import re
import uuid

from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from civicgrid.api.errors import REQUEST_ID, error_response

logger = logging.getLogger("civicgrid.api")

#: An incoming X-Request-ID is kept only if it looks like an id (e.g. a UUID from a proxy).
_SANE_REQUEST_ID = re.compile(r"[A-Za-z0-9._:\-]{1,64}")


class RequestIdMiddleware:
    """Gives each request an id (a sane incoming ``X-Request-ID``, else a new one), returns it
    in the ``X-Request-ID`` header, and turns an unexpected exception into a 500 JSON error
    that is logged with its traceback and the id."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given = Headers(scope=scope).get("x-request-id", "")
        request_id = given if _SANE_REQUEST_ID.fullmatch(given) else uuid.uuid4().hex
        scope.setdefault("state", {})[REQUEST_ID] = request_id
        started = False

        async def send_with_id(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                MutableHeaders(scope=message)["X-Request-ID"] = request_id
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        except Exception:
            logger.exception(
                "unexpected error in %s %s (request %s)", scope["method"], scope["path"], request_id
            )
            if started:  # too late for an error response: let the server cut the connection
                raise
            response = error_response(
                scope, 500, "internal_error", "an unexpected error; quote the request id"
            )
            await response(scope, receive, send_with_id)
