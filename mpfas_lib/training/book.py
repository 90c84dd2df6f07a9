"""The chapters' shortcuts to trained models: the committed study, else short stand-in runs.

Every chapter that shows what training produced loads the committed study-scale results in
``results/study/`` (made by ``python -m mpfas_lib sweep study-main`` and ``study-ablations``);
without them it trains a short stand-in run here, once, and the label says which.
"""

from __future__ import annotations

import copy
import functools
import os
import random
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import torch
import torch.nn.functional as F

from mpfas_lib.data.protocols import build_protocol
from mpfas_lib.data.sampling import DomainBalancedBatches
from mpfas_lib.data.synthetic import DEFAULT_SHIFT
from mpfas_lib.evaluation.tables import load_runs, run_rows, run_shift
from mpfas_lib.models.extractor import build_extractor
from mpfas_lib.models.hfn import HFN
from mpfas_lib.models.losses import hfn_loss
from mpfas_lib.profile import Profile
from mpfas_lib.training.algorithm1 import Batch, MetaSettings, meta_pattern_step, split_domains
from mpfas_lib.training.artefacts import load_checkpoint, phi_snapshots, run_folder
from mpfas_lib.training.config import RunConfig, build_config
from mpfas_lib.training.loop import load_or_train, run_training
from mpfas_lib.training.methods import build_models, build_phi, get_method
from mpfas_lib.training.plan import read_plan
from mpfas_lib.training.sweep import plan_runs

STUDY_RUN = "MICO_OCI-M-mp-s0"  # the study run whose Φ and Θ chapters 03-06 and 11 show
SNAPSHOT_RUN = (24, 8)  # iterations and evaluation interval of the stand-in for STUDY_RUN
TINY_RUN = (2, 2)  # the stand-in for whole plans: a run that only proves the code runs


def stand_in(profile: Profile, iterations: int, eval_every: int, name: str | None = None
             ) -> Profile:
    """A profile shortened to a few iterations: the one way chapters shorten runs (chapter 08)."""
    return profile.replace(name=name or profile.name, iterations=iterations,
                           eval_every=eval_every)


def study_snapshots(results: str | os.PathLike, profile: Profile, cache: str | os.PathLike,
                    run: str = STUDY_RUN) -> tuple[dict[str, Any], str]:
    """Φ of a study run at iteration 0 and every evaluation, and where it comes from (chapter 11).

    The committed ``results/study/<run>/phi.pt`` when it is there, else a short Algorithm 1
    run at ``profile`` (:data:`SNAPSHOT_RUN`), trained once into ``cache`` and reused.
    """
    snaps = phi_snapshots(Path(results) / "study" / run)
    if snaps is not None:
        return snaps, f"study run {run}"
    iterations, every = SNAPSHOT_RUN
    config = build_config(method="mp", progress=False, tensorboard=False).replace(
        profile=stand_in(profile, iterations, every))
    out = Path(cache) / "short_runs"
    load_or_train(config, out, log=lambda *_: None)
    snaps = phi_snapshots(run_folder(config, out).path)
    if snaps is None:
        raise RuntimeError(f"the stand-in run in {cache} wrote no phi.pt")
    return snaps, f"{profile.name} profile, {iterations} iterations"


def trained_phi(results: str | os.PathLike, profile: Profile, cache: str | os.PathLike,
                run: str = STUDY_RUN) -> tuple[torch.nn.Module, str]:
    """A trained Φ in eval mode, the one source validation selected, and its label (chapter 04).

    From :func:`study_snapshots`, so a reader always sees what training produced, and the
    label says which (chapters 03, 04, 06 and 11).
    """
    snaps, label = study_snapshots(results, profile, cache, run)
    chosen = snaps["selected"] if snaps["selected"] is not None else snaps["iterations"][-1]
    phi = build_phi(get_method(snaps["method"]))
    if phi is None:
        raise ValueError(f"run {run}: method {snaps['method']} has no learnt extractor Φ")
    phi.load_state_dict(snaps["states"][snaps["iterations"].index(chosen)])
    return phi.eval(), f"{label}, iteration {chosen}, synthetic"


