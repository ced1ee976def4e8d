"""A tiny SVG chart kit for the offline HTML report: bars, stacked bars, log histograms.

Charts are plain inline SVG strings (no JavaScript, no fonts, no network). Every chart has a
title, labelled axes with units and a legend; colours come from the Okabe-Ito palette,
which stays distinguishable with the common colour-vision deficiencies, and every bar also
carries its value as text and a ``<title>`` tooltip, so colour is never the only cue.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from html import escape

# Okabe-Ito colour-blind-safe palette.
BLUE = "#0072B2"
ORANGE = "#E69F00"
GREEN = "#009E73"
VERMILLION = "#D55E00"
SKY = "#56B4E9"
PURPLE = "#CC79A7"
YELLOW = "#F0E442"
DARK_ORANGE = "#B07800"  # ORANGE darkened for thin lines and text on white
GREY = "#8C8C8C"
LIGHT_GREY = "#D9D9D9"
INK = "#1F2328"
MUTED = "#59636E"
GRID = "#E6E8EB"

Format = Callable[[float], str]


@dataclass(frozen=True, slots=True)
class Series:
    name: str
    colour: str
    values: Sequence[float | None]


def si(value: float) -> str:
    """12345 -> 12.3k; 1234567 -> 1.23M; small numbers keep two significant digits."""
    magnitude = abs(value)
    for limit, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if magnitude >= limit:
            return f"{value / limit:.3g}{suffix}"
    if magnitude >= 10 or value == 0:
        return f"{value:.0f}"
    return f"{value:.2g}"


def size(value: float) -> str:
    """Bytes in binary units: 1048576 -> 1 MiB, 262144 -> 256 KiB."""
    for limit, suffix in ((1 << 30, "GiB"), (1 << 20, "MiB"), (1 << 10, "KiB")):
        if value >= limit:
            return f"{value / limit:.3g} {suffix}"
    return f"{value:.0f} B"


def ms(value: float) -> str:
    """Milliseconds with sensible precision: 0.012, 0.35, 4.2, 57, 1200."""
    if value >= 100:
        return f"{value:.0f}"
    if value >= 10:
        return f"{value:.1f}".rstrip("0").rstrip(".")
    if value >= 0.1:
        return f"{value:.2f}".rstrip("0").rstrip(".")
    return f"{value:.3g}"


def ratio(value: float) -> str:
    return f"{value:.2f}\u00d7"


def nice_ticks(top: float, count: int = 5) -> list[float]:
    """Round tick values from 0 to at least ``top``."""
    if top <= 0:
        return [0.0, 1.0]
    raw = top / count
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if raw <= m * magnitude)
    steps = math.ceil(top / step - 1e-9)
    return [i * step for i in range(steps + 1)]


def log_ticks(low: float, high: float) -> list[float]:
    """1-2-5 values between low and high, for a log axis."""
    out: list[float] = []
    exponent = math.floor(math.log10(low))
    while 10**exponent <= high * 1.0001:
        for mantissa in (1, 2, 5):
            value = mantissa * 10**exponent
            if low <= value <= high:
                out.append(value)
        exponent += 1
    return out


NARROW = 340
"""Width of the narrow variant of every chart: shown on screens under ``BREAKPOINT`` px,
where a wide chart scaled down would shrink its text below a readable size."""
BREAKPOINT = 780
CHAR = 0.6
"""Average glyph width of the report's sans-serif font, in em (for layout estimates)."""


def _text(
    x: float,
    y: float,
    text: str,
    *,
    size: int = 12,
    anchor: str = "middle",
    colour: str = INK,
    weight: str = "normal",
    extra: str = "",
    halo: bool = False,
) -> str:
    if halo:  # a white outline keeps the text readable over bars and lines
        extra += ' paint-order="stroke" stroke="#FFFFFF" stroke-width="3"'
    return (
        f'<text x="{x:.1f}" y="{y:.1f}" font-size="{size}" text-anchor="{anchor}" '
        f'fill="{colour}" font-weight="{weight}"{extra}>{escape(text)}</text>'
    )


def text_width(text: str, size: float) -> float:
    """Estimated rendered width of ``text`` at ``size`` px."""
    return len(text) * size * CHAR


