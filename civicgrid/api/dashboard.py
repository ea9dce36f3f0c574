"""The dashboard route: every figure of the big screen (指挥大屏) in one answer."""

from __future__ import annotations

from typing import Annotated
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Query, Request

from civicgrid.api.deps import AppSettings, DbSession, Now, Reader, reading_factory
from civicgrid.api.errors import ERROR_RESPONSES
from civicgrid.schemas import CodeRef
from civicgrid.schemas_dashboard import Dashboard
from civicgrid.services import dashboard as dashboard_service

router = APIRouter(prefix="/api/v1", tags=["statistics"], responses=ERROR_RESPONSES)


@router.get(
    "/dashboard",
    response_model=Dashboard,
    summary="The dashboard of your area: intake by channel today and this month, open cases by state "
    "and light, top categories, the last 30 days, departments ranked by on-time handling, red cases",
)
def dashboard(
    request: Request,
    session: DbSession,
    actor: Reader,
    settings: AppSettings,
    now: Now,
    region: Annotated[CodeRef | None, Query(description="narrow to this region (within your scope)")] = None,
) -> Dashboard:
    """The figures are computed at most every 10 seconds per scope (``generated_at`` says
    when), however many screens ask."""
    recent: dashboard_service.Recent = request.app.state.dashboards
    zone = ZoneInfo(settings.timezone)
    reader = reading_factory(request)
    return recent.get(
        actor, region, lambda: dashboard_service.dashboard(session, actor, now, zone, region, reader)
    )
