"""The shapes of what comes in and goes out (API bodies, CLI and demo inputs)."""

from __future__ import annotations

import base64
import re
from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Annotated, Any, NamedTuple
from urllib.parse import urlsplit

from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field, model_validator

from civicgrid.domain.questions import Choice, Datatype, Question
from civicgrid.domain.vocabulary import (
    Action,
    AlertKind,
    AttachmentPurpose,
    CaseKind,
    CaseState,
    Channel,
    CoordinateSystem,
    DepartmentFunction,
    DepartmentLevel,
    GridDuty,
    GridKind,
    Light,
    RegionLevel,
    RequestType,
    Role,
    Satisfaction,
    Stage,
    Urgency,
)

# --- input types ------------------------------------------------------------------------
# Every string that comes in is one of these, so what reaches the database is the same on
# SQLite (which stores anything) and PostgreSQL (which refuses NUL). Lone surrogates never
# get this far: pydantic refuses them as text.

#: Control characters: C0, DEL and C1.
_CONTROL = r"\x00-\x1f\x7f-\x9f"
#: What may not stand in a one-line field: control characters, line and paragraph separators,
#: and the bidi marks, embeddings, overrides and isolates that make a name or a code display
#: as something else.
_NOT_IN_LINE = re.compile(rf"[{_CONTROL}\u2028\u2029\u200e\u200f\u202a-\u202e\u2066-\u2069]")
#: Long free text keeps tab, newline and carriage return; right-to-left scripts (e.g. Uyghur)
#: need the bidi marks in running text.
_NOT_IN_TEXT = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
_NOT_IN_SECRET = re.compile(rf"[{_CONTROL}]")


def _refusing(pattern: re.Pattern[str], what: str) -> Callable[[str], str]:
    def check(value: str) -> str:
        if found := pattern.search(value):
            raise ValueError(f"{what} (U+{ord(found.group()):04X} at position {found.start()})")
        return value

    return check


#: Raises ``ValueError`` for a string that may not stand in a one-line field (also used for
#: path and query values).
check_line = _refusing(_NOT_IN_LINE, "control, line-break and text-direction characters are not allowed")

#: A one-line string: a name, title, code, username, address, phone, file name.
Line = Annotated[str, AfterValidator(check_line)]
#: Long free text (notes, descriptions, closure standards): may span lines.
Text = Annotated[str, AfterValidator(_refusing(_NOT_IN_TEXT, "control characters are not allowed"))]
#: A password: anything but control characters.
Secret = Annotated[str, AfterValidator(_refusing(_NOT_IN_SECRET, "control characters are not allowed"))]
#: A new code (department, category): letters, digits and ``_ . -``; each field sets its length.
Code = Annotated[str, Field(min_length=1, pattern=r"^[A-Za-z0-9_.\-]+$")]
#: A reference to an existing code or case number.
CodeRef = Annotated[Line, Field(min_length=1, max_length=40)]
#: A time limit as the category file writes it (e.g. ``2wh``, ``30min``).
Limit = Annotated[Line, Field(min_length=1, max_length=20)]

#: Times outside these years are refused: none is a real case time, and the extremes overflow
#: when converted to UTC or stored.
EARLIEST_YEAR, LATEST_YEAR = 1970, 2199


def _in_supported_years(value: datetime) -> datetime:
    if not EARLIEST_YEAR <= value.year <= LATEST_YEAR:
        raise ValueError(f"give a time between the years {EARLIEST_YEAR} and {LATEST_YEAR}")
    return value


#: A timezone-aware time within the supported years.
Moment = Annotated[AwareDatetime, AfterValidator(_in_supported_years)]


