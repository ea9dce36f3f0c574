"""Admission: a server process works on a few requests at once; the rest wait their turn,
but never longer than the wait limit, and a response that has started gives its turn back."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response, StreamingResponse
from starlette.routing import Route

from civicgrid.api.admission import AdmissionMiddleware
from civicgrid.api.app import create_app
from civicgrid.settings import Settings


class Probe:
    """A real ASGI app whose routes report how many requests are inside them at once, and
    can be held until the test lets them go."""

    def __init__(self) -> None:
        self.inside = 0
        self.most_inside = 0
        self.release = asyncio.Event()

    async def busy(self, request: Request) -> Response:
        self.inside += 1
        self.most_inside = max(self.most_inside, self.inside)
        await asyncio.sleep(0.05)
        self.inside -= 1
        return PlainTextResponse("done")

    async def held(self, request: Request) -> Response:
        await self.release.wait()
        return PlainTextResponse("held")

    async def stream(self, request: Request) -> Response:
        async def body():  # type: ignore[no-untyped-def]
            yield b"first "
            await self.release.wait()
            yield b"last"

        return StreamingResponse(body())

    async def failing(self, request: Request) -> Response:
        raise RuntimeError("a route that fails")

    def app(self, limit: int, max_wait: float) -> AdmissionMiddleware:
        routes = [
            Route("/busy", self.busy),
            Route("/held", self.held),
            Route("/stream", self.stream),
            Route("/live/events", self.held),
            Route("/failing", self.failing),
        ]
        return AdmissionMiddleware(Starlette(routes=routes), limit=limit, max_wait=max_wait)


def run(
    limit: int, max_wait: float, scenario: Callable[[Probe, httpx.AsyncClient], Awaitable[None]]
) -> Probe:
    async def main() -> Probe:
        probe = Probe()
        transport = httpx.ASGITransport(app=probe.app(limit, max_wait), raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            await scenario(probe, client)
        return probe

    return asyncio.run(main())


async def quick_answer_while_held(probe: Probe, client: httpx.AsyncClient, first: str) -> None:
    """``first`` is started and stays held; ``/busy`` must still be answered, then ``first`` is let go."""
    holder = asyncio.create_task(client.get(first))
    await asyncio.sleep(0.05)  # the first request is inside, holding its turn if it took one
    answer = await asyncio.wait_for(client.get("/busy"), timeout=5)
    assert answer.status_code == 200
    assert not holder.done()
    probe.release.set()
    assert (await holder).status_code in (200, 500)


@pytest.mark.parametrize("limit", [1, 2, 3])
def test_at_most_the_limit_of_requests_are_worked_on_at_once(limit: int) -> None:
    async def scenario(probe: Probe, client: httpx.AsyncClient) -> None:
        answers = await asyncio.gather(*(client.get("/busy") for _ in range(8)))
        assert [answer.status_code for answer in answers] == [200] * 8

    assert run(limit, max_wait=30, scenario=scenario).most_inside == limit


def test_no_limit_lets_every_request_in() -> None:
    async def scenario(probe: Probe, client: httpx.AsyncClient) -> None:
        await asyncio.gather(*(client.get("/busy") for _ in range(8)))

    assert run(0, max_wait=30, scenario=scenario).most_inside == 8


def test_a_request_that_waited_the_limit_goes_ahead_without_a_turn() -> None:
    run(1, max_wait=0.05, scenario=lambda probe, client: quick_answer_while_held(probe, client, "/held"))


def test_a_held_request_keeps_the_others_waiting_until_the_limit() -> None:
    async def scenario(probe: Probe, client: httpx.AsyncClient) -> None:
        holder = asyncio.create_task(client.get("/held"))
        await asyncio.sleep(0.05)
        waiting = asyncio.create_task(client.get("/busy"))
        await asyncio.sleep(0.5)
        assert not waiting.done()
        probe.release.set()
        assert (await holder).status_code == 200
        assert (await waiting).status_code == 200

    run(1, max_wait=30, scenario=scenario)


def test_a_streamed_response_gives_its_turn_back_when_it_starts() -> None:
    run(1, max_wait=30, scenario=lambda probe, client: quick_answer_while_held(probe, client, "/stream"))


def test_live_streams_take_no_turn() -> None:
    run(1, max_wait=30, scenario=lambda probe, client: quick_answer_while_held(probe, client, "/live/events"))


def test_a_failed_request_gives_its_turn_back() -> None:
    async def scenario(probe: Probe, client: httpx.AsyncClient) -> None:
        assert (await client.get("/failing")).status_code == 500
        answer = await asyncio.wait_for(client.get("/busy"), timeout=5)
        assert answer.status_code == 200

    run(1, max_wait=30, scenario=scenario)


def test_the_app_admits_as_many_requests_as_the_settings_say() -> None:
    settings = Settings(
        environment="test",
        database_url="sqlite://",
        secret_key="s" * 40,
        admitted_requests=3,
        admission_wait_ms=400,
    )
    admission = [m for m in create_app(settings).user_middleware if m.cls is AdmissionMiddleware]
    assert len(admission) == 1
    assert admission[0].kwargs == {"limit": 3, "max_wait": 0.4}
