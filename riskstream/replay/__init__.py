"""Replay of history: backtests, rule-set comparison, reports, audit verification."""
