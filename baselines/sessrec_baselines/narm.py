"""NARM: Neural Attentive Session-based Recommendation (Li et al., CIKM 2017).

The network, for a prefix ``x_1 .. x_t`` of a session::

    e_j   = dropout_0.25(E[x_j])                          item embedding, E: (n_items, d)
    h_j   = GRU(e_1 .. e_j)                               one layer, hidden size H
    c_g   = h_t                                           global encoder: the last state
    a_tj  = v^T sigma(A1 h_t + A2 h_j),  j <= t           item-level attention
    alpha = a_t.                      (attention_norm="none", the paper's equation 8; default)
          = masked_softmax_j(a_t.)    (attention_norm="softmax", the authors' code)
    c_l   = sum_j alpha_tj h_j                            local encoder
    c_t   = dropout_0.5([c_g ; c_l])                      (2H,)
    S_i   = E[i]^T B c_t                                  bilinear decoder tied to E, B: (d, 2H)

trained with softmax cross-entropy over all items. ``S = (c_t B^T) E^T`` is evaluated as two
matmuls, ``(N, 2H) @ (2H, d)`` and then ``(N, d) @ (d, n_items)``: the full-catalogue product
costs ``d`` instead of ``2H`` multiply-adds per score.

Because the GRU is causal, the representation after *every* click of a session comes out of
one pass: ``h`` for all positions, then the attention of every query position ``t`` over the
keys ``j <= t`` as one ``(U, T, T)`` masked score tensor. :meth:`NARM.score_sessions` uses this
for evaluation and ``training="sessions"`` uses it for training (every case's loss from one
pass per session), instead of re-encoding each prefix from scratch (``training="prefixes"``).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any, ClassVar, Literal, cast

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from sessrec.data.sessions import PrefixBatch, Sessions
from sessrec.models.base import TorchModel

__all__ = ["NARM"]

try:  # Python 3.11+
    from typing import Self
except ImportError:  # pragma: no cover - Python 3.10
    from typing_extensions import Self

_CHOICES: dict[str, tuple[Any, ...]] = {
    "truncate": ("first", "last"),
    "attention_norm": ("softmax", "none"),
    "attention_activation": ("sigmoid", "hard_sigmoid"),
    "gru": ("torch", "authors"),
    "init": ("authors", "xavier"),
    "training": ("sessions", "prefixes"),
    "valid_split": ("random_cases", "time", None),
    "dropout_scaling": ("train", "test"),
}


def _hard_sigmoid(x: torch.Tensor) -> torch.Tensor:
    """Theano's ``T.nnet.hard_sigmoid``: ``clip(0.2 x + 0.5, 0, 1)`` (not torch's slope 1/6)."""
    return torch.clamp(0.2 * x + 0.5, 0.0, 1.0)


class _TestScaledDropout(nn.Module):
    """Dropout as the authors' ``dropout_layer``: a plain 0/1 mask in training, ``x * (1 - p)`` at test.

    :class:`torch.nn.Dropout` scales by ``1 / (1 - p)`` in training and is the identity at
    test. Both define the same function class, but the weights after the dropout differ by
    the factor ``1 - p``, and Adam's steps do not scale with the weights, so the two learn
    differently from the same initialisation.
    """

    def __init__(self, p: float) -> None:
        super().__init__()
        self.p = p

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.p == 0.0:
            return x
        if self.training:
            return x * torch.empty_like(x).bernoulli_(1.0 - self.p)
        return x * (1.0 - self.p)


class _AuthorsGRU(nn.Module):
    """The GRU of the authors' Theano code (``gru_layer`` in ``NARM.py``).

    Differs from :class:`torch.nn.GRU` twice: the update and reset gates are hard sigmoids,
    and the reset gate multiplies the previous state *before* the recurrent matmul::

        z = hsig(W_z x + U_z h + b_z)      r = hsig(W_r x + U_r h + b_r)
        h~ = tanh(W_h x + U_h (r * h) + b_h)
        h' = (1 - z) h + z h~

    (torch: ``n = tanh(W_n x + b_in + r * (U_n h + b_hn))``). A Python loop over time steps,
    so it is slower than the fused :class:`torch.nn.GRU`.
    """

    def __init__(self, input_size: int, hidden_size: int) -> None:
        super().__init__()
        self.hidden_size = hidden_size
        self.w_x = nn.Linear(input_size, 3 * hidden_size)  # [z | r | h~] input part and the one bias
        self.u_zr = nn.Linear(hidden_size, 2 * hidden_size, bias=False)
        self.u_h = nn.Linear(hidden_size, hidden_size, bias=False)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``x`` (N, T, d) -> (outputs (N, T, H), last state (1, N, H)), like ``nn.GRU(batch_first=True)``."""
        n_hidden = self.hidden_size
        xp = self.w_x(x)
        h = x.new_zeros(x.shape[0], n_hidden)
        outputs = []
        for t in range(x.shape[1]):
            gates = xp[:, t, : 2 * n_hidden] + self.u_zr(h)
            z = _hard_sigmoid(gates[:, :n_hidden])
            r = _hard_sigmoid(gates[:, n_hidden:])
            candidate = torch.tanh(self.u_h(r * h) + xp[:, t, 2 * n_hidden :])
            h = (1.0 - z) * h + z * candidate
            outputs.append(h)
        if not outputs:
            return x.new_zeros(x.shape[0], 0, n_hidden), h[None]
        return torch.stack(outputs, dim=1), h[None]


