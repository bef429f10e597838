"""Backtest: replay historical logs through a policy and count what it would have decided; join
recorded decisions to the vendor records of the same prompts."""

from pushguard.backtest.join import (
    Decided,
    DecisionLog,
    Joined,
    join_decisions,
    join_summary,
    read_decisions,
)
from pushguard.backtest.replay import BacktestResult, backtest, request_for, to_json
from pushguard.decide.record import DecisionRecord, decision_event

__all__ = [
    "BacktestResult",
    "Decided",
    "DecisionLog",
    "DecisionRecord",
    "Joined",
    "backtest",
    "decision_event",
    "join_decisions",
    "join_summary",
    "read_decisions",
    "request_for",
    "to_json",
]
