"""The centre's tables: territory (regions, grids), people (departments, users, tokens),
the category tree, the loaded calendar, cases with their append-only events, tasks and
attachments, the outbox, the live journal with the users' notifications, and the
briefings' schedules and stored documents."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any
from uuid import uuid4

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Date,
    Float,
    ForeignKey,
    Index,
    Integer,
    ScalarSelect,
    String,
    Table,
    Text,
    UniqueConstraint,
    event,
    select,
    update,
)
from sqlalchemy.orm import Mapped, Session, UOWTransaction, mapped_column, relationship

from civicgrid.domain.briefings import BriefingFormat, BriefingKind
from civicgrid.domain.vocabulary import (
    Action,
    AlertKind,
    AttachmentPurpose,
    CaseKind,
    CaseState,
    Channel,
    DepartmentFunction,
    DepartmentLevel,
    GridDuty,
    GridKind,
    RegionLevel,
    RequestType,
    Role,
    Satisfaction,
    SignInOutcome,
    Stage,
    Urgency,
)
from civicgrid.store.db import Base
from civicgrid.store.types import UTCDateTime, enum_by_value


def utcnow() -> datetime:
    """Now, timezone-aware."""
    return datetime.now(UTC)


class Region(Base):
    """A node of the region tree: district → street/town → community/village."""

    __tablename__ = "regions"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    level: Mapped[RegionLevel] = mapped_column(enum_by_value(RegionLevel))
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("regions.id"), index=True)
    #: Codes from the root down, "/990101/990101001/": a subtree is one prefix match.
    path: Mapped[str] = mapped_column(String(400), index=True)
    boundary: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    #: A region is retired, never deleted, once cases refer to it.
    retired_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    parent: Mapped[Region | None] = relationship(remote_side=[id], back_populates="children")
    children: Mapped[list[Region]] = relationship(back_populates="parent")


class Grid(Base):
    """The smallest unit of responsibility, a polygon inside a community."""

    __tablename__ = "grids"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    kind: Mapped[GridKind] = mapped_column(enum_by_value(GridKind))
    region_id: Mapped[int] = mapped_column(ForeignKey("regions.id"), index=True)
    boundary: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    #: For overlay grids, the layer they belong to ("20+25": ``public_area``, ``self_governance``).
    overlay_group: Mapped[str | None] = mapped_column(String(40))
    #: A grid that still has cases is retired, never deleted: it no longer takes new cases.
    retired_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    region: Mapped[Region] = relationship()
    staff: Mapped[list[GridStaff]] = relationship(
        back_populates="grid", cascade="all, delete-orphan", order_by="GridStaff.user_id"
    )


class GridStaff(Base):
    """A person serving a grid, as its inspector (网格员) or its leader (网格长)."""

    __tablename__ = "grid_staff"

    grid_id: Mapped[int] = mapped_column(ForeignKey("grids.id"), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), primary_key=True, index=True)
    duty: Mapped[GridDuty] = mapped_column(enum_by_value(GridDuty), primary_key=True)

    grid: Mapped[Grid] = relationship(back_populates="staff")
    user: Mapped[User] = relationship()


class TerritoryRevision(Base):
    """One row whose mark changes whenever grids or regions are written: a process keeps its grid index
    while the mark it was built on is still the store's (see ``civicgrid.geo.index``)."""

    __tablename__ = "territory_revision"

    id: Mapped[int] = mapped_column(primary_key=True)
    #: A fresh random value at each change, so a rolled-back change never reuses a mark.
    mark: Mapped[str] = mapped_column(String(32))


def territory_mark() -> ScalarSelect[str]:
    """The territory's revision mark as a scalar subquery, to read along with another statement."""
    return select(TerritoryRevision.mark).where(TerritoryRevision.id == 1).scalar_subquery()


def territory_changed(session: Session) -> None:
    """Give the territory a new revision mark, in the session's transaction. ORM writes of
    grids and regions do it on their own (below); code that writes them with Core statements
    calls it."""
    session.connection().execute(update(TerritoryRevision).values(mark=uuid4().hex))


