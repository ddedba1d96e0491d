"""The vectorised session-kNN models against plain per-prefix loops on random logs.

The loops below are written from the models' definitions (one prefix at a time, Python sets
and dicts, the way the papers and session-rec state them), independently of the sparse
machinery; ties are broken as documented (sampling order: latest last click first, then
training position; neighbours: similarity, then sampling order).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from sessrec_baselines import _knn_core
from sessrec_baselines.session_knn import SKNN, STAN, VSKNN

from sessrec.data.sessions import PrefixBatch, Sessions


def random_log(seed: int, n_sessions: int = 60, n_items: int = 25) -> Sessions:
    rng = np.random.default_rng(seed)
    seqs = [rng.integers(0, n_items, size=rng.integers(1, 7)).tolist() for _ in range(n_sessions)]
    times = [sorted(rng.integers(0, 40, size=len(s)).astype(float).tolist()) for s in seqs]  # many equal times
    return Sessions.from_lists(seqs, n_items=n_items, timestamps=times)


def sample(train: Sessions, prefix: list[int], size: int) -> list[int]:
    """Candidates sharing an item, latest last click first (ties: earlier position), first ``size``."""
    pool = [s for s in range(train.n_sessions) if set(train[s].tolist()) & set(prefix)]
    pool.sort(key=lambda s: (-train.timestamps[train.offsets[s + 1] - 1], s))
    return pool[:size] if size else pool


def neighbours(pool: list[int], sims: dict[int, float], k: int, positive: bool) -> list[int]:
    kept = [s for s in pool if sims[s] > 0 or not positive]
    return sorted(kept, key=lambda s: -sims[s])[:k]  # stable: ties keep the sampling order


def sknn_reference(train: Sessions, prefix: list[int], k: int, size: int) -> np.ndarray:
    cur = set(prefix)
    pool = sample(train, prefix, size)
    sims = {s: len(cur & set(train[s].tolist())) / len(cur | set(train[s].tolist())) for s in pool}
    out = np.zeros(train.n_items)
    for s in neighbours(pool, sims, k, True):
        for i in set(train[s].tolist()):
            out[i] += sims[s]
    return out


def last_positions(seq: list[int]) -> dict[int, int]:
    return {item: p + 1 for p, item in enumerate(seq)}


def vsknn_reference(train: Sessions, prefix: list[int], k: int, size: int, idf: np.ndarray) -> np.ndarray:
    length = len(prefix)
    weight = {i: p / length for i, p in last_positions(prefix).items()}  # div
    pool = sample(train, prefix, size)
    sims = {s: sum(weight[i] for i in set(prefix) & set(train[s].tolist())) / len(weight) for s in pool}  # vec
    out = np.zeros(train.n_items)
    for s in neighbours(pool, sims, k, True):
        items = set(train[s].tolist())
        step = next(j + 1 for j, i in enumerate(reversed(prefix)) if i in items)
        for i in items:
            out[i] += (sims[s] + sims[s] * idf[i] * 2.0) * (1.0 / step)  # idf_weighting 2, div decay
    return out


def stan_reference(train: Sessions, prefix: list[int], t: float, k: int, size: int) -> np.ndarray:
    length = len(prefix)
    w = {i: math.exp((p - length) / 1.5) for i, p in last_positions(prefix).items()}
    norm = math.sqrt(sum(v * v for v in w.values()))
    pool = sample(train, prefix, size)
    sims = {}
    for s in pool:
        items = set(train[s].tolist())
        cos = sum(w[i] for i in set(prefix) & items) / (norm * math.sqrt(len(items)))
        sims[s] = cos * math.exp(-(t - train.timestamps[train.offsets[s + 1] - 1]) / (3.0 * 86400))
    out = np.zeros(train.n_items)
    for s in neighbours(pool, sims, k, False):
        seq = train[s].tolist()
        q = last_positions(seq)
        star = next(i for i in reversed(prefix) if i in q)  # most recent prefix item in the neighbour
        for i in set(seq):
            out[i] += sims[s] * math.exp(-abs(q[i] - q[star]) / 0.8)
    return out


def prefixes(test: Sessions) -> list[list[int]]:
    return [test[s][: n + 1].tolist() for s in range(test.n_sessions) for n in range(len(test[s]) - 1)]


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize(("k", "size"), [(3, 0), (5, 8), (50, 4)])
def test_sknn_matches_the_loops(seed, k, size, monkeypatch):
    train, test = random_log(seed), random_log(seed + 100, n_sessions=10)
    monkeypatch.setattr(_knn_core, "CHUNK_ENTRIES", 40)  # many chunks
    model = SKNN(k=k, sample_size=size).fit(train)
    got = model.score(PrefixBatch.from_lists(prefixes(test))).numpy()
    want = np.stack([sknn_reference(train, p, k, size) for p in prefixes(test)])
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("seed", [0, 1])
def test_vsknn_matches_the_loops(seed):
    train, test = random_log(seed), random_log(seed + 100, n_sessions=10)
    model = VSKNN(k=4, sample_size=10, idf_weighting=2).fit(train)
    got = model.score(PrefixBatch.from_lists(prefixes(test))).numpy()
    want = np.stack([vsknn_reference(train, p, 4, 10, model.idf_) for p in prefixes(test)])
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("seed", [0, 1])
def test_stan_matches_the_loops_with_prefix_times(seed):
    train, test = random_log(seed), random_log(seed + 100, n_sessions=10)
    model = STAN(k=4, sample_size=10, lambda_spw=1.5, lambda_snh=3.0, lambda_inh=0.8).fit(train)
    rows = test.lengths - 1
    keep = rows > 0
    batch = PrefixBatch.from_ranges(test.items, test.offsets[:-1][keep], rows[keep], test.timestamps + 50.0)
    got = model.score_sessions(batch).numpy()
    times = [test.timestamps[test.offsets[s] + n] + 50.0 for s in range(test.n_sessions) for n in range(rows[s])]
    want = np.stack([stan_reference(train, p, t, 4, 10) for p, t in zip(prefixes(test), times)])
    np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12)


def test_top_k_breaks_ties_by_entry_order():
    # row 0: values 3, 5, 5, 1, 5 -> k=2 keeps the 5s at entries 1, 2 (earlier first); row 1: 2 entries, both kept
    row = np.array([0, 0, 0, 0, 0, 1, 1])
    sim = np.array([3.0, 5.0, 5.0, 1.0, 5.0, 0.5, 0.7])
    assert _knn_core.top_k(row, sim, 2, 2).tolist() == [1, 2, 6, 5]
    assert _knn_core.top_k(row, sim, 2, 4).tolist() == [1, 2, 4, 0, 6, 5]


def test_prefix_times_travel_with_the_batch():
    test = random_log(5, n_sessions=4)
    batch, _ = next(test.prefix_batches(3))
    assert batch.timestamps is not None and batch.timestamps.dtype == torch.float64
    last = batch.timestamps.gather(1, (batch.lengths - 1)[:, None]).squeeze(1)
    assert last.tolist() == test.timestamps[test.case_positions()[:3] - 1].tolist()
    assert batch.select([1]).timestamps.shape == (1, int(batch.lengths[1]))


SPARSE_CASES = [
    ("SKNN", dict(k=5, sample_size=8)),
    ("SKNN", dict(k=5, sample_size=0, similarity="cosine", remind=True, pop_boost=1.0)),
    ("SKNN", dict(k=3, sample_size=8, remind=True, reference_code=True)),
    ("SSKNN", dict(k=5, weighting="linear", reference_code=True)),
    ("SFSKNN", dict(k=5, pop_boost=0.5)),
    ("VSKNN", dict(k=4, sample_size=10, idf_weighting=2, remind=False)),
    ("VSKNN", dict(k=4, weighting="linear", weighting_score="linear", reference_code=True)),
    ("STAN", dict(k=4, sample_size=10, lambda_spw=1.5, lambda_snh=3.0, lambda_inh=0.8, remind=False)),
    ("VSTAN", dict(k=6, sample_size=10, similarity="vec")),
]


@pytest.mark.parametrize(("name", "params"), SPARSE_CASES)
@pytest.mark.parametrize("chunk_rows", [1, 7, 512])
@pytest.mark.parametrize("untrained", [True, False])
def test_sparse_scores_are_the_dense_scores_bit_for_bit(name, params, chunk_rows, untrained, monkeypatch):
    """``score_sessions_sparse``: duplicate-free CSR whose dense form is ``score_sessions``, bit for bit.

    With ``untrained``, items 25..29 have no training click (stored as -inf; the scores then
    go through the dense scratch block, as with reminders and popularity, which write outside
    the neighbours' items); the code's linear decay gives negative scores.
    """
    import scipy.sparse as sp
    from sessrec_baselines import session_knn

    monkeypatch.setattr(session_knn, "SPARSE_CHUNK_ROWS", chunk_rows)
    monkeypatch.setattr(_knn_core, "CHUNK_ENTRIES", {1: 10, 7: 100, 512: 4_000_000}[chunk_rows])
    train = random_log(3)
    n_items = 30 if untrained else 25
    train = Sessions.from_lists([train[s].tolist() for s in range(train.n_sessions)], n_items=n_items,
                                timestamps=[train.timestamps[train.offsets[s]:train.offsets[s + 1]].tolist()
                                            for s in range(train.n_sessions)])  # fmt: skip
    rng = np.random.default_rng(104)
    seqs = [rng.integers(0, 25, size=n).tolist() for n in (1, 2, 3, 5, 16, 18, 4, 2, 20)]
    seqs.append([0, 1, 2, 3] + [24] * 12 + [4])  # old clicks only are shared: step > 10 (linear decay < 0)
    times = [np.arange(len(q), dtype=float).tolist() for q in seqs]
    test = Sessions.from_lists(seqs, n_items=n_items, timestamps=times)
    rows = test.lengths - 1
    keep = rows > 0
    batch = PrefixBatch.from_ranges(test.items, test.offsets[:-1][keep], rows[keep], test.timestamps)
    model = getattr(session_knn, name)(**params).fit(train)
    dense = model.score_sessions(batch).numpy()
    block = model.score_sessions_sparse(batch)
    assert isinstance(block, sp.csr_matrix) and block.dtype == np.float64
    canonical = block.copy()
    canonical.sum_duplicates()
    assert canonical.nnz == block.nnz  # no position stored twice
    assert block.shape == dense.shape
    assert np.array_equal(block.toarray().view(np.int64), dense.view(np.int64))  # bitwise, -0.0 included
    assert np.all(block.data != 0)  # nothing stored that the implicit zero would not give
    assert np.isneginf(dense[:, 25:]).all() and (dense[:, :25] != 0).any()
    assert not np.isinf(dense[:, :25]).any()
    if name == "SSKNN":
        assert (dense[:, :25] < 0).any()  # the code's negative linear decay


@pytest.mark.parametrize("table_bits", [0, 2**28])
def test_in_prefix_is_set_membership(table_bits, monkeypatch):
    """Both routes of ``in_prefix`` (bit table, binary search) against Python sets."""
    monkeypatch.setattr(_knn_core, "MAX_TABLE_BITS", table_bits)
    test = random_log(9, n_sessions=15)
    batch = PrefixBatch.from_lists(prefixes(test))
    pre = _knn_core.prefixes_from_batch(batch, False, 0.0, 25)
    rng = np.random.default_rng(0)
    row, item = rng.integers(0, pre.n_rows, 500), rng.integers(0, 25, 500)
    sets = [set(p) for p in prefixes(test)]
    want = np.array([i in sets[r] for r, i in zip(row, item)])
    assert want.any() and not want.all()
    np.testing.assert_array_equal(_knn_core.in_prefix(pre, row, item, 25), want)


@pytest.mark.parametrize("k", [1, 3, 10, 40])
def test_top_k_against_sorting_each_row(k):
    """Rows of very different lengths (several padded bands), many ties, empty rows."""
    rng = np.random.default_rng(k)
    counts = rng.choice([0, 1, 2, 5, 9, 17, 33, 70, 130], size=40)
    row = np.repeat(np.arange(40), counts)
    sim = rng.choice([0.1, 0.2, 0.5, 1.0], size=len(row))
    want = []
    for r in range(40):  # reference: per row, stable sort by decreasing similarity, first k
        idx = np.flatnonzero(row == r)
        want += sorted(idx, key=lambda i: -sim[i])[:k]
    assert _knn_core.top_k(row, sim, 40, k).tolist() == [int(i) for i in want]


KERNEL_CASES = [
    ("SFSKNN", dict(k=5, sample_size=8)),
    ("SFSKNN", dict(k=50, sample_size=0, similarity="cosine", reference_code=True)),
    ("VSKNN", dict(k=4, sample_size=10, idf_weighting=2, remind=False)),
    ("VSKNN", dict(k=4, weighting="linear", weighting_score="linear", reference_code=True)),
    ("VSKNN", dict(k=40, sample_size=0, similarity="cosine", weighting="quadratic", idf_weighting=5)),
    ("STAN", dict(k=4, sample_size=10, lambda_spw=1.5, lambda_snh=3.0, lambda_inh=0.8, remind=False)),
    ("STAN", dict(k=4, sample_size=10, lambda_inh=0.8, reference_code=True)),
    ("STAN", dict(k=30, sample_size=0, lambda_spw=None, lambda_snh=None, lambda_inh=None)),
    ("VSTAN", dict(k=6, sample_size=10, similarity="vec")),
    ("VSTAN", dict(k=6, sample_size=10, lambda_idf=False, lambda_ipw=None, remind=False, reference_code=True)),
]


@pytest.mark.parametrize(("name", "params"), KERNEL_CASES)
@pytest.mark.parametrize(("seed", "untrained"), [(0, True), (1, False)])
def test_compiled_item_scores_are_the_numpy_route_bit_for_bit(name, params, seed, untrained, monkeypatch):
    """The compiled item-scoring kernel and the NumPy expansion give the same floats, in both routes.

    One test session shares its only trained items with the training log more than
    ``MAX_STEP`` clicks before its end (item 45 has no training click): a distance the
    candidate product cannot encode exactly, where STAN's paper anchor follows the NumPy
    route's search for the next prefix position. Without ``untrained``, items 40..49 are not
    masked (as if trained), so that the sparse route sums straight into CSR rather than
    through its dense scratch block.
    """
    from sessrec_baselines import _knn_kernel, session_knn

    assert _knn_kernel.AVAILABLE, "Numba is a dependency of sessrec-baselines; the kernel must be in use"
    log = random_log(seed, n_sessions=80, n_items=40)
    train = Sessions.from_lists([log[s].tolist() for s in range(log.n_sessions)], n_items=50,
                                timestamps=[log.timestamps[log.offsets[s]:log.offsets[s + 1]].tolist()
                                            for s in range(log.n_sessions)])  # fmt: skip
    rng = np.random.default_rng(seed + 7)
    seqs = [rng.integers(0, 40, size=n).tolist() for n in (2, 3, 5, 9, 16, 30)]
    seqs.append([int(train[0][0]), int(train[0][-1])] + [45] * (_knn_core.MAX_STEP + 10) + [int(train[1][0])])
    test = Sessions.from_lists(seqs, n_items=50, timestamps=[np.arange(len(q), dtype=float).tolist() for q in seqs])
    rows = test.lengths - 1
    batch = PrefixBatch.from_ranges(test.items, test.offsets[:-1], rows, test.timestamps)
    model = getattr(session_knn, name)(**params).fit(train)
    if not untrained:
        model.untrained_ = np.zeros(0, dtype=np.int64)
    monkeypatch.setattr(session_knn, "USE_KERNEL", True)
    fast = model.score_sessions_sparse(batch), model.score_sessions(batch).numpy()
    assert _knn_kernel._compiled  # the loops ran compiled, not as plain Python
    monkeypatch.setattr(session_knn, "USE_KERNEL", False)
    slow = model.score_sessions_sparse(batch), model.score_sessions(batch).numpy()
    assert np.all(fast[0].data != 0)
    assert np.array_equal(fast[0].toarray().view(np.int64), slow[0].toarray().view(np.int64))
    assert np.array_equal(fast[1].view(np.int64), slow[1].view(np.int64))
    short = int(rows[:-1].sum())  # the prefixes of the short sessions come first
    assert (fast[1][:short] != 0).any(axis=1).mean() > 0.5  # scores were produced at all


@pytest.mark.parametrize("k", [1, 3, 40, 1000])
def test_compiled_top_k_is_the_numpy_top_k(k):
    """Rows of 0..300 entries (insertion and merge sort inside), values from a few levels: many ties, -0.0 and -inf."""
    from sessrec_baselines import _knn_kernel

    rng = np.random.default_rng(k)
    counts = rng.integers(0, 300, size=40)
    row = np.repeat(np.arange(40), counts)
    sim = rng.choice(np.array([0.5, 0.25, 0.0, -0.0, -1.0, -np.inf, 3.0]), size=len(row))
    want = _knn_core.top_k(row, sim, 40, k)
    got = _knn_kernel.top_k(row, sim, 40, k)
    assert got.tolist() == want.tolist()
    assert len(got) == np.minimum(counts, k).sum()


@pytest.mark.parametrize("sample_size", [0, 1, 5, 40])
def test_compiled_candidates_are_the_sparse_product(sample_size):
    """Same candidates, overlaps and steps, bit for bit, over prefixes with repeats and a step clamped at MAX_STEP."""
    from sessrec_baselines import _knn_kernel

    train = random_log(4, n_sessions=120, n_items=30)
    rng = np.random.default_rng(sample_size)
    seqs = [rng.integers(0, 30, size=n).tolist() for n in (1, 2, 7, 40)]
    seqs.append([3, 4] + [5] * (_knn_core.MAX_STEP + 3))
    batch = PrefixBatch.from_lists(seqs)
    pre = _knn_core.prefixes_from_batch(batch, True, 0.0, 30)
    index = _knn_core.build_index(train, "recent", sample_size, None)
    weights = rng.normal(size=len(pre.row))
    want = _knn_core.candidates(pre, weights, index, sample_size)
    got = _knn_kernel.candidates(pre, weights, index, sample_size)
    for name in ("row", "rank", "step"):
        assert getattr(got, name).tolist() == getattr(want, name).tolist(), name
    assert got.dot.view(np.int64).tolist() == want.dot.view(np.int64).tolist()
    assert (want.step == _knn_core.MAX_STEP).any()


def test_numba_that_fails_to_import_falls_back_to_the_numpy_route_with_a_warning(monkeypatch):
    import sys

    from sessrec_baselines import _knn_kernel, session_knn

    train, test = random_log(2), random_log(102, n_sessions=10)
    batch = PrefixBatch.from_lists(prefixes(test))
    model = STAN(k=4, sample_size=10, lambda_inh=0.8).fit(train)
    want = model.score(batch).numpy()  # compiled
    monkeypatch.setattr(_knn_kernel, "_compiled", False)
    monkeypatch.setattr(_knn_kernel, "AVAILABLE", True)
    monkeypatch.setitem(sys.modules, "numba", None)  # ``import numba`` raises ImportError
    with pytest.warns(RuntimeWarning, match="NumPy route"):
        got = model.score(batch).numpy()
    assert not _knn_kernel.AVAILABLE and not session_knn._compiled()
    assert np.array_equal(got.view(np.int64), want.view(np.int64))
