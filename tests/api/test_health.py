"""Liveness and readiness probes."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from civicgrid.api.app import create_app
from civicgrid.settings import Settings
from civicgrid.store.db import make_engine
from tests.api.helpers import assert_error


def test_ready_when_the_database_answers_and_is_migrated(client: TestClient) -> None:
    reply = client.get("/readyz")
    assert reply.status_code == 200 and reply.json() == {"status": "ok"}
    assert "503" in client.get("/openapi.json").json()["paths"]["/readyz"]["get"]["responses"]


@pytest.mark.parametrize(
    "database, reason",
    [("empty.db", "schema is not the newest"), ("missing-folder/x.db", "does not answer")],
)
def test_not_ready_without_a_migrated_database(
    settings: Settings, tmp_path: Path, database: str, reason: str, caplog: pytest.LogCaptureFixture
) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / database}")
    with TestClient(create_app(settings, engine)) as client, caplog.at_level(logging.WARNING):
        reply = client.get("/readyz")
        assert client.get("/healthz").status_code == 200
    body = assert_error(reply, 503, "not_ready")
    assert reason in body["detail"]
    assert ("the database does not answer" in caplog.text) is (reason == "does not answer")
    engine.dispose()
