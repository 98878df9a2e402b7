# SPDX-License-Identifier: MIT OR Apache-2.0
"""A line chart as a standalone SVG file, with no dependency beyond the standard library.

Used by the benchmark reports (scripts/bench-kernel). A chart is a list of series, each a
name and points (x, y, y_low, y_high); x may be drawn on a log2 axis (folio sizes, batch
sizes); y_low/y_high draw an error bar (the spread of the runs).
"""

import math
from xml.sax.saxutils import escape

COLOURS = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2", "#17becf"]


def _ticks(lo, hi, n=6):
    """Round tick values covering [lo, hi]."""
    if hi <= lo:
        hi = lo + 1
    raw = (hi - lo) / n
    mag = 10 ** math.floor(math.log10(raw))
    step = min((m * mag for m in (1, 2, 5, 10) if m * mag >= raw), default=raw)
    first = math.floor(lo / step) * step
    out, v = [], first
    while v <= hi + step * 0.5:
        out.append(round(v, 10))
        v += step
    return out


def line_chart(path, title, x_label, y_label, series, log2_x=False, x_names=None, hlines=()):
    """Writes the chart to path.

    series: [(name, [(x, y, y_low, y_high), ...]), ...]
    x_names: {x: label} for the x ticks (default: the x values themselves)
    hlines: [(y, label)] horizontal reference lines (dashed)
    """
    width, height = 820, 480
    left, right, top, bottom = 80, 200, 50, 60
    pw, ph = width - left - right, height - top - bottom
    xs = sorted({p[0] for _, pts in series for p in pts})
    ys = [v for _, pts in series for p in pts for v in p[1:] if v is not None]
    ys += [y for y, _ in hlines]
    if not xs or not ys:
        raise ValueError("nothing to plot")
    y_ticks = _ticks(min(0.0, min(ys)), max(ys))
    y_lo, y_hi = y_ticks[0], y_ticks[-1]

    def fx(x):
        if len(xs) == 1:
            return left + pw / 2
        if log2_x:
            a, b = math.log2(xs[0]), math.log2(xs[-1])
            return left + (math.log2(x) - a) / (b - a) * pw
        return left + (x - xs[0]) / (xs[-1] - xs[0]) * pw

    def fy(y):
        return top + (y_hi - y) / (y_hi - y_lo) * ph

    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'font-family="sans-serif" font-size="12">',
        f'<rect width="{width}" height="{height}" fill="white"/>',
        f'<text x="{width / 2}" y="24" text-anchor="middle" font-size="15">{escape(title)}</text>',
    ]
    for t in y_ticks:
        y = fy(t)
        out.append(f'<line x1="{left}" y1="{y:.1f}" x2="{left + pw}" y2="{y:.1f}" stroke="#ddd"/>')
        out.append(f'<text x="{left - 6}" y="{y + 4:.1f}" text-anchor="end">{t:g}</text>')
    for x in xs:
        px = fx(x)
        name = (x_names or {}).get(x, f"{x:g}")
        out.append(f'<line x1="{px:.1f}" y1="{top}" x2="{px:.1f}" y2="{top + ph}" stroke="#eee"/>')
        out.append(f'<text x="{px:.1f}" y="{top + ph + 18}" text-anchor="middle">{escape(name)}</text>')
    out.append(f'<rect x="{left}" y="{top}" width="{pw}" height="{ph}" fill="none" stroke="#444"/>')
    if y_lo < 0 < y_hi:
        out.append(f'<line x1="{left}" y1="{fy(0):.1f}" x2="{left + pw}" y2="{fy(0):.1f}" stroke="#444"/>')
    for y, label in hlines:
        out.append(f'<line x1="{left}" y1="{fy(y):.1f}" x2="{left + pw}" y2="{fy(y):.1f}" '
                   f'stroke="#888" stroke-dasharray="5,4"/>')
        out.append(f'<text x="{left + pw - 4}" y="{fy(y) - 4:.1f}" text-anchor="end" fill="#666">'
                   f'{escape(label)}</text>')
    out.append(f'<text x="{left + pw / 2}" y="{height - 16}" text-anchor="middle">{escape(x_label)}</text>')
    out.append(f'<text transform="translate(18,{top + ph / 2}) rotate(-90)" text-anchor="middle">'
               f'{escape(y_label)}</text>')
    for i, (name, pts) in enumerate(series):
        colour = COLOURS[i % len(COLOURS)]
        pts = sorted(pts)
        d = " ".join(f"{'M' if j == 0 else 'L'}{fx(p[0]):.1f},{fy(p[1]):.1f}" for j, p in enumerate(pts))
        out.append(f'<path d="{d}" fill="none" stroke="{colour}" stroke-width="2"/>')
        for x, y, lo, hi in pts:
            px = fx(x)
            if lo is not None and hi is not None:
                out.append(f'<line x1="{px:.1f}" y1="{fy(lo):.1f}" x2="{px:.1f}" y2="{fy(hi):.1f}" '
                           f'stroke="{colour}"/>')
            out.append(f'<circle cx="{px:.1f}" cy="{fy(y):.1f}" r="3" fill="{colour}"/>')
        ly = top + 14 + 18 * i
        out.append(f'<line x1="{left + pw + 14}" y1="{ly - 4}" x2="{left + pw + 34}" y2="{ly - 4}" '
                   f'stroke="{colour}" stroke-width="2"/>')
        out.append(f'<text x="{left + pw + 40}" y="{ly}">{escape(name)}</text>')
    out.append("</svg>")
    with open(path, "w", encoding="utf-8") as f:
        f.write("\n".join(out) + "\n")
