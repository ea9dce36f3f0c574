"""Fixtures of the Open311 tests: API keys of the test world's streets."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from civicgrid.api.deps import get_now
from civicgrid.domain.vocabulary import Channel
from civicgrid.services.api_keys import issue_key
from civicgrid.settings import Settings

#: The path prefix of the GeoReport v2 endpoints.
V2 = "/open311/v2"


@pytest.fixture(autouse=True)
def api_clock(app: FastAPI, now: datetime) -> Iterator[None]:
    """The API's clock stands at ``now``, the time the test world's cases are reported."""
    app.dependency_overrides[get_now] = lambda: now
    yield
    app.dependency_overrides.clear()


@pytest.fixture
def issue(client: TestClient, session: Session, settings: Settings, now: datetime) -> Callable[..., str]:
    """Issue a key (committed, so the app sees it) and return it."""

    def make(name: str = "随手拍App", region: str = "T0101", channel: Channel = Channel.THIRD_PARTY) -> str:
        _row, key = issue_key(
            session,
            None,
            name,
            region_code=region,
            channel=channel,
            secret_key=settings.secret_key,
            now=now,
        )
        session.commit()
        return key

    return make


@pytest.fixture
def key(issue: Callable[..., str]) -> str:
    """A key of 东湖街道 on the third-party channel."""
    return issue()
