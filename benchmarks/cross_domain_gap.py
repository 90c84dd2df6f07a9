"""Is every target unseen? Source-validation vs target AUC of two models at a dial value.

For each leave-one-out protocol and seed, two models are trained on the three source domains'
train splits and scored (video level: the mean of a video's frame scores) on the sources'
pooled validation splits and on the target's test split:

- ``rgb``: an RGB-only network trained by plain ERM on domain-balanced batches (``--model
  hfn``, the default: the library's single-stream RGB method, the study's RGB baseline, at the
  profile's scale and optimiser; ``tiny``: a four-block CNN with Adam);
- ``stats``: logistic regression on global image statistics only (per-channel mean and spread,
  saturation, sharpness, spectrum bands, JPEG blockiness), which sees no spoof texture.

A target is unseen when its AUC is clearly below the source-validation AUC (the gap, in AUC
points). Seed ``s`` draws the synthetic data with seed ``s`` and trains with seed ``s``. The
table is printed and written to ``results/benchmarks/cross_domain_gap-<profile>-shift<v>``
(``.json`` and ``.md``). Usage: ``python benchmarks/cross_domain_gap.py --profile study``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import torch
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from torch import nn
from tqdm.auto import tqdm

from mpfas_lib.data.protocols import PROTOCOLS, Protocol, build_protocol
from mpfas_lib.data.sampling import DomainBalancedBatches
from mpfas_lib.data.synthetic import DEFAULT_SHIFT, GENERATOR_VERSION, check_shift
from mpfas_lib.evaluation.metrics import auc, video_scores
from mpfas_lib.files import atomic_write_text
from mpfas_lib.helptext import DocstringFormatter
from mpfas_lib.paths import REPO_ROOT
from mpfas_lib.profile import PROFILES, Profile, get_profile
from mpfas_lib.provenance import git_commit

MICO = ["MICO:OCI-M", "MICO:OMI-C", "MICO:OCM-I", "MICO:ICM-O"]
MODELS = ("rgb", "stats")
OUT = REPO_ROOT / "results" / "benchmarks"


class TinyCNN(nn.Module):
    """A small RGB-only CNN: four conv-BN-ReLU blocks, global pooling, two logits."""

    def __init__(self, width: int = 8) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        c_in = 3
        for c in (width, width * 2, width * 4, width * 4):
            layers += [nn.Conv2d(c_in, c, 3, padding=1, bias=False), nn.BatchNorm2d(c),
                       nn.ReLU(inplace=True), nn.MaxPool2d(2)]
            c_in = c
        self.features = nn.Sequential(*layers)
        self.head = nn.Linear(c_in, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Two logits (spoof, genuine) per image."""
        return self.head(self.features(x).mean(dim=(2, 3)))


def _images(dataset) -> np.ndarray:
    """Every frame of a dataset as float32 [N,3,S,S] in [0, 1]."""
    return np.stack([dataset[i][0].numpy() for i in range(len(dataset))])


def _video_auc(scores: np.ndarray, datasets) -> float:
    """Video-level AUC (%) of frame scores over one or several pooled datasets."""
    labels = [y for ds in datasets for y in ds.labels]
    ids = [v for ds in datasets for v in ds.video_ids]
    s, y, _ = video_scores(scores, labels, ids)
    return auc(s, y)


# ---- the RGB network ---------------------------------------------------------------------------
def train_rgb(proto: Protocol, profile: Profile, kind: str, steps: int, seed: int):
    """An RGB-only network trained by ERM on the sources; returns a frame scorer."""
    torch.manual_seed(seed)
    batches = DomainBalancedBatches(proto.sources, k=profile.batch_per_class, seed=seed)
    if kind == "hfn":
        from mpfas_lib.models.losses import genuine_score, hfn_loss
        from mpfas_lib.training.methods import build_theta, get_method

        model = build_theta(get_method("rgb"), profile)
        opt = torch.optim.SGD(model.parameters(), lr=profile.lr, momentum=profile.momentum)

        def loss_of(x, y):
            return hfn_loss(model(x, None), y)

        def score(x):
            return genuine_score(model(x, None))
    else:
        model = TinyCNN()
        opt = torch.optim.Adam(model.parameters(), lr=1e-3)

        def loss_of(x, y):
            return nn.functional.cross_entropy(model(x), y)

        def score(x):
            return model(x).softmax(1)[:, 1]
    model.train()
    for _ in range(steps):
        x, y, _ = batches.batch(proto.source_domains)
        loss = loss_of(x, y)
        opt.zero_grad()
        loss.backward()
        opt.step()
    model.eval()

    def scorer(dataset, batch: int = 128) -> np.ndarray:
        out = []
        with torch.no_grad():
            for i in range(0, len(dataset), batch):
                x = torch.stack([dataset[j][0] for j in range(i, min(i + batch, len(dataset)))])
                out.append(score(x))
        return torch.cat(out).numpy()
    return scorer