def _web_link(value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme.lower() not in {"http", "https"} or not parts.hostname:
        raise ValueError("give an http:// or https:// URL with a host")
    return value


#: An absolute http(s) URL: anything else (javascript:, data:, a bare key that a page would
#: resolve against its own address) is refused, since the case file shows it as a link.
WebLink = Annotated[Line, AfterValidator(_web_link)]


class Strict(BaseModel):
    """Input: unknown fields are refused, so a typo is an error, not silently ignored."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class Output(BaseModel):
    """Output read from ORM objects."""

    model_config = ConfigDict(from_attributes=True)


# --- auth -------------------------------------------------------------------------------


class LoginRequest(Strict):
    username: Line = Field(min_length=1, max_length=60)
    password: Secret = Field(min_length=1, max_length=200)


class TokenOut(BaseModel):
    access_token: str
    token_type: str = "bearer"
    expires_at: datetime


# --- directory --------------------------------------------------------------------------


class RegionOut(Output):
    code: str
    name: str
    level: RegionLevel
    path: str
    retired_at: datetime | None = None


class RegionDetail(RegionOut):
    parent_code: str | None
    boundary: dict[str, Any] | None


class RegionPatch(Strict):
    name: Line = Field(min_length=1, max_length=100)


class GridOut(Output):
    code: str
    name: str
    kind: GridKind
    region_code: str
    overlay_group: str | None = None
    retired_at: datetime | None = None
    boundary: dict[str, Any] | None = None
    open_cases: int | None = Field(
        default=None, description="open cases of the grid you may see (when asked for, or on one grid)"
    )


class GridStaffOut(BaseModel):
    username: str
    full_name: str
    duty: GridDuty


class GridDetail(GridOut):
    staff: list[GridStaffOut]


class MyGridOut(GridOut):
    duty: GridDuty = Field(description="what you do for this grid: inspector (网格员) or leader (网格长)")


class GridPatch(Strict):
    name: Line | None = Field(default=None, min_length=1, max_length=100)
    overlay_group: Line | None = Field(default=None, max_length=40)


class GridStaffIn(Strict):
    """The grid's staff, replacing what it had: inspectors (网格员) and its leader (网格长)."""

    inspectors: list[Annotated[Line, Field(min_length=1, max_length=60)]] = Field(max_length=50)
    leader: Line | None = Field(default=None, min_length=1, max_length=60)


class TerritoryProblemOut(BaseModel):
    index: int | None = Field(description="the feature's position in the file, from 0")
    code: str | None
    message: str
    area_m2: float | None = None


class TerritoryCountsOut(BaseModel):
    added: int
    updated: int
    unchanged: int
    retired: int
    deleted: int


class TerritoryReportOut(BaseModel):
    """What an import found and did (``written`` false: checked only)."""

    features: int
    written: bool
    errors: list[TerritoryProblemOut]
    warnings: list[TerritoryProblemOut]
    repairs: list[TerritoryProblemOut]
    regions: TerritoryCountsOut
    grids: TerritoryCountsOut


class DepartmentIn(Strict):
    code: Code = Field(max_length=40)
    name: Line = Field(min_length=1, max_length=100)
    function: DepartmentFunction
    level: DepartmentLevel
    region_code: CodeRef
    parent_code: CodeRef | None = None
    linkage_level: int = Field(default=2, ge=1, le=3)
    phone: Line | None = Field(default=None, max_length=40)


class DepartmentPatch(Strict):
    name: Line | None = Field(default=None, min_length=1, max_length=100)
    linkage_level: int | None = Field(default=None, ge=1, le=3)
    phone: Line | None = Field(default=None, max_length=40)
    is_active: bool | None = None


class DepartmentOut(Output):
    code: str
    name: str
    function: DepartmentFunction
    level: DepartmentLevel
    region_code: str
    linkage_level: int
    phone: str | None
    is_active: bool


class UserIn(Strict):
    username: str = Field(min_length=2, max_length=60, pattern=r"^[A-Za-z0-9_.\-]+$")
    full_name: Line = Field(min_length=1, max_length=100)
    password: Secret = Field(min_length=8, max_length=200)
    role: Role
    region_code: CodeRef | None = None
    department_code: CodeRef | None = None
    grid_code: CodeRef | None = None
    phone: Line | None = Field(default=None, max_length=40)


class UserPatch(Strict):
    """The fields to change. A new role or scope is checked as on creation (null clears a
    department or grid; a null region_code takes the department's region); a new password,
    a deactivation or a new role or scope signs the user out everywhere."""

    full_name: Line | None = Field(default=None, min_length=1, max_length=100)
    password: Secret | None = Field(default=None, min_length=8, max_length=200)
    is_active: bool | None = None
    phone: Line | None = Field(default=None, max_length=40)
    role: Role | None = None
    region_code: CodeRef | None = None
    department_code: CodeRef | None = None
    grid_code: CodeRef | None = None


class UserOut(Output):
    username: str
    full_name: str
    role: Role
    role_label: str
    region_code: str | None
    department_code: str | None
    is_active: bool


class ChoiceIn(Strict):
    key: Line = Field(min_length=1, max_length=40)
    name: Line = Field(min_length=1, max_length=100)


class QuestionIn(Strict):
    """A question a report of the class answers (an Open311 service attribute)."""

    code: Code = Field(max_length=40)
    datatype: Datatype
    description: Line = Field(min_length=1, max_length=300)
    order: int = Field(ge=1, le=1000)
    required: bool = False
    values: list[ChoiceIn] = Field(default_factory=list, max_length=100)

    def question(self) -> Question:
        """The domain's question."""
        return Question(
            code=self.code,
            datatype=self.datatype,
            description=self.description,
            order=self.order,
            required=self.required,
            values=tuple(Choice(v.key, v.name) for v in self.values),
        )


class CategoryIn(Strict):
    """A small class under an existing big class, or a new big class (no parent_code)."""

    code: Code = Field(max_length=20)
    name: Line = Field(min_length=1, max_length=100)
    kind: CaseKind
    parent_code: CodeRef | None = None
    department_function: DepartmentFunction | None = None
    closure_standard: Text = Field(default="", max_length=2000)
    limits: dict[Urgency, dict[Stage, Limit]] = Field(default_factory=dict)
    questions: list[QuestionIn] = Field(default_factory=list, max_length=50)


class CategoryPatch(Strict):
    name: Line | None = Field(default=None, min_length=1, max_length=100)
    department_function: DepartmentFunction | None = None
    closure_standard: Text | None = Field(default=None, max_length=2000)
    limits: dict[Urgency, dict[Stage, Limit]] | None = None
    is_active: bool | None = None
    questions: list[QuestionIn] | None = Field(default=None, max_length=50)


class CategoryOut(Output):
    code: str
    name: str
    kind: CaseKind
    parent_code: str | None
    department_function: DepartmentFunction | None
    closure_standard: str
    limits: dict[str, dict[str, str]]
    is_active: bool
    questions: list[dict[str, Any]]


class ApiKeyIn(Strict):
    """A new API key for an outside system (an Open311 client)."""

    name: Line = Field(min_length=1, max_length=100, description="who uses it, e.g. 随手拍App")
    region_code: CodeRef | None = Field(default=None, description="the region it reports in; default: yours")
    channel: Channel = Field(default=Channel.THIRD_PARTY, description="the channel its cases come in by")


class ApiKeyOut(BaseModel):
    name: str
    prefix: str = Field(description="the key's first characters, to tell keys apart")
    region_code: str
    channel: Channel
    actor_username: str = Field(description="the system user its cases' events name as actor")
    created_at: datetime
    created_by: str
    revoked_at: datetime | None


class ApiKeyIssued(ApiKeyOut):
    key: str = Field(description="the key itself: shown this once, stored only as a hash")


# --- cases ------------------------------------------------------------------------------


class CaseCreate(Strict):
    """A new case from any channel. Give a coordinate (in ``crs``; stored as WGS-84), a grid
    code or a region code."""

    channel: Channel
    category_code: CodeRef
    title: Line = Field(min_length=1, max_length=200)
    description: Text = Field(default="", max_length=5000)
    request_type: RequestType | None = None
    urgency: Urgency = Urgency.NORMAL
    address: Line = Field(default="", max_length=300)
    lng: float | None = Field(default=None, ge=-180, le=180, allow_inf_nan=False)
    lat: float | None = Field(default=None, ge=-90, le=90, allow_inf_nan=False)
    crs: CoordinateSystem = Field(
        default=CoordinateSystem.WGS84,
        description="how lng/lat are written: wgs84 (GPS), gcj02 (高德/腾讯), bd09 (百度)",
    )
    region_code: CodeRef | None = None
    grid_code: CodeRef | None = None
    reporter_name: Line | None = Field(default=None, max_length=100)
    reporter_phone: Line | None = Field(default=None, max_length=40)
    external_id: Line | None = Field(default=None, min_length=1, max_length=64)
    answers: dict[Annotated[str, Field(max_length=40)], Text | list[Text]] | None = Field(
        default=None,
        max_length=50,
        description="answers to the category's questions by code (a list for multivaluelist); "
        "when given, they are checked and required questions must be answered",
    )
    media_url: WebLink | None = Field(default=None, max_length=500, description="a photo or video link")

    @model_validator(mode="after")
    def _coordinate_pair(self) -> CaseCreate:
        if (self.lng is None) != (self.lat is None):
            raise ValueError("give both lng and lat, or neither")
        if self.lng is None and self.region_code is None and self.grid_code is None:
            raise ValueError("give a coordinate (lng, lat), a grid_code or a region_code")
        return self


class TransitionRequest(Strict):
    """What an action needs besides its name; which fields apply depends on the action."""

    note: Text = Field(default="", max_length=5000)
    note_is_public: bool = Field(
        default=False,
        description="show the note to the public (the reporter, Open311); notes are internal by default",
    )
    department_code: CodeRef | None = Field(default=None, description="dispatch; lead in dispatch_joint")
    assisting_department_codes: list[CodeRef] = Field(
        default_factory=list, max_length=50, description="dispatch_joint"
    )
    satisfaction: Satisfaction | None = Field(default=None, description="revisit")
    merge_into: CodeRef | None = Field(default=None, description="merge: the number of the case kept")
    new_deadline: Moment | None = Field(default=None, description="request_extension")
    attachment_ids: list[Annotated[int, Field(ge=1, le=2**31 - 1)]] = Field(
        default_factory=list,
        max_length=50,
        description="verify, handle, finish_task, check, fail_check: your uploads that this step took",
    )
    expected_version: int | None = Field(
        default=None,
        ge=1,
        le=2**31 - 1,
        description="refuse the action if the case changed since this version was read",
    )


class AttachmentIn(Strict):
    filename: Line = Field(min_length=1, max_length=200)
    content_type: str = Field(min_length=3, max_length=100, pattern=r"^[\w.+\-]+/[\w.+\-]+$")
    size_bytes: int = Field(ge=0, le=1_000_000_000)
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    uri: WebLink = Field(max_length=500)
    event_seq: int | None = Field(default=None, ge=1, le=2**31 - 1, description="one of your own events")
    purpose: AttachmentPurpose | None = None


class UploadFields(Strict):
    """The fields of an upload besides its ``file`` part (multipart/form-data)."""

    purpose: AttachmentPurpose | None = Field(default=None, description="before or after the handling")
    event_seq: int | None = Field(
        default=None,
        ge=1,
        le=2**31 - 1,
        description="tie the file to one of your own events; or name it in the next action's attachment_ids",
    )


class AttachmentOut(BaseModel):
    """A photo or file on a case. A stored one is read from ``uri`` (an API path, for those
    who may see the case); a link's ``uri`` is where it is kept."""

    id: int
    filename: str
    content_type: str
    size_bytes: int
    sha256: str
    uri: str
    stored: bool = Field(description="the file is in the centre's own store")
    thumbnail_uri: str | None = Field(description="a JPEG thumbnail of a stored photo")
    purpose: AttachmentPurpose | None
    purpose_label: str | None
    event_seq: int | None = Field(description="the event that added it; null until one does")
    uploaded_by: str
    created_at: datetime


class EventOut(BaseModel):
    seq: int
    action: Action
    action_label: str
    from_state: CaseState | None
    to_state: CaseState
    to_state_label: str
    actor: str | None
    actor_role: Role
    at: datetime
    note: str
    note_is_public: bool
    data: dict[str, Any]
    attachment_ids: list[int] = Field(description="the photos and files this event added")


class TaskOut(BaseModel):
    department_code: str
    department_name: str
    is_lead: bool
    assigned_at: datetime
    done_at: datetime | None


class CaseSummary(BaseModel):
    number: str
    title: str
    channel: Channel
    kind: CaseKind
    category_code: str
    category_name: str
    urgency: Urgency
    state: CaseState
    state_label: str
    stage: Stage | None
    light: Light | None
    warning_at: datetime | None
    deadline_at: datetime | None
    region_code: str
    grid_code: str | None
    department_code: str | None
    address: str
    lng: float | None
    lat: float | None
    created_at: datetime
    version: int


class CaseDetail(CaseSummary):
    description: str
    request_type: RequestType | None
    reporter_name: str | None
    reporter_phone: str | None
    external_id: str | None
    answers: dict[str, Any] | None = Field(description="answers to the category's questions, by code")
    media_url: str | None
    satisfaction: Satisfaction | None
    rework_count: int
    merged_into: str | None
    overlay_grid_codes: list[str] = Field(
        description="overlay grids (e.g. residents' self-governance grids) the case also counts in"
    )
    closure_standard: str
    allowed_actions: list[Action]
    timeline: list[EventOut]
    tasks: list[TaskOut]
    attachments: list[AttachmentOut]


class NearbyCase(CaseSummary):
    distance_m: float | None = Field(
        description="metres from the point; null for a case without a coordinate"
    )
    same_grid: bool = Field(description="the case lies in the point's grid")


class NearbyCases(BaseModel):
    """Open cases of the same category near a point about to be reported, nearest first:
    candidates for merging (合并) instead of registering a duplicate."""

    grid_code: str | None = Field(description="the grid the point lies in")
    radius_m: float
    days: int
    items: list[NearbyCase]


class PublicEventOut(BaseModel):
    """A step of a case as the public sees it: the state it reached, and the note only if
    the acting user made it public; never who acted."""

    at: datetime
    action_label: str
    to_state: CaseState
    to_state_label: str
    note: str | None


class CasePublic(BaseModel):
    """A case as its reporter and the public see it: states and public notes only, never
    internal notes, staff names or the reporter's contact."""

    number: str
    title: str
    category_code: str
    category_name: str
    state: CaseState
    state_label: str
    address: str
    lng: float | None
    lat: float | None
    description: str
    department_name: str | None = Field(description="the department responsible")
    created_at: datetime
    updated_at: datetime
    closed_at: datetime | None
    deadline_at: datetime | None
    satisfaction: Satisfaction | None
    progress: list[PublicEventOut]


#: The list counts its matches up to this many; beyond, ``total`` says "at least".
COUNT_LIMIT = 10_000

_CURSOR_ID_MAX = 2**63 - 1


class CaseCursor(NamedTuple):
    """Where a list page ended: its last case's creation time and id (the list's order)."""

    created_at: datetime
    id: int


def encode_cursor(cursor: CaseCursor) -> str:
    """The opaque ``next_cursor`` text: URL-safe base64 of "time|id", without padding."""
    raw = f"{cursor.created_at.astimezone(UTC).isoformat(timespec='microseconds')}|{cursor.id}"
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(text: str) -> CaseCursor:
    """The position a ``next_cursor`` names; ValueError unless it is exactly one we give out."""
    problem = "not a cursor this list gave out: pass next_cursor unchanged"
    try:
        raw = base64.b64decode(text + "=" * (-len(text) % 4), altchars=b"-_", validate=True).decode()
        moment, number = raw.split("|")
        cursor = CaseCursor(_in_supported_years(datetime.fromisoformat(moment)), int(number))
    except (ValueError, UnicodeDecodeError):
        raise ValueError(problem) from None
    if not 0 < cursor.id <= _CURSOR_ID_MAX or encode_cursor(cursor) != text:
        raise ValueError(problem)
    return cursor


def _valid_cursor(text: str) -> str:
    decode_cursor(text)
    return text


#: ``next_cursor`` of the page before, checked strictly (a bad one is a 422 naming it).
Cursor = Annotated[str, Field(max_length=100), AfterValidator(_valid_cursor)]


class CasePage(BaseModel):
    """One page of the case list, newest first."""

    items: list[CaseSummary]
    page_size: int
    next_cursor: str | None = Field(
        description="pass as `cursor` for the next page (older cases); null on the last page"
    )
    total: int = Field(
        description=f"cases matching the filters, counted up to {COUNT_LIMIT:,}: "
        "beyond that the count stops and total_is_estimate is true"
    )
    total_is_estimate: bool = Field(description=f"true when more than {COUNT_LIMIT:,} cases match")
    total_display: str = Field(description='the total as the UI shows it: "1,234" or "10,000+"')


class CaseFilters(BaseModel):
    """Filters of the case list; all optional, combined with AND."""

    state: list[CaseState] = Field(default_factory=list)
    light: Light | None = None
    region_code: CodeRef | None = None
    grid_code: CodeRef | None = Field(
        default=None, description="the case's own grid or an overlay grid it lies in"
    )
    department_code: CodeRef | None = None
    category_code: CodeRef | None = None
    channel: list[Channel] = Field(default_factory=list)
    created_from: Moment | None = None
    created_to: Moment | None = None
    q: Line | None = Field(default=None, max_length=100)


# --- calendar ---------------------------------------------------------------------------


class LoadedYearOut(BaseModel):
    year: int
    days: int = Field(description="days off and adjusted workdays the loaded file lists")
    loaded_at: datetime
    loaded_by: str


class CalendarOut(BaseModel):
    """What the working calendar knows: holidays and adjusted workdays (调休) per year."""

    known_years: list[int] = Field(description="years known, from the chinesecalendar package or loaded")
    loaded: list[LoadedYearOut] = Field(description="years the centre loaded itself")
    known_through: date | None = Field(
        description="last day of the unbroken run of known years from today; null if this year is unknown"
    )
    warning: str | None = Field(description="what to do when the calendar runs out soon")


class CalendarLoadOut(BaseModel):
    year: int
    days: int
    replaced: bool = Field(description="an arrangement of this year was loaded before and is replaced")
    recomputed: int = Field(description="open cases whose stage clock was recomputed on the new calendar")
    changed: int = Field(description="of those, cases whose warning or deadline moved")
    calendar: CalendarOut


# --- notifications ------------------------------------------------------------------------

#: A phone number for text messages: digits, an optional leading +, spaces or hyphens.
PHONE_PATTERN = r"^\+?[0-9][0-9 \-]{4,38}$"
#: An e-mail address, as far as a form can tell (the SMTP server has the last word).
EMAIL_PATTERN = r"^[^@\s]{1,64}@[^@\s]+\.[^@\s]+$"


class NotificationOut(BaseModel):
    """An alert for the signed-in user about a case."""

    id: int
    kind: AlertKind
    kind_label: str
    number: str = Field(description="the case's number")
    text: str
    created_at: datetime
    read_at: datetime | None
    sent_by: list[str] = Field(description="how it also went out while you were signed out: sms, email")


class NotificationPage(BaseModel):
    """A page of your notifications: unread first, then newest first."""

    items: list[NotificationOut]
    page: int
    page_size: int
    total: int
    unread: int
    next_page: int | None


class ReadAllOut(BaseModel):
    marked: int = Field(description="how many were unread and are now read")
    unread: int


class NotificationSettingsIn(Strict):
    """How alerts reach a user while signed out: SMS to ``sms_phone``, e-mail to ``email``
    (empty or null: not that way), for the alert ``kinds`` listed."""

    sms_phone: Line | None = Field(default=None, max_length=40, pattern=PHONE_PATTERN)
    email: Line | None = Field(default=None, max_length=200, pattern=EMAIL_PATTERN)
    kinds: list[AlertKind] = Field(default_factory=list, max_length=len(AlertKind))


class NotificationSettingsOut(BaseModel):
    username: str
    sms_phone: str | None
    email: str | None
    kinds: list[AlertKind]
