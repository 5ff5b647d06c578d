"""The dispatch directory as data: import and export YAML (and CSV for the big tables).

An import is validated as a whole first: every problem is reported with its section, row and line,
and nothing is written unless the whole file is valid. Then it is applied in one transaction:
units, areas and categories are upserted by code; when the file has a ``rules`` section, it becomes
the rule set, and every rule that changes or disappears is closed (``valid_to``) rather than
deleted, so routing history is kept.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from hotline_core import phones, quiet_hours
from hotline_core.csv_cells import BOM, csv_text, restore_cell
from hotline_core.errors import HotlineError
from hotline_core.models import Area, Category, DirectorySetting, Role, RoutingRule, Unit, User
from routing.calendar import BusinessCalendar
from routing.deadlines import DEFAULT_POLICIES, DeadlinePolicy
from routing.operator import problems as operator_problems

SECTIONS = ("calendar", "policies", "settings", "units", "areas", "categories", "rules")
URGENCIES = ("emergency", "utility", "general", "complex")
UNIT_KINDS = ("supervision", "district", "department", "service_window", "street", "company", "leadership")
FIELDS = {
    "units": {"code", "name_zh", "name_en", "kind", "parent", "contact_phones", "service_hotlines", "active"},
    "areas": {"code", "name_zh", "name_en", "parent", "aliases", "fallback_unit"},
    "categories": {
        "code",
        "name_zh",
        "name_en",
        "parent",
        "keywords",
        "urgency",
        "policy",
        "active",
        "open311_attributes",
        "safety_advice_zh",
        "safety_advice_en",
    },
    "rules": {"category", "area", "lead", "co", "note"},
}
REQUIRED = {
    "units": ("code", "name_zh", "name_en"),
    "areas": ("code", "name_zh", "name_en"),
    "categories": ("code", "name_zh", "name_en"),
    "rules": ("lead",),
}
LIST_FIELDS = {"contact_phones", "service_hotlines", "aliases", "keywords", "co"}
SETTINGS_KEYS = {
    "auto_dispatch_min_confidence",
    "auto_dispatch_target_precision",
    "warning_share",
    "escalation",
    "return_window_working_days",
    "rank_weights",
    "rank_min_volume",
    "mystery_weight",
    "open311",
    "bulletin_recipients",
    "mystery_min_scored_calls",
    "mystery_dispute_working_days",
    "operator",  # issue 13 (desk13): the number a caller reaches by pressing 0, and its staffed hours
    "quiet_hours",  # "21:00-08:00" city time: surveys and reminders to citizens wait until morning
    "resolution_approval",  # issue 13 point 5: true, false or a list of unit codes
}
MAX_ADVICE = 300  # safety advice goes by SMS: a few segments at most
OPEN311_DATATYPES = ("string", "number", "datetime", "text", "singlevaluelist", "multivaluelist")
OPEN311_ATTRIBUTE_FIELDS = {
    "code",
    "datatype",
    "required",
    "variable",
    "order",
    "description_zh",
    "description_en",
    "datatype_description_zh",
    "datatype_description_en",
    "values",
}
OPEN311_SETTINGS = {
    "read_access": ("public", "key"),
    "private_tickets": ("omit", "reduce"),
    "endpoint_type": ("production", "test"),
}
OPEN311_TEXT_SETTINGS = {"jurisdiction_id", "contact", "key_service", "public_rate_limit"}


class DirectoryProblem(HotlineError):
    """What is wrong with a directory file, as a message key (``directory.problem.*``) and fields."""


def _problem(key: str, /, **params: object) -> DirectoryProblem:
    return DirectoryProblem(f"directory.problem.{key}", **params)


@dataclass(frozen=True)
class Problem:
    """One problem of a directory file: where (section, row, line) and what, in the reader's language."""

    section: str
    row: int | None
    line: int | None
    error: DirectoryProblem

    @property
    def message(self) -> str:  # logs, the CLI and tests read English
        return self.error.message("en")

    def text(self, language: str) -> str:
        return self.error.message(language)

    def __str__(self) -> str:
        where = f"line {self.line}: " if self.line else ""
        row = f"{self.section}[{self.row}]" if self.row is not None else self.section
        return f"{where}{row}: {self.message}"


