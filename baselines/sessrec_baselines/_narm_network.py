"""NARM's network (Li et al., CIKM 2017): encoder-decoder, attention, the authors' GRU cell and dropout.

The estimator :class:`sessrec_baselines.narm.NARM` holds hyperparameters and training; the
training batches live in :mod:`sessrec_baselines._narm_batches`. The network, for a prefix
``x_1 .. x_t`` of a session::

    e_j   = dropout_0.25(E[x_j])                          item embedding, E: (n_items, d)
    h_j   = GRU(e_1 .. e_j)                               one layer, hidden size H
    c_g   = h_t                                           global encoder: the last state
    a_tj  = v^T sigma(A1 h_t + A2 h_j),  j <= t           item-level attention
    alpha = a_t.                      (attention_norm="none", the paper's equation 8 as written)
          = masked_softmax_j(a_t.)    (attention_norm="softmax", the authors' code)
    c_l   = sum_j alpha_tj h_j                            local encoder
    c_t   = dropout_0.5([c_g ; c_l])                      (2H,)
    S_i   = E[i]^T B c_t                                  bilinear decoder tied to E, B: (d, 2H)

``S = (c_t B^T) E^T`` is evaluated as two matmuls, ``(N, 2H) @ (2H, d)`` and then
``(N, d) @ (d, n_items)``: the full-catalogue product costs ``d`` instead of ``2H``
multiply-adds per score.

Because the GRU is causal, the representation after *every* click of a session comes out of
one pass: ``h`` for all positions, then the attention of every query position ``t`` over the
keys ``j <= t`` as one ``(U, T, T)`` masked score tensor (:meth:`NARMNetwork.encode_sessions`).
"""

from __future__ import annotations

from typing import cast

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .common import encode_prefixes, encode_sessions

__all__ = ["BUCKET_EDGES", "AuthorsGRU", "DropoutScaledAtTest", "NARMNetwork", "hard_sigmoid"]


def hard_sigmoid(x: torch.Tensor) -> torch.Tensor:
    """Theano's ``T.nnet.hard_sigmoid``: ``clip(0.2 x + 0.5, 0, 1)`` (not torch's slope 1/6)."""
    return torch.clamp(0.2 * x + 0.5, 0.0, 1.0)


class DropoutScaledAtTest(nn.Module):
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


class AuthorsGRU(nn.Module):
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
            z = hard_sigmoid(gates[:, :n_hidden])
            r = hard_sigmoid(gates[:, n_hidden:])
            candidate = torch.tanh(self.u_h(r * h) + xp[:, t, 2 * n_hidden :])
            h = (1.0 - z) * h + z * candidate
            outputs.append(h)
        if not outputs:
            return x.new_zeros(x.shape[0], 0, n_hidden), h[None]
        return torch.stack(outputs, dim=1), h[None]


#: Upper ends (exclusive) of the length groups that :meth:`NARMNetwork.encode_prefixes` and
#: :meth:`NARMNetwork.encode_sessions` encode separately; few groups keep per-call overhead low.
BUCKET_EDGES = np.array([3, 5, 8, 12])


class NARMNetwork(nn.Module):
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
        dropout = nn.Dropout if dropout_scaling == "train" else DropoutScaledAtTest
        self.embedding = nn.Embedding(n_items, embedding_dim)
        self.emb_dropout = dropout(emb_dropout)
        self.gru: nn.Module = (
            nn.GRU(embedding_dim, hidden_size, batch_first=True)
            if gru == "torch"
            else AuthorsGRU(embedding_dim, hidden_size)
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
            gru = cast(AuthorsGRU, self.gru)
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

    def encode_all(self, items: torch.Tensor, lengths: torch.Tensor | None = None) -> torch.Tensor:
        """``[c_g ; c_l]`` (N, T, 2H) after *every* position ``t`` of right-padded ``items`` (N, T).

        Row ``(n, t)`` equals ``encode_last(items[n:n+1, :t+1], [t+1])`` for ``t`` below the row's
        length (one causal GRU pass; the attention of query ``t`` is masked to keys ``j <= t``).
        Rows past a row's length hold values that must not be read; ``lengths`` is not needed
        (accepted so that :func:`sessrec_baselines.common.encode_sessions` can call it).
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
        return encode_prefixes(self, items, lengths, BUCKET_EDGES)

    def encode_sessions(self, items: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """:meth:`encode_all` at every real position: (sum(lengths), 2H), rows ``(n, t)`` in row-major order.

        Rows are grouped by length first: the attention tensor of a group is
        (rows, T, T, H) with T the group's longest row, not the batch's.
        """
        return encode_sessions(self, items, lengths, BUCKET_EDGES)

    def decode(self, reps: torch.Tensor) -> torch.Tensor:
        """Scores (N, n_items) ``S = E B c`` of representations ``reps`` (N, 2H)."""
        return self.b(self.ct_dropout(reps)) @ self.embedding.weight.T
