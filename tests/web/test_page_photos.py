"""Photos on the pages' forms, the duplicate hint at intake and the small maps, through the
pages on SQLite and PostgreSQL: a photo is stored with its step or nothing is; a refused one
says why in Chinese; the files are served to who may see the case."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from civicgrid import media
from civicgrid.api.app import create_app
from civicgrid.domain.vocabulary import Action, AttachmentPurpose, CaseState, CoordinateSystem
from civicgrid.geo.crs import wgs84_to_gcj02
from civicgrid.services.cases import CentreRules
from civicgrid.settings import Settings
from civicgrid.store.db import make_engine, make_session_factory, session_scope
from civicgrid.store.migrate import upgrade
from civicgrid.store.models import Attachment, Case
from civicgrid.web.maps import case_map, grid_feature, tile_source
from tests import factories
from tests.api.helpers import stored
from tests.api.test_write_lock import lock_is_free
from tests.factories import PASSWORD, World, build_world
from tests.images import noisy_photo, opened, pdf, photo
from tests.web.conftest import csrf_of

Pages = Callable[[str], TestClient]

#: A small upload limit and a small body limit: a page's photos must pass the second.
LIMIT = 200_000
MOST = 3
#: A point of 东湖一社区's grid (the test world's), and one of 西山社区's.
EAST = {"lng": "120.005", "lat": "30.005"}
WEST = {"lng": "120.105", "lat": "30.005"}
INTAKE = {"channel": "hotline_12345", "category_code": "C0101", "title": "东湖路井盖缺失", **EAST}


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(
        environment="test",
        database_url="sqlite://",
        token_hours=720,
        secret_key="test-only-secret-" * 3,
        upload_dir=str(tmp_path / "files"),
        max_upload_bytes=LIMIT,
        max_body_bytes=64 * 1024,
        thumbnail_pixels=100,
        web_max_photos=MOST,
    )


def kept(settings: Settings) -> list[str]:
    """The files in the store, the incoming folder included (it must be empty too)."""
    root = settings.files_path
    return sorted(path.name for path in root.rglob("*") if path.is_file()) if root.exists() else []


def jpeg(name: str, data: bytes | None = None) -> tuple[str, tuple[str, bytes, str]]:
    return ("photos", (name, data if data is not None else photo((640, 480)), "image/jpeg"))


def post(
    client: TestClient, path: str, fields: dict[str, str], files: list[Any] | None = None
) -> httpx.Response:
    """Post a page's form as the browser does (multipart when it carries photos)."""
    token = csrf_of(client.get("/workbench").text)
    return client.post(path, data={"csrf_token": token, **fields}, files=files or None)


def reload(session: Session, number: str) -> Case:
    session.expire_all()
    return session.scalars(select(Case).where(Case.number == number)).one()


def attachments_of(session: Session, number: str) -> list[Attachment]:
    case = reload(session, number)
    return list(
        session.scalars(select(Attachment).where(Attachment.case_id == case.id).order_by(Attachment.id))
    )


@pytest.fixture
def dispatched(session: Session, world: World, rules: CentreRules, now: datetime) -> Case:
    case = factories.new_case(session, world, rules, now, title="东湖路井盖缺失")
    factories.act(session, world, rules, case, "operator", "register", now)
    factories.act(session, world, rules, case, "dispatcher", "dispatch", now, department_code="D-SZ-E")
    factories.act(session, world, rules, case, "handler_sz", "accept", now)
    session.commit()
    return case


# --- photos ------------------------------------------------------------------------------