def wrap(text: str, size: float, width: float, char: float = CHAR) -> list[str]:
    """``text`` in lines that fit ``width`` px at ``size`` px (words are never split);
    ``char`` is the glyph width in em (bold text is wider)."""
    limit = max(8, int(width / (size * char)))
    lines: list[str] = []
    line = ""
    for word in text.split():
        if line and len(line) + 1 + len(word) > limit:
            lines.append(line)
            line = word
        else:
            line = f"{line} {word}" if line else word
    if line:
        lines.append(line)
    return lines


def _head(title: str, width: float, legend: Sequence[tuple[str, str]]) -> tuple[list[str], float]:
    """Title (wrapped) and legend (left to right, wrapped) above the plot; the y below them."""
    out: list[str] = []
    y = 6.0
    for line in wrap(title, 15, width - 24, char=0.68):  # bold
        y += 19
        out.append(_text(12, y, line, size=15, anchor="start", weight="600"))
    if not legend:
        return out, y + 10
    x, y = 12.0, y + 22
    for name, colour in legend:
        item = text_width(name, 12) + 30
        if x > 12 and x + item > width - 8:
            x, y = 12.0, y + 18
        out.append(
            f'<g class="legend-item"><rect x="{x:.1f}" y="{y - 10:.1f}" width="12" height="12" '
            f'rx="2" fill="{colour}"/>'
            + _text(x + 17, y, name, size=12, anchor="start", colour=MUTED)
            + "</g>"
        )
        x += item
    return out, y + 12


def _svg(chart_id: str, title: str, width: float, height: float, kind: str) -> str:
    variant = "narrow" if width <= NARROW else "wide"
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart {variant}" '
        f'data-chart="{escape(chart_id)}" data-kind="{kind}" data-variant="{variant}" '
        f'viewBox="0 0 {width:.0f} {height:.0f}" width="{width:.0f}" height="{height:.0f}" '
        f'role="img" aria-label="{escape(title)}"><title>{escape(title)}</title>'
    )


def _finish(
    chart_id: str, title: str, width: float, height: float, kind: str, parts: list[str]
) -> str:
    return "\n".join([_svg(chart_id, title, width, height, kind), *parts, "</svg>"])


def both(draw: Callable[..., str], wide: int, **kwargs: object) -> str:
    """A chart twice: ``wide`` px for large screens and NARROW px for small ones (the
    report's CSS shows one); each is laid out for its width, so text keeps its size."""
    return draw(width=wide, **kwargs) + "\n" + draw(width=NARROW, **kwargs)


def grouped_bars(
    *,
    chart_id: str,
    title: str,
    categories: Sequence[str],
    series: Sequence[Series],
    y_label: str,
    fmt: Format = si,
    width: int = 520,
    height: int = 300,
) -> str:
    """Vertical bars, one group per category, one bar per series; missing values say n/a."""
    left, right, bottom = 70, 16, 46
    out, top = _head(title, width, [(s.name, s.colour) for s in series])
    top += 14  # room for the value above the tallest bar
    plot_w, plot_h = width - left - right, height - 48 - bottom
    height = int(top + plot_h + bottom)
    values = [v for s in series for v in s.values if v is not None]
    ticks = nice_ticks(max(values, default=0.0) * 1.08)
    scale_top = ticks[-1]
    out += _y_axis(ticks, left, top, plot_w, plot_h, fmt, y_label)
    group = plot_w / max(1, len(categories))
    bar = group * 0.72 / max(1, len(series))
    for ci, category in enumerate(categories):
        gx = left + ci * group + group * 0.14
        for si_, s in enumerate(series):
            value = s.values[ci] if ci < len(s.values) else None
            x = gx + si_ * bar
            if value is None:
                out.append(_text(x + bar / 2, top + plot_h - 6, "n/a", size=11, colour=MUTED))
                continue
            h = plot_h * value / scale_top if scale_top else 0.0
            h = max(h, 1.0)
            y = top + plot_h - h
            out.append(
                f'<rect class="bar" data-series="{escape(s.name)}" '
                f'data-category="{escape(category)}" data-value="{value:.6g}" x="{x + 1:.1f}" '
                f'y="{y:.1f}" width="{max(bar - 2, 1):.1f}" height="{h:.1f}" rx="2" '
                f'fill="{s.colour}"><title>{escape(f"{s.name}, {category}: {fmt(value)}")}'
                "</title></rect>"
            )
            out.append(_text(x + bar / 2, y - 4, fmt(value), size=11, colour=INK))
        out.append(_text(left + ci * group + group / 2, top + plot_h + 18, category, size=12))
    return _finish(chart_id, title, width, height, "bars", out)


