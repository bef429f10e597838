"""The report's charts as plain bar-chart geometry, drawn as inline SVG by the template: a few kilobytes
instead of a 4.8 MB charting library, no script, and they scale with the column they sit in.

Each chart: bars (one series, or a few side by side), a y axis with round ticks, at most ``MAX_X_TICKS``
category labels, axis titles, and a legend above the plot (never beside it, where it squeezed the bars)."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from typing import Any

from pushguard.model import Event, EventKind

WIDTH, HEIGHT = 420, 250
LEFT, RIGHT, TOP, BOTTOM = 50, 10, 10, 50
MAX_X_TICKS = 5
COLORS = ("#3b6fd8", "#d9480f", "#2b8a3e")
_ANSWERS = frozenset(
    {EventKind.PUSH_APPROVED, EventKind.PUSH_DENIED, EventKind.PUSH_TIMEOUT, EventKind.FRAUD_REPORTED}
)


def _nice_top(peak: int) -> tuple[int, int]:
    """A round top for the y axis and its step (1, 2 or 5 times a power of ten, at most 5 steps)."""
    if peak <= 0:
        return 1, 1
    raw = peak / 5
    magnitude = 10 ** math.floor(math.log10(raw)) if raw >= 1 else 1
    step = magnitude
    for factor in (1, 2, 5, 10):
        step = max(1, factor * magnitude)
        if math.ceil(peak / step) <= 5:
            break
    return math.ceil(peak / step) * step, step


def bar_chart(
    name: str,
    title: str,
    categories: Sequence[str],
    series: Sequence[tuple[str, Counter[str]]],
    *,
    x_title: str,
    y_title: str,
    tick_label: Any = None,
    max_ticks: int = MAX_X_TICKS,
) -> dict[str, Any]:
    """Geometry for one chart over ``categories`` (in order); ``series``: (legend name, counts)."""
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    peak = max((counts[c] for _, counts in series for c in categories), default=0)
    top, step = _nice_top(peak)
    band = plot_w / max(1, len(categories))
    bar_w = band * 0.8 / max(1, len(series))
    bars = []
    for index, category in enumerate(categories):
        for offset, (label, counts) in enumerate(series):
            value = counts[category]
            if not value:
                continue
            height = plot_h * value / top
            bars.append(
                {
                    "x": round(LEFT + index * band + band * 0.1 + offset * bar_w, 2),
                    "y": round(TOP + plot_h - height, 2),
                    "w": round(max(bar_w, 0.8), 2),
                    "h": round(height, 2),
                    "color": COLORS[offset % len(COLORS)],
                    "tip": f"{category}: {value} {label}",
                }
            )
    every = max(1, math.ceil(len(categories) / max(1, max_ticks)))
    x_ticks = [
        {"x": round(LEFT + i * band + band / 2, 2), "label": (tick_label or str)(c)}
        for i, c in enumerate(categories)
        if i % every == 0
    ]
    y_ticks = [
        {"y": round(TOP + plot_h - plot_h * v / top, 2), "label": str(v)} for v in range(0, top + 1, step)
    ]
    return {
        "name": name,
        "title": title,
        "x_title": x_title,
        "y_title": y_title,
        "width": WIDTH,
        "height": HEIGHT,
        "plot": {"left": LEFT, "right": WIDTH - RIGHT, "top": TOP, "bottom": TOP + plot_h},
        "bars": bars,
        "x_ticks": x_ticks,
        "y_ticks": y_ticks,
        "legend": [{"name": label, "color": COLORS[i % len(COLORS)]} for i, (label, _) in enumerate(series)]
        if len(series) > 1
        else [],
        "values": {label: [counts[c] for c in categories] for label, counts in series},
        "empty": peak == 0,
    }


def charts(events: Sequence[Event]) -> dict[str, dict[str, Any]]:
    """Prompts per hour, denials vs approvals per day, countries of approvals."""
    hours: Counter[str] = Counter()
    denials: Counter[str] = Counter()
    approvals: Counter[str] = Counter()
    countries: Counter[str] = Counter()
    # Duo and Entra log only the answer to a push: for a vendor that never logs the send, an answer
    # (approved, denied, timed out, reported) stands for its prompt.
    sending = {e.provider for e in events if e.kind is EventKind.PUSH_SENT}
    for event in events:
        if event.kind is EventKind.PUSH_SENT or (event.kind in _ANSWERS and event.provider not in sending):
            hours[event.time.strftime("%Y-%m-%d %H:00")] += 1
        day = event.time.strftime("%Y-%m-%d")
        if event.kind in (EventKind.PUSH_DENIED, EventKind.PUSH_TIMEOUT, EventKind.FRAUD_REPORTED):
            denials[day] += 1
        elif event.kind is EventKind.PUSH_APPROVED:
            approvals[day] += 1
            countries[(event.geo.country if event.geo else None) or "unknown"] += 1
    days = sorted(set(denials) | set(approvals))
    top_countries = [c for c, _ in countries.most_common(15)]
    return {
        "prompts_per_hour": bar_chart(
            "prompts_per_hour",
            "Push prompts per hour",
            sorted(hours),
            [("prompts", hours)],
            x_title="hour (UTC)",
            y_title="prompts",
            tick_label=lambda h: h[5:13] + "h",
        ),
        "denials_vs_approvals": bar_chart(
            "denials_vs_approvals",
            "Denied vs approved pushes per day",
            days,
            [("approved", approvals), ("denied, unanswered or reported", denials)],
            x_title="day (UTC)",
            y_title="answers",
            tick_label=lambda d: d[5:],
        ),
        "approval_countries": bar_chart(
            "approval_countries",
            "Countries of approvals",
            top_countries,
            [("approvals", countries)],
            x_title="country of the approving sign-in",
            y_title="approvals",
            max_ticks=len(top_countries),  # two letters each: every one fits
        ),
    }
