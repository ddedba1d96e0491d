"""Sparse score blocks: ranks, top-K lists and metrics identical to the dense route.

References: the dense functions (``target_ranks``, ``top_k_items``) on ``block.toarray()``,
themselves checked against brute force in ``test_evaluation_ranks.py``, and a by-hand example.
"""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
import torch

from sessrec import PrefixBatch, Sessions
from sessrec.evaluation import TIES, InvalidScoresError, evaluate, target_ranks, top_k_items
from sessrec.evaluation.sparse import canonical_csr, sparse_target_ranks, sparse_top_k_items

#: Few distinct values, so that ties (with stored and unstored zeros too) are everywhere.
LEVELS = np.array([-np.inf, -1.0, -0.5, 0.0, 0.25, 0.5, 1.0, 2.0])


def random_block(rng: np.random.Generator, n_rows: int, n_items: int, density: float) -> sp.csr_matrix:
    """A CSR block with tied values, explicit zeros and -inf, some duplicates, unsorted indices."""
    nnz = rng.binomial(n_rows * n_items, density)
    rows = rng.integers(0, n_rows, nnz)
    cols = rng.integers(0, n_items, nnz)
    vals = rng.choice(LEVELS, nnz)
    dup = rng.random(nnz) < 0.1  # duplicates of finite values (toarray sums them)
    vals[dup & ~np.isfinite(vals)] = 0.5
    keep = ~dup | np.isfinite(vals)
    order = rng.permutation(int(keep.sum()))
    return sp.csr_matrix((vals[keep][order], (rows[keep][order], cols[keep][order])), shape=(n_rows, n_items))


def test_worked_example_by_hand():
    # one case, six items: stored 0.9 (item 0), 0.5 (items 1, 3), -1 (item 4); items 2, 5 unstored = 0
    block = sp.csr_matrix(([0.9, 0.5, 0.5, -1.0], [0, 1, 3, 4], [0, 4]), shape=(1, 6))
    # target item 2 (score 0): at least 0 -> items 0, 1, 2, 3, 5 = 5; above 0 -> 3, so optimistic 4
    assert sparse_target_ranks(block, np.array([2]), "conservative").tolist() == [5]
    assert sparse_target_ranks(block, np.array([2]), "optimistic").tolist() == [4]
    assert sparse_target_ranks(block, np.array([2]), "median").tolist() == [4.5]
    # target item 4 (score -1): every item is at least -1 -> 6; above -> 5, optimistic 6
    assert sparse_target_ranks(block, np.array([4]), "optimistic").tolist() == [6]
    # order: 0.9 (0), 0.5 (1, 3), 0 (2, 5), -1 (4)
    assert sparse_top_k_items(block, 6).tolist() == [[0, 1, 3, 2, 5, 4]]
    assert sparse_top_k_items(block, 4).tolist() == [[0, 1, 3, 2]]


@pytest.mark.parametrize("seed", range(12))
def test_random_blocks_equal_dense(seed):
    rng = np.random.default_rng(seed)
    n_items = int(rng.choice([1, 3, 7, 25, 60, 300]))
    n_rows = int(rng.integers(1, 40))
    raw = random_block(rng, n_rows, n_items, float(rng.choice([0.0, 0.05, 0.3, 0.9])))
    dense = torch.from_numpy(raw.toarray())
    block = canonical_csr(raw)
    assert np.array_equal(block.toarray(), dense.numpy())
    targets = rng.integers(0, n_items, n_rows)
    if n_rows > 1:  # some targets sure to be unstored (score 0)
        unstored = np.asarray(block[0].toarray() == 0).ravel().nonzero()[0]
        targets[0] = unstored[0] if len(unstored) else targets[0]
    for ties in TIES:
        want = target_ranks(dense, torch.from_numpy(targets), ties).numpy()
        got = sparse_target_ranks(block, targets, ties)
        assert got.dtype == want.dtype
        np.testing.assert_array_equal(got, want)
    for k in (1, 2, 5, 20, 100, 400):
        np.testing.assert_array_equal(sparse_top_k_items(block, k), top_k_items(dense, k).numpy())


