"""What Open311 clients send: the body of ``POST requests`` (form-urlencoded, with or
without a charset, or JSON) and the filters of ``GET requests``, read and checked into
plain values; every problem is an InvalidInput naming the field (the spec's 400)."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Annotated, Any
from urllib.parse import parse_qsl

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from civicgrid.domain.errors import InvalidInput
from civicgrid.schemas import CodeRef, Line, Moment, Text, WebLink

#: ``attribute[code]`` or ``attribute[code][]``.
_ATTRIBUTE = re.compile(r"^attribute\[([^\[\]]+)\](\[\])?$")
MAX_DESCRIPTION = 4000
#: GET requests: at most this many, over at most this span (the spec's defaults and limits).
MAX_REQUESTS = 1000
MAX_SPAN = timedelta(days=90)


class ReportIn(BaseModel):
    """The fields of a new service request; the attributes come apart."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    api_key: str | None = None
    jurisdiction_id: Line | None = Field(default=None, max_length=100)
    service_code: CodeRef
    lat: float | None = Field(default=None, ge=-90, le=90, allow_inf_nan=False)
    long: float | None = Field(default=None, ge=-180, le=180, allow_inf_nan=False)
    address_string: Line | None = Field(default=None, max_length=300)
    address_id: Line | None = Field(default=None, max_length=64)
    email: Line | None = Field(default=None, max_length=200, pattern=r"^[^@\s]+@[^@\s]+$")
    device_id: Line | None = Field(default=None, max_length=100)
    account_id: Line | None = Field(default=None, max_length=100)
    first_name: Line | None = Field(default=None, max_length=50)
    last_name: Line | None = Field(default=None, max_length=50)
    phone: Line | None = Field(default=None, max_length=40)
    description: Annotated[Text, Field(max_length=MAX_DESCRIPTION)] = ""
    media_url: WebLink | None = Field(default=None, max_length=500)


@dataclass(frozen=True)
class Report:
    """A checked new service request: its fields and its answers (code → values sent)."""

    fields: ReportIn
    attributes: dict[str, list[str]]


def parse_body(content_type: str, body: bytes) -> tuple[dict[str, Any], dict[str, list[str]]]:
    """The single fields and the attributes of a POST body; InvalidInput for another content
    type, a body that is not UTF-8 or not JSON, or a field sent twice."""
    media_type = content_type.split(";")[0].strip().lower()
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidInput("the body is not UTF-8") from None
    if media_type == "application/x-www-form-urlencoded":
        try:
            pairs = parse_qsl(text, keep_blank_values=True, max_num_fields=500, errors="strict")
        except UnicodeDecodeError:
            raise InvalidInput("the body is not UTF-8 (a %-escape decodes to no UTF-8 text)") from None
        except ValueError as error:  # more than max_num_fields
            raise InvalidInput(str(error)) from None
    elif media_type == "application/json":
        pairs = _json_pairs(text)
    elif media_type == "multipart/form-data":
        raise InvalidInput("uploaded media files are not accepted yet: send a media_url")
    else:
        raise InvalidInput("send application/x-www-form-urlencoded (or application/json)")
    fields: dict[str, Any] = {}
    attributes: dict[str, list[str]] = {}
    for name, value in pairs:
        found = _ATTRIBUTE.match(name)
        if found:
            attributes.setdefault(found.group(1), []).append(value)
        elif name in fields:
            raise InvalidInput(f"{name} is given more than once")
        elif value != "":  # the spec: an empty parameter is the same as none
            fields[name] = value
    return fields, attributes


def _json_pairs(text: str) -> list[tuple[str, str]]:
    try:
        data = json.loads(text)
    except ValueError:
        raise InvalidInput("the body is not JSON") from None
    if not isinstance(data, dict):
        raise InvalidInput("the JSON body must be an object")
    pairs: list[tuple[str, str]] = []
    for name, value in data.items():
        if name == "attribute" and isinstance(value, dict):
            for code, answer in value.items():
                for item in answer if isinstance(answer, list) else [answer]:
                    pairs.append((f"attribute[{code}]", _scalar(f"attribute[{code}]", item)))
        elif value is not None:
            pairs.append((name, _scalar(name, value)))
    return pairs


def _scalar(name: str, value: Any) -> str:
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise InvalidInput(f"{name} must be a string or a number")
    return str(value)


def parse_report(fields: dict[str, Any], attributes: dict[str, list[str]]) -> Report:
    """The checked request, or InvalidInput naming each field at fault."""
    try:
        checked = ReportIn.model_validate(fields)
    except ValidationError as error:
        raise InvalidInput("; ".join(_problem(p) for p in error.errors())) from None
    if (checked.lat is None) != (checked.long is None):
        raise InvalidInput("give both lat and long, or neither")
    if checked.lat is None and checked.address_string is None and checked.address_id is None:
        raise InvalidInput("a location is required: lat & long, address_string or address_id")
    return Report(checked, attributes)


def _problem(problem: Any) -> str:
    where = ".".join(str(part) for part in problem["loc"]) or "body"
    message = str(problem["msg"])
    if problem["type"] == "extra_forbidden":
        message = "not an Open311 field"
    return f"{where}: {message}"


@dataclass(frozen=True)
class RequestFilters:
    """The filters of GET requests, checked."""

    numbers: list[str]
    service_codes: list[str]
    start: datetime
    end: datetime
    statuses: set[str]


def _moment(name: str, text: str) -> datetime:
    class _Time(BaseModel):
        value: Moment

    try:
        return _Time(value=text).value
    except ValidationError:
        raise InvalidInput(f"{name}: give a W3C time with its zone, e.g. 2026-09-01T00:00:00+08:00") from None


def _items(text: str | None) -> list[str]:
    return [item.strip() for item in (text or "").split(",") if item.strip()]


def parse_filters(
    now: datetime,
    service_request_id: str | None,
    service_code: str | None,
    start_date: str | None,
    end_date: str | None,
    status: str | None,
) -> RequestFilters:
    """The filters of GET requests: when neither date is given, the last 90 days; one date
    alone reaches 90 days from it; the span may not exceed 90 days."""
    start = _moment("start_date", start_date) if start_date else None
    end = _moment("end_date", end_date) if end_date else None
    if start is None and end is None:
        end = now
    if start is None:
        assert end is not None
        start = end - MAX_SPAN
    if end is None:
        end = start + MAX_SPAN
    if end < start:
        raise InvalidInput("end_date is before start_date")
    if end - start > MAX_SPAN:
        raise InvalidInput("start_date and end_date may not span more than 90 days")
    statuses = set(_items(status))
    if statuses - {"open", "closed"}:
        raise InvalidInput(
            f"status is open or closed, not {', '.join(sorted(statuses - {'open', 'closed'}))}"
        )
    numbers = _items(service_request_id)
    if len(numbers) > MAX_REQUESTS:
        raise InvalidInput(f"at most {MAX_REQUESTS} service_request_id at once")
    return RequestFilters(numbers, _items(service_code), start, end, statuses)
