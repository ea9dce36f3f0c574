"""Territory routes: import a territory file (check, repair) and export it (admin of the top region)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException

from civicgrid.api.deps import Actor, AdminFirst, DbSession, Now, get_settings
from civicgrid.api.errors import ERROR_RESPONSES
from civicgrid.domain.errors import InvalidInput
from civicgrid.geo.territory_file import (
    TerritoryFileError,
    read_territory,
    write_geojson,
    write_shapefile_zip,
)
from civicgrid.schemas import TerritoryReportOut
from civicgrid.services import territory
from civicgrid.services.directory import require_top_admin

router = APIRouter(prefix="/api/v1/territory", tags=["territory"], responses=ERROR_RESPONSES)

IMPORT_PATH = "/api/v1/territory/import"

_EXAMPLE = {
    "type": "FeatureCollection",
    "features": [
        {
            "type": "Feature",
            "properties": {"code": "330106", "name": "西湖区", "level": "district", "parent": None},
            "geometry": {
                "type": "Polygon",
                "coordinates": [[[120.0, 30.2], [120.2, 30.2], [120.2, 30.3], [120.0, 30.3], [120.0, 30.2]]],
            },
        }
    ],
}
_UPLOAD_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "description": "a GeoJSON FeatureCollection as the body, or a file (GeoJSON or zipped Shapefile) "
        "uploaded as the multipart field 'file' (see docs/territory.md)",
        "content": {
            "application/json": {"schema": {"type": "object"}, "example": _EXAMPLE},
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "properties": {"file": {"type": "string", "format": "binary"}},
                    "required": ["file"],
                }
            },
        },
    }
}


@dataclass(frozen=True)
class Upload:
    """A territory file as the request brought it."""

    name: str
    data: bytes


async def _read_upload(request: Request, _admin: AdminFirst) -> Upload:
    """The uploaded file or the JSON body, read before the write transaction begins (and only
    for an admin: the body may be large)."""
    if request.headers.get("content-type", "").startswith("multipart/form-data"):
        try:
            async with request.form(max_files=1, max_fields=10) as form:  # closes the spooled file
                file = form.get("file")
                if not isinstance(file, UploadFile):
                    raise InvalidInput("upload the territory file as the multipart field 'file'")
                return Upload(file.filename or "upload", await file.read())
        except HTTPException as error:
            if error.status_code != 400:  # a body over the limit stays a 413
                raise
            raise InvalidInput(f"the multipart body cannot be read: {error.detail}") from None
    return Upload("body.geojson", await request.body())


TerritoryUpload = Annotated[Upload, Depends(_read_upload)]


@router.post(
    "/import",
    response_model=TerritoryReportOut,
    openapi_extra=_UPLOAD_BODY,
    summary="Import the territory from a file; with check=true only report (admin of the top region)",
    responses={422: {"description": "the file cannot be read, or has errors: the report names each"}},
)
def import_territory(
    upload: TerritoryUpload,
    session: DbSession,
    actor: Actor,
    request: Request,
    now: Now,
    check: Annotated[bool, Query(description="check and report only; write nothing")] = False,
    repair: Annotated[bool, Query(description="fix invalid polygons and neighbours' overlaps")] = False,
    tolerance: Annotated[float, Query(ge=0, le=1000, description="metres a feature may stray")] = 1.0,
) -> TerritoryReportOut:
    require_top_admin(actor, "the territory")
    try:
        features = read_territory(upload.data, upload.name, get_settings(request).territory_max_bytes)
    except TerritoryFileError as error:
        raise InvalidInput(f"{upload.name}: {error}") from None
    report = territory.import_territory(
        session, features, now, tolerance_m=tolerance, repair=repair, check_only=check
    )
    return TerritoryReportOut.model_validate(report.as_dict())


class ExportFormat(StrEnum):
    """The formats of the territory export."""

    GEOJSON = "geojson"
    SHAPEFILE = "shapefile"


@router.get(
    "/export",
    response_class=Response,
    responses={
        200: {
            "content": {
                "application/geo+json": {"example": _EXAMPLE},
                "application/zip": {"schema": {"type": "string", "format": "binary"}},
            }
        }
    },
    summary="The territory in use as GeoJSON or a zipped Shapefile (admin of the top region)",
)
def export_territory(
    session: DbSession,
    actor: Actor,
    file_format: Annotated[ExportFormat, Query(alias="format")] = ExportFormat.GEOJSON,
) -> Response:
    require_top_admin(actor, "the territory")
    features = territory.export_features(session)
    if file_format is ExportFormat.SHAPEFILE:
        headers = {"Content-Disposition": 'attachment; filename="territory.zip"'}
        return Response(write_shapefile_zip(features), media_type="application/zip", headers=headers)
    return Response(write_geojson(features), media_type="application/geo+json")
