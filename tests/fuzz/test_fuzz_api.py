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
from schemathesis import Case
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


def _operations() -> list[tuple[str, str]]:
    """Every documented operation, read from the application's own OpenAPI document."""
    settings = Settings(environment="test", database_url="sqlite://", secret_key="fuzz-" * 8)
    document = create_app(settings, make_engine("sqlite://")).openapi()
    found = [
        (method.upper(), path)
        for path, methods in document["paths"].items()
        for method in methods
        if (method.upper(), path) not in SKIPPED
    ]
    return sorted(found, key=lambda operation: (operation[1], operation[0]))


@pytest.fixture
def token(client: TestClient) -> str:
    reply = client.post("/api/v1/auth/token", json={"username": FUZZER, "password": PASSWORD})
    assert reply.status_code == 200, reply.text
    return str(reply.json()["access_token"])


@pytest.mark.parametrize(("method", "path"), _operations(), ids=lambda part: str(part))
def test_no_request_breaks_the_api(app: FastAPI, token: str, method: str, path: str) -> None:
    operation: Any = schemathesis.openapi.from_asgi("/openapi.json", app)[path][method]

    @given(case=operation.as_strategy())
    @settings(
        max_examples=EXAMPLES,
        derandomize=True,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
    )
    def send(case: Case) -> None:
        case.call_and_validate(headers={"Authorization": f"Bearer {token}"}, checks=CHECKS)

    send()
