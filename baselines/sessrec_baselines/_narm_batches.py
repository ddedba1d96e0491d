"""NARM's training batches: random prefixes (the authors' way) or whole sessions (one causal pass each).

Each generator yields ``(reps, targets)``: ``reps(network)`` computes the session
representations ``[c_g ; c_l]`` (N, 2H) of the batch's cases with the network's current
parameters, ``targets`` (N,) their next items. ``loss_cases`` (a bool mask over the training
cases, or ``None`` for all) leaves held-out validation cases out of the loss while their
clicks stay available as inputs of longer prefixes.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np
import torch

from sessrec import PrefixBatch, Sessions, ValidationCases

from ._narm_network import NARMNetwork
from .common import random_case_batches

__all__ = ["BatchSpec", "carve_validation", "prefix_batches", "session_batches", "truncated"]

Batch = tuple[Callable[[NARMNetwork], torch.Tensor], torch.Tensor]


@dataclass(frozen=True)
class BatchSpec:
    """Cases per batch, the truncation of long prefixes and the device the batches go to."""

    batch_size: int
    max_len: int
    truncate: str
    device: torch.device


def truncated(starts: np.ndarray, lengths: np.ndarray, spec: BatchSpec) -> tuple[np.ndarray, np.ndarray]:
    """Start and length of every prefix ``items[starts : starts + lengths]`` after truncation."""
    kept = np.minimum(lengths, spec.max_len)
    if spec.truncate == "last":
        starts = starts + lengths - kept
    return starts, kept


def prefix_batches(
    train: Sessions, loss_cases: np.ndarray | None, spec: BatchSpec, rng: np.random.Generator
) -> Iterator[Batch]:
    """``training="prefixes"``: ``batch_size`` random cases, each prefix encoded on its own."""
    cases = np.arange(train.n_cases) if loss_cases is None else np.flatnonzero(loss_cases)
    for session_starts, at in random_case_batches(train, spec.batch_size, rng, cases):
        starts, kept = truncated(session_starts, at - session_starts, spec)
        batch = PrefixBatch.from_ranges(train.items, starts, kept).to(spec.device)
        targets = torch.from_numpy(train.items[at]).to(spec.device)

        def reps(net: NARMNetwork, batch: PrefixBatch = batch) -> torch.Tensor:
            return net.encode_prefixes(batch.items, batch.lengths)

        yield reps, targets


def _session_groups(
    n_cases: np.ndarray,
    case_offset: np.ndarray,
    loss_cases: np.ndarray | None,
    batch_size: int,
    rng: np.random.Generator,
) -> list[np.ndarray]:
    """Sessions in random order, cut into groups of about ``batch_size`` cases (sessions with a loss case only)."""
    usable = np.flatnonzero(n_cases > 0)
    if loss_cases is not None:
        per_session = np.add.reduceat(loss_cases.astype(np.int64), case_offset[usable]) if len(usable) else []
        usable = usable[np.asarray(per_session) > 0]
    order = rng.permutation(usable)
    cum = np.cumsum(n_cases[order])
    cuts = np.searchsorted(cum, np.arange(batch_size, cum[-1] if len(cum) else 0, batch_size), "left")
    bounds = np.unique(np.concatenate([[0], cuts + 1, [len(order)]]).clip(0, len(order)))
    return [order[lo:hi] for lo, hi in itertools.pairwise(bounds) if hi > lo]


def session_batches(
    train: Sessions, loss_cases: np.ndarray | None, spec: BatchSpec, rng: np.random.Generator
) -> Iterator[Batch]:
    """``training="sessions"``: whole sessions, about ``batch_size`` cases per batch, one causal pass each."""
    n_cases = np.maximum(train.lengths - 1, 0)
    case_offset = np.concatenate([[0], np.cumsum(n_cases)])
    for sess in _session_groups(n_cases, case_offset, loss_cases, spec.batch_size, rng):
        starts, cases_here = train.offsets[sess], n_cases[sess]
        kept = np.minimum(cases_here, spec.max_len)
        inputs = PrefixBatch.from_ranges(train.items, starts, kept).to(spec.device)
        # every case: session row u, prefix length k in 1..n-1
        u = np.repeat(np.arange(len(sess)), cases_here)
        k = np.arange(len(u)) - np.repeat(np.cumsum(cases_here) - cases_here, cases_here) + 1
        if loss_cases is not None:
            keep = loss_cases[case_offset[sess][u] + k - 1]
            u, k = u[keep], k[keep]
        row, u, k, windows = _case_rows(train, starts, np.cumsum(kept) - kept, u, k, spec)
        targets = torch.from_numpy(train.items[starts[u] + k]).to(spec.device)
        rows = torch.from_numpy(row).to(spec.device)

        def reps(
            net: NARMNetwork,
            inputs: PrefixBatch = inputs,
            rows: torch.Tensor = rows,
            windows: PrefixBatch | None = windows,
        ) -> torch.Tensor:
            out = net.encode_sessions(inputs.items, inputs.lengths)[rows]
            if windows is not None:
                out = torch.cat([out, net.encode_prefixes(windows.items, windows.lengths)])
            return out

        yield reps, targets


def _case_rows(
    train: Sessions,
    starts: np.ndarray,
    first_row: np.ndarray,
    u: np.ndarray,
    k: np.ndarray,
    spec: BatchSpec,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, PrefixBatch | None]:
    """Row of every case (session ``u``, prefix length ``k``) in the causal pass's output.

    With ``truncate="last"`` a prefix longer than ``max_len`` is a window the causal pass
    cannot give: those cases come last, encoded from ``windows``; ``u`` and ``k`` are
    returned in the order of the rows.
    """
    cap = spec.max_len
    if spec.truncate == "first":
        return first_row[u] + np.minimum(k, cap) - 1, u, k, None
    short = k <= cap
    row = first_row[u[short]] + k[short] - 1
    long_u, long_k = u[~short], k[~short]
    windows = None
    if len(long_u):
        windows = PrefixBatch.from_ranges(train.items, starts[long_u] + long_k - cap, np.full(len(long_u), cap)).to(
            spec.device
        )
    return row, np.concatenate([u[short], long_u]), np.concatenate([k[short], long_k]), windows


def carve_validation(
    train: Sessions, valid_split: str, fraction: float, seed: int
) -> tuple[Sessions, ValidationCases, np.ndarray]:
    """Training sessions, held-out validation cases and their numbers, for NARM's ``valid_split``.

    ``"random_cases"``: ``round(fraction * n_cases)`` (at least 1) random training cases,
    drawn from a generator seeded ``[seed, 1]``; the sessions stay whole (the cases only leave
    the loss) and the numbers are case numbers. ``"time"``: the ``fraction`` of sessions that
    end last leave the training data; the numbers are their positions in ``train``.
    """
    if valid_split == "random_cases":
        n_valid = max(1, round(train.n_cases * fraction))
        cases = np.sort(np.random.default_rng([seed, 1]).permutation(train.n_cases)[:n_valid])
        fit_train, held_out, numbers = train, ValidationCases(train, cases), cases
    else:
        early, late = train.split_by_end_time(fraction)
        fit_train, late_sessions = train.select(early), train.select(late)
        held_out, numbers = ValidationCases(late_sessions, np.arange(late_sessions.n_cases)), late.astype(np.int64)
    if fit_train.n_cases == 0:
        raise ValueError(f"NARM: valid_split={valid_split!r} left no training case; use more data or valid_split=None")
    return fit_train, held_out, numbers
