"""SR-GNN: worked examples of the session graph, one GGNN step, the readout; options and errors.

References are hand computations and plain numpy, never the model itself.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
import torch
from sessrec_baselines._srgnn_graph import session_graphs
from sessrec_baselines._srgnn_network import GGNN, SRGNNNetwork
from sessrec_baselines.srgnn import SRGNN, step_lr

from sessrec.data.sessions import PrefixBatch, Sessions

TINY = {"hidden_size": 8, "batch_size": 32, "lr": 0.01, "device": "cpu"}


def test_session_graph_of_5_3_5_2_by_hand() -> None:
    """5 -> 3 -> 5 -> 2: nodes (2, 3, 5); edges 5->3, 3->5, 5->2.

    in-degrees: 2: 1 (from 5), 3: 1 (from 5), 5: 1 (from 3); out-degrees: 5: 2, 3: 1, 2: 0.
    adj_in[v, u] = A[u, v] / indeg(v); adj_out[u, v] = A[u, v] / outdeg(u).
    """
    batch = PrefixBatch.from_lists([[5, 3, 5, 2]])
    g = session_graphs(batch.items, batch.lengths)
    assert g.nodes.tolist() == [[2, 3, 5]]
    assert g.alias.tolist() == [[2, 1, 2, 0]]
    a = [[0, 0, 0], [0, 0, 1], [1, 1, 0]]  # rows u, columns v, node order (2, 3, 5)
    adj_in = [[0, 0, 1], [0, 0, 1], [0, 1, 0]]
    adj_out = [[0, 0, 0], [0, 0, 1], [0.5, 0.5, 0]]
    torch.testing.assert_close(g.binary[0], torch.tensor(a, dtype=torch.float32))
    torch.testing.assert_close(g.adj_in[0], torch.tensor(adj_in, dtype=torch.float32))
    torch.testing.assert_close(g.adj_out[0], torch.tensor(adj_out, dtype=torch.float32))


def test_session_graph_repeats_and_padding_by_hand() -> None:
    """Second row 4 -> 4 -> 1 -> 4 -> 1 (self loop, repeated 4->1 counted once) padded next to row 1."""
    batch = PrefixBatch.from_lists([[7], [4, 4, 1, 4, 1]])
    g = session_graphs(batch.items, batch.lengths)
    assert g.nodes.tolist() == [[7, 0], [1, 4]]
    assert g.node_mask.tolist() == [[True, False], [True, True]]
    assert g.alias.tolist() == [[0, 0, 0, 0, 0], [1, 1, 0, 1, 0]]
    # edges (nodes 1 -> index 0, 4 -> index 1): 4->4, 4->1, 1->4
    torch.testing.assert_close(g.binary[1], torch.tensor([[0.0, 1.0], [1.0, 1.0]]))
    # indeg: node1: 1 (from 4); node4: 2 (from 4 and 1).  outdeg: node1: 1; node4: 2
    torch.testing.assert_close(g.adj_in[1], torch.tensor([[0.0, 1.0], [0.5, 0.5]]))
    torch.testing.assert_close(g.adj_out[1], torch.tensor([[0.0, 1.0], [0.5, 0.5]]))
    assert float(g.binary[0].abs().sum()) == 0.0


def _authors_loop(prefix: list[int]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The authors' per-session construction (``Data.get_slice``), in numpy, for one prefix."""
    node = np.unique(prefix)
    u_a = np.zeros((len(node), len(node)))
    for i in range(len(prefix) - 1):
        u = np.where(node == prefix[i])[0][0]
        v = np.where(node == prefix[i + 1])[0][0]
        u_a[u][v] = 1
    sum_in = u_a.sum(0)
    sum_in[sum_in == 0] = 1
    sum_out = u_a.sum(1)
    sum_out[sum_out == 0] = 1
    combined = np.concatenate([u_a / sum_in, u_a.T / sum_out]).T  # (N, 2N) as the authors build it
    return node, combined[:, : len(node)], combined[:, len(node) :]


def test_batched_graphs_equal_the_authors_loop_on_random_prefixes() -> None:
    rng = np.random.default_rng(0)
    prefixes = [rng.integers(0, 6, size=rng.integers(1, 9)).tolist() for _ in range(50)]
    batch = PrefixBatch.from_lists(prefixes)
    g = session_graphs(batch.items, batch.lengths)
    for b, prefix in enumerate(prefixes):
        node, adj_in, adj_out = _authors_loop(prefix)
        n = len(node)
        assert g.nodes[b, :n].tolist() == node.tolist()
        assert not g.node_mask[b, n:].any()
        np.testing.assert_allclose(g.adj_in[b, :n, :n].numpy(), adj_in)
        np.testing.assert_allclose(g.adj_out[b, :n, :n].numpy(), adj_out)
        assert [int(node[i]) for i in g.alias[b, : len(prefix)]] == prefix


