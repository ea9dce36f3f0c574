"""The Open311 GeoReport v2 endpoints (``/open311/v2/``) and the discovery document.

Every refusal answers in the spec's error body, in the format the path asks for: 403 for
a wrong or missing api_key, 404 for what does not exist (a service, a request, a format, a
jurisdiction), 400 for anything else that cannot be done."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from sqlalchemy import Row
from sqlalchemy.exc import OperationalError
from starlette.exceptions import HTTPException
from starlette.responses import Response

from civicgrid.api.deps import DbSession, Now, get_settings, rules_at, writing
from civicgrid.api.errors import RETRY_AFTER_SECONDS, ErrorOut
from civicgrid.domain.errors import (
    DomainError,
    NotFound,
    RoleNotAllowed,
    TooManyAttempts,
    Unauthenticated,
)
from civicgrid.open311 import mapping
from civicgrid.open311.formats import Format, errors, format_of_path, render
from civicgrid.open311.requests import MAX_REQUESTS, parse_body, parse_filters, parse_report
from civicgrid.open311.service import TOKEN_PREFIX, submit
from civicgrid.services import api_keys
from civicgrid.services.rate_limit import RateLimiter
from civicgrid.store import public_cases

SPECIFICATION = "http://wiki.open311.org/GeoReport_v2"
#: When this endpoint's behaviour last changed, as the discovery document says.
CHANGESET = "2026-11-26T00:00:00+08:00"


class Open311Route(APIRoute):
    """A route whose every refusal is written as the spec's error body."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def answer(request: Request) -> Response:
            try:
                return await handler(request)
            except Exception as error:  # every refusal, in the client's format
                return refusal(format_of_path(request.url.path), error)

        return answer


def refusal(fmt: Format, error: Exception) -> Response:
    """The spec's error response for ``error``; anything unexpected is raised on."""
    if isinstance(error, Unauthenticated | RoleNotAllowed):
        return errors(fmt, 403, error.detail)
    if isinstance(error, NotFound):
        return errors(fmt, 404, error.detail)
    if isinstance(error, TooManyAttempts):
        return errors(fmt, 429, error.detail, {"Retry-After": str(error.retry_after_seconds)})
    if isinstance(error, DomainError):
        return errors(fmt, 400, error.detail)
    if isinstance(error, RequestValidationError):
        if any(tuple(p["loc"]) == ("path", "fmt") for p in error.errors()):
            return errors(fmt, 404, "unknown format: use .json or .xml")
        problems = "; ".join(f"{'.'.join(map(str, p['loc']))}: {p['msg']}" for p in error.errors())
        return errors(fmt, 400, problems)
    if isinstance(error, HTTPException):
        return errors(fmt, error.status_code, str(error.detail))
    if isinstance(error, OperationalError):
        return errors(
            fmt,
            503,
            "the database is busy; nothing was stored, try again shortly",
            {"Retry-After": str(RETRY_AFTER_SECONDS)},
        )
    raise error


def check_jurisdiction(
    request: Request,
    jurisdiction_id: Annotated[str | None, Query(description="this centre's own; others are refused")] = None,
    api_key: Annotated[str | None, Query(description="accepted and ignored on reads")] = None,
) -> None:
    """Accept this centre's jurisdiction_id (or none); refuse another (404)."""
    expected = get_settings(request).open311_jurisdiction_id
    if jurisdiction_id and jurisdiction_id != expected:
        raise NotFound(
            f"jurisdiction_id '{jurisdiction_id}' was not found: this endpoint serves '{expected}'"
        )


Jurisdiction = Annotated[None, Depends(check_jurisdiction)]
Extensions = Annotated[bool, Query(description="add the detailed state (Chinese), channel and light")]

_ERROR_BODY = {
    "type": "array",
    "items": {
        "type": "object",
        "properties": {"code": {"type": "integer"}, "description": {"type": "string"}},
        "required": ["code", "description"],
    },
}


def _answer(description: str, schema: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
        "description": description,
        "content": {"application/json": {"schema": schema or {}}, "text/xml": {"schema": {"type": "string"}}},
    }


#: For the OpenAPI document: JSON or XML as the path's suffix asks, errors in the spec's body.
RESPONSES: dict[int | str, dict[str, Any]] = {
    200: _answer("the resource, in the format the suffix names (.json or .xml)"),
    400: _answer("the request cannot be fulfilled: the reason in the spec's error body", _ERROR_BODY),
    403: _answer("missing, invalid or revoked api_key, or a location outside the key's region", _ERROR_BODY),
    404: _answer("no such service, request, token, format or jurisdiction_id", _ERROR_BODY),
    413: {"description": "the request body is larger than the limit", "model": ErrorOut},
    429: _answer("this api_key's requests per minute are used up: retry after Retry-After", _ERROR_BODY),
    503: _answer("the database is busy: retry after Retry-After", _ERROR_BODY),
}

router = APIRouter(prefix="/open311", tags=["open311"], route_class=Open311Route, responses=RESPONSES)


