"""The minute job and the alerts: lights turn by time, each turn alerts the users concerned
exactly once (however often the job runs), a write that leaves a stage overdue alerts at
once, and signed-out users who asked for it get an SMS or e-mail through the outbox, once."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from civicgrid.domain.vocabulary import AlertKind, CaseState, Role, Stage
from civicgrid.live.changes import ALERT, CASE, Change
from civicgrid.live.lights import LightJob
from civicgrid.services import alerts
from civicgrid.services.alerts import CaseFacts, Member, Staff, evaluate_lights
from civicgrid.services.auth import sign_in
from civicgrid.services.cases import CentreRules
from civicgrid.services.throttle import Limits
from civicgrid.settings import Settings
from civicgrid.store.models import Case, JobMark, LiveChange, Notification, NotificationSetting, OutboxMessage
from tests.factories import PASSWORD, World, act, new_case
from tests.live.conftest import Committed

SHANGHAI = ZoneInfo("Asia/Shanghai")
MINUTE = timedelta(minutes=1)
#: Journal entries are kept longer than the tests' spans of time (but in the pruning test).
KEEP = timedelta(days=90)


def run(session: Session, at: datetime, keep: timedelta = KEEP) -> alerts.LightRun:
    done = evaluate_lights(session, SHANGHAI, at, MINUTE, keep)
    session.commit()
    return done


def dispatched(session: Session, world: World, rules: CentreRules, now: datetime) -> Case:
    """A case dispatched to 东湖市政所 by the street's dispatcher: the handling clock runs."""
    case = new_case(session, world, rules, now)
    act(session, world, rules, case, "operator", "register", now)
    act(session, world, rules, case, "dispatcher", "dispatch", now, department_code="D-SZ-E")
    session.commit()
    return case


def notified(session: Session, case: Case, kind: AlertKind) -> set[str]:
    rows = session.scalars(
        select(Notification).where(Notification.case_id == case.id, Notification.kind == kind)
    )
    return {row.user.username for row in rows}


def journal(session: Session, kind: str) -> list[Change]:
    rows = session.execute(
        select(LiveChange.__table__).where(LiveChange.kind == kind).order_by(LiveChange.id)
    )
    return [Change.from_row(row) for row in rows.mappings()]


def test_the_minute_job_turns_a_case_red_by_time_and_alerts_once(
    session: Session, world: World, rules: CentreRules, now: datetime
) -> None:
    case = dispatched(session, world, rules, now)
    assert case.stage is Stage.HANDLE and case.warning_at and case.deadline_at
    warning, deadline = case.warning_at, case.deadline_at
    assert run(session, now + MINUTE).turned == 0  # green: nothing to say

    yellow = run(session, warning + timedelta(seconds=30))
    assert (yellow.turned, yellow.notified) == (1, 3)
    assert notified(session, case, AlertKind.YELLOW) == {"handler_sz", "dispatcher", "supervisor"}

    red = run(session, deadline + timedelta(seconds=30))
    assert (red.turned, red.notified) == (1, 4)
    assert notified(session, case, AlertKind.RED) == {"handler_sz", "dispatcher", "supervisor", "leader"}
    text = session.scalars(select(Notification.text).where(Notification.kind == AlertKind.RED)).first()
    assert text is not None and case.number in text and "处置已超期" in text

    # Again, and over the same minutes again (a second holder, a retried run): no new alert.
    assert run(session, deadline + 2 * MINUTE).turned == 0
    session.execute(JobMark.__table__.update().values(done_until=deadline - MINUTE))
    again = run(session, deadline + 3 * MINUTE)
    assert (again.turned, again.notified) == (1, 0)
    assert session.scalar(select(func.count()).select_from(Notification)) == 7

    # The map and the queues heard of each turn; each alert went to its user, with the count.
    lights = [c.payload["light"] for c in journal(session, CASE) if c.payload["number"] == case.number]
    assert lights[-3:] == ["yellow", "red", "red"]
    for_handler = [c.payload for c in journal(session, ALERT) if c.user_id == world.users["handler_sz"].id]
    assert [(a["kind"], a["unread"]) for a in for_handler] == [("yellow", 1), ("red", 2)]


