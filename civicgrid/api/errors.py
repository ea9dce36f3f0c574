"""The one table from errors to HTTP: every refusal is JSON ``{"error", "detail", "request_id"}``."""

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
from starlette.types import Scope

from civicgrid.domain.errors import (
    Conflict,
    DomainError,
    InvalidInput,
    NotFound,
    RoleNotAllowed,
    TooLarge,
    TooManyAttempts,
    TransitionNotAllowed,
    Unauthenticated,
    UnsupportedFile,
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
    TooLarge: 413,
    UnsupportedFile: 415,
    TooManyAttempts: 429,
}

#: The ``error`` code of refusals the framework raises (unknown path, wrong method …).
HTTP_ERRORS: dict[int, str] = {
    400: "bad_request",
    404: "not_found",
    405: "method_not_allowed",
    413: "body_too_large",
}

#: Where the request-id middleware keeps the id, in the request's state.
REQUEST_ID = "request_id"


class ErrorOut(BaseModel):
    """Every error the API answers with."""

    error: str
    detail: Any
    request_id: str


#: For the OpenAPI document: what each status means on any route.
ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorOut, "description": "the body cannot be parsed (not JSON, or not UTF-8)"},
    401: {"model": ErrorOut, "description": "no valid token"},
    403: {"model": ErrorOut, "description": "role or scope does not allow it"},
    404: {"model": ErrorOut, "description": "not found, or not visible to you"},
    409: {"model": ErrorOut, "description": "state does not allow it, or a conflicting write"},
    413: {"model": ErrorOut, "description": "the request body is larger than the limit"},
    422: {"model": ErrorOut, "description": "invalid input, with the field or rule at fault"},
    503: {"model": ErrorOut, "description": "the database is busy or unreachable: retry after Retry-After"},
    500: {"model": ErrorOut, "description": "an unexpected error; quote the request id"},
}

#: For the OpenAPI document of an upload.
UPLOAD_RESPONSES: dict[int | str, dict[str, Any]] = {
    415: {"model": ErrorOut, "description": "the file is not a photo (JPEG, PNG, WebP) or a PDF document"},
}

#: For the OpenAPI document of sign-in.
THROTTLE_RESPONSES: dict[int | str, dict[str, Any]] = {
    429: {"model": ErrorOut, "description": "too many failed sign-ins: retry after Retry-After (seconds)"},
}


def request_id(scope: Scope) -> str:
    """The id the middleware gave this request ('' outside it)."""
    return str(scope.get("state", {}).get(REQUEST_ID, ""))


def error_response(
    scope: Scope, status: int, error: str, detail: Any, headers: dict[str, str] | None = None
) -> JSONResponse:
    """The error body every refusal uses."""
    body = {"error": error, "detail": jsonable_encoder(detail), "request_id": request_id(scope)}
    return JSONResponse(body, status_code=status, headers=headers)


def _domain_error(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, DomainError)
    status = next(code for kind, code in STATUS.items() if isinstance(error, kind))
    headers = None
    if isinstance(error, Unauthenticated):
        headers = {"WWW-Authenticate": "Bearer"}
    elif isinstance(error, TooManyAttempts):
        headers = {"Retry-After": str(error.retry_after_seconds)}
    return error_response(request.scope, status, error.code, error.detail, headers)


def _validation_error(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, RequestValidationError)
    problems = [
        {"where": ".".join(str(part) for part in problem["loc"]), "problem": problem["msg"]}
        for problem in error.errors()
    ]
    return error_response(request.scope, 422, "invalid_request", problems)


def _http_error(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, StarletteHTTPException)
    code = HTTP_ERRORS.get(error.status_code, "http_error")
    return error_response(request.scope, error.status_code, code, error.detail, error.headers)


def _database_unavailable(request: Request, error: Exception) -> JSONResponse:
    # OperationalError is the database saying it cannot do the work now (SQLite's write lock
    # not free within the busy timeout, a lost PostgreSQL connection): nothing was stored,
    # and the same request can simply be sent again.
    assert isinstance(error, OperationalError)
    log.warning("database unavailable: %s", error.orig)
    return error_response(
        request.scope,
        503,
        "database_busy",
        "the database is busy; nothing was stored, try again shortly",
        {"Retry-After": str(RETRY_AFTER_SECONDS)},
    )


def install(app: FastAPI) -> None:
    """Register the handlers on ``app``."""
    app.add_exception_handler(DomainError, _domain_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(OperationalError, _database_unavailable)
