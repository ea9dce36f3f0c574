"""The briefings service: a briefing made on demand for its reader, the briefings schedules
made and stored, and the schedules themselves (admins, within their region's subtree).

A briefing is assembled from the statistics, evaluation and map services with the reader's
scope (``civicgrid.briefings.content``), then drawn in the formats asked for. A scheduled one
is made with the view of its region's own staff, by ``civicgrid.briefings.runner``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import update
from sqlalchemy.orm import Session

from civicgrid import media
from civicgrid.briefings import html, pdf, xlsx
from civicgrid.briefings.content import Briefing, BriefingRequest, Masthead, assemble
from civicgrid.domain.briefings import FORMAT_TYPES, BriefingFormat, BriefingKind
from civicgrid.domain.errors import NotFound, RoleNotAllowed
from civicgrid.domain.evaluation import Scheme
from civicgrid.domain.vocabulary import Role
from civicgrid.schemas_briefings import ScheduleIn, SchedulePatch
from civicgrid.services.directory import require_admin
from civicgrid.settings import Settings
from civicgrid.store import briefings as queries
from civicgrid.store.files import FileStore
from civicgrid.store.lookups import by_code
from civicgrid.store.models import Briefing as StoredBriefing
from civicgrid.store.models import BriefingFile, BriefingSchedule, Region, User
from civicgrid.store.scoping import region_in_scope

#: The longer side of the logo as printed, in pixels.
LOGO_PIXELS = 600


def masthead(settings: Settings) -> Masthead:
    """The centre's masthead: CIVICGRID_BRIEFING_TITLE and the logo CIVICGRID_BRIEFING_LOGO
    (a JPEG, PNG or WebP image; refused with the reason if it is not one)."""
    logo = media.png_of(Path(settings.briefing_logo), LOGO_PIXELS) if settings.briefing_logo else None
    return Masthead(settings.briefing_title, logo)


@dataclass(frozen=True)
class Document:
    """A briefing drawn in one format, ready to be sent or kept."""

    format: BriefingFormat
    filename: str
    data: bytes

    @property
    def content_type(self) -> str:
        return FORMAT_TYPES[self.format][0]


def draw(briefing: Briefing, formats: Sequence[BriefingFormat]) -> list[Document]:
    """The briefing in each of ``formats`` (the charts drawn once for all)."""
    images = html.draw_charts(briefing) if {BriefingFormat.PDF, BriefingFormat.HTML} & set(formats) else {}
    documents = []
    for kind in formats:
        if kind is BriefingFormat.PDF:
            data = pdf.render(briefing, images)
        elif kind is BriefingFormat.XLSX:
            data = xlsx.render(briefing)
        else:
            data = html.render(briefing, images).encode("utf-8")
        documents.append(Document(kind, f"{briefing.file_stem}{FORMAT_TYPES[kind][1]}", data))
    return documents


def generate(
    session: Session,
    actor: User,
    request: BriefingRequest,
    file_format: BriefingFormat,
    now: datetime,
    *,
    zone: ZoneInfo,
    scheme: Scheme,
    heading: Masthead,
) -> Document:
    """The briefing ``request`` asks for, as ``actor`` sees it, in ``file_format``; nothing
    is stored. Refused for citizens and for regions outside the actor's scope."""
    briefing = assemble(session, actor, request, now, zone=zone, scheme=scheme, masthead=heading)
    return draw(briefing, [file_format])[0]


def system_reader(region: Region) -> User:
    """Who a scheduled briefing is made as: the region's own view (a leader of it), never
    stored; the figures are those the region's staff see."""
    return User(username="system", full_name="系统", role=Role.LEADER, region=region, region_id=region.id)


# --- stored briefings ---------------------------------------------------------------------


def _require_staff(actor: User) -> None:
    if actor.role is Role.CITIZEN:
        raise RoleNotAllowed("briefings are for the centre's staff")


def stored_page(
    session: Session,
    actor: User,
    *,
    kind: BriefingKind | None,
    region_code: str | None,
    before_id: int | None,
    limit: int,
) -> tuple[list[StoredBriefing], int | None]:
    """The stored briefings of the regions in the actor's scope, newest first, and the
    before_id of the next page (None on the last)."""
    _require_staff(actor)
    region = None
    if region_code is not None:
        region = by_code(session, Region, region_code)
        if not region_in_scope(region, actor):
            raise RoleNotAllowed(f"region {region.code} ({region.name}) is outside your scope")
    rows = queries.stored_briefings(
        session,
        actor,
        kind=kind,
        region=region,
        before_id=before_id,
        limit=limit + 1,
    )
    more = len(rows) > limit
    rows = rows[:limit]
    return rows, rows[-1].id if more else None


