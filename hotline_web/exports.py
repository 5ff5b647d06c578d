"""Downloads. Every CSV goes through :func:`csv_text` / :func:`csv_stream`, every XLSX through
:func:`xlsx_workbook`, so no export can carry a spreadsheet formula.

CSV: a byte-order mark (Excel then reads the Chinese as UTF-8), and any text cell that starts with
``= + - @``, a tab or a carriage return is prefixed with ``'`` so a spreadsheet shows it as text
instead of running it (CSV injection). Numbers are written as they are (a negative count stays a
number). XLSX: xlsxwriter with ``strings_to_formulas`` and ``strings_to_urls`` off.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from flask import Response

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
BOM = "\ufeff"
XLSX_OPTIONS = {"in_memory": True, "strings_to_formulas": False, "strings_to_urls": False}


def safe_cell(value: object) -> object:
    """A cell a spreadsheet shows as written: text that looks like a formula gets a leading ``'``."""
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return value


def csv_stream(rows: Iterable[Sequence[object]], chunk_rows: int = 500) -> Iterator[str]:
    """The CSV text of ``rows`` (BOM first) in chunks of ``chunk_rows`` rows, every cell made safe."""
    out = io.StringIO()
    writer = csv.writer(out)
    out.write(BOM)
    for n, row in enumerate(rows, 1):
        writer.writerow([safe_cell(v) for v in row])
        if n % chunk_rows == 0:
            yield out.getvalue()
            out.seek(0)
            out.truncate()
    yield out.getvalue()


def csv_text(rows: Iterable[Sequence[object]]) -> str:
    return "".join(csv_stream(rows))


def csv_response(rows: Iterable[Sequence[object]], filename: str) -> Response:
    return Response(
        csv_text(rows), mimetype="text/csv", headers={"Content-Disposition": f"attachment; filename={filename}"}
    )


def xlsx_workbook(out: io.BytesIO) -> Any:
    """An xlsxwriter workbook writing to ``out`` that stores every string as text, never a formula."""
    import xlsxwriter

    return xlsxwriter.Workbook(out, XLSX_OPTIONS)
