"""The case service's writes side by side with hand-written SQL on the same SQLite file:
registering a case and one transition (``register``), each in its own transaction and
committed, the service with its actor already signed in.

    python benchmarks/bench_writes.py [--rounds 300]
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import statistics
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.orm import joinedload

from civicgrid.demo import load_demo
from civicgrid.domain.vocabulary import Action, Channel
from civicgrid.schemas import CaseCreate, TransitionRequest
from civicgrid.services import cases as case_service
from civicgrid.services.cases import CentreRules
from civicgrid.settings import Settings
from civicgrid.store.db import make_engine, make_session_factory, session_scope
from civicgrid.store.migrate import upgrade
from civicgrid.store.models import Case, User

POINT = (120.1493, 30.2771)


def _median_us(run: Callable[[int], None], rounds: int) -> float:
    took = []
    for round_ in range(rounds):
        began = time.perf_counter()
        run(round_)
        took.append(time.perf_counter() - began)
    return statistics.median(took) * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=300)
    args = parser.parse_args()
    path = f"{tempfile.mkdtemp()}/bench.db"
    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)
    factory = make_session_factory(engine)
    rules = CentreRules.from_settings(Settings(database_url=f"sqlite:///{path}"))
    now = datetime.now(UTC)
    with session_scope(factory) as session:
        load_demo(session, rules, now, 50, seed=1)
    numbers: list[str] = []

    def actor(session: object, username: str) -> User:
        query = select(User).options(joinedload(User.region)).where(User.username == username)
        return session.scalar(query)  # type: ignore[attr-defined, no-any-return]

    def service_create(round_: int) -> None:
        with session_scope(factory) as session:
            data = CaseCreate(
                channel=Channel.HOTLINE_12345, category_code="C0101", title="基准", lng=POINT[0], lat=POINT[1]
            )
            numbers.append(
                case_service.create_case(session, actor(session, "operator"), data, rules, now).number
            )

    def service_transition(round_: int) -> None:
        with session_scope(factory) as session:
            request = TransitionRequest()
            case_service.transition(
                session, actor(session, "operator"), numbers[round_], Action.REGISTER, request, rules, now
            )

    raw = sqlite3.connect(path, isolation_level=None)
    raw.execute("PRAGMA synchronous=FULL")
    raw_numbers: list[int] = []
    stamp = now.isoformat()

    def raw_create(round_: int) -> None:
        raw.execute("BEGIN IMMEDIATE")
        last = raw.execute(
            "INSERT INTO case_number_counters (prefix, day, last) VALUES ('RW', '20260101', 1) "
            "ON CONFLICT (prefix, day) DO UPDATE SET last = last + 1 RETURNING last"
        ).fetchone()[0]
        case_id = raw.execute(
            "INSERT INTO cases (number, channel, kind, category_id, urgency, title, description, address, "
            "lng, lat, region_id, grid_id, state, stage, stage_started_at, warning_at, deadline_at, "
            "rework_count, created_at, updated_at, version) VALUES (?, 'hotline_12345', 'component', "
            "?, 'normal', '基准', '', '', ?, ?, ?, ?, 'reported', 'verify', ?, ?, ?, 0, ?, ?, 1) RETURNING id",
            (
                f"RW-{last:06d}",
                template[0],
                *POINT,
                template[1],
                template[2],
                stamp,
                stamp,
                stamp,
                stamp,
                stamp,
            ),
        ).fetchone()[0]
        raw.execute(
            "INSERT INTO case_events (case_id, seq, action, to_state, actor_id, actor_role, at, note, data) "
            "VALUES (?, 1, 'report', 'reported', ?, 'operator', ?, '', '{}')",
            (case_id, template[3], stamp),
        )
        raw.execute("COMMIT")
        raw_numbers.append(case_id)

    def raw_transition(round_: int) -> None:
        case_id = raw_numbers[round_]
        raw.execute("BEGIN IMMEDIATE")
        state, version = raw.execute("SELECT state, version FROM cases WHERE id = ?", (case_id,)).fetchone()
        seq = raw.execute("SELECT max(seq) FROM case_events WHERE case_id = ?", (case_id,)).fetchone()[0]
        raw.execute(
            "INSERT INTO case_events (case_id, seq, action, from_state, to_state, actor_id, actor_role, at, "
            "note, data) VALUES (?, ?, 'register', ?, 'registered', ?, 'operator', ?, '', ?)",
            (case_id, seq + 1, state, template[3], stamp, json.dumps({})),
        )
        raw.execute(
            "UPDATE cases SET state = 'registered', stage = 'dispatch', updated_at = ?, version = ? "
            "WHERE id = ? AND version = ?",
            (stamp, version + 1, case_id, version),
        )
        raw.execute("COMMIT")

    created = _median_us(service_create, args.rounds)
    moved = _median_us(service_transition, args.rounds)
    with session_scope(factory) as session:
        model = session.scalar(select(Case).where(Case.number == numbers[0]))
        assert model is not None
        template = (model.category_id, model.region_id, model.grid_id, actor(session, "operator").id)
    raw_created = _median_us(raw_create, args.rounds)
    raw_moved = _median_us(raw_transition, args.rounds)
    print(
        f"create:     service {created:8.0f} µs, raw sqlite3 {raw_created:6.0f} µs, ×{created / raw_created:.1f}"
    )
    print(f"transition: service {moved:8.0f} µs, raw sqlite3 {raw_moved:6.0f} µs, ×{moved / raw_moved:.1f}")


if __name__ == "__main__":
    main()
