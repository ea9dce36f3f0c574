"""Alerts (提醒): who is told when a case turns yellow or red, when an extension waits for
approval, and when a supervisor urges a case on (督办); each alert is stored once per user
(``Notification``), announced on the live stream, and sent by SMS or e-mail to a signed-out
user who asked for it (through the outbox, in the same transaction: never twice).

Who is concerned, by the stage the case is in (the party whose move it is):

- verify, check: the case's grid inspector (网格员);
- dispatch: the dispatchers of the nearest level above the case that has any (for an
  escalated case, the level above the one that escalated it);
- handle: the handlers of the responsible department, and the dispatcher who dispatched it.

A yellow light tells them and the supervisors whose region holds the case; a red one the
leaders of that region as well. A supervision note tells the responsible party; an extension
request those the workflow table lets approve it, in that region. The user who caused an
alert is never told of it.

Lights turn by time as well as by actions: ``evaluate_lights`` (the minute job) finds the
open cases whose warning or deadline time passed since its last run — two index range
scans, however many cases are open — and a write that leaves a case yellow or red with a
new deadline alerts at once (``after_change``).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import and_, exists, func, literal, or_, select
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from civicgrid.domain import workflow
from civicgrid.domain.clock import light_at
from civicgrid.domain.vocabulary import (
    ALERT_KIND_LABELS,
    STAGE_LABELS,
    Action,
    AlertKind,
    CaseState,
    Light,
    Role,
    Stage,
)
from civicgrid.live import journal
from civicgrid.live.changes import ALERT, isoformat
from civicgrid.outbox.messages import enqueue_email, enqueue_sms
from civicgrid.store.models import (
    ApiToken,
    Case,
    CaseEvent,
    JobMark,
    Notification,
    NotificationSetting,
    Region,
    User,
)

#: The roles alerts go to (who approves an extension comes from the workflow table).
_APPROVERS = workflow.edge_for(CaseState.EXTENSION_REQUESTED, Action.APPROVE_EXTENSION).roles
ALERTED_ROLES = frozenset({Role.HANDLER, Role.DISPATCHER, Role.INSPECTOR, Role.SUPERVISOR, Role.LEADER})
ALERTED_ROLES |= _APPROVERS
#: Longest text of an alert (the column's size); a case title is cut to fit a text message.
TEXT_LENGTH = 300
TITLE_LENGTH = 40
#: The minute job's mark (``JobMark.name``).
LIGHT_JOB = "lights"


@dataclass(frozen=True)
class CaseFacts:
    """What an alert needs of a case."""

    id: int
    number: str
    title: str
    state: CaseState
    stage: Stage | None
    region_path: str
    department_id: int | None
    dispatched_by_id: int | None
    inspector_id: int | None
    deadline_at: datetime | None

    @classmethod
    def of(cls, case: Case) -> CaseFacts:
        return cls(
            case.id,
            case.number,
            case.title,
            case.state,
            case.stage,
            case.region.path,
            case.department_id,
            case.dispatched_by_id,
            case.inspector_id,
            case.deadline_at,
        )


@dataclass(frozen=True)
class Member:
    """A staff member who may be alerted: their scope, and how they want alerts while signed out."""

    id: int
    role: Role
    region_path: str | None
    department_id: int | None
    sms_phone: str | None
    email: str | None
    kinds: frozenset[str]
    signed_in: bool

    def channels(self, kind: AlertKind) -> list[str]:
        """How an alert of ``kind`` also goes out now: none while signed in."""
        if self.signed_in or kind.value not in self.kinds:
            return []
        return [name for name, address in (("sms", self.sms_phone), ("email", self.email)) if address]


@lru_cache(maxsize=4096)
def _prefixes(path: str) -> tuple[str, ...]:
    """The paths of the regions that hold the region at ``path``, top down: "/a/b/" gives
    ("/a/", "/a/b/"). A district has a few thousand regions at most: remembered."""
    parts = [part for part in path.split("/") if part]
    return tuple("/" + "/".join(parts[: depth + 1]) + "/" for depth in range(len(parts)))


class Staff:
    """The members who may be alerted, indexed by department and by role and region."""

    def __init__(self, members: Iterable[Member]) -> None:
        self.by_id: dict[int, Member] = {}
        self.handlers: dict[int, list[Member]] = defaultdict(list)
        self.by_region: dict[tuple[Role, str], list[Member]] = defaultdict(list)
        for member in members:
            self.by_id[member.id] = member
            if member.role is Role.HANDLER and member.department_id is not None:
                self.handlers[member.department_id].append(member)
            elif member.region_path:
                self.by_region[(member.role, member.region_path)].append(member)

    def holding(self, role: Role, path: str) -> list[Member]:
        """The members of ``role`` whose region holds the region at ``path``, at every level."""
        return [member for prefix in _prefixes(path) for member in self.by_region.get((role, prefix), ())]

    def nearest(self, role: Role, path: str, skip: int = 0) -> list[Member]:
        """The members of ``role`` at the deepest level above ``path`` that has any, after
        passing over ``skip`` levels that have some."""
        for prefix in reversed(_prefixes(path)):
            found = self.by_region.get((role, prefix))
            if found:
                if skip == 0:
                    return list(found)
                skip -= 1
        return []

    def responsible(self, case: CaseFacts) -> list[Member]:
        """The party whose move it is (see the module's docstring)."""
        one = [self.by_id[i] for i in (case.inspector_id,) if i is not None and i in self.by_id]
        if case.stage in (Stage.VERIFY, Stage.CHECK):
            return one
        if case.department_id is not None and case.stage in (Stage.HANDLE, None):
            dispatcher = case.dispatched_by_id
            return [*self.handlers.get(case.department_id, ()), *([self.by_id[dispatcher]] if dispatcher in self.by_id else [])]  # type: ignore[index]  # fmt: skip
        return self.nearest(Role.DISPATCHER, case.region_path, skip=int(case.state is CaseState.ESCALATED))

    def concerned(self, case: CaseFacts, kind: AlertKind, actor_id: int | None = None) -> list[Member]:
        """Who is told of an alert of ``kind`` about ``case`` (each once, never its actor)."""
        if kind is AlertKind.EXTENSION:
            found = [m for role in sorted(_APPROVERS) for m in self.holding(role, case.region_path)]
        else:
            found = self.responsible(case)
            if kind in (AlertKind.YELLOW, AlertKind.RED):
                found += self.holding(Role.SUPERVISOR, case.region_path)
            if kind is AlertKind.RED:
                found += self.holding(Role.LEADER, case.region_path)
        unique = {member.id: member for member in found if member.id != actor_id}
        return list(unique.values())


def load_staff(session: Session, now: datetime, case: CaseFacts | None = None) -> Staff:
    """The active members of the alerted roles, with their settings and whether they hold a
    live sign-in; only those who may be concerned with ``case`` if given (one statement)."""
    signed_in = (
        exists()
        .where(ApiToken.user_id == User.id, ApiToken.revoked_at.is_(None), ApiToken.expires_at > now)
        .correlate(User)
    )
    query = (
        select(
            User.id,
            User.role,
            Region.path,
            User.department_id,
            NotificationSetting.sms_phone,
            NotificationSetting.email,
            NotificationSetting.kinds,
            signed_in,
        )
        .outerjoin(Region, Region.id == User.region_id)
        .outerjoin(NotificationSetting, NotificationSetting.user_id == User.id)
        .where(User.is_active, User.role.in_(sorted(ALERTED_ROLES)))
    )
    if case is not None:
        # The regions holding the case's: their path is a prefix of its path.
        holds = func.substr(literal(case.region_path), 1, func.length(Region.path)) == Region.path
        wanted = [holds]
        if case.department_id is not None:
            wanted.append(User.department_id == case.department_id)
        named = [i for i in (case.dispatched_by_id, case.inspector_id) if i is not None]
        if named:
            wanted.append(User.id.in_(named))
        query = query.where(or_(*wanted))
    return Staff(
        Member(row[0], row[1], row[2], row[3], row[4], row[5], frozenset(row[6] or ()), bool(row[7]))
        for row in session.execute(query)
    )


# --- what an alert says ---------------------------------------------------------------------


@dataclass(frozen=True)
class Alert:
    """An alert about a case, before it is known who is told."""

    case: CaseFacts
    kind: AlertKind
    #: See ``Notification.occasion``.
    occasion: str
    text: str
    actor_id: int | None = None


def _title(case: CaseFacts) -> str:
    title = case.title if len(case.title) <= TITLE_LENGTH else case.title[: TITLE_LENGTH - 1] + "…"
    return f"{case.number}「{title}」"


def _when(moment: datetime, zone: ZoneInfo) -> str:
    local = moment.astimezone(zone)
    return f"{local.month}月{local.day}日 {local:%H:%M}"


def _cut(text: str) -> str:
    return text if len(text) <= TEXT_LENGTH else text[: TEXT_LENGTH - 1] + "…"


def light_alert(case: CaseFacts, light: Light, zone: ZoneInfo) -> Alert:
    """The alert of a stage that turned yellow or red (once per stage and deadline)."""
    assert case.stage is not None and case.deadline_at is not None
    stage, due = STAGE_LABELS[case.stage], _when(case.deadline_at, zone)
    if light is Light.RED:
        kind, text = AlertKind.RED, f"{_title(case)}{stage}已超期(期限 {due})，请尽快办理"
    else:
        kind, text = AlertKind.YELLOW, f"{_title(case)}{stage}临近期限，须在 {due} 前完成"
    return Alert(case, kind, f"{case.stage.value}@{isoformat(case.deadline_at)}", _cut(text))


def event_alert(case: CaseFacts, event: CaseEvent, zone: ZoneInfo) -> Alert | None:
    """The alert an event raises, if any: an extension request, a supervision note."""
    occasion = f"event:{event.seq}"
    if event.action is Action.REQUEST_EXTENSION:
        asked = datetime.fromisoformat(str(event.data.get("new_deadline")))
        text = f"{_title(case)}申请延期至 {_when(asked, zone)}，待您审批"
        return Alert(case, AlertKind.EXTENSION, occasion, _cut(text), event.actor_id)
    if event.action is Action.SUPERVISE:
        text = f"{_title(case)}被督办：{event.note}" if event.note else f"{_title(case)}被督办，请尽快办理"
        return Alert(case, AlertKind.SUPERVISION, occasion, _cut(text), event.actor_id)
    return None


# --- giving alerts ----------------------------------------------------------------------------


def _insert(session: Session) -> Any:
    dialect = session.get_bind().dialect.name
    table = Notification.__table__
    statement = (postgresql_insert if dialect == "postgresql" else sqlite_insert)(table)
    return statement.on_conflict_do_nothing(
        index_elements=["user_id", "kind", "case_id", "occasion"]
    ).returning(table.c.id, table.c.user_id, table.c.kind, table.c.case_id, table.c.text, table.c.sent_by)


def emit(session: Session, alerts: Sequence[Alert], staff: Staff, now: datetime) -> int:
    """Store ``alerts`` for everyone concerned, except where stored before (same user, kind,
    case and occasion); announce each new one on the live stream and send it by SMS or
    e-mail where a signed-out user asked for it. How many notifications are new."""
    rows: list[dict[str, Any]] = []
    numbers: dict[int, str] = {}
    for alert in alerts:
        numbers[alert.case.id] = alert.case.number
        for member in staff.concerned(alert.case, alert.kind, alert.actor_id):
            rows.append(
                {
                    "user_id": member.id,
                    "kind": alert.kind,
                    "case_id": alert.case.id,
                    "occasion": alert.occasion,
                    "text": alert.text,
                    "created_at": now,
                    "sent_by": ",".join(member.channels(alert.kind)) or None,
                }
            )
    if not rows:
        return 0
    # One statement, its rows sent in batches (insertmanyvalues): compiled once, however many.
    created = list(session.execute(_insert(session), rows))
    if not created:
        return 0
    users = sorted({row.user_id for row in created})
    unread = dict(
        session.execute(
            select(Notification.user_id, func.count())
            .where(Notification.user_id.in_(users), Notification.read_at.is_(None))
            .group_by(Notification.user_id)
        ).all()
    )
    for row in created:
        kind = AlertKind(row.kind)
        journal.record(
            session,
            ALERT,
            row.user_id,
            now,
            {
                "id": row.id,
                "kind": kind.value,
                "number": numbers[row.case_id],
                "text": row.text,
                "at": isoformat(now),
                "unread": unread.get(row.user_id, 0),
            },
        )
        member = staff.by_id[row.user_id]
        stream = f"notify:{row.user_id}"
        for channel in (row.sent_by or "").split(","):
            if channel == "sms" and member.sms_phone:
                enqueue_sms(
                    session, member.sms_phone, f"【{ALERT_KIND_LABELS[kind]}】{row.text}", now, stream
                )
            elif channel == "email" and member.email:
                enqueue_email(session, member.email, f"【{ALERT_KIND_LABELS[kind]}】{numbers[row.case_id]}", row.text, now, stream)  # fmt: skip
    return len(created)


def after_change(
    session: Session,
    case: Case,
    event: CaseEvent,
    before: tuple[Stage | None, datetime | None],
    zone: ZoneInfo,
    now: datetime,
) -> None:
    """What a case write owes the live stream and the alerts, in its transaction: the case's
    journal entry; the alert its event raises (extension request, supervision); and, when
    the write gave the stage a new deadline that has already come near or passed (a late
    work order, a re-dispatch of an overdue case), the light's alert at once."""
    journal.record_case(session, case, now)
    facts: CaseFacts | None = None
    alerts: list[Alert] = []
    if event.action in (Action.REQUEST_EXTENSION, Action.SUPERVISE):
        facts = CaseFacts.of(case)
        raised = event_alert(facts, event, zone)
        if raised is not None:
            alerts.append(raised)
    if (case.stage, case.deadline_at) != before:
        light = light_at(now, case.warning_at, case.deadline_at)
        if light in (Light.YELLOW, Light.RED):
            facts = facts or CaseFacts.of(case)
            alerts.append(replace(light_alert(facts, light, zone), actor_id=event.actor_id))
    if alerts:
        assert facts is not None
        emit(session, alerts, load_staff(session, now, facts), now)


# --- the minute job ---------------------------------------------------------------------------


#: Turned cases handled per transaction. On SQLite the job holds the one write lock while
#: it writes, so a burst (a day's turns after an outage) goes in slices that each leave the
#: desks' writes waiting for a fraction of a second only.
LIGHT_BATCH = 2000


@dataclass(frozen=True)
class LightRun:
    """What one run (or one slice of a run) of the minute job did: the time it covered, the
    cases whose light turned in it, the notifications it gave, the journal entries it
    deleted; ``more_after``: the last case id handled when more may remain (see
    ``evaluate_lights``), None when the run is complete and the mark moved."""

    since: datetime
    until: datetime
    turned: int
    notified: int
    pruned: int
    more_after: int | None = None


def turned_between(since: datetime, until: datetime) -> Any:
    """Open cases whose light turned in (since, until]: their warning or deadline time lies
    in it. Each is a range on an indexed column; a suspended or finished case has neither."""
    return or_(
        and_(Case.warning_at > since, Case.warning_at <= until),
        and_(Case.deadline_at > since, Case.deadline_at <= until),
    )


def evaluate_lights(
    session: Session,
    zone: ZoneInfo,
    now: datetime,
    period: timedelta,
    keep: timedelta,
    *,
    after_id: int = 0,
    batch: int = LIGHT_BATCH,
) -> LightRun:
    """One run of the minute job, in the caller's transaction: the lights that turned since
    the last run (on the first, since ``period`` ago) alert once each and every such case's
    change goes on the live stream; then journal entries older than ``keep`` are deleted and
    the job's mark moves to ``now``.

    At most ``batch`` cases are handled (those with ids after ``after_id``); when that many
    were, the run is not complete: ``more_after`` says where the next slice (the same
    ``now``, its own transaction) goes on, and the mark stays until the last slice. A slice
    done twice (the job died between slices) gives no alert twice: they are unique.
    A system job: it reads every case, not a user's scope."""
    query = select(JobMark).where(JobMark.name == LIGHT_JOB)
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update()
    mark = session.scalar(query)
    since = mark.done_until if mark is not None else now - period
    if since >= now:
        return LightRun(since, now, 0, 0, 0)
    found = session.execute(
        select(
            Case.id,
            Case.number,
            Case.title,
            Case.state,
            Case.stage,
            Region.path,
            Case.department_id,
            Case.dispatched_by_id,
            Case.inspector_id,
            Case.deadline_at,
            Case.warning_at,
        )
        .join(Region, Region.id == Case.region_id)
        .where(turned_between(since, now), Case.id > after_id)
        .order_by(Case.id)
        .limit(batch)
    ).all()
    alerts = []
    for row in found:
        light = light_at(now, row.warning_at, row.deadline_at)
        if light in (Light.YELLOW, Light.RED) and row.stage is not None:
            alerts.append(light_alert(CaseFacts(*row[:10]), light, zone))
    journal.record_case_ids(session, [row.id for row in found], now)
    notified = emit(session, alerts, load_staff(session, now), now) if alerts else 0
    if len(found) == batch:
        return LightRun(since, now, len(found), notified, 0, more_after=found[-1].id)
    pruned = journal.prune(session, now - keep)
    if mark is None:
        session.add(JobMark(name=LIGHT_JOB, done_until=now))
    else:
        mark.done_until = now
    session.flush()
    return LightRun(since, now, len(found), notified, pruned)
