"""Work orders from partners: one order number, one case, however often it is sent.

An order becomes a case on the partner's channel with the order number as its external id,
reported by the partner's account, placed in its grid by its coordinate; an order no grid
covers waits in the partner's region (the district's queue) with a note saying so. The
partner's own deadline is kept as the case's external deadline, and the partner hears back
that the order was accepted (``civicgrid.exchange.reports``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, tzinfo

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from civicgrid.domain.errors import Conflict, InvalidInput
from civicgrid.domain.vocabulary import REQUEST_TYPE_LABELS, Action, RequestType
from civicgrid.exchange.reports import report_change
from civicgrid.exchange.schemas import InboundOrder, OrderResult
from civicgrid.geo.index import GridShape, Placement
from civicgrid.schemas import CaseCreate, TransitionRequest
from civicgrid.services import cases as case_service
from civicgrid.services.cases import CentreRules
from civicgrid.store.models import Case, Category, Partner, PartnerOrder

#: Time formats a partner may use besides ISO 8601 (spreadsheets), in the centre's time.
LOCAL_FORMATS = (
    "%Y-%m-%d %H:%M:%S",
    "%Y-%m-%d %H:%M",
    "%Y/%m/%d %H:%M:%S",
    "%Y/%m/%d %H:%M",
    "%Y-%m-%d",
    "%Y/%m/%d",
)
#: The title a case gets from an order without one: the content's start.
TITLE_LENGTH = 40
_REQUEST_TYPES = {label: kind for kind, label in REQUEST_TYPE_LABELS.items()} | {
    kind.value: kind for kind in RequestType
}


def parse_time(text: str, field: str, timezone: tzinfo) -> datetime:
    """An ISO 8601 time with its offset, or a local one (``2026-11-26 17:00``) in ``timezone``;
    a date alone means the end of that day. InvalidInput names the field and the text."""
    text = text.strip()
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        moment = None
        for form in LOCAL_FORMATS:
            try:
                moment = datetime.strptime(text, form)
                break
            except ValueError:
                continue
        if moment is None:
            raise InvalidInput(
                f"{field}: '{text[:40]}' is not a time (ISO 8601, or YYYY-MM-DD HH:MM in the centre's time)"
            ) from None
    if len(text) <= 10:  # a date alone: the end of that day
        moment = moment.replace(hour=23, minute=59, second=59)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone)
    if not 2000 <= moment.year <= 2099:
        raise InvalidInput(f"{field}: {text[:40]} is outside the years 2000–2099")
    return moment


def category_code(session: Session, partner: Partner, name: str, cache: dict[str, str] | None = None) -> str:
    """The small class a partner's category name (诉求类型) stands for: by the partner's map,
    else a small class with that code or name; InvalidInput when none."""
    if name in partner.category_map:
        return partner.category_map[name]
    if cache is not None and name in cache:
        return cache[name]
    code = session.scalar(
        select(Category.code).where(
            (Category.code == name) | (Category.name == name),
            Category.parent_id.is_not(None),
            Category.is_active.is_(True),
        )
    )
    if code is None:
        raise InvalidInput(
            f"category '{name}' of partner {partner.code} is neither in its category map nor a small class (小类): "
            "add it to the map"
        )
    if cache is not None:
        cache[name] = code
    return code


@dataclass(frozen=True)
class Prepared:
    """An order checked and translated, ready to be stored."""

    order: InboundOrder
    case: CaseCreate
    called_at: datetime | None
    deadline: datetime | None


def prepare(
    session: Session,
    partner: Partner,
    order: InboundOrder,
    timezone: tzinfo,
    cache: dict[str, str] | None = None,
) -> Prepared:
    """Check an order and translate it into a new case; InvalidInput names what is wrong.
    Writes nothing."""
    code = category_code(session, partner, order.category, cache)
    called = parse_time(order.called_at, "called_at (来电时间)", timezone) if order.called_at else None
    deadline = parse_time(order.deadline, "deadline (办理时限)", timezone) if order.deadline else None
    request_type = None
    if order.request_type:
        request_type = _REQUEST_TYPES.get(order.request_type)
        if request_type is None:
            raise InvalidInput(
                f"request_type: '{order.request_type}' is none of {'、'.join(REQUEST_TYPE_LABELS.values())}"
            )
    title = order.title or order.content.replace("\n", " ")[:TITLE_LENGTH]
    case = CaseCreate(
        channel=partner.channel,
        category_code=code,
        title=title,
        description=order.content,
        request_type=request_type,
        urgency=order.urgency,
        address=order.address,
        lng=order.lng,
        lat=order.lat,
        crs=order.crs,
        # Given with the coordinate, the region only takes over where no grid covers it.
        region_code=partner.region.code,
        reporter_name=order.contact_name,
        reporter_phone=order.contact_phone,
        external_id=order.order_number,
    )
    return Prepared(order, case, called, deadline)


def received_numbers(session: Session, partner: Partner, numbers: list[str]) -> dict[str, str]:
    """Order number → case number, for those of ``numbers`` the partner sent before."""
    found: dict[str, str] = {}
    for start in range(0, len(numbers), 500):
        chunk = numbers[start : start + 500]
        rows = session.execute(
            select(PartnerOrder.order_number, Case.number)
            .join(Case, Case.id == PartnerOrder.case_id)
            .where(PartnerOrder.partner_id == partner.id, PartnerOrder.order_number.in_(chunk))
        )
        found.update({order: case for order, case in rows})
    return found


def received(session: Session, partner: Partner, order_number: str) -> Case | None:
    """The case an earlier copy of the order made, if any."""
    return session.scalar(
        select(Case)
        .join(PartnerOrder, PartnerOrder.case_id == Case.id)
        .where(PartnerOrder.partner_id == partner.id, PartnerOrder.order_number == order_number)
    )


def result(case: Case, order_number: str, created: bool) -> OrderResult:
    """The answer about an order's case."""
    return OrderResult(
        order_number=order_number,
        case_number=case.number,
        created=created,
        state=case.state.value,
        grid_code=case.grid.code if case.grid is not None else None,
        external_deadline_at=case.external_deadline_at,
    )


