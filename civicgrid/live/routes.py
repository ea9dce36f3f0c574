"""``GET /live/events``: the live stream (Server-Sent Events) of the changes the signed-in
user may see. The pages sign in with their session cookie, other clients with a bearer
token. A reconnecting client passes the last id it received (``Last-Event-ID``, as browsers
do by themselves, or ``?last_event_id=``) and first gets what it missed, from the journal."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, FastAPI, Query, Request
from fastapi.responses import StreamingResponse
from starlette.concurrency import run_in_threadpool

from civicgrid.api.deps import Now, get_settings
from civicgrid.api.errors import ERROR_RESPONSES
from civicgrid.domain.errors import Unauthenticated
from civicgrid.live import journal
from civicgrid.live.changes import ALERT, CASE, UNREAD, Change, event_text
from civicgrid.live.hub import Hub, Subscription, Viewer
from civicgrid.services import auth
from civicgrid.settings import Settings
from civicgrid.store.db import session_scope
from civicgrid.store.scoping import CaseScope
from civicgrid.web import sessions

router = APIRouter(tags=["live"])

#: How long a browser waits before reconnecting after the connection ended (``retry``).
RETRY_MS = 2000

#: Events written to a connection at once, at most.
BATCH = 200

STREAM_HEADERS = {
    "Cache-Control": "no-store",
    # Proxies (nginx) must pass each event on at once, not buffer the response.
    "X-Accel-Buffering": "no",
}


def live_hub(app: FastAPI) -> Hub:
    """This process's hub for ``app`` (made at the first connection)."""
    hub: Hub | None = getattr(app.state, "live_hub", None)
    if hub is None:
        hub = Hub(app.state.engine, app.state.settings)
        app.state.live_hub = hub
    return hub


def live_viewer(request: Request, now: Now) -> Viewer:
    """Who is connecting: the bearer token's user, else the page session's (whose idle
    timeout applies, though the stream does not count as use). Read in a short session of
    its own: a stream holds no database connection, not even while it starts."""
    settings = get_settings(request)
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    token = token.strip() if scheme.lower() == "bearer" else ""
    if not token:
        page = sessions.read_session(request, settings.secret_key)
        if page is None:
            raise Unauthenticated("sign in: a page session, or 'Authorization: Bearer <token>'")
        if sessions.is_idle(page, now, timedelta(minutes=settings.web_idle_minutes)):
            raise Unauthenticated("the page session was idle too long: sign in again")
        token = page.token
    with session_scope(request.app.state.read_session_factory) as session:
        found = auth.authenticate_token(session, token, secret_key=settings.secret_key, now=now)
        return Viewer(user_id=found.user_id, scope=CaseScope.of(found.user), token_id=found.id)


LiveViewer = Annotated[Viewer, Depends(live_viewer)]


def _cursor(header: str | None, query: int | None) -> int | str | None:
    """The client's last id: the header's, else the query's; "bad" for a header that is no id."""
    if header is not None and header.strip():
        text = header.strip()
        return int(text) if text.isascii() and text.isdigit() and len(text) <= 18 else "bad"
    return query


@router.get(
    "/live/events",
    response_class=StreamingResponse,
    summary="Live updates (Server-Sent Events) of the cases you may see, and your alerts",
    description=(
        "A text/event-stream. Events: `case` (a case was created or changed: number, state, "
        "state_label, light, lng, lat, region_code, grid_code, category_code, department_code, "
        "at), `alert` (a new notification for you: id, kind, number, text, at, unread), "
        "`unread` (your unread count changed), `reset` (what you missed cannot be replayed: "
        "reload). Each event's `id` is its journal id: reconnect with `Last-Event-ID` (or "
        "`?last_event_id=`) to get what you missed. A comment line every "
        "CIVICGRID_LIVE_HEARTBEAT_SECONDS; the server ends the stream after "
        "CIVICGRID_LIVE_CONNECTION_SECONDS and the client reconnects."
    ),
    responses={
        **ERROR_RESPONSES,
        200: {"content": {"text/event-stream": {}}, "description": "the stream"},
    },
)
async def live_events(
    request: Request,
    viewer: LiveViewer,
    last_event_id: Annotated[
        int | None,
        Query(ge=0, le=10**17, description="the last event id received (if Last-Event-ID cannot be sent)"),
    ] = None,
) -> StreamingResponse:
    settings = get_settings(request)
    hub = live_hub(request.app)
    await run_in_threadpool(hub.start)
    since = _cursor(request.headers.get("last-event-id"), last_event_id)
    subscription = hub.subscribe(viewer)
    stream = _stream(request, hub, subscription, since, settings)
    return StreamingResponse(stream, media_type="text/event-stream", headers=STREAM_HEADERS)


