"""SR-GNN's network: gated graph neural network over the session graph and the attention readout."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from ._srgnn_graph import SessionGraphs

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

    def cell(self, adj_in: torch.Tensor, adj_out: torch.Tensor, hidden: torch.Tensor) -> torch.Tensor:
        """One propagation step: ``adj_*`` (B, N, N), ``hidden`` (B, N, d) -> (B, N, d)."""
        a_in = torch.bmm(adj_in, self.linear_edge_in(hidden)) + self.b_iah
        a_out = torch.bmm(adj_out, self.linear_edge_out(hidden)) + self.b_oah
        gi = F.linear(torch.cat([a_in, a_out], dim=2), self.w_ih, self.b_ih)
        gh = F.linear(hidden, self.w_hh, self.b_hh)
        i_r, i_z, i_n = gi.chunk(3, dim=2)
        h_r, h_z, h_n = gh.chunk(3, dim=2)
        reset = torch.sigmoid(i_r + h_r)
        update = torch.sigmoid(i_z + h_z)
        candidate = torch.tanh(i_n + reset * h_n)
        return candidate + update * (hidden - candidate)

    def forward(self, adj_in: torch.Tensor, adj_out: torch.Tensor, hidden: torch.Tensor) -> torch.Tensor:
        for _ in range(self.step):
            hidden = self.cell(adj_in, adj_out, hidden)
        return hidden


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

    @torch.no_grad()
    def reset_parameters(self) -> None:
        """The authors' ``reset_parameters``: every parameter U(-1/sqrt(d), 1/sqrt(d))."""
        bound = 1.0 / math.sqrt(self.hidden_size)
        for weight in self.parameters():
            weight.uniform_(-bound, bound)

    def node_states(self, graphs: SessionGraphs) -> torch.Tensor:
        """GGNN output (B, N, d) for the nodes of ``graphs``."""
        return self.gnn(graphs.adj_in, graphs.adj_out, self.embedding(graphs.nodes))

    def session_representation(self, graphs: SessionGraphs, lengths: torch.Tensor) -> torch.Tensor:
        """Session embedding (B, d) of the prefixes whose graphs are ``graphs`` and lengths ``lengths``."""
        hidden = self.node_states(graphs)
        seq = torch.gather(hidden, 1, graphs.alias[:, :, None].expand(-1, -1, hidden.shape[2]))  # (B, L, d)
        rows = torch.arange(seq.shape[0], device=seq.device)
        last = seq[rows, lengths - 1]  # (B, d)
        mask = torch.arange(seq.shape[1], device=seq.device)[None, :] < lengths[:, None]
        alpha = self.linear_three(torch.sigmoid(self.linear_one(last)[:, None, :] + self.linear_two(seq)))
        s_g = (alpha * seq * mask[:, :, None]).sum(dim=1)
        if self.nonhybrid:
            return s_g
        return self.linear_transform(torch.cat([s_g, last], dim=1))

    def decode(self, reps: torch.Tensor) -> torch.Tensor:
        """Scores (B, n_items): inner products of ``reps`` (B, d) with every item embedding."""
        return reps @ self.embedding.weight.T
