"""The shapes of the briefings API: schedules, and the stored briefings with their files."""

from __future__ import annotations

from datetime import datetime

from pydantic import Field, field_validator

from civicgrid.domain.briefings import BriefingFormat, BriefingKind
from civicgrid.schemas import CodeRef, Line, Output, Strict


def _distinct(formats: list[BriefingFormat] | None) -> list[BriefingFormat] | None:
    if formats is not None and len(set(formats)) != len(formats):
        raise ValueError("name each format once")
    return formats


class ScheduleIn(Strict):
    """A briefing to make on its own: each morning (daily, of the day before), each Monday
    (weekly, of the week before) or on the 1st (monthly, of the month before)."""

    kind: BriefingKind
    region_code: CodeRef
    formats: list[BriefingFormat] = Field(
        default_factory=lambda: [BriefingFormat.PDF], min_length=1, max_length=3
    )
    title: Line | None = Field(
        default=None, min_length=1, max_length=200, description="the masthead; default: the centre's"
    )
    hour: int = Field(default=8, ge=0, le=23, description="the hour it is made at, the centre's time")

    _formats = field_validator("formats")(_distinct)


class SchedulePatch(Strict):
    """What an admin changes of a schedule; a null title goes back to the centre's."""

    formats: list[BriefingFormat] | None = Field(default=None, min_length=1, max_length=3)
    title: Line | None = Field(default=None, min_length=1, max_length=200)
    hour: int | None = Field(default=None, ge=0, le=23)
    is_active: bool | None = None

    _formats = field_validator("formats")(_distinct)


class ScheduleOut(Output):
    id: int
    kind: BriefingKind
    kind_label: str
    region_code: str
    region_name: str
    formats: list[BriefingFormat]
    title: str | None
    hour: int
    is_active: bool
    created_at: datetime
    created_by: str | None


class BriefingFileOut(Output):
    format: BriefingFormat
    content_type: str
    filename: str
    size_bytes: int
    url: str = Field(description="where to download it")


class StoredBriefingOut(Output):
    """A briefing a schedule made and stored."""

    id: int
    schedule_id: int | None
    kind: BriefingKind
    kind_label: str
    region_code: str
    region_name: str
    period_start: datetime
    period_end: datetime = Field(description="the end of the period, excluded")
    period_label: str
    title: str
    created_at: datetime
    files: list[BriefingFileOut]


class StoredBriefingPage(Output):
    """Stored briefings, newest first; ask for the next page with before_id=next_before_id."""

    items: list[StoredBriefingOut]
    next_before_id: int | None