def test_a_new_deadline_warns_again(
    session: Session, world: World, rules: CentreRules, now: datetime
) -> None:
    """A rework gives the department a fresh limit: when that one runs out, it is a new alert."""
    case = dispatched(session, world, rules, now)
    assert case.deadline_at is not None
    first_deadline = case.deadline_at
    run(session, now + MINUTE)
    run(session, first_deadline + MINUTE)
    act(session, world, rules, case, "handler_sz", "accept", first_deadline + 2 * MINUTE)
    act(session, world, rules, case, "handler_sz", "handle", first_deadline + 3 * MINUTE)
    act(session, world, rules, case, "inspector", "fail_check", first_deadline + 4 * MINUTE, note="未修好")
    session.commit()
    assert (
        case.state is CaseState.REWORK and case.deadline_at is not None and case.deadline_at > first_deadline
    )
    run(session, first_deadline + 5 * MINUTE)
    run(session, case.deadline_at + MINUTE)
    occasions = session.scalars(
        select(Notification.occasion).where(
            Notification.kind == AlertKind.RED, Notification.user_id == world.users["handler_sz"].id
        )
    ).all()
    assert len(occasions) == 2 and len(set(occasions)) == 2


def test_a_write_that_leaves_the_stage_overdue_alerts_at_once(
    session: Session, world: World, rules: CentreRules, now: datetime
) -> None:
    """Resumed after a suspension, the clock is still past its (moved) deadline: the new
    deadline's red alert comes with the write, not a minute later."""
    case = dispatched(session, world, rules, now)
    assert case.deadline_at is not None
    overdue = case.deadline_at + timedelta(hours=1)
    act(session, world, rules, case, "supervisor", "suspend", overdue, note="需协调多部门")
    act(session, world, rules, case, "supervisor", "resume", overdue + timedelta(minutes=30), note="协调完毕")
    session.commit()
    assert notified(session, case, AlertKind.RED) == {"handler_sz", "dispatcher", "leader"}  # not its actor


def test_an_extension_request_and_a_supervision_note_alert_the_users_concerned(
    session: Session, world: World, rules: CentreRules, now: datetime
) -> None:
    case = dispatched(session, world, rules, now)
    act(session, world, rules, case, "handler_sz", "accept", now)
    later = now + timedelta(days=30)
    act(
        session, world, rules, case, "handler_sz", "request_extension", now, new_deadline=later, note="需备料"
    )
    act(session, world, rules, case, "supervisor", "supervise", now, note="群众反映强烈，请加快")
    session.commit()
    assert notified(session, case, AlertKind.EXTENSION) == {"leader"}  # who may approve it
    assert notified(session, case, AlertKind.SUPERVISION) == {"handler_sz", "dispatcher"}
    text = session.scalars(
        select(Notification.text).where(Notification.kind == AlertKind.SUPERVISION)
    ).first()
    assert text is not None and "群众反映强烈" in text


