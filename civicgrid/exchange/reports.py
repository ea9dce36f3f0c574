"""Reports back to a partner: each change of a case that came from it, as a signed webhook
through the outbox, in the order of the case's events."""

from __future__ import annotations

import json
from datetime import datetime, tzinfo

from sqlalchemy.orm import Session

from civicgrid.domain.vocabulary import STATE_LABELS, Action
from civicgrid.outbox.messages import Kind, case_stream, enqueue
from civicgrid.store.models import Case, CaseEvent, Partner

#: What the partner hears for the steps it cares about; other state changes are ``updated``.
REPORT_TYPES: dict[Action, str] = {
    Action.REPORT: "accepted",
    Action.DISPATCH: "dispatched",
    Action.DISPATCH_JOINT: "dispatched",
    Action.HANDLE: "handled",
    Action.CLOSE: "closed",
    Action.VOID: "rejected",
}


def report_change(session: Session, case: Case, event: CaseEvent, timezone: tzinfo, now: datetime) -> None:
    """Write the report of ``event`` to the outbox, if the case's partner has a webhook and
    the event changed the state (remarks stay inside the centre)."""
    if event.action not in REPORT_TYPES and event.from_state == event.to_state:
        return
    partner = session.get(Partner, case.partner_id)
    if partner is None or not partner.webhook_url:
        return
    payload: dict[str, object] = {
        "type": REPORT_TYPES.get(event.action, "updated"),
        "partner": partner.code,
        "order_number": case.external_id,
        "case_number": case.number,
        "seq": event.seq,
        "action": event.action.value,
        "state": event.to_state.value,
        "state_label": STATE_LABELS[event.to_state],
        "at": event.at.astimezone(timezone).isoformat(),
        "note": event.note,
    }
    if "department" in event.data:
        payload["department"] = event.data["department"]
    if event.action is Action.CLOSE:
        handled = [e for e in case.events if e.action is Action.HANDLE]
        payload["result"] = handled[-1].note if handled else event.note
    if event.action is Action.VOID:
        payload["reason"] = event.note
    body = json.dumps(payload, ensure_ascii=False, sort_keys=True)
    enqueue(
        session, Kind.WEBHOOK, case_stream(case.id), partner.webhook_url, body, now, partner_id=partner.id
    )
