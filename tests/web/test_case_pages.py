"""The case file, the action forms and the intake form, through the pages."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from civicgrid.domain.vocabulary import CaseState
from civicgrid.services.cases import CentreRules
from civicgrid.store.models import Case
from tests import factories
from tests.api.helpers import stored
from tests.factories import World
from tests.web.conftest import csrf_of

Pages = Callable[[str], TestClient]


def post_action(client: TestClient, number: str, action: str, **fields: object) -> httpx.Response:
    token = csrf_of(client.get(f"/cases/{number}").text)
    return client.post(f"/cases/{number}/actions/{action}", data={"csrf_token": token, **fields})


def reload(session: Session, number: str) -> Case:
    session.expire_all()
    return session.scalars(select(Case).where(Case.number == number)).one()


def reason_of(reply: httpx.Response) -> str:
    """The reason a refusal page gives, checked to be in Chinese: no English sentence in it."""
    found = re.search(r'<p class="reason">(.*?)</p>', reply.text, re.S)
    assert found, reply.text
    reason = found.group(1)
    assert re.search(r"[\u4e00-\u9fff]", reason)
    assert not re.search(r"[A-Za-z]{3,} [A-Za-z]{2,}", reason), reason
    return reason


@pytest.fixture
def registered(session: Session, world: World, rules: CentreRules, now: datetime) -> Case:
    case = factories.new_case(session, world, rules, now, title="望江路井盖缺失")
    factories.act(session, world, rules, case, "operator", "register", now)
    session.commit()
    return case


def test_the_case_file_offers_exactly_the_workflows_actions(pages: Pages, registered: Case) -> None:
    page = pages("dispatcher").get(f"/cases/{registered.number}").text
    offered = re.findall(r'/actions/(\w+)"', page)
    assert offered == ["dispatch", "escalate", "dispatch_joint", "merge", "void", "comment"]
    assert pages("handler_sz").get(f"/cases/{registered.number}").status_code == 404
    operator = pages("operator").get(f"/cases/{registered.number}").text
    assert re.findall(r'/actions/(\w+)"', operator) == ["merge", "void", "comment"]
    assert "上报 → 立案" in operator and "望江路井盖缺失" in operator


def test_each_action_form_asks_for_its_own_fields(pages: Pages, registered: Case) -> None:
    client = pages("dispatcher")
    dispatch = client.get(f"/cases/{registered.number}/actions/dispatch").text
    assert 'name="department_code"' in dispatch and 'name="assisting_department_codes"' not in dispatch
    assert re.search(r'<option value="D-SZ-E">东湖市政所\(推荐\)</option>', dispatch)
    first = re.search(r'<select name="department_code" required>\s*<option value="([^"]+)"', dispatch)
    assert first and first.group(1) == "D-SZ-E"  # C0101's default function (市政) comes first
    joint = client.get(f"/cases/{registered.number}/actions/dispatch_joint").text
    assert 'name="assisting_department_codes"' in joint
    void = client.get(f"/cases/{registered.number}/actions/void").text
    assert "理由(必填)" in void and 'name="department_code"' not in void
    merge = client.get(f"/cases/{registered.number}/actions/merge").text
    assert 'name="merge_into"' in merge


def test_actions_that_are_not_open_are_refused(pages: Pages, registered: Case) -> None:
    client = pages("dispatcher")
    assert client.get(f"/cases/{registered.number}/actions/close").status_code == 409
    assert client.get(f"/cases/{registered.number}/actions/nonsense").status_code == 404
    assert pages("operator").get(f"/cases/{registered.number}/actions/dispatch").status_code == 403
    assert post_action(client, registered.number, "nonsense").status_code == 404


def test_a_refused_action_shows_its_reason_and_changes_nothing(
    pages: Pages, session: Session, registered: Case
) -> None:
    before = stored(session)
    closed = post_action(pages("operator"), registered.number, "close")
    assert closed.status_code == 409 and "案件当前状态不允许此操作" in closed.text
    reason = reason_of(closed)
    assert "案件处于「立案」状态，不能进行「结案」" in reason and "此时可进行：派遣、上报上级" in reason
    assert "is not allowed" not in closed.text and "allowed here" not in closed.text
    forbidden = pages("operator").get(f"/cases/{registered.number}/actions/dispatch")
    assert forbidden.status_code == 403
    assert "「派遣」只能由派遣员进行，您的角色是坐席/受理员" in reason_of(forbidden)
    stale = post_action(pages("dispatcher"), registered.number, "comment", note="看看", expected_version="1")
    assert stale.status_code == 409
    assert f"案件 {registered.number} 已被他人修改(您看到的是第 1 版" in reason_of(stale)
    unknown = post_action(pages("dispatcher"), registered.number, "dispatch", department_code="D-NONE")
    assert unknown.status_code == 422 and "没有编码为「D-NONE」的部门" in reason_of(unknown)
    late = post_action(pages("dispatcher"), registered.number, "close", expected_version="1")
    assert late.status_code == 409 and "您看到的是第 1 版" in reason_of(late)
    assert stored(session) == before
    assert reload(session, registered.number).state is CaseState.REGISTERED


def test_joint_dispatch_then_each_part(pages: Pages, session: Session, registered: Case) -> None:
    alone = post_action(
        pages("dispatcher"), registered.number, "dispatch_joint", department_code="D-SZ-E", note="联合"
    )
    assert alone.status_code == 422 and "至少一个协办部门" in reason_of(alone)
    assert "distinct" not in alone.text
    reply = post_action(
        pages("dispatcher"),
        registered.number,
        "dispatch_joint",
        department_code="D-SZ-E",
        assisting_department_codes=["D-CG-E", "D-HW-E"],
        note="多部门联合处置",
    )
    assert reply.status_code == 303
    case = reload(session, registered.number)
    assert case.state is CaseState.JOINT and len(case.tasks) == 3
    page = pages("handler_cg").get(f"/cases/{registered.number}").text
    assert "东湖市政所(牵头)" in page and "协办：东湖城管中队、东湖环卫所" in page
    early = post_action(pages("handler_sz"), registered.number, "handle", note="已处理")
    assert early.status_code == 422
    assert "协办部门尚未完成各自的任务：东湖城管中队、东湖环卫所" in reason_of(early)
    not_lead = post_action(pages("handler_cg"), registered.number, "handle", note="已处理")
    assert not_lead.status_code == 403
    assert f"案件 {registered.number} 没有派给您所在的部门" in reason_of(not_lead)
    assert "not assigned" not in not_lead.text


def test_an_extension_requested_then_approved(pages: Pages, session: Session, registered: Case) -> None:
    assert (
        post_action(pages("dispatcher"), registered.number, "dispatch", department_code="D-SZ-E").status_code
        == 303
    )
    handler = pages("handler_sz")
    assert post_action(handler, registered.number, "accept").status_code == 303
    bad = post_action(
        handler, registered.number, "request_extension", note="需更换", new_deadline="not a date"
    )
    assert bad.status_code == 422
    past = post_action(
        handler, registered.number, "request_extension", note="需更换", new_deadline="2026-09-01T10:00"
    )
    assert past.status_code == 422 and "in the past" not in past.text
    assert "新的期限 2026年9月1日 10:00 已经过去" in reason_of(past)
    asked = post_action(
        handler, registered.number, "request_extension", note="需更换", new_deadline="2026-10-30T17:00"
    )
    assert asked.status_code == 303
    assert reload(session, registered.number).state is CaseState.EXTENSION_REQUESTED
    page = pages("leader").get(f"/cases/{registered.number}").text
    assert "申请期限：2026年10月30日 17:00" in page
    assert post_action(pages("leader"), registered.number, "approve_extension").status_code == 303
    case = reload(session, registered.number)
    assert case.state is CaseState.IN_PROGRESS


def test_revisit_and_merge_forms(
    pages: Pages, session: Session, world: World, rules: CentreRules, now: datetime, registered: Case
) -> None:
    duplicate = factories.new_case(session, world, rules, now, title="同一井盖")
    session.commit()
    operator = pages("operator")
    merged = post_action(operator, duplicate.number, "merge", merge_into=registered.number, note="重复")
    assert merged.status_code == 303
    page = operator.get(f"/cases/{duplicate.number}").text
    assert f'合并至：<a href="/cases/{registered.number}">' in page
    for action, by in (("dispatch", "dispatcher"), ("accept", "handler_sz"), ("handle", "handler_sz")):
        fields = {"department_code": "D-SZ-E"} if action == "dispatch" else {}
        assert post_action(pages(by), registered.number, action, **fields).status_code == 303
    assert post_action(pages("inspector"), registered.number, "check").status_code == 303
    assert post_action(operator, registered.number, "close").status_code == 303
    missing = post_action(operator, registered.number, "revisit")
    assert missing.status_code == 422
    rated = post_action(operator, registered.number, "revisit", satisfaction="basically_satisfied")
    assert rated.status_code == 303
    assert "满意度：基本满意" in operator.get(f"/cases/{registered.number}").text


def test_a_note_too_long_is_refused_and_changes_nothing(
    pages: Pages, session: Session, registered: Case
) -> None:
    before = stored(session)
    reply = post_action(pages("dispatcher"), registered.number, "comment", note="长" * 5001)
    assert reply.status_code == 422 and "note" in reply.text
    assert stored(session) == before


def test_intake_registers_a_case(pages: Pages, session: Session) -> None:
    client = pages("operator")
    form = client.get("/cases/new").text
    assert '<optgroup label="C01 ' in form and "C0101 上水井盖" in form
    reply = client.post(
        "/cases",
        data={
            "csrf_token": csrf_of(form),
            "channel": "hotline_12345",
            "request_type": "complaint",
            "category_code": "C0101",
            "urgency": "urgent",
            "title": "望江路井盖缺失",
            "description": "行人易踩空",
            "address": "望江路12号",
            "reporter_name": "王先生",
            "reporter_phone": "13800000000",
            "lng": "120.005",
            "lat": "30.005",
        },
    )
    assert reply.status_code == 303
    number = reply.headers["location"].rsplit("/", 1)[1]
    case = reload(session, number)
    assert case.title == "望江路井盖缺失" and case.grid is not None and case.grid.code == "T010101-01"
    assert case.urgency.value == "urgent" and case.reporter_phone == "13800000000"


def test_intake_shows_what_is_wrong_and_keeps_what_was_typed(pages: Pages, session: Session) -> None:
    client = pages("operator")
    before = stored(session)
    reply = client.post(
        "/cases",
        data={
            "csrf_token": csrf_of(client.get("/cases/new").text),
            "channel": "hotline_12345",
            "title": "井盖",
            "lng": "120.005",
        },
    )
    assert reply.status_code == 422
    assert "请修改以下内容" in reply.text and 'value="井盖"' in reply.text
    assert stored(session) == before


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        ({"lng": "121.5", "lat": "31.2"}, "位置(121.500000, 31.200000)不在本中心辖区的任何网格或区域内"),
        ({"category_code": "C01"}, "分类「C01」不是启用中的小类"),
        ({"category_code": "C9999"}, "没有编码为「C9999」的分类"),
    ],
)
def test_intake_refusals_are_in_chinese(
    pages: Pages, session: Session, fields: dict[str, str], reason: str
) -> None:
    client = pages("operator")
    before = stored(session)
    data = {
        "csrf_token": csrf_of(client.get("/cases/new").text),
        "channel": "hotline_12345",
        "request_type": "complaint",
        "category_code": "C0101",
        "title": "望江路井盖缺失",
        "lng": "120.005",
        "lat": "30.005",
        **fields,
    }
    reply = client.post("/cases", data=data)
    assert reply.status_code == 422 and reason in reason_of(reply)
    assert stored(session) == before


def test_intake_is_for_those_who_register_cases(pages: Pages) -> None:
    assert pages("leader").get("/cases/new").status_code == 403
    inspector = pages("inspector").get("/cases/new").text
    assert "<h1>上报问题</h1>" in inspector and '<option value="inspector" selected>' in inspector


@pytest.mark.parametrize(
    ("query", "shown"),
    [
        ("lng=120.005&lat=30.005", "东湖一社区 · 东湖一社区网格(T010101-01，综合网格)"),
        ("lng=121.5&lat=31.2", "该坐标不在本辖区任何网格内"),
        ("lng=abc&lat=30", "显示所属社区和网格"),
        ("lng=500&lat=30", "显示所属社区和网格"),
    ],
)
def test_the_grid_of_a_typed_point(pages: Pages, query: str, shown: str) -> None:
    reply = pages("operator").get(f"/cases/new/place?{query}", headers={"HX-Request": "true"})
    assert reply.status_code == 200 and shown in reply.text


def test_sign_in_page_notes(client: TestClient) -> None:
    assert "已安全退出" in client.get("/login?reason=signed_out").text
    assert "登录已过期" in client.get("/login?reason=expired").text