class DirectoryError(ValueError):
    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


@dataclass
class Directory:
    """A parsed directory file: sections as lists of dicts, with the line each row starts on."""

    data: dict[str, Any]
    lines: dict[tuple[str, int], int] = field(default_factory=dict)

    def rows(self, section: str) -> list[dict[str, Any]]:
        return list(self.data.get(section) or [])


# --- reading -------------------------------------------------------------------------------------


def parse_yaml(text: str) -> Directory:
    try:
        node = yaml.compose(text)
        data = yaml.safe_load(text) or {}
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark else None
        raise DirectoryError([Problem("file", None, line, _problem("bad_yaml"))]) from None
    if not isinstance(data, dict):
        raise DirectoryError([Problem("file", None, 1, _problem("not_a_mapping_of_sections"))])
    lines: dict[tuple[str, int], int] = {}
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            if isinstance(value_node, yaml.SequenceNode):
                for i, item in enumerate(value_node.value):
                    lines[(key_node.value, i)] = item.start_mark.line + 1
            lines[(key_node.value, -1)] = key_node.start_mark.line + 1
    return Directory(data, lines)


def parse_csv(text: str, section: str) -> Directory:
    """One table as CSV with a header row; list fields are separated by ``|``."""
    if section not in FIELDS:
        raise DirectoryError([Problem(section, None, None, _problem("csv_tables", tables=", ".join(FIELDS)))])
    reader = csv.DictReader(io.StringIO(text.removeprefix(BOM)))
    rows: list[dict[str, Any]] = []
    lines: dict[tuple[str, int], int] = {}
    for i, raw in enumerate(reader):
        row: dict[str, Any] = {}
        for key, value in raw.items():
            if key is None:
                row["__extra__"] = value
                continue
            value = restore_cell(value or "").strip()
            if key in LIST_FIELDS:
                row[key] = [v.strip() for v in value.split("|") if v.strip()]
            elif key == "active":
                row[key] = value.lower() not in ("0", "false", "no", "n")
            elif key == "open311_attributes" and value:
                try:
                    row[key] = json.loads(value)
                except ValueError:
                    row[key] = value  # reported by validation: not a list
            elif value:
                row[key] = value
        rows.append(row)
        lines[(section, i)] = reader.line_num
    return Directory({section: rows}, lines)


def read_file(path: Path, table: str | None = None) -> Directory:
    text = path.read_text(encoding="utf-8-sig")
    if path.suffix.lower() == ".csv":
        return parse_csv(text, table or path.stem)
    return parse_yaml(text)


# --- validation ----------------------------------------------------------------------------------


