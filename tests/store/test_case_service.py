"""The case service on a real store (SQLite and PostgreSQL): the loop, side paths, scope,
and refusals that leave the store exactly as it was."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from civicgrid.domain import workflow
from civicgrid.domain.errors import Conflict, InvalidInput, NotFound, RoleNotAllowed, TransitionNotAllowed
from civicgrid.domain.vocabulary import Action, CaseState, Channel, Light, Satisfaction, Stage
from civicgrid.schemas import CaseCreate, TransitionRequest
from civicgrid.services import cases as case_service
from civicgrid.services.cases import CentreRules
from civicgrid.store.models import Attachment, Case, CaseEvent, CaseTask
from tests.factories import World, act, new_case

Step = tuple[str, str, dict[str, Any]]
LOOP: list[Step] = [
    ("inspector", "verify", {}),
    ("operator", "register", {}),
    ("dispatcher", "dispatch", {"department_code": "D-SZ-E"}),
    ("handler_sz", "accept", {}),
    ("handler_sz", "handle", {"note": "已补齐井盖"}),
    ("inspector", "check", {}),
    ("operator", "close", {}),
    ("operator", "revisit", {"satisfaction": "satisfied"}),
    ("operator", "archive", {}),
]


def walk(
    session: Session, world: World, rules: CentreRules, case: Case, steps: list[Step], now: datetime
) -> Case:
    for minutes, (actor, action, fields) in enumerate(steps, start=1):
        case = act(
            session, world, rules, case, actor, action, now + timedelta(minutes=10 * minutes), **fields
        )
    return case


def snapshot(session: Session) -> dict[str, Any]:
    """Everything a refused action must leave untouched."""
    session.expire_all()
    return {
        "cases": [
            (c.number, c.state, c.version, c.department_id, c.deadline_at, c.rework_count, c.merged_into_id)
            for c in session.scalars(select(Case).order_by(Case.id))
        ],
        "events": session.scalar(select(func.count()).select_from(CaseEvent)),
        "tasks": session.scalar(select(func.count()).select_from(CaseTask)),
    }


def test_a_case_walks_the_whole_closed_loop(
    session: Session, world: World, rules: CentreRules, now: datetime
) -> None:
    case = new_case(session, world, rules, now, reporter_name="王先生", reporter_phone="13800000000")
    assert case.number.startswith("JD-20260930-") and case.state is CaseState.REPORTED
    assert case.grid is world.grids["g1"] and case.region is world.regions["c1"]
    case = walk(session, world, rules, case, LOOP, now)
    session.expire_all()
    stored = session.get(Case, case.id)
    assert stored is not None and stored.state is CaseState.ARCHIVED
    assert stored.satisfaction is Satisfaction.SATISFIED and stored.closed_at is not None
    assert [e.action for e in stored.events] == [Action.REPORT, *(Action(step[1]) for step in LOOP)]
    assert workflow.replay(e.action for e in stored.events) is stored.state
    assert [e.actor.username for e in stored.events if e.actor][1:] == [step[0] for step in LOOP]
    assert stored.events[5].note == "已补齐井盖" and stored.events[3].data == {"department": "D-SZ-E"}
    assert stored.stage is None and stored.deadline_at is None


def test_case_numbers_run_per_day(session: Session, world: World, rules: CentreRules, now: datetime) -> None:
    first = new_case(session, world, rules, now)
    second = new_case(session, world, rules, now)
    next_day = new_case(session, world, rules, now + timedelta(days=1))
    assert int(second.number[-6:]) == int(first.number[-6:]) + 1
    assert next_day.number == "JD-20261001-000001"


def test_deadline_and_light_follow_the_category_and_urgency(
    session: Session, world: World, rules: CentreRules, now: datetime
) -> None:
    normal = new_case(session, world, rules, now)
    urgent = new_case(session, world, rules, now, urgency="urgent")
    for case in (normal, urgent):
        walk(session, world, rules, case, LOOP[1:3], now)
    assert normal.stage is Stage.HANDLE and urgent.stage is Stage.HANDLE
    assert urgent.deadline_at is not None and normal.deadline_at is not None
    assert urgent.deadline_at < normal.deadline_at
    assert (
        case_service.stage_limits(urgent.category, urgent.urgency)[Stage.HANDLE].text
        == urgent.category.limits["urgent"]["handle"]
    )
    from civicgrid.domain.clock import light_at

    assert light_at(now + timedelta(minutes=40), urgent.warning_at, urgent.deadline_at) is Light.GREEN
    assert light_at(urgent.deadline_at, urgent.warning_at, urgent.deadline_at) is Light.RED


def test_rejection_redispatch_rework_and_extension(
    session: Session, world: World, rules: CentreRules, now: datetime
) -> None:
    case = new_case(session, world, rules, now)
    case = walk(
        session,
        world,
        rules,
        case,
        [("operator", "register", {}), ("dispatcher", "dispatch", {"department_code": "D-CG-E"})],
        now,
    )
    case = act(
        session, world, rules, case, "handler_cg", "reject", now + timedelta(hours=1), note="井盖属市政所"
    )
    assert case.state is CaseState.REJECTED_BY_DEPARTMENT and case.department is None
    case = act(
        session,
        world,
        rules,
        case,
        "dispatcher",
        "dispatch",
        now + timedelta(hours=2),
        department_code="D-SZ-E",
    )
    case = act(session, world, rules, case, "handler_sz", "accept", now + timedelta(hours=3))
    old_deadline = case.deadline_at
    assert old_deadline is not None
    wanted = old_deadline + timedelta(days=7)
    case = act(
        session,
        world,
        rules,
        case,
        "handler_sz",
        "request_extension",
        now + timedelta(hours=4),
        note="需采购",
        new_deadline=wanted,
    )
    assert case.state is CaseState.EXTENSION_REQUESTED and case.deadline_at == old_deadline
    case = act(session, world, rules, case, "leader", "approve_extension", now + timedelta(hours=5))
    assert (
        case.state is CaseState.IN_PROGRESS
        and case.deadline_at is not None
        and case.deadline_at > old_deadline
    )
    case = walk(
        session,
        world,
        rules,
        case,
        [("handler_sz", "handle", {}), ("inspector", "fail_check", {"note": "未修复"})],
        now + timedelta(hours=6),
    )
    assert case.state is CaseState.REWORK and case.rework_count == 1 and case.stage is Stage.HANDLE


def test_suspension_stops_the_clock_and_resume_returns(
    session: Session, world: World, rules: CentreRules, now: datetime
) -> None:
    case = walk(session, world, rules, new_case(session, world, rules, now), LOOP[1:4], now)
    case = act(
        session, world, rules, case, "supervisor", "suspend", now + timedelta(hours=1), note="历史遗留"
    )
    assert case.state is CaseState.SUSPENDED and case.deadline_at is None and case.warning_at is None
    case = act(session, world, rules, case, "leader", "resume", now + timedelta(days=20), note="条件具备")
    assert case.state is CaseState.IN_PROGRESS and case.deadline_at is not None
    assert case.deadline_at > now + timedelta(days=20)


def test_joint_handling_waits_for_every_assisting_department(
    session: Session, world: World, rules: CentreRules, now: datetime
) -> None:
    case = walk(session, world, rules, new_case(session, world, rules, now), LOOP[1:2], now)
    case = act(
        session,
        world,
        rules,
        case,
        "dispatcher",
        "dispatch_joint",
        now,
        department_code="D-CG-E",
        assisting_department_codes=["D-SZ-E", "D-HW-E"],
    )
    assert case.state is CaseState.JOINT and [(t.department.code, t.is_lead) for t in case.tasks] == [
        ("D-CG-E", True),
        ("D-SZ-E", False),
        ("D-HW-E", False),
    ]
    with pytest.raises(InvalidInput, match="东湖市政所"):
        act(session, world, rules, case, "handler_cg", "handle", now)
    act(session, world, rules, case, "handler_sz", "finish_task", now)
    act(session, world, rules, case, "handler_hw", "finish_task", now)
    with pytest.raises(InvalidInput, match="already done"):
        act(session, world, rules, case, "handler_hw", "finish_task", now)
    case = act(session, world, rules, case, "handler_cg", "handle", now)
    assert case.state is CaseState.HANDLED


def test_merge_escalate_and_void(session: Session, world: World, rules: CentreRules, now: datetime) -> None:
    kept = new_case(session, world, rules, now)
    duplicate = act(
        session,
        world,
        rules,
        new_case(session, world, rules, now),
        "operator",
        "merge",
        now,
        note="重复",
        merge_into=kept.number,
    )
    assert duplicate.state is CaseState.MERGED and duplicate.merged_into is kept
    voided = act(
        session, world, rules, new_case(session, world, rules, now), "operator", "void", now, note="无效来电"
    )
    assert voided.state is CaseState.VOIDED
    case = walk(session, world, rules, new_case(session, world, rules, now), LOOP[1:2], now)
    case = act(session, world, rules, case, "dispatcher", "escalate", now, note="需区级协调")
    assert case.state is CaseState.ESCALATED
    # The district's dispatcher sees the street's case in the upper queue and dispatches it.
    case = act(session, world, rules, case, "district_dispatcher", "dispatch", now, department_code="D-CG-E")
    assert case.state is CaseState.DISPATCHED


#: How to bring the case kept by a merge to each state that may not take a duplicate.
FINISHED: dict[str, list[Step]] = {
    "closed": LOOP[:7],
    "revisited": LOOP[:8],
    "archived": LOOP,
    "voided": [("operator", "void", {"note": "无效来电"})],
}


@pytest.mark.parametrize("state", [*FINISHED, "merged"])
def test_a_case_merges_only_into_a_case_that_is_still_open(
    session: Session, world: World, rules: CentreRules, now: datetime, state: str
) -> None:
    if state == "merged":
        target = new_case(session, world, rules, now)
        kept = act(session, world, rules, new_case(session, world, rules, now), "operator", "merge", now,
                   note="重复", merge_into=target.number)  # fmt: skip
        reason = f"merged into {target.number}; merge into that case"
    else:
        kept = walk(session, world, rules, new_case(session, world, rules, now), FINISHED[state], now)
        reason = "merge only into a case that is still open"
    assert kept.state is CaseState(state)
    duplicate = new_case(session, world, rules, now)
    session.commit()
    before = snapshot(session)
    later = now + timedelta(hours=3)
    with pytest.raises(InvalidInput, match=reason):
        act(session, world, rules, duplicate, "operator", "merge", later, note="重复", merge_into=kept.number)
    session.rollback()
    assert snapshot(session) == before
    # A case still open takes the duplicate.
    open_case = new_case(session, world, rules, later)
    merged = act(
        session, world, rules, duplicate, "operator", "merge", later, note="重复", merge_into=open_case.number
    )
    assert merged.state is CaseState.MERGED and merged.merged_into is open_case


REFUSALS: list[tuple[str, str, dict[str, Any], type[Exception], str]] = [
    ("handler_sz", "close", {}, TransitionNotAllowed, "(close)"),
    ("operator", "dispatch", {"department_code": "D-SZ-E"}, TransitionNotAllowed, "(dispatch)"),
    ("handler_cg", "accept", {}, NotFound, "no case"),
    ("inspector", "accept", {}, RoleNotAllowed, "needs the role"),
    ("handler_sz", "reject", {}, InvalidInput, "needs a reason"),
    ("handler_sz", "request_extension", {"note": "x"}, TransitionNotAllowed, "(request_extension)"),
    ("dispatcher", "dispatch_joint", {}, TransitionNotAllowed, "(dispatch_joint)"),
    ("dispatcher_west", "comment", {"note": "x"}, NotFound, "no case"),
    ("handler_sz", "accept", {"expected_version": 1}, Conflict, "changed since you read it"),
]


@pytest.mark.parametrize(
    "actor, action, fields, error, message", REFUSALS, ids=[r[1] + "-" + r[0] for r in REFUSALS]
)
def test_a_refused_action_changes_nothing(
    session: Session,
    world: World,
    rules: CentreRules,
    now: datetime,
    actor: str,
    action: str,
    fields: dict[str, Any],
    error: type[Exception],
    message: str,
) -> None:
    case = walk(session, world, rules, new_case(session, world, rules, now), LOOP[1:3], now)
    session.commit()
    before = snapshot(session)
    with pytest.raises(error) as refusal:
        act(session, world, rules, case, actor, action, now + timedelta(hours=1), **fields)
    session.rollback()  # what the request scope does on any error
    assert message in str(refusal.value)
    assert snapshot(session) == before


def test_extension_to_a_past_or_earlier_deadline_is_refused(
    session: Session, world: World, rules: CentreRules, now: datetime
) -> None:
    case = walk(session, world, rules, new_case(session, world, rules, now), LOOP[1:4], now)
    session.commit()
    before = snapshot(session)
    later = now + timedelta(hours=2)
    for deadline, message in (
        (now - timedelta(days=1), "in the past"),
        (case.deadline_at, "later than the current deadline"),
        (later + timedelta(days=365, seconds=1), "more than 365 days from now"),
        # The farthest time the API takes at all; beyond it the input itself is refused.
        (datetime(2199, 12, 31, tzinfo=UTC), "CIVICGRID_MAX_EXTENSION_DAYS"),
    ):
        with pytest.raises(InvalidInput, match=message):
            act(
                session,
                world,
                rules,
                case,
                "handler_sz",
                "request_extension",
                later,
                note="x",
                new_deadline=deadline,
            )
        session.rollback()
    assert snapshot(session) == before


def test_an_extension_may_reach_as_far_as_the_centre_allows(
    session: Session, world: World, rules: CentreRules, now: datetime
) -> None:
    case = walk(session, world, rules, new_case(session, world, rules, now), LOOP[1:4], now)
    later = now + timedelta(hours=1)  # 11:00, so that a year on is inside working hours too
    with pytest.raises(InvalidInput, match="more than 30 days from now"):
        act(
            session,
            world,
            replace(rules, max_extension_days=30),
            case,
            "handler_sz",
            "request_extension",
            later,
            note="需采购",
            new_deadline=later + timedelta(days=31),
        )
    farthest = later + timedelta(days=365)
    case = act(
        session,
        world,
        rules,
        case,
        "handler_sz",
        "request_extension",
        later,
        note="需采购",
        new_deadline=farthest,
    )
    case = act(session, world, rules, case, "leader", "approve_extension", later + timedelta(minutes=5))
    assert case.deadline_at == farthest


def test_creation_refusals_change_nothing(
    session: Session, world: World, rules: CentreRules, now: datetime
) -> None:
    new_case(session, world, rules, now, external_id="12345-0001")
    session.commit()
    before = snapshot(session)
    bad: list[tuple[str, dict[str, Any], type[Exception], str]] = [
        ("operator", {"category_code": "X9999"}, InvalidInput, "unknown category code 'X9999'"),
        ("operator", {"category_code": "C01"}, InvalidInput, "not an active small class"),
        (
            "operator",
            {"lng": 121.5, "lat": 31.2},
            InvalidInput,
            r"point \(121.500000, 31.200000\) .* outside the territory",
        ),
        ("operator", {"external_id": "12345-0001"}, Conflict, "already case JD-"),
        ("operator_west", {}, RoleNotAllowed, "outside your scope"),
        ("handler_sz", {}, RoleNotAllowed, "cannot report"),
        ("operator", {"region_code": "T0102"}, InvalidInput, "does not lie in region"),
    ]
    for actor, fields, error, message in bad:
        with pytest.raises(error, match=message):
            new_case(session, world, rules, now, actor=actor, **fields)
        session.rollback()
        assert snapshot(session) == before


def test_scope_a_street_never_sees_another_streets_cases(
    session: Session, world: World, rules: CentreRules, now: datetime
) -> None:
    from civicgrid.schemas import CaseFilters
    from civicgrid.store import cases as queries

    east_case = new_case(session, world, rules, now)
    west_case = new_case(session, world, rules, now, actor="operator_west", lng=120.105, lat=30.005)
    walk(
        session,
        world,
        rules,
        east_case,
        [("operator", "register", {}), ("dispatcher", "dispatch", {"department_code": "D-CG-E"})],
        now,
    )

    def visible(username: str) -> set[str]:
        query = queries.filtered(session, world.users[username], CaseFilters(), now)
        return {c.number for c in session.scalars(query)}

    assert visible("dispatcher") == {east_case.number}
    assert visible("dispatcher_west") == {west_case.number}
    assert visible("leader") == {east_case.number, west_case.number}
    assert visible("handler_cg") == {east_case.number}
    assert visible("handler_sz") == set()
    assert visible("citizen") == set()
    with pytest.raises(NotFound):
        queries.get_visible(session, world.users["dispatcher_west"], east_case.number)


def test_citizen_reports_through_the_web_and_sees_only_their_own(
    session: Session, world: World, rules: CentreRules, now: datetime
) -> None:
    from civicgrid.store import cases as queries

    mine = new_case(session, world, rules, now, actor="citizen", channel=Channel.WEB)
    new_case(session, world, rules, now)
    with pytest.raises(RoleNotAllowed, match="web or wechat"):
        new_case(session, world, rules, now, actor="citizen")
    assert queries.get_visible(session, world.users["citizen"], mine.number) is mine


def test_case_events_are_append_only_in_the_database(
    session: Session, world: World, rules: CentreRules, now: datetime
) -> None:
    case = new_case(session, world, rules, now)
    session.commit()
    for statement in ("UPDATE case_events SET note = 'x'", "DELETE FROM case_events"):
        nested = session.begin_nested()
        with pytest.raises(DBAPIError, match="append-only"):
            session.execute(text(statement))
        nested.rollback()
    session.expire_all()
    assert [e.note for e in session.get(Case, case.id).events] == [""]  # type: ignore[union-attr]


def test_concurrent_writer_gets_a_conflict(
    session: Session, world: World, rules: CentreRules, now: datetime
) -> None:
    case = new_case(session, world, rules, now)
    session.commit()
    # Another writer moved the case on since this session loaded it.
    session.execute(text("UPDATE cases SET version = version + 1 WHERE id = :id"), {"id": case.id})
    with pytest.raises(Conflict, match="someone else"):
        case_service.transition(
            session, world.users["operator"], case.number, Action.REGISTER, TransitionRequest(), rules, now
        )


def test_a_link_is_recorded_on_the_actors_own_event(
    session: Session, world: World, rules: CentreRules, now: datetime
) -> None:
    from civicgrid.schemas import AttachmentIn
    from civicgrid.services import attachments

    case = new_case(session, world, rules, now, actor="inspector")
    data = AttachmentIn(
        filename="现场.jpg",
        content_type="image/jpeg",
        size_bytes=1024,
        sha256="a" * 64,
        uri="https://files.example.cn/photos/1.jpg",
        event_seq=1,
    )
    attachment = attachments.add_link(session, world.users["inspector"], case.number, data, now)
    assert isinstance(attachment, Attachment) and attachment.event_id == case.events[0].id
    with pytest.raises(InvalidInput, match="no event 9"):
        attachments.add_link(
            session, world.users["inspector"], case.number, data.model_copy(update={"event_seq": 9}), now
        )
    with pytest.raises(RoleNotAllowed, match=r"event 1 of case .* is not yours"):
        attachments.add_link(session, world.users["operator"], case.number, data, now)


def test_case_create_schema_refuses_malformed_coordinates() -> None:
    from pydantic import ValidationError

    base = {"channel": "hotline_12345", "category_code": "C0101", "title": "x"}
    for fields in (
        {"lng": 200, "lat": 30},
        {"lng": 120, "lat": 95},
        {"lng": 120},
        {"lng": float("nan"), "lat": 30},
        {},
    ):
        with pytest.raises(ValidationError):
            CaseCreate(**base, **fields)


def test_a_street_cannot_dispatch_to_another_streets_department(
    session: Session, world: World, rules: CentreRules, now: datetime
) -> None:
    case = walk(session, world, rules, new_case(session, world, rules, now), LOOP[1:2], now)
    session.commit()
    before = snapshot(session)
    with pytest.raises(RoleNotAllowed, match=r"D-CG-W .*serves another area"):
        act(session, world, rules, case, "dispatcher", "dispatch", now, department_code="D-CG-W")
    session.rollback()
    assert snapshot(session) == before


def test_only_the_upper_centre_acts_on_an_escalated_case(
    session: Session, world: World, rules: CentreRules, now: datetime
) -> None:
    case = walk(session, world, rules, new_case(session, world, rules, now), LOOP[1:2], now)
    case = act(session, world, rules, case, "dispatcher", "escalate", now, note="需区级协调")
    assert case.events[-1].data == {"from_region": "T0101"}
    session.commit()
    before = snapshot(session)
    for action, fields in (("dispatch", {"department_code": "D-CG-E"}), ("send_back", {"note": "x"})):
        with pytest.raises(RoleNotAllowed, match="upper centre"):
            act(session, world, rules, case, "dispatcher", action, now, **fields)
        session.rollback()
    assert snapshot(session) == before
    case = act(session, world, rules, case, "district_dispatcher", "send_back", now, note="属街道事权")
    assert case.state is CaseState.REGISTERED


def test_an_action_refuses_fields_it_does_not_take(
    session: Session, world: World, rules: CentreRules, now: datetime
) -> None:
    case = new_case(session, world, rules, now)
    with pytest.raises(InvalidInput, match="register does not take department_code, satisfaction"):
        act(
            session,
            world,
            rules,
            case,
            "operator",
            "register",
            now,
            department_code="D-SZ-E",
            satisfaction="satisfied",
        )


def test_a_gcj02_or_bd09_point_is_stored_as_wgs84(
    session: Session, world: World, rules: CentreRules, now: datetime
) -> None:
    from civicgrid.geo.crs import gcj02_to_bd09, wgs84_to_gcj02

    # Near the east edge of grid g1 (120.00–120.01): taken as WGS-84 without conversion,
    # the GCJ-02 point would fall into grid g2 (the shift is ~450 m east here).
    wgs = (120.0085, 30.005)
    gcj = wgs84_to_gcj02(*wgs)
    assert gcj[0] > 120.01
    for crs, point in (("gcj02", gcj), ("bd09", gcj02_to_bd09(*gcj))):
        case = new_case(session, world, rules, now, lng=point[0], lat=point[1], crs=crs)
        assert case.grid is world.grids["g1"]
        assert (case.lng, case.lat) == pytest.approx(wgs, abs=1e-6)
