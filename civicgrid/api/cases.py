"""Case routes: register, list, read, act, and the duplicate hint at intake."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Query, Request
from fastapi.responses import StreamingResponse

from civicgrid.api.deps import Actor, AppSettings, DbSession, Now, Rules
from civicgrid.api.downloads import DOWNLOAD_RESPONSES, FormatParam, case_download
from civicgrid.api.errors import ERROR_RESPONSES
from civicgrid.api.present import case_detail, case_summary, case_view
from civicgrid.domain.vocabulary import Action, CoordinateSystem
from civicgrid.schemas import (
    COUNT_LIMIT,
    CaseCreate,
    CaseDetail,
    CaseFilters,
    CasePage,
    CasePublic,
    CodeRef,
    Cursor,
    NearbyCase,
    NearbyCases,
    TransitionRequest,
    decode_cursor,
    encode_cursor,
)
from civicgrid.services import cases as case_service
from civicgrid.services import duplicates
from civicgrid.store import cases as case_queries

router = APIRouter(prefix="/api/v1/cases", tags=["cases"], responses=ERROR_RESPONSES)


@router.post(
    "",
    status_code=201,
    response_model=CaseDetail | CasePublic,
    summary="Register a case (any channel); a citizen gets the public view",
)
def create_case(
    data: CaseCreate, session: DbSession, actor: Actor, rules: Rules, now: Now
) -> CaseDetail | CasePublic:
    case = case_service.create_case(session, actor, data, rules, now)
    return case_view(case, actor, now)


@router.get("", response_model=CasePage, summary="List the cases you may see, filtered, newest first")
def list_cases(
    session: DbSession,
    actor: Actor,
    now: Now,
    filters: Annotated[CaseFilters, Query()],
    cursor: Annotated[
        Cursor | None, Query(description="the next_cursor of the page before; none for the first page")
    ] = None,
    page_size: Annotated[int, Query(ge=1, le=200)] = 50,
) -> CasePage:
    query = case_queries.filtered(session, actor, filters, now)
    rows, following = case_queries.page(session, query, decode_cursor(cursor) if cursor else None, page_size)
    total, more = case_queries.count_list(
        session, query, filters, lambda some: case_queries.filtered(session, actor, some, now), COUNT_LIMIT
    )
    return CasePage(
        items=[case_summary(c, now) for c in rows],
        page_size=page_size,
        next_cursor=encode_cursor(following) if following else None,
        total=total,
        total_is_estimate=more,
        total_display=f"{total:,}+" if more else f"{total:,}",
    )


@router.get(
    "/export",
    response_class=StreamingResponse,
    responses=DOWNLOAD_RESPONSES,
    summary="The case list as a CSV or xlsx file: every case you may see that matches the list's "
    "filters, newest first, streamed",
)
def export_cases(
    request: Request,
    session: DbSession,
    actor: Actor,
    rules: Rules,
    now: Now,
    filters: Annotated[CaseFilters, Query()],
    file_format: FormatParam,
) -> StreamingResponse:
    query = case_queries.filtered(session, actor, filters, now)
    return case_download(request, query, now, rules.calendar.timezone, file_format, "案件列表", "cases")


@router.get(
    "/nearby",
    response_model=NearbyCases,
    summary="Open cases of the same category near a point, before registering it (duplicate hint)",
)
def nearby_cases(
    session: DbSession,
    actor: Actor,
    settings: AppSettings,
    now: Now,
    category_code: Annotated[CodeRef, Query(description="the small class of the report")],
    lng: Annotated[float, Query(ge=-180, le=180, allow_inf_nan=False)],
    lat: Annotated[float, Query(ge=-90, le=90, allow_inf_nan=False)],
    crs: Annotated[CoordinateSystem, Query(description="how lng/lat are written")] = CoordinateSystem.WGS84,
    limit: Annotated[int, Query(ge=1, le=50)] = 20,
) -> NearbyCases:
    """Cases in the point's grid or within ``CIVICGRID_DUPLICATE_RADIUS_M`` metres of it,
    registered in the last ``CIVICGRID_DUPLICATE_DAYS`` days, that you may see."""
    found = duplicates.nearby_cases(
        session,
        actor,
        category_code,
        lng,
        lat,
        crs,
        radius_m=settings.duplicate_radius_m,
        days=settings.duplicate_days,
        now=now,
        limit=limit,
    )
    return NearbyCases(
        grid_code=found.grid_code,
        radius_m=settings.duplicate_radius_m,
        days=settings.duplicate_days,
        items=[
            NearbyCase(
                **case_summary(near.case, now).model_dump(),
                distance_m=round(near.distance_m, 1) if near.distance_m is not None else None,
                same_grid=near.same_grid,
            )
            for near in found.cases
        ],
    )


@router.get(
    "/{number}",
    response_model=CaseDetail | CasePublic,
    summary="A case file with its timeline; a citizen gets the public view (states and public notes)",
)
def get_case(number: str, session: DbSession, actor: Actor, now: Now) -> CaseDetail | CasePublic:
    return case_view(case_queries.get_visible(session, actor, number, case_file=True), actor, now)


@router.post(
    "/{number}/actions/{action}",
    response_model=CaseDetail,
    summary="Take an action on a case (dispatch, accept, handle, check, close …)",
)
def act(
    number: str,
    action: Action,
    session: DbSession,
    actor: Actor,
    rules: Rules,
    now: Now,
    # No body means no fields; an explicit JSON null is refused (422), not read as {}.
    request: Annotated[TransitionRequest, Body(default_factory=TransitionRequest)],
) -> CaseDetail:
    case = case_service.transition(session, actor, number, action, request, rules, now)
    return case_detail(case, actor, now)
