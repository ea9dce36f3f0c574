"""The case service: register a case and move it through the loop, one event per change.

Functions take a session and never commit: the caller's scope (API request, CLI command)
does, so a refused action leaves the store exactly as it was.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import cache
from typing import Any

from sqlalchemy import Select, bindparam, func, null, or_, select
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, defer, joinedload, selectinload
from sqlalchemy.orm.exc import StaleDataError

from civicgrid.domain import workflow
from civicgrid.domain.calendar import WorkCalendar
from civicgrid.domain.clock import stage_clock
from civicgrid.domain.errors import Conflict, InvalidInput, RoleNotAllowed
from civicgrid.domain.facts import case_facts
from civicgrid.domain.limits import TimeLimit, parse_limit
from civicgrid.domain.questions import Question, check_answers
from civicgrid.domain.vocabulary import (
    ACTION_LABELS,
    CHANNEL_LABELS,
    FINAL_STATES,
    ROLE_LABELS,
    STATE_LABELS,
    Action,
    CaseState,
    Channel,
    CoordinateSystem,
    GridDuty,
    Role,
    Stage,
    Urgency,
)
from civicgrid.exchange.reports import report_change
from civicgrid.geo.crs import to_wgs84
from civicgrid.geo.index import GridShape, Placement, territory_index
from civicgrid.schemas import CaseCreate, TransitionRequest
from civicgrid.services import alerts, attachments
from civicgrid.settings import Settings
from civicgrid.store import cases as case_queries
from civicgrid.store.facts import write_facts
from civicgrid.store.lookups import by_code
from civicgrid.store.models import (
    Case,
    CaseEvent,
    CaseNumberCounter,
    CaseTask,
    Category,
    Department,
    Grid,
    GridStaff,
    Region,
    User,
    territory_mark,
)
from civicgrid.store.scoping import region_in_scope

#: Who may register a new case, and through which channels a citizen may.
REPORTING_ROLES = frozenset({Role.OPERATOR, Role.DISPATCHER, Role.INSPECTOR, Role.CITIZEN})
CITIZEN_CHANNELS = frozenset({Channel.WEB, Channel.WECHAT})
#: The request fields each action takes besides ``note`` and ``expected_version``.
ACTION_FIELDS: dict[Action, frozenset[str]] = {
    Action.DISPATCH: frozenset({"department_code"}),
    Action.DISPATCH_JOINT: frozenset({"department_code", "assisting_department_codes"}),
    Action.REVISIT: frozenset({"satisfaction"}),
    Action.MERGE: frozenset({"merge_into"}),
    Action.REQUEST_EXTENSION: frozenset({"new_deadline"}),
    # The steps that take photos on site: the problem as found, the result of the handling.
    Action.VERIFY: frozenset({"attachment_ids"}),
    Action.HANDLE: frozenset({"attachment_ids"}),
    Action.FINISH_TASK: frozenset({"attachment_ids"}),
    Action.CHECK: frozenset({"attachment_ids"}),
    Action.FAIL_CHECK: frozenset({"attachment_ids"}),
}
ALWAYS_ALLOWED_FIELDS = frozenset({"note", "note_is_public", "expected_version"})
#: Actions the upper centre takes on an escalated case, not the street that escalated it.
UPPER_LEVEL_ACTIONS = frozenset({Action.DISPATCH, Action.DISPATCH_JOINT, Action.SEND_BACK})
#: Actions a handler takes for their own department only.
DEPARTMENT_ACTIONS = frozenset({Action.ACCEPT, Action.REJECT, Action.HANDLE, Action.REQUEST_EXTENSION})


@dataclass(frozen=True)
class CentreRules:
    """What the case service needs of the centre's settings (and of its loaded calendar)."""

    calendar: WorkCalendar
    warning_ratio: float
    number_prefix: str
    max_extension_days: int = 365
    #: Where a case whose point lies outside the territory goes: refused, or to the district.
    outside_territory: str = "refuse"

    @classmethod
    def from_settings(cls, settings: Settings, days: Mapping[date, bool] | None = None) -> CentreRules:
        """The rules of the centre these settings describe, on a calendar with the centre's
        loaded ``days`` (see ``civicgrid.services.calendar.centre_rules``)."""
        return cls(
            settings.calendar(days),
            settings.warning_ratio,
            settings.case_number_prefix,
            settings.max_extension_days,
            settings.outside_territory,
        )


