"""GCE-GNN's network: session-level (local) and global-level aggregation, position-aware readout."""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn

from ._gcegnn_graph import GCESessionGraphs
from .common import uniform_reset

__all__ = ["GCEGNNNetwork", "GlobalAggregator", "LocalAggregator"]


class LocalAggregator(nn.Module):
    """Session-level item representation (paper eqs. 7-9; the authors' ``LocalAggregator``).

    ``e_ij = LeakyReLU(a_{r_ij}^T (h_i * h_j))`` with one vector ``a_r`` per edge type ``r`` in
    1..4; ``alpha_i. = softmax_j`` over the edges of ``i`` (non-edges excluded);
    ``h_i' = sum_j alpha_ij h_j``.
    """

    def __init__(self, dim: int, alpha: float) -> None:
        super().__init__()
        self.a = nn.Parameter(torch.empty(4, dim))  # a_0 .. a_3 of the code, for edge types 1..4
        self.negative_slope = alpha

    def forward(self, hidden: torch.Tensor, edge_type: torch.Tensor) -> torch.Tensor:
        """``hidden`` (B, N, d), ``edge_type`` (B, N, N) in 0..4 -> (B, N, d)."""
        products = hidden[:, :, None, :] * hidden[:, None, :, :]  # (B, N, N, d)
        e = F.leaky_relu(products @ self.a.T, self.negative_slope)  # (B, N, N, 4)
        chosen = e.gather(3, (edge_type - 1).clamp(min=0)[..., None]).squeeze(3)
        scores = torch.where(edge_type > 0, chosen, torch.full_like(chosen, -9e15))
        return torch.softmax(scores, dim=-1) @ hidden


class GlobalAggregator(nn.Module):
    """One global-level aggregation layer (paper eqs. 1-4; the authors' ``GlobalAggregator``).

    For a node ``v`` with sampled neighbours ``v_j`` (count weights ``w_j``) and session vector ``s``::

        pi_j = softmax_j( q_1^T LeakyReLU_0.2( W_1 [s * h_vj ; w_j] ) )
        h_N  = sum_j pi_j h_vj
        h_v' = act( W_3 dropout([h_v ; h_N]) )
    """

    def __init__(self, dim: int, dropout: float, act: Callable[[torch.Tensor], torch.Tensor]) -> None:
        super().__init__()
        self.w_1 = nn.Parameter(torch.empty(dim + 1, dim))
        self.w_2 = nn.Parameter(torch.empty(dim, 1))
        self.w_3 = nn.Parameter(torch.empty(2 * dim, dim))
        self.dropout = dropout
        self.act = act

    def forward(
        self, self_vectors: torch.Tensor, neighbors: torch.Tensor, weights: torch.Tensor, session: torch.Tensor
    ) -> torch.Tensor:
        """``self_vectors`` (B, M, d), ``neighbors`` (B, M, S, d), ``weights`` (B, M, S), ``session`` (B, d)."""
        gated = torch.cat([session[:, None, None, :] * neighbors, weights[..., None]], dim=-1)
        pi = torch.softmax((F.leaky_relu(gated @ self.w_1, 0.2) @ self.w_2).squeeze(-1), dim=-1)
        pooled = (pi[..., None] * neighbors).sum(dim=2)
        out = F.dropout(torch.cat([self_vectors, pooled], dim=-1), self.dropout, training=self.training)
        return self.act(out @ self.w_3)


