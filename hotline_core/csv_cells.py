"""The one CSV writer (no web framework here, so the CLI and the services write through it too).

Every CSV goes through :func:`csv_text` / :func:`csv_stream` (the web's downloads through
``hotline_web.exports``, which re-exports them). A byte-order mark goes first (Excel then reads the
Chinese as UTF-8), and any text cell that starts with ``= + - @``, a tab or a carriage return is
prefixed with ``'`` so a spreadsheet shows it as text instead of running it (CSV injection). Numbers
are written as they are (a negative count stays a number).

The prefix is reversible, for files that are read back (the directory's CSV tables):
:func:`restore_cell` removes it. So that ``restore_cell(safe_cell(v)) == v`` for every text, a text
that already starts with ``'`` before a formula character is prefixed once more. Phone numbers
(``+8613800138000``) are prefixed like any other cell: a spreadsheet would otherwise read them as a
formula or a number and drop the ``+``; the import takes the ``'`` off again.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator, Sequence

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
BOM = "\ufeff"


def safe_cell(value: object) -> object:
    """A cell a spreadsheet shows as written: text that looks like a formula gets a leading ``'``."""
    if isinstance(value, str) and value.lstrip("'").startswith(FORMULA_START):
        return "'" + value
    return value


def restore_cell(value: str) -> str:
    """The text :func:`safe_cell` was given (a cell read back from one of our CSV files)."""
    if value.startswith("'") and value.lstrip("'").startswith(FORMULA_START):
        return value[1:]
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
