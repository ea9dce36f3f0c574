"""Territory files: a GeoJSON FeatureCollection or a zipped ESRI Shapefile, one feature per
region or grid (see docs/territory.md). Reading turns a file into ``TerritoryFeature`` rows
with WGS-84 Shapely geometries; a file that cannot be read raises ``TerritoryFileError``
naming what is wrong and where. Writing is the inverse, for ``export-territory``."""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import Any

import numpy as np
import shapefile
import shapely
from shapely.geometry import mapping, shape

from civicgrid.domain.vocabulary import CoordinateSystem
from civicgrid.geo.crs import to_wgs84

#: The attributes a feature carries (the Shapefile's .dbf truncates names to 10 characters).
ATTRIBUTES = ("code", "name", "level", "parent", "kind", "overlay_group", "inspectors", "leader")
_DBF_NAMES = {"overlay_gr": "overlay_group"}
#: Geometry types a region or grid may have.
POLYGONAL = ("Polygon", "MultiPolygon")
#: Coordinates are written with 7 decimals (about 1 cm), enough for any boundary.
DECIMALS = 7
#: The .prj of WGS-84 geographic coordinates, written with every exported Shapefile.
WGS84_PRJ = (
    'GEOGCS["GCS_WGS_1984",DATUM["D_WGS_1984",SPHEROID["WGS_1984",6378137.0,298.257223563]],'
    'PRIMEM["Greenwich",0.0],UNIT["Degree",0.0174532925199433]]'
)
#: Geographic datums a .prj may name: WGS-84, and CGCS2000, which agrees with it to a few cm.
_ACCEPTED_DATUMS = (
    "WGS_1984",
    "WGS 84",
    "WGS84",
    "CHINA_2000",
    "CGCS2000",
    "CHINA_GEODETIC_COORDINATE_SYSTEM_2000",
)


class TerritoryFileError(ValueError):
    """The file cannot be read as a territory; the message says what and where."""


@dataclass
class TerritoryFeature:
    """One region or grid as the file gives it; its geometry in WGS-84 (None: no boundary)."""

    index: int
    code: str
    name: str
    level: str
    parent: str | None = None
    kind: str | None = None
    overlay_group: str | None = None
    #: None: the file says nothing of the staff (kept as stored); a list: exactly these.
    inspectors: list[str] | None = None
    leader: str | None = None
    geometry: Any = None
    #: Properties the file gave with a wrong type or value: (attribute, problem).
    problems: list[tuple[str, str]] = field(default_factory=list)

    @property
    def is_grid(self) -> bool:
        """Whether the feature is a grid (else a region)."""
        return self.level == "grid"

    def where(self) -> str:
        """The feature's place in the file, for messages."""
        return f"feature {self.index} ({self.code or 'no code'})"


# --- reading ----------------------------------------------------------------------------------


def read_territory(data: bytes, filename: str, max_bytes: int) -> list[TerritoryFeature]:
    """The features of a territory file: a zipped Shapefile (by its name or its zip
    signature), else GeoJSON. Refuses files over ``max_bytes``, inflated or not."""
    if len(data) > max_bytes:
        raise TerritoryFileError(
            f"{filename}: the file is {len(data)} bytes, more than the {max_bytes} allowed"
        )
    if filename.lower().endswith(".zip") or data[:4] == b"PK\x03\x04":
        return read_shapefile_zip(data, max_bytes)
    return read_geojson(data)


def read_geojson(data: bytes) -> list[TerritoryFeature]:
    """The features of a GeoJSON FeatureCollection; a top-level ``"crs": "gcj02"`` or
    ``"bd09"`` converts every coordinate to WGS-84."""
    try:
        document = json.loads(data)
    except UnicodeDecodeError:
        raise TerritoryFileError("the file is neither UTF-8 GeoJSON nor a zipped Shapefile") from None
    except json.JSONDecodeError as error:
        raise TerritoryFileError(
            f"not valid JSON at line {error.lineno}, column {error.colno}: {error.msg} (is the file truncated?)"
        ) from None
    if not isinstance(document, dict) or document.get("type") != "FeatureCollection":
        raise TerritoryFileError('the file must be a GeoJSON object with "type": "FeatureCollection"')
    features = document.get("features")
    if not isinstance(features, list):
        raise TerritoryFileError('the FeatureCollection has no "features" list')
    system = _coordinate_system(document.get("crs"))
    read = []
    for index, raw in enumerate(features):
        if not isinstance(raw, dict) or not isinstance(raw.get("properties"), dict):
            raise TerritoryFileError(f"feature {index}: must be an object with a properties object")
        feature = _feature(index, raw["properties"])
        feature.geometry = _geometry(raw.get("geometry"), feature, system)
        read.append(feature)
    return read


