"""A fast, set-based filler: a store of many cases that looks like a real centre's, for
benchmarks at 10k, 100k and 1M cases.

``prepare`` loads the demo district's territory, people and categories and adds a few more
streets; ``fill`` then writes N cases in one transaction:

- the case rows are drawn in Python (states, lights, places, departments, times over the
  last 12 months, numbers ``PREFIX-YYYYMMDD-NNNNNN``) and inserted in large batches;
- their histories are written by one ``INSERT … SELECT`` that joins the cases with a small
  table of paths (the events a case in each state has been through: report, register,
  dispatch, accept … archive), so millions of events never pass through Python;
- joint-handling tasks and the number counters follow, then ``ANALYZE``.

Event times are ``created_at + (seq - 1) × gap``, with a gap that is a function of the
case id, so that Python (the cached clock on the case) and SQL (the events) agree.
"""

from __future__ import annotations

import random
import time
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Connection, Engine, func, select, text
from sqlalchemy.orm import Session

from civicgrid.demo import CHANNEL_WEIGHTS, DISTRICT_CODE, LIGHT_WEIGHTS, load_demo
from civicgrid.domain.clock import STAGE_OF_STATE, opens_stage
from civicgrid.domain.vocabulary import (
    OPEN_STATES,
    Action,
    CaseState,
    Channel,
    GridKind,
    Light,
    RegionLevel,
    RequestType,
    Role,
    Satisfaction,
    Stage,
    Urgency,
)
from civicgrid.services.cases import CentreRules
from civicgrid.store.models import (
    Case,
    CaseNumberCounter,
    Category,
    Department,
    Grid,
    Region,
    User,
)
from civicgrid.store.partitions import add_months, maintain, month_of

S = CaseState
A = Action
#: How far back the cases go (finished ones; open ones are weeks old at most).
HISTORY = timedelta(days=365)

#: Streets added next to the demo's 江滨街道, each with four communities of four grids.
EXTRA_STREETS = ("江北街道", "城东街道", "城西街道")
#: Channels whose cases an inspector verifies on site and no citizen is called back on.
PATROL = (Channel.INSPECTOR, Channel.VIDEO, Channel.THIRD_PARTY)
#: Final states weighted like a real centre's store over a year: most cases archived, some
#: open in every stage, a few on each side path.
STATE_WEIGHTS = {
    S.ARCHIVED: 600, S.REVISITED: 60, S.CLOSED: 50, S.CHECKED: 10,
    S.REPORTED: 10, S.VERIFIED: 8, S.REGISTERED: 15, S.DISPATCHED: 20, S.IN_PROGRESS: 50, S.HANDLED: 20,
    S.REJECTED_BY_DEPARTMENT: 8, S.REWORK: 10, S.ESCALATED: 6, S.EXTENSION_REQUESTED: 8,
    S.SUSPENDED: 8, S.MERGED: 15, S.VOIDED: 12, S.JOINT: 15,
}  # fmt: skip


def with_open_share(share: float, weights: dict[CaseState, int] = STATE_WEIGHTS) -> dict[CaseState, int]:
    """``weights`` rescaled so that cases left open make ``share`` of the store (0 < share
    < 1), each side keeping its own proportions: a benchmark can ask for the open queue a
    figure names (e.g. 100,000 open of 1,000,000)."""
    if not 0 < share < 1:
        raise ValueError(f"the open share must lie between 0 and 1, not {share}")
    open_total = sum(weight for state, weight in weights.items() if state in OPEN_STATES)
    done_total = sum(weights.values()) - open_total
    per_million = 1_000_000  # integer weights, fine enough for any share
    return {
        state: round(
            per_million * weight * (share / open_total if state in OPEN_STATES else (1 - share) / done_total)
        )
        for state, weight in weights.items()
    }


#: Cases written per batch of the case INSERT.
BATCH = 20_000
#: Cases made in memory and written in one transaction (a larger store takes several).
PART = 1_000_000