def test_intake_photos_are_tied_to_the_report_and_served_to_who_may_see_the_case(
    pages: Pages, session: Session, settings: Settings
) -> None:
    operator = pages("operator")
    # A photo larger than the general body limit (64 KB here): the page's forms take photos.
    big = noisy_photo((400, 300))
    assert 64 * 1024 < len(big) < LIMIT
    reply = post(
        operator, "/cases", INTAKE, [jpeg("近景.jpg", big), jpeg("远景.jpg"), ("photos", ("", b"", ""))]
    )
    assert reply.status_code == 303, reply.text
    number = reply.headers["location"].rsplit("/", 1)[1]
    stored_photos = attachments_of(session, number)
    assert [(a.filename, a.purpose, a.event.seq, a.uploaded_by.username) for a in stored_photos] == [
        ("近景.jpg", AttachmentPurpose.BEFORE, 1, "operator"),
        ("远景.jpg", AttachmentPurpose.BEFORE, 1, "operator"),
    ]
    assert len(kept(settings)) == 4  # two photos, two thumbnails
    page = operator.get(f"/cases/{number}").text
    first = stored_photos[0].id
    # In the case file and under the report in the timeline.
    assert page.count(f'src="/cases/{number}/attachments/{first}/thumbnail"') == 2
    assert "处置前 · operator" in page
    for reader in ("operator", "inspector", "leader"):
        original = pages(reader).get(f"/cases/{number}/attachments/{first}")
        assert original.status_code == 200 and original.content == big
        assert original.headers["content-type"] == "image/jpeg"
        assert original.headers["content-disposition"].startswith("inline;")
        assert original.headers["x-content-type-options"] == "nosniff"
        assert "sandbox" in original.headers["content-security-policy"]
        assert original.headers["cache-control"] == "no-store"
    thumbnail = operator.get(f"/cases/{number}/attachments/{first}/thumbnail")
    assert thumbnail.status_code == 200 and opened(thumbnail.content).size == (100, 75)
    # Anyone else: 404, as for a file that is not there; and an id of another case is 404 too.
    for outsider in ("operator_west", "handler_cg"):
        assert pages(outsider).get(f"/cases/{number}/attachments/{first}").status_code == 404
        assert pages(outsider).get(f"/cases/{number}/attachments/{first}/thumbnail").status_code == 404
    other = post(operator, "/cases", INTAKE).headers["location"].rsplit("/", 1)[1]
    assert operator.get(f"/cases/{other}/attachments/{first}").status_code == 404


def test_the_handlers_photo_is_tied_to_the_handling(pages: Pages, session: Session, dispatched: Case) -> None:
    handler = pages("handler_sz")
    form = handler.get(f"/cases/{dispatched.number}/actions/handle").text
    assert 'enctype="multipart/form-data"' in form and 'accept="image/*,application/pdf"' in form
    assert "现场照片(处置后)" in form and 'capture="environment"' not in form
    reply = post(
        handler, f"/cases/{dispatched.number}/actions/handle", {"note": "已补齐"}, [jpeg("after.jpg")]
    )
    assert reply.status_code == 303, reply.text
    case = reload(session, dispatched.number)
    assert case.state is CaseState.HANDLED
    [after] = attachments_of(session, dispatched.number)
    assert after.purpose is AttachmentPurpose.AFTER and after.event is not None
    assert after.event.action is Action.HANDLE and after.event.actor.username == "handler_sz"
    timeline = handler.get(f"/cases/{dispatched.number}").text
    handled = timeline[timeline.index("处置反馈</strong>") :]
    assert f"/attachments/{after.id}/thumbnail" in handled[: handled.index("</li>")]
    # The inspector's phone opens the camera for the check's photos.
    check = pages("inspector").get(f"/cases/{dispatched.number}/actions/check").text
    assert 'capture="environment"' in check and "现场照片(处置后)" in check


