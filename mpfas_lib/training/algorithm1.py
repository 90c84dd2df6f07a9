"""Algorithm 1 of the paper: learning the Meta Pattern extractor Φ with the network Θ.

One outer iteration t (the paper's Algorithm 1, first-order solution of the bi-level Eq. 6),
numbered as in the paper and in chapter 06's pseudo-code:

- line 6: randomly split the source domains into disjoint, non-empty D_φ and D_θ;
- line 7: Φ_0 ← Φ;
- lines 9-12: for k = 1..K, sample a fresh D_φ batch (line 10) and take
  Φ_k = Φ_{k−1} − α ∇_Φ L(x_φ^k, y_φ^k | Θ, Φ_{k−1}) (line 11, Eq. 7);
- line 14: Φ̂ ← Φ_K;
- lines 15-16: sample a D_θ batch and update Θ with ∇_Θ L(x_θ, y_θ | Θ, Φ̂) (Eq. 8);
- line 17: Φ ← Φ_K.  No second-order gradients and no surrogate model.

``mode="paper"`` (default) is the text above.  During the K inner passes Θ runs in train mode
(batch statistics, exactly the forward of the Θ step) but its BatchNorm running statistics are
saved before and restored after the inner loop, so the only thing the inner loop changes is Φ
(Θ is "untouched").  Likewise Φ̂ is frozen during the Θ step: its forward runs without gradient
and its running statistics are restored, so Φ after the iteration is exactly Φ_K.

``mode="official"`` mirrors the authors' public code: the domains are shuffled, the first one
goes to D_φ and the remaining ones to D_θ; Φ has its own SGD optimiser (momentum 0.9,
lr = α·K, state kept across iterations) stepped in place over K fresh D_φ batches; Θ's
BatchNorm statistics are updated by those batches. The code's Θ step minimises (MSE + CE) / 2:
the method ``mp-official`` passes ``theta_loss_scale = 0.5``.
"""

from __future__ import annotations

import math
import random
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import asdict, dataclass, field

import torch
from torch import nn
from torch.profiler import record_function

Batch = tuple[torch.Tensor, torch.Tensor]
SampleFn = Callable[[Sequence[str]], Batch]
LossFn = Callable[[object, torch.Tensor], torch.Tensor]
GradSync = Callable[[list[torch.Tensor]], None]

ALGORITHM1, ERM = "algorithm1", "erm"
ALGORITHMS = (ALGORITHM1, ERM)  # the paper's Algorithm 1, or ERM (Eq. 1/3, end to end)
MODES = ("paper", "official")


class NonFiniteLossError(RuntimeError):
    """A loss became NaN or infinite: training stops before applying that update."""

    def __init__(self, iteration: int, which: str, value: float) -> None:
        super().__init__(
            f"non-finite loss at iteration {iteration}: {which} = {value} "
            "(the update was not applied)"
        )
        self.iteration = iteration
        self.which = which
        self.value = value


@dataclass(frozen=True)
class MetaSettings:
    """What one outer iteration needs to know: K, α, the form and Θ's loss scale (Alg. 1).

    Built by :meth:`mpfas_lib.training.methods.Method.meta_settings`: the method owns K, the
    form and the loss scale, the profile owns α (chapter 06).
    """

    inner_steps: int  # K
    lr: float  # α of Eq. 7 (the Θ step's rate is its optimiser's)
    mode: str  # "paper" or "official"
    theta_loss_scale: float  # the code's Θ step minimises (MSE + CE) / 2

    def __post_init__(self) -> None:
        if self.inner_steps < 1:
            raise ValueError(f"inner_steps K must be >= 1, got {self.inner_steps}")
        if self.mode not in MODES:
            raise ValueError(f"unknown Algorithm 1 mode {self.mode!r}: choose one of {MODES}")


@dataclass
class StepStats:
    """What one training step did: an outer iteration of Algorithm 1 or an ERM step."""

    iteration: int
    phi_domains: list[str]
    theta_domains: list[str]
    inner_losses: list[float] = field(default_factory=list)
    theta_loss: float = float("nan")
    inner_seconds: float = 0.0
    theta_seconds: float = 0.0
    algorithm: str = ALGORITHM1  # or ERM

    @property
    def loss(self) -> float:
        """The Θ-step loss (the quantity a progress bar shows)."""
        return self.theta_loss

    def to_dict(self) -> dict:
        """Plain dict (JSON and ``weights_only`` friendly)."""
        return asdict(self)


def split_domains(
    domains: Sequence[str], rng: random.Random, mode: str = "paper"
) -> tuple[list[str], list[str]]:
    """Randomly split the source domains into disjoint, non-empty (D_φ, D_θ) (Alg. 1, line 6)
    (chapter 06)."""
    if mode not in MODES:
        raise ValueError(f"unknown Algorithm 1 mode {mode!r}: choose one of {MODES}")
    names = list(domains)
    if len(names) < 2:
        raise ValueError(f"Algorithm 1 needs at least 2 source domains to split, got {names}")
    if len(set(names)) != len(names):
        raise ValueError(f"source domains must be distinct, got {names}")
    rng.shuffle(names)
    # paper: any non-trivial split; official code: one domain for Φ, the rest for Θ
    n_phi = rng.randint(1, len(names) - 1) if mode == "paper" else 1
    return sorted(names[:n_phi]), sorted(names[n_phi:])