#: The path to each final state: (action, role of the actor, note). The patrol variant
#: verifies after the report and archives without a revisit.
_OPEN_LOOP = [
    (A.REPORT, Role.OPERATOR, ""),
    (A.REGISTER, Role.OPERATOR, ""),
    (A.DISPATCH, Role.DISPATCHER, ""),
    (A.ACCEPT, Role.HANDLER, ""),
    (A.HANDLE, Role.HANDLER, "已按标准处置完毕"),
    (A.CHECK, Role.INSPECTOR, ""),
    (A.CLOSE, Role.OPERATOR, ""),
    (A.REVISIT, Role.OPERATOR, "市民表示满意"),
    (A.ARCHIVE, Role.OPERATOR, ""),
]
_MAIN_DEPTH = {
    S.REPORTED: 1,
    S.REGISTERED: 2,
    S.DISPATCHED: 3,
    S.IN_PROGRESS: 4,
    S.HANDLED: 5,
    S.CHECKED: 6,
    S.CLOSED: 7,
    S.REVISITED: 8,
    S.ARCHIVED: 9,
}
_SIDE = {
    S.REJECTED_BY_DEPARTMENT: (3, (A.REJECT, Role.HANDLER, "非本单位职责，请改派")),
    S.REWORK: (5, (A.FAIL_CHECK, Role.INSPECTOR, "现场核查问题未解决")),
    S.ESCALATED: (2, (A.ESCALATE, Role.DISPATCHER, "超出街道处置权限")),
    S.EXTENSION_REQUESTED: (4, (A.REQUEST_EXTENSION, Role.HANDLER, "需协调多方，申请延期")),
    S.SUSPENDED: (4, (A.SUSPEND, Role.SUPERVISOR, "历史遗留问题，挂账跟踪")),
    S.MERGED: (1, (A.MERGE, Role.OPERATOR, "重复上报，合并处理")),
    S.VOIDED: (1, (A.VOID, Role.OPERATOR, "无效来电")),
    S.JOINT: (2, (A.DISPATCH_JOINT, Role.DISPATCHER, "")),
}


def path(state: CaseState, patrol: bool) -> list[tuple[Action, Role, str]]:
    """The events a case now in ``state`` has been through, oldest first."""
    if state is S.VERIFIED:
        return [_OPEN_LOOP[0], (A.VERIFY, Role.INSPECTOR, "")]
    if state in _MAIN_DEPTH:
        steps = _OPEN_LOOP[: _MAIN_DEPTH[state]]
    else:
        depth, last = _SIDE[state]
        steps = [*_OPEN_LOOP[:depth], last]
    if patrol:
        steps = [(A.REPORT, Role.INSPECTOR, ""), *steps[1:]]
    if patrol and len(steps) > 1:
        steps = [steps[0], (A.VERIFY, Role.INSPECTOR, ""), *steps[1:]]
        steps = [step for step in steps if step[0] is not A.REVISIT]
    return steps


def _states(steps: list[tuple[Action, Role, str]]) -> list[tuple[CaseState | None, CaseState]]:
    """(from, to) of each step, replayed through the path itself."""
    from civicgrid.domain.workflow import TRANSITIONS

    state: CaseState | None = None
    moves = []
    for action, _, _ in steps:
        target = S.REPORTED if action is A.REPORT else TRANSITIONS[(state, action)].target  # type: ignore[index]
        assert target is not None
        moves.append((state, target))
        state = target
    return moves


@dataclass(frozen=True)
class _Shape:
    """What the Python side needs of a path: its length, when the open stage's clock
    started (event index) and when the case closed (event index, or None)."""

    length: int
    stage_opened: int | None
    closed: int | None
    dispatched: bool


def _shape(state: CaseState, patrol: bool) -> _Shape:
    steps = path(state, patrol)
    running: Stage | None = None
    opened = None
    closed = None
    for index, ((action, _, _), (_, target)) in enumerate(zip(steps, _states(steps), strict=True)):
        if opens_stage(action, target, running):
            running, opened = STAGE_OF_STATE.get(target), index
        if action is A.CLOSE:
            closed = index
    dispatched = any(action in (A.DISPATCH, A.DISPATCH_JOINT) for action, _, _ in steps)
    return _Shape(len(steps), opened, closed, dispatched)


def gap_seconds(case_id: int) -> int:
    """Seconds between two events of a case (the SQL of ``fill`` computes the same)."""
    return 600 + (case_id * 37) % 20_000


