"""Batched session graphs of SR-GNN, built without a Python loop over sessions.

For a prefix ``x_1 .. x_t`` the session graph has one node per distinct item (nodes in
increasing item order, as ``np.unique`` orders them in the authors' ``Data.get_slice``) and a
directed edge ``u -> v`` whenever ``v`` directly follows ``u`` somewhere in the prefix; repeated
transitions count once (the authors set ``u_A[u][v] = 1``). With ``A`` the binary adjacency::

    adj_in[v, u]  = A[u, v] / max(1, in-degree of v)      (rows: incoming messages of v)
    adj_out[u, v] = A[u, v] / max(1, out-degree of u)     (rows: outgoing messages of u)

which are the two halves of the authors' ``(N, 2N)`` matrix
``concatenate([A / sum_in, A.T / sum_out]).T``.

Everything is a dense, right-padded tensor: ``N`` is the largest number of distinct items
in the batch. ``tests/perf/gnn_graph_layout.py`` compares this layout with one block-diagonal
sparse adjacency per mini-batch (see the notes of :class:`sessrec_baselines.srgnn.SRGNN`).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

__all__ = ["SessionGraphs", "session_graphs"]


@dataclass(frozen=True)
class SessionGraphs:
    """Session graphs of a batch of ``B`` prefixes with at most ``N`` distinct items.

    Attributes
    ----------
    nodes : LongTensor (B, N)
        Item of every node, in increasing item order; padding nodes hold item 0.
    node_mask : BoolTensor (B, N)
        True for real nodes.
    alias : LongTensor (B, L)
        Node of every click position; padding positions point at node 0.
    adj_in, adj_out : FloatTensor (B, N, N)
        Normalised incoming / outgoing adjacency (see the module docstring).
    binary : FloatTensor (B, N, N)
        ``A[b, u, v] = 1`` when item ``nodes[b, v]`` directly follows ``nodes[b, u]``.
    """

    nodes: torch.Tensor
    node_mask: torch.Tensor
    alias: torch.Tensor
    adj_in: torch.Tensor
    adj_out: torch.Tensor
    binary: torch.Tensor


def _nodes_and_alias(items: torch.Tensor, valid: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Distinct items per row (sorted) and each position's node; ``items`` (B, L), ``valid`` (B, L) bool."""
    big = torch.iinfo(torch.long).max
    filled = torch.where(valid, items, torch.full_like(items, big))
    ordered, order = filled.sort(dim=1)
    first = torch.ones_like(ordered, dtype=torch.bool)
    first[:, 1:] = ordered[:, 1:] != ordered[:, :-1]
    rank = torch.cumsum(first.long(), dim=1) - 1  # node of each sorted position
    alias = torch.empty_like(rank).scatter_(1, order, rank)
    alias = torch.where(valid, alias, torch.zeros_like(alias))
    real_first = first & (ordered != big)
    n_nodes = int(real_first.sum(dim=1).max()) if items.shape[0] else 0
    nodes = items.new_zeros(items.shape[0], max(n_nodes, 1))
    node_mask = torch.zeros_like(nodes, dtype=torch.bool)
    rows = torch.arange(items.shape[0], device=items.device)[:, None].expand_as(rank)
    nodes[rows[real_first], rank[real_first]] = ordered[real_first]
    node_mask[rows[real_first], rank[real_first]] = True
    return nodes, node_mask, alias


def session_graphs(items: torch.Tensor, lengths: torch.Tensor) -> SessionGraphs:
    """The session graphs of right-padded prefixes ``items`` (B, L) with ``lengths`` (B,) >= 1.

    Values of ``items`` past a row's length are ignored.
    """
    width = items.shape[1]
    valid = torch.arange(width, device=items.device)[None, :] < lengths[:, None]
    nodes, node_mask, alias = _nodes_and_alias(items, valid)
    n_rows, n_nodes = nodes.shape
    binary = torch.zeros(n_rows, n_nodes, n_nodes, device=items.device)
    if width > 1:
        edge = valid[:, 1:]  # transition t -> t+1 exists
        rows = torch.arange(n_rows, device=items.device)[:, None].expand_as(edge)
        binary[rows[edge], alias[:, :-1][edge], alias[:, 1:][edge]] = 1.0
    in_degree = binary.sum(dim=1).clamp(min=1.0)  # (B, N) indexed by v
    out_degree = binary.sum(dim=2).clamp(min=1.0)  # (B, N) indexed by u
    adj_in = binary.transpose(1, 2) / in_degree[:, :, None]
    adj_out = binary / out_degree[:, :, None]
    return SessionGraphs(nodes, node_mask, alias, adj_in, adj_out, binary)
