"""Uploading photos and files to a case over HTTP, on SQLite and PostgreSQL: the type read
from the bytes, the size limit, thumbnails, who may read them back, and tying a photo to
the event that took it."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from civicgrid.settings import Settings
from tests.api.helpers import Headers, assert_error, new_case, stored
from tests.images import noisy_photo, opened, pdf, photo

#: A small upload limit, so that the oversize tests send little.
LIMIT = 200_000


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(
        environment="test",
        database_url="sqlite://",
        token_hours=720,
        secret_key="test-only-secret-" * 3,
        upload_dir=str(tmp_path / "files"),
        max_upload_bytes=LIMIT,
        thumbnail_pixels=100,
    )


def upload(
    client: TestClient,
    headers: Headers,
    number: str,
    data: bytes,
    name: str = "现场.jpg",
    declared: str = "image/jpeg",
    **fields: Any,
) -> Any:
    return client.post(
        f"/api/v1/cases/{number}/attachments",
        files={"file": (name, data, declared)},
        data={key: str(value) for key, value in fields.items()},
        headers=headers,
    )


def kept(settings: Settings) -> list[str]:
    """The files in the store (not counting the incoming folder's leftovers, of which there
    must be none either)."""
    root = settings.files_path
    return sorted(path.name for path in root.rglob("*") if path.is_file()) if root.exists() else []


def test_a_photo_is_stored_with_its_thumbnail_and_read_back_by_who_may_see_the_case(
    client: TestClient, login: Callable[[str], Headers], settings: Settings
) -> None:
    number = new_case(client, login("operator"))["number"]
    data = photo(size=(800, 400), orientation=6, gps=True)
    reply = upload(client, login("inspector"), number, data, name="IMG_0001.JPG", purpose="before")
    assert reply.status_code == 201, reply.text
    body = reply.json()
    sha256 = hashlib.sha256(data).hexdigest()
    path = f"/api/v1/cases/{number}/attachments/{body['id']}"
    assert body | {"created_at": None} == {
        "id": body["id"],
        "filename": "IMG_0001.JPG",
        "content_type": "image/jpeg",
        "size_bytes": len(data),
        "sha256": sha256,
        "uri": path,
        "stored": True,
        "thumbnail_uri": f"{path}/thumbnail",
        "purpose": "before",
        "purpose_label": "处置前",
        "event_seq": None,
        "uploaded_by": "inspector",
        "created_at": None,
    }
    assert sha256 in kept(settings) and len(kept(settings)) == 2
    # Everyone who may see the case reads the file and its thumbnail.
    for reader in ("operator", "dispatcher", "leader"):
        original = client.get(path, headers=login(reader))
        assert original.status_code == 200 and original.content == data
        assert original.headers["content-type"] == "image/jpeg"
        assert original.headers["content-disposition"] == 'inline; filename="IMG_0001.JPG"'
        assert original.headers["x-content-type-options"] == "nosniff"
        assert "sandbox" in original.headers["content-security-policy"]
        assert original.headers["cache-control"] == "no-store"
    thumbnail = client.get(f"{path}/thumbnail", headers=login("operator"))
    assert thumbnail.status_code == 200 and thumbnail.headers["content-type"] == "image/jpeg"
    small = opened(thumbnail.content)
    assert small.size == (50, 100) and dict(small.getexif()) == {}
    # The case file lists it, with who uploaded it.
    case = client.get(f"/api/v1/cases/{number}", headers=login("operator")).json()
    assert case["attachments"] == [body]


@pytest.mark.parametrize(
    ("data", "name", "declared", "content_type", "filename"),
    [
        (photo(fmt="PNG"), "截图.png", "image/png", "image/png", "截图.png"),
        (photo(fmt="WEBP"), "a.webp", "image/webp", "image/webp", "a.webp"),
        # The declared type and the name lie: the bytes are a PNG.
        (photo(fmt="PNG"), "scan.pdf", "application/pdf", "image/png", "scan.pdf.png"),
    ],
)
def test_the_type_comes_from_the_bytes_not_the_name_or_the_declared_type(
    client: TestClient,
    login: Callable[[str], Headers],
    data: bytes,
    name: str,
    declared: str,
    content_type: str,
    filename: str,
) -> None:
    number = new_case(client, login("operator"))["number"]
    reply = upload(client, login("operator"), number, data, name=name, declared=declared)
    assert reply.status_code == 201, reply.text
    assert reply.json()["content_type"] == content_type and reply.json()["filename"] == filename
    served = client.get(reply.json()["uri"], headers=login("operator"))
    assert served.headers["content-type"] == content_type


def test_a_pdf_is_downloaded_not_shown_and_has_no_thumbnail(
    client: TestClient, login: Callable[[str], Headers]
) -> None:
    number = new_case(client, login("operator"))["number"]
    reply = upload(
        client, login("operator"), number, pdf(), name="整改通知书.pdf", declared="application/pdf"
    )
    assert reply.status_code == 201, reply.text
    body = reply.json()
    assert body["content_type"] == "application/pdf" and body["thumbnail_uri"] is None
    served = client.get(body["uri"], headers=login("operator"))
    assert served.status_code == 200 and served.content == pdf()
    assert served.headers["content-disposition"].startswith("attachment; filename*=utf-8''")
    assert_error(client.get(f"{body['uri']}/thumbnail", headers=login("operator")), 404, "not_found")


@pytest.mark.parametrize(
    ("data", "status", "error"),
    [
        (b"<html><script>alert(1)</script></html>", 415, "unsupported_media_type"),
        (b"%PDF-1.4 but never ends", 422, "invalid"),
        (noisy_photo((300, 200))[:2000], 422, "invalid"),
    ],
    ids=["html-declared-as-jpeg", "cut-short-pdf", "cut-short-jpeg"],
)
def test_a_file_that_lies_about_its_type_or_is_damaged_is_refused_and_nothing_is_stored(
    client: TestClient,
    login: Callable[[str], Headers],
    session: Session,
    settings: Settings,
    data: bytes,
    status: int,
    error: str,
) -> None:
    number = new_case(client, login("operator"))["number"]
    before = stored(session)
    assert_error(upload(client, login("operator"), number, data, name="photo.jpg"), status, error)
    assert stored(session) == before and kept(settings) == []


@pytest.mark.parametrize("size", [LIMIT + 1, LIMIT + 100_000], ids=["just-over", "far-over"])
def test_an_oversize_file_is_refused_with_413_and_nothing_is_stored(
    client: TestClient, login: Callable[[str], Headers], session: Session, settings: Settings, size: int
) -> None:
    # Just over: the body fits the body limit, the file is cut off as it is copied in. Far
    # over: the body limit refuses it from its Content-Length before it is read.
    number = new_case(client, login("operator"))["number"]
    before = stored(session)
    data = photo() + bytes(size - len(photo()))
    reply = upload(client, login("operator"), number, data)
    body = assert_error(reply, 413, "too_large" if size == LIMIT + 1 else "body_too_large")
    assert body["detail"] == f"a file may be at most {LIMIT:,} bytes (0.190735 MB)"
    assert stored(session) == before and kept(settings) == []
    # A file of exactly the limit is accepted.
    exact = photo() + bytes(LIMIT - len(photo()))
    assert upload(client, login("operator"), number, exact).status_code == 201


def test_another_streets_user_gets_404_for_the_file_and_the_thumbnail(
    client: TestClient, login: Callable[[str], Headers]
) -> None:
    number = new_case(client, login("operator"))["number"]
    theirs = new_case(client, login("operator_west"), lng=120.105, lat=30.005)["number"]
    mine = upload(client, login("operator"), number, photo()).json()
    other = upload(client, login("operator_west"), theirs, photo(size=(30, 30))).json()
    for path in (mine["uri"], mine["thumbnail_uri"]):
        assert_error(client.get(path, headers=login("operator_west")), 404, "not_found")
        assert client.get(path, headers=login("operator")).status_code == 200
    # A guessed id of the other street's attachment, through a case one may see: 404 too.
    for suffix in ("", "/thumbnail"):
        guessed = f"/api/v1/cases/{number}/attachments/{other['id']}{suffix}"
        assert_error(client.get(guessed, headers=login("operator")), 404, "not_found")
    # Nor may anyone upload to a case they cannot see; a citizen uploads nowhere.
    assert_error(upload(client, login("operator_west"), number, photo()), 404, "not_found")
    assert_error(upload(client, login("citizen"), number, photo()), 403, "forbidden")
    assert_error(client.get(mine["uri"]), 401, "unauthenticated")


def test_a_link_is_not_served_as_a_file(client: TestClient, login: Callable[[str], Headers]) -> None:
    number = new_case(client, login("operator"))["number"]
    link = {
        "filename": "a.jpg",
        "content_type": "image/jpeg",
        "size_bytes": 1,
        "sha256": "0" * 64,
        "uri": "https://files.example.cn/a.jpg",
        "purpose": "after",
    }
    reply = client.post(f"/api/v1/cases/{number}/attachments", json=link, headers=login("operator"))
    assert reply.status_code == 201, reply.text
    body = reply.json()
    assert body["stored"] is False and body["uri"] == link["uri"] and body["thumbnail_uri"] is None
    path = f"/api/v1/cases/{number}/attachments/{body['id']}"
    assert_error(client.get(path, headers=login("operator")), 404, "not_found")


def test_a_missing_file_is_404_not_a_server_error(
    client: TestClient, login: Callable[[str], Headers], settings: Settings
) -> None:
    number = new_case(client, login("operator"))["number"]
    body = upload(client, login("operator"), number, photo()).json()
    for path in settings.files_path.rglob("*"):
        if path.is_file():
            path.unlink()
    assert_error(client.get(body["uri"], headers=login("operator")), 404, "not_found")


@pytest.mark.parametrize(
    ("request_kwargs", "status", "where"),
    [
        ({"files": {"file": ("a.jpg", b"x", "image/jpeg")}, "data": {"colour": "red"}}, 422, "body.colour"),
        (
            {"files": {"file": ("a.jpg", b"x", "image/jpeg")}, "data": {"purpose": "during"}},
            422,
            "body.purpose",
        ),
        (
            {"files": {"file": ("a.jpg", b"x", "image/jpeg")}, "data": {"event_seq": "0"}},
            422,
            "body.event_seq",
        ),
        ({"files": {"photo": ("a.jpg", b"x", "image/jpeg")}}, 422, "body.photo"),
        ({"files": {"purpose": (None, "after")}}, 422, "body.file"),
        ({"data": {"file": "not a file"}, "files": {"x": ("", b"", "text/plain")}}, 422, None),
        ({"content": b"just bytes", "headers": {"Content-Type": "image/jpeg"}}, 415, None),
        ({"content": b"{", "headers": {"Content-Type": "application/json"}}, 422, None),
        (
            {
                "files": [
                    ("file", ("a.jpg", photo(), "image/jpeg")),
                    ("file", ("b.jpg", photo(), "image/jpeg")),
                ]
            },
            400,
            None,
        ),
    ],
    ids=[
        "unknown-field",
        "bad-purpose",
        "bad-event",
        "misnamed-file",
        "no-file",
        "file-as-text",
        "raw-bytes",
        "bad-json",
        "two",
    ],
)
def test_a_malformed_upload_is_refused_with_a_reason(
    client: TestClient,
    login: Callable[[str], Headers],
    session: Session,
    settings: Settings,
    request_kwargs: dict[str, Any],
    status: int,
    where: str | None,
) -> None:
    number = new_case(client, login("operator"))["number"]
    before = stored(session)
    request_kwargs = dict(request_kwargs)  # the same parameters serve both databases
    headers = {**login("operator"), **request_kwargs.pop("headers", {})}
    reply = client.post(f"/api/v1/cases/{number}/attachments", headers=headers, **request_kwargs)
    assert reply.status_code == status, reply.text
    if where is not None:
        assert_error(reply, status, "invalid_request", where)
    assert stored(session) == before and kept(settings) == []


def test_photos_are_tied_to_the_event_that_took_them(
    client: TestClient, login: Callable[[str], Headers]
) -> None:
    inspector, handler = login("inspector"), login("handler_cg")
    number = new_case(client, inspector)["number"]
    # The reporter's own photo of the problem, tied to their report (event 1) on upload.
    found = upload(client, inspector, number, photo(), purpose="before", event_seq=1).json()
    assert found["event_seq"] == 1
    assert_error(upload(client, login("operator"), number, photo(), event_seq=1), 403, "forbidden")
    assert_error(upload(client, inspector, number, photo(), event_seq=9), 422, "invalid")
    for user, action, fields in [
        ("operator", "register", {}),
        ("dispatcher", "dispatch", {"department_code": "D-CG-E"}),
        ("handler_cg", "accept", {}),
    ]:
        reply = client.post(f"/api/v1/cases/{number}/actions/{action}", json=fields, headers=login(user))
        assert reply.status_code == 200, reply.text
    after = upload(client, handler, number, photo(size=(60, 60)), purpose="after").json()
    other = upload(client, inspector, number, photo(size=(70, 70))).json()
    url = f"/api/v1/cases/{number}/actions/handle"
    refusals = [
        ([other["id"]], "uploaded by someone else"),
        ([found["id"]], "uploaded by someone else"),
        ([after["id"], after["id"]], "names an attachment twice"),
        ([999_999], "has no attachment 999999"),
    ]
    for ids, reason in refusals:
        reply = client.post(url, json={"note": "已修复", "attachment_ids": ids}, headers=handler)
        assert reason in assert_error(reply, 422, "invalid")["detail"]
    reply = client.post(url, json={"note": "已修复", "attachment_ids": [after["id"]]}, headers=handler)
    assert reply.status_code == 200, reply.text
    case = reply.json()
    handled = case["timeline"][-1]
    assert handled["action"] == "handle" and handled["attachment_ids"] == [after["id"]]
    assert case["timeline"][0]["attachment_ids"] == [found["id"]]
    by_id = {attachment["id"]: attachment for attachment in case["attachments"]}
    assert by_id[after["id"]]["event_seq"] == handled["seq"] and by_id[other["id"]]["event_seq"] is None
    # Tied once: the photo cannot be claimed by a later event; and only photo-taking steps name any.
    reply = client.post(
        f"/api/v1/cases/{number}/actions/check", json={"attachment_ids": [after["id"]]}, headers=inspector
    )
    assert "uploaded by someone else" in assert_error(reply, 422, "invalid")["detail"]
    reply = client.post(
        f"/api/v1/cases/{number}/actions/check", json={"attachment_ids": [found["id"]]}, headers=inspector
    )
    assert "already belongs to another event" in assert_error(reply, 422, "invalid")["detail"]
    reply = client.post(
        f"/api/v1/cases/{number}/actions/check", json={"attachment_ids": [other["id"]]}, headers=inspector
    )
    assert reply.status_code == 200, reply.text
    reply = client.post(
        f"/api/v1/cases/{number}/actions/close",
        json={"attachment_ids": [other["id"]]},
        headers=login("operator"),
    )
    assert "close does not take attachment_ids" in assert_error(reply, 422, "invalid")["detail"]


def test_an_oversize_upload_without_a_length_is_cut_off_as_it_streams_in(
    client: TestClient, login: Callable[[str], Headers], session: Session, settings: Settings
) -> None:
    number = new_case(client, login("operator"))["number"]
    before = stored(session)

    def body() -> Any:
        yield b'--xyz\r\nContent-Disposition: form-data; name="file"; filename="a.jpg"\r\n\r\n'
        for _ in range(100):  # 6.4 MB in all, far past the limit
            yield bytes(64 * 1024)
        yield b"\r\n--xyz--\r\n"

    headers = {**login("operator"), "Content-Type": "multipart/form-data; boundary=xyz"}
    reply = client.post(f"/api/v1/cases/{number}/attachments", content=body(), headers=headers)
    assert "content-length" not in reply.request.headers
    assert assert_error(reply, 413, "body_too_large")["detail"].startswith(f"a file may be at most {LIMIT:,}")
    assert stored(session) == before and kept(settings) == []
