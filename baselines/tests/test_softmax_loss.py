"""The fused full-catalogue loss :func:`sessrec_baselines.common.softmax_cross_entropy`.

References: a hand-computed case, and ``F.cross_entropy`` (torch's own log-softmax and NLL,
an independent implementation) on random logits with ``-inf`` entries.
"""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from sessrec_baselines.common import softmax_cross_entropy


def test_hand_computed_two_rows() -> None:
    # row 0: logits (0, ln 2, ln 5), target 2 -> softmax (1, 2, 5)/8, loss ln(8/5)
    # row 1: logits (ln 3, 0, -inf), target 0 -> softmax (3/4, 1/4, 0), loss ln(4/3)
    logits = torch.tensor([[0.0, math.log(2.0), math.log(5.0)], [math.log(3.0), 0.0, -math.inf]], dtype=torch.float64)
    logits.requires_grad_()
    loss = softmax_cross_entropy(logits, torch.tensor([2, 0]))
    assert loss.item() == pytest.approx((math.log(8 / 5) + math.log(4 / 3)) / 2, abs=1e-12)
    loss.backward()
    expected = torch.tensor([[1 / 8, 2 / 8, 5 / 8 - 1], [3 / 4 - 1, 1 / 4, 0.0]], dtype=torch.float64) / 2
    assert torch.allclose(logits.grad, expected, atol=1e-12)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_equals_torch_cross_entropy(seed: int) -> None:
    g = torch.Generator().manual_seed(seed)
    logits = torch.randn(64, 300, generator=g) * 4
    logits[torch.rand(64, 300, generator=g) < 0.1] = -math.inf
    targets = torch.randint(0, 300, (64,), generator=g)
    logits[torch.arange(64), targets] = torch.randn(64, generator=g)  # every target finite
    weight = torch.randn(64, 300, generator=g)  # an upstream op, so the gradient flows through a product
    a = (logits * 1.0).requires_grad_()
    b = (logits * 1.0).requires_grad_()
    ours = softmax_cross_entropy(a * weight.exp(), targets) * 3.0
    ref = F.cross_entropy(b * weight.exp(), targets) * 3.0
    ours.backward()
    ref.backward()
    assert ours.item() == pytest.approx(ref.item(), rel=1e-6)
    assert torch.allclose(a.grad, b.grad, rtol=1e-5, atol=1e-8)
    assert torch.equal(torch.isfinite(a.grad), torch.isfinite(b.grad))


def test_logits_left_unchanged_and_backward_twice() -> None:
    logits = torch.randn(4, 5, requires_grad=True)
    before = logits.detach().clone()
    loss = softmax_cross_entropy(logits, torch.tensor([0, 1, 2, 3]))
    assert torch.equal(logits.detach(), before)
    loss.backward(retain_graph=True)
    first = logits.grad.clone()
    loss.backward()
    assert torch.allclose(logits.grad, 2 * first)


def test_bad_shapes_one_clear_error() -> None:
    with pytest.raises(ValueError, match=r"logits \(N, C\) and targets \(N,\), got \(4, 5\) and \(3,\)"):
        softmax_cross_entropy(torch.zeros(4, 5), torch.zeros(3, dtype=torch.long))


def test_bfloat16_logits_computed_in_float32() -> None:
    # the bfloat16 values are exactly representable in float32: the loss is the float32 loss of the same
    # values (log(1 + 3) - log(3) for the one row), not a bfloat16 one; the gradient returns as bfloat16
    logits = torch.tensor([[0.0, math.log(3.0)]]).to(torch.bfloat16).requires_grad_()
    loss = softmax_cross_entropy(logits, torch.tensor([1]))
    as_float = logits.detach().float()
    assert loss.dtype == torch.float32
    assert loss.item() == pytest.approx(math.log(1 + as_float[0, 1].exp().item()) - as_float[0, 1].item(), rel=1e-6)
    loss.backward()
    assert logits.grad.dtype == torch.bfloat16
