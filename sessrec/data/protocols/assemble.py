"""The item catalogue, unseen-item removal and the final :class:`Sessions`.

::

    index_items(train)        item_idx in order of first appearance in the listed train clicks
    drop_unseen(test, seen)   clicks on items not seen in training removed, then sessions
                              left shorter than min_length dropped
    to_sessions(clicks, cat)  Clicks -> Sessions over the catalogue (external session ids kept)
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from sessrec.data.index import ItemIndex
from sessrec.data.protocols.clicks import Clicks
from sessrec.data.protocols.counts import Drops
from sessrec.data.protocols.filters import filter_length
from sessrec.data.sessions import Sessions

__all__ = ["Catalogue", "assemble", "drop_unseen", "index_items", "to_sessions"]


@dataclass(frozen=True, eq=False)
class Catalogue:
    """The ranked items: an :class:`ItemIndex` and the item code of every ``item_idx``.

    Attributes
    ----------
    index : ItemIndex
    item_codes : ndarray of shape (n_items,), int64
        ``item_codes[item_idx]`` is the item's code in the :class:`Clicks` tables.
    seen : ndarray of shape (n_item_codes,), bool
        Whether an item code is in the catalogue.
    """

    index: ItemIndex
    item_codes: np.ndarray
    seen: np.ndarray


def index_items(train: Clicks) -> Catalogue:
    """Number the items of ``train`` in order of first appearance (sessions in listing order)."""
    uniq = np.asarray(pd.unique(train.item), dtype=np.int64)
    seen = np.zeros(len(train.codes.item_ids), dtype=bool)
    seen[uniq] = True
    return Catalogue(ItemIndex(train.codes.item_ids[uniq]), uniq, seen)


def drop_unseen(clicks: Clicks, seen: np.ndarray, min_length: int) -> tuple[Clicks, Drops, Drops]:
    """Remove clicks on item codes where ``seen`` is False, then sessions shorter than ``min_length``.

    Returns
    -------
    clicks : Clicks
    unseen : Drops
        The clicks removed.
    short : Drops
        The sessions dropped (emptied ones included) and the clicks they still had.
    """
    keep = seen[clicks.item]
    out, short = filter_length(clicks.keep_clicks(keep), min_length)
    return out, Drops(clicks=int((~keep).sum())), short


def to_sessions(clicks: Clicks, catalogue: Catalogue) -> Sessions:
    """:class:`Sessions` of ``clicks`` over the catalogue, with the external session ids."""
    to_idx = np.full(len(clicks.codes.item_ids), -1, dtype=np.int64)
    to_idx[catalogue.item_codes] = np.arange(len(catalogue.item_codes))
    items = to_idx[clicks.item]
    if len(items) and items.min() < 0:
        raise ValueError("to_sessions: a click's item is not in the catalogue; drop unseen items first")
    ids = clicks.codes.session_ids[clicks.sessions]
    return Sessions(items, clicks.offsets, clicks.time, len(catalogue.item_codes), ids)


def assemble(
    catalogue: Catalogue, train: Clicks, test: Clicks, valid: Clicks | None = None
) -> tuple[Sessions, Sessions, Sessions | None]:
    """The final train, test and validation :class:`Sessions` over one catalogue."""
    return (
        to_sessions(train, catalogue),
        to_sessions(test, catalogue),
        None if valid is None else to_sessions(valid, catalogue),
    )
