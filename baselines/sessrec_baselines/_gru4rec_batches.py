"""Session-parallel mini-batches and the negative-sample cache of GRU4Rec.

Session-parallel mini-batches (Hidasi et al., ICLR 2016, Fig. 2)::

    slot 0 | s0: i0 i1 i2 i3 | s3: i0 i1 | s5: ...
    slot 1 | s1: i0 i1 | s4: i0 i1 i2 i3 i4 ...
    slot 2 | s2: i0 i1 i2 | s6: ...
             step 0  1  2  3  ...

Every step feeds each active slot's current item and predicts its next item. When a
session has no next item left, its slot takes the next session (sessions in the given
order, i.e. time order) and the slot's hidden state is reset to zero; when no session is
left, the slot is dropped and the batch shrinks. There is no BPTT: the hidden state is
detached after every step.

The slot schedule depends only on the session lengths, so :func:`build_plan` precomputes
the whole epoch once, with one vectorised numpy step per *round* (the stretch of steps in
which no slot changes), exactly as the official ``SessionDataIterator`` advances.

References
----------
hidasib/GRU4Rec_PyTorch_Official, ``gru4rec_pytorch.py`` classes ``SessionDataIterator`` and
``SampleCache``, commit bf9179a8fb976ef49801f3dec168fc513366fe4a.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

__all__ = ["SampleCache", "SessionParallelPlan", "build_plan"]


@dataclass(frozen=True)
class SessionParallelPlan:
    """The steps of one training epoch.

    Attributes
    ----------
    inputs, targets : ndarray of shape (n_rows,), int64
        For every step, the rows' input item and next (target) item, steps concatenated.
    sessions : ndarray of shape (n_rows,), int64
        Session position (in the ``Sessions`` given to :func:`build_plan`) of every row.
    step_offsets : ndarray of shape (n_steps + 1,), int64
        Step ``k`` owns rows ``step_offsets[k]:step_offsets[k+1]``.
    keep : dict[int, ndarray]
        Before step ``k`` (a key), only the previous step's rows ``keep[k]`` stay, in this
        order (slots whose sessions ran out are dropped).
    reset : dict[int, ndarray]
        Before step ``k`` (a key) and after ``keep``, rows ``reset[k]`` start a new session:
        their hidden state is set to zero. Step 0 resets every row.
    """

    inputs: np.ndarray
    targets: np.ndarray
    sessions: np.ndarray
    step_offsets: np.ndarray
    keep: dict[int, np.ndarray]
    reset: dict[int, np.ndarray]

    @property
    def n_steps(self) -> int:
        return len(self.step_offsets) - 1

    @property
    def n_rows(self) -> int:
        """Number of training events (input -> target pairs) in the epoch."""
        return len(self.inputs)


def build_plan(items: np.ndarray, offsets: np.ndarray, batch_size: int, *, min_rows: int = 1) -> SessionParallelPlan:
    """Precompute the session-parallel mini-batches of one epoch.

    Parameters
    ----------
    items : ndarray of shape (n_clicks,), int
        ``item_idx`` of every click (``Sessions.items``).
    offsets : ndarray of shape (n_sessions + 1,), int
        CSR offsets (``Sessions.offsets``); sessions are taken in this order. Sessions
        shorter than 2 clicks have no next-item event and are skipped.
    batch_size : int
        Number of slots (fewer if there are fewer sessions).
    min_rows : int
        Stop the epoch as soon as fewer slots than this remain (the official code stops
        below 2 when it draws no extra negatives, since one row has no negative then).

    Returns
    -------
    SessionParallelPlan

    Examples
    --------
    >>> plan = build_plan(np.array([5, 6, 7, 8, 9]), np.array([0, 3, 5]), batch_size=2)
    >>> plan.inputs.tolist(), plan.targets.tolist(), plan.step_offsets.tolist()
    ([5, 8, 6], [6, 9, 7], [0, 2, 3])
    """
    items = np.asarray(items, dtype=np.int64)
    offsets = np.asarray(offsets, dtype=np.int64)
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    order = np.flatnonzero(np.diff(offsets) >= 2)
    n_sessions = len(order)
    empty = np.zeros(0, dtype=np.int64)
    if n_sessions == 0:
        return SessionParallelPlan(empty, empty, empty, np.zeros(1, dtype=np.int64), {}, {})
    n_slots = min(batch_size, n_sessions)
    slot_session = order[:n_slots].copy()
    start = offsets[slot_session].copy()
    end = offsets[slot_session + 1].copy()
    next_session = n_slots

    in_chunks: list[np.ndarray] = []
    sess_chunks: list[np.ndarray] = []
    step_sizes: list[np.ndarray] = []
    keep: dict[int, np.ndarray] = {}
    reset: dict[int, np.ndarray] = {0: np.arange(n_slots, dtype=np.int64)}
    n_steps = 0
    while True:
        # A round: every active slot has >= 2 clicks left; run until the shortest ends.
        n_round = int((end - start).min()) - 1
        pos = start[None, :] + np.arange(n_round, dtype=np.int64)[:, None]  # (n_round, n_slots)
        in_chunks.append(pos.ravel())
        sess_chunks.append(np.tile(slot_session, n_round))  # a copy: slot_session changes below
        step_sizes.append(np.full(n_round, len(start), dtype=np.int64))
        n_steps += n_round
        start = start + n_round
        finished = np.flatnonzero(end - start <= 1)
        n_new = min(len(finished), n_sessions - next_session)
        refill, dropped = finished[:n_new], finished[n_new:]
        new = order[next_session : next_session + n_new]
        slot_session[refill] = new
        start[refill] = offsets[new]
        end[refill] = offsets[new + 1]
        next_session += n_new
        if len(dropped):
            alive = np.ones(len(start), dtype=bool)
            alive[dropped] = False
            kept = np.flatnonzero(alive)
            slot_session, start, end = slot_session[kept], start[kept], end[kept]
            # new row index of each refilled slot after compaction
            refill = np.searchsorted(kept, refill)
            keep[n_steps] = kept
        if len(start) == 0 or len(start) < min_rows:
            break
        reset[n_steps] = refill.astype(np.int64)
    positions = np.concatenate(in_chunks)
    step_offsets = np.concatenate([[0], np.cumsum(np.concatenate(step_sizes))]).astype(np.int64)
    # keep/reset entries recorded after the last step would refer to a step that never runs
    keep = {k: v for k, v in keep.items() if k < n_steps}
    reset = {k: v for k, v in reset.items() if k < n_steps and len(v)}
    return SessionParallelPlan(
        inputs=items[positions],
        targets=items[positions + 1],
        sessions=np.concatenate(sess_chunks).astype(np.int64),
        step_offsets=step_offsets,
        keep=keep,
        reset=reset,
    )


class SampleCache:
    """Negative samples drawn in large chunks, ∝ ``count ** sample_alpha``.

    ``max_size // n_sample`` mini-batches of ``n_sample`` items are drawn at once (inverse
    CDF: uniform numbers located in the cumulative distribution), then handed out one
    mini-batch at a time; a new chunk is drawn when the cache runs out. Sampling is with
    replacement, and the same samples serve every row of a mini-batch.

    Parameters
    ----------
    weights : ndarray of shape (n_items,)
        Non-negative sampling weights (``item_counts ** sample_alpha``).
    n_sample : int
        Samples per mini-batch (> 0).
    max_size : int
        Number of item indices drawn per chunk (official ``sample_cache_max_size``, 10^7).
    generator : torch.Generator
        CPU generator the uniforms come from.
    device : torch.device
        Where the samples are handed out.
    """

    def __init__(
        self, weights: np.ndarray, n_sample: int, max_size: int, generator: torch.Generator, device: torch.device
    ) -> None:
        w = np.asarray(weights, dtype=np.float64)
        if n_sample < 1 or w.sum() <= 0:
            raise ValueError(f"SampleCache needs n_sample >= 1 and positive weights, got n_sample={n_sample}")
        cdf = np.cumsum(w) / w.sum()
        cdf[-1] = 1.0
        self.cdf = torch.from_numpy(cdf)
        self.n_sample = int(n_sample)
        self.n_batches = max(1, int(max_size) // self.n_sample)
        self.generator = generator
        self.device = device
        self._chunk = torch.zeros((0, self.n_sample), dtype=torch.int64)
        self._pointer = 0

    def _refresh(self) -> None:
        u = torch.rand(self.n_batches * self.n_sample, dtype=torch.float64, generator=self.generator)
        idx = torch.searchsorted(self.cdf, u, right=True).clamp_(max=len(self.cdf) - 1)
        self._chunk = idx.view(self.n_batches, self.n_sample).to(self.device)
        self._pointer = 0

    def rewind(self) -> None:
        """Hand out the current chunk again from its first mini-batch."""
        self._pointer = 0

    def next(self) -> torch.Tensor:
        """The next mini-batch's samples, LongTensor of shape (n_sample,)."""
        if self._pointer >= len(self._chunk):
            self._refresh()
        sample = self._chunk[self._pointer]
        self._pointer += 1
        return sample
