"""What one write costs the store: creating a case or moving it runs a fixed, small number
of statements on both databases, and a transition raises the case's version by exactly one."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Connection, event, select
from sqlalchemy.orm import Session, joinedload, sessionmaker

from civicgrid.domain.vocabulary import Action, Channel, GridKind
from civicgrid.schemas import CaseCreate, TransitionRequest
from civicgrid.services import cases as case_service
from civicgrid.services.cases import CentreRules
from civicgrid.store.models import Case, Grid, User, case_overlay_grids
from tests.factories import World, square
from tests.store.test_case_service import LOOP

#: The most statements a case creation or a transition may run (after authentication).
MOST = 5


@pytest.fixture
def statements(connection: Connection) -> Iterator[list[str]]:
    """Every statement sent on the test's connection while the test runs."""
    sent: list[str] = []

    def record(*args: Any) -> None:
        sent.append(args[2])

    event.listen(connection, "before_cursor_execute", record)
    yield sent
    event.remove(connection, "before_cursor_execute", record)


@contextmanager
def request_as(factory: sessionmaker[Session], username: str) -> Iterator[tuple[Session, User]]:
    """A fresh session, as a request has, with its actor loaded the way authentication does."""
    with factory() as session:
        actor = session.scalar(select(User).options(joinedload(User.region)).where(User.username == username))
        assert actor is not None
        yield session, actor
        session.commit()


def create(
    factory: sessionmaker[Session], statements: list[str], rules: CentreRules, now: datetime, **fields: Any
) -> tuple[str, list[str]]:
    data = {"channel": Channel.HOTLINE_12345, "category_code": "C0101", "title": "井盖缺失", **fields}
    with request_as(factory, "operator") as (session, actor):
        statements.clear()
        number = case_service.create_case(session, actor, CaseCreate(**data), rules, now).number
        return number, list(statements)


def test_creating_a_case_runs_at_most_five_statements(
    session: Session,
    world: World,
    session_factory: sessionmaker[Session],
    statements: list[str],
    rules: CentreRules,
    now: datetime,
) -> None:
    session.commit()
    _, first = create(session_factory, statements, rules, now, lng=120.005, lat=30.005)
    # The territory index (grids, then regions) is built once per territory revision.
    assert len(first) == MOST + 2, first
    for fields in (
        {"lng": 120.005, "lat": 30.005},
        {"lng": 120.005, "lat": 30.005, "external_id": "12345-0001"},
        {"grid_code": "T010102-01"},
        {"region_code": "T010101"},
    ):
        _, sent = create(session_factory, statements, rules, now, **fields)
        assert len(sent) <= MOST, (fields, sent)


def test_a_write_reads_no_polygon(
    session: Session,
    world: World,
    session_factory: sessionmaker[Session],
    statements: list[str],
    rules: CentreRules,
    now: datetime,
) -> None:
    """Grids' and regions' boundaries (a district's may be megabytes) stay out of the case
    writes: the grid index placed the point already (authentication: tests/api/test_api.py)."""
    session.commit()
    create(session_factory, statements, rules, now, lng=120.005, lat=30.005)  # builds the index
    number, sent = create(session_factory, statements, rules, now, lng=120.005, lat=30.005)
    steps = [("operator", Action.REGISTER, {}), ("dispatcher", Action.DISPATCH_JOINT, JOINT[1][2])]
    for username, action, fields in steps:
        with request_as(session_factory, username) as (request, actor):
            statements.clear()
            case_service.transition(request, actor, number, action, TransitionRequest(**fields), rules, now)
            sent += statements
    assert len(sent) > 10
    assert not [text for text in sent if "boundary" in text], sent


