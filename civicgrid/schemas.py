"""The shapes of what comes in and goes out (API bodies, CLI and demo inputs)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator

from civicgrid.domain.vocabulary import (
    Action,
    CaseKind,
    CaseState,
    Channel,
    CoordinateSystem,
    DepartmentFunction,
    DepartmentLevel,
    GridKind,
    Light,
    RegionLevel,
    RequestType,
    Role,
    Satisfaction,
    Stage,
    Urgency,
)

Code = Field(min_length=1, max_length=40, pattern=r"^[A-Za-z0-9_.\-]+$")


class Strict(BaseModel):
    """Input: unknown fields are refused, so a typo is an error, not silently ignored."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class Output(BaseModel):
    """Output read from ORM objects."""

    model_config = ConfigDict(from_attributes=True)


# --- auth -------------------------------------------------------------------------------


class LoginRequest(Strict):
    username: str = Field(min_length=1, max_length=60)
    password: str = Field(min_length=1, max_length=200)


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


class GridOut(Output):
    code: str
    name: str
    kind: GridKind
    region_code: str
    boundary: dict[str, Any] | None = None


class DepartmentIn(Strict):
    code: str = Code
    name: str = Field(min_length=1, max_length=100)
    function: DepartmentFunction
    level: DepartmentLevel
    region_code: str = Code
    parent_code: str | None = None
    linkage_level: int = Field(default=2, ge=1, le=3)
    phone: str | None = Field(default=None, max_length=40)


class DepartmentPatch(Strict):
    name: str | None = Field(default=None, min_length=1, max_length=100)
    linkage_level: int | None = Field(default=None, ge=1, le=3)
    phone: str | None = Field(default=None, max_length=40)
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
    full_name: str = Field(min_length=1, max_length=100)
    password: str = Field(min_length=8, max_length=200)
    role: Role
    region_code: str | None = None
    department_code: str | None = None
    grid_code: str | None = None
    phone: str | None = Field(default=None, max_length=40)


class UserPatch(Strict):
    """The fields to change. A new role or scope is checked as on creation (null clears a
    department or grid; a null region_code takes the department's region); a new password,
    a deactivation or a new role or scope signs the user out everywhere."""

    full_name: str | None = Field(default=None, min_length=1, max_length=100)
    password: str | None = Field(default=None, min_length=8, max_length=200)
    is_active: bool | None = None
    phone: str | None = Field(default=None, max_length=40)
    role: Role | None = None
    region_code: str | None = None
    department_code: str | None = None
    grid_code: str | None = None


class UserOut(Output):
    username: str
    full_name: str
    role: Role
    role_label: str
    region_code: str | None
    department_code: str | None
    is_active: bool


class CategoryIn(Strict):
    """A small class under an existing big class, or a new big class (no parent_code)."""

    code: str = Code
    name: str = Field(min_length=1, max_length=100)
    kind: CaseKind
    parent_code: str | None = None
    department_function: DepartmentFunction | None = None
    closure_standard: str = ""
    limits: dict[Urgency, dict[Stage, str]] = Field(default_factory=dict)


class CategoryPatch(Strict):
    name: str | None = Field(default=None, min_length=1, max_length=100)
    department_function: DepartmentFunction | None = None
    closure_standard: str | None = None
    limits: dict[Urgency, dict[Stage, str]] | None = None
    is_active: bool | None = None


class CategoryOut(Output):
    code: str
    name: str
    kind: CaseKind
    parent_code: str | None
    department_function: DepartmentFunction | None
    closure_standard: str
    limits: dict[str, dict[str, str]]
    is_active: bool


# --- cases ------------------------------------------------------------------------------


class CaseCreate(Strict):
    """A new case from any channel. Give a coordinate (in ``crs``; stored as WGS-84), a grid
    code or a region code."""

    channel: Channel
    category_code: str = Field(min_length=1, max_length=20)
    title: str = Field(min_length=1, max_length=200)
    description: str = Field(default="", max_length=5000)
    request_type: RequestType | None = None
    urgency: Urgency = Urgency.NORMAL
    address: str = Field(default="", max_length=300)
    lng: float | None = Field(default=None, ge=-180, le=180, allow_inf_nan=False)
    lat: float | None = Field(default=None, ge=-90, le=90, allow_inf_nan=False)
    crs: CoordinateSystem = Field(
        default=CoordinateSystem.WGS84,
        description="how lng/lat are written: wgs84 (GPS), gcj02 (高德/腾讯), bd09 (百度)",
    )
    region_code: str | None = None
    grid_code: str | None = None
    reporter_name: str | None = Field(default=None, max_length=100)
    reporter_phone: str | None = Field(default=None, max_length=40)
    external_id: str | None = Field(default=None, min_length=1, max_length=64)

    @model_validator(mode="after")
    def _coordinate_pair(self) -> CaseCreate:
        if (self.lng is None) != (self.lat is None):
            raise ValueError("give both lng and lat, or neither")
        if self.lng is None and self.region_code is None and self.grid_code is None:
            raise ValueError("give a coordinate (lng, lat), a grid_code or a region_code")
        return self


class TransitionRequest(Strict):
    """What an action needs besides its name; which fields apply depends on the action."""

    note: str = Field(default="", max_length=5000)
    department_code: str | None = Field(default=None, description="dispatch; lead in dispatch_joint")
    assisting_department_codes: list[str] = Field(default_factory=list, description="dispatch_joint")
    satisfaction: Satisfaction | None = Field(default=None, description="revisit")
    merge_into: str | None = Field(default=None, description="merge: the number of the case kept")
    new_deadline: AwareDatetime | None = Field(default=None, description="request_extension")
    expected_version: int | None = Field(
        default=None, description="refuse the action if the case changed since this version was read"
    )


class AttachmentIn(Strict):
    filename: str = Field(min_length=1, max_length=200)
    content_type: str = Field(min_length=3, max_length=100, pattern=r"^[\w.+\-]+/[\w.+\-]+$")
    size_bytes: int = Field(ge=0, le=1_000_000_000)
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    uri: str = Field(min_length=1, max_length=500)
    event_seq: int | None = Field(default=None, ge=1)


class AttachmentOut(Output):
    id: int
    filename: str
    content_type: str
    size_bytes: int
    sha256: str
    uri: str
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
    data: dict[str, Any]


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
    satisfaction: Satisfaction | None
    rework_count: int
    merged_into: str | None
    closure_standard: str
    allowed_actions: list[Action]
    timeline: list[EventOut]
    tasks: list[TaskOut]
    attachments: list[AttachmentOut]


class CasePage(BaseModel):
    items: list[CaseSummary]
    total: int
    page: int
    page_size: int


class CaseFilters(BaseModel):
    """Filters of the case list; all optional, combined with AND."""

    state: list[CaseState] = Field(default_factory=list)
    light: Light | None = None
    region_code: str | None = None
    grid_code: str | None = None
    department_code: str | None = None
    category_code: str | None = None
    channel: list[Channel] = Field(default_factory=list)
    created_from: AwareDatetime | None = None
    created_to: AwareDatetime | None = None
    q: str | None = Field(default=None, max_length=100)
