"""The background jobs of a civicgrid process: the outbox sender, the minute job (lights
turning yellow or red, and their alerts) and the scheduled briefings. ``civicgrid serve``
runs them beside the server, ``civicgrid worker`` on their own. Each runs in a thread of
its own until its stop event is set; each takes a database lock, so that one of a kind is
active across processes while the others wait on standby."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from functools import partial

from sqlalchemy import Engine

from civicgrid.settings import Settings

Job = Callable[[threading.Event], None]
Started = tuple[threading.Thread, threading.Event]

log = logging.getLogger(__name__)


def start(name: str, job: Job, stop: threading.Event | None = None, *, daemon: bool = True) -> Started:
    """Run ``job(stop)`` in a thread called ``name``; set ``stop`` (a new event if None) to end it.
    A job that fails is logged, and its thread ends."""
    stop = stop or threading.Event()

    def run() -> None:
        try:
            job(stop)
        except Exception:
            log.exception("the background job %s failed", name)

    thread = threading.Thread(target=run, name=name, daemon=daemon)
    thread.start()
    return thread, stop


def start_all(
    engine: Engine, settings: Settings, stop: threading.Event | None = None, *, daemon: bool = True
) -> list[Started]:
    """Start every background job on ``engine``: one event (``stop``, or a new one) stops them all."""
    from civicgrid.briefings.runner import keep_making
    from civicgrid.live.lights import LightJob
    from civicgrid.outbox.sender import Sender

    stop = stop or threading.Event()
    return [
        start("civicgrid-sender", Sender(engine, settings).run, stop, daemon=daemon),
        start("civicgrid-lights", LightJob(engine, settings).run, stop, daemon=daemon),
        start("civicgrid-briefings", partial(keep_making, engine, settings), stop, daemon=daemon),
    ]


def stop_all(started: list[Started], settings: Settings) -> None:
    """Stop the jobs and wait for each to finish what it is doing (a delivery in flight at most)."""
    for _thread, stop in started:
        stop.set()
    for thread, _stop in started:
        thread.join(settings.outbox_timeout_seconds + 5)