def test_the_overlay_grids_of_a_new_case_are_one_more_statement(
    session: Session,
    world: World,
    session_factory: sessionmaker[Session],
    statements: list[str],
    rules: CentreRules,
    now: datetime,
) -> None:
    for code, size in (("T010101-Z01", 0.008), ("T010101-Z02", 0.006)):
        session.add(
            Grid(
                code=code,
                name=code,
                kind=GridKind.OVERLAY,
                region=world.regions["c1"],
                boundary=square(120.001, 30.001, size),
            )
        )
    session.commit()
    create(session_factory, statements, rules, now, lng=120.005, lat=30.005)
    number, sent = create(session_factory, statements, rules, now, lng=120.005, lat=30.005)
    assert len(sent) == MOST + 1, sent
    assert sum("INSERT INTO case_overlay_grids" in text for text in sent) == 1
    stored = session.scalar(select(Case).where(Case.number == number))
    assert stored is not None
    assert session.scalars(
        select(case_overlay_grids.c.grid_id).where(case_overlay_grids.c.case_id == stored.id)
    ).all()
    assert [grid.code for grid in stored.overlay_grids] == ["T010101-Z01", "T010101-Z02"]


def test_a_transition_runs_at_most_five_statements_and_adds_one_version(
    session: Session,
    world: World,
    session_factory: sessionmaker[Session],
    statements: list[str],
    rules: CentreRules,
    now: datetime,
) -> None:
    session.commit()
    number, _ = create(session_factory, statements, rules, now, lng=120.005, lat=30.005)
    version = 1
    for minutes, (username, action, fields) in enumerate(LOOP, start=1):
        with request_as(session_factory, username) as (request, actor):
            statements.clear()
            case = case_service.transition(
                request, actor, number, Action(action), TransitionRequest(**fields), rules,
                now + timedelta(minutes=10 * minutes),
            )  # fmt: skip
            sent = list(statements)
        assert len(sent) <= MOST, (action, sent)
        assert sum(text.lstrip().upper().startswith("UPDATE CASES") for text in sent) == 1, (action, sent)
        version += 1
        assert case.version == version, action
    session.expire_all()
    stored = session.scalar(select(Case).where(Case.number == number))
    assert stored is not None and stored.version == 1 + len(LOOP)


#: Joint handling (联合处置): a lead and two assisting departments, each finishing its part.
JOINT: list[tuple[str, str, dict[str, Any]]] = [
    ("operator", "register", {}),
    (
        "dispatcher",
        "dispatch_joint",
        {"department_code": "D-CG-E", "assisting_department_codes": ["D-SZ-E", "D-HW-E"]},
    ),
    ("handler_sz", "finish_task", {}),
    ("handler_hw", "finish_task", {}),
    ("handler_cg", "handle", {}),
]
#: Per action: the case, its events, its tasks with their departments (one statement), the
#: departments named (one statement), the case's UPDATE, the event's INSERT, the tasks' INSERTs or UPDATE.
JOINT_MOST = {"register": 4, "dispatch_joint": 9, "finish_task": 6, "handle": 5}


def test_joint_handling_loads_its_tasks_in_one_statement(
    session: Session,
    world: World,
    session_factory: sessionmaker[Session],
    statements: list[str],
    rules: CentreRules,
    now: datetime,
) -> None:
    session.commit()
    number, _ = create(session_factory, statements, rules, now, lng=120.005, lat=30.005)
    for minutes, (username, action, fields) in enumerate(JOINT, start=1):
        with request_as(session_factory, username) as (request, actor):
            statements.clear()
            case = case_service.transition(
                request, actor, number, Action(action), TransitionRequest(**fields), rules,
                now + timedelta(minutes=10 * minutes),
            )  # fmt: skip
            sent = list(statements)
            tasks = [(task.department.code, task.is_lead, task.done_at is not None) for task in case.tasks]
        assert len(sent) <= JOINT_MOST[action], (action, len(sent), sent)
        assert sum(text.lstrip().upper().startswith("UPDATE CASES") for text in sent) == 1, (action, sent)
    assert tasks == [("D-CG-E", True, False), ("D-SZ-E", False, True), ("D-HW-E", False, True)]
    assert case.state.value == "handled"
