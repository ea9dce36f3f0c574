"""The history check replays each case's events and names every case whose cached state
is not what they give, on both databases."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import text
from sqlalchemy.orm import Session

from civicgrid.services.cases import CentreRules
from civicgrid.store.history import Mismatch, check_history
from tests.factories import World, act, new_case


def test_the_check_names_cases_whose_events_give_another_state(
    session: Session, world: World, rules: CentreRules, now: datetime
) -> None:
    sound = new_case(session, world, rules, now)
    act(session, world, rules, sound, "operator", "register", now)
    stale = new_case(session, world, rules, now)
    broken = new_case(session, world, rules, now)
    session.flush()
    check = check_history(session)
    assert (check.cases, check.events, check.mismatches) == (3, 4, [])

    session.execute(text("UPDATE cases SET state = 'closed' WHERE id = :id"), {"id": stale.id})
    # An event no edge of the workflow allows: the history leads nowhere.
    session.execute(
        text(
            "INSERT INTO case_events (case_id, seq, action, to_state, actor_role, at, note, data) "
            "VALUES (:id, 2, 'close', 'closed', 'operator', :at, '', '{}')"
        ),
        {"id": broken.id, "at": now.isoformat()},
    )
    check = check_history(session)
    assert check.events == 5
    assert check.mismatches[0] == Mismatch(stale.number, "closed", "reported")
    assert check.mismatches[1].number == broken.number
    assert check.mismatches[1].replayed.startswith("no state:") and "close" in check.mismatches[1].replayed
    assert len(check.mismatches) == 2
