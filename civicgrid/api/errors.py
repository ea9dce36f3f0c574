"""The one table from domain errors to HTTP: every refusal is JSON ``{"error", "detail"}``."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException

from civicgrid.domain.errors import (
    Conflict,
    DomainError,
    InvalidInput,
    NotFound,
    RoleNotAllowed,
    TransitionNotAllowed,
    Unauthenticated,
)

STATUS: dict[type[DomainError], int] = {
    Unauthenticated: 401,
    RoleNotAllowed: 403,
    NotFound: 404,
    TransitionNotAllowed: 409,
    Conflict: 409,
    InvalidInput: 422,
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
}


def _domain_error(_request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, DomainError)
    status = next(code for kind, code in STATUS.items() if isinstance(error, kind))
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
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


def install(app: FastAPI) -> None:
    """Register the handlers on ``app``."""
    app.add_exception_handler(DomainError, _domain_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
