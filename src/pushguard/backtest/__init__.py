"""Backtest: replay historical logs through a policy and count what it would have decided."""
