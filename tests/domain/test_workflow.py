"""The workflow table: named scenarios, and a loop over every allowed and refused edge."""

from __future__ import annotations

import re

import pytest

from civicgrid.domain import workflow
from civicgrid.domain.errors import DomainError, InvalidInput, RoleNotAllowed, TransitionNotAllowed
from civicgrid.domain.vocabulary import (
    ACTION_LABELS,
    FINAL_STATES,
    ROLE_LABELS,
    STATE_LABELS,
    Action,
    CaseState,
    Role,
)

S, A, R = CaseState, Action, Role
EDGES = list(workflow.TRANSITIONS.values())
REASON = "因为需要"


def _apply(state: CaseState, action: Action, role: Role) -> CaseState:
    return workflow.apply(state, action, role, reason=REASON, previous=S.IN_PROGRESS)


def _in_chinese(refusal: DomainError) -> str:
    """The refusal's Chinese reason, checked to be Chinese: no English sentence in it."""
    assert refusal.zh and refusal.reason_zh == refusal.zh
    assert re.search(r"[\u4e00-\u9fff]", refusal.zh)
    assert not re.search(r"[A-Za-z]{3,} [A-Za-z]{2,}", refusal.zh), refusal.zh
    return refusal.zh


@pytest.mark.parametrize("edge", EDGES, ids=lambda e: f"{e.source.value}-{e.action.value}")
def test_every_edge_is_allowed_for_each_of_its_roles(edge: workflow.Edge) -> None:
    for role in edge.roles:
        expected = S.IN_PROGRESS if edge.target is None else edge.target
        assert _apply(edge.source, edge.action, role) is expected


@pytest.mark.parametrize("edge", EDGES, ids=lambda e: f"{e.source.value}-{e.action.value}")
def test_every_edge_is_refused_to_other_roles(edge: workflow.Edge) -> None:
    for role in set(Role) - edge.roles:
        with pytest.raises(RoleNotAllowed) as refusal:
            _apply(edge.source, edge.action, role)
        assert edge.source.value in refusal.value.detail
        assert edge.action.value in refusal.value.detail
        shown = _in_chinese(refusal.value)
        assert STATE_LABELS[edge.source] in shown and ACTION_LABELS[edge.action] in shown
        assert ROLE_LABELS[role] in shown


REFUSED = [
    (state, action) for state in CaseState for action in Action if (state, action) not in workflow.TRANSITIONS
]


@pytest.mark.parametrize("state, action", REFUSED, ids=lambda x: x.value)
def test_every_pair_outside_the_table_is_refused_naming_state_and_action(
    state: CaseState, action: Action
) -> None:
    for role in Role:
        with pytest.raises(TransitionNotAllowed) as refusal:
            _apply(state, action, role)
        assert f"({state.value})" in refusal.value.detail
        assert f"({action.value})" in refusal.value.detail
        shown = _in_chinese(refusal.value)
        assert f"「{STATE_LABELS[state]}」" in shown and f"「{ACTION_LABELS[action]}」" in shown
        open_here = workflow.allowed_actions(state)
        assert all(ACTION_LABELS[a] in shown for a in open_here)


def test_the_table_has_a_reason_for_every_edge_and_reaches_every_state() -> None:
    assert all(edge.why for edge in EDGES)
    targets = {edge.target for edge in EDGES if edge.target is not None} | {S.REPORTED}
    assert targets == set(CaseState)


def test_final_states_accept_nothing_but_remarks() -> None:
    for state in FINAL_STATES - {S.CLOSED, S.REVISITED}:
        assert workflow.allowed_actions(state) == [A.COMMENT]


MAIN_LOOP = [
    (A.VERIFY, R.INSPECTOR, S.VERIFIED),
    (A.REGISTER, R.OPERATOR, S.REGISTERED),
    (A.DISPATCH, R.DISPATCHER, S.DISPATCHED),
    (A.ACCEPT, R.HANDLER, S.IN_PROGRESS),
    (A.HANDLE, R.HANDLER, S.HANDLED),
    (A.CHECK, R.INSPECTOR, S.CHECKED),
    (A.CLOSE, R.OPERATOR, S.CLOSED),
    (A.REVISIT, R.OPERATOR, S.REVISITED),
    (A.ARCHIVE, R.DISPATCHER, S.ARCHIVED),
]


