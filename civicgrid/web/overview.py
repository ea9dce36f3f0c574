"""The big picture: the map of the territory (一张图) and the dashboard (指挥大屏).

Both pages are a frame and a script: the script draws the map and the charts from the
JSON API (``/api/v1/geo/*``, ``/api/v1/dashboard``), which reads the page session for
these GET routes. What a page needs to start (the tiles, their coordinate system, where
the map opens, labels and colours) travels in a ``data-config`` attribute, since the
Content-Security-Policy allows no inline script."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse
from sqlalchemy import select
from sqlalchemy.orm import Session

from civicgrid.api.deps import DbSession, Now, get_settings
from civicgrid.domain.vocabulary import (
    CHANNEL_LABELS,
    GRID_KIND_COLOURS,
    GRID_KIND_LABELS,
    LIGHT_LABELS,
    NO_LIGHT_LABEL,
    OPEN_STATES,
    STATE_LABELS,
    CaseState,
    Channel,
    CoordinateSystem,
    Light,
    RegionLevel,
)
from civicgrid.geo.crs import from_wgs84
from civicgrid.services import geo as geo_service
from civicgrid.store.models import Region, User
from civicgrid.store.scoping import region_subtree
from civicgrid.web import maps
from civicgrid.web.pages import PageRoute, PageUser, render
from civicgrid.web.routes import LABELS, _category_tree

router = APIRouter(route_class=PageRoute, include_in_schema=False)

#: Where the live updates come from once the server offers them (an EventSource).
LIVE_URL = "/live/events"
#: Without live updates, the pages fetch their data again this often.
REFRESH_SECONDS = 30


def map_config(
    request: Request, session: Session, user: User, now: datetime, region: Region | None = None
) -> dict[str, Any]:
    """What a page's map script needs: the tiles (``CIVICGRID_MAP_TILE_*``, as the small
    maps take them) and their coordinate system, in which the API is asked for every
    coordinate; where to open (the user's area, or ``region`` in it); labels and colours."""
    settings = get_settings(request)
    zone = ZoneInfo(settings.timezone)
    tiles = maps.config(settings)
    crs = CoordinateSystem(tiles["crs"])
    box = geo_service.extent(session, user, region.path if region else None)
    extent = None
    if box is not None:
        west, south = from_wgs84(box[0], box[1], crs)
        east, north = from_wgs84(box[2], box[3], crs)
        extent = [west, south, east, north]
    offset = now.astimezone(zone).strftime("%z")
    grids = sum(1 for _ in geo_service.layer(session, user, "grids", 0, CoordinateSystem.WGS84).features)
    return {
        **tiles,
        "extent": extent,
        "gridCount": grids,
        "caseLimit": settings.map_case_limit,
        "openStates": [state.value for state in OPEN_STATES],
        "states": {state.value: label for state, label in STATE_LABELS.items()},
        "lights": {
            light.value: {"label": label, "colour": colour} for light, (label, colour) in LIGHT_LABELS.items()
        },
        "noLight": {"label": NO_LIGHT_LABEL[0], "colour": NO_LIGHT_LABEL[1]},
        "gridKinds": {
            kind.value: {"label": GRID_KIND_LABELS[kind], "colour": GRID_KIND_COLOURS[kind]}
            for kind in GRID_KIND_LABELS
        },
        "today": now.astimezone(zone).date().isoformat(),
        "utcOffset": f"{offset[:3]}:{offset[3:]}",
        "liveUrl": LIVE_URL,
        "refreshSeconds": REFRESH_SECONDS,
    }


def _regions_in_scope(session: Session, user: User, levels: tuple[RegionLevel, ...]) -> list[Region]:
    """The regions of ``levels`` in the user's region subtree, in tree order."""
    if user.region is None:
        return []
    query = (
        select(Region)
        .where(Region.id.in_(region_subtree(user.region.path)), Region.level.in_(levels))
        .where(Region.retired_at.is_(None))
        .order_by(Region.path)
    )
    return list(session.scalars(query))


@router.get("/map", response_class=HTMLResponse)
def map_page(
    request: Request,
    session: DbSession,
    user: PageUser,
    now: Now,
    light: Annotated[str, Query(max_length=20)] = "",
    category_code: Annotated[str, Query(max_length=40)] = "",
    region_code: Annotated[str, Query(max_length=40)] = "",
    grid_code: Annotated[str, Query(max_length=40)] = "",
) -> HTMLResponse:
    """一张图: the territory, open cases by light, hotspots; the filters of the case list."""
    context = {
        "config": map_config(request, session, user, now),
        "chosen": {
            "light": light,
            "category_code": category_code,
            "region_code": region_code,
            "grid_code": grid_code,
        },
        "labels": LABELS,
        "light_choices": list(Light),
        "state_choices": [CaseState(state) for state in OPEN_STATES],
        "channel_choices": list(Channel),
        "channel_labels": CHANNEL_LABELS,
        "categories": _category_tree(session),
        "regions": _regions_in_scope(session, user, (RegionLevel.STREET, RegionLevel.COMMUNITY)),
    }
    return render(request, "map.html", context)


@router.get("/dashboard", response_class=HTMLResponse)
def dashboard_page(
    request: Request,
    session: DbSession,
    user: PageUser,
    now: Now,
    region: Annotated[str, Query(max_length=40)] = "",
) -> HTMLResponse:
    """指挥大屏: the figures of the user's scope (or of one of its streets) around the map."""
    streets = _regions_in_scope(session, user, (RegionLevel.STREET,))
    chosen = next((street for street in streets if street.code == region), None)
    context = {
        "config": map_config(request, session, user, now, chosen) | {"region": chosen.code if chosen else ""},
        "streets": streets if len(streets) > 1 else [],
        "chosen": chosen,
    }
    return render(request, "dashboard.html", context)