_GAP_SQL = "(600 + (c.id * 37) % 20000)"
_AT_SQL = {
    "sqlite": f"strftime('%Y-%m-%d %H:%M:%S.000000', c.created_at, '+' || ((p.seq - 1) * {_GAP_SQL}) || ' seconds')",
    "postgresql": f"c.created_at + ((p.seq - 1) * {_GAP_SQL}) * interval '1 second'",
}
_EMPTY_JSON = {"sqlite": "'{}'", "postgresql": "CAST('{}' AS JSON)"}


def prepare(engine: Engine, rules: CentreRules, now: datetime, demo_cases: int = 0) -> None:
    """Load the demo district (with ``demo_cases`` cases) into a migrated, empty store and
    add the extra streets, each with communities, grids, their inspectors and a dispatcher."""
    with Session(engine) as session, session.begin():
        load_demo(session, rules, now, demo_cases, seed=1)
        district = session.scalars(select(Region).where(Region.code == DISTRICT_CODE)).one()
        password_hash = session.scalars(select(User.password_hash).where(User.username == "leader")).one()
        for street_no, name in enumerate(EXTRA_STREETS, start=2):
            code = f"{DISTRICT_CODE}{street_no:03d}"
            street = Region(
                code=code,
                name=name,
                level=RegionLevel.STREET,
                parent=district,
                path=f"{district.path}{code}/",
            )
            session.add(street)
            session.add(
                User(username=f"dispatcher_{code}", full_name=f"{name}派遣员", password_hash=password_hash,
                     role=Role.DISPATCHER, region=street)
            )  # fmt: skip
            for community_no in range(1, 5):
                ccode = f"{code}{community_no:03d}"
                community = Region(code=ccode, name=f"{name}第{community_no}社区", level=RegionLevel.COMMUNITY,
                                   parent=street, path=f"{street.path}{ccode}/")  # fmt: skip
                session.add(community)
                for grid_no in range(1, 5):
                    grid = Grid(code=f"{ccode}-{grid_no:02d}", name=f"{community.name}第{grid_no}网格",
                                kind=GridKind.COMPREHENSIVE, region=community)  # fmt: skip
                    session.add(grid)
                    session.flush()
                    session.add(
                        User(username=f"inspector_{ccode}_{grid_no:02d}", full_name=f"{grid.name}网格员",
                             password_hash=password_hash, role=Role.INSPECTOR, region=community, grid_id=grid.id)
                    )  # fmt: skip


@dataclass
class FillReport:
    """What ``fill`` wrote and how long it took."""

    cases: int
    events: int
    seconds: float


def fill(
    engine: Engine,
    count: int,
    rules: CentreRules,
    now: datetime,
    seed: int = 1,
    state_weights: dict[CaseState, int] | None = None,
) -> FillReport:
    """Write ``count`` cases with their histories into a store ``prepare`` made ready; their
    final states drawn by ``state_weights`` (default: a year's store, ``STATE_WEIGHTS``)."""
    started = time.perf_counter()
    # PostgreSQL: the months of the histories get their partitions before the rows come, as
    # a centre's months would have (none lands in the default partition).
    maintain(engine, now, since=add_months(month_of(now - HISTORY), -1))
    dialect, events = engine.dialect.name, 0
    # In parts of at most PART cases, each one transaction: a part's rows are made in memory
    # (about 5 GB for a million), and each part numbers its cases after the ones before.
    weights = state_weights or STATE_WEIGHTS
    for part, start in enumerate(range(0, count, PART)):
        events += _fill_part(
            engine, min(PART, count - start), rules, now, random.Random(seed + part), weights
        )
    with engine.connect() as connection:
        connection.exec_driver_sql("ANALYZE")
        if dialect == "sqlite":
            connection.exec_driver_sql("PRAGMA optimize")
        connection.commit()
    if dialect == "sqlite":
        # The filling connection's page cache (cache_size above) must not serve what is timed
        # next: in WAL mode a connection empties its whole cache at the start of a transaction
        # whenever another connection has written since, and emptying hundreds of MB of
        # pages costs milliseconds each time. Handed to the raw-SQL baseline, it made the
        # baseline's writes at 1,000,000 cases slower than civicgrid's.
        engine.dispose()
    return FillReport(count, events, time.perf_counter() - started)


