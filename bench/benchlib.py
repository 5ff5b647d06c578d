"""What the benchmarks share besides bench/intake.py's processes and database helpers: loading that
module under another name than the hotline's own ``intake`` package, and finding the shared data."""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path
from types import ModuleType

BENCH_DIR = Path(__file__).resolve().parent
REPO = BENCH_DIR.parent


def load_bench_intake() -> ModuleType:
    """bench/intake.py as ``bench_intake`` (loaded once): the repository must come before bench/ on
    ``sys.path``, or ``import intake`` inside it would find itself instead of the hotline's package."""
    if "bench_intake" in sys.modules:
        return sys.modules["bench_intake"]
    spec = importlib.util.spec_from_file_location("bench_intake", BENCH_DIR / "intake.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["bench_intake"] = module
    spec.loader.exec_module(module)
    return module


def data_dir() -> Path:
    """The real complaint data (``$HOTLINE_DATA_DIR``, else ../shared/data beside the checkout)."""
    if os.environ.get("HOTLINE_DATA_DIR"):
        return Path(os.environ["HOTLINE_DATA_DIR"])
    # ../shared/data from the main checkout; a worktree under wt/ is one level deeper
    for candidate in (REPO.parent / "shared" / "data", REPO.parent.parent / "shared" / "data"):
        if candidate.exists():
            return candidate
    return REPO.parent / "shared" / "data"
