"""Probes for the process supervisor: liveness (the process answers) and readiness (the
database answers and its schema is the newest)."""

from __future__ import annotations

import logging

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from sqlalchemy.exc import SQLAlchemyError

from civicgrid.api.errors import ErrorOut, error_response
from civicgrid.store.migrate import is_current

logger = logging.getLogger("civicgrid.api")

router = APIRouter(tags=["meta"])


@router.get("/healthz", summary="Liveness: the process answers (touches nothing else)")
def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get(
    "/readyz",
    response_model=None,
    summary="Readiness: the database answers and is migrated to the newest schema",
    responses={503: {"model": ErrorOut, "description": "not ready: the detail says why"}},
)
def readyz(request: Request) -> JSONResponse:
    try:
        with request.app.state.session_factory() as session:
            current = is_current(session.connection())
    except SQLAlchemyError:
        logger.warning("not ready: the database does not answer", exc_info=True)
        return error_response(request.scope, 503, "not_ready", "the database does not answer")
    if not current:
        return error_response(
            request.scope, 503, "not_ready", "the database schema is not the newest: run civicgrid init-db"
        )
    return JSONResponse({"status": "ok"})