class GCEGNNNetwork(nn.Module):
    """Embeddings, both aggregations, the sum of their outputs and the position-aware readout.

    The embedding table has ``n_items + 1`` rows; row ``n_items`` is the padding item (the code's
    item 0). ``neighbor_table``/``neighbor_weight`` (n_items + 1, S) are buffers.
    """

    def __init__(
        self,
        n_items: int,
        dim: int,
        n_iter: int,
        neighbor_table: torch.Tensor,
        neighbor_weight: torch.Tensor,
        dropout_local: float,
        dropout_global: float,
        dropout_gcn: float,
        activation: str,
        alpha: float,
        max_position: int = 200,
    ) -> None:
        super().__init__()
        self.n_items, self.dim, self.n_iter = n_items, dim, n_iter
        self.dropout_local, self.dropout_global = dropout_local, dropout_global
        self.register_buffer("neighbor_table", neighbor_table)
        self.register_buffer("neighbor_weight", neighbor_weight)
        act = torch.relu if activation == "relu" else torch.tanh
        self.local_agg = LocalAggregator(dim, alpha)
        self.global_agg = nn.ModuleList(GlobalAggregator(dim, dropout_gcn, act) for _ in range(n_iter))
        self.embedding = nn.Embedding(n_items + 1, dim)
        self.pos_embedding = nn.Embedding(max_position, dim)
        self.w_1 = nn.Parameter(torch.empty(2 * dim, dim))
        self.w_2 = nn.Parameter(torch.empty(dim, 1))
        self.glu1 = nn.Linear(dim, dim)
        self.glu2 = nn.Linear(dim, dim, bias=False)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """The authors' ``reset_parameters`` (:func:`~sessrec_baselines.common.uniform_reset`)."""
        uniform_reset(self, self.dim)

    def global_states(self, items: torch.Tensor, session: torch.Tensor) -> torch.Tensor:
        """Global-level representation (R, d) of ``items`` (R,), each in the context of its session vector (R, d)."""
        width = self.neighbor_table.shape[1]
        frontier, weights = [items[:, None]], []  # items of each hop, (R, S^h)
        for _ in range(self.n_iter):
            weights.append(self.neighbor_weight[frontier[-1]].flatten(1))
            frontier.append(self.neighbor_table[frontier[-1]].flatten(1))
        vectors = [self.embedding(f) for f in frontier]  # (R, S^h, d)
        n_rows = items.shape[0]
        for n_hop in range(self.n_iter):
            agg = self.global_agg[n_hop]
            vectors = [
                agg(
                    vectors[hop],
                    vectors[hop + 1].view(n_rows, -1, width, self.dim),
                    weights[hop].view(n_rows, -1, width),
                    session,
                )
                for hop in range(self.n_iter - n_hop)
            ]
        return vectors[0][:, 0, :]

    def sequence_states(self, g: GCESessionGraphs) -> torch.Tensor:
        """Item representations (B, L, d) at the reversed positions of ``g``: local + global of each node.

        Global vectors are computed for the real nodes only, packed to ``(M, d)``.
        """
        h_local = self.local_agg(self.embedding(g.nodes), g.edge_type)
        h_local = F.dropout(h_local, self.dropout_local, training=self.training)
        n_rows, n_nodes = g.nodes.shape
        emb = self.embedding(g.reversed_items) * g.mask[..., None]
        session = emb.sum(1) / g.mask.sum(1, keepdim=True)  # (B, d): mean of the clicks' embeddings
        rows = torch.arange(n_rows, device=g.nodes.device)[:, None].expand(n_rows, n_nodes)[g.node_mask]
        packed = self.global_states(g.nodes[g.node_mask], session[rows])
        h_global = packed.new_zeros(n_rows, n_nodes, self.dim)
        h_global[g.node_mask] = F.dropout(packed, self.dropout_global, training=self.training)
        hidden = h_local + h_global
        return torch.gather(hidden, 1, g.alias[..., None].expand(-1, -1, self.dim))

    def session_representation(self, g: GCESessionGraphs) -> torch.Tensor:
        """Position-aware soft attention (paper eqs. 12-14) -> (B, d)."""
        hidden = self.sequence_states(g)
        mask = g.mask[..., None].float()
        pos = self.pos_embedding.weight[: hidden.shape[1]][None].expand(hidden.shape[0], -1, -1)
        hs = (hidden * mask).sum(1) / mask.sum(1)
        nh = torch.tanh(torch.cat([pos, hidden], dim=-1) @ self.w_1)
        nh = torch.sigmoid(self.glu1(nh) + self.glu2(hs)[:, None, :])
        beta = (nh @ self.w_2) * mask
        return (beta * hidden).sum(1)

    def decode(self, reps: torch.Tensor) -> torch.Tensor:
        """Scores (B, n_items) against every real item's embedding (padding row excluded)."""
        return reps @ self.embedding.weight[: self.n_items].T