def validate(session: Session, directory: Directory, default_region: str = "CN") -> list[Problem]:
    problems: list[Problem] = []
    data = directory.data

    def problem(section: str, row: int | None, key: str, **params: object) -> None:
        line = directory.lines.get((section, row if row is not None else -1))
        problems.append(Problem(section, row, line, _problem(key, **params)))

    for key in data:
        if key not in SECTIONS and key != "users":
            problem(str(key), None, "unknown_section", sections=", ".join(SECTIONS))

    existing_units = set(session.scalars(select(Unit.code)))
    existing_areas = set(session.scalars(select(Area.code)))
    existing_categories = set(session.scalars(select(Category.code)))
    codes: dict[str, set[str]] = {}
    for section in ("units", "areas", "categories"):
        rows = data.get(section)
        if rows is not None and not isinstance(rows, list):
            problem(section, None, "must_be_list")
            continue
        seen: set[str] = set()
        for i, row in enumerate(rows or []):
            if not isinstance(row, dict):
                problem(section, i, "must_be_mapping")
                continue
            _check_row(section, i, row, problem)
            code = str(row.get("code", ""))
            if code in seen:
                problem(section, i, "duplicate_code", code=code)
            seen.add(code)
        codes[section] = seen
    units = existing_units | codes.get("units", set())
    areas = existing_areas | codes.get("areas", set())
    categories = existing_categories | codes.get("categories", set())

    for section in ("policies", "settings"):
        if data.get(section) is not None and not isinstance(data[section], dict):
            problem(section, None, "must_be_mapping")
    if data.get("rules") is not None and not isinstance(data["rules"], list):
        problem("rules", None, "must_be_list")
    policies: dict[str, Any] = data["policies"] if isinstance(data.get("policies"), dict) else {}
    settings: dict[str, Any] = data["settings"] if isinstance(data.get("settings"), dict) else {}
    policy_names = set(DEFAULT_POLICIES) | set(policies.keys())
    for name, entry in policies.items():
        try:
            DeadlinePolicy.from_config(name, entry)
        except (KeyError, ValueError, TypeError):
            problem("policies", None, "bad_policy", name=name)
    if data.get("calendar") is not None:
        try:
            BusinessCalendar.from_config(data["calendar"])
        except (KeyError, ValueError, TypeError):
            problem("calendar", None, "bad_calendar")
    for key, value in settings.items():
        if key not in SETTINGS_KEYS:
            problem("settings", None, "unknown_setting", setting=key)
        elif key == "open311":
            for found in open311_settings_problems(value):
                problem("settings", None, "open311_settings", detail=found)
        elif key in ("auto_dispatch_min_confidence", "auto_dispatch_target_precision", "warning_share") and not (
            isinstance(value, int | float) and 0 <= value <= 1
        ):
            problem("settings", None, "share", setting=key)
        elif key == "operator":  # issue 13 (desk13): press 0 for a person, during staffed hours
            for operator_key, params in operator_problems(value):
                problem("settings", None, operator_key, **params)
            if isinstance(value, dict) and value.get("phone"):
                parsed = phones.normalise(str(value["phone"]), default_region)
                if parsed is None or not parsed.valid:
                    problem("settings", None, "operator_bad_phone", phone=str(value["phone"]))
        elif key == "quiet_hours":
            try:
                quiet_hours.parse(str(value or ""))
            except ValueError:
                problem("settings", None, "bad_quiet_hours", value=str(value))
        elif key == "resolution_approval" and not (
            isinstance(value, bool) or (isinstance(value, list) and all(isinstance(v, str) for v in value))
        ):
            problem("settings", None, "bad_resolution_approval")
        elif key == "bulletin_recipients":  # the leaders the weekly bulletin is emailed to
            entries = value if isinstance(value, list) else [value]
            for entry in entries:
                email = entry.get("email") if isinstance(entry, dict) else entry
                if not (isinstance(email, str) and re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", email.strip())):
                    problem("settings", None, "bad_email", email=email)

    for i, row in enumerate(_listed(data, "units")):
        if not isinstance(row, dict):
            continue
        if row.get("kind") and row["kind"] not in UNIT_KINDS:
            problem("units", i, "bad_kind", kind=row["kind"], kinds=", ".join(UNIT_KINDS))
        if row.get("parent") and row["parent"] not in units:
            problem("units", i, "no_parent_unit", code=row["parent"])
        for name in ("contact_phones", "service_hotlines"):
            for number in row.get(name) or []:
                parsed = phones.normalise(str(number), default_region)
                if parsed is None or not parsed.valid:
                    problem("units", i, "bad_phone", field=name, number=number)
    for i, row in enumerate(_listed(data, "areas")):
        if not isinstance(row, dict):
            continue
        if row.get("parent") and row["parent"] not in areas:
            problem("areas", i, "no_parent_area", code=row["parent"])
        if row.get("fallback_unit") and row["fallback_unit"] not in units:
            problem("areas", i, "no_fallback_unit", code=row["fallback_unit"])
    for i, row in enumerate(_listed(data, "categories")):
        if not isinstance(row, dict):
            continue
        if row.get("parent") and row["parent"] not in categories:
            problem("categories", i, "no_parent_category", code=row["parent"])
        if row.get("urgency") and row["urgency"] not in URGENCIES:
            problem("categories", i, "bad_urgency", urgency=row["urgency"], urgencies=", ".join(URGENCIES))
        if row.get("policy") and row["policy"] not in policy_names:
            problem("categories", i, "no_policy", name=row["policy"])
        for name in ("safety_advice_zh", "safety_advice_en"):
            if row.get(name) is not None and (not isinstance(row[name], str) or len(row[name]) > MAX_ADVICE):
                problem("categories", i, "advice_too_long", field=name, limit=MAX_ADVICE)
        if "open311_attributes" in row:
            for found in open311_attribute_problems(row["open311_attributes"]):
                problem("categories", i, "open311_attributes", detail=found)
    seen_rules: set[tuple[str | None, str | None]] = set()
    for i, row in enumerate(_listed(data, "rules")):
        if not isinstance(row, dict):
            problem("rules", i, "must_be_mapping")
            continue
        _check_row("rules", i, row, problem)
        if row.get("category") and row["category"] not in categories:
            problem("rules", i, "no_category", code=row["category"])
        if row.get("area") and row["area"] not in areas:
            problem("rules", i, "no_area", code=row["area"])
        for unit in [row.get("lead"), *(row.get("co") or [])]:
            if unit and unit not in units:
                problem("rules", i, "no_unit", code=unit)
        rule_key = (row.get("category"), row.get("area"))
        if rule_key in seen_rules:
            problem("rules", i, "duplicate_rule", category=rule_key[0] or "—", area=rule_key[1] or "—")
        seen_rules.add(rule_key)
    return problems


def _listed(data: dict[str, Any], section: str) -> list[Any]:
    """A section's rows, or none when it is not a list (already reported as a problem)."""
    rows = data.get(section)
    return rows if isinstance(rows, list) else []


def _phone(value: object, default_region: str) -> str:
    """A directory phone number as stored (E.164 when it parses, else as written)."""
    parsed = phones.normalise(str(value), default_region)
    return parsed.value if parsed is not None else str(value)


def open311_attribute_problems(attributes: Any) -> list[DirectoryProblem]:
    """What is wrong with a category's Open311 attribute definitions (GeoReport v2 service definition)."""
    if not isinstance(attributes, list):
        return [_problem("attributes_not_list")]
    problems: list[DirectoryProblem] = []
    codes: set[str] = set()
    orders: set[int] = set()
    for n, attribute in enumerate(attributes, start=1):
        if not isinstance(attribute, dict):
            problems.append(_problem("attribute_not_mapping", n=n))
            continue
        unknown = set(attribute) - OPEN311_ATTRIBUTE_FIELDS
        if unknown:
            problems.append(_problem("attribute_unknown_fields", n=n, fields=", ".join(sorted(map(str, unknown)))))
        code = attribute.get("code")
        if not isinstance(code, str) or not code.strip() or len(code) > 64 or any(c in code for c in "[]"):
            problems.append(_problem("attribute_bad_code", n=n))
        elif code in codes:
            problems.append(_problem("attribute_duplicate_code", n=n, code=code))
        else:
            codes.add(code)
        datatype = attribute.get("datatype")
        if datatype not in OPEN311_DATATYPES:
            problems.append(_problem("attribute_bad_datatype", n=n, datatypes=", ".join(OPEN311_DATATYPES)))
        for flag in ("required", "variable"):
            if flag in attribute and not isinstance(attribute[flag], bool):
                problems.append(_problem("attribute_not_boolean", n=n, field=flag))
        order = attribute.get("order")
        if not isinstance(order, int) or isinstance(order, bool) or order < 1:
            problems.append(_problem("attribute_bad_order", n=n))
        elif order in orders:
            problems.append(_problem("attribute_order_used", n=n, order=order))
        else:
            orders.add(order)
        for name in ("description_zh", "description_en"):
            if not isinstance(attribute.get(name), str) or not attribute[name].strip():
                problems.append(_problem("attribute_required", n=n, field=name))
        values = attribute.get("values")
        if datatype in ("singlevaluelist", "multivaluelist"):
            if not isinstance(values, list) or not values:
                problems.append(_problem("attribute_needs_values", n=n, datatype=datatype))
                continue
            keys: set[str] = set()
            for value in values:
                if not isinstance(value, dict) or set(value) - {"key", "name_zh", "name_en"}:
                    problems.append(_problem("attribute_value_fields", n=n))
                    continue
                key = value.get("key")
                if not isinstance(key, str | int) or isinstance(key, bool) or not str(key).strip():
                    problems.append(_problem("attribute_value_key", n=n))
                elif str(key) in keys:
                    problems.append(_problem("attribute_duplicate_value", n=n, value=key))
                else:
                    keys.add(str(key))
                if not all(isinstance(value.get(f), str) and value[f].strip() for f in ("name_zh", "name_en")):
                    problems.append(_problem("attribute_value_names", n=n))
        elif values is not None:
            problems.append(_problem("attribute_values_not_allowed", n=n))
    return problems


def open311_settings_problems(value: Any) -> list[DirectoryProblem]:
    """What is wrong with the directory's ``settings.open311`` mapping."""
    if not isinstance(value, dict):
        return [_problem("must_be_mapping")]
    problems: list[DirectoryProblem] = []
    for key, entry in value.items():
        if key in OPEN311_SETTINGS:
            if entry not in OPEN311_SETTINGS[key]:
                problems.append(_problem("setting_choice", setting=key, choices=", ".join(OPEN311_SETTINGS[key])))
        elif key in OPEN311_TEXT_SETTINGS:
            if not isinstance(entry, str) or not entry.strip():
                problems.append(_problem("setting_text", setting=key))
            elif key == "public_rate_limit" and not _is_rate(entry):
                problems.append(_problem("setting_rate", setting=key))
        else:
            problems.append(_problem("unknown_setting", setting=key))
    return problems


def _is_rate(text: str) -> bool:
    count, _, per = text.partition("/")
    return count.strip().isdigit() and per.strip() in ("second", "minute", "hour", "day")


def _check_row(section: str, i: int, row: dict[str, Any], problem: Any) -> None:
    unknown = set(row) - FIELDS[section]
    if unknown:
        problem(section, i, "unknown_fields", fields=", ".join(sorted(map(str, unknown))))
    for name in REQUIRED[section]:
        if not str(row.get(name) or "").strip():
            problem(section, i, "required", field=name)
    for name in LIST_FIELDS & set(row):
        if not isinstance(row[name], list) or not all(isinstance(v, str | int) for v in row[name]):
            problem(section, i, "list_of_texts", field=name)
    code = row.get("code")
    if code is not None and (not isinstance(code, str) or len(code) > 64 or not code.strip()):
        problem(section, i, "bad_code")


# --- applying ------------------------------------------------------------------------------------


@dataclass
class ImportSummary:
    created: dict[str, int] = field(default_factory=dict)
    updated: dict[str, int] = field(default_factory=dict)
    rules_closed: int = 0
    rules_added: int = 0
    # Not failures: things that import but will not work (a unit nobody can be told of a ticket).
    # Each a message key and its fields (issue 13 point 4).
    warnings: list[tuple[str, dict[str, Any]]] = field(default_factory=list)

    def __str__(self) -> str:
        parts = [
            f"{k}: {self.created.get(k, 0)} new, {self.updated.get(k, 0)} updated"
            for k in FIELDS
            if k in self.created or k in self.updated
        ]
        parts.append(f"rules: {self.rules_added} added, {self.rules_closed} closed")
        parts += [f"warning: {key} {fields}" for key, fields in self.warnings]
        return "; ".join(parts)


def import_directory(
    session: Session, directory: Directory, now: datetime, default_region: str = "CN"
) -> ImportSummary:
    """Validate, then apply in the caller's transaction. Raises :class:`DirectoryError` listing every problem."""
    problems = validate(session, directory, default_region)
    if problems:
        raise DirectoryError(problems)
    data = directory.data
    summary = ImportSummary()
    for key in ("calendar", "policies", "settings"):
        if data.get(key) is not None:
            setting = session.get(DirectorySetting, key) or DirectorySetting(key=key)
            setting.value = _jsonable(data[key])
            session.add(setting)

    unit_by_code = {u.code: u for u in session.scalars(select(Unit))}
    for row in data.get("units") or []:
        unit = unit_by_code.get(row["code"])
        _count(summary, "units", unit is None)
        if unit is None:
            unit = Unit(code=row["code"])
            session.add(unit)
            unit_by_code[unit.code] = unit
        unit.name_zh, unit.name_en = row["name_zh"], row["name_en"]
        unit.kind = row.get("kind", unit.kind or "department")
        unit.contact_phones = [_phone(p, default_region) for p in row.get("contact_phones") or []]
        unit.service_hotlines = [_phone(p, default_region) for p in row.get("service_hotlines") or []]
        unit.active = bool(row.get("active", True))
    session.flush()
    for row in data.get("units") or []:
        unit_by_code[row["code"]].parent_id = unit_by_code[row["parent"]].id if row.get("parent") else None

    area_by_code = {a.code: a for a in session.scalars(select(Area))}
    for row in data.get("areas") or []:
        area = area_by_code.get(row["code"])
        _count(summary, "areas", area is None)
        if area is None:
            area = Area(code=row["code"])
            session.add(area)
            area_by_code[area.code] = area
        area.name_zh, area.name_en = row["name_zh"], row["name_en"]
        area.aliases = [str(a) for a in row.get("aliases") or []]
        area.fallback_unit_id = unit_by_code[row["fallback_unit"]].id if row.get("fallback_unit") else None
    session.flush()
    for row in data.get("areas") or []:
        area_by_code[row["code"]].parent_id = area_by_code[row["parent"]].id if row.get("parent") else None

    category_by_code = {c.code: c for c in session.scalars(select(Category))}
    categories_before = _category_signature(category_by_code.values())
    for row in data.get("categories") or []:
        category = category_by_code.get(row["code"])
        _count(summary, "categories", category is None)
        if category is None:
            category = Category(code=row["code"])
            session.add(category)
            category_by_code[category.code] = category
        category.name_zh, category.name_en = row["name_zh"], row["name_en"]
        category.keywords = [str(k) for k in row.get("keywords") or []]
        category.urgency = row.get("urgency", "general")
        category.policy = row.get("policy")
        category.active = bool(row.get("active", True))
        if "open311_attributes" in row:
            category.open311_attributes = _jsonable(row["open311_attributes"])
        category.safety_advice_zh = _advice(row.get("safety_advice_zh"))
        category.safety_advice_en = _advice(row.get("safety_advice_en"))
    session.flush()
    for row in data.get("categories") or []:
        category = category_by_code[row["code"]]
        parent = category_by_code.get(row.get("parent") or "")
        category.parent_id = parent.id if parent else None
    _set_levels(category_by_code.values())
    if _category_signature(category_by_code.values()) != categories_before:
        # The classifier is trained on categories: the admin page compares this moment with the model's age.
        changed = session.get(DirectorySetting, CATEGORIES_CHANGED) or DirectorySetting(key=CATEGORIES_CHANGED)
        changed.value = {"at": now.isoformat()}
        session.add(changed)

    if data.get("rules") is not None:
        _apply_rules(session, data["rules"], unit_by_code, area_by_code, category_by_code, now, summary)
    session.flush()
    for unit in units_without_contact(session):
        summary.warnings.append(
            ("warning.unit_without_contact", {"code": unit.code, "zh": unit.name_zh, "en": unit.name_en})
        )
    return summary


def _advice(value: object) -> str | None:
    text = str(value).strip() if value is not None else ""
    return text or None


# --- who hears of a unit's tickets (issue 13 point 4) ---------------------------------------------

UNIT_ROLES = (Role.UNIT_STAFF, Role.UNIT_HEAD)


def _staff_phones() -> Select[tuple[int | None, str | None]]:
    """Active unit staff's phones, the unit head's first: where a unit without contact phones is texted."""
    return (
        select(User.unit_id, User.phone)
        .where(User.active, User.role.in_(UNIT_ROLES), User.phone.is_not(None))
        .order_by(User.role.desc(), User.id)
    )


def unit_contact_numbers(session: Session, unit: Unit) -> list[str]:
    """The numbers a unit's notifications go to: its contact phones, or else its active staff's."""
    if unit.contact_phones:
        return [str(p) for p in unit.contact_phones]
    return [phone for _, phone in session.execute(_staff_phones().where(User.unit_id == unit.id)) if phone]


def contact_numbers_by_unit(session: Session) -> dict[int, list[str]]:
    """``unit_contact_numbers`` of every unit, in two statements (routing caches it per worker)."""
    staff: dict[int, list[str]] = {}
    for unit_id, phone in session.execute(_staff_phones()):
        if unit_id is not None and phone:
            staff.setdefault(unit_id, []).append(phone)
    return {
        unit.id: [str(p) for p in unit.contact_phones] if unit.contact_phones else staff.get(unit.id, [])
        for unit in session.scalars(select(Unit))
    }


def units_without_contact(session: Session) -> list[Unit]:
    """Active units whose notifications would reach nobody: no contact phone and no active staff
    member with a phone."""
    with_staff_phone = set(
        session.scalars(
            select(User.unit_id).where(
                User.active, User.role.in_(UNIT_ROLES), User.phone.is_not(None), User.phone != ""
            )
        )
    )
    return [
        u
        for u in session.scalars(select(Unit).where(Unit.active).order_by(Unit.code))
        if not u.contact_phones and u.id not in with_staff_phone
    ]


CATEGORIES_CHANGED = "categories_changed"


def _category_signature(categories: Iterable[Category]) -> set[tuple[Any, ...]]:
    """What the routing learns from: codes, their tree, keywords and whether they are in use."""
    return {(c.code, c.parent_id, tuple(c.keywords or ()), bool(c.active)) for c in categories}


def categories_changed_at(session: Session) -> datetime | None:
    """When an import last added, removed or re-keyworded a category (``None``: never since this was recorded)."""
    setting = session.get(DirectorySetting, CATEGORIES_CHANGED)
    at = (setting.value or {}).get("at") if setting else None
    return datetime.fromisoformat(at) if at else None


def _count(summary: ImportSummary, section: str, created: bool) -> None:
    target = summary.created if created else summary.updated
    target[section] = target.get(section, 0) + 1


def _set_levels(categories: Iterable[Category]) -> None:
    by_id = {c.id: c for c in categories}
    for category in by_id.values():
        level, parent, hops = 1, category.parent_id, 0
        while parent is not None and parent in by_id and hops < 10:
            level, parent, hops = level + 1, by_id[parent].parent_id, hops + 1
        category.level = level


def _apply_rules(
    session: Session,
    rows: list[dict[str, Any]],
    units: dict[str, Unit],
    areas: dict[str, Area],
    categories: dict[str, Category],
    now: datetime,
    summary: ImportSummary,
) -> None:
    wanted: dict[tuple[int | None, int | None], tuple[int, list[int], str | None]] = {}
    for row in rows:
        key = (
            categories[row["category"]].id if row.get("category") else None,
            areas[row["area"]].id if row.get("area") else None,
        )
        wanted[key] = (units[row["lead"]].id, [units[c].id for c in row.get("co") or []], row.get("note"))
    active = {(r.category_id, r.area_id): r for r in session.scalars(select(RoutingRule).where(RoutingRule.active))}
    for key, rule in active.items():
        target = wanted.get(key)
        if target is None or (rule.lead_unit_id, list(rule.co_unit_ids or [])) != (target[0], target[1]):
            rule.active = False
            rule.valid_to = now
            summary.rules_closed += 1
    for key, (lead, co, note) in wanted.items():
        kept = active.get(key)
        if kept is not None and kept.active:
            continue
        session.add(
            RoutingRule(
                category_id=key[0],
                area_id=key[1],
                lead_unit_id=lead,
                co_unit_ids=co,
                note=note,
                active=True,
                valid_from=now,
            )
        )
        summary.rules_added += 1


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_jsonable(v) for v in value]
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return value


