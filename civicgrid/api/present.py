"""Turn stored objects into the API's output shapes, with the labels the UI shows."""

from __future__ import annotations

from datetime import UTC, datetime

from civicgrid.domain.clock import light_at
from civicgrid.domain.vocabulary import (
    ACTION_LABELS,
    ATTACHMENT_PURPOSE_LABELS,
    ROLE_LABELS,
    STATE_LABELS,
    Role,
)
from civicgrid.schemas import (
    AttachmentOut,
    CaseDetail,
    CasePublic,
    CaseSummary,
    CategoryOut,
    DepartmentOut,
    EventOut,
    GridDetail,
    GridOut,
    GridStaffOut,
    PublicEventOut,
    RegionDetail,
    TaskOut,
    UserOut,
)
from civicgrid.services.cases import open_actions
from civicgrid.store.models import Attachment, Case, Category, Department, Grid, Region, User


def case_summary(case: Case, now: datetime) -> CaseSummary:
    """A case as a list row shows it."""
    return CaseSummary(
        number=case.number,
        title=case.title,
        channel=case.channel,
        kind=case.kind,
        category_code=case.category.code,
        category_name=case.category.name,
        urgency=case.urgency,
        state=case.state,
        state_label=STATE_LABELS[case.state],
        stage=case.stage,
        light=light_at(now, case.warning_at, case.deadline_at),
        warning_at=case.warning_at,
        deadline_at=case.deadline_at,
        region_code=case.region.code,
        grid_code=case.grid.code if case.grid else None,
        department_code=case.department.code if case.department else None,
        address=case.address,
        lng=case.lng,
        lat=case.lat,
        created_at=case.created_at,
        version=case.version,
    )


def attachment_out(attachment: Attachment, number: str, event_seq: int | None) -> AttachmentOut:
    """An attachment of case ``number``, with the API paths of a stored file and thumbnail."""
    path = f"/api/v1/cases/{number}/attachments/{attachment.id}"
    return AttachmentOut(
        id=attachment.id,
        filename=attachment.filename,
        content_type=attachment.content_type,
        size_bytes=attachment.size_bytes,
        sha256=attachment.sha256,
        uri=attachment.uri if attachment.uri is not None else path,
        stored=attachment.is_stored,
        thumbnail_uri=f"{path}/thumbnail" if attachment.thumbnail_sha256 else None,
        purpose=attachment.purpose,
        purpose_label=ATTACHMENT_PURPOSE_LABELS[attachment.purpose] if attachment.purpose else None,
        event_seq=event_seq,
        uploaded_by=attachment.uploaded_by.full_name,
        # As the store gives it back, so a fresh upload reads the same as the case file.
        created_at=attachment.created_at.astimezone(UTC),
    )


def case_detail(case: Case, actor: User, now: datetime) -> CaseDetail:
    """The case file: fields, timeline, joint-handling tasks, attachments, and what the
    actor may do next."""
    seq_of = {event.id: event.seq for event in case.events}
    added: dict[int, list[int]] = {}
    for attachment in case.attachments:
        if attachment.event_id is not None:
            added.setdefault(attachment.event_id, []).append(attachment.id)
    return CaseDetail(
        **case_summary(case, now).model_dump(),
        description=case.description,
        request_type=case.request_type,
        reporter_name=case.reporter_name,
        reporter_phone=case.reporter_phone,
        external_id=case.external_id,
        answers=case.answers,
        media_url=case.media_url,
        satisfaction=case.satisfaction,
        rework_count=case.rework_count,
        merged_into=case.merged_into.number if case.merged_into else None,
        overlay_grid_codes=[grid.code for grid in case.overlay_grids],
        closure_standard=case.category.closure_standard,
        allowed_actions=open_actions(case, actor),
        timeline=[
            EventOut(
                seq=event.seq,
                action=event.action,
                action_label=ACTION_LABELS[event.action],
                from_state=event.from_state,
                to_state=event.to_state,
                to_state_label=STATE_LABELS[event.to_state],
                actor=event.actor.full_name if event.actor else None,
                actor_role=event.actor_role,
                at=event.at,
                note=event.note,
                note_is_public=event.note_is_public,
                data=event.data,
                attachment_ids=added.get(event.id, []),
            )
            for event in case.events
        ],
        tasks=[
            TaskOut(
                department_code=task.department.code,
                department_name=task.department.name,
                is_lead=task.is_lead,
                assigned_at=task.assigned_at,
                done_at=task.done_at,
            )
            for task in case.tasks
        ],
        attachments=[
            attachment_out(attachment, case.number, seq_of.get(attachment.event_id or 0))
            for attachment in case.attachments
        ],
    )


