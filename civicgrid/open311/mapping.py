"""How the centre's categories and cases read as Open311 services and service requests:
the public view only (states, public notes, the department), never staff names, internal
notes or the reporter's contact."""

from __future__ import annotations

from datetime import datetime, tzinfo
from typing import Any

from civicgrid.domain.clock import light_at
from civicgrid.domain.questions import DATATYPE_LABELS, LISTS, Question
from civicgrid.domain.vocabulary import (
    CASE_KIND_LABELS,
    CHANNEL_LABELS,
    FINAL_STATES,
    LIGHT_LABELS,
    STATE_LABELS,
    CaseState,
    Stage,
)
from civicgrid.store.models import Category

#: Open311 knows two statuses: a case is ``closed`` once finished (closed, called back,
#: archived, merged into another, voided), ``open`` in every other state.
CLOSED_STATES = FINAL_STATES
OPEN_STATES = frozenset(CaseState) - CLOSED_STATES


def status(state: CaseState) -> str:
    """``open`` or ``closed``."""
    return "closed" if state in CLOSED_STATES else "open"


def states_of(statuses: set[str]) -> frozenset[CaseState]:
    """The case states behind Open311 statuses."""
    found: frozenset[CaseState] = frozenset()
    if "open" in statuses:
        found |= OPEN_STATES
    if "closed" in statuses:
        found |= CLOSED_STATES
    return found


def w3(moment: datetime | None, zone: tzinfo) -> str | None:
    """A time in the W3C subset of ISO 8601, in the centre's zone (``2026-09-30T10:00:00+08:00``)."""
    return moment.astimezone(zone).isoformat(timespec="seconds") if moment is not None else None


def service(category: Category) -> dict[str, Any]:
    """A small class as an Open311 service; its big class is the group."""
    big = category.parent.name if category.parent else ""
    return {
        "service_code": category.code,
        "service_name": category.name,
        "description": f"{CASE_KIND_LABELS[category.kind]}·{big}·{category.name}",
        "metadata": bool(category.questions),
        "type": "realtime",
        "keywords": ",".join(filter(None, (category.name, big, CASE_KIND_LABELS[category.kind]))),
        "group": big,
    }


def service_definition(category: Category) -> dict[str, Any]:
    """The class's questions as Open311 attributes, in order."""
    attributes = []
    for question in sorted((Question.from_dict(q) for q in category.questions), key=lambda q: q.order):
        attribute: dict[str, Any] = {
            "variable": True,
            "code": question.code,
            "datatype": question.datatype.value,
            "required": question.required,
            "datatype_description": DATATYPE_LABELS[question.datatype],
            "order": question.order,
            "description": question.description,
        }
        if question.datatype in LISTS:
            attribute["values"] = [{"key": c.key, "name": c.name} for c in question.values]
        attributes.append(attribute)
    return {"service_code": category.code, "attributes": attributes}


def service_notice(closure_standard: str) -> str | None:
    """What the centre will do: the class's standard of closure."""
    return f"结案标准：{closure_standard}" if closure_standard else None


def service_request(
    case: Any, notes: str | None, zone: tzinfo, now: datetime, extensions: bool
) -> dict[str, Any]:
    """A case (its public columns, ``civicgrid.store.public_cases``) as an Open311 service
    request; ``notes`` is its latest public note."""
    expected = case.deadline_at if case.stage is Stage.HANDLE else None
    request: dict[str, Any] = {
        "service_request_id": case.number,
        "status": status(case.state),
        "status_notes": notes,
        "service_name": case.category_name,
        "service_code": case.category_code,
        "description": case.description or None,
        "agency_responsible": case.department_name,
        "service_notice": service_notice(case.closure_standard),
        "requested_datetime": w3(case.created_at, zone),
        "updated_datetime": w3(
            case.closed_at if case.state in CLOSED_STATES and case.closed_at else case.updated_at, zone
        ),
        "expected_datetime": w3(expected, zone),
        "address": case.address or None,
        "address_id": None,
        "zipcode": None,
        "lat": case.lat,
        "long": case.lng,
        "media_url": case.media_url,
    }
    if extensions:
        light = None if case.state in FINAL_STATES else light_at(now, case.warning_at, case.deadline_at)
        request["extended_attributes"] = {
            "state": case.state.value,
            "state_label": STATE_LABELS[case.state],
            "channel": case.channel.value,
            "channel_label": CHANNEL_LABELS[case.channel],
            "light": light.value if light else None,
            "light_label": LIGHT_LABELS[light][0] if light else None,
        }
    return request
