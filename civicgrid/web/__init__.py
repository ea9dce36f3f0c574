"""The command-centre pages (DESIGN.md §5): server-rendered templates on the same services
as the API, served by the same app at ``/``; htmx for partial updates, from the pinned npm
package, never a CDN."""

from __future__ import annotations

import logging
from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from civicgrid.settings import Settings
from civicgrid.web import admin, notifications, routes

logger = logging.getLogger("civicgrid.web")

STATIC = Path(__file__).parent / "static"
#: ``npm ci`` at the top of the checkout puts the libraries here (package.json pins them).
CHECKOUT_ASSETS = Path(__file__).resolve().parents[2] / "node_modules"


def assets_dir(settings: Settings) -> Path:
    """Where the pages' front-end libraries were installed."""
    return Path(settings.web_assets_dir) if settings.web_assets_dir else CHECKOUT_ASSETS


def install(app: FastAPI, settings: Settings) -> None:
    """Serve the pages, their own static files and the installed libraries on ``app``."""
    app.mount("/static", StaticFiles(directory=STATIC), name="web-static")
    assets = assets_dir(settings)
    if not (assets / "htmx.org").is_dir():
        # The pages still work as plain forms; only their partial updates need htmx.
        logger.warning("front-end libraries not found in %s: run `npm ci` in the checkout", assets)
    app.mount("/assets", StaticFiles(directory=assets, check_dir=False), name="web-assets")
    app.include_router(routes.router)
    app.include_router(admin.router)
    app.include_router(notifications.router)