def stage_limits(category: Category, urgency: Urgency) -> dict[Stage, TimeLimit]:
    """The category's limit for each stage at ``urgency`` (urgent falls back to normal)."""
    normal = category.limits.get(Urgency.NORMAL.value, {})
    chosen = {**normal, **category.limits.get(urgency.value, {})}
    return {Stage(stage): parse_limit(text) for stage, text in chosen.items() if text}


def create_case(
    session: Session,
    actor: User,
    data: CaseCreate,
    rules: CentreRules,
    now: datetime,
    event_data: dict[str, Any] | None = None,
    prepared: Prepared | None = None,
    placed: Placement[GridShape] | None = None,
) -> Case:
    """Register a new case from any channel; it starts ``reported`` with its first event
    (which records ``event_data``, e.g. the API key it came with). Answers, when given, are
    checked against the category's questions. ``prepared``: what the caller has read
    already (then no lookup statement runs; a repeated external id is still refused, by the
    store's unique constraint). ``placed``: the grids at the case's point (in WGS-84), found
    by the caller with the other points of a batch (``GridIndex.place_many``) in this
    transaction."""
    if actor.role not in REPORTING_ROLES:
        raise RoleNotAllowed(
            f"the role {actor.role.value} cannot report cases", zh=f"{ROLE_LABELS[actor.role]}不能登记案件"
        )
    if actor.role is Role.CITIZEN and data.channel not in CITIZEN_CHANNELS:
        raise RoleNotAllowed(
            "citizens report through the web or wechat channels", zh="市民请通过网站或微信反映问题"
        )
    if prepared is not None and prepared.category.code != data.category_code:
        raise ValueError("the prepared category is not the report's")
    category, existing, territory = (
        (prepared.category, None, prepared.territory) if prepared else _lookups(session, data)
    )
    if category.parent_id is None or not category.is_active:
        raise InvalidInput(
            f"category '{data.category_code}' is not an active small class (小类)",
            zh=f"分类「{data.category_code}」不是启用中的小类，请选择一个小类",
        )
    if existing is not None:
        raise Conflict(
            f"{data.channel.value} id '{data.external_id}' is already case {existing}",
            zh=f"{CHANNEL_LABELS[data.channel]}编号「{data.external_id}」已登记为案件 {existing}",
        )
    answers = None
    if data.answers is not None:
        given = {code: value if isinstance(value, list) else [value] for code, value in data.answers.items()}
        answers = check_answers([Question.from_dict(q) for q in category.questions], given)
    if data.lng is not None and data.lat is not None and data.crs is not CoordinateSystem.WGS84:
        lng, lat = to_wgs84(data.lng, data.lat, data.crs)
        data = data.model_copy(update={"lng": lng, "lat": lat, "crs": CoordinateSystem.WGS84})
    place = _place(session, data, territory, rules, placed)
    grid, region, overlays = place.grid, place.region, place.overlays
    if not region_in_scope(region, actor):
        raise RoleNotAllowed(
            f"region {region.code} ({region.name}) is outside your scope",
            zh=f"{region.name}({region.code})不在您的管辖范围内",
        )
    case = Case(
        number=_next_number(session, rules, now),
        external_id=data.external_id,
        channel=data.channel,
        kind=category.kind,
        request_type=data.request_type,
        category=category,
        urgency=data.urgency,
        title=data.title,
        description=data.description,
        address=data.address,
        lng=data.lng,
        lat=data.lat,
        region=region,
        grid=grid,
        inspector_id=place.inspector_id,
        overlay_grids=overlays,
        reporter_name=data.reporter_name,
        reporter_phone=data.reporter_phone,
        reporter_user_id=actor.id if actor.role is Role.CITIZEN else None,
        answers=answers,
        media_url=data.media_url,
        state=CaseState.REPORTED,
        created_at=now,
        updated_at=now,
    )
    session.add(case)
    _append_event(case, actor, Action.REPORT, None, CaseState.REPORTED, now, "", dict(event_data or {}))
    refresh_clock(case, rules)
    refresh_facts(case, rules)
    try:
        session.flush()
    except IntegrityError as error:  # two writers with the same external id at once
        raise Conflict(
            f"case could not be stored: {error.orig}",
            zh="案件未能保存：同一来源编号的案件可能正在同时登记，请核对后重试",
        ) from None
    alerts.after_change(session, case, case.events[0], (None, None), rules.calendar.timezone, now)
    return case