def test_signed_out_users_who_asked_get_an_sms_or_email_once(
    session: Session, world: World, rules: CentreRules, now: datetime, settings: Settings
) -> None:
    for name, kinds in (("supervisor", ["red"]), ("leader", ["red", "yellow"])):
        session.add(
            NotificationSetting(
                user_id=world.users[name].id,
                sms_phone="13800000001",
                email=f"{name}@example.org",
                kinds=kinds,
                updated_at=now,
            )
        )
    case = dispatched(session, world, rules, now)
    # The leader is signed in: their alerts wait on the page, nothing is sent.
    factory = _factory(session)
    sign_in(factory, factory, "leader", PASSWORD, address="127.0.0.1", limits=Limits.from_settings(settings),
            secret_key=settings.secret_key, hours=720, now=now)  # fmt: skip
    assert case.warning_at and case.deadline_at
    run(session, case.warning_at + MINUTE)  # yellow: the supervisor did not ask for it
    run(session, case.deadline_at + MINUTE)
    run(session, case.deadline_at + 2 * MINUTE)
    sent = session.execute(select(OutboxMessage.kind, OutboxMessage.target, OutboxMessage.body)).all()
    assert sorted((kind, target) for kind, target, _ in sent) == [
        ("email", "supervisor@example.org"),
        ("sms", "13800000001"),
    ]
    assert all(case.number in body for _, _, body in sent)
    red = session.scalars(
        select(Notification).where(
            Notification.kind == AlertKind.RED, Notification.user_id == world.users["supervisor"].id
        )
    ).one()
    assert red.sent_by == "sms,email"


def _factory(session: Session):  # type: ignore[no-untyped-def]
    """Sessions on the test's connection (the sign-in runs its own transactions)."""
    from sqlalchemy.orm import sessionmaker

    return sessionmaker(bind=session.connection(), join_transaction_mode="create_savepoint")


def test_the_job_deletes_old_journal_entries(
    session: Session, world: World, rules: CentreRules, now: datetime
) -> None:
    dispatched(session, world, rules, now)
    assert session.scalar(select(func.count()).select_from(LiveChange))
    done = run(session, now + timedelta(hours=25), keep=timedelta(hours=24))
    assert done.pruned == 1  # one entry: the case's three writes were one transaction
    assert session.scalar(select(func.count()).where(LiveChange.at < now + timedelta(hours=1))) == 0


# --- who is concerned ------------------------------------------------------------------------


def member(ident: int, role: Role, path: str | None = None, department: int | None = None) -> Member:
    return Member(ident, role, path, department, None, None, frozenset(), signed_in=True)


STAFF = Staff(
    [
        member(1, Role.HANDLER, "/D/S1/", department=10),
        member(2, Role.HANDLER, "/D/S1/", department=11),
        member(3, Role.DISPATCHER, "/D/S1/"),
        member(4, Role.DISPATCHER, "/D/"),
        member(5, Role.DISPATCHER, "/D/S2/"),
        member(6, Role.INSPECTOR, "/D/S1/C1/"),
        member(7, Role.SUPERVISOR, "/D/S1/"),
        member(8, Role.SUPERVISOR, "/D/S2/"),
        member(9, Role.LEADER, "/D/"),
        member(12, Role.SUPERVISOR, "/D/"),
    ]
)


def facts(stage: Stage | None, state: CaseState = CaseState.IN_PROGRESS, **fields: object) -> CaseFacts:
    values: dict[str, object] = {
        "id": 1, "number": "JD-1", "title": "井盖", "state": state, "stage": stage, "region_path": "/D/S1/C1/",
        "department_id": 10, "dispatched_by_id": 3, "inspector_id": 6, "deadline_at": datetime(2026, 10, 9, tzinfo=UTC),
    }  # fmt: skip
    values.update(fields)
    return CaseFacts(**values)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("case", "kind", "expected"),
    [
        (facts(Stage.HANDLE), AlertKind.YELLOW, {1, 3, 7, 12}),
        (facts(Stage.HANDLE), AlertKind.RED, {1, 3, 7, 12, 9}),
        (facts(Stage.VERIFY, CaseState.REPORTED, department_id=None), AlertKind.RED, {6, 7, 12, 9}),
        (facts(Stage.CHECK, CaseState.HANDLED), AlertKind.SUPERVISION, {6}),
        # Dispatch: the nearest level's dispatchers; for an escalated case, the level above.
        (facts(Stage.DISPATCH, CaseState.REGISTERED, department_id=None), AlertKind.SUPERVISION, {3}),
        (facts(Stage.DISPATCH, CaseState.ESCALATED, department_id=None), AlertKind.SUPERVISION, {4}),
        (facts(Stage.HANDLE), AlertKind.EXTENSION, {9}),
    ],
)
def test_who_is_concerned(case: CaseFacts, kind: AlertKind, expected: set[int]) -> None:
    assert {m.id for m in STAFF.concerned(case, kind)} == expected
    # Whoever caused it is not told of it.
    some = next(iter(expected))
    assert some not in {m.id for m in STAFF.concerned(case, kind, actor_id=some)}