def test_one_ggnn_step_by_hand() -> None:
    """d = 1, session 5 -> 3 -> 5 -> 2, node states h = (0.5, 1.0, -1.0) for items (2, 3, 5).

    Weights: edge linears 1 (bias 0), b_iah = b_oah = 0; w_ih rows (1, 0), (0, 1), (1, 1)
    [reset, update, candidate], w_hh = (0, 0, 1), biases 0. So
    a_in = adj_in h = (-1, -1, 1); a_out = adj_out h = (0, -1, 0.75);
    r = sig(a_in); z = sig(a_out); n = tanh(a_in + a_out + r * h); h' = (1 - z) n + z h.
    """
    net = GGNN(1, step=1)
    with torch.no_grad():
        for p in net.parameters():
            p.zero_()
        net.linear_edge_in.weight.fill_(1.0)
        net.linear_edge_out.weight.fill_(1.0)
        net.w_ih.copy_(torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]]))
        net.w_hh.copy_(torch.tensor([[0.0], [0.0], [1.0]]))
    batch = PrefixBatch.from_lists([[5, 3, 5, 2]])
    g = session_graphs(batch.items, batch.lengths)
    h = torch.tensor([[[0.5], [1.0], [-1.0]]])
    out = net(g.adj_in, g.adj_out, h)[0, :, 0].detach().numpy()

    def sig(x: float) -> float:
        return 1.0 / (1.0 + math.exp(-x))

    expected = []
    for h_v, a_in, a_out in [(0.5, -1.0, 0.0), (1.0, -1.0, -1.0), (-1.0, 1.0, 0.75)]:
        r, z = sig(a_in), sig(a_out)
        n = math.tanh(a_in + a_out + r * h_v)
        expected.append((1 - z) * n + z * h_v)
    np.testing.assert_allclose(out, expected, rtol=1e-6)
    # node 0 (item 2): r = sig(-1) = 0.268941, z = 0.5, n = tanh(-1 + 0.134471) = -0.699096
    np.testing.assert_allclose(out[0], 0.5 * -0.699096 + 0.25, atol=1e-6)


def test_biases_follow_the_authors_placement() -> None:
    """Edge-linear bias is inside the adjacency product, b_iah outside: a node without in-edges gets only b_iah."""
    net = GGNN(1, step=1)
    with torch.no_grad():
        for p in net.parameters():
            p.zero_()
        net.linear_edge_in.bias.fill_(2.0)
        net.b_iah.fill_(0.5)
        net.w_ih.copy_(torch.tensor([[0.0, 0.0], [0.0, 0.0], [1.0, 0.0]]))  # candidate = tanh(a_in)
    batch = PrefixBatch.from_lists([[1, 2]])  # node 1 has no in-edge, node 2 one from node 1
    g = session_graphs(batch.items, batch.lengths)
    out = net(g.adj_in, g.adj_out, torch.zeros(1, 2, 1))[0, :, 0].detach().numpy()
    # z = sig(0) = 0.5, h = 0: h' = 0.5 tanh(a_in); a_in = (0.5, 2 + 0.5)
    np.testing.assert_allclose(out, [0.5 * math.tanh(0.5), 0.5 * math.tanh(2.5)], rtol=1e-6)


def test_readout_hybrid_and_nonhybrid_by_numpy() -> None:
    torch.manual_seed(0)
    for nonhybrid in (False, True):
        net = SRGNNNetwork(6, 3, 1, nonhybrid).eval()
        batch = PrefixBatch.from_lists([[5, 3, 5, 2], [1, 4]])
        g = session_graphs(batch.items, batch.lengths)
        reps = net.session_representation(g, batch.lengths).detach().numpy()
        hidden = net.node_states(g).detach().numpy()
        w = {k: v.detach().numpy() for k, v in net.state_dict().items()}
        for b, length in enumerate([4, 2]):
            seq = hidden[b, g.alias[b, :length].numpy()]
            last = seq[-1]
            pre = last @ w["linear_one.weight"].T + w["linear_one.bias"] + seq @ w["linear_two.weight"].T
            alpha = (1 / (1 + np.exp(-(pre + w["linear_two.bias"])))) @ w["linear_three.weight"][0]
            s_g = alpha @ seq
            if not nonhybrid:
                s_g = np.concatenate([s_g, last]) @ w["linear_transform.weight"].T + w["linear_transform.bias"]
            np.testing.assert_allclose(reps[b], s_g, rtol=1e-5, atol=1e-6)
        scores = net.decode(torch.from_numpy(reps)).detach().numpy()
        np.testing.assert_allclose(scores, reps @ w["embedding.weight"].T, rtol=1e-5, atol=1e-6)


