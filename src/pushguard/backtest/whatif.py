"""What-if for a security lead: the cheapest set of escalating rules that reaches a target catch rate on
the replayed logs.

A campaign is caught by a rule that matched one of its decision points at or before the attacker's first
approval; a set of rules costs the benign prompts any of them would have escalated (a prompt two rules
match costs once). Finding the cheapest set is set cover, so this is the greedy answer: add the rule that
catches the most campaigns not yet caught per benign prompt it adds, until the target is reached or no
rule catches more. Greedy is not always optimal; it is explainable, and each step is printed."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import msgspec


class WhatIf(msgspec.Struct, kw_only=True):
    target: float  # share of the campaigns with a decision point
    rules: list[str]  # in the order chosen
    caught: int
    campaigns: int  # campaigns with a decision point (a spray that never reached a prompt is not one)
    benign_escalated: int
    reached: bool


def cheapest_rules(
    target: float,
    catches: Sequence[frozenset[str]],
    benign: Mapping[frozenset[str], int],
) -> WhatIf:
    """``catches``: per campaign with a decision point, the rules that would have escalated it in time;
    ``benign``: the escalating rules matched by benign prompts, as sets with their counts."""
    needed = target * len(catches)
    chosen: list[str] = []
    chosen_set: set[str] = set()
    caught = [False] * len(catches)
    cost = 0
    candidates = sorted({name for rules in catches for name in rules})
    while sum(caught) < needed:
        best: tuple[float, str] | None = None
        for name in candidates:
            if name in chosen_set:
                continue
            gain = sum(1 for n, rules in enumerate(catches) if not caught[n] and name in rules)
            if not gain:
                continue
            added = sum(count for rules, count in benign.items() if name in rules and not rules & chosen_set)
            score = gain / (1 + added)
            if best is None or score > best[0]:
                best = (score, name)
        if best is None:
            break
        name = best[1]
        chosen.append(name)
        chosen_set.add(name)
        caught = [done or name in catches[n] for n, done in enumerate(caught)]
        cost = sum(count for rules, count in benign.items() if rules & chosen_set)
    return WhatIf(
        target=target,
        rules=chosen,
        caught=sum(caught),
        campaigns=len(catches),
        benign_escalated=cost,
        reached=sum(caught) >= needed,
    )
