"""Open311 tests: the demo city with service attributes on street lighting, and an API key."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from xml.etree import ElementTree as ET
from zoneinfo import ZoneInfo

import pytest

from hotline_core.audit import Actor
from open311 import services
from routing import directory

BEIJING = ZoneInfo("Asia/Shanghai")
API = "/open311/v2"

LIGHT_ATTRIBUTES: list[dict[str, Any]] = [
    {
        "code": "POLE",
        "datatype": "string",
        "required": True,
        "order": 1,
        "description_zh": "灯杆编号",
        "description_en": "Pole number",
    },
    {
        "code": "PROBLEM",
        "datatype": "multivaluelist",
        "required": True,
        "order": 2,
        "description_zh": "什么问题",
        "description_en": "What is wrong",
        "values": [
            {"key": "dark", "name_zh": "不亮", "name_en": "Not lit"},
            {"key": "flicker", "name_zh": "闪烁", "name_en": "Flickering"},
            {"key": "daytime", "name_zh": "白天亮", "name_en": "Lit in daytime"},
        ],
    },
    {
        "code": "COUNT",
        "datatype": "number",
        "required": False,
        "order": 3,
        "description_zh": "几盏灯",
        "description_en": "How many lights",
    },
    {
        "code": "SINCE",
        "datatype": "datetime",
        "order": 4,
        "description_zh": "从何时起",
        "description_en": "Since when",
    },
]


def import_yaml(runtime: Any, text: str) -> None:
    with runtime.db.transaction() as s:
        directory.import_directory(s, directory.parse_yaml(text), runtime.now())


def set_open311(runtime: Any, **settings: Any) -> None:
    """Replace the directory's settings.open311 (keeping the other settings)."""
    from hotline_core.models import DirectorySetting

    with runtime.db.transaction() as s:
        row = s.get(DirectorySetting, "settings") or DirectorySetting(key="settings", value={})
        row.value = {**(row.value or {}), "open311": settings}
        s.add(row)


@pytest.fixture
def city(runtime: Any, clock: Any, demo_city_template: None) -> None:
    """The demo city from the session's template, with service attributes on street lighting."""
    clock.set(datetime(2026, 11, 23, 9, 0, tzinfo=BEIJING))
    with runtime.db.transaction() as s:
        data = directory.export_directory(s)
    for row in data["categories"]:
        if row["code"] == "CONSTRUCTION-LIGHTS":
            row["open311_attributes"] = LIGHT_ATTRIBUTES
    with runtime.db.transaction() as s:
        directory.import_directory(s, directory.Directory(data), runtime.now())


@pytest.fixture
def api_key(runtime: Any, city: None) -> str:
    with runtime.db.transaction() as s:
        _, secret = services.create_key(s, "fixmystreet", runtime.now(), Actor("test"), "1000/minute")
    return secret


def xml(response: Any) -> ET.Element:
    body = response.get_data()
    assert body.startswith(b'<?xml version="1.0" encoding="utf-8"?>')
    return ET.fromstring(body)  # noqa: S314 (our own answer, parsed to check its shape)


def light_report(api_key: str, **overrides: Any) -> dict[str, Any]:
    """A complete, valid street-light report as FixMyStreet would post it."""
    form: dict[str, Any] = {
        "api_key": api_key,
        "service_code": "CONSTRUCTION-LIGHTS",
        "lat": "46.5907",
        "long": "125.1035",
        "description": "萨尔图区中央大街路灯坏了三天，晚上一片漆黑",
        "attribute[POLE]": "SE-0042",
        "attribute[PROBLEM][]": ["dark", "flicker"],
        "first_name": "Mei",
        "last_name": "Zhang",
        "email": "zhang.mei@example.org",
        "phone": "+8613800138000",
    }
    form.update(overrides)
    return {k: v for k, v in form.items() if v is not None}
