"""civicgrid against its raw-SQL baseline, side by side in one run, on stores of growing size.

    python benchmarks/bench_store.py [--sizes 10000,100000] [--repeat 30]
                                     [--backends sqlite,postgresql] [--database-url postgresql+psycopg://…]

For each size a fresh store is filled (``benchmarks/filler.py``), then each operation is
timed through civicgrid and through the plain SQL that does the same work on the DB-API
connection (same rows, same indexes, same commit), interleaved, ``--repeat`` times:

- register a case (service + commit) / counter upsert, case INSERT, overlay and first event;
- one transition, ``register`` / read the row, UPDATE it, INSERT the event;
- a case file with its timeline over HTTP / the SELECTs that read it;
- the case list (50) of the district leader, with ``light=red``, and of a street's
  dispatcher, over HTTP / the scoped COUNT and page SELECT;
- ``/healthz`` over the same client: what HTTP alone costs.

Each write, on both sides, first reads the acting user with their region, as signing in
does. The backends run one after the other and each prints its own table: SQLite stores
are files; PostgreSQL ones are databases (one per size, created and dropped) on the server
``--database-url`` names, or on a throw-away cluster started for the run (Debian's
``postgresql``). ``--postgres`` is short for ``--backends postgresql``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, NamedTuple

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from fastapi.testclient import TestClient
from sqlalchemy import Engine, create_engine, select, text
from sqlalchemy.orm import joinedload

from benchmarks.filler import fill, prepare
from benchmarks.throughput import measure_throughput, wrk_path
from civicgrid.api.app import create_app
from civicgrid.demo import DEMO_PASSWORD
from civicgrid.domain.vocabulary import Action, Channel
from civicgrid.schemas import COUNT_LIMIT, CaseCreate, CaseFilters, TransitionRequest
from civicgrid.services import cases as case_service
from civicgrid.services.cases import CentreRules
from civicgrid.settings import Settings
from civicgrid.store import cases as case_queries
from civicgrid.store.db import make_engine, make_session_factory, session_scope
from civicgrid.store.migrate import upgrade
from civicgrid.store.models import Region, User

SECRET = "benchmark-only-secret-" * 2
NEW_CASE = CaseCreate(
    channel=Channel.HOTLINE_12345, category_code="C0101", title="基准测试", lng=120.1493, lat=30.2771
)
STREET_DISPATCHER = "dispatcher"  # 江滨街道's dispatcher
#: The lists timed at the service layer (what the API route runs, HTTP left out): each role's
#: scope, and the leader's list with each filter and with several at once.
SERVICE_LISTS: dict[str, tuple[str, dict[str, Any]]] = {
    "leader": ("leader", {}),
    "leader, light=red": ("leader", {"light": "red"}),
    "leader, state=dispatched": ("leader", {"state": ["dispatched"]}),
    "leader, region_code (a street)": ("leader", {"region_code": "990101001"}),
    "leader, grid_code": ("leader", {"grid_code": "990101001001-01"}),
    "leader, department_code": ("leader", {"department_code": "JB-SZ"}),
    "leader, category_code (a big class)": ("leader", {"category_code": "C01"}),
    "leader, channel=wechat": ("leader", {"channel": ["wechat"]}),
    "leader, created in the last 30 days": ("leader", {"created_from": "LAST_30_DAYS"}),
    "leader, q=井盖": ("leader", {"q": "井盖"}),
    "leader, state + category + channel + light": (
        "leader", {"state": ["dispatched", "in_progress"], "category_code": "C01", "channel": ["hotline_12345"],
                   "light": "yellow"},
    ),
    "street dispatcher": (STREET_DISPATCHER, {}),
    "street dispatcher, light=red": (STREET_DISPATCHER, {"light": "red"}),
    "department handler": ("handler_sz", {}),
    "grid inspector": ("inspector01", {}),
}  # fmt: skip


class LoadSettings(NamedTuple):
    """How ``--throughput`` drives each store."""

    workers: int
    connections: int
    seconds: float


def _ms(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    return statistics.median(ordered) * 1000, ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))] * 1000


class Raw:
    """The baseline: hand-written SQL on one DB-API connection, committed like the service."""

    def __init__(self, engine: Engine) -> None:
        self.connection = engine.raw_connection()
        self.sqlite = engine.dialect.name == "sqlite"

    def run(self, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        cursor = self.connection.cursor()
        cursor.execute(sql if self.sqlite else sql.replace("?", "%s"), params)
        rows = cursor.fetchall() if cursor.description else []
        cursor.close()
        return rows

    def at(self, moment: datetime | None) -> Any:
        """A time as the store keeps it (SQLite: naive UTC text)."""
        if moment is None or not self.sqlite:
            return moment
        return moment.astimezone(UTC).replace(tzinfo=None).isoformat(" ", "microseconds")

    def begin(self) -> None:
        if self.sqlite:
            # The engine leaves transactions to the caller (isolation_level None); take the
            # write lock up front as the engine's writer queue does.
            self.run("BEGIN IMMEDIATE")

    def commit(self) -> None:
        self.connection.commit()

    def end_read(self) -> None:
        if not self.sqlite:
            self.connection.rollback()


class Store:
    """One filled store with what the operations need: rules, sessions, an HTTP client and tokens."""

    def __init__(self, engine: Engine, url: str) -> None:
        self.engine = engine
        self.settings = Settings(environment="test", database_url=url, secret_key=SECRET, token_hours=24)
        self.rules = CentreRules.from_settings(self.settings)
        self.factory = make_session_factory(engine)
        self.client = TestClient(create_app(self.settings, engine))
        self.raw = Raw(engine)
        self.tokens = {name: self._sign_in(name) for name in ("leader", "operator", STREET_DISPATCHER)}
        # A template of what the service writes for a new case, for the raw INSERTs.
        with session_scope(self.factory) as session:
            case = case_service.create_case(
                session, self._user(session, "operator"), NEW_CASE, self.rules, _now()
            )
            self.template = {
                "category_id": case.category_id, "kind": case.kind.value, "region_id": case.region_id,
                "grid_id": case.grid_id, "stage": case.stage.value if case.stage else None,
                "overlays": [grid.id for grid in case.overlay_grids], "operator_id": case.events[0].actor_id,
                "warning": case.warning_at - case.created_at, "deadline": case.deadline_at - case.created_at,
            }  # fmt: skip
        self.archived = self.raw.run(
            "SELECT number FROM cases WHERE state = 'archived' ORDER BY id DESC LIMIT 1"
        )[0][0]
        self.raw.end_read()

    def _sign_in(self, username: str) -> str:
        answer = self.client.post(
            "/api/v1/auth/token", json={"username": username, "password": DEMO_PASSWORD}
        )
        answer.raise_for_status()
        return str(answer.json()["access_token"])

    @staticmethod
    def _user(session: Any, username: str) -> User:
        """The actor as authentication loads it: with the region every scope check reads."""
        return session.scalars(
            select(User)
            .options(joinedload(User.region).defer(Region.boundary))
            .where(User.username == username)
        ).one()

    def get(self, who: str, url: str) -> None:
        answer = self.client.get(url, headers={"Authorization": f"Bearer {self.tokens[who]}"})
        answer.raise_for_status()

    # --- civicgrid ---------------------------------------------------------------

    def create(self) -> str:
        with session_scope(self.factory) as session:
            case = case_service.create_case(
                session, self._user(session, "operator"), NEW_CASE, self.rules, _now()
            )
            return case.number

    def register(self, number: str) -> None:
        with session_scope(self.factory) as session:
            actor = self._user(session, "operator")
            case_service.transition(
                session, actor, number, Action.REGISTER, TransitionRequest(), self.rules, _now()
            )

    def service_list(self, who: str, filters: dict[str, Any]) -> None:
        """A list of 50 with its capped count, as the API route runs it, without HTTP."""
        now = _now()
        if filters.get("created_from") == "LAST_30_DAYS":
            filters = {**filters, "created_from": now - timedelta(days=30)}
        with session_scope(self.factory) as session:
            actor = self._user(session, who)
            query = case_queries.filtered(session, actor, CaseFilters(**filters), now)
            case_queries.page(session, query, None, 50)
            case_queries.count_up_to(session, query, COUNT_LIMIT)

    def service_case_file(self, number: str) -> None:
        """The case file with its timeline, as the API route reads it, without HTTP."""
        with session_scope(self.factory) as session:
            case_queries.get_visible(session, self._user(session, "leader"), number, case_file=True)

    # --- raw SQL -------------------------------------------------------------------

    def raw_actor(self, username: str) -> None:
        """What authentication reads of the actor (the service side's ``_user``)."""
        self.raw.run(
            "SELECT u.*, r.* FROM users u LEFT JOIN regions r ON r.id = u.region_id WHERE u.username = ?",
            (username,),
        )

    def raw_create(self) -> str:
        raw, t, now = self.raw, self.template, _now()
        raw.begin()
        self.raw_actor("operator")
        day = now.astimezone(self.rules.calendar.timezone).strftime("%Y%m%d")
        prefix = self.rules.number_prefix
        (serial,) = raw.run(
            "INSERT INTO case_number_counters (prefix, day, last) VALUES (?, ?, 1) "
            "ON CONFLICT (prefix, day) DO UPDATE SET last = case_number_counters.last + 1 RETURNING last",
            (prefix, day),
        )[0]
        number = f"{prefix}-{day}-{serial:06d}"
        (case_id,) = raw.run(
            "INSERT INTO cases (number, channel, kind, category_id, urgency, title, description, address, lng, lat, "
            "region_id, grid_id, rework_count, state, stage, stage_started_at, warning_at, deadline_at, "
            "created_at, updated_at, version) VALUES (?, 'hotline_12345', ?, ?, 'normal', ?, '', '', ?, ?, ?, ?, 0, "
            "'reported', ?, ?, ?, ?, ?, ?, 1) RETURNING id",
            (number, t["kind"], t["category_id"], NEW_CASE.title, NEW_CASE.lng, NEW_CASE.lat, t["region_id"],
             t["grid_id"], t["stage"], raw.at(now), raw.at(now + t["warning"]), raw.at(now + t["deadline"]),
             raw.at(now), raw.at(now)),
        )[0]  # fmt: skip
        for grid_id in t["overlays"]:
            raw.run("INSERT INTO case_overlay_grids (case_id, grid_id) VALUES (?, ?)", (case_id, grid_id))
        raw.run(
            "INSERT INTO case_events (case_id, seq, action, from_state, to_state, actor_id, actor_role, at, note, data) "
            "VALUES (?, 1, 'report', NULL, 'reported', ?, 'operator', ?, '', '{}')",
            (case_id, t["operator_id"], raw.at(now)),
        )
        raw.commit()
        return number

    def raw_register(self, number: str) -> None:
        raw, t, now = self.raw, self.template, _now()
        raw.begin()
        self.raw_actor("operator")
        lock = "" if raw.sqlite else " FOR UPDATE"
        case_id, version = raw.run(f"SELECT id, version FROM cases WHERE number = ?{lock}", (number,))[0]
        (seq,) = raw.run("SELECT max(seq) FROM case_events WHERE case_id = ?", (case_id,))[0]
        raw.run(
            "UPDATE cases SET state = 'registered', stage = 'dispatch', stage_started_at = ?, warning_at = ?, "
            "deadline_at = ?, updated_at = ?, version = ? WHERE id = ? AND version = ?",
            (raw.at(now), raw.at(now + t["warning"]), raw.at(now + t["deadline"]), raw.at(now), version + 1,
             case_id, version),
        )  # fmt: skip
        raw.run(
            "INSERT INTO case_events (case_id, seq, action, from_state, to_state, actor_id, actor_role, at, note, data) "
            "VALUES (?, ?, 'register', 'reported', 'registered', ?, 'operator', ?, '', '{}')",
            (case_id, seq + 1, t["operator_id"], raw.at(now)),
        )
        raw.commit()

    def raw_case_file(self, number: str) -> None:
        raw = self.raw
        row = raw.run(
            "SELECT c.*, k.code, k.name, k.closure_standard, r.code, r.name, g.code, d.code, d.name, m.number "
            "FROM cases c JOIN categories k ON k.id = c.category_id JOIN regions r ON r.id = c.region_id "
            "LEFT JOIN grids g ON g.id = c.grid_id LEFT JOIN departments d ON d.id = c.department_id "
            "LEFT JOIN cases m ON m.id = c.merged_into_id "
            "WHERE c.number = ? AND c.region_id IN (SELECT id FROM regions WHERE path LIKE ?)",
            (number, "/990101/%"),
        )[0]
        case_id = row[0]
        raw.run(
            "SELECT e.*, u.full_name FROM case_events e LEFT JOIN users u ON u.id = e.actor_id "
            "WHERE e.case_id = ? ORDER BY e.seq",
            (case_id,),
        )
        raw.run(
            "SELECT t.*, d.code, d.name FROM case_tasks t JOIN departments d ON d.id = t.department_id "
            "WHERE t.case_id = ? ORDER BY t.id",
            (case_id,),
        )
        raw.run("SELECT * FROM attachments WHERE case_id = ? ORDER BY id", (case_id,))
        raw.run(
            "SELECT g.code FROM case_overlay_grids o JOIN grids g ON g.id = o.grid_id WHERE o.case_id = ? "
            "ORDER BY g.code",
            (case_id,),
        )
        raw.end_read()

    def raw_list(self, path: str, red: bool) -> None:
        raw = self.raw
        where = "c.region_id IN (SELECT id FROM regions WHERE path LIKE ?)"
        params: tuple[Any, ...] = (path + "%",)
        if red:
            where += " AND c.deadline_at <= ?"
            params += (raw.at(_now()),)
        raw.run(f"SELECT count(*) FROM cases c WHERE {where}", params)
        raw.run(
            "SELECT c.*, k.code, k.name, r.code, r.name, g.code, d.code, d.name FROM cases c "
            "JOIN categories k ON k.id = c.category_id JOIN regions r ON r.id = c.region_id "
            "LEFT JOIN grids g ON g.id = c.grid_id LEFT JOIN departments d ON d.id = c.department_id "
            f"WHERE {where} ORDER BY c.created_at DESC, c.id DESC LIMIT 50",
            params,
        )
        raw.end_read()


def _now() -> datetime:
    return datetime.now(UTC)


def measure(store: Store, repeat: int) -> dict[str, tuple[list[float], list[float]]]:
    """Each operation through civicgrid and raw, interleaved (which goes first alternates)."""
    street = "/990101/990101001/"
    pairs: dict[str, tuple[Callable[[], Any], Callable[[], Any] | None]] = {
        "case list, leader": (
            lambda: store.get("leader", "/api/v1/cases"),
            lambda: store.raw_list("/990101/", False),
        ),
        "case list, leader, light=red": (
            lambda: store.get("leader", "/api/v1/cases?light=red"),
            lambda: store.raw_list("/990101/", True),
        ),
        "case list, street dispatcher": (
            lambda: store.get(STREET_DISPATCHER, "/api/v1/cases"),
            lambda: store.raw_list(street, False),
        ),
        "case file + timeline": (
            lambda: store.get("leader", f"/api/v1/cases/{store.archived}"),
            lambda: store.raw_case_file(store.archived),
        ),
        "/healthz (HTTP alone)": (lambda: store.client.get("/healthz").raise_for_status(), None),
        "service: case file + timeline": (lambda: store.service_case_file(store.archived), None),
    }
    for name, (who, filters) in SERVICE_LISTS.items():
        pairs[f"service: list, {name}"] = (
            lambda who=who, filters=filters: store.service_list(who, filters),
            None,
        )
    results: dict[str, tuple[list[float], list[float]]] = {
        name: ([], []) for name in ("register a case", "transition (register)", *pairs)
    }

    def timed(call: Callable[[], Any], into: list[float]) -> Any:
        began = time.perf_counter()
        value = call()
        into.append(time.perf_counter() - began)
        return value

    for round_ in range(repeat):
        order = (0, 1) if round_ % 2 == 0 else (1, 0)
        numbers: list[str] = ["", ""]
        for side in order:
            numbers[side] = timed((store.create, store.raw_create)[side], results["register a case"][side])
        for side in order:
            step = (store.register, store.raw_register)[side]
            timed(
                lambda step=step, number=numbers[side]: step(number), results["transition (register)"][side]
            )
        for name, (ours, theirs) in pairs.items():
            for side in order:
                call = (ours, theirs)[side]
                if call is not None:
                    timed(call, results[name][side])
    return results


@contextmanager
def store_of(size: int, server: str | None) -> Iterator[tuple[Engine, str]]:
    """A migrated, empty store: a SQLite file, or a database of its own on ``server``."""
    if server is None:
        url = f"sqlite:///{tempfile.mkdtemp(prefix='civicgrid-bench-')}/bench.db"
        engine = make_engine(url)
        upgrade(engine)
        yield engine, url
        engine.dispose()
        return
    name = f"civicgrid_bench_{size}"
    admin = create_engine(server, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f"DROP DATABASE IF EXISTS {name}"))
        connection.execute(text(f"CREATE DATABASE {name}"))
    url = server.rsplit("/", 1)[0] + f"/{name}"
    engine = make_engine(url)
    upgrade(engine)
    try:
        yield engine, url
    finally:
        engine.dispose()
        with admin.connect() as connection:
            connection.execute(text(f"DROP DATABASE {name}"))
        admin.dispose()