@pytest.mark.parametrize(
    ("files", "reason"),
    [
        ([jpeg("现场.jpg", b"<html><script>alert(1)</script></html>")], "「现场.jpg」不是照片"),
        ([jpeg("好.jpg"), jpeg("坏.jpg", noisy_photo((300, 200))[:2000])], "照片「坏.jpg」已损坏"),
        (
            [jpeg("好.jpg"), jpeg("大.jpg", b"\xff\xd8" + b"0" * LIMIT)],
            "照片「大.jpg」超过 0.190735 MB 的上限",
        ),
        ([jpeg(f"{n}.jpg") for n in range(MOST + 1)], f"每次最多上传 {MOST} 张照片，这次选了 {MOST + 1} 张"),
    ],
    ids=["not-a-photo", "damaged-after-a-good-one", "too-large", "too-many"],
)
def test_a_refused_photo_refuses_the_intake_in_chinese_and_stores_nothing(
    pages: Pages, session: Session, settings: Settings, files: list[Any], reason: str
) -> None:
    operator = pages("operator")
    before = stored(session)
    reply = post(operator, "/cases", INTAKE, files)
    assert reply.status_code == 422, reply.text
    assert reason in reply.text and "未保存任何内容，照片需重新选择" in reply.text
    # The form comes back with what was typed.
    assert 'value="东湖路井盖缺失"' in reply.text
    assert stored(session) == before and kept(settings) == []


def test_an_action_refused_after_its_photos_were_checked_keeps_none_of_them(
    pages: Pages, session: Session, settings: Settings, dispatched: Case
) -> None:
    handler = pages("handler_sz")
    before = stored(session)
    stale = {"note": "已补齐", "expected_version": str(dispatched.version - 1)}
    reply = post(handler, f"/cases/{dispatched.number}/actions/handle", stale, [jpeg("after.jpg")])
    assert reply.status_code == 409 and "案件已被他人修改" in reply.text and "未作任何更改" in reply.text
    assert stored(session) == before and kept(settings) == []
    assert reload(session, dispatched.number).state is CaseState.IN_PROGRESS


def test_a_step_that_takes_no_photos_refuses_them(
    pages: Pages, session: Session, settings: Settings, dispatched: Case
) -> None:
    handler = pages("handler_sz")
    assert 'name="photos"' not in handler.get(f"/cases/{dispatched.number}/actions/comment").text
    before = stored(session)
    reply = post(handler, f"/cases/{dispatched.number}/actions/comment", {"note": "看看"}, [jpeg("a.jpg")])
    assert reply.status_code == 422 and "「备注」这一步不附照片" in reply.text
    assert ">看看</textarea>" in reply.text  # the note is kept for another try
    assert stored(session) == before and kept(settings) == []


def test_an_outsider_is_refused_before_the_photos_are_read(
    pages: Pages, settings: Settings, dispatched: Case, monkeypatch: pytest.MonkeyPatch
) -> None:
    read: list[str] = []
    real = media.identify
    monkeypatch.setattr(media, "identify", lambda path: read.append(str(path)) or real(path))
    other = pages("handler_cg")
    reply = post(other, f"/cases/{dispatched.number}/actions/handle", {"note": "x"}, [jpeg("a.jpg")])
    assert reply.status_code == 404 and read == [] and kept(settings) == []
    # A step that is not open now (the case is being handled): refused, its photos unread.
    handler = pages("handler_sz")
    accept = post(handler, f"/cases/{dispatched.number}/actions/accept", {}, [jpeg("a.jpg")])
    assert accept.status_code == 409 and "案件当前状态不允许此操作" in accept.text
    assert read == [] and kept(settings) == []
    # And without the CSRF token, nothing is read either (403).
    files = [jpeg("a.jpg")]
    forged = handler.post(f"/cases/{dispatched.number}/actions/handle", data={"note": "x"}, files=files)
    assert forged.status_code == 403 and read == [] and kept(settings) == []


# --- the duplicate hint and merging at intake --------------------------------------------


