"""Session-based nearest neighbours: SKNN, S-SKNN, SF-SKNN, V-SKNN, STAN and V-STAN.

All six models follow session-rec's classes (rn5l/session-rec): the same constructor
parameter names, the same candidate pool, sampling, neighbour selection and item scoring,
computed for many prefixes at once (see :mod:`sessrec_baselines._knn_core`; its per-prefix
loops compiled by :mod:`sessrec_baselines._knn_kernel`, with bitwise the same scores). Each class
documents where session-rec's code differs from its paper; the default follows the paper,
``reference_code=True`` reproduces the code (the published session-rec numbers come from it).

Common to all models
--------------------
* Candidates: training sessions sharing at least one item with the prefix.
* ``sampling="recent"``: the ``sample_size`` candidates whose last click is latest
  (``sample_size=0``: all candidates); ``"random"``: ``sample_size`` candidates drawn at
  random. Neighbours: the ``k`` candidates of largest similarity.
* Scores are float64 (sums of float64 terms added in neighbour order, as session-rec adds
  them); items no neighbour contains score 0; items without a training click score
  ``-inf`` (session-rec's candidates are the training items, so it never ranks them).

Deviations from session-rec common to all models (in both modes)
-----------------------------------------------------------------
* Ties: session-rec breaks ties among equally recent candidates (sampling) and equally
  similar candidates (top ``k``) by the iteration order of a Python ``set``, which depends on
  session ids and set sizes. Here both are broken by the sampling order (latest last click
  first, then earlier training position), so results do not depend on ids. Cases whose
  neighbours tie at the ``k``-th place can rank differently (0.6% of the cases on the
  DIGINETICA 1-day split, 0.1% on the RetailRocket slice; ``tests/perf/knn_results.md``).
* ``sampling="random"`` draws one random priority per training session at ``fit`` (from
  ``random_state``) and takes the ``sample_size`` candidates of highest priority: for each
  prefix a uniform random sample, reproducible and independent of batching; session-rec
  draws a fresh sample per event from the global ``random`` module.
* The final division of the scores by their maximum (``normalize``) is omitted: it does not
  change the ranking. ``extend`` (adding test sessions to the training index with the wall
  clock as their time), ``dwelling_time``, ``last_n_days``, ``last_n_clicks``,
  ``push_reminders``, ``add_reminders``, ``weighting_time`` and ``idf_weighting_session``
  (V-SKNN experimental options, all off by default in session-rec) are not implemented.
* Prefix positions count repeated clicks and a repeated item's position is that of its last
  click (its most recent one), in both modes, as in session-rec's code. The papers' weights
  are functions of a click's position; no rule for an item clicked twice was found in them,
  so the code's rule is kept rather than invented anew.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
import scipy.sparse as sp
import torch

from sessrec import BaseModel, PrefixBatch, Sessions, check_is_fitted
from sessrec.models import Interval, Options
from sessrec_baselines import _knn_core as core
from sessrec_baselines import _knn_kernel as kernel
from sessrec_baselines.common import ParamFileSets, mask_untrained, read_paramfile, untrained_items

try:  # Python 3.11+
    from typing import Self
except ImportError:  # pragma: no cover - Python 3.10
    from typing_extensions import Self

__all__ = ["SFSKNN", "SKNN", "SSKNN", "STAN", "VSKNN", "VSTAN"]

SECONDS_PER_DAY = 24 * 3600
#: Rows per chunk of the sparse scoring path (its dense scratch block: rows x n_items float64).
SPARSE_CHUNK_ROWS = 512
#: Whether candidates, neighbours and item values go through the compiled loops (:mod:`._knn_kernel`)
#: where they can run; False: the NumPy route (bitwise the same scores; taken anyway without Numba).
USE_KERNEL = True


def _compiled() -> bool:
    """Whether this call takes the compiled loops (:data:`USE_KERNEL` and Numba usable)."""
    return USE_KERNEL and kernel.ready()


def _kept_terms(keep: np.ndarray | None, *arrays: np.ndarray) -> tuple[np.ndarray, ...]:
    """``arrays`` restricted to the mask ``keep`` (every one of them as it is when ``keep`` is None)."""
    return arrays if keep is None else tuple(a[keep] for a in arrays)


# ---------------------------------------------------------------------- weight functions
def position_weight(name: str, pos: np.ndarray, length: np.ndarray, reference_code: bool) -> np.ndarray:
    """V-SKNN's weight of a prefix click at 1-based position ``pos`` of a prefix of ``length`` clicks."""
    pos, length = pos.astype(np.float64), length.astype(np.float64)
    if name in ("same", None):
        return np.ones_like(pos)
    if name == "div":
        return pos / length
    if name == "quadratic":
        return (pos / length) ** 2
    if name == "log":
        return 1.0 / np.log10((length - pos) + 1.7)
    if name == "linear":
        if reference_code:  # session-rec: 1 - 0.1 (L - i) if i <= 10 else 0 (i counted from the start)
            return np.where(pos <= 10, 1.0 - 0.1 * (length - pos), 0.0)
        return np.maximum(1.0 - 0.1 * (length - pos), 0.0)
    raise ValueError(f"unknown position weighting {name!r}; expected one of same, div, quadratic, log, linear")


def score_decay(name: str, step: np.ndarray, reference_code: bool) -> np.ndarray:
    """Decay of a neighbour whose most recent shared item is ``step`` clicks from the end (1 = last click)."""
    step = step.astype(np.float64)
    if name == "same":
        return np.ones_like(step)
    if name == "div":
        return 1.0 / step
    if name == "quadratic":
        return 1.0 / (step * step)
    if name == "log":
        return 1.0 / np.log10(step + 1.7)
    if name == "linear":
        if reference_code:  # session-rec: 1 - 0.1 i if i <= 100 else 0 (negative for 10 < i <= 100)
            return np.where(step <= 100, 1.0 - 0.1 * step, 0.0)
        return np.maximum(1.0 - 0.1 * step, 0.0)
    raise ValueError(f"unknown score weighting {name!r}; expected one of same, div, quadratic, log, linear")