@contextmanager
def server_for(backend: str, url: str | None) -> Iterator[str | None]:
    """None for SQLite; for PostgreSQL the server ``url``, or a throw-away cluster's."""
    if backend == "sqlite" or url:
        yield url if backend == "postgresql" else None
        return
    from tests.pg_cluster import find_bin_dir, throwaway_cluster

    bin_dir = find_bin_dir()
    if bin_dir is None:
        sys.exit("PostgreSQL is not installed (apt-get install postgresql), and no --database-url")
    with throwaway_cluster(bin_dir) as cluster:
        yield cluster


def run(
    backend: str, server: str | None, sizes: list[int], repeat: int, load: LoadSettings | None
) -> tuple[list[str], list[str]]:
    """Fill a store of each size on ``backend`` and measure it: the rows of the ratio table and,
    with ``load``, of the throughput table."""
    lines, load_lines = [], []
    for size in sizes:
        with store_of(size, server) as (engine, url):
            rules = CentreRules.from_settings(Settings(database_url=url))
            prepare(engine, rules, _now())
            report = fill(engine, size, rules, _now())
            print(
                f"{backend}: filled {report.cases:,} cases, {report.events:,} events in {report.seconds:.1f} s",
                flush=True,
            )
            store = Store(engine, url)
            for name, (ours, theirs) in measure(store, repeat).items():
                median, p95 = _ms(ours)
                if theirs:
                    raw_median, raw_p95 = _ms(theirs)
                    raw, ratio = f"{raw_median:.2f} / {raw_p95:.2f}", f"{median / raw_median:.1f}×"
                else:
                    raw, ratio = "—", "—"
                lines.append(f"| {name} | {size:,} | {median:.2f} / {p95:.2f} | {raw} | {ratio} |")
            numbers = [
                row[0] for row in store.raw.run("SELECT number FROM cases ORDER BY random() LIMIT 1000")
            ]
            store.raw.end_read()
            store.client.close()
            store.raw.connection.close()
            if load is not None:
                print(f"{backend}: throughput at {size:,} cases", flush=True)
                for result in measure_throughput(
                    url, SECRET, DEMO_PASSWORD, NEW_CASE.model_dump(mode="json", exclude_none=True), numbers,
                    STREET_DISPATCHER, load.workers, load.connections, load.seconds,
                ):  # fmt: skip
                    load_lines.append(
                        f"| {result.operation} | {size:,} | {result.per_second:,.0f} | {result.p50_ms:.1f} | "
                        f"{result.p99_ms:.1f} | {result.errors} |"
                    )
    return lines, load_lines


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", default="10000,100000", help="store sizes in cases, comma-separated")
    parser.add_argument("--repeat", type=int, default=30, help="repetitions of each operation per size")
    parser.add_argument(
        "--backends", default="sqlite,postgresql", help="sqlite, postgresql or both, comma-separated"
    )
    parser.add_argument("--database-url", help="a PostgreSQL server URL (default: a throw-away cluster)")
    parser.add_argument("--postgres", action="store_true", help="PostgreSQL only (--backends postgresql)")
    parser.add_argument(
        "--throughput",
        action="store_true",
        help="then serve each store and drive it with wrk (see throughput.py)",
    )
    parser.add_argument(
        "--workers", type=int, default=os.cpu_count() or 1, help="server processes (--throughput)"
    )
    parser.add_argument("--connections", type=int, default=16, help="open connections (--throughput)")
    parser.add_argument("--seconds", type=float, default=20, help="seconds per operation (--throughput)")
    args = parser.parse_args()
    sizes = [int(size) for size in args.sizes.split(",")]
    backends = ["postgresql"] if args.postgres else args.backends.split(",")
    unknown = set(backends) - {"sqlite", "postgresql"}
    if unknown:
        parser.error(f"unknown backend {', '.join(sorted(unknown))}: use sqlite, postgresql or both")
    for _, filters in SERVICE_LISTS.values():  # a mistake here shows before filling anything
        CaseFilters(**{name: value for name, value in filters.items() if name != "created_from"})
    load = LoadSettings(args.workers, args.connections, args.seconds) if args.throughput else None
    if load is not None:
        wrk_path()  # before filling anything
    tables = {}
    for backend in backends:
        with server_for(backend, args.database_url) as server:
            tables[backend] = run(backend, server, sizes, args.repeat, load)
    for backend, (lines, load_lines) in tables.items():
        print(f"\n{backend}: median / p95 over {args.repeat} repetitions")
        print("| operation | cases | civicgrid ms | raw SQL ms | ratio (medians) |")
        print("|---|---|---|---|---|")
        print("\n".join(lines))
        if load is not None:
            print(
                f"\n{backend}: civicgrid serve --workers {load.workers}, wrk with {load.connections} "
                f"connections, {load.seconds:g} s per operation"
            )
            print("| operation | cases | requests/s | p50 ms | p99 ms | errors |")
            print("|---|---|---|---|---|---|")
            print("\n".join(load_lines))


if __name__ == "__main__":
    main()