def test_init_is_uniform_one_over_sqrt_d() -> None:
    torch.manual_seed(0)
    net = SRGNNNetwork(50, 16, 1, False)
    values = torch.cat([p.detach().flatten() for p in net.parameters()])
    assert float(values.abs().max()) <= 0.25
    assert float(values.abs().max()) > 0.24
    assert abs(float(values.mean())) < 0.01


def test_learning_rate_schedules() -> None:
    assert [step_lr(1e-3, 0.1, 3, e, "code") for e in range(6)] == pytest.approx([1e-3, 1e-3, 1e-4, 1e-4, 1e-4, 1e-5])
    assert [step_lr(1e-3, 0.1, 3, e, "paper") for e in range(4)] == pytest.approx([1e-3, 1e-3, 1e-3, 1e-4])
    # the code's timing as torch's StepLR stepped before each epoch gives it
    opt = torch.optim.Adam([torch.nn.Parameter(torch.zeros(1))], lr=1e-3)
    sched = torch.optim.lr_scheduler.StepLR(opt, step_size=3, gamma=0.1)
    seen = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # the code steps the scheduler before the optimizer
        for _ in range(7):
            sched.step()
            seen.append(opt.param_groups[0]["lr"])
    assert seen == pytest.approx([step_lr(1e-3, 0.1, 3, e, "code") for e in range(7)])


def _train() -> Sessions:
    rng = np.random.default_rng(0)
    seqs = [[int(a), int(a + 1) % 12, int(a + 2) % 12, int(a + 3) % 12] for a in rng.integers(0, 12, size=120)]
    return Sessions.from_lists(seqs, n_items=12)


def test_learns_a_sequence_and_keeps_the_last_epoch() -> None:
    params = {**TINY, "lr": 0.03, "lr_dc": 1.0}
    model = SRGNN(**params, epochs=6, random_state=0, keep="last").fit(_train(), valid=_train())
    assert model.best_epoch_ == 5
    assert "valid_recall@20" not in model.history_[-1]
    scores = model.score(PrefixBatch.from_lists([[3, 4], [10, 11, 0]]))
    assert scores.argmax(dim=1).tolist() == [5, 1]


def test_validation_split_by_time_selects_an_epoch() -> None:
    model = SRGNN(**TINY, epochs=3, random_state=0, valid_split="time", patience=1).fit(_train())
    assert all("valid_recall@20" in h for h in model.history_)
    assert 0 <= model.best_epoch_ < len(model.history_)


def test_named_parameter_sets() -> None:
    assert set(SRGNN.param_set_names()) >= {"authors", "sessionrec-diginetica"}
    tuned = SRGNN.named_params("sessionrec-diginetica")
    assert tuned["lr"] == 1e-4 and tuned["l2"] == 7e-6 and tuned["lr_dc"] == 0.63 and tuned["nonhybrid"] is True
    SRGNN(**SRGNN.named_params("authors"))
    with pytest.raises(Exception, match="no parameter set"):
        SRGNN.named_params("nope")


@pytest.mark.parametrize(
    ("param", "value"),
    [("hidden_size", 0), ("step", 1.5), ("lr_schedule", "cosine"), ("keep", "first"), ("lr", -1.0)],
)
def test_bad_parameters_say_what_is_wrong(param: str, value: object) -> None:
    with pytest.raises(ValueError, match=param):
        SRGNN(**{**TINY, param: value}).fit(_train())


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")
def test_cuda_fit_and_score_match_cpu_graphs() -> None:
    batch = PrefixBatch.from_lists([[5, 3, 5, 2], [1]])
    cpu = session_graphs(batch.items, batch.lengths)
    gpu = session_graphs(batch.items.cuda(), batch.lengths.cuda())
    torch.testing.assert_close(gpu.adj_in.cpu(), cpu.adj_in)
    torch.testing.assert_close(gpu.adj_out.cpu(), cpu.adj_out)
    model = SRGNN(**{**TINY, "device": "cuda"}, epochs=2, random_state=0).fit(_train())
    assert model.score(batch).device.type == "cuda"


def test_search_space_names_real_parameters() -> None:
    from importlib import resources

    import tomllib

    with (resources.files("sessrec_baselines") / "spaces" / "srgnn.toml").open("rb") as fh:
        space = tomllib.load(fh)
    assert "pytorch_code" in space.pop("source")
    names = set(SRGNN().get_params())
    for name, spec in space.items():
        assert name in names
        assert spec["type"] in ("int", "float", "categorical")
        if spec["type"] == "categorical":
            for value in spec["choices"]:
                SRGNN(**{name: value})
        else:
            assert spec["low"] < spec["high"]
