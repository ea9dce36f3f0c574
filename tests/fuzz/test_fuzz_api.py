"""Fuzz the whole API from its own OpenAPI document (schemathesis), on SQLite and
PostgreSQL: whatever a client sends, the answer is never a 5xx, and every answer matches
the documented status codes, content type and response schema."""

from __future__ import annotations

from typing import Any

import pytest
import schemathesis
from fastapi import FastAPI
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from schemathesis import Case, GenerationMode
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from civicgrid.api.app import create_app
from civicgrid.settings import Settings
from civicgrid.store.db import make_engine
from tests.factories import PASSWORD

#: Examples per operation: enough to find the classic holes, bounded for CI.
EXAMPLES = 30
#: Signing out would revoke the token the other operations use; it has its own tests.
SKIPPED = {("POST", "/api/v1/auth/logout")}
#: Who sends the fuzzed requests: a district admin reaches every endpoint and scope.
FUZZER = "admin"
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]


def _operations() -> list[tuple[str, str, GenerationMode]]:
    """Every documented operation, read from the application's own OpenAPI document: with
    what it allows, and (when it takes any input) with what it does not."""
    settings = Settings(environment="test", database_url="sqlite://", secret_key="fuzz-" * 8)
    document = create_app(settings, make_engine("sqlite://")).openapi()
    found = []
    for path, methods in document["paths"].items():
        for method, operation in methods.items():
            if (method.upper(), path) in SKIPPED:
                continue
            found.append((method.upper(), path, GenerationMode.POSITIVE))
            if operation.get("parameters") or operation.get("requestBody"):
                found.append((method.upper(), path, GenerationMode.NEGATIVE))
    return sorted(found, key=lambda operation: (operation[1], operation[0], operation[2].value))


@pytest.fixture
def token(client: TestClient) -> str:
    reply = client.post("/api/v1/auth/token", json={"username": FUZZER, "password": PASSWORD})
    assert reply.status_code == 200, reply.text
    return str(reply.json()["access_token"])


@pytest.mark.parametrize(
    ("method", "path", "mode"),
    _operations(),
    ids=lambda part: part.value if isinstance(part, GenerationMode) else str(part),
)
def test_no_request_breaks_the_api(
    app: FastAPI, token: str, method: str, path: str, mode: GenerationMode
) -> None:
    """Requests the document allows (positive) and requests it does not (negative)."""
    operation: Any = schemathesis.openapi.from_asgi("/openapi.json", app)[path][method]

    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(
        max_examples=EXAMPLES,
        derandomize=True,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
    )
    def send(case: Case) -> None:
        # A generous timeout: the check is for server errors, and CI machines can be slow.
        case.call_and_validate(headers={"Authorization": f"Bearer {token}"}, checks=CHECKS, timeout=120)

    send()