def inverse_document_frequency(train: Sessions, reference_code: bool) -> np.ndarray:
    """``log(n_sessions / df(i))``: ``df`` = sessions containing ``i`` (paper) or clicks on ``i`` (code)."""
    if reference_code:
        df = train.item_counts().astype(np.float64)
    else:
        df = np.asarray(train.to_csr(binary=True).sum(axis=0)).ravel()
    with np.errstate(divide="ignore"):
        return np.where(df > 0, np.log(train.n_sessions / np.maximum(df, 1.0)), 0.0)


# ---------------------------------------------------------------------- base class
class KnnTags:
    """``tags`` of a session-kNN model: deterministic unless ``sampling="random"`` (scores depend on the seed).

    Read on the class it describes the default parameters (``sampling="recent"``).
    """

    def __init__(self, oracle: str) -> None:
        self.oracle = oracle

    def __get__(self, obj: Any, owner: type) -> dict[str, Any]:
        deterministic = obj is None or getattr(obj, "sampling", "recent") != "random"
        return {"oracle": self.oracle, "deterministic": deterministic}


class _SessionKNN(ParamFileSets, BaseModel):
    """Shared fit / score plumbing; subclasses define similarity, neighbour and item weights."""

    tags: ClassVar[dict[str, Any]] = KnnTags("session")  # type: ignore[assignment]
    #: Models keep only neighbours of positive similarity (SKNN family, V-SKNN) or all (STAN).
    positive_only: ClassVar[bool] = True
    #: Constraints of the parameters every session-kNN model has.
    parameter_constraints: ClassVar[dict[str, list[Any]]] = {
        "k": [Interval(int, 1, None)],
        "sample_size": [Interval(int, 0, None)],
        "sampling": [Options(str, {"recent", "random"})],
        "reference_code": [bool],
        "random_state": [Interval(int, 0, None), None],
    }

    # -------------------------------------------------------------- named sets
    @classmethod
    def param_set_info(cls, name: str) -> dict[str, Any]:
        """Provenance of a named set: session-rec's tuned values, with the file and commit they come from."""
        if name not in cls.param_set_names():
            return super().param_set_info(name)
        provenance = read_paramfile(cls.paramfile_name, name)["provenance"]
        return {"reproduces": "session-rec's tuned hyperparameters", "same_setup_as_published": False, **provenance}

    # -------------------------------------------------------------- fit
    def _check_params(self) -> None:
        name = type(self).__name__
        if isinstance(self.k, bool) or int(self.k) != self.k or self.k < 1:
            raise ValueError(f"{name}: k must be a positive integer, got {self.k!r}")
        if isinstance(self.sample_size, bool) or int(self.sample_size) != self.sample_size or self.sample_size < 0:
            raise ValueError(
                f"{name}: sample_size must be an integer >= 0 (0 = all candidates), got {self.sample_size!r}"
            )
        if self.sampling not in ("recent", "random"):
            raise ValueError(f"{name}: sampling must be 'recent' or 'random', got {self.sampling!r}")

    def fit(self, train: Sessions, *, valid: Sessions | None = None) -> Self:
        """Index ``train`` (``valid`` is ignored: nothing is learned beyond the index)."""
        self._check_params()
        rng = np.random.default_rng(self.random_state) if self.sampling == "random" else None
        self.index_ = core.build_index(train, self.sampling, int(self.sample_size), rng)
        self.default_time_ = float(train.timestamps.max()) if train.n_clicks else 0.0
        self.n_items_ = train.n_items
        self.untrained_ = untrained_items(train)
        self._fit_extra(train)
        return self

    def _fit_extra(self, train: Sessions) -> None:
        """Model-specific fitted state (idf, successors)."""

    # -------------------------------------------------------------- scoring
    def score(self, batch: PrefixBatch) -> torch.Tensor:
        """Scores of shape (batch_size, n_items), float64, on the CPU (``-inf`` for items without training clicks)."""
        check_is_fitted(self, "index_")
        return self._score_all(core.prefixes_from_batch(batch, False, self.default_time_, self.n_items_))

    def score_sessions(self, batch: PrefixBatch) -> torch.Tensor:
        """Scores after every prefix of every row, shape (sum(lengths), n_items), rows in row-major order."""
        check_is_fitted(self, "index_")
        return self._score_all(core.prefixes_from_batch(batch, True, self.default_time_, self.n_items_))

    def score_sessions_sparse(self, batch: PrefixBatch) -> sp.csr_matrix:
        """:meth:`score_sessions` as a CSR matrix: the same values, unstored items score 0.

        Returns a ``scipy.sparse.csr_matrix`` of shape (sum(lengths), n_items), float64,
        without duplicates (indices unsorted within a row), whose ``toarray()`` equals
        :meth:`score_sessions` bit for bit (items without training clicks are stored as
        ``-inf``; zeros are not stored). The evaluator ranks it without a dense block.
        """
        check_is_fitted(self, "index_")
        prefixes = core.prefixes_from_batch(batch, True, self.default_time_, self.n_items_)
        if len(self.untrained_) or self._rewrites_scores():
            return self._sparse_through_scratch(prefixes)
        parts = [self._sparse_chunk(prefixes.take(rows)) for rows in core.row_chunks(prefixes, self.index_)]
        if len(parts) == 1:
            return parts[0]
        return sp.vstack(parts, format="csr") if parts else sp.csr_matrix((0, self.n_items_))

    def _sparse_chunk(self, pre: core.Prefixes) -> sp.csr_matrix:
        """Scores of the prefixes ``pre`` summed straight into CSR (no dense block)."""
        nbrs = self._neighbours(pre)
        per_neighbour = None if self.filters_items else self._neighbour_values(pre, nbrs)
        if per_neighbour is not None:  # every item of a neighbour gets the same value: no expansion
            return core.neighbour_sums(nbrs.row, nbrs.rank, per_neighbour, pre.n_rows, self.index_)
        sums = self._compiled_sums(pre, nbrs)
        if sums is not None:
            return sums
        _, _, k_row, k_item, k_value = self._chunk_terms(pre, nbrs)
        return core.sum_rows(k_row, k_item, k_value, pre.n_rows, self.n_items_)

    def _compiled_sums(self, pre: core.Prefixes, nbrs: core.Neighbours) -> sp.csr_matrix | None:
        """The neighbours' summed item values through the compiled loop; None when it does not apply."""
        terms = self._item_terms(pre, nbrs) if _compiled() else None
        return None if terms is None else kernel.item_sums(pre, nbrs, terms, self.index_.positions, self.n_items_)

    def _sparse_through_scratch(self, prefixes: core.Prefixes) -> sp.csr_matrix:
        """Sparse scores when the last step edits dense scores (reminders, popularity) or items are untrained."""
        chunks = core.row_chunks(prefixes, self.index_, row_limit=SPARSE_CHUNK_ROWS)
        acc = core.SparseRows(max((len(rows) for rows in chunks), default=1), self.n_items_)
        untrained = self.untrained_
        for rows in chunks:
            block = acc.scratch(len(rows))
            result, row, item = self._score_chunk(prefixes.take(rows), block)
            if result is not block:
                block[...] = result
            if len(untrained):
                block[:, untrained] = -np.inf
                row = np.concatenate([row, np.repeat(np.arange(len(rows)), len(untrained))])
                item = np.concatenate([item, np.tile(untrained, len(rows))])
            acc.collect(len(rows), row, item)
        return acc.to_csr()

    def _score_all(self, prefixes: core.Prefixes) -> torch.Tensor:
        out = np.zeros((prefixes.n_rows, self.n_items_))  # lazily zeroed pages: each chunk adds into its rows
        for rows in core.row_chunks(prefixes, self.index_):
            block = out[rows[0] : rows[-1] + 1]
            result = self._score_chunk(prefixes.take(rows), block)[0]
            if result is not block:
                block[...] = result
        return mask_untrained(torch.from_numpy(out), self.untrained_)

    def _score_chunk(self, pre: core.Prefixes, out: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Add the scores of the prefixes ``pre`` into ``out`` (zeros, shape (n_rows, n_items)).

        Returns the scores (``out`` itself unless a hook replaced it) and the positions
        ``(row, item)`` of every score that may be nonzero (duplicates allowed).
        """
        nbrs = self._neighbours(pre)
        sums = None if self._rewrites_scores() else self._compiled_sums(pre, nbrs)
        if sums is not None:
            core.add_csr_into(out, sums.indptr, sums.indices, sums.data)
            return out, np.repeat(np.arange(pre.n_rows), np.diff(sums.indptr)), sums.indices
        ex, row, k_row, k_item, k_value = self._chunk_terms(pre, nbrs)
        core.accumulate_into(out, k_row, k_item, k_value)
        return self._postprocess(pre, out, row, ex), *self._written(pre, k_row, k_item)

    def _neighbours(self, pre: core.Prefixes) -> core.Neighbours:
        """The neighbours of the prefixes ``pre`` (by row, then decreasing similarity)."""
        steps = kernel if _compiled() else core  # the compiled loops or the NumPy route (bitwise the same)
        cand = steps.candidates(pre, self._prefix_weights(pre), self.index_, int(self.sample_size))
        sim = self._similarity(pre, cand)
        if self.positive_only:
            ok = np.flatnonzero(sim > 0)
            chosen = ok[steps.top_k(cand.row[ok], sim[ok], pre.n_rows, int(self.k))]
        else:  # NaN similarities: the NumPy route's order (the compiled sort assumes none)
            select = core.top_k if np.isnan(sim).any() else steps.top_k
            chosen = select(cand.row, sim, pre.n_rows, int(self.k))
        return core.order_neighbours(cand, chosen, sim)

    def _chunk_terms(
        self, pre: core.Prefixes, nbrs: core.Neighbours
    ) -> tuple[core.Expanded, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """The items ``ex`` of the neighbours ``nbrs`` of the prefixes ``pre``, each one's prefix row, the scored terms.

        Returns ``(ex, row, kept_row, kept_item, kept_value)``: the kept terms are those
        :meth:`_keep_items` keeps (all of them when it returns ``None``).
        """
        ex = core.expand(nbrs, self.index_)
        value = self._item_values(pre, nbrs, ex)
        row = nbrs.row[ex.nb]
        return ex, row, *_kept_terms(self._keep_items(pre, row, ex), row, ex.item, value)

    # -------------------------------------------------------------- hooks
    #: Whether :meth:`_keep_items` may drop neighbour items (then sparse sums go through the expansion).
    filters_items: ClassVar[bool] = False

    def _neighbour_values(self, pre: core.Prefixes, nbrs: core.Neighbours) -> np.ndarray | None:
        """The value every item of each neighbour receives, when it does not depend on the item; else None."""
        return None

    def _item_terms(self, pre: core.Prefixes, nbrs: core.Neighbours) -> kernel.ItemTerms | None:
        """The factors of :meth:`_item_values` and the filter of :meth:`_keep_items` for the compiled kernel.

        ``None``: the model has no kernel form (its items go through the NumPy route).
        """
        return None

    def _rewrites_scores(self) -> bool:
        """Whether :meth:`_postprocess` changes the summed scores (then sparse scores go through a dense scratch)."""
        return False

    def _prefix_weights(self, pre: core.Prefixes) -> np.ndarray:
        return np.ones(len(pre.row))

    def _similarity(self, pre: core.Prefixes, cand: core.Candidates) -> np.ndarray:
        raise NotImplementedError

    def _item_values(self, pre: core.Prefixes, nbrs: core.Neighbours, ex: core.Expanded) -> np.ndarray:
        return nbrs.weight[ex.nb]

    def _keep_items(self, pre: core.Prefixes, row: np.ndarray, ex: core.Expanded) -> np.ndarray | None:
        """Mask of the neighbour items that receive a score; ``None``: all of them."""
        return None

    def _postprocess(self, pre: core.Prefixes, scores: np.ndarray, row: np.ndarray, ex: core.Expanded) -> np.ndarray:
        return scores

    def _written(self, pre: core.Prefixes, row: np.ndarray, item: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Positions where :meth:`_score_chunk` may have written a nonzero score, given the scored ``(row, item)``."""
        return row, item

    # -------------------------------------------------------------- shared pieces
    def _drop_current_items(self, pre: core.Prefixes, row: np.ndarray, ex: core.Expanded) -> np.ndarray | None:
        """``remind=False`` of V-SKNN/STAN/V-STAN: items of the current prefix get no score (``None``: all kept)."""
        if self.remind:
            return None
        return ~core.in_prefix(pre, row, ex.item, self.n_items_)

    def _cosine(self, pre: core.Prefixes, cand: core.Candidates, weights: np.ndarray) -> np.ndarray:
        """``dot / (sqrt(sum_s w^2) * sqrt(|n|))``: cosine of the weighted prefix and the binary neighbour."""
        norm2 = np.bincount(pre.row, weights=weights * weights, minlength=pre.n_rows)
        return cand.dot / (np.sqrt(norm2[cand.row]) * np.sqrt(self.index_.n_distinct[cand.rank]))


# ---------------------------------------------------------------------- SKNN family
class SKNN(_SessionKNN):
    """Session-based kNN (SKNN): neighbours by set similarity, items scored by summed similarity.

    ``score(i) = sum over the k neighbours n containing i of sim(s, n)`` where ``s`` is the set
    of items of the prefix and ``n`` the set of items of a training session.

    Similarities (``similarity``), with ``a = |s & n|``:

    * ``jaccard`` and ``tanimoto``: ``a / |s | n|`` (the same formula in session-rec);
    * ``cosine``: ``a / sqrt(|s| |n|)``;
    * ``binary``: ``2a / (2a + |s| + |n|)``.

    ``remind=True`` adds session-rec's reminders: each of the last three clicks ``j = 1..3``
    (oldest first) gets ``score = (score + 5) * 5 + j / 100``. ``pop_boost > 0`` adds
    ``pop_boost * (neighbours containing i) / (max over items)`` to every scored item.

    Parameters
    ----------
    k : int, default=100
        Number of neighbours.
    sample_size : int, default=1000
        Candidates kept before choosing neighbours (0 = all).
    sampling : {"recent", "random"}, default="recent"
    similarity : {"jaccard", "cosine", "binary", "tanimoto"}, default="jaccard"
    remind : bool, default=False
    pop_boost : float, default=0
    reference_code : bool, default=False
        Reproduce session-rec's code where it differs from the paper (see Deviations).
    random_state : int or None, default=None
        Seed of ``sampling="random"``.

    Attributes
    ----------
    n_items_ : int
    index_ : sessrec_baselines._knn_core.TrainIndex
        The training sessions in sampling order and the truncated item -> session lists.
    default_time_ : float
        Latest training time, used as the time of prefixes that carry no times.

    References
    ----------
    Jannach & Ludewig, "When recurrent neural networks meet the neighborhood for session-based
    recommendation", RecSys 2017 (SKNN); Ludewig & Jannach, "Evaluation of session-based
    recommendation algorithms", UMUAI 2018. Reference implementation checked: rn5l/session-rec
    ``algorithms/knn/sknn.py`` (class ``ContextKNN``).

    Deviations from that implementation (besides the module-level ones):

    * ``cosine``: session-rec computes ``a / sqrt(|n|) * sqrt(|s|)`` (multiplies by the square
      root of the prefix size instead of dividing); the default divides as cosine similarity
      does, ``reference_code=True`` multiplies. Within one prefix the two differ by the constant
      factor ``|s|``, so neighbours and rankings are the same unless ``remind`` or
      ``pop_boost`` add their (unscaled) terms;
    * items never seen in training: session-rec's SKNN fails on such a prefix item (its
      session lookup returns ``None``); here they simply share no candidate;
    * ``pop_boost`` with ``remind``: session-rec fails (a reminder item outside every neighbour
      has no popularity); here its popularity is 0;
    * default ``k=100`` (session-rec requires ``k``; 100 is its documented default).
    """

    paramfile_name = "sknn"
    parameter_constraints: ClassVar[dict[str, list[Any]]] = {
        **_SessionKNN.parameter_constraints,
        "similarity": [Options(str, {"jaccard", "cosine", "binary", "tanimoto"})],
        "remind": [bool],
        "pop_boost": [Interval(float, 0, None)],
    }
    test_params: ClassVar[dict[str, Any]] = {"k": 20, "sample_size": 200}

    def __init__(
        self,
        k: int = 100,
        sample_size: int = 1000,
        sampling: str = "recent",
        similarity: str = "jaccard",
        remind: bool = False,
        pop_boost: float = 0,
        reference_code: bool = False,
        random_state: int | None = None,
    ) -> None:
        self.k = k
        self.sample_size = sample_size
        self.sampling = sampling
        self.similarity = similarity
        self.remind = remind
        self.pop_boost = pop_boost
        self.reference_code = reference_code
        self.random_state = random_state

    def _check_params(self) -> None:
        super()._check_params()
        if self.similarity not in ("jaccard", "cosine", "binary", "tanimoto"):
            raise ValueError(
                f"{type(self).__name__}: similarity must be one of jaccard, cosine, binary, tanimoto; "
                f"got {self.similarity!r}"
            )

    def _similarity(self, pre: core.Prefixes, cand: core.Candidates) -> np.ndarray:
        a = cand.dot
        ls = np.bincount(pre.row, minlength=pre.n_rows).astype(np.float64)[cand.row]
        ln = self.index_.n_distinct[cand.rank]
        if self.similarity in ("jaccard", "tanimoto"):
            return a / (ls + ln - a)
        if self.similarity == "binary":
            return (2 * a) / ((2 * a) + ln + ls)
        if self.reference_code:
            return a / np.sqrt(ln) * np.sqrt(ls)
        return a / (np.sqrt(ln) * np.sqrt(ls))

    def _postprocess(self, pre: core.Prefixes, scores: np.ndarray, row: np.ndarray, ex: core.Expanded) -> np.ndarray:
        reminded = self._remind(pre, scores) if self.remind else None
        if self.pop_boost:
            # popularity counts every neighbour; it is added to the items that have a score
            # (kept neighbour items and reminders), as session-rec adds it to its score dict
            pop = core.accumulate(row, ex.item, np.ones(len(row)), pre.n_rows, self.n_items_)
            top = pop.max(axis=1, keepdims=True)
            pop = pop / np.where(top > 0, top, 1.0)
            k_row, k_item = _kept_terms(self._keep_items(pre, row, ex), row, ex.item)
            scored = core.accumulate(k_row, k_item, np.ones(len(k_row)), pre.n_rows, self.n_items_) > 0
            if reminded is not None:
                scored |= reminded
            scores += np.where(scored, self.pop_boost * pop, 0.0)
        return scores

    def _rewrites_scores(self) -> bool:
        return bool(self.remind or self.pop_boost)

    def _neighbour_values(self, pre: core.Prefixes, nbrs: core.Neighbours) -> np.ndarray | None:
        return nbrs.weight

    def _item_values(self, pre: core.Prefixes, nbrs: core.Neighbours, ex: core.Expanded) -> np.ndarray:
        return self._neighbour_values(pre, nbrs)[ex.nb]

    def _written(self, pre: core.Prefixes, row: np.ndarray, item: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The scored neighbour items, plus the reminded last three clicks (``pop_boost`` only adds to those)."""
        if not self.remind:
            return row, item
        ok = pre.tail >= 0
        tail_row = np.broadcast_to(np.arange(pre.n_rows)[:, None], pre.tail.shape)[ok]
        return np.concatenate([row, tail_row]), np.concatenate([item, pre.tail[ok]])

    def _remind(self, pre: core.Prefixes, scores: np.ndarray) -> np.ndarray:
        """Boost the last three clicks in place; returns the mask of boosted items."""
        reminded = np.zeros_like(scores, dtype=bool)
        pads = (pre.tail < 0).sum(axis=1)
        rows = np.arange(pre.n_rows)
        for j in range(pre.tail.shape[1]):  # three reminder slots, not a loop over events
            ok = pre.tail[:, j] >= 0
            r, it = rows[ok], pre.tail[ok, j]
            cnt = (j - pads[ok] + 1).astype(np.float64)
            scores[r, it] = (scores[r, it] + 5.0) * 5.0 + cnt / 100.0
            reminded[r, it] = True
        return reminded


class SSKNN(SKNN):
    """Sequence-aware SKNN (S-SKNN): SKNN whose neighbours count less when they match only older clicks.

    ``score(i) = sum over neighbours n containing i of sim(s, n) * w(step(n))`` where
    ``step(n)`` is the distance of the most recent click of the prefix whose item is in ``n``
    from the end of the prefix (1 = the last click) and ``w`` is ``weighting``: ``same`` 1,
    ``div`` ``1/step``, ``quadratic`` ``1/step^2``, ``log`` ``1/log10(step + 1.7)``, ``linear``
    ``max(0, 1 - 0.1 step)``. Other parameters as :class:`SKNN`.

    Parameters
    ----------
    weighting : {"div", "same", "quadratic", "log", "linear"}, default="div"
        Other parameters: see :class:`SKNN`.

    References
    ----------
    Ludewig & Jannach, "Evaluation of session-based recommendation algorithms", UMUAI 2018
    (S-SKNN). Reference implementation checked: rn5l/session-rec
    ``backup/algorithms/aware_backup/knn_aware/scknn.py`` (class ``SeqContextKNN``).

    Deviations from that implementation: those of :class:`SKNN`, and ``linear``: session-rec
    uses ``1 - 0.1 step`` up to ``step = 100``, which is negative for ``10 < step <= 100``
    (a neighbour matching only old clicks lowers its items' scores); the default clips at 0,
    ``reference_code=True`` keeps the negative values.
    """

    paramfile_name = "ssknn"
    parameter_constraints: ClassVar[dict[str, list[Any]]] = {
        **SKNN.parameter_constraints,
        "weighting": [Options(str, {"same", "div", "linear", "quadratic", "log"})],
    }

    def __init__(
        self,
        k: int = 100,
        sample_size: int = 1000,
        sampling: str = "recent",
        similarity: str = "jaccard",
        weighting: str = "div",
        remind: bool = False,
        pop_boost: float = 0,
        reference_code: bool = False,
        random_state: int | None = None,
    ) -> None:
        super().__init__(
            k=k,
            sample_size=sample_size,
            sampling=sampling,
            similarity=similarity,
            remind=remind,
            pop_boost=pop_boost,
            reference_code=reference_code,
            random_state=random_state,
        )
        self.weighting = weighting

    def _check_params(self) -> None:
        super()._check_params()
        score_decay(self.weighting, np.ones(1), bool(self.reference_code))

    def _neighbour_values(self, pre: core.Prefixes, nbrs: core.Neighbours) -> np.ndarray | None:
        return nbrs.weight * score_decay(self.weighting, nbrs.step, bool(self.reference_code))


class SFSKNN(SKNN):
    """Sequence-filtered SKNN (SF-SKNN): SKNN scores only for items that followed the last click in training.

    An item ``i`` keeps its SKNN score only when some training session clicks ``i`` right after
    the prefix's last item; every other item scores 0 (reminders, when on, are added after
    the filter, as in session-rec). Parameters as :class:`SKNN`.

    Attributes
    ----------
    successors_ : scipy.sparse.csr_matrix of shape (n_items, n_items)
        ``[i, j] = 1`` when ``j`` directly follows ``i`` in a training session.

    References
    ----------
    Ludewig & Jannach, "Evaluation of session-based recommendation algorithms", UMUAI 2018
    (SF-SKNN). Reference implementation checked: rn5l/session-rec
    ``backup/algorithms/aware_backup/knn_aware/sfcknn.py`` (class ``SeqFilterContextKNN``).

    Deviations from that implementation: those of :class:`SKNN`.
    """

    paramfile_name = "sfsknn"
    tags: ClassVar[dict[str, Any]] = KnnTags("sequence")  # type: ignore[assignment]
    filters_items = True

    def _fit_extra(self, train: Sessions) -> None:
        self.successors_ = core.successor_sets(train)

    def _keep_items(self, pre: core.Prefixes, row: np.ndarray, ex: core.Expanded) -> np.ndarray:
        """Only items that directly followed the prefix's last click in a training session."""
        lasts, local = np.unique(pre.last_item, return_inverse=True)
        succ = self.successors_[lasts]  # the successor lists of this chunk's last items (sorted indices)
        pair_row = np.repeat(np.arange(len(lasts)), np.diff(succ.indptr))
        return core.pairs_contain(pair_row, succ.indices, len(lasts), local[row], ex.item, self.n_items_)

    def _item_terms(self, pre: core.Prefixes, nbrs: core.Neighbours) -> kernel.ItemTerms:
        return kernel.ItemTerms(self._neighbour_values(pre, nbrs), successors=self.successors_)


# ---------------------------------------------------------------------- V-SKNN
class VSKNN(_SessionKNN):
    """Vector-multiplication SKNN (V-SKNN): position-weighted prefix, score decay and idf.

    The prefix is a vector with weight ``w(p, L)`` on the item clicked at position ``p`` of
    ``L`` clicks (``weighting``: ``same`` 1, ``div`` ``p/L``, ``quadratic`` ``(p/L)^2``, ``log``
    ``1/log10(L - p + 1.7)``, ``linear`` ``max(0, 1 - 0.1 (L - p))``). Similarity to a
    training session ``n`` (binary vector), with ``dot = sum of w over the items of s & n``:

    * ``vec``: ``dot / |s|`` (``|s|`` distinct items of the prefix);
    * ``cosine``: ``dot / (sqrt(sum w^2) sqrt(|n|))``.

    Neighbours: the ``k`` of largest positive similarity. ``score(i) = sum over neighbours n
    containing i of sim(s, n) (1 + idf_weighting idf(i)) d(step(n))`` with ``d``
    (``weighting_score``) as S-SKNN's decay and ``idf(i) = log(n_sessions / df(i))``; no idf
    factor when ``idf_weighting`` is false. ``remind=False`` gives the prefix's own items
    score 0.

    Parameters
    ----------
    k : int, default=100
    sample_size : int, default=1000
    sampling : {"recent", "random"}, default="recent"
    similarity : {"vec", "cosine"}, default="vec"
    weighting : {"div", "same", "quadratic", "log", "linear"}, default="div"
    weighting_score : {"div", "same", "quadratic", "log", "linear"}, default="div"
    idf_weighting : float or False, default=False
    remind : bool, default=True
    reference_code : bool, default=False
    random_state : int or None, default=None

    References
    ----------
    Ludewig & Jannach, "Evaluation of session-based recommendation algorithms", UMUAI 2018
    (V-SKNN); Ludewig, Latifi & Jannach, "Empirical analysis of session-based recommendation
    algorithms", UMUAI 2021 (idf weighting). Reference implementation checked: rn5l/session-rec
    ``algorithms/knn/vsknn.py`` (class ``VMContextKNN``).

    Deviations from that implementation (besides the module-level ones):

    * ``linear`` position weight: session-rec computes ``1 - 0.1 (L - p)`` only for ``p <= 10``
      (positions counted from the *start*) and 0 after, so in prefixes longer than 10 clicks
      the most recent clicks weigh 0 and the oldest negative; the default uses
      ``max(0, 1 - 0.1 (L - p))`` (the last ten clicks, decaying), ``reference_code=True`` the code;
    * ``linear`` score decay: negative for ``10 < step <= 100`` in the code (see S-SKNN);
    * idf: session-rec counts an item's *clicks* as its document frequency; the default counts
      the sessions that contain it (the usual inverse *document* frequency, a session being the
      document); ``reference_code=True`` counts clicks;
    * session-rec accepts only ``vec`` and ``cosine`` here (its other similarity methods take
      two arguments and fail when called with the position map); so do we, with a clear error;
    * session-rec divides the final scores by their maximum (``normalize``); when the code's
      negative ``linear`` weights leave no positive score, that maximum is 0 and the division
      gives NaN and -inf. Scores are not normalised here (in either mode).
    """

    paramfile_name = "vsknn"
    parameter_constraints: ClassVar[dict[str, list[Any]]] = {
        **_SessionKNN.parameter_constraints,
        "similarity": [Options(str, {"vec", "cosine"})],
        "weighting": [Options(str, {"same", "div", "linear", "quadratic", "log"})],
        "weighting_score": [Options(str, {"same", "div", "linear", "quadratic", "log"})],
        "idf_weighting": [Interval(float, 0, None), bool],
        "remind": [bool],
    }
    test_params: ClassVar[dict[str, Any]] = {"k": 20, "sample_size": 200}

    def __init__(
        self,
        k: int = 100,
        sample_size: int = 1000,
        sampling: str = "recent",
        similarity: str = "vec",
        weighting: str = "div",
        weighting_score: str = "div",
        idf_weighting: float | bool = False,
        remind: bool = True,
        reference_code: bool = False,
        random_state: int | None = None,
    ) -> None:
        self.k = k
        self.sample_size = sample_size
        self.sampling = sampling
        self.similarity = similarity
        self.weighting = weighting
        self.weighting_score = weighting_score
        self.idf_weighting = idf_weighting
        self.remind = remind
        self.reference_code = reference_code
        self.random_state = random_state

    def _check_params(self) -> None:
        super()._check_params()
        if self.similarity not in ("vec", "cosine"):
            raise ValueError(f"VSKNN: similarity must be 'vec' or 'cosine', got {self.similarity!r}")
        position_weight(self.weighting, np.ones(1), np.ones(1), bool(self.reference_code))
        score_decay(self.weighting_score, np.ones(1), bool(self.reference_code))

    def _fit_extra(self, train: Sessions) -> None:
        self.idf_ = inverse_document_frequency(train, bool(self.reference_code))

    def _prefix_weights(self, pre: core.Prefixes) -> np.ndarray:
        return position_weight(self.weighting, pre.pos, pre.length[pre.row], bool(self.reference_code))

    def _similarity(self, pre: core.Prefixes, cand: core.Candidates) -> np.ndarray:
        if self.similarity == "vec":
            return cand.dot / np.bincount(pre.row, minlength=pre.n_rows)[cand.row]
        return self._cosine(pre, cand, self._prefix_weights(pre))

    def _item_values(self, pre: core.Prefixes, nbrs: core.Neighbours, ex: core.Expanded) -> np.ndarray:
        value = nbrs.weight[ex.nb]
        if self.idf_weighting:
            value = value + (value * self.idf_[ex.item] * float(self.idf_weighting))
        decay = score_decay(self.weighting_score, nbrs.step, bool(self.reference_code))
        return value * decay[ex.nb]

    def _keep_items(self, pre: core.Prefixes, row: np.ndarray, ex: core.Expanded) -> np.ndarray | None:
        return self._drop_current_items(pre, row, ex)

    def _item_terms(self, pre: core.Prefixes, nbrs: core.Neighbours) -> kernel.ItemTerms:
        return kernel.ItemTerms(
            nbrs.weight,
            idf=self.idf_ if self.idf_weighting else None,
            idf_scale=float(self.idf_weighting),
            post=score_decay(self.weighting_score, nbrs.step, bool(self.reference_code)),
            drop_current=not self.remind,
        )


# ---------------------------------------------------------------------- STAN
class STAN(_SessionKNN):
    """Sequence and Time Aware Neighbourhood (STAN).

    With ``L`` the prefix length, ``p(i)`` the position of item ``i``'s last click in the prefix
    and ``t`` the time of the prefix's last click:

    * prefix weights ``w1(i) = exp((p(i) - L) / lambda_spw)``; similarity to a training session
      ``n``: ``sum_{i in s & n} w1(i) / (sqrt(sum_{i in s} w1(i)^2) sqrt(|n|))`` (cosine of the
      weighted prefix and the binary neighbour; plain cosine when ``lambda_spw`` is None);
    * session recency: ``sim *= exp(-(t - t_n) / (lambda_snh days))`` with ``t_n`` the last click
      of ``n``;
    * the ``k`` most similar candidates are the neighbours (zero similarities included);
    * ``score(i) = sum over neighbours n containing i of sim(s, n) exp(-|q_n(i) - q_n(i*)| /
      lambda_inh)`` with ``q_n`` the position of an item's last click in ``n`` and ``i*`` the
      most recent item of the prefix that ``n`` contains (no factor when ``lambda_inh`` is None);
    * ``remind=False`` gives the prefix's own items score 0.

    A lambda set to None (or 0) switches its factor off.

    Parameters
    ----------
    k : int, default=100
    sample_size : int, default=5000
    sampling : {"recent", "random"}, default="recent"
    remind : bool, default=True
    lambda_spw : float or None, default=1.02
        Session position weight, in clicks.
    lambda_snh : float or None, default=5
        Session recency, in days.
    lambda_inh : float or None, default=2.05
        Item position in the neighbour, in clicks.
    reference_code : bool, default=False
    random_state : int or None, default=None

    References
    ----------
    Garg, Gupta, Malhotra, Vig & Shroff, "Sequence and time aware neighborhood for session-based
    recommendations: STAN", SIGIR 2019. Reference implementation checked: rn5l/session-rec
    ``algorithms/knn/stan.py`` (class ``STAN``).

    Deviations from that implementation (besides the module-level ones):

    * ``i*``: the paper takes the most recent item of the current session that the neighbour
      contains and the position of that item in the neighbour; session-rec takes the last
      position in the neighbour of *any* item of the current session. Default: the paper;
      ``reference_code=True``: the code;
    * time of the current session: session-rec's evaluation passes the time of the *target*
      click (the one being predicted); here the time of the prefix's last click is used, and
      the prefix carries it (``PrefixBatch.timestamps``). Both multiply every neighbour of a
      prefix by the same factor, so neighbours and rankings are identical;
    * prefixes without times (``PrefixBatch.timestamps is None``) are taken to happen at the
      latest training time.
    """

    paramfile_name = "stan"
    positive_only = False
    parameter_constraints: ClassVar[dict[str, list[Any]]] = {
        **_SessionKNN.parameter_constraints,
        "remind": [bool],
        "lambda_spw": [Interval(float, 0, None), None],
        "lambda_snh": [Interval(float, 0, None), None],
        "lambda_inh": [Interval(float, 0, None), None],
    }
    test_params: ClassVar[dict[str, Any]] = {"k": 20, "sample_size": 200}

    def __init__(
        self,
        k: int = 100,
        sample_size: int = 5000,
        sampling: str = "recent",
        remind: bool = True,
        lambda_spw: float | None = 1.02,
        lambda_snh: float | None = 5,
        lambda_inh: float | None = 2.05,
        reference_code: bool = False,
        random_state: int | None = None,
    ) -> None:
        self.k = k
        self.sample_size = sample_size
        self.sampling = sampling
        self.remind = remind
        self.lambda_spw = lambda_spw
        self.lambda_snh = lambda_snh
        self.lambda_inh = lambda_inh
        self.reference_code = reference_code
        self.random_state = random_state

    def _prefix_weights(self, pre: core.Prefixes) -> np.ndarray:
        if not self.lambda_spw:
            return np.ones(len(pre.row))
        return np.exp((pre.pos - pre.length[pre.row]) / float(self.lambda_spw))

    def _similarity(self, pre: core.Prefixes, cand: core.Candidates) -> np.ndarray:
        sim = self._cosine(pre, cand, self._prefix_weights(pre))
        if self.lambda_snh:
            diff = pre.time[cand.row] - self.index_.last_time[cand.rank]
            sim = sim * np.exp(-diff / (float(self.lambda_snh) * SECONDS_PER_DAY))
        return sim

    def _anchor_positions(self, pre: core.Prefixes, nbrs: core.Neighbours, ex: core.Expanded) -> np.ndarray:
        """Position in every neighbour of its anchor item ``i*`` (paper) or of its last shared click (code)."""
        if self.reference_code:
            shared = np.flatnonzero(core.in_prefix(pre, nbrs.row[ex.nb], ex.item, self.n_items_))
            anchor = np.zeros(len(nbrs.row), dtype=np.int64)
            if len(shared):  # the shared items of a neighbour are consecutive: a maximum per run
                nb = ex.nb[shared]
                first = np.flatnonzero(np.concatenate([[True], nb[1:] != nb[:-1]]))
                anchor[nb[first]] = np.maximum.reduceat(ex.pos[shared], first)
            return anchor
        # the prefix item whose last click is ``step`` from the end: position L - step + 1
        want = pre.length[nbrs.row] - nbrs.step + 1
        n = np.int64(max(int(pre.length.max()) + 1, 1))
        keys = pre.row * n + pre.pos
        order = np.argsort(keys, kind="stable")
        at = np.searchsorted(keys[order], nbrs.row * n + want)
        star = pre.item[order[at]]
        hit = ex.item == star[ex.nb]
        anchor = np.zeros(len(nbrs.row), dtype=np.int64)
        anchor[ex.nb[hit]] = ex.pos[hit]
        return anchor

    def _item_values(self, pre: core.Prefixes, nbrs: core.Neighbours, ex: core.Expanded) -> np.ndarray:
        value = nbrs.weight[ex.nb]
        if self.lambda_inh and len(value):
            distance = np.abs(ex.pos - self._anchor_positions(pre, nbrs, ex)[ex.nb])
            value = value * self._item_decay()[distance]
        return value

    def _item_decay(self) -> np.ndarray:
        """``exp(-d / lambda_inh)`` of every possible distance ``d`` in a neighbour (computed once, then looked up)."""
        longest = int(self.index_.positions.data.max()) if self.index_.positions.nnz else 0
        return np.exp(-np.arange(longest + 1) / float(self.lambda_inh))

    def _keep_items(self, pre: core.Prefixes, row: np.ndarray, ex: core.Expanded) -> np.ndarray | None:
        return self._drop_current_items(pre, row, ex)

    def _item_terms(self, pre: core.Prefixes, nbrs: core.Neighbours) -> kernel.ItemTerms:
        if not self.lambda_inh:
            return kernel.ItemTerms(nbrs.weight, drop_current=not self.remind)
        rule = kernel.ANCHOR_CODE if self.reference_code else kernel.ANCHOR_PAPER
        return kernel.ItemTerms(nbrs.weight, anchor=rule, decay=self._item_decay(), drop_current=not self.remind)


class VSTAN(STAN):
    """V-STAN: STAN with V-SKNN's idf weighting and a decay by the prefix position of the match.

    As :class:`STAN`, and every neighbour's contribution to item ``i`` is further multiplied by
    ``(1 + lambda_idf idf(i))`` (idf as in :class:`VSKNN`; off when ``lambda_idf`` is None/False)
    and by ``exp((p* - L) / lambda_ipw)`` with ``p*`` the prefix position of the most recent
    click whose item the neighbour contains (off when ``lambda_ipw`` is None). ``similarity``:
    ``cosine`` (STAN's) or ``vec`` (``dot / |s|``, V-SKNN's).

    Parameters
    ----------
    similarity : {"cosine", "vec"}, default="cosine"
    lambda_ipw : float or None, default=1.02
    lambda_idf : float, None or False, default=5
        Other parameters: see :class:`STAN`; defaults ``sample_size=5000``.

    References
    ----------
    Ludewig, Latifi & Jannach, "Empirical analysis of session-based recommendation
    algorithms", UMUAI 2021 (V-STAN). Reference implementation checked: rn5l/session-rec
    ``algorithms/knn/vstan.py`` (class ``VSKNN_STAN``).

    Deviations from that implementation: those of :class:`STAN`; idf counts sessions by default
    (clicks with ``reference_code=True``, see :class:`VSKNN`); ``similarity``: session-rec
    ignores the parameter and always uses cosine (so its published V-STAN runs with
    ``similarity: vec``, e.g. RetailRocket's tuned set, used cosine); the default honours it,
    ``reference_code=True`` ignores it.
    """

    paramfile_name = "vstan"
    parameter_constraints: ClassVar[dict[str, list[Any]]] = {
        **STAN.parameter_constraints,
        "similarity": [Options(str, {"cosine", "vec"})],
        "lambda_ipw": [Interval(float, 0, None), None],
        "lambda_idf": [Interval(float, 0, None), bool, None],
    }

    def __init__(
        self,
        k: int = 100,
        sample_size: int = 5000,
        sampling: str = "recent",
        remind: bool = True,
        similarity: str = "cosine",
        lambda_spw: float | None = 1.02,
        lambda_snh: float | None = 5,
        lambda_inh: float | None = 2.05,
        lambda_ipw: float | None = 1.02,
        lambda_idf: float | bool | None = 5,
        reference_code: bool = False,
        random_state: int | None = None,
    ) -> None:
        super().__init__(
            k=k,
            sample_size=sample_size,
            sampling=sampling,
            remind=remind,
            lambda_spw=lambda_spw,
            lambda_snh=lambda_snh,
            lambda_inh=lambda_inh,
            reference_code=reference_code,
            random_state=random_state,
        )
        self.similarity = similarity
        self.lambda_ipw = lambda_ipw
        self.lambda_idf = lambda_idf

    def _check_params(self) -> None:
        super()._check_params()
        if self.similarity not in ("cosine", "vec"):
            raise ValueError(f"VSTAN: similarity must be 'cosine' or 'vec', got {self.similarity!r}")

    def _fit_extra(self, train: Sessions) -> None:
        self.idf_ = inverse_document_frequency(train, bool(self.reference_code))

    def _similarity(self, pre: core.Prefixes, cand: core.Candidates) -> np.ndarray:
        if self.similarity == "vec" and not self.reference_code:
            sim = cand.dot / np.bincount(pre.row, minlength=pre.n_rows)[cand.row]
            if self.lambda_snh:
                diff = pre.time[cand.row] - self.index_.last_time[cand.rank]
                sim = sim * np.exp(-diff / (float(self.lambda_snh) * SECONDS_PER_DAY))
            return sim
        return super()._similarity(pre, cand)

    def _item_values(self, pre: core.Prefixes, nbrs: core.Neighbours, ex: core.Expanded) -> np.ndarray:
        value = super()._item_values(pre, nbrs, ex)
        if self.lambda_idf:
            value = value + (value * self.idf_[ex.item] * float(self.lambda_idf))
        if self.lambda_ipw:
            value = value * self._match_decay(nbrs)[ex.nb]
        return value

    def _match_decay(self, nbrs: core.Neighbours) -> np.ndarray:
        """``exp((p* - L) / lambda_ipw)`` of every neighbour (``p* - L = 1 - step``)."""
        return np.exp((1 - nbrs.step) / float(self.lambda_ipw))

    def _item_terms(self, pre: core.Prefixes, nbrs: core.Neighbours) -> kernel.ItemTerms:
        terms = super()._item_terms(pre, nbrs)
        if self.lambda_idf:
            terms.idf, terms.idf_scale = self.idf_, float(self.lambda_idf)
        if self.lambda_ipw:
            terms.post = self._match_decay(nbrs)
        return terms