def test_the_duplicate_hint_lists_open_cases_of_the_category_nearby(
    pages: Pages, session: Session, world: World, rules: CentreRules, now: datetime
) -> None:
    near = factories.new_case(session, world, rules, now, title="东湖路井盖松动", lng=120.0051, lat=30.005)
    other_kind = factories.new_case(session, world, rules, now, category="C0108", title="路灯不亮")
    closed = factories.new_case(session, world, rules, now, title="已作废的井盖")
    factories.act(session, world, rules, closed, "operator", "void", now, note="重复")
    west = factories.new_case(
        session, world, rules, now, actor="operator_west", title="西山井盖", lng=120.105, lat=30.005
    )
    session.commit()
    operator = pages("operator")
    hint = operator.get("/cases/new/nearby", params={"category_code": "C0101", **EAST}).text
    assert near.number in hint and "相距 10 米，同一网格" in hint
    assert f'name="merge_into" value="{near.number}"' in hint
    assert other_kind.number not in hint and closed.number not in hint and west.number not in hint
    # West's operator near west's case does not learn of east's, and vice versa.
    west_hint = (
        pages("operator_west").get("/cases/new/nearby", params={"category_code": "C0101", **WEST}).text
    )
    assert west.number in west_hint and near.number not in west_hint
    # Nothing to say until the category and the point are known; an unknown code says nothing.
    for params in ({"category_code": "C0101"}, EAST, {"category_code": "NOPE", **EAST}):
        assert operator.get("/cases/new/nearby", params=params).text.strip() == ""
    # The inspector sees the hint but may not merge: the workflow gives merge to intake only.
    inspector = pages("inspector").get("/cases/new/nearby", params={"category_code": "C0101", **EAST}).text
    assert near.number in inspector and "merge_into" not in inspector and "由坐席合并" in inspector
    # The intake form asks for it as the category or the point changes.
    form = operator.get("/cases/new").text
    assert 'hx-get="/cases/new/nearby"' in form and 'enctype="multipart/form-data"' in form


def test_merging_at_intake_registers_the_report_merged_into_the_open_case(
    pages: Pages, session: Session, world: World, rules: CentreRules, now: datetime
) -> None:
    kept_case = factories.new_case(session, world, rules, now, title="东湖路井盖松动")
    session.commit()
    operator = pages("operator")
    reply = post(operator, "/cases", {**INTAKE, "merge_into": kept_case.number}, [jpeg("again.jpg")])
    assert reply.status_code == 303, reply.text
    number = reply.headers["location"].rsplit("/", 1)[1]
    merged = reload(session, number)
    assert merged.state is CaseState.MERGED and merged.merged_into_id == kept_case.id
    assert [(e.action, e.actor.username) for e in merged.events] == [
        (Action.REPORT, "operator"),
        (Action.MERGE, "operator"),
    ]
    assert kept_case.number in merged.events[1].note
    [again] = attachments_of(session, number)
    assert again.event is not None and again.event.seq == 1
    assert reload(session, kept_case.number).state is CaseState.REPORTED


@pytest.mark.parametrize(("username", "status"), [("operator", 422), ("inspector", 403)])
def test_a_merge_at_intake_that_is_refused_registers_nothing(
    pages: Pages,
    session: Session,
    settings: Settings,
    world: World,
    rules: CentreRules,
    now: datetime,
    username: str,
    status: int,
) -> None:
    target = factories.new_case(session, world, rules, now, title="东湖路井盖松动")
    if username == "operator":  # a voided case takes no merge
        factories.act(session, world, rules, target, "operator", "void", now, note="重复")
    session.commit()
    before = stored(session)
    reply = post(pages(username), "/cases", {**INTAKE, "merge_into": target.number}, [jpeg("a.jpg")])
    assert reply.status_code == status and "未作任何更改" in reply.text
    assert stored(session) == before and kept(settings) == []


# --- the small maps ----------------------------------------------------------------------


@pytest.fixture
def gcj_tiles(app: FastAPI, settings: Settings) -> Iterator[Settings]:
    """The app drawing its maps on GCJ-02 tiles from another host."""
    shifted = settings.model_copy(
        update={
            "map_tile_url": "https://webrd0{s}.is.autonavi.com/appmaptile?style=8&x={x}&y={y}&z={z}",
            "map_tile_crs": "gcj02",
            "map_tile_subdomains": "1234",
        }
    )
    app.state.settings = shifted
    yield shifted
    app.state.settings = settings


def _data(page: str, attribute: str) -> Any:
    found = re.search(rf"{attribute}='([^']*)'", page)
    assert found, f"no {attribute} in the page"
    return json.loads(found.group(1).replace("&#34;", '"').replace("&amp;", "&"))


