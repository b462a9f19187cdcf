"""The compliance trend as a server-drawn SVG: stacked columns of phones per state, one column per day or week.

Drawn on the server so it reads without JavaScript; it carries a <title> and a <desc> that says the latest
figures in words, text labels on both axes and a text legend, and presentation attributes only (no inline
style, which the Content-Security-Policy may refuse). Colours are GOV.UK's; the legend names every colour.
"""

from __future__ import annotations

from collections.abc import Sequence

from markupsafe import Markup, escape

from server.services.compliance.reports import TrendPoint

# Bottom to top: the states people act on sit on top, where the eye lands.
ORDER = ("compliant", "unknown", "in_grace", "non_compliant")
COLOURS = {"compliant": "#00703c", "unknown": "#b1b4b6", "in_grace": "#f47738", "non_compliant": "#d4351c"}
LABELS = {"compliant": "Compliant", "unknown": "Not seen recently", "in_grace": "In grace period",
          "non_compliant": "Not compliant"}

WIDTH, HEIGHT = 760, 300
LEFT, RIGHT, TOP, BOTTOM = 56, 12, 16, 78


def render_trend_svg(points: Sequence[TrendPoint], *, title: str, chart_id: str = "trend") -> Markup:
    title_id, desc_id = f"{chart_id}-title", f"{chart_id}-desc"
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" class="pg-trend" width="100%" viewBox="0 0 {WIDTH} {HEIGHT}" '
             f'role="img" aria-labelledby="{title_id} {desc_id}" id="{escape(chart_id)}">',
             f'<title id="{title_id}">{escape(title)}</title>',
             f'<desc id="{desc_id}">{escape(describe(points))}</desc>']
    if not points:
        parts.append(f'<text x="{WIDTH / 2}" y="{HEIGHT / 2}" text-anchor="middle" font-size="16" fill="#0b0c0c">'
                     "No compliance history yet</text></svg>")
        return Markup("".join(parts))
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    top_value = _nice_ceiling(max(sum(p.counts.values()) for p in points))
    slot = plot_w / len(points)
    bar = max(slot * 0.8, 1.0)
    # Grid lines and y-axis labels.
    for i in range(5):
        value = top_value * i / 4
        y = TOP + plot_h - plot_h * i / 4
        parts.append(f'<line x1="{LEFT}" y1="{y:.1f}" x2="{WIDTH - RIGHT}" y2="{y:.1f}" stroke="#dddddd" stroke-width="1"/>')
        parts.append(f'<text x="{LEFT - 6}" y="{y + 4:.1f}" text-anchor="end" font-size="12" fill="#0b0c0c">{int(value):,}</text>')
    # Columns.
    for index, point in enumerate(points):
        x = LEFT + index * slot + (slot - bar) / 2
        y = TOP + plot_h
        for state in ORDER:
            count = point.counts.get(state, 0)
            if not count:
                continue
            height = plot_h * count / top_value
            y -= height
            parts.append(f'<rect x="{x:.1f}" y="{y:.1f}" width="{bar:.1f}" height="{height:.1f}" fill="{COLOURS[state]}">'
                         f'<title>{point.day.isoformat()}: {count:,} {LABELS[state].lower()}</title></rect>')
    # x-axis labels: about six, evenly spread, always the last.
    every = max(1, len(points) // 6)
    for index, point in enumerate(points):
        if index % every and index != len(points) - 1:
            continue
        x = LEFT + index * slot + slot / 2
        parts.append(f'<text x="{x:.1f}" y="{TOP + plot_h + 16}" text-anchor="middle" font-size="12" fill="#0b0c0c">'
                     f'{point.day.day} {point.day:%b}</text>')
    parts.append(f'<line x1="{LEFT}" y1="{TOP + plot_h}" x2="{WIDTH - RIGHT}" y2="{TOP + plot_h}" stroke="#0b0c0c" stroke-width="1"/>')
    # Legend.
    legend_y = HEIGHT - 28
    x = LEFT
    for state in reversed(ORDER):
        parts.append(f'<rect x="{x}" y="{legend_y}" width="14" height="14" fill="{COLOURS[state]}"/>')
        parts.append(f'<text x="{x + 20}" y="{legend_y + 12}" font-size="13" fill="#0b0c0c">{LABELS[state]}</text>')
        x += 30 + 8 * len(LABELS[state])
    parts.append("</svg>")
    return Markup("".join(parts))


def describe(points: Sequence[TrendPoint]) -> str:
    if not points:
        return "No compliance history has been recorded yet."
    first, last = points[0], points[-1]
    figures = ", ".join(f"{last.counts.get(state, 0):,} {LABELS[state].lower()}" for state in reversed(ORDER))
    return (f"Phones by compliance state from {first.day.isoformat()} to {last.day.isoformat()}. "
            f"On {last.day.isoformat()}: {figures}.")


def _nice_ceiling(value: int) -> int:
    """A round top for the y axis (1, 2, 5 x 10^n) so grid labels are whole, readable numbers."""
    if value <= 4:
        return 4
    magnitude = 1
    while magnitude * 10 <= value:
        magnitude *= 10
    for factor in (1, 2, 4, 5, 10):
        if factor * magnitude >= value:
            top = factor * magnitude
            return top if top % 4 == 0 else top * 2 if (top * 2) % 4 == 0 else top * 4
    return value
