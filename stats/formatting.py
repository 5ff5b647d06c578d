"""The statistics' figures use the shared Babel formatting (:mod:`hotline_core.formatting`)."""

from hotline_core.formatting import DASH, LOCALES, change, duration, number, percent, span

__all__ = ["DASH", "LOCALES", "change", "duration", "number", "percent", "span"]
