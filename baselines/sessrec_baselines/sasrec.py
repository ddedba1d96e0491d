"""SASRec: Self-Attentive Sequential Recommendation (Kang & McAuley, ICDM 2018), as a session model.

The network, for a prefix ``x_1 .. x_t`` of a session::

    e_j = E[x_j] * sqrt(d) + P[j]           (block="paper"; "recbole": LN(E[x_j] + P[j]))
    h   = Dropout(e)
    h   = block_b(h), b = 1..n_blocks        causal self-attention + point-wise feed-forward
    r_t = LN(h_t)                            (block="paper"; "recbole": h_t)
    S_i = r_t . E[i]                         scores tied to the item embeddings

Blocks: :mod:`sessrec_baselines._attn_layers`. Positions count from the first click of the
(truncated) prefix, so the representation after every click of a session comes out of one
causal pass: :meth:`SASRec.score_sessions` for evaluation and ``training="sessions"`` for
training (the loss of every position at once, as the paper trains).
"""

from __future__ import annotations

import math
from typing import Any, ClassVar, Literal

import torch
import torch.nn.functional as F
from torch import nn

from sessrec.data.sessions import Sessions

from ._attn_common import CausalSequenceModel, TiedItemScores
from ._attn_layers import PaperBlock, RecBoleBlock

__all__ = ["SASRec"]


