"""A user's notifications (alerts, see ``civicgrid.services.alerts``): listed unread first,
marked read one by one or all at once, and the settings for receiving them by SMS or
e-mail while signed out, which the user edits for themselves and an admin for the users
they manage."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, func, select, update
from sqlalchemy.orm import Session, joinedload

from civicgrid.domain.errors import NotFound
from civicgrid.live import journal
from civicgrid.live.changes import UNREAD
from civicgrid.schemas import NotificationSettingsIn
from civicgrid.services.directory import managed_user
from civicgrid.store.models import Case, Notification, NotificationSetting, User


def unread_count(session: Session, user: User) -> int:
    """How many of ``user``'s notifications are unread."""
    return int(session.scalar(unread_of_user(user.id)) or 0)


def unread_of_user(user_id: Any) -> Select[tuple[int]]:
    """The unread count of the user with id ``user_id`` (a value, or a column to correlate
    with), as a query."""
    return select(func.count()).where(Notification.user_id == user_id, Notification.read_at.is_(None))


@dataclass(frozen=True)
class NotificationPage:
    """One page of a user's notifications, unread first, then newest first."""

    rows: list[Notification]
    total: int
    unread: int


def page_of(session: Session, user: User, page: int, page_size: int) -> NotificationPage:
    """Page ``page`` (from 1) of ``user``'s notifications, with their cases' numbers."""
    total, unread = session.execute(
        select(func.count(), func.count().filter(Notification.read_at.is_(None))).where(
            Notification.user_id == user.id
        )
    ).one()
    rows = session.scalars(
        select(Notification)
        .options(joinedload(Notification.case).load_only(Case.number, Case.title))
        .where(Notification.user_id == user.id)
        # Unread (read_at NULL) first: false sorts before true on both databases.
        .order_by(Notification.read_at.is_not(None), Notification.created_at.desc(), Notification.id.desc())
        .offset((page - 1) * page_size)
        .limit(page_size)
    ).all()
    return NotificationPage(list(rows), int(total), int(unread))


def _announce_unread(session: Session, user: User, now: datetime) -> int:
    """Tell the user's other open pages their new unread count (the live stream)."""
    count = unread_count(session, user)
    journal.record(session, UNREAD, user.id, now, {"unread": count})
    return count


def mark_read(session: Session, user: User, notification_id: int, now: datetime) -> Notification:
    """Mark one of ``user``'s notifications read (again is harmless); NotFound for another's."""
    found = session.scalar(
        select(Notification)
        .options(joinedload(Notification.case).load_only(Case.number, Case.title))
        .where(Notification.id == notification_id, Notification.user_id == user.id)
    )
    if found is None:
        raise NotFound(f"no notification {notification_id} of yours")
    if found.read_at is None:
        found.read_at = now
        session.flush()
        _announce_unread(session, user, now)
    return found


def mark_all_read(session: Session, user: User, now: datetime) -> int:
    """Mark every unread notification of ``user`` read; how many were."""
    result = session.execute(
        update(Notification)
        .where(Notification.user_id == user.id, Notification.read_at.is_(None))
        .values(read_at=now),
        execution_options={"synchronize_session": False},
    )
    marked = int(result.rowcount)  # type: ignore[attr-defined]  # an UPDATE gives a CursorResult
    if marked:
        journal.record(session, UNREAD, user.id, now, {"unread": 0})
    return marked


# --- settings ---------------------------------------------------------------------------------


def settings_of(session: Session, user: User) -> NotificationSetting:
    """``user``'s settings (empty ones, not stored, if they never set any)."""
    found = session.get(NotificationSetting, user.id)
    return found or NotificationSetting(user_id=user.id, sms_phone=None, email=None, kinds=[])


def save_settings(
    session: Session, user: User, data: NotificationSettingsIn, now: datetime
) -> NotificationSetting:
    """Store ``user``'s settings as given."""
    found = session.get(NotificationSetting, user.id)
    if found is None:
        found = NotificationSetting(user_id=user.id)
        session.add(found)
    found.sms_phone = data.sms_phone or None
    found.email = data.email or None
    found.kinds = sorted({kind.value for kind in data.kinds})
    found.updated_at = now
    session.flush()
    return found


def managed_settings(session: Session, actor: User, username: str) -> tuple[User, NotificationSetting]:
    """The settings of a user the admin ``actor`` manages (NotFound otherwise)."""
    user = managed_user(session, actor, username)
    return user, settings_of(session, user)


def save_managed_settings(
    session: Session, actor: User, username: str, data: NotificationSettingsIn, now: datetime
) -> tuple[User, NotificationSetting]:
    """An admin sets the settings of a user they manage."""
    user = managed_user(session, actor, username)
    return user, save_settings(session, user, data, now)
