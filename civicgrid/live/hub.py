"""The hub of a server process: its live connections, each with its user's scope held in
memory, and the fan-out of every change the feed brings to the connections that may see it.

A case change is checked once per distinct scope (a street's dispatchers share one check),
never with a query; an alert goes to its user's connections only. Connections wait on
asyncio queues in the server's event loop; the feed's thread hands each loop its share in
one call. A connection whose queue overflows (a client that stopped reading) is ended: the
client reconnects with its Last-Event-ID and catches up from the journal.
"""

from __future__ import annotations

import asyncio
import threading
from collections import defaultdict
from dataclasses import dataclass, field

from sqlalchemy import Engine

from civicgrid.live.changes import ALERT, CASE, SIGNOUT, UNREAD, Change
from civicgrid.live.feed import Feed
from civicgrid.settings import Settings
from civicgrid.store.scoping import CaseScope

#: Changes one connection may have waiting before it is ended as too slow.
QUEUE_SIZE = 2000


@dataclass(frozen=True)
class Viewer:
    """Who a connection is for: the user, their scope, and the token they signed in with
    (its revocation ends the connection)."""

    user_id: int
    scope: CaseScope
    token_id: int


@dataclass(eq=False)
class _LoopState:
    """What the hub last handed one event loop: every change up to ``horizon`` has been
    offered to that loop's connections (queued for those whose scope sees it)."""

    horizon: int = 0


@dataclass(eq=False)
class Subscription:
    """One live connection, served on ``loop``."""

    viewer: Viewer
    loop: asyncio.AbstractEventLoop
    #: The newest change when it subscribed: it is offered every change after this one.
    start: int
    _state: _LoopState
    queue: asyncio.Queue[Change | None] = field(default_factory=lambda: asyncio.Queue(QUEUE_SIZE))
    #: Why the hub ended it (signed out, too slow, server stopping), or None.
    ended: str | None = None

    @property
    def horizon(self) -> int:
        """Every change up to this id has been offered to this connection, so the stream may
        move the client's cursor there once its queue is empty."""
        return max(self.start, self._state.horizon)

    def _offer(self, change: Change | None) -> None:
        if self.ended is not None:
            return
        try:
            self.queue.put_nowait(change)
        except asyncio.QueueFull:
            self.ended = "too slow"

    def _end(self, reason: str) -> None:
        if self.ended is None:
            self._offer(None)
            self.ended = reason


def _apply(
    offers: list[tuple[Subscription, Change]],
    endings: list[tuple[Subscription, str]],
    state: _LoopState,
    horizon: int,
) -> None:
    """On one loop: queue the changes, end the signed-out, move the loop's horizon."""
    for subscription, change in offers:
        subscription._offer(change)
    for subscription, reason in endings:
        subscription._end(reason)
    state.horizon = max(state.horizon, horizon)


class Hub:
    """The live connections of one server process on ``engine``'s journal."""

    def __init__(self, engine: Engine, settings: Settings) -> None:
        self.engine = engine
        self.settings = settings
        self._lock = threading.Lock()
        self._scopes: dict[CaseScope, set[Subscription]] = defaultdict(set)
        self._users: dict[int, set[Subscription]] = defaultdict(set)
        self._loops: dict[asyncio.AbstractEventLoop, _LoopState] = {}
        self._feed: Feed | None = None
        self._start = threading.Lock()
        #: The newest change handed on (None until the feed started).
        self.last_id: int | None = None

    # --- connections ----------------------------------------------------------------------

    def start(self) -> None:
        """Start the feed if it is not running (blocking: call it from a worker thread)."""
        with self._start:
            if self._feed is not None:
                return
            feed = Feed(self.engine, self.deliver, self.settings.live_poll_seconds)
            last = feed.start()
            with self._lock:
                self.last_id = max(self.last_id or 0, last)
            self._feed = feed

    @property
    def feed(self) -> Feed | None:
        """The running feed, if started."""
        return self._feed

    def subscribe(self, viewer: Viewer) -> Subscription:
        """A new connection for ``viewer``, in the running loop: every change after
        ``horizon`` that its scope sees will be queued for it."""
        loop = asyncio.get_running_loop()
        with self._lock:
            state = self._loops.setdefault(loop, _LoopState())
            subscription = Subscription(viewer, loop, self.last_id or 0, state)
            self._scopes[viewer.scope].add(subscription)
            self._users[viewer.user_id].add(subscription)
        return subscription

    def unsubscribe(self, subscription: Subscription) -> None:
        """Forget a connection that ended."""
        viewer = subscription.viewer
        with self._lock:
            for index, key in ((self._scopes, viewer.scope), (self._users, viewer.user_id)):
                group = index.get(key)  # type: ignore[call-overload]
                if group is not None:
                    group.discard(subscription)
                    if not group:
                        del index[key]  # type: ignore[attr-defined]
            if not any(s.loop is subscription.loop for group in self._users.values() for s in group):
                self._loops.pop(subscription.loop, None)

    @property
    def connections(self) -> int:
        """How many connections are open."""
        with self._lock:
            return sum(len(group) for group in self._users.values())

    # --- fan-out ----------------------------------------------------------------------------

    def deliver(self, changes: list[Change]) -> None:
        """Hand ``changes`` (oldest first, from the feed's thread) to the connections that
        see them; changes already handed on are dropped."""
        per_loop: dict[asyncio.AbstractEventLoop, list[tuple[Subscription, Change]]] = defaultdict(list)
        endings: dict[asyncio.AbstractEventLoop, list[tuple[Subscription, str]]] = defaultdict(list)
        with self._lock:
            last = self.last_id or 0
            fresh = [change for change in changes if change.id > last]
            if not fresh:
                return
            self.last_id = fresh[-1].id
            for change in fresh:
                if change.kind == CASE:
                    for scope, group in self._scopes.items():
                        if change.seen_in(scope):
                            for subscription in group:
                                per_loop[subscription.loop].append((subscription, change))
                elif change.kind in (ALERT, UNREAD):
                    for subscription in self._users.get(change.user_id or 0, ()):
                        per_loop[subscription.loop].append((subscription, change))
                elif change.kind == SIGNOUT:
                    token = (change.payload or {}).get("token_id")
                    for subscription in self._users.get(change.user_id or 0, ()):
                        if token is None or token == subscription.viewer.token_id:
                            endings[subscription.loop].append((subscription, "signed out"))
            loops = list(self._loops.items())
            horizon = self.last_id
        # One call per event loop (a server process has one), whatever the connections.
        for loop, state in loops:
            try:
                loop.call_soon_threadsafe(
                    _apply, per_loop.get(loop, []), endings.get(loop, []), state, horizon
                )
            except RuntimeError:  # that loop has closed (a test client's): its connections are gone
                continue

    def close(self) -> None:
        """End every connection and stop the feed (the server is stopping)."""
        with self._lock:
            everyone = [s for group in self._users.values() for s in group]
        for subscription in everyone:
            try:
                subscription.loop.call_soon_threadsafe(subscription._end, "server stopping")
            except RuntimeError:
                continue
        if self._feed is not None:
            self._feed.stop()
            self._feed = None
