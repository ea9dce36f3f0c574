"""Making the scheduled briefings that are due: ``run_due_briefings(now)``, for a cron job
(``civicgrid report run-due``) or a worker loop to call as often as it likes.

Each schedule's due periods (``civicgrid.domain.briefings.due_periods``) that have no stored
briefing yet are made, each in its own transactions: read and draw, then store. Two
processes running it at once may both draw a briefing, but the unique (schedule, period) of
the stored briefings lets only one store it; the other drops its copy. A briefing that fails
to draw is reported and tried again at the next run.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import Engine
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from civicgrid.briefings.content import BriefingRequest, assemble
from civicgrid.domain.briefings import BriefingFormat, BriefingKind, due_periods
from civicgrid.evaluation_file import default_scheme_path, load_scheme
from civicgrid.services import briefings as service
from civicgrid.settings import Settings, get_settings
from civicgrid.store import briefings as queries
from civicgrid.store.db import make_engine, make_session_factory, session_scope
from civicgrid.store.files import FileStore
from civicgrid.store.models import BriefingSchedule, Region

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Made:
    """A briefing this run stored."""

    schedule_id: int
    briefing_id: int
    region_code: str
    kind: BriefingKind
    period_label: str
    formats: list[str]


@dataclass
class RunReport:
    """What a run did: briefings stored, those another process stored first, and failures
    (schedule id, period, reason), tried again at the next run."""

    made: list[Made] = field(default_factory=list)
    taken: int = 0
    failed: list[tuple[int, str, str]] = field(default_factory=list)

    def summary(self) -> str:
        """One line for a log or a terminal."""
        parts = [f"{len(self.made)} briefing(s) made"]
        if self.taken:
            parts.append(f"{self.taken} made by another process first")
        if self.failed:
            parts.append(f"{len(self.failed)} failed")
        return ", ".join(parts)


@dataclass(frozen=True)
class _Due:
    schedule_id: int
    region_id: int
    kind: BriefingKind
    formats: list[BriefingFormat]
    title: str | None
    start: datetime
    label: str


#: How often the background job looks for scheduled briefings that are due.
CHECK_SECONDS = 300.0


def keep_making(
    engine: Engine,
    settings: Settings,
    stop: threading.Event,
    every_s: float = CHECK_SECONDS,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> None:
    """Make the briefings that are due, now and then every ``every_s`` seconds, until
    ``stop`` is set: the job ``civicgrid worker`` and ``civicgrid serve`` run beside the
    outbox sender. Several processes may run it (each period is stored once)."""
    while not stop.is_set():
        try:
            report = run_due_briefings(clock(), settings, engine)
            if report.made or report.failed:
                log.info("scheduled briefings: %s", report.summary())
        except Exception:  # the database away for a while: try again at the next round
            log.exception("scheduled briefings failed")
        stop.wait(every_s)


def run_due_briefings(
    now: datetime, settings: Settings | None = None, engine: Engine | None = None
) -> RunReport:
    """Make and store every scheduled briefing due at ``now`` that is not stored yet, once:
    safe to call from several processes, and as often as wanted. ``settings`` default to
    the environment's, ``engine`` to one for their database."""
    settings = settings or get_settings()
    own = engine is None
    engine = engine or make_engine(
        settings.database_url,
        busy_timeout_ms=settings.sqlite_busy_timeout_ms,
        synchronous=settings.sqlite_synchronous,
    )
    try:
        return _run(engine, settings, now)
    finally:
        if own:
            engine.dispose()


def _run(engine: Engine, settings: Settings, now: datetime) -> RunReport:
    zone = ZoneInfo(settings.timezone)
    reading = make_session_factory(engine, read_only=True)
    writing = make_session_factory(engine)
    with session_scope(reading) as session:
        due = _due(session, now, zone)
    report = RunReport()
    if not due:
        return report
    scheme = load_scheme(
        Path(settings.evaluation_scheme) if settings.evaluation_scheme else default_scheme_path()
    )
    heading = service.masthead(settings)
    files = FileStore(settings.files_path)
    for item in due:
        try:
            with session_scope(reading) as session:
                region = session.get(Region, item.region_id)
                assert region is not None
                request = BriefingRequest(
                    item.kind, item.start.astimezone(zone).date(), region.code, item.title
                )
                briefing = assemble(
                    session,
                    service.system_reader(region),
                    request,
                    now,
                    zone=zone,
                    scheme=scheme,
                    masthead=heading,
                )
                region_code = region.code
            documents = service.draw(briefing, item.formats)
        except Exception as error:  # one briefing's fault must not stop the others
            log.exception("briefing of schedule %s for %s failed", item.schedule_id, item.label)
            report.failed.append((item.schedule_id, item.label, str(error)))
            continue
        kept, written = service.keep_files(files, documents)
        try:
            with session_scope(writing) as session:
                schedule = session.get(BriefingSchedule, item.schedule_id)
                briefing_id = None
                if schedule is not None:  # else deleted meanwhile
                    briefing_id = service.record(session, schedule, briefing, documents, kept, now).id
        except IntegrityError:
            # Another process stored this period first: its copy stands, ours goes.
            briefing_id = None
            report.taken += 1
        except Exception as error:
            log.exception("briefing of schedule %s for %s not stored", item.schedule_id, item.label)
            briefing_id = None
            report.failed.append((item.schedule_id, item.label, str(error)))
        if briefing_id is None:
            with session_scope(reading) as session:
                in_use = queries.files_in_use(session, written)
            for sha256 in set(written) - in_use:
                files.remove(sha256)
            continue
        report.made.append(
            Made(
                item.schedule_id,
                briefing_id,
                region_code,
                item.kind,
                item.label,
                [f.value for f in item.formats],
            )
        )
    return report


def _due(session: Session, now: datetime, zone: ZoneInfo) -> list[_Due]:
    """The (schedule, period) pairs due at ``now`` without a stored briefing, oldest first."""
    found = []
    for schedule in queries.active_schedules(session):
        periods = due_periods(schedule.kind, schedule.hour, schedule.created_at, now, zone)
        made = queries.made_periods(session, schedule.id, [due.period.start for due in periods])
        for due in periods:
            if due.period.start not in made:
                found.append(
                    _Due(
                        schedule.id,
                        schedule.region_id,
                        schedule.kind,
                        [BriefingFormat(kind) for kind in schedule.formats],
                        schedule.title,
                        due.period.start,
                        due.period.label,
                    )
                )
    return sorted(found, key=lambda item: (item.start, item.schedule_id))
