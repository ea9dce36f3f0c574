"""What partners and admins send and get: partners, work orders, the answer to an order."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field, model_validator

from civicgrid.domain.vocabulary import Channel, CoordinateSystem, Urgency
from civicgrid.schemas import Code, CodeRef, Line, Output, Strict, Text, WebLink

#: Channels a partner's work orders may enter on.
PARTNER_CHANNELS = (Channel.HOTLINE_12345, Channel.UPPER_LEVEL)
Secret = Line


class PartnerIn(Strict):
    """A new partner. Without ``secret`` one is generated and shown once, in the answer."""

    code: Code = Field(max_length=40)
    name: Line = Field(min_length=1, max_length=100)
    secret: Secret | None = Field(default=None, min_length=32, max_length=200)
    webhook_url: WebLink | None = Field(default=None, max_length=500)
    channel: Channel = Channel.HOTLINE_12345
    region_code: CodeRef | None = Field(
        default=None, description="its unplaceable orders' queue; default: the top region"
    )
    category_map: dict[Line, CodeRef] = Field(default_factory=dict, max_length=2000)


class PartnerPatch(Strict):
    """Changes to a partner; a new ``secret`` replaces the old one at once."""

    name: Line | None = Field(default=None, min_length=1, max_length=100)
    secret: Secret | None = Field(default=None, min_length=32, max_length=200)
    webhook_url: WebLink | None = Field(default=None, max_length=500)
    category_map: dict[Line, CodeRef] | None = Field(default=None, max_length=2000)
    is_active: bool | None = None


class PartnerOut(Output):
    """A partner as admins see it (never its secret)."""

    code: str
    name: str
    webhook_url: str | None
    channel: Channel
    region_code: str
    category_map: dict[str, str]
    is_active: bool
    created_at: datetime


class PartnerCreated(PartnerOut):
    """The new partner with its shared secret: the only time the centre shows it."""

    secret: str


class InboundOrder(Strict):
    """A work order (工单) as a partner sends it. Times are ISO 8601 with an offset, or
    ``YYYY-MM-DD HH:MM[:SS]`` in the centre's time."""

    order_number: Line = Field(min_length=1, max_length=64, description="工单编号")
    content: Text = Field(min_length=1, max_length=5000, description="诉求内容")
    category: Line = Field(
        min_length=1, max_length=100, description="诉求类型: a name in the partner's category map"
    )
    title: Line | None = Field(default=None, max_length=200, description="default: the content's start")
    called_at: Line | None = Field(default=None, max_length=40, description="来电时间")
    deadline: Line | None = Field(default=None, max_length=40, description="办理时限: the partner's deadline")
    address: Line = Field(default="", max_length=300, description="诉求地址")
    lng: float | None = Field(default=None, ge=-180, le=180, allow_inf_nan=False)
    lat: float | None = Field(default=None, ge=-90, le=90, allow_inf_nan=False)
    crs: CoordinateSystem = CoordinateSystem.WGS84
    contact_name: Line | None = Field(default=None, max_length=100, description="联系人")
    contact_phone: Line | None = Field(default=None, max_length=40, description="联系电话")
    request_type: Line | None = Field(
        default=None, max_length=20, description="投诉/求助/咨询/建议/表扬 or its English name"
    )
    urgency: Urgency = Urgency.NORMAL

    @model_validator(mode="after")
    def _coordinate_pair(self) -> InboundOrder:
        if (self.lng is None) != (self.lat is None):
            raise ValueError("give both lng and lat, or neither")
        return self


class OrderResult(BaseModel):
    """What became of a work order: a new case, or the case an earlier copy made."""

    order_number: str
    case_number: str
    created: bool = Field(description="false: the order was received before and is this case already")
    state: str
    grid_code: str | None = Field(description="null: no grid covers it; it waits in the district's queue")
    external_deadline_at: datetime | None
