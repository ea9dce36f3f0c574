"""Queries of the citizens' portal's own tables: verification codes and failed lookups,
counted per phone, client address or case number within a window (the portal's throttle),
and purged a few at a time once old."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, delete, func, select
from sqlalchemy.orm import Session

from civicgrid.store.models import PhoneCode, PortalLookupFailure

#: At most this many old rows are deleted per write, so that each write stays short; every
#: code or failure adds one row, so the tables shrink back to their retention.
PURGE_BATCH = 100


def latest_code(session: Session, phone: str, *, for_update: bool = False) -> PhoneCode | None:
    """The newest code sent to ``phone`` (the only one that counts), locked if asked."""
    query = select(PhoneCode).where(PhoneCode.phone == phone).order_by(PhoneCode.id.desc()).limit(1)
    if for_update:
        query = query.with_for_update()
    return session.scalar(query)


def codes_since(
    session: Session, since: datetime, *, phone: str | None = None, address: str | None = None
) -> int:
    """How many codes were sent to ``phone`` (or asked for from ``address``) after ``since``."""
    which: list[ColumnElement[bool]] = [PhoneCode.created_at > since]
    if phone is not None:
        which.append(PhoneCode.phone == phone)
    if address is not None:
        which.append(PhoneCode.address == address)
    return session.scalar(select(func.count()).select_from(PhoneCode).where(*which)) or 0


def lookup_failures(
    session: Session, since: datetime, *, address: str | None = None, number: str | None = None
) -> tuple[int, datetime | None]:
    """How many lookups from ``address`` (or of ``number``) failed after ``since``, and when
    the latest did."""
    which: list[ColumnElement[bool]] = [PortalLookupFailure.at > since]
    if address is not None:
        which.append(PortalLookupFailure.address == address)
    if number is not None:
        which.append(PortalLookupFailure.number == number)
    count, latest = session.execute(
        select(func.count(), func.max(PortalLookupFailure.at)).where(*which)
    ).one()
    return int(count), latest


def purge(session: Session, now: datetime, retention: timedelta, batch: int = PURGE_BATCH) -> int:
    """Delete up to ``batch`` codes and as many failed lookups older than ``retention``; how many."""
    deleted = 0
    for table, column in ((PhoneCode, PhoneCode.created_at), (PortalLookupFailure, PortalLookupFailure.at)):
        old = select(table.id).where(column < now - retention).limit(batch)
        result = session.execute(
            delete(table).where(table.id.in_(old)), execution_options={"synchronize_session": False}
        )
        deleted += result.rowcount  # type: ignore[attr-defined]  # a DELETE gives a CursorResult
    return deleted
