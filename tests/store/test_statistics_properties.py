"""Invariants of the statistics on random histories (hypothesis): every rate lies in 0–1,
按期结案数 ≤ 结案数 ≤ 应结案数, 督办超期数 ≤ 超期数, 满意数 + 不满意数 = 有效评价数,
漏报数 ≤ 网格立案数 ≤ 立案数, the streets add up to the district, the inspectors to the
whole, and the figures are the same after the facts are recomputed from the events."""

from __future__ import annotations

import random
from datetime import date, timedelta
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import update
from sqlalchemy.orm import Session, sessionmaker

from civicgrid.domain import workflow
from civicgrid.domain.errors import DomainError
from civicgrid.domain.indicators import COUNTS, RATES, Period, PeriodKind
from civicgrid.domain.vocabulary import Action, GridDuty, Role
from civicgrid.services import statistics
from civicgrid.services.cases import CentreRules
from civicgrid.services.statistics import GroupBy, Query, rebuild_facts
from civicgrid.store.models import Case, GridStaff
from tests.factories import World, act, new_case, user
from tests.statistics_history import SH, at

#: Who takes each action, per street; the handler is the case department's.
ACTORS = {
    "east": {
        Role.OPERATOR: "operator",
        Role.DISPATCHER: "dispatcher",
        Role.INSPECTOR: "inspector",
        Role.LEADER: "leader",
    },
    "west": {
        Role.OPERATOR: "operator_west",
        Role.DISPATCHER: "dispatcher_west",
        Role.INSPECTOR: "inspector_west",
        Role.LEADER: "leader",
    },
}
DEPARTMENTS = {"east": ["D-SZ-E", "D-CG-E"], "west": ["D-CG-W"]}
HANDLERS = {"D-SZ-E": "handler_sz", "D-CG-E": "handler_cg", "D-CG-W": "handler_west"}
POINTS = {"east": [(120.005, 30.005), (120.015, 30.005)], "west": [(120.105, 30.005)]}
SKIPPED = {Action.ESCALATE, Action.SEND_BACK, Action.DISPATCH_JOINT, Action.MERGE, Action.FINISH_TASK}
SKIPPED |= {Action.COMMENT}
FORWARD = {
    Action.REGISTER,
    Action.DISPATCH,
    Action.ACCEPT,
    Action.HANDLE,
    Action.CHECK,
    Action.CLOSE,
    Action.REVISIT,
}


def _west_staff(session: Session, world: World) -> None:
    if "handler_west" not in world.users:
        west = world.regions["west"]
        world.users["handler_west"] = user(
            session, "handler_west", Role.HANDLER, department=world.departments["cg_west"], region=west
        )
        world.users["inspector_west"] = user(session, "inspector_west", Role.INSPECTOR, region=west)
        # 东湖一社区's and 西山's grids have an inspector; 东湖二社区's has none.
        for grid, inspector in (("g1", "inspector"), ("g3", "inspector_west")):
            session.add(
                GridStaff(grid=world.grids[grid], user=world.users[inspector], duty=GridDuty.INSPECTOR)
            )
        session.flush()


def _random_history(
    session: Session, world: World, rules: CentreRules, rng: random.Random, cases: int
) -> None:
    for _ in range(cases):
        street = rng.choice(["east", "west"])
        lng, lat = rng.choice(POINTS[street])
        moment = at(9, 20, 8) + timedelta(minutes=rng.randrange(60 * 24 * 70))
        # Some problems an inspector finds on patrol, the others come in by the hotline.
        if rng.random() < 0.3:
            reporter, channel = ACTORS[street][Role.INSPECTOR], "inspector"
        else:
            reporter, channel = ACTORS[street][Role.OPERATOR], "hotline_12345"
        case = new_case(session, world, rules, moment, actor=reporter, channel=channel, lng=lng, lat=lat)
        for _ in range(rng.randrange(16)):
            moment += timedelta(minutes=rng.choice([5, 30, 120, 600, 2000, 6000]))
            choice = _step(case, street, rng)
            if choice is None:
                break
            actor, action, fields = choice
            try:
                case = act(session, world, rules, case, actor, action.value, moment, **fields)
            except DomainError:
                continue


