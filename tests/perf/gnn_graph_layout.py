"""SR-GNN's graph layout: padded dense ``(B, N, N)`` adjacency against one block-diagonal sparse matrix.

On the DIGINETICA split (``narm`` protocol, ``test_days=1``) this draws random training
batches of ``--batch-size`` prefixes, as SR-GNN trains, and times for each layout the graph
construction plus one GGNN propagation with its backward pass (hidden size 100). Dense:
:func:`sessrec_baselines._srgnn_graph.session_graphs` and ``bmm``. Sparse: the same graphs'
nodes stacked into one ``(sum N_b, d)`` matrix and the normalised in/out adjacencies as one
block-diagonal sparse COO matrix each, multiplied by ``torch.sparse.mm``. Both give the same
node states (checked). A third variant, the one SR-GNN uses, keeps the dense adjacency
products but runs the per-node layers (edge linears, GRU gates) on the real nodes only.
Prints median milliseconds per batch and the load average::

    python tests/perf/gnn_graph_layout.py --batches 40 --threads 1
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch
from sessrec_baselines._srgnn_graph import session_graphs
from sessrec_baselines._srgnn_network import GGNN
from sessrec_baselines.srgnn import case_batches

from sessrec.data import prepare

RAW = Path(os.environ.get("SESSREC_SHARED", "/work/shared")) / "data/diginetica/train-item-views_combined.csv"


def dense_step(net: GGNN, emb: torch.nn.Embedding, items: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    g = session_graphs(items, lengths)
    out = net(g.adj_in, g.adj_out, emb(g.nodes))
    return out[g.node_mask]


def packed_step(net: GGNN, emb: torch.nn.Embedding, items: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    g = session_graphs(items, lengths)
    out = net(g.adj_in, g.adj_out, emb(g.nodes), g.node_mask)
    return out[g.node_mask]


def sparse_step(net: GGNN, emb: torch.nn.Embedding, items: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    g = session_graphs(items, lengths)  # same node numbering; only the propagation layout differs
    flat = g.node_mask.flatten()
    index = torch.full(flat.shape, -1, dtype=torch.long)
    index[flat] = torch.arange(int(flat.sum()))
    index = index.view_as(g.node_mask)
    n = int(flat.sum())
    b, u, v = g.binary.nonzero(as_tuple=True)
    src, dst = index[b, u], index[b, v]
    in_deg = torch.zeros(n).index_add_(0, dst, torch.ones(len(dst))).clamp(min=1)
    out_deg = torch.zeros(n).index_add_(0, src, torch.ones(len(src))).clamp(min=1)
    adj_in = torch.sparse_coo_tensor(torch.stack([dst, src]), 1.0 / in_deg[dst], (n, n)).coalesce()
    adj_out = torch.sparse_coo_tensor(torch.stack([src, dst]), 1.0 / out_deg[src], (n, n)).coalesce()
    hidden = emb(g.nodes[g.node_mask])
    for _ in range(net.step):
        a_in = torch.sparse.mm(adj_in, net.linear_edge_in(hidden)) + net.b_iah
        a_out = torch.sparse.mm(adj_out, net.linear_edge_out(hidden)) + net.b_oah
        gi = torch.nn.functional.linear(torch.cat([a_in, a_out], 1), net.w_ih, net.b_ih)
        gh = torch.nn.functional.linear(hidden, net.w_hh, net.b_hh)
        i_r, i_z, i_n = gi.chunk(3, 1)
        h_r, h_z, h_n = gh.chunk(3, 1)
        r, z = torch.sigmoid(i_r + h_r), torch.sigmoid(i_z + h_z)
        cand = torch.tanh(i_n + r * h_n)
        hidden = cand + z * (hidden - cand)
    return hidden


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--batches", type=int, default=40)
    ap.add_argument("--batch-size", type=int, default=100)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    train = prepare("diginetica", path=str(RAW), test_days=1).train
    net, emb = GGNN(100, 1), torch.nn.Embedding(train.n_items, 100)
    for p in net.parameters():
        torch.nn.init.uniform_(p, -0.1, 0.1)
    batches = []
    for i, (batch, _) in enumerate(
        case_batches(train, args.batch_size, np.random.default_rng(0), torch.device("cpu"))
    ):
        if i >= args.batches:
            break
        batches.append(batch)
    times: dict[str, list[float]] = {"dense": [], "dense, packed node layers": [], "sparse": []}
    for batch in batches:
        a = dense_step(net, emb, batch.items, batch.lengths)
        b = sparse_step(net, emb, batch.items, batch.lengths)
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)
        torch.testing.assert_close(a, packed_step(net, emb, batch.items, batch.lengths), rtol=1e-5, atol=1e-6)
        steps = (("dense", dense_step), ("dense, packed node layers", packed_step), ("sparse", sparse_step))
        for name, fn in steps:  # alternate the layouts
            t0 = time.perf_counter()
            fn(net, emb, batch.items, batch.lengths).sum().backward()
            times[name].append(time.perf_counter() - t0)
    widths = [int(b.lengths.max()) for b in batches]
    print(
        f"# {len(batches)} batches of {args.batch_size} prefixes, longest prefix per batch median "
        f"{statistics.median(widths)}, {args.threads} thread(s), load {os.getloadavg()[0]:.2f}"
    )
    print("| layout | median ms / batch (graph + 1 GGNN step + backward) |")
    print("|---|---|")
    for name, values in times.items():
        print(f"| {name} | {1000 * statistics.median(values):.2f} |")


if __name__ == "__main__":
    sys.exit(main())
