"""ItemIndex: hand-made mappings, round trips, persistence."""

from __future__ import annotations

import numpy as np
import pytest

from sessrec.data import ItemIndex


def test_first_appearance_order_and_round_trip():
    index = ItemIndex.from_ids(np.array([30, 10, 30, 20, 10]))
    assert len(index) == 3
    assert index.ids.tolist() == [30, 10, 20]
    assert index.to_idx([20, 30, 10, 10]).tolist() == [2, 0, 1, 1]
    assert index.to_ids([1, 2, 0]).tolist() == [10, 20, 30]


def test_missing_ids_raise_or_map_to_minus_one():
    index = ItemIndex(np.array([5, 7]))
    with pytest.raises(KeyError, match="item id 6"):
        index.to_idx([5, 6])
    assert index.to_idx([6, 7, 8], missing="ignore").tolist() == [-1, 1, -1]
    assert index.contains([7, 9]).tolist() == [True, False]
    with pytest.raises(IndexError):
        index.to_ids([2])


def test_string_ids_and_duplicates():
    index = ItemIndex.from_ids(["b", "a", "b"])
    assert index.to_idx(["a", "b"]).tolist() == [1, 0]
    with pytest.raises(ValueError, match="unique"):
        ItemIndex(np.array([1, 2, 1]))


def test_save_load(tmp_path):
    index = ItemIndex(np.array([9, 3, 4]))
    index.save(tmp_path / "index.npy")
    again = ItemIndex.load(tmp_path / "index.npy")
    assert again.ids.tolist() == [9, 3, 4]
    assert ItemIndex.from_arrays(index.to_arrays()).to_idx([4]).tolist() == [2]
    assert not again.ids.flags.writeable
