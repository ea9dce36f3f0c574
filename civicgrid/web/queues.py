"""The workbench of each role: its queues, each a preset of the case list's filters.

Which actions a case offers is not decided here (that is the workflow table's job); a
queue only gathers the states in which the role has work to do."""

from __future__ import annotations

from dataclasses import dataclass

from civicgrid.domain.vocabulary import CaseState, Light, Role, Satisfaction

S = CaseState


@dataclass(frozen=True)
class Queue:
    """One tab of a workbench: the cases in ``states`` (all if empty) with ``light`` (and,
    if ``mine_today``, that the user reported today; if ``satisfaction``, that the citizen
    rated so at the call-back; if ``own_grids``, that it lies in one of the grids the user
    serves, for an inspector who serves any); ``urgent_first``: red, yellow, green,
    nearest deadline first (else newest first)."""

    key: str
    label: str
    states: tuple[CaseState, ...] = ()
    light: Light | None = None
    urgent_first: bool = True
    mine_today: bool = False
    satisfaction: Satisfaction | None = None
    own_grids: bool = False


ALL = Queue("all", "全部案件", urgent_first=False)
RED = Queue("red", "红灯案件", light=Light.RED)
YELLOW = Queue("yellow", "黄灯案件", light=Light.YELLOW)


@dataclass(frozen=True)
class Workbench:
    """A role's landing page: its title and its queues, the first one opened by default."""

    title: str
    queues: tuple[Queue, ...]

    def queue(self, key: str | None) -> Queue:
        """The queue ``key``, or the first for an unknown or missing key."""
        return next((q for q in self.queues if q.key == key), self.queues[0])


#: The red and yellow cases, the suspended ones and those not satisfied at the call-back:
#: the supervisors' and leaders' common queues.
OVERSIGHT = Workbench(
    "督办工作台",
    (
        RED,
        YELLOW,
        Queue("suspended", "挂账案件", (S.SUSPENDED,)),
        # A citizen not satisfied at the call-back (by phone or on the portal): the workflow
        # has no way back from 回访, so the case is flagged here for supervision until it
        # is archived.
        Queue(
            "dissatisfied",
            "不满意回访",
            (S.REVISITED,),
            urgent_first=False,
            satisfaction=Satisfaction.NOT_SATISFIED,
        ),
        ALL,
    ),
)
#: Extensions are approved or denied by a leader (the workflow table's rule), so only the
#: leaders' workbench has them waiting.
EXTENSIONS = Queue("extensions", "延期待批", (S.EXTENSION_REQUESTED,))

WORKBENCHES: dict[Role, Workbench] = {
    Role.OPERATOR: Workbench(
        "受理工作台",
        (
            Queue("to_register", "待立案", (S.REPORTED, S.VERIFIED)),
            Queue("mine_today", "今日登记", urgent_first=False, mine_today=True),
            Queue("to_close", "待结案", (S.CHECKED,)),
            Queue("to_revisit", "待回访", (S.CLOSED,)),
            Queue("to_archive", "待归档", (S.REVISITED,)),
            ALL,
        ),
    ),
    Role.DISPATCHER: Workbench(
        "派遣工作台",
        (
            Queue("to_dispatch", "待派遣", (S.REGISTERED,)),
            Queue("rejected", "退单待派", (S.REJECTED_BY_DEPARTMENT,)),
            Queue("escalated", "上报上级", (S.ESCALATED,)),
            Queue("to_close", "待结案", (S.CHECKED,)),
            ALL,
        ),
    ),
    Role.HANDLER: Workbench(
        "处置工作台",
        (
            Queue("to_accept", "待签收", (S.DISPATCHED,)),
            Queue("handling", "处置中", (S.IN_PROGRESS, S.REWORK, S.JOINT)),
            Queue("extension", "延期申请中", (S.EXTENSION_REQUESTED,)),
            ALL,
        ),
    ),
    Role.INSPECTOR: Workbench(
        "网格员工作台",
        (
            # On patrol an inspector goes to their own grids: the community's other grids
            # have inspectors of their own (the whole community stays under 全部案件).
            Queue("to_check", "待核查", (S.HANDLED,), own_grids=True),
            Queue("to_verify", "待核实", (S.REPORTED,), own_grids=True),
            Queue("mine_today", "今日上报", urgent_first=False, mine_today=True),
            ALL,
        ),
    ),
    Role.SUPERVISOR: OVERSIGHT,
    Role.LEADER: Workbench("领导工作台", (RED, YELLOW, EXTENSIONS, *OVERSIGHT.queues[2:])),
    Role.ADMIN: Workbench("管理工作台", (ALL,)),
}
