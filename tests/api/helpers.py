"""Helpers of the API tests: a case to register, row counts, the error body."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from civicgrid.store.models import Attachment, Case, CaseEvent, Category, Department, User

Headers = dict[str, str]

CASE = {
    "channel": "hotline_12345",
    "category_code": "C0101",
    "title": "望江路12号门前井盖缺失",
    "lng": 120.005,
    "lat": 30.005,
}


def stored(session: Session) -> tuple[int, ...]:
    """Row counts of everything a request could write."""
    session.expire_all()
    models = (Case, CaseEvent, Attachment, Department, User, Category)
    return tuple(session.scalar(select(func.count()).select_from(model)) or 0 for model in models)


def new_case(client: TestClient, headers: Headers, **fields: Any) -> dict[str, Any]:
    reply = client.post("/api/v1/cases", json={**CASE, **fields}, headers=headers)
    assert reply.status_code == 201, reply.text
    return reply.json()


def assert_error(reply: Any, status: int, error: str, where: str | None = None) -> dict[str, Any]:
    """``reply`` is the JSON error ``status``/``error``, naming ``where`` if given."""
    assert reply.status_code == status, reply.text
    assert reply.headers["content-type"] == "application/json"
    body: dict[str, Any] = reply.json()
    assert set(body) == {"error", "detail", "request_id"} and body["error"] == error, body
    assert body["request_id"] == reply.headers["X-Request-ID"]
    if where is not None:
        assert where in {problem["where"] for problem in body["detail"]}, body["detail"]
    return body