def trained_models(results: str | os.PathLike, run: str = STUDY_RUN
                   ) -> tuple[torch.nn.Module, torch.nn.Module, str] | None:
    """Φ and Θ of a study run's selected model, in eval mode, with a label (chapter 05).

    Reads the committed ``results/study/explorer/<run>.pt`` (both networks at the evaluation
    selected on source validation; its ``origin``, when recorded, joins the label); None when
    it is missing.
    """
    path = Path(results) / "study" / "explorer" / f"{run}.pt"
    if not path.is_file():
        return None
    saved = load_checkpoint(path)
    config = RunConfig.from_dict(saved["config"])
    phi, theta = build_models(config.method, config.profile)
    if phi is None:
        raise ValueError(f"{path}: run {run} has no learnt extractor Φ")
    phi.load_state_dict(saved["phi"])
    theta.load_state_dict(saved["theta"])
    label = f"study run {run}, iteration {saved['iteration']}, synthetic"
    if saved.get("origin"):  # e.g. a re-training of the committed run on another machine
        label += f" ({saved['origin']})"
    return phi.eval(), theta.eval(), label


def study_runs(plans: Sequence[str], profile: Profile, results: str | os.PathLike,
               cache: str | os.PathLike, seeds: Sequence[int] | None = None,
               shift: float | None = DEFAULT_SHIFT) -> tuple[list[dict[str, Any]], str]:
    """The runs of study plans and their label (chapters 08 and 09).

    Under a full profile (a GPU) each run is loaded, resumed or trained at that scale. Else
    the committed study results are loaded from each plan's folder (``results/<out>``, e.g.
    ``results/study``); without them a tiny stand-in of each plan
    (:data:`TINY_RUN`, seed 0) is trained so the chapter still runs, labelled ``tiny``.
    Only runs at the dial value ``shift`` are returned (runs made before the dial count as
    the default); ``shift=None`` returns every value (the dial's own section).
    """
    if profile.name.startswith("full"):
        runs = [r for p in plans for r in plan_runs(p, profile, seeds=seeds)]
        label = profile.name
    else:
        folders = dict.fromkeys(read_plan(p).out for p in plans)
        runs = [r for out in folders for r in load_runs(Path(results) / out)]
        label = "study"
        if not runs:
            tiny = stand_in(profile, *TINY_RUN, name="tiny")
            runs = [r for p in plans for r in plan_runs(p, tiny, out=Path(cache) / "tiny",
                                                          seeds=[0])]
            label = "tiny"
    if shift is not None:
        runs = [r for r in runs if run_shift(r) in (None, shift)]
    return runs, label


# ---- chapter 06: Algorithm 1 on the tiny model, replayed on pre-drawn batches ---------

TINY_SIDE = 16  # chapter 06's tiny model sees the synthetic faces shrunk to 16x16 pixels
TINY_PROTOCOL = "MICO:OCI-M"
StudentStep = Callable[[torch.nn.Module, torch.nn.Module, torch.optim.Optimizer,
                        list[Batch], Batch, float], Any]
StepOn = Callable[[torch.nn.Module, torch.nn.Module, torch.optim.Optimizer, "PreDrawn"], Any]


@dataclass(frozen=True)
class PreDrawn:
    """One Algorithm 1 iteration drawn once: the split, K batches of D_φ, one of D_θ
    (chapter 06)."""

    phi_domains: list[str]
    theta_domains: list[str]
    phi_batches: list[Batch]
    theta_batch: Batch

    def sample(self) -> Callable[[Sequence[str]], Batch]:
        """A ``sample(domains)`` for :func:`meta_pattern_step` that hands out these batches."""
        queue = [(self.phi_domains, b) for b in self.phi_batches]
        queue.append((self.theta_domains, self.theta_batch))

        def sample(names: Sequence[str]) -> Batch:
            if not queue:
                raise ValueError("more batches asked for than were drawn (K + 1)")
            domains, batch = queue.pop(0)
            if sorted(names) != domains:
                raise ValueError(f"a batch of {sorted(names)} asked for, {domains} was drawn")
            return batch
        return sample

    def to(self, dtype: torch.dtype) -> PreDrawn:
        """A copy with the images in ``dtype`` (the labels stay integers)."""
        phi_batches = [(x.to(dtype, copy=True), y.clone()) for x, y in self.phi_batches]
        x, y = self.theta_batch
        return PreDrawn(list(self.phi_domains), list(self.theta_domains), phi_batches,
                        (x.to(dtype, copy=True), y.clone()))