class _SASRecNetwork(TiedItemScores, nn.Module):
    """Item and position embeddings, causal blocks, tied scoring."""

    def __init__(
        self, n_items: int, d: int, max_len: int, n_blocks: int, n_heads: int, inner: int, dropout: float,
        attn_dropout: float, block: str, eps: float,
    ) -> None:  # fmt: skip
        super().__init__()
        self.embedding = nn.Embedding(n_items, d)
        self.position = nn.Embedding(max_len, d)
        self.dropout = nn.Dropout(dropout)
        self.block = block
        self.blocks = nn.ModuleList(
            PaperBlock(d, n_heads, dropout, eps)
            if block == "paper"
            else RecBoleBlock(d, n_heads, inner, dropout, attn_dropout, eps)
            for _ in range(n_blocks)
        )
        self.ln = nn.LayerNorm(d, eps=eps)  # paper: after the blocks; recbole: on the input

    def encode_all(self, items: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """Representations (N, T, d) after every position of right-padded ``items`` (N, T)."""
        e = self.embedding(items.clamp(min=0))
        pos = self.position.weight[: items.shape[1]][None]
        h = e * math.sqrt(e.shape[-1]) + pos if self.block == "paper" else self.ln(e + pos)
        h = self.dropout(h)
        for block in self.blocks:
            h = block(h)
        return self.ln(h) if self.block == "paper" else h

    def encode_last(self, items: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """Representation (N, d) after the last click of each row."""
        h = self.encode_all(items, lengths)
        return h[torch.arange(len(h), device=h.device), lengths - 1]


class SASRec(CausalSequenceModel):
    """SASRec: causal self-attention over the session prefix, scores tied to the item embeddings.

    Parameters
    ----------
    hidden_size : int, default 50
        ``d`` of embeddings and blocks (paper: 50).
    n_blocks : int, default 2
        Self-attention blocks (paper: 2).
    n_heads : int, default 1
        Attention heads (paper: 1).
    inner_size : int, default 256
        Width of the feed-forward layer of ``block="recbole"`` (the paper's is ``d``).
    dropout : float, default 0.5
        Dropout on embeddings, attention weights and feed-forward (paper: 0.5 for sparse data,
        0.2 for MovieLens-1M); with ``block="recbole"`` the hidden dropout.
    attn_dropout : float, default 0.5
        Attention-weight dropout of ``block="recbole"`` (the paper's blocks use ``dropout``).
    block : {"paper", "recbole"}, default "paper"
        ``"paper"``: kang205/SASRec's block (pre-LN query, residual on the normalised query,
        no output projection, ReLU feed-forward of width ``d``, scaled embeddings, final LN,
        LN eps 1e-8, Glorot-uniform init). ``"recbole"``: RecBole's post-LN BERT layer (GELU,
        output projection, input LN, eps 1e-12, N(0, 0.02) init).
    loss : {"ce", "bce"}, default "ce"
        ``"ce"``: softmax cross-entropy over all items (Klenitskiy & Vasilev 2023; RecBole's
        default). ``"bce"``: the paper's binary cross-entropy on the target and one negative
        drawn uniformly from the other items.
    lr : float, default 0.001
        Adam learning rate (paper).
    adam_beta2 : float, default 0.98
        Adam's beta2 (paper code 0.98; RecBole 0.999).
    batch_size : int, default 128
        Cases per batch (the paper's 128 users, each with all positions).
    epochs : int, default 30
    max_len : int, default 50
        Prefixes keep their last ``max_len`` clicks (paper: 50; also the number of positions).
    training : {"sessions", "prefixes"}, default "sessions"
        ``"sessions"``: every position of a session from one causal pass (the paper's way);
        ``"prefixes"``: every case encoded on its own (RecBole's way).
    amp : bool, default False
        bfloat16 mixed-precision training on CUDA, as in :class:`sessrec_baselines.stamp.STAMP`.
    max_grad_norm : float or None, default None
        Per-tensor gradient clipping (neither reference clips).
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
    Named parameter sets: ``paper`` (the paper's defaults and block, full-softmax CE),
    ``paper-bce`` (the same with the paper's BCE loss), ``recbole`` (RecBole 1.2's SASRec defaults).

    References
    ----------
    .. [1] W.-C. Kang, J. McAuley. "Self-Attentive Sequential Recommendation". ICDM 2018.
    .. [2] Authors' TensorFlow code, kang205/SASRec at e3738967fddab206d6eeb4fda433e7a7034dd8b1
       (``model.py``, ``modules.py``, ``main.py``).
    .. [3] RecBole 1.2, ``recbole/model/sequential_recommender/sasrec.py``, ``layers.py``.
    .. [4] A. Klenitskiy, A. Vasilev. "Turning Dross Into Gold Loss: is BERT4Rec really better
       than SASRec?". RecSys 2023.

    Deviations from that implementation
    -----------------------------------
    1. Sessions instead of users; each prefix is a case; full ranking instead of the paper's
       100 sampled negatives.
    2. Positions: the authors left-pad to ``maxlen`` so the last click always has position
       ``maxlen - 1`` (positions count from the end); we (and RecBole) count from the first
       click, which is what makes the one-pass-per-session scoring exact.
    3. Default loss: full-softmax cross-entropy (``loss="bce"`` gives the paper's).
    4. ``loss="bce"``: the negative is uniform over all items but the target; the authors draw
       it outside the user's whole history.
    5. The authors' query/key/value layers and the attention's key masking of padding: with
       right padding and a causal mask, padding never reaches a real position, so no key mask
       is needed; the authors' re-masking of padding after every block is dropped likewise.
    6. Epoch selection on validation (the paper evaluates on validation every 20 epochs and
       reports the test at the best; we never read the test).
    """

    tags: ClassVar[dict[str, Any]] = {"oracle": "sequence", "deterministic": False}
    test_params: ClassVar[dict[str, Any]] = {
        "hidden_size": 16,
        "batch_size": 64,
        "lr": 0.01,
        "epochs": 3,
        "dropout": 0.0,
    }
    paramfile_name: ClassVar[str] = "sasrec"
    _choices: ClassVar[dict[str, tuple[Any, ...]]] = {
        "block": ("paper", "recbole"),
        "loss": ("ce", "bce"),
        "training": ("sessions", "prefixes"),
        "amp": (False, True),
    }
    _positive_ints: ClassVar[tuple[str, ...]] = (
        "hidden_size", "n_blocks", "n_heads", "inner_size", "batch_size", "epochs", "max_len", "valid_cutoff",
    )  # fmt: skip
    _fractions: ClassVar[tuple[str, ...]] = ("dropout", "attn_dropout")

    def __init__(
        self,
        *,
        hidden_size: int = 50,
        n_blocks: int = 2,
        n_heads: int = 1,
        inner_size: int = 256,
        dropout: float = 0.5,
        attn_dropout: float = 0.5,
        block: Literal["paper", "recbole"] = "paper",
        loss: Literal["ce", "bce"] = "ce",
        lr: float = 0.001,
        adam_beta2: float = 0.98,
        batch_size: int = 128,
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
        self.hidden_size = hidden_size
        self.n_blocks = n_blocks
        self.n_heads = n_heads
        self.inner_size = inner_size
        self.dropout = dropout
        self.attn_dropout = attn_dropout
        self.block = block
        self.loss = loss
        self.lr = lr
        self.adam_beta2 = adam_beta2
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
        if self.hidden_size % self.n_heads:
            raise ValueError(
                f"SASRec: hidden_size={self.hidden_size} must be a multiple of n_heads={self.n_heads}; "
                "change one of them"
            )

    def build_network(self, train: Sessions) -> nn.Module:
        eps = 1e-8 if self.block == "paper" else 1e-12
        net = _SASRecNetwork(
            train.n_items, self.hidden_size, self.max_len, self.n_blocks, self.n_heads, self.inner_size,
            self.dropout, self.attn_dropout, self.block, eps,
        )  # fmt: skip
        with torch.no_grad():
            for module in net.modules():
                if isinstance(module, (nn.Linear, nn.Embedding)):
                    if self.block == "paper":
                        nn.init.xavier_uniform_(module.weight)
                    else:
                        nn.init.normal_(module.weight, 0.0, 0.02)
                if isinstance(module, nn.Linear) and module.bias is not None:
                    nn.init.zeros_(module.bias)
        return net

    def build_optimizer(self, network: nn.Module) -> torch.optim.Optimizer:
        return self._adam(network, betas=(0.9, self.adam_beta2))

    def _loss(
        self, net: nn.Module, reps: torch.Tensor, targets: torch.Tensor, generator: torch.Generator
    ) -> torch.Tensor:
        if self.loss == "ce":
            return super()._loss(net, reps, targets, generator)
        n_items = self.n_items_
        shift = torch.randint(1, max(n_items, 2), (len(targets),), generator=generator).to(targets.device)
        negatives = (targets + shift) % n_items  # uniform over the other items
        emb = net.embedding.weight
        pos = (reps * emb[targets]).sum(-1)
        neg = (reps * emb[negatives]).sum(-1)
        return (F.softplus(-pos) + F.softplus(neg)).mean()  # -log sig(pos) - log(1 - sig(neg))
