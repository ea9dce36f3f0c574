"""Geo routes: where a point lies, and the map's data (territory layers, cases, hotspots)."""

from __future__ import annotations

from typing import Annotated
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Query, Request

from civicgrid.api.deps import Actor, AppSettings, DbSession, Now, Reader
from civicgrid.api.errors import ERROR_RESPONSES
from civicgrid.domain.vocabulary import CoordinateSystem
from civicgrid.geo import hotspots, mapdata
from civicgrid.geo.schemas import FeatureCollection, GridHotspots, GridSummary, Resolution
from civicgrid.schemas import CaseFilters
from civicgrid.services import geo as geo_service

router = APIRouter(prefix="/api/v1/geo", tags=["geo"], responses=ERROR_RESPONSES)

Crs = Annotated[
    CoordinateSystem,
    Query(
        description="the system of the coordinates given and answered: wgs84 (GPS), gcj02 (高德/腾讯), bd09 (百度)"
    ),
]
Zoom = Annotated[
    int,
    Query(ge=mapdata.MIN_ZOOM, le=mapdata.MAX_ZOOM, description="the web-map zoom the layer is drawn at"),
]
BBox = Annotated[str, Query(max_length=200, description="west,south,east,north in crs")]
ViewBox = Annotated[
    str | None,
    Query(max_length=200, description="west,south,east,north in crs: only what reaches into this view"),
]


@router.get(
    "/resolve", response_model=Resolution, summary="The regions and grids at a point, with their staff"
)
def resolve(
    session: DbSession,
    actor: Actor,
    lng: Annotated[float, Query(ge=-180, le=180, allow_inf_nan=False)],
    lat: Annotated[float, Query(ge=-90, le=90, allow_inf_nan=False)],
    crs: Crs = CoordinateSystem.WGS84,
) -> Resolution:
    return geo_service.resolve(session, actor, lng, lat, crs)


@router.get("/regions", response_model=FeatureCollection, summary="The regions you may see, as GeoJSON")
def regions(
    session: DbSession,
    actor: Reader,
    zoom: Zoom = 14,
    crs: Crs = CoordinateSystem.WGS84,
    bbox: ViewBox = None,
) -> FeatureCollection:
    box = geo_service.parse_bbox(bbox, crs) if bbox else None
    return geo_service.layer(session, actor, "regions", zoom, crs, box)


@router.get("/grids", response_model=FeatureCollection, summary="The grids you may see, as GeoJSON")
def grids(
    session: DbSession,
    actor: Reader,
    zoom: Zoom = 14,
    crs: Crs = CoordinateSystem.WGS84,
    bbox: ViewBox = None,
) -> FeatureCollection:
    box = geo_service.parse_bbox(bbox, crs) if bbox else None
    return geo_service.layer(session, actor, "grids", zoom, crs, box)


@router.get(
    "/grids/{code}/summary",
    response_model=GridSummary,
    summary="A grid of your area: its inspectors and leader, open cases, and this month's figures",
)
def grid_summary(
    session: DbSession, actor: Reader, settings: AppSettings, now: Now, code: str
) -> GridSummary:
    return geo_service.grid_summary(session, actor, code, now, ZoneInfo(settings.timezone))


@router.get(
    "/cases",
    response_model=FeatureCollection,
    summary="Cases in a box as GeoJSON points (number, state, light, category), filtered like the list",
)
def cases(
    request: Request,
    session: DbSession,
    actor: Reader,
    now: Now,
    filters: Annotated[CaseFilters, Query()],
    bbox: BBox,
    crs: Crs = CoordinateSystem.WGS84,
    limit: Annotated[int | None, Query(ge=1, description="at most this many, newest first")] = None,
) -> FeatureCollection:
    cap = request.app.state.settings.map_case_limit
    box = geo_service.parse_bbox(bbox, crs)
    return geo_service.case_points(session, actor, filters, now, box, crs, min(limit or cap, cap))


@router.get(
    "/cases/clusters",
    response_model=FeatureCollection,
    summary="Cases in a box counted per square of 80 screen pixels at a zoom (with red, yellow, "
    "green), filtered like the list: what a map draws where there are too many points",
)
def case_clusters(
    session: DbSession,
    actor: Reader,
    now: Now,
    filters: Annotated[CaseFilters, Query()],
    bbox: BBox,
    zoom: Zoom,
    crs: Crs = CoordinateSystem.WGS84,
) -> FeatureCollection:
    box = geo_service.parse_bbox(bbox, crs)
    return geo_service.case_clusters(session, actor, filters, now, box, zoom, crs)


@router.get(
    "/hotspots/grids", response_model=GridHotspots, summary="Case counts per grid, filtered like the list"
)
def grid_hotspots(
    session: DbSession, actor: Reader, now: Now, filters: Annotated[CaseFilters, Query()]
) -> GridHotspots:
    return geo_service.grid_hotspots(session, actor, filters, now)


@router.get(
    "/hotspots/hexagons",
    response_model=FeatureCollection,
    summary="Case counts per H3 hexagon as GeoJSON, filtered like the list",
)
def hexagon_hotspots(
    session: DbSession,
    actor: Reader,
    now: Now,
    filters: Annotated[CaseFilters, Query()],
    resolution: Annotated[int, Query(ge=hotspots.MIN_RESOLUTION, le=hotspots.MAX_RESOLUTION)] = 8,
    crs: Crs = CoordinateSystem.WGS84,
) -> FeatureCollection:
    return geo_service.hexagon_hotspots(session, actor, filters, now, resolution, crs)
