"""What durability costs on this machine: the time to register a case, and its commit
alone, with SQLite's synchronous=FULL (the default: every commit synced to disk) and NORMAL
(the WAL synced at checkpoints only), side by side on the same disk, rounds interleaved.

    python benchmarks/bench_durability.py [--cases 200] [--dir FOLDER]

Run it in a folder on the disk the database will live on: a tmpfs syncs for free and
shows no difference.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker

from civicgrid.demo import load_demo
from civicgrid.domain.vocabulary import Channel
from civicgrid.schemas import CaseCreate
from civicgrid.services import cases as case_service
from civicgrid.services.cases import CentreRules
from civicgrid.settings import Settings
from civicgrid.store.db import make_engine, make_session_factory, session_scope
from civicgrid.store.migrate import upgrade
from civicgrid.store.models import User

LEVELS = ("FULL", "NORMAL")
DATA = CaseCreate(
    channel=Channel.HOTLINE_12345, category_code="C0101", title="基准测试", lng=120.1493, lat=30.2771
)


def _prepare(
    folder: Path, level: str, rules: CentreRules, now: datetime
) -> tuple[Engine, sessionmaker[Session]]:
    engine = make_engine(f"sqlite:///{folder / f'{level.lower()}.db'}", synchronous=level)
    upgrade(engine)
    factory = make_session_factory(engine)
    with session_scope(factory) as session:
        load_demo(session, rules, now, cases=10, seed=1)
    return engine, factory


def _register(factory: sessionmaker[Session], rules: CentreRules, moment: datetime) -> tuple[float, float]:
    """Seconds for the whole registration and for its commit alone."""
    began = time.perf_counter()
    with factory() as session:
        operator = session.scalars(select(User).where(User.username == "operator")).one()
        case_service.create_case(session, operator, DATA, rules, moment)
        committing = time.perf_counter()
        session.commit()
    done = time.perf_counter()
    return done - began, done - committing


def _ms(seconds: list[float]) -> str:
    ordered = sorted(seconds)
    p95 = ordered[int(len(ordered) * 0.95) - 1]
    return f"median {statistics.median(seconds) * 1000:6.2f} ms, p95 {p95 * 1000:6.2f} ms"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--cases", type=int, default=200, help="cases registered per level")
    parser.add_argument("--dir", type=Path, default=Path.cwd(), help="folder for the two databases")
    args = parser.parse_args()
    rules = CentreRules.from_settings(Settings())
    now = datetime.now(UTC)
    with tempfile.TemporaryDirectory(prefix="bench-durability-", dir=args.dir) as name:
        folder = Path(name)
        setups = {level: _prepare(folder, level, rules, now) for level in LEVELS}
        whole: dict[str, list[float]] = {level: [] for level in LEVELS}
        commit: dict[str, list[float]] = {level: [] for level in LEVELS}
        for index in range(args.cases):
            moment = now + timedelta(seconds=index)
            # Interleaved, so both levels see the same load on the disk.
            for level in LEVELS if index % 2 == 0 else reversed(LEVELS):
                total, committed = _register(setups[level][1], rules, moment)
                whole[level].append(total)
                commit[level].append(committed)
        for engine, _ in setups.values():
            engine.dispose()
    print(f"case registration, {args.cases} per level, databases in {args.dir}")
    for label, times in (("commit", commit), ("registration", whole)):
        for level in LEVELS:
            print(f"  {label:<12} synchronous={level:<6}  {_ms(times[level])}")
        ratio = statistics.median(times["FULL"]) / statistics.median(times["NORMAL"])
        print(f"  {label:<12} FULL / NORMAL (medians): {ratio:.2f}x")


if __name__ == "__main__":
    main()
