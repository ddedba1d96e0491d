"""Causal self-attention blocks of SASRec and CORE-trm.

Two block layouts:

``"paper"`` (Kang & McAuley's code, kang205/SASRec ``model.py``/``modules.py``)::

    q  = LN(x)
    x  = q + Dropout(softmax(Q K^T / sqrt(d_h) + causal) Dropout) V    Q = q W_q, K = x W_k, V = x W_v
    y  = LN(x)
    x  = y + Dropout(W_2 Dropout(ReLU(W_1 y)))                           point-wise feed-forward
    ...  blocks ...,  output LN(x)

    (no output projection of the attention; the residual adds the *normalised* query)

``"recbole"`` (RecBole's ``TransformerEncoder``, a post-LN BERT layer)::

    x  = LN(x + Dropout(W_o Attn(x)))                                   attention dropout inside
    x  = LN(x + Dropout(W_2 GELU(W_1 x)))

Both are causal: position ``t`` attends to positions ``j <= t`` only, so with right padding
the outputs at real positions never see padding.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def causal_mask(width: int, device: torch.device) -> torch.Tensor:
    """Bool (T, T), True where query ``t`` may attend key ``j`` (``j <= t``)."""
    return torch.ones(width, width, dtype=torch.bool, device=device).tril()


class CausalSelfAttention(nn.Module):
    """Multi-head causal attention; ``out_proj=False`` gives the paper code's attention (no ``W_o``)."""

    def __init__(self, d: int, n_heads: int, attn_dropout: float, out_proj: bool) -> None:
        super().__init__()
        if d % n_heads:
            raise ValueError(f"hidden size {d} must be a multiple of the number of heads {n_heads}")
        self.q = nn.Linear(d, d)
        self.k = nn.Linear(d, d)
        self.v = nn.Linear(d, d)
        self.out = nn.Linear(d, d) if out_proj else None
        self.n_heads = n_heads
        self.attn_dropout = attn_dropout

    def forward(self, query: torch.Tensor, key: torch.Tensor) -> torch.Tensor:
        """``query`` and ``key`` (N, T, d) -> (N, T, d); keys also give the values."""
        n, width, d = query.shape
        heads = self.n_heads

        def split(x: torch.Tensor) -> torch.Tensor:
            return x.view(n, width, heads, d // heads).transpose(1, 2)

        out = F.scaled_dot_product_attention(
            split(self.q(query)),
            split(self.k(key)),
            split(self.v(key)),
            attn_mask=causal_mask(width, query.device),
            dropout_p=self.attn_dropout if self.training else 0.0,
        )
        out = out.transpose(1, 2).reshape(n, width, d)
        return out if self.out is None else self.out(out)


class PaperBlock(nn.Module):
    """One block of kang205/SASRec (see the module docstring), ReLU feed-forward of width ``d``."""

    def __init__(self, d: int, n_heads: int, dropout: float, eps: float) -> None:
        super().__init__()
        self.ln_attn = nn.LayerNorm(d, eps=eps)
        self.attn = CausalSelfAttention(d, n_heads, dropout, out_proj=False)
        self.ln_ffn = nn.LayerNorm(d, eps=eps)
        self.ffn1 = nn.Linear(d, d)
        self.ffn2 = nn.Linear(d, d)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        q = self.ln_attn(x)
        x = q + self.attn(q, x)
        y = self.ln_ffn(x)
        return y + self.dropout(self.ffn2(self.dropout(F.relu(self.ffn1(y)))))


class RecBoleBlock(nn.Module):
    """One layer of RecBole's ``TransformerEncoder`` (post-LN, GELU feed-forward of width ``inner``)."""

    def __init__(
        self, d: int, n_heads: int, inner: int, hidden_dropout: float, attn_dropout: float, eps: float
    ) -> None:
        super().__init__()
        self.attn = CausalSelfAttention(d, n_heads, attn_dropout, out_proj=True)
        self.ln_attn = nn.LayerNorm(d, eps=eps)
        self.ffn1 = nn.Linear(d, inner)
        self.ffn2 = nn.Linear(inner, d)
        self.ln_ffn = nn.LayerNorm(d, eps=eps)
        self.dropout = nn.Dropout(hidden_dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.ln_attn(x + self.dropout(self.attn(x, x)))
        return self.ln_ffn(x + self.dropout(self.ffn2(F.gelu(self.ffn1(x)))))
