"""Photos and files of a case: uploads into the centre's file store (type read from the
bytes, a thumbnail for photos), links to files kept elsewhere, reading them back, and tying
them to the event that took them (a handling's "after" photo).

An upload is done in two steps so that SQLite's write lock is never held while a file
streams in or a thumbnail is made: ``prepare_upload`` does the file work with no
transaction open, then ``record_upload`` writes the row in a short one.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import PurePath
from typing import BinaryIO

from sqlalchemy import select
from sqlalchemy.orm import Session

from civicgrid import media
from civicgrid.domain.errors import InvalidInput, NotFound, RoleNotAllowed
from civicgrid.domain.vocabulary import AttachmentPurpose, Role
from civicgrid.schemas import AttachmentIn
from civicgrid.store import cases as case_queries
from civicgrid.store.files import FileStore
from civicgrid.store.models import Attachment, Case, CaseEvent, User

#: What may not stand in a file name we offer back: control, line-break and direction marks.
_UNSAFE_NAME = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\u200e\u200f\u202a-\u202e\u2066-\u2069]")
#: The name given to a file whose device named it nothing usable.
DEFAULT_NAME = "附件"


@dataclass(frozen=True)
class PreparedUpload:
    """A file checked and kept in the store, not yet recorded on a case."""

    filename: str
    file_type: media.FileType
    size_bytes: int
    sha256: str
    thumbnail_sha256: str | None
    #: Files this upload added to the store (removed again if recording it fails).
    written: list[str] = field(default_factory=list)


def check_may_attach(session: Session, actor: User, number: str, event_seq: int | None) -> None:
    """Refuse early, before a file is read, what ``record_upload`` would refuse: a citizen,
    a case the actor may not see, an event that is not the actor's."""
    _target(session, actor, number, event_seq)


def prepare_upload(
    store: FileStore, source: BinaryIO, filename: str | None, *, max_bytes: int, thumbnail_pixels: int
) -> PreparedUpload:
    """Receive ``source`` into ``store``: refused (nothing kept) when larger than
    ``max_bytes``, not a photo or PDF by its bytes, or damaged; a photo gets its thumbnail."""
    incoming = store.receive(source, max_bytes)
    try:
        file_type = media.identify(incoming.path)
        preview = media.thumbnail(incoming.path, thumbnail_pixels) if file_type.is_image else None
    except BaseException:
        store.discard(incoming)
        raise
    written = [incoming.sha256] if store.keep(incoming) else []
    thumbnail_sha256 = None
    if preview is not None:
        thumbnail_sha256, new = store.put(preview)
        written += [thumbnail_sha256] if new else []
    return PreparedUpload(
        safe_filename(filename, file_type),
        file_type,
        incoming.size,
        incoming.sha256,
        thumbnail_sha256,
        written,
    )


def safe_filename(given: str | None, file_type: media.FileType) -> str:
    """The name to show and offer on download: the device's name without folders or unsafe
    characters, ending in the extension of the type the bytes have."""
    name = PurePath(_UNSAFE_NAME.sub("", (given or "").replace("\\", "/"))).name.strip()
    path = PurePath(name)
    if path.suffix.lower() in file_type.extensions:
        stem, suffix = path.stem, path.suffix
    else:
        stem, suffix = name, file_type.extension
    return (stem or DEFAULT_NAME)[: 200 - len(suffix)] + suffix


def record_upload(
    session: Session,
    actor: User,
    number: str,
    upload: PreparedUpload,
    purpose: AttachmentPurpose | None,
    event_seq: int | None,
    now: datetime,
) -> Attachment:
    """Record an uploaded file on case ``number``: who uploaded it and when, tied to the
    actor's own event ``event_seq`` if given (else to the next event that names it)."""
    case, event = _target(session, actor, number, event_seq)
    attachment = Attachment(
        case=case,
        event=event,
        filename=upload.filename,
        content_type=upload.file_type.content_type,
        size_bytes=upload.size_bytes,
        sha256=upload.sha256,
        uri=None,
        thumbnail_sha256=upload.thumbnail_sha256,
        purpose=purpose,
        uploaded_by=actor,
        created_at=now,
    )
    session.add(attachment)
    session.flush()
    return attachment


