"""The geo service: where a point lies, and the map's data (territory layers, cases as
points, hotspots), each scoped like the case list: staff see their region's subtree."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from civicgrid.domain.clock import light_at
from civicgrid.domain.errors import InvalidInput, RoleNotAllowed
from civicgrid.domain.indicators import Period, PeriodKind
from civicgrid.domain.vocabulary import (
    GRID_KIND_LABELS,
    OPEN_STATES,
    STATE_LABELS,
    CoordinateSystem,
    GridDuty,
    GridKind,
    Role,
)
from civicgrid.geo import hotspots, mapdata
from civicgrid.geo.crs import from_wgs84, to_wgs84
from civicgrid.geo.index import territory_index
from civicgrid.geo.schemas import (
    FeatureCollection,
    GridAtPoint,
    GridCase,
    GridCount,
    GridHotspots,
    GridSummary,
    RegionAtPoint,
    Resolution,
    StaffAtPoint,
)
from civicgrid.schemas import CaseFilters
from civicgrid.services import statistics
from civicgrid.store import cases as case_queries
from civicgrid.store import geo as geo_queries
from civicgrid.store.lookups import edited_by_code
from civicgrid.store.models import Grid, User

#: The order grids at a point are listed in: the base cover first, then what lies on it.
_LISTING = {GridKind.COMPREHENSIVE: 0, GridKind.DEDICATED: 1, GridKind.OVERLAY: 2}
BBox = tuple[float, float, float, float]


def _scope_path(actor: User) -> str | None:
    """The region path whose subtree the actor's map shows; citizens have no map."""
    if actor.role is Role.CITIZEN:
        raise RoleNotAllowed("the territory map is for the centre's staff")
    return actor.region.path if actor.region is not None else None


def resolve(session: Session, actor: User, lng: float, lat: float, crs: CoordinateSystem) -> Resolution:
    """The region path and every grid at a point given in ``crs``, with the grids' inspectors
    and leaders; the point must lie in the actor's region subtree."""
    scope = _scope_path(actor)
    wgs_lng, wgs_lat = to_wgs84(lng, lat, crs)
    territory = territory_index(session, geo_queries.territory_mark(session))
    found = territory.grids.grids_at(wgs_lng, wgs_lat)
    region = territory.regions.get(found[0].region_id) if found and found[0].region_id else None
    region = region or territory.region_at(wgs_lng, wgs_lat)
    if region is None:
        raise InvalidInput(f"point ({lng}, {lat}) ({crs.value}) lies outside the territory")
    if scope is None or not region.path.startswith(scope):
        raise RoleNotAllowed(
            f"point ({lng}, {lat}) lies in {region.code} ({region.name}), outside your scope"
        )
    ids = [shape.id for shape in found]
    grids = {grid.id: grid for grid in geo_queries.grids(session, ids)}
    staff = geo_queries.grid_staff(session, ids)
    listed = sorted(found, key=lambda shape: _LISTING[shape.kind])
    return Resolution(
        lng=lng,
        lat=lat,
        crs=crs,
        regions=[RegionAtPoint(code=r.code, name=r.name, level=r.level) for r in territory.path(region.id)],
        grids=[_grid_at(grids[shape.id], shape is found[0], staff.get(shape.id, [])) for shape in listed],
    )


def _grid_at(grid: Grid, owner: bool, staff: list[tuple[GridDuty, User]]) -> GridAtPoint:
    leaders = [StaffAtPoint.model_validate(user) for duty, user in staff if duty is GridDuty.LEADER]
    return GridAtPoint(
        code=grid.code,
        name=grid.name,
        kind=grid.kind,
        overlay_group=grid.overlay_group,
        owner=owner,
        inspectors=[StaffAtPoint.model_validate(user) for duty, user in staff if duty is GridDuty.INSPECTOR],
        leader=leaders[0] if leaders else None,
    )


def layer(
    session: Session,
    actor: User,
    name: mapdata.Layer,
    zoom: int,
    crs: CoordinateSystem,
    bbox: BBox | None = None,
) -> FeatureCollection:
    """The regions or grids of the actor's region subtree as GeoJSON, simplified for
    ``zoom``; only those reaching into ``bbox`` (WGS-84) if given, for a map's view."""
    scope = _scope_path(actor)
    features = mapdata.layer(session, geo_queries.territory_mark(session), name, zoom, crs)
    shown = [
        f.feature
        for f in features
        if scope is not None and f.path.startswith(scope) and (bbox is None or f.meets(bbox))
    ]
    return FeatureCollection(crs=crs, features=shown)


