"""The fused full-catalogue losses :func:`sessrec_baselines.common.softmax_cross_entropy` and
:func:`~sessrec_baselines.common.linear_softmax_cross_entropy`.

References: a hand-computed case, and ``F.cross_entropy`` (torch's own log-softmax and NLL,
an independent implementation) on random logits with ``-inf`` entries and on products.
"""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from sessrec_baselines._attn_common import CausalSequenceModel
from sessrec_baselines.common import linear_softmax_cross_entropy, softmax_cross_entropy
from sessrec_baselines.core import CORE
from sessrec_baselines.stamp import STAMP

from sessrec import PrefixBatch, Sessions


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


# blocks of 128 rows: (300, 5000) three, the last of 44 rows; (128, 300) exactly one; (40, 12_000) one, short.
# Scale 1: scores within +-40, exponentiated without subtracting the maximum; scale 30: up to about +-1,000,
# which overflows float32's exp unless the maximum is subtracted.
@pytest.mark.parametrize(("n", "c"), [(300, 5000), (128, 300), (40, 12_000)])
@pytest.mark.parametrize("scale", [1.0, 30.0])
def test_linear_loss_equals_the_loss_of_the_product(n: int, c: int, scale: float) -> None:
    g = torch.Generator().manual_seed(n + c)
    reps0, items0 = torch.randn(n, 16, generator=g) * scale, torch.randn(c, 16, generator=g) * 0.5
    targets = torch.randint(0, c, (n,), generator=g)
    reps, items = reps0.clone().requires_grad_(), items0.clone().requires_grad_()
    ref_reps, ref_items = reps0.clone().requires_grad_(), items0.clone().requires_grad_()
    ours = linear_softmax_cross_entropy(reps * 2.0, items, targets) * 3.0
    ref = F.cross_entropy((ref_reps * 2.0) @ ref_items.T, targets) * 3.0
    ours.backward()
    ref.backward()
    assert ours.item() == pytest.approx(ref.item(), rel=1e-6)
    # float32 sums of up to 12,000 products: rounding of about 1e-7 of the largest terms
    torch.testing.assert_close(reps.grad, ref_reps.grad, rtol=1e-5, atol=2e-6)
    torch.testing.assert_close(items.grad, ref_items.grad, rtol=1e-5, atol=2e-6 * scale)


def test_linear_loss_blocks_with_and_without_the_shift() -> None:
    # 256 rows, two blocks: the first's scores within +-3 (exponentiated as they are), the second's near
    # +-300 (its maximum subtracted first); float64 and F.cross_entropy as the reference
    g = torch.Generator().manual_seed(11)
    reps0 = torch.randn(256, 8, generator=g, dtype=torch.float64)
    norms = torch.cat([torch.full((128, 1), 1.0), torch.full((128, 1), 100.0)]).double()
    reps0 = reps0 / reps0.norm(dim=1, keepdim=True) * norms
    items0 = torch.randn(700, 8, generator=g, dtype=torch.float64)
    items0 = items0 / items0.norm(dim=1, keepdim=True) * 3.0
    targets = torch.randint(0, 700, (256,), generator=g)
    reps, items = reps0.float().requires_grad_(), items0.float().requires_grad_()
    ref_reps, ref_items = reps0.clone().requires_grad_(), items0.clone().requires_grad_()
    ours = linear_softmax_cross_entropy(reps, items, targets)
    ref = F.cross_entropy(ref_reps @ ref_items.T, targets)
    ours.backward()
    ref.backward()
    assert math.isfinite(ours.item())
    assert ours.item() == pytest.approx(ref.item(), rel=1e-5)
    torch.testing.assert_close(reps.grad.double(), ref_reps.grad, rtol=1e-4, atol=1e-6)
    torch.testing.assert_close(items.grad.double(), ref_items.grad, rtol=1e-4, atol=1e-6)


def test_linear_loss_backward_twice_no_grad_and_shapes() -> None:
    g = torch.Generator().manual_seed(3)
    reps, items = torch.randn(3, 4, generator=g, requires_grad=True), torch.randn(5, 4, generator=g, requires_grad=True)
    targets = torch.tensor([0, 1, 4])
    loss = linear_softmax_cross_entropy(reps, items, targets)
    loss.backward(retain_graph=True)
    once = reps.grad.clone(), items.grad.clone()
    loss.backward()  # the stored gradients are not consumed: a second pass adds the same again
    torch.testing.assert_close(reps.grad, 2 * once[0])
    torch.testing.assert_close(items.grad, 2 * once[1])
    with torch.no_grad():
        value = linear_softmax_cross_entropy(reps, items, targets)
    assert value.item() == loss.item()
    assert not value.requires_grad
    with pytest.raises(ValueError, match=r"reps \(N, d\), items \(C, d\) and targets \(N,\), got \(3, 4\), \(5, 3\)"):
        linear_softmax_cross_entropy(reps, torch.randn(5, 3), targets)


@pytest.mark.parametrize(
    ("cls", "params"),
    [(STAMP, {"embedding_dim": 8}), (CORE, {"embedding_dim": 8, "inner_size": 16, "variant": "trm"})],
)
def test_models_train_as_with_the_loss_of_the_product(cls: type, params: dict, monkeypatch: pytest.MonkeyPatch) -> None:
    # a CPU fit uses the blocked loss; the same fit through F.cross_entropy of reps @ train_items().T (the
    # product, as on a GPU) must follow the same path: epoch losses and final scores to float rounding
    train = Sessions.from_lists([[0, 1, 2, 3], [4, 5, 6], [1, 3, 5, 7, 2]] * 12, n_items=8)
    kw = {**params, "batch_size": 16, "lr": 0.01, "epochs": 3, "device": "cpu", "random_state": 0}
    fused = cls(**kw).fit(train)

    def product_loss(self, net, reps, targets, generator):
        return F.cross_entropy(reps @ net.train_items().T, targets)

    monkeypatch.setattr(CausalSequenceModel, "_loss", product_loss)
    plain = cls(**kw).fit(train)
    assert [h["loss"] for h in fused.history_] == pytest.approx([h["loss"] for h in plain.history_], rel=1e-5)
    batch = PrefixBatch.from_lists([[0, 1], [4, 5, 6], [7]])
    torch.testing.assert_close(fused.score(batch), plain.score(batch), rtol=1e-4, atol=1e-4)


def test_linear_loss_with_fixed_items() -> None:
    # items without gradient (e.g. a frozen catalogue): only the representations get one, the same as the product's
    reps = torch.randn(6, 4, requires_grad=True)
    items, targets = torch.randn(9, 4), torch.tensor([0, 1, 2, 3, 4, 8])
    linear_softmax_cross_entropy(reps, items, targets).backward()
    ref = reps.detach().clone().requires_grad_()
    F.cross_entropy(ref @ items.T, targets).backward()
    torch.testing.assert_close(reps.grad, ref.grad, rtol=1e-5, atol=1e-7)
