"""The FastAPI application: JSON API under /api/v1, documented at /docs (OpenAPI)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import Depends, FastAPI
from sqlalchemy import Engine

from civicgrid import __version__, portal, web
from civicgrid.api import (
    api_keys,
    attachments,
    auth,
    briefings,
    calendar,
    cases,
    dashboard,
    directory,
    docs,
    errors,
    geo,
    health,
    notifications,
    publications,
    statistics,
    territory,
)
from civicgrid.api.admission import AdmissionMiddleware
from civicgrid.api.middleware import BodyLimitMiddleware, RequestIdMiddleware, SecurityHeadersMiddleware
from civicgrid.api.read_your_writes import LsnHeaderMiddleware
from civicgrid.api.strict import strict_request
from civicgrid.evaluation_file import default_scheme_path, load_scheme
from civicgrid.exchange import routes as exchange
from civicgrid.live import routes as live
from civicgrid.open311 import routes as open311
from civicgrid.services import briefings as briefing_service
from civicgrid.services import dashboard as dashboard_service
from civicgrid.services.rate_limit import RateLimiter
from civicgrid.settings import Settings, get_settings
from civicgrid.store.db import make_engine, make_session_factory
from civicgrid.store.files import FileStore
from civicgrid.store.replicas import ReplicaRouter


@asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    yield
    hub = getattr(app.state, "live_hub", None)
    if hub is not None:  # the server stops: its live connections end, the clients reconnect
        hub.close()


def create_app(
    settings: Settings | None = None, engine: Engine | None = None, replicas: ReplicaRouter | None = None
) -> FastAPI:
    """The application for ``settings`` (default: from the environment) on ``engine``
    (default: one for ``settings.database_url``; the schema must be migrated), reading from
    ``replicas`` (default: those of ``settings.database_replica_urls``, if any)."""
    settings = settings or get_settings()
    engine = engine or make_engine(
        settings.database_url,
        busy_timeout_ms=settings.sqlite_busy_timeout_ms,
        synchronous=settings.sqlite_synchronous,
    )
    app = FastAPI(
        title="civicgrid",
        version=__version__,
        description="Command-centre API for grid-based urban governance (网格化综合管理): "
        "register cases from every channel, dispatch, handle, check, close, call back.",
        dependencies=[Depends(strict_request)],
        docs_url=None,
        redoc_url=None,
        swagger_ui_oauth2_redirect_url=None,
        lifespan=_lifespan,
    )
    app.state.settings = settings
    # A scheme with a mistake stops the server here, with the reason (see check-scheme).
    app.state.scheme = load_scheme(
        Path(settings.evaluation_scheme) if settings.evaluation_scheme else default_scheme_path()
    )
    app.state.engine = engine
    app.state.session_factory = make_session_factory(engine)
    # Reads that must see the primary (sign-in's throttle, the admin check before a write).
    app.state.read_session_factory = make_session_factory(engine, read_only=True)
    if replicas is None and settings.replica_urls:
        replicas = ReplicaRouter(
            engine, settings.replica_urls, max_lag_seconds=settings.replica_max_lag_seconds
        )
    app.state.replicas = replicas
    # Built from the stored calendar on the first request, rebuilt when it changes (deps.get_rules).
    app.state.rules = None
    app.state.file_store = FileStore(settings.files_path)
    app.state.open311_limiter = RateLimiter(settings.open311_rate_limit)
    app.state.dashboards = dashboard_service.Recent()
    # The briefings' masthead; a logo that is not an image stops the server here, with the reason.
    app.state.masthead = briefing_service.masthead(settings)
    errors.install(app)
    # Added innermost first: headers wrap everything, so even a 500 or a 413 carries them.
    app.add_middleware(LsnHeaderMiddleware)
    app.add_middleware(
        BodyLimitMiddleware,
        max_bytes=settings.max_body_bytes,
        larger={
            territory.IMPORT_PATH: settings.territory_max_bytes,
            portal.REPORT_PATH: portal.report_body_limit(settings),
        },
        uploads={attachments.UPLOAD_PATH: 1, web.FORM_UPLOAD_PATH: settings.web_max_photos},
        max_upload_bytes=settings.max_upload_bytes,
    )
    app.add_middleware(
        AdmissionMiddleware, limit=settings.admitted_requests, max_wait=settings.admission_wait_ms / 1000
    )
    app.add_middleware(RequestIdMiddleware)
    app.add_middleware(SecurityHeadersMiddleware, private_prefix="/api/")
    app.include_router(auth.router)
    app.include_router(cases.router)
    app.include_router(attachments.router)
    app.include_router(directory.router)
    app.include_router(calendar.router)
    app.include_router(territory.router)
    app.include_router(geo.router)
    app.include_router(statistics.router)
    app.include_router(dashboard.router)
    app.include_router(exchange.router)
    app.include_router(publications.router)
    app.include_router(briefings.router)
    app.include_router(health.router)
    app.include_router(api_keys.router)
    app.include_router(open311.router)
    app.include_router(notifications.router)
    app.include_router(live.router)
    docs.install(app)
    web.install(app, settings)
    portal.install(app, settings)
    return app


def create_app_from_environment() -> FastAPI:
    """The application as each server worker process builds it: settings from the environment
    (and .env), its own engine (``civicgrid serve --workers N`` has migrated the schema)."""
    return create_app()