def forget_upload(session: Session, store: FileStore, upload: PreparedUpload) -> None:
    """Remove the files an upload added to the store when recording it failed, unless a
    row recorded since refers to the same content."""
    for sha256 in upload.written:
        used = select(Attachment.id).where(
            (Attachment.sha256 == sha256) | (Attachment.thumbnail_sha256 == sha256)
        )
        if session.scalar(used.limit(1)) is None:
            store.remove(sha256)


def add_link(session: Session, actor: User, number: str, data: AttachmentIn, now: datetime) -> Attachment:
    """Record a photo or file kept elsewhere (a link), optionally tied to the actor's own
    event ``data.event_seq``."""
    case, event = _target(session, actor, number, data.event_seq)
    attachment = Attachment(
        case=case,
        event=event,
        filename=data.filename,
        content_type=data.content_type,
        size_bytes=data.size_bytes,
        sha256=data.sha256,
        uri=data.uri,
        purpose=data.purpose,
        uploaded_by=actor,
        created_at=now,
    )
    session.add(attachment)
    session.flush()
    return attachment


def _target(
    session: Session, actor: User, number: str, event_seq: int | None
) -> tuple[Case, CaseEvent | None]:
    if actor.role is Role.CITIZEN:
        raise RoleNotAllowed(
            "citizens attach files when they report, through the public API",
            zh="市民请在反映问题时通过公众渠道附上照片",
        )
    case = case_queries.get_visible(session, actor, number)
    if event_seq is None:
        return case, None
    event = session.scalar(select(CaseEvent).where(CaseEvent.case_id == case.id, CaseEvent.seq == event_seq))
    if event is None:
        raise InvalidInput(
            f"case {number} has no event {event_seq}", zh=f"案件 {number} 没有第 {event_seq} 条记录"
        )
    if event.actor_id != actor.id:
        raise RoleNotAllowed(
            f"event {event_seq} of case {number} is not yours: attach files to your own events",
            zh=f"案件 {number} 的第 {event_seq} 条记录不是您办理的，照片只能附在自己的记录上",
        )
    return case, event


def stored_file(session: Session, actor: User, number: str, attachment_id: int) -> Attachment:
    """Attachment ``attachment_id`` of case ``number``, if the actor may see the case and the
    file is in the centre's store; NotFound otherwise (also for another case's attachment)."""
    case = case_queries.get_visible(session, actor, number)
    attachment = session.scalar(
        select(Attachment).where(Attachment.id == attachment_id, Attachment.case_id == case.id)
    )
    if attachment is None:
        raise NotFound(
            f"case {number} has no attachment {attachment_id}", zh=f"案件 {number} 没有附件 {attachment_id}"
        )
    if not attachment.is_stored:
        raise NotFound(
            f"attachment {attachment_id} is a link to a file kept elsewhere: {attachment.uri}",
            zh=f"附件 {attachment_id} 是外部文件的链接，文件不在本中心：{attachment.uri}",
        )
    return attachment


def tie_to_event(
    session: Session, case: Case, actor: User, event: CaseEvent, attachment_ids: Sequence[int]
) -> None:
    """Tie the actor's own untied uploads ``attachment_ids`` on ``case`` to ``event`` (the
    photos of a verification, a handling or a check); refuses any other."""
    wanted = set(attachment_ids)
    if len(wanted) != len(attachment_ids):
        raise InvalidInput("attachment_ids names an attachment twice", zh="同一份附件被选了两次")
    found = {
        attachment.id: attachment
        for attachment in session.scalars(
            select(Attachment).where(Attachment.case_id == case.id, Attachment.id.in_(wanted))
        )
    }
    for attachment_id in attachment_ids:
        attachment = found.get(attachment_id)
        if attachment is None:
            raise InvalidInput(
                f"case {case.number} has no attachment {attachment_id}",
                zh=f"案件 {case.number} 没有附件 {attachment_id}",
            )
        if attachment.uploaded_by_id != actor.id:
            raise InvalidInput(
                f"attachment {attachment_id} was uploaded by someone else",
                zh=f"附件 {attachment_id} 不是您上传的",
            )
        if attachment.event_id is not None:
            raise InvalidInput(
                f"attachment {attachment_id} already belongs to another event",
                zh=f"附件 {attachment_id} 已附在另一条记录上",
            )
        attachment.event = event
