"""Open311's two formats: JSON, and XML exactly as the specification shows it (a UTF-8
prolog, no namespace, lists as repeated elements named in the singular)."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from enum import StrEnum
from typing import Any

from starlette.responses import Response


class Format(StrEnum):
    """The formats a resource is asked for by its suffix (``services.xml``)."""

    JSON = "json"
    XML = "xml"


MEDIA_TYPES = {Format.JSON: "application/json; charset=utf-8", Format.XML: "text/xml; charset=utf-8"}
#: The element of each item of a list, by the list's element.
ITEMS = {
    "services": "service",
    "service_requests": "request",
    "attributes": "attribute",
    "values": "value",
    "endpoints": "endpoint",
    "formats": "format",
    "errors": "error",
}
PROLOG = '<?xml version="1.0" encoding="utf-8"?>\n'


def format_of_path(path: str) -> Format:
    """The format a request path asks for (errors answer in it); JSON unless it ends .xml."""
    return Format.XML if path.endswith(".xml") else Format.JSON


def render(
    fmt: Format, root: str, body: Any, status: int = 200, headers: dict[str, str] | None = None
) -> Response:
    """``body`` (a list for list roots, else a dict) in ``fmt``; ``root`` names the XML root."""
    if fmt is Format.JSON:
        text = json.dumps(body, ensure_ascii=False, separators=(",", ":"))
    else:
        element = ET.Element(root)
        _fill(element, root, body)
        ET.indent(element)
        text = PROLOG + ET.tostring(element, encoding="unicode")
    return Response(text.encode(), status_code=status, media_type=MEDIA_TYPES[fmt], headers=headers)


def _fill(element: ET.Element, tag: str, value: Any) -> None:
    if isinstance(value, dict):
        for key, child in value.items():
            _fill(ET.SubElement(element, key), key, child)
    elif isinstance(value, list):
        item = ITEMS.get(tag, "item")
        for child in value:
            _fill(ET.SubElement(element, item), item, child)
    elif isinstance(value, bool):
        element.text = "true" if value else "false"
    elif value is not None:
        element.text = str(value)


def errors(fmt: Format, status: int, description: str, headers: dict[str, str] | None = None) -> Response:
    """The spec's error body: ``[{"code", "description"}]`` or ``<errors><error>…``."""
    return render(fmt, "errors", [{"code": status, "description": description}], status, headers)
