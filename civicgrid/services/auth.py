"""Sign-in: argon2 password hashes, a throttle on guessing, and bearer tokens stored as
keyed hashes."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import ScalarSelect, delete, select, update
from sqlalchemy.orm import Session, joinedload, sessionmaker

from civicgrid.domain.errors import Unauthenticated
from civicgrid.domain.vocabulary import SignInOutcome
from civicgrid.live import journal
from civicgrid.live.changes import SIGNOUT
from civicgrid.services import throttle
from civicgrid.store.db import session_scope
from civicgrid.store.lookups import user_by_username
from civicgrid.store.models import ApiToken, Region, User

#: argon2id at OWASP's recommended minimum (19 MiB, 2 passes, 1 lane): about 20 ms of one
#: core. The library's default (64 MiB, 3 passes, 4 lanes) costs several times that, which a
#: burst of sign-ins at a shift change, or a flood of guesses, turns into a stalled server;
#: guessing online is the throttle's job. Hashes made with other parameters still verify and
#: are rehashed at the next successful sign-in.
_hasher = PasswordHasher(time_cost=2, memory_cost=19 * 1024, parallelism=1)


def hash_password(password: str) -> str:
    """An argon2id hash of ``password``."""
    return _hasher.hash(password)


#: The shortest password a person chooses at the console (``civicgrid create-user``).
MIN_PASSWORD_LENGTH = 10


def weak_password(password: str) -> str | None:
    """Why ``password`` is too weak to protect an account, or None: shorter than
    ``MIN_PASSWORD_LENGTH``, or all of one class (lower case, upper case, digits, others)."""
    if len(password) < MIN_PASSWORD_LENGTH:
        return f"a password needs at least {MIN_PASSWORD_LENGTH} characters"
    classes = {
        "lower" if c.islower() else "upper" if c.isupper() else "digit" if c.isdigit() else "other"
        for c in password
    }
    if len(classes) < 2:
        return "a password needs characters of two classes at least (letters, digits, symbols)"
    return None


def needs_rehash(password_hash: str | None) -> bool:
    """Whether ``password_hash`` was made with other parameters than today's."""
    return password_hash is not None and _hasher.check_needs_rehash(password_hash)


def _token_digest(token: str, secret_key: str) -> str:
    return hmac.new(secret_key.encode(), token.encode(), hashlib.sha256).hexdigest()


@cache
def _dummy_hash() -> str:
    # Verified against when no such user exists, so an unknown username costs the same time
    # as a wrong password and the answer does not tell which it was.
    return _hasher.hash(secrets.token_urlsafe(16))


def password_matches(password_hash: str | None, password: str) -> bool:
    """Whether ``password`` matches ``password_hash``; None (no such user) is checked
    against a dummy hash, taking the same time, and never matches."""
    try:
        _hasher.verify(password_hash or _dummy_hash(), password)
    except (VerificationError, InvalidHashError):
        return False
    return password_hash is not None


@dataclass(frozen=True)
class _Account:
    """What the first step of a sign-in read about the account."""

    password_hash: str | None
    may_sign_in: bool
    reset_at: datetime | None


def sign_in(
    read: sessionmaker[Session],
    write: sessionmaker[Session],
    username: str,
    password: str,
    *,
    address: str,
    limits: throttle.Limits,
    secret_key: str,
    hours: int,
    now: datetime,
) -> tuple[str, datetime]:
    """A new token for ``username`` and when it expires, if ``password`` matches and neither
    the account nor ``address`` is locked; every attempt is recorded.

    Unlike other services this one runs its own transactions, three steps in a row, so that
    the slow password check holds none (on SQLite, not the one write lock): read the account
    and the throttle's counts in a read-only session, check the password outside any
    transaction, then record the attempt and store the token in one short write. A wrong
    password and an unknown username get the same work and the same answer.
    """
    with session_scope(read) as session:
        user = user_by_username(session, username)
        account = _Account(
            password_hash=user.password_hash if user else None,
            may_sign_in=user is not None and user.is_active,
            reset_at=user.password_changed_at if user else None,
        )
        lock = throttle.locked_until(session, username, address, now, limits, account.reset_at)
    matches = lock is None and password_matches(account.password_hash, password) and account.may_sign_in
    rehashed = hash_password(password) if matches and needs_rehash(account.password_hash) else None
    with session_scope(write) as session:
        if lock is None:
            # Failures that parallel attempts recorded meanwhile count too.
            lock = throttle.locked_until(session, username, address, now, limits, account.reset_at)
        user = user_by_username(session, username) if matches and lock is None else None
        if user is not None and not (user.is_active and user.password_hash == account.password_hash):
            user = None  # deactivated or given a new password meanwhile
        if lock is not None:
            outcome = SignInOutcome.LOCKED
        else:
            outcome = SignInOutcome.FAILED if user is None else SignInOutcome.SUCCEEDED
        throttle.record(session, username, address, outcome, now)
        throttle.purge_old_attempts(session, now, limits.retention)
        if user is not None and rehashed is not None:
            user.password_hash = rehashed
        issued = None if user is None else _issue_token(session, user, secret_key, hours, now)
    if lock is not None:
        raise throttle.refusal(lock, now)
    if issued is None:
        raise Unauthenticated("wrong username or password")
    return issued