#: Upper ends (exclusive) of the length groups that :meth:`_NARMNetwork.encode_prefixes` and
#: :meth:`_NARMNetwork.encode_sessions` encode separately; few groups keep per-call overhead low.
_BUCKET_EDGES = np.array([3, 5, 8, 12])


def _length_buckets(lengths: torch.Tensor) -> list[torch.Tensor]:
    """Row positions grouped by length (``_BUCKET_EDGES``), each group a LongTensor on ``lengths``' device."""
    group = np.searchsorted(_BUCKET_EDGES, lengths.cpu().numpy(), side="right")
    order = np.argsort(group, kind="stable")
    cuts = np.cumsum(np.bincount(group, minlength=len(_BUCKET_EDGES) + 1))[:-1]
    return [torch.from_numpy(rows).to(lengths.device) for rows in np.split(order, cuts) if len(rows)]


def _unpermute(parts: list[torch.Tensor], order: list[torch.Tensor]) -> torch.Tensor:
    """Rows ``parts[g][i]`` belong at position ``order[g][i]``; return them in position order."""
    if len(parts) == 1:
        values, positions = parts[0], order[0]
    else:
        values, positions = torch.cat(parts), torch.cat(order)
    inverse = torch.empty_like(positions)
    inverse[positions] = torch.arange(len(positions), device=positions.device)
    return values[inverse]