def _fill_part(
    engine: Engine,
    count: int,
    rules: CentreRules,
    now: datetime,
    rng: random.Random,
    state_weights: dict[CaseState, int],
) -> int:
    """Write ``count`` cases with their histories in one transaction; the events written."""
    with engine.begin() as connection:
        dialect = connection.dialect.name
        if dialect == "sqlite":
            connection.exec_driver_sql("PRAGMA cache_size=-400000")
        first_id = (connection.scalar(select(func.max(Case.id))) or 0) + 1
        people = _people(connection)
        rows = _cases(connection, count, first_id, people, rules, now, rng, state_weights)
        _setup_paths(connection, people)
        for start in range(0, len(rows), BATCH):
            connection.execute(Case.__table__.insert(), rows[start : start + BATCH])
        last_id = first_id + count - 1
        connection.execute(
            text(
                "INSERT INTO case_events (case_id, seq, action, from_state, to_state, actor_id, actor_role, at, note, data) "
                f"SELECT c.id, p.seq, p.action, p.from_state, p.to_state, u.user_id, p.actor_role, {_AT_SQL[dialect]}, "
                f"p.note, {_EMPTY_JSON[dialect]} FROM cases c "
                "JOIN fill_paths p ON p.state = c.state AND p.patrol = "
                f"  CASE WHEN c.channel IN ({', '.join(repr(ch.value) for ch in PATROL)}) THEN 1 ELSE 0 END "
                "JOIN fill_people u ON u.role = p.actor_role AND u.scope_id = "
                "  CASE p.actor_role WHEN 'handler' THEN c.department_id WHEN 'inspector' THEN c.grid_id ELSE 0 END "
                "WHERE c.id BETWEEN :first AND :last ORDER BY c.id, p.seq"
            ),
            {"first": first_id, "last": last_id},
        )
        _joint_tasks(connection, first_id, last_id)
        _counters(connection, rows, rules)
        events = connection.scalar(
            text("SELECT count(*) FROM case_events WHERE case_id BETWEEN :first AND :last"),
            {"first": first_id, "last": last_id},
        )
        if dialect == "postgresql":
            connection.exec_driver_sql(
                "SELECT setval(pg_get_serial_sequence('cases', 'id'), (SELECT max(id) FROM cases))"
            )
        connection.exec_driver_sql("DROP TABLE fill_paths")
        connection.exec_driver_sql("DROP TABLE fill_people")
        return int(events or 0)


@dataclass
class _People:
    """Who acts on the filled cases: one user per role, handlers per department and
    inspectors per grid."""

    single: dict[Role, int]
    handlers: dict[int, int]
    inspectors: dict[int, int]


def _people(connection: Connection) -> _People:
    single: dict[Role, int] = {}
    for username, role in (("operator", Role.OPERATOR), ("dispatcher_qu", Role.DISPATCHER),
                           ("supervisor", Role.SUPERVISOR), ("leader", Role.LEADER)):  # fmt: skip
        single[role] = connection.scalar(select(User.id).where(User.username == username))
    handlers = dict(
        connection.execute(select(User.department_id, User.id).where(User.role == Role.HANDLER)).all()
    )
    inspectors = dict(
        connection.execute(select(User.grid_id, User.id).where(User.role == Role.INSPECTOR)).all()
    )
    return _People(single, handlers, inspectors)  # type: ignore[arg-type]


def _setup_paths(connection: Connection, people: _People) -> None:
    """The temporary tables the event INSERT joins: every path, and who acts."""
    connection.exec_driver_sql(
        "CREATE TEMP TABLE fill_paths (state VARCHAR(32), patrol INTEGER, seq INTEGER, action VARCHAR(32), "
        "from_state VARCHAR(32), to_state VARCHAR(32), actor_role VARCHAR(16), note TEXT)"
    )
    connection.exec_driver_sql(
        "CREATE TEMP TABLE fill_people (role VARCHAR(16), scope_id INTEGER, user_id INTEGER)"
    )
    paths = []
    for state in CaseState:
        for patrol in (0, 1):
            steps = path(state, bool(patrol))
            for seq, ((action, role, note), (source, target)) in enumerate(
                zip(steps, _states(steps), strict=True), start=1
            ):
                paths.append(
                    {"state": state.value, "patrol": patrol, "seq": seq, "action": action.value,
                     "from_state": source.value if source else None, "to_state": target.value,
                     "actor_role": role.value, "note": note}
                )  # fmt: skip
    connection.execute(
        text(
            "INSERT INTO fill_paths VALUES (:state, :patrol, :seq, :action, :from_state, :to_state, :actor_role, :note)"
        ),
        paths,
    )
    who = [{"role": role.value, "scope_id": 0, "user_id": user} for role, user in people.single.items()]
    who += [{"role": "handler", "scope_id": d, "user_id": u} for d, u in people.handlers.items()]
    who += [{"role": "inspector", "scope_id": g, "user_id": u} for g, u in people.inspectors.items()]
    connection.execute(text("INSERT INTO fill_people VALUES (:role, :scope_id, :user_id)"), who)


