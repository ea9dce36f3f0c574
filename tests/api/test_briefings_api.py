"""The briefings API: a briefing made on demand is a file whose figures are the statistics
API's; bad requests are refused with the reason and store nothing; schedules are the admins';
stored briefings are listed and downloaded within one's scope."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from io import BytesIO
from urllib.parse import unquote

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from openpyxl import load_workbook
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from civicgrid.briefings.content import BriefingRequest, Masthead, assemble
from civicgrid.domain.briefings import BriefingFormat, BriefingKind
from civicgrid.evaluation_file import default_scheme_path, load_scheme
from civicgrid.services import briefings as service
from civicgrid.services.cases import CentreRules
from civicgrid.store.models import Briefing, BriefingSchedule, Case
from tests.api.helpers import Headers
from tests.factories import World
from tests.statistics_history import SH, at, build_history

LATER = at(11, 15, 12)
OCTOBER = "date=2026-10-15&region=T0101"
COUNTS = ["reported", "registered", "closed", "closed_on_time", "overdue", "due_closure"]


@pytest.fixture
def history(session: Session, world: World, rules: CentreRules) -> dict[str, Case]:
    return build_history(session, world, rules)


@pytest.fixture
def signed_in(
    history: dict[str, Case],
    client: TestClient,
    login: Callable[[str], Headers],
    clock: Callable[[datetime], None],
) -> Callable[[str], Headers]:
    clock(LATER)
    return login


def test_the_workbook_holds_the_statistics_apis_figures(
    client: TestClient, signed_in: Callable[[str], Headers]
) -> None:
    headers = signed_in("leader")
    reply = client.get(f"/api/v1/briefings/monthly?{OCTOBER}&format=xlsx", headers=headers)
    assert reply.status_code == 200, reply.text
    assert (
        reply.headers["content-type"] == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    )
    disposition = reply.headers["content-disposition"]
    assert disposition.startswith("attachment;") and unquote(disposition).endswith(
        "东湖街道-月报-2026年10月.xlsx"
    )
    workbook = load_workbook(BytesIO(reply.content))
    table = client.get(
        f"/api/v1/statistics/table?period=month&{OCTOBER}&indicators={','.join(COUNTS)}", headers=headers
    ).json()
    counts = workbook["主要数量指标"]
    assert [counts.cell(row, 2).value for row in range(2, 8)] == [
        table["total"]["values"][k]["value"] for k in COUNTS
    ]
    rates = client.get(
        f"/api/v1/statistics/table?period=month&{OCTOBER}&indicators=closure_rate,satisfaction_rate",
        headers=headers,
    ).json()["total"]["values"]
    sheet = workbook["主要比率指标"]
    assert sheet["B2"].value == pytest.approx(rates["closure_rate"]["value"])
    assert sheet["B5"].value == pytest.approx(rates["satisfaction_rate"]["value"])
    ranking = client.get(
        f"/api/v1/statistics/evaluation/department?period=month&{OCTOBER}", headers=headers
    ).json()
    departments = workbook["部门考核排名"]
    assert [
        [departments.cell(row, column).value for column in (1, 2, 3, 4)]
        for row in range(2, 2 + len(ranking["rows"]))
    ] == [[row["rank"], row["group"]["label"], row["value"], row["grade"]] for row in ranking["rows"]]
    channels = client.get(
        f"/api/v1/statistics/table?period=month&{OCTOBER}&group_by=channel&indicators=reported",
        headers=headers,
    ).json()
    sheet = workbook["受理渠道"]
    assert (sheet["A2"].value, sheet["B2"].value) == (
        channels["rows"][0]["group"]["label"],
        channels["rows"][0]["values"]["reported"]["value"],
    )


def test_pdf_and_html_on_demand(client: TestClient, signed_in: Callable[[str], Headers]) -> None:
    reply = client.get(
        f"/api/v1/briefings/weekly?{OCTOBER}&format=pdf&title=东湖街道工作周报", headers=signed_in("operator")
    )
    assert reply.status_code == 200 and reply.headers["content-type"] == "application/pdf"
    assert reply.content.startswith(b"%PDF-") and reply.headers["x-content-type-options"] == "nosniff"
    page = client.get(f"/api/v1/briefings/daily?{OCTOBER}&format=html", headers=signed_in("operator"))
    assert page.headers["content-type"] == "text/html; charset=utf-8"
    assert "东湖街道日报" in page.text and "2026年10月15日（星期四）" in page.text


@pytest.mark.parametrize(
    ("who", "query", "status", "words"),
    [
        ("leader", "monthly?region=T99", 422, "unknown region code 'T99'"),
        ("operator", "monthly?region=T0102", 403, "outside your scope"),
        ("leader", "monthly?date=2026-11-16", 422, "future"),
        ("leader", "monthly?date=2026-02-30", 422, "date"),
        ("leader", "monthly?format=doc", 422, "format"),
        ("leader", "yearly", 422, "kind"),
        ("leader", "monthly?scope=all", 422, "unknown query parameter"),
        ("citizen", "monthly", 403, "staff"),
    ],
)
def test_a_bad_request_is_refused_with_the_reason_and_nothing_is_stored(
    client: TestClient,
    signed_in: Callable[[str], Headers],
    session: Session,
    who: str,
    query: str,
    status: int,
    words: str,
) -> None:
    reply = client.get(f"/api/v1/briefings/{query}", headers=signed_in(who))
    assert reply.status_code == status, reply.text
    body = reply.json()
    assert words in str(body["detail"]) and body["request_id"]
    assert session.scalar(select(func.count()).select_from(Briefing)) == 0


def test_admins_manage_the_schedules_of_their_subtree(
    client: TestClient, signed_in: Callable[[str], Headers], session: Session
) -> None:
    admin = signed_in("admin_east")
    body = {
        "kind": "monthly",
        "region_code": "T0101",
        "formats": ["pdf", "xlsx"],
        "title": "东湖街道工作月报",
    }
    made = client.post("/api/v1/briefings/schedules", json=body, headers=admin)
    assert made.status_code == 201, made.text
    schedule = made.json()
    assert schedule | {"id": 0, "created_at": ""} == {
        "id": 0,
        "kind": "monthly",
        "kind_label": "月报",
        "region_code": "T0101",
        "region_name": "东湖街道",
        "formats": ["pdf", "xlsx"],
        "title": "东湖街道工作月报",
        "hour": 8,
        "is_active": True,
        "created_at": "",
        "created_by": "admin_east",
    }
    path = f"/api/v1/briefings/schedules/{schedule['id']}"
    changed = client.patch(
        path, json={"title": None, "hour": 7, "is_active": False, "formats": ["html"]}, headers=admin
    )
    assert changed.status_code == 200, changed.text
    assert (changed.json()["title"], changed.json()["hour"], changed.json()["formats"]) == (None, 7, ["html"])
    kept = client.patch(path, json={"hour": None, "formats": None, "is_active": None}, headers=admin).json()
    assert (kept["hour"], kept["formats"], kept["is_active"]) == (7, ["html"], False)
    assert [row["id"] for row in client.get("/api/v1/briefings/schedules", headers=admin).json()] == [
        schedule["id"]
    ]
    assert client.get("/api/v1/briefings/schedules", headers=signed_in("admin_west")).json() == []
    assert client.patch(path, json={"hour": 9}, headers=signed_in("admin_west")).status_code == 404
    for wrong in (
        {**body, "hour": 24},
        {**body, "formats": ["pdf", "pdf"]},
        {**body, "formats": []},
        {**body, "kind": "yearly"},
        {**body, "region_code": "T99"},
        {**body, "every": "day"},
    ):
        assert client.post("/api/v1/briefings/schedules", json=wrong, headers=admin).status_code == 422, wrong
    assert (
        client.post(
            "/api/v1/briefings/schedules", json={**body, "region_code": "T0102"}, headers=admin
        ).status_code
        == 403
    )
    assert (
        client.post("/api/v1/briefings/schedules", json=body, headers=signed_in("leader")).status_code == 403
    )
    assert client.delete(path, headers=admin).status_code == 204
    assert client.delete(path, headers=admin).status_code == 404
    assert session.scalar(select(func.count()).select_from(BriefingSchedule)) == 0


def test_stored_briefings_are_listed_and_downloaded_within_ones_scope(
    client: TestClient, signed_in: Callable[[str], Headers], session: Session, world: World, app: FastAPI
) -> None:
    scheme = load_scheme(default_scheme_path())
    stored = {}
    for code, kind, day in (
        ("T0101", BriefingKind.MONTHLY, 15),
        ("T0101", BriefingKind.DAILY, 9),
        ("T0102", BriefingKind.DAILY, 9),
    ):
        schedule = BriefingSchedule(kind=kind, region=world.regions["east" if code == "T0101" else "west"],
                                    formats=["xlsx", "html"], hour=8, is_active=True, created_at=at(9, 1, 0))  # fmt: skip
        session.add(schedule)
        session.flush()
        reader = service.system_reader(schedule.region)
        briefing = assemble(session, reader, BriefingRequest(kind, at(10, day, 0).date(), code), LATER,
                            zone=SH, scheme=scheme, masthead=Masthead("工作简报"))  # fmt: skip
        documents = service.draw(briefing, [BriefingFormat.XLSX, BriefingFormat.HTML])
        kept, _ = service.keep_files(app.state.file_store, documents)
        row = service.record(session, schedule, briefing, documents, kept, LATER)
        stored[(code, kind)] = (row.id, documents)
    session.commit()
    east_monthly, documents = stored[("T0101", BriefingKind.MONTHLY)]
    operator = signed_in("operator")
    listed = client.get("/api/v1/briefings", headers=operator).json()
    assert [item["id"] for item in listed["items"]] == [
        stored[("T0101", BriefingKind.DAILY)][0],
        east_monthly,
    ]
    first = listed["items"][1]
    assert (first["kind_label"], first["period_label"], first["region_name"]) == (
        "月报",
        "2026年10月",
        "东湖街道",
    )
    assert [f["url"] for f in first["files"]] == [
        f"/api/v1/briefings/stored/{east_monthly}/xlsx",
        f"/api/v1/briefings/stored/{east_monthly}/html",
    ]
    page = client.get("/api/v1/briefings?limit=1", headers=signed_in("leader")).json()
    assert len(page["items"]) == 1 and page["next_before_id"] == page["items"][0]["id"]
    rest = client.get(
        f"/api/v1/briefings?limit=5&before_id={page['next_before_id']}", headers=signed_in("leader")
    )
    assert len(rest.json()["items"]) == 2 and rest.json()["next_before_id"] is None
    assert len(client.get("/api/v1/briefings?kind=monthly", headers=operator).json()["items"]) == 1
    assert len(client.get("/api/v1/briefings?region=T0102", headers=signed_in("leader")).json()["items"]) == 1
    assert client.get("/api/v1/briefings?region=T0102", headers=operator).status_code == 403
    download = client.get(f"/api/v1/briefings/stored/{east_monthly}/xlsx", headers=operator)
    assert download.status_code == 200 and download.content == documents[0].data
    assert "spreadsheetml" in download.headers["content-type"]
    assert unquote(download.headers["content-disposition"]).endswith("东湖街道-月报-2026年10月.xlsx")
    missing = client.get(f"/api/v1/briefings/stored/{east_monthly}/pdf", headers=operator)
    assert missing.status_code == 404 and "made as: xlsx, html" in missing.json()["detail"]
    west = stored[("T0102", BriefingKind.DAILY)][0]
    assert client.get(f"/api/v1/briefings/stored/{west}/xlsx", headers=operator).status_code == 404
    app.state.file_store.remove(stored_sha256(session, east_monthly, "html"))
    gone = client.get(f"/api/v1/briefings/stored/{east_monthly}/html", headers=operator)
    assert gone.status_code == 404 and "missing from the file store" in gone.json()["detail"]


def stored_sha256(session: Session, briefing_id: int, file_format: str) -> str:
    briefing = session.get(Briefing, briefing_id)
    assert briefing is not None
    return next(file.sha256 for file in briefing.files if file.format.value == file_format)
