"""Downloads: an export streamed as the file is written, named in Chinese (RFC 5987), and the
case lists streamed from a session of their own, since the rows are read after the route
has returned (and its request's session has closed)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import Query, Request
from fastapi.responses import StreamingResponse
from sqlalchemy import Select

from civicgrid.api.deps import reading_factory
from civicgrid.exports.formats import MEDIA_TYPES, Column, ExportFormat, Value, content_disposition, write
from civicgrid.exports.tables import CASE_COLUMNS, case_rows
from civicgrid.store.db import session_scope
from civicgrid.store.models import Case

FormatParam = Annotated[
    ExportFormat,
    Query(alias="format", description="csv (UTF-8 with BOM, opens in Excel) or xlsx"),
]

#: For the OpenAPI document of a download.
DOWNLOAD_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "the file, streamed while it is written; Content-Disposition names it",
        "content": {MEDIA_TYPES[ExportFormat.CSV]: {}, MEDIA_TYPES[ExportFormat.XLSX]: {}},
    }
}


def download(
    file_format: ExportFormat,
    name: str,
    fallback: str,
    columns: Sequence[Column],
    rows: Iterable[Sequence[Value]],
    zone: ZoneInfo,
    sheet: str,
) -> StreamingResponse:
    """The file of ``rows`` under ``columns``, named ``name`` (``fallback``: its ASCII name)."""
    suffix = f".{file_format.value}"
    headers = {"Content-Disposition": content_disposition(name + suffix, fallback + suffix)}
    return StreamingResponse(
        write(file_format, columns, rows, zone, sheet), media_type=MEDIA_TYPES[file_format], headers=headers
    )


def case_download(
    request: Request,
    query: Select[tuple[Case]],
    now: datetime,
    zone: ZoneInfo,
    file_format: ExportFormat,
    name: str,
    fallback: str,
) -> StreamingResponse:
    """The cases of ``query`` (scoped and filtered by the route, which has refused any bad
    input already) as a file, read in keyset batches in a read-only session of its own."""
    factory = reading_factory(request)

    def rows() -> Iterator[tuple[Value, ...]]:
        with session_scope(factory) as session:
            yield from case_rows(session, query, now)

    stamp = now.astimezone(zone).strftime("%Y%m%d-%H%M")
    return download(file_format, f"{name}-{stamp}", f"{fallback}-{stamp}", CASE_COLUMNS, rows(), zone, "案件")
