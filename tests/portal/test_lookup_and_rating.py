"""Following a case: by number and phone (both must match; a wrong pair reads like an unknown
number; throttled), or as the verified reporter; the public view only — states and public
notes, never internal notes or staff names. Rating after closure is the case's call-back
(回访), once; "not satisfied" needs a reason and lands in the supervisors' queue."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from civicgrid.domain.errors import TooManyAttempts
from civicgrid.domain.vocabulary import Action, CaseState, Satisfaction
from civicgrid.portal import service
from civicgrid.services.cases import CentreRules
from civicgrid.settings import Settings
from civicgrid.store.models import Case
from tests import factories
from tests.api.helpers import stored
from tests.factories import PASSWORD, World
from tests.portal.conftest import PHONE, Citizen, Clock, form_token, report, reported_number
from tests.web.conftest import csrf_of

INTERNAL = "内部：来电人语气激动，注意安抚"
PUBLIC = "已派东湖市政所，今日处置"
STAFF_ONLY = "内部：市政所王五负责"


@pytest.fixture
def reported(citizen: Citizen, session: Session) -> tuple[TestClient, str]:
    """A verified citizen and the number of the case they reported."""
    client = citizen()
    return client, reported_number(report(client))


def _case(session: Session, number: str) -> Case:
    session.expire_all()
    case = session.scalar(select(Case).where(Case.number == number))
    assert case is not None
    return case


def _handled_with_notes(
    session: Session, world: World, rules: CentreRules, now: datetime, number: str
) -> Case:
    """Registered with an internal note, dispatched with a public one, remarked on internally."""
    case = _case(session, number)
    factories.act(session, world, rules, case, "operator", "register", now, note=INTERNAL)
    factories.act(
        session, world, rules, case, "dispatcher", "dispatch", now,
        department_code="D-SZ-E", note=PUBLIC, note_is_public=True,
    )  # fmt: skip
    factories.act(session, world, rules, case, "dispatcher", "comment", now, note=STAFF_ONLY)
    session.commit()
    return case


def _closed(session: Session, world: World, rules: CentreRules, now: datetime, number: str) -> Case:
    case = _handled_with_notes(session, world, rules, now, number)
    for actor, action, fields in (
        ("handler_sz", "accept", {}),
        ("handler_sz", "handle", {"note": "已补齐井盖", "note_is_public": True}),
        ("inspector", "check", {}),
        ("operator", "close", {}),
    ):
        factories.act(session, world, rules, case, actor, action, now, **fields)
    session.commit()
    return case


def _lookup(client: TestClient, number: str, phone: str) -> Any:
    return client.post(
        "/portal/lookup", data={"csrf_token": form_token(client), "number": number, "phone": phone}
    )


def _rate(client: TestClient, number: str, satisfaction: str, reason: str = "") -> Any:
    token = form_token(client, f"/portal/cases/{number}")
    return client.post(
        f"/portal/cases/{number}/rating",
        data={"csrf_token": token, "satisfaction": satisfaction, "reason": reason},
    )


def _never_shows_staff_or_internal_notes(text: str) -> None:
    for secret in (INTERNAL, STAFF_ONLY, "王五", "内部", "operator", "dispatcher", "handler_sz", "inspector"):
        assert secret not in text, secret


def test_a_lookup_shows_states_and_public_notes_only(
    reported: tuple[TestClient, str],
    portal_client: Callable[[], TestClient],
    session: Session,
    world: World,
    rules: CentreRules,
    now: datetime,
) -> None:
    _, number = reported
    _handled_with_notes(session, world, rules, now, number)
    stranger = portal_client()  # no verified phone: the number and the phone suffice to read
    page = _lookup(stranger, number.lower(), "+86 138 0013 8000")
    assert page.status_code == 200, page.text
    assert [s.strip() for s in _between(page.text, '<span class="step-label">', "</span>")] == [
        "上报", "立案", "派遣", "备注",
    ]  # fmt: skip
    assert PUBLIC in page.text and "东湖市政所" in page.text and "派遣" in page.text
    _never_shows_staff_or_internal_notes(page.text)
    assert "验证手机号" not in page.text  # not closed: nothing to rate yet


def _between(text: str, start: str, end: str) -> list[str]:
    return [part.split(end, 1)[0] for part in text.split(start)[1:]]


def test_a_wrong_phone_reads_like_an_unknown_number(
    reported: tuple[TestClient, str], portal_client: Callable[[], TestClient], session: Session
) -> None:
    _, number = reported
    client = portal_client()
    wrong_phone = _lookup(client, number, "13900139000")
    unknown = _lookup(client, "JD-20200101-000001", "13800138000")
    malformed = _lookup(client, number, "12345")
    assert wrong_phone.status_code == unknown.status_code == malformed.status_code == 404
    assert service.NOT_FOUND in wrong_phone.text and service.NOT_FOUND in unknown.text
    # Nothing of the case shows: the same page as for a number that does not exist.
    for reply in (wrong_phone, malformed):
        assert "上水井盖" not in reply.text and "step-label" not in reply.text


def test_lookups_are_throttled_per_address_and_per_number(
    reported: tuple[TestClient, str],
    portal_client: Callable[[], TestClient],
    session: Session,
    settings: Settings,
    clock: Clock,
    now: datetime,
) -> None:
    _, number = reported
    client = portal_client()
    for n in range(settings.portal_lookup_max_failures):
        assert _lookup(client, f"JD-20200101-{n:06d}", PHONE).status_code == 404
    locked = _lookup(client, number, PHONE)  # even the right pair waits now
    assert locked.status_code == 429 and "查询失败次数过多，请 15 分钟后再试" in locked.text
    assert int(locked.headers["Retry-After"]) > 0
    clock(now + timedelta(minutes=16))
    assert _lookup(client, number, PHONE).status_code == 200
    # Guesses at one number from many addresses lock that number.
    later = now + timedelta(hours=1)
    for n in range(settings.portal_lookup_max_failures):
        assert service.lookup(session, number, f"1390000{n:04d}", f"10.0.0.{n}", later, 10) is None
    with pytest.raises(TooManyAttempts):
        service.lookup(session, number, PHONE, "10.1.1.1", later, 10)
    assert service.lookup(session, "JD-20200101-000001", PHONE, "10.1.1.1", later, 10) is None


def test_the_verified_reporter_follows_their_own_cases_only(
    citizen: Citizen, reported: tuple[TestClient, str]
) -> None:
    owner, number = reported
    mine = owner.get("/portal/mine")
    assert mine.status_code == 200 and number in mine.text
    other = citizen("13900139000")
    assert number not in other.get("/portal/mine").text
    refused = other.get(f"/portal/cases/{number}")
    assert refused.status_code == 404 and service.NOT_FOUND in refused.text
    assert other.get("/portal/cases/JD-20200101-000001").status_code == 404


def test_rating_before_closure_is_refused(reported: tuple[TestClient, str], session: Session) -> None:
    client, number = reported
    before = stored(session)
    reply = _rate(client, number, "satisfied")
    assert reply.status_code == 409 and "结案后才能评价" in reply.text
    assert stored(session) == before


def test_not_satisfied_needs_a_reason_then_goes_to_the_supervisors(
    app: Any,
    reported: tuple[TestClient, str],
    session: Session,
    world: World,
    rules: CentreRules,
    now: datetime,
) -> None:
    client, number = reported
    _closed(session, world, rules, now, number)
    page = client.get(f"/portal/cases/{number}")
    assert "评价处置结果" in page.text and "已补齐井盖" in page.text
    _never_shows_staff_or_internal_notes(page.text)
    before = stored(session)
    no_reason = _rate(client, number, "not_satisfied", "   ")
    assert no_reason.status_code == 422 and "请写明不满意的原因" in no_reason.text
    assert stored(session) == before and _case(session, number).state is CaseState.CLOSED

    rated = _rate(client, number, "not_satisfied", "井盖装好了但周边路面仍然破损")
    assert rated.status_code == 303 and rated.headers["location"] == f"/portal/cases/{number}?rated=1"
    case = _case(session, number)
    assert (case.state, case.satisfaction) == (CaseState.REVISITED, Satisfaction.NOT_SATISFIED)
    revisit = case.events[-1]
    assert revisit.action is Action.REVISIT and revisit.actor is not None
    assert revisit.actor.username == service.PORTAL_USERNAME
    assert revisit.note == "市民评价（不满意）：井盖装好了但周边路面仍然破损" and not revisit.note_is_public
    assert revisit.data == {"satisfaction": "not_satisfied"}
    shown = client.get(f"/portal/cases/{number}?rated=1")
    assert "感谢您的评价" in shown.text and "不满意" in shown.text and "评价处置结果" not in shown.text

    again = _rate(client, number, "satisfied")
    assert again.status_code == 409 and "只能评价一次" in again.text
    assert _case(session, number).satisfaction is Satisfaction.NOT_SATISFIED

    with TestClient(app, follow_redirects=False) as staff:
        token = csrf_of(staff.get("/login").text)
        staff.post("/login", data={"csrf_token": token, "username": "supervisor", "password": PASSWORD})
        queue = staff.get("/workbench", params={"queue": "dissatisfied"})
    assert queue.status_code == 200 and "不满意回访" in queue.text and number in queue.text


def test_a_satisfied_rating_stays_out_of_the_supervisors_queue(
    app: Any,
    reported: tuple[TestClient, str],
    session: Session,
    world: World,
    rules: CentreRules,
    now: datetime,
) -> None:
    client, number = reported
    _closed(session, world, rules, now, number)
    assert _rate(client, number, "satisfied").status_code == 303
    case = _case(session, number)
    assert (case.state, case.satisfaction, case.events[-1].note) == (
        CaseState.REVISITED, Satisfaction.SATISFIED, "市民评价：满意",
    )  # fmt: skip
    with TestClient(app, follow_redirects=False) as staff:
        token = csrf_of(staff.get("/login").text)
        staff.post("/login", data={"csrf_token": token, "username": "supervisor", "password": PASSWORD})
        queue = staff.get("/workbench", params={"queue": "dissatisfied"})
    assert number not in queue.text


def test_only_the_reporter_rates_and_only_when_verified(
    citizen: Citizen,
    portal_client: Callable[[], TestClient],
    reported: tuple[TestClient, str],
    session: Session,
    world: World,
    rules: CentreRules,
    now: datetime,
) -> None:
    _, number = reported
    _closed(session, world, rules, now, number)
    before = stored(session)
    other = citizen("13900139000")
    assert _rate(other, number, "not_satisfied", "乱评").status_code == 404
    stranger = portal_client()
    lookup = _lookup(stranger, number, PHONE)
    assert lookup.status_code == 200 and "验证手机号</a>后即可评价" in lookup.text
    token = form_token(stranger)
    reply = stranger.post(
        f"/portal/cases/{number}/rating", data={"csrf_token": token, "satisfaction": "satisfied"}
    )
    assert (
        reply.status_code == 303
        and reply.headers["location"] == f"/portal/verify?next=%2Fportal%2Fcases%2F{number}"
    )
    assert stored(session) == before


def test_a_rating_without_the_csrf_token_changes_nothing(
    reported: tuple[TestClient, str], session: Session, world: World, rules: CentreRules, now: datetime
) -> None:
    client, number = reported
    _closed(session, world, rules, now, number)
    for token in ("", "a" * 64):
        reply = client.post(
            f"/portal/cases/{number}/rating", data={"csrf_token": token, "satisfaction": "satisfied"}
        )
        assert reply.status_code == 403
    assert _case(session, number).state is CaseState.CLOSED


def test_a_rating_must_name_a_satisfaction_and_an_archived_case_takes_none(
    reported: tuple[TestClient, str], session: Session, world: World, rules: CentreRules, now: datetime
) -> None:
    client, number = reported
    case = _closed(session, world, rules, now, number)
    unnamed = _rate(client, number, "very_happy")
    assert unnamed.status_code == 422 and "请选择满意、基本满意或不满意" in unnamed.text
    factories.act(session, world, rules, case, "operator", "archive", now)  # closed, never called back
    session.commit()
    archived = _rate(client, number, "satisfied")
    assert archived.status_code == 409 and "案件已归档，不能再评价" in archived.text
    assert _case(session, number).satisfaction is None
