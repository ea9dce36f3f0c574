"""How fast the case store is on one machine: load the demo district, then time case
registration, a full loop of transitions, and the case list, on SQLite or the database
named by CIVICGRID_DATABASE_URL.

    python benchmarks/bench_cases.py [--cases 1000]

Targets (one street on a laptop): list page < 50 ms, one transition < 20 ms.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from civicgrid.demo import load_demo
from civicgrid.domain.vocabulary import Action, Channel
from civicgrid.schemas import CaseCreate, CaseFilters, TransitionRequest
from civicgrid.services import cases as case_service
from civicgrid.services.cases import CentreRules
from civicgrid.settings import Settings
from civicgrid.store import cases as case_queries
from civicgrid.store.db import make_engine, make_session_factory, session_scope
from civicgrid.store.migrate import upgrade
from civicgrid.store.models import User

LOOP = [
    ("operator", Action.REGISTER, {}),
    ("dispatcher", Action.DISPATCH, {"department_code": "JB-SZ"}),
    ("handler_sz", Action.ACCEPT, {}),
    ("handler_sz", Action.HANDLE, {}),
    ("inspector01", Action.CHECK, {}),
    ("operator", Action.CLOSE, {}),
]


def _ms(seconds: list[float]) -> str:
    return f"median {statistics.median(seconds) * 1000:.1f} ms, max {max(seconds) * 1000:.1f} ms"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--cases", type=int, default=1000, help="demo cases to load first")
    parser.add_argument("--rounds", type=int, default=50, help="cases walked through the loop")
    args = parser.parse_args()
    url = os.environ.get("CIVICGRID_DATABASE_URL") or f"sqlite:///{tempfile.mkdtemp()}/bench.db"
    engine = make_engine(url)
    upgrade(engine)
    factory = make_session_factory(engine)
    rules = CentreRules.from_settings(Settings(database_url=url))
    now = datetime.now(UTC)

    started = time.perf_counter()
    with session_scope(factory) as session:
        load_demo(session, rules, now, args.cases, seed=1)
    print(f"demo load, {args.cases} cases: {time.perf_counter() - started:.1f} s")

    create, step, listing = [], [], []
    for round_ in range(args.rounds):
        moment = now + timedelta(minutes=round_)
        with session_scope(factory) as session:
            users = {u.username: u for u in session.scalars(select(User))}
            began = time.perf_counter()
            data = CaseCreate(
                channel=Channel.HOTLINE_12345,
                category_code="C0101",
                title="基准测试",
                lng=120.1493,
                lat=30.2771,
            )
            number = case_service.create_case(session, users["operator"], data, rules, moment).number
            create.append(time.perf_counter() - began)
        for username, action, fields in LOOP:
            with session_scope(factory) as session:
                actor = session.scalar(select(User).where(User.username == username))
                began = time.perf_counter()
                case_service.transition(
                    session, actor, number, action, TransitionRequest(**fields), rules, moment
                )
                step.append(time.perf_counter() - began)
        with session_scope(factory) as session:
            leader = session.scalar(select(User).where(User.username == "leader"))
            began = time.perf_counter()
            query = case_queries.filtered(session, leader, CaseFilters(), moment)
            case_queries.page(session, query, None, 50)
            listing.append(time.perf_counter() - began)
    print(f"register a case: {_ms(create)}")
    print(f"one transition: {_ms(step)}")
    print(f"list page of 50 of {args.cases + args.rounds}: {_ms(listing)}")


if __name__ == "__main__":
    main()
