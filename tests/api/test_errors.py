"""Every answer the API refuses with is JSON with a request id, unexpected errors included."""

from __future__ import annotations

import logging
import re
from collections.abc import AsyncIterator

import pytest
from fastapi import FastAPI
from fastapi.responses import StreamingResponse
from fastapi.testclient import TestClient

from tests.api.helpers import assert_error


@pytest.mark.parametrize(
    "method, url, status, error",
    [
        ("GET", "/nowhere", 404, "not_found"),
        ("GET", "/api/v1/nowhere", 404, "not_found"),
        ("DELETE", "/api/v1/cases", 405, "method_not_allowed"),
        ("PUT", "/healthz", 405, "method_not_allowed"),
        ("GET", "/api/v1/cases", 401, "unauthenticated"),
        ("POST", "/api/v1/auth/token", 422, "invalid_request"),
    ],
)
def test_every_refusal_is_json_with_a_request_id(
    client: TestClient, method: str, url: str, status: int, error: str
) -> None:
    reply = client.request(method, url)
    body = assert_error(reply, status, error)
    assert re.fullmatch(r"[0-9a-f]{32}", body["request_id"])


def test_a_sane_incoming_request_id_is_kept_and_others_replaced(client: TestClient) -> None:
    kept = client.get("/healthz", headers={"X-Request-ID": "edge-7f3a.1:2"})
    assert kept.headers["X-Request-ID"] == "edge-7f3a.1:2"
    for insane in ("two words", "x" * 65, "<script>", ""):
        given = client.get("/nowhere", headers={"X-Request-ID": insane})
        assert re.fullmatch(r"[0-9a-f]{32}", given.headers["X-Request-ID"])
        assert given.json()["request_id"] == given.headers["X-Request-ID"]
    first, second = client.get("/healthz"), client.get("/healthz")
    assert first.headers["X-Request-ID"] != second.headers["X-Request-ID"]


def test_an_unexpected_error_is_a_logged_500_json_with_the_request_id(
    app: FastAPI, caplog: pytest.LogCaptureFixture
) -> None:
    @app.get("/api/v1/explode")
    def explode() -> None:
        raise RuntimeError("the flux capacitor melted")

    with TestClient(app, raise_server_exceptions=False) as client, caplog.at_level(logging.ERROR):
        reply = client.get("/api/v1/explode", headers={"X-Request-ID": "req-500"})
    assert reply.status_code == 500 and reply.headers["content-type"] == "application/json"
    assert reply.json() == {
        "error": "internal_error",
        "detail": "an unexpected error; quote the request id",
        "request_id": "req-500",
    }
    assert reply.headers["X-Request-ID"] == "req-500" and reply.headers["Cache-Control"] == "no-store"
    assert reply.headers["X-Content-Type-Options"] == "nosniff"
    [record] = [r for r in caplog.records if r.name == "civicgrid.api"]
    assert "req-500" in record.getMessage() and "GET /api/v1/explode" in record.getMessage()
    assert record.exc_info is not None and "flux capacitor" in str(record.exc_info[1])
    assert "the flux capacitor" not in reply.text


def test_an_error_after_the_response_started_is_logged_and_passed_on(
    app: FastAPI, caplog: pytest.LogCaptureFixture
) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        yield b"["
        raise RuntimeError("the stream broke")

    @app.get("/api/v1/stream")
    def stream() -> StreamingResponse:
        return StreamingResponse(chunks(), media_type="application/json")

    # Too late for a 500: the server must see the error and cut the connection.
    with (
        TestClient(app) as client,
        caplog.at_level(logging.ERROR),
        pytest.raises(RuntimeError, match="the stream broke"),
    ):
        client.get("/api/v1/stream", headers={"X-Request-ID": "req-stream"})
    [record] = [r for r in caplog.records if r.name == "civicgrid.api"]
    assert "req-stream" in record.getMessage()


def test_the_openapi_document_describes_the_error_body(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    assert set(spec["components"]["schemas"]["ErrorOut"]["required"]) == {"error", "detail", "request_id"}
    responses = spec["paths"]["/api/v1/cases"]["post"]["responses"]
    assert {"413", "422", "500"} <= set(responses)
