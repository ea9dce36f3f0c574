"""A citizen reading their own case sees the public view: states and public notes only,
never internal notes or staff names. A note is private unless its author makes it public."""

from __future__ import annotations

from collections.abc import Callable

from fastapi.testclient import TestClient

from tests.api.helpers import CASE, Headers, assert_error

PUBLIC_FIELDS = {
    "number", "title", "category_code", "category_name", "state", "state_label", "address", "lng", "lat",
    "description", "department_name", "created_at", "updated_at", "closed_at", "deadline_at", "satisfaction",
    "progress",
}  # fmt: skip


def test_a_citizen_sees_states_and_public_notes_only(
    client: TestClient, login: Callable[[str], Headers]
) -> None:
    citizen, operator, dispatcher = login("citizen"), login("operator"), login("dispatcher")
    reported = client.post("/api/v1/cases", json={**CASE, "channel": "web"}, headers=citizen)
    assert reported.status_code == 201, reported.text
    assert set(reported.json()) == PUBLIC_FIELDS
    number = reported.json()["number"]
    steps = [
        (operator, "register", {"note": "内部：来电人语气激动，注意安抚"}),
        (
            dispatcher,
            "dispatch",
            {"department_code": "D-SZ-E", "note": "已派市政所，今日处置", "note_is_public": True},
        ),
        (dispatcher, "comment", {"note": "内部：市政所王五负责", "note_is_public": False}),
    ]
    for headers, action, body in steps:
        reply = client.post(f"/api/v1/cases/{number}/actions/{action}", json=body, headers=headers)
        assert reply.status_code == 200, reply.text

    seen = client.get(f"/api/v1/cases/{number}", headers=citizen)
    assert seen.status_code == 200
    view = seen.json()
    assert set(view) == PUBLIC_FIELDS and view["department_name"] == "东湖市政所"
    assert [(p["action_label"], p["to_state"], p["note"]) for p in view["progress"]] == [
        ("上报", "reported", None),
        ("立案", "registered", None),
        ("派遣", "dispatched", "已派市政所，今日处置"),
        ("备注", "dispatched", None),
    ]
    for secret in ("内部", "王五", "operator", "dispatcher", "reporter", "actor"):
        assert secret not in seen.text

    staff = client.get(f"/api/v1/cases/{number}", headers=dispatcher).json()
    assert [(e["note"], e["note_is_public"]) for e in staff["timeline"]][1:] == [
        ("内部：来电人语气激动，注意安抚", False),
        ("已派市政所，今日处置", True),
        ("内部：市政所王五负责", False),
    ]
    assert staff["timeline"][1]["actor"] == "operator"


def test_a_public_flag_on_an_empty_note_makes_nothing_public(
    client: TestClient, login: Callable[[str], Headers]
) -> None:
    operator = login("operator")
    number = client.post("/api/v1/cases", json=CASE, headers=operator).json()["number"]
    reply = client.post(
        f"/api/v1/cases/{number}/actions/register", json={"note_is_public": True}, headers=operator
    )
    assert reply.status_code == 200 and reply.json()["timeline"][-1]["note_is_public"] is False
    assert_error(
        client.post(
            f"/api/v1/cases/{number}/actions/comment",
            json={"note": "x", "note_is_public": "maybe"},
            headers=operator,
        ),
        422,
        "invalid_request",
        "body.note_is_public",
    )


def test_answers_and_media_link_are_checked_and_kept_for_staff(
    client: TestClient, login: Callable[[str], Headers]
) -> None:
    operator = login("operator")
    body = {**CASE, "answers": {"condition": "broken"}, "media_url": "https://photos.example.org/2.jpg"}
    case = client.post("/api/v1/cases", json=body, headers=operator).json()
    assert (
        case["answers"] == {"condition": "broken"} and case["media_url"] == "https://photos.example.org/2.jpg"
    )
    refused = client.post("/api/v1/cases", json={**CASE, "answers": {"condition": "gone"}}, headers=operator)
    assert "'gone' is not one of" in assert_error(refused, 422, "invalid")["detail"]
    assert client.post("/api/v1/cases", json=CASE, headers=operator).json()["answers"] is None
