"""What a file is by its bytes, the thumbnail of a photo, and the content-addressed file store."""

from __future__ import annotations

import hashlib
from io import BytesIO
from pathlib import Path

import pytest
from PIL import ExifTags, Image

from civicgrid import media
from civicgrid.domain.errors import InvalidInput, TooLarge, UnsupportedFile
from civicgrid.services.attachments import safe_filename
from civicgrid.store.files import FileStore
from tests.images import noisy_photo, opened, pdf, photo


def written(tmp_path: Path, data: bytes, name: str = "upload") -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


@pytest.mark.parametrize(
    ("data", "content_type"),
    [
        (photo(), "image/jpeg"),
        (photo(fmt="PNG"), "image/png"),
        (photo(fmt="WEBP"), "image/webp"),
        (pdf(), "application/pdf"),
    ],
)
def test_the_type_is_read_from_the_bytes(tmp_path: Path, data: bytes, content_type: str) -> None:
    assert media.identify(written(tmp_path, data, "named-anything.txt")).content_type == content_type


@pytest.mark.parametrize(
    "data",
    [
        b"<html><script>alert(1)</script></html>",
        b"GIF89a" + bytes(100),
        b"MZ\x90\x00" + bytes(100),
        b"",
    ],
    ids=["html", "gif", "exe", "empty"],
)
def test_other_files_are_unsupported(tmp_path: Path, data: bytes) -> None:
    with pytest.raises(UnsupportedFile, match="not a photo"):
        media.identify(written(tmp_path, data))


def test_a_cut_short_pdf_or_photo_is_refused(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match="PDF document is cut short"):
        media.identify(written(tmp_path, pdf()[:-200]))
    with pytest.raises(InvalidInput, match="image cannot be read"):
        media.identify(written(tmp_path, photo()[:300], "header"))
    data = noisy_photo((400, 300))
    cut = written(tmp_path, data[: len(data) // 2])
    assert media.identify(cut).content_type == "image/jpeg"
    with pytest.raises(InvalidInput, match="image cannot be read"):
        media.thumbnail(cut, 100)


def test_an_image_of_too_many_pixels_is_refused_before_it_is_decoded(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 10_000)
    with pytest.raises(InvalidInput, match="more than 10,000 pixels"):
        media.identify(written(tmp_path, photo(size=(200, 100))))


def test_a_thumbnail_is_upright_small_and_without_metadata(tmp_path: Path) -> None:
    # Orientation 6: the camera was turned; the picture is shown turned 90° clockwise, so
    # the red left half of the stored pixels is the top of the photo as taken.
    source = written(tmp_path, photo(size=(800, 400), orientation=6, gps=True))
    assert opened(source.read_bytes()).getexif().get_ifd(ExifTags.IFD.GPSInfo)
    thumbnail = opened(media.thumbnail(source, 100))
    assert thumbnail.format == "JPEG" and thumbnail.size == (50, 100)
    red, blue = thumbnail.getpixel((25, 10)), thumbnail.getpixel((25, 90))
    assert isinstance(red, tuple) and isinstance(blue, tuple)
    assert red[0] > 200 > red[2] and blue[2] > 200 > blue[0]
    assert (
        dict(thumbnail.getexif()) == {}
        and "exif" not in thumbnail.info
        and "icc_profile" not in thumbnail.info
    )


def test_a_transparent_png_gets_a_white_background(tmp_path: Path) -> None:
    image = Image.new("RGBA", (40, 40), (0, 0, 0, 0))
    out = BytesIO()
    image.save(out, "PNG")
    thumbnail = opened(media.thumbnail(written(tmp_path, out.getvalue()), 20))
    assert thumbnail.mode == "RGB" and thumbnail.getpixel((10, 10)) == (255, 255, 255)


def test_a_grey_photo_gets_an_rgb_thumbnail(tmp_path: Path) -> None:
    out = BytesIO()
    Image.new("L", (40, 40), 128).save(out, "JPEG")
    assert opened(media.thumbnail(written(tmp_path, out.getvalue()), 20)).mode == "RGB"


def test_the_store_keeps_files_by_content_once(tmp_path: Path) -> None:
    store = FileStore(tmp_path / "files")
    data = photo()
    first = store.receive(BytesIO(data), len(data))
    assert first.sha256 == hashlib.sha256(data).hexdigest() and first.size == len(data)
    assert store.keep(first) is True
    assert store.path(first.sha256).read_bytes() == data
    assert store.path(first.sha256).relative_to(store.root).parts == (first.sha256[:2], first.sha256)
    again = store.receive(BytesIO(data), len(data))
    assert store.keep(again) is False and not again.path.exists()
    assert store.put(data) == (first.sha256, False)
    store.remove(first.sha256)
    assert not store.path(first.sha256).exists()
    with pytest.raises(ValueError, match="not a SHA-256"):
        store.path("../../etc/passwd")


def test_the_store_refuses_a_file_over_the_limit_and_keeps_nothing(tmp_path: Path) -> None:
    store = FileStore(tmp_path / "files")
    with pytest.raises(TooLarge, match="at most 1,000 bytes"):
        store.receive(BytesIO(bytes(1001)), 1000)
    assert list((tmp_path / "files").rglob("*")) == [tmp_path / "files" / "incoming"]


@pytest.mark.parametrize(
    ("given", "kind", "expected"),
    [
        ("IMG_0001.JPG", "JPEG", "IMG_0001.JPG"),
        ("现场.jpeg", "JPEG", "现场.jpeg"),
        ("scan.pdf", "PNG", "scan.pdf.png"),
        ("C:\\Users\\x\\photo.png", "PNG", "photo.png"),
        ("../../etc/passwd", "JPEG", "passwd.jpg"),
        ("photo\u202egpj.exe", "JPEG", "photogpj.exe.jpg"),
        ("", "JPEG", "附件.jpg"),
        (None, "PNG", "附件.png"),
        ("a" * 300 + ".jpg", "JPEG", "a" * 196 + ".jpg"),
    ],
)
def test_a_file_name_is_offered_back_safe_and_with_its_real_extension(
    given: str | None, kind: str, expected: str
) -> None:
    assert safe_filename(given, media.IMAGES[kind]) == expected
