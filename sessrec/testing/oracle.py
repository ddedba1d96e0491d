"""Synthetic oracle data: small logs whose best prediction is known exactly.

Three patterns, one per kind of learner (a model's ``tags["oracle"]`` names the one it must
learn in the conformance suite):

``sequence``
    Sessions walk a hidden successor permutation: after item ``i`` always comes
    ``succ[i]``. The ideal ranking puts ``succ[last]`` first (Recall@1 = 1); popularity
    alone is at chance level because every item is equally frequent.
``session``
    Items form disjoint groups; a session clicks items of one group in random order.
    Co-occurrence reaches Recall@group_size = 1; popularity is at chance level.
``popularity``
    Clicks are drawn i.i.d. from a Zipf distribution; ranking by training popularity beats
    chance by a wide margin.

Every function returns ``(train, test)`` :class:`~sessrec.Sessions` over the same catalogue,
generated from ``seed`` with a local generator.
"""

from __future__ import annotations

import numpy as np

from sessrec.data.sessions import Sessions

__all__ = ["ORACLES", "chance_recall", "oracle_data", "popularity_oracle", "sequence_oracle", "session_oracle"]


def _sessions(seqs: list[np.ndarray], n_items: int) -> Sessions:
    return Sessions.from_lists([s.tolist() for s in seqs], n_items=n_items)


def _split(seqs: list[np.ndarray], n_items: int, test_fraction: float) -> tuple[Sessions, Sessions]:
    n_test = max(1, round(len(seqs) * test_fraction))
    return _sessions(seqs[:-n_test], n_items), _sessions(seqs[-n_test:], n_items)


def sequence_oracle(
    n_items: int = 30, n_sessions: int = 400, seed: int = 0, test_fraction: float = 0.2
) -> tuple[Sessions, Sessions]:
    """Walks along one random successor permutation (a single cycle over all items)."""
    rng = np.random.default_rng(seed)
    order = rng.permutation(n_items)
    succ = np.empty(n_items, dtype=np.int64)
    succ[order] = np.roll(order, -1)
    seqs = []
    for _ in range(n_sessions):
        length = int(rng.integers(2, 9))
        walk = [int(rng.integers(n_items))]
        for _ in range(length - 1):
            walk.append(int(succ[walk[-1]]))
        seqs.append(np.array(walk))
    return _split(seqs, n_items, test_fraction)


def session_oracle(
    n_items: int = 30, group_size: int = 5, n_sessions: int = 400, seed: int = 0, test_fraction: float = 0.2
) -> tuple[Sessions, Sessions]:
    """Sessions of 2..group_size distinct items from one random group, in random order."""
    rng = np.random.default_rng(seed)
    groups = rng.permutation(n_items)[: n_items - n_items % group_size].reshape(-1, group_size)
    seqs = []
    for _ in range(n_sessions):
        g = groups[rng.integers(len(groups))]
        length = int(rng.integers(2, group_size + 1))
        seqs.append(rng.permutation(g)[:length])
    return _split(seqs, n_items, test_fraction)


def popularity_oracle(
    n_items: int = 30, exponent: float = 1.2, n_sessions: int = 400, seed: int = 0, test_fraction: float = 0.2
) -> tuple[Sessions, Sessions]:
    """Clicks i.i.d. from a Zipf law over a random permutation of the items."""
    rng = np.random.default_rng(seed)
    weights = 1.0 / np.arange(1, n_items + 1) ** exponent
    probs = np.empty(n_items)
    probs[rng.permutation(n_items)] = weights / weights.sum()
    seqs = [rng.choice(n_items, size=int(rng.integers(2, 9)), p=probs) for _ in range(n_sessions)]
    return _split(seqs, n_items, test_fraction)


ORACLES = {"sequence": sequence_oracle, "session": session_oracle, "popularity": popularity_oracle}


def oracle_data(kind: str, seed: int = 0) -> tuple[Sessions, Sessions]:
    """The oracle log named ``kind`` (one of :data:`ORACLES`)."""
    if kind not in ORACLES:
        raise ValueError(f"unknown oracle {kind!r}; choose one of {', '.join(ORACLES)}")
    return ORACLES[kind](seed=seed)


def chance_recall(test: Sessions, k: int) -> float:
    """Recall@k of a uniformly random full ranking: ``k / n_items``."""
    return min(1.0, k / test.n_items)
