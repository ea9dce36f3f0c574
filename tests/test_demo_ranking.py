"""The department ranking (部门考核) of the demo district matches a hand count of its cases.

The demo is loaded with a fixed clock (2 December 2026), so that November 2026, a finished
month, holds most of its cases. The evaluation service ranks the departments for November
under the shipped default scheme (civicgrid/data/evaluation.toml: 立案数 step table 10 %,
结案率 30 %, 按期处置率 30 %, 返工率 30 %). For the department with the most cases registered
that month, every figure the ranking is built on is then recounted here by walking each case's
events (CaseEvent: action, at, data), following EVALUATION.md §1–§3 and docs/statistics.md,
without the statistics code (no facts, no SQL counts):

- the department is the one named by the last dispatch (``data["department"]``), none after a
  退单 that followed it;
- 立案数: the first 立案 in the month, less the cases parked (挂账) at the end of the month;
- 结案数: closed in the month; 应结案数 = 结案数 + cases whose handling deadline fell in the
  month and that were not closed by its end, voided and parked cases excluded;
- 处置数 / 按期处置数 / 应处置数: the same on the handling stage, where a handling counts while it
  is the department's last result (a rework or re-dispatch opens a new run that replaces it);
  on time = no later than the deadline in force, read from the case row
  (``handle_deadline_at``: the category's limit in working time, extensions added, suspended
  time left out) rather than recomputed from the working calendar;
- 返工数: cases handled in the month whose handling failed a check (核查不通过) at least once.

The test asserts the statistics' numerators and denominators, the ranking's figures, item
scores, composite value and rank against the hand count and the scheme's weights.
"""

from __future__ import annotations

import tomllib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from civicgrid.demo import load_demo
from civicgrid.domain.indicators import Period, PeriodKind
from civicgrid.domain.vocabulary import Action
from civicgrid.evaluation_file import default_scheme_path, load_scheme
from civicgrid.schemas_statistics import EvaluationRow, EvaluationTable, StatisticsRow
from civicgrid.services import evaluation, statistics
from civicgrid.services.cases import CentreRules
from civicgrid.services.statistics import GroupBy, Query
from civicgrid.settings import Settings
from civicgrid.store.db import make_engine, make_session_factory
from civicgrid.store.migrate import upgrade
from civicgrid.store.models import Case, Department, User

ZONE = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 12, 2, 10, 0, tzinfo=ZONE)
RULES = CentreRules.from_settings(Settings())
CASES = 300
MONTH = Period.containing(PeriodKind.MONTH, date(2026, 11, 1), ZONE)
INDICATORS = ["registered", "closure_rate", "on_time_handling_rate", "rework_rate"]

DISPATCHES = (Action.DISPATCH, Action.DISPATCH_JOINT)
#: The events that open a fresh handling run: a dispatch, or a failed check (返工).
OPENS_HANDLING = (*DISPATCHES, Action.FAIL_CHECK)


@pytest.fixture(scope="module")
def session(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Session]:
    """The demo with CASES cases in a fresh SQLite file, read back through a new session."""
    path = tmp_path_factory.mktemp("demo_ranking") / "demo.db"
    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)
    factory = make_session_factory(engine)
    with factory() as loading:
        load_demo(loading, RULES, NOW, cases=CASES, seed=20261124)
        loading.commit()
    with factory() as reading:
        yield reading
    engine.dispose()


@pytest.fixture(scope="module")
def leader(session: Session) -> User:
    """The district leader, who sees every department acting in the district."""
    user = session.scalar(select(User).where(User.username == "leader"))
    assert user is not None
    return user


@dataclass
class HandCount:
    """A department's figures for the month, counted from the case histories (sets of case numbers)."""

    registered: set[str]
    closed: set[str]
    due_open: set[str]
    handled: set[str]
    handled_on_time: set[str]
    due_unhandled: set[str]
    rework: set[str]

    @property
    def due_closure(self) -> set[str]:
        return self.closed | self.due_open

    @property
    def due_handling(self) -> set[str]:
        return self.handled | self.due_unhandled


def _in_month(moment: datetime | None) -> bool:
    return moment is not None and MONTH.start <= moment < MONTH.end


def _department_code(case: Case) -> str | None:
    """The department the case is with: the last dispatch's, none if refused (退单) since."""
    code = None
    for event in case.events:
        if event.action in DISPATCHES:
            code = event.data["department"]
        elif event.action is Action.REJECT:
            code = None
    return code


def _parked_at_month_end(case: Case) -> bool:
    """Whether the case was parked (挂账) when the month ended."""
    parked = False
    for event in case.events:
        if event.at >= MONTH.end:
            break
        if event.action is Action.SUSPEND:
            parked = True
        elif event.action is Action.RESUME:
            parked = False
    return parked


def _first(case: Case, action: Action) -> datetime | None:
    return next((event.at for event in case.events if event.action is action), None)


def _last_handling(case: Case) -> datetime | None:
    """When the department reported its last handling result (处置反馈), if no rework or
    re-dispatch has opened a new handling run since (that run replaces it)."""
    handled_at = None
    for event in case.events:
        if event.action in OPENS_HANDLING or event.action is Action.REJECT:
            handled_at = None
        elif event.action is Action.HANDLE:
            handled_at = event.at
    return handled_at


