"""What the geo endpoints answer: a point's regions and grids, map layers as GeoJSON, and
hotspots."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from civicgrid.domain.vocabulary import CaseState, CoordinateSystem, GridKind, Light, RegionLevel
from civicgrid.schemas_statistics import Cell


class RegionAtPoint(BaseModel):
    code: str
    name: str
    level: RegionLevel


class StaffAtPoint(BaseModel):
    """An inspector (网格员) or grid leader (网格长) of a grid."""

    model_config = ConfigDict(from_attributes=True)

    username: str
    full_name: str
    phone: str | None


class GridAtPoint(BaseModel):
    code: str
    name: str
    kind: GridKind
    overlay_group: str | None
    owner: bool = Field(description="the grid a new case at this point belongs to")
    inspectors: list[StaffAtPoint] = Field(description="the first one gets the new cases")
    leader: StaffAtPoint | None


class Resolution(BaseModel):
    """Where a point lies: its region path and every grid at it."""

    lng: float
    lat: float
    crs: CoordinateSystem = Field(description="the system of lng/lat, as asked")
    regions: list[RegionAtPoint] = Field(description="district → street → community")
    grids: list[GridAtPoint] = Field(
        description="the base (comprehensive) grid first, then dedicated, overlay"
    )


class FeatureCollection(BaseModel):
    """A GeoJSON FeatureCollection (RFC 7946 when crs is wgs84)."""

    type: str = "FeatureCollection"
    crs: CoordinateSystem
    features: list[dict[str, Any]]
    truncated: bool = Field(default=False, description="more features matched than the limit returned")


class GridCount(BaseModel):
    code: str
    name: str
    kind: GridKind
    count: int


class GridHotspots(BaseModel):
    """Cases per grid (a case counts in its own grid and in the overlay grids it lies in)."""

    grids: list[GridCount]


class GridCase(BaseModel):
    """An open case of a grid, as its popup lists it."""

    number: str
    title: str
    category_name: str
    state: CaseState
    state_label: str
    light: Light | None


class GridSummary(BaseModel):
    """What a click on a grid shows: who looks after it, its open cases, this month's figures."""

    code: str
    name: str
    kind: GridKind
    kind_label: str
    overlay_group: str | None
    region_code: str
    region_name: str
    inspectors: list[StaffAtPoint]
    leader: StaffAtPoint | None
    open_total: int = Field(description="open cases in the grid, as the case list's grid filter counts them")
    open_by_light: dict[str, int] = Field(description="red, yellow, green, and none (no running clock)")
    open_cases: list[GridCase] = Field(description="the most urgent open cases: red first, nearest deadline")
    month_label: str
    month: dict[str, Cell] = Field(
        description="this month's figures of the cases the grid owns, as the statistics table grouped by grid"
    )
    month_labels: dict[str, str]
