"""Fixtures of the API tests: the API's clock, and signing in by username."""

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
def clock(app: FastAPI, now: datetime) -> Iterator[Callable[[datetime], None]]:
    """Set the API's clock (starts at the ``now`` fixture)."""

    def set_time(moment: datetime) -> None:
        app.dependency_overrides[get_now] = lambda: moment

    set_time(now)
    yield set_time
    app.dependency_overrides.clear()


@pytest.fixture
def login(client: TestClient, clock: Callable[[datetime], None]) -> Callable[[str], Headers]:
    """Headers of a signed-in user (the API's clock starts at ``now``)."""
    tokens: dict[str, Headers] = {}

    def headers(username: str) -> Headers:
        if username not in tokens:
            reply = client.post("/api/v1/auth/token", json={"username": username, "password": PASSWORD})
            assert reply.status_code == 200, reply.text
            tokens[username] = {"Authorization": f"Bearer {reply.json()['access_token']}"}
        return tokens[username]

    return headers
