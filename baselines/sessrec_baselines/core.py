"""CORE: session embeddings in the item embedding space (Hou et al., SIGIR 2022).

Representation-consistent encoding (RCE) and robust distance measuring (RDM), for a prefix
``x_1 .. x_t`` (``e_j = Dropout_sess(E[x_j])``)::

    alpha_tj = 1 / t                                          variant="ave"
             = softmax_{j <= t}( w^T trm(e + P)_j + b )        variant="trm" (causal transformer)
    s_t      = normalise( sum_{j <= t} alpha_tj e_j )          a weighted sum of item embeddings
    S_i      = cos(s_t, E[i]) / tau = s_t . normalise(E[i]) / tau
               (training: normalise(Dropout_item(E[i])))

trained with softmax cross-entropy over all items. The transformer is causal, so its output at
``j`` (hence the weight logit ``w^T trm_j + b``) does not depend on later clicks, and the
representation after every click of a session comes from one pass: the weights of query ``t``
are a softmax over the logits of ``j <= t`` (a (T, T) masked softmax).
"""

from __future__ import annotations

import math
from typing import Any, ClassVar, Literal

import torch
import torch.nn.functional as F
from torch import nn

from sessrec.data.sessions import Sessions

from ._attn_common import CausalSequenceModel
from ._attn_layers import RecBoleBlock, causal_mask, dropout_noise, masked_unit_rows
from .common import ragged_clicks, row_sums

__all__ = ["CORE"]


