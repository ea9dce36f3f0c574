"""Partners: who may push work orders down and hears back about them. The district's
admins manage them (admin API, ``civicgrid partner``)."""

from __future__ import annotations

import secrets
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session, joinedload

from civicgrid.domain.errors import Conflict, InvalidInput, NotFound, Unauthenticated
from civicgrid.domain.vocabulary import Role
from civicgrid.exchange.schemas import PARTNER_CHANNELS, PartnerCreated, PartnerIn, PartnerOut, PartnerPatch
from civicgrid.services.auth import hash_password
from civicgrid.services.directory import require_top_admin
from civicgrid.store.lookups import by_code
from civicgrid.store.models import Category, Partner, Region, User

#: Partners' accounts are named so; they never sign in (inactive, a random password).
ACCOUNT_PREFIX = "partner."


def out(partner: Partner) -> PartnerOut:
    """The partner as admins see it."""
    return PartnerOut(
        code=partner.code,
        name=partner.name,
        webhook_url=partner.webhook_url,
        channel=partner.channel,
        region_code=partner.region.code,
        category_map=partner.category_map,
        is_active=partner.is_active,
        created_at=partner.created_at,
    )


def list_partners(session: Session, actor: User | None) -> list[Partner]:
    """Every partner, by code (``actor`` None: the command line)."""
    if actor is not None:
        require_top_admin(actor, "partners")
    return list(session.scalars(select(Partner).options(joinedload(Partner.region)).order_by(Partner.code)))


def check_category_map(session: Session, mapping: dict[str, str]) -> None:
    """Refuse a map that names a code that is not an active small class."""
    codes = set(mapping.values())
    found = set(
        session.scalars(
            select(Category.code).where(
                Category.code.in_(codes), Category.parent_id.is_not(None), Category.is_active.is_(True)
            )
        )
    )
    missing = sorted(codes - found)
    if missing:
        raise InvalidInput(f"category map: {', '.join(missing)} not active small classes (小类)")


def create_partner(session: Session, actor: User | None, data: PartnerIn, now: datetime) -> PartnerCreated:
    """Add a partner with its account (the reporter of its cases); the answer shows the
    shared secret, generated when not given."""
    if actor is not None:
        require_top_admin(actor, "partners")
    if data.channel not in PARTNER_CHANNELS:
        raise InvalidInput(
            f"a partner's orders enter on {' or '.join(PARTNER_CHANNELS)}, not {data.channel.value}"
        )
    if session.scalar(select(Partner.id).where(Partner.code == data.code)) is not None:
        raise Conflict(f"partner '{data.code}' exists already")
    if data.region_code is not None:
        region = by_code(session, Region, data.region_code)
    else:
        region = session.scalars(select(Region).where(Region.parent_id.is_(None)).order_by(Region.id)).first()
        if region is None:
            raise InvalidInput("the territory has no region yet: import it first")
    check_category_map(session, data.category_map)
    account = User(
        username=f"{ACCOUNT_PREFIX}{data.code}"[:60],
        full_name=data.name,
        password_hash=hash_password(secrets.token_urlsafe(32)),
        role=Role.OPERATOR,
        region=region,
        is_active=False,
        created_at=now,
    )
    secret = data.secret or secrets.token_urlsafe(32)
    partner = Partner(
        code=data.code,
        name=data.name,
        secret=secret,
        webhook_url=data.webhook_url,
        channel=data.channel,
        region=region,
        category_map=dict(data.category_map),
        user=account,
        is_active=True,
        created_at=now,
    )
    session.add(partner)
    session.flush()
    return PartnerCreated(**out(partner).model_dump(), secret=secret)


def update_partner(session: Session, actor: User | None, code: str, data: PartnerPatch) -> Partner:
    """Change a partner's name, secret, webhook, category map or activity."""
    if actor is not None:
        require_top_admin(actor, "partners")
    partner = session.scalar(select(Partner).options(joinedload(Partner.region)).where(Partner.code == code))
    if partner is None:
        raise NotFound(f"no partner '{code}'")
    if data.category_map is not None:
        check_category_map(session, data.category_map)
        partner.category_map = dict(data.category_map)
    for field in ("name", "secret", "webhook_url", "is_active"):
        if field in data.model_fields_set and (field == "webhook_url" or getattr(data, field) is not None):
            setattr(partner, field, getattr(data, field))
    if data.name is not None:
        partner.user.full_name = data.name
    session.flush()
    return partner


def signing_partner(session: Session, code: str) -> Partner:
    """The active partner ``code`` whose secret checks a request; an unknown code is answered
    like a bad signature (nothing tells a stranger which codes exist)."""
    partner = session.scalar(select(Partner).options(joinedload(Partner.region)).where(Partner.code == code))
    if partner is None or not partner.is_active:
        raise Unauthenticated(f"unknown or inactive partner '{code[:40]}'")
    return partner
