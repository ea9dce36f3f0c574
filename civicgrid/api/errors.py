"""The one table from domain errors to HTTP: every refusal is JSON ``{"error", "detail"}``."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy.exc import OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException

from civicgrid.domain.errors import (
    Conflict,
    DomainError,
    InvalidInput,
    NotFound,
    RoleNotAllowed,
    TooManyAttempts,
    TransitionNotAllowed,
    Unauthenticated,
)

log = logging.getLogger(__name__)

#: Seconds a client is told to wait when the database is busy or unreachable.
RETRY_AFTER_SECONDS = 1

STATUS: dict[type[DomainError], int] = {
    Unauthenticated: 401,
    RoleNotAllowed: 403,
    NotFound: 404,
    TransitionNotAllowed: 409,
    Conflict: 409,
    InvalidInput: 422,
    TooManyAttempts: 429,
}


class ErrorOut(BaseModel):
    """Every error the API answers with."""

    error: str
    detail: Any


#: For the OpenAPI document: what each status means on any route.
ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorOut, "description": "no valid token"},
    403: {"model": ErrorOut, "description": "role or scope does not allow it"},
    404: {"model": ErrorOut, "description": "not found, or not visible to you"},
    409: {"model": ErrorOut, "description": "state does not allow it, or a conflicting write"},
    422: {"model": ErrorOut, "description": "invalid input, with the field or rule at fault"},
    503: {"model": ErrorOut, "description": "the database is busy or unreachable: retry after Retry-After"},
}

#: For the OpenAPI document of sign-in.
THROTTLE_RESPONSES: dict[int | str, dict[str, Any]] = {
    429: {"model": ErrorOut, "description": "too many failed sign-ins: retry after Retry-After (seconds)"},
}


def _domain_error(_request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, DomainError)
    status = next(code for kind, code in STATUS.items() if isinstance(error, kind))
    headers = None
    if isinstance(error, Unauthenticated):
        headers = {"WWW-Authenticate": "Bearer"}
    elif isinstance(error, TooManyAttempts):
        headers = {"Retry-After": str(error.retry_after_seconds)}
    return JSONResponse({"error": error.code, "detail": error.detail}, status_code=status, headers=headers)


def _validation_error(_request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, RequestValidationError)
    problems = [
        {"where": ".".join(str(part) for part in problem["loc"]), "problem": problem["msg"]}
        for problem in error.errors()
    ]
    return JSONResponse({"error": "invalid_request", "detail": jsonable_encoder(problems)}, status_code=422)


def _http_error(_request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, StarletteHTTPException)
    return JSONResponse(
        {"error": "http_error", "detail": error.detail}, status_code=error.status_code, headers=error.headers
    )


def _database_unavailable(_request: Request, error: Exception) -> JSONResponse:
    # OperationalError is the database saying it cannot do the work now (SQLite's write lock
    # not free within the busy timeout, a lost PostgreSQL connection): nothing was stored,
    # and the same request can simply be sent again.
    assert isinstance(error, OperationalError)
    log.warning("database unavailable: %s", error.orig)
    return JSONResponse(
        {"error": "database_busy", "detail": "the database is busy; nothing was stored, try again shortly"},
        status_code=503,
        headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
    )


def install(app: FastAPI) -> None:
    """Register the handlers on ``app``."""
    app.add_exception_handler(DomainError, _domain_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(OperationalError, _database_unavailable)