class _COREnetwork(nn.Module):
    """CORE's embedding, weight network (``variant="trm"``) and cosine decoder."""

    def __init__(
        self, n_items: int, d: int, variant: str, max_len: int, n_layers: int, n_heads: int, inner: int,
        hidden_dropout: float, attn_dropout: float, sess_dropout: float, item_dropout: float, temperature: float,
    ) -> None:  # fmt: skip
        super().__init__()
        self.embedding = nn.Embedding(n_items, d)
        self.sess_dropout = nn.Dropout(sess_dropout)
        self.item_dropout = nn.Dropout(item_dropout)
        self.temperature = temperature
        self.variant = variant
        if variant == "trm":
            self.position = nn.Embedding(max_len, d)
            self.ln = nn.LayerNorm(d, eps=1e-12)
            self.dropout = nn.Dropout(hidden_dropout)
            self.blocks = nn.ModuleList(
                RecBoleBlock(d, n_heads, inner, hidden_dropout, attn_dropout, 1e-12) for _ in range(n_layers)
            )
            self.fn = nn.Linear(d, 1)

    @property
    def ragged_last(self) -> bool:
        """True where :meth:`encode_last` embeds only the real clicks (``"ave"`` on a CPU), so that
        :func:`~sessrec_baselines.common.encode_prefixes` need not group rows by length."""
        return self.variant == "ave" and self.embedding.weight.device.type == "cpu"

    def _embed(self, items: torch.Tensor) -> torch.Tensor:
        return self.sess_dropout(self.embedding(items.clamp(min=0)))

    def _weight_logits(self, e: torch.Tensor) -> torch.Tensor:
        """``w^T trm(e + P)_j + b`` (N, T) of session-dropped embeddings ``e`` (N, T, d)."""
        h = self.dropout(self.ln(e + self.position.weight[: e.shape[1]][None]))
        for block in self.blocks:
            h = block(h)
        return self.fn(h).squeeze(-1)

    def encode_all(self, items: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """Unit-norm session embeddings (N, T, d) after every position of right-padded ``items``."""
        e = self._embed(items)
        allowed = causal_mask(items.shape[1], items.device)[None]  # (1, T, T): query t, key j <= t
        if self.variant == "ave":
            alpha = allowed / allowed.sum(-1, keepdim=True)
            s = torch.matmul(alpha.to(e.dtype), e)
        else:
            logits = self._weight_logits(e)[:, None, :].expand(-1, items.shape[1], -1)
            s = torch.bmm(logits.masked_fill(~allowed, float("-inf")).softmax(-1), e)
        return F.normalize(s, dim=-1)

    def encode_last(self, items: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """Unit-norm session embedding (N, d) after the last click of each row."""
        if self.ragged_last:
            return F.normalize(self._ragged_mean(*ragged_clicks(items, lengths), lengths), dim=-1)
        e = self._embed(items)
        mask = torch.arange(items.shape[1], device=items.device)[None, :] < lengths[:, None]
        if self.variant == "ave":
            alpha = mask.to(e.dtype) / lengths[:, None].to(e.dtype)
        else:
            alpha = self._weight_logits(e).masked_fill(~mask, float("-inf")).softmax(-1)
        return F.normalize(torch.bmm(alpha[:, None, :], e).squeeze(1), dim=-1)

    def _ragged_mean(self, clicks: torch.Tensor, rows: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """Mean of the session-dropped embeddings of each row's clicks (:func:`ragged_clicks`): no padding
        is embedded, dropped out or summed, and the dropout noise is :func:`dropout_noise`'s."""
        e, p = self.embedding(clicks), self.sess_dropout.p
        if self.training and p > 0:
            e = e * dropout_noise(tuple(e.shape), p, 1.0 / (1.0 - p))
        return row_sums(e, rows, len(lengths)) / lengths[:, None].to(e.dtype)

    def decode(self, reps: torch.Tensor) -> torch.Tensor:
        """Temperature-scaled cosines (N, n_items); ``1 / temperature`` multiplies the (n_items, d) unit item
        vectors rather than the (N, n_items) product, one pass over the large matrix fewer."""
        return reps @ (F.normalize(self.embedding.weight, dim=-1) / self.temperature).T

    def train_items(self) -> torch.Tensor:
        """Unit item vectors over the temperature, after item dropout on the candidate embeddings (RDM).

        On a CPU the dropout mask is :func:`dropout_noise`'s and the normalisation
        :func:`masked_unit_rows` (dropout's ``1 / (1 - p)`` cancels in it); elsewhere torch's.
        """
        weight, p = self.embedding.weight, self.item_dropout.p
        if weight.device.type == "cpu" and self.training and p > 0:
            return masked_unit_rows(weight, dropout_noise(tuple(weight.shape), p), 1.0 / self.temperature)
        return F.normalize(self.item_dropout(weight), dim=-1) / self.temperature


class CORE(CausalSequenceModel):
    """CORE-ave / CORE-trm: the session embedding is a weighted sum of its items' embeddings.

    Parameters
    ----------
    variant : {"trm", "ave"}, default "trm"
        ``"ave"``: mean of the item embeddings; ``"trm"``: weights learned by a causal transformer.
    embedding_dim : int, default 100
        ``d`` (CORE repository: 100; RecBole's CORE.yaml: 64).
    n_layers : int, default 2
    n_heads : int, default 2
    inner_size : int, default 256
    hidden_dropout : float, default 0.5
    attn_dropout : float, default 0.5
        Transformer settings of ``variant="trm"`` (CORE repository and RecBole).
    sess_dropout : float, default 0.2
        Dropout on the session's item embeddings.
    item_dropout : float, default 0.2
        Dropout on the candidate item embeddings in training.
    temperature : float, default 0.07
    lr : float, default 0.001
        Adam learning rate (RecBole's default, which the CORE repository keeps).
    batch_size : int, default 2048
        Cases per batch (RecBole's ``train_batch_size``).
    epochs : int, default 30
    max_len : int, default 50
        Prefixes keep their last ``max_len`` clicks (RecBole's ``MAX_ITEM_LIST_LENGTH``).
    training : {"sessions", "prefixes"}, default "sessions"
    amp : bool, default False
        bfloat16 mixed-precision training on CUDA, as in :class:`sessrec_baselines.stamp.STAMP`.
    max_grad_norm : float or None, default None
    patience : int or None, default None
    valid_cutoff : int, default 20
    device : str, default "auto"
    random_state : int or None, default None

    Attributes
    ----------
    network_, n_items_, history_, best_epoch_
        As in :class:`sessrec_baselines.stamp.STAMP`.

    Notes
    -----
    Named parameter sets: ``ave`` and ``trm`` (the CORE repository's ``props/core_*.yaml``
    with RecBole's training defaults), ``recbole-trm`` (RecBole 1.2's CORE.yaml: d = 64).

    References
    ----------
    .. [1] Y. Hou, B. Hu, Z. Zhang, W. X. Zhao. "CORE: Simple and Effective Session-based
       Recommendation within Consistent Representation Space". SIGIR 2022.
    .. [2] Authors' code, RUCAIBox/CORE at 4d6996e79699f972e2e6220763f3ce2e4aa20d66
       (``core_ave.py``, ``core_trm.py``, ``props/*.yaml``), built on RecBole.
    .. [3] RecBole 1.2, ``recbole/model/sequential_recommender/core.py``.

    Deviations from that implementation
    -----------------------------------
    1. Padding: RecBole masks it with an additive -10000 in the transformer and -9e15 in the
       weight softmax; we use boolean masks (the same result up to exp(-10000)). The
       initialisation is the reference's: every parameter, layer norms included,
       U(-1/sqrt(d), 1/sqrt(d)).
    2. RecBole computes the weight softmax in float64 then float32; we stay in float32.
    3. Epoch selection on validation Recall@``valid_cutoff`` (the repository selects on
       validation MRR@20 with early stopping after 5 bad epochs: ``patience=5`` and a
       different metric).
    4. ``training="sessions"`` (default) trains all positions of a session in one causal pass;
       ``"prefixes"`` is RecBole's per-case batching.
    5. On a CPU the item dropout mask, (n_items, d) per batch, is drawn from NumPy's PCG64
       (32-bit integers, :func:`~sessrec_baselines._attn_layers.dropout_noise`), seeded from
       torch's generator, instead of torch's ``bernoulli_``: the same Bernoulli distribution (the
       drop probability rounded to a multiple of 2^-32) from a different random stream, drawn
       about 8x faster. The item vectors ``normalise(Dropout_item(E)) / tau`` are computed as
       ``normalise(keep * E) / tau``: dropout's ``1 / (1 - p)`` cancels in the normalisation.
       The session dropout of ``variant="ave"`` on a batch of prefixes (``training="prefixes"``,
       and the windows of prefixes longer than ``max_len``) is drawn the same way, over the
       batch's real clicks only (:meth:`_COREnetwork.encode_last` embeds no padding there); the
       session dropout of whole-session passes and of ``"trm"`` stays torch's.
    """

    tags: ClassVar[dict[str, Any]] = {"oracle": "sequence", "deterministic": False}
    test_params: ClassVar[dict[str, Any]] = {
        "embedding_dim": 16,
        "inner_size": 32,
        "batch_size": 64,
        "lr": 0.01,
        "epochs": 3,
        "hidden_dropout": 0.0,
        "attn_dropout": 0.0,
        "sess_dropout": 0.0,
        "item_dropout": 0.0,
    }
    paramfile_name: ClassVar[str] = "core"
    _choices: ClassVar[dict[str, tuple[Any, ...]]] = {
        "variant": ("trm", "ave"),
        "training": ("sessions", "prefixes"),
        "amp": (False, True),
    }
    _positive_ints: ClassVar[tuple[str, ...]] = (
        "embedding_dim", "n_layers", "n_heads", "inner_size", "batch_size", "epochs", "max_len", "valid_cutoff",
    )  # fmt: skip
    _fractions: ClassVar[tuple[str, ...]] = ("hidden_dropout", "attn_dropout", "sess_dropout", "item_dropout")

    def __init__(
        self,
        *,
        variant: Literal["trm", "ave"] = "trm",
        embedding_dim: int = 100,
        n_layers: int = 2,
        n_heads: int = 2,
        inner_size: int = 256,
        hidden_dropout: float = 0.5,
        attn_dropout: float = 0.5,
        sess_dropout: float = 0.2,
        item_dropout: float = 0.2,
        temperature: float = 0.07,
        lr: float = 0.001,
        batch_size: int = 2048,
        epochs: int = 30,
        max_len: int = 50,
        training: Literal["sessions", "prefixes"] = "sessions",
        amp: bool = False,
        max_grad_norm: float | None = None,
        patience: int | None = None,
        valid_cutoff: int = 20,
        device: str = "auto",
        random_state: int | None = None,
    ) -> None:
        self.variant = variant
        self.embedding_dim = embedding_dim
        self.n_layers = n_layers
        self.n_heads = n_heads
        self.inner_size = inner_size
        self.hidden_dropout = hidden_dropout
        self.attn_dropout = attn_dropout
        self.sess_dropout = sess_dropout
        self.item_dropout = item_dropout
        self.temperature = temperature
        self.lr = lr
        self.batch_size = batch_size
        self.epochs = epochs
        self.max_len = max_len
        self.training = training
        self.amp = amp
        self.max_grad_norm = max_grad_norm
        self.patience = patience
        self.valid_cutoff = valid_cutoff
        self.device = device
        self.random_state = random_state

    def _check_params(self) -> None:
        super()._check_params()
        if not isinstance(self.temperature, (int, float)) or self.temperature <= 0:
            raise ValueError(f"CORE: temperature must be a positive number, got {self.temperature!r}")
        if self.variant == "trm" and self.embedding_dim % self.n_heads:
            raise ValueError(
                f"CORE: embedding_dim={self.embedding_dim} must be a multiple of n_heads={self.n_heads}; change one"
            )

    def build_network(self, train: Sessions) -> nn.Module:
        net = _COREnetwork(
            train.n_items, self.embedding_dim, self.variant, self.max_len, self.n_layers, self.n_heads,
            self.inner_size, self.hidden_dropout, self.attn_dropout, self.sess_dropout, self.item_dropout,
            self.temperature,
        )  # fmt: skip
        bound = 1.0 / math.sqrt(self.embedding_dim)
        with torch.no_grad():
            for param in net.parameters():
                nn.init.uniform_(param, -bound, bound)
        return net
