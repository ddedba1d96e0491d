"""CORE's CPU item dropout: :func:`dropout_noise`, :func:`masked_unit_rows`.

References: the binomial distribution (mask frequencies within 5 standard deviations), torch's
own autograd of ``F.normalize`` in float64 (the gradient), and hand-computed numbers.
"""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from sessrec_baselines._attn_layers import dropout_noise, masked_unit_rows
from sessrec_baselines.core import _COREnetwork


@pytest.mark.parametrize("p", [0.0, 0.2, 0.5, 0.9])
def test_keep_mask_is_bernoulli_with_the_asked_probability(p: float) -> None:
    torch.manual_seed(1)
    keep = dropout_noise((400, 250), p) > 0
    n = keep.numel()
    sd = math.sqrt(n * p * (1 - p))
    assert abs(int(keep.sum()) - n * (1 - p)) <= 5 * sd + 1e-9
    # independent entries: neighbours agree as often as two independent draws do (1 - 2p(1 - p))
    flat = keep.flatten()
    same = (flat[1:] == flat[:-1]).double().mean().item()
    agree = 1 - 2 * p * (1 - p)
    assert abs(same - agree) <= 5 * math.sqrt(agree * (1 - agree) / n) + 1e-9


def test_keep_mask_follows_torch_seed_and_refuses_bad_p() -> None:
    torch.manual_seed(7)
    a, b = dropout_noise((50, 3), 0.3, 2.0), dropout_noise((50, 3), 0.3, 2.0)
    assert set(a.unique().tolist()) == {0.0, 2.0}
    torch.manual_seed(7)
    assert torch.equal(dropout_noise((50, 3), 0.3, 2.0), a)
    assert not torch.equal(a, b)  # a second draw differs
    with pytest.raises(ValueError, match=r"p must lie in \[0, 1\), got 1.0"):
        dropout_noise((2, 2), 1.0)


def test_masked_unit_rows_hand_computed() -> None:
    # (3, 4, 12) with the last entry dropped: (3, 4, 0) / 5 * 10 = (6, 8, 0); a row wholly dropped stays 0
    x = torch.tensor([[3.0, 4.0, 12.0], [1.0, 2.0, 2.0]], requires_grad=True)
    keep = torch.tensor([[1.0, 1.0, 0.0], [0.0, 0.0, 0.0]])
    y = masked_unit_rows(x, keep, 10.0)
    torch.testing.assert_close(y, torch.tensor([[6.0, 8.0, 0.0], [0.0, 0.0, 0.0]]))
    # d(y . (1, 0, 0))/dx for row 0: 10 (e_1 - u u_1) / 5 with u = (0.6, 0.8, 0): (1.28, -0.96, 0), masked
    y[0, 0].backward()
    torch.testing.assert_close(x.grad, torch.tensor([[1.28, -0.96, 0.0], [0.0, 0.0, 0.0]]))


@pytest.mark.parametrize("scale", [1.0, 1 / 0.07])
def test_masked_unit_rows_gradient_equals_autograd_of_normalize(scale: float) -> None:
    g = torch.Generator().manual_seed(3)
    x0 = torch.randn(40, 6, generator=g, dtype=torch.float64)
    keep = (torch.rand(40, 6, generator=g) > 0.3).double()
    weights = torch.randn(40, 6, generator=g, dtype=torch.float64)
    x, ref = x0.clone().requires_grad_(), x0.clone().requires_grad_()
    (masked_unit_rows(x, keep, scale) * weights).sum().backward()
    (F.normalize(ref * keep, dim=1) * scale * weights).sum().backward()
    torch.testing.assert_close(x.grad, ref.grad, rtol=1e-10, atol=1e-12)


def test_core_training_items_on_cpu_are_normalised_dropped_embeddings() -> None:
    # train_items() in training: the unit rows of E with the mask of the same draw, over tau
    net = _COREnetwork(30, 8, "ave", 5, 1, 1, 4, 0.0, 0.0, 0.0, 0.4, 0.07).train()
    torch.manual_seed(5)
    items = net.train_items()
    torch.manual_seed(5)
    keep = dropout_noise((30, 8), 0.4)
    expected = F.normalize(net.embedding.weight.detach() * keep, dim=1) / 0.07
    torch.testing.assert_close(items.detach(), expected)
    assert 0 < int((keep == 0).sum()) < keep.numel()


def test_core_ave_session_dropout_on_cpu_masks_the_real_clicks_only() -> None:
    # CORE-ave's prefixes in training: one (clicks, d) dropout mask over the batch's real clicks, row-major,
    # drawn from dropout_noise; each row the normalised mean of its masked embeddings (which entries are
    # dropped is checked; dropout's 1 / (1 - p) and the division by the length cancel in the normalisation)
    net = _COREnetwork(7, 4, "ave", 5, 1, 1, 4, 0.0, 0.0, 0.5, 0.0, 0.07).train()
    rows = [[2, 6, 1], [5], [0, 3]]
    items = torch.tensor([r + [-1] * (3 - len(r)) for r in rows])
    lengths = torch.tensor([len(r) for r in rows])
    torch.manual_seed(11)
    got = net.encode_last(items, lengths).detach()
    torch.manual_seed(11)
    noise = dropout_noise((6, 4), 0.5, 2.0)
    assert set(noise.unique().tolist()) == {0.0, 2.0}
    weight, clicks = net.embedding.weight.detach(), [i for r in rows for i in r]
    masked = [weight[i] * noise[k] for k, i in enumerate(clicks)]
    means = [sum(masked[0:3]) / 3, masked[3], (masked[4] + masked[5]) / 2]
    torch.testing.assert_close(got, torch.stack([F.normalize(m, dim=0) for m in means]))