def _coordinate_system(value: Any) -> CoordinateSystem:
    if value is None:
        return CoordinateSystem.WGS84
    if isinstance(value, str) and value.lower() in {s.value for s in CoordinateSystem}:
        return CoordinateSystem(value.lower())
    if isinstance(value, dict):  # the 2008 GeoJSON form, {"type": "name", "properties": {"name": ...}}
        name = str(value.get("properties", {}).get("name", ""))
        if name.upper().endswith(("CRS84", "4326")):
            return CoordinateSystem.WGS84
    raise TerritoryFileError(f'unknown "crs" {value!r}: give "wgs84", "gcj02" or "bd09"')


def _text(value: Any) -> str | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    return str(value).strip()


def _feature(index: int, properties: dict[str, Any]) -> TerritoryFeature:
    problems: list[tuple[str, str]] = []
    for attribute in ("code", "name", "level", "parent", "kind", "overlay_group", "leader"):
        value = properties.get(attribute)
        if value is not None and not isinstance(value, str | int):
            problems.append((attribute, f"must be text, not {type(value).__name__}"))
    inspectors = properties.get("inspectors")
    if isinstance(inspectors, str):  # the Shapefile form: names separated by commas
        inspectors = [name for name in (part.strip() for part in inspectors.split(",")) if name]
    elif inspectors is not None and not (
        isinstance(inspectors, list) and all(isinstance(name, str) for name in inspectors)
    ):
        problems.append(("inspectors", "must be a list of usernames"))
        inspectors = None
    return TerritoryFeature(
        index=index,
        code=_text(properties.get("code")) or "",
        name=_text(properties.get("name")) or "",
        level=(_text(properties.get("level")) or "").lower(),
        parent=_text(properties.get("parent")),
        kind=_text(properties.get("kind")),
        overlay_group=_text(properties.get("overlay_group")),
        inspectors=inspectors,
        leader=_text(properties.get("leader")),
        problems=problems,
    )


def _geometry(raw: Any, feature: TerritoryFeature, system: CoordinateSystem) -> Any:
    if raw is None:
        return None
    if not isinstance(raw, dict) or raw.get("type") not in POLYGONAL:
        kind = raw.get("type") if isinstance(raw, dict) else type(raw).__name__
        raise TerritoryFileError(
            f"{feature.where()}: geometry is {kind}; a region or grid is a Polygon or MultiPolygon"
        )
    _check_numbers(raw.get("coordinates"), feature)
    try:
        geometry = shape(raw)
    except (ValueError, TypeError, IndexError, AttributeError, shapely.errors.GEOSException) as error:
        raise TerritoryFileError(
            f"{feature.where()}: the coordinates do not form a {raw['type']}: {error}"
        ) from None
    return convert(geometry, system)


def _check_numbers(coordinates: Any, feature: TerritoryFeature) -> None:
    """Every coordinate a number: strings ("120.1") are refused, not guessed at."""
    if isinstance(coordinates, list | tuple):
        if coordinates and all(not isinstance(item, list | tuple) for item in coordinates):
            if len(coordinates) < 2 or not all(
                isinstance(n, int | float) and not isinstance(n, bool) for n in coordinates
            ):
                raise TerritoryFileError(
                    f"{feature.where()}: coordinate {coordinates!r} must be [longitude, latitude] as numbers"
                )
            return
        for item in coordinates:
            _check_numbers(item, feature)
        return
    raise TerritoryFileError(f"{feature.where()}: coordinates must be nested lists of numbers")


def convert(geometry: Any, system: CoordinateSystem) -> Any:
    """``geometry`` given in ``system``, in WGS-84."""
    if system is CoordinateSystem.WGS84:
        return geometry

    def to_wgs(points: np.ndarray) -> np.ndarray:
        return np.array([to_wgs84(lng, lat, system) for lng, lat in points]).reshape(-1, 2)

    return shapely.transform(geometry, to_wgs)


