"""Data: sessions, the item index, dataset recipes, protocols and prepared (cached) splits.

``prepare(name, ...)`` is the entry point: a recipe reads the raw file into an event table,
a protocol (``narm``, ``gru4rec``, ``gru4rec-rsc15`` or ``window``; the package
:mod:`sessrec.data.protocols`) splits it into train/test(/valid) :class:`Sessions` over an
:class:`ItemIndex`, and the result is cached under the data root.
"""

from sessrec.data.dataset import (
    PreparedDataset,
    get_recipe,
    list_recipes,
    make_recipe,
    prepare,
    resolve_data_root,
)
from sessrec.data.index import ItemIndex
from sessrec.data.protocols import (
    EVENT_COLUMNS,
    PROTOCOLS,
    ProtocolResult,
    gru4rec,
    gru4rec_rsc15,
    narm,
    run_protocol,
    window,
    window_slices,
)
from sessrec.data.recipes.base import DatasetRecipe, RawFile
from sessrec.data.sessions import PAD, PrefixBatch, Sessions

__all__ = [
    "EVENT_COLUMNS",
    "PAD",
    "PROTOCOLS",
    "DatasetRecipe",
    "ItemIndex",
    "PrefixBatch",
    "PreparedDataset",
    "ProtocolResult",
    "RawFile",
    "Sessions",
    "get_recipe",
    "gru4rec",
    "gru4rec_rsc15",
    "list_recipes",
    "make_recipe",
    "narm",
    "prepare",
    "resolve_data_root",
    "run_protocol",
    "window",
    "window_slices",
]
