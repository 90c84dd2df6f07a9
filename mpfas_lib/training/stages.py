"""Algorithm 1 stage by stage: what one outer iteration changes, as data (chapter 06).

:func:`algorithm1_stages` runs :func:`~mpfas_lib.training.algorithm1.meta_pattern_step` once
and records Φ_0, Φ_1..Φ_K and the Θ step; :func:`mpfas_lib.viz.method_figures.algorithm1_explorer`
draws the record.
"""

from __future__ import annotations

import copy
import random
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from mpfas_lib.models.hfn import HFN
from mpfas_lib.training.algorithm1 import MetaSettings, StepStats, meta_pattern_step


@dataclass
class Algorithm1Stages:
    """One outer iteration of Algorithm 1 recorded stage by stage (Φ_0, Φ_1..Φ_K, Θ step)."""

    labels: list[str]
    groups: list[str]  # parameter groups, Φ's first
    change: np.ndarray  # [stage, group]: ‖p_s − p_0‖ / ‖p_0‖ of each group
    loss_phi: np.ndarray  # [stage]: L on the first D_φ batch with (Θ_s, Φ_s)
    loss_theta: np.ndarray  # [stage]: L on the D_θ batch with (Θ_s, Φ_s)
    stats: StepStats
    notes: list[str] = field(default_factory=list)


def _groups(module: nn.Module, prefix: str, parts: Mapping[str, nn.Module] | None = None
            ) -> dict[str, list[str]]:
    """Parameter names by group: the named parts of Θ, or each layer of Φ."""
    if parts is not None:
        ids = {id(p): n for n, p in module.named_parameters()}
        return {f"{prefix} {name}": [ids[id(p)] for p in part.parameters() if id(p) in ids]
                for name, part in parts.items()}
    out: dict[str, list[str]] = {}
    count: dict[str, int] = {}
    for name, m in module.named_modules():
        own = [f"{name}.{n}" if name else n for n, _ in m.named_parameters(recurse=False)]
        if own:
            kind = "BN" if isinstance(m, nn.modules.batchnorm._BatchNorm) else "conv"
            count[kind] = count.get(kind, 0) + 1
            out[f"{prefix} {kind} {count[kind]}"] = own
    return out


def algorithm1_stages(
    phi: nn.Module, theta: HFN, loss_fn: Callable[[Any, Tensor], Tensor],
    sample: Callable[[Sequence[str]], tuple[Tensor, Tensor]],
    theta_optimizer: torch.optim.Optimizer, domains: Sequence[str], rng: random.Random,
    settings: MetaSettings,
) -> Algorithm1Stages:
    """Run one outer iteration (``meta_pattern_step``, Alg. 1) and record every stage (chapter 06).

    The batch source is wrapped: Algorithm 1 asks for a batch right before each inner step
    and before the Θ step, so copies of Φ and Θ taken there are Φ_0, ..., Φ_{K−1}, Φ_K; the
    state after the Θ step is copied at the end. Losses are then measured on the first D_φ
    batch and on the D_θ batch with each stage's copies, in train mode (batch statistics) as
    Algorithm 1 computes them, without touching the trained modules.
    """
    snaps: list[tuple[nn.Module, nn.Module]] = []
    batches: list[tuple[Tensor, Tensor]] = []

    def traced(names: Sequence[str]) -> tuple[Tensor, Tensor]:
        snaps.append((copy.deepcopy(phi), copy.deepcopy(theta)))
        batch = sample(names)
        batches.append(batch)
        return batch

    stats = meta_pattern_step(phi, theta, loss_fn, traced, theta_optimizer, domains, rng,
                              settings)
    inner_steps = settings.inner_steps
    snaps.append((copy.deepcopy(phi), copy.deepcopy(theta)))
    groups = {**_groups(snaps[0][0], "Φ"), **_groups(snaps[0][1], "Θ", snaps[0][1].parts())}

    def flat(stage: int, names: list[str]) -> Tensor:
        p, t = snaps[stage]
        params = {**{f"Φ.{n}": v for n, v in p.named_parameters()},
                  **{f"Θ.{n}": v for n, v in t.named_parameters()}}
        return torch.cat([params[n].detach().flatten() for n in names])

    keyed = {g: [f"{g[0]}.{n}" for n in names] for g, names in groups.items()}
    start = {g: flat(0, n) for g, n in keyed.items()}
    change = np.array([[float((flat(s, n) - start[g]).norm() / (start[g].norm() + 1e-12))
                        for g, n in keyed.items()] for s in range(len(snaps))])

    @torch.no_grad()
    def loss_at(stage: int, batch: tuple[Tensor, Tensor]) -> float:
        p, t = copy.deepcopy(snaps[stage][0]).train(), copy.deepcopy(snaps[stage][1]).train()
        x, y = batch
        return float(loss_fn(t(x, p(x)), y))

    loss_phi = np.array([loss_at(s, batches[0]) for s in range(len(snaps))])
    loss_theta = np.array([loss_at(s, batches[-1]) for s in range(len(snaps))])
    d_phi, d_theta = ", ".join(stats.phi_domains), ", ".join(stats.theta_domains)
    labels = ["Φ₀ (start)", *[f"k = {k}" for k in range(1, inner_steps + 1)], "Θ step"]
    notes = [f"start: Φ₀ ← Φ; D_φ = {{{d_phi}}}, D_θ = {{{d_theta}}}"]
    notes += [f"inner step k = {k}: Φ_{k} = Φ_{k - 1} − α ∇_Φ L on a D_φ batch; Θ fixed"
              for k in range(1, inner_steps + 1)]
    notes.append(f"Θ step: Θ ← Θ − α ∇_Θ L(x_θ | Θ, Φ_{inner_steps}) on a D_θ batch; Φ ← Φ_K")
    return Algorithm1Stages(labels, list(groups), change, loss_phi, loss_theta, stats, notes)
