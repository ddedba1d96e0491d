"""GCE-GNN: worked examples of the global graph, the session graph, both aggregators and the readout.

References are hand computations and plain numpy, never the model itself.
"""

from __future__ import annotations

import math
from importlib import resources

import numpy as np
import pytest
import tomllib
import torch
from sessrec_baselines._gcegnn_graph import global_graph, sample_neighbors, session_graphs
from sessrec_baselines._gcegnn_network import GCEGNNNetwork, GlobalAggregator, LocalAggregator
from sessrec_baselines.gcegnn import GCEGNN

from sessrec.data.sessions import PrefixBatch, Sessions

TINY = {"hidden_size": 8, "batch_size": 32, "lr": 0.01, "n_iter": 1, "n_neighbors": 3, "device": "cpu"}


def test_global_graph_of_a_tiny_training_set_by_hand() -> None:
    """Sessions [0, 1, 2] and [2, 1, 3, 1], pairs up to 3 clicks apart, both directions.

    [0, 1, 2]:    k=1 (0,1) (1,2); k=2 (0,2)
    [2, 1, 3, 1]: k=1 (2,1) (1,3) (3,1); k=2 (2,3) (1,1); k=3 (2,1)
    counts (undirected, each pair counted both ways; (1,1) twice for item 1):
      item 0: 1:1, 2:1                      -> [1, 2]   (tie: first seen first)
      item 1: 0:1, 2:3, 3:2, 1:2            -> [2, 3, 1, 0] -> top 3 [2, 3, 1]
      item 2: 1:3, 0:1, 3:1                 -> [1, 0, 3]
      item 3: 1:2, 2:1                      -> [1, 2]
    Ties: item 1's 3 (count 2, first seen in (1,3) at k=1) before 1 (count 2, first at k=2).
    """
    train = Sessions.from_lists([[0, 1, 2], [2, 1, 3, 1]], n_items=5)
    neighbors, counts = global_graph(train, hops=3, n_neighbors=3)
    assert [n.tolist() for n in neighbors] == [[1, 2], [2, 3, 1], [1, 0, 3], [1, 2], []]
    assert [c.tolist() for c in counts] == [[1, 1], [3, 2, 2], [3, 1, 1], [2, 1], []]
    one_hop, one_counts = global_graph(train, hops=1, n_neighbors=12)
    # k = 1 only: 0-1, 1-2 (x2: once in each session), 1-3 (x2)
    assert [n.tolist() for n in one_hop] == [[1], [2, 3, 0], [1], [1], []]
    assert [c.tolist() for c in one_counts] == [[1], [2, 2, 1], [2], [2], []]


def test_global_graph_equals_the_authors_loops_on_random_sessions() -> None:
    rng = np.random.default_rng(0)
    seqs = [rng.integers(0, 9, size=rng.integers(1, 8)).tolist() for _ in range(40)]
    train = Sessions.from_lists(seqs, n_items=9)
    neighbors, counts = global_graph(train, hops=3, n_neighbors=4)
    # the authors' build_graph.py, written out with plain dicts
    relation = []
    for data in seqs:
        for k in range(1, 4):
            for j in range(len(data) - k):
                relation.append([data[j], data[j + k]])
                relation.append([data[j + k], data[j]])
    adj: list[dict[int, int]] = [{} for _ in range(9)]
    for a, b in relation:
        adj[a][b] = adj[a].get(b, 0) + 1
    for t in range(9):
        ranked = sorted(adj[t].items(), reverse=True, key=lambda x: x[1])[:4]
        assert neighbors[t].tolist() == [v[0] for v in ranked]
        assert counts[t].tolist() == [v[1] for v in ranked]


def test_neighbour_sampling_like_handle_adj() -> None:
    neighbors = [np.array([1, 2]), np.array([0, 2, 3]), np.zeros(0, dtype=np.int64), np.array([1])]
    counts = [np.array([5, 1]), np.array([2, 2, 1]), np.zeros(0, dtype=np.int64), np.array([7])]
    table, weight = sample_neighbors(neighbors, counts, 3, pad=4, rng=np.random.default_rng(0))
    assert table.shape == (5, 3)
    assert sorted(table[1].tolist()) == [0, 2, 3]  # as many as kept: a permutation
    assert set(table[0].tolist()) <= {1, 2}  # fewer: drawn with replacement
    assert table[3].tolist() == [1, 1, 1] and weight[3].tolist() == [7, 7, 7]
    assert table[2].tolist() == [4, 4, 4] and weight[2].tolist() == [0, 0, 0]  # none: padding
    assert table[4].tolist() == [4, 4, 4]
    lookup = {1: 5, 2: 1}
    assert [lookup[i] for i in table[0]] == weight[0].tolist()