@dataclass(frozen=True)
class Prepared:
    """What ``create_case`` reads before it writes, read by a caller that needed it first:
    the report's category and the territory's revision mark (``store.models.territory_mark``)."""

    category: Category
    territory: str


def _lookups(session: Session, data: CaseCreate) -> tuple[Category, str | None, str]:
    """In one statement: the category, the number of a case that already has the report's
    external id (if any), and the territory's revision mark (for the grid index)."""
    with_external_id = data.external_id is not None
    row = session.execute(
        _lookups_statement(with_external_id),
        {"code": data.category_code, "channel": data.channel, "external_id": data.external_id},
    ).one_or_none()
    if row is None:
        raise InvalidInput(
            f"unknown category code '{data.category_code}'", zh=f"没有编码为「{data.category_code}」的分类"
        )
    return row[0], row[1], row[2] or ""


@cache
def _lookups_statement(with_external_id: bool) -> Select[tuple[Category, str | None, str | None]]:
    """The statement of ``_lookups`` (``:code``; ``:channel`` and ``:external_id`` if
    ``with_external_id``), built once."""
    existing = (
        select(Case.number).where(
            Case.channel == bindparam("channel"), Case.external_id == bindparam("external_id")
        )
        if with_external_id
        else select(null())
    )
    return select(Category, existing.scalar_subquery(), territory_mark()).where(
        Category.code == bindparam("code")
    )


@dataclass(frozen=True)
class _Place:
    """Where a new case lies: its grid (if any), region, overlay grids and inspector."""

    grid: Grid | None
    region: Region
    overlays: list[Grid]
    inspector_id: int | None


