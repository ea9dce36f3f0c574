"""Published evaluations: a finished month is frozen as version 1; a late event changes the
live figures and never the stored ones; publishing again gives version 2 with the
differences listed; bad requests are refused and store nothing."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from civicgrid.domain.vocabulary import Role
from civicgrid.services.cases import CentreRules
from civicgrid.store.models import PublishedEvaluation
from tests.api.helpers import Headers, assert_error
from tests.factories import World, act, new_case, user
from tests.statistics_history import at, build_history

OCTOBER = "/api/v1/evaluations/department/2026-10"
LIVE = "/api/v1/statistics/evaluation/department"


@pytest.fixture
def history(session: Session, world: World, rules: CentreRules, clock: Any) -> Any:
    """The October history, plus a case handled on 28 October and not yet checked; the
    API's clock at 15 November, after the month is over."""
    build_history(session, world, rules)
    late = new_case(session, world, rules, at(10, 28, 9))
    act(session, world, rules, late, "operator", "register", at(10, 28, 9))
    act(session, world, rules, late, "dispatcher", "dispatch", at(10, 28, 9), department_code="D-SZ-E")
    act(session, world, rules, late, "handler_sz", "accept", at(10, 28, 9, 10))
    act(session, world, rules, late, "handler_sz", "handle", at(10, 28, 10), note="已处置")
    user(session, "leader_east", Role.LEADER, region=world.regions["east"])
    session.commit()
    clock(at(11, 15, 12))
    return late


def stored(session: Session) -> int:
    session.expire_all()
    return session.scalar(select(func.count()).select_from(PublishedEvaluation)) or 0


def sz(rows: list[dict[str, Any]]) -> dict[str, Any]:
    return next(row for row in rows if row["group"]["key"] == "D-SZ-E")


def test_a_published_month_stays_as_it_was_and_a_republication_lists_the_changes(
    client: TestClient,
    session: Session,
    world: World,
    rules: CentreRules,
    history: Any,
    login: Callable[[str], Headers],
    clock: Any,
) -> None:
    leader = login("leader")
    reply = client.post(OCTOBER, json={"note": "10月考核"}, headers=leader)
    assert reply.status_code == 201, reply.text
    first = reply.json()
    assert (first["version"], first["period_key"], first["period_label"]) == (1, "2026-10", "2026年10月")
    assert first["region_code"] == "T01" and first["published_by"] == "leader" and first["changes"] is None
    assert first["scheme_name"].startswith("默认考核方案") and len(first["scheme_digest"]) == 64
    assert first["published_at"] == "2026-11-15T12:00:00+08:00"
    live = client.get(LIVE, params={"period": "month", "date": "2026-10-01"}, headers=leader).json()
    assert first["rows"] == live["rows"], "what is published is what the evaluation shows"
    before = sz(first["rows"])
    assert before["items"][2]["figure"] == "75.00%"  # 按期处置率: 6 of 8 handled on time

    # A late result: on 16 November the check of the case handled on 28 October fails, so
    # October's handling of it no longer counts (返工: the department handles it again).
    act(session, world, rules, history, "inspector", "fail_check", at(11, 16, 9), note="井盖仍松动")
    session.commit()
    clock(at(11, 16, 12))
    changed = client.get(LIVE, params={"period": "month", "date": "2026-10-01"}, headers=leader).json()
    assert sz(changed["rows"])["items"][2]["figure"] == "71.43%"  # 5 of 7
    kept = client.get(f"{OCTOBER}/1", headers=leader)
    assert kept.status_code == 200, kept.text
    assert kept.json()["rows"] == first["rows"], "the published version does not change"

    reply = client.post(OCTOBER, json={"note": "补录11月16日核查结果"}, headers=leader)
    assert reply.status_code == 201, reply.text
    second = reply.json()
    assert second["version"] == 2 and second["note"] == "补录11月16日核查结果"
    assert second["rows"] == changed["rows"]
    changes = second["changes"]
    assert changes["previous_version"] == 1 and changes["scheme_changed"] is False
    unit = next(unit for unit in changes["units"] if unit["key"] == "D-SZ-E")
    assert unit["change"] == "changed" and unit["value_before"] == before["value"]
    assert unit["value_after"] == sz(changed["rows"])["value"]
    assert unit["value_delta"] == round(unit["value_after"] - unit["value_before"], 2)
    handling = next(item for item in unit["items"] if item["indicator"] == "on_time_handling_rate")
    assert (handling["figure_before"], handling["figure_after"]) == ("75.00%", "71.43%")
    assert all(unit["key"] != "D-CG-W" for unit in changes["units"]) and changes["unchanged"] == 1

    assert client.get(f"{OCTOBER}/2/changes", headers=leader).json() == changes
    listed = client.get("/api/v1/evaluations", params={"period": "2026-10"}, headers=leader).json()
    assert [(item["version"], item["published_by"]) for item in listed] == [(2, "leader"), (1, "leader")]
    assert client.get(f"{OCTOBER}/1", headers=leader).json()["rows"] == first["rows"]
    assert_error(client.get(f"{OCTOBER}/1/changes", headers=leader), 404, "not_found")
    assert_error(client.get(f"{OCTOBER}/3", headers=leader), 404, "not_found")


