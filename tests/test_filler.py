"""The benchmark filler makes a consistent store: histories replay to the cached states,
numbers are unique, every state and light is there, and the service numbers on after it."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import Engine, func, select, text

from benchmarks import filler
from benchmarks.filler import STATE_WEIGHTS, fill, prepare, with_open_share
from civicgrid.domain.clock import light_at
from civicgrid.domain.vocabulary import OPEN_STATES, CaseState, Channel, Light
from civicgrid.schemas import CaseCreate
from civicgrid.services import cases as case_service
from civicgrid.services.cases import CentreRules
from civicgrid.store.db import make_session_factory, session_scope
from civicgrid.store.history import check_history
from civicgrid.store.models import Case, CaseTask, User
from civicgrid.store.partitions import DEFAULT_PARTITION

CASES = 400


@pytest.mark.parametrize("part", [None, 150], ids=["one-part", "three-parts"])
def test_filled_store_is_consistent(
    fresh_engine: Engine, rules: CentreRules, part: int | None, monkeypatch: pytest.MonkeyPatch
) -> None:
    if part is not None:  # a large store is filled a part at a time, each numbering on
        monkeypatch.setattr(filler, "PART", part)
    now = datetime.now(UTC)
    prepare(fresh_engine, rules, now, demo_cases=5)
    report = fill(fresh_engine, CASES, rules, now)
    assert report.cases == CASES
    assert report.events > 6 * CASES

    factory = make_session_factory(fresh_engine)
    with session_scope(factory) as session:
        check = check_history(session)
        assert check.cases == CASES + 5
        assert check.mismatches == []
        numbers = session.scalars(select(Case.number)).all()
        assert len(set(numbers)) == len(numbers)
        assert {state for state in session.scalars(select(Case.state).distinct())} == set(CaseState)
        clocks = session.execute(select(Case.warning_at, Case.deadline_at)).all()
        assert {light_at(now, w, d) for w, d in clocks} >= set(Light)
        assert session.scalar(select(func.count()).select_from(CaseTask)) > 0
        regions = session.scalar(select(func.count(func.distinct(Case.region_id))))
        assert regions > 6  # communities of several streets

        operator = session.scalars(select(User).where(User.username == "operator")).one()
        data = CaseCreate(channel=Channel.HOTLINE_12345, category_code="C0101", title="填充后新案件",
                          lng=120.1493, lat=30.2771)  # fmt: skip
        case = case_service.create_case(session, operator, data, rules, datetime.now(UTC))
        assert case.number not in numbers


def test_the_filled_histories_lie_in_their_months_partitions(
    fresh_engine: Engine, rules: CentreRules
) -> None:
    now = datetime.now(UTC)
    prepare(fresh_engine, rules, now)
    fill(fresh_engine, 200, rules, now)
    if fresh_engine.dialect.name != "postgresql":
        return
    with fresh_engine.connect() as connection:
        where = connection.execute(
            text("SELECT DISTINCT tableoid::regclass::text FROM case_events")
        ).scalars()
        assert DEFAULT_PARTITION not in set(where)


def test_a_store_with_the_open_share_asked_for() -> None:
    weights = with_open_share(0.1)
    share = sum(w for state, w in weights.items() if state in OPEN_STATES) / sum(weights.values())
    assert abs(share - 0.1) < 1e-4
    # Each side keeps its proportions: archived to closed, in progress to dispatched.
    assert weights[CaseState.ARCHIVED] / weights[CaseState.CLOSED] == pytest.approx(
        STATE_WEIGHTS[CaseState.ARCHIVED] / STATE_WEIGHTS[CaseState.CLOSED], rel=1e-4
    )
    assert weights[CaseState.IN_PROGRESS] / weights[CaseState.DISPATCHED] == pytest.approx(
        STATE_WEIGHTS[CaseState.IN_PROGRESS] / STATE_WEIGHTS[CaseState.DISPATCHED], rel=1e-4
    )
    with pytest.raises(ValueError, match="between 0 and 1"):
        with_open_share(1.0)
