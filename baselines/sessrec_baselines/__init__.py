"""Baseline session-based recommenders for sessrec."""
