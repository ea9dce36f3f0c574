"""What every request passes through: an id to quote, a cap on its body, protective headers.

Plain ASGI middleware (no ``BaseHTTPMiddleware``), so bodies stream through untouched."""

from __future__ import annotations

import logging
import re
import uuid

from starlette.datastructures import Headers, MutableHeaders
from starlette.exceptions import HTTPException
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


class BodyTooLarge(HTTPException):
    """A request body grew past the limit while it was being read."""

    def __init__(self, max_bytes: int, detail: str | None = None) -> None:
        super().__init__(413, detail or f"the request body may be at most {max_bytes} bytes")


#: What a multipart upload's body may carry besides the file: part headers and a few fields.
MULTIPART_OVERHEAD = 64 * 1024


class BodyLimitMiddleware:
    """Refuses a request body over ``max_bytes`` with 413: at once when Content-Length says
    so, otherwise (chunked) as soon as the bytes received pass the limit. Paths named in
    ``larger`` (a territory file) have their own limit. A file upload (multipart/form-data to
    a path that a pattern of ``uploads`` matches) may carry as many files of
    ``max_upload_bytes`` as the pattern says (one to the API, several photos to a page's
    form); the upload route checks each file's exact size as it copies it in."""

    def __init__(
        self,
        app: ASGIApp,
        max_bytes: int,
        larger: dict[str, int] | None = None,
        uploads: dict[re.Pattern[str], int] | None = None,
        max_upload_bytes: int = 0,
    ) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.larger = larger or {}
        self.uploads = uploads or {}
        self.max_upload_bytes = max_upload_bytes

    def limit(self, scope: Scope, headers: Headers) -> tuple[int, BodyTooLarge]:
        """The largest body this request may send, and the refusal when it sends more."""
        path: str = scope["path"].removeprefix(scope.get("root_path", ""))
        files = next((n for pattern, n in self.uploads.items() if pattern.fullmatch(path)), 0)
        if (
            files
            and scope["method"] == "POST"
            and headers.get("content-type", "").lower().startswith("multipart/form-data")
        ):
            limit = self.max_upload_bytes
            detail = f"a file may be at most {limit:,} bytes ({limit / 2**20:g} MB)"
            if files > 1:
                detail = f"at most {files} files of {limit:,} bytes ({limit / 2**20:g} MB) each"
            return files * (limit + MULTIPART_OVERHEAD), BodyTooLarge(limit, detail)
        max_bytes = self.larger.get(path, self.max_bytes)
        return max_bytes, BodyTooLarge(max_bytes)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        max_bytes, too_large = self.limit(scope, headers)
        declared = headers.get("content-length", "")
        if declared.isascii() and declared.isdigit() and int(declared) > max_bytes:
            response = error_response(scope, 413, "body_too_large", too_large.detail)
            await response(scope, receive, send)
            return
        received = 0

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > max_bytes:
                    # An HTTPException: the route's body reader passes it on to the error table.
                    raise too_large
            return message

        await self.app(scope, counting_receive, send)


#: Sent on every response: no MIME sniffing, no framing by other sites, no referrer leaks.
SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": "frame-ancestors 'none'",
    "Referrer-Policy": "no-referrer",
}


class SecurityHeadersMiddleware:
    """Adds ``SECURITY_HEADERS`` to every response (unless the route set its own), and
    ``Cache-Control: no-store`` under ``private_prefix``: tokens and case files must not be
    kept by browsers or proxies."""

    def __init__(self, app: ASGIApp, private_prefix: str) -> None:
        self.app = app
        self.private_prefix = private_prefix

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        root_path: str = scope.get("root_path", "")
        private = path.removeprefix(root_path).startswith(self.private_prefix)

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in SECURITY_HEADERS.items():
                    headers.setdefault(name, value)
                if private:
                    headers["Cache-Control"] = "no-store"
            await send(message)

        await self.app(scope, receive, send_with_headers)