@event.listens_for(Session, "before_flush")
def _mark_grid_writes(session: Session, flush: UOWTransaction, instances: object) -> None:
    if any(isinstance(row, Grid | Region) for row in (*session.new, *session.dirty, *session.deleted)):
        territory_changed(session)


class Department(Base):
    """A functional unit that handles cases (城管中队, 派出所, 市政所 …) at a level, for a region."""

    __tablename__ = "departments"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    function: Mapped[DepartmentFunction] = mapped_column(enum_by_value(DepartmentFunction))
    level: Mapped[DepartmentLevel] = mapped_column(enum_by_value(DepartmentLevel))
    region_id: Mapped[int] = mapped_column(ForeignKey("regions.id"), index=True)
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("departments.id"))
    #: 1: on duty 24h and on site at once; 2: answers within 24h; 3: a named contact.
    linkage_level: Mapped[int] = mapped_column(Integer, default=2)
    phone: Mapped[str | None] = mapped_column(String(40))
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)

    region: Mapped[Region] = relationship()


class User(Base):
    """A person who signs in: staff with a role scoped to a region or department, or a citizen."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(60), unique=True)
    full_name: Mapped[str] = mapped_column(String(100))
    password_hash: Mapped[str] = mapped_column(String(200))
    role: Mapped[Role] = mapped_column(enum_by_value(Role))
    region_id: Mapped[int | None] = mapped_column(ForeignKey("regions.id"))
    department_id: Mapped[int | None] = mapped_column(ForeignKey("departments.id"))
    grid_id: Mapped[int | None] = mapped_column(ForeignKey("grids.id"))
    phone: Mapped[str | None] = mapped_column(String(40))
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    #: When an admin last set a new password; failed sign-ins before it no longer lock the account.
    password_changed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    region: Mapped[Region | None] = relationship()
    department: Mapped[Department | None] = relationship()
    grid: Mapped[Grid | None] = relationship()


class ApiToken(Base):
    """A sign-in token; only its keyed hash is stored, so a leaked table signs nobody in."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    #: Indexed so that tokens long expired can be purged in small batches.
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    user: Mapped[User] = relationship()


class ApiKey(Base):
    """A key an outside system (an Open311 client) reports with: named, scoped to a region,
    revocable; only its keyed hash is stored. Each key acts through a system user of its own
    (role operator, the key's region, no password), so its cases' events name the key."""

    __tablename__ = "api_keys"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    #: The key's first characters, shown in lists so that people can tell keys apart.
    prefix: Mapped[str] = mapped_column(String(12))
    region_id: Mapped[int] = mapped_column(ForeignKey("regions.id"))
    channel: Mapped[Channel] = mapped_column(enum_by_value(Channel))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    #: The admin's username, or who ran ``civicgrid api-key create``.
    created_by: Mapped[str] = mapped_column(String(100))
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    region: Mapped[Region] = relationship()
    user: Mapped[User] = relationship()


class SignInAttempt(Base):
    """One attempt to sign in: the audit of sign-ins, and what the sign-in throttle counts.
    The username is kept as typed, known or not, so that guessing at names that do not
    exist is throttled and answered like guessing at names that do."""

    __tablename__ = "sign_in_attempts"
    __table_args__ = (
        Index("ix_sign_in_attempts_username_at", "username", "at"),
        Index("ix_sign_in_attempts_address_at", "address", "at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(60))
    #: The client's address as the server sees it (behind a proxy: see the README).
    address: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    outcome: Mapped[SignInOutcome] = mapped_column(enum_by_value(SignInOutcome))


class Category(Base):
    """A class of the category tree: a big class (no parent) or a small class under one,
    with its closure standard, default department function and stage limits."""

    __tablename__ = "categories"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(20), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    kind: Mapped[CaseKind] = mapped_column(enum_by_value(CaseKind))
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("categories.id"), index=True)
    department_function: Mapped[DepartmentFunction | None] = mapped_column(enum_by_value(DepartmentFunction))
    closure_standard: Mapped[str] = mapped_column(Text, default="")
    #: {"normal": {"verify": "2h", "dispatch": "30min", "handle": "2wd", "check": "4wh"}, "urgent": {...}}
    limits: Mapped[dict[str, dict[str, str]]] = mapped_column(JSON, default=dict)
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    #: The questions a report of this class answers (Open311's service attributes), in order:
    #: [{"code", "datatype", "required", "order", "description", "values": [{"key", "name"}]}].
    questions: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)

    parent: Mapped[Category | None] = relationship(remote_side=[id])