# --- exporting -----------------------------------------------------------------------------------


def export_directory(session: Session) -> dict[str, Any]:
    """The whole directory (active rules only) in the import format."""
    units = session.scalars(select(Unit).order_by(Unit.id)).all()
    areas = session.scalars(select(Area).order_by(Area.id)).all()
    categories = session.scalars(select(Category).order_by(Category.level, Category.id)).all()
    unit_code = {u.id: u.code for u in units}
    area_code = {a.id: a.code for a in areas}
    category_code = {c.id: c.code for c in categories}
    data: dict[str, Any] = {}
    for key in ("calendar", "policies", "settings"):
        setting = session.get(DirectorySetting, key)
        if setting is not None:
            data[key] = setting.value
    data["units"] = [
        _compact(
            {
                "code": u.code,
                "name_zh": u.name_zh,
                "name_en": u.name_en,
                "kind": u.kind,
                "parent": unit_code.get(u.parent_id) if u.parent_id else None,
                "contact_phones": u.contact_phones,
                "service_hotlines": u.service_hotlines,
                "active": None if u.active else False,
            }
        )
        for u in units
    ]
    data["areas"] = [
        _compact(
            {
                "code": a.code,
                "name_zh": a.name_zh,
                "name_en": a.name_en,
                "parent": area_code.get(a.parent_id) if a.parent_id else None,
                "aliases": a.aliases,
                "fallback_unit": unit_code.get(a.fallback_unit_id) if a.fallback_unit_id else None,
            }
        )
        for a in areas
    ]
    data["categories"] = [
        _compact(
            {
                "code": c.code,
                "name_zh": c.name_zh,
                "name_en": c.name_en,
                "parent": category_code.get(c.parent_id) if c.parent_id else None,
                "keywords": c.keywords,
                "urgency": c.urgency,
                "policy": c.policy,
                "active": None if c.active else False,
                "open311_attributes": c.open311_attributes,
                "safety_advice_zh": c.safety_advice_zh,
                "safety_advice_en": c.safety_advice_en,
            }
        )
        for c in categories
    ]
    rules = session.scalars(select(RoutingRule).where(RoutingRule.active).order_by(RoutingRule.id)).all()
    data["rules"] = [
        _compact(
            {
                "category": category_code.get(r.category_id) if r.category_id else None,
                "area": area_code.get(r.area_id) if r.area_id else None,
                "lead": unit_code[r.lead_unit_id],
                "co": [unit_code[u] for u in r.co_unit_ids or []],
                "note": r.note,
            }
        )
        for r in rules
    ]
    return data


def _compact(row: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in row.items() if v not in (None, [], "")}


def dump_yaml(data: dict[str, Any]) -> str:
    return yaml.safe_dump(data, allow_unicode=True, sort_keys=False, width=200)


def dump_csv(data: dict[str, Any], section: str) -> str:
    """One table as CSV through the project's one CSV writer (formula cells neutralised, BOM first);
    :func:`parse_csv` undoes the neutralising, so an export imports back unchanged."""
    columns = sorted(FIELDS[section], key=lambda c: (c != "code", c))

    def cell(key: str, value: Any) -> object:
        if value is None:
            return ""
        if key == "open311_attributes":
            return json.dumps(value, ensure_ascii=False)
        if isinstance(value, list):
            return "|".join(map(str, value))
        return value

    rows = ([cell(k, row.get(k)) for k in columns] for row in data.get(section, []))
    return csv_text([columns, *rows])
