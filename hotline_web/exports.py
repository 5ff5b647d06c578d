"""Downloads: CSV with a byte-order mark, so Excel reads the Chinese as UTF-8."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence

from flask import Response


def csv_response(rows: Iterable[Sequence[object]], filename: str) -> Response:
    out = io.StringIO()
    out.write("\ufeff")
    csv.writer(out).writerows(rows)
    return Response(
        out.getvalue(), mimetype="text/csv", headers={"Content-Disposition": f"attachment; filename={filename}"}
    )
