"""Containment before approval: would the closed loop have put the IdP's own control in place before the
victim approved the attacker's push?

A campaign that ended with an approved push is contained when
    detection (the event time of its first alarm) + delivery delay of its provider's logs
    + enforcement time (planning, the vendor call, the control taking effect)
lands before the approved prompt was sent. The delays are assumptions, given per provider (defaults: Okta
event hooks ~10 s, Duo Admin API polled every ~2 min, Entra sign-in logs ~5 min late; a minute for the
control to take effect); the README's "Closed loop" section says where they come from."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime

import msgspec
from rich.console import Console
from rich.table import Table

from pushguard.simulate.evaluate_summary import CampaignResult

DEFAULT_DELIVERY_S: Mapping[str, float] = {"okta": 10.0, "duo": 120.0, "entra": 300.0}
DEFAULT_ENFORCEMENT_S = 60.0
FALLBACK_DELIVERY_S = 300.0  # a provider without a configured delay: the slowest of the three


class ContainmentScore(msgspec.Struct, kw_only=True):
    kind: str
    approved: int  # campaigns that ended with the attacker's push approved
    detected_before: int  # of those, first alarm (event time) before the approved prompt
    contained: int  # and the control in place before it, delays included
    rate: float  # contained / approved
    margin_median_s: float | None  # approved prompt minus control in place, over the contained ones


def _time(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def parse_delays(text: str) -> dict[str, float]:
    """``okta=10,duo=120,entra=300`` over the defaults; ValueError naming the bad part."""
    delays = dict(DEFAULT_DELIVERY_S)
    for part in filter(None, (p.strip() for p in text.split(","))):
        name, equals, value = part.partition("=")
        try:
            seconds = float(value)
        except ValueError:
            seconds = -1.0
        if not equals or seconds < 0 or not name.strip():
            raise ValueError(f"delivery delay: {part!r} is not provider=seconds (e.g. duo=60)")
        delays[name.strip().lower()] = seconds
    return delays


def control_margin(result: CampaignResult, delays: Mapping[str, float], enforcement_s: float) -> float | None:
    """Seconds by which the control landed before the approved prompt (negative: after it); None when
    the campaign had no approval or was never detected."""
    if not result.approved_prompt_at or result.detected_at is None:
        return None
    delay = delays.get(result.provider, FALLBACK_DELIVERY_S) + enforcement_s
    return (_time(result.approved_prompt_at) - _time(result.detected_at)).total_seconds() - delay


def containment_by_kind(
    results: Iterable[CampaignResult],
    delays: Mapping[str, float] = DEFAULT_DELIVERY_S,
    enforcement_s: float = DEFAULT_ENFORCEMENT_S,
) -> list[ContainmentScore]:
    by_kind: dict[str, list[CampaignResult]] = {}
    for result in results:
        if result.approved_prompt_at:
            by_kind.setdefault(result.kind, []).append(result)
    scores = []
    for kind, approved in sorted(by_kind.items()):
        margins = [control_margin(r, delays, enforcement_s) for r in approved]
        early = [
            r
            for r in approved
            if r.detected_at is not None and _time(r.detected_at) < _time(r.approved_prompt_at)
        ]
        kept = sorted(m for m in margins if m is not None and m > 0)
        scores.append(
            ContainmentScore(
                kind=kind,
                approved=len(approved),
                detected_before=len(early),
                contained=len(kept),
                rate=len(kept) / len(approved),
                margin_median_s=kept[len(kept) // 2] if kept else None,
            )
        )
    return scores


def print_containment(
    console: Console, scores: list[ContainmentScore], delays: Mapping[str, float], enforcement_s: float
) -> None:
    shown = ", ".join(f"{name} {seconds:g} s" for name, seconds in sorted(delays.items()))
    table = Table(
        title=f"Containment before approval (delivery: {shown}; enforcement {enforcement_s:g} s)",
        title_justify="left",
    )
    for column in ("kind", "approved", "alarm before approval", "contained", "rate", "median margin"):
        table.add_column(column, justify="left" if column == "kind" else "right")
    total = [0, 0, 0]
    for s in scores:
        margin = "-" if s.margin_median_s is None else f"{s.margin_median_s:.0f} s"
        table.add_row(
            s.kind, str(s.approved), str(s.detected_before), str(s.contained), f"{s.rate:.0%}", margin
        )
        total = [total[0] + s.approved, total[1] + s.detected_before, total[2] + s.contained]
    if total[0]:
        table.add_row("all", *map(str, total), f"{total[2] / total[0]:.0%}", "", style="bold")
    console.print(table)
