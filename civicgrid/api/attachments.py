"""Attachment routes: upload a photo or file (or record a link to one), and read a stored
file or its thumbnail, for those who may see the case only."""

from __future__ import annotations

import re
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Depends, Path, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ValidationError
from starlette.datastructures import FormData, UploadFile
from starlette.responses import FileResponse

from civicgrid import media
from civicgrid.api.deps import Actor, AppSettings, DbSession, Now, Token
from civicgrid.api.errors import ERROR_RESPONSES, UPLOAD_RESPONSES
from civicgrid.api.present import attachment_out
from civicgrid.domain.errors import NotFound, UnsupportedFile
from civicgrid.schemas import AttachmentIn, AttachmentOut, UploadFields
from civicgrid.services import attachments
from civicgrid.services import auth as auth_service
from civicgrid.store.db import session_scope
from civicgrid.store.files import FileStore
from civicgrid.store.models import Attachment

M = TypeVar("M", bound=BaseModel)
router = APIRouter(prefix="/api/v1/cases", tags=["attachments"], responses=ERROR_RESPONSES)

#: The path uploads are sent to: the body limit lets multipart bodies here reach the upload limit.
UPLOAD_PATH = re.compile(r"/api/v1/cases/[^/]+/attachments")
#: Attachment ids fit the store's integer column on every backend.
AttachmentId = Annotated[int, Path(ge=1, le=2**31 - 1)]
#: Refuse anything active in a served file, even if a browser were to render it as a page.
FILE_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": "default-src 'none'; frame-ancestors 'none'; sandbox",
}


def get_file_store(request: Request) -> FileStore:
    """The application's file store."""
    store: FileStore = request.app.state.file_store
    return store


Files = Annotated[FileStore, Depends(get_file_store)]


def _schema(model: type[BaseModel]) -> dict[str, Any]:
    return model.model_json_schema(ref_template="#/components/schemas/{model}")


def _upload_body() -> dict[str, Any]:
    form = _schema(UploadFields)
    form["properties"] = {"file": {"type": "string", "format": "binary"}, **form["properties"]}
    form["required"] = ["file"]
    form["additionalProperties"] = False
    return {
        "requestBody": {
            "required": True,
            "content": {
                "multipart/form-data": {"schema": form},
                "application/json": {"schema": _schema(AttachmentIn)},
            },
        }
    }


@router.post(
    "/{number}/attachments",
    status_code=201,
    response_model=AttachmentOut,
    summary="Upload a photo or PDF (multipart/form-data), or record a link to a file kept elsewhere (JSON)",
    responses=UPLOAD_RESPONSES,
    openapi_extra=_upload_body(),
)
async def add_attachment(
    number: str,
    request: Request,
    token: Token,
    session: DbSession,
    files: Files,
    settings: AppSettings,
    now: Now,
) -> AttachmentOut:
    """An upload's type is read from its bytes and its size checked as it streams in; the
    file work is done before the short transaction that records it."""
    media_type = request.headers.get("content-type", "").partition(";")[0].strip().lower()
    secret = settings.secret_key

    if media_type == "application/json":
        data = _validated(AttachmentIn, await request.body(), json=True)

        def record_link() -> AttachmentOut:
            actor = auth_service.authenticate(session, token, secret_key=secret, now=now)
            return attachment_out(
                attachments.add_link(session, actor, number, data, now), number, data.event_seq
            )

        return await run_in_threadpool(record_link)
    if media_type != "multipart/form-data":
        raise UnsupportedFile(
            "send a file as multipart/form-data (a 'file' part), or a link to one as application/json"
        )

    def check_first() -> None:
        # In a read-only transaction: a stranger's or an outsider's upload is refused before
        # its bytes are read, and no write lock is taken while they stream in.
        with session_scope(request.app.state.read_session_factory) as reading:
            actor = auth_service.authenticate(reading, token, secret_key=secret, now=now)
            attachments.check_may_attach(reading, actor, number, None)

    await run_in_threadpool(check_first)
    async with request.form(
        max_files=1, max_fields=len(UploadFields.model_fields), max_part_size=1024
    ) as form:
        fields, upload = _upload_parts(form)
        prepared = await run_in_threadpool(
            attachments.prepare_upload,
            files,
            upload.file,
            upload.filename,
            max_bytes=settings.max_upload_bytes,
            thumbnail_pixels=settings.thumbnail_pixels,
        )

    def record() -> AttachmentOut:
        try:
            actor = auth_service.authenticate(session, token, secret_key=secret, now=now)
            attachment = attachments.record_upload(
                session, actor, number, prepared, fields.purpose, fields.event_seq, now
            )
        except BaseException:
            session.rollback()
            with session_scope(request.app.state.read_session_factory) as reading:
                attachments.forget_upload(reading, files, prepared)
            raise
        return attachment_out(attachment, number, fields.event_seq)

    return await run_in_threadpool(record)


