"""SR-GNN's network: gated graph neural network over the session graph and the attention readout."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ._srgnn_graph import SessionGraphs
from .common import ragged_clicks, row_sums, uniform_reset

__all__ = ["GGNN", "SRGNNNetwork"]


class GGNN(nn.Module):
    """Gated graph neural network of SR-GNN (paper eqs. 1-5; the authors' ``GNN`` module).

    One propagation step, for node states ``h`` (B, N, d)::

        a_in  = adj_in  @ (W_in h + b_in)  + b_iah          (B, N, d)
        a_out = adj_out @ (W_out h + b_out) + b_oah
        a     = [a_in ; a_out]                              (B, N, 2d)
        r = sigmoid(W_ir a + b_ir + W_hr h + b_hr)
        z = sigmoid(W_iz a + b_iz + W_hz h + b_hz)
        n = tanh(W_in' a + b_in' + r * (W_hn h + b_hn))
        h' = n + z * (h - n)    = (1 - z) n + z h

    repeated ``step`` times with shared weights. ``w_ih`` (3d, 2d) and ``w_hh`` (3d, d) stack the
    reset, update and candidate blocks in that order, as the authors' ``gi.chunk(3, 2)``.
    """

    def __init__(self, hidden_size: int, step: int) -> None:
        super().__init__()
        self.step = step
        self.hidden_size = hidden_size
        self.w_ih = nn.Parameter(torch.empty(3 * hidden_size, 2 * hidden_size))
        self.w_hh = nn.Parameter(torch.empty(3 * hidden_size, hidden_size))
        self.b_ih = nn.Parameter(torch.empty(3 * hidden_size))
        self.b_hh = nn.Parameter(torch.empty(3 * hidden_size))
        self.b_iah = nn.Parameter(torch.empty(hidden_size))
        self.b_oah = nn.Parameter(torch.empty(hidden_size))
        self.linear_edge_in = nn.Linear(hidden_size, hidden_size)
        self.linear_edge_out = nn.Linear(hidden_size, hidden_size)

    def cell(
        self, adj_in: torch.Tensor, adj_out: torch.Tensor, packed: torch.Tensor, node_mask: torch.Tensor
    ) -> torch.Tensor:
        """One propagation step on the real nodes ``packed`` (M, d); ``adj_*`` (B, N, N), ``node_mask`` (B, N).

        The per-node layers run on the ``M`` real nodes only; the adjacency products use the
        padded ``(B, N, d)`` layout (padding rows are zero and have no edges).
        """
        messages = packed.new_zeros(2, *node_mask.shape, packed.shape[1])
        messages[0][node_mask] = self.linear_edge_in(packed)
        messages[1][node_mask] = self.linear_edge_out(packed)
        a_in = torch.bmm(adj_in, messages[0])[node_mask] + self.b_iah
        a_out = torch.bmm(adj_out, messages[1])[node_mask] + self.b_oah
        gi = F.linear(torch.cat([a_in, a_out], dim=1), self.w_ih, self.b_ih)
        gh = F.linear(packed, self.w_hh, self.b_hh)
        i_r, i_z, i_n = gi.chunk(3, dim=1)
        h_r, h_z, h_n = gh.chunk(3, dim=1)
        reset = torch.sigmoid(i_r + h_r)
        update = torch.sigmoid(i_z + h_z)
        candidate = torch.tanh(i_n + reset * h_n)
        return candidate + update * (packed - candidate)

    def forward(
        self, adj_in: torch.Tensor, adj_out: torch.Tensor, hidden: torch.Tensor, node_mask: torch.Tensor | None = None
    ) -> torch.Tensor:
        """``step`` propagation steps: node states ``hidden`` (B, N, d) -> (B, N, d); padding nodes -> 0."""
        if node_mask is None:
            node_mask = torch.ones(hidden.shape[:2], dtype=torch.bool, device=hidden.device)
        packed = hidden[node_mask]
        for _ in range(self.step):
            packed = self.cell(adj_in, adj_out, packed, node_mask)
        out = hidden.new_zeros(hidden.shape)
        out[node_mask] = packed
        return out


class SRGNNNetwork(nn.Module):
    """Item embeddings, :class:`GGNN`, soft-attention readout and full-catalogue scores.

    Readout for a prefix with node states gathered per position ``v_1 .. v_t`` (B, L, d)::

        alpha_j = q^T sigmoid(W_1 v_t + W_2 v_j + c)        (linear_one, linear_two, linear_three)
        s_g     = sum_j alpha_j v_j                          global preference (masked to j <= t)
        s_h     = W_3 [s_g ; v_t]                            hybrid (``nonhybrid=False``)
        scores  = s_h @ E^T                                  (B, n_items)
    """

    def __init__(self, n_items: int, hidden_size: int, step: int, nonhybrid: bool) -> None:
        super().__init__()
        self.hidden_size = hidden_size
        self.nonhybrid = nonhybrid
        self.embedding = nn.Embedding(n_items, hidden_size)
        self.gnn = GGNN(hidden_size, step)
        self.linear_one = nn.Linear(hidden_size, hidden_size)
        self.linear_two = nn.Linear(hidden_size, hidden_size)
        self.linear_three = nn.Linear(hidden_size, 1, bias=False)
        self.linear_transform = nn.Linear(2 * hidden_size, hidden_size)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """The authors' ``reset_parameters`` (:func:`~sessrec_baselines.common.uniform_reset`)."""
        uniform_reset(self, self.hidden_size)

    def node_states(self, graphs: SessionGraphs) -> torch.Tensor:
        """GGNN output (B, N, d) for the nodes of ``graphs`` (zeros at padding nodes)."""
        return self.gnn(graphs.adj_in, graphs.adj_out, self.embedding(graphs.nodes), graphs.node_mask)

    def session_representation(self, graphs: SessionGraphs, lengths: torch.Tensor) -> torch.Tensor:
        """Session embedding (B, d) of the prefixes whose graphs are ``graphs`` and lengths ``lengths``.

        The attention runs on the real positions only, packed to ``(P, d)``.
        """
        hidden = self.node_states(graphs)
        n_rows = graphs.alias.shape[0]
        batch_rows = torch.arange(n_rows, device=hidden.device)
        nodes, rows = ragged_clicks(graphs.alias, lengths)  # (P,) each
        seq = hidden[rows, nodes]  # (P, d)
        last = hidden[batch_rows, graphs.alias[batch_rows, lengths - 1]]  # (B, d)
        alpha = self.linear_three(torch.sigmoid(self.linear_one(last)[rows] + self.linear_two(seq)))  # (P, 1)
        s_g = row_sums(alpha * seq, rows, n_rows)
        if self.nonhybrid:
            return s_g
        return self.linear_transform(torch.cat([s_g, last], dim=1))

    def decode(self, reps: torch.Tensor) -> torch.Tensor:
        """Scores (B, n_items): inner products of ``reps`` (B, d) with every item embedding."""
        return reps @ self.embedding.weight.T