def _cases(
    connection: Connection,
    count: int,
    first_id: int,
    people: _People,
    rules: CentreRules,
    now: datetime,
    rng: random.Random,
    weights: dict[CaseState, int],
) -> list[dict[str, object]]:
    """The case rows, oldest first, numbered per day after the numbers already given."""
    categories = connection.execute(
        select(Category.id, Category.kind, Category.department_function, Category.name).where(
            Category.parent_id.is_not(None)
        )
    ).all()
    departments = connection.execute(select(Department.id, Department.function)).all()
    by_function = {function: ident for ident, function in departments}
    grids = connection.execute(
        select(Grid.id, Grid.region_id, Grid.boundary).where(Grid.id.in_(list(people.inspectors)))
    ).all()
    channels, channel_weights = list(CHANNEL_WEIGHTS), list(CHANNEL_WEIGHTS.values())
    states, state_weights = list(weights), list(weights.values())
    lights, light_weights = list(LIGHT_WEIGHTS), list(LIGHT_WEIGHTS.values())
    shapes = {(state, patrol): _shape(state, patrol) for state in CaseState for patrol in (False, True)}
    year = HISTORY.total_seconds()

    drawn = []
    for index in range(count):
        # One case in each state first, so that even a small store has them all.
        state = states[index] if index < len(states) else rng.choices(states, state_weights)[0]
        channel = rng.choices(channels, channel_weights)[0]
        if state is S.REVISITED:
            channel = Channel.HOTLINE_12345
        finished = state in (S.ARCHIVED, S.REVISITED, S.CLOSED, S.MERGED, S.VOIDED)
        # Open cases are recent: most of a real centre's queue is days or weeks old.
        age = rng.uniform(3_600, 45 * 86_400) if not finished else rng.uniform(3 * 86_400, year)
        drawn.append((now - timedelta(seconds=age), state, channel))
    drawn.sort(key=lambda row: row[0])

    rows = []
    open_ids: list[int] = []
    for offset, (created, state, channel) in enumerate(drawn):
        case_id = first_id + offset
        patrol = channel in PATROL
        shape = shapes[(state, patrol)]
        gap = timedelta(seconds=gap_seconds(case_id))
        created = created.replace(microsecond=0)
        # Keep the whole history in the past.
        latest = now - timedelta(seconds=60) - gap * (shape.length - 1)
        created = min(created, latest)
        category_id, kind, function, category_name = rng.choice(categories)
        grid_id, region_id, boundary = rng.choice(grids)
        lng, lat = _point(boundary, rng)
        dispatched = shape.dispatched
        department = by_function.get(function) or rng.choice(departments)[0] if dispatched else None
        stage = STAGE_OF_STATE.get(state)
        if state is S.SUSPENDED:
            stage = Stage.HANDLE
        started = created + gap * shape.stage_opened if stage and shape.stage_opened is not None else None
        warning = deadline = None
        if stage is not None and state is not S.SUSPENDED:
            warning, deadline = _clock(rng.choices(lights, light_weights)[0], started, now, rng)  # type: ignore[arg-type]
        if state not in (S.MERGED, S.VOIDED) and state not in (S.ARCHIVED, S.REVISITED, S.CLOSED):
            open_ids.append(case_id)
        rows.append(
            {
                "id": case_id, "number": "", "channel": channel.value, "kind": kind.value,
                "request_type": RequestType.COMPLAINT.value if channel not in PATROL else None,
                "category_id": category_id,
                "urgency": Urgency.URGENT.value if rng.random() < 0.05 else Urgency.NORMAL.value,
                "title": category_name, "description": f"{category_name}，请尽快处理。", "address": "",
                "lng": lng, "lat": lat, "region_id": region_id, "grid_id": grid_id, "department_id": department,
                "reporter_name": None if patrol else "市民", "reporter_phone": None, "reporter_user_id": None,
                "merged_into_id": open_ids[-1] if state is S.MERGED and open_ids else None,
                "satisfaction": Satisfaction.SATISFIED.value if state in (S.REVISITED, S.ARCHIVED) and not patrol else None,
                "rework_count": 1 if state is S.REWORK else 0, "state": state.value,
                "stage": stage.value if stage else None, "stage_started_at": started,
                "warning_at": warning, "deadline_at": deadline, "created_at": created,
                "updated_at": created + gap * (shape.length - 1),
                "closed_at": created + gap * shape.closed if shape.closed is not None else None,
                "version": shape.length,
            }
        )  # fmt: skip
    _number(connection, rows, rules)
    return rows


