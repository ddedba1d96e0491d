"""The GRU4Rec network: item input, GRU layers, output item matrix with bias.

Three input modes (official names in brackets):

* ``shared`` (``constrained_embedding=True``): the input embedding of an item is its row of
  the output item matrix ``Wy``; the last layer's size is the embedding size.
* ``separate`` (``embedding=k > 0``): a separate input embedding ``E`` of size ``k``.
* ``onehot`` (``embedding=0, constrained_embedding=False``): the item enters the first GRU
  layer one-hot, i.e. the first layer's input weights are a row matrix ``Wx0`` indexed by item.

Every item-indexed matrix (``Wy``, ``By``, ``E``, ``Wx0``) is *row-sparse*: a training step
gathers only the rows it touches (the batch's inputs, targets and shared negatives), as
leaf tensors, and after ``backward`` hands the optimizer a coalesced sparse gradient of
exactly those rows (see :meth:`GRU4RecNetwork.sparse_grads`). The GRU weights are dense.

References
----------
hidasib/GRU4Rec_PyTorch_Official, ``gru4rec_pytorch.py`` classes ``GRUEmbedding`` and
``GRU4RecModel``, commit bf9179a8fb976ef49801f3dec168fc513366fe4a.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["GRU4RecNetwork", "OneHotGRULayer", "glorot_blocks_"]


@torch.no_grad()
def glorot_blocks_(weight: torch.Tensor, fan_in: int, fan_out: int) -> torch.Tensor:
    """Fill ``weight`` from U(-s, s) with ``s = sqrt(6 / (fan_in + fan_out))``.

    The official code initialises every gate block of a GRU weight as its own
    ``(fan_in, fan_out)`` matrix, so the scale uses the block's sizes, not the stacked shape.
    """
    s = math.sqrt(6.0 / (fan_in + fan_out))
    return weight.uniform_(-s, s)


class OneHotGRULayer(nn.Module):
    """First GRU layer with one-hot item input (the official ``GRUEmbedding``).

    ``v = Wx0[x] + b`` split into ``(v_h, v_r, v_z)``; ``[u_r, u_z] = h @ Wrz``;
    ``r = sigmoid(v_r + u_r)``, ``z = sigmoid(v_z + u_z)``,
    ``c = tanh((r * h) @ Wh + v_h)``, ``h' = (1 - z) * h + z * c``
    (the reset gate acts on the state before the product, as in the ICLR 2016 paper).
    """

    def __init__(self, n_items: int, n_hidden: int) -> None:
        super().__init__()
        self.n_hidden = n_hidden
        self.in_rows = nn.Parameter(torch.empty(n_items, 3 * n_hidden))
        self.w_rz = nn.Parameter(torch.empty(n_hidden, 2 * n_hidden))
        self.w_h = nn.Parameter(torch.empty(n_hidden, n_hidden))
        self.bias = nn.Parameter(torch.zeros(3 * n_hidden))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        n_items, h = self.in_rows.shape[0], self.n_hidden
        for k in range(3):
            glorot_blocks_(self.in_rows.data[:, k * h : (k + 1) * h], n_items, h)
        for k in range(2):
            glorot_blocks_(self.w_rz.data[:, k * h : (k + 1) * h], h, h)
        glorot_blocks_(self.w_h.data, h, h)
        nn.init.zeros_(self.bias)

    def forward(self, x_rows: torch.Tensor, h: torch.Tensor) -> torch.Tensor:
        """``x_rows``: (B, 3H) rows of ``in_rows`` for the input items; ``h``: (B, H)."""
        v = x_rows + self.bias
        v_h, v_r, v_z = v.chunk(3, dim=1)
        u_r, u_z = (h @ self.w_rz).chunk(2, dim=1)
        r = torch.sigmoid(v_r + u_r)
        z = torch.sigmoid(v_z + u_z)
        c = torch.tanh((r * h) @ self.w_h + v_h)
        return h + z * (c - h)


class GRU4RecNetwork(nn.Module):
    """Item input -> GRU layers -> scores against the output item matrix.

    Parameters
    ----------
    n_items : int
    layers : sequence of int
        Hidden sizes of the stacked GRU layers.
    mode : {"shared", "separate", "onehot"}
    embedding : int
        Input embedding size in ``"separate"`` mode (ignored otherwise).
    dropout_p_embed, dropout_p_hidden : float
        Dropout on the input embedding and on every layer's output. The dropped-out output is
        also the state carried to the next step, as in the official code.
    """

    def __init__(
        self,
        n_items: int,
        layers: tuple[int, ...],
        mode: str,
        embedding: int,
        dropout_p_embed: float,
        dropout_p_hidden: float,
    ) -> None:
        super().__init__()
        self.n_items = n_items
        self.layers = tuple(int(n) for n in layers)
        self.mode = mode
        self.dropout_p_embed = float(dropout_p_embed)
        self.dropout_p_hidden = float(dropout_p_hidden)
        n_out = self.layers[-1]
        self.item_out = nn.Parameter(torch.empty(n_items, n_out))  # Wy
        self.bias_out = nn.Parameter(torch.zeros(n_items))  # By
        self.item_in: nn.Parameter | None = None
        self.first: OneHotGRULayer | None = None
        if mode == "shared":
            n_input = n_out
        elif mode == "separate":
            self.item_in = nn.Parameter(torch.empty(n_items, embedding))
            n_input = embedding
        elif mode == "onehot":
            self.first = OneHotGRULayer(n_items, self.layers[0])
            n_input = self.layers[0]
        else:
            raise ValueError(f"unknown input mode {mode!r}; expected 'shared', 'separate' or 'onehot'")
        sizes = self.layers[1:] if mode == "onehot" else self.layers
        cells = []
        for size in sizes:
            cells.append(nn.GRUCell(n_input, size))
            n_input = size
        self.cells = nn.ModuleList(cells)
        self.reset_parameters()
        self._gathered: list[tuple[nn.Parameter, torch.Tensor, torch.Tensor]] = []

    @torch.no_grad()
    def reset_parameters(self) -> None:
        glorot_blocks_(self.item_out.data, self.n_items, self.layers[-1])
        nn.init.zeros_(self.bias_out)
        if self.item_in is not None:
            glorot_blocks_(self.item_in.data, *self.item_in.shape)
        if self.first is not None:
            self.first.reset_parameters()
        for cell in self.cells:
            h, n_in = cell.hidden_size, cell.input_size
            for k in range(3):  # gate blocks (r, z, n) of torch's layout
                glorot_blocks_(cell.weight_ih.data[k * h : (k + 1) * h], n_in, h)
                glorot_blocks_(cell.weight_hh.data[k * h : (k + 1) * h], h, h)
            nn.init.zeros_(cell.bias_ih)
            nn.init.zeros_(cell.bias_hh)

    def sparse_parameters(self) -> list[nn.Parameter]:
        """The row-sparse (item-indexed) parameters."""
        out = [self.item_out, self.bias_out]
        if self.item_in is not None:
            out.append(self.item_in)
        if self.first is not None:
            out.append(self.first.in_rows)
        return out

    def init_hidden(self, batch_size: int, device: torch.device) -> list[torch.Tensor]:
        """Zero states, one (batch_size, size) tensor per layer."""
        return [torch.zeros(batch_size, n, device=device) for n in self.layers]

    # ------------------------------------------------------------------ training step
    def _gather(self, weight: nn.Parameter, idx: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Leaf copy of the unique rows ``idx`` touches, and the inverse map ``idx -> row``."""
        uniq, inv = torch.unique(idx, return_inverse=True)
        sub = weight.detach().index_select(0, uniq).requires_grad_(True)
        self._gathered.append((weight, uniq, sub))
        return sub, inv

    def train_step(self, x: torch.Tensor, cols: torch.Tensor, hidden: list[torch.Tensor]) -> torch.Tensor:
        """Forward pass of one training step; ``hidden`` is replaced by the new states.

        Parameters
        ----------
        x : LongTensor of shape (B,)
            Input items.
        cols : LongTensor of shape (B + n_sample,)
            Output items: the B targets, then the shared negatives.
        hidden : list of Tensor (B, size)
            States before the step (treated as constants: no BPTT); overwritten in place
            of the list by the (dropped-out) states after the step.

        Returns
        -------
        Tensor of shape (B, B + n_sample)
            Raw scores ``h @ Wy[cols].T + By[cols]``.
        """
        self._gathered = []
        n = len(x)
        if self.mode == "shared":
            w, inv = self._gather(self.item_out, torch.cat([x, cols]))
            e = w.index_select(0, inv[:n])
            out_rows = w.index_select(0, inv[n:])
        else:
            w, inv = self._gather(self.item_out, cols)
            out_rows = w.index_select(0, inv)
            if self.item_in is not None:
                w_in, inv_in = self._gather(self.item_in, x)
                e = w_in.index_select(0, inv_in)
            else:
                assert self.first is not None
                w_in, inv_in = self._gather(self.first.in_rows, x)
                e = w_in.index_select(0, inv_in)
        b, inv_b = self._gather(self.bias_out, cols)
        out = self._advance(e, hidden, training=True)
        return torch.addmm(b.index_select(0, inv_b)[None, :], out, out_rows.T)

    def sparse_grads(self) -> None:
        """Turn the gathered rows' gradients into coalesced sparse ``.grad`` of the full matrices."""
        # the rows are unique and sorted by construction, so the invariant checks are switched off, and
        # explicitly so for the whole call: torch >= 2.10 on CUDA warns when the global setting is left implicit
        with torch.sparse.check_sparse_tensor_invariants(enable=False):
            for weight, uniq, sub in self._gathered:
                grad = sub.grad if sub.grad is not None else torch.zeros_like(sub)
                weight.grad = torch.sparse_coo_tensor(
                    uniq[None, :], grad, weight.shape, is_coalesced=True, check_invariants=False
                )
        self._gathered = []

    # ------------------------------------------------------------------ shared recurrence
    def _advance(self, e: torch.Tensor, hidden: list[torch.Tensor], training: bool) -> torch.Tensor:
        """One step of the recurrence from input rows ``e`` (B, n_input); updates ``hidden``."""
        p_embed = self.dropout_p_embed if training else 0.0
        p_hidden = self.dropout_p_hidden if training else 0.0
        start = 0
        if self.first is not None:
            e = self.first(e, hidden[0])
            if p_embed > 0:
                e = F.dropout(e, p_embed, True)
            hidden[0] = e
            start = 1
        elif p_embed > 0:
            e = F.dropout(e, p_embed, True)
        out = e
        for k, cell in enumerate(self.cells):
            out = cell(out, hidden[start + k])
            if p_hidden > 0:
                out = F.dropout(out, p_hidden, True)
            hidden[start + k] = out
        return out

    # ------------------------------------------------------------------ inference
    def input_rows(self, x: torch.Tensor) -> torch.Tensor:
        """Input rows of items ``x`` (B,) for inference."""
        if self.mode == "shared":
            return self.item_out.index_select(0, x)
        if self.item_in is not None:
            return self.item_in.index_select(0, x)
        assert self.first is not None
        return self.first.in_rows.index_select(0, x)

    def step(self, x: torch.Tensor, hidden: list[torch.Tensor]) -> torch.Tensor:
        """Inference step (no dropout): new last-layer state (B, H); ``hidden`` updated."""
        return self._advance(self.input_rows(x), hidden, training=False)

    def score_all(self, out: torch.Tensor) -> torch.Tensor:
        """Scores of every item, (B, n_items), from last-layer states ``out`` (B, H)."""
        return torch.addmm(self.bias_out[None, :], out, self.item_out.T)
