"""Backtest: replay historical logs through a policy and count what it would have decided; join
recorded decisions to the vendor records of the same prompts."""

from pushguard.backtest.join import DecisionRecord, Joined, join_decisions, read_decisions
from pushguard.backtest.replay import BacktestResult, backtest, request_for, to_json

__all__ = [
    "BacktestResult",
    "DecisionRecord",
    "Joined",
    "backtest",
    "join_decisions",
    "read_decisions",
    "request_for",
    "to_json",
]
