"""The dispatch directory: import with line-numbered validation, all-or-nothing, rule history, export."""

import csv
import io

import pytest
from sqlalchemy import func, select

from hotline_core.models import Area, Category, RoutingRule, Unit
from routing import directory

GOOD = """
units:
  - {code: U1, name_zh: 一局, name_en: Bureau One, contact_phones: ["13900000001"]}
  - {code: U2, name_zh: 二局, name_en: Bureau Two}
areas:
  - {code: A1, name_zh: 一区, name_en: District One, aliases: [一区, A1区], fallback_unit: U1}
categories:
  - {code: C1, name_zh: 一类, name_en: Kind One, keywords: [路灯]}
  - {code: C1-1, parent: C1, name_zh: 一类一, name_en: Kind One One}
rules:
  - {category: C1, lead: U1, co: [U2]}
"""


def do_import(runtime, text, csv_table=None):
    parsed = directory.parse_csv(text, csv_table) if csv_table else directory.parse_yaml(text)
    with runtime.db.transaction() as s:
        return directory.import_directory(s, parsed, runtime.now())


def count(runtime, model):
    with runtime.db.session() as s:
        return s.scalar(select(func.count()).select_from(model))


def test_a_valid_file_is_imported(runtime):
    summary = do_import(runtime, GOOD)
    assert summary.created == {"units": 2, "areas": 1, "categories": 2} and summary.rules_added == 1
    with runtime.db.session() as s:
        unit = s.scalars(select(Unit).where(Unit.code == "U1")).one()
        child = s.scalars(select(Category).where(Category.code == "C1-1")).one()
        area = s.scalars(select(Area).where(Area.code == "A1")).one()
    assert unit.contact_phones == ["+8613900000001"]
    assert child.level == 2 and child.parent_id is not None
    assert area.fallback_unit_id == unit.id


def test_every_problem_is_reported_with_its_line_and_nothing_is_written(runtime):
    bad = """units:
  - {code: U1, name_zh: 一局, name_en: Bureau One, contact_phones: ["12345"]}
  - {code: U1, name_zh: 重复, name_en: Duplicate}
  - {name_zh: 无代码, name_en: No code, colour: red}
categories:
  - {code: C1, name_zh: 一类, name_en: Kind One, urgency: whenever}
rules:
  - {category: NOPE, lead: U9}
"""
    with pytest.raises(directory.DirectoryError) as caught:
        do_import(runtime, bad)
    messages = [str(p) for p in caught.value.problems]
    assert any(m.startswith("line 2: units[0]: contact_phones: '12345'") for m in messages)
    assert any(m.startswith("line 3: units[1]: duplicate code 'U1'") for m in messages)
    assert any(m.startswith("line 4: units[2]: unknown field(s): colour") for m in messages)
    assert any(m.startswith("line 4: units[2]: code is required") for m in messages)
    assert any(m.startswith("line 6: categories[0]: urgency 'whenever'") for m in messages)
    assert any(m.startswith("line 8: rules[0]: category 'NOPE' does not exist") for m in messages)
    assert any(m.startswith("line 8: rules[0]: unit 'U9' does not exist") for m in messages)
    assert count(runtime, Unit) == 0 and count(runtime, Category) == 0


def test_broken_yaml_names_the_line(runtime):
    with pytest.raises(directory.DirectoryError) as caught:
        do_import(runtime, "units:\n  - {code: U1, name_zh: [unclosed\n")
    assert caught.value.problems[0].line is not None and "not valid YAML" in str(caught.value)


def test_a_rule_change_keeps_the_old_rule_as_history(runtime, clock):
    do_import(runtime, GOOD)
    clock.advance(60)
    do_import(runtime, GOOD.replace("{category: C1, lead: U1, co: [U2]}", "{category: C1, lead: U2}"))
    with runtime.db.session() as s:
        rules = s.scalars(select(RoutingRule).order_by(RoutingRule.id)).all()
    assert [(r.active, r.valid_to is not None) for r in rules] == [(False, True), (True, False)]
    assert rules[0].valid_to == rules[1].valid_from


def test_importing_the_same_file_twice_changes_nothing(runtime):
    do_import(runtime, GOOD)
    summary = do_import(runtime, GOOD)
    assert summary.rules_added == 0 and summary.rules_closed == 0 and count(runtime, RoutingRule) == 1