def _place(
    session: Session,
    data: CaseCreate,
    territory: str,
    rules: CentreRules,
    placed: Placement[GridShape] | None = None,
) -> _Place:
    """The grid, region, overlay grids and inspector of a new case. A coordinate picks the
    most specific grid that covers it (a dedicated grid before the comprehensive one) and the
    overlay grids it lies in; an explicit grid code wins over the coordinate's grid. The
    cached index at revision ``territory`` gives grid ids; the grids come from the store in
    one statement, each with its inspector: of several, the one with the lowest user id
    among the active ones (the first appointed, as ids grow), so the choice is stable.

    A point in no grid goes to the deepest region whose polygon holds it; outside every
    region too, it is refused, or given to the nearest district when the centre's
    ``outside_territory`` setting says ``district``."""
    index, placement = None, placed
    if data.lng is not None and data.lat is not None:
        index = territory_index(session, territory)
        if placement is None:
            placement = index.grids.place(data.lng, data.lat)
    ids = [found.id for found in ([placement.grid, *placement.overlays] if placement else []) if found]
    grids = _grids(session, ids, data.grid_code)
    grid = None
    if data.grid_code is not None:
        grid = next((g for g, _ in grids.values() if g.code == data.grid_code), None)
        if grid is None:
            raise InvalidInput(
                f"unknown grid code '{data.grid_code}'", zh=f"没有编码为「{data.grid_code}」的网格"
            )
        if grid.retired_at is not None:
            raise InvalidInput(
                f"grid {grid.code} is retired and takes no new cases",
                zh=f"网格{grid.name}({grid.code})已撤销，不再受理新案件",
            )
    elif placement is not None and placement.grid is not None:
        grid = grids[placement.grid.id][0]
    overlays = [grids[g.id][0] for g in placement.overlays if g.id in grids] if placement else []
    overlays = [g for g in overlays if g is not grid]
    inspector_id = grids[grid.id][1] if grid is not None else None
    if data.region_code is not None:
        region = by_code(session, Region, data.region_code)
        if grid is not None and not grid.region.path.startswith(region.path):
            raise InvalidInput(
                f"grid {grid.code} does not lie in region {region.code}",
                zh=f"网格{grid.name}({grid.code})不在{region.name}({region.code})内",
            )
        return _Place(grid, grid.region if grid is not None else region, overlays, inspector_id)
    if grid is not None:
        return _Place(grid, grid.region, overlays, inspector_id)
    assert index is not None and data.lng is not None and data.lat is not None  # the schema's rule
    found = index.region_at(data.lng, data.lat)
    if found is None and rules.outside_territory == "district":
        found = index.nearest_root(data.lng, data.lat)
    if found is None:
        raise InvalidInput(
            f"point ({data.lng:.6f}, {data.lat:.6f}) (WGS-84) lies outside the territory: "
            "no grid or region covers it; give a region_code",
            zh=f"位置({data.lng:.6f}, {data.lat:.6f})不在本中心辖区的任何网格或区域内，请核对位置后重新选点",
        )
    stored = session.get(Region, found.id)
    assert stored is not None  # the index was built in this transaction's view
    return _Place(None, stored, overlays, None)


def _grids(session: Session, ids: list[int], code: str | None) -> dict[int, tuple[Grid, int | None]]:
    """The grids with ``ids`` and the one with ``code``, with their regions and inspectors
    (see ``_place``), by id, in one statement."""
    if not ids and code is None:
        return {}
    found = session.execute(_grids_statement(code is not None), {"ids": ids, "code": code})
    return {grid.id: (grid, inspector_id) for grid, inspector_id in found}


@cache
def _grids_statement(with_code: bool) -> Select[tuple[Grid, int | None]]:
    """The statement of ``_grids`` (``:ids``, and ``:code`` if ``with_code``), built once."""
    ids = Grid.id.in_(bindparam("ids", expanding=True))
    wanted = or_(ids, Grid.code == bindparam("code")) if with_code else ids
    inspector = (
        select(func.min(GridStaff.user_id))
        .join(User, User.id == GridStaff.user_id)
        .where(GridStaff.grid_id == Grid.id, GridStaff.duty == GridDuty.INSPECTOR, User.is_active)
        .correlate(Grid)
        .scalar_subquery()
    )
    # Without the polygons: the index placed the point already.
    return (
        select(Grid, inspector)
        .options(defer(Grid.boundary), joinedload(Grid.region).defer(Region.boundary))
        .where(wanted)
    )


def _counter_upsert(insert: Any) -> Any:
    counters = CaseNumberCounter.__table__
    return (
        insert(counters)
        .values(prefix=bindparam("prefix"), day=bindparam("day"), last=1)
        .on_conflict_do_update(index_elements=["prefix", "day"], set_={"last": counters.c.last + 1})
        .returning(counters.c.last)
    )


#: The counter's upsert per dialect, built once: a plain table statement, not an ORM one.
COUNTER_UPSERT = {"postgresql": _counter_upsert(postgresql_insert), "sqlite": _counter_upsert(sqlite_insert)}


def _next_number(session: Session, rules: CentreRules, now: datetime) -> str:
    """The next printable case number of the day, e.g. JD-20261124-000123; one upsert, so
    two centres' operators registering at once never get the same number."""
    day = now.astimezone(rules.calendar.timezone).strftime("%Y%m%d")
    statement = COUNTER_UPSERT[session.get_bind().dialect.name]
    number = session.connection().execute(statement, {"prefix": rules.number_prefix, "day": day}).scalar_one()
    return f"{rules.number_prefix}-{day}-{number:06d}"