def test_session_graph_of_5_3_5_2_by_hand() -> None:
    """Read backwards: 2, 5, 3, 5. Nodes (2, 3, 5). Steps 2->5, 5->3, 3->5.

    2->5: adj[2,5] = 2, adj[5,2] = 3; 5->3: adj[5,3] = 2, adj[3,5] = 3; 3->5: adj[5,3] was 2 -> 4 both ways.
    Diagonal 1 for every node.
    """
    batch = PrefixBatch.from_lists([[5, 3, 5, 2], [6]])
    g = session_graphs(batch.items, batch.lengths, pad=9)
    assert g.reversed_items.tolist() == [[2, 5, 3, 5], [6, 9, 9, 9]]
    assert g.nodes.tolist() == [[2, 3, 5], [6, 9, 9]]
    assert g.alias.tolist() == [[0, 2, 1, 2], [0, 0, 0, 0]]
    assert g.edge_type[0].tolist() == [[1, 0, 2], [0, 1, 4], [3, 4, 1]]
    assert g.edge_type[1].tolist() == [[1, 0, 0], [0, 0, 0], [0, 0, 0]]


def test_local_aggregator_by_hand() -> None:
    """d = 1, nodes h = (1, 2), edge types [[1, 2], [3, 0]], a = (1, -1, 0.5, 0), slope 0.2.

    row 0: e_00 = lrelu(1 * 1 * 1) = 1, e_01 = lrelu(-1 * 2) = -0.4 -> softmax -> h' = sum alpha h
    row 1: e_10 = lrelu(0.5 * 2) = 1, e_11 excluded (no edge) -> h'_1 = h_0 = 1
    """
    agg = LocalAggregator(1, 0.2)
    with torch.no_grad():
        agg.a.copy_(torch.tensor([[1.0], [-1.0], [0.5], [0.0]]))
    out = agg(torch.tensor([[[1.0], [2.0]]]), torch.tensor([[[1, 2], [3, 0]]]))[0, :, 0]
    w0 = math.exp(1.0) / (math.exp(1.0) + math.exp(-0.4))
    np.testing.assert_allclose(out.detach().numpy(), [w0 * 1 + (1 - w0) * 2, 1.0], rtol=1e-6)


def test_global_aggregator_by_numpy() -> None:
    torch.manual_seed(0)
    agg = GlobalAggregator(3, 0.0, torch.relu).eval()
    for p in agg.parameters():
        torch.nn.init.normal_(p)
    own, nb = torch.randn(1, 2, 3), torch.randn(1, 2, 4, 3)
    wt, session = torch.rand(1, 2, 4) * 5, torch.randn(1, 3)
    out = agg(own, nb, wt, session).detach().numpy()
    w1, w2, w3 = (p.detach().numpy() for p in (agg.w_1, agg.w_2, agg.w_3))
    for m in range(2):
        feats = np.concatenate([session.numpy()[0] * nb.numpy()[0, m], wt.numpy()[0, m][:, None]], axis=1)
        pre = feats @ w1
        e = (np.where(pre > 0, pre, 0.2 * pre) @ w2)[:, 0]
        pi = np.exp(e - e.max()) / np.exp(e - e.max()).sum()
        pooled = pi @ nb.numpy()[0, m]
        expected = np.maximum(np.concatenate([own.numpy()[0, m], pooled]) @ w3, 0)
        np.testing.assert_allclose(out[0, m], expected, rtol=1e-5, atol=1e-6)


def _network() -> GCEGNNNetwork:
    torch.manual_seed(0)
    table = torch.tensor([[1, 2], [0, 2], [0, 1], [6, 6], [5, 5], [4, 4], [6, 6]])
    weight = torch.tensor([[2.0, 1], [2, 3], [1, 3], [0, 0], [1, 1], [2, 2], [0, 0]])
    return GCEGNNNetwork(6, 4, 1, table, weight, 0.0, 0.0, 0.0, "relu", 0.2).eval()


