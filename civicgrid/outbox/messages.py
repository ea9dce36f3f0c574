"""Writing messages to the outbox: in the caller's transaction, so a message exists if and
only if the change that causes it was committed."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from uuid import uuid4

from sqlalchemy.orm import Session

from civicgrid.store.models import OutboxMessage


class Kind(StrEnum):
    """How a message leaves."""

    WEBHOOK = "webhook"
    SMS = "sms"
    EMAIL = "email"


def enqueue(
    session: Session,
    kind: Kind,
    stream: str,
    target: str,
    body: str,
    now: datetime,
    *,
    subject: str = "",
    partner_id: int | None = None,
) -> OutboxMessage:
    """Add a message to the outbox; messages of one ``stream`` are delivered in the order
    they were written (use ``case_stream`` for a case's)."""
    message = OutboxMessage(
        kind=kind.value,
        stream=stream,
        idempotency_key=uuid4().hex,
        partner_id=partner_id,
        target=target,
        subject=subject,
        body=body,
        created_at=now,
        attempts=0,
        next_attempt_at=now,
    )
    session.add(message)
    return message


def case_stream(case_id: int) -> str:
    """The stream of a case's messages: they reach their receiver in the order of its events."""
    return f"case:{case_id}"


def enqueue_sms(
    session: Session, phone: str, text: str, now: datetime, stream: str | None = None
) -> OutboxMessage:
    """An SMS to ``phone`` (through the configured SMS sender)."""
    return enqueue(session, Kind.SMS, stream or f"sms:{phone}", phone, text, now)


def enqueue_email(
    session: Session, address: str, subject: str, text: str, now: datetime, stream: str | None = None
) -> OutboxMessage:
    """An e-mail to ``address`` (through the configured e-mail sender)."""
    return enqueue(session, Kind.EMAIL, stream or f"email:{address}", address, text, now, subject=subject)