# ---- the global-statistics model -----------------------------------------------------------------
_BANDS = (0.0, 0.05, 0.1, 0.2, 0.3, 0.5, 0.71)  # radial frequency bands (cycles per pixel)


def global_stats(images: np.ndarray) -> np.ndarray:
    """Per image [N,3,S,S]: channel means and spreads, saturation, sharpness, spectrum, blocks."""
    feats = []
    size = images.shape[-1]
    f = np.fft.fftfreq(size)
    radius = np.hypot(*np.meshgrid(f, f))
    bands = [(radius >= lo) & (radius < hi) for lo, hi in zip(_BANDS, _BANDS[1:], strict=False)]
    for img in images:
        rgb = img.transpose(1, 2, 0)
        grey = rgb.mean(-1)
        hi, lo = rgb.max(-1), rgb.min(-1)
        sat = (hi - lo) / (hi + 1e-3)
        lap = cv2.Laplacian(grey.astype(np.float32), cv2.CV_32F)
        power = np.abs(np.fft.fft2(grey - grey.mean())) ** 2
        spectrum = [np.log(power[b].mean() + 1e-9) for b in bands]
        dx = np.abs(np.diff(grey, axis=1))
        at_edge = dx[:, 7::8].mean() if size > 8 else 0.0
        blocky = np.log((at_edge + 1e-4) / (dx.mean() + 1e-4))
        feats.append([*rgb.mean((0, 1)), *rgb.std((0, 1)), sat.mean(), sat.std(),
                      np.log(np.abs(lap).mean() + 1e-6), np.log(lap.std() + 1e-6),
                      *spectrum, blocky])
    return np.asarray(feats, np.float64)


def train_stats(proto: Protocol, seed: int):
    """Logistic regression on the global statistics of the sources' frames; a frame scorer."""
    x = np.concatenate([global_stats(_images(ds)) for ds in proto.sources.values()])
    y = np.concatenate([ds.labels for ds in proto.sources.values()])
    model = make_pipeline(StandardScaler(), LogisticRegression(C=1.0, max_iter=2000,
                                                               random_state=seed))
    model.fit(x, y)
    return lambda dataset: model.predict_proba(global_stats(_images(dataset)))[:, 1]


# ---- one measurement -----------------------------------------------------------------------------
def measure(name: str, profile: Profile, shift: float, seed: int, kind: str, steps: int
            ) -> dict[str, dict[str, float]]:
    """Source-validation AUC, target AUC and their gap of both models on one protocol."""
    proto = build_protocol(name, "synthetic", profile, seed=seed, shift=shift)
    out = {}
    for model in MODELS:
        t = time.time()
        scorer = (train_rgb(proto, profile, kind, steps, seed) if model == "rgb"
                  else train_stats(proto, seed))
        val = list(proto.source_val.values())
        auc_val = _video_auc(np.concatenate([scorer(ds) for ds in val]), val)
        auc_tgt = _video_auc(scorer(proto.target), [proto.target])
        out[model] = {"source_val_auc": auc_val, "target_auc": auc_tgt,
                      "gap": auc_val - auc_tgt, "seconds": time.time() - t}
    return out


def summarise(runs: dict[str, dict[int, dict]]) -> dict[str, dict[str, dict[str, float]]]:
    """Mean over seeds of every figure, per protocol and model."""
    keys = ("source_val_auc", "target_auc", "gap")
    return {name: {m: {k: float(np.mean([r[m][k] for r in seeds.values()])) for k in keys}
                   for m in MODELS} for name, seeds in runs.items()}