@router.get("/discovery.{fmt}", summary="Open311 service discovery")
def discovery(fmt: Format, request: Request) -> Response:
    settings = get_settings(request)
    base = str(request.base_url).rstrip("/") + "/open311/v2"
    body = {
        "changeset": CHANGESET,
        "contact": settings.open311_contact,
        "key_service": "API keys are issued by the centre's administrators",
        "endpoints": [
            {
                "specification": SPECIFICATION,
                "url": base,
                "changeset": CHANGESET,
                "type": "production",
                "formats": ["text/xml", "application/json"],
            }
        ],
    }
    return render(fmt, "discovery", body)


@router.get("/v2/services.{fmt}", summary="Open311: the services (active small classes)")
def list_services(fmt: Format, session: DbSession, _jurisdiction: Jurisdiction) -> Response:
    return render(fmt, "services", [mapping.service(c) for c in public_cases.active_services(session)])


@router.get("/v2/services/{code}.{fmt}", summary="Open311: a service's definition (its questions)")
def service_definition(code: str, fmt: Format, session: DbSession, _jurisdiction: Jurisdiction) -> Response:
    category = public_cases.active_service(session, code)
    if category is None:
        raise NotFound(f"service_code '{code}' was not found")
    return render(fmt, "service_definition", mapping.service_definition(category))


async def read_body(request: Request) -> tuple[dict[str, Any], dict[str, list[str]]]:
    """The POST body's fields and attributes (read before the write transaction begins)."""
    return parse_body(request.headers.get("content-type", ""), await request.body())


Body = Annotated[tuple[dict[str, Any], dict[str, list[str]]], Depends(read_body)]


@router.post("/v2/requests.{fmt}", summary="Open311: report a problem (api_key required)")
def create_request(fmt: Format, body: Body, request: Request, now: Now) -> Response:
    fields, attributes = body
    settings = get_settings(request)
    key_text = fields.get("api_key")
    if not isinstance(key_text, str) or not key_text:
        raise Unauthenticated("api_key is required to create a service request")
    # The transaction opens and commits in this call: reports from many clients take turns
    # at the write lock for their own work only.
    with writing(request) as session:
        key, calendar_revision = api_keys.authenticate_key(session, key_text, secret_key=settings.secret_key)
        limiter: RateLimiter = request.app.state.open311_limiter
        limiter.hit(key.id, now)
        report = parse_report(fields, attributes)
        check_jurisdiction(request, report.fields.jurisdiction_id)
        case = submit(session, key, report, rules_at(request, session, calendar_revision), now)
        reply = {
            "service_request_id": case.number,
            "service_notice": mapping.service_notice(case.category.closure_standard),
            "account_id": report.fields.account_id,
        }
    return render(fmt, "service_requests", [reply])


def _requests(
    request: Request, session: DbSession, cases: list[Row[Any]], now: Now, extensions: bool
) -> list[dict[str, Any]]:
    zone = ZoneInfo(get_settings(request).timezone)
    notes = public_cases.latest_public_notes(session, [case.id for case in cases]) if cases else {}
    return [mapping.service_request(case, notes.get(case.id), zone, now, extensions) for case in cases]


@router.get("/v2/requests.{fmt}", summary="Open311: service requests (90 days, 1,000 at most)")
def list_requests(
    fmt: Format,
    request: Request,
    session: DbSession,
    now: Now,
    _jurisdiction: Jurisdiction,
    service_request_id: Annotated[str | None, Query(description="comma list; overrides the rest")] = None,
    service_code: Annotated[str | None, Query(description="comma list")] = None,
    start_date: Annotated[str | None, Query()] = None,
    end_date: Annotated[str | None, Query()] = None,
    status: Annotated[str | None, Query(description="open, closed, or both comma-separated")] = None,
    extensions: Extensions = False,
) -> Response:
    filters = parse_filters(now, service_request_id, service_code, start_date, end_date, status)
    if filters.numbers:
        cases = public_cases.by_numbers(session, filters.numbers)
    else:
        cases = public_cases.listed(
            session,
            start=filters.start,
            end=filters.end,
            service_codes=filters.service_codes,
            states=mapping.states_of(filters.statuses),
            limit=MAX_REQUESTS,
        )
    return render(fmt, "service_requests", _requests(request, session, cases, now, extensions))


@router.get("/v2/requests/{number}.{fmt}", summary="Open311: one service request (an array of one)")
def get_request(
    number: str,
    fmt: Format,
    request: Request,
    session: DbSession,
    now: Now,
    _jurisdiction: Jurisdiction,
    extensions: Extensions = False,
) -> Response:
    cases = public_cases.by_numbers(session, [number])
    if not cases:
        raise NotFound(f"service_request_id '{number}' was not found")
    return render(fmt, "service_requests", _requests(request, session, cases, now, extensions))


@router.get("/v2/tokens/{token}.{fmt}", summary="Open311: the service request a token became")
def get_token(token: str, fmt: Format, session: DbSession, _jurisdiction: Jurisdiction) -> Response:
    case = public_cases.by_token(session, token) if token.startswith(TOKEN_PREFIX) else None
    if case is None:
        raise NotFound(f"token '{token}' was not found")
    return render(fmt, "service_requests", [{"service_request_id": case.number, "token": token}])
