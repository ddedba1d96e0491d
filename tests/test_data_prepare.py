"""prepare(): recipe discovery, data root, the on-disk cache and its invalidation."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from raw_files import digi_file

from sessrec.data import PreparedDataset, list_recipes, prepare, resolve_data_root
from sessrec.data.recipes.synthetic import Synthetic
from sessrec.progress import progress_callback

SMALL = {"n_sessions": 400, "n_items": 80}


def steps_of(fn):
    seen: list[str] = []
    with progress_callback(lambda kind, info: seen.append(info.get("step", ""))):
        out = fn()
    return out, seen


def test_recipes_are_listed_via_entry_points():
    assert set(list_recipes()) >= {
        "diginetica",
        "yoochoose",
        "yoochoose-1-64",
        "yoochoose-1-4",
        "retailrocket",
        "csv",
        "synthetic",
    }


def test_data_root_resolution(tmp_path, monkeypatch):
    monkeypatch.delenv("SESSREC_DATA", raising=False)
    assert resolve_data_root() == Path("datasets")
    monkeypatch.setenv("SESSREC_DATA", str(tmp_path))
    assert resolve_data_root() == tmp_path
    assert resolve_data_root(tmp_path / "x") == tmp_path / "x"
    ds = prepare("synthetic", **SMALL)  # cache goes under $SESSREC_DATA
    assert list((tmp_path / ".cache").glob("synthetic-*.npz"))
    assert isinstance(ds, PreparedDataset)


def test_cache_hit_returns_identical_dataset(tmp_path):
    first, steps1 = steps_of(lambda: prepare("synthetic", data_root=tmp_path, **SMALL))
    again, steps2 = steps_of(lambda: prepare("synthetic", data_root=tmp_path, **SMALL))
    assert "synthetic: cached" not in steps1 and "synthetic: cached" in steps2
    assert again.fingerprint == first.fingerprint
    assert again.stats == first.stats and again.protocol == first.protocol
    for part in ("train", "test"):
        a, b = getattr(first, part), getattr(again, part)
        np.testing.assert_array_equal(a.items, b.items)
        np.testing.assert_array_equal(a.offsets, b.offsets)
        np.testing.assert_array_equal(a.timestamps, b.timestamps)
        np.testing.assert_array_equal(a.session_ids, b.session_ids)
    np.testing.assert_array_equal(first.item_index.ids, again.item_index.ids)
    assert again.synthetic and again.raw_files == []
    assert not list((tmp_path / ".cache").glob("*.tmp"))  # atomic writes leave no temp files


def test_changed_parameter_never_reuses_cache(tmp_path):
    a = prepare("synthetic", data_root=tmp_path, **SMALL)
    b, steps = steps_of(lambda: prepare("synthetic", data_root=tmp_path, test_days=5, **SMALL))
    c, _ = steps_of(lambda: prepare("synthetic", data_root=tmp_path, seed=1, **SMALL))
    d, _ = steps_of(lambda: prepare("synthetic", data_root=tmp_path, valid_days=3, **SMALL))
    assert "synthetic: cached" not in steps
    assert len({a.fingerprint, b.fingerprint, c.fingerprint, d.fingerprint}) == 4
    assert b.protocol["params"]["test_days"] == 5 and d.valid is not None and d.valid.n_sessions > 0
    assert len(list((tmp_path / ".cache").glob("synthetic-*.npz"))) == 4


def test_changed_raw_file_never_reuses_cache(tmp_path):
    raw = digi_file(tmp_path / "views.csv", 200)
    first = prepare("diginetica", path=raw, data_root=tmp_path)
    # same size, different content (item ids shifted): size alone must not decide
    size = raw.stat().st_size
    digi_file(raw, 200, shift=1)
    assert raw.stat().st_size == size
    os.utime(raw, ns=(raw.stat().st_atime_ns, raw.stat().st_mtime_ns + 10**9))
    second, steps = steps_of(lambda: prepare("diginetica", path=raw, data_root=tmp_path))
    assert "diginetica: cached" not in steps
    assert second.raw_files[0]["sha256"] != first.raw_files[0]["sha256"]
    assert second.fingerprint != first.fingerprint
    # and a grown file too
    digi_file(raw, 300)
    third = prepare("diginetica", path=raw, data_root=tmp_path)
    assert third.stats["train_sessions"] > first.stats["train_sessions"]


def test_corrupt_cache_is_rebuilt(tmp_path):
    a = prepare("synthetic", data_root=tmp_path, **SMALL)
    (cache,) = (tmp_path / ".cache").glob("synthetic-*.npz")
    cache.write_bytes(b"not a zip file")
    b = prepare("synthetic", data_root=tmp_path, **SMALL)
    assert b.fingerprint == a.fingerprint


def test_cache_false_writes_nothing(tmp_path):
    prepare("synthetic", data_root=tmp_path, cache=False, **SMALL)
    assert not (tmp_path / ".cache").exists()


def test_recipe_instance_and_keep_file_order(tmp_path):
    raw = digi_file(tmp_path / "views.csv", 200)
    ds = prepare(Synthetic(tmp_path, **SMALL), data_root=tmp_path)
    assert ds.name == "synthetic"
    a = prepare("diginetica", path=raw, data_root=tmp_path)
    b = prepare("diginetica", path=raw, data_root=tmp_path, keep_file_order=True)
    assert b.protocol["params"]["keep_file_order"] is True
    assert a.fingerprint == b.fingerprint  # this file is in timeframe order: same split...
    assert len(list((tmp_path / ".cache").glob("diginetica-*.npz"))) == 2  # ...under its own key
