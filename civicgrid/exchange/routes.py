"""Exchange routes: partners (district admins) and the work orders partners push down."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Header, Request, Response
from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError

from civicgrid.api.deps import Actor, AdminFirst, DbSession, Now, UnsignedRules, get_settings
from civicgrid.api.errors import ERROR_RESPONSES
from civicgrid.exchange import orders, partners, signing
from civicgrid.exchange.schemas import (
    InboundOrder,
    OrderResult,
    PartnerCreated,
    PartnerIn,
    PartnerOut,
    PartnerPatch,
)

router = APIRouter(prefix="/api/v1", tags=["exchange"], responses=ERROR_RESPONSES)


@router.get("/partners", response_model=list[PartnerOut], summary="Partners (the district's admins)")
def list_partners(session: DbSession, actor: Actor) -> list[PartnerOut]:
    return [partners.out(partner) for partner in partners.list_partners(session, actor)]


@router.post(
    "/partners",
    status_code=201,
    response_model=PartnerCreated,
    summary="Add a partner; the answer shows its shared secret, once",
)
def create_partner(
    data: PartnerIn, _admin: AdminFirst, session: DbSession, actor: Actor, now: Now
) -> PartnerCreated:
    return partners.create_partner(session, actor, data, now)


@router.patch("/partners/{code}", response_model=PartnerOut, summary="Change a partner")
def update_partner(code: str, data: PartnerPatch, session: DbSession, actor: Actor) -> PartnerOut:
    return partners.out(partners.update_partner(session, actor, code, data))


async def raw_body(request: Request) -> bytes:
    """The body exactly as sent: the signature covers these bytes."""
    return await request.body()


ORDER_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {
                "schema": InboundOrder.model_json_schema(ref_template="#/components/schemas/{model}")
            }
        },
    }
}


@router.post(
    "/exchange/{partner}/orders",
    response_model=OrderResult,
    status_code=201,
    summary="A work order pushed down by a partner, signed (201: a new case; 200: received before)",
    responses={200: {"model": OrderResult, "description": "the order was received before: its case"}},
    openapi_extra=ORDER_BODY,
)
def receive_order(
    partner: str,
    request: Request,
    response: Response,
    body: Annotated[bytes, Depends(raw_body)],
    session: DbSession,
    rules: UnsignedRules,
    now: Now,
    timestamp: Annotated[str | None, Header(alias=signing.TIMESTAMP_HEADER)] = None,
    signature: Annotated[str | None, Header(alias=signing.SIGNATURE_HEADER)] = None,
) -> OrderResult:
    sender = partners.signing_partner(session, partner)
    skew = get_settings(request).exchange_max_clock_skew_seconds
    signing.verify(sender.secret, timestamp, signature, body, now, skew)
    try:
        order = InboundOrder.model_validate_json(body)
    except ValidationError as error:
        raise RequestValidationError([{**e, "loc": ("body", *e["loc"])} for e in error.errors()]) from None
    answer = orders.receive_order(session, sender, order, rules, now)
    if not answer.created:
        response.status_code = 200
    return answer
