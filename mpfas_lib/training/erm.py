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
from torch.profiler import record_function

from mpfas_lib.training.algorithm1 import ERM, LossChecks, LossFn, SampleFn, StepStats


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
    loss_pass: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] | None = None,
    deferred_checks: bool = False,
) -> StepStats:
    """One ERM step of [Θ, Φ] on a batch from all source domains ("without OA", Fig. 7)
    (chapter 06).

    ``loss_pass(x, y)`` computes the loss (default ``loss_fn(model(x), y)``; a compiled one with
    ``RunConfig.compile``); ``deferred_checks`` checks it after the update (see LossChecks).
    """
    model.train()
    start = time.perf_counter()
    x, y = sample(list(domains))
    checks = LossChecks(iteration, deferred_checks)
    with record_function("erm_step"):
        optimizer.zero_grad(set_to_none=True)
        with autocast():
            loss = loss_fn(model(x), y) if loss_pass is None else loss_pass(x, y)
        checks.add(loss, "ERM loss (all sources)")
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        (value,) = checks.values()
    return StepStats(
        iteration,
        phi_domains=[],
        theta_domains=sorted(domains),
        theta_loss=value,
        theta_seconds=time.perf_counter() - start,
        algorithm=ERM,
    )