def _upload_parts(form: FormData) -> tuple[UploadFields, UploadFile]:
    fields = _validated(UploadFields, {name: value for name, value in form.multi_items() if name != "file"})
    upload = form.get("file")
    if not isinstance(upload, UploadFile):
        raise RequestValidationError(
            [{"loc": ("body", "file"), "msg": "send the file as a part named 'file'", "type": "missing"}]
        )
    return fields, upload


def _validated(model: type[M], data: Any, json: bool = False) -> M:
    """``data`` as ``model``, or the API's usual 422 naming each field at fault."""
    try:
        return model.model_validate_json(data) if json else model.model_validate(data)
    except ValidationError as error:
        raise RequestValidationError(
            [{**problem, "loc": ("body", *problem["loc"])} for problem in error.errors()]
        ) from None


def serve_file(
    files: FileStore, attachment: Attachment, sha256: str, content_type: str, inline: bool
) -> FileResponse:
    """The stored file ``sha256`` of ``attachment`` (itself or its thumbnail), streamed from
    the store with headers that keep a browser from running anything in it; shown in the page
    (``inline``) or offered as a download under the attachment's safe name."""
    path = files.path(sha256)
    if not path.is_file():
        raise NotFound(f"the file of attachment {attachment.id} is missing from the file store")
    return FileResponse(
        path,
        media_type=content_type,
        filename=attachment.filename,
        content_disposition_type="inline" if inline else "attachment",
        headers=FILE_HEADERS,
    )


@router.get(
    "/{number}/attachments/{attachment_id}",
    response_class=FileResponse,
    summary="A stored photo or file of a case",
    responses={200: {"description": "the file", "content": {kind: {} for kind in media.CONTENT_TYPES}}},
)
def get_attachment(
    number: str, attachment_id: AttachmentId, session: DbSession, actor: Actor, files: Files
) -> FileResponse:
    attachment = attachments.stored_file(session, actor, number, attachment_id)
    # Photos show in the page; documents are downloaded, never rendered on the centre's origin.
    inline = attachment.content_type.startswith("image/")
    return serve_file(files, attachment, attachment.sha256, attachment.content_type, inline)


@router.get(
    "/{number}/attachments/{attachment_id}/thumbnail",
    response_class=FileResponse,
    summary="The thumbnail of a stored photo (JPEG, upright, without metadata)",
    responses={200: {"description": "the thumbnail", "content": {"image/jpeg": {}}}},
)
def get_thumbnail(
    number: str, attachment_id: AttachmentId, session: DbSession, actor: Actor, files: Files
) -> FileResponse:
    attachment = attachments.stored_file(session, actor, number, attachment_id)
    if attachment.thumbnail_sha256 is None:
        raise NotFound(f"attachment {attachment_id} is not a photo and has no thumbnail")
    return serve_file(files, attachment, attachment.thumbnail_sha256, "image/jpeg", inline=True)
