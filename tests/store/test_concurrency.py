"""Several writers at once on a real database (its own, committed for real): numbers stay
unique, and two people acting on one case at the same moment get one success and one
clear refusal, never a crash or a double event."""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker

from civicgrid.domain.errors import Conflict, TransitionNotAllowed
from civicgrid.domain.vocabulary import Action, Channel
from civicgrid.schemas import CaseCreate, TransitionRequest
from civicgrid.services import cases as case_service
from civicgrid.services.cases import CentreRules
from civicgrid.store.db import make_session_factory, session_scope
from civicgrid.store.models import Case, User
from tests.factories import build_world

WRITERS = 8


def run_together(task: Callable[[int], object]) -> list[object]:
    """Run ``task`` in WRITERS threads released at the same moment; return results or errors."""
    barrier = threading.Barrier(WRITERS)

    def attempt(index: int) -> object:
        barrier.wait()
        try:
            return task(index)
        except Exception as error:  # the outcome under test
            return error

    with ThreadPoolExecutor(WRITERS) as pool:
        return list(pool.map(attempt, range(WRITERS)))


def test_concurrent_writers(fresh_engine: Engine, rules: CentreRules, now: datetime) -> None:
    factory: sessionmaker[Session] = make_session_factory(fresh_engine)
    with session_scope(factory) as session:
        build_world(session)

    def actor(session: Session, username: str) -> User:
        user = session.scalar(select(User).where(User.username == username))
        assert user is not None
        return user

    def register_new_case(index: int) -> str:
        data = CaseCreate(
            channel=Channel.HOTLINE_12345,
            category_code="C0101",
            title=f"并发{index}",
            lng=120.005,
            lat=30.005,
        )
        with session_scope(factory) as session:
            return case_service.create_case(session, actor(session, "operator"), data, rules, now).number

    numbers = run_together(register_new_case)
    assert all(isinstance(number, str) for number in numbers), numbers
    assert sorted(int(str(number)[-6:]) for number in numbers) == list(range(1, WRITERS + 1))

    target = str(numbers[0])

    def register_the_same_case(_index: int) -> str:
        with session_scope(factory) as session:
            user = actor(session, "operator")
            return case_service.transition(
                session, user, target, Action.REGISTER, TransitionRequest(), rules, now
            ).state

    outcomes = run_together(register_the_same_case)
    assert sum(1 for outcome in outcomes if outcome == "registered") == 1, outcomes
    refusals = [outcome for outcome in outcomes if outcome != "registered"]
    assert all(isinstance(refusal, TransitionNotAllowed | Conflict) for refusal in refusals), refusals
    with factory() as session:
        case = session.scalar(select(Case).where(Case.number == target))
        assert case is not None and [event.action for event in case.events] == [
            Action.REPORT,
            Action.REGISTER,
        ]
