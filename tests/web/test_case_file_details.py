"""The case file's less common fields (inspector, answers, outside picture, the 12345 order's
time limit, rejections), public notes written from the pages, and what the file pickers offer."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime, timedelta

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from civicgrid.services.cases import CentreRules
from civicgrid.store.models import CaseEvent, Category
from tests import factories
from tests.factories import PASSWORD, World
from tests.web.conftest import csrf_of

Pages = Callable[[str], TestClient]

QUESTIONS = [
    {"code": "depth", "datatype": "number", "description": "坑深(厘米)", "order": 2},
    {
        "code": "where",
        "datatype": "multivaluelist",
        "description": "位置",
        "order": 1,
        "values": [{"key": "road", "name": "车行道"}, {"key": "walk", "name": "人行道"}],
    },
]


def test_the_case_file_shows_every_field_a_case_has(
    pages: Pages, session: Session, world: World, rules: CentreRules, now: datetime
) -> None:
    category = session.scalars(select(Category).where(Category.code == "C0101")).one()
    category.questions = QUESTIONS
    session.flush()
    case = factories.new_case(
        session,
        world,
        rules,
        now,
        answers={"depth": "15", "where": ["road", "walk"]},
        media_url="https://example.org/p/1.jpg",
    )
    case.inspector = world.users["inspector"]
    case.external_deadline_at = now + timedelta(days=1)
    factories.act(session, world, rules, case, "operator", "register", now)
    factories.act(session, world, rules, case, "dispatcher", "dispatch", now, department_code="D-SZ-E")
    factories.act(session, world, rules, case, "handler_sz", "reject", now, note="非本部门职责")
    session.commit()
    page = pages("dispatcher").get(f"/cases/{case.number}").text
    fields = dict(re.findall(r"<dt>([^<]+)</dt><dd>(.*?)</dd>", page, re.S))
    assert fields["网格员"] == world.users["inspector"].full_name
    assert fields["位置"] == "车行道、人行道" and fields["坑深(厘米)"] == "15"
    assert list(fields).index("位置") < list(fields).index("坑深(厘米)")  # the questions' order
    assert 'href="https://example.org/p/1.jpg" rel="noopener noreferrer"' in fields["外部图片"]
    assert fields["工单办理时限"].endswith("(来自12345平台)") and fields["退单次数"] == "1"


def test_a_note_is_made_public_from_the_action_form(
    pages: Pages, session: Session, world: World, rules: CentreRules, now: datetime
) -> None:
    case = factories.new_case(session, world, rules, now)
    session.commit()
    operator = pages("operator")
    form = operator.get(f"/cases/{case.number}/actions/register").text
    assert re.search(r'<input type="checkbox" name="note_is_public" value="true">', form)
    for note, public in (("已受理，将尽快处理", True), ("内部：联系市政所", False)):
        token = csrf_of(operator.get(f"/cases/{case.number}").text)
        action = "register" if public else "comment"
        fields = {"csrf_token": token, "note": note, **({"note_is_public": "true"} if public else {})}
        assert operator.post(f"/cases/{case.number}/actions/{action}", data=fields).status_code == 303
    session.expire_all()
    events = session.scalars(select(CaseEvent).where(CaseEvent.case_id == case.id).order_by(CaseEvent.seq))
    assert [(e.note, e.note_is_public) for e in events][1:] == [
        ("已受理，将尽快处理", True),
        ("内部：联系市政所", False),
    ]
    page = operator.get(f"/cases/{case.number}").text
    assert page.count("此说明市民可见") == 1


def test_desk_forms_take_pdf_documents_and_the_inspector_s_camera_takes_photos(pages: Pages) -> None:
    pick = re.compile(r'<input type="file"[^>]*accept="([^"]+)"')
    assert pick.findall(pages("operator").get("/cases/new").text) == ["image/*,application/pdf"]
    assert pick.findall(pages("inspector").get("/cases/new").text) == ["image/*"]


def offered(client: TestClient, number: str) -> list[str]:
    return re.findall(r'/actions/(\w+)"', client.get(f"/cases/{number}").text)


def test_a_joint_case_offers_each_department_its_own_part_in_the_page_and_the_api(
    pages: Pages, session: Session, world: World, rules: CentreRules, now: datetime
) -> None:
    case = factories.new_case(session, world, rules, now)
    factories.act(session, world, rules, case, "operator", "register", now)
    factories.act(
        session, world, rules, case, "dispatcher", "dispatch_joint", now,
        department_code="D-SZ-E", assisting_department_codes=["D-CG-E"],
    )  # fmt: skip
    session.commit()
    lead, assisting = offered(pages("handler_sz"), case.number), offered(pages("handler_cg"), case.number)
    assert "handle" in lead and "finish_task" not in lead
    assert "finish_task" in assisting and "handle" not in assisting and "request_extension" not in assisting
    client = pages("handler_cg")
    token = client.post("/api/v1/auth/token", json={"username": "handler_cg", "password": PASSWORD}).json()
    headers = {"Authorization": f"Bearer {token['access_token']}"}
    api = client.get(f"/api/v1/cases/{case.number}", headers=headers).json()["allowed_actions"]
    assert [a for a in api if a != "comment"] == [a for a in assisting if a != "comment"]
    factories.act(session, world, rules, case, "handler_cg", "finish_task", now)
    session.commit()
    assert "finish_task" not in offered(pages("handler_cg"), case.number)  # its part is done


def test_an_escalated_case_is_dispatched_by_the_centre_above_not_the_street_that_sent_it(
    pages: Pages, session: Session, world: World, rules: CentreRules, now: datetime
) -> None:
    case = factories.new_case(session, world, rules, now)
    factories.act(session, world, rules, case, "operator", "register", now)
    factories.act(session, world, rules, case, "dispatcher", "escalate", now, note="跨街道，需区级协调")
    session.commit()
    street = offered(pages("dispatcher"), case.number)
    assert not {"dispatch", "dispatch_joint", "send_back"} & set(street)
    assert {"dispatch", "dispatch_joint", "send_back"} <= set(
        offered(pages("district_dispatcher"), case.number)
    )
