"""Admission: how many requests one server process works on at once.

Routes run in a pool of threads that share one interpreter lock. When many requests run
together, their threads take that lock from each other at every database call (SQLite gives
it up for each row it reads), and a process gets less done in all than with a few requests
at a time: 16 concurrent case lists answered about half as many requests a second as two at
a time did. So each process admits ``limit`` requests at once and the others wait their turn,
first come first served. A request that has waited ``max_wait`` seconds goes ahead anyway,
so that a few slow requests (a briefing, a territory import) never hold the rest up for
long. A request gives its turn back when its response starts, so a streamed export goes on
without one, and live streams (which stay open for minutes) never take one.
"""

from __future__ import annotations

import asyncio
import weakref

from starlette.types import ASGIApp, Message, Receive, Scope, Send

#: Paths of long-lived streams, which are not counted.
UNCOUNTED_PREFIXES = ("/live/",)


class AdmissionMiddleware:
    """At most ``limit`` requests of this process past this point at once (0: no limit);
    one that waited ``max_wait`` seconds goes ahead anyway."""

    def __init__(self, app: ASGIApp, limit: int, max_wait: float) -> None:
        self.app = app
        self.limit = limit
        self.max_wait = max_wait
        # One semaphore per event loop: a server has one; tests may start several in turn.
        self._turns: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Semaphore] = (
            weakref.WeakKeyDictionary()
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or self.limit <= 0 or scope["path"].startswith(UNCOUNTED_PREFIXES):
            await self.app(scope, receive, send)
            return
        turns = self._turns_of_this_loop()
        holding = await self._wait_for_turn(turns)

        async def send_and_give_back(message: Message) -> None:
            nonlocal holding
            if message["type"] == "http.response.start" and holding:
                holding = False
                turns.release()
            await send(message)

        try:
            await self.app(scope, receive, send_and_give_back)
        finally:
            if holding:
                turns.release()

    def _turns_of_this_loop(self) -> asyncio.Semaphore:
        loop = asyncio.get_running_loop()
        turns = self._turns.get(loop)
        if turns is None:
            turns = self._turns[loop] = asyncio.Semaphore(self.limit)
        return turns

    async def _wait_for_turn(self, turns: asyncio.Semaphore) -> bool:
        """Whether a turn was taken (False: waited ``max_wait`` and goes ahead without one)."""
        try:
            async with asyncio.timeout(self.max_wait):
                await turns.acquire()
        except TimeoutError:
            return False
        return True