def _replay(request: Request, since: int, horizon: int, limit: int) -> tuple[list[Change], bool]:
    """The entries after ``since`` up to ``horizon`` (the queue brings the later ones), and
    whether the client must reload instead: it missed more than ``limit`` entries, or some
    already deleted, or its id is not one of this journal's (a database restored)."""
    with session_scope(request.app.state.read_session_factory) as session:
        low, high = journal.bounds(session)
        if high is None or since > high:
            return [], since > (high or 0)
        if low is not None and since < low - 1:
            return [], True
        if since >= horizon:
            return [], False
        changes = journal.read_after(session, since, limit + 1, upto=horizon)
    return changes[:limit], len(changes) > limit


async def _stream(
    request: Request, hub: Hub, subscription: Subscription, since: int | str | None, settings: Settings
) -> AsyncIterator[str]:
    loop = asyncio.get_running_loop()
    try:
        # The client's cursor: every change up to ``last`` was sent to it, or is not for it.
        last = subscription.horizon
        opening = f"retry: {RETRY_MS}\n: civicgrid live\n\n"
        if since is None:
            yield f"{opening}id: {last}\n\n"
        else:
            replayed, reset = (
                ([], True)
                if isinstance(since, str)
                else await run_in_threadpool(_replay, request, since, last, settings.live_replay_limit)
            )
            if reset:
                yield opening + event_text("reset", {"reason": "missed changes cannot be replayed"}, last)
            else:
                yield opening
                for change in replayed:
                    if _for(subscription.viewer, change):
                        yield change.text
                assert isinstance(since, int)
                last = max(last, since)
                yield f"id: {last}\n\n"
        ends = loop.time() + settings.live_connection_seconds
        beat = loop.time() + settings.live_heartbeat_seconds
        while subscription.ended is None:
            wait = min(ends, beat) - loop.time()
            if wait <= 0:
                if loop.time() >= ends:
                    return
                # The cursor moves on past the changes this client does not see.
                moved = subscription.horizon if subscription.queue.empty() else last
                yield f": heartbeat\nid: {moved}\n\n" if moved > last else ": heartbeat\n\n"
                last = max(last, moved)
                beat = loop.time() + settings.live_heartbeat_seconds
                continue
            queue = subscription.queue
            pending: list[Change | None] = []
            if queue.empty():
                try:
                    pending.append(await asyncio.wait_for(queue.get(), wait))
                except TimeoutError:
                    continue
            # What has gathered goes out as one write: under load, fewer and larger sends.
            while not queue.empty() and len(pending) < BATCH:
                pending.append(queue.get_nowait())
            texts = []
            for change in pending:
                if change is None:  # the hub ended the connection
                    break
                if change.id > last:
                    last = change.id
                    texts.append(change.text)
            if texts:
                yield "".join(texts)
            if None in pending:
                return
    finally:
        hub.unsubscribe(subscription)


def _for(viewer: Viewer, change: Change) -> bool:
    """Whether a replayed entry is for this viewer (as the hub decides for live ones)."""
    if change.kind == CASE:
        return change.seen_in(viewer.scope)
    return change.kind in (ALERT, UNREAD) and change.user_id == viewer.user_id
