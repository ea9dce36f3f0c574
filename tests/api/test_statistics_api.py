"""The statistics API: the table with rates and their parts, the cases behind a figure
(cursor-paged), and clear refusals of bad periods, groupings, indicators and regions."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from civicgrid.services.cases import CentreRules
from tests.api.helpers import Headers, assert_error
from tests.factories import World
from tests.statistics_history import at, build_history

OCTOBER = {"period": "month", "date": "2026-10-15"}


@pytest.fixture
def leader(
    session: Session,
    world: World,
    rules: CentreRules,
    client: TestClient,
    login: Callable[[str], Headers],
    clock: Any,
) -> Headers:
    """The district leader's headers, the history stored and the API's clock at 15 Nov 2026."""
    build_history(session, world, rules)
    session.commit()
    clock(at(11, 15, 12))
    return login("leader")


def test_a_table_by_street_with_rates_and_their_parts(client: TestClient, leader: Headers) -> None:
    params = {**OCTOBER, "group_by": "street", "indicators": "closure_rate,closed,on_time_verification_rate"}
    reply = client.get("/api/v1/statistics/table", params=params, headers=leader)
    assert reply.status_code == 200, reply.text
    body = reply.json()
    assert body["period_label"] == "2026年10月" and body["period_start"].startswith("2026-10-01T00:00:00+08")
    assert body["labels"]["closure_rate"] == "结案率"
    east, west = body["rows"]
    assert east["group"] == {"key": "T0101", "label": "东湖街道"}
    assert east["values"]["closure_rate"] == {
        "value": 6 / 7, "numerator": 6, "denominator": 7, "display": "85.71%"
    }  # fmt: skip
    assert west["values"]["closure_rate"]["display"] == "0.00%"
    dash = body["total"]["values"]["on_time_verification_rate"]
    assert dash == {"value": None, "numerator": 0, "denominator": 0, "display": "—"}
    assert body["total"]["values"]["closed"] == {
        "value": 6,
        "numerator": None,
        "denominator": None,
        "display": None,
    }


def test_the_cases_behind_a_figure_page_by_cursor(client: TestClient, leader: Headers) -> None:
    params = {
        **OCTOBER,
        "group_by": "street",
        "indicator": "closure_rate",
        "part": "denominator",
        "group": "T0101",
    }
    seen: list[str] = []
    cursor = None
    while True:
        page = {**params, "page_size": 3, **({"cursor": cursor} if cursor else {})}
        reply = client.get("/api/v1/statistics/cases", params=page, headers=leader)
        assert reply.status_code == 200, reply.text
        body = reply.json()
        assert body["total"] == 7
        seen += [item["number"] for item in body["items"]]
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert len(seen) == len(set(seen)) == 7


@pytest.mark.parametrize(
    ("params", "status", "error", "where"),
    [
        ({"from": "2026-10-31", "to": "2026-10-01"}, 422, "invalid", "ends (2026-10-01) before it starts"),
        ({}, 422, "invalid", "say which period"),
        ({**OCTOBER, "from": "2026-10-01", "to": "2026-10-31"}, 422, "invalid", "not both"),
        (
            {"from": "2026-10-01", "to": "2026-10-31", "date": "2026-10-02"},
            422,
            "invalid",
            "date goes with period",
        ),
        ({**OCTOBER, "group_by": "planet"}, 422, "invalid_request", "group_by"),
        ({**OCTOBER, "period": "decade"}, 422, "invalid_request", "period"),
        (
            {**OCTOBER, "indicators": "closure_rate,happiness"},
            422,
            "invalid",
            "unknown indicator(s) happiness",
        ),
        ({**OCTOBER, "indicators": " , "}, 422, "invalid", "at least one indicator"),
        ({**OCTOBER, "region": "NOWHERE"}, 422, "invalid", "unknown region code 'NOWHERE'"),
        (
            {**OCTOBER, "group_by": "dispatcher", "indicators": "closed"},
            422,
            "invalid",
            "not counted per dispatcher",
        ),
    ],
)
def test_bad_requests_are_refused_with_a_reason(
    client: TestClient, leader: Headers, params: dict[str, str], status: int, error: str, where: str
) -> None:
    reply = client.get("/api/v1/statistics/table", params=params, headers=leader)
    body = assert_error(reply, status, error)
    assert where in reply.text, body


def test_a_street_leader_cannot_open_another_streets_figures(
    client: TestClient, leader: Headers, login: Callable[[str], Headers]
) -> None:
    headers = login("supervisor")
    reply = client.get("/api/v1/statistics/table", params={**OCTOBER, "region": "T0102"}, headers=headers)
    assert_error(reply, 403, "forbidden")
    assert "outside your scope" in reply.text
    cases = {**OCTOBER, "indicator": "reported", "group_by": "street", "group": "T0102"}
    reply = client.get("/api/v1/statistics/cases", params=cases, headers=headers)
    assert reply.status_code == 200 and reply.json()["items"] == []


def test_the_catalogue_and_the_openapi_document(client: TestClient, leader: Headers) -> None:
    catalogue = client.get("/api/v1/statistics/indicators", headers=leader).json()
    closure = next(item for item in catalogue if item["key"] == "closure_rate")
    assert closure["definition"] == "结案数 / 应结案数" and closure["kind"] == "rate"
    paths = client.get("/openapi.json").json()["paths"]
    assert {"/api/v1/statistics/table", "/api/v1/statistics/cases", "/api/v1/statistics/indicators"} <= set(
        paths
    )


def test_the_department_evaluation_ranks_with_each_score_explained(
    client: TestClient, leader: Headers
) -> None:
    reply = client.get("/api/v1/statistics/evaluation/department", params=OCTOBER, headers=leader)
    assert reply.status_code == 200, reply.text
    body = reply.json()
    assert body["scheme_name"].startswith("默认考核方案") and body["period_label"] == "2026年10月"
    first, second = body["rows"]
    # 东湖市政所: 7 registered (the parked case left out) → 100; 6/7, 5/7 on time, 1/6 reworked.
    assert (first["rank"], first["group"]["key"], first["value"], first["grade"]) == (1, "D-SZ-E", 82.14, "B")
    assert [item["figure"] for item in first["items"]] == ["7", "85.71%", "71.43%", "16.67%"]
    # 西山城管中队: one open case overdue, nothing handled: 返工率 "—" is left out, 100 × 10 / 70.
    assert (second["rank"], second["group"]["key"], second["value"], second["grade"]) == (
        2,
        "D-CG-W",
        14.29,
        "E",
    )
    assert second["items"][3] == {
        "indicator": "rework_rate", "label": "返工率", "figure": "—", "score": None, "weight": 30.0, "points": 0.0
    }  # fmt: skip


def test_streets_are_scored_per_grid_and_unknown_targets_refused(client: TestClient, leader: Headers) -> None:
    body = client.get("/api/v1/statistics/evaluation/street", params=OCTOBER, headers=leader).json()
    east = next(row for row in body["rows"] if row["group"]["key"] == "T0101")
    assert east["items"][1]["figure"] == "8/2网格"
    reply = client.get("/api/v1/statistics/evaluation/community", params=OCTOBER, headers=leader)
    assert_error(reply, 422, "invalid")
    assert "does not evaluate community" in reply.text
    assert_error(
        client.get("/api/v1/statistics/evaluation/parks", params=OCTOBER, headers=leader),
        422,
        "invalid_request",
    )
