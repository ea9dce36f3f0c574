"""Helpers of the exchange tests: a partner, a signed order, what the store holds."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from civicgrid.exchange.partners import create_partner
from civicgrid.exchange.schemas import PartnerIn
from civicgrid.exchange.signing import signed_headers
from civicgrid.store.models import Case, CaseEvent, OutboxMessage, Partner, PartnerOrder

SECRET = "a-shared-secret-of-the-12345-platform"
WEBHOOK = "http://127.0.0.1:9/reports"
CATEGORY_MAP = {"井盖缺失": "C0101", "垃圾满溢": "E0103"}
ORDER: dict[str, Any] = {
    "order_number": "GD-0001",
    "content": "望江路12号门前上水井盖缺失",
    "category": "井盖缺失",
    "called_at": "2026-09-30 09:12:00",
    "deadline": "2026-10-09T17:30:00+08:00",
    "address": "望江路12号",
    "lng": 120.005,
    "lat": 30.005,
    "contact_name": "王先生",
    "contact_phone": "13800000000",
    "request_type": "投诉",
}


def add_partner(session: Session, now: datetime, code: str = "12345-city", **fields: Any) -> Partner:
    """A partner with the test secret, webhook and category map."""
    data = PartnerIn(
        code=code,
        name="市12345热线",
        secret=SECRET,
        webhook_url=fields.pop("webhook_url", WEBHOOK),
        category_map=CATEGORY_MAP,
        **fields,
    )
    create_partner(session, None, data, now)
    partner = session.scalar(select(Partner).where(Partner.code == code))
    assert partner is not None
    return partner


def signed(body: dict[str, Any], now: datetime, secret: str = SECRET) -> tuple[bytes, dict[str, str]]:
    """The raw JSON body and its signature headers."""
    raw = json.dumps(body, ensure_ascii=False).encode()
    return raw, {"Content-Type": "application/json", **signed_headers(secret, raw, now)}


def stored(session: Session) -> tuple[int, ...]:
    """Row counts of what an order could write."""
    session.expire_all()
    models = (Case, CaseEvent, PartnerOrder, OutboxMessage)
    return tuple(session.scalar(select(func.count()).select_from(model)) or 0 for model in models)


def reports(session: Session) -> list[dict[str, Any]]:
    """The outbox's webhook bodies, in order."""
    session.expire_all()
    rows = session.scalars(
        select(OutboxMessage).where(OutboxMessage.kind == "webhook").order_by(OutboxMessage.id)
    )
    return [json.loads(row.body) for row in rows]
