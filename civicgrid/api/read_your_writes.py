"""Read-your-writes with read replicas: after a write, the client's reads go to the primary
until a replica has replayed that write.

Each write request notes the primary's WAL position afterwards, twice: in this process,
under the request's bearer token (the read path must pick a database before it knows the
user, since authenticating reads the database), and in the ``X-Civicgrid-LSN`` response
header, which a client may send back so that every server process honours it.
"""

from __future__ import annotations

import hashlib

from fastapi import Request
from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from civicgrid.store.replicas import ReplicaRouter, current_lsn, format_lsn, parse_lsn

#: The primary's WAL position after the client's last write, sent back and accepted.
LSN_HEADER = "X-Civicgrid-LSN"
#: Where a request keeps the position its write reached, for ``LsnHeaderMiddleware``.
_STATE_KEY = "civicgrid_lsn"


def _client_key(token: str | None) -> str | None:
    return hashlib.sha256(token.encode()).hexdigest() if token else None


def _bearer(request: Request) -> str | None:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    return token.strip() or None if scheme.lower() == "bearer" else None


def min_lsn(request: Request, router: ReplicaRouter) -> int:
    """The WAL position a replica must have replayed to answer this request: the latest of
    the client's last write seen by this process and the one it sent back."""
    key = _client_key(_bearer(request))
    noted = router.last_writes.get(key) if key else 0
    return max(noted, parse_lsn(request.headers.get(LSN_HEADER)) or 0)


def note_write(request: Request, router: ReplicaRouter, token: str | None = None) -> None:
    """Record that the client of ``request`` (or the holder of the new ``token``) has just
    written: its reads stay on the primary until a replica has caught up."""
    lsn = current_lsn(router.primary)
    key = _client_key(token or _bearer(request))
    if key:
        router.last_writes.note(key, lsn)
    request.state._state[_STATE_KEY] = format_lsn(lsn)


class LsnHeaderMiddleware:
    """Adds ``X-Civicgrid-LSN`` to the response of a request that wrote."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_lsn(message: Message) -> None:
            lsn = scope.get("state", {}).get(_STATE_KEY)
            if message["type"] == "http.response.start" and lsn:
                MutableHeaders(scope=message)[LSN_HEADER] = lsn
            await send(message)

        await self.app(scope, receive, send_with_lsn)
