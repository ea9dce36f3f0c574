"""Notification routes: your alerts (unread first), marking them read, and the settings for
receiving them by SMS or e-mail while signed out (yours; an admin's for the users they manage)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query

from civicgrid.api.deps import Actor, DbSession, Now
from civicgrid.api.errors import ERROR_RESPONSES
from civicgrid.domain.vocabulary import ALERT_KIND_LABELS, AlertKind
from civicgrid.schemas import (
    NotificationOut,
    NotificationPage,
    NotificationSettingsIn,
    NotificationSettingsOut,
    ReadAllOut,
)
from civicgrid.services import notifications
from civicgrid.store.models import Notification, NotificationSetting, User

router = APIRouter(prefix="/api/v1", tags=["notifications"], responses=ERROR_RESPONSES)


def notification_out(row: Notification) -> NotificationOut:
    """A notification as the API shows it."""
    return NotificationOut(
        id=row.id,
        kind=row.kind,
        kind_label=ALERT_KIND_LABELS[row.kind],
        number=row.case.number,
        text=row.text,
        created_at=row.created_at,
        read_at=row.read_at,
        sent_by=row.sent_by.split(",") if row.sent_by else [],
    )


def settings_out(user: User, found: NotificationSetting) -> NotificationSettingsOut:
    return NotificationSettingsOut(
        username=user.username,
        sms_phone=found.sms_phone,
        email=found.email,
        kinds=[AlertKind(kind) for kind in found.kinds or []],
    )


@router.get("/notifications", response_model=NotificationPage, summary="Your notifications, unread first")
def list_notifications(
    session: DbSession,
    actor: Actor,
    page: Annotated[int, Query(ge=1, le=10_000)] = 1,
    page_size: Annotated[int, Query(ge=1, le=200)] = 50,
) -> NotificationPage:
    found = notifications.page_of(session, actor, page, page_size)
    return NotificationPage(
        items=[notification_out(row) for row in found.rows],
        page=page,
        page_size=page_size,
        total=found.total,
        unread=found.unread,
        next_page=page + 1 if page * page_size < found.total else None,
    )


@router.post("/notifications/read-all", response_model=ReadAllOut, summary="Mark all your notifications read")
def read_all(session: DbSession, actor: Actor, now: Now) -> ReadAllOut:
    return ReadAllOut(marked=notifications.mark_all_read(session, actor, now), unread=0)


@router.post(
    "/notifications/{notification_id}/read",
    response_model=NotificationOut,
    summary="Mark one of your notifications read",
)
def read_one(
    session: DbSession,
    actor: Actor,
    now: Now,
    notification_id: Annotated[int, Path(ge=1, le=2**31 - 1)],
) -> NotificationOut:
    return notification_out(notifications.mark_read(session, actor, notification_id, now))


@router.get(
    "/me/notification-settings",
    response_model=NotificationSettingsOut,
    summary="How your alerts reach you while signed out",
)
def my_settings(session: DbSession, actor: Actor) -> NotificationSettingsOut:
    return settings_out(actor, notifications.settings_of(session, actor))


@router.put(
    "/me/notification-settings",
    response_model=NotificationSettingsOut,
    summary="Set how your alerts reach you while signed out (SMS, e-mail, which kinds)",
)
def set_my_settings(
    session: DbSession, actor: Actor, now: Now, data: NotificationSettingsIn
) -> NotificationSettingsOut:
    return settings_out(actor, notifications.save_settings(session, actor, data, now))


@router.get(
    "/users/{username}/notification-settings",
    response_model=NotificationSettingsOut,
    summary="A managed user's notification settings (admins)",
)
def user_settings(session: DbSession, actor: Actor, username: str) -> NotificationSettingsOut:
    return settings_out(*notifications.managed_settings(session, actor, username))


@router.put(
    "/users/{username}/notification-settings",
    response_model=NotificationSettingsOut,
    summary="Set a managed user's notification settings (admins)",
)
def set_user_settings(
    session: DbSession, actor: Actor, now: Now, username: str, data: NotificationSettingsIn
) -> NotificationSettingsOut:
    return settings_out(*notifications.save_managed_settings(session, actor, username, data, now))
