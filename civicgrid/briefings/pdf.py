"""The briefing as a PDF for A4 print, laid out by WeasyPrint from the HTML page.

WeasyPrint draws text with pango (Debian: libpango-1.0-0, libpangoft2-1.0-0) and the
fonts fontconfig finds (fonts-noto-cjk for Chinese). The page carries everything inline, so
nothing is ever fetched: any other URL is refused.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from PIL import ImageFile

from civicgrid.briefings import html
from civicgrid.briefings.content import Briefing


class PdfUnavailable(RuntimeError):
    """WeasyPrint cannot run here (its system libraries are missing)."""


def _weasyprint() -> Any:
    """WeasyPrint, imported without its side effect on Pillow: it makes every process that
    imports it accept truncated images, and the upload checks must go on refusing a photo
    that is cut short (civicgrid.media)."""
    strict = ImageFile.LOAD_TRUNCATED_IMAGES
    import weasyprint

    ImageFile.LOAD_TRUNCATED_IMAGES = strict
    return weasyprint


def render(briefing: Briefing, images: Mapping[str, bytes] | None = None) -> bytes:
    """The PDF of the briefing; ``images`` are its charts drawn already, if any."""
    try:
        weasyprint = _weasyprint()
    except (ImportError, OSError) as error:  # WeasyPrint, or pango under it, is not installed
        raise PdfUnavailable(
            "PDF briefings need WeasyPrint and pango (Debian: apt-get install libpango-1.0-0 "
            f"libpangoft2-1.0-0 fonts-noto-cjk): {error}"
        ) from None
    page = html.render(briefing, images, for_print=True)
    fetcher = weasyprint.URLFetcher(allowed_protocols=("data",))
    document = weasyprint.HTML(string=page, url_fetcher=fetcher)
    # The document's title (its metadata) is the page's <title>.
    pdf: bytes = document.write_pdf()
    return pdf
