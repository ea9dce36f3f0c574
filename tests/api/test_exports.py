"""Exports over the API: the case list (the list's filters and scope), the cases behind a
figure, a statistics table and an evaluation, as CSV (UTF-8 with BOM) and xlsx, streamed,
named in Chinese; the case list read in keyset batches; bad requests refused."""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator, Sequence
from datetime import datetime
from typing import Any

import openpyxl
import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from civicgrid.domain.vocabulary import Role
from civicgrid.exports.tables import CASE_COLUMNS
from civicgrid.services.cases import CentreRules
from civicgrid.store import cases as case_queries
from tests.api.helpers import Headers, assert_error
from tests.factories import World, user
from tests.statistics_history import at, build_history

OCTOBER = {"period": "month", "date": "2026-10-15"}
HEADERS = [column.header for column in CASE_COLUMNS]


@pytest.fixture
def history(session: Session, world: World, rules: CentreRules, client: TestClient, clock: Any) -> None:
    """The October history stored, the API's clock at 15 November 2026, 12:00."""
    build_history(session, world, rules)
    user(session, "leader_east", Role.LEADER, region=world.regions["east"])
    session.commit()
    clock(at(11, 15, 12))


def listed(client: TestClient, headers: Headers, **params: Any) -> list[str]:
    reply = client.get("/api/v1/cases", params={**params, "page_size": 200}, headers=headers)
    assert reply.status_code == 200, reply.text
    return [item["number"] for item in reply.json()["items"]]


def csv_rows(reply: Any) -> list[list[str]]:
    import csv

    assert reply.status_code == 200, reply.text
    assert reply.content.startswith(b"\xef\xbb\xbf"), "a BOM, so that Excel reads UTF-8"
    return list(csv.reader(io.StringIO(reply.content.decode("utf-8-sig"))))


def test_the_case_list_as_csv_has_every_listed_case_in_order(
    client: TestClient, history: None, login: Callable[[str], Headers]
) -> None:
    leader = login("leader")
    reply = client.get("/api/v1/cases/export", params={"format": "csv"}, headers=leader)
    assert reply.headers["content-type"] == "text/csv; charset=utf-8"
    disposition = reply.headers["content-disposition"]
    assert disposition.startswith('attachment; filename="cases-20261115-1200.csv"; ')
    assert "filename*=UTF-8''%E6%A1%88%E4%BB%B6%E5%88%97%E8%A1%A8-20261115-1200.csv" in disposition
    rows = csv_rows(reply)
    assert rows[0] == HEADERS
    assert [row[0] for row in rows[1:]] == listed(client, leader)
    row = dict(zip(HEADERS, rows[-1], strict=True))  # the oldest: the holiday case, revisited
    assert row["小类"] == "上水井盖" and row["街道/镇"] == "东湖街道" and row["责任部门"] == "东湖市政所"
    assert row["上报时间"] == "2026-09-30 16:00:00" and row["状态"] == "回访"


def test_the_export_takes_the_lists_filters_and_the_users_scope(
    client: TestClient, history: None, login: Callable[[str], Headers]
) -> None:
    for who, params in (
        ("supervisor", {"state": "closed"}),
        ("supervisor", {}),
        ("leader", {"region_code": "T0102"}),
        ("handler_cg", {}),
        ("leader_east", {}),
    ):
        headers = login(who)
        rows = csv_rows(
            client.get("/api/v1/cases/export", params={**params, "format": "csv"}, headers=headers)
        )
        assert [row[0] for row in rows[1:]] == listed(client, headers, **params), (who, params)
    for street_staff in ("supervisor", "leader_east"):
        export = client.get("/api/v1/cases/export?format=csv", headers=login(street_staff))
        assert {row[11] for row in csv_rows(export)[1:]} == {"东湖街道"}, street_staff
    table = {**OCTOBER, "group_by": "street", "indicators": "registered", "format": "csv"}
    rows = csv_rows(client.get("/api/v1/statistics/table/export", params=table, headers=login("leader_east")))
    assert [row[:2] for row in rows[1:]] == [["T0101", "东湖街道"], ["", "合计"]]


def test_the_case_list_as_xlsx(client: TestClient, history: None, login: Callable[[str], Headers]) -> None:
    leader = login("leader")
    reply = client.get("/api/v1/cases/export", params={"format": "xlsx"}, headers=leader)
    assert reply.status_code == 200, reply.text
    assert (
        reply.headers["content-type"] == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    )
    assert 'filename="cases-20261115-1200.xlsx"' in reply.headers["content-disposition"]
    book = openpyxl.load_workbook(io.BytesIO(reply.content), read_only=True)
    sheet = book["案件"]
    rows = [list(row) for row in sheet.iter_rows(values_only=True)]
    assert rows[0] == HEADERS
    assert [row[0] for row in rows[1:]] == listed(client, leader)
    oldest = dict(zip(HEADERS, rows[-1], strict=True))
    assert oldest["上报时间"] == datetime(2026, 9, 30, 16, 0)  # a date cell, in Shanghai time
    assert isinstance(oldest["经度"], float) and oldest["返工次数"] == 0
    book.close()