def _point(boundary: dict[str, object] | None, rng: random.Random) -> tuple[float, float]:
    """A point in the grid's bounding box (extra streets have no drawn grids: south of the demo's)."""
    if not boundary:
        return rng.uniform(120.13, 120.19), rng.uniform(30.245, 30.258)
    ring = boundary["coordinates"][0]  # type: ignore[index]
    lngs, lats = [p[0] for p in ring], [p[1] for p in ring]
    return rng.uniform(min(lngs), max(lngs)), rng.uniform(min(lats), max(lats))


def _clock(light: Light, started: datetime, now: datetime, rng: random.Random) -> tuple[datetime, datetime]:
    """Warning and deadline times that give ``light`` at ``now``."""
    if light is Light.RED:
        deadline = now - timedelta(seconds=rng.uniform(60, 10 * 86_400))
    elif light is Light.YELLOW:
        deadline = now + timedelta(seconds=rng.uniform(600, 86_400))
    else:
        deadline = now + timedelta(seconds=rng.uniform(86_400, 10 * 86_400))
    deadline = max(deadline, started + timedelta(hours=1))
    warning = deadline - (deadline - started) * 0.2
    if light is Light.YELLOW:
        warning = min(warning, now - timedelta(seconds=1))
    if light is Light.GREEN:
        warning = max(warning, now + timedelta(seconds=60))
    return warning, deadline


def _number(connection: Connection, rows: list[dict[str, object]], rules: CentreRules) -> None:
    """Give each row its number, after the numbers each day already has."""
    given = {
        day: last
        for day, last in connection.execute(
            select(CaseNumberCounter.day, CaseNumberCounter.last).where(
                CaseNumberCounter.prefix == rules.number_prefix
            )
        )
    }
    zone = rules.calendar.timezone
    for row in rows:
        day = row["created_at"].astimezone(zone).strftime("%Y%m%d")  # type: ignore[attr-defined]
        given[day] = given.get(day, 0) + 1
        row["number"] = f"{rules.number_prefix}-{day}-{given[day]:06d}"


def _counters(connection: Connection, rows: list[dict[str, object]], rules: CentreRules) -> None:
    """Counters that continue after the highest number of each day."""
    last: Counter[str] = Counter()
    for row in rows:
        _, day, serial = str(row["number"]).rsplit("-", 2)
        last[day] = max(last[day], int(serial))
    table = CaseNumberCounter.__table__
    connection.execute(
        table.delete().where(table.c.prefix == rules.number_prefix, table.c.day.in_(list(last)))
    )
    connection.execute(
        table.insert(), [{"prefix": rules.number_prefix, "day": day, "last": n} for day, n in last.items()]
    )


def _joint_tasks(connection: Connection, first_id: int, last_id: int) -> None:
    """Joint cases get their lead task and one assisting department's, from the joint dispatch."""
    partner, other = (
        connection.execute(select(Department.id).order_by(Department.id).limit(2)).scalars().all()
    )
    assisting = "CASE WHEN c.department_id = :partner THEN :other ELSE :partner END"
    for is_lead, department in ((True, "c.department_id"), (False, assisting)):
        connection.execute(
            text(
                "INSERT INTO case_tasks (case_id, department_id, is_lead, assigned_at, done_at, event_id) "
                f"SELECT e.case_id, {department}, :is_lead, e.at, NULL, e.id "
                "FROM case_events e JOIN cases c ON c.id = e.case_id "
                "WHERE e.action = 'dispatch_joint' AND e.case_id BETWEEN :first AND :last"
            ),
            {"is_lead": is_lead, "partner": partner, "other": other, "first": first_id, "last": last_id},
        )
