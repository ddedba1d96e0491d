"""The steps every protocol ends with, and the one place its statistics are put together.

::

    catalogue_and_test(train, test)   rule *index items* on train, then *drop unseen* on test
    carve_if_asked(train, days, rule) rule *carve validation* when ``valid_days`` is set
    finish(...)                       final ``Sessions``; statistics = sizes, raw counts, then
                                      the drop counts of every step in the protocol's order
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from sessrec.data.protocols.assemble import Catalogue, assemble, drop_unseen, index_items
from sessrec.data.protocols.clicks import Clicks
from sessrec.data.protocols.counts import RawCounts
from sessrec.data.protocols.result import ProtocolResult, raw_stats, short_drops, size_stats
from sessrec.data.protocols.validation import Carved

__all__ = ["carve_if_asked", "catalogue_and_test", "finish"]


def catalogue_and_test(train: Clicks, test: Clicks, min_length: int) -> tuple[Catalogue, Clicks, dict[str, int]]:
    """The catalogue of ``train`` and ``test`` without unseen items (sessions left short dropped).

    Returns
    -------
    catalogue : Catalogue
    test : Clicks
    stats : dict
        ``dropped_test_unseen_clicks`` and ``dropped_test_short_{sessions,clicks}``.
    """
    catalogue = index_items(train)
    test, unseen, short = drop_unseen(test, catalogue.seen, min_length)
    return catalogue, test, {"dropped_test_unseen_clicks": unseen.clicks, **short_drops("test_short", short)}


def carve_if_asked(
    train: Clicks, valid_days: float | None, carve: Callable[[Clicks, float], Carved]
) -> tuple[Clicks, Carved | None]:
    """``carve(train, valid_days)`` when ``valid_days`` is set: the train part and the carving; else ``train``, None."""
    if valid_days is None:
        return train, None
    carved = carve(train, valid_days)
    return carved.part, carved


def finish(
    params: Mapping[str, Any],
    raw: RawCounts,
    catalogue: Catalogue,
    train: Clicks,
    test: Clicks,
    carved: Carved | None,
    steps: Mapping[str, Any],
) -> ProtocolResult:
    """The :class:`ProtocolResult`: sizes and raw counts first, then ``steps`` (each step's drops, in order)."""
    tr, te, va = assemble(catalogue, train, test, None if carved is None else carved.valid)
    stats = {**size_stats(tr, te, va, len(catalogue.index)), **raw_stats(raw), **steps}
    return ProtocolResult(tr, te, va, catalogue.index, dict(params), stats)
