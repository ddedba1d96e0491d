"""STAMP: Short-Term Attention/Memory Priority model (Liu et al., KDD 2018), and its variant STMP.

The network, for a prefix ``x_1 .. x_t`` of a session (embeddings ``x_j = E[item_j]``, d-dimensional)::

    m_s    = (1/t) sum_j x_j                                  general interest (mean)
    a_j    = w_0^T sigma(W_1 x_j + W_2 x_t + W_3 m_s + b_a)   attention, no normalisation (eq. 7)
    m_a    = sum_j a_j x_j + m_s                              STAMP   (code adds m_s, see Deviations)
           = m_s                                              STMP    (no attention)
    h_s    = tanh(W_s m_a + b_s),  h_t = tanh(W_t x_t + b_t)  two MLP cells
    z_i    = < h_s, h_t, E[i] > = (h_s * h_t) . E[i]          trilinear score (eq. 9)

trained with softmax cross-entropy over all items (Adam). The attention is one (t, d) product
per prefix; for every position of a session at once (:meth:`_STAMPNetwork.encode_all`) the
query of position ``t`` (``W_2 x_t + W_3 m_s(t)``, with the running mean) is broadcast against
the keys ``W_1 x_j``, ``j <= t``: a (T, T, d) tensor per session, cheap for session lengths.
On a CPU a batch of prefixes is encoded in one call over its real clicks only
(:attr:`_STAMPNetwork.ragged_last`): the sums over ``j`` are sums of rows and no padding position
is looked up (``pad_to``'s padding is still added as ``(pad_to - t) p``, as on the padded layout).
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal

import torch
from torch import nn

from sessrec.data.sessions import Sessions

from ._attn_common import CausalSequenceModel, TiedItemScores
from .common import ragged_clicks, row_sums

__all__ = ["STAMP"]


def _clip_norm(x: torch.Tensor, max_norm: float | None) -> torch.Tensor:
    """Rows of ``x`` (..., d) scaled down to norm ``max_norm`` where longer (TF ``embedding_lookup(max_norm=)``)."""
    if max_norm is None:
        return x
    norm = x.norm(dim=-1, keepdim=True)
    return x * torch.clamp(max_norm / norm.clamp(min=1e-12), max=1.0)


class _STAMPNetwork(TiedItemScores, nn.Module):
    """STAMP's layers; parameter names follow the paper (``w1``..``w3``, ``w0``, ``b_a``, ``mlp_s``, ``mlp_t``)."""

    def __init__(
        self, n_items: int, d: int, variant: str, mlp_bias: bool, emb_max_norm: float | None, pad_to: int | None = None
    ) -> None:
        super().__init__()
        self.embedding = nn.Embedding(n_items, d)
        # RecBole's padding item (``pad_to``): its vector fills the positions after the last click
        self.pad = nn.Parameter(torch.zeros(d)) if pad_to is not None else None
        self.pad_to = pad_to
        self.w1 = nn.Linear(d, d, bias=False)  # context x_j
        self.w2 = nn.Linear(d, d, bias=False)  # last click x_t
        self.w3 = nn.Linear(d, d, bias=False)  # mean m_s
        self.w0 = nn.Linear(d, 1, bias=False)
        self.b_a = nn.Parameter(torch.zeros(d))
        self.mlp_s = nn.Linear(d, d, bias=mlp_bias)
        self.mlp_t = nn.Linear(d, d, bias=mlp_bias)
        self.variant = variant
        self.emb_max_norm = emb_max_norm

    def embed(self, items: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """Embeddings (N, T, d) of right-padded ``items``, zero on padding."""
        x = _clip_norm(self.embedding(items.clamp(min=0)), self.emb_max_norm)
        mask = torch.arange(items.shape[1], device=items.device)[None, :] < lengths[:, None]
        return x * mask[..., None]

    def _output(self, m_a: torch.Tensor, x_t: torch.Tensor) -> torch.Tensor:
        return torch.tanh(self.mlp_s(m_a)) * torch.tanh(self.mlp_t(x_t))

    def _padding(self, clicks: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor] | None:
        """RecBole's padding after prefixes of ``clicks`` clicks (any shape): ``(pad_to - clicks)`` as
        float (shape + (1,)) and the padding vector, which the lookups do not train (``padding_idx``)."""
        if self.pad is None:
            return None
        count = (self.pad_to - clicks).clamp(min=0).to(self.pad.dtype)[..., None]
        return count, _clip_norm(self.pad.detach(), self.emb_max_norm)

    @property
    def ragged_last(self) -> bool:
        """True on a CPU, where :meth:`encode_last` embeds only the real clicks of the rows (no padding,
        no length groups in :func:`~sessrec_baselines.common.encode_prefixes`); elsewhere it runs on the
        padded (N, T) layout, one kernel per operation for the whole batch."""
        return self.embedding.weight.device.type == "cpu"

    def encode_last(self, items: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """``h_s * h_t`` (N, d) after the last click of each row of ``items`` (N, T)."""
        if self.ragged_last:  # x (clicks, d): the real clicks of all rows, row by row
            clicks, rows = ragged_clicks(items, lengths)
            x = _clip_norm(self.embedding(clicks), self.emb_max_norm)
            x_t = x[torch.cumsum(lengths, 0) - 1]

            def context_sum(weights: torch.Tensor | None) -> torch.Tensor:
                return row_sums(x if weights is None else weights[:, None] * x, rows, len(lengths))

            query_of_context = rows
        else:  # x (N, T, d), zero on padding
            x = self.embed(items, lengths)
            x_t = x[torch.arange(len(x), device=x.device), lengths - 1]

            def context_sum(weights: torch.Tensor | None) -> torch.Tensor:
                return x.sum(1) if weights is None else torch.bmm(weights[:, None, :], x).squeeze(1)

            query_of_context = (slice(None), None)
        padding = self._padding(lengths)
        total = context_sum(None) if padding is None else context_sum(None) + padding[0] * padding[1]
        m_s = total / lengths[:, None].to(x.dtype)
        m_a = m_s
        if self.variant == "stamp":
            query = self._query(x_t, m_s)
            m_a = m_a + context_sum(self._weights(self.w1(x), query[query_of_context]))  # padding adds 0
            if padding is not None:  # each padding position is a context x_j = p
                count, vector = padding
                m_a = m_a + count * self._weights(self.w1(vector), query)[:, None] * vector
        return self._output(m_a, x_t)

    def _query(self, x_t: torch.Tensor, m_s: torch.Tensor) -> torch.Tensor:
        """``W_2 x_t + W_3 m_s + b_a``; the weights are ``a_j = w_0^T sigma(W_1 x_j + query)`` (eq. 7)."""
        return self.w2(x_t) + self.w3(m_s) + self.b_a

    def _weights(self, keys: torch.Tensor, query: torch.Tensor) -> torch.Tensor:
        """``w_0^T sigma(keys + query)``: the attention weights of contexts ``keys = W_1 x_j``."""
        return self.w0(torch.sigmoid(keys + query)).squeeze(-1)

    def encode_all(self, items: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """``h_s * h_t`` (N, T, d) after every position; row ``t`` equals :meth:`encode_last` of the first ``t+1``."""
        x = self.embed(items, lengths)
        steps = torch.arange(1, x.shape[1] + 1, device=x.device)
        padding = self._padding(steps)
        total = x.cumsum(1) if padding is None else x.cumsum(1) + padding[0] * padding[1]
        m_s = total / steps.to(x.dtype)[None, :, None]
        m_a = m_s
        if self.variant == "stamp":
            query = self._query(x, m_s)  # (N, T, d)
            alpha = self._weights(self.w1(x)[:, None, :, :], query[:, :, None, :])  # (N, T, T)
            alpha = alpha * torch.ones_like(alpha[0], dtype=torch.bool).tril()
            m_a = m_a + torch.bmm(alpha, x)
            if padding is not None:  # each padding position is a context x_j = p
                count, vector = padding
                m_a = m_a + count * self._weights(self.w1(vector), query)[..., None] * vector
        return self._output(m_a, x)

    def train_items(self) -> torch.Tensor:
        """``E``, and with RecBole's padding its vector as one more class: RecBole's softmax scores its
        padding item 0 too (never a target), which is what trains that vector; ranking leaves it out."""
        if self.pad is None:
            return self.embedding.weight
        return torch.cat([self.embedding.weight, self.pad[None]])


class STAMP(CausalSequenceModel):
    """Short-Term Attention/Memory Priority model (STAMP) and its attention-free variant STMP.

    Parameters
    ----------
    embedding_dim : int, default 100
        ``d`` (authors' ``edim`` 100).
    variant : {"stamp", "stmp"}, default "stamp"
        ``"stmp"``: ``m_a = m_s``, no attention (the paper's STMP).
    lr : float, default 0.005
        Adam learning rate (the authors' logged DIGINETICA run: 0.005; their config file: 0.003).
    batch_size : int, default 512
        Cases per batch (authors).
    epochs : int, default 10
        Training epochs (authors).
    max_len : int, default 50
        Prefixes longer than this keep their last ``max_len`` clicks (see Deviations).
    training : {"sessions", "prefixes"}, default "sessions"
        ``"sessions"``: every case of a session from one causal pass; ``"prefixes"``: every case
        encoded on its own.
    amp : bool, default False
        Train under bfloat16 autocast on a CUDA device (mixed precision: matrix products in
        bfloat16, the loss in float32); scoring stays float32. Needs a CUDA device.
    max_grad_norm : float or None, default 110.0
        Every gradient tensor is clipped to this norm separately (TF ``clip_by_norm``, authors:
        110 on DIGINETICA); ``None``: no clipping (RecBole).
    init_std : float, default 0.05
        Weights ~ N(0, init_std) (authors' ``stddev``; RecBole: 0.05 too).
    emb_init_std : float, default 0.002
        Item embeddings ~ N(0, emb_init_std) (authors' ``emb_stddev``; RecBole: 0.002).
    emb_max_norm : float or None, default 1.5
        Looked-up embeddings of the input clicks are scaled down to this norm (authors'
        ``embedding_lookup(max_norm=1.5)``; the scoring matrix is not clipped); ``None``: RecBole.
    mlp_bias : bool, default False
        Biases ``b_s``, ``b_t`` of the two MLP cells (paper and RecBole: yes; authors' code: no).
    pad_to : int or None, default None
        RecBole's padding: every prefix of ``t`` clicks is followed by ``pad_to - t`` copies of a
        padding vector ``p`` that count in the mean (``m_s = (sum_j x_j + (pad_to - t) p) / t``)
        and are attended to like clicks (RecBole's STAMP masks neither). ``p`` is drawn like the
        item embeddings (RecBole's padding item 0, whose row its initialiser overwrites), the
        lookups do not train it (``padding_idx``), and the training softmax scores it as one more
        class, never a target, which does train it; ranking leaves it out. RecBole pads to the
        longest prefix in its dataset files, at most ``MAX_ITEM_LIST_LENGTH`` (50). ``None``: no
        padding (paper and authors' code).
    patience : int or None, default None
        Stop after this many epochs without a better validation recall (``None``: never).
    valid_cutoff : int, default 20
        ``K`` of the validation Recall@K that selects the epoch.
    device : str, default "auto"
    random_state : int or None, default None

    Attributes
    ----------
    network_ : nn.Module
    n_items_ : int
    history_ : list of dict
        Per epoch: loss, seconds and validation recall (when ``fit`` got ``valid``).
    best_epoch_ : int
        0-based epoch kept (the last one without validation).

    Notes
    -----
    Named parameter sets (``-p stamp=NAME``): ``authors`` (the authors' code and logged
    DIGINETICA run), ``recbole`` (RecBole 1.2's STAMP and its defaults, with its padding:
    ``pad_to=50``), ``stmp`` (the paper's STMP with the authors' settings).

    RecBole's padding is not in the paper or the authors' code (which batch sessions of equal
    length and have none), but it changes what the model learns: in RecBole's configuration
    on the one-day DIGINETICA split, trained to convergence (best of 30 epochs on validation),
    it raised test Recall@20 from 0.33 to 0.40 on our side, and zeroing and freezing RecBole's
    padding vector lowered RecBole's from 0.41 to 0.34 (``tests/perf/attn_results.md``).
    ``m_s`` then carries ``(pad_to - t) / t`` times a trained vector, a signal of the prefix
    length. The ``authors`` set and the defaults keep the paper's model (no padding).

    References
    ----------
    .. [1] Q. Liu, Y. Zeng, R. Mokhosi, H. Zhang. "STAMP: Short-Term Attention/Memory Priority
       Model for Session-based Recommendation". KDD 2018.
    .. [2] Authors' TensorFlow code, uestcnlp/STAMP at c0233b6531e60f2a4b4dc3c644e3741ee0ffa024
       (``model/STAMP_cikm.py``, ``basic_layer/FwNn3AttLayer.py``, ``config/nn_param.conf``,
       ``output/text/mlp_totalrnnv38-cikm16-*.out``).
    .. [3] RecBole 1.2, ``recbole/model/sequential_recommender/stamp.py``.

    Deviations from that implementation
    -----------------------------------
    1. Both implementations add ``m_s`` to the attention output (``m_a = sum a_j x_j + m_s``)
       and drop the paper's final sigmoid ``sigma(<h_s, h_t, x_i>)`` before the softmax; we
       follow them (the paper's equations 4 and 9 lack the ``+ m_s`` and have the sigmoid).
    2. The authors' code has no bias ``b_a`` in the attention (it is in the paper and RecBole):
       we keep ``b_a`` (initialised 0, as RecBole) in every preset.
    3. Epoch selection: the authors' code reports the best epoch *on the test set*; we keep
       the epoch of best validation recall (``fit(train, valid=...)``) or the last epoch.
    4. Batches: the authors batch sessions of equal length and step once per position of that
       group; ``training="sessions"`` packs sessions of any length to about ``batch_size``
       cases and steps once on all their positions. ``training="prefixes"`` takes random cases
       (RecBole's way).
    5. The authors' prefixes are never truncated; ours keep the last ``max_len`` = 50 clicks
       (RecBole's ``MAX_ITEM_LIST_LENGTH``): on DIGINETICA fewer than 0.1% of cases are longer.
    6. The authors' score matrix excludes the padding row; we have none (items are 0-based).
    """

    tags: ClassVar[dict[str, Any]] = {"oracle": "sequence", "deterministic": False}
    test_params: ClassVar[dict[str, Any]] = {"embedding_dim": 16, "batch_size": 64, "lr": 0.01, "epochs": 3}
    paramfile_name: ClassVar[str] = "stamp"
    _choices: ClassVar[dict[str, tuple[Any, ...]]] = {
        "variant": ("stamp", "stmp"),
        "training": ("sessions", "prefixes"),
        "amp": (False, True),
        "mlp_bias": (True, False),
    }
    _positive_ints: ClassVar[tuple[str, ...]] = ("embedding_dim", "batch_size", "epochs", "max_len", "valid_cutoff")
    _optional_positive_ints: ClassVar[tuple[str, ...]] = ("pad_to",)

    def __init__(
        self,
        *,
        embedding_dim: int = 100,
        variant: Literal["stamp", "stmp"] = "stamp",
        lr: float = 0.005,
        batch_size: int = 512,
        epochs: int = 10,
        max_len: int = 50,
        training: Literal["sessions", "prefixes"] = "sessions",
        amp: bool = False,
        max_grad_norm: float | None = 110.0,
        init_std: float = 0.05,
        emb_init_std: float = 0.002,
        emb_max_norm: float | None = 1.5,
        mlp_bias: bool = False,
        pad_to: int | None = None,
        patience: int | None = None,
        valid_cutoff: int = 20,
        device: str = "auto",
        random_state: int | None = None,
    ) -> None:
        self.embedding_dim = embedding_dim
        self.variant = variant
        self.lr = lr
        self.batch_size = batch_size
        self.epochs = epochs
        self.max_len = max_len
        self.training = training
        self.amp = amp
        self.max_grad_norm = max_grad_norm
        self.init_std = init_std
        self.emb_init_std = emb_init_std
        self.emb_max_norm = emb_max_norm
        self.mlp_bias = mlp_bias
        self.pad_to = pad_to
        self.patience = patience
        self.valid_cutoff = valid_cutoff
        self.device = device
        self.random_state = random_state

    def build_network(self, train: Sessions) -> nn.Module:
        net = _STAMPNetwork(
            train.n_items, self.embedding_dim, self.variant, self.mlp_bias, self.emb_max_norm, self.pad_to
        )
        with torch.no_grad():
            nn.init.normal_(net.embedding.weight, 0.0, self.emb_init_std)
            if net.pad is not None:
                nn.init.normal_(net.pad, 0.0, self.emb_init_std)
            for layer in (net.w0, net.w1, net.w2, net.w3, net.mlp_s, net.mlp_t):
                nn.init.normal_(layer.weight, 0.0, self.init_std)
                if layer.bias is not None:
                    nn.init.zeros_(layer.bias)
        return net