def _y_axis(
    ticks: Sequence[float],
    left: float,
    top: float,
    plot_w: float,
    plot_h: float,
    fmt: Format,
    label: str,
) -> list[str]:
    out = []
    top_value = ticks[-1] or 1.0
    for tick in ticks:
        y = top + plot_h - plot_h * tick / top_value
        out.append(
            f'<line x1="{left}" x2="{left + plot_w}" y1="{y:.1f}" y2="{y:.1f}" '
            f'stroke="{GRID}" stroke-width="1"/>'
        )
        out.append(_text(left - 6, y + 4, fmt(tick), size=11, anchor="end", colour=MUTED))
    out.append(
        f'<line x1="{left}" x2="{left + plot_w}" y1="{top + plot_h}" y2="{top + plot_h}" '
        f'stroke="{MUTED}" stroke-width="1"/>'
    )
    cy = top + plot_h / 2
    out.append(
        _text(
            16,
            cy,
            label,
            size=12,
            colour=MUTED,
            extra=f' transform="rotate(-90 16 {cy:.1f})"',
        )
    )
    return out


def _x_ticks(
    ticks: Sequence[float], x_of: Callable[[float], float], fmt: Format, y: float, width: float
) -> list[str]:
    """Tick labels along an axis, kept inside the chart, leaving out any that would touch
    the one before."""
    out: list[str] = []
    last = -1e9
    for tick in ticks:
        x, label = x_of(tick), fmt(tick)
        half = text_width(label, 11) / 2
        x = min(max(x, half + 2), width - half - 2)
        if x - half < last + 6:
            continue
        last = x + half
        out.append(_text(x, y, label, size=11, colour=MUTED))
    return out


def horizontal_bars(
    *,
    chart_id: str,
    title: str,
    categories: Sequence[str],
    series: Sequence[Series],
    x_label: str,
    fmt: Format = ratio,
    reference: float | None = None,
    reference_label: str = "",
    width: int = 720,
) -> str:
    """Horizontal grouped bars (one group per category), with an optional reference line.

    Wide: category names left of their bars; narrow: above them, with the reference line
    broken at their row. A value (or n/a) label that would cross the reference line is
    moved past it, so the line never runs through text.
    """
    narrow = width <= NARROW
    left = 12 if narrow else 150
    right = 64
    label_row = 18 if narrow else 0
    out, top = _head(title, width, [(s.name, s.colour) for s in series])
    top += 18  # the reference line's label
    row = label_row + 18 * max(1, len(series)) + 14
    plot_h = row * max(1, len(categories))
    x_lines = wrap(x_label, 12, width - 24)
    height = top + plot_h + 26 + 15 * len(x_lines)
    plot_w = width - left - right
    values = [v for s in series for v in s.values if v is not None]
    ticks = nice_ticks(max([*values, reference or 0.0, 0.0]) * 1.1)
    span = ticks[-1] or 1.0

    def x_of(value: float) -> float:
        return left + plot_w * value / span

    for tick in ticks:
        x = x_of(tick)
        out.append(
            f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{top}" y2="{top + plot_h}" stroke="{GRID}"/>'
        )
    out += _x_ticks(ticks, x_of, fmt, top + plot_h + 16, width)
    for line_no, line in enumerate(x_lines):
        out.append(_text(width / 2, top + plot_h + 36 + 15 * line_no, line, size=12, colour=MUTED))
    ref_x = x_of(reference) if reference is not None else None
    if ref_x is not None:
        # Narrow: the line stops at each category name (on its own row above the bars), which
        # it would otherwise run through when the values are large and 1.00x sits far left.
        spans = [(top - 4, top + plot_h)]
        if narrow:
            starts = [top + ci * row + 8 for ci in range(max(1, len(categories)))]
            bottom = top + plot_h  # not into the tick labels below the plot
            spans = [(top - 4, starts[0] - 2)]
            spans += [(y + 14, min(y + row - 2, bottom)) for y in starts]
        for y1, y2 in spans:
            out.append(
                f'<line class="reference" x1="{ref_x:.1f}" x2="{ref_x:.1f}" y1="{y1}" '
                f'y2="{y2}" stroke="{INK}" stroke-width="1.5" stroke-dasharray="5 4"/>'
            )
        if reference_label:
            out.append(_text(ref_x, top - 8, reference_label, size=11, halo=True))
    for ci, category in enumerate(categories):
        y0 = top + ci * row + 8
        if narrow:
            out.append(_text(left, y0 + 10, category, size=12, anchor="start", weight="600"))
        else:
            middle = y0 + row / 2 - 4
            out.append(_text(left - 8, middle, category, size=12, anchor="end", weight="600"))
        for si_, s in enumerate(series):
            value = s.values[ci] if ci < len(s.values) else None
            y = y0 + label_row + si_ * 18
            if value is None:
                label = f"{s.name}: n/a"
                x = left + 6
                if ref_x is not None and x - 3 <= ref_x <= x + text_width(label, 11) + 3:
                    x = ref_x + 5  # past the dashed line, not through it
                out.append(_text(x, y + 12, label, size=11, anchor="start", colour=MUTED))
                continue
            w = max(plot_w * value / span, 1.0)
            out.append(
                f'<rect class="bar" data-series="{escape(s.name)}" '
                f'data-category="{escape(category)}" data-value="{value:.6g}" x="{left}" '
                f'y="{y:.1f}" width="{w:.1f}" height="15" rx="2" fill="{s.colour}">'
                f"<title>{escape(f'{category}, {s.name}: {fmt(value)}')}</title></rect>"
            )
            label = fmt(value)
            x = left + w + 4
            if ref_x is not None and x - 3 <= ref_x <= x + text_width(label, 11) + 3:
                x = ref_x + 5  # past the dashed line, not through it
            out.append(_text(x, y + 12, label, size=11, anchor="start", extra=' class="value"'))
    return _finish(chart_id, title, width, height, "hbars", out)