def transition(
    session: Session,
    actor: User,
    number: str,
    action: Action,
    request: TransitionRequest,
    rules: CentreRules,
    now: datetime,
) -> Case:
    """Take ``action`` on case ``number`` as ``actor``: check state, role and scope, append
    the event, update the cached state and clock. Raises a domain error and writes nothing
    when any check fails."""
    loads = (*TRANSITION_LOADS, *TASK_LOADS) if action in TASK_ACTIONS else TRANSITION_LOADS
    case = case_queries.get_visible(session, actor, number, for_update=True, options=loads)
    if request.expected_version is not None and request.expected_version != case.version:
        raise Conflict(
            f"case {number} changed since you read it (version {request.expected_version}, now {case.version})",
            zh=changed_zh(number, request.expected_version, case.version),
        )
    before = (case.stage, case.deadline_at)
    previous = None
    if action is Action.RESUME:
        suspension = case_queries.last_event(case, Action.SUSPEND)
        previous = suspension.from_state if suspension is not None else None
    new_state = workflow.apply(case.state, action, actor.role, reason=request.note, previous=previous)
    # Nothing is written before the one flush below: a lazy load on the way must not send
    # half the change early (that was a second UPDATE of the case and a second version).
    with session.no_autoflush:
        data = _effects(session, case, actor, action, request, rules, now)
        event = _append_event(
            case, actor, action, case.state, new_state, now, request.note, data, request.note_is_public
        )
        if request.attachment_ids:
            attachments.tie_to_event(session, case, actor, event, request.attachment_ids)
        if action is Action.DISPATCH_JOINT:
            for task in case.tasks:  # the tasks _effects opened belong to this event
                if task.event is None:
                    task.event = event
        case.state = new_state
        case.updated_at = now
        refresh_clock(case, rules)
        refresh_facts(case, rules)
        if case.partner_id is not None:  # a partner's work order: it hears of the change
            report_change(session, case, event, rules.calendar.timezone, now)
    try:
        session.flush()
    except StaleDataError:
        raise Conflict(
            f"case {number} was changed by someone else at the same time; reload it",
            zh=f"案件 {number} 正被他人同时修改，请刷新后重试",
        ) from None
    alerts.after_change(session, case, event, before, rules.calendar.timezone, now)
    return case


#: What every transition reads of the case, loaded with the locking SELECT: the category (its
#: time limits) in the same statement, the events (the clock, the next seq) in one more.
TRANSITION_LOADS = (joinedload(Case.category, innerjoin=True), selectinload(Case.events))
#: Actions that read or add joint-handling tasks (联合处置): the tasks and their departments
#: come in one statement more, instead of one lazy load per task, and so does the case's
#: department (the lead) in the first statement.
TASK_ACTIONS = frozenset({Action.DISPATCH_JOINT, Action.FINISH_TASK, Action.HANDLE})
TASK_LOADS = (joinedload(Case.department), selectinload(Case.tasks).joinedload(CaseTask.department))