def hand_count(cases: list[Case], department: str) -> HandCount:
    """The month's figures of ``department`` (EVALUATION.md §1), from the events of ``cases``."""
    as_of = min(MONTH.end, NOW)
    count = HandCount(set(), set(), set(), set(), set(), set(), set())
    for case in cases:
        if _department_code(case) != department:
            continue
        number = case.number
        parked = _parked_at_month_end(case)
        voided = _first(case, Action.VOID) is not None
        registered_at = _first(case, Action.REGISTER)
        closed_at = _first(case, Action.CLOSE)
        handled_at = _last_handling(case)
        # The deadline in force of the department's last handling run, as the case records it.
        deadline = case.handle_deadline_at
        deadline_due = deadline is not None and MONTH.start <= deadline < as_of
        live = not voided and not parked

        if _in_month(registered_at) and not parked:
            count.registered.add(number)
        if _in_month(closed_at):
            count.closed.add(number)
        elif deadline_due and live and (closed_at is None or closed_at >= MONTH.end):
            count.due_open.add(number)
        if handled_at is not None and _in_month(handled_at):
            count.handled.add(number)
            if deadline is None or handled_at <= deadline:
                count.handled_on_time.add(number)
            if any(event.action is Action.FAIL_CHECK for event in case.events):
                count.rework.add(number)
        elif deadline_due and live and (handled_at is None or handled_at >= MONTH.end):
            count.due_unhandled.add(number)
    return count


@pytest.fixture(scope="module")
def cases(session: Session) -> list[Case]:
    return list(session.scalars(select(Case).order_by(Case.number)))


@pytest.fixture(scope="module")
def department(session: Session, cases: list[Case]) -> str:
    """The department with the most cases registered in the month (by the hand count)."""
    codes = session.scalars(select(Department.code).order_by(Department.code)).all()
    registered = {code: len(hand_count(cases, code).registered) for code in codes}
    return max(codes, key=lambda code: registered[code])


@pytest.fixture(scope="module")
def ranking(session: Session, leader: User) -> EvaluationTable:
    scheme = load_scheme(default_scheme_path())
    return evaluation.ranking(session, leader, scheme, "department", MONTH, NOW)


def _statistics_row(session: Session, leader: User, department: str) -> StatisticsRow:
    table = statistics.table(session, leader, Query(MONTH, GroupBy.DEPARTMENT, INDICATORS), NOW)
    return next(row for row in table.rows if row.group.key == department)


def _ranking_row(ranking: EvaluationTable, department: str) -> EvaluationRow:
    return next(row for row in ranking.rows if row.group.key == department)


def test_the_hand_count_is_not_trivial(cases: list[Case], department: str) -> None:
    count = hand_count(cases, department)
    assert len(count.registered) > 50, "the busiest department should cross the first step (0–50)"
    assert count.closed and count.due_closure
    assert count.handled and count.due_handling
    assert count.rework, "some case of the busiest department should have failed a check"
    assert count.due_open or count.due_unhandled or count.handled - count.handled_on_time, (
        "some case should have been late, so the rates are not all 100 %"
    )


def test_the_statistics_give_the_hand_counted_parts(
    session: Session, leader: User, cases: list[Case], department: str
) -> None:
    count = hand_count(cases, department)
    values = _statistics_row(session, leader, department).values
    assert values["registered"].value == len(count.registered)
    closure, on_time, rework = values["closure_rate"], values["on_time_handling_rate"], values["rework_rate"]
    assert (closure.numerator, closure.denominator) == (len(count.closed), len(count.due_closure))
    assert (on_time.numerator, on_time.denominator) == (len(count.handled_on_time), len(count.due_handling))
    assert (rework.numerator, rework.denominator) == (len(count.rework), len(count.handled))


def _step_score(steps: list[dict[str, int]], figure: int) -> float:
    return next(
        float(step["score"]) for step in steps if step["from"] <= figure and figure <= step.get("to", figure)
    )


def test_the_score_is_the_schemes_weighted_sum_of_the_hand_count(
    ranking: EvaluationTable, cases: list[Case], department: str
) -> None:
    count = hand_count(cases, department)
    rates = {
        "closure_rate": (len(count.closed), len(count.due_closure)),
        "on_time_handling_rate": (len(count.handled_on_time), len(count.due_handling)),
        "rework_rate": (len(count.rework), len(count.handled)),
    }
    section = tomllib.loads(default_scheme_path().read_text(encoding="utf-8"))["department"]
    assert not section.get("adjustments"), "the default scheme has no deductions or bonuses"
    expected: dict[str, tuple[str, float]] = {}
    for item in section["items"]:
        key = item["indicator"]
        if item["method"] == "steps":
            expected[key] = (str(len(count.registered)), _step_score(item["steps"], len(count.registered)))
            continue
        numerator, denominator = rates[key]
        rate = numerator / denominator
        score = rate * 100 if item["method"] == "rate" else (1 - rate) * 100
        expected[key] = (f"{rate * 100:.2f}%", score)
    weights = {item["indicator"]: item["weight"] for item in section["items"]}
    total = sum(expected[key][1] * weights[key] / 100 for key in expected)

    row = _ranking_row(ranking, department)
    assert {item.indicator for item in row.items} == set(INDICATORS) == set(expected)
    for item in row.items:
        figure, score = expected[item.indicator]
        assert item.figure == figure, item.indicator
        assert item.score == pytest.approx(score, abs=0.01), item.indicator
        assert item.weight == weights[item.indicator]
    assert row.value == pytest.approx(total, abs=0.01)


def test_the_department_ranks_by_its_score(ranking: EvaluationTable, department: str) -> None:
    assert ranking.period_label == "2026年11月"
    assert len(ranking.rows) > 5
    values = [row.value for row in ranking.rows]
    assert values == sorted(values, reverse=True)
    row = _ranking_row(ranking, department)
    assert row.rank == 1 + sum(other.value > row.value for other in ranking.rows)