def stacked_bars(
    *,
    chart_id: str,
    title: str,
    categories: Sequence[str],
    segments: Sequence[Series],
    x_label: str,
    width: int = 720,
) -> str:
    """One horizontal bar per category, split into segments that add up (counts)."""
    narrow = width <= NARROW
    left, right = (12, 16) if narrow else (150, 24)
    label_row = 18 if narrow else 0
    out, top = _head(title, width, [(s.name, s.colour) for s in segments])
    row = label_row + 30
    plot_h = row * max(1, len(categories))
    plot_w = width - left - right
    x_lines = wrap(x_label, 12, width - 24)
    height = top + plot_h + 20 + 15 * len(x_lines)
    totals = [
        sum((s.values[i] or 0.0) for s in segments if i < len(s.values))
        for i in range(len(categories))
    ]
    span = max([*totals, 1.0])
    for ci, category in enumerate(categories):
        y = top + ci * row + 6
        if narrow:
            out.append(_text(left, y + 10, category, size=12, anchor="start", weight="600"))
        else:
            out.append(_text(left - 8, y + 14, category, size=12, anchor="end", weight="600"))
        y += label_row
        x = float(left)
        for s in segments:
            value = s.values[ci] if ci < len(s.values) else None
            if not value:
                continue
            w = plot_w * value / span
            out.append(
                f'<rect class="bar" data-series="{escape(s.name)}" '
                f'data-category="{escape(category)}" data-value="{value:g}" x="{x:.1f}" '
                f'y="{y:.1f}" width="{w:.1f}" height="20" fill="{s.colour}">'
                f"<title>{escape(f'{category}: {value:g} {s.name}')}</title></rect>"
            )
            if w >= text_width(f"{value:g}", 11) + 8:
                colour = "#FFFFFF" if s.colour in (BLUE, VERMILLION, GREEN, GREY) else INK
                out.append(_text(x + w / 2, y + 14, f"{value:g}", size=11, colour=colour))
            x += w
    for line_no, line in enumerate(x_lines):
        out.append(_text(width / 2, top + plot_h + 22 + 15 * line_no, line, size=12, colour=MUTED))
    return _finish(chart_id, title, width, height, "stacked", out)


