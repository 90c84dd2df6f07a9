"""End-to-end ERM: the "without OA" ablation and the fixed-map / RGB baselines (paper Sec. IV).

Θ̂ = [Θ, Φ] is trained jointly by plain empirical risk minimisation (Eq. 1, one SGD step is
Eq. 3; the loss is Eq. 10) on batches drawn from all source domains at once; there is no domain
split and no inner loop.  When Φ is a parameter-free handcrafted map f(x) (ColorLBP, Albedo,
...; Eq. 4, one step is Eq. 5) or absent (single-stream RGB), the same step trains Θ alone.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager, nullcontext

import torch
from torch import nn

from mpfas_lib.training.algorithm1 import LossFn, SampleFn, StepStats, check_finite


class Pipeline(nn.Module):
    """Θ(x, Φ(x)): the whole face-PAD model as one module (used for ERM and DDP) (chapter 06)."""

    def __init__(self, phi: nn.Module | None, theta: nn.Module) -> None:
        super().__init__()
        self.phi = phi
        self.theta = theta

    def forward(self, x: torch.Tensor):
        """Extract the pattern (if any) and run the network on (RGB, pattern)."""
        pattern = self.phi(x) if self.phi is not None else None
        return self.theta(x, pattern)


def erm_step(
    model: nn.Module,
    loss_fn: LossFn,
    sample: SampleFn,
    optimizer: torch.optim.Optimizer,
    domains: Sequence[str],
    *,
    autocast: Callable[[], AbstractContextManager] = nullcontext,
    iteration: int = 0,
) -> StepStats:
    """One ERM step of [Θ, Φ] on a batch from all source domains ("without OA", Fig. 7)
    (chapter 06)."""
    model.train()
    start = time.perf_counter()
    x, y = sample(list(domains))
    optimizer.zero_grad(set_to_none=True)
    with autocast():
        loss = loss_fn(model(x), y)
    value = check_finite(loss, iteration, "ERM loss (all sources)")
    loss.backward()
    optimizer.step()
    optimizer.zero_grad(set_to_none=True)
    return StepStats(
        iteration,
        phi_domains=[],
        theta_domains=sorted(domains),
        theta_loss=value,
        theta_seconds=time.perf_counter() - start,
        algorithm="erm",
    )
