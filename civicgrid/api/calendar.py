"""Working-calendar routes: what it knows, a year's arrangement, and loading one (admin)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Body, Path, Request, Response

from civicgrid.api.deps import Actor, DbSession, Now, get_settings
from civicgrid.api.errors import ERROR_RESPONSES
from civicgrid.calendar_file import FIRST_YEAR, LAST_YEAR, format_calendar
from civicgrid.domain.errors import NotFound
from civicgrid.schemas import CalendarLoadOut, CalendarOut, LoadedYearOut
from civicgrid.services import calendar as calendar_service
from civicgrid.services.calendar import CalendarStatus
from civicgrid.settings import Settings

router = APIRouter(prefix="/api/v1/calendar", tags=["calendar"], responses=ERROR_RESPONSES)

Year = Annotated[int, Path(ge=FIRST_YEAR, le=LAST_YEAR, description="e.g. 2027")]
#: A year's file is a few kilobytes; anything far larger is not one.
MAX_FILE_CHARACTERS = 100_000
EXAMPLE = "date,type,name\n2026-01-01,holiday,元旦\n2026-01-04,workday,元旦调休上班\n"


@router.get(
    "", response_model=CalendarOut, summary="What the working calendar knows, and any warning (admin)"
)
def get_calendar(session: DbSession, actor: Actor, request: Request, now: Now) -> CalendarOut:
    calendar_service.require_admin(actor)
    settings = get_settings(request)
    return calendar_out(calendar_service.calendar_status(session, settings, _today(now, settings)))


@router.get(
    "/{year}",
    # A bare Response class, so the errors stay documented as JSON and the year as CSV.
    response_class=Response,
    responses={200: {"content": {"text/csv": {"example": EXAMPLE}}}},
    summary="A year's holidays and adjusted workdays as a calendar file, loaded or the package's (admin)",
)
def get_year(year: Year, session: DbSession, actor: Actor) -> Response:
    calendar_service.require_admin(actor)
    days = calendar_service.year_arrangement(session, year)
    if days is None:
        raise NotFound(
            f"no arrangement of {year} is known: neither loaded nor in the chinesecalendar package"
        )
    return Response(format_calendar(days), media_type="text/csv")


@router.put(
    "/{year}",
    response_model=CalendarLoadOut,
    summary="Load a year's holidays and adjusted workdays from a calendar file (admin of the whole centre)",
)
def load_year(
    year: Year,
    text: Annotated[
        str,
        Body(
            media_type="text/csv",
            max_length=MAX_FILE_CHARACTERS,
            description="the calendar file: date,type,name (see civicgrid export-calendar)",
            examples=[EXAMPLE],
        ),
    ],
    session: DbSession,
    actor: Actor,
    request: Request,
    now: Now,
) -> CalendarLoadOut:
    result = calendar_service.load_year(session, actor, year, text, get_settings(request), now)
    return CalendarLoadOut(
        year=result.year,
        days=result.days,
        replaced=result.replaced,
        recomputed=result.recomputed,
        changed=result.changed,
        calendar=calendar_out(result.status),
    )


def calendar_out(status: CalendarStatus) -> CalendarOut:
    """The calendar's state as the API shows it."""
    return CalendarOut(
        known_years=status.known_years,
        loaded=[
            LoadedYearOut(year=y.year, days=y.days, loaded_at=y.loaded_at, loaded_by=y.loaded_by)
            for y in status.loaded
        ],
        known_through=status.known_through,
        warning=status.warning,
    )


def _today(now: datetime, settings: Settings) -> date:
    return now.astimezone(ZoneInfo(settings.timezone)).date()