def _effects(
    session: Session,
    case: Case,
    actor: User,
    action: Action,
    request: TransitionRequest,
    rules: CentreRules,
    now: datetime,
) -> dict[str, Any]:
    """Check what the action needs beyond the table and apply it to the case; return the
    facts the event records."""
    stray = request.model_fields_set - ALWAYS_ALLOWED_FIELDS - ACTION_FIELDS.get(action, frozenset())
    if stray:
        raise InvalidInput(
            f"{action.value} does not take {', '.join(sorted(stray))}",
            zh=f"「{ACTION_LABELS[action]}」不需要填写：{'、'.join(sorted(stray))}",
        )
    if action in DEPARTMENT_ACTIONS and actor.department_id != case.department_id:
        raise RoleNotAllowed(
            f"case {case.number} is not assigned to your department",
            zh=f"案件 {case.number} 没有派给您所在的部门",
        )
    if case.state is CaseState.ESCALATED and action in UPPER_LEVEL_ACTIONS:
        _require_upper_level(session, case, actor)
    if action is Action.ESCALATE:
        return {"from_region": actor.region.code if actor.region else None}
    if action is Action.DISPATCH:
        department = _department(session, actor, request.department_code, "dispatch")
        case.department = department
        return {"department": department.code}
    if action is Action.DISPATCH_JOINT:
        codes = [request.department_code or "", *request.assisting_department_codes]
        if not request.department_code:
            raise InvalidInput("dispatch_joint (lead) needs a department_code", zh="联合派遣须选择牵头部门")
        if len(codes) < 2 or len(set(codes)) != len(codes):
            raise InvalidInput(
                "dispatch_joint needs a lead and at least one other, distinct, department",
                zh="联合派遣须有一个牵头部门和至少一个协办部门，且各部门不能重复",
            )
        lead, *assisting = _departments(session, actor, codes, "dispatch_joint")
        case.department = lead
        for department in (lead, *assisting):
            case.tasks.append(CaseTask(department=department, is_lead=department is lead, assigned_at=now))
        return {"department": lead.code, "assisting_departments": codes[1:]}
    if action is Action.REJECT:
        rejected = case.department.code if case.department else None
        case.department = None
        return {"department": rejected}
    if action is Action.FINISH_TASK:
        task = _open_task(case, actor)
        task.done_at = now
        return {"department": task.department.code}
    if action is Action.HANDLE and case.state is CaseState.JOINT:
        waiting = [t.department.name for t in _current_tasks(case) if not t.is_lead and t.done_at is None]
        if waiting:
            raise InvalidInput(
                f"assisting departments have not finished their part: {'、'.join(waiting)}",
                zh=f"协办部门尚未完成各自的任务：{'、'.join(waiting)}",
            )
    if action is Action.FAIL_CHECK:
        case.rework_count += 1
    if action is Action.CLOSE:
        case.closed_at = now
    if action is Action.REVISIT:
        if request.satisfaction is None:
            raise InvalidInput("revisit needs the citizen's satisfaction", zh="回访须选择市民的满意度")
        case.satisfaction = request.satisfaction
        return {"satisfaction": request.satisfaction.value}
    if action is Action.MERGE:
        return _merge(session, case, actor, request)
    if action is Action.REQUEST_EXTENSION:
        return _extension_request(case, request, rules, now)
    if action is Action.APPROVE_EXTENSION:
        asked = case_queries.last_event(case, Action.REQUEST_EXTENSION)
        return dict(asked.data) if asked is not None else {}
    return {}


def _department(session: Session, actor: User, code: str | None, action: str) -> Department:
    """An active department the actor may send cases to: one serving the actor's region,
    a region above it (a district bureau) or one below it — never another street's."""
    if not code:
        raise InvalidInput(
            f"{action} needs a department_code", zh=f"「{ACTION_LABELS[Action(action)]}」须选择部门"
        )
    return _departments(session, actor, [code], action)[0]


def _departments(session: Session, actor: User, codes: list[str], action: str) -> list[Department]:
    """The departments with ``codes``, in that order, in one statement, each checked as
    ``_department`` does."""
    found = {
        department.code: department
        for department in session.scalars(
            select(Department)
            .options(joinedload(Department.region).defer(Region.boundary))
            .where(Department.code.in_(codes))
        )
    }
    departments = []
    for code in codes:
        department = found.get(code)
        if department is None:
            raise InvalidInput(f"unknown department code '{code}'", zh=f"没有编码为「{code}」的部门")
        if not department.is_active:
            raise InvalidInput(
                f"department {code} is not active", zh=f"{department.name}({code})已停用，不能接收案件"
            )
        mine, theirs = actor.region.path if actor.region else "", department.region.path
        if not (mine.startswith(theirs) or theirs.startswith(mine)):
            raise RoleNotAllowed(
                f"department {code} ({department.name}) serves another area than yours",
                zh=f"{department.name}({code})负责其他区域，不能向其派遣",
            )
        departments.append(department)
    return departments


