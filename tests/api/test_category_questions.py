"""Admins edit a category's questions; Open311 shows them as the service's attributes."""

from __future__ import annotations

from collections.abc import Callable

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from tests.api.helpers import Headers, assert_error, stored

QUESTION = {
    "code": "depth",
    "datatype": "singlevaluelist",
    "description": "坑深",
    "order": 1,
    "required": True,
    "values": [{"key": "shallow", "name": "浅"}, {"key": "deep", "name": "深"}],
}


def test_an_admin_gives_a_class_questions(client: TestClient, login: Callable[[str], Headers]) -> None:
    admin = login("admin")
    created = client.post(
        "/api/v1/categories",
        json={
            "code": "C0206",
            "name": "路面坑洞",
            "kind": "component",
            "parent_code": "C02",
            "questions": [QUESTION],
        },
        headers=admin,
    )
    assert created.status_code == 201, created.text
    assert created.json()["questions"] == [QUESTION]
    definition = client.get("/open311/v2/services/C0206.json").json()
    assert [a["code"] for a in definition["attributes"]] == ["depth"]
    second = {"code": "note", "datatype": "text", "description": "补充说明", "order": 2}
    patched = client.patch(
        "/api/v1/categories/C0206",
        json={"questions": [{**second, "order": 1}, {**QUESTION, "order": 2}]},
        headers=admin,
    )
    assert patched.status_code == 200, patched.text
    assert [q["code"] for q in patched.json()["questions"]] == ["note", "depth"]
    cleared = client.patch("/api/v1/categories/C0206", json={"questions": []}, headers=admin)
    assert cleared.json()["questions"] == []
    assert client.get("/open311/v2/services.json").json()[0]["metadata"] is True  # C0101 keeps its own


def test_bad_questions_are_refused_and_change_nothing(
    client: TestClient, session: Session, login: Callable[[str], Headers]
) -> None:
    admin = login("admin")
    before = stored(session)
    twice = client.patch("/api/v1/categories/C0101", json={"questions": [QUESTION, QUESTION]}, headers=admin)
    assert "unique" in assert_error(twice, 422, "invalid")["detail"]
    no_values = client.patch(
        "/api/v1/categories/C0101", json={"questions": [{**QUESTION, "values": []}]}, headers=admin
    )
    assert "need some" in assert_error(no_values, 422, "invalid")["detail"]
    assert_error(
        client.patch(
            "/api/v1/categories/C0101",
            json={"questions": [{**QUESTION, "datatype": "colour"}]},
            headers=admin,
        ),
        422,
        "invalid_request",
        "body.questions.0.datatype",
    )
    assert stored(session) == before
    assert client.get("/open311/v2/services/C0101.json").json()["attributes"][0]["code"] == "condition"
