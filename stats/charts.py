"""Charts as inline SVG, drawn server-side with pygal (no JavaScript, no external requests)."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import date

import pygal
from pygal.style import Style

STYLE = Style(
    background="white",
    plot_background="white",
    foreground="#1d2733",
    foreground_strong="#1d2733",
    foreground_subtle="#d9dee5",
    colors=("#b3261e", "#1f5fa8", "#1e7b34", "#8a6d00"),
    font_family="system-ui, 'PingFang SC', 'Noto Sans CJK SC', sans-serif",
)


# The bars' labels are unit names: read at the size of the page's text, not pygal's 10 px.
BAR_STYLE = Style(**{**STYLE.__dict__, "label_font_size": 13})

_SCRIPT = re.compile(r"<script\b.*?</script>", re.DOTALL)


def _render(chart: pygal.graph.graph.Graph) -> str:
    """The SVG without pygal's inline script (its tooltip config: the CSP allows no inline script)
    and with its one inline style attribute as an SVG attribute; the page adds the CSP nonce to
    the chart's ``<style>`` element (``style_nonce`` filter)."""
    svg = chart.render(is_unicode=True)
    svg = svg[svg.index("<svg") :] if "<svg" in svg else svg
    return _SCRIPT.sub("", svg).replace('style="opacity: 0"', 'opacity="0"')


def bars(title: str, labels: Sequence[str], values: Sequence[float | None], *, limit: int = 15) -> str:
    longest = max((_display_width(label) for label in labels[:limit]), default=0)
    chart = pygal.HorizontalBar(
        js=[],
        show_legend=False,
        width=720 + 7 * longest,  # room for whole unit names: they are never clipped
        height=max(160, 26 * min(len(labels), limit) + 60),
        style=BAR_STYLE,
        title=title,
        print_values=True,
        truncate_label=-1,
        margin_left=8 * longest,
    )
    chart.x_labels = list(labels[:limit])[::-1]
    chart.y_labels = _integer_ticks(max((v or 0) for v in values[:limit]) if values else 0)
    chart.add(title, list(values[:limit])[::-1])
    return _render(chart)


def _integer_ticks(top: float, count: int = 5) -> list[int]:
    """Whole-number axis marks for counts (pygal would otherwise mark 0.2, 0.4 ...)."""
    step = max(1, -(-int(top) // count))
    return list(range(0, int(top) + step + 1, step))


def _display_width(text: str) -> int:
    """Width in half-width characters (a Chinese character counts twice)."""
    return sum(2 if ord(ch) > 0x2E80 else 1 for ch in text)


def lines(
    title: str,
    days: Sequence[date],
    series: Mapping[str, Sequence[float | None]],
    *,
    maximum: float | None = None,
    counts: bool = False,
) -> str:
    """One line per series over the days: daily counts (``counts``: whole-number axis marks), rates
    in % (``maximum=100``) or medians in minutes. A day without a value is a gap, not a zero. The
    days given end with the last day that has happened: no future days are drawn. Nothing to draw
    (no value on any day): an empty string."""
    if not any(v is not None for values in series.values() for v in values):
        return ""
    chart = pygal.Line(
        js=[],
        width=720,
        height=280,
        style=STYLE,
        title=title,
        x_label_rotation=30,
        show_minor_x_labels=False,
        dots_size=2,
        legend_at_bottom=True,
        allow_interruptions=True,
        include_x_axis=True,  # the axis starts at zero: a median of 210 min is not drawn as nothing
        range=(0, maximum) if maximum else None,
    )
    chart.x_labels = [d.strftime("%m-%d") for d in days]
    chart.x_labels_major = chart.x_labels[:: max(1, len(days) // 10)]
    for name, values in series.items():
        chart.add(name, list(values))
    if counts:
        chart.y_labels = _integer_ticks(max((v or 0) for values in series.values() for v in values))
    return _render(chart)
