"""What a protocol step reports besides its result: :class:`Drops` and :class:`RawCounts`.

Every step returns new tables and the counts of what its rule removed; a protocol collects
them and names them once, in its statistics (``dropped_<rule>_<unit>``).
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Drops", "RawCounts"]


@dataclass(frozen=True)
class RawCounts:
    """Sizes of the event table before any rule (``raw_clicks``, ``raw_sessions``, ``raw_items``)."""

    clicks: int
    sessions: int
    items: int


@dataclass(frozen=True)
class Drops:
    """What one rule removed; a unit the rule does not remove stays 0.

    Attributes
    ----------
    sessions : int
        Sessions removed (with the clicks they still had).
    clicks : int
        Clicks removed, including those of removed sessions.
    items : int
        Distinct items that no longer occur.
    cases : int
        Next-item cases removed (only the case fraction counts cases).

    Examples
    --------
    >>> Drops(sessions=1, clicks=3) + Drops(clicks=2)
    Drops(sessions=1, clicks=5, items=0, cases=0)
    """

    sessions: int = 0
    clicks: int = 0
    items: int = 0
    cases: int = 0

    def __add__(self, other: Drops) -> Drops:
        return Drops(
            self.sessions + other.sessions,
            self.clicks + other.clicks,
            self.items + other.items,
            self.cases + other.cases,
        )
