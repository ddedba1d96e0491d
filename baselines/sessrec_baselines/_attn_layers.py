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

Also CORE's item dropout on a CPU (:func:`dropout_noise`, :func:`masked_unit_rows`): torch's
CPU ``bernoulli_`` draws a (5,519 x 64) mask in about 5 ms on the 2-core AVX2 machine, a tenth of
a CORE-ave training step; 32-bit integers from NumPy's PCG64 give the same Bernoulli keep mask
(to 2^-32 in its probability) in about 0.6 ms.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
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


def dropout_noise(shape: tuple[int, ...], p: float, value: float = 1.0) -> torch.Tensor:
    """A float32 CPU tensor of ``shape`` whose entries are, independently, ``value`` with probability ``1 - p``
    (kept) and 0 otherwise: ``value = 1 / (1 - p)`` gives inverted dropout's multiplier.

    Entries are 32-bit uniform integers from NumPy's PCG64, kept when at least
    ``round(p * 2**32)``: the drop probability is ``p`` rounded to a multiple of 2^-32. The
    stream is seeded by one 63-bit draw from torch's default generator, so a model seeded with
    ``torch.manual_seed`` (as ``fit`` does from ``random_state``) draws the same noise again.

    Examples
    --------
    >>> _ = torch.manual_seed(0)
    >>> noise = dropout_noise((1000, 100), 0.2, 1.25)
    >>> noise.dtype, noise.shape, sorted(noise.unique().tolist()), round((noise > 0).float().mean().item(), 2)
    (torch.float32, torch.Size([1000, 100]), [0.0, 1.25], 0.8)
    """
    if not 0.0 <= p < 1.0:
        raise ValueError(f"dropout_noise: p must lie in [0, 1), got {p!r}")
    seed = int(torch.randint(0, 2**63 - 1, (), dtype=torch.int64))
    n = math.prod(shape)
    bits = np.random.Generator(np.random.PCG64(seed)).bit_generator.random_raw((n + 1) // 2).view(np.uint32)[:n]
    noise = (bits >= np.uint32(min(round(p * 2**32), 2**32 - 1))).astype(np.float32)
    if value != 1.0:
        noise *= np.float32(value)
    return torch.from_numpy(noise).view(shape)


class _MaskedUnitRows(torch.autograd.Function):
    """``scale * normalise(x * keep)`` row-wise, forward and backward in a few passes over (C, d)."""

    @staticmethod
    def forward(ctx: Any, x: torch.Tensor, keep: torch.Tensor, scale: float) -> torch.Tensor:
        z = x * keep
        inv = scale / (z * z).sum(1, keepdim=True).sqrt_().clamp_(min=1e-12)
        y = z.mul_(inv)
        ctx.save_for_backward(y, keep, inv)
        ctx.scale = scale
        return y

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> tuple[torch.Tensor, None, None]:
        # y = k z / |z| = k u: dL/dz = (k / |z|) (g - u (u . g)) = inv (g - y (y . g) / k^2); dL/dx = keep dL/dz
        y, keep, inv = ctx.saved_tensors
        along = (y * grad).sum(1, keepdim=True).div_(ctx.scale**2)
        return torch.addcmul(grad, y, along, value=-1.0).mul_(inv).mul_(keep), None, None


def masked_unit_rows(x: torch.Tensor, keep: torch.Tensor, scale: float) -> torch.Tensor:
    """``scale * F.normalize(x * keep, dim=1)``, with its gradient, in fewer passes than autograd's.

    CORE's training item vectors on a CPU: dropout's ``1 / (1 - p)`` cancels in the normalisation,
    so ``normalise(dropout(E)) / tau`` is ``masked_unit_rows(E, keep, 1 / tau)`` with the 0/1
    ``keep`` of :func:`dropout_noise`. Rows of norm under 1e-12 (all entries dropped) are divided
    by 1e-12, as in ``F.normalize``.

    Parameters
    ----------
    x : Tensor of shape (C, d)
    keep : Tensor of shape (C, d)
        1 where the entry is kept, 0 where dropped, in ``x``'s dtype.
    scale : float

    Examples
    --------
    >>> x = torch.tensor([[3.0, 4.0, 12.0]], requires_grad=True)
    >>> masked_unit_rows(x, torch.tensor([[1.0, 1.0, 0.0]]), 10.0)
    tensor([[6., 8., 0.]], grad_fn=<_MaskedUnitRowsBackward>)
    """
    return _MaskedUnitRows.apply(x, keep, scale)
