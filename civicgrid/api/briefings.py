"""Briefing routes (简报: 日报, 周报, 月报): a briefing made on demand as a file (PDF, xlsx or
HTML) for the reader's own scope, the briefings the schedules stored, and the schedules
(admins, for the regions of their subtree)."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Path, Query, Request, Response
from starlette.responses import FileResponse

from civicgrid.api.attachments import FILE_HEADERS, Files
from civicgrid.api.deps import Actor, DbSession, Now, Rules
from civicgrid.api.errors import ERROR_RESPONSES
from civicgrid.api.statistics import RegionParam
from civicgrid.briefings.content import BriefingRequest
from civicgrid.domain.briefings import BRIEFING_KIND_LABELS, FORMAT_TYPES, BriefingFormat, BriefingKind
from civicgrid.domain.errors import NotFound
from civicgrid.schemas import Line
from civicgrid.schemas_briefings import (
    BriefingFileOut,
    ScheduleIn,
    ScheduleOut,
    SchedulePatch,
    StoredBriefingOut,
    StoredBriefingPage,
)
from civicgrid.services import briefings as service
from civicgrid.store.models import Briefing, BriefingSchedule

router = APIRouter(prefix="/api/v1/briefings", tags=["briefings"], responses=ERROR_RESPONSES)

#: Ids fit the store's integer column on every backend.
Id = Annotated[int, Path(ge=1, le=2**31 - 1)]
DOCUMENT_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "the briefing, as a file to save",
        "content": {FORMAT_TYPES[kind][0].split(";")[0]: {} for kind in BriefingFormat},
    }
}


def _disposition(filename: str) -> str:
    # An ASCII fallback for old clients, the real (Chinese) name as RFC 5987 says.
    return f"attachment; filename=\"briefing{filename[filename.rfind('.') :]}\"; filename*=UTF-8''{quote(filename)}"


def schedule_out(schedule: BriefingSchedule) -> ScheduleOut:
    return ScheduleOut(
        id=schedule.id,
        kind=schedule.kind,
        kind_label=BRIEFING_KIND_LABELS[schedule.kind],
        region_code=schedule.region.code,
        region_name=schedule.region.name,
        formats=[BriefingFormat(kind) for kind in schedule.formats],
        title=schedule.title,
        hour=schedule.hour,
        is_active=schedule.is_active,
        created_at=schedule.created_at,
        created_by=schedule.created_by.username if schedule.created_by else None,
    )


def stored_out(briefing: Briefing) -> StoredBriefingOut:
    return StoredBriefingOut(
        id=briefing.id,
        schedule_id=briefing.schedule_id,
        kind=briefing.kind,
        kind_label=BRIEFING_KIND_LABELS[briefing.kind],
        region_code=briefing.region.code,
        region_name=briefing.region.name,
        period_start=briefing.period_start,
        period_end=briefing.period_end,
        period_label=briefing.period_label,
        title=briefing.title,
        created_at=briefing.created_at,
        files=[
            BriefingFileOut(
                format=file.format,
                content_type=file.content_type,
                filename=file.filename,
                size_bytes=file.size_bytes,
                url=f"{router.prefix}/stored/{briefing.id}/{file.format.value}",
            )
            for file in briefing.files
        ],
    )


@router.get("", response_model=StoredBriefingPage, summary="The briefings the schedules stored, newest first")
def list_stored(
    session: DbSession,
    actor: Actor,
    kind: Annotated[BriefingKind | None, Query(description="daily, weekly or monthly")] = None,
    region: RegionParam = None,
    before_id: Annotated[
        int | None, Query(ge=1, le=2**31 - 1, description="the next_before_id of the page before")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> StoredBriefingPage:
    rows, following = service.stored_page(
        session, actor, kind=kind, region_code=region, before_id=before_id, limit=limit
    )
    return StoredBriefingPage(items=[stored_out(row) for row in rows], next_before_id=following)


@router.get(
    "/stored/{briefing_id}/{file_format}",
    response_class=FileResponse,
    summary="A stored briefing's file",
    responses=DOCUMENT_RESPONSES,
)
def download_stored(
    briefing_id: Id, file_format: BriefingFormat, session: DbSession, actor: Actor, files: Files
) -> FileResponse:
    found = service.stored_file(session, actor, briefing_id, file_format)
    path = files.path(found.sha256)
    if not path.is_file():
        raise NotFound(
            f"the {file_format.value} file of briefing {briefing_id} is missing from the file store"
        )
    return FileResponse(
        path,
        media_type=found.content_type,
        headers={**FILE_HEADERS, "Content-Disposition": _disposition(found.filename)},
    )


@router.get("/schedules", response_model=list[ScheduleOut], summary="The briefing schedules (admins)")
def list_schedules(session: DbSession, actor: Actor) -> list[ScheduleOut]:
    return [schedule_out(schedule) for schedule in service.list_schedules(session, actor)]


@router.post(
    "/schedules",
    status_code=201,
    response_model=ScheduleOut,
    summary="Schedule a briefing: daily each morning, weekly each Monday, monthly on the 1st (admins)",
)
def create_schedule(data: ScheduleIn, session: DbSession, actor: Actor, now: Now) -> ScheduleOut:
    return schedule_out(service.create_schedule(session, actor, data, now))


@router.patch(
    "/schedules/{schedule_id}", response_model=ScheduleOut, summary="Change a briefing schedule (admins)"
)
def update_schedule(schedule_id: Id, data: SchedulePatch, session: DbSession, actor: Actor) -> ScheduleOut:
    return schedule_out(service.update_schedule(session, actor, schedule_id, data))


@router.delete(
    "/schedules/{schedule_id}",
    status_code=204,
    summary="Delete a briefing schedule; the briefings it stored stay (admins)",
)
def delete_schedule(schedule_id: Id, session: DbSession, actor: Actor) -> None:
    service.delete_schedule(session, actor, schedule_id)


@router.get(
    "/{kind}",
    response_class=Response,
    summary="Make a briefing now, for your own scope, as a PDF (A4), an xlsx workbook or an HTML page; "
    "nothing is stored",
    responses=DOCUMENT_RESPONSES,
)
def generate(
    kind: BriefingKind,
    request: Request,
    session: DbSession,
    actor: Actor,
    now: Now,
    rules: Rules,
    day: Annotated[
        date | None,
        Query(alias="date", description="a day in the period; default yesterday (not in the future)"),
    ] = None,
    region: RegionParam = None,
    file_format: Annotated[
        BriefingFormat, Query(alias="format", description="pdf, xlsx or html")
    ] = BriefingFormat.PDF,
    title: Annotated[
        Line | None, Query(min_length=1, max_length=200, description="a masthead of your own")
    ] = None,
) -> Response:
    document = service.generate(
        session,
        actor,
        BriefingRequest(kind, day, region, title),
        file_format,
        now,
        zone=rules.calendar.timezone,
        scheme=request.app.state.scheme,
        heading=request.app.state.masthead,
    )
    return Response(
        document.data,
        media_type=document.content_type,
        headers={**FILE_HEADERS, "Content-Disposition": _disposition(document.filename)},
    )