def extent(session: Session, actor: User, within: str | None = None) -> BBox | None:
    """The bounds (WGS-84) of the grids of the actor's region subtree (or of the subtree
    with path ``within``, inside it), else of its regions; None when neither is drawn:
    where the map opens."""
    scope = _scope_path(actor)
    if scope is not None and within is not None and within.startswith(scope):
        scope = within
    mark = geo_queries.territory_mark(session)
    for name in ("grids", "regions"):
        boxes = [
            f.bounds
            for f in mapdata.layer(session, mark, name, 0, CoordinateSystem.WGS84)
            if scope is not None and f.path.startswith(scope)
        ]
        if boxes:
            return (
                min(b[0] for b in boxes),
                min(b[1] for b in boxes),
                max(b[2] for b in boxes),
                max(b[3] for b in boxes),
            )
    return None


def parse_bbox(text: str, crs: CoordinateSystem) -> BBox:
    """``west,south,east,north`` in ``crs``, as a WGS-84 box; InvalidInput names the fault."""
    parts = text.split(",")
    try:
        west, south, east, north = (float(part) for part in parts)
    except ValueError:
        raise InvalidInput(f"bbox must be four numbers west,south,east,north, not {text!r}") from None
    if not all(abs(v) != float("inf") and v == v for v in (west, south, east, north)):
        raise InvalidInput("bbox must be four finite numbers")
    if not (-180 <= west < east <= 180 and -90 <= south < north <= 90):
        raise InvalidInput(f"bbox {text!r}: need -180 ≤ west < east ≤ 180 and -90 ≤ south < north ≤ 90")
    west, south = to_wgs84(west, south, crs)
    east, north = to_wgs84(east, north, crs)
    return west, south, east, north


def case_points(
    session: Session,
    actor: User,
    filters: CaseFilters,
    now: datetime,
    bbox: BBox,
    crs: CoordinateSystem,
    limit: int,
) -> FeatureCollection:
    """The newest ``limit`` cases of the actor's list (with ``filters``) inside ``bbox``
    (WGS-84), as GeoJSON points in ``crs``, flagged ``truncated`` when more matched."""
    _scope_path(actor)
    rows, truncated = geo_queries.case_points(session, actor, filters, now, bbox, limit)
    features: list[dict[str, Any]] = []
    for number, state, lng, lat, warning_at, deadline_at, category_code, category_name in rows:
        x, y = from_wgs84(lng, lat, crs)
        light = light_at(now, warning_at, deadline_at)
        properties = {
            "number": number,
            "state": state,
            "light": light,
            "category_code": category_code,
            "category_name": category_name,
        }
        features.append(
            {
                "type": "Feature",
                "id": number,
                "geometry": {"type": "Point", "coordinates": [round(x, 7), round(y, 7)]},
                "properties": properties,
            }
        )
    return FeatureCollection(crs=crs, features=features, truncated=truncated)


def grid_hotspots(session: Session, actor: User, filters: CaseFilters, now: datetime) -> GridHotspots:
    """How many of the actor's cases (with ``filters``: a period, a category …) lie in each grid."""
    _scope_path(actor)
    rows = geo_queries.counts_per_grid(session, actor, filters, now)
    return GridHotspots(
        grids=[GridCount(code=code, name=name, kind=kind, count=count) for code, name, kind, count in rows]
    )


def hexagon_hotspots(
    session: Session, actor: User, filters: CaseFilters, now: datetime, resolution: int, crs: CoordinateSystem
) -> FeatureCollection:
    """How many of the actor's cases (with ``filters``) lie in each H3 cell at ``resolution``,
    as GeoJSON hexagons in ``crs``, most first."""
    _scope_path(actor)
    points = geo_queries.counts_per_point(session, actor, filters, now)
    counts = hotspots.count_cells(((lng, lat, n) for lng, lat, n in points), resolution)
    ranked = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
    return FeatureCollection(crs=crs, features=[hotspots.cell_feature(c, n, crs) for c, n in ranked])


