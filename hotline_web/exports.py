"""Downloads. Every CSV goes through the one writer in :mod:`hotline_core.csv_cells` (re-exported
here), every XLSX through :func:`xlsx_workbook`, so no export can carry a spreadsheet formula.

XLSX: xlsxwriter with ``strings_to_formulas`` and ``strings_to_urls`` off.
"""

from __future__ import annotations

import io
from collections.abc import Iterable, Sequence
from typing import Any

from flask import Response

from hotline_core.csv_cells import BOM, FORMULA_START, csv_stream, csv_text, restore_cell, safe_cell

__all__ = [
    "BOM",
    "FORMULA_START",
    "csv_response",
    "csv_stream",
    "csv_text",
    "restore_cell",
    "safe_cell",
    "xlsx_workbook",
]

XLSX_OPTIONS = {"in_memory": True, "strings_to_formulas": False, "strings_to_urls": False}


def csv_response(rows: Iterable[Sequence[object]], filename: str) -> Response:
    return Response(
        csv_text(rows), mimetype="text/csv", headers={"Content-Disposition": f"attachment; filename={filename}"}
    )


def xlsx_workbook(out: io.BytesIO) -> Any:
    """An xlsxwriter workbook writing to ``out`` that stores every string as text, never a formula."""
    import xlsxwriter

    return xlsxwriter.Workbook(out, XLSX_OPTIONS)
