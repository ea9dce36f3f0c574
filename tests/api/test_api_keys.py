"""API keys over the admin API and the command line: issued once, stored hashed, scoped to a
region, revoked for good."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from civicgrid.cli import app as cli
from civicgrid.services.auth import password_matches
from civicgrid.settings import get_settings
from civicgrid.store.db import make_engine, make_session_factory
from civicgrid.store.models import ApiKey
from tests.api.helpers import Headers, assert_error, stored

REPORT = {"service_code": "E0105", "lat": "30.005", "long": "120.005"}


def test_an_admin_issues_lists_and_revokes_a_key(
    client: TestClient, session: Session, login: Callable[[str], Headers]
) -> None:
    admin = login("admin_east")
    reply = client.post("/api/v1/api-keys", json={"name": "随手拍App"}, headers=admin)
    assert reply.status_code == 201, reply.text
    issued = reply.json()
    key = issued.pop("key")
    assert key.startswith("cg_") and issued["prefix"] == key[:10]
    assert issued["region_code"] == "T0101" and issued["channel"] == "third_party"
    assert issued["created_by"] == "admin_east" and issued["revoked_at"] is None
    row = session.scalar(select(ApiKey).where(ApiKey.name == "随手拍App"))
    assert row is not None and key not in (row.key_hash, row.prefix) and len(row.key_hash) == 64
    assert row.user.username == issued["actor_username"] and row.user.full_name == "API密钥：随手拍App"
    assert not password_matches(row.user.password_hash, ""), "no one signs in as a key's user"

    listed = client.get("/api/v1/api-keys", headers=admin).json()
    assert [k["name"] for k in listed] == ["随手拍App"] and "key" not in listed[0]
    assert client.post("/open311/v2/requests.json", data={**REPORT, "api_key": key}).status_code == 200

    revoked = client.post("/api/v1/api-keys/随手拍App/revoke", headers=admin)
    assert revoked.status_code == 200 and revoked.json()["revoked_at"] is not None
    assert client.post("/open311/v2/requests.json", data={**REPORT, "api_key": key}).status_code == 403
    assert_error(client.post("/api/v1/api-keys/随手拍App/revoke", headers=admin), 409, "conflict")
    assert_error(client.post("/api/v1/api-keys/nothing/revoke", headers=admin), 404, "not_found")


def test_bad_key_requests_are_refused_and_change_nothing(
    client: TestClient, session: Session, login: Callable[[str], Headers]
) -> None:
    admin = login("admin")
    assert client.post("/api/v1/api-keys", json={"name": "甲"}, headers=admin).status_code == 201
    before = stored(session)
    assert_error(client.post("/api/v1/api-keys", json={"name": "甲"}, headers=admin), 409, "conflict")
    assert_error(
        client.post("/api/v1/api-keys", json={"name": "乙", "region_code": "NOPE"}, headers=admin),
        422,
        "invalid",
    )
    assert_error(
        client.post("/api/v1/api-keys", json={"name": "乙", "channel": "fax"}, headers=admin),
        422,
        "invalid_request",
        "body.channel",
    )
    assert_error(client.post("/api/v1/api-keys", json={"name": ""}, headers=admin), 422, "invalid_request")
    assert_error(client.get("/api/v1/api-keys", headers=login("dispatcher")), 403, "forbidden")
    assert stored(session) == before


@pytest.fixture
def database(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    url = f"sqlite:///{tmp_path / 'centre.db'}"
    monkeypatch.setenv("CIVICGRID_DATABASE_URL", url)
    get_settings.cache_clear()
    return url


def test_the_command_line_prints_a_key_once_lists_and_revokes_it(database: str) -> None:
    runner = CliRunner()
    assert runner.invoke(cli, ["demo", "--cases", "0"]).exit_code == 0
    created = runner.invoke(cli, ["api-key", "create", "随手拍App", "--channel", "wechat"])
    assert created.exit_code == 0, created.output
    key = created.output.strip().splitlines()[-1]
    assert key.startswith("cg_") and "channel wechat" in created.output
    engine = make_engine(database)
    with make_session_factory(engine)() as session:
        row = session.scalar(select(ApiKey))
        assert row is not None and row.region.parent_id is None and row.created_by == "command line"
    listed = runner.invoke(cli, ["api-key", "list"])
    assert "随手拍App" in listed.output and "live" in listed.output and key not in listed.output
    assert runner.invoke(cli, ["api-key", "revoke", "随手拍App"]).exit_code == 0
    assert "revoked" in runner.invoke(cli, ["api-key", "list"]).output
    again = runner.invoke(cli, ["api-key", "revoke", "随手拍App"])
    assert again.exit_code == 1 and "was revoked" in again.output
    bad = runner.invoke(cli, ["api-key", "create", "x", "--channel", "fax"])
    assert bad.exit_code == 1 and "unknown channel 'fax'" in bad.output
    twice = runner.invoke(cli, ["api-key", "create", "随手拍App"])
    assert twice.exit_code == 1 and "exists already" in twice.output
    engine.dispose()
    get_settings.cache_clear()


def test_without_a_single_top_region_the_command_line_asks_for_one(database: str) -> None:
    runner = CliRunner()
    assert runner.invoke(cli, ["init-db"]).exit_code == 0
    result = runner.invoke(cli, ["api-key", "create", "x"])
    assert result.exit_code == 1 and "--region CODE" in result.output
    get_settings.cache_clear()
