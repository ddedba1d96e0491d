"""Adagrad with momentum that updates only the touched rows of sparse-gradient parameters.

This is the optimizer of the official GRU4Rec (``IndexedAdagradM``), written anew:

* dense gradient ``g`` (GRU weights)::

      acc += g**2
      step = -lr * g / sqrt(acc + eps)
      mom  = momentum * mom + step ; p += mom          (momentum > 0)
      p   += step                                      (momentum = 0)

* sparse (COO) gradient of a row matrix (item embeddings, output item matrix and bias): the
  gradient is coalesced (rows summed), then the same update is applied **to the touched rows
  only**; the accumulator and momentum of untouched rows neither decay nor move their row.

References
----------
hidasib/GRU4Rec_PyTorch_Official, ``gru4rec_pytorch.py`` class ``IndexedAdagradM``,
commit bf9179a8fb976ef49801f3dec168fc513366fe4a. (The README calls the momentum "Nesterov's";
the code applies the classical momentum written above, and so do we.)
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import torch
from torch.optim import Optimizer

__all__ = ["AdagradM"]


class AdagradM(Optimizer):
    """Adagrad with (classical) momentum and row-sparse updates for sparse gradients.

    Parameters
    ----------
    params : iterable of Tensor or dict
        Parameters; a parameter whose ``.grad`` is a sparse COO tensor is updated row-wise.
    lr : float
        Learning rate (``learning_rate`` of GRU4Rec).
    momentum : float
        Momentum in ``[0, 1)``; ``0`` disables the momentum buffer.
    eps : float
        Added to the accumulator inside the square root (official value ``1e-6``).

    Examples
    --------
    >>> w = torch.nn.Parameter(torch.zeros(4, 2))
    >>> opt = AdagradM([w], lr=0.1, momentum=0.5)
    >>> w.grad = torch.sparse_coo_tensor([[1]], [[2.0, -2.0]], (4, 2), check_invariants=True)
    >>> _ = opt.step()
    >>> [round(v, 4) for v in w.detach()[1].tolist()], w.detach()[0].tolist()  # -0.1 g / sqrt(g**2 + 1e-6)
    ([-0.1, 0.1], [0.0, 0.0])
    """

    def __init__(
        self,
        params: Iterable[torch.Tensor] | Iterable[dict[str, Any]],
        lr: float = 0.05,
        momentum: float = 0.0,
        eps: float = 1e-6,
    ) -> None:
        if not lr > 0.0:
            raise ValueError(f"AdagradM: learning rate must be > 0, got {lr}")
        if not 0.0 <= momentum < 1.0:
            raise ValueError(f"AdagradM: momentum must be in [0, 1), got {momentum}")
        if not eps > 0.0:
            raise ValueError(f"AdagradM: eps must be > 0, got {eps}")
        super().__init__(params, {"lr": lr, "momentum": momentum, "eps": eps})
        for group in self.param_groups:
            for p in group["params"]:
                state = self.state[p]
                state["acc"] = torch.zeros_like(p, memory_format=torch.preserve_format)
                if group["momentum"] > 0:
                    state["mom"] = torch.zeros_like(p, memory_format=torch.preserve_format)

    @torch.no_grad()
    def step(self, closure: Callable[[], float] | None = None) -> float | None:  # type: ignore[override]
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            lr, momentum, eps = group["lr"], group["momentum"], group["eps"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                state = self.state[p]
                if p.grad.is_sparse:
                    self._sparse_update(p, p.grad, state, lr, momentum, eps)
                else:
                    self._dense_update(p, p.grad, state, lr, momentum, eps)
        return loss

    @staticmethod
    def _dense_update(
        p: torch.Tensor, grad: torch.Tensor, state: dict[str, torch.Tensor], lr: float, momentum: float, eps: float
    ) -> None:
        acc = state["acc"]
        acc.addcmul_(grad, grad)
        denom = acc.add(eps).sqrt_()
        if momentum > 0:
            mom = state["mom"]
            mom.mul_(momentum).addcdiv_(grad, denom, value=-lr)
            p.add_(mom)
        else:
            p.addcdiv_(grad, denom, value=-lr)

    @staticmethod
    def _sparse_update(
        p: torch.Tensor, grad: torch.Tensor, state: dict[str, torch.Tensor], lr: float, momentum: float, eps: float
    ) -> None:
        # The update is non-linear in the gradient, so duplicate rows must be summed first.
        grad = grad.coalesce()
        rows = grad.indices()[0]
        values = grad.values()
        acc_rows = state["acc"].index_select(0, rows).addcmul_(values, values)
        state["acc"].index_copy_(0, rows, acc_rows)
        denom = acc_rows.add_(eps).sqrt_()
        if momentum > 0:
            mom_rows = state["mom"].index_select(0, rows).mul_(momentum).addcdiv_(values, denom, value=-lr)
            state["mom"].index_copy_(0, rows, mom_rows)
            p.index_add_(0, rows, mom_rows)
        else:
            p.index_add_(0, rows, values.div(denom).mul_(-lr))
