"""The what-if: the cheapest escalating rules that reach a target catch rate (greedy set cover)."""

from __future__ import annotations

import pytest

from pushguard.backtest.whatif import cheapest_rules

F = frozenset


def test_the_cheap_rule_that_catches_most_comes_first() -> None:
    catches = [F({"a", "b"}), F({"a"}), F({"b", "c"}), F({"c"})]
    benign = {F({"a"}): 50, F({"b"}): 1, F({"c"}): 2, F({"b", "c"}): 3}
    found = cheapest_rules(0.75, catches, benign)
    # b: 2 campaigns for 4 benign prompts; c then adds 1 campaign for 2 more (the shared 3 count once);
    # the campaign only the costly a catches is left out: 3 of 4 is the target
    assert found.rules == ["b", "c"] and found.caught == 3 and found.campaigns == 4
    assert found.benign_escalated == 6 and found.reached


def test_a_target_no_rule_set_reaches_is_said() -> None:
    found = cheapest_rules(1.0, [F({"a"}), F()], {F({"a"}): 3})
    assert found.rules == ["a"] and found.caught == 1 and not found.reached
    assert found.benign_escalated == 3


@pytest.mark.parametrize("target", [0.5, 1.0])
def test_no_campaign_needs_no_rule(target: float) -> None:
    found = cheapest_rules(target, [], {F({"a"}): 3})
    assert found.rules == [] and found.reached and found.benign_escalated == 0