def _step(case: Case, street: str, rng: random.Random) -> tuple[str, Action, dict[str, Any]] | None:
    actions = [a for a in workflow.allowed_actions(case.state) if a not in SKIPPED]
    if not actions:
        return None
    forward = [a for a in actions if a in FORWARD]
    # Mostly along the loop, so that histories reach handling, closure and revisits.
    action = rng.choice(forward) if forward and rng.random() < 0.7 else rng.choice(actions)
    roles = workflow.TRANSITIONS[(case.state, action)].roles
    fields: dict[str, Any] = {"note": "随机"}
    if Role.HANDLER in roles:
        if case.department is None:
            return None
        actor = HANDLERS[case.department.code]
    else:
        actor = next(
            ACTORS[street][role]
            for role in (Role.OPERATOR, Role.DISPATCHER, Role.INSPECTOR, Role.LEADER)
            if role in roles
        )
    if action is Action.DISPATCH:
        fields["department_code"] = rng.choice(DEPARTMENTS[street])
    if action is Action.REVISIT:
        fields["satisfaction"] = rng.choice(["satisfied", "basically_satisfied", "not_satisfied"])
    if action is Action.REQUEST_EXTENSION:
        if case.deadline_at is None:
            return None
        fields["new_deadline"] = case.deadline_at + timedelta(hours=rng.choice([1, 30, 100]))
    return actor, action, fields


def _figures(session: Session, world: World, period: Period) -> statistics.StatisticsTable:
    query = Query(period, GroupBy.STREET, [*COUNTS, *RATES])
    return statistics.table(session, world.users["leader"], query, at(12, 31, 12))


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    seed=st.integers(0, 2**32),
    cases=st.integers(1, 20),
    kind=st.sampled_from(list(PeriodKind)),
    day=st.dates(date(2026, 9, 20), date(2026, 12, 10)),
)
def test_invariants_on_random_histories(
    session: Session,
    session_factory: sessionmaker[Session],
    world: World,
    rules: CentreRules,
    seed: int,
    cases: int,
    kind: PeriodKind,
    day: date,
) -> None:
    _west_staff(session, world)
    savepoint = session.begin_nested()
    try:
        _random_history(session, world, rules, random.Random(seed), cases)
        period = Period.containing(kind, day, SH)
        table = _figures(session, world, period)
        for row in [*table.rows, table.total]:
            values = row.values
            for key in RATES:
                rate = values[key]
                assert rate.numerator is not None and rate.denominator is not None
                assert 0 <= rate.numerator <= rate.denominator, (key, rate)
                assert (rate.value is None) == (rate.denominator == 0)
            assert values["closed_on_time"].value <= values["closed"].value <= values["due_closure"].value  # type: ignore[operator]
            assert values["supervised_overdue"].value <= values["overdue"].value  # type: ignore[operator]
            assert values["satisfied"].value + values["not_satisfied"].value == values["rated"].value  # type: ignore[operator]
            assert (
                values["missed_reports"].value
                <= values["grid_registered"].value
                <= values["registered"].value
            )  # type: ignore[operator]
        for key in COUNTS:
            assert sum(row.values[key].value for row in table.rows) == table.total.values[key].value  # type: ignore[misc]
        district = statistics.table(
            session, world.users["leader"], Query(period, GroupBy.DISTRICT, list(COUNTS)), at(12, 31, 12)
        )
        assert (
            {k: c.value for k, c in district.rows[0].values.items()}
            == {k: c.value for k, c in table.total.values.items() if k in COUNTS}
            if district.rows
            else all(table.total.values[k].value == 0 for k in COUNTS)
        )
        # Each registered case of a staffed grid is its inspector's; the others are nobody's.
        missed = ["grid_registered", "missed_reports"]
        inspectors = statistics.table(
            session, world.users["leader"], Query(period, GroupBy.INSPECTOR, missed), at(12, 31, 12)
        )
        assert all(
            row.values[k].value == 0 for row in inspectors.rows if row.group.key == "none" for k in missed
        )
        assert {k: inspectors.total.values[k].value for k in missed} == {
            k: table.total.values[k].value for k in missed
        }
        # Replaying the events gives the same figures: wipe the cached facts, rebuild them.
        session.execute(
            update(Case).values(
                handle_deadline_at=None, handled_at=None, registered_at=None, supervised_at=None
            )
        )
        with session_factory() as rebuilding:
            rebuild_facts(rebuilding, rules, batch=5, apply=True)
            rebuilding.commit()
        assert _figures(session, world, period) == table
    finally:
        savepoint.rollback()