# --- the job's process --------------------------------------------------------------------------


def test_one_minute_job_runs_across_processes_and_commits_its_mark(
    committed: Committed, settings: Settings
) -> None:
    first, second = LightJob(committed.engine, settings), LightJob(committed.engine, settings)
    try:
        assert first.lock.try_acquire()
        assert not second.lock.try_acquire()
        moment = datetime.now(UTC)
        done = first.run_once(moment)
        assert done.until == moment and done.since == moment - timedelta(seconds=settings.light_job_seconds)
        with committed.session() as session:
            assert session.get(JobMark, alerts.LIGHT_JOB).done_until == moment  # type: ignore[union-attr]
        first.lock.release()
        assert second.lock.try_acquire()
    finally:
        first.lock.release()
        second.lock.release()


def test_the_light_query_reads_the_indexes(engine: Engine) -> None:
    """The minute job's search is range scans on the warning and deadline indexes, not a
    scan of every case (see benchmarks/bench_lights.py for the timing at 100,000)."""
    moment = datetime(2026, 10, 1, tzinfo=UTC)
    query = select(Case.id).where(alerts.turned_between(moment - MINUTE, moment))
    compiled = query.compile(engine, compile_kwargs={"literal_binds": True})
    with engine.connect() as connection:
        if engine.dialect.name == "sqlite":
            plan = " ".join(
                str(row[-1]) for row in connection.exec_driver_sql(f"EXPLAIN QUERY PLAN {compiled}")
            )
            assert "ix_cases_warning_at" in plan and "ix_cases_deadline_at" in plan, plan
        else:
            connection.exec_driver_sql("SET enable_seqscan = off")
            plan = " ".join(str(row[0]) for row in connection.exec_driver_sql(f"EXPLAIN {compiled}"))
            assert "ix_cases_warning_at" in plan and "ix_cases_deadline_at" in plan, plan


def test_a_burst_is_done_in_slices_and_a_slice_done_twice_alerts_once(
    session: Session, world: World, rules: CentreRules, now: datetime
) -> None:
    cases = [dispatched(session, world, rules, now) for _ in range(3)]
    deadline = max(case.deadline_at for case in cases if case.deadline_at)
    run(session, now + MINUTE)
    # A job that died after its first slice: that slice is committed, the mark is not moved.
    first = evaluate_lights(session, SHANGHAI, deadline + MINUTE, MINUTE, KEEP, batch=2)
    session.commit()
    assert (first.turned, first.more_after) == (2, cases[1].id)
    assert session.get(JobMark, alerts.LIGHT_JOB).done_until < deadline  # type: ignore[union-attr]
    # The next run covers the whole window again, slice by slice.
    after, slices, turned = 0, 0, 0
    while True:
        done = evaluate_lights(
            session, SHANGHAI, deadline + 2 * MINUTE, MINUTE, KEEP, after_id=after, batch=2
        )
        session.commit()
        slices, turned = slices + 1, turned + done.turned
        if done.more_after is None:
            break
        after = done.more_after
    assert (slices, turned) == (2, 3)
    assert session.get(JobMark, alerts.LIGHT_JOB).done_until == deadline + 2 * MINUTE  # type: ignore[union-attr]
    for case in cases:  # each of the four once, whichever slice came first
        assert len(session.scalars(select(Notification.id).where(
            Notification.case_id == case.id, Notification.kind == AlertKind.RED
        )).all()) == 4  # fmt: skip