def _has_vertex(ring: list[list[float]], point: tuple[float, float]) -> bool:
    """Whether ``ring`` has a vertex within a centimetre or so of ``point``."""
    return any(abs(x - point[0]) < 2e-7 and abs(y - point[1]) < 2e-7 for x, y in ring)


def test_without_tiles_the_maps_draw_wgs84_on_a_plain_ground(pages: Pages, dispatched: Case) -> None:
    operator = pages("operator")
    page = operator.get(f"/cases/{dispatched.number}")
    assert "img-src 'self' data:;" in page.headers["content-security-policy"]
    assert _data(page.text, "data-map-config") == {
        "tiles": "",
        "subdomains": "abc",
        "attribution": "",
        "crs": "wgs84",
    }
    drawn = _data(page.text, "data-map-case")
    assert drawn["point"] == [30.005, 120.005]
    assert [120.0, 30.0] in drawn["grid"]["geometry"]["coordinates"][0]
    assert drawn["grid"]["properties"]["name"] == "东湖一社区网格"
    assert '<script src="/assets/leaflet/dist/leaflet.js" defer></script>' in page.text
    # The intake map's layer: the grids of the operator's street only.
    layer = operator.get("/cases/new/grids").json()
    assert sorted(f["properties"]["code"] for f in layer["features"]) == ["T010101-01", "T010102-01"]


def test_on_gcj02_tiles_every_point_and_polygon_is_shifted(
    pages: Pages, dispatched: Case, gcj_tiles: Settings
) -> None:
    operator = pages("operator")
    page = operator.get(f"/cases/{dispatched.number}")
    policy = page.headers["content-security-policy"]
    assert "img-src 'self' data: https://*.is.autonavi.com;" in policy and "script-src 'self';" in policy
    assert _data(page.text, "data-map-config")["crs"] == "gcj02"
    lng, lat = wgs84_to_gcj02(120.005, 30.005)
    drawn = _data(page.text, "data-map-case")
    assert drawn["point"] == [round(lat, 7), round(lng, 7)]
    corner = wgs84_to_gcj02(120.0, 30.0)
    assert _has_vertex(drawn["grid"]["geometry"]["coordinates"][0], corner)
    layer = operator.get("/cases/new/grids").json()
    ring = next(f for f in layer["features"] if f["id"] == "T010101-01")["geometry"]["coordinates"][0]
    assert _has_vertex(ring, corner) and not _has_vertex(ring, (120.0, 30.0))
    # A point picked on the map (GCJ-02) comes back in WGS-84 for the form, with its grid.
    picked = operator.get("/cases/new/place", params={"lng": lng, "lat": lat, "crs": "gcj02", "picked": "1"})
    assert 'data-lng="120.005000" data-lat="30.005000"' in picked.text and "data-picked" in picked.text
    assert "东湖一社区网格" in picked.text
    assert _data(picked.text, "data-drawn")["point"] == [round(lat, 7), round(lng, 7)]
    # A typed point is WGS-84, and is drawn shifted.
    typed = operator.get("/cases/new/place", params=EAST)
    assert "data-picked" not in typed.text and _data(typed.text, "data-drawn")["point"] == drawn["point"]
    assert operator.get("/cases/new/place", params={**EAST, "crs": "bd09"}).status_code == 422


@pytest.mark.parametrize(
    ("url", "source"),
    [
        ("", None),
        ("/tiles/{z}/{x}/{y}.png", None),
        ("https://tile.openstreetmap.org/{z}/{x}/{y}.png", "https://tile.openstreetmap.org"),
        ("https://{s}.tile.example.com:8443/{z}/{x}/{y}.png", "https://*.tile.example.com:8443"),
        ("https://webrd0{s}.is.autonavi.com/appmaptile?x={x}&y={y}&z={z}", "https://*.is.autonavi.com"),
        ("http://tiles.{s}/{z}/{x}/{y}.png", "http:"),
    ],
)
def test_the_tile_host_is_what_the_policy_lets_images_come_from(url: str, source: str | None) -> None:
    assert tile_source(url) == source