def test_sum_of_local_and_global_per_node() -> None:
    """Prefix 2 -> 0 -> 2 -> 1: reversed 1, 2, 0, 2; nodes (0, 1, 2); position p reads node alias[p].

    The global vector of a node is its item's, in the context of the session's mean embedding,
    aggregated over its two sampled neighbours (one layer): computed here with the aggregator
    called on hand-built inputs.
    """
    net = _network()
    batch = PrefixBatch.from_lists([[2, 0, 2, 1]])
    g = session_graphs(batch.items, batch.lengths, pad=6)
    assert g.alias.tolist() == [[1, 2, 0, 2]]
    seq = net.sequence_states(g)[0].detach()
    local = net.local_agg(net.embedding(g.nodes), g.edge_type)[0].detach()
    emb = net.embedding.weight.detach()
    session = emb[[2, 0, 2, 1]].mean(0)
    table = {0: [1, 2], 1: [0, 2], 2: [0, 1]}
    weights = {0: [2.0, 1.0], 1: [2.0, 3.0], 2: [1.0, 3.0]}
    agg = net.global_agg[0]
    for p, node in enumerate([1, 2, 0, 2]):
        glob = agg(
            emb[node][None, None, :],
            emb[table[node]][None, None, :, :],
            torch.tensor(weights[node])[None, None, :],
            session[None, :],
        )[0, 0].detach()
        torch.testing.assert_close(seq[p], local[node] + glob)


def test_readout_by_numpy() -> None:
    net = _network()
    batch = PrefixBatch.from_lists([[3, 4, 5, 3]])
    g = session_graphs(batch.items, batch.lengths, pad=6)
    rep = net.session_representation(g)[0].detach().numpy()
    h = net.sequence_states(g)[0].detach().numpy()
    w = {k: v.detach().numpy() for k, v in net.state_dict().items()}
    hs = h.mean(0)
    nh = np.tanh(np.concatenate([w["pos_embedding.weight"][:4], h], axis=1) @ w["w_1"])
    nh = 1 / (1 + np.exp(-(nh @ w["glu1.weight"].T + w["glu1.bias"] + hs @ w["glu2.weight"].T)))
    beta = nh @ w["w_2"]
    np.testing.assert_allclose(rep, (beta * h).sum(0), rtol=1e-5, atol=1e-6)


def _train() -> Sessions:
    rng = np.random.default_rng(0)
    seqs = [[int(a), int(a + 1) % 12, int(a + 2) % 12, int(a + 3) % 12] for a in rng.integers(0, 12, size=120)]
    return Sessions.from_lists(seqs, n_items=12)


def test_learns_a_sequence_and_keeps_the_last_epoch() -> None:
    params = {**TINY, "lr": 0.03, "lr_dc": 1.0, "dropout_global": 0.0, "dropout_gcn": 0.0}
    model = GCEGNN(**params, epochs=8, random_state=0, keep="last").fit(_train(), valid=_train())
    assert model.best_epoch_ == 7
    scores = model.score(PrefixBatch.from_lists([[3, 4], [10, 11, 0]]))
    assert scores.argmax(dim=1).tolist() == [5, 1]


def test_named_parameter_sets_and_space() -> None:
    assert set(GCEGNN.param_set_names()) >= {"authors-diginetica", "authors-tmall", "authors-nowplaying"}
    assert GCEGNN.named_params("authors-tmall")["dropout_local"] == 0.5
    digi = GCEGNN.named_params("authors-diginetica")
    defaults = GCEGNN().get_params()
    assert all(defaults[k] == v for k, v in digi.items() if k != "keep")
    with (resources.files("sessrec_baselines") / "spaces" / "gcegnn.toml").open("rb") as fh:
        space = tomllib.load(fh)
    assert "GCE-GNN" in space.pop("source")
    for name, spec in space.items():
        assert name in defaults and spec["type"] in ("int", "float", "categorical")


@pytest.mark.parametrize(("param", "value"), [("n_iter", 0), ("dropout_gcn", 1.0), ("activation", "gelu")])
def test_bad_parameters_say_what_is_wrong(param: str, value: object) -> None:
    with pytest.raises(ValueError, match=param):
        GCEGNN(**{**TINY, param: value}).fit(_train())


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")
def test_cuda_fit_and_score() -> None:
    model = GCEGNN(**{**TINY, "device": "cuda"}, epochs=2, random_state=0).fit(_train())
    scores = model.score(PrefixBatch.from_lists([[3, 4], [1]]))
    assert scores.device.type == "cuda" and scores.shape == (2, 12)
