"""The attention models' CPU training loss, forward and backward, against the loss of the product.

Run from the repository root::

    python tests/perf/bench_loss.py --threads 1 --rounds 15

Per shape (batch N, dimension d, catalogue C), three ways to the same value and gradients of
the mean softmax cross-entropy of ``reps @ items.T`` are timed, alternating in one process
(round-robin, median of ``--rounds``), each forward plus backward:

* ``linear``: :func:`sessrec_baselines.common.linear_softmax_cross_entropy` (blocks of rows,
  gradients in the forward pass), what the attention models train with on a CPU;
* ``product``: ``softmax_cross_entropy(reps @ items.T)``, the (N, C) product then the fused
  softmax loss (what they train with elsewhere);
* ``torch``: ``F.cross_entropy(reps @ items.T)``.

A fourth column, ``products``, times the three matrix products of ``linear`` alone (per block of
its rows: the scores, the gradient of the block and its share of the items' gradient, without
the softmax): 6·N·d·C floating-point operations that any exact implementation of this loss
performs, so a floor under a training step of the attention models here. It also prints the
rate they reach in GFLOP/s.

The first shape is STAMP's and CORE-ave's in ``attn_vs_recbole.py`` (d 64, the DIGINETICA
one-day split's 5,519 items, batch 512); the others are the default d 100, a batch of 2,048
(RecBole's default) and the full DIGINETICA catalogue. Before timing, the three gradients are
checked against each other.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import torch
import torch.nn.functional as F
from _common import host_line
from sessrec_baselines.common import _BLOCK_ROWS, linear_softmax_cross_entropy, softmax_cross_entropy

SHAPES = ((512, 64, 5_519), (512, 100, 5_519), (2_048, 100, 5_519), (512, 100, 30_711))


def _ways(reps: torch.Tensor, items: torch.Tensor, targets: torch.Tensor) -> dict[str, Callable[[], torch.Tensor]]:
    return {
        "linear": lambda: linear_softmax_cross_entropy(reps, items, targets),
        "product": lambda: softmax_cross_entropy(reps @ items.T, targets),
        "torch": lambda: F.cross_entropy(reps @ items.T, targets),
    }


def _products(reps: torch.Tensor, items: torch.Tensor, rows: int = _BLOCK_ROWS) -> None:
    """The three products of ``linear`` per block of ``rows`` rows, without the softmax (timing floor)."""
    with torch.no_grad():
        grad_reps, grad_items = torch.empty_like(reps), torch.zeros_like(items)
        for lo in range(0, reps.shape[0], rows):
            block = reps[lo : lo + rows]
            scores = items @ block.T
            torch.mm(scores.T, items, out=grad_reps[lo : lo + rows])
            grad_items.addmm_(scores, block)


def _gradients(loss: Callable[[], torch.Tensor], reps: torch.Tensor, items: torch.Tensor) -> list[torch.Tensor]:
    reps.grad = items.grad = None
    loss().backward()
    return [reps.grad.clone(), items.grad.clone()]


def bench(n: int, d: int, c: int, rounds: int) -> dict[str, float]:
    g = torch.Generator().manual_seed(n + d + c)
    reps = (torch.randn(n, d, generator=g) * 0.3).requires_grad_()
    items = (torch.randn(c, d, generator=g) * 0.3).requires_grad_()
    targets = torch.randint(0, c, (n,), generator=g)
    ways = _ways(reps, items, targets)
    reference = _gradients(ways["torch"], reps, items)
    for name in ("linear", "product"):
        for got, want in zip(_gradients(ways[name], reps, items), reference, strict=True):
            torch.testing.assert_close(got, want, rtol=1e-4, atol=1e-6, msg=f"{name}: gradients differ")
    seconds: dict[str, list[float]] = {name: [] for name in (*ways, "products")}
    for _ in range(rounds):
        for name, loss in ways.items():
            reps.grad = items.grad = None
            t0 = time.perf_counter()
            loss().backward()
            seconds[name].append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        _products(reps, items)
        seconds["products"].append(time.perf_counter() - t0)
    return {name: statistics.median(s) for name, s in seconds.items()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--rounds", type=int, default=15)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    print(host_line(args.threads))
    print(
        "| N | d | C | linear ms | product ms | torch ms | product / linear | torch / linear "
        "| products alone ms (GFLOP/s) |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for n, d, c in SHAPES:
        ms = {k: v * 1e3 for k, v in bench(n, d, c, args.rounds).items()}
        gflops = 6 * n * d * c / (ms["products"] * 1e6)
        print(
            f"| {n} | {d} | {c:,} | {ms['linear']:.1f} | {ms['product']:.1f} | {ms['torch']:.1f} | "
            f"{ms['product'] / ms['linear']:.2f} | {ms['torch'] / ms['linear']:.2f} | "
            f"{ms['products']:.1f} ({gflops:.0f}) |",
            flush=True,
        )


if __name__ == "__main__":
    main()
