"""The map's territory layers: regions and grids as GeoJSON features, simplified for the
zoom they are drawn at and written in the coordinate system the map asks for.

Simplifying thousands of polygons costs far more than answering a request, so each process
keeps the layers it built, per database, territory revision, layer, zoom and coordinate
system; a write of a grid or region changes the revision, and the next request builds anew.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from threading import Lock
from typing import Any, Literal

import numpy as np
import shapely
from shapely.geometry import mapping, shape
from sqlalchemy import select
from sqlalchemy.orm import Session

from civicgrid.domain.vocabulary import CoordinateSystem
from civicgrid.geo.crs import from_wgs84_array
from civicgrid.store.models import Grid, Region

Layer = Literal["regions", "grids"]
#: Zoom levels of web maps (0: the world in one 256-pixel tile; 20: a building).
MIN_ZOOM, MAX_ZOOM = 0, 20
#: Layers kept per process; a layer of 10,000 grids is a few megabytes.
CACHED_LAYERS = 32


def tolerance(zoom: int) -> float:
    """How far (degrees) a simplified boundary may stray at ``zoom``: half a pixel of a
    256-pixel web-map tile, so the simplification never shows."""
    return 360.0 / (512 * (1 << zoom))


@dataclass(frozen=True)
class MapFeature:
    """A feature of a layer, with the region path that decides who may see it and its
    bounds (WGS-84 west, south, east, north) for picking the features of a map's view."""

    path: str
    feature: dict[str, Any]
    bounds: tuple[float, float, float, float]

    def meets(self, box: tuple[float, float, float, float]) -> bool:
        """Whether the feature's bounds reach into ``box`` (WGS-84 west, south, east, north)."""
        west, south, east, north = self.bounds
        return west <= box[2] and east >= box[0] and south <= box[3] and north >= box[1]


_cache: OrderedDict[tuple[str, str, Layer, int, CoordinateSystem], list[MapFeature]] = OrderedDict()
_lock = Lock()


def layer(session: Session, mark: str, name: Layer, zoom: int, crs: CoordinateSystem) -> list[MapFeature]:
    """Every feature of layer ``name`` (regions or grids, retired ones left out) at
    territory revision ``mark``, simplified for ``zoom``, in ``crs``; built once per process
    and key."""
    key = (str(session.get_bind().engine.url), mark, name, zoom, crs)
    with _lock:
        found = _cache.get(key)
        if found is not None:
            _cache.move_to_end(key)
            return found
    built = _build(session, name, zoom, crs)
    with _lock:
        _cache[key] = built
        while len(_cache) > CACHED_LAYERS:
            _cache.popitem(last=False)
    return built


def _build(session: Session, name: Layer, zoom: int, crs: CoordinateSystem) -> list[MapFeature]:
    rows: list[tuple[str, dict[str, Any], dict[str, Any]]] = []
    if name == "regions":
        parent = Region.__table__.alias("parent")
        query = (
            select(Region.path, Region.boundary, Region.code, Region.name, Region.level, parent.c.code)
            .outerjoin(parent, parent.c.id == Region.parent_id)
            .where(Region.retired_at.is_(None), Region.boundary.is_not(None))
            .order_by(Region.path)
        )
        for path, boundary, code, label, level, parent_code in session.execute(query):
            rows.append(
                (path, boundary, {"code": code, "name": label, "level": level, "parent": parent_code})
            )
    else:
        query = (
            select(
                Region.path, Grid.boundary, Grid.code, Grid.name, Grid.kind, Grid.overlay_group, Region.code
            )
            .join(Region, Region.id == Grid.region_id)
            .where(Grid.retired_at.is_(None), Grid.boundary.is_not(None))
            .order_by(Grid.code)
        )
        for path, boundary, code, label, kind, group, region in session.execute(query):
            properties = {"code": code, "name": label, "kind": kind, "overlay_group": group, "region": region}
            rows.append((path, boundary, properties))
    shapes = np.array([shape(boundary) for _, boundary, _ in rows], dtype=object)
    bounds = shapely.bounds(shapes).reshape(-1, 4).tolist()
    simplified = shapely.simplify(shapes, tolerance(zoom), preserve_topology=True)
    if crs is not CoordinateSystem.WGS84:
        simplified = shapely.transform(simplified, lambda coords: from_wgs84_array(coords, crs))
    # Centimetres are enough for a map; fewer digits make a smaller answer.
    simplified = shapely.set_precision(simplified, 1e-7)
    return [
        MapFeature(
            path,
            {"type": "Feature", "id": props["code"], "geometry": mapping(geom), "properties": props},
            (box[0], box[1], box[2], box[3]),
        )
        for (path, _, props), geom, box in zip(rows, simplified, bounds, strict=True)
    ]
