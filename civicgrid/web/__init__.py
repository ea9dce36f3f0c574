"""The command-centre pages (DESIGN.md §5): server-rendered templates on the same services
as the API, served by the same app at ``/``; htmx for partial updates, from the pinned npm
package, never a CDN."""

from __future__ import annotations

import logging
import re
from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from civicgrid.settings import Settings
from civicgrid.web import admin, notifications, overview, photos, routes

logger = logging.getLogger("civicgrid.web")

STATIC = Path(__file__).parent / "static"
#: ``npm ci`` at the top of the checkout puts the libraries here (package.json pins them).
CHECKOUT_ASSETS = Path(__file__).resolve().parents[2] / "node_modules"
#: The pages' forms that carry photos (intake, a case action): their bodies may hold up to
#: ``CIVICGRID_WEB_MAX_PHOTOS`` files of ``CIVICGRID_MAX_UPLOAD_BYTES`` each.
FORM_UPLOAD_PATH = re.compile(r"/cases|/cases/[^/]+/actions/[^/]+")


def assets_dir(settings: Settings) -> Path:
    """Where the pages' front-end libraries were installed."""
    return Path(settings.web_assets_dir) if settings.web_assets_dir else CHECKOUT_ASSETS


def install(app: FastAPI, settings: Settings) -> None:
    """Serve the pages, their own static files and the installed libraries on ``app``."""
    app.mount("/static", StaticFiles(directory=STATIC), name="web-static")
    assets = assets_dir(settings)
    if not (assets / "htmx.org").is_dir() or not (assets / "leaflet").is_dir():
        # The pages still work as plain forms; only their partial updates and maps need these.
        logger.warning("front-end libraries not found in %s: run `npm ci` in the checkout", assets)
    app.mount("/assets", StaticFiles(directory=assets, check_dir=False), name="web-assets")
    app.include_router(routes.router)
    app.include_router(photos.router)
    app.include_router(admin.router)
    app.include_router(notifications.router)
    app.include_router(overview.router)