def test_scenario_the_whole_closed_loop() -> None:
    state = S.REPORTED
    for action, role, expected in MAIN_LOOP:
        state = workflow.apply(state, action, role)
        assert state is expected
    assert workflow.replay([A.REPORT, *(action for action, _, _ in MAIN_LOOP)]) is S.ARCHIVED


def test_scenario_rejection_then_redispatch_then_rework() -> None:
    path = [A.REPORT, A.REGISTER, A.DISPATCH, A.REJECT, A.DISPATCH, A.ACCEPT, A.HANDLE, A.FAIL_CHECK]
    assert workflow.replay(path) is S.REWORK
    assert workflow.replay([*path, A.HANDLE, A.CHECK, A.CLOSE]) is S.CLOSED


def test_scenario_suspension_resumes_where_it_stopped() -> None:
    for before in workflow.SUSPENDABLE:
        assert workflow.apply(S.SUSPENDED, A.RESUME, R.LEADER, reason=REASON, previous=before) is before
    path = [A.REPORT, A.REGISTER, A.DISPATCH, A.ACCEPT, A.SUSPEND, A.SUPERVISE, A.RESUME]
    assert workflow.replay(path) is S.IN_PROGRESS


def test_scenario_extension_escalation_joint_merge_void() -> None:
    handling = [A.REPORT, A.REGISTER, A.DISPATCH, A.ACCEPT]
    assert workflow.replay([*handling, A.REQUEST_EXTENSION]) is S.EXTENSION_REQUESTED
    assert workflow.replay([*handling, A.REQUEST_EXTENSION, A.APPROVE_EXTENSION]) is S.IN_PROGRESS
    assert workflow.replay([*handling, A.REQUEST_EXTENSION, A.DENY_EXTENSION]) is S.IN_PROGRESS
    assert workflow.replay([A.REPORT, A.REGISTER, A.ESCALATE, A.SEND_BACK]) is S.REGISTERED
    assert workflow.replay([A.REPORT, A.REGISTER, A.ESCALATE, A.DISPATCH]) is S.DISPATCHED
    assert workflow.replay([A.REPORT, A.REGISTER, A.DISPATCH_JOINT, A.FINISH_TASK, A.HANDLE]) is S.HANDLED
    assert workflow.replay([A.REPORT, A.MERGE]) is S.MERGED
    assert workflow.replay([A.REPORT, A.VERIFY, A.VOID]) is S.VOIDED


def test_replay_refuses_an_impossible_history() -> None:
    with pytest.raises(TransitionNotAllowed, match="report"):
        workflow.replay([A.REGISTER])
    with pytest.raises(TransitionNotAllowed, match=r"\(close\)"):
        workflow.replay([A.REPORT, A.CLOSE])
    with pytest.raises(TransitionNotAllowed):
        workflow.replay([A.REPORT, A.RESUME])


@pytest.mark.parametrize("action", sorted(workflow.NEEDS_REASON))
def test_refusals_and_orders_need_a_reason(action: Action) -> None:
    edge = next(edge for edge in EDGES if edge.action is action)
    role = next(iter(edge.roles))
    with pytest.raises(InvalidInput, match="needs a reason") as refusal:
        workflow.apply(edge.source, action, role, reason="  ", previous=S.IN_PROGRESS)
    shown = _in_chinese(refusal.value)
    assert "理由" in shown and ACTION_LABELS[action] in shown and STATE_LABELS[edge.source] in shown


def test_resume_without_known_previous_state_is_refused() -> None:
    with pytest.raises(TransitionNotAllowed, match="before suspension") as refusal:
        workflow.apply(S.SUSPENDED, A.RESUME, R.LEADER, reason=REASON)
    assert "挂账" in _in_chinese(refusal.value)


def test_a_refusal_without_a_chinese_reason_shows_its_detail() -> None:
    plain = InvalidInput("a plain reason")
    assert plain.zh is None and plain.reason_zh == "a plain reason"
    both = InvalidInput("a plain reason", zh="一个理由")
    assert (both.detail, both.reason_zh, str(both)) == ("a plain reason", "一个理由", "a plain reason")
