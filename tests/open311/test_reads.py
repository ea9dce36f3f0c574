"""The read side of Open311: discovery, services, service definitions, service requests
(filters, defaults and limits, the public view), tokens; JSON and XML."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from civicgrid.services.cases import CentreRules
from civicgrid.store.models import Case
from tests.factories import World, act, new_case
from tests.open311.conftest import V2
from tests.open311.test_report import errors_of


def xml_of(reply: Any, root: str) -> ET.Element:
    assert reply.status_code == 200, reply.text
    assert reply.headers["content-type"] == "text/xml; charset=utf-8"
    assert reply.text.startswith('<?xml version="1.0" encoding="utf-8"?>\n')
    element = ET.fromstring(reply.content)
    assert element.tag == root
    return element


def test_discovery_names_the_v2_endpoint_and_its_formats(client: TestClient) -> None:
    body = client.get("/open311/discovery.json").json()
    [endpoint] = body["endpoints"]
    assert endpoint["url"] == "http://testserver/open311/v2"
    assert endpoint["formats"] == ["text/xml", "application/json"]
    assert endpoint["specification"] == "http://wiki.open311.org/GeoReport_v2"
    root = xml_of(client.get("/open311/discovery.xml"), "discovery")
    assert [f.text for f in root.iterfind("endpoints/endpoint/formats/format")] == [
        "text/xml",
        "application/json",
    ]
    assert "unknown format" in errors_of(client.get("/open311/discovery.html"), 404)


def test_services_are_the_active_small_classes_grouped_by_big_class(
    client: TestClient, session: Session
) -> None:
    services = client.get(f"{V2}/services.json").json()
    by_code = {s["service_code"]: s for s in services}
    assert "C01" not in by_code and len(services) == 66
    assert by_code["C0101"] == {
        "service_code": "C0101",
        "service_name": "上水井盖",
        "description": "部件·公用设施·上水井盖",
        "metadata": True,
        "type": "realtime",
        "keywords": "上水井盖,公用设施,部件",
        "group": "公用设施",
    }
    assert by_code["E0105"]["metadata"] is False
    root = xml_of(client.get(f"{V2}/services.xml?jurisdiction_id=civicgrid.local"), "services")
    first = root.find("service")
    assert first is not None
    assert [child.tag for child in first] == list(services[0])
    assert root.findtext("service/metadata") == "true"
    assert "jurisdiction_id 'x.org'" in errors_of(
        client.get(f"{V2}/services.json?jurisdiction_id=x.org"), 404
    )
    assert "unknown query parameter" in errors_of(client.get(f"{V2}/services.xml?colour=red"), 400)


def test_a_service_definition_lists_its_questions_in_order(client: TestClient) -> None:
    definition = client.get(f"{V2}/services/C0108.json").json()
    assert definition["service_code"] == "C0108"
    assert [a["code"] for a in definition["attributes"]] == ["lamp_number", "fault"]
    lamp, fault = definition["attributes"]
    assert lamp == {
        "variable": True,
        "code": "lamp_number",
        "datatype": "string",
        "required": False,
        "datatype_description": "单行文字",
        "order": 1,
        "description": "灯杆编号（灯杆上的喷码）",
    }
    assert fault["datatype"] == "multivaluelist" and fault["required"] is True
    assert fault["values"][0] == {"key": "dark", "name": "不亮"}
    root = xml_of(client.get(f"{V2}/services/C0108.xml"), "service_definition")
    assert root.findtext("service_code") == "C0108"
    assert [v.findtext("key") for v in root.iterfind("attributes/attribute/values/value")] == [
        "dark",
        "flicker",
        "daytime",
        "leaning",
    ]
    assert client.get(f"{V2}/services/E0105.json").json() == {"service_code": "E0105", "attributes": []}
    assert "service_code 'Z1'" in errors_of(client.get(f"{V2}/services/Z1.xml"), 404)
    assert "unknown format" in errors_of(client.get(f"{V2}/services/C0108.csv"), 404)


@pytest.fixture
def cases(
    session: Session, world: World, rules: CentreRules, now: datetime, client: TestClient
) -> dict[str, Case]:
    """An open case dispatched with an internal and a public note, a closed one, one of
    another class, and one reported 100 days ago."""
    dispatched = new_case(session, world, rules, now, description="井盖缺失")
    act(
        session,
        world,
        rules,
        dispatched,
        "operator",
        "register",
        now,
        note="内部：张三电话核实",
        note_is_public=False,
    )
    act(
        session,
        world,
        rules,
        dispatched,
        "dispatcher",
        "dispatch",
        now,
        department_code="D-SZ-E",
        note="已派市政所处置",
        note_is_public=True,
    )
    act(session, world, rules, dispatched, "dispatcher", "comment", now, note="内部备注：催办")
    closed = new_case(session, world, rules, now - timedelta(days=2))
    act(
        session,
        world,
        rules,
        closed,
        "operator",
        "void",
        now - timedelta(days=1),
        note="重复上报",
        note_is_public=True,
    )
    lamp = new_case(session, world, rules, now - timedelta(days=3), category="C0108")
    old = new_case(session, world, rules, now - timedelta(days=100))
    session.commit()
    return {"dispatched": dispatched, "closed": closed, "lamp": lamp, "old": old}


def numbers(reply: Any) -> list[str]:
    assert reply.status_code == 200, reply.text
    return [r["service_request_id"] for r in reply.json()]


def test_a_service_request_is_the_public_view_of_its_case(client: TestClient, cases: dict[str, Case]) -> None:
    case = cases["dispatched"]
    [request] = client.get(f"{V2}/requests/{case.number}.json").json()
    assert request["service_request_id"] == case.number
    assert request["status"] == "open"
    assert request["status_notes"] == "已派市政所处置"
    assert request["agency_responsible"] == "东湖市政所"
    assert request["service_code"] == "C0101" and request["service_name"] == "上水井盖"
    assert request["requested_datetime"] == "2026-09-30T10:00:00+08:00"
    assert request["updated_datetime"] == "2026-09-30T10:00:00+08:00"
    assert request["expected_datetime"] is not None and request["expected_datetime"].endswith("+08:00")
    assert (request["lat"], request["long"]) == (30.005, 120.005)
    assert "extended_attributes" not in request
    text = client.get(f"{V2}/requests/{case.number}.json").text
    assert "内部" not in text and "dispatcher" not in text and "张三" not in text
    root = xml_of(client.get(f"{V2}/requests/{case.number}.xml"), "service_requests")
    assert len(root) == 1 and root.findtext("request/status_notes") == "已派市政所处置"
    assert root.findtext("request/address_id") == ""  # present, empty: the spec shows every field
    assert "service_request_id 'JD-0'" in errors_of(client.get(f"{V2}/requests/JD-0.json"), 404)


def test_extensions_add_the_chinese_state_the_channel_and_the_light(
    client: TestClient, cases: dict[str, Case]
) -> None:
    [request] = client.get(f"{V2}/requests/{cases['dispatched'].number}.json?extensions=true").json()
    assert request["extended_attributes"] == {
        "state": "dispatched",
        "state_label": "派遣",
        "channel": "hotline_12345",
        "channel_label": "12345热线",
        "light": "green",
        "light_label": "绿灯(正常)",
    }
    [closed] = client.get(f"{V2}/requests/{cases['closed'].number}.json?extensions=true").json()
    assert closed["status"] == "closed" and closed["status_notes"] == "重复上报"
    assert (
        closed["extended_attributes"]["state_label"] == "作废"
        and closed["extended_attributes"]["light"] is None
    )
    assert closed["expected_datetime"] is None


def test_requests_default_to_the_last_90_days_newest_first(
    client: TestClient, cases: dict[str, Case]
) -> None:
    recent = [cases[k].number for k in ("dispatched", "closed", "lamp")]
    assert numbers(client.get(f"{V2}/requests.json")) == recent
    root = xml_of(client.get(f"{V2}/requests.xml"), "service_requests")
    assert [r.findtext("service_request_id") for r in root] == recent


def test_requests_filter_by_status_service_dates_and_ids(client: TestClient, cases: dict[str, Case]) -> None:
    n = {k: c.number for k, c in cases.items()}
    assert numbers(client.get(f"{V2}/requests.json?status=open")) == [n["dispatched"], n["lamp"]]
    assert numbers(client.get(f"{V2}/requests.json?status=closed")) == [n["closed"]]
    assert numbers(client.get(f"{V2}/requests.json?status=open,closed&service_code=C0108,E0101")) == [
        n["lamp"]
    ]
    window = "start_date=2026-06-01T00:00:00%2B08:00&end_date=2026-08-01T00:00:00Z"
    assert numbers(client.get(f"{V2}/requests.json?{window}")) == [n["old"]]
    assert numbers(client.get(f"{V2}/requests.json?start_date=2026-06-20T00:00:00Z")) == [n["old"]]
    assert numbers(client.get(f"{V2}/requests.json?end_date=2026-07-01T00:00:00Z")) == [n["old"]]
    ids = f"{n['old']},{n['lamp']},JD-NONE"
    assert numbers(client.get(f"{V2}/requests.json?service_request_id={ids}&status=closed")) == [
        n["lamp"],
        n["old"],
    ]


@pytest.mark.parametrize(
    ("query", "reason"),
    [
        ("start_date=2026-01-01T00:00:00Z&end_date=2026-06-01T00:00:00Z", "more than 90 days"),
        ("start_date=2026-06-01T00:00:00Z&end_date=2026-01-01T00:00:00Z", "before start_date"),
        ("start_date=2026-06-01", "W3C time with its zone"),
        ("start_date=yesterday", "W3C time with its zone"),
        ("status=pending", "status is open or closed"),
        ("service_request_id=" + ",".join(["x"] * 1001), "at most 1000"),
    ],
)
def test_bad_filters_are_a_400(client: TestClient, query: str, reason: str) -> None:
    assert reason in errors_of(client.get(f"{V2}/requests.xml?{query}"), 400)


def test_at_most_1000_requests_are_listed(
    client: TestClient,
    session: Session,
    world: World,
    rules: CentreRules,
    now: datetime,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from civicgrid.open311 import routes

    monkeypatch.setattr(routes, "MAX_REQUESTS", 2)
    made = [new_case(session, world, rules, now - timedelta(minutes=m)).number for m in range(3)]
    session.commit()
    assert numbers(client.get(f"{V2}/requests.json")) == made[:2]


def test_a_token_that_is_not_ours_is_a_404(client: TestClient, cases: dict[str, Case]) -> None:
    assert "token 'abc'" in errors_of(client.get(f"{V2}/tokens/abc.json"), 404)
    assert "token 'o311-none'" in errors_of(client.get(f"{V2}/tokens/o311-none.xml"), 404)


def test_reads_need_no_key_but_accept_one(client: TestClient, key: str, cases: dict[str, Case]) -> None:
    assert client.get(f"{V2}/services.json?api_key={key}").status_code == 200
    assert client.get(f"{V2}/requests.json?api_key=anything").status_code == 200


def test_a_busy_database_answers_503_in_the_specs_body(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    from sqlalchemy.exc import OperationalError

    from civicgrid.store import public_cases

    def busy(*_args: Any, **_kwargs: Any) -> Callable[..., Any]:
        raise OperationalError("SELECT", {}, Exception("database is locked"))

    monkeypatch.setattr(public_cases, "active_services", busy)
    reply = client.get(f"{V2}/services.xml")
    assert "database is busy" in errors_of(reply, 503)
    assert reply.headers["Retry-After"] == "1"
