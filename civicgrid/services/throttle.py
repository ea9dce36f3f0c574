"""The sign-in throttle: too many failed attempts lock an account name, or a client address,
for a while. It counts the audit rows of attempts, so every server process sees the same
counts and a restart forgets nothing."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, delete, func, select
from sqlalchemy.orm import Session

from civicgrid.domain.errors import TooManyAttempts
from civicgrid.domain.vocabulary import SignInOutcome
from civicgrid.settings import Settings
from civicgrid.store.models import SignInAttempt


@dataclass(frozen=True)
class Limits:
    """How many failures lock, counted over which window, for how long."""

    max_failures: int
    max_failures_per_address: int
    window: timedelta
    lockout: timedelta
    #: How long attempts stay on record (at least a day, so always longer than a lock).
    retention: timedelta = timedelta(days=365)

    @classmethod
    def from_settings(cls, settings: Settings) -> Limits:
        """The limits the centre configured (``CIVICGRID_LOGIN_*``)."""
        return cls(
            max_failures=settings.login_max_failures,
            max_failures_per_address=settings.login_max_failures_per_address,
            window=timedelta(minutes=settings.login_window_minutes),
            lockout=timedelta(minutes=settings.login_lockout_minutes),
            retention=timedelta(days=settings.login_audit_days),
        )


def locked_until(
    session: Session,
    username: str,
    address: str,
    now: datetime,
    limits: Limits,
    reset_at: datetime | None = None,
) -> datetime | None:
    """When the lock on ``username`` or on ``address`` ends, or None while neither is locked.

    A lock lasts ``lockout`` from the latest failure once ``max_failures`` (per account) or
    ``max_failures_per_address`` failures fall within the window. An account counts only
    failures after its last success and after ``reset_at`` (an admin's new password); an
    address counts every failure, so that signing in to one's own account between guesses
    at others buys nothing.
    """
    opened = now - limits.window
    since = opened if reset_at is None else max(opened, reset_at)
    account = [SignInAttempt.username == username, SignInAttempt.at > since]
    last_success = session.scalar(
        select(func.max(SignInAttempt.id)).where(*account, SignInAttempt.outcome == SignInOutcome.SUCCEEDED)
    )
    if last_success is not None:
        account.append(SignInAttempt.id > last_success)
    ends = [
        _lock_end(session, account, limits.max_failures, limits.lockout),
        _lock_end(
            session,
            [SignInAttempt.address == address, SignInAttempt.at > opened],
            limits.max_failures_per_address,
            limits.lockout,
        ),
    ]
    return max((end for end in ends if end is not None and end > now), default=None)


def _lock_end(
    session: Session, which: list[ColumnElement[bool]], max_failures: int, lockout: timedelta
) -> datetime | None:
    count, latest = session.execute(
        select(func.count(), func.max(SignInAttempt.at)).where(
            *which, SignInAttempt.outcome == SignInOutcome.FAILED
        )
    ).one()
    return latest + lockout if count >= max_failures else None


def record(session: Session, username: str, address: str, outcome: SignInOutcome, now: datetime) -> None:
    """Add an attempt to the audit of sign-ins."""
    session.add(SignInAttempt(username=username, address=address, at=now, outcome=outcome))
    session.flush()


#: At most this many old attempts are deleted per sign-in, so that its write stays short;
#: each sign-in adds one row, so the audit shrinks back to its retention period.
PURGE_BATCH = 100


def purge_old_attempts(
    session: Session, now: datetime, retention: timedelta, batch: int = PURGE_BATCH
) -> int:
    """Delete up to ``batch`` attempts older than ``retention``; how many."""
    old = select(SignInAttempt.id).where(SignInAttempt.at < now - retention).limit(batch)
    result = session.execute(
        delete(SignInAttempt).where(SignInAttempt.id.in_(old)),
        execution_options={"synchronize_session": False},
    )
    return result.rowcount  # type: ignore[attr-defined]  # a DELETE gives a CursorResult


def refusal(until: datetime, now: datetime) -> TooManyAttempts:
    """The error that tells a locked-out client how long to wait."""
    seconds = max(1, math.ceil((until - now).total_seconds()))
    minutes = math.ceil(seconds / 60)
    return TooManyAttempts(
        f"登录失败次数过多，请 {minutes} 分钟后再试 (too many failed sign-ins: try again in {minutes} min)",
        retry_after_seconds=seconds,
    )
