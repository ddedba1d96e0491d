"""FPMC: the SGD step equals the closed-form S-BPR update; learns transitions; beats POP."""

import numpy as np
from sessrec_baselines.fpmc import FPMC
from sessrec_baselines.pop import Pop

from sessrec import PrefixBatch, Sessions
from sessrec.evaluation import evaluate
from sessrec.testing import sequence_oracle


def _sigmoid(x: float) -> float:
    return 1.0 / (1.0 + np.exp(-x))


def _tables(net):
    return {
        name: getattr(net, name).weight.detach().double().numpy().copy()
        for name in ("session_item", "item_session", "item_last", "last_item")
    }


def test_one_step_is_the_reference_sbpr_update():
    # One session [0, 1] over 2 items: one case, prefix [0] -> target 1; the negative must be 0.
    train = Sessions.from_lists([[0, 1]], n_items=2)
    params = {"n_factors": 3, "lr": 0.2, "sigma": 0.5, "reg": 0.05, "device": "cpu", "random_state": 7}
    t = _tables(FPMC(epochs=0, **params).fit(train).network_)
    lr, reg = 0.2, 0.05
    s = t["session_item"][0]  # mean of the prefix [0]'s V^S rows = V^S_0
    last = t["last_item"][0]  # V^{L,I} of the last click 0
    iu1, iu0 = t["item_session"][1], t["item_session"][0]
    il1, il0 = t["item_last"][1], t["item_last"][0]
    # x(target) - x(negative), then delta = 1 - sigmoid(.) as in FPMC's LearnSBPR
    delta = 1 - _sigmoid(s @ (iu1 - iu0) + last @ (il1 - il0))
    expected = {k: v.copy() for k, v in t.items()}
    expected["session_item"][0] = s + lr * (delta * (iu1 - iu0) - reg * s)
    expected["item_session"][1] = iu1 + lr * (delta * s - reg * iu1)
    expected["item_session"][0] = iu0 + lr * (-delta * s - reg * iu0)
    expected["item_last"][1] = il1 + lr * (delta * last - reg * il1)
    expected["item_last"][0] = il0 + lr * (-delta * last - reg * il0)
    expected["last_item"][0] = last + lr * (delta * (il1 - il0) - reg * last)
    after = _tables(FPMC(epochs=1, **params).fit(train).network_)
    for name in expected:
        np.testing.assert_allclose(after[name], expected[name], rtol=1e-5, atol=1e-7, err_msg=name)


def test_scores_are_the_two_inner_products():
    train, _ = sequence_oracle(seed=1)
    m = FPMC(n_factors=5, epochs=1, device="cpu", random_state=0).fit(train)
    t = _tables(m.network_)
    prefixes = [[3], [4, 9, 4], [0, 1]]
    expected = np.stack(
        [
            t["session_item"][p].mean(axis=0) @ t["item_session"].T + t["last_item"][p[-1]] @ t["item_last"].T
            for p in prefixes
        ]
    )
    np.testing.assert_allclose(
        m.score(PrefixBatch.from_lists(prefixes)).double().numpy(), expected, rtol=1e-5, atol=1e-6
    )


def test_learns_the_sequence_oracle_and_beats_pop_clearly():
    train, test = sequence_oracle(seed=2)  # successor permutation over 30 items; chance Recall@5 = 1/6
    m = FPMC(**FPMC.test_params, device="cpu", random_state=0).fit(train)
    metrics = evaluate(m, test, cutoffs=(1, 5)).metrics
    pop = evaluate(Pop().fit(train), test, cutoffs=(5,)).metrics["recall@5"]
    assert metrics["recall@5"] >= 0.9, metrics
    assert metrics["recall@1"] >= 0.6, metrics
    assert metrics["recall@5"] >= pop + 0.5, (metrics, pop)