def _require_upper_level(session: Session, case: Case, actor: User) -> None:
    """Only a centre above the one that escalated the case may take it on or send it back."""
    escalation = case_queries.last_event(case, Action.ESCALATE)
    code = escalation.data.get("from_region") if escalation is not None else None
    below = session.scalar(select(Region).where(Region.code == code)) if code else None
    mine = actor.region.path if actor.region else ""
    if below is None or not (below.path.startswith(mine) and below.path != mine):
        raise RoleNotAllowed(
            f"case {case.number} was escalated to the upper centre; it is theirs to act on",
            zh=f"案件 {case.number} 已上报上级，由上级指挥中心办理",
        )


def _current_tasks(case: Case) -> list[CaseTask]:
    """The tasks of the newest joint dispatch (an earlier one's tasks are history)."""
    latest = max((task.event.seq for task in case.tasks), default=None)
    return [task for task in case.tasks if task.event.seq == latest]


def _open_task(case: Case, actor: User) -> CaseTask:
    for task in _current_tasks(case):
        if task.department_id == actor.department_id and not task.is_lead:
            if task.done_at is not None:
                raise InvalidInput(
                    f"your department's part of case {case.number} is already done",
                    zh=f"您所在部门在案件 {case.number} 中的协办任务已经完成",
                )
            return task
    raise RoleNotAllowed(
        f"your department assists on no open part of case {case.number}",
        zh=f"您所在部门在案件 {case.number} 中没有待完成的协办任务",
    )


def _merge(session: Session, case: Case, actor: User, request: TransitionRequest) -> dict[str, Any]:
    if not request.merge_into:
        raise InvalidInput(
            "merge needs merge_into: the number of the case that is kept", zh="合并须填写要并入的案件编号"
        )
    if request.merge_into == case.number:
        raise InvalidInput("a case cannot be merged into itself", zh=f"案件 {case.number} 不能合并到自身")
    kept = case_queries.get_visible(session, actor, request.merge_into)
    # The kept case carries the duplicate's report from now on, so it must still be open:
    # a closed, revisited or archived file is not reopened by a merge, and a voided or merged
    # one will never be handled.
    if kept.state is CaseState.MERGED and kept.merged_into is not None:
        raise InvalidInput(
            f"case {kept.number} is merged into {kept.merged_into.number}; merge into that case",
            zh=f"案件 {kept.number} 已合并至 {kept.merged_into.number}，请改为合并到该案件",
        )
    if kept.state in FINAL_STATES:
        raise InvalidInput(
            f"case {kept.number} is {STATE_LABELS[kept.state]} ({kept.state.value}); "
            "merge only into a case that is still open",
            zh=f"案件 {kept.number} 处于「{STATE_LABELS[kept.state]}」状态，只能合并到仍在办理的案件",
        )
    case.merged_into = kept
    return {"merged_into": kept.number}


def _extension_request(
    case: Case, request: TransitionRequest, rules: CentreRules, now: datetime
) -> dict[str, Any]:
    if request.new_deadline is None:
        raise InvalidInput("request_extension needs new_deadline", zh="申请延期须填写新的期限")
    if request.new_deadline <= now:
        raise InvalidInput(
            f"new_deadline {request.new_deadline.isoformat()} is in the past",
            zh=f"新的期限 {_when(request.new_deadline, rules)} 已经过去，请选择今后的时间",
        )
    if request.new_deadline - now > timedelta(days=rules.max_extension_days):
        raise InvalidInput(
            f"new_deadline {request.new_deadline.isoformat()} is more than {rules.max_extension_days} days "
            "from now: an extension may reach at most that far (CIVICGRID_MAX_EXTENSION_DAYS)",
            zh=f"新的期限 {_when(request.new_deadline, rules)} 距今超过 {rules.max_extension_days} 天，"
            f"延期最多只能延至 {rules.max_extension_days} 天以内",
        )
    if case.deadline_at is None or case.stage is None:
        raise InvalidInput(
            f"case {case.number} has no running deadline to extend",
            zh=f"案件 {case.number} 当前没有正在计时的期限，无需延期",
        )
    if request.new_deadline <= case.deadline_at:
        raise InvalidInput(
            f"new_deadline must be later than the current deadline {case.deadline_at.isoformat()}",
            zh=f"新的期限须晚于当前期限 {_when(case.deadline_at, rules)}",
        )
    limit = stage_limits(case.category, case.urgency)[case.stage]
    extra = limit.measure(rules.calendar, case.deadline_at, request.new_deadline)
    return {"new_deadline": request.new_deadline.isoformat(), "extension_seconds": extra}


