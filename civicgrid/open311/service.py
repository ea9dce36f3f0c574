"""Open311 reports enter the loop: a checked service request becomes a case, reported on
the key's channel in the key's region, by the key's system user, through the case service."""

from __future__ import annotations

from datetime import datetime
from uuid import uuid4

from sqlalchemy.orm import Session

from civicgrid.domain.errors import InvalidInput, NotFound
from civicgrid.open311.requests import Report
from civicgrid.schemas import CaseCreate
from civicgrid.services.cases import CentreRules, Prepared, create_case
from civicgrid.store import public_cases
from civicgrid.store.models import ApiKey, Case

#: Open311 requests are stored with an external id of this prefix and a random part: the
#: ``token`` that ``tokens/{token}`` resolves to the case number.
TOKEN_PREFIX = "o311-"


def submit(session: Session, key: ApiKey, report: Report, rules: CentreRules, now: datetime) -> Case:
    """Register the report as a case (or raise a domain error, writing nothing): an unknown
    or inactive service is NotFound, a point outside the key's region RoleNotAllowed, bad
    answers InvalidInput. The report event records the key and the reporter's contact."""
    fields = report.fields
    found = public_cases.active_service_and_territory(session, fields.service_code)
    if found is None:
        raise NotFound(f"service_code '{fields.service_code}' was not found")
    category, territory = found
    address = fields.address_string or (f"地址编号 {fields.address_id}" if fields.address_id else "")
    name = "".join(filter(None, (fields.last_name, fields.first_name))) or None
    summary = fields.description.splitlines()[0][:60] if fields.description else ""
    try:
        data = CaseCreate(
            channel=key.channel,
            category_code=category.code,
            title=f"{category.name}：{summary}" if summary else category.name,
            description=fields.description,
            address=address,
            lng=fields.long,
            lat=fields.lat,
            region_code=None if fields.lat is not None else key.region.code,
            reporter_name=name,
            reporter_phone=fields.phone,
            external_id=TOKEN_PREFIX + uuid4().hex,
            answers=dict(report.attributes),
            media_url=fields.media_url,
        )
    except ValueError as error:
        raise InvalidInput(str(error)) from None
    contact = {"email": fields.email, "device_id": fields.device_id, "account_id": fields.account_id}
    event_data = {"api_key": key.name, "open311": {k: v for k, v in contact.items() if v}}
    prepared = Prepared(category, territory)
    return create_case(session, key.user, data, rules, now, event_data=event_data, prepared=prepared)