def test_csv_tables_report_their_row_lines(runtime):
    do_import(runtime, GOOD)
    with pytest.raises(directory.DirectoryError) as caught:
        do_import(runtime, "category,area,lead,co\nC1,A1,U1,U2\nC1,,GHOST,\n", csv_table="rules")
    assert [str(p) for p in caught.value.problems] == ["line 3: rules[1]: unit 'GHOST' does not exist"]
    summary = do_import(runtime, "category,area,lead,co\nC1,A1,U2,U1|U2\n", csv_table="rules")
    assert summary.rules_added == 1 and summary.rules_closed == 1


@pytest.mark.demo_city
def test_export_round_trips(runtime):
    with runtime.db.session() as s:
        exported = directory.export_directory(s)
    text = directory.dump_yaml(exported)
    assert "让胡路区" in text
    summary = do_import(runtime, text)
    assert summary.rules_added == 0 and summary.rules_closed == 0
    units_csv = directory.dump_csv(exported, "units")
    assert units_csv.splitlines()[0] == "\ufeffcode,active,contact_phones,kind,name_en,name_zh,parent,service_hotlines"
    assert do_import(runtime, units_csv, csv_table="units").updated == {"units": 14}


@pytest.mark.demo_city
def test_the_demo_directory_is_complete(runtime):
    with runtime.db.session() as s:
        areas = s.scalars(select(Area)).all()
    assert len(areas) == 5 and all(a.fallback_unit_id for a in areas)
    assert count(runtime, RoutingRule) >= 10


# --- CSV tables are formula-safe and round-trip (issue 11, point 7) ----------------------------------

FORMULA_CITY = """
units:
  - {code: U1, name_zh: "=HYPERLINK(\\"http://evil.example\\",\\"点击\\")", name_en: "@SUM(1+1)",
     contact_phones: ["+8613900000001", "13900000002"], service_hotlines: ["+864594567890"]}
  - {code: U2, name_zh: "'=已经带引号", name_en: "-Bureau Two", kind: district}
areas:
  - {code: A1, name_zh: 一区, name_en: "+District One", aliases: ["-一区", "A1区"], fallback_unit: U1}
categories:
  - {code: C1, name_zh: 一类, name_en: "=Kind One", keywords: ["=路灯", "@灯"]}
rules:
  - {category: C1, lead: U1, co: [U2], note: "-see the 2026 notice"}
"""


def test_the_csv_tables_neutralise_formula_cells(runtime):
    do_import(runtime, FORMULA_CITY)
    with runtime.db.session() as s:
        exported = directory.export_directory(s)
    for table in ("units", "areas", "categories", "rules"):
        text = directory.dump_csv(exported, table)
        cells = [cell for row in csv.reader(io.StringIO(text.removeprefix("\ufeff"))) for cell in row]
        assert not [c for c in cells if c.startswith(("=", "+", "-", "@", "\t", "\r"))], table
    units = directory.dump_csv(exported, "units")
    assert "'=HYPERLINK" in units and "'@SUM(1+1)" in units and "'+8613900000001|+8613900000002" in units


def test_a_csv_export_imports_back_to_the_same_directory(runtime):
    do_import(runtime, FORMULA_CITY)
    with runtime.db.session() as s:
        before = directory.export_directory(s)
    for table in ("units", "areas", "categories", "rules"):
        summary = do_import(runtime, directory.dump_csv(before, table), csv_table=table)
        assert summary.rules_added == 0 and summary.rules_closed == 0
    with runtime.db.session() as s:
        after = directory.export_directory(s)
    assert after == before
    assert after["units"][0]["contact_phones"] == ["+8613900000001", "+8613900000002"]
    assert after["units"][1]["name_zh"] == "'=已经带引号"


def test_a_hand_written_csv_with_plain_phone_numbers_still_imports(runtime):
    do_import(runtime, GOOD)
    do_import(runtime, "code,name_zh,name_en,contact_phones\nU2,二局,Bureau Two,+8613900000003\n", csv_table="units")
    with runtime.db.session() as s:
        assert s.scalars(select(Unit).where(Unit.code == "U2")).one().contact_phones == ["+8613900000003"]
