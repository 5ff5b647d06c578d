"""XML and JSON answers as the GeoReport v2 spec shows them (JSON by the Spark convention of the XML)."""

from __future__ import annotations

import json
from typing import Any
from xml.etree import ElementTree as ET

# The element each item of a list is wrapped in, by the list's element name.
ITEM = {
    "services": "service",
    "service_requests": "request",
    "attributes": "attribute",
    "values": "value",
    "endpoints": "endpoint",
    "formats": "format",
    "errors": "error",
    "notes": "note",
    "service_request_updates": "request_update",
}
CONTENT_TYPES = {"xml": "text/xml; charset=utf-8", "json": "application/json; charset=utf-8"}


def _text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _fill(element: ET.Element, value: Any) -> None:
    if isinstance(value, dict):
        for name, child in value.items():
            _fill(ET.SubElement(element, name), child)
    elif isinstance(value, list):
        for child in value:
            _fill(ET.SubElement(element, ITEM[element.tag]), child)
    else:
        element.text = _text(value)


def to_xml(root: str, data: Any) -> bytes:
    """``data`` under the ``root`` element, UTF-8, with the XML declaration."""
    element = ET.Element(root)
    _fill(element, data)
    return b'<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(element, encoding="utf-8", xml_declaration=False)


def to_json(data: Any) -> bytes:
    return json.dumps(data, ensure_ascii=False).encode("utf-8")


def render(fmt: str, root: str, data: Any) -> bytes:
    return to_xml(root, data) if fmt == "xml" else to_json(data)