#: A cluster gathers the cases of a square this many screen pixels wide at its zoom.
CLUSTER_PIXELS = 80
#: From this zoom on (a street or less in view), cases are found through their points' index.
PLACE_INDEX_ZOOM = 13


def cluster_size(zoom: int) -> float:
    """The side (degrees) of a cluster's cell at ``zoom``: CLUSTER_PIXELS of a 256-pixel tile."""
    return CLUSTER_PIXELS * 360.0 / (256 * (1 << zoom))


def case_clusters(
    session: Session,
    actor: User,
    filters: CaseFilters,
    now: datetime,
    bbox: BBox,
    zoom: int,
    crs: CoordinateSystem,
) -> FeatureCollection:
    """Every case of the actor's list (with ``filters``) inside ``bbox`` (WGS-84), counted
    in squares of CLUSTER_PIXELS at ``zoom``: one GeoJSON point per square (at the mean of
    its cases, in ``crs``) with the count and the counts of red, yellow and green cases.
    What the map draws where too many points would fall in its view."""
    _scope_path(actor)
    size = cluster_size(zoom)
    features: list[dict[str, Any]] = []
    for column, row, count, lng, lat, red, yellow, green in geo_queries.case_clusters(
        session, actor, filters, now, bbox, size, by_place=zoom >= PLACE_INDEX_ZOOM
    ):
        x, y = from_wgs84(lng, lat, crs)
        features.append(
            {
                "type": "Feature",
                "id": f"{zoom}/{column}/{row}",
                "geometry": {"type": "Point", "coordinates": [round(x, 7), round(y, 7)]},
                "properties": {"count": count, "red": red, "yellow": yellow, "green": green},
            }
        )
    features.sort(key=lambda feature: feature["id"])
    return FeatureCollection(crs=crs, features=features)


#: This month's figures a grid's popup shows (the statistics catalogue's keys).
GRID_MONTH = ["reported", "registered", "closed", "closure_rate", "on_time_closure_rate"]
#: The open cases a grid's popup lists.
GRID_CASES = 5


def grid_summary(session: Session, actor: User, code: str, now: datetime, zone: ZoneInfo) -> GridSummary:
    """A grid of the actor's region subtree: its inspectors and leader, its open cases
    (counted as the case list's grid filter counts them, the most urgent listed), and this
    month's figures of the cases it owns (as the statistics table grouped by grid)."""
    scope = _scope_path(actor)
    grid = edited_by_code(session, Grid, code)
    if scope is None or not grid.region.path.startswith(scope):
        raise RoleNotAllowed(f"grid {grid.code} ({grid.name}) lies outside your scope")
    staff = geo_queries.grid_staff(session, [grid.id]).get(grid.id, [])
    at_grid = _grid_at(grid, False, staff)
    in_grid = CaseFilters(grid_code=grid.code)
    lights = {"red": 0, "yellow": 0, "green": 0, "none": 0}
    for _state, light, count in case_queries.open_counts(session, actor, in_grid, now):
        lights[light.value if light else "none"] += count
    urgent = case_queries.filtered(
        session, actor, in_grid.model_copy(update={"state": list(OPEN_STATES)}), now
    )
    rows, _ = case_queries.page_by_urgency(session, urgent, None, GRID_CASES, now)
    month = Period.containing(PeriodKind.MONTH, now.astimezone(zone).date(), zone)
    table = statistics.table(
        session, actor, statistics.Query(month, statistics.GroupBy.NONE, GRID_MONTH, grid_code=grid.code), now
    )
    return GridSummary(
        code=grid.code,
        name=grid.name,
        kind=grid.kind,
        kind_label=GRID_KIND_LABELS[grid.kind],
        overlay_group=grid.overlay_group,
        region_code=grid.region.code,
        region_name=grid.region.name,
        inspectors=at_grid.inspectors,
        leader=at_grid.leader,
        open_total=sum(lights.values()),
        open_by_light=lights,
        open_cases=[
            GridCase(
                number=case.number,
                title=case.title,
                category_name=case.category.name,
                state=case.state,
                state_label=STATE_LABELS[case.state],
                light=light_at(now, case.warning_at, case.deadline_at),
            )
            for case in rows
        ],
        month_label=month.label,
        month=table.total.values,
        month_labels=table.labels,
    )
