"""Fixtures of the API tests."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from civicgrid.api.deps import get_now
from tests.api.helpers import Headers
from tests.factories import PASSWORD


@pytest.fixture
def login(client: TestClient, app: FastAPI, now: datetime) -> Iterator[Callable[[str], Headers]]:
    """Headers of a signed-in user (the API's clock set to ``now``)."""
    app.dependency_overrides[get_now] = lambda: now

    def headers(username: str) -> Headers:
        reply = client.post("/api/v1/auth/token", json={"username": username, "password": PASSWORD})
        assert reply.status_code == 200, reply.text
        return {"Authorization": f"Bearer {reply.json()['access_token']}"}

    yield headers
    app.dependency_overrides.clear()