class CalendarDay(Base):
    """A day of a year's holiday arrangement (节假日安排) that the centre loaded itself: a day
    off, or an adjusted working day on a weekend (调休上班). A year with loaded days is
    taken from them alone; other years come from the ``chinesecalendar`` package."""

    __tablename__ = "calendar_days"

    id: Mapped[int] = mapped_column(primary_key=True)
    day: Mapped[date] = mapped_column(Date, unique=True)
    is_workday: Mapped[bool] = mapped_column(Boolean)
    #: As the notice names it: 春节, 春节调休上班 …
    name: Mapped[str] = mapped_column(String(100))
    loaded_at: Mapped[datetime] = mapped_column(UTCDateTime())
    #: The admin's username, or who ran ``civicgrid import-calendar``.
    loaded_by: Mapped[str] = mapped_column(String(100))


class CaseNumberCounter(Base):
    """The last case number given out per prefix and day (JD-20261124-000123)."""

    __tablename__ = "case_number_counters"

    prefix: Mapped[str] = mapped_column(String(6), primary_key=True)
    day: Mapped[str] = mapped_column(String(8), primary_key=True)
    last: Mapped[int] = mapped_column(Integer, default=0)


#: The overlay grids (e.g. the 25 residents' self-governance grids of the "20+25" model) a
#: case lies in besides its own grid, for the overlay's statistics and queue.
case_overlay_grids = Table(
    "case_overlay_grids",
    Base.metadata,
    # The key (case_id, grid_id) answers "is this case in that grid" for the list filter's
    # EXISTS; the index on grid_id finds a grid's cases when the planner starts from the grid.
    Column("case_id", ForeignKey("cases.id"), primary_key=True),
    Column("grid_id", ForeignKey("grids.id"), primary_key=True, index=True),
)