# --- the write lock ----------------------------------------------------------------------


@pytest.fixture
def file_database(tmp_path: Path) -> Iterator[tuple[Path, Engine]]:
    path = tmp_path / "pages.db"
    engine = make_engine(f"sqlite:///{path}", busy_timeout_ms=200)
    upgrade(engine)
    with session_scope(make_session_factory(engine)) as session:
        build_world(session)
    yield path, engine
    engine.dispose()


def test_no_write_lock_is_held_while_a_pages_photos_are_checked(
    file_database: tuple[Path, Engine], settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    path, engine = file_database
    seen: list[bool] = []
    real = media.thumbnail
    monkeypatch.setattr(
        media, "thumbnail", lambda source, pixels: seen.append(lock_is_free(path)) or real(source, pixels)
    )
    with TestClient(create_app(settings, engine), follow_redirects=False) as client:
        form = client.get("/login").text
        client.post(
            "/login", data={"csrf_token": csrf_of(form), "username": "operator", "password": PASSWORD}
        )
        reply = post(client, "/cases", INTAKE, [jpeg("a.jpg"), jpeg("b.jpg", photo((300, 200)))])
    assert reply.status_code == 303, reply.text
    assert seen == [True, True]


def test_a_pdf_is_offered_as_a_download_and_has_no_thumbnail(pages: Pages, session: Session) -> None:
    operator = pages("operator")
    document = ("photos", ("来信.pdf", pdf(), "application/pdf"))
    number = post(operator, "/cases", INTAKE, [document]).headers["location"].rsplit("/", 1)[1]
    [letter] = attachments_of(session, number)
    page = operator.get(f"/cases/{number}").text
    assert f'<a class="file" href="/cases/{number}/attachments/{letter.id}">来信.pdf</a>' in page
    download = operator.get(f"/cases/{number}/attachments/{letter.id}")
    assert download.status_code == 200 and download.headers["content-disposition"].startswith("attachment;")
    missing = operator.get(f"/cases/{number}/attachments/{letter.id}/thumbnail")
    assert missing.status_code == 404 and "不是照片，没有缩略图" in missing.text


def test_a_form_too_large_or_malformed_is_refused_in_chinese(
    pages: Pages, session: Session, settings: Settings
) -> None:
    operator = pages("operator")
    before = stored(session)
    # Sent in pieces (no Content-Length): cut off once past what the form may carry.
    boundary = "cg-boundary"
    head = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="photos"; filename="a.jpg"\r\n'
        "Content-Type: image/jpeg\r\n\r\n"
    ).encode()
    pieces = iter([head, *[b"\xff" * 100_000] * 10, f"\r\n--{boundary}--\r\n".encode()])
    headers = {"Content-Type": f"multipart/form-data; boundary={boundary}"}
    huge = operator.post("/cases", content=pieces, headers=headers)
    assert huge.status_code == 422 and f"每次最多 {MOST} 张、每张不超过 0.190735 MB" in huge.text
    broken = operator.post("/cases", content=b"--x--", headers={"Content-Type": "multipart/form-data"})
    assert broken.status_code == 422 and "表单无法读取" in broken.text
    assert stored(session) == before and kept(settings) == []


def test_a_mistake_in_the_form_asks_for_the_photos_again(pages: Pages, session: Session) -> None:
    before = stored(session)
    reply = post(pages("operator"), "/cases", {**INTAKE, "title": ""}, [jpeg("a.jpg")])
    assert reply.status_code == 422 and "照片需重新选择" in reply.text
    assert stored(session) == before


def test_a_case_without_point_or_grid_has_no_map(
    session: Session, world: World, rules: CentreRules, now: datetime
) -> None:
    case = factories.new_case(session, world, rules, now, lng=None, lat=None, region_code="T010101")
    assert case_map(case, CoordinateSystem.WGS84) is None
    world.grids["g1"].boundary = None
    assert grid_feature(world.grids["g1"], CoordinateSystem.GCJ02) is None