def table(result: dict) -> str:
    """The gap table as Markdown: per protocol and model, each seed and the mean."""
    seeds = result["seeds"]
    head = ("| protocol | model | " + " | ".join(f"seed {s}: val / tgt / gap" for s in seeds)
            + " | mean val | mean tgt | mean gap |")
    lines = [head, "|" + "---|" * (5 + len(seeds))]
    for name, per_seed in result["runs"].items():
        for m in MODELS:
            cells = [f"{r[m]['source_val_auc']:.1f} / {r[m]['target_auc']:.1f} / "
                     f"{r[m]['gap']:+.1f}" for r in per_seed.values()]
            mean = result["mean"][name][m]
            lines.append(f"| {name} | {m} | " + " | ".join(cells)
                         + f" | {mean['source_val_auc']:.1f} | {mean['target_auc']:.1f} | "
                         f"**{mean['gap']:+.1f}** |")
    return "\n".join(lines)


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    """Parse and validate the arguments (before any work)."""
    p = argparse.ArgumentParser(description=__doc__, formatter_class=DocstringFormatter)
    p.add_argument("--profile", default="quick", help=f"one of {sorted(PROFILES)} (sizes)")
    p.add_argument("--shift", type=float, default=DEFAULT_SHIFT,
                   help=f"the domain-shift dial (default {DEFAULT_SHIFT:g})")
    p.add_argument("--model", default="hfn", choices=["hfn", "tiny"],
                   help="the RGB network: a tiny CNN (fast) or the library's RGB method")
    p.add_argument("--steps", type=int, default=None,
                   help="training steps of the RGB network (default: the profile's iterations)")
    p.add_argument("--seeds", type=int, default=2, help="seeds 0..N-1 (data and training)")
    p.add_argument("--protocols", nargs="+", default=MICO, help="leave-one-out protocols")
    p.add_argument("--out", type=Path, default=OUT, help="folder of the .json and .md")
    a = p.parse_args(argv)
    try:
        a.profile = get_profile(a.profile)
        a.shift = check_shift(a.shift)
    except ValueError as err:
        p.error(str(err))
    if a.seeds < 1:
        p.error(f"--seeds must be >= 1, got {a.seeds}")
    if a.steps is not None and a.steps < 1:
        p.error(f"--steps must be >= 1, got {a.steps}")
    unknown = [n for n in a.protocols if n not in PROTOCOLS]
    if unknown:
        p.error(f"unknown protocol(s) {unknown}: choose from {list(PROTOCOLS)}")
    if a.out.exists() and not a.out.is_dir():
        p.error(f"--out {a.out} is not a folder")
    a.steps = a.steps or a.profile.iterations
    return a


def main(argv: list[str] | None = None) -> dict:
    """Measure, print and write the gap table."""
    a = parse(argv)
    torch.set_num_threads(1)
    cv2.setNumThreads(1)
    prof: Profile = a.profile
    print(f"profile {prof.name}: {prof.synth_subjects} subjects per domain, {prof.synth_frames} "
          f"frames per video, {prof.image_size} px; generator v{GENERATOR_VERSION}, shift "
          f"{a.shift:g}; rgb = {a.model} ({a.steps} steps), stats = logistic regression on "
          f"global image statistics; seeds 0..{a.seeds - 1}")
    runs: dict[str, dict[int, dict]] = {n: {} for n in a.protocols}
    start = time.time()
    jobs = [(n, s) for n in a.protocols for s in range(a.seeds)]
    for name, seed in tqdm(jobs, desc="cross-domain gap", unit="run"):
        runs[name][seed] = measure(name, prof, a.shift, seed, a.model, a.steps)
    result = {"profile": prof.name, "shift": a.shift, "generator_version": GENERATOR_VERSION,
              "rgb_model": a.model, "steps": a.steps, "seeds": list(range(a.seeds)),
              "subjects_per_domain": prof.synth_subjects, "frames": prof.synth_frames,
              "image_size": prof.image_size, "git_commit": git_commit(),
              "seconds": round(time.time() - start, 1), "runs": runs, "mean": summarise(runs)}
    text = table(result)
    print(text)
    command = " ".join(sys.argv[1:] if argv is None else argv)
    a.out.mkdir(parents=True, exist_ok=True)
    stem = f"{a.out}/cross_domain_gap-{prof.name}-shift{a.shift:g}"  # no with_suffix: "1.5"
    atomic_write_text(json.dumps(result, indent=1) + "\n", f"{stem}.json")
    atomic_write_text(
        f"# Cross-domain gap: profile {prof.name}, shift {a.shift:g}\n\n"
        f"Generator v{GENERATOR_VERSION}; AUC (%) at the video level: source validation (val), "
        f"target test (tgt), gap = val - tgt. rgb = {a.model} RGB network trained by ERM for "
        f"{a.steps} steps; stats = logistic regression on global image statistics; seed s draws "
        f"the data and trains with seed s. Command: "
        f"`python benchmarks/cross_domain_gap.py {command}`"
        f" ({result['seconds']:.0f} s).\n\n{text}\n", f"{stem}.md")
    print(f"wrote {stem}.json and .md")
    worst = min(result["mean"][n][m]["gap"] for n in runs for m in MODELS)
    print(f"smallest mean gap: {worst:+.1f} AUC points")
    return result


if __name__ == "__main__":
    main()