def given_split(domains: Sequence[str], split: tuple[Sequence[str], Sequence[str]]
                ) -> tuple[list[str], list[str]]:
    """A split (D_φ, D_θ) chosen by the caller, checked as line 6 would draw it (chapter 06)."""
    phi_domains, theta_domains = sorted(split[0]), sorted(split[1])
    if not phi_domains or not theta_domains or set(phi_domains) & set(theta_domains) \
            or not set(phi_domains + theta_domains) <= set(domains):
        raise ValueError(f"split {split} is not two disjoint, non-empty groups of {list(domains)}")
    return phi_domains, theta_domains


def _batchnorm_modules(module: nn.Module) -> list[nn.modules.batchnorm._BatchNorm]:
    return [m for m in module.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]


def request_plan(domains: Sequence[str], settings: MetaSettings | None,
                 seed: int) -> Iterator[list[str]]:
    """The domains of every batch the trainer (:mod:`~mpfas_lib.training.trainer`) will ask for,
    in order, endlessly.

    It replays the trainer's domain-split RNG (``random.Random(seed)``): per iteration of
    Algorithm 1 one split, K batches of D_φ then one of D_θ; per ERM step (``settings`` None)
    all domains.
    """
    names = list(domains)
    rng = random.Random(seed)
    while True:
        if settings is not None:
            phi_domains, theta_domains = split_domains(names, rng, settings.mode)
            for _ in range(settings.inner_steps):
                yield phi_domains
            yield theta_domains
        else:
            yield list(names)


@contextmanager
def preserved_batchnorm_stats(module: nn.Module) -> Iterator[None]:
    """Run in train mode (batch statistics) but restore BatchNorm running stats on exit."""
    saved = []
    for bn in _batchnorm_modules(module):
        buffers = {
            name: buf.detach().clone()
            for name, buf in bn.named_buffers(recurse=False)
            if buf is not None
        }
        saved.append((bn, buffers))
    try:
        yield
    finally:
        with torch.no_grad():
            for bn, buffers in saved:
                for name, value in buffers.items():
                    getattr(bn, name).copy_(value)


def trainable(module: nn.Module | None) -> list[nn.Parameter]:
    """The parameters of a module that require gradients ([] for None or a fixed map)."""
    if module is None:
        return []
    return [p for p in module.parameters() if p.requires_grad]


def check_finite(value: torch.Tensor, iteration: int, which: str) -> float:
    number = float(value.detach().float())
    if not math.isfinite(number):
        raise NonFiniteLossError(iteration, which, number)
    return number


class LossChecks:
    """The finiteness checks of one step's losses: each before its update (one host sync
    each), or all at the end of the step (one sync; the updates were then applied)."""

    def __init__(self, iteration: int, deferred: bool = False) -> None:
        self.iteration, self.deferred = iteration, deferred
        self.checked: list[float] = []
        self.pending: list[tuple[torch.Tensor, str]] = []

    def add(self, loss: torch.Tensor, which: str) -> None:
        """Check ``loss`` now, or keep a copy of it (a CUDA graph reuses its output's memory)."""
        if self.deferred:
            self.pending.append((loss.detach().to(torch.float32, copy=True), which))
        else:
            self.checked.append(check_finite(loss, self.iteration, which))

    def values(self) -> list[float]:
        """Every loss added, as numbers; the first non-finite one raises NonFiniteLossError."""
        if self.pending:
            numbers = torch.stack([value for value, _ in self.pending]).tolist()
            for number, (_, which) in zip(numbers, self.pending, strict=True):
                if not math.isfinite(number):
                    raise NonFiniteLossError(self.iteration, which, number)
                self.checked.append(number)
            self.pending = []
        return self.checked


@dataclass(frozen=True)
class MetaPasses:
    """How one outer iteration computes its two losses: eagerly (:func:`eager_passes`) or
    compiled (:mod:`mpfas_lib.training.compiled`), the same math (Alg. 1, lines 11 and 16)."""

    inner: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]  # L(x_φ, y_φ | Θ, Φ_{k-1})
    theta: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]  # scale · L(x_θ, y_θ | Θ, Φ̂)
    # how the paper's form keeps BatchNorm running statistics (Θ's in lines 9-12, Φ's in 16)
    keep_stats: Callable[[nn.Module], AbstractContextManager] = preserved_batchnorm_stats
    deferred_checks: bool = False  # LossChecks(deferred=...)