def receive_order(
    session: Session,
    partner: Partner,
    order: InboundOrder,
    rules: CentreRules,
    now: datetime,
    cache: dict[str, str] | None = None,
) -> OrderResult:
    """Make ``order`` a case, or answer with the case an earlier copy made (``created`` false),
    also when the copy is stored by another request at the same moment."""
    earlier = received(session, partner, order.order_number)
    if earlier is not None:
        return result(earlier, order.order_number, created=False)
    prepared = prepare(session, partner, order, rules.calendar.timezone, cache)
    try:
        with session.begin_nested():
            case = store(session, partner, prepared, rules, now)
    except (Conflict, IntegrityError) as error:
        # The savepoint is gone; a concurrent copy has committed by now (the unique key
        # waited for it), or the order number is another case's external id on this channel.
        earlier = received(session, partner, order.order_number)
        if earlier is not None:
            return result(earlier, order.order_number, created=False)
        if isinstance(error, Conflict):
            raise
        raise Conflict(f"order {order.order_number} could not be stored: {error.orig}") from None
    return result(case, order.order_number, created=True)


def store(
    session: Session,
    partner: Partner,
    prepared: Prepared,
    rules: CentreRules,
    now: datetime,
    *,
    flush: bool = True,
    placed: Placement[GridShape] | None = None,
) -> Case:
    """Store a checked order as a new case, its order row and its acceptance report; with
    ``flush`` false the order row waits for the session's next flush, and ``placed`` are the
    grids at its point found with the other rows' (bulk imports)."""
    case = case_service.create_case(session, partner.user, prepared.case, rules, now, placed=placed)
    case.partner_id = partner.id
    case.external_deadline_at = prepared.deadline
    session.add(
        PartnerOrder(
            partner_id=partner.id,
            order_number=prepared.order.order_number,
            case=case,
            received_at=now,
            called_at=prepared.called_at,
        )
    )
    if flush:
        session.flush()
    report_change(session, case, case.events[0], rules.calendar.timezone, now)
    if case.grid is None:
        where = prepared.order.address or "无地址"
        note = (
            f"未能定位到网格（地址：{where}"
            + (f"，坐标：{prepared.order.lng},{prepared.order.lat}" if prepared.order.lng is not None else "")
            + f"），已进入{partner.region.name}待定位队列"
        )
        case_service.transition(
            session, partner.user, case.number, Action.COMMENT, TransitionRequest(note=note), rules, now
        )
    return case
