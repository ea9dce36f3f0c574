"""The closed loop of a case as one table: (state, action) → (next state, roles allowed).

Every edge says why it exists. ``apply`` is the only way a state changes; it raises a
domain error naming the state and the action. The current state of a case is derived by
replaying its events through the same table (``replay``).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from civicgrid.domain.errors import InvalidInput, RoleNotAllowed, TransitionNotAllowed
from civicgrid.domain.vocabulary import (
    ACTION_LABELS,
    FINAL_STATES,
    ROLE_LABELS,
    STATE_LABELS,
    Action,
    CaseState,
    Role,
)

S = CaseState
A = Action
R = Role

INTAKE = frozenset({R.OPERATOR, R.DISPATCHER})
DISPATCH = frozenset({R.DISPATCHER})
DEPARTMENT = frozenset({R.HANDLER})
FIELD = frozenset({R.INSPECTOR})
OVERSIGHT = frozenset({R.SUPERVISOR, R.LEADER})
APPROVAL = frozenset({R.LEADER})
STAFF = frozenset(Role) - {R.CITIZEN}


@dataclass(frozen=True)
class Edge:
    """One allowed move: from ``source`` by ``action`` to ``target`` (None: back to the
    state the case was in before it was suspended), by one of ``roles``."""

    source: CaseState
    action: Action
    target: CaseState | None
    roles: frozenset[Role]
    why: str


#: Marker target for "return to where the case was before": only ``resume`` uses it.
PREVIOUS = None

_MAIN_LOOP = [
    Edge(S.REPORTED, A.VERIFY, S.VERIFIED, FIELD, "an inspector confirms on site that the problem is real"),
    Edge(S.REPORTED, A.REGISTER, S.REGISTERED, INTAKE, "hotline cases may skip on-site verification"),
    Edge(S.VERIFIED, A.REGISTER, S.REGISTERED, INTAKE, "a verified problem becomes a case (立案)"),
    Edge(S.REGISTERED, A.DISPATCH, S.DISPATCHED, DISPATCH, "the case goes to the responsible department"),
    Edge(S.DISPATCHED, A.ACCEPT, S.IN_PROGRESS, DEPARTMENT, "the department signs for the case (签收)"),
    Edge(S.IN_PROGRESS, A.HANDLE, S.HANDLED, DEPARTMENT, "the department reports what it did"),
    Edge(S.HANDLED, A.CHECK, S.CHECKED, FIELD, "an inspector confirms the result on site"),
    Edge(S.CHECKED, A.CLOSE, S.CLOSED, INTAKE, "a checked result closes the case"),
    Edge(S.CLOSED, A.REVISIT, S.REVISITED, frozenset({R.OPERATOR}), "the citizen is called back and rates"),
    Edge(S.REVISITED, A.ARCHIVE, S.ARCHIVED, INTAKE, "the file is complete"),
    Edge(S.CLOSED, A.ARCHIVE, S.ARCHIVED, INTAKE, "cases found by inspectors have no citizen to call back"),
]

_SIDE_PATHS = [
    # 退单: not this department's business; the dispatcher sends it elsewhere.
    Edge(S.DISPATCHED, A.REJECT, S.REJECTED_BY_DEPARTMENT, DEPARTMENT, "not ours: back to the dispatcher"),
    Edge(S.REJECTED_BY_DEPARTMENT, A.DISPATCH, S.DISPATCHED, DISPATCH, "re-dispatch after a rejection"),
    # 返工: the check failed; the case goes back to the department and counts against it.
    Edge(S.HANDLED, A.FAIL_CHECK, S.REWORK, FIELD, "the on-site check found the problem unsolved"),
    Edge(S.REWORK, A.ACCEPT, S.IN_PROGRESS, DEPARTMENT, "the department takes the rework on"),
    Edge(S.REWORK, A.HANDLE, S.HANDLED, DEPARTMENT, "the department reports the rework done"),
    # 上报上级: beyond this level's authority; the upper centre dispatches or sends it back.
    Edge(S.REGISTERED, A.ESCALATE, S.ESCALATED, DISPATCH, "beyond this level's authority"),
    Edge(S.REJECTED_BY_DEPARTMENT, A.ESCALATE, S.ESCALATED, DISPATCH, "no department at this level takes it"),
    Edge(S.ESCALATED, A.DISPATCH, S.DISPATCHED, DISPATCH, "the upper centre dispatches to its department"),
    Edge(S.ESCALATED, A.SEND_BACK, S.REGISTERED, DISPATCH, "the upper centre finds it a local matter"),
    # 延期: the handling deadline moves only with a leader's approval.
    Edge(S.IN_PROGRESS, A.REQUEST_EXTENSION, S.EXTENSION_REQUESTED, DEPARTMENT, "handling needs more time"),
    Edge(S.EXTENSION_REQUESTED, A.APPROVE_EXTENSION, S.IN_PROGRESS, APPROVAL, "the new deadline applies"),
    Edge(S.EXTENSION_REQUESTED, A.DENY_EXTENSION, S.IN_PROGRESS, APPROVAL, "the old deadline stands"),
    # 联合处置: several departments, one lead; each assisting one finishes its own task.
    Edge(S.REGISTERED, A.DISPATCH_JOINT, S.JOINT, DISPATCH, "the problem needs several departments"),
    Edge(S.REJECTED_BY_DEPARTMENT, A.DISPATCH_JOINT, S.JOINT, DISPATCH, "re-dispatch to several departments"),
    Edge(S.ESCALATED, A.DISPATCH_JOINT, S.JOINT, DISPATCH, "the upper centre organises joint handling"),
    Edge(S.JOINT, A.FINISH_TASK, S.JOINT, DEPARTMENT, "an assisting department reports its part done"),
    Edge(S.JOINT, A.HANDLE, S.HANDLED, DEPARTMENT, "the lead department reports the whole done"),
    # 合并 and 作废 end a case before anyone is sent out; the history stays.
    *(
        Edge(state, A.MERGE, S.MERGED, INTAKE, "a duplicate of another case: linked, not lost")
        for state in (S.REPORTED, S.VERIFIED, S.REGISTERED)
    ),
    *(
        Edge(state, A.VOID, S.VOIDED, INTAKE, "not a valid case (prank call, outside our remit)")
        for state in (S.REPORTED, S.VERIFIED, S.REGISTERED)
    ),
]

#: States a long-standing hard case can be parked from (挂账); the clock stops there.
SUSPENDABLE = (S.REGISTERED, S.REJECTED_BY_DEPARTMENT, S.DISPATCHED, S.IN_PROGRESS, S.REWORK, S.JOINT)

_SUSPENSION = [
    *(
        Edge(state, A.SUSPEND, S.SUSPENDED, OVERSIGHT, "a hard case under special follow-up")
        for state in SUSPENDABLE
    ),
    Edge(S.SUSPENDED, A.RESUME, PREVIOUS, OVERSIGHT, "the case goes on where it stopped"),
]

# 督办 and remarks change no state but are events all the same, so they are audited.
_NOTES = [
    *(
        Edge(state, A.SUPERVISE, state, OVERSIGHT, "urge the responsible party (督办)")
        for state in CaseState
        if state not in FINAL_STATES
    ),
    *(Edge(state, A.COMMENT, state, STAFF, "a remark on the file") for state in CaseState),
]

TRANSITIONS: dict[tuple[CaseState, Action], Edge] = {
    (edge.source, edge.action): edge for edge in (*_MAIN_LOOP, *_SIDE_PATHS, *_SUSPENSION, *_NOTES)
}

#: Actions that must say why: a refusal, a reversal, or an order.
NEEDS_REASON = frozenset(
    {
        A.REJECT,
        A.FAIL_CHECK,
        A.ESCALATE,
        A.SEND_BACK,
        A.REQUEST_EXTENSION,
        A.DENY_EXTENSION,
        A.SUSPEND,
        A.RESUME,
        A.MERGE,
        A.VOID,
        A.SUPERVISE,
        A.COMMENT,
    }
)


def _describe(state: CaseState, action: Action) -> str:
    return f"「{ACTION_LABELS[action]}」({action.value}) from state 「{STATE_LABELS[state]}」({state.value})"


def _labels(actions: Iterable[Action]) -> str:
    """The Chinese labels of ``actions``, as a list in a sentence."""
    return "、".join(ACTION_LABELS[a] for a in actions)


def edge_for(state: CaseState, action: Action) -> Edge:
    """The edge for ``action`` in ``state``, or TransitionNotAllowed naming both."""
    edge = TRANSITIONS.get((state, action))
    if edge is None:
        open_here = allowed_actions(state)
        allowed = ", ".join(a.value for a in open_here) or "none"
        raise TransitionNotAllowed(
            f"{_describe(state, action)} is not allowed; allowed here: {allowed}",
            zh=f"案件处于「{STATE_LABELS[state]}」状态，不能进行「{ACTION_LABELS[action]}」；"
            + (f"此时可进行：{_labels(open_here)}" if open_here else "此时不能再进行任何操作"),
        )
    return edge


def allowed_actions(state: CaseState, role: Role | None = None) -> list[Action]:
    """The actions open in ``state`` (to ``role`` if given), in table order."""
    return [
        edge.action
        for (source, _), edge in TRANSITIONS.items()
        if source == state and (role is None or role in edge.roles)
    ]


def apply(
    state: CaseState,
    action: Action,
    role: Role,
    *,
    reason: str | None = None,
    previous: CaseState | None = None,
) -> CaseState:
    """The state after ``role`` takes ``action`` in ``state``.

    ``previous`` is the state before the last suspension (needed only by ``resume``).
    Raises TransitionNotAllowed, RoleNotAllowed or InvalidInput; changes nothing itself.
    """
    edge = edge_for(state, action)
    where = f"案件处于「{STATE_LABELS[state]}」状态"
    if role not in edge.roles:
        roles = "、".join(f"{ROLE_LABELS[r]}({r.value})" for r in sorted(edge.roles))
        raise RoleNotAllowed(
            f"{_describe(state, action)} needs the role {roles}, not {role.value}",
            zh=f"{where}，「{ACTION_LABELS[action]}」只能由"
            f"{'或'.join(ROLE_LABELS[r] for r in sorted(edge.roles))}进行，您的角色是{ROLE_LABELS[role]}",
        )
    if action in NEEDS_REASON and not (reason and reason.strip()):
        raise InvalidInput(
            f"{_describe(state, action)} needs a reason (note)",
            zh=f"{where}，「{ACTION_LABELS[action]}」须填写理由",
        )
    if edge.target is PREVIOUS:
        if previous is None:
            raise TransitionNotAllowed(
                f"{_describe(state, action)}: the state before suspension is unknown",
                zh=f"{where}，但查不到挂账前的状态，无法「{ACTION_LABELS[action]}」",
            )
        return previous
    return edge.target


def replay(actions: Iterable[Action]) -> CaseState:
    """The state a case is in after ``actions`` (its first must be ``report``).

    Roles are not checked here (they were when each event was written); the path is.
    """
    iterator = iter(actions)
    first = next(iterator, None)
    if first is not A.REPORT:
        raise TransitionNotAllowed("a case history must begin with report", zh="案件记录必须以「上报」开始")
    state = S.REPORTED
    before_suspension: CaseState | None = None
    for action in iterator:
        edge = edge_for(state, action)
        if action is A.SUSPEND:
            before_suspension = state
        if edge.target is PREVIOUS:
            if before_suspension is None:
                raise TransitionNotAllowed(
                    "resume without a suspension before it", zh="案件记录中「恢复办理」之前没有「挂账」"
                )
            state = before_suspension
        else:
            state = edge.target
    return state
