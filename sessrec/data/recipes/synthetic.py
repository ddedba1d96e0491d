"""SYNTHETIC sessions, generated deterministically from a seed — not real data.

The generative story (every step vectorised, so a million clicks take about a second)::

    items      Zipf-like popularity p_i ∝ (rank_i + 1) ** -zipf_exponent, ids shuffled
    intents    K latent intents of items_per_intent members each: every item is a member of
               one intent, the extra slots go to items drawn ∝ sqrt(p_i) (popular items belong
               to several); each intent has a sparse Markov chain: every member has n_next
               successors, drawn ∝ sqrt(p_i) among the members, taken with probabilities ∝ 2^-r
    session    intent z ~ mild Zipf over intents; length = 2 + floor(LogNormal) (mean ≈ 5,
               long tail, min 2, like DIGINETICA); first click a random member of z; then
               each step moves along z's chain; with probability noise the emitted click is
               instead a random item drawn ∝ p_i (the chain state still moves)
    time       session starts uniform over n_days from 2016-01-01 UTC; clicks ~ Exp(60 s) apart

Order-aware models (Markov, GRU4Rec, NARM) can learn the chains and the intent from the
prefix; popularity alone cannot. ``date`` (the ``narm`` session date) is the session's last
click time; the default split is the last 3 of 30 days.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from sessrec.data.recipes.base import DatasetRecipe
from sessrec.errors import ConfigError

__all__ = ["Synthetic", "generate_synthetic"]

_EPOCH_2016 = 1451606400.0  # 2016-01-01T00:00:00Z
_VERSION = 1  # bump when the generator changes, so caches of older output are not reused


class Synthetic(DatasetRecipe):
    """SYNTHETIC session data with learnable sequential structure (see the module docstring).

    Parameters
    ----------
    root : str or Path, optional
        Data root (only the cache lives there).
    path : None
        Accepted for uniformity; a synthetic dataset has no raw file.
    seed : int
        Everything is a function of ``seed`` and the size parameters.
    n_sessions, n_items : int
        Size. The default (8,000 sessions, 1,500 items, ≈ 40 k clicks) lets every baseline
        run in minutes on 2 CPU cores; 200,000 / 43,000 is DIGINETICA-sized (≈ 1 M clicks),
        1,600,000 / 30,000 YOOCHOOSE-1/4-sized (≈ 8 M clicks).
    n_intents : int, optional
        Latent intents; default ``max(4, ceil(1.5 * n_items / items_per_intent))``, so every
        item belongs to an intent and popular items to several.
    items_per_intent, n_next : int
        Members of an intent, successors per member in its chain.
    noise : float
        Probability that a click ignores the chain.
    mean_length : float
        Mean session length (≥ 2.5).
    n_days : float
        Time span of the sessions.
    zipf_exponent : float
        Item popularity exponent.
    """

    name = "synthetic"
    description = "SYNTHETIC data (generated from a seed, not real): Zipf items, Markov-chain intents"
    folder = "synthetic"
    raw_files = ()
    synthetic = True
    default_test_days: ClassVar[dict[str, float]] = {"narm": 3, "gru4rec": 3}

    def __init__(
        self,
        root: Any = None,
        *,
        path: Any = None,
        seed: int = 0,
        n_sessions: int = 8000,
        n_items: int = 1500,
        n_intents: int | None = None,
        items_per_intent: int = 30,
        n_next: int = 3,
        noise: float = 0.15,
        mean_length: float = 5.0,
        n_days: float = 30.0,
        zipf_exponent: float = 1.0,
    ) -> None:
        super().__init__(root, path=None)
        if path is not None:
            raise ConfigError("the synthetic dataset has no raw file; drop path=")
        self.seed = seed
        self.n_sessions = n_sessions
        self.n_items = n_items
        self.n_intents = n_intents
        self.items_per_intent = items_per_intent
        self.n_next = n_next
        self.noise = noise
        self.mean_length = mean_length
        self.n_days = n_days
        self.zipf_exponent = zipf_exponent

    def options(self) -> dict[str, Any]:
        return {
            "seed": int(self.seed),
            "n_sessions": int(self.n_sessions),
            "n_items": int(self.n_items),
            "n_intents": None if self.n_intents is None else int(self.n_intents),
            "items_per_intent": int(self.items_per_intent),
            "n_next": int(self.n_next),
            "noise": float(self.noise),
            "mean_length": float(self.mean_length),
            "n_days": float(self.n_days),
            "zipf_exponent": float(self.zipf_exponent),
        }

    def raw_paths(self) -> list[Path]:
        return []

    def is_present(self) -> bool:
        return True

    def require_files(self) -> None:
        return None

    def checksum(self) -> str:
        blob = json.dumps({"generator": _VERSION, **self.options()}, sort_keys=True)
        return hashlib.sha256(blob.encode()).hexdigest()

    def read_events(self) -> pd.DataFrame:
        return generate_synthetic(**self.options())


def generate_synthetic(
    *,
    seed: int = 0,
    n_sessions: int = 8000,
    n_items: int = 1500,
    n_intents: int | None = None,
    items_per_intent: int = 30,
    n_next: int = 3,
    noise: float = 0.15,
    mean_length: float = 5.0,
    n_days: float = 30.0,
    zipf_exponent: float = 1.0,
) -> pd.DataFrame:
    """The synthetic event table (``session_id, item_id, time, date``), sessions in start order.

    Examples
    --------
    >>> ev = generate_synthetic(seed=1, n_sessions=100, n_items=50)
    >>> int(ev.groupby("session_id").size().min())
    2
    """
    _check_options(n_sessions, n_items, items_per_intent, n_next, noise, mean_length, n_days)
    rng = np.random.default_rng(seed)
    m = int(items_per_intent)
    k = max(4, -(-3 * n_items // (2 * m))) if n_intents is None else int(n_intents)
    p_item = (np.arange(n_items) + 1.0) ** -zipf_exponent
    p_item /= p_item.sum()
    item_ids = rng.permutation(n_items).astype(np.int64) + 1  # popularity rank -> external id
    members, successors = _intents(rng, p_item, k, m, n_next)
    lengths, intent = _lengths_and_intents(rng, n_sessions, mean_length, k)
    items, offsets = _walk(rng, members, successors, lengths, intent, p_item, noise)
    return _event_table(rng, items, offsets, lengths, item_ids, n_days)


def _check_options(
    n_sessions: int, n_items: int, items_per_intent: int, n_next: int, noise: float, mean_length: float, n_days: float
) -> None:
    """Raise :class:`ConfigError` on sizes or rates the generator cannot use."""
    if n_sessions < 1 or n_items < 2 or items_per_intent < 2 or n_next < 1:
        raise ConfigError("synthetic needs n_sessions >= 1, n_items >= 2, items_per_intent >= 2, n_next >= 1")
    if not 0 <= noise <= 1 or not mean_length >= 2.5 or not n_days > 0:
        raise ConfigError("synthetic needs 0 <= noise <= 1, mean_length >= 2.5 and n_days > 0")


def _intents(
    rng: np.random.Generator, p_item: np.ndarray, k: int, m: int, n_next: int
) -> tuple[np.ndarray, np.ndarray]:
    """The intents' members ``(k, m)`` (item ranks) and each member's successors ``(k, m, n_next)`` (positions)."""
    n_items = len(p_item)
    # every item belongs to an intent (while slots last); the extra slots go to popular items
    slots = k * m
    p_flat = np.sqrt(p_item)
    p_flat /= p_flat.sum()
    extra = rng.choice(n_items, size=max(slots - n_items, 0), p=p_flat)
    members = rng.permutation(np.concatenate([rng.permutation(n_items), extra])[:slots]).reshape(k, m)
    # each member's successors are drawn ∝ popularity inside the intent (per-row inverse CDF)
    w = p_flat[members]  # flatter than p_i: a chain is not a popularity list
    cdf = np.cumsum(w / w.sum(axis=1, keepdims=True), axis=1)
    cdf[:, -1] = 1.0
    cdf += np.arange(k)[:, None]
    u = rng.random((k, m, n_next)) + np.arange(k)[:, None, None]
    successors = np.searchsorted(cdf.ravel(), u.ravel()).reshape(k, m, n_next) - (np.arange(k) * m)[:, None, None]
    return members, np.clip(successors, 0, m - 1)


def _lengths_and_intents(
    rng: np.random.Generator, n_sessions: int, mean_length: float, k: int
) -> tuple[np.ndarray, np.ndarray]:
    """Session lengths ``(n_sessions,)`` and intents ``(n_sessions,)`` (mild Zipf over the ``k`` intents)."""
    p_intent = (np.arange(k) + 1.0) ** -0.5
    p_intent /= p_intent.sum()
    # lengths: 2 + floor(LogNormal(mu, 1)), with E ≈ mean_length (floor costs ≈ 0.5)
    mu = np.log(max(mean_length - 1.5, 0.5)) - 0.5
    lengths = np.minimum(2 + np.floor(rng.lognormal(mu, 1.0, size=n_sessions)).astype(np.int64), 200)
    return lengths, rng.choice(k, size=n_sessions, p=p_intent)


def _walk(
    rng: np.random.Generator,
    members: np.ndarray,
    successors: np.ndarray,
    lengths: np.ndarray,
    intent: np.ndarray,
    p_item: np.ndarray,
    noise: float,
) -> tuple[np.ndarray, np.ndarray]:
    """Every session's clicks (item ranks, concatenated) and the session offsets ``(n_sessions + 1,)``."""
    n_sessions, n_items = len(lengths), len(p_item)
    n_next = successors.shape[2]
    next_probs = 0.5 ** np.arange(n_next)
    next_probs /= next_probs.sum()
    # walk all sessions in parallel, longest first, so the active ones are a prefix
    by_len = np.argsort(-lengths, kind="stable")
    z = intent[by_len]
    pos = rng.integers(0, members.shape[1], size=n_sessions)
    offsets = np.r_[0, np.cumsum(lengths)]
    items = np.empty(int(offsets[-1]), dtype=np.int64)
    out_start = offsets[:-1][by_len]
    counts = np.bincount(lengths, minlength=int(lengths.max()) + 1)
    active_after = n_sessions - np.cumsum(counts)  # sessions longer than t
    cdf = np.cumsum(p_item)
    for t in range(int(lengths.max())):
        n_act = n_sessions if t == 0 else int(active_after[t])
        if n_act == 0:
            break
        if t > 0:
            step = rng.choice(n_next, size=n_act, p=next_probs)
            pos[:n_act] = successors[z[:n_act], pos[:n_act], step]
        emitted = members[z[:n_act], pos[:n_act]]
        noisy = rng.random(n_act) < noise
        n_noisy = int(noisy.sum())
        if n_noisy:
            emitted[noisy] = np.minimum(np.searchsorted(cdf, rng.random(n_noisy)), n_items - 1)
        items[out_start[:n_act] + t] = emitted
    return items, offsets


def _event_table(
    rng: np.random.Generator,
    items: np.ndarray,
    offsets: np.ndarray,
    lengths: np.ndarray,
    item_ids: np.ndarray,
    n_days: float,
) -> pd.DataFrame:
    """Timestamps for the clicks and the event table, sessions in start order."""
    n_sessions = len(lengths)
    # time: sessions start uniformly over the span, ordered by start
    starts = np.sort(rng.uniform(0, n_days * 86400.0, size=n_sessions)) + _EPOCH_2016
    gaps = rng.exponential(60.0, size=len(items))
    gaps[offsets[:-1]] = 0.0
    csum = np.cumsum(gaps)
    sess = np.repeat(np.arange(n_sessions), lengths)
    time = starts[sess] + csum - csum[offsets[:-1]][sess]
    date = time[offsets[1:] - 1][sess]
    return pd.DataFrame(
        {"session_id": sess.astype(np.int64) + 1, "item_id": item_ids[items], "time": time, "date": date}
    )
