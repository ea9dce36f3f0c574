"""The territory through the API: import (JSON body, multipart GeoJSON or Shapefile, check,
repair), export, and the management of regions and grids."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from civicgrid.api.app import create_app
from civicgrid.geo.territory_file import read_territory, write_shapefile_zip
from civicgrid.settings import Settings
from civicgrid.store.models import Case, Grid
from tests.api.helpers import CASE, Headers, assert_error
from tests.geo.territory_data import box, encoded, malformed_files, small_territory, spoiled
from tests.store.test_territory_service import snapshot

Login = Callable[[str], Headers]
IMPORT = "/api/v1/territory/import"


def test_an_admin_imports_a_geojson_body(client: TestClient, login: Login) -> None:
    checked = client.post(f"{IMPORT}?check=true", json=small_territory(), headers=login("admin"))
    assert checked.status_code == 200, checked.text
    assert checked.json()["written"] is False and checked.json()["grids"]["added"] == 5
    assert "990201001001-01" not in {
        g["code"] for g in client.get("/api/v1/grids", headers=login("admin")).json()
    }
    reply = client.post(IMPORT, json=small_territory(), headers=login("admin"))
    assert reply.status_code == 200, reply.text
    report = reply.json()
    assert report["written"] is True and report["regions"]["added"] == 4 and report["errors"] == []
    codes = {g["code"] for g in client.get("/api/v1/grids", headers=login("admin")).json()}
    assert codes == {f["properties"]["code"] for f in small_territory()["features"][4:]}


def test_a_file_uploads_as_multipart_geojson_or_shapefile(client: TestClient, login: Login) -> None:
    data = encoded(small_territory())
    reply = client.post(
        f"{IMPORT}?check=true",
        files={"file": ("t.geojson", data, "application/geo+json")},
        headers=login("admin"),
    )
    assert reply.status_code == 200, reply.text
    zipped = write_shapefile_zip(read_territory(data, "t.geojson", 10**8))
    reply = client.post(IMPORT, files={"file": ("t.zip", zipped, "application/zip")}, headers=login("admin"))
    assert reply.status_code == 200 and reply.json()["grids"]["added"] == 5


def test_a_refused_file_is_a_422_with_the_report_and_changes_nothing(
    client: TestClient, login: Login, session: Session
) -> None:
    before = snapshot(session)
    reply = client.post(
        IMPORT, json=spoiled(5, geometry=box(121.409, 31.20, 121.42, 31.22)), headers=login("admin")
    )
    body = assert_error(reply, 422, "territory_refused")
    (error,) = body["detail"]["errors"]
    assert (error["index"], error["code"]) == (5, "990201001001-02") and error["area_m2"] > 1000
    assert snapshot(session) == before
    repaired = client.post(
        f"{IMPORT}?repair=true",
        json=spoiled(5, geometry=box(121.409, 31.20, 121.42, 31.22)),
        headers=login("admin"),
    )
    assert repaired.status_code == 200, repaired.text
    assert [r["code"] for r in repaired.json()["repairs"]] == ["990201001001-01"]


@pytest.mark.parametrize(
    ("send", "expected"),
    [
        ({"content": encoded(small_territory())[:300]}, "body.geojson: not valid JSON"),
        (
            {"files": {"file": ("t.zip", b"PK\x03\x04broken", "application/zip")}},
            "t.zip: the file is not a valid zip",
        ),
        ({"files": {"other": ("t.geojson", b"{}", "application/json")}}, "the multipart field 'file'"),
        (
            {"data": {"file": "just text"}, "files": {"note": ("a.txt", b"", "text/plain")}},
            "the multipart field 'file'",
        ),
        (
            {
                "files": [
                    ("file", ("a.geojson", b"{}", "application/json")),
                    ("file", ("b.geojson", b"{}", "x/y")),
                ]
            },
            "the multipart body cannot be read: Too many files",
        ),
    ],
    ids=["truncated", "broken-zip", "no-file-field", "file-as-text", "two-files"],
)
def test_a_malformed_upload_is_a_422_naming_the_fault(
    client: TestClient, login: Login, session: Session, send: dict[str, object], expected: str
) -> None:
    before = snapshot(session)
    reply = client.post(IMPORT, headers=login("admin"), **send)  # type: ignore[arg-type]
    assert expected in assert_error(reply, 422, "invalid")["detail"]
    assert snapshot(session) == before


@pytest.mark.parametrize("which", list(malformed_files()))
def test_a_malformed_file_uploaded_is_a_422_naming_the_fault(
    client: TestClient, login: Login, session: Session, which: str
) -> None:
    malformed = malformed_files()[which]
    before = snapshot(session)
    reply = client.post(
        IMPORT,
        files={"file": (malformed.name, malformed.data, "application/octet-stream")},
        headers=login("admin"),
    )
    assert malformed.expected in assert_error(reply, 422, "invalid")["detail"]
    assert snapshot(session) == before


def test_only_the_import_takes_bodies_up_to_the_territory_limit(
    settings: Settings, engine: Engine, app: FastAPI, client: TestClient, login: Login
) -> None:
    limited = create_app(
        settings.model_copy(update={"max_body_bytes": 1024, "territory_max_bytes": 8192}), engine
    )
    limited.state.session_factory = app.state.session_factory
    limited.state.read_session_factory = app.state.read_session_factory
    limited.dependency_overrides = app.dependency_overrides  # the API's clock
    with TestClient(limited) as small:
        body = small_territory()
        assert 1024 < len(encoded(body)) < 8192
        assert small.post(f"{IMPORT}?check=true", json=body, headers=login("admin")).status_code == 200
        assert_error(small.post("/api/v1/cases", json=body, headers=login("admin")), 413, "body_too_large")
        big = {**body, "padding": "x" * 9000}
        assert_error(small.post(IMPORT, json=big, headers=login("admin")), 413, "body_too_large")


def test_the_export_reimports_unchanged(client: TestClient, login: Login) -> None:
    exported = client.get("/api/v1/territory/export", headers=login("admin"))
    assert exported.status_code == 200 and exported.headers["content-type"] == "application/geo+json"
    codes = [f["properties"]["code"] for f in exported.json()["features"]]
    assert codes[:6] == ["T01", "T0101", "T0102", "T010101", "T010102", "T010201"]
    zipped = client.get("/api/v1/territory/export?format=shapefile", headers=login("admin"))
    assert zipped.headers["content-type"] == "application/zip"
    for upload in (("t.geojson", exported.content), ("t.zip", zipped.content)):
        report = client.post(f"{IMPORT}?check=true", files={"file": upload}, headers=login("admin")).json()
        assert (report["regions"]["unchanged"], report["grids"]["unchanged"]) == (6, 3)


# --- regions and grids ---------------------------------------------------------------------


def test_an_admin_renames_and_retires_a_region(client: TestClient, login: Login) -> None:
    renamed = client.patch(
        "/api/v1/regions/T010102", json={"name": "东湖新社区"}, headers=login("admin_east")
    )
    assert renamed.status_code == 200 and renamed.json()["name"] == "东湖新社区"
    assert renamed.json()["parent_code"] == "T0101"
    busy = client.post("/api/v1/regions/T010102/retire", headers=login("admin_east"))
    assert "T010102-01 in use" in assert_error(busy, 409, "conflict")["detail"]
    assert client.post("/api/v1/grids/T010102-01/retire", headers=login("admin_east")).json()["retired_at"]
    retired = client.post("/api/v1/regions/T010102/retire", headers=login("admin_east"))
    assert retired.status_code == 200 and retired.json()["retired_at"] is not None
    listed = {r["code"] for r in client.get("/api/v1/regions", headers=login("operator")).json()}
    assert "T010102" not in listed
    everything = client.get("/api/v1/regions?retired=true", headers=login("operator")).json()
    assert "T010102" in {r["code"] for r in everything}
    assert "T010102-01" not in {
        g["code"] for g in client.get("/api/v1/grids", headers=login("operator")).json()
    }
    assert client.get("/api/v1/regions/T010102", headers=login("citizen")).json()["retired_at"] is not None


def test_a_grid_is_renamed_and_given_an_overlay_group(client: TestClient, login: Login) -> None:
    reply = client.patch(
        "/api/v1/grids/T010101-01",
        json={"name": "一号网格", "overlay_group": "public_area"},
        headers=login("admin"),
    )
    assert reply.status_code == 200 and (reply.json()["name"], reply.json()["overlay_group"]) == (
        "一号网格",
        "public_area",
    )
    cleared = client.patch("/api/v1/grids/T010101-01", json={"overlay_group": None}, headers=login("admin"))
    assert cleared.json()["overlay_group"] is None
    assert_error(
        client.patch("/api/v1/grids/T010101-01", json={"name": None}, headers=login("admin")), 422, "invalid"
    )
    assert_error(client.get("/api/v1/grids/nowhere", headers=login("admin")), 404, "not_found")


@pytest.fixture
def open_case(client: TestClient, login: Login) -> Iterator[str]:
    reply = client.post("/api/v1/cases", json=CASE, headers=login("operator"))
    assert reply.status_code == 201, reply.text
    yield reply.json()["number"]


def test_staff_are_assigned_and_see_their_grids_with_open_cases(
    client: TestClient, login: Login, open_case: str
) -> None:
    staff = {"inspectors": ["inspector"], "leader": "supervisor"}
    reply = client.put("/api/v1/grids/T010101-01/staff", json=staff, headers=login("admin_east"))
    assert reply.status_code == 200, reply.text
    assert [(s["username"], s["duty"]) for s in reply.json()["staff"]] == [
        ("inspector", "inspector"),
        ("supervisor", "leader"),
    ]
    assert reply.json()["open_cases"] == 1
    mine = client.get("/api/v1/me/grids", headers=login("inspector")).json()
    assert [(g["code"], g["duty"], g["open_cases"]) for g in mine] == [("T010101-01", "inspector", 1)]
    assert client.get("/api/v1/me/grids", headers=login("dispatcher")).json() == []
    # Counts are scoped: the west street's staff see none of the east's cases.
    counted = client.get("/api/v1/grids?open_cases=true", headers=login("operator_west")).json()
    assert {g["code"]: g["open_cases"] for g in counted}["T010101-01"] == 0
    counted = client.get("/api/v1/grids?open_cases=true", headers=login("operator")).json()
    assert {g["code"]: g["open_cases"] for g in counted} == {
        "T010101-01": 1,
        "T010102-01": 0,
        "T010201-01": 0,
    }
    assert client.get("/api/v1/grids", headers=login("operator")).json()[0]["open_cases"] is None
    # A second inspector, the leader dropped; the inspector serves two grids.
    staff = {"inspectors": ["inspector"], "leader": None}
    assert client.put("/api/v1/grids/T010102-01/staff", json=staff, headers=login("admin")).status_code == 200
    mine = client.get("/api/v1/me/grids", headers=login("inspector")).json()
    assert [g["code"] for g in mine] == ["T010101-01", "T010102-01"]
    detail = client.get("/api/v1/grids/T010101-01", headers=login("leader")).json()
    assert detail["boundary"]["type"] == "Polygon" and len(detail["staff"]) == 2
    staff = {"inspectors": ["inspector"]}
    reply = client.put("/api/v1/grids/T010101-01/staff", json=staff, headers=login("admin"))
    assert [s["username"] for s in reply.json()["staff"]] == ["inspector"]


@pytest.mark.parametrize(
    ("staff", "expected"),
    [
        ({"inspectors": ["dispatcher"]}, "user 'dispatcher' (dispatcher) cannot be the grid's inspector"),
        ({"inspectors": [], "leader": "handler_cg"}, "cannot be the grid's leader"),
        ({"inspectors": ["nobody"]}, "no user 'nobody'"),
        ({"inspectors": ["operator_west"]}, "no user 'operator_west'"),  # not managed by the east's admin
    ],
)
def test_grid_staff_of_the_wrong_role_or_scope_are_refused(
    client: TestClient, login: Login, staff: dict[str, object], expected: str
) -> None:
    reply = client.put("/api/v1/grids/T010101-01/staff", json=staff, headers=login("admin_east"))
    assert expected in assert_error(reply, 422, "invalid")["detail"]


def test_a_retired_grid_takes_no_staff(client: TestClient, login: Login) -> None:
    client.post("/api/v1/grids/T010101-01/retire", headers=login("admin"))
    reply = client.put("/api/v1/grids/T010101-01/staff", json={"inspectors": []}, headers=login("admin"))
    assert_error(reply, 409, "conflict")


def test_a_retired_grid_takes_no_new_cases(client: TestClient, login: Login) -> None:
    assert client.post("/api/v1/grids/T010101-01/retire", headers=login("admin")).status_code == 200
    reply = client.post("/api/v1/cases", json=CASE, headers=login("operator"))
    assert "lies outside the territory" in assert_error(reply, 422, "invalid")["detail"]
    by_code = {**CASE, "lng": None, "lat": None, "grid_code": "T010101-01"}
    reply = client.post("/api/v1/cases", json=by_code, headers=login("operator"))
    assert (
        assert_error(reply, 422, "invalid")["detail"] == "grid T010101-01 is retired and takes no new cases"
    )


def test_a_multipart_upload_streamed_past_the_limit_is_a_413(
    settings: Settings, engine: Engine, app: FastAPI, client: TestClient, login: Login
) -> None:
    limited = create_app(settings.model_copy(update={"territory_max_bytes": 4096}), engine)
    limited.state.session_factory = app.state.session_factory
    limited.state.read_session_factory = app.state.read_session_factory
    limited.dependency_overrides = app.dependency_overrides
    body = (
        b'--b\r\nContent-Disposition: form-data; name="file"; filename="t.geojson"\r\n\r\n'
        + b"x" * 9000
        + b"\r\n--b--\r\n"
    )
    headers = {**login("admin"), "Content-Type": "multipart/form-data; boundary=b"}
    with TestClient(limited) as small:
        reply = small.post(IMPORT, content=iter([body]), headers=headers)
    assert_error(reply, 413, "body_too_large")


def test_cases_land_in_the_grids_of_a_new_import(client: TestClient, login: Login, session: Session) -> None:
    case = {**CASE, "channel": "web"}
    first = client.post("/api/v1/cases", json=case, headers=login("citizen")).json()["number"]
    assert grid_of(session, first) == "T010101-01"
    assert client.post(IMPORT, json=small_territory(), headers=login("admin")).status_code == 200
    # The cached grid index sees the import's new revision mark and is rebuilt.
    inside_school = {**case, "lng": 121.403, "lat": 31.203}
    reply = client.post("/api/v1/cases", json=inside_school, headers=login("citizen"))
    assert reply.status_code == 201, reply.text
    assert grid_of(session, reply.json()["number"]) == "990201001001-D01"
    old_place = client.post("/api/v1/cases", json=case, headers=login("citizen"))
    assert "lies outside the territory" in assert_error(old_place, 422, "invalid")["detail"]


def grid_of(session: Session, number: str) -> str:
    """The grid a case was placed in (the reporting citizen's view leaves grids out)."""
    session.expire_all()
    return str(
        session.scalar(select(Grid.code).join(Case, Case.grid_id == Grid.id).where(Case.number == number))
    )