def test_rows_wider_than_a_padded_block(monkeypatch):
    """Rows of very different widths fall into several padded blocks; results unchanged."""
    import sessrec.evaluation.sparse as sparse_mod

    monkeypatch.setattr(sparse_mod, "_PAD_CELLS", 50)
    rng = np.random.default_rng(7)
    block = canonical_csr(random_block(rng, 30, 200, 0.2))
    block = sp.vstack([block, sp.csr_matrix(np.full((2, 200), 0.5)), sp.csr_matrix((3, 200))]).tocsr()
    dense = torch.from_numpy(block.toarray())
    for k in (1, 20, 60):
        np.testing.assert_array_equal(sparse_top_k_items(block, k), top_k_items(dense, k).numpy())


# ---------------------------------------------------------------------- through evaluate()
class TableModel:
    """Scores = a sparse item-transition table's row for the prefix's last click (zeros elsewhere)."""

    def __init__(self, table: sp.csr_matrix) -> None:
        self.table = table.tocsr()
        self.n_items_ = table.shape[1]
        self.calls: list[str] = []

    def score(self, batch: PrefixBatch) -> torch.Tensor:
        self.calls.append("score")
        return torch.from_numpy(self.table[batch.last_items.numpy()].toarray())

    def score_sessions(self, batch: PrefixBatch) -> torch.Tensor:
        self.calls.append("score_sessions")
        return torch.from_numpy(self.table[batch.items[batch.mask].numpy()].toarray())

    def score_sessions_sparse(self, batch: PrefixBatch) -> sp.csr_matrix:
        self.calls.append("score_sessions_sparse")
        return self.table[batch.items[batch.mask].numpy()]


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("ties", TIES)
def test_evaluate_sparse_equals_dense(seed, ties):
    rng = np.random.default_rng(seed)
    n_items = 40
    table = random_block(rng, n_items, n_items, 0.15)
    lengths = rng.integers(1, 9, 60)
    test = Sessions.from_lists([list(rng.integers(0, n_items, n)) for n in lengths], n_items=n_items)
    pop = rng.integers(0, 50, n_items)
    kwargs = dict(cutoffs=(1, 5, 20, 50), ties=ties, item_popularity=pop, batch_size=17)
    model = TableModel(table)
    sparse = evaluate(model, test, **kwargs)
    assert set(model.calls) == {"score_sessions_sparse"} and sparse.used_fast_path
    dense = evaluate(model, test, use_sparse=False, **kwargs)
    assert "score_sessions_sparse" not in model.calls[-3:]
    assert sparse.metrics == dense.metrics  # exact, every metric
    np.testing.assert_array_equal(sparse.ranks, dense.ranks)
    assert sparse.ranks.dtype == dense.ranks.dtype


@pytest.mark.parametrize(
    "fault, match",
    [
        (lambda m: m.toarray(), "must return a scipy.sparse matrix"),
        (lambda m: m[:-1], "shape"),
        (lambda m: m.astype(np.int64), "floating-point"),
        (lambda m: _with_value(m, np.nan), "NaN"),
        (lambda m: _with_value(m, np.inf), r"\+inf"),
    ],
)
def test_bad_sparse_output_raises_clear_error(fault, match):
    table = sp.csr_matrix(np.eye(5) * 0.5)

    class Bad(TableModel):
        def score_sessions_sparse(self, batch):
            return fault(super().score_sessions_sparse(batch))

    test = Sessions.from_lists([[0, 1, 2], [3, 4]], n_items=5)
    with pytest.raises(InvalidScoresError, match=match):
        evaluate(Bad(table), test)


def _with_value(m: sp.csr_matrix, value: float) -> sp.csr_matrix:
    m = m.tocsr(copy=True).astype(np.float64)
    m.data[-1] = value
    return m
