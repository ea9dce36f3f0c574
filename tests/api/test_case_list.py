"""The case list: keyset pages, strict cursors, counts that stop, scope only where it narrows."""

from __future__ import annotations

import base64
from collections.abc import Callable
from datetime import UTC, datetime

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Select, select, text
from sqlalchemy.orm import Session

from civicgrid.domain.vocabulary import Light, RegionLevel, Role
from civicgrid.schemas import CaseCursor, CaseFilters, decode_cursor, encode_cursor
from civicgrid.store.cases import filtered
from civicgrid.store.models import Case, User
from civicgrid.store.scoping import scoped
from tests.api.helpers import Headers, assert_error, new_case
from tests.factories import World, region


def _pages(client: TestClient, headers: Headers, **params: object) -> list[list[str]]:
    pages: list[list[str]] = []
    cursor = None
    while True:
        query = {**params, **({"cursor": cursor} if cursor else {})}
        reply = client.get("/api/v1/cases", params=query, headers=headers)
        assert reply.status_code == 200, reply.text
        body = reply.json()
        pages.append([item["number"] for item in body["items"]])
        cursor = body["next_cursor"]
        if cursor is None:
            return pages


def test_cursors_walk_every_case_once_newest_first(
    client: TestClient, login: Callable[[str], Headers]
) -> None:
    # The clock stands still: every case has the same created_at, and the id breaks the tie.
    numbers = [new_case(client, login("operator"))["number"] for _ in range(7)]
    pages = _pages(client, login("leader"), page_size=3)
    assert [len(page) for page in pages] == [3, 3, 1]
    assert [number for page in pages for number in page] == numbers[::-1]
    assert _pages(client, login("leader"), page_size=3, channel="web") == [[]]


def _cursor_text(raw: str) -> str:
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


@pytest.mark.parametrize(
    "cursor",
    [
        "!!!",
        _cursor_text("2026-11-25T08:00:00.000000+00:00"),  # no id
        _cursor_text("2026-11-25T08:00:00.000000+00:00|0"),  # not an id
        _cursor_text("2026-11-25T08:00:00.000000+00:00|9223372036854775808"),
        _cursor_text("2026-11-25T08:00:00.000000|7"),  # no time zone
        _cursor_text("2026-11-25T16:00:00.000000+08:00|7"),  # not as we write it
        _cursor_text("1969-12-31T23:00:00.000000+00:00|7"),
        _cursor_text("2026-11-25T08:00:00.000000+00:00|7") + "==",
        base64.urlsafe_b64encode(b"\xff\xfe|7").decode(),
    ],
)
def test_a_cursor_we_did_not_give_out_is_refused(
    client: TestClient, login: Callable[[str], Headers], cursor: str
) -> None:
    reply = client.get("/api/v1/cases", params={"cursor": cursor}, headers=login("leader"))
    assert_error(reply, 422, "invalid_request", "query.cursor")


def test_a_cursor_round_trips() -> None:
    cursor = CaseCursor(datetime(2026, 11, 25, 8, 0, 0, 123, tzinfo=UTC), 42)
    text = encode_cursor(cursor)
    assert set(text) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
    assert decode_cursor(text) == cursor


def test_the_count_stops_at_the_limit(
    client: TestClient, login: Callable[[str], Headers], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("civicgrid.api.cases.COUNT_LIMIT", 3)
    for _ in range(3):
        new_case(client, login("operator"))
    body = client.get("/api/v1/cases", headers=login("leader")).json()
    assert (body["total"], body["total_is_estimate"], body["total_display"]) == (3, False, "3")
    new_case(client, login("operator"))
    body = client.get("/api/v1/cases", headers=login("leader")).json()
    assert (body["total"], body["total_is_estimate"], body["total_display"]) == (3, True, "3+")
    assert len(body["items"]) == 4


def test_a_text_search_is_counted_among_the_newest_cases_only(
    client: TestClient, login: Callable[[str], Headers], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("civicgrid.store.cases.TEXT_SEARCH_COUNT_WITHIN", 4)
    operator, leader = login("operator"), login("leader")
    new_case(client, operator, title="望江路井盖缺失（甲）")
    for _ in range(2):
        new_case(client, operator, title="路灯不亮")

    def searched() -> tuple[int, bool, str, int]:
        body = client.get("/api/v1/cases", params={"q": "井盖"}, headers=leader).json()
        return body["total"], body["total_is_estimate"], body["total_display"], len(body["items"])

    assert searched() == (1, False, "1", 1)  # three cases: every one of them was looked at
    new_case(client, operator, title="路灯不亮")
    new_case(client, operator, title="望江路井盖缺失（乙）")
    # Five cases: the newest four hold one match, the older one lies beyond them; the page
    # itself still finds both.
    assert searched() == (1, True, "1+", 2)


def test_a_district_wide_list_tests_no_region_when_the_district_is_alone(
    client: TestClient, login: Callable[[str], Headers], session: Session, world: World
) -> None:
    new_case(client, login("operator"))
    if session.get_bind().dialect.name == "sqlite":
        query = scoped(select(Case.id), world.users["leader"]).order_by(Case.created_at.desc())
        plan = _plan(session, query)
        # The scope is decided once, before the scan: no per-row subtree test.
        assert "ix_cases_created_at_id" in plan and "ix_cases_region_id" not in plan, plan
    assert _seen(world.users["leader"], session) == 1
    # A second district with a case: each leader sees their own district's only.
    other = region(session, "T02", "邻区", RegionLevel.DISTRICT, None)
    session.flush()
    session.add(Case(**{**_columns(session), "region_id": other.id, "number": "JD-OTHER-1", "grid_id": None}))
    session.flush()
    assert _seen(world.users["leader"], session) == 1
    assert _seen(User(role=Role.LEADER, region=other), session) == 1


def _seen(actor: User, session: Session) -> int:
    return len(session.scalars(scoped(select(Case.id), actor)).all())


def _columns(session: Session) -> dict[str, object]:
    case = session.scalars(select(Case)).first()
    assert case is not None
    keys = [c.key for c in Case.__table__.columns if c.key != "id"]
    return {key: getattr(case, key) for key in keys}


@pytest.mark.parametrize("light", [Light.RED, Light.YELLOW])
def test_a_streets_red_and_yellow_cases_are_found_through_the_clock(
    session: Session, world: World, light: Light
) -> None:
    # Red and yellow cases are a few open ones; through the region's index the database would
    # read the street's whole history to find them.
    if session.get_bind().dialect.name != "sqlite":
        pytest.skip("SQLite's query plan")
    query = filtered(session, world.users["dispatcher"], CaseFilters(light=light), datetime.now(UTC))
    plan = _plan(session, query.order_by(None).with_only_columns(Case.id))
    assert "ix_cases_region_id" not in plan, plan
    assert "ix_cases_deadline_at" in plan or "ix_cases_warning_at" in plan, plan


def _plan(session: Session, query: Select[tuple[int]]) -> str:
    compiled = query.compile(session.bind, compile_kwargs={"literal_binds": True})
    rows = session.execute(text(f"EXPLAIN QUERY PLAN {compiled}")).all()
    return "\n".join(str(row[-1]) for row in rows)
