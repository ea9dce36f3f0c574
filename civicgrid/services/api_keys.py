"""API keys of outside systems (Open311 clients): issued by admins, named, scoped to a
region, revocable, stored as keyed hashes like sign-in tokens.

Each key acts through a system user of its own: role operator, the key's region, a password
no sign-in matches, named after the key. The case service then checks the key's scope as it
checks any operator's, and every event the key causes names that user as its actor (and the
report event also records the key in its data), so each request stays traceable to its key
without a second kind of actor throughout the store.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session, joinedload

from civicgrid.domain.errors import Conflict, InvalidInput, NotFound, RoleNotAllowed, Unauthenticated
from civicgrid.domain.vocabulary import Channel, Role
from civicgrid.services.calendar import calendar_revision_columns
from civicgrid.services.directory import require_admin
from civicgrid.store.lookups import by_code
from civicgrid.store.models import ApiKey, Region, User
from civicgrid.store.scoping import region_in_scope, region_subtree

#: Every key starts so, so that one found in a log or a repository is recognisable.
KEY_PREFIX = "cg_"
#: Stored in place of a password hash: argon2 rejects it, so no one signs in as a key's user.
NO_PASSWORD = "!api-key"


def _digest(key: str, secret_key: str) -> str:
    return hmac.new(secret_key.encode(), f"api-key:{key}".encode(), hashlib.sha256).hexdigest()


def issue_key(
    session: Session,
    actor: User | None,
    name: str,
    *,
    region_code: str | None,
    channel: Channel,
    secret_key: str,
    now: datetime,
    issued_by: str | None = None,
) -> tuple[ApiKey, str]:
    """A new key named ``name`` for ``region_code`` (default: the admin's region, or from the
    command line the only top region) and the key itself, shown this once. ``actor`` is the
    admin issuing it (None from the command line, where ``issued_by`` names who ran it)."""
    if actor is not None:
        require_admin(actor)
    if session.scalar(select(ApiKey.id).where(ApiKey.name == name)) is not None:
        raise Conflict(f"an API key named '{name}' exists already")
    region = _key_region(session, actor, region_code)
    if actor is not None and not region_in_scope(region, actor):
        raise RoleNotAllowed(f"region {region.code} ({region.name}) is outside your scope")
    key = KEY_PREFIX + secrets.token_urlsafe(32)
    user = User(
        username=f"api-key.{secrets.token_hex(6)}",
        full_name=f"API密钥：{name}"[:100],
        password_hash=NO_PASSWORD,
        role=Role.OPERATOR,
        region=region,
        is_active=True,
        created_at=now,
    )
    row = ApiKey(
        name=name,
        key_hash=_digest(key, secret_key),
        prefix=key[:10],
        region=region,
        channel=channel,
        user=user,
        created_at=now,
        created_by=issued_by or (actor.username if actor is not None else "command line"),
    )
    session.add(row)
    session.flush()
    return row, key


def _key_region(session: Session, actor: User | None, code: str | None) -> Region:
    if code is not None:
        return by_code(session, Region, code)
    if actor is not None and actor.region is not None:
        return actor.region
    roots = list(session.scalars(select(Region).where(Region.parent_id.is_(None)).limit(2)))
    if len(roots) != 1:
        raise InvalidInput("give the key's region (--region CODE): the territory has no single top region")
    return roots[0]


def list_keys(session: Session, actor: User) -> list[ApiKey]:
    """The keys of regions in the admin's subtree, newest first."""
    require_admin(actor)
    query = (
        select(ApiKey).options(joinedload(ApiKey.region), joinedload(ApiKey.user)).order_by(ApiKey.id.desc())
    )
    if actor.region is None:
        return []
    query = query.where(ApiKey.region_id.in_(region_subtree(actor.region.path)))
    return list(session.scalars(query))


def revoke_key(session: Session, actor: User | None, name: str, now: datetime) -> ApiKey:
    """Revoke the key named ``name`` (an admin of its region, or the command line when
    ``actor`` is None): it authenticates no request from now on. Revoking twice is refused."""
    if actor is not None:
        require_admin(actor)
    row = session.scalar(
        select(ApiKey).options(joinedload(ApiKey.region), joinedload(ApiKey.user)).where(ApiKey.name == name)
    )
    if row is None or (actor is not None and not region_in_scope(row.region, actor)):
        raise NotFound(f"no API key named '{name}' that you manage")
    if row.revoked_at is not None:
        raise Conflict(f"API key '{name}' was revoked at {row.revoked_at.isoformat()}")
    row.revoked_at = now
    row.user.is_active = False
    session.flush()
    return row


#: The key of ``:key_hash`` with its user and region, and the calendar's revision mark
#: (built once: every Open311 report reads it).
_KEY_BY_HASH = (
    select(ApiKey, *calendar_revision_columns())
    .options(
        joinedload(ApiKey.user).joinedload(User.region).defer(Region.boundary),
        joinedload(ApiKey.region).defer(Region.boundary),
    )
    .where(ApiKey.key_hash == bindparam("key_hash"))
)


def authenticate_key(session: Session, key: str, *, secret_key: str) -> tuple[ApiKey, tuple[int, Any]]:
    """The live key ``key``, with its user and region, or Unauthenticated; and the
    calendar's revision mark, read in the same statement (for the centre's rules)."""
    found = session.execute(_KEY_BY_HASH, {"key_hash": _digest(key, secret_key)}).first()
    if found is None or found[0].revoked_at is not None or not found[0].user.is_active:
        raise Unauthenticated("invalid or revoked api_key")
    row, count, latest = found
    return row, (int(count), latest)
