"""What an uploaded file is, read from its bytes (never from its name or declared type),
and the thumbnail of a photo: upright (EXIF orientation applied), without its metadata."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from io import BytesIO
from pathlib import Path

from PIL import Image, ImageOps, UnidentifiedImageError

from civicgrid.domain.errors import InvalidInput, UnsupportedFile


@dataclass(frozen=True)
class FileType:
    """A kind of file the centre keeps."""

    content_type: str
    #: The file name endings of the type, the usual one first.
    extensions: tuple[str, ...]
    is_image: bool

    @property
    def extension(self) -> str:
        """The usual file name ending of the type."""
        return self.extensions[0]


PDF = FileType("application/pdf", (".pdf",), is_image=False)
#: Photos by Pillow's format name. Phones and cameras write JPEG; screenshots are PNG.
IMAGES = {
    "JPEG": FileType("image/jpeg", (".jpg", ".jpeg"), is_image=True),
    "PNG": FileType("image/png", (".png",), is_image=True),
    "WEBP": FileType("image/webp", (".webp",), is_image=True),
}
#: Every type a download may carry (for the API document).
CONTENT_TYPES = sorted({PDF.content_type, *(kind.content_type for kind in IMAGES.values())})
#: A PDF ends with this marker, in its last kilobyte (trailing blank lines are common).
_PDF_END = b"%%EOF"
#: The thumbnail's quality: small files, no visible blocks at thumbnail size.
_THUMBNAIL_QUALITY = 80


def identify(path: Path) -> FileType:
    """The type of the file at ``path``, by its content; ``UnsupportedFile`` unless it is a
    PDF document or a JPEG, PNG or WebP image, ``InvalidInput`` when it is one but damaged."""
    with path.open("rb") as file:
        if file.read(5) == b"%PDF-":
            file.seek(0, 2)
            file.seek(max(0, file.tell() - 1024))
            if _PDF_END not in file.read():
                raise InvalidInput("the PDF document is cut short or damaged (it has no %%EOF end marker)")
            return PDF
    with _opened(path) as image:
        return IMAGES[str(image.format)]


def thumbnail(path: Path, pixels: int) -> bytes:
    """A JPEG of the image at ``path``, at most ``pixels`` on its longer side, turned upright
    as its EXIF orientation says, and without EXIF (GPS position, camera) or other metadata."""
    with _opened(path) as image:
        # A JPEG decodes straight at 1/2, 1/4 or 1/8 of its size: a 5 MB photo in a fraction
        # of the time. The requested size is a lower bound, so no detail is lost.
        image.draft("RGB", (pixels, pixels))
        try:
            upright = ImageOps.exif_transpose(image)
            upright.thumbnail((pixels, pixels))
        except (OSError, SyntaxError, ValueError) as error:
            raise InvalidInput(f"the image cannot be read: {error}") from None
        if upright.mode in {"RGBA", "LA", "P", "PA"}:
            # Transparent parts of a PNG or WebP become white, not black.
            rgba = upright.convert("RGBA")
            upright = Image.new("RGB", rgba.size, "white")
            upright.paste(rgba, mask=rgba.getchannel("A"))
        elif upright.mode != "RGB":
            upright = upright.convert("RGB")
        out = BytesIO()
        # Saved without exif= or icc_profile=: nothing of the original's metadata goes along.
        upright.save(out, "JPEG", quality=_THUMBNAIL_QUALITY, optimize=True)
        return out.getvalue()


def png_of(path: Path, pixels: int) -> bytes:
    """The image at ``path`` (JPEG, PNG or WebP) as a PNG at most ``pixels`` on its longer
    side, transparency kept: a logo printed on documents."""
    with _opened(path) as image:
        try:
            upright = ImageOps.exif_transpose(image)
            upright.thumbnail((pixels, pixels))
            out = BytesIO()
            upright.convert("RGBA").save(out, "PNG", optimize=True)
        except (OSError, SyntaxError, ValueError) as error:
            raise InvalidInput(f"the image cannot be read: {error}") from None
        return out.getvalue()


@contextmanager
def _opened(path: Path) -> Iterator[Image.Image]:
    """The image at ``path``, opened as JPEG, PNG or WebP only; an image of more pixels than
    Pillow's decompression-bomb limit is refused before it is decoded."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(path, formats=list(IMAGES))
    except UnidentifiedImageError:
        raise UnsupportedFile(
            "the file is not a photo (JPEG, PNG, WebP) or a PDF document, whatever its name says"
        ) from None
    except (Image.DecompressionBombWarning, Image.DecompressionBombError):
        raise InvalidInput(
            f"the image has more than {Image.MAX_IMAGE_PIXELS:,} pixels; send a smaller one"
        ) from None
    except (OSError, SyntaxError, ValueError) as error:  # a known format, but damaged
        raise InvalidInput(f"the image cannot be read: {error}") from None
    with image:
        yield image