def changed_zh(number: str, read: object, now: object) -> str:
    """The refusal of a form read from an older version of case ``number``, in Chinese."""
    return f"案件 {number} 已被他人修改(您看到的是第 {read} 版，现在是第 {now} 版)，请刷新后重试"


def _when(moment: datetime, rules: CentreRules) -> str:
    """``moment`` in the centre's timezone, as a refusal quotes it: 2026年11月25日 14:30."""
    local = moment.astimezone(rules.calendar.timezone)
    return f"{local.year}年{local.month}月{local.day}日 {local:%H:%M}"


def _append_event(
    case: Case,
    actor: User,
    action: Action,
    from_state: CaseState | None,
    to_state: CaseState,
    now: datetime,
    note: str,
    data: dict[str, Any],
    note_is_public: bool = False,
) -> CaseEvent:
    event = CaseEvent(
        seq=len(case.events) + 1,
        action=action,
        from_state=from_state,
        to_state=to_state,
        actor=actor,
        # Set as well as the relationship: the statistics read it before the flush.
        actor_id=actor.id,
        actor_role=actor.role,
        at=now,
        note=note,
        note_is_public=note_is_public and bool(note),
        data=data,
    )
    case.events.append(event)
    return event


def refresh_clock(case: Case, rules: CentreRules) -> None:
    """Recompute the cached stage clock from the case's events (after each change, and when
    the centre's calendar changes)."""
    clock = stage_clock(
        case.events, stage_limits(case.category, case.urgency), rules.calendar, rules.warning_ratio
    )
    case.stage = clock.stage if clock else None
    case.stage_started_at = _utc(clock.started_at if clock else None)
    case.warning_at = _utc(clock.warning_at if clock else None)
    case.deadline_at = _utc(clock.deadline if clock else None)


def refresh_facts(case: Case, rules: CentreRules) -> None:
    """Recompute the statistics cached on the case from its events (``civicgrid.domain.facts``)."""
    limits = stage_limits(case.category, case.urgency)
    write_facts(case, case_facts(case.events, limits, rules.calendar))


def _utc(moment: datetime | None) -> datetime | None:
    """Times leave the store in UTC; keep fresh ones the same, so answers do not vary."""
    return moment.astimezone(UTC) if moment is not None else None


def open_actions(case: Case, actor: User) -> list[Action]:
    """The actions ``actor`` may take on ``case`` now: the workflow table's for its state and
    the actor's role, less those ``transition`` refuses for who the actor is: a step of
    another department's case, a joint-handling part that is not theirs (the lead hands in
    the result, an assisting department finishes its own part), and dispatching or sending
    back a case their own centre escalated. The case's tasks (and events) must be loaded."""

    def refused(action: Action) -> bool:
        if action in DEPARTMENT_ACTIONS and actor.department_id != case.department_id:
            return True
        if action is Action.FINISH_TASK:
            return not any(
                t.department_id == actor.department_id and not t.is_lead and t.done_at is None
                for t in _current_tasks(case)
            )
        if case.state is CaseState.ESCALATED and action in UPPER_LEVEL_ACTIONS:
            escalation = case_queries.last_event(case, Action.ESCALATE)
            sent_from = escalation.data.get("from_region") if escalation is not None else None
            return actor.region is not None and actor.region.code == sent_from
        return False

    return [action for action in workflow.allowed_actions(case.state, actor.role) if not refused(action)]
