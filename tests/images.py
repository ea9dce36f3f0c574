"""Real files for the upload tests, made with Pillow: photos with and without EXIF, a PDF."""

from __future__ import annotations

import time
from io import BytesIO

from PIL import ExifTags, Image


def photo(
    size: tuple[int, int] = (200, 100), fmt: str = "JPEG", orientation: int | None = None, gps: bool = False
) -> bytes:
    """A photo whose left half is red and right half blue, with EXIF orientation and a GPS
    position if asked."""
    mode = "RGBA" if fmt == "PNG" else "RGB"
    image = Image.new(mode, size, "blue")
    image.paste((255, 0, 0), (0, 0, size[0] // 2, size[1]))
    exif = Image.Exif()
    if orientation is not None:
        exif[ExifTags.Base.Orientation] = orientation
    if gps:
        exif.get_ifd(ExifTags.IFD.GPSInfo).update(
            {ExifTags.GPS.GPSLatitudeRef: "N", ExifTags.GPS.GPSLatitude: (30.0, 15.0, 0.0)}
        )
    out = BytesIO()
    image.save(out, fmt, exif=exif)
    return out.getvalue()


def noisy_photo(size: tuple[int, int]) -> bytes:
    """A JPEG that compresses badly, as a real photo does: noise at full quality."""
    out = BytesIO()
    Image.effect_noise(size, 64).convert("RGB").save(out, "JPEG", quality=95)
    return out.getvalue()


def pdf() -> bytes:
    """A one-page PDF document, the same bytes at every call (its dates fixed)."""
    out = BytesIO()
    moment = time.gmtime(1_767_225_600)  # 2026-01-01
    Image.new("RGB", (50, 50), "white").save(out, "PDF", creationDate=moment, modDate=moment)
    return out.getvalue()


def opened(data: bytes) -> Image.Image:
    """The image ``data`` holds."""
    return Image.open(BytesIO(data))
