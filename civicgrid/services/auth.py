"""Sign-in: argon2 password hashes and bearer tokens stored as keyed hashes."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from civicgrid.domain.errors import Unauthenticated
from civicgrid.store.lookups import user_by_username
from civicgrid.store.models import ApiToken, User

_hasher = PasswordHasher()


def hash_password(password: str) -> str:
    """An argon2id hash of ``password``."""
    return _hasher.hash(password)


def _token_digest(token: str, secret_key: str) -> str:
    return hmac.new(secret_key.encode(), token.encode(), hashlib.sha256).hexdigest()


def login(
    session: Session, username: str, password: str, *, secret_key: str, hours: int, now: datetime
) -> tuple[str, datetime]:
    """A new token for the user whose password matches, and when it expires."""
    user = user_by_username(session, username)
    refusal = Unauthenticated("wrong username or password")
    if user is None or not user.is_active:
        _hasher.hash(password)  # same work as a real check, so timing does not reveal usernames
        raise refusal
    try:
        _hasher.verify(user.password_hash, password)
    except (VerificationError, InvalidHashError):
        raise refusal from None
    token = secrets.token_urlsafe(32)
    expires_at = now + timedelta(hours=hours)
    session.add(
        ApiToken(
            user=user, token_hash=_token_digest(token, secret_key), created_at=now, expires_at=expires_at
        )
    )
    session.flush()
    return token, expires_at


def revoke_tokens(session: Session, user: User, now: datetime) -> None:
    """Sign ``user`` out everywhere: revoke every live token of theirs."""
    session.execute(
        update(ApiToken)
        .where(ApiToken.user_id == user.id, ApiToken.revoked_at.is_(None), ApiToken.expires_at > now)
        .values(revoked_at=now),
        execution_options={"synchronize_session": False},
    )


def _live_token(session: Session, token: str, secret_key: str, now: datetime) -> ApiToken:
    row = session.scalar(select(ApiToken).where(ApiToken.token_hash == _token_digest(token, secret_key)))
    if row is None or row.revoked_at is not None or row.expires_at <= now or not row.user.is_active:
        raise Unauthenticated("invalid or expired token: sign in again")
    return row


def authenticate(session: Session, token: str, *, secret_key: str, now: datetime) -> User:
    """The active user holding ``token``, or Unauthenticated."""
    return _live_token(session, token, secret_key, now).user


def logout(session: Session, token: str, *, secret_key: str, now: datetime) -> None:
    """Revoke ``token`` so it signs nobody in again."""
    _live_token(session, token, secret_key, now).revoked_at = now
