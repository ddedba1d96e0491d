"""GCE-GNN's graphs: the global item graph of the training sessions and the batched session graphs.

Global graph (the authors' ``build_graph.py`` and ``utils.handle_adj``): for every training
session and every ``k = 1 .. hops``, each pair ``(x_j, x_{j+k})`` is counted in both directions
(self pairs included when an item repeats ``k`` clicks apart). Each item's neighbours are
sorted by count, descending; equal counts keep the order in which the pairs were first seen
(Python's stable sort over an insertion-ordered dict); the first ``n_neighbors`` are kept. Then
every item draws ``n_neighbors`` of its kept neighbours: a random permutation when it has
``n_neighbors`` of them, with replacement when it has fewer. An item without neighbours gets
the padding item with weight 0.

Session graph (the authors' ``Data.__getitem__``) of a prefix read *backwards* (last click
first): nodes are the distinct items; ``adj[u, u] = 1`` for every node; for consecutive clicks
``u, v`` of the reversed sequence, ``u != v``: ``adj[u, v] = 2, adj[v, u] = 3``, or ``4`` both ways
when the pair occurs in both directions. ``0`` = no edge.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from sessrec.data.sessions import Sessions

__all__ = ["GCESessionGraphs", "global_graph", "sample_neighbors", "session_graphs"]


def _pairs(sessions: Sessions, hops: int) -> tuple[np.ndarray, np.ndarray]:
    """All counted pairs ``(a, b)`` in the order the authors' loops append them."""
    items, offsets, lengths = sessions.items, sessions.offsets, sessions.lengths
    chunks_a, chunks_b, keys = [], [], []
    for k in range(1, hops + 1):
        ok = lengths > k
        n_pairs = np.where(ok, lengths - k, 0)
        session = np.repeat(np.arange(len(lengths)), n_pairs)
        j = np.arange(n_pairs.sum()) - np.repeat(np.cumsum(n_pairs) - n_pairs, n_pairs)
        first, second = items[offsets[session] + j], items[offsets[session] + j + k]
        chunks_a.append(np.stack([first, second], axis=1).ravel())  # (a, b) then (b, a)
        chunks_b.append(np.stack([second, first], axis=1).ravel())
        # authors' order: session-major, then k, then j, then the two directions
        keys.append(np.stack([(session * (hops + 1) + k) * (lengths.max() + 1) + j] * 2, axis=1).ravel())
    a, b, key = np.concatenate(chunks_a), np.concatenate(chunks_b), np.concatenate(keys)
    order = np.argsort(key, kind="stable")
    return a[order], b[order]


def global_graph(sessions: Sessions, hops: int, n_neighbors: int) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Top ``n_neighbors`` neighbours and their counts per item, as the authors' ``build_graph.py``.

    Returns
    -------
    neighbors, counts : list of ndarray, one per item (``sessions.n_items`` entries)
        Neighbours sorted by count descending, ties in order of first appearance.
    """
    n_items = sessions.n_items
    a, b = _pairs(sessions, hops)
    empty = [np.zeros(0, dtype=np.int64) for _ in range(n_items)]
    if len(a) == 0:
        return empty, [x.copy() for x in empty]
    pair = a.astype(np.int64) * n_items + b
    uniq, first_seen, count = np.unique(pair, return_index=True, return_counts=True)
    src, dst = uniq // n_items, uniq % n_items
    order = np.lexsort((first_seen, -count, src))
    src, dst, count = src[order], dst[order], count[order]
    starts = np.searchsorted(src, np.arange(n_items))
    ends = np.searchsorted(src, np.arange(n_items), side="right")
    neighbors = [dst[s : min(e, s + n_neighbors)] for s, e in zip(starts, ends)]
    counts = [count[s : min(e, s + n_neighbors)] for s, e in zip(starts, ends)]
    return neighbors, counts


def sample_neighbors(
    neighbors: list[np.ndarray], counts: list[np.ndarray], n_neighbors: int, pad: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """``(n_items + 1, n_neighbors)`` neighbour and weight tables as the authors' ``handle_adj``.

    Row ``pad`` (the padding item) and items without neighbours point at ``pad`` with weight 0.
    """
    table = np.full((len(neighbors) + 1, n_neighbors), pad, dtype=np.int64)
    weight = np.zeros((len(neighbors) + 1, n_neighbors), dtype=np.float32)
    for item, (nb, ct) in enumerate(zip(neighbors, counts)):
        if len(nb) == 0:
            continue
        pick = rng.choice(len(nb), size=n_neighbors, replace=len(nb) < n_neighbors)
        table[item], weight[item] = nb[pick], ct[pick]
    return table, weight


@dataclass(frozen=True)
class GCESessionGraphs:
    """Session graphs of ``B`` prefixes, positions reversed (position 0 = the last click).

    Attributes
    ----------
    reversed_items : LongTensor (B, L)
        Prefix items, last click first; padding positions hold ``pad``.
    mask : BoolTensor (B, L)
        True at real positions.
    nodes : LongTensor (B, N)
        Distinct items in increasing order; padding nodes hold ``pad``.
    node_mask : BoolTensor (B, N)
        True for real nodes.
    alias : LongTensor (B, L)
        Node of every reversed position (0 at padding positions).
    edge_type : LongTensor (B, N, N)
        0 none, 1 self, 2 / 3 the two directions of a one-way pair, 4 a pair seen both ways.
    """

    reversed_items: torch.Tensor
    mask: torch.Tensor
    nodes: torch.Tensor
    node_mask: torch.Tensor
    alias: torch.Tensor
    edge_type: torch.Tensor


def session_graphs(items: torch.Tensor, lengths: torch.Tensor, pad: int) -> GCESessionGraphs:
    """Graphs of right-padded prefixes ``items`` (B, L) with ``lengths`` (B,) >= 1."""
    from ._srgnn_graph import _nodes_and_alias

    width = items.shape[1]
    pos = torch.arange(width, device=items.device)[None, :]
    mask = pos < lengths[:, None]
    source = (lengths[:, None] - 1 - pos).clamp(min=0)
    rev = torch.where(mask, items.gather(1, source), torch.full_like(items, pad))
    nodes, node_mask, alias = _nodes_and_alias(rev, mask)
    nodes = torch.where(node_mask, nodes, torch.full_like(nodes, pad))
    n_rows, n_nodes = nodes.shape
    forward = torch.zeros(n_rows, n_nodes, n_nodes, dtype=torch.bool, device=items.device)
    if width > 1:
        step = mask[:, 1:]
        rows = torch.arange(n_rows, device=items.device)[:, None].expand_as(step)
        forward[rows[step], alias[:, :-1][step], alias[:, 1:][step]] = True
    eye = torch.eye(n_nodes, dtype=torch.bool, device=items.device)[None]
    forward = forward & ~eye
    backward = forward.transpose(1, 2)
    edge = torch.zeros(n_rows, n_nodes, n_nodes, dtype=torch.long, device=items.device)
    edge[forward] = 2
    edge[backward] = 3
    edge[forward & backward] = 4
    edge[eye & node_mask[:, :, None]] = 1
    return GCESessionGraphs(rev, mask, nodes, node_mask, alias, edge)