def case_public(case: Case) -> CasePublic:
    """The case as its reporter and the public see it (no staff names, no internal notes)."""
    return CasePublic(
        number=case.number,
        title=case.title,
        category_code=case.category.code,
        category_name=case.category.name,
        state=case.state,
        state_label=STATE_LABELS[case.state],
        address=case.address,
        lng=case.lng,
        lat=case.lat,
        description=case.description,
        department_name=case.department.name if case.department else None,
        created_at=case.created_at,
        updated_at=case.updated_at,
        closed_at=case.closed_at,
        deadline_at=case.deadline_at,
        satisfaction=case.satisfaction,
        progress=[
            PublicEventOut(
                at=event.at,
                action_label=ACTION_LABELS[event.action],
                to_state=event.to_state,
                to_state_label=STATE_LABELS[event.to_state],
                note=event.note if event.note_is_public else None,
            )
            for event in case.events
        ],
    )


def case_view(case: Case, actor: User, now: datetime) -> CaseDetail | CasePublic:
    """The case file for staff; the public view for a citizen."""
    if actor.role is Role.CITIZEN:
        return case_public(case)
    return case_detail(case, actor, now)


def department_out(department: Department) -> DepartmentOut:
    """A department with its region's code."""
    return DepartmentOut(
        code=department.code,
        name=department.name,
        function=department.function,
        level=department.level,
        region_code=department.region.code,
        linkage_level=department.linkage_level,
        phone=department.phone,
        is_active=department.is_active,
    )


def user_out(user: User) -> UserOut:
    """A user without secrets."""
    return UserOut(
        username=user.username,
        full_name=user.full_name,
        role=user.role,
        role_label=ROLE_LABELS[user.role],
        region_code=user.region.code if user.region else None,
        department_code=user.department.code if user.department else None,
        is_active=user.is_active,
    )


def category_out(category: Category) -> CategoryOut:
    """A class with its parent's code."""
    return CategoryOut(
        code=category.code,
        name=category.name,
        kind=category.kind,
        parent_code=category.parent.code if category.parent else None,
        department_function=category.department_function,
        closure_standard=category.closure_standard,
        limits=category.limits,
        is_active=category.is_active,
        questions=category.questions,
    )


def grid_out(grid: Grid, with_boundary: bool, open_cases: dict[int, int] | None = None) -> GridOut:
    """A grid, with its polygon and its count of open cases if asked."""
    return GridOut(
        code=grid.code,
        name=grid.name,
        kind=grid.kind,
        region_code=grid.region.code,
        overlay_group=grid.overlay_group,
        retired_at=grid.retired_at,
        boundary=grid.boundary if with_boundary else None,
        open_cases=None if open_cases is None else open_cases.get(grid.id, 0),
    )


def grid_detail(grid: Grid, open_cases: dict[int, int]) -> GridDetail:
    """A grid with its polygon, staff and open cases."""
    staff = [
        GridStaffOut(username=s.user.username, full_name=s.user.full_name, duty=s.duty)
        for s in sorted(grid.staff, key=lambda s: (s.duty, s.user.username))
    ]
    return GridDetail(**grid_out(grid, True, open_cases).model_dump(), staff=staff)


def region_detail(region: Region) -> RegionDetail:
    """A region with its parent and boundary."""
    return RegionDetail(
        code=region.code,
        name=region.name,
        level=region.level,
        path=region.path,
        retired_at=region.retired_at,
        parent_code=region.parent.code if region.parent else None,
        boundary=region.boundary,
    )