class _NARMNetwork(nn.Module):
    """NARM's encoder-decoder; the estimator :class:`NARM` holds hyperparameters and training.

    Parameter names follow the paper: ``embedding`` is E, ``a1``/``a2`` are A1/A2 (query/key
    projections of the attention), ``v`` is v, ``b`` is B (``b.weight`` has shape (d, 2H)).
    """

    def __init__(
        self,
        n_items: int,
        embedding_dim: int,
        hidden_size: int,
        emb_dropout: float,
        ct_dropout: float,
        gru: str,
        attention_activation: str,
        attention_norm: str,
        init: str = "authors",
        dropout_scaling: str = "train",
    ) -> None:
        super().__init__()
        dropout = nn.Dropout if dropout_scaling == "train" else _TestScaledDropout
        self.embedding = nn.Embedding(n_items, embedding_dim)
        self.emb_dropout = dropout(emb_dropout)
        self.gru: nn.Module = (
            nn.GRU(embedding_dim, hidden_size, batch_first=True)
            if gru == "torch"
            else _AuthorsGRU(embedding_dim, hidden_size)
        )
        self.a1 = nn.Linear(hidden_size, hidden_size, bias=False)
        self.a2 = nn.Linear(hidden_size, hidden_size, bias=False)
        self.v = nn.Linear(hidden_size, 1, bias=False)
        self.ct_dropout = dropout(ct_dropout)
        self.b = nn.Linear(2 * hidden_size, embedding_dim, bias=False)
        self.attention_activation = attention_activation
        self.attention_norm = attention_norm
        if init == "xavier":
            self._init_xavier(hidden_size)
        else:
            self._init_like_authors(n_items, embedding_dim, hidden_size)

    @torch.no_grad()
    def _init_like_authors(self, n_items: int, embedding_dim: int, hidden_size: int) -> None:
        """The authors' ``init_weights``: N(0, 2 / fan) with fan = the Theano matrix's first axis.

        Embedding N(0, 2/n_items); GRU input weights N(0, 2/d); recurrent weights one random
        orthogonal matrix per gate; biases 0; A1, A2 N(0, 2/H); v N(0, 2); B N(0, 2/d).
        """
        nn.init.normal_(self.embedding.weight, 0.0, float(np.sqrt(2.0 / n_items)))
        nn.init.normal_(self.a1.weight, 0.0, float(np.sqrt(2.0 / hidden_size)))
        nn.init.normal_(self.a2.weight, 0.0, float(np.sqrt(2.0 / hidden_size)))
        nn.init.normal_(self.v.weight, 0.0, float(np.sqrt(2.0)))
        nn.init.normal_(self.b.weight, 0.0, float(np.sqrt(2.0 / embedding_dim)))
        if isinstance(self.gru, nn.GRU):
            nn.init.normal_(self.gru.weight_ih_l0, 0.0, float(np.sqrt(2.0 / embedding_dim)))
            for block in self.gru.weight_hh_l0.split(hidden_size, dim=0):
                nn.init.orthogonal_(block)
            nn.init.zeros_(self.gru.bias_ih_l0)
            nn.init.zeros_(self.gru.bias_hh_l0)
        else:
            gru = cast(_AuthorsGRU, self.gru)
            nn.init.normal_(gru.w_x.weight, 0.0, float(np.sqrt(2.0 / embedding_dim)))
            nn.init.zeros_(gru.w_x.bias)
            for block in gru.u_zr.weight.split(hidden_size, dim=0):
                nn.init.orthogonal_(block)
            nn.init.orthogonal_(gru.u_h.weight)

    @torch.no_grad()
    def _init_xavier(self, hidden_size: int) -> None:
        """RecBole 1.2.1's NARM (``_init_weights``): E, A1, A2, v, B ``xavier_normal_``.

        ``xavier_normal_`` draws N(0, 2 / (fan_in + fan_out)). RecBole's ``nn.GRU`` is not an
        ``nn.Linear``, so it keeps torch's default U(-1/sqrt(H), 1/sqrt(H)); its GRU has no
        biases (``bias=False``): ours are set to 0 (they stay trainable). The authors' GRU's
        weights get the same uniform draw, its bias 0.
        """
        for weight in (self.embedding.weight, self.a1.weight, self.a2.weight, self.v.weight, self.b.weight):
            nn.init.xavier_normal_(weight)
        bound = 1.0 / float(np.sqrt(hidden_size))
        for name, param in self.gru.named_parameters():
            if "bias" in name:
                nn.init.zeros_(param)
            else:
                nn.init.uniform_(param, -bound, bound)

    # ------------------------------------------------------------------ pieces
    def states(self, items: torch.Tensor) -> torch.Tensor:
        """GRU states ``h`` (N, T, H) of right-padded ``items`` (N, T).

        Padding (negative) is embedded as item 0; the GRU is causal, so states at real
        positions never see it and states after a row's length are never read.
        """
        x = self.emb_dropout(self.embedding(items.clamp(min=0)))
        h, _ = self.gru(x)
        return h

    def _attention_scores(self, pre: torch.Tensor) -> torch.Tensor:
        """``v^T sigma(pre)`` over the last axis of ``pre`` (..., H) -> (...).

        The hard sigmoid is applied as ``0.2 * hardtanh(pre, -2.5, 2.5) + 0.5``, so that
        ``v^T sigma(pre) = 0.2 v^T hardtanh(pre) + 0.5 sum(v)``: one fused element-wise op on
        the largest tensor of the model instead of four.
        """
        if self.attention_activation == "hard_sigmoid":
            weight = self.v.weight
            return 0.2 * self.v(F.hardtanh(pre, -2.5, 2.5)).squeeze(-1) + 0.5 * weight.sum()
        return self.v(torch.sigmoid(pre)).squeeze(-1)

    def _normalise(self, scores: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        if self.attention_norm == "softmax":
            return scores.masked_fill(~mask, float("-inf")).softmax(dim=-1)
        return scores * mask

    def encode_last(self, items: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """Session representation ``[c_g ; c_l]`` (N, 2H) after the last click of each row.

        ``items`` (N, T) right-padded, ``lengths`` (N,) in ``[1, T]``.
        """
        return self.attend_last(self.states(items), lengths)

    def attend_last(self, h: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """``[h_t ; c_l]`` (N, 2H) from GRU states ``h`` (N, T, H), query ``t = lengths - 1``."""
        rows = torch.arange(h.shape[0], device=h.device)
        h_t = h[rows, lengths - 1]  # (N, H)
        scores = self._attention_scores(self.a1(h_t)[:, None, :] + self.a2(h))  # (N, T)
        mask = torch.arange(h.shape[1], device=h.device)[None, :] < lengths[:, None]
        alpha = self._normalise(scores, mask)
        c_l = torch.bmm(alpha[:, None, :], h).squeeze(1)
        return torch.cat([h_t, c_l], dim=1)

    def encode_all(self, items: torch.Tensor) -> torch.Tensor:
        """``[c_g ; c_l]`` (N, T, 2H) after *every* position ``t`` of right-padded ``items`` (N, T).

        Row ``(n, t)`` equals ``encode_last(items[n:n+1, :t+1], [t+1])`` for ``t`` below the row's
        length (one causal GRU pass; the attention of query ``t`` is masked to keys ``j <= t``).
        Rows past a row's length hold values that must not be read.
        """
        return self.attend_all(self.states(items))

    def attend_all(self, h: torch.Tensor) -> torch.Tensor:
        """``[h_t ; c_l(t)]`` (N, T, 2H) for every query ``t`` from GRU states ``h`` (N, T, H)."""
        query, key = self.a1(h), self.a2(h)  # (N, T, H) each
        scores = self._attention_scores(query[:, :, None, :] + key[:, None, :, :])  # (N, T, T)
        width = h.shape[1]
        causal = torch.ones(width, width, dtype=torch.bool, device=h.device).tril()
        alpha = self._normalise(scores, causal[None])
        c_l = torch.bmm(alpha, h)
        return torch.cat([h, c_l], dim=2)

    def encode_prefixes(self, items: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """:meth:`encode_last` (N, 2H) with rows grouped by length, so short prefixes skip the padding."""
        parts, order = [], []
        for rows in _length_buckets(lengths):
            width = int(lengths[rows].max())
            parts.append(self.encode_last(items[rows, :width], lengths[rows]))
            order.append(rows)
        return _unpermute(parts, order)

    def encode_sessions(self, items: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """:meth:`encode_all` at every real position: (sum(lengths), 2H), rows ``(n, t)`` in row-major order.

        Rows are grouped by length first: the attention tensor of a group is
        (rows, T, T, H) with T the group's longest row, not the batch's.
        """
        first_row = torch.cumsum(lengths, 0) - lengths
        parts, order = [], []
        for rows in _length_buckets(lengths):
            group_lengths = lengths[rows]
            width = int(group_lengths.max())
            reps = self.encode_all(items[rows, :width])  # (n, width, 2H)
            mask = torch.arange(width, device=items.device)[None, :] < group_lengths[:, None]
            parts.append(reps[mask])
            order.append((first_row[rows][:, None] + torch.arange(width, device=items.device)[None, :])[mask])
        return _unpermute(parts, order)

    def decode(self, reps: torch.Tensor) -> torch.Tensor:
        """Scores (N, n_items) ``S = E B c`` of representations ``reps`` (N, 2H)."""
        return self.b(self.ct_dropout(reps)) @ self.embedding.weight.T


@dataclass(frozen=True)
class _HeldOutCases:
    """Validation cases carved by :meth:`NARM.fit`: case numbers ``cases`` of ``sessions``."""

    sessions: Sessions
    cases: np.ndarray

    @property
    def n_cases(self) -> int:
        return len(self.cases)


class NARM(TorchModel):
    """Neural Attentive Recommendation Machine (NARM), faithful to the paper and the authors' code.

    A GRU encodes the session prefix; the session representation concatenates the last
    hidden state (global encoder) with an attention-weighted sum of all hidden states (local
    encoder); a bilinear decoder tied to the item embeddings scores every item; training is
    softmax cross-entropy over the full catalogue with Adam, keeping the epoch with the best
    validation Recall@``valid_cutoff``.

    Parameters
    ----------
    embedding_dim : int, default 50
        Item embedding size ``d`` (paper and code: 50).
    hidden_size : int, default 100
        GRU hidden size ``H`` (paper and code: 100).
    lr : float, default 0.001
        Adam learning rate (paper and code).
    batch_size : int, default 512
        Training cases per mini-batch (paper and code). With ``training="sessions"`` whole
        sessions are packed until a batch holds about this many cases.
    emb_dropout : float, default 0.25
        Dropout between the embedding and the GRU (code).
    ct_dropout : float, default 0.5
        Dropout on ``c_t`` before the decoder (code).
    epochs : int, default 30
        Training epochs (paper and code).
    max_len : int, default 19
        Prefixes longer than this are truncated to ``max_len`` clicks (code: 19).
    truncate : {"first", "last"}, default "first"
        Which clicks of a long prefix are kept: the code keeps the *first* ``max_len``
        (``x[:maxlen]``); ``"last"`` keeps the most recent ones, which is what a user would
        expect of a recommender.
    attention_norm : {"none", "softmax"}, default "none"
        ``"none"``: raw scores weight the states, as the paper's equation (8) is written;
        ``"softmax"``: attention scores pass through a softmax masked to the prefix (code).
    attention_activation : {"sigmoid", "hard_sigmoid"}, default "sigmoid"
        ``sigma`` in ``v^T sigma(A1 h_t + A2 h_j)``: the paper names the logistic sigmoid;
        the code uses Theano's hard sigmoid ``clip(0.2 x + 0.5, 0, 1)``.
    gru : {"torch", "authors"}, default "torch"
        ``"torch"``: :class:`torch.nn.GRU` (logistic gates, reset gate applied after the
        recurrent matmul; fused and fast). ``"authors"``: the code's GRU (hard-sigmoid gates,
        reset gate applied to the previous state before the matmul), a per-step Python loop.
    init : {"xavier", "authors"}, default "xavier"
        Parameter initialisation (not fixed by the paper's equations). ``"xavier"``: RecBole
        1.2.1's NARM, ``xavier_normal_`` for E, A1, A2, v and B, torch's default uniform for
        the GRU weights, GRU biases 0. ``"authors"``: the code's ``init_weights`` (see
        Deviation 8).
    training : {"sessions", "prefixes"}, default "sessions"
        ``"sessions"``: one causal pass per session yields the loss of every case of the
        session (fast). ``"prefixes"``: every case is encoded on its own, as the code does.
    dropout_scaling : {"train", "test"}, default "train"
        ``"train"``: inverted dropout (:class:`torch.nn.Dropout`, kept units scaled by
        ``1 / (1 - p)`` in training, identity at test). ``"test"``: the code's
        ``dropout_layer``, a plain mask in training and ``x * (1 - p)`` at test.
    valid_split : {"random_cases", "time", None}, default None
        Validation data carved from ``train`` when ``fit`` gets no ``valid``, to keep the
        epoch with the best validation Recall@``valid_cutoff``.
        ``"random_cases"``: a random ``valid_fraction`` of the training *cases*, as the code
        does (those cases' prefixes still appear inside longer training cases, so it leaks;
        they stay as inputs and only leave the loss). ``"time"``: the ``valid_fraction`` of
        sessions that end last, removed from training (no leak). ``None`` (default): train
        on all cases for ``epochs`` epochs and keep the last, as the peers in the benchmark
        do: within 30 epochs NARM is still improving on DIGINETICA, so the held-out 10%
        costs more than the epoch choice gains (seed 0: Recall@20 0.571 with
        ``"random_cases"`` against 0.590 without; see ``tests/perf/narm_diginetica.py``).
    valid_fraction : float, default 0.1
        Fraction of cases (``"random_cases"``) or sessions (``"time"``) held out.
    patience : int or None, default None
        Stop after this many epochs without a better validation recall; ``None`` never stops
        early (the code's patience of 100 epochs never triggers within 30).
    valid_cutoff : int, default 20
        ``K`` of the validation Recall@K that picks the best epoch (code: 20).
    eval_batch_size : int, default 1024
        Cases per batch when scoring the internal validation split.
    device : str, default "auto"
        ``"auto"`` (CUDA when available), ``"cpu"``, ``"cuda"``, ``"cuda:1"``...
    random_state : int or None, default None
        Seeds the validation split, initialisation, dropout and batch order.

    Attributes
    ----------
    network_ : torch.nn.Module
        The trained encoder-decoder (best validation epoch).
    n_items_ : int
        Catalogue size scores range over.
    history_ : list of dict
        Per epoch: loss, seconds and, with validation, ``valid_recall@K``.
    best_epoch_ : int
        0-based epoch whose parameters were kept.
    valid_cases_ : ndarray of int64
        With ``valid_split="random_cases"``: the held-out training case numbers (case order
        of ``train``); with ``"time"``: the positions of the held-out sessions. Empty otherwise.

    Notes
    -----
    **Deviations** from the paper and the authors' code (lijingsdu/sessionRec_NARM, ``NARM.py``
    and ``rsc2015_attention.py``):

    1. GRU cell: the default is :class:`torch.nn.GRU` (logistic gates, reset after the
       matmul) for speed; ``gru="authors"`` is the code's cell (hard-sigmoid gates, reset
       before the matmul). The paper does not specify the cell's variant.
    2. Training batches: the default ``training="sessions"`` computes every case of a session
       in one causal pass (the same representations and loss terms as encoding each prefix,
       so the objective is identical), with batches of whole sessions holding about
       ``batch_size`` cases; the cases of one session then share the embedding-dropout mask
       and the batch. ``training="prefixes"`` draws ``batch_size`` random cases per batch,
       as the code does.
    3. Dropout: the default ``dropout_scaling="train"`` is inverted (scaled by ``1/(1-p)`` in
       training, identity at test); the code scales by ``1-p`` at test time instead
       (``dropout_scaling="test"``). The two define the same function class, the weights
       after a dropout differing by the factor ``1-p``, but Adam's steps do not scale with
       the weights, so they learn differently: with the code's attention and initialisation,
       ``"test"`` reached Recall@20 0.5701 and 0.5722 (seeds 0, 1) against 0.5901 and 0.5939.
    4. Loss: ``F.cross_entropy`` (exact log-softmax); the code computes ``-log(softmax + 1e-8)``.
       The code's catalogue also holds the padding item 0 (never a target); ours does not.
    5. Adam: :class:`torch.optim.Adam`; the code's Adam additionally decays ``beta1`` by
       ``(1 - 1e-8)^t``, a change below 1e-6 over a full run.
    6. Best epoch: a strictly better validation recall replaces the kept epoch (the code also
       replaces on ties).
    7. ``[c_g ; c_l]`` order: the code concatenates ``[c_l ; c_g]``; B is learned, so the order
       is only a permutation of B's columns.
    8. Initialisation (not fixed by the paper's equations): the default ``init="xavier"``
       follows RecBole 1.2.1's ``recbole/model/sequential_recommender/narm.py``
       (``_init_weights``): every ``nn.Embedding`` and ``nn.Linear`` weight ``xavier_normal_``, i.e.
       N(0, 2 / (fan_in + fan_out)); its ``nn.GRU(..., bias=False)`` keeps torch's default
       U(-1/sqrt(H), 1/sqrt(H)); our GRU keeps its biases, initialised to 0.
       ``init="authors"`` follows the code (``init_weights`` in ``NARM.py``; see
       ``_NARMNetwork._init_like_authors``): E N(0, 2/n_items), GRU input weights N(0, 2/d),
       recurrent weights one random orthogonal matrix per gate, A1, A2 N(0, 2/H), v N(0, 2),
       B N(0, 2/d), biases 0.
    9. Validation: the default ``valid_split=None`` trains on every training case and keeps
       the last epoch, like the peers of the benchmark; ``"random_cases"`` is the code's
       10% random hold-out with the best epoch by validation Recall@20 (see ``valid_split``).

    The paper's equations as written are the defaults ``attention_norm="none",
    attention_activation="sigmoid"`` (initialisation, GRU variant and truncation side are not
    part of its equations). The code's behaviour is reproduced, up to items 4-7, by
    ``attention_norm="softmax", attention_activation="hard_sigmoid", init="authors",
    gru="authors", training="prefixes", dropout_scaling="test", valid_split="random_cases"``
    with the defaults ``truncate="first"`` and ``max_len=19``.

    Why these defaults: on the DIGINETICA benchmark split of ``tests/perf/narm_diginetica.py``
    (3 seeds, 30 epochs, all training cases) the paper's attention with RecBole's
    initialisation (the defaults) gave Recall@20 0.6012 and MRR@20 0.2102; the code's
    attention and initialisation 0.5917 and 0.2113; the paper's attention with the code's
    initialisation 0.5925 and 0.2025; the code's attention with RecBole's initialisation
    0.5485 and 0.1781 (``tests/perf/narm_diginetica_results.md``). The choice holds without
    the test days: trained on the first 90% of the training sessions and evaluated on the
    last 10% (``--selection``), the defaults gave Recall@20 0.5338 against 0.5201 for the
    code's attention and initialisation. ``training="prefixes"`` with the defaults learned the
    same MRR@20 (0.2107) and a slightly lower Recall@20 (0.5942) than ``"sessions"``.

    Implementation: rows are grouped by length (``_BUCKET_EDGES``) before the GRU and the
    attention, so short prefixes do not pay for the padding of the longest one; scores are
    the same as without grouping.

    References
    ----------
    .. [1] Jing Li, Pengjie Ren, Zhumin Chen, Zhaochun Ren, Tao Lian, Jun Ma. "Neural
       Attentive Session-based Recommendation". CIKM 2017. arXiv:1711.04725.
    .. [2] Reference implementation (Theano): https://github.com/lijingsdu/sessionRec_NARM

    Examples
    --------
    >>> from sessrec.data.sessions import PrefixBatch, Sessions
    >>> train = Sessions.from_lists([[0, 1, 2, 3], [1, 2, 3, 0]] * 20, n_items=4)
    >>> model = NARM(embedding_dim=8, hidden_size=8, epochs=2, device="cpu", random_state=0).fit(train)
    >>> model.score(PrefixBatch.from_lists([[0, 1], [2]])).shape
    torch.Size([2, 4])
    """

    tags: ClassVar[dict[str, Any]] = {"oracle": "sequence", "deterministic": False}
    test_params: ClassVar[dict[str, Any]] = {
        "embedding_dim": 16,
        "hidden_size": 16,
        "batch_size": 128,
        "lr": 0.01,
        "epochs": 3,
        "emb_dropout": 0.0,
        "ct_dropout": 0.0,
        "valid_split": None,
    }

    def __init__(
        self,
        *,
        embedding_dim: int = 50,
        hidden_size: int = 100,
        lr: float = 0.001,
        batch_size: int = 512,
        emb_dropout: float = 0.25,
        ct_dropout: float = 0.5,
        epochs: int = 30,
        max_len: int = 19,
        truncate: Literal["first", "last"] = "first",
        attention_norm: Literal["softmax", "none"] = "none",
        attention_activation: Literal["hard_sigmoid", "sigmoid"] = "sigmoid",
        gru: Literal["torch", "authors"] = "torch",
        init: Literal["authors", "xavier"] = "xavier",
        training: Literal["sessions", "prefixes"] = "sessions",
        dropout_scaling: Literal["train", "test"] = "train",
        valid_split: Literal["random_cases", "time"] | None = None,
        valid_fraction: float = 0.1,
        patience: int | None = None,
        valid_cutoff: int = 20,
        eval_batch_size: int = 1024,
        device: str = "auto",
        random_state: int | None = None,
    ) -> None:
        self.embedding_dim = embedding_dim
        self.hidden_size = hidden_size
        self.lr = lr
        self.batch_size = batch_size
        self.emb_dropout = emb_dropout
        self.ct_dropout = ct_dropout
        self.epochs = epochs
        self.max_len = max_len
        self.truncate = truncate
        self.attention_norm = attention_norm
        self.attention_activation = attention_activation
        self.gru = gru
        self.init = init
        self.training = training
        self.dropout_scaling = dropout_scaling
        self.valid_split = valid_split
        self.valid_fraction = valid_fraction
        self.patience = patience
        self.valid_cutoff = valid_cutoff
        self.eval_batch_size = eval_batch_size
        self.device = device
        self.random_state = random_state

    # ------------------------------------------------------------------ checks
    def _check_params(self) -> None:
        for name, choices in _CHOICES.items():
            value = getattr(self, name)
            if value not in choices:
                raise ValueError(f"NARM: {name}={value!r} is not supported; choose one of {list(choices)}")
        for name in ("embedding_dim", "hidden_size", "batch_size", "epochs", "max_len", "valid_cutoff"):
            value = getattr(self, name)
            if not isinstance(value, (int, np.integer)) or value < 1:
                raise ValueError(f"NARM: {name} must be a positive integer, got {value!r}")
        for name in ("emb_dropout", "ct_dropout"):
            value = getattr(self, name)
            if not 0.0 <= value < 1.0:
                raise ValueError(f"NARM: {name} must lie in [0, 1), got {value!r}")
        if self.valid_split is not None and not 0.0 < self.valid_fraction < 1.0:
            raise ValueError(
                f"NARM: valid_fraction must lie in (0, 1) when valid_split={self.valid_split!r}, "
                f"got {self.valid_fraction!r}; use valid_split=None to train without validation"
            )

    # ------------------------------------------------------------------ fit
    def fit(self, train: Sessions, *, valid: Sessions | None = None) -> Self:
        """Train on ``train``; pick the best epoch on ``valid`` or on a split carved from ``train``.

        Overrides :meth:`TorchModel.fit` only to carve the validation split
        (``valid_split``) before the epoch loop of the base class runs: the held-out
        ``"random_cases"`` stay in ``train`` as inputs but are excluded from the loss; the
        held-out ``"time"`` sessions are removed from ``train``. A ``valid`` given here wins.
        """
        self._check_params()
        self.valid_cases_ = np.zeros(0, dtype=np.int64)
        self._loss_cases: np.ndarray | None = None  # bool mask over train cases, None = all
        held_out: _HeldOutCases | Sessions | None = valid
        fit_train = train
        if valid is None and self.valid_split is not None and train.n_cases > 1:
            split_rng = np.random.default_rng([self._seed(self.random_state), 1])
            if self.valid_split == "random_cases":
                n_valid = max(1, round(train.n_cases * self.valid_fraction))
                self.valid_cases_ = np.sort(split_rng.permutation(train.n_cases)[:n_valid])
                mask = np.ones(train.n_cases, dtype=bool)
                mask[self.valid_cases_] = False
                self._loss_cases = mask
                held_out = _HeldOutCases(train, self.valid_cases_)
            else:
                early, late = train.split_by_end_time(self.valid_fraction)
                self.valid_cases_ = late.astype(np.int64)
                fit_train = train.select(early)
                late_sessions = train.select(late)
                held_out = _HeldOutCases(late_sessions, np.arange(late_sessions.n_cases))
            if fit_train.n_cases == 0:
                raise ValueError(
                    f"NARM: valid_split={self.valid_split!r} left no training case; use more data or valid_split=None"
                )
        try:
            # the base loop only reads `.n_cases` of `valid` and hands it to `_validate`
            super().fit(fit_train, valid=cast(Sessions, held_out))
        finally:
            del self._loss_cases
        return self

    def _validate(self, valid: Sessions) -> float:
        held = cast(Any, valid)
        if not isinstance(held, _HeldOutCases):
            return super()._validate(valid)
        hits = 0
        for batch, targets in held.sessions.prefix_batches(self.eval_batch_size, cases=held.cases):
            scores = self.score(batch)
            target_scores = scores.gather(1, torch.as_tensor(targets, device=scores.device)[:, None])
            ranks = (scores >= target_scores).sum(dim=1)  # conservative ties
            hits += int((ranks <= self.valid_cutoff).sum())
        return hits / max(held.n_cases, 1)

    # ------------------------------------------------------------------ TorchModel hooks
    def _build_network(self, train: Sessions) -> nn.Module:
        return _NARMNetwork(
            train.n_items,
            self.embedding_dim,
            self.hidden_size,
            self.emb_dropout,
            self.ct_dropout,
            self.gru,
            self.attention_activation,
            self.attention_norm,
            self.init,
            self.dropout_scaling,
        )

    def _build_optimizer(self, network: nn.Module) -> torch.optim.Optimizer:
        return torch.optim.Adam(network.parameters(), lr=self.lr)

    def _train_epoch(
        self, train: Sessions, optimizer: torch.optim.Optimizer, rng: np.random.Generator, generator: torch.Generator
    ) -> float:
        net = cast(_NARMNetwork, self.network_)
        total, count = 0.0, 0
        batches = self._session_batches(train, rng) if self.training == "sessions" else self._prefix_batches(train, rng)
        for reps_fn, targets in batches:
            reps = reps_fn(net)
            logits = net.decode(reps)
            loss = F.cross_entropy(logits, targets)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            total += float(loss.detach()) * len(targets)
            count += len(targets)
        return total / max(count, 1)

    # ------------------------------------------------------------------ batching
    def _truncated(self, starts: np.ndarray, lengths: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Start and length of every prefix ``items[starts : starts + lengths]`` after truncation."""
        kept = np.minimum(lengths, self.max_len)
        if self.truncate == "last":
            starts = starts + lengths - kept
        return starts, kept

    def _prefix_batches(self, train: Sessions, rng: np.random.Generator) -> Any:
        """``training="prefixes"``: ``batch_size`` random cases, each prefix encoded on its own."""
        cases = np.arange(train.n_cases) if self._loss_cases is None else np.flatnonzero(self._loss_cases)
        cases = rng.permutation(cases)
        session, position = train.case_session(), train.case_positions()
        dev = self.device_
        for lo in range(0, len(cases), self.batch_size):
            chosen = cases[lo : lo + self.batch_size]
            starts = train.offsets[session[chosen]]
            starts, kept = self._truncated(starts, position[chosen] - starts)
            batch = PrefixBatch.from_ranges(train.items, starts, kept).to(dev)
            targets = torch.from_numpy(train.items[position[chosen]]).to(dev)

            def reps(net: _NARMNetwork, batch: PrefixBatch = batch) -> torch.Tensor:
                return net.encode_prefixes(batch.items, batch.lengths)

            yield reps, targets

    def _session_batches(self, train: Sessions, rng: np.random.Generator) -> Any:
        """``training="sessions"``: whole sessions, about ``batch_size`` cases per batch, one causal pass each."""
        n_cases = np.maximum(train.lengths - 1, 0)
        case_offset = np.concatenate([[0], np.cumsum(n_cases)])
        usable = np.flatnonzero(n_cases > 0)
        if self._loss_cases is not None:
            per_session = np.add.reduceat(self._loss_cases.astype(np.int64), case_offset[usable]) if len(usable) else []
            usable = usable[np.asarray(per_session) > 0]
        order = rng.permutation(usable)
        cum = np.cumsum(n_cases[order])
        cuts = np.searchsorted(cum, np.arange(self.batch_size, cum[-1] if len(cum) else 0, self.batch_size), "left")
        bounds = np.unique(np.concatenate([[0], cuts + 1, [len(order)]]).clip(0, len(order)))
        dev = self.device_
        width_cap = self.max_len
        for lo, hi in itertools.pairwise(bounds):
            sess = order[lo:hi]
            if len(sess) == 0:
                continue
            starts, cases_here = train.offsets[sess], n_cases[sess]
            inputs = PrefixBatch.from_ranges(train.items, starts, np.minimum(cases_here, width_cap)).to(dev)
            # every case: session row u, prefix length k in 1..n-1
            u = np.repeat(np.arange(len(sess)), cases_here)
            k = np.arange(len(u)) - np.repeat(np.cumsum(cases_here) - cases_here, cases_here) + 1
            if self._loss_cases is not None:
                keep = self._loss_cases[case_offset[sess][u] + k - 1]
                u, k = u[keep], k[keep]
            kept = np.minimum(cases_here, width_cap)
            first_row = np.cumsum(kept) - kept
            windows = None
            if self.truncate == "first":
                row = first_row[u] + np.minimum(k, width_cap) - 1
            else:
                short = k <= width_cap
                row = first_row[u[short]] + k[short] - 1
                long_u, long_k = u[~short], k[~short]
                if len(long_u):
                    windows = PrefixBatch.from_ranges(
                        train.items, starts[long_u] + long_k - width_cap, np.full(len(long_u), width_cap)
                    ).to(dev)
                u, k = np.concatenate([u[short], long_u]), np.concatenate([k[short], long_k])  # rows' order
            targets = torch.from_numpy(train.items[starts[u] + k]).to(dev)
            rows = torch.from_numpy(row).to(dev)

            def reps(
                net: _NARMNetwork,
                inputs: PrefixBatch = inputs,
                rows: torch.Tensor = rows,
                windows: PrefixBatch | None = windows,
            ) -> torch.Tensor:
                out = net.encode_sessions(inputs.items, inputs.lengths)[rows]
                if windows is not None:
                    out = torch.cat([out, net.encode_prefixes(windows.items, windows.lengths)])
                return out

            yield reps, targets

    # ------------------------------------------------------------------ scoring
    def _scores(self, batch: PrefixBatch) -> torch.Tensor:
        net = cast(_NARMNetwork, self.network_)
        lengths = batch.lengths
        kept = lengths.clamp(max=self.max_len)
        width = min(batch.max_len, self.max_len)
        if self.truncate == "first":
            items = batch.items[:, :width]
        else:
            cols = (lengths - kept)[:, None] + torch.arange(width, device=lengths.device)[None, :]
            items = batch.items.gather(1, cols.clamp(max=batch.max_len - 1))
        return net.decode(net.encode_prefixes(items, kept))

    def score_sessions(self, batch: PrefixBatch) -> torch.Tensor:
        """Scores after every prefix of whole sessions, in one causal pass.

        Parameters
        ----------
        batch : PrefixBatch
            Whole sessions (or any sequences), right-padded, shape (B, L).

        Returns
        -------
        Tensor of shape (sum(batch.lengths), n_items)
            Row for ``(b, t)``, ``t < lengths[b]``, in row-major order: the scores
            :meth:`score` gives the prefix ``batch.items[b, :t+1]``, truncation included.
            With ``truncate="first"`` a prefix longer than ``max_len`` is its first
            ``max_len`` clicks, i.e. the representation at position ``max_len - 1``;
            with ``truncate="last"`` such a prefix is a window the causal pass cannot give,
            so those rows are encoded one window each.
        """
        self._check_fitted()
        net = cast(_NARMNetwork, self.network_)
        net.eval()
        with torch.no_grad():
            batch = batch.to(self.device_)
            lengths = batch.lengths
            dev = lengths.device
            n_rows = int(lengths.sum())
            b = torch.repeat_interleave(torch.arange(len(lengths), device=dev), lengths)
            t = torch.arange(n_rows, device=dev) - torch.repeat_interleave(torch.cumsum(lengths, 0) - lengths, lengths)
            width = min(batch.max_len, self.max_len)
            kept = lengths.clamp(max=self.max_len)
            states = net.encode_sessions(batch.items[:, :width], kept)  # (sum(kept), 2H)
            first_row = torch.cumsum(kept, 0) - kept
            reps = states[first_row[b] + t.clamp(max=self.max_len - 1)]
            if self.truncate == "last":
                long = t >= self.max_len
                if bool(long.any()):
                    lb, lt = b[long], t[long]
                    cols = (lt - self.max_len + 1)[:, None] + torch.arange(self.max_len, device=dev)[None, :]
                    windows = batch.items[lb[:, None], cols]
                    full = torch.full((len(lb),), self.max_len, dtype=torch.long, device=dev)
                    reps[long] = net.encode_prefixes(windows, full)
            return net.decode(reps)
