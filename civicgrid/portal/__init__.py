"""The citizens' portal (市民服务门户) at /portal: a citizen reports a problem without an
account (the phone verified by an SMS code), follows it by number and phone, rates it after
closure (the case's call-back, 回访), and sees open problems on a public map. Server-rendered
pages on the staff pages' base, in Chinese, phone first."""

from __future__ import annotations

from fastapi import FastAPI

from civicgrid.api.middleware import MULTIPART_OVERHEAD
from civicgrid.settings import Settings

PREFIX = "/portal"
#: Where reports with their photos are sent: the body limit lets them carry the photos.
REPORT_PATH = f"{PREFIX}/report"


def report_body_limit(settings: Settings) -> int:
    """The largest body a report may send: its photos, and a little for the fields."""
    return max(settings.portal_max_photos, 1) * settings.max_upload_bytes + MULTIPART_OVERHEAD


def install(app: FastAPI, settings: Settings) -> None:
    """Serve the portal's pages on ``app`` unless ``CIVICGRID_PORTAL_ENABLED`` is off."""
    if not settings.portal_enabled:
        return
    from civicgrid.portal import routes

    app.include_router(routes.router)
