"""The synthetic recipe: deterministic, DIGINETICA-like lengths, and sequential structure.

The structure check is a brute-force numpy comparison: a first-order transition count table
(learned from train) must beat global popularity by a wide margin on the test cases.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from sessrec.data import prepare
from sessrec.data.recipes.synthetic import Synthetic, generate_synthetic


def test_deterministic_from_seed():
    a = generate_synthetic(seed=3, n_sessions=500, n_items=100)
    b = generate_synthetic(seed=3, n_sessions=500, n_items=100)
    c = generate_synthetic(seed=4, n_sessions=500, n_items=100)
    pd.testing.assert_frame_equal(a, b)
    assert not a["item_id"].equals(c["item_id"])


def test_shape_of_the_data():
    ev = generate_synthetic(seed=0, n_sessions=5000, n_items=1000)
    lengths = ev.groupby("session_id").size()
    assert lengths.min() == 2 and 4.5 < lengths.mean() < 5.5 and lengths.max() > 20
    # Zipf-like popularity: the top 10% of items take a large share of the clicks
    counts = np.sort(ev["item_id"].value_counts().to_numpy())[::-1]
    assert counts[: len(counts) // 10].sum() > 0.4 * counts.sum()
    # time-ordered sessions; date is the session's last click
    assert (ev.groupby("session_id")["time"].apply(lambda t: t.is_monotonic_increasing)).all()
    assert (ev.groupby("session_id")["date"].nunique() == 1).all()
    assert "SYNTHETIC" in Synthetic.description and Synthetic.synthetic


def test_order_aware_signal_beats_popularity():
    ds = prepare("synthetic", cache=False)
    s = ds.stats
    assert s["train_sessions"] > 5000 and s["test_sessions"] > 500 and 800 < s["n_items"] <= 1500
    n = ds.n_items
    trans = np.zeros((n, n))
    for seq in ds.train:
        np.add.at(trans, (seq[:-1], seq[1:]), 1.0)
    pop = ds.train.item_counts().astype(float)
    last = np.concatenate([seq[:-1] for seq in ds.test])
    target = ds.test.case_targets()

    def recall20(scores):
        # conservative rank: number of items scoring >= the target
        tgt = scores[np.arange(len(target)), target]
        return float(((scores >= tgt[:, None]).sum(1) <= 20).mean())

    markov = trans[last] + 1e-6 * pop[None, :]  # ties broken by popularity
    r_markov, r_pop = recall20(markov), recall20(np.broadcast_to(pop, (len(target), n)))
    assert r_markov > 0.5 and r_markov > 2 * r_pop  # measured: 0.78 vs 0.32 (seed 0)
