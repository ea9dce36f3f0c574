"""The FastAPI application: JSON API under /api/v1, documented at /docs (OpenAPI)."""

from __future__ import annotations

from fastapi import FastAPI
from sqlalchemy import Engine

from civicgrid import __version__
from civicgrid.api import auth, calendar, cases, directory, errors
from civicgrid.settings import Settings, get_settings
from civicgrid.store.db import make_engine, make_session_factory


def create_app(settings: Settings | None = None, engine: Engine | None = None) -> FastAPI:
    """The application for ``settings`` (default: from the environment) on ``engine``
    (default: one for ``settings.database_url``; the schema must be migrated)."""
    settings = settings or get_settings()
    engine = engine or make_engine(settings.database_url)
    app = FastAPI(
        title="civicgrid",
        version=__version__,
        description="Command-centre API for grid-based urban governance (网格化综合管理): "
        "register cases from every channel, dispatch, handle, check, close, call back.",
    )
    app.state.settings = settings
    app.state.engine = engine
    app.state.session_factory = make_session_factory(engine)
    # Built from the stored calendar on the first request, rebuilt when it changes (deps.get_rules).
    app.state.rules = None
    errors.install(app)
    app.include_router(auth.router)
    app.include_router(cases.router)
    app.include_router(directory.router)
    app.include_router(calendar.router)

    @app.get("/healthz", tags=["meta"], summary="Liveness")
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    return app
