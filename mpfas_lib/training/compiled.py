"""The training step's passes compiled by ``torch.compile``: the same math, fewer launches.

``RunConfig.compile`` chooses how (:data:`~mpfas_lib.training.config.COMPILE_MODES`): ``"none"``
runs the eager step; ``"default"`` and ``"max-autotune"`` are inductor's fused kernels (the
second autotunes them); ``"reduce-overhead"`` adds CUDA graphs to inductor's kernels and
``"cudagraphs"`` captures the eager kernels unfused in CUDA graphs (both need CUDA).

Only the forward passes and their losses are compiled (their backward with them, by
AOTAutograd); gradients are taken, Φ is updated and the optimisers step as in the eager step, so
the batch sizes, K, the learning rates and the loss are those of the eager step. Three things
differ in how, not in what, is computed:

- Algorithm 1's inner pass sees Θ's parameters detached (``torch.func.functional_call``), so its
  compiled backward computes ∇_Φ alone, as eager autograd does for ``autograd.grad(loss, Φ)``;
- the paper's form keeps BatchNorm running statistics by not tracking them during the pass
  (:func:`untracked_batchnorm_stats`: train mode, batch statistics, nothing to save or restore)
  instead of saving and restoring them;
- the losses of a step are checked for finiteness once, after its updates (one host sync per
  step instead of K + 1; :class:`~mpfas_lib.training.algorithm1.LossChecks`).

``tests/test_compile.py`` holds the compiled steps to the eager ones on the CPU;
``benchmarks/bench_compile.py`` times both, ``scripts/gpu_check.py`` on a GPU.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

import torch
from torch import nn

from mpfas_lib.errors import UserError
from mpfas_lib.training.algorithm1 import (
    LossFn,
    MetaPasses,
    MetaSettings,
    _batchnorm_modules,
    eager_passes,
)
from mpfas_lib.training.config import COMPILE_MODES

CUDA_ONLY = ("reduce-overhead", "cudagraphs")  # CUDA graphs
Pass = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


class CompileError(UserError):
    """``torch.compile`` could not compile a pass: one line, and the way back to eager."""

    def __init__(self, message: str) -> None:
        super().__init__(message, exit_code=1)


def check_compile(mode: str, device: torch.device, distributed: bool = False) -> None:
    """Refuse a compile mode this device or run cannot use, in one line (``RunConfig.compile``)."""
    if mode not in COMPILE_MODES:
        raise ValueError(f"compile must be one of {list(COMPILE_MODES)}, got {mode!r}")
    if mode in CUDA_ONLY and device.type != "cuda":
        raise ValueError(f"compile={mode!r} captures CUDA graphs and needs a CUDA device, not "
                         f"{device.type}: use compile='default' or 'none' here")
    if mode != "none" and distributed:
        raise ValueError(f"compile={mode!r} is not supported with DistributedDataParallel "
                         "(world size > 1): use compile='none'")


def _reason(error: BaseException) -> str:
    """The innermost cause of a compile failure, in one line (dynamo's own ends in advice)."""
    seen = {id(error)}
    while (inner := getattr(error, "inner_exception", None) or error.__cause__) is not None:
        if id(inner) in seen:
            break
        seen.add(id(inner))
        error = inner
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    return f"{type(error).__name__}: {lines[-1]}" if lines else type(error).__name__


def compile_pass(fn: Pass, mode: str, what: str) -> Pass:
    """``fn`` compiled in ``mode``; a failure to compile is one :class:`CompileError` line."""
    from torch._dynamo.exc import TorchDynamoException  # heavy: only when compiling

    options = {"backend": "cudagraphs"} if mode == "cudagraphs" else {"mode": mode}
    # static shapes: each batch size of a run (Algorithm 1 has one per size of D_φ) gets its
    # own kernels (and CUDA graph) instead of a dynamic-shape graph
    compiled = torch.compile(fn, dynamic=False, **options)
    graphs = mode in CUDA_ONLY

    def run(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        if graphs:  # the outputs of the previous replay are no longer read (LossChecks copies)
            torch.compiler.cudagraph_mark_step_begin()
        try:
            return compiled(x, y)
        except TorchDynamoException as error:
            raise CompileError(f"compile={mode!r} failed on {what} ({_reason(error)}); "
                               "train with compile='none'") from error

    return run


@contextmanager
def untracked_batchnorm_stats(module: nn.Module) -> Iterator[None]:
    """Train-mode BatchNorm that normalises by batch statistics and leaves its running
    statistics as they were (the paper's form of Alg. 1, without a copy to restore)."""
    tracked = [bn for bn in _batchnorm_modules(module) if bn.track_running_stats]
    for bn in tracked:
        bn.track_running_stats = False
    try:
        yield
    finally:
        for bn in tracked:
            bn.track_running_stats = True


def compiled_meta_passes(phi: nn.Module, theta: nn.Module, loss_fn: LossFn,
                         settings: MetaSettings, mode: str) -> MetaPasses:
    """Algorithm 1's inner and Θ passes compiled in ``mode`` (lines 11 and 16, same math)."""
    theta_params = dict(theta.named_parameters())

    def inner(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        fixed = {name: p.detach() for name, p in theta_params.items()}  # Θ fixed: ∇_Φ only
        return loss_fn(torch.func.functional_call(theta, fixed, (x, phi(x))), y)

    eager = eager_passes(phi, theta, theta, loss_fn, settings)
    return MetaPasses(compile_pass(inner, mode, "Algorithm 1's inner pass"),
                      compile_pass(eager.theta, mode, "Algorithm 1's Θ pass"),
                      keep_stats=untracked_batchnorm_stats, deferred_checks=True)


def compiled_erm_pass(model: nn.Module, loss_fn: LossFn, mode: str) -> Pass:
    """The ERM loss of [Θ, Φ] compiled in ``mode`` (Eq. 3's forward, same math)."""

    def erm_loss(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return loss_fn(model(x), y)

    return compile_pass(erm_loss, mode, "the ERM pass")