class Case(Base):
    """A case (案件/工单). Its state and clock are a cache of its events, kept in step by
    the case service; ``version`` guards against two writers on one case."""

    __tablename__ = "cases"
    __table_args__ = (
        UniqueConstraint("channel", "external_id"),
        # The list shows the newest first and pages by (created_at, id); each index below
        # serves one filter people use and gives its rows already in that order, so a page
        # reads page_size entries instead of sorting every match.
        Index("ix_cases_created_at_id", "created_at", "id"),
        Index("ix_cases_region_id_created_at_id", "region_id", "created_at", "id"),
        Index("ix_cases_state_created_at_id", "state", "created_at", "id"),
        Index("ix_cases_department_id_created_at_id", "department_id", "created_at", "id"),
        Index("ix_cases_category_id_created_at_id", "category_id", "created_at", "id"),
        # The duplicate hint at intake reads a category's recent cases, or those in a small
        # box around a point, whichever range is shorter.
        Index("ix_cases_lat_lng", "lat", "lng"),
        # The citizens' portal lists the cases a verified phone reported, newest first.
        Index("ix_cases_reporter_phone_created_at", "reporter_phone", "created_at"),
        # The open cases of a map's view, and the open cases of an area by state and light:
        # led by the state (only open cases are read), with the point, region and clock
        # beside it, so that counts come from the index alone.
        Index(
            "ix_cases_state_lat_lng_region_id_warning_at_deadline_at",
            "state",
            "lat",
            "lng",
            "region_id",
            "warning_at",
            "deadline_at",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(String(32), unique=True)
    #: The id the case has in the system it came from (12345 platform, upper centre …).
    external_id: Mapped[str | None] = mapped_column(String(64))
    channel: Mapped[Channel] = mapped_column(enum_by_value(Channel), index=True)
    kind: Mapped[CaseKind] = mapped_column(enum_by_value(CaseKind))
    request_type: Mapped[RequestType | None] = mapped_column(enum_by_value(RequestType))
    category_id: Mapped[int] = mapped_column(ForeignKey("categories.id"))
    urgency: Mapped[Urgency] = mapped_column(enum_by_value(Urgency), default=Urgency.NORMAL)
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    address: Mapped[str] = mapped_column(String(300), default="")
    lng: Mapped[float | None] = mapped_column(Float)
    lat: Mapped[float | None] = mapped_column(Float)
    region_id: Mapped[int] = mapped_column(ForeignKey("regions.id"))
    grid_id: Mapped[int | None] = mapped_column(ForeignKey("grids.id"), index=True)
    #: The grid's inspector when the case was placed, who verifies and checks it on site.
    inspector_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    #: The responsible department (the lead one in joint handling).
    department_id: Mapped[int | None] = mapped_column(ForeignKey("departments.id"))
    reporter_name: Mapped[str | None] = mapped_column(String(100))
    reporter_phone: Mapped[str | None] = mapped_column(String(40))
    reporter_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    merged_into_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id"))
    satisfaction: Mapped[Satisfaction | None] = mapped_column(enum_by_value(Satisfaction))
    rework_count: Mapped[int] = mapped_column(Integer, default=0)
    state: Mapped[CaseState] = mapped_column(enum_by_value(CaseState))
    stage: Mapped[Stage | None] = mapped_column(enum_by_value(Stage))
    stage_started_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    warning_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), index=True)
    deadline_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), index=True)
    version: Mapped[int] = mapped_column(Integer, default=1)
    # What the statistics count, read off the events (civicgrid.domain.facts) and cached here
    # with the clock, so each figure is one GROUP BY over this table. User ids carry no
    # foreign key: they are a cache, and a write keeps to its one UPDATE.
    reported_by_id: Mapped[int | None] = mapped_column(Integer)
    registered_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), index=True)
    registered_by_id: Mapped[int | None] = mapped_column(Integer)
    #: The deadline of the clock from report to registration (立案时限).
    register_deadline_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    voided_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    #: When the case was parked (挂账), while it still is.
    suspended_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    revisited_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    #: When the case was first supervised (督办).
    supervised_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    rejection_count: Mapped[int] = mapped_column(Integer, default=0)
    #: Each stage's last run: its deadline in force, and when (by whom) it was completed.
    verify_deadline_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    verified_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    verified_by_id: Mapped[int | None] = mapped_column(Integer)
    dispatch_deadline_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), index=True)
    dispatched_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), index=True)
    dispatched_by_id: Mapped[int | None] = mapped_column(Integer)
    handle_deadline_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), index=True)
    handled_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), index=True)
    check_deadline_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    checked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    checked_by_id: Mapped[int | None] = mapped_column(Integer)
    #: The reporter's answers to the category's questions, by question code.
    answers: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    #: A link to a photo or video the reporter gave (Open311 ``media_url``).
    media_url: Mapped[str | None] = mapped_column(String(500))
    #: The partner (12345 platform, upper centre) whose work order this case is: each of its
    #: changes is reported back to them through the outbox.
    partner_id: Mapped[int | None] = mapped_column(ForeignKey("partners.id"))
    #: The deadline the partner set (办理时限), kept beside the centre's own stage clock.
    external_deadline_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012 (SQLAlchemy's own declaration)

    category: Mapped[Category] = relationship()
    region: Mapped[Region] = relationship()
    grid: Mapped[Grid | None] = relationship()
    #: Overlay grids the case's point lies in besides ``grid`` (case_overlay_grids).
    overlay_grids: Mapped[list[Grid]] = relationship(secondary=case_overlay_grids, order_by=Grid.code)
    department: Mapped[Department | None] = relationship()
    inspector: Mapped[User | None] = relationship(foreign_keys=[inspector_id])
    merged_into: Mapped[Case | None] = relationship(remote_side=[id])
    events: Mapped[list[CaseEvent]] = relationship(
        back_populates="case", order_by="CaseEvent.seq", cascade="save-update, merge"
    )
    tasks: Mapped[list[CaseTask]] = relationship(back_populates="case", order_by="CaseTask.id")
    attachments: Mapped[list[Attachment]] = relationship(back_populates="case", order_by="Attachment.id")


class CaseEvent(Base):
    """One transition of a case: who, in which role, when, from which state to which, why.
    Append-only: the store refuses to change or delete a row (see the migration's triggers)."""

    __tablename__ = "case_events"
    __table_args__ = (UniqueConstraint("case_id", "seq"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    seq: Mapped[int] = mapped_column(Integer)
    action: Mapped[Action] = mapped_column(enum_by_value(Action))
    from_state: Mapped[CaseState | None] = mapped_column(enum_by_value(CaseState, "from_state"))
    to_state: Mapped[CaseState] = mapped_column(enum_by_value(CaseState, "to_state"))
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    actor_role: Mapped[Role] = mapped_column(enum_by_value(Role))
    at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    note: Mapped[str] = mapped_column(Text, default="")
    #: Whether the note may be shown to the public (the reporter, Open311 clients); set by
    #: the acting user, private by default.
    note_is_public: Mapped[bool] = mapped_column(Boolean, default=False)
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)

    case: Mapped[Case] = relationship(back_populates="events")
    actor: Mapped[User | None] = relationship()

    @property
    def extension_seconds(self) -> float:
        """Time an approved extension adds to the handling limit (0 for other events)."""
        return float(self.data.get("extension_seconds", 0))


class CaseTask(Base):
    """A department's part in joint handling (联合处置): one lead, the others assist."""

    __tablename__ = "case_tasks"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    department_id: Mapped[int] = mapped_column(ForeignKey("departments.id"), index=True)
    is_lead: Mapped[bool] = mapped_column(Boolean, default=False)
    assigned_at: Mapped[datetime] = mapped_column(UTCDateTime())
    done_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    #: The event that opened this task (a joint dispatch); a re-dispatch opens new ones.
    event_id: Mapped[int] = mapped_column(ForeignKey("case_events.id"))

    case: Mapped[Case] = relationship(back_populates="tasks")
    department: Mapped[Department] = relationship()
    event: Mapped[CaseEvent] = relationship()


class Attachment(Base):
    """A photo or document on a case: a file uploaded to the centre's file store (kept by
    its SHA-256, with a thumbnail for photos) or a link to one kept elsewhere (``uri``).
    Tied to the event that added it (a handling's "after" photo) once that event is taken."""

    __tablename__ = "attachments"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    event_id: Mapped[int | None] = mapped_column(ForeignKey("case_events.id"))
    #: The name the uploader's device gave, shown and offered on download only.
    filename: Mapped[str] = mapped_column(String(200))
    #: For an upload: the type read from the file's bytes, never the one the client declared.
    content_type: Mapped[str] = mapped_column(String(100))
    size_bytes: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    #: Where a file kept elsewhere is; None for a file in the centre's own store.
    uri: Mapped[str | None] = mapped_column(String(500))
    #: The SHA-256 of the thumbnail in the file store (photos only).
    thumbnail_sha256: Mapped[str | None] = mapped_column(String(64))
    purpose: Mapped[AttachmentPurpose | None] = mapped_column(enum_by_value(AttachmentPurpose))
    uploaded_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())

    case: Mapped[Case] = relationship(back_populates="attachments")
    event: Mapped[CaseEvent | None] = relationship()
    uploaded_by: Mapped[User] = relationship()

    @property
    def is_stored(self) -> bool:
        """Whether the file is in the centre's own file store (not a link)."""
        return self.uri is None


class Partner(Base):
    """An upper-level system that exchanges work orders with the centre (the city's 12345
    platform, an upper command centre): it pushes orders down, signed with its shared
    secret, and hears back each change of their cases at its webhook."""

    __tablename__ = "partners"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    #: Kept as given, not hashed: both sides compute HMAC-SHA256 signatures with it.
    secret: Mapped[str] = mapped_column(String(200))
    webhook_url: Mapped[str | None] = mapped_column(String(500))
    #: The channel its cases enter on (``hotline_12345`` or ``upper_level``).
    channel: Mapped[Channel] = mapped_column(enum_by_value(Channel))
    #: Where its orders that no grid covers wait for placement (the district's queue).
    region_id: Mapped[int] = mapped_column(ForeignKey("regions.id"))
    #: The partner's own category names (诉求类型) → the centre's small-class codes.
    category_map: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    #: The account its orders are recorded as reported by (who, in every event it causes).
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())

    region: Mapped[Region] = relationship()
    user: Mapped[User] = relationship()


