"""Request bodies are capped: refused with 413 before they are read in full."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable, Coroutine, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlalchemy.orm import Session
from starlette.exceptions import HTTPException
from starlette.types import Message

from civicgrid.api.app import create_app
from civicgrid.api.middleware import MULTIPART_OVERHEAD, BodyLimitMiddleware
from civicgrid.settings import Settings
from tests.api.helpers import assert_error, stored


@pytest.fixture
def small_body_client(
    settings: Settings, engine: Engine, app: FastAPI, client: TestClient
) -> Iterator[TestClient]:
    """The API with a 4 KiB body limit, on the test's transaction."""
    limited = create_app(settings.model_copy(update={"max_body_bytes": 4096}), engine)
    limited.state.session_factory = app.state.session_factory
    with TestClient(limited) as test_client:
        yield test_client


def test_a_body_over_the_limit_is_refused_with_413(small_body_client: TestClient, session: Session) -> None:
    before = stored(session)
    big = b'{"title": "' + b"x" * 5000 + b'"}'
    declared = small_body_client.post("/api/v1/auth/token", content=big)
    body = assert_error(declared, 413, "body_too_large")
    assert body["detail"] == "the request body may be at most 4096 bytes"
    # No Content-Length (chunked): refused once the bytes received pass the limit.
    chunked = small_body_client.post("/api/v1/cases", content=iter([big]))
    assert "content-length" not in chunked.request.headers
    assert_error(chunked, 413, "body_too_large")
    assert (
        small_body_client.post("/api/v1/auth/token", json={"username": "x", "password": "y"}).status_code
        == 401
    )
    assert stored(session) == before


def _run(coroutine: Coroutine[Any, Any, None]) -> None:
    """``asyncio.run`` in a thread of its own: the browser tests' driver keeps an event loop
    running in the test thread (when they run first in the same process)."""
    with ThreadPoolExecutor(1) as pool:
        pool.submit(asyncio.run, coroutine).result()


def test_the_body_limit_stops_reading_early() -> None:
    """Over Content-Length the app is never called; chunked, it reads no chunk past the limit."""
    calls: list[str] = []
    chunks = [b"x" * 1024] * 10
    read: list[bytes] = []

    async def app(scope: Any, receive: Callable[[], Any], send: Callable[[Message], Any]) -> None:
        calls.append(scope["path"])
        while (message := await receive())["more_body"]:
            read.append(message["body"])

    async def receive() -> Message:
        return {"type": "http.request", "body": chunks[len(read)], "more_body": True}

    sent: list[Message] = []

    async def send(message: Message) -> None:
        sent.append(message)

    limited = BodyLimitMiddleware(app, max_bytes=2048)
    scope = {"type": "http", "method": "POST", "path": "/x", "headers": [(b"content-length", b"10240")]}
    _run(limited(scope, receive, send))
    assert calls == [] and sent[0]["status"] == 413
    with pytest.raises(HTTPException, match="at most 2048 bytes"):
        _run(limited({**scope, "headers": []}, receive, send))
    assert calls == ["/x"] and len(read) == 2


def test_a_pages_form_may_carry_several_photos_and_no_more() -> None:
    """Multipart to a page's form with photos: as many files of the upload limit as it takes
    (plus their part headers); any other body there keeps the general limit."""

    async def app(scope: Any, receive: Callable[[], Any], send: Callable[[Message], Any]) -> None:
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    limited = BodyLimitMiddleware(
        app,
        max_bytes=2048,
        uploads={re.compile(r"/api/one"): 1, re.compile(r"/cases|/cases/[^/]+/actions/[^/]+"): 3},
        max_upload_bytes=10_000,
    )

    def status(path: str, length: int, kind: str = "multipart/form-data; boundary=x") -> int:
        sent: list[Message] = []

        async def send(message: Message) -> None:
            sent.append(message)

        async def receive() -> Message:
            return {"type": "http.request", "body": b"", "more_body": False}

        headers = [(b"content-length", str(length).encode()), (b"content-type", kind.encode())]
        _run(limited({"type": "http", "method": "POST", "path": path, "headers": headers}, receive, send))
        return int(sent[0]["status"])

    three = 3 * (10_000 + MULTIPART_OVERHEAD)
    assert status("/cases/JD-1/actions/handle", three) == 204
    assert status("/cases/JD-1/actions/handle", three + 1) == 413
    assert status("/cases", three) == 204
    assert status("/api/one", three) == 413 and status("/api/one", 10_000) == 204
    assert status("/cases", 4096, "application/x-www-form-urlencoded") == 413
    assert status("/cases/JD-1", three) == 413
