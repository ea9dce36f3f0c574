"""A small hand-built history for the statistics tests, October 2026 in Shanghai, every
case of category C0101 (上水井盖: dispatch within 30 min, handle within 1 working day =
7.5 working hours of 08:30–12:00 and 13:30–17:30, check within 2 h).

Each case's handling deadline is worked out by hand in the comment beside it; the tests
check the facts against them, then the figures. The inspector serves 东湖一社区's grid, where
every 东湖 case lies (西山's grid has none); the supervisors urge (督办) "extended" while it is
still on time, "open" once it is overdue, "next_month" in November and "west" only after
October has ended.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from civicgrid.domain.vocabulary import GridDuty
from civicgrid.services.cases import CentreRules
from civicgrid.store.models import Case, GridStaff
from tests.factories import World, act, new_case

SH = ZoneInfo("Asia/Shanghai")


def at(month: int, day: int, hour: int, minute: int = 0) -> datetime:
    """A moment of 2026 in Shanghai."""
    return datetime(2026, month, day, hour, minute, tzinfo=SH)


#: The deadline in force of each case's (last) handling run, worked out by hand.
DEADLINES = {
    # Dispatched Wed 30 Sep 16:00: 1.5 h that day, the National Day holiday 1–7 Oct, then
    # 3.5 h on the morning of Thu 8 Oct and 2.5 h after 13:30.
    "holiday": at(10, 8, 16),
    # Suspended (挂账) and still parked: the clock stands still, no deadline.
    "parked": None,
    # Dispatched Mon 12 Oct 09:00, parked 10:00–Wed 14 Oct 09:00: 1 h, then 3 h + 3.5 h.
    "paused": at(10, 14, 17),
    # Dispatched Mon 12 Oct 09:00 (deadline Tue 13 Oct 09:00), extension approved to 14 Oct 09:00.
    "extended": at(10, 14, 9),
    # Second rework from Thu 15 Oct 11:30: 0.5 h + 4 h that day, 3 h on Fri 16 Oct.
    "rework": at(10, 16, 11, 30),
    # Dispatched Mon 19 Oct 09:00 (deadline Tue 20 Oct 09:00), extended to Wed 21 Oct 09:00.
    "late": at(10, 21, 9),
    # Dispatched Thu 22 Oct 09:00: 7 h that day, 0.5 h on Fri 23 Oct.
    "open": at(10, 23, 9),
    # Re-dispatched Mon 26 Oct 10:00 after 退单: 6 h that day, 1.5 h on Tue 27 Oct.
    "redispatched": at(10, 27, 10),
    # Dispatched Fri 30 Oct 17:00: 0.5 h, the weekend, then 7 h on Mon 2 Nov.
    "next_month": at(11, 2, 17),
    # West street, dispatched Fri 9 Oct 09:00: 7 h, then 0.5 h on Sat 10 Oct (调休上班).
    "west": at(10, 10, 9),
}


def build_history(session: Session, world: World, rules: CentreRules) -> dict[str, Case]:
    """The cases of the history by name (see DEADLINES and the tests' hand counts)."""
    made: dict[str, Case] = {}
    session.add(GridStaff(grid=world.grids["g1"], user=world.users["inspector"], duty=GridDuty.INSPECTOR))
    session.flush()

    def case(name: str, reported: datetime, **fields: Any) -> Case:
        made[name] = new_case(session, world, rules, reported, **fields)
        return made[name]

    def do(name: str, actor: str, action: str, moment: datetime, **fields: Any) -> None:
        act(session, world, rules, made[name], actor, action, moment, **fields)

    def dispatched(name: str, moment: datetime, department: str = "D-SZ-E", **fields: Any) -> None:
        case(name, moment.replace(minute=0) if moment.minute >= 10 else moment, **fields)
        do(name, "operator", "register", moment)
        do(name, "dispatcher", "dispatch", moment, department_code=department)

    def handled_and_closed(name: str, handled: datetime, closed: datetime) -> None:
        do(name, "handler_sz", "handle", handled, note="已处置")
        do(name, "inspector", "check", handled.replace(minute=handled.minute + 20))
        do(name, "operator", "close", closed)

    dispatched("holiday", at(9, 30, 16))
    do("holiday", "handler_sz", "accept", at(9, 30, 16, 30))
    handled_and_closed("holiday", at(10, 8, 15), at(10, 8, 15, 45))
    do("holiday", "operator", "revisit", at(10, 9, 10), satisfaction="satisfied")

    dispatched("parked", at(10, 9, 9))
    do("parked", "handler_sz", "accept", at(10, 9, 9, 20))
    do("parked", "supervisor", "suspend", at(10, 9, 10), note="历史遗留,专项跟踪")

    case("voided", at(10, 9, 9))
    do("voided", "operator", "register", at(10, 9, 9, 5))
    do("voided", "operator", "void", at(10, 9, 9, 30), note="重复来电,无效")

    dispatched("paused", at(10, 12, 9))
    do("paused", "supervisor", "suspend", at(10, 12, 10), note="等待产权单位确认")
    do("paused", "supervisor", "resume", at(10, 14, 9), note="产权已确认")
    do("paused", "handler_sz", "accept", at(10, 14, 9, 10))
    handled_and_closed("paused", at(10, 14, 16), at(10, 14, 16, 45))

    dispatched("extended", at(10, 12, 9))
    do("extended", "handler_sz", "accept", at(10, 12, 9, 30))
    do(
        "extended",
        "handler_sz",
        "request_extension",
        at(10, 12, 10),
        note="需更换井座",
        new_deadline=at(10, 14, 9),
    )
    do("extended", "leader", "approve_extension", at(10, 12, 11))
    do("extended", "supervisor", "supervise", at(10, 13, 10), note="请按延期后的时限完成")
    handled_and_closed("extended", at(10, 13, 16), at(10, 13, 17))
    do("extended", "operator", "revisit", at(10, 14, 10), satisfaction="not_satisfied")

    dispatched("rework", at(10, 15, 9))
    do("rework", "handler_sz", "accept", at(10, 15, 9, 10))
    do("rework", "handler_sz", "handle", at(10, 15, 10), note="已处置")
    do("rework", "inspector", "fail_check", at(10, 15, 10, 30), note="井盖未盖平")
    do("rework", "handler_sz", "handle", at(10, 15, 11), note="已重新安装")
    do("rework", "inspector", "fail_check", at(10, 15, 11, 30), note="仍有晃动")
    handled_and_closed("rework", at(10, 15, 14), at(10, 15, 15))
    do("rework", "operator", "revisit", at(10, 16, 10), satisfaction="basically_satisfied")

    dispatched("late", at(10, 19, 9))
    do("late", "handler_sz", "accept", at(10, 19, 9, 10))
    do("late", "handler_sz", "request_extension", at(10, 19, 10), note="需协调", new_deadline=at(10, 21, 9))
    do("late", "leader", "approve_extension", at(10, 19, 10, 30))
    handled_and_closed("late", at(10, 21, 10), at(10, 21, 11))

    dispatched("open", at(10, 22, 9))
    do("open", "handler_sz", "accept", at(10, 22, 9, 10))
    do("open", "supervisor", "supervise", at(10, 26, 10), note="已超期,请加快办理")

    case("duplicate", at(10, 22, 10))
    do("duplicate", "operator", "merge", at(10, 22, 10, 5), note="同一井盖", merge_into=made["open"].number)

    case("redispatched", at(10, 26, 9))
    do("redispatched", "operator", "register", at(10, 26, 9))
    do("redispatched", "dispatcher", "dispatch", at(10, 26, 9, 5), department_code="D-CG-E")
    do("redispatched", "handler_cg", "reject", at(10, 26, 9, 30), note="井盖归市政所")
    do("redispatched", "dispatcher", "dispatch", at(10, 26, 10), department_code="D-SZ-E")
    do("redispatched", "handler_sz", "accept", at(10, 26, 10, 10))
    handled_and_closed("redispatched", at(10, 26, 15), at(10, 26, 16))

    dispatched("next_month", at(10, 30, 17))
    do("next_month", "supervisor", "supervise", at(11, 3, 9), note="已超期,请加快办理")

    case("west", at(10, 9, 9), actor="operator_west", lng=120.105, lat=30.005)
    do("west", "operator_west", "register", at(10, 9, 9))
    do("west", "dispatcher_west", "dispatch", at(10, 9, 9), department_code="D-CG-W")
    do("west", "leader", "supervise", at(11, 2, 9), note="已超期,请加快办理")
    session.flush()
    return made
