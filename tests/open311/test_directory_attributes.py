"""Service attributes live in the directory per category; the import validates them, the export keeps them."""

from __future__ import annotations

import pytest

from routing import directory
from tests.open311.conftest import LIGHT_ATTRIBUTES


def problems(runtime, attributes=None, settings=None):
    data = {"categories": [{"code": "X", "name_zh": "甲", "name_en": "X"}]}
    if attributes is not None:
        data["categories"][0]["open311_attributes"] = attributes
    if settings is not None:
        data["settings"] = {"open311": settings}
    with runtime.db.session() as s:
        return [p.message for p in directory.validate(s, directory.Directory(data))]


def test_valid_attributes_pass(runtime):
    assert problems(runtime, LIGHT_ATTRIBUTES) == []


@pytest.mark.parametrize(
    ("attribute", "needle"),
    [
        ({"datatype": "string"}, "code"),
        ({"code": "A", "datatype": "colour"}, "datatype"),
        ({"code": "A", "datatype": "string", "required": "yes"}, "required"),
        ({"code": "A", "datatype": "string", "order": 0}, "order"),
        ({"code": "A", "datatype": "singlevaluelist"}, "values"),
        ({"code": "A", "datatype": "string", "values": [{"key": "1", "name_zh": "一", "name_en": "one"}]}, "values"),
        ({"code": "A", "datatype": "string", "colour": "red"}, "unknown"),
        ({"code": "A", "datatype": "multivaluelist", "values": [{"key": "1"}]}, "name_zh"),
    ],
)
def test_a_bad_attribute_is_reported(runtime, attribute, needle):
    base = {"order": 1, "description_zh": "说明", "description_en": "Help"}
    found = problems(runtime, [{**base, **attribute}])
    assert any(needle in m for m in found), found


def test_duplicate_codes_and_orders_are_reported(runtime):
    twice = [LIGHT_ATTRIBUTES[0], {**LIGHT_ATTRIBUTES[0]}]
    assert any("duplicate code" in m for m in problems(runtime, twice))
    assert any("already used" in m for m in problems(runtime, twice))


@pytest.mark.parametrize(
    "given",
    [{"read_access": "secret"}, {"private_tickets": "publish"}, {"colour": "red"}, {"public_rate_limit": "fast"}],
)
def test_bad_open311_settings_are_reported(runtime, given):
    assert problems(runtime, settings=given)


def test_good_open311_settings_pass(runtime):
    settings = {"read_access": "key", "private_tickets": "omit", "jurisdiction_id": "daqing.gov.cn"}
    assert problems(runtime, settings=settings) == []


def test_attributes_survive_export_and_import_in_yaml_and_csv(runtime, city):
    with runtime.db.session() as s:
        data = directory.export_directory(s)
    light = next(c for c in data["categories"] if c["code"] == "CONSTRUCTION-LIGHTS")
    assert light["open311_attributes"] == LIGHT_ATTRIBUTES
    text = directory.dump_csv(data, "categories")
    parsed = directory.parse_csv(text, "categories")
    again = next(c for c in parsed.rows("categories") if c["code"] == "CONSTRUCTION-LIGHTS")
    assert again["open311_attributes"] == LIGHT_ATTRIBUTES
    with runtime.db.transaction() as s:
        directory.import_directory(s, directory.parse_yaml(directory.dump_yaml(data)), runtime.now())