def read_shapefile_zip(data: bytes, max_bytes: int) -> list[TerritoryFeature]:
    """The features of a zipped Shapefile: one .shp with its .dbf (and .shx, .prj, .cpg)."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile:
        raise TerritoryFileError("the file is not a valid zip archive (is it truncated?)") from None
    with archive:
        members = {PurePosixPath(info.filename): info for info in archive.infolist() if not info.is_dir()}
        if sum(info.file_size for info in members.values()) > max_bytes:
            raise TerritoryFileError(f"the zip unpacks to more than the {max_bytes} bytes allowed")
        shps = [path for path in members if path.suffix.lower() == ".shp"]
        if len(shps) != 1:
            found = ", ".join(sorted(str(p) for p in members)) or "nothing"
            raise TerritoryFileError(f"the zip must hold exactly one .shp file; it holds {found}")

        def part(suffix: str) -> bytes | None:
            for path in members:
                if (
                    path.parent == shps[0].parent
                    and path.stem == shps[0].stem
                    and path.suffix.lower() == suffix
                ):
                    return archive.read(members[path])
            return None

        dbf = part(".dbf")
        if dbf is None:
            raise TerritoryFileError(
                f"{shps[0]} has no .dbf beside it: the attributes (code, name …) are missing"
            )
        prj, cpg = part(".prj"), part(".cpg")
        shx = part(".shx")
        shp = archive.read(members[shps[0]])
    _check_prj(prj)
    # Without a .cpg, UTF-8, else GBK: what Chinese GIS software writes by default.
    encodings = [cpg.decode("ascii", "replace").strip()] if cpg else ["utf-8", "gbk"]
    for encoding in encodings:
        try:
            reader = shapefile.Reader(
                shp=io.BytesIO(shp),
                dbf=io.BytesIO(dbf),
                shx=io.BytesIO(shx) if shx else None,
                encoding=encoding,
            )
            return _shapefile_features(reader)
        except TerritoryFileError:
            raise
        except Exception as error:  # a damaged binary file fails in many ways inside pyshp (struct, index …)
            problem = error
    raise TerritoryFileError(f"{shps[0]}: cannot be read as a Shapefile: {problem}") from None


def _check_prj(prj: bytes | None) -> None:
    """Refuse a .prj of a projected or unknown system: coordinates must be geographic WGS-84."""
    if prj is None:
        return
    text = prj.decode("utf-8", "replace").upper()
    if text.startswith("PROJCS") or not any(datum.upper() in text for datum in _ACCEPTED_DATUMS):
        raise TerritoryFileError(
            "the .prj names a coordinate system other than geographic WGS-84 (or CGCS2000): "
            "reproject the layer to longitude/latitude first"
        )


def _shapefile_features(reader: shapefile.Reader) -> list[TerritoryFeature]:
    if reader.shapeType not in (shapefile.POLYGON, shapefile.POLYGONZ, shapefile.POLYGONM, shapefile.NULL):
        raise TerritoryFileError(
            f"the Shapefile holds {reader.shapeTypeName} shapes; regions and grids are polygons"
        )
    features = []
    for index, record in enumerate(reader.iterShapeRecords()):
        properties = {_DBF_NAMES.get(name, name): value for name, value in record.record.as_dict().items()}
        feature = _feature(index, properties)
        if record.shape.shapeType != shapefile.NULL:
            feature.geometry = _geometry(record.shape.__geo_interface__, feature, CoordinateSystem.WGS84)
        features.append(feature)
    return features


# --- writing ----------------------------------------------------------------------------------


def feature_properties(feature: TerritoryFeature) -> dict[str, Any]:
    """The properties a feature is written with: grids add kind, overlay group and staff."""
    properties: dict[str, Any] = {
        "code": feature.code,
        "name": feature.name,
        "level": feature.level,
        "parent": feature.parent,
    }
    if feature.is_grid:
        properties.update(
            kind=feature.kind,
            overlay_group=feature.overlay_group,
            inspectors=feature.inspectors or [],
            leader=feature.leader,
        )
    return properties


def rounded(geometry: Any) -> dict[str, Any] | None:
    """A geometry as GeoJSON, coordinates to ``DECIMALS`` places (None stays None)."""
    if geometry is None:
        return None
    return mapping(shapely.set_precision(geometry, 10.0**-DECIMALS, mode="pointwise"))


def write_geojson(features: Sequence[TerritoryFeature]) -> bytes:
    """A GeoJSON FeatureCollection of ``features`` (WGS-84)."""
    document = {
        "type": "FeatureCollection",
        "features": [
            {"type": "Feature", "properties": feature_properties(f), "geometry": rounded(f.geometry)}
            for f in features
        ],
    }
    return json.dumps(document, ensure_ascii=False, indent=1).encode("utf-8")


def write_shapefile_zip(features: Iterable[TerritoryFeature], stem: str = "territory") -> bytes:
    """A zip of a Shapefile (.shp, .shx, .dbf, .prj, .cpg) of ``features``; a grid's
    inspectors are one attribute, their usernames separated by commas."""
    shp, shx, dbf = io.BytesIO(), io.BytesIO(), io.BytesIO()
    writer = shapefile.Writer(shp=shp, shx=shx, dbf=dbf, shapeType=shapefile.POLYGON, encoding="utf-8")
    for name in ("code", "name", "level", "parent", "kind", "overlay_gr", "inspectors", "leader"):
        writer.field(name, "C", size=254)
    for feature in features:
        geometry = rounded(feature.geometry)
        if geometry is None:
            writer.null()
        else:
            writer.shape(geometry)
        properties = feature_properties(feature)
        writer.record(
            *(
                properties.get(name) or ""
                for name in ("code", "name", "level", "parent", "kind", "overlay_group")
            ),
            ",".join(properties.get("inspectors") or []),
            properties.get("leader") or "",
        )
    writer.close()
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for suffix, buffer in ((".shp", shp), (".shx", shx), (".dbf", dbf)):
            archive.writestr(stem + suffix, buffer.getvalue())
        archive.writestr(stem + ".prj", WGS84_PRJ)
        archive.writestr(stem + ".cpg", "UTF-8")
    return out.getvalue()