class PartnerOrder(Base):
    """A work order (工单) a partner sent, by the partner's own number: the unique key makes
    the same order sent twice, even at the same moment, one case."""

    __tablename__ = "partner_orders"
    __table_args__ = (UniqueConstraint("partner_id", "order_number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    partner_id: Mapped[int] = mapped_column(ForeignKey("partners.id"))
    order_number: Mapped[str] = mapped_column(String(64))
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime())
    #: When the citizen called the partner (来电时间), as the partner says.
    called_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    case: Mapped[Case] = relationship()


class OutboxMessage(Base):
    """A message leaving the centre (a webhook call, an SMS, an e-mail), written in the same
    transaction as the event that causes it and delivered afterwards by the sender: in
    order per ``stream`` (one case's messages), retried with back-off until delivered."""

    __tablename__ = "outbox"
    __table_args__ = (Index("ix_outbox_delivered_at_stream_id", "delivered_at", "stream", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    #: ``webhook``, ``sms`` or ``email``.
    kind: Mapped[str] = mapped_column(String(10))
    #: Messages of one stream go out one after the other, in id order ("case:123").
    stream: Mapped[str] = mapped_column(String(60))
    #: Sent as the ``Idempotency-Key`` header: a receiver drops a message it already has.
    idempotency_key: Mapped[str] = mapped_column(String(64), unique=True)
    #: Webhooks to a partner are signed with the partner's secret at each attempt.
    partner_id: Mapped[int | None] = mapped_column(ForeignKey("partners.id"))
    #: The URL, phone number or e-mail address.
    target: Mapped[str] = mapped_column(String(500))
    subject: Mapped[str] = mapped_column(String(200), default="")
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime())
    last_error: Mapped[str | None] = mapped_column(Text)
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class LiveChange(Base):
    """One entry of the live journal: a case created or changed (its state, light, place and
    who may see it, as committed), or an alert or unread count for one user. Written in the
    transaction of the change, so an entry exists if and only if the change was committed;
    the live stream (``GET /live/events``) sends entries in id order and replays those a
    reconnecting client missed. Old entries are deleted by the minute job.

    The scope columns (``region_path``, ``department_ids``, ``reporter_user_id``,
    ``user_id``) let each server process decide who receives an entry without a query."""

    __tablename__ = "live_changes"
    # SQLite: ids are never reused, even after every entry was pruned (a client's cursor).
    __table_args__ = {"sqlite_autoincrement": True}  # noqa: RUF012 (SQLAlchemy's own declaration)

    #: Increasing with the commit order (see ``civicgrid.live.journal``): the SSE event id.
    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    #: ``case``, ``alert``, ``unread`` or ``signout``.
    kind: Mapped[str] = mapped_column(String(10))
    at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    #: The one user an alert, unread count or sign-out is for.
    user_id: Mapped[int | None] = mapped_column(Integer)
    # A case entry copies what the stream sends and what its scope check reads; no foreign
    # keys: the journal is a short-lived copy, and its writes stay one INSERT.
    case_id: Mapped[int | None] = mapped_column(Integer)
    number: Mapped[str | None] = mapped_column(String(32))
    state: Mapped[str | None] = mapped_column(String(40))
    lng: Mapped[float | None] = mapped_column(Float)
    lat: Mapped[float | None] = mapped_column(Float)
    region_code: Mapped[str | None] = mapped_column(String(32))
    region_path: Mapped[str | None] = mapped_column(String(400))
    grid_code: Mapped[str | None] = mapped_column(String(40))
    category_code: Mapped[str | None] = mapped_column(String(20))
    department_code: Mapped[str | None] = mapped_column(String(40))
    #: The responsible department and the joint-handling ones, as ",3,7," (handlers' scope).
    department_ids: Mapped[str | None] = mapped_column(String(400))
    reporter_user_id: Mapped[int | None] = mapped_column(Integer)
    warning_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    deadline_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    #: What an alert, unread count or sign-out entry carries.
    data: Mapped[dict[str, Any] | None] = mapped_column(JSON)


class Notification(Base):
    """An alert (提醒) for one user about a case: its light turned yellow or red, an extension
    waits for their approval, a supervisor urged it on (督办). Stored, so that nothing is missed
    while signed out, and unique per user, kind, case and ``occasion``, so that each is given
    exactly once however often the minute job or a retried write comes by."""

    __tablename__ = "notifications"
    __table_args__ = (
        UniqueConstraint("user_id", "kind", "case_id", "occasion"),
        # A user's unread count and list: their rows, unread (read_at NULL) first.
        Index("ix_notifications_user_id_read_at_id", "user_id", "read_at", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    kind: Mapped[AlertKind] = mapped_column(enum_by_value(AlertKind))
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    #: What makes the alert distinct: for a light, the stage and the deadline in force
    #: ("handle@2026-10-09T09:30:00+00:00", so a new deadline after an extension or a rework
    #: warns again); for an extension request or a supervision note, the event ("event:7").
    occasion: Mapped[str] = mapped_column(String(64))
    text: Mapped[str] = mapped_column(String(300))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    read_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    #: How it also went out to a signed-out user: "sms", "email" or "sms,email" (the outbox).
    sent_by: Mapped[str | None] = mapped_column(String(20))

    user: Mapped[User] = relationship()
    case: Mapped[Case] = relationship()


class NotificationSetting(Base):
    """How a user wants alerts while signed out: by SMS to a phone, by e-mail, and for which
    kinds. Without a row (or with neither address), alerts wait on the notification page."""

    __tablename__ = "notification_settings"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), primary_key=True)
    sms_phone: Mapped[str | None] = mapped_column(String(40))
    email: Mapped[str | None] = mapped_column(String(200))
    #: The ``AlertKind`` values sent out (the others wait on the page).
    kinds: Mapped[list[str]] = mapped_column(JSON, default=list)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class JobMark(Base):
    """How far a periodic job got: the minute job re-evaluates the lights of the time
    between its mark and now, then moves the mark, in one transaction."""

    __tablename__ = "job_marks"

    name: Mapped[str] = mapped_column(String(40), primary_key=True)
    done_until: Mapped[datetime] = mapped_column(UTCDateTime())


class PhoneCode(Base):
    """A verification code sent by SMS to a citizen's phone (the citizens' portal): only its
    keyed hash is stored; it expires, allows a few wrong tries, and is used once. Its rows
    are also what the portal counts to throttle codes per phone and per client address."""

    __tablename__ = "phone_codes"
    __table_args__ = (
        Index("ix_phone_codes_phone_created_at", "phone", "created_at"),
        Index("ix_phone_codes_address_created_at", "address", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    #: A mainland mobile number, 11 digits.
    phone: Mapped[str] = mapped_column(String(20))
    #: The client's address that asked for it (behind a proxy: see the README).
    address: Mapped[str] = mapped_column(String(64))
    #: HMAC-SHA256 of the phone and code with the centre's secret key.
    code_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    #: Wrong codes tried against it; at the limit it is spent.
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class PortalLookupFailure(Base):
    """A lookup on the citizens' portal whose case number and phone matched no case: what
    the portal counts to throttle guessing, per client address and per number."""

    __tablename__ = "portal_lookup_failures"
    __table_args__ = (
        Index("ix_portal_lookup_failures_address_at", "address", "at"),
        Index("ix_portal_lookup_failures_number_at", "number", "at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    #: The number as typed (known or not), cut to the column.
    number: Mapped[str] = mapped_column(String(40))
    address: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)


class PublishedEvaluation(Base):
    """A published (frozen) evaluation: the ranking of one kind of object (departments,
    streets …) in one region for a finished period, stored as computed, with the scheme it
    was computed under and who published it when. Append-only (the database refuses to
    change or delete a row): a re-computation is the next version, never an edit."""

    __tablename__ = "published_evaluations"
    __table_args__ = (
        UniqueConstraint("kind", "period_key", "region_id", "version"),
        # The versions of one evaluation, and the publications of a region, newest first.
        Index("ix_published_evaluations_region_id_published_at", "region_id", "published_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    #: What is ranked: department, street, community, dispatcher, inspector, operator.
    kind: Mapped[str] = mapped_column(String(20))
    #: The period as written in the API: "2026-10", "2026-Q4", "2026".
    period_key: Mapped[str] = mapped_column(String(10))
    period_start: Mapped[datetime] = mapped_column(UTCDateTime())
    period_end: Mapped[datetime] = mapped_column(UTCDateTime())
    period_label: Mapped[str] = mapped_column(String(40))
    #: The scope: the region whose cases were evaluated (its whole subtree).
    region_id: Mapped[int] = mapped_column(ForeignKey("regions.id"))
    version: Mapped[int] = mapped_column(Integer)
    scheme_name: Mapped[str] = mapped_column(String(200))
    #: The version the scheme file declares, and the SHA-256 of its content (which changes
    #: with any weight, step or grade, whether or not the declared version was raised).
    scheme_version: Mapped[str] = mapped_column(String(40))
    scheme_digest: Mapped[str] = mapped_column(String(64))
    #: The scheme itself as plain data, so a published score can be explained years later.
    scheme: Mapped[dict[str, Any]] = mapped_column(JSON)
    published_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    published_at: Mapped[datetime] = mapped_column(UTCDateTime())
    #: Why this version was published (e.g. which late results it takes in).
    note: Mapped[str] = mapped_column(Text, default="")
    #: The ranked rows with each score's breakdown, as the evaluation API gave them.
    result: Mapped[list[dict[str, Any]]] = mapped_column(JSON)

    region: Mapped[Region] = relationship()
    published_by: Mapped[User] = relationship()


class BriefingSchedule(Base):
    """A briefing made and stored on its own: the daily one each morning, the weekly one each
    Monday, the monthly one on the 1st (at ``hour`` o'clock, the centre's time), of a region,
    in one or more formats, under the centre's title or its own."""

    __tablename__ = "briefing_schedules"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[BriefingKind] = mapped_column(enum_by_value(BriefingKind))
    region_id: Mapped[int] = mapped_column(ForeignKey("regions.id"), index=True)
    #: The formats made each time, e.g. ["pdf", "xlsx"].
    formats: Mapped[list[str]] = mapped_column(JSON)
    #: The masthead; None: the centre's (CIVICGRID_BRIEFING_TITLE).
    title: Mapped[str | None] = mapped_column(String(200))
    hour: Mapped[int] = mapped_column(Integer, default=8)
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))

    region: Mapped[Region] = relationship()
    created_by: Mapped[User | None] = relationship()


class Briefing(Base):
    """A stored briefing: the document a schedule made for one period, kept once; the unique
    (schedule, period) is what lets two workers run the schedules without making it twice."""

    __tablename__ = "briefings"
    __table_args__ = (UniqueConstraint("schedule_id", "period_start"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    #: None once its schedule is deleted (the document stays).
    schedule_id: Mapped[int | None] = mapped_column(ForeignKey("briefing_schedules.id"))
    kind: Mapped[BriefingKind] = mapped_column(enum_by_value(BriefingKind))
    region_id: Mapped[int] = mapped_column(ForeignKey("regions.id"), index=True)
    period_start: Mapped[datetime] = mapped_column(UTCDateTime())
    period_end: Mapped[datetime] = mapped_column(UTCDateTime())
    period_label: Mapped[str] = mapped_column(String(100))
    title: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)

    region: Mapped[Region] = relationship()
    files: Mapped[list[BriefingFile]] = relationship(
        back_populates="briefing", order_by="BriefingFile.id", cascade="all, delete-orphan"
    )


class BriefingFile(Base):
    """One format of a stored briefing: a file in the centre's file store, by its SHA-256."""

    __tablename__ = "briefing_files"
    __table_args__ = (UniqueConstraint("briefing_id", "format"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    briefing_id: Mapped[int] = mapped_column(ForeignKey("briefings.id"))
    format: Mapped[BriefingFormat] = mapped_column(enum_by_value(BriefingFormat))
    content_type: Mapped[str] = mapped_column(String(100))
    filename: Mapped[str] = mapped_column(String(200))
    size_bytes: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))

    briefing: Mapped[Briefing] = relationship(back_populates="files")
