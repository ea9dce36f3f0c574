"""The sender: delivers the outbox's messages, each stream in order, with retries.

One sender is active at a time (``SenderLock``); others wait on standby. A round reads the
oldest undelivered message of each stream that is due, delivers each outside any
transaction, then records the outcome: delivered (only after the receiver's 2xx), or the
error and the next attempt, after an exponentially growing pause. A message delivered but
not yet recorded when the sender dies is sent again with the same idempotency key, which
the receiver uses to drop the copy.
"""

from __future__ import annotations

import logging
import threading
from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine, and_, exists, select, update
from sqlalchemy.orm import aliased

from civicgrid.outbox.channels import Channels, DeliveryFailed
from civicgrid.outbox.lock import SenderLock
from civicgrid.outbox.messages import Kind
from civicgrid.settings import Settings
from civicgrid.store.db import make_session_factory, session_scope
from civicgrid.store.models import OutboxMessage, Partner

log = logging.getLogger("civicgrid.outbox")


def backoff(attempts: int, base_s: float, max_s: float) -> timedelta:
    """The pause before the next attempt after ``attempts`` failed ones: base, 2×base, 4×base …
    up to ``max_s``."""
    return timedelta(seconds=min(base_s * 2 ** min(attempts - 1, 40), max_s))


class Sender:
    """Delivers the outbox of ``engine`` through ``channels``."""

    def __init__(self, engine: Engine, settings: Settings, channels: Channels | None = None) -> None:
        self.engine = engine
        self.settings = settings
        self.channels = channels or Channels.from_settings(settings)
        self.lock = SenderLock(engine)
        self._writes = make_session_factory(engine)
        self._reads = make_session_factory(engine, read_only=True)

    def due(self, now: datetime, limit: int = 100) -> list[tuple[OutboxMessage, str | None]]:
        """The oldest undelivered message of each stream, if due, with its partner's secret."""
        earlier = aliased(OutboxMessage)
        blocked = exists().where(
            and_(
                earlier.stream == OutboxMessage.stream,
                earlier.delivered_at.is_(None),
                earlier.id < OutboxMessage.id,
            )
        )
        query = (
            select(OutboxMessage, Partner.secret)
            .outerjoin(Partner, Partner.id == OutboxMessage.partner_id)
            .where(OutboxMessage.delivered_at.is_(None), OutboxMessage.next_attempt_at <= now, ~blocked)
            .order_by(OutboxMessage.id)
            .limit(limit)
        )
        with session_scope(self._reads) as session:
            return [(row[0], row[1]) for row in session.execute(query)]

    def deliver(self, message: OutboxMessage, secret: str | None) -> None:
        """Hand one message to its channel; raises ``DeliveryFailed`` when it did not go."""
        key = message.idempotency_key
        if message.kind == Kind.WEBHOOK:
            self.channels.webhook(message.target, message.body, key, secret)
        elif message.kind == Kind.SMS:
            self.channels.sms.send(message.target, message.body, key)
        elif message.kind == Kind.EMAIL:
            self.channels.email.send(message.target, message.subject, message.body, key)
        else:
            raise DeliveryFailed(f"unknown kind of message {message.kind!r}")

    def run_once(self, now: datetime | None = None) -> tuple[int, int]:
        """One round over the due messages: (delivered, failed). The caller holds the lock."""
        delivered = failed = 0
        for message, secret in self.due(now or datetime.now(UTC)):
            try:
                self.deliver(message, secret)
            except DeliveryFailed as error:
                failed += 1
                self._failed(message, str(error), now)
                continue
            except Exception as error:  # a sender's bug must not stop the others' messages
                log.exception("outbox message %s could not be sent", message.id)
                failed += 1
                self._failed(message, f"{type(error).__name__}: {error}", now)
                continue
            delivered += 1
            with session_scope(self._writes) as session:
                session.execute(
                    update(OutboxMessage)
                    .where(OutboxMessage.id == message.id)
                    .values(
                        delivered_at=datetime.now(UTC), attempts=OutboxMessage.attempts + 1, last_error=None
                    )
                )
        return delivered, failed

    def _failed(self, message: OutboxMessage, error: str, now: datetime | None) -> None:
        attempts = message.attempts + 1
        pause = backoff(
            attempts, self.settings.outbox_retry_base_seconds, self.settings.outbox_retry_max_seconds
        )
        log.warning(
            "outbox message %s, attempt %s failed (next in %s): %s", message.id, attempts, pause, error
        )
        with session_scope(self._writes) as session:
            session.execute(
                update(OutboxMessage)
                .where(OutboxMessage.id == message.id)
                .values(
                    attempts=attempts,
                    last_error=error[:2000],
                    next_attempt_at=(now or datetime.now(UTC)) + pause,
                )
            )

    def run(self, stop: threading.Event) -> None:
        """Deliver until ``stop`` is set: take the lock (or wait on standby), then rounds,
        resting ``CIVICGRID_OUTBOX_POLL_SECONDS`` whenever a round found nothing to send."""
        poll = self.settings.outbox_poll_seconds
        try:
            while not stop.is_set():
                if not self.lock.try_acquire():
                    stop.wait(poll)
                    continue
                try:
                    delivered, failed = self.run_once()
                except Exception:  # the database away for a while: try again later
                    log.exception("outbox round failed")
                    delivered = failed = 0
                if delivered == 0 and failed == 0:
                    stop.wait(poll)
                elif delivered == 0:
                    stop.wait(min(poll, self.settings.outbox_retry_base_seconds))
        finally:
            self.lock.release()