def _issue_token(
    session: Session, user: User, secret_key: str, hours: int, now: datetime
) -> tuple[str, datetime]:
    token = secrets.token_urlsafe(32)
    expires_at = now + timedelta(hours=hours)
    session.add(
        ApiToken(
            user=user, token_hash=_token_digest(token, secret_key), created_at=now, expires_at=expires_at
        )
    )
    purge_expired_tokens(session, now)
    session.flush()
    return token, expires_at


#: Tokens are deleted this long after they expire (until then a revoked one stays on record).
PURGE_AFTER = timedelta(days=1)
#: At most this many at a time, so that the sign-in's write stays short. Each sign-in adds
#: one token and may delete this many, so the table holds little beyond the live tokens.
PURGE_BATCH = 100


def purge_expired_tokens(session: Session, now: datetime, batch: int = PURGE_BATCH) -> int:
    """Delete up to ``batch`` tokens that expired more than ``PURGE_AFTER`` ago; how many."""
    stale = select(ApiToken.id).where(ApiToken.expires_at < now - PURGE_AFTER).limit(batch)
    result = session.execute(
        delete(ApiToken).where(ApiToken.id.in_(stale)), execution_options={"synchronize_session": False}
    )
    return result.rowcount  # type: ignore[attr-defined]  # a DELETE gives a CursorResult


def revoke_tokens(session: Session, user: User, now: datetime) -> None:
    """Sign ``user`` out everywhere: revoke every live token of theirs (and end their live
    connections once this commits)."""
    journal.record(session, SIGNOUT, user.id, now, {"token_id": None})
    session.execute(
        update(ApiToken)
        .where(ApiToken.user_id == user.id, ApiToken.revoked_at.is_(None), ApiToken.expires_at > now)
        .values(revoked_at=now),
        execution_options={"synchronize_session": False},
    )


def _live_token(
    session: Session, token: str, secret_key: str, now: datetime, reading: Sequence[ScalarSelect[Any]] = ()
) -> tuple[ApiToken, tuple[Any, ...]]:
    # The user and their region (every scope check reads it) come with the token, in one round;
    # not the region's polygon, which no check reads and a district's may be large.
    row = session.execute(
        select(ApiToken, *reading)
        .options(joinedload(ApiToken.user).joinedload(User.region).defer(Region.boundary))
        .where(ApiToken.token_hash == _token_digest(token, secret_key))
    ).one_or_none()
    found: ApiToken | None = row[0] if row is not None else None
    if found is None or found.revoked_at is not None or found.expires_at <= now or not found.user.is_active:
        raise Unauthenticated("invalid or expired token: sign in again")
    return found, tuple(row[1:]) if row is not None else ()


def authenticate(session: Session, token: str, *, secret_key: str, now: datetime) -> User:
    """The active user holding ``token``, or Unauthenticated."""
    return _live_token(session, token, secret_key, now)[0].user


def authenticate_token(session: Session, token: str, *, secret_key: str, now: datetime) -> ApiToken:
    """``token``'s stored row (with its active user and their region), or Unauthenticated:
    for a live connection, which ends when this very token is revoked."""
    return _live_token(session, token, secret_key, now)[0]


def authenticate_reading(
    session: Session, token: str, *, secret_key: str, now: datetime, reading: Sequence[ScalarSelect[Any]]
) -> tuple[User, tuple[Any, ...]]:
    """``authenticate``, and the values of the scalar subqueries ``reading``, read in the same
    statement: what a request checks on every call rides along with its token."""
    found, values = _live_token(session, token, secret_key, now, reading)
    return found.user, values


def logout(session: Session, token: str, *, secret_key: str, now: datetime) -> None:
    """Revoke ``token`` so it signs nobody in again (and end the live connections opened
    with it once this commits)."""
    found = _live_token(session, token, secret_key, now)[0]
    found.revoked_at = now
    journal.record(session, SIGNOUT, found.user_id, now, {"token_id": found.id})
