"""The pages' small maps (Leaflet, from the pinned npm package): what they draw and on which
tiles. Inside civicgrid every point and polygon is WGS-84; GCJ-02 tiles (高德, 腾讯) are
drawn shifted, so each point and polygon is written in the tiles' system here, on the
server, with ``civicgrid.geo.crs`` (a point picked on the map comes back the same way)."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import shapely
from shapely.geometry import mapping, shape

from civicgrid.domain.vocabulary import CoordinateSystem
from civicgrid.geo.crs import from_wgs84, from_wgs84_array
from civicgrid.geo.mapdata import tolerance
from civicgrid.settings import Settings
from civicgrid.store.models import Case, Grid

#: Grid boundaries on the small maps are simplified by half a pixel at this zoom (a street
#: corner's detail); the intake map's layer of every grid by half a pixel at ``LAYER_ZOOM``.
DETAIL_ZOOM = 18
LAYER_ZOOM = 15


def tile_crs(settings: Settings) -> CoordinateSystem:
    """The coordinate system the map's tiles are drawn in (WGS-84 without tiles)."""
    return CoordinateSystem(settings.map_tile_crs) if settings.map_tile_url else CoordinateSystem.WGS84


def tile_source(url: str) -> str | None:
    """The Content-Security-Policy source that lets a page show the tiles of ``url``: its
    scheme and host, with a subdomain placeholder ({s}) widened to a wildcard; None when the
    tiles are this server's own (or there are none)."""
    if not url or url.startswith("/"):
        return None
    parts = urlsplit(url)
    labels = (parts.hostname or "").split(".")
    # A port cannot hold a placeholder: urlsplit reads "{s}.example" as a host.
    port = f":{parts.port}" if parts.port else ""
    templated = [i for i, label in enumerate(labels) if "{" in label or "}" in label]
    if not templated:
        return f"{parts.scheme}://{parts.hostname}{port}"
    rest = labels[templated[-1] + 1 :]
    if len(rest) < 2:  # the placeholder is in the registered domain itself: allow the scheme
        return f"{parts.scheme}:"
    return f"{parts.scheme}://*.{'.'.join(rest)}{port}"


def config(settings: Settings) -> dict[str, Any]:
    """What the map script needs to know of the tiles (an empty URL: no tiles)."""
    return {
        "tiles": settings.map_tile_url,
        "subdomains": settings.map_tile_subdomains,
        "attribution": settings.map_tile_attribution,
        "crs": tile_crs(settings).value,
    }


def point(lng: float, lat: float, crs: CoordinateSystem) -> list[float]:
    """A WGS-84 point as Leaflet takes it, [lat, lng], in the tiles' system ``crs``."""
    x, y = from_wgs84(lng, lat, crs)
    return [round(y, 7), round(x, 7)]


def geometry(boundary: dict[str, Any], crs: CoordinateSystem, zoom: int = DETAIL_ZOOM) -> dict[str, Any]:
    """A WGS-84 GeoJSON polygon, simplified for ``zoom`` and written in ``crs``."""
    simplified = shapely.simplify(shape(boundary), tolerance(zoom), preserve_topology=True)
    if crs is not CoordinateSystem.WGS84:
        simplified = shapely.transform(simplified, lambda coords: from_wgs84_array(coords, crs))
    drawn: dict[str, Any] = mapping(shapely.set_precision(simplified, 1e-7))
    return drawn


def grid_feature(grid: Grid, crs: CoordinateSystem) -> dict[str, Any] | None:
    """The grid's boundary as a GeoJSON feature in ``crs``, named; None if it has none."""
    if grid.boundary is None:
        return None
    return {
        "type": "Feature",
        "geometry": geometry(grid.boundary, crs),
        "properties": {"code": grid.code, "name": grid.name},
    }


def case_map(case: Case, crs: CoordinateSystem) -> dict[str, Any] | None:
    """What the case file's map draws: the case's point and its grid, in ``crs``; None when
    the case has neither."""
    located = case.lng is not None and case.lat is not None
    grid = grid_feature(case.grid, crs) if case.grid is not None else None
    if not located and grid is None:
        return None
    return {
        "point": point(case.lng, case.lat, crs) if case.lng is not None and case.lat is not None else None,
        "grid": grid,
    }