def stored_file(session: Session, actor: User, briefing_id: int, file_format: BriefingFormat) -> BriefingFile:
    """One format of a stored briefing of a region in the actor's scope, or NotFound."""
    _require_staff(actor)
    briefing = queries.stored_briefing(session, actor, briefing_id)
    if briefing is None:
        raise NotFound(f"no stored briefing {briefing_id} that you may see")
    found = next((file for file in briefing.files if file.format is file_format), None)
    if found is None:
        made = ", ".join(file.format.value for file in briefing.files) or "none"
        raise NotFound(f"briefing {briefing_id} was not made as {file_format.value} (made as: {made})")
    return found


def keep_files(files: FileStore, documents: Sequence[Document]) -> tuple[list[str], list[str]]:
    """Put each document in the file store: their SHA-256s, and those new to the store (to
    remove again if recording them fails)."""
    kept, written = [], []
    for document in documents:
        sha256, new = files.put(document.data)
        kept.append(sha256)
        written += [sha256] if new else []
    return kept, written


def record(
    session: Session,
    schedule: BriefingSchedule,
    briefing: Briefing,
    documents: Sequence[Document],
    kept: Sequence[str],
    now: datetime,
) -> StoredBriefing:
    """The row of a schedule's briefing and its files (kept in the store already); the
    unique (schedule, period) refuses a second one (IntegrityError at the flush)."""
    stored = StoredBriefing(
        schedule_id=schedule.id,
        kind=briefing.kind,
        region_id=schedule.region_id,
        period_start=briefing.period.start,
        period_end=briefing.period.end,
        period_label=briefing.period.label,
        title=briefing.title,
        created_at=now,
        files=[
            BriefingFile(
                format=document.format,
                content_type=document.content_type,
                filename=document.filename,
                size_bytes=len(document.data),
                sha256=sha256,
            )
            for document, sha256 in zip(documents, kept, strict=True)
        ],
    )
    session.add(stored)
    session.flush()
    return stored


# --- schedules ----------------------------------------------------------------------------


def _managed_region(session: Session, actor: User, code: str) -> Region:
    require_admin(actor)
    region = by_code(session, Region, code)
    if not region_in_scope(region, actor):
        raise RoleNotAllowed(f"region {region.code} ({region.name}) is outside your scope")
    return region


def _managed_schedule(session: Session, actor: User, schedule_id: int) -> BriefingSchedule:
    require_admin(actor)
    schedule = next((s for s in queries.schedules_in_scope(session, actor) if s.id == schedule_id), None)
    if schedule is None:
        raise NotFound(f"no briefing schedule {schedule_id} that you manage")
    return schedule


def list_schedules(session: Session, actor: User) -> list[BriefingSchedule]:
    """The schedules of the regions in the admin's subtree."""
    require_admin(actor)
    return queries.schedules_in_scope(session, actor)


def create_schedule(session: Session, actor: User, data: ScheduleIn, now: datetime) -> BriefingSchedule:
    """A new schedule for a region of the admin's subtree; the first briefing is of the
    first period that ends after now."""
    region = _managed_region(session, actor, data.region_code)
    schedule = BriefingSchedule(
        kind=data.kind,
        region=region,
        formats=[kind.value for kind in data.formats],
        title=data.title,
        hour=data.hour,
        is_active=True,
        created_at=now,
        created_by_id=actor.id,
    )
    session.add(schedule)
    session.flush()
    return schedule


def update_schedule(session: Session, actor: User, schedule_id: int, data: SchedulePatch) -> BriefingSchedule:
    """Change a schedule's formats, title, hour, or switch it off and on."""
    schedule = _managed_schedule(session, actor, schedule_id)
    changes = data.model_dump(exclude_unset=True)
    if "formats" in changes and changes["formats"] is None:
        changes.pop("formats")
    for name in ("hour", "is_active"):
        if name in changes and changes[name] is None:
            changes.pop(name)
    if "formats" in changes:
        changes["formats"] = [BriefingFormat(kind).value for kind in changes["formats"]]
    for name, value in changes.items():
        setattr(schedule, name, value)
    session.flush()
    return schedule


def delete_schedule(session: Session, actor: User, schedule_id: int) -> None:
    """Delete a schedule; the briefings it made stay, no longer tied to it."""
    schedule = _managed_schedule(session, actor, schedule_id)
    session.execute(
        update(StoredBriefing).where(StoredBriefing.schedule_id == schedule.id).values(schedule_id=None)
    )
    session.delete(schedule)
    session.flush()