def test_the_case_list_is_read_in_keyset_batches(
    client: TestClient, history: None, login: Callable[[str], Headers], monkeypatch: pytest.MonkeyPatch
) -> None:
    sizes: list[int] = []
    batches = case_queries.in_batches

    def watched(*args: Any, **kwargs: Any) -> Iterator[Sequence[Any]]:
        for batch in batches(*args, **kwargs):
            sizes.append(len(batch))
            yield batch

    monkeypatch.setattr(case_queries, "EXPORT_BATCH", 3)
    monkeypatch.setattr(case_queries, "in_batches", watched)
    leader = login("leader")
    rows = csv_rows(client.get("/api/v1/cases/export", params={"format": "csv"}, headers=leader))
    expected = listed(client, leader)
    assert [row[0] for row in rows[1:]] == expected and len(expected) > 6
    assert max(sizes) == 3 and sum(sizes) == len(expected), sizes


@pytest.mark.parametrize(
    ("path", "params", "status", "error", "where"),
    [
        ("/api/v1/cases/export", {"format": "pdf"}, 422, "invalid_request", "format"),
        ("/api/v1/cases/export", {}, 422, "invalid_request", "format"),
        ("/api/v1/cases/export", {"format": "csv", "region_code": "NOWHERE"}, 422, "invalid", "NOWHERE"),
        ("/api/v1/cases/export", {"format": "csv", "page_size": "5"}, 422, "invalid_request", "page_size"),
        ("/api/v1/statistics/table/export", {**OCTOBER, "format": "ods"}, 422, "invalid_request", "format"),
        ("/api/v1/statistics/table/export", {**OCTOBER, "format": "csv", "region": "T0102"}, 403, "forbidden", "outside your scope"),
        ("/api/v1/statistics/table/export", {"format": "csv"}, 422, "invalid", "say which period"),
        ("/api/v1/statistics/evaluation/parks/export", {**OCTOBER, "format": "csv"}, 422, "invalid_request", "target"),
    ],
)  # fmt: skip
def test_bad_exports_are_refused_before_any_byte(
    client: TestClient,
    history: None,
    login: Callable[[str], Headers],
    path: str,
    params: dict[str, str],
    status: int,
    error: str,
    where: str,
) -> None:
    reply = client.get(path, params=params, headers=login("supervisor"))
    assert_error(reply, status, error)
    assert where in reply.text


def test_a_statistics_table_with_each_rate_and_its_parts(
    client: TestClient, history: None, login: Callable[[str], Headers]
) -> None:
    leader = login("leader")
    params = {**OCTOBER, "group_by": "street", "indicators": "closed,closure_rate"}
    rows = csv_rows(
        client.get("/api/v1/statistics/table/export", params={**params, "format": "csv"}, headers=leader)
    )
    assert rows == [
        ["编码", "街道/镇", "结案数", "结案率", "结案率·分子(结案数)", "结案率·分母(应结案数)"],
        ["T0101", "东湖街道", "6", "85.71%", "6", "7"],
        ["T0102", "西山街道", "0", "0.00%", "0", "1"],
        ["", "合计", "6", "75.00%", "6", "8"],
    ]
    reply = client.get("/api/v1/statistics/table/export", params={**params, "format": "xlsx"}, headers=leader)
    assert "filename*=UTF-8''" in reply.headers["content-disposition"]
    sheet = openpyxl.load_workbook(io.BytesIO(reply.content))["2026年10月"]
    assert [cell.value for cell in sheet[2]] == ["T0101", "东湖街道", 6, 6 / 7, 6, 7]
    assert sheet["D2"].number_format == "0.00%"


def test_the_cases_behind_a_figure_and_an_evaluation(
    client: TestClient, history: None, login: Callable[[str], Headers]
) -> None:
    leader = login("leader")
    behind = {
        **OCTOBER,
        "group_by": "street",
        "indicator": "closure_rate",
        "part": "denominator",
        "group": "T0101",
    }
    rows = csv_rows(
        client.get("/api/v1/statistics/cases/export", params={**behind, "format": "csv"}, headers=leader)
    )
    page = client.get("/api/v1/statistics/cases", params={**behind, "page_size": 50}, headers=leader).json()
    assert [row[0] for row in rows[1:]] == [item["number"] for item in page["items"]] and len(rows) == 8
    reply = client.get(
        "/api/v1/statistics/evaluation/department/export",
        params={**OCTOBER, "format": "xlsx"},
        headers=leader,
    )
    assert reply.status_code == 200, reply.text
    assert 'filename="evaluation-department-20261001.xlsx"' in reply.headers["content-disposition"]
    sheet = openpyxl.load_workbook(io.BytesIO(reply.content)).active
    assert sheet is not None
    header, first = ([cell.value for cell in row] for row in sheet.iter_rows(max_row=2))
    assert header[:6] == ["排名", "编码", "名称", "综合指标值", "等级", "立案数·指标值"]
    assert first[:5] == [1, "D-SZ-E", "东湖市政所", 82.14, "B"]
