"""The statistics queries: which cases each count of ``civicgrid.domain.indicators`` takes
in a period, counted with one GROUP BY per query (never a loop over cases), and the cases
behind any figure (its numerator or denominator) for tracing it back.

Every count is a condition on the statistics columns cached on the case row
(``civicgrid.domain.facts``), except the dispatch counts, which count dispatch events. Each
query starts from ``scoped``: a user counts only the cases they may see.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, Select, and_, case, exists, func, not_, null, or_, select, true
from sqlalchemy.orm import InstrumentedAttribute, Session, aliased

from civicgrid.domain.errors import InvalidInput
from civicgrid.domain.vocabulary import Action, CaseState, Channel, Satisfaction
from civicgrid.store.models import Case, CaseEvent, User
from civicgrid.store.scoping import scoped

DISPATCHES = (Action.DISPATCH, Action.DISPATCH_JOINT)


@dataclass(frozen=True)
class Window:
    """The period [start, end) and the moment the figures are taken (``as_of``: the end of
    the period, or now if the period has not ended): a deadline counts as due once reached."""

    start: datetime
    end: datetime
    as_of: datetime

    @classmethod
    def of(cls, start: datetime, end: datetime, now: datetime) -> Window:
        """The window of [start, end) seen at ``now``."""
        return cls(start, end, min(end, now))

    @property
    def short(self) -> bool:
        """A week or less: its rows are best found through the time indexes alone, the
        scope only sifting them (a day of a whole district is fewer rows than a street's
        whole history)."""
        return self.end - self.start <= SHORT


SHORT = timedelta(days=7)


Condition = Callable[[Window], ColumnElement[bool]]


def _in(
    column: InstrumentedAttribute[datetime | None] | InstrumentedAttribute[datetime], w: Window
) -> ColumnElement[bool]:
    return and_(column >= w.start, column < w.end)


def _due_undone(
    deadline: InstrumentedAttribute[datetime | None], done: InstrumentedAttribute[datetime | None], w: Window
) -> ColumnElement[bool]:
    """The deadline was reached in the period and the run was not completed by its end."""
    return and_(deadline >= w.start, deadline < w.as_of, or_(done.is_(None), done >= w.end))


def _not_parked(w: Window) -> ColumnElement[bool]:
    """Not parked (挂账) at the end of the period."""
    return or_(Case.suspended_at.is_(None), Case.suspended_at >= w.end)


def _live(w: Window) -> ColumnElement[bool]:
    """Neither voided nor parked (挂账) at the end of the period."""
    return and_(Case.voided_at.is_(None), _not_parked(w))


def _on_time(
    done: InstrumentedAttribute[datetime | None], deadline: InstrumentedAttribute[datetime | None]
) -> ColumnElement[bool]:
    """Completed no later than the deadline in force (a stage without a limit is always on time)."""
    return or_(deadline.is_(None), done <= deadline)


def _stage_counts(
    done: InstrumentedAttribute[datetime | None], deadline: InstrumentedAttribute[datetime | None]
) -> tuple[Condition, Condition, Condition]:
    """(completed in the period, completed on time, due): the three counts of a stage."""

    def completed(w: Window) -> ColumnElement[bool]:
        return _in(done, w)

    def on_time(w: Window) -> ColumnElement[bool]:
        return and_(_in(done, w), _on_time(done, deadline))

    def due(w: Window) -> ColumnElement[bool]:
        return or_(_in(done, w), and_(_due_undone(deadline, done, w), _live(w)))

    return completed, on_time, due


_verified, _verified_on_time, _due_verification = _stage_counts(Case.verified_at, Case.verify_deadline_at)
_checked, _checked_on_time, _due_check = _stage_counts(Case.checked_at, Case.check_deadline_at)
_dispatch_done, _dispatched_on_time, _due_dispatch = _stage_counts(
    Case.dispatched_at, Case.dispatch_deadline_at
)
_handled, _handled_on_time, _due_handling = _stage_counts(Case.handled_at, Case.handle_deadline_at)


def _reported(w: Window) -> ColumnElement[bool]:
    return _in(Case.created_at, w)


def _inspector_reported(w: Window) -> ColumnElement[bool]:
    return and_(_reported(w), Case.channel == Channel.INSPECTOR)


def _registered(w: Window) -> ColumnElement[bool]:
    return and_(_in(Case.registered_at, w), _not_parked(w))


def _closed(w: Window) -> ColumnElement[bool]:
    return _in(Case.closed_at, w)


def _due_open(w: Window) -> ColumnElement[bool]:
    return and_(_due_undone(Case.handle_deadline_at, Case.closed_at, w), _live(w))


def _due_unhandled(w: Window) -> ColumnElement[bool]:
    return and_(_due_undone(Case.handle_deadline_at, Case.handled_at, w), _live(w))


def _handled_late(w: Window) -> ColumnElement[bool]:
    return and_(_handled(w), not_(_on_time(Case.handled_at, Case.handle_deadline_at)))


def _overdue(w: Window) -> ColumnElement[bool]:
    return or_(_handled_late(w), _due_unhandled(w))


def _grid_registered(w: Window) -> ColumnElement[bool]:
    """Registered in a grid that has an inspector (the one the case was placed with)."""
    return and_(_registered(w), Case.inspector_id.is_not(None))


#: Each case-based count: its condition. ``registered`` keeps voided cases (准确立案 needs
#: them) and leaves out those parked (挂账) at the end of the period (立案 − 挂账).
CASE_COUNTS: dict[str, Condition] = {
    "reported": _reported,
    "inspector_reported": _inspector_reported,
    "valid_inspector_reports": lambda w: and_(_inspector_reported(w), Case.registered_at.is_not(None)),
    "public_verified": lambda w: and_(_registered(w), Case.channel != Channel.INSPECTOR),
    "registered": _registered,
    "voided": lambda w: and_(_registered(w), Case.voided_at.is_not(None)),
    "accurate_registered": lambda w: and_(_registered(w), Case.voided_at.is_(None)),
    "registered_on_time": lambda w: and_(
        _registered(w), _on_time(Case.registered_at, Case.register_deadline_at)
    ),
    "grid_registered": _grid_registered,
    # 漏报: a real problem (not voided) in an inspector's grid that reached the centre another way.
    "missed_reports": lambda w: and_(
        _grid_registered(w), Case.channel != Channel.INSPECTOR, Case.voided_at.is_(None)
    ),
    "closed": _closed,
    "closed_on_time": lambda w: and_(_closed(w), _on_time(Case.closed_at, Case.handle_deadline_at)),
    "due_open": _due_open,
    "due_closure": lambda w: or_(_closed(w), _due_open(w)),
    "handled": _handled,
    "handled_on_time": _handled_on_time,
    "handled_late": _handled_late,
    "due_unhandled": _due_unhandled,
    "due_handling": _due_handling,
    "overdue": _overdue,
    # Supervised (督办) before the end of the period, so that a finished period's figure stays put.
    "supervised_overdue": lambda w: and_(_overdue(w), Case.supervised_at < w.end),
    "rework": lambda w: and_(_handled(w), Case.rework_count > 0),
    "verified": _verified,
    "verified_on_time": _verified_on_time,
    "due_verification": _due_verification,
    "checked": _checked,
    "checked_on_time": _checked_on_time,
    "due_check": _due_check,
    "dispatch_done": _dispatch_done,
    "dispatched_on_time": _dispatched_on_time,
    "due_dispatch": _due_dispatch,
    "revisited": lambda w: and_(_closed(w), Case.revisited_at.is_not(None)),
    "rated": lambda w: and_(_closed(w), Case.satisfaction.is_not(None)),
    "satisfied": lambda w: and_(
        _closed(w), Case.satisfaction.in_([Satisfaction.SATISFIED, Satisfaction.BASICALLY_SATISFIED])
    ),
    "not_satisfied": lambda w: and_(_closed(w), Case.satisfaction == Satisfaction.NOT_SATISFIED),
    "merged": lambda w: and_(_reported(w), Case.state == CaseState.MERGED),
}

#: The date columns a count can only be true with one of them inside the period: the rows a
#: query reads are those with any of them in the period, each found through its index.
ANCHORS: dict[str, tuple[InstrumentedAttribute[datetime | None] | InstrumentedAttribute[datetime], ...]] = {
    "reported": (Case.created_at,),
    "inspector_reported": (Case.created_at,),
    "valid_inspector_reports": (Case.created_at,),
    "merged": (Case.created_at,),
    "public_verified": (Case.registered_at,),
    "registered": (Case.registered_at,),
    "voided": (Case.registered_at,),
    "accurate_registered": (Case.registered_at,),
    "registered_on_time": (Case.registered_at,),
    "grid_registered": (Case.registered_at,),
    "missed_reports": (Case.registered_at,),
    "closed": (Case.closed_at,),
    "closed_on_time": (Case.closed_at,),
    "revisited": (Case.closed_at,),
    "rated": (Case.closed_at,),
    "satisfied": (Case.closed_at,),
    "not_satisfied": (Case.closed_at,),
    "due_open": (Case.handle_deadline_at,),
    "due_closure": (Case.closed_at, Case.handle_deadline_at),
    "handled": (Case.handled_at,),
    "handled_on_time": (Case.handled_at,),
    "handled_late": (Case.handled_at,),
    "rework": (Case.handled_at,),
    "due_unhandled": (Case.handle_deadline_at,),
    "due_handling": (Case.handled_at, Case.handle_deadline_at),
    "overdue": (Case.handled_at, Case.handle_deadline_at),
    "supervised_overdue": (Case.handled_at, Case.handle_deadline_at),
    "verified": (Case.verified_at,),
    "verified_on_time": (Case.verified_at,),
    "due_verification": (Case.verified_at, Case.verify_deadline_at),
    "checked": (Case.checked_at,),
    "checked_on_time": (Case.checked_at,),
    "due_check": (Case.checked_at, Case.check_deadline_at),
    "dispatch_done": (Case.dispatched_at,),
    "dispatched_on_time": (Case.dispatched_at,),
    "due_dispatch": (Case.dispatched_at, Case.dispatch_deadline_at),
}

_later = aliased(CaseEvent)
_between = aliased(CaseEvent)


def _rejected() -> ColumnElement[bool]:
    """The dispatch event was refused by the department (退单) before any later dispatch."""
    return (
        exists()
        .where(
            _later.case_id == CaseEvent.case_id,
            _later.seq > CaseEvent.seq,
            _later.action == Action.REJECT,
            ~exists()
            .where(
                _between.case_id == CaseEvent.case_id,
                _between.seq > CaseEvent.seq,
                _between.seq < _later.seq,
                _between.action.in_(DISPATCHES),
            )
            .correlate_except(_between),
        )
        .correlate_except(_later)
    )


#: Counts of dispatch events (each dispatch counts once, by the dispatcher who made it).
EVENT_COUNTS: dict[str, Callable[[], ColumnElement[bool]]] = {
    "dispatched": true,
    "misdispatched": _rejected,
    "accurate_dispatched": lambda: not_(_rejected()),
}

#: Who a count is attributed to, per person dimension (a user id column); counts missing
#: from a dimension are not counted per person of that kind.
PERSON_COLUMNS: dict[str, dict[str, ColumnElement[int | None]]] = {
    "inspector": {
        **dict.fromkeys(("inspector_reported", "valid_inspector_reports"), Case.reported_by_id),
        **dict.fromkeys(("verified", "verified_on_time", "due_verification"), Case.verified_by_id),
        **dict.fromkeys(("checked", "checked_on_time", "due_check"), Case.checked_by_id),
        # The cases of the grids the inspector served when each case was placed.
        **dict.fromkeys(("grid_registered", "missed_reports"), Case.inspector_id),
    },
    "operator": {
        **dict.fromkeys(("reported", "merged"), Case.reported_by_id),
        **dict.fromkeys(
            ("registered", "voided", "accurate_registered", "registered_on_time", "public_verified"),
            Case.registered_by_id,
        ),
    },
    "dispatcher": {
        **dict.fromkeys(("dispatch_done", "dispatched_on_time", "due_dispatch"), Case.dispatched_by_id),
        **dict.fromkeys(EVENT_COUNTS, CaseEvent.actor_id),
    },
}

#: The group-by dimensions read straight off a case column (regions and big classes are
#: rolled up from these by the service). The id columns are grouped as ``id + 0``: a query
#: finds its rows through the time indexes of its anchors and sorts the few it found into
#: groups; grouped by the bare column, SQLite would rather walk the column's index in order,
#: which reads every case ever stored.
CASE_COLUMNS: dict[str, ColumnElement[object]] = {
    "region": Case.region_id + 0,
    "grid": Case.grid_id + 0,
    "department": Case.department_id + 0,
    "category": Case.category_id + 0,
    "channel": Case.channel,
    "request_type": Case.request_type,
}

Key = object
Counted = dict[Key, dict[str, int]]


def count(
    session: Session,
    actor: User,
    window: Window,
    counts: list[str],
    column: str | None,
    narrow: ColumnElement[bool],
) -> Counted:
    """The ``counts`` in ``window`` of the cases ``actor`` sees that match ``narrow``,
    grouped by the dimension ``column`` (a key of CASE_COLUMNS or PERSON_COLUMNS; None: one
    group, keyed None). One query per kind of count (and per person column)."""
    result: Counted = {}
    for group, keys, is_event in _queries(counts, column):
        if is_event:
            query = _event_query(actor, window, keys, group, narrow)
        else:
            query = _case_query(actor, window, keys, [] if group is None else [group], narrow)
        for row in session.execute(query):
            values = result.setdefault(row[0], {})
            for key, value in zip(keys, row[1:], strict=True):
                values[key] = int(value or 0)
    return result


def count_grouped(
    session: Session,
    actor: User,
    window: Window,
    counts: list[str],
    columns: list[str],
    narrow: ColumnElement[bool],
) -> dict[tuple[Key, ...], dict[str, int]]:
    """The case ``counts`` in ``window`` of the cases ``actor`` sees that match ``narrow``,
    grouped by the case dimensions ``columns`` (keys of CASE_COLUMNS) together, in one
    query: a caller wanting the same period grouped several ways sums these rows per
    dimension instead of reading the period once per grouping."""
    events = [key for key in counts if key in EVENT_COUNTS]
    if events:
        raise InvalidInput(f"counts of events cannot be grouped together: {', '.join(events)}")
    groups = [CASE_COLUMNS[column] for column in columns]
    width = len(groups)
    result: dict[tuple[Key, ...], dict[str, int]] = {}
    for row in session.execute(_case_query(actor, window, counts, groups, narrow)):
        result[tuple(row[:width])] = {
            key: int(value or 0) for key, value in zip(counts, row[width:], strict=True)
        }
    return result


def _queries(
    counts: list[str], column: str | None
) -> list[tuple[ColumnElement[object] | None, list[str], bool]]:
    """(group column, counts, whether of events) for each query the counts need."""
    plans: dict[tuple[object, bool], tuple[ColumnElement[object] | None, list[str]]] = {}
    for key in counts:
        is_event = key in EVENT_COUNTS
        group: ColumnElement[object] | None
        if column is None:
            group = None
        elif column in PERSON_COLUMNS:
            person = PERSON_COLUMNS[column].get(key)
            if person is None:
                raise InvalidInput(f"indicator part '{key}' is not counted per {column}")
            group = person
        else:
            group = CASE_COLUMNS[column]
        plans.setdefault((None if group is None else str(group), is_event), (group, []))[1].append(key)
    return [(group, keys, is_event) for (_, is_event), (group, keys) in plans.items()]


def _sums(conditions: list[ColumnElement[bool]]) -> list[ColumnElement[int]]:
    return [func.sum(case((condition, 1), else_=0)) for condition in conditions]


def _case_query(
    actor: User, w: Window, keys: list[str], groups: list[ColumnElement[object]], narrow: ColumnElement[bool]
) -> Select[tuple[object, ...]]:
    """The sums of ``keys`` per combination of ``groups`` (one row labelled NULL if none)."""
    anchors = {column.key: column for key in keys for column in ANCHORS[key]}
    rows = or_(*(_in(column, w) for column in anchors.values()))
    labels = groups or [null()]
    query = scoped(select(Case), actor, by_time=w.short).where(rows, narrow)
    query = query.with_only_columns(*labels, *_sums([CASE_COUNTS[key](w) for key in keys]))
    return query.group_by(*groups) if groups else query


def _event_query(
    actor: User, w: Window, keys: list[str], group: ColumnElement[object] | None, narrow: ColumnElement[bool]
) -> Select[tuple[object, ...]]:
    label = group if group is not None else null()
    query = (
        scoped(select(Case), actor, by_time=w.short)
        .join(CaseEvent, CaseEvent.case_id == Case.id)
        .where(CaseEvent.action.in_(DISPATCHES), _in(CaseEvent.at, w), narrow)
    )
    query = query.with_only_columns(label, *_sums([EVENT_COUNTS[key]() for key in keys]))
    return query.group_by(group) if group is not None else query


def cases_of(
    actor: User, window: Window, key: str, person: tuple[str, int | None] | None, narrow: ColumnElement[bool]
) -> Select[tuple[Case]]:
    """The cases ``actor`` sees that make up count ``key`` in ``window`` (matching ``narrow``,
    and attributed to the user ``person`` = (dimension, user id) if given), newest first."""
    query = scoped(select(Case), actor).where(narrow)
    if key in EVENT_COUNTS:
        events = select(CaseEvent.case_id).where(
            CaseEvent.action.in_(DISPATCHES), _in(CaseEvent.at, window), EVENT_COUNTS[key]()
        )
        if person is not None:
            events = events.where(_is(CaseEvent.actor_id, person[1]))
        query = query.where(Case.id.in_(events))
    else:
        query = query.where(CASE_COUNTS[key](window))
        if person is not None:
            column = PERSON_COLUMNS[person[0]].get(key)
            if column is None:
                raise InvalidInput(f"indicator part '{key}' is not counted per {person[0]}")
            query = query.where(_is(column, person[1]))
    return query.order_by(Case.created_at.desc(), Case.id.desc())


def _is(column: ColumnElement[int | None], value: int | None) -> ColumnElement[bool]:
    return column.is_(None) if value is None else column == value
