"""Queries for published evaluations; the lists go through ``scoped_publications``."""

from __future__ import annotations

from sqlalchemy import Select, select
from sqlalchemy.orm import Session, joinedload

from civicgrid.store.models import PublishedEvaluation, Region, User
from civicgrid.store.scoping import scoped_publications

#: The most publications one list returns (a centre publishes a handful a month).
LIST_LIMIT = 500


def _of(kind: str, period_key: str, region_id: int) -> Select[tuple[PublishedEvaluation]]:
    return select(PublishedEvaluation).where(
        PublishedEvaluation.kind == kind,
        PublishedEvaluation.period_key == period_key,
        PublishedEvaluation.region_id == region_id,
    )


def latest(session: Session, kind: str, period_key: str, region_id: int) -> PublishedEvaluation | None:
    """The newest version of one evaluation, if it was ever published."""
    query = _of(kind, period_key, region_id).order_by(PublishedEvaluation.version.desc()).limit(1)
    return session.scalars(query).first()


def version(
    session: Session, kind: str, period_key: str, region_id: int, number: int
) -> PublishedEvaluation | None:
    """Version ``number`` of one evaluation, with its region and publisher loaded."""
    query = _of(kind, period_key, region_id).where(PublishedEvaluation.version == number)
    options = (joinedload(PublishedEvaluation.region), joinedload(PublishedEvaluation.published_by))
    return session.scalars(query.options(*options)).first()


def listed(
    session: Session,
    actor: User | None,
    kind: str | None = None,
    period_key: str | None = None,
    region: Region | None = None,
) -> list[PublishedEvaluation]:
    """The publications ``actor`` may read, optionally of one kind, period and region (its
    own publications, not its subtree's), newest first."""
    query = scoped_publications(select(PublishedEvaluation), actor)
    if kind is not None:
        query = query.where(PublishedEvaluation.kind == kind)
    if period_key is not None:
        query = query.where(PublishedEvaluation.period_key == period_key)
    if region is not None:
        query = query.where(PublishedEvaluation.region_id == region.id)
    query = query.options(
        joinedload(PublishedEvaluation.region), joinedload(PublishedEvaluation.published_by)
    )
    order = (PublishedEvaluation.published_at.desc(), PublishedEvaluation.id.desc())
    return list(session.scalars(query.order_by(*order).limit(LIST_LIMIT)))
