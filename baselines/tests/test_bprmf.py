"""BPR-MF: the SGD step equals the closed-form BPR update; learns co-occurrence; beats POP."""

import numpy as np
from sessrec_baselines.bprmf import BPRMF
from sessrec_baselines.pop import Pop

from sessrec import PrefixBatch, Sessions
from sessrec.evaluation import evaluate
from sessrec.testing import session_oracle


def _sigmoid(x: float) -> float:
    return 1.0 / (1.0 + np.exp(-x))


def test_one_step_is_the_reference_bpr_update():
    # One session [0, 1] over 2 items: click (s0, 0) gets negative 1, click (s0, 1) negative 0
    # (the only other item), so the step is known without knowing the sampler. Both clicks
    # are in one batch: both updates start from the initial parameters and add up.
    train = Sessions.from_lists([[0, 1]], n_items=2)
    params = {"n_factors": 4, "lr": 0.3, "sigma": 0.5, "reg": 0.1, "device": "cpu", "random_state": 3}
    init = BPRMF(epochs=0, **params).fit(train).network_
    u = init.session_factors.weight.detach().double().numpy()[0]
    i0, i1 = init.item_factors.weight.detach().double().numpy()
    lr, reg = 0.3, 0.1
    # reference update (GRU4Rec baselines.BPR.update): c = 1 - sigmoid(u.(p - n))
    c_a = 1 - _sigmoid(u @ (i0 - i1))  # positive 0, negative 1
    c_b = 1 - _sigmoid(u @ (i1 - i0))  # positive 1, negative 0
    u_new = u + lr * (c_a * (i0 - i1) - reg * u) + lr * (c_b * (i1 - i0) - reg * u)
    i0_new = i0 + lr * (c_a * u - reg * i0) + lr * (-c_b * u - reg * i0)
    i1_new = i1 + lr * (-c_a * u - reg * i1) + lr * (c_b * u - reg * i1)
    after = BPRMF(epochs=1, batch_size=2, **params).fit(train).network_
    np.testing.assert_allclose(after.session_factors.weight.detach().numpy()[0], u_new, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(
        after.item_factors.weight.detach().numpy(), np.stack([i0_new, i1_new]), rtol=1e-5, atol=1e-7
    )


def test_scores_are_mean_item_factor_dot_item_factor():
    train, _ = session_oracle(seed=1)
    m = BPRMF(n_factors=6, epochs=1, device="cpu", random_state=0).fit(train)
    w = m.network_.item_factors.weight.detach().double().numpy()
    prefixes = [[3], [4, 9, 4], [0, 1]]
    expected = np.stack([w[p].mean(axis=0) @ w.T for p in prefixes])
    np.testing.assert_allclose(
        m.score(PrefixBatch.from_lists(prefixes)).double().numpy(), expected, rtol=1e-5, atol=1e-6
    )


def test_learns_the_session_oracle_and_beats_pop_clearly():
    train, test = session_oracle(seed=2)  # 30 items in 6 groups of 5; chance Recall@5 = 1/6
    m = BPRMF(**BPRMF.test_params, device="cpu", random_state=0).fit(train)
    recall = evaluate(m, test, cutoffs=(5,)).metrics["recall@5"]
    pop = evaluate(Pop().fit(train), test, cutoffs=(5,)).metrics["recall@5"]
    assert recall >= 0.8, recall
    assert recall >= pop + 0.4, (recall, pop)