def tiny_models(seed: int = 0) -> tuple[torch.nn.Module, torch.nn.Module]:
    """The tiny Φ (CONV2) and Θ (two-stream HFN, width 16, fusion 16) of chapter 06, seeded as
    the chapter seeds them (``torch.manual_seed(seed)``), leaving torch's generator as it was
    (chapter 06)."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return build_extractor("conv2"), HFN(backbone="resnet18-w16", fusion_channels=16)


def predrawn_iterations(profile: Profile, iterations: int, inner_steps: int, seed: int = 1,
                        per_class: int = 2) -> list[PreDrawn]:
    """The splits and batches of ``iterations`` Algorithm 1 iterations, drawn once (chapter 06).

    The chapter's tiny batches (``per_class`` genuine and spoof faces per domain of the
    synthetic MICO sources, shrunk to 16 pixels) from ``DomainBalancedBatches(seed=seed)``;
    iteration t's split is ``split_domains(sources, random.Random(t))``. Drawn once per
    process; each call returns copies.
    """
    drawn = _predrawn(profile, iterations, inner_steps, seed, per_class)
    return [it.to(it.theta_batch[0].dtype) for it in drawn]


@functools.lru_cache(maxsize=4)
def _predrawn(profile: Profile, iterations: int, inner_steps: int, seed: int,
              per_class: int) -> tuple[PreDrawn, ...]:
    protocol = build_protocol(TINY_PROTOCOL, source="synthetic", profile=profile)
    source = DomainBalancedBatches(protocol.sources, k=per_class, seed=seed)

    def draw(names: Sequence[str]) -> Batch:
        x, y, _ = source.batch(names)
        return F.interpolate(x, size=TINY_SIDE, mode="area"), y

    drawn = []
    for t in range(iterations):
        d_phi, d_theta = split_domains(sorted(protocol.sources), random.Random(t))
        phi_batches = [draw(d_phi) for _ in range(inner_steps)]
        drawn.append(PreDrawn(d_phi, d_theta, phi_batches, draw(d_theta)))
    return tuple(drawn)


def replay_iterations(step_on: StepOn, drawn: Sequence[PreDrawn], lr: float, seed: int = 0,
                      dtype: torch.dtype = torch.float32
                      ) -> list[dict[str, dict[str, torch.Tensor]]]:
    """Fresh tiny models, one ``step_on(phi, theta, opt, iteration)`` per pre-drawn iteration
    (chapter 06).

    Θ's optimiser is SGD at ``lr`` with momentum 0.9, as in chapter 06; the models and the
    images are in ``dtype``. Returns the states {"phi": ..., "theta": ...} after each
    iteration (chapter 06's exercise).
    """
    phi, theta = (net.to(dtype) for net in tiny_models(seed))
    drawn = [it.to(dtype) for it in drawn]
    opt = torch.optim.SGD(theta.parameters(), lr=lr, momentum=0.9)
    states = []
    for iteration in drawn:
        step_on(phi, theta, opt, iteration)
        states.append({"phi": copy.deepcopy(phi.state_dict()),
                       "theta": copy.deepcopy(theta.state_dict())})
    return states


def student_steps(step: StudentStep, lr: float) -> StepOn:
    """A step written as ``step(phi, theta, opt, phi_batches, theta_batch, lr)`` (chapter 06)."""
    return lambda phi, theta, opt, it: step(phi, theta, opt, list(it.phi_batches),
                                            it.theta_batch, lr)


def library_steps(settings: MetaSettings) -> StepOn:
    """:func:`meta_pattern_step` on a pre-drawn iteration: its split, its batches (chapter 06)."""
    def step_on(phi: torch.nn.Module, theta: torch.nn.Module, opt: torch.optim.Optimizer,
                it: PreDrawn) -> Any:
        domains = it.phi_domains + it.theta_domains
        return meta_pattern_step(phi, theta, hfn_loss, it.sample(), opt, domains,
                                 random.Random(0), settings,
                                 split=(it.phi_domains, it.theta_domains))
    return step_on


# ---- chapter 08: re-training a committed run ------------------------------------------

RERUN = ("study-shift", "MICO_OCI-M-erm-s0")  # ERM, C&I&O→M, default dial, benchmark v10
RERUN_METRICS = ("evaluated at", "auc", "hter_source", "hter_target_eer")


def committed_seeds(results: str | os.PathLike, folder: str, run: str) -> list[dict[str, Any]]:
    """The committed run ``results/<folder>/<run>`` first, then the other seeds of its setting
    and method (chapter 08)."""
    stem, _, seed = run.rpartition("-s")
    if not stem or not seed.isdigit():
        raise ValueError(f"run {run!r}: expected a name that ends in -s<seed>")
    runs = load_runs(Path(results) / folder, f"{stem}-s*/results.json")
    runs = [r for r in runs if r["run"][len(stem) + 2:].isdigit()]  # not "-shift0-s0"
    first = [r for r in runs if r["run"] == run]
    if not first:
        raise FileNotFoundError(f"{Path(results) / folder / run / 'results.json'}: no committed "
                                "run there")
    return first + [r for r in runs if r["run"] != run]


def rerun_table(committed: list[dict[str, Any]], again: dict[str, Any]) -> pd.DataFrame:
    """A re-trained run beside the committed one and the spread of the committed seeds, at the
    evaluation source validation selects (video level; chapter 08)."""
    seeds = run_rows(committed, rule="source_val").set_index("seed")[list(RERUN_METRICS)]
    mine = run_rows([again], rule="source_val").iloc[0]
    first = seeds.iloc[0]
    spread = seeds.max() - seeds.min()
    return pd.DataFrame({
        f"committed (seed {seeds.index[0]})": first,
        "re-trained": mine[list(RERUN_METRICS)].astype(float),
        "re-trained − committed": mine[list(RERUN_METRICS)].astype(float) - first,
        f"committed seeds {', '.join(map(str, seeds.index))}": seeds.T.apply(
            lambda row: ", ".join(f"{v:.4g}" for v in row), axis=1),
        "largest seed-to-seed difference": spread,
    })


def retrain_committed(results: str | os.PathLike, cache: str | os.PathLike, profile: Profile,
                      folder: str = RERUN[0], run: str = RERUN[1]
                      ) -> tuple[pd.DataFrame, str]:
    """Train a committed study run again and compare it with the committed numbers (chapter 08).

    At the run's own profile (``MPFAS_PROFILE=study``) the run is re-trained from its
    recorded configuration into ``cache/reruns`` (kept, and loaded the next time) and shown
    beside the committed run and its seeds (:func:`rerun_table`). At any other profile (the
    quick one of the tests and of the book's build) a short stand-in of the same
    configuration at that profile is trained twice, in fresh folders, to show what one
    machine and one library version give: the same numbers.
    """
    committed = committed_seeds(results, folder, run)
    config = RunConfig.from_dict(committed[0]["provenance"]["config"])
    quiet = lambda *_: None  # noqa: E731
    if profile.name == config.profile.name:
        out = Path(cache) / "reruns" / folder
        before = (out / run / "results.json").is_file()
        again = load_or_train(config, out, log=quiet)
        how = "loaded from an earlier re-training in the cache" if before else "re-trained now"
        return rerun_table(committed, again), f"{run}, {how}, on this machine"
    short = config.replace(profile=stand_in(profile, *TINY_RUN, name=f"{profile.name}-stand-in"),
                           progress=False, tensorboard=False)
    twice = []
    for _ in range(2):
        with tempfile.TemporaryDirectory() as out:
            twice.append(run_rows([run_training(short, out=out, log=quiet)], rule="source_val")
                         .iloc[0][list(RERUN_METRICS)].astype(float))
    table = pd.DataFrame({"first training": twice[0], "second training": twice[1],
                          "second − first": twice[1] - twice[0]})
    return table, (f"a {TINY_RUN[0]}-iteration stand-in of {run} at the {profile.name} "
                   "profile, trained twice on this machine")
