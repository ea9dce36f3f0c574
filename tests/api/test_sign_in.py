"""Sign-in over HTTP (SQLite and PostgreSQL): sessions ended by a new password, role or scope."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from httpx import Response

from tests.factories import PASSWORD

Headers = dict[str, str]
NEW_PASSWORD = "a-brand-new-password"


def sign_in(client: TestClient, username: str, password: str = PASSWORD) -> Response:
    return client.post("/api/v1/auth/token", json={"username": username, "password": password})


def bearer(reply: Response) -> Headers:
    assert reply.status_code == 200, reply.text
    return {"Authorization": f"Bearer {reply.json()['access_token']}"}


@pytest.mark.parametrize(
    "change",
    [
        {"password": NEW_PASSWORD},
        {"is_active": False},
        {"role": "dispatcher"},
        {"region_code": "T010101"},
        {"department_code": "D-SZ-E"},
    ],
    ids=["password", "deactivated", "role", "region", "department"],
)
def test_a_new_password_role_or_scope_signs_the_user_out_everywhere(
    client: TestClient, change: dict[str, Any]
) -> None:
    admin = bearer(sign_in(client, "admin"))
    sessions = [bearer(sign_in(client, "operator")), bearer(sign_in(client, "operator"))]
    bystander = bearer(sign_in(client, "dispatcher"))
    reply = client.patch("/api/v1/users/operator", json=change, headers=admin)
    assert reply.status_code == 200, reply.text
    for headers in sessions:
        reply = client.get("/api/v1/auth/me", headers=headers)
        assert (
            reply.status_code == 401 and reply.json()["detail"] == "invalid or expired token: sign in again"
        )
    assert client.get("/api/v1/auth/me", headers=bystander).status_code == 200
    assert client.get("/api/v1/auth/me", headers=admin).status_code == 200


@pytest.mark.parametrize(
    "change",
    [{"phone": "0571-88888888"}, {"full_name": "王坐席"}, {"grid_code": "T010101-01"}, {"role": "operator"}],
)
def test_other_changes_keep_the_user_signed_in(client: TestClient, change: dict[str, Any]) -> None:
    admin = bearer(sign_in(client, "admin"))
    operator = bearer(sign_in(client, "operator"))
    assert client.patch("/api/v1/users/operator", json=change, headers=admin).status_code == 200
    assert client.get("/api/v1/auth/me", headers=operator).status_code == 200