def eager_passes(phi: nn.Module, theta: nn.Module, theta_train: nn.Module, loss_fn: LossFn,
                 settings: MetaSettings) -> MetaPasses:
    """The two losses of Algorithm 1 as plain calls of Φ, Θ and the loss (chapter 06)."""

    def inner(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return loss_fn(theta(x, phi(x)), y)  # Θ fixed: only ∇_Φ is taken

    def theta_loss(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():  # Φ̂ = Φ_K frozen
            pattern = phi(x)
        return settings.theta_loss_scale * loss_fn(theta_train(x, pattern.detach()), y)

    return MetaPasses(inner, theta_loss)


def _update_phi(phi_params: list[nn.Parameter], grads: list[torch.Tensor], lr: float,
                phi_optimizer: torch.optim.Optimizer | None) -> None:
    """Line 11: Φ_k = Φ_{k-1} − α ∇_Φ L (Eq. 7), or the official code's optimiser step."""
    if phi_optimizer is None:
        with torch.no_grad():
            for p, g in zip(phi_params, grads, strict=True):
                p.sub_(lr * g.to(p.dtype))
        return
    for p, g in zip(phi_params, grads, strict=True):
        p.grad = g.to(p.dtype)
    phi_optimizer.step()
    phi_optimizer.zero_grad(set_to_none=True)


def meta_pattern_step(
    phi: nn.Module,
    theta: nn.Module,
    loss_fn: LossFn,
    sample: SampleFn,
    theta_optimizer: torch.optim.Optimizer,
    domains: Sequence[str],
    rng: random.Random,
    settings: MetaSettings,
    *,
    phi_optimizer: torch.optim.Optimizer | None = None,
    theta_train: nn.Module | None = None,
    grad_sync: GradSync | None = None,
    autocast: Callable[[], AbstractContextManager] = nullcontext,
    iteration: int = 0,
    split: tuple[Sequence[str], Sequence[str]] | None = None,
    passes: MetaPasses | None = None,
) -> StepStats:
    """One outer iteration t of Algorithm 1 (paper Sec. III-C; first-order solution of Eq. 6)
    (chapter 06).

    ``sample(domains) -> (images, labels)`` draws a fresh domain-balanced batch;
    ``theta_train`` is the module used for the Θ step (a DistributedDataParallel wrapper of
    ``theta`` when distributed; the inner loop always calls the plain ``theta`` because it only
    needs ∇_Φ); ``grad_sync`` averages Φ's gradients over ranks. ``split`` = (D_φ, D_θ)
    replaces line 6's random draw (``rng`` is then unused), so that an iteration can be
    replayed on pre-drawn batches (chapter 06's exercise). ``passes`` computes the losses
    (default :func:`eager_passes`; the compiled ones of ``RunConfig.compile``).
    """
    mode, lr = settings.mode, settings.lr
    if mode == "official" and phi_optimizer is None:
        raise ValueError("mode='official' needs phi_optimizer (SGD, momentum 0.9, lr = alpha*K)")
    theta_train = theta if theta_train is None else theta_train
    passes = passes or eager_passes(phi, theta, theta_train, loss_fn, settings)
    if split is None:
        phi_domains, theta_domains = split_domains(domains, rng, mode)  # line 6
    else:
        phi_domains, theta_domains = given_split(domains, split)
    stats = StepStats(iteration, phi_domains, theta_domains)
    phi_params = trainable(phi)
    phi.train()
    theta.train()

    checks = LossChecks(iteration, passes.deferred_checks)

    # Lines 7-12: Φ_0 ← Φ, then K first-order steps of Φ (Eq. 7) on fresh D_φ batches, Θ fixed.
    start = time.perf_counter()
    keep_theta_bn = passes.keep_stats(theta) if mode == "paper" else nullcontext()
    with keep_theta_bn:
        for k in range(settings.inner_steps):
            x_phi, y_phi = sample(phi_domains)  # line 10
            with record_function("phi_inner_step"):
                with autocast():
                    loss = passes.inner(x_phi, y_phi)
                checks.add(loss, f"inner loss (k={k + 1}, D_phi)")
                grads = list(torch.autograd.grad(loss, phi_params))  # ∇_Φ only: Θ gets nothing
                if grad_sync is not None:
                    grad_sync(grads)
                _update_phi(phi_params, grads, lr, phi_optimizer if mode == "official" else None)
    stats.inner_seconds = time.perf_counter() - start

    # Lines 14-17: Φ̂ = Φ_K frozen; one step of Θ on a D_θ batch (Eq. 8); Φ keeps Φ_K.
    start = time.perf_counter()
    x_theta, y_theta = sample(theta_domains)  # line 15
    keep_phi_bn = passes.keep_stats(phi) if mode == "paper" else nullcontext()
    with record_function("theta_step"):
        theta_optimizer.zero_grad(set_to_none=True)
        with keep_phi_bn, autocast():
            loss = passes.theta(x_theta, y_theta)
        checks.add(loss, "theta loss (D_theta)")
        loss.backward()
        theta_optimizer.step()  # line 16 (Eq. 8)
        theta_optimizer.zero_grad(set_to_none=True)
        *stats.inner_losses, stats.theta_loss = checks.values()
    stats.theta_seconds = time.perf_counter() - start
    return stats


def phi_optimizer_for(phi: nn.Module, settings: MetaSettings, momentum: float):
    """The official code's optimiser of Φ: SGD with momentum and lr = α·K (or None if fixed)
    (chapter 10)."""
    params = trainable(phi)
    if not params:
        return None
    return torch.optim.SGD(params, lr=settings.lr * settings.inner_steps, momentum=momentum)
