"""The minute job: lights turn by time, not only by actions. Every
``CIVICGRID_LIGHT_JOB_SECONDS`` it re-evaluates the open cases whose warning or deadline time
passed since its last run (``civicgrid.services.alerts.evaluate_lights``), each run one
transaction that also moves the job's mark, so a run that fails is done again whole.

``civicgrid worker`` runs it, and so does the sender ``civicgrid serve`` starts; one holder
of its lock runs it at a time across processes (as the outbox sender's), the others wait on
standby. The unique notification per user, kind, case and deadline makes an alert once even
if two runs were ever to cover the same minute.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import Engine

from civicgrid.outbox.lock import ProcessLock
from civicgrid.services.alerts import LIGHT_BATCH, LightRun, evaluate_lights
from civicgrid.settings import Settings
from civicgrid.store.db import make_session_factory, session_scope

log = logging.getLogger("civicgrid.lights")

#: The minute job's advisory lock key on PostgreSQL ("lite" in ASCII).
ADVISORY_KEY = 0x6C697465


class LightJob:
    """Runs the minute job on ``engine``."""

    def __init__(self, engine: Engine, settings: Settings) -> None:
        self.engine = engine
        self.settings = settings
        self.lock = ProcessLock(engine, "lights", ADVISORY_KEY)
        self._writes = make_session_factory(engine)

    def run_once(self, now: datetime | None = None, batch: int = LIGHT_BATCH) -> LightRun:
        """One run, committed slice by slice (``batch`` cases each); what it did in all. The
        caller holds the lock (or knows it runs alone)."""
        settings = self.settings
        moment = now or datetime.now(UTC)
        after, turned, notified = 0, 0, 0
        while True:
            with session_scope(self._writes) as session:
                done = evaluate_lights(
                    session,
                    ZoneInfo(settings.timezone),
                    moment,
                    period=timedelta(seconds=settings.light_job_seconds),
                    keep=timedelta(hours=settings.live_journal_hours),
                    after_id=after,
                    batch=batch,
                )
            turned, notified = turned + done.turned, notified + done.notified
            if done.more_after is None:
                break
            after = done.more_after
        if turned or notified:
            log.info("lights: %s cases turned, %s notifications", turned, notified)
        return replace(done, turned=turned, notified=notified)

    def run(self, stop: threading.Event) -> None:
        """Run every period until ``stop`` is set: take the lock (or wait on standby), then a
        run at the start of each period."""
        period = self.settings.light_job_seconds
        try:
            while not stop.is_set():
                if not self.lock.try_acquire():
                    stop.wait(period)
                    continue
                started = time.monotonic()
                try:
                    self.run_once()
                except Exception:  # the database away for a while: the next run covers the gap
                    log.exception("the minute job failed")
                stop.wait(max(period - (time.monotonic() - started), 0.0))
        finally:
            self.lock.release()
