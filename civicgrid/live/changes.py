"""A journal entry as the live stream handles it, and the Server-Sent Events it becomes.

The stream's events (the contract the workbench, map and dashboard pages subscribe to):

- ``case``: a case was created or changed (state, department, light …), for the users whose
  scope sees the case: ``{"number", "state", "state_label", "light", "lng", "lat",
  "region_code", "grid_code", "category_code", "department_code", "at"}``;
- ``alert``: a new notification for this user: ``{"id", "kind", "number", "text", "at",
  "unread"}``;
- ``unread``: this user's unread count changed (they read notifications elsewhere):
  ``{"unread"}``;
- ``reset``: what was missed cannot be replayed (too much, or too old): reload everything.

Each event carries its journal id as the SSE ``id``; a comment line is the heartbeat.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from civicgrid.domain.clock import light_at
from civicgrid.domain.vocabulary import STATE_LABELS, CaseState
from civicgrid.store.scoping import CaseScope

#: Journal entry kinds.
CASE, ALERT, UNREAD, SIGNOUT = "case", "alert", "unread", "signout"


def _moment(value: object) -> datetime | None:
    """A time from a row (a datetime) or from PostgreSQL's row_to_json (ISO 8601 text), in UTC."""
    if value is None:
        return None
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    assert isinstance(moment, datetime)
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _ids(text: object) -> frozenset[int]:
    """ ",3,7," → {3, 7}."""
    if not text:
        return frozenset()
    return frozenset(int(part) for part in str(text).split(",") if part)


def isoformat(moment: datetime) -> str:
    """A time as the stream writes it: ISO 8601 in UTC."""
    return moment.astimezone(UTC).isoformat()


@dataclass(frozen=True)
class Change:
    """One journal entry: what the hub routes and the stream sends (``text``, formatted once
    however many connections receive it)."""

    id: int
    kind: str
    at: datetime
    user_id: int | None = None
    region_path: str | None = None
    department_ids: frozenset[int] = frozenset()
    reporter_user_id: int | None = None
    payload: dict[str, Any] = field(default_factory=dict)
    text: str = ""

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> Change:
        """The change of a ``live_changes`` row, read by SQLAlchemy or sent by NOTIFY as JSON."""
        kind = str(row["kind"])
        at = _moment(row["at"])
        assert at is not None
        data: dict[str, Any] = dict(row.get("data") or {})
        if kind == CASE:
            state = CaseState(row["state"])
            light = light_at(at, _moment(row.get("warning_at")), _moment(row.get("deadline_at")))
            data = {
                "number": row["number"],
                "state": state.value,
                "state_label": STATE_LABELS[state],
                "light": light.value if light else None,
                "lng": row.get("lng"),
                "lat": row.get("lat"),
                "region_code": row.get("region_code"),
                "grid_code": row.get("grid_code"),
                "category_code": row.get("category_code"),
                "department_code": row.get("department_code"),
                "at": isoformat(at),
            }
        ident = int(row["id"])
        return cls(
            id=ident,
            kind=kind,
            at=at,
            user_id=row.get("user_id"),
            region_path=row.get("region_path"),
            department_ids=_ids(row.get("department_ids")),
            reporter_user_id=row.get("reporter_user_id"),
            payload=data,
            text=event_text(kind, data, ident) if kind != SIGNOUT else "",
        )

    @classmethod
    def from_json(cls, text: str) -> Change:
        """The change a NOTIFY payload (the row as JSON) carries."""
        row: dict[str, Any] = json.loads(text)
        return cls.from_row(row)

    def seen_in(self, scope: CaseScope) -> bool:
        """Whether a case change is in ``scope`` (``scoped``'s rule, without a query)."""
        return self.kind == CASE and scope.sees(self.region_path, self.department_ids, self.reporter_user_id)


def event_text(event: str, data: Mapping[str, Any], ident: int | None = None) -> str:
    """One Server-Sent Event: ``id`` (if any), ``event`` and ``data`` lines, a blank line."""
    head = f"id: {ident}\n" if ident is not None else ""
    body = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    return f"{head}event: {event}\ndata: {body}\n\n"
