"""Photos on the pages: the forms that take them (intake, the steps done on site), and the
files of a case served back to those who may see it.

A form with photos is handled in three steps, as the API's upload is, so that SQLite's
write lock is never held while files stream in or thumbnails are made:

1. a read-only transaction: who is signed in, and whether they may take this step at all
   (before a byte of the body is read);
2. no transaction: the body is read within its limits, its CSRF token checked, and each
   photo checked and kept in the file store by ``attachments.prepare_upload``; a refused
   photo removes the ones kept before it, and the form is shown again with the reason;
3. the request's write transaction: the case action and one attachment row per photo,
   tied to the action's event. If anything in it is refused, it is rolled back and the
   files this request added to the store are removed: the action and its photos are
   stored together or not at all.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from datetime import datetime
from pathlib import PurePath
from typing import Annotated, TypeVar

from fastapi import APIRouter, Path, Request
from fastapi.concurrency import run_in_threadpool
from sqlalchemy.orm import Session
from starlette.datastructures import FormData, UploadFile
from starlette.exceptions import HTTPException
from starlette.responses import FileResponse

from civicgrid.api.attachments import serve_file
from civicgrid.api.deps import DbSession, get_settings
from civicgrid.api.middleware import BodyTooLarge
from civicgrid.domain.errors import DomainError, InvalidInput, NotFound, TooLarge, UnsupportedFile
from civicgrid.domain.vocabulary import Action, AttachmentPurpose
from civicgrid.services import attachments
from civicgrid.services import auth as auth_service
from civicgrid.services.attachments import PreparedUpload
from civicgrid.services.cases import ACTION_FIELDS
from civicgrid.store.db import session_scope
from civicgrid.store.files import FileStore
from civicgrid.store.models import Attachment, Case, User
from civicgrid.web.pages import PageRoute, PageUser, PhotoRefused, check_csrf, page_user, scope_label

T = TypeVar("T")

router = APIRouter(route_class=PageRoute, include_in_schema=False)

#: The file input of every form that takes photos.
FIELD = "photos"
#: What the photos of each step show. The steps that take photos are the workflow's
#: (``ACTION_FIELDS`` lists ``attachment_ids`` for them); a report shows the problem as found.
PURPOSES: dict[Action, AttachmentPurpose] = {
    Action.REPORT: AttachmentPurpose.BEFORE,
    Action.VERIFY: AttachmentPurpose.BEFORE,
    Action.HANDLE: AttachmentPurpose.AFTER,
    Action.FINISH_TASK: AttachmentPurpose.AFTER,
    Action.CHECK: AttachmentPurpose.AFTER,
    Action.FAIL_CHECK: AttachmentPurpose.AFTER,
}
#: A page form's fields besides its photos stay well under this many.
MAX_FIELDS = 200

AttachmentId = Annotated[int, Path(ge=1, le=2**31 - 1)]


def takes_photos(action: Action) -> bool:
    """Whether the workflow lets ``action`` carry photos of the step."""
    return "attachment_ids" in ACTION_FIELDS.get(action, frozenset())


def purpose(action: Action) -> AttachmentPurpose:
    """What the photos taken with ``action`` show."""
    return PURPOSES.get(action, AttachmentPurpose.OTHER)


# --- step 1: who, before the body is read ---------------------------------------------------


@contextmanager
def reading(request: Request) -> Iterator[Session]:
    """A read-only transaction of its own: it takes no write lock, whatever the method."""
    with session_scope(request.app.state.read_session_factory) as session:
        yield session


def signed_in(request: Request, session: Session, now: datetime) -> User:
    """The page's signed-in user, read in ``session`` with what every page's header shows of
    them, so the user can still be shown once ``session`` is closed."""
    user = page_user(request, session, now)
    scope_label(user)  # loads the department, region and grid the header names
    return user


# --- step 2: the body, its token, the photos ------------------------------------------------


def _shown_name(upload: UploadFile) -> str:
    """The name the device gave a photo, as a refusal quotes it: no folders, nothing unprintable."""
    name = PurePath((upload.filename or "").replace("\\", "/")).name
    return "".join(c for c in name if c.isprintable())[:60] or "照片"


@asynccontextmanager
async def posted_form(request: Request) -> AsyncIterator[FormData]:
    """The body of a page form that may carry photos, read within the limits (at most
    ``CIVICGRID_WEB_MAX_PHOTOS`` files), its CSRF token checked; its temporary files are
    removed afterwards."""
    most = get_settings(request).web_max_photos
    try:
        # A few more than allowed are read, so that the form can be shown again with the reason
        # (``prepare`` refuses them); far more end the reading at once.
        form = await request.form(max_files=2 * most + 10, max_fields=MAX_FIELDS)
    except BodyTooLarge:
        limit = get_settings(request).max_upload_bytes
        raise PhotoRefused(f"照片总量过大：每次最多 {most} 张、每张不超过 {limit / 2**20:g} MB") from None
    except HTTPException as error:
        if "Too many files" in str(error.detail):
            raise PhotoRefused(f"每次最多上传 {most} 张照片") from None
        raise InvalidInput(f"表单无法读取：{error.detail}") from None
    try:
        await check_csrf(request)
        yield form
    finally:
        await form.close()


def chosen(form: FormData) -> list[UploadFile]:
    """The photos chosen in the form (a file input left empty sends a nameless empty part)."""
    return [
        value
        for value in form.getlist(FIELD)
        if isinstance(value, UploadFile) and (value.filename or (value.size or 0) > 0)
    ]


def _refusal(error: DomainError, upload: UploadFile, limit: int) -> PhotoRefused:
    name = _shown_name(upload)
    if isinstance(error, TooLarge):
        return PhotoRefused(f"照片「{name}」超过 {limit / 2**20:g} MB 的上限，请压缩后重新选择")
    if isinstance(error, UnsupportedFile):
        return PhotoRefused(f"「{name}」不是照片(JPEG、PNG、WebP)或 PDF 文件，请重新选择")
    return PhotoRefused(f"照片「{name}」已损坏、不完整或像素过多，无法读取，请重新拍摄或选择")


async def prepare(request: Request, uploads: list[UploadFile]) -> list[PreparedUpload]:
    """Check each photo and keep it in the file store, with its thumbnail (no transaction
    open). A refused photo refuses them all: what was kept for the others is removed, and
    ``PhotoRefused`` says which photo and why."""
    settings = get_settings(request)
    if len(uploads) > settings.web_max_photos:
        raise PhotoRefused(f"每次最多上传 {settings.web_max_photos} 张照片，这次选了 {len(uploads)} 张")
    store: FileStore = request.app.state.file_store
    prepared: list[PreparedUpload] = []
    for upload in uploads:
        try:
            prepared.append(
                await run_in_threadpool(
                    attachments.prepare_upload,
                    store,
                    upload.file,
                    upload.filename,
                    max_bytes=settings.max_upload_bytes,
                    thumbnail_pixels=settings.thumbnail_pixels,
                )
            )
        except (TooLarge, UnsupportedFile, InvalidInput) as error:
            await run_in_threadpool(forget, request, prepared)
            raise _refusal(error, upload, settings.max_upload_bytes) from None
        except BaseException:
            await run_in_threadpool(forget, request, prepared)
            raise
    return prepared


def forget(request: Request, prepared: list[PreparedUpload]) -> None:
    """Remove from the store what ``prepared`` added to it, unless a stored row uses it."""
    if not prepared:
        return
    store: FileStore = request.app.state.file_store
    with reading(request) as session:
        for upload in prepared:
            attachments.forget_upload(session, store, upload)


# --- step 3: the write --------------------------------------------------------------------


def actor_again(request: Request, session: Session) -> User:
    """The signed-in user, read again in the write transaction ``session``."""
    settings = get_settings(request)
    return auth_service.authenticate(
        session, request.state.page_token, secret_key=settings.secret_key, now=request.state.page_now
    )


def record(
    session: Session,
    actor: User,
    number: str,
    prepared: list[PreparedUpload],
    taken_with: Action,
    event_seq: int | None,
    now: datetime,
) -> list[Attachment]:
    """One attachment row per photo on case ``number``, with the purpose of the step
    ``taken_with``; tied to the actor's event ``event_seq`` now, or (None) by the action
    that names their ids next."""
    return [
        attachments.record_upload(session, actor, number, upload, purpose(taken_with), event_seq, now)
        for upload in prepared
    ]


async def write(
    request: Request, session: Session, prepared: list[PreparedUpload], work: Callable[[], T]
) -> T:
    """Run ``work`` (the action and its photos' rows) in the request's write transaction,
    off the event loop; if it fails, roll back and remove the files ``prepared`` kept."""

    def run() -> T:
        try:
            return work()
        except BaseException:
            session.rollback()
            forget(request, prepared)
            raise

    return await run_in_threadpool(run)


# --- the files of a case ------------------------------------------------------------------


def _private(response: FileResponse) -> FileResponse:
    # A case's photos are as private as its file: never kept by a browser or proxy.
    response.headers["Cache-Control"] = "no-store"
    return response


@router.get("/cases/{number}/attachments/{attachment_id}")
def original(
    request: Request, session: DbSession, user: PageUser, number: str, attachment_id: AttachmentId
) -> FileResponse:
    """A photo or file of a case, for those who may see the case (404 for anyone else):
    photos shown in the page, documents downloaded."""
    attachment = attachments.stored_file(session, user, number, attachment_id)
    inline = attachment.content_type.startswith("image/")
    store = request.app.state.file_store
    return _private(serve_file(store, attachment, attachment.sha256, attachment.content_type, inline))


@router.get("/cases/{number}/attachments/{attachment_id}/thumbnail")
def thumbnail(
    request: Request, session: DbSession, user: PageUser, number: str, attachment_id: AttachmentId
) -> FileResponse:
    """The thumbnail of a case's photo, for those who may see the case (404 for anyone else)."""
    attachment = attachments.stored_file(session, user, number, attachment_id)
    if attachment.thumbnail_sha256 is None:
        raise NotFound(f"附件 {attachment_id} 不是照片，没有缩略图")
    store = request.app.state.file_store
    return _private(serve_file(store, attachment, attachment.thumbnail_sha256, "image/jpeg", inline=True))


def by_event(case: Case) -> dict[int, list[Attachment]]:
    """The case's attachments grouped by the id of the event that took them."""
    grouped: dict[int, list[Attachment]] = {}
    for attachment in case.attachments:
        if attachment.event_id is not None:
            grouped.setdefault(attachment.event_id, []).append(attachment)
    return grouped
