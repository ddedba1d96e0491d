"""What a protocol returns: :class:`ProtocolResult`, and the size statistics every protocol shows first."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sessrec.data.index import ItemIndex
from sessrec.data.protocols.counts import Drops, RawCounts
from sessrec.data.sessions import Sessions

__all__ = ["ProtocolResult", "filter_once_stats", "raw_stats", "session_drops", "short_drops", "size_stats"]


@dataclass(frozen=True, eq=False)
class ProtocolResult:
    """What a protocol produces.

    Attributes
    ----------
    train, test : Sessions
        Over ``item_index``; sessions in the protocol's listing order (date for ``narm``,
        start time for the others).
    valid : Sessions or None
        Validation sessions carved from train by the same time rule; ``train`` is then the
        train part only.
    item_index : ItemIndex
        ``n_items = len(item_index)`` is the ranked catalogue.
    params : dict
        Every parameter that defines the split, defaults included.
    stats : dict
        Sizes (``clicks``, ``n_items``, ``train_sessions``, ``train_cases``, ``test_sessions``,
        ``test_cases``, ``valid_sessions``, ``valid_cases``, ``avg_length``) and the drop counts of
        every rule (``dropped_<rule>_<sessions|clicks|items|cases>``).
    """

    train: Sessions
    test: Sessions
    valid: Sessions | None
    item_index: ItemIndex
    params: dict[str, Any]
    stats: dict[str, Any] = field(default_factory=dict)


def size_stats(train: Sessions, test: Sessions, valid: Sessions | None, n_items: int) -> dict[str, Any]:
    """The sizes papers print, computed from the final splits."""
    parts = [train, test] + ([valid] if valid is not None else [])
    clicks = sum(p.n_clicks for p in parts)
    sessions = sum(p.n_sessions for p in parts)
    return {
        "clicks": clicks,
        "n_items": n_items,
        "train_sessions": train.n_sessions,
        "train_cases": train.n_cases,
        "test_sessions": test.n_sessions,
        "test_cases": test.n_cases,
        "valid_sessions": 0 if valid is None else valid.n_sessions,
        "valid_cases": 0 if valid is None else valid.n_cases,
        "avg_length": clicks / sessions if sessions else 0.0,
    }


def raw_stats(raw: RawCounts) -> dict[str, int]:
    return {"raw_clicks": raw.clicks, "raw_sessions": raw.sessions, "raw_items": raw.items}


def session_drops(rule: str, drops: Drops) -> dict[str, int]:
    """``dropped_<rule>_sessions`` and ``dropped_<rule>_clicks``."""
    return {f"dropped_{rule}_sessions": drops.sessions, f"dropped_{rule}_clicks": drops.clicks}


def short_drops(rule: str, drops: Drops) -> dict[str, int]:
    """``dropped_<rule>_sessions`` and ``dropped_<rule>_session_clicks`` (the clicks those sessions had)."""
    return {f"dropped_{rule}_sessions": drops.sessions, f"dropped_{rule}_session_clicks": drops.clicks}


def filter_once_stats(first: Drops, rare: Drops, short: Drops) -> dict[str, int]:
    """Statistics of the one-pass filter (:func:`~sessrec.data.protocols.filters.filter_once`)."""
    return {
        **session_drops("length1", first),
        "dropped_rare_items": rare.items,
        "dropped_rare_item_clicks": rare.clicks,
        **short_drops("short", short),
    }