def log_histogram(
    *,
    chart_id: str,
    title: str,
    edges: Sequence[float],
    series: Sequence[Series],
    x_label: str,
    y_label: str,
    markers: Sequence[tuple[str, float, str]] = (),
    width: int = 520,
    height: int = 300,
) -> str:
    """Counts per log-spaced bin as the share of each series (%), side by side per bin.

    ``markers`` are (label, x value, colour) vertical lines, e.g. each side's p50 and p99.
    """
    left, right, bottom = 62, 16, 50
    out, top = _head(title, width, [(s.name, s.colour) for s in series])
    plot_w, plot_h = width - left - right, height - 48 - bottom
    x_lines = wrap(x_label, 12, width - 24)
    height = int(top + plot_h + 30 + 15 * len(x_lines))
    if len(edges) < 2:
        out.append(_text(width / 2, top + plot_h / 2, "no latency samples", colour=MUTED))
        return _finish(chart_id, title, width, height, "histogram", out)
    shares = []
    for s in series:
        total = sum(v or 0.0 for v in s.values) or 1.0
        shares.append([100.0 * (v or 0.0) / total for v in s.values])
    ticks = nice_ticks(max((v for row in shares for v in row), default=0.0) * 1.05)
    out += _y_axis(ticks, left, top, plot_w, plot_h, lambda v: f"{v:g}%", y_label)
    lo, hi = math.log10(edges[0]), math.log10(edges[-1])

    def x_of(value: float) -> float:
        return left + plot_w * (math.log10(max(value, 1e-12)) - lo) / ((hi - lo) or 1.0)

    span = ticks[-1] or 1.0
    for si_, (s, row) in enumerate(zip(series, shares, strict=True)):
        for bi, share in enumerate(row):
            x0, x1 = x_of(edges[bi]), x_of(edges[bi + 1])
            w = (x1 - x0) / len(series)
            if share <= 0:
                continue
            h = max(plot_h * share / span, 1.0)
            band = f"{ms(edges[bi])}\u2013{ms(edges[bi + 1])} ms"
            label = f"{s.name}: {share:.1f}% of messages took {band}"
            out.append(
                f'<rect class="bar" data-series="{escape(s.name)}" data-value="{share:.4g}" '
                f'x="{x0 + si_ * w + 0.5:.1f}" y="{top + plot_h - h:.1f}" '
                f'width="{max(w - 1, 0.8):.1f}" height="{h:.1f}" fill="{s.colour}">'
                f"<title>{escape(label)}</title></rect>"
            )
    log_marks = log_ticks(edges[0], edges[-1])
    for tick in log_marks:
        x = x_of(tick)
        out.append(
            f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{top + plot_h}" y2="{top + plot_h + 4}" '
            f'stroke="{MUTED}"/>'
        )
    out += _x_ticks(log_marks, x_of, ms, top + plot_h + 16, width)
    for line_no, line in enumerate(x_lines):
        out.append(_text(width / 2, top + plot_h + 36 + 15 * line_no, line, size=12, colour=MUTED))
    for index, (label, value, colour) in enumerate(markers):
        x = x_of(value)
        y = top + 12 + 14 * index
        out.append(
            f'<line class="marker" x1="{x:.1f}" x2="{x:.1f}" y1="{top + 2}" '
            f'y2="{top + plot_h}" stroke="{colour}" stroke-width="1.5" stroke-dasharray="4 3"/>'
        )
        anchor = "end" if x > left + plot_w * 0.85 else "start"
        dx = -3 if anchor == "end" else 3
        out.append(
            _text(x + dx, y, label, size=11, anchor=anchor, colour=colour, weight="700", halo=True)
        )
    return _finish(chart_id, title, width, height, "histogram", out)


def spark(values: Sequence[float], colour: str = BLUE, *, title: str = "") -> str:
    """A tiny inline bar chart (a spread over partitions or members) for a table cell."""
    if not values:
        return ""
    width, height, gap = max(24, 9 * len(values)), 18, 2
    bar = (width - gap * (len(values) - 1)) / len(values)
    top = max(values) or 1.0
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="spark" viewBox="0 0 {width} {height}" '
        f'width="{width}" height="{height}" role="img" aria-label="{escape(title)}">',
        f"<title>{escape(title)}</title>",
    ]
    for i, value in enumerate(values):
        h = max(height * value / top, 1.0)
        out.append(
            f'<rect x="{i * (bar + gap):.1f}" y="{height - h:.1f}" width="{bar:.1f}" '
            f'height="{h:.1f}" fill="{colour}"/>'
        )
    out.append("</svg>")
    return "".join(out)