def test_the_database_refuses_to_change_a_published_version(
    client: TestClient, session: Session, history: Any, login: Callable[[str], Headers]
) -> None:
    assert client.post(OCTOBER, headers=login("leader")).status_code == 201
    for statement in ("UPDATE published_evaluations SET note = 'x'", "DELETE FROM published_evaluations"):
        with pytest.raises(Exception, match="append-only"), session.begin_nested():
            session.execute(text(statement))
    assert stored(session) == 1


@pytest.mark.parametrize(
    ("who", "path", "params", "status", "error", "reason"),
    [
        ("leader", "/api/v1/evaluations/department/2026-11", {}, 422, "invalid", "is not over"),
        ("leader", "/api/v1/evaluations/department/2026-Q4", {}, 422, "invalid", "is not over"),
        ("leader", "/api/v1/evaluations/department/2026-13", {}, 422, "invalid", "no month 13"),
        ("leader", "/api/v1/evaluations/department/October", {}, 422, "invalid", "a quarter (2026-Q4)"),
        ("leader", "/api/v1/evaluations/parks/2026-10", {}, 422, "invalid_request", "kind"),
        (
            "leader",
            "/api/v1/evaluations/community/2026-10",
            {},
            422,
            "invalid",
            "does not evaluate community",
        ),
        ("leader", OCTOBER, {"region": "NOWHERE"}, 422, "invalid", "unknown region code"),
        ("leader_east", OCTOBER, {"region": "T0102"}, 403, "forbidden", "outside your scope"),
        ("admin", OCTOBER, {}, 403, "forbidden", "the leader's decision"),
        ("supervisor", OCTOBER, {}, 403, "forbidden", "the leader's decision"),
    ],
)
def test_bad_publications_are_refused_and_store_nothing(
    client: TestClient,
    session: Session,
    history: Any,
    login: Callable[[str], Headers],
    who: str,
    path: str,
    params: dict[str, str],
    status: int,
    error: str,
    reason: str,
) -> None:
    reply = client.post(path, params=params, headers=login(who))
    assert_error(reply, status, error)
    assert reason in reply.text
    assert stored(session) == 0


def test_publishing_the_same_figures_again_is_refused(
    client: TestClient, session: Session, history: Any, login: Callable[[str], Headers]
) -> None:
    leader = login("leader")
    assert client.post(OCTOBER, headers=leader).status_code == 201
    reply = client.post(OCTOBER, headers=leader)
    assert_error(reply, 409, "conflict")
    assert "already holds these figures" in reply.text
    assert stored(session) == 1


def test_a_street_leader_publishes_for_the_street_and_its_staff_read_it(
    client: TestClient, session: Session, history: Any, login: Callable[[str], Headers]
) -> None:
    reply = client.post(OCTOBER, headers=login("leader_east"))
    assert reply.status_code == 201, reply.text
    body = reply.json()
    assert body["region_code"] == "T0101" and [row["group"]["key"] for row in body["rows"]] == ["D-SZ-E"]
    # The street's staff read it (their own region by default); the other street's do not.
    assert client.get(f"{OCTOBER}/1", headers=login("supervisor")).json()["rows"] == body["rows"]
    assert_error(client.get(f"{OCTOBER}/1", headers=login("dispatcher_west")), 404, "not_found")
    west = client.get(f"{OCTOBER}/1", params={"region": "T0101"}, headers=login("dispatcher_west"))
    assert_error(west, 403, "forbidden")
    assert client.get("/api/v1/evaluations", headers=login("dispatcher_west")).json() == []
    assert len(client.get("/api/v1/evaluations", headers=login("leader")).json()) == 1
    assert_error(client.get("/api/v1/evaluations", headers=login("citizen")), 403, "forbidden")


def test_a_published_version_downloads_as_stored(
    client: TestClient, session: Session, world: World, rules: CentreRules, history: Any,
    login: Callable[[str], Headers],
) -> None:  # fmt: skip
    leader = login("leader")
    assert client.post(OCTOBER, headers=leader).status_code == 201
    act(session, world, rules, history, "inspector", "fail_check", at(11, 16, 9), note="井盖仍松动")
    session.commit()
    reply = client.get(f"{OCTOBER}/1/export", params={"format": "csv"}, headers=leader)
    assert reply.status_code == 200, reply.text
    assert "filename*=UTF-8''" in reply.headers["content-disposition"]
    assert 'filename="evaluation-department-2026-10-T01-v1.csv"' in reply.headers["content-disposition"]
    lines = reply.content.decode("utf-8-sig").splitlines()
    assert lines[0].startswith("排名,编码,名称,综合指标值,等级,立案数·指标值")
    assert lines[1].startswith("1,D-SZ-E,东湖市政所,") and ",75.00%," in lines[1]
