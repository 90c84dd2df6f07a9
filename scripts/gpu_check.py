"""One command that checks the GPU path of mpfas_lib end to end and writes one JSON report.

    python scripts/gpu_check.py --device cuda                 # one H100/H200: about 5 minutes
    python scripts/gpu_check.py --device cpu --tiny --skip-notebooks   # CPU smoke: about 1 minute

Sections (each one is recorded even when it fails, and the script goes on):

- ``environment``: device, torch, CUDA, cuDNN, Python, git commit;
- ``methods``: ``mp``, ``mp-official``, ``erm``, ``rgb`` and ``colorlbp`` trained for N iterations
  of the full profile (ResNet-50 streams, 256 px, the paper's hyper-parameters) on the synthetic
  benchmark through the library's own data pipeline, with bf16 autocast and channels_last
  (CUDA only): losses finite, median seconds per iteration after 3 warm-up iterations, images/s,
  peak GPU memory and the model FLOP/s of the run (FLOPs of one counted iteration per image);
- ``flops``: FLOPs of one Θ training step (forward + backward, ``FlopCounterMode``), timed
  separately, and the MFU against the card's dense bf16 peak (unknown cards: FLOP/s only);
- ``ratio``: seconds per iteration of Algorithm 1 over ERM (goal <= 1.6; reported, not enforced);
- ``resume``: a 6-iteration run against a run stopped at iteration 3 and resumed to 6 (on the CPU
  the final metrics and weights must be identical; on CUDA deterministic algorithms are switched
  on for this check and the largest difference is compared with a tolerance);
- ``ddp_smoke``: ``python -m torch.distributed.run --nproc_per_node=1 -m mpfas_lib train``;
  ``ddp_gloo``: the same with 2 CPU processes (gloo), the only one that exercises
  DistributedDataParallel, since a world of size 1 trains without it;
- ``notebooks``: ``pytest --nbmake notebooks -x`` under ``MPFAS_PROFILE=full-smoke`` (the full
  networks and image size, few iterations and identities; ``quick`` with ``--tiny``).

The report goes to ``<out>/<device-slug>-<YYYY-MM-DD>.json`` (written atomically); the exit
code is 1 when a required check failed, else 0.
"""

from __future__ import annotations

import argparse
import datetime as dt
import gc
import importlib.util
import json
import math
import os
import platform
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import traceback
import warnings
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

METHODS = ("mp", "mp-official", "erm", "rgb", "colorlbp")
PROTOCOL = "MICO:OCI-M"
# small synthetic benchmark: generating it is CPU-bound (about 10 s at 256 px on one core)
DATA = {"synth_subjects": 4, "synth_frames": 2, "eval_frames": 2}
WARMUP = 3
TINY_WARMUP = 1
TINY_ITERATIONS = 3
# dense bf16 tensor-core peaks (FLOP/s) from the vendors' data sheets
PEAKS = {"H100 SXM": 989.4e12, "H100 PCIe": 756e12, "H200": 989.4e12, "A100": 312e12}
RESUME_TOLERANCE_CUDA = 0.05  # largest metric difference accepted on CUDA (see resume_check)
DDP_NOTE = (
    "with WORLD_SIZE=1 `mpfas_lib train` joins no process group (cli.main calls "
    "init_distributed only when WORLD_SIZE > 1) and Trainer wraps DistributedDataParallel only "
    "when world_size > 1: this smoke checks the torchrun launch, not DDP itself (ddp_gloo does)"
)
SMOKE_NOTE = (
    "the notebooks run under MPFAS_PROFILE=full-smoke: the full profile's networks and image "
    "size with few iterations and identities (mpfas_lib.profile)"
)


# ---------------------------------------------------------------------------------------------
# helpers


def last_line(error: BaseException) -> str:
    """The last line of an exception's message (its type when the message is empty)."""
    text = str(error).strip().splitlines()
    return f"{type(error).__name__}: {text[-1]}" if text else type(error).__name__


def tail(text: str, lines: int = 15) -> str:
    """The last lines of a process's output."""
    return "\n".join(text.strip().splitlines()[-lines:])


def slug(text: str) -> str:
    """A file-name friendly form of a device name."""
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "device"


def write_json_atomic(data: dict, path: Path) -> None:
    """Write JSON through a temporary file in the same folder and an atomic rename."""
    from mpfas_lib.files import atomic_write_text

    atomic_write_text(json.dumps(data, indent=2, default=str) + "\n", path)


def peak_flops(name: str) -> tuple[str | None, float | None]:
    """The dense bf16 peak of a card by its name, or (None, None) when unknown."""
    upper = name.upper()
    if "NVL" in upper:  # NVL parts have their own peaks: not in the table
        return None, None
    if "H200" in upper:
        return "H200", PEAKS["H200"]
    if "H100" in upper:
        key = "H100 PCIe" if "PCIE" in upper else "H100 SXM"  # "H100 80GB HBM3" is the SXM part
        return key, PEAKS[key]
    if "A100" in upper:
        return "A100", PEAKS["A100"]
    return None, None


def git_commit() -> str | None:
    """HEAD of the repository holding this script, with ``+dirty`` when it has changes."""
    try:
        head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=REPO, capture_output=True,
                              text=True, timeout=10, check=False)
        if head.returncode != 0:
            return None
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"],
                               cwd=REPO, capture_output=True, text=True, timeout=10,
                               check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    return head.stdout.strip() + ("+dirty" if dirty.stdout.strip() else "")


def child_env(**extra: str) -> dict[str, str]:
    """The environment of a child process: this repository first on PYTHONPATH."""
    env = dict(os.environ)
    paths = [str(REPO)] + [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p]
    env["PYTHONPATH"] = os.pathsep.join(dict.fromkeys(paths))
    env.setdefault("OMP_NUM_THREADS", "1")
    env.update(extra)
    return env


def run_process(cmd: list[str], env: dict[str, str], timeout: float | None,
                cwd: Path = REPO) -> tuple[int | None, str, float]:
    """Run a command in its own process group; kill that group on timeout (rc None)."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, start_new_session=True)
    try:
        out, _ = proc.communicate(timeout=timeout)
        rc: int | None = proc.returncode
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, _ = proc.communicate()
        rc = None
    return rc, out or "", time.perf_counter() - start


class Check:
    """Shared state of one invocation: arguments, device, clock and the report."""

    def __init__(self, args: argparse.Namespace) -> None:
        import torch

        self.args = args
        self.tiny: bool = args.tiny
        self.device = torch.device(args.device)
        self.cuda = self.device.type == "cuda"
        self.profile = "quick" if self.tiny else "full"
        self.iterations = min(args.iterations, TINY_ITERATIONS) if self.tiny else args.iterations
        self.warmup = TINY_WARMUP if self.tiny else WARMUP
        self.start = time.perf_counter()
        self.report: dict[str, Any] = {}
        self.tmp = Path(tempfile.mkdtemp(prefix="gpu_check_"))

    def elapsed(self) -> float:
        """Seconds since the start of the check."""
        return time.perf_counter() - self.start

    def remaining(self) -> float | None:
        """Seconds left of ``--budget-s`` (None: no budget)."""
        if self.args.budget_s is None:
            return None
        return self.args.budget_s - self.elapsed()

    def sync(self) -> None:
        """Wait for the GPU's queue (no-op on the CPU)."""
        if self.cuda:
            import torch

            torch.cuda.synchronize(self.device)

    def config(self, method: str, **settings: Any):
        """The config of one method at this check's profile, on the small synthetic benchmark."""
        from mpfas_lib.models.pretrained import imagenet_weights_file
        from mpfas_lib.profile import get_profile
        from mpfas_lib.training.config import build_config

        # the device has no internet: random trunks unless the ImageNet weights were carried
        backbone = get_profile(self.profile).backbone
        init = ({} if self.tiny or imagenet_weights_file(backbone) is not None
                else {"pretrained": "none"})
        values = {**DATA, "device": str(self.device), "amp": True, "channels_last": True,
                  "progress": False, "tensorboard": False, **init, **settings}
        return build_config(protocol=PROTOCOL, method=method, profile=self.profile,
                            overrides=values)


@contextmanager
def deterministic(enabled: bool) -> Iterator[list[str]]:
    """Deterministic algorithms and cuDNN for a block; yields the nondeterminism warnings seen."""
    import torch

    before = (torch.are_deterministic_algorithms_enabled(),
              torch.is_deterministic_algorithms_warn_only_enabled(),
              torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark)
    seen: list[str] = []
    if not enabled:
        yield seen
        return
    torch.use_deterministic_algorithms(True, warn_only=True)
    torch.backends.cudnn.deterministic = True
    torch.backends.cudnn.benchmark = False
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            yield seen
        for w in caught:
            text = str(w.message).strip().splitlines()[0] if str(w.message).strip() else ""
            if "determinis" in text and text not in seen:
                seen.append(text)
    finally:
        torch.use_deterministic_algorithms(before[0], warn_only=before[1])
        torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark = before[2:]


# ---------------------------------------------------------------------------------------------
# sections


def environment(check: Check) -> dict:
    """Device, library versions and commit."""
    import torch

    info: dict[str, Any] = {
        "device": str(check.device),
        "device_name": torch.cuda.get_device_name(check.device) if check.cuda else "cpu",
        "torch": torch.__version__,
        "cuda": torch.version.cuda,
        "cudnn": torch.backends.cudnn.version() if torch.backends.cudnn.is_available() else None,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpu_count": os.cpu_count(),
        "git_commit": git_commit(),
        "profile": check.profile,
        "tiny": check.tiny,
        "iterations": check.iterations,
        "warmup_iterations": check.warmup,
        "synthetic_data": {"protocol": PROTOCOL, **DATA},
        "mpfas_cache": os.environ.get("MPFAS_CACHE"),
        "cublas_workspace_config": os.environ.get("CUBLAS_WORKSPACE_CONFIG"),
    }
    if check.cuda:
        props = torch.cuda.get_device_properties(check.device)
        info.update(gpu_count=torch.cuda.device_count(),
                    capability=f"{props.major}.{props.minor}",
                    gpu_memory_gib=round(props.total_memory / 2**30, 1))
    key, peak = peak_flops(info["device_name"])
    info.update(peak_key=key, peak_bf16_flops=peak)
    return info


class CountingBatches:
    """A batch source that counts the images it hands out."""

    def __init__(self, source: Any) -> None:
        self.source = source
        self.images = 0

    def batch(self, domains: list[str]):
        """The source's next batch of the named domains."""
        out = self.source.batch(domains)
        self.images += len(out[1])
        return out


def make_trainer(check: Check, config: Any, protocol: Any, counting: bool = True):
    """A Trainer built as ``run_training`` builds it, on the check's device."""
    import torch

    from mpfas_lib.data.sampling import DomainBalancedBatches
    from mpfas_lib.training.runs import build_models, build_trainer

    torch.manual_seed(config.seed)
    phi, theta = build_models(config)
    batches: Any = DomainBalancedBatches(protocol.sources, k=config.profile.batch_per_class,
                                         seed=config.seed)
    if counting:
        batches = CountingBatches(batches)
    trainer = build_trainer(config, phi, theta, batches, sorted(protocol.sources), check.device)
    return trainer, batches


def bench_method(check: Check, method: str) -> dict:
    """Warm up, count one iteration's FLOPs, then time N iterations of one method."""
    import torch
    from torch.utils.flop_counter import FlopCounterMode
    from tqdm.auto import tqdm

    from mpfas_lib.training.runs import build_data

    config = check.config(method)
    t0 = time.perf_counter()
    protocol = build_data(config)
    data_seconds = time.perf_counter() - t0
    if check.cuda:
        gc.collect()  # the previous method's models must not count in this one's peak
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats(check.device)
    trainer, batches = make_trainer(check, config, protocol)
    losses: list[float] = []
    times: list[float] = []
    images_timed = 0
    inner = theta_s = 0.0
    flops = flop_images = None
    bar = tqdm(total=check.warmup + 1 + check.iterations, desc=f"{method:12}", leave=False,
               file=sys.stderr, disable=check.args.no_progress)
    try:
        for _ in range(check.warmup):
            stats = trainer.step()
            losses += [*stats.inner_losses, stats.theta_loss]
            bar.update(1)
        counter = FlopCounterMode(display=False)
        before = batches.images
        with counter:
            stats = trainer.step()
        losses += [*stats.inner_losses, stats.theta_loss]
        flops, flop_images = counter.get_total_flops(), batches.images - before
        bar.update(1)
        for _ in range(check.iterations):
            before = batches.images
            check.sync()
            start = time.perf_counter()
            stats = trainer.step()
            check.sync()
            times.append(time.perf_counter() - start)
            images_timed += batches.images - before
            inner += stats.inner_seconds
            theta_s += stats.theta_seconds
            losses += [*stats.inner_losses, stats.theta_loss]
            bar.update(1)
            bar.set_postfix(loss=f"{stats.theta_loss:.3f}")
    finally:
        bar.close()
    total = sum(times)
    images_per_second = images_timed / total if total > 0 else None
    flops_per_image = flops / flop_images if flops and flop_images else None
    row = {
        "method": method,
        "algorithm": config.method.algorithm,
        "backbone": config.profile.backbone,
        "image_size": config.profile.image_size,
        "amp_bf16": trainer.amp,
        "channels_last": trainer.channels_last,
        "iterations": len(times),
        "warmup_iterations": check.warmup + 1,
        "losses_finite": all(math.isfinite(v) for v in losses),
        "last_loss": losses[-1] if losses else None,
        "seconds_per_iteration": statistics.median(times) if times else None,
        "seconds_per_iteration_mean": total / len(times) if times else None,
        "images_per_iteration": images_timed / len(times) if times else None,
        "images_per_second": images_per_second,
        "inner_fraction": (inner / (inner + theta_s)
                           if config.method.algorithm == "mp" and inner + theta_s > 0 else None),
        "flops_per_image": flops_per_image,
        "model_flops_per_second": (flops_per_image * images_per_second
                                   if flops_per_image and images_per_second else None),
        "peak_memory_gib": (torch.cuda.max_memory_allocated(check.device) / 2**30
                            if check.cuda else None),
        "data_seconds": data_seconds,
    }
    _, peak = peak_flops(torch.cuda.get_device_name(check.device)) if check.cuda else (None, None)
    achieved = row["model_flops_per_second"]
    row["mfu"] = achieved / peak if peak and achieved else None
    del trainer, batches
    if check.cuda:
        torch.cuda.empty_cache()
    return row


def methods_section(check: Check) -> dict:
    """Every method's speed, memory and loss finiteness."""
    rows: dict[str, dict] = {}
    errors: dict[str, str] = {}
    for method in METHODS:
        left = check.remaining()
        if left is not None and left <= 0:
            errors[method] = "skipped: over the time budget"
            continue
        try:
            rows[method] = bench_method(check, method)
        except Exception as error:  # one method's failure must not hide the others
            errors[method] = last_line(error)
            traceback.print_exc()
    passed = not errors and all(r["losses_finite"] for r in rows.values())
    return {"passed": passed, "rows": rows, "errors": errors,
            "note": "times include loading the batches through the library's data pipeline "
                    "(DomainBalancedBatches on the CPU), as in a training run"}


def flops_section(check: Check) -> dict:
    """FLOPs of one Θ training step (forward + backward), its time and the MFU."""
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    from mpfas_lib.models.losses import hfn_loss
    from mpfas_lib.training.runs import build_data

    config = check.config("mp")
    protocol = build_data(config)
    trainer, _ = make_trainer(check, config, protocol, counting=False)
    phi, theta = trainer.phi, trainer.theta
    phi.train()
    theta.train()
    images, labels = trainer.sample(sorted(protocol.sources))  # 3 domains x (k + k) images
    with torch.no_grad(), trainer.autocast():
        pattern = phi(images)

    def theta_step() -> None:
        trainer.optimizer.zero_grad(set_to_none=True)
        with trainer.autocast():
            loss = hfn_loss(theta(images, pattern), labels)
        loss.backward()

    counter = FlopCounterMode(display=False)
    with counter:
        theta_step()
    flops = counter.get_total_flops()
    reps = 3 if check.tiny else 20
    for _ in range(3):
        theta_step()
    times = []
    for _ in range(reps):
        check.sync()
        start = time.perf_counter()
        theta_step()
        check.sync()
        times.append(time.perf_counter() - start)
    seconds = statistics.median(times)
    achieved = flops / seconds
    key, peak = (peak_flops(torch.cuda.get_device_name(check.device)) if check.cuda
                 else (None, None))
    return {
        "passed": flops > 0 and math.isfinite(achieved),
        "step": "Θ forward + backward (bf16 autocast, channels_last on CUDA)",
        "batch_images": int(images.shape[0]),
        "image_size": config.profile.image_size,
        "backbone": config.profile.backbone,
        "flops": flops,
        "seconds": seconds,
        "repetitions": reps,
        "flops_per_second": achieved,
        "peak_key": key,
        "peak_bf16_flops": peak,
        "mfu": achieved / peak if peak else None,
    }


def ratio_section(check: Check) -> dict:
    """Seconds per iteration of Algorithm 1 over ERM (goal <= 1.6, reported only)."""
    rows = check.report.get("methods", {}).get("rows", {})
    if "mp" not in rows or "erm" not in rows:
        raise RuntimeError("needs the mp and erm rows of the methods section")
    mp, erm = rows["mp"]["seconds_per_iteration"], rows["erm"]["seconds_per_iteration"]
    ratio = mp / erm
    return {"passed": True, "mp_seconds_per_iteration": mp, "erm_seconds_per_iteration": erm,
            "ratio": ratio, "goal": 1.6, "meets_goal": ratio <= 1.6}


def _flatten(tree: Any, prefix: str = "") -> dict[str, float]:
    out: dict[str, float] = {}
    if isinstance(tree, dict):
        for key, value in tree.items():
            out.update(_flatten(value, f"{prefix}{key}."))
    elif isinstance(tree, list):
        for i, value in enumerate(tree):
            out.update(_flatten(value, f"{prefix}{i}."))
    elif isinstance(tree, (int, float)) and not isinstance(tree, bool):
        out[prefix.rstrip(".")] = float(tree)
    return out


def _max_difference(a: dict[str, float], b: dict[str, float]) -> tuple[float, str | None]:
    if set(a) != set(b):
        return math.inf, "different keys"
    worst, where = 0.0, None
    for key in a:
        x, y = a[key], b[key]
        if math.isnan(x) and math.isnan(y):
            continue
        both = math.isfinite(x) and math.isfinite(y)
        diff = abs(x - y) if both else (0.0 if x == y else math.inf)
        if diff > worst:
            worst, where = diff, key
    return worst, where


def _weights(run_dir: Path) -> dict[str, Any]:
    import torch

    state = torch.load(run_dir / "checkpoint.pt", map_location="cpu", weights_only=False)
    trainer = state["trainer"]
    return {**{f"phi.{k}": v for k, v in trainer["phi"].items()},
            **{f"theta.{k}": v for k, v in trainer["theta"].items()}}


def resume_section(check: Check) -> dict:
    """A 6-iteration run against one stopped at 3 and resumed to 6: same final metrics."""
    import torch

    from mpfas_lib.training.runs import run_training

    quiet = {"log": lambda *_: None}
    straight, resumed = check.tmp / "resume_straight", check.tmp / "resume_resumed"
    with deterministic(check.cuda) as nondeterministic:
        full = run_training(check.config("mp", iterations=6, eval_every=3), out=straight, **quiet)
        run_training(check.config("mp", iterations=3, eval_every=3), out=resumed, **quiet)
        again = run_training(check.config("mp", iterations=6, eval_every=3), out=resumed,
                             resume=True, **quiet)
    run = full["run"]
    metrics_diff, metrics_where = _max_difference(
        _flatten(full["history"]), _flatten(again["history"]))
    a, b = _weights(straight / run), _weights(resumed / run)
    weights_diff = max(
        (float((a[k].double() - b[k].double()).abs().max()) if a[k].numel() else 0.0)
        for k in a if a[k].is_floating_point()
    ) if set(a) == set(b) else math.inf
    identical = metrics_diff == 0.0 and weights_diff == 0.0
    tolerance = RESUME_TOLERANCE_CUDA if check.cuda else 0.0
    resumed_from = again["provenance"]["resumed_from"]
    passed = (resumed_from == 3 and again["provenance"]["iterations"] == 6
              and full["status"] == again["status"] == "completed"
              and (identical if not check.cuda else metrics_diff <= tolerance))
    out: dict[str, Any] = {
        "passed": passed,
        "method": "mp",
        "iterations": 6,
        "eval_every": 3,
        "resumed_from": resumed_from,
        "identical": identical,
        "max_metric_difference": metrics_diff,
        "worst_metric": metrics_where,
        "max_weight_difference": weights_diff,
        "tolerance": tolerance,
        "deterministic_mode": check.cuda,
        "final_video_hter_target_eer": {
            "straight": full["history"][-1]["target"]["video"]["hter_target_eer"],
            "resumed": again["history"][-1]["target"]["video"]["hter_target_eer"],
        },
    }
    if check.cuda:
        out["note"] = (
            "bf16 autocast and cuDNN's convolution algorithms can differ from run to run; this "
            "check ran with torch.use_deterministic_algorithms(True, warn_only=True), "
            "CUBLAS_WORKSPACE_CONFIG=:4096:8, cudnn.deterministic=True and cudnn.benchmark="
            "False, so remaining differences come from the operations listed in "
            "nondeterministic_ops (CUDA kernels without a deterministic version); the "
            f"metrics may differ by at most {tolerance}")
        out["nondeterministic_ops"] = nondeterministic
        out["cublas_workspace_config"] = os.environ.get("CUBLAS_WORKSPACE_CONFIG")
        torch.cuda.empty_cache()
    return out


def _torchrun(check: Check, procs: int, device: str, profile: str, name: str) -> dict:
    """``mpfas_lib train`` under torchrun for 2 iterations; passed when results.json is sane."""
    out_dir = check.tmp / name
    sets = [f"{k}={v}" for k, v in {**DATA, "eval_every": 2, "tensorboard": "false",
                                     "save_best": "false"}.items()]
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone",
           f"--nproc_per_node={procs}", "-m", "mpfas_lib", "train", "--protocol", PROTOCOL,
           "--method", "mp", "--profile", profile, "--iterations", "2", "--device", device,
           "--out", str(out_dir), "--no-progress"]
    for item in sets:
        cmd += ["--set", item]
    left = check.remaining()
    timeout = 300.0 if left is None else max(30.0, min(300.0, left))
    rc, output, seconds = run_process(cmd, child_env(PYTHONUNBUFFERED="1"), timeout)
    found = sorted(out_dir.glob("*/results.json"))
    results = json.loads(found[0].read_text()) if found else None
    prov = results["provenance"] if results else {}
    passed = (rc == 0 and results is not None and results["status"] == "completed"
              and prov.get("iterations") == 2 and prov.get("world_size") == procs)
    return {
        "passed": passed,
        "command": " ".join(["python", *cmd[1:]]),
        "returncode": rc,
        "timed_out": rc is None,
        "seconds": seconds,
        "world_size": prov.get("world_size"),
        "device": prov.get("device"),
        "iterations": prov.get("iterations"),
        "output_tail": tail(output),
    }


def ddp_smoke_section(check: Check) -> dict:
    """torchrun with one process on the check's device (the launch path; no DDP at size 1)."""
    out = _torchrun(check, 1, str(check.device), check.profile, "ddp1")
    out.update(ddp_wrapped=False, note=DDP_NOTE)
    return out


def ddp_gloo_section(check: Check) -> dict:
    """torchrun with 2 CPU processes (gloo, quick profile): DistributedDataParallel runs."""
    out = _torchrun(check, check.args.ddp_gloo_procs, "cpu", "quick", "ddp_gloo")
    out.update(ddp_wrapped=True, backend="gloo")
    return out


def notebooks_section(check: Check) -> dict:
    """``pytest --nbmake notebooks -x`` at the smoke scale; pass/fail per notebook."""
    if importlib.util.find_spec("nbmake") is None:
        return {"skipped": "nbmake not installed"}
    notebooks = sorted(p.name for p in (REPO / "notebooks").glob("*.ipynb"))
    junit = check.tmp / "notebooks.xml"
    profile = "quick" if check.tiny else "full-smoke"
    cmd = [sys.executable, "-m", "pytest", "--nbmake", "notebooks", "-x", "-v",
           "-p", "no:cacheprovider", f"--nbmake-timeout={check.args.notebook_timeout}",
           f"--junitxml={junit}", "-o", "addopts="]
    left = check.remaining()
    timeout = None if left is None else max(10.0, left)
    env = child_env(MPFAS_PROFILE=profile, PYTHONUNBUFFERED="1")
    rc, output, seconds = run_process(cmd, env, timeout)
    per: dict[str, dict] = {name: {"status": "not run"} for name in notebooks}
    # the verbose lines survive a kill at the time limit; the JUnit file adds times and errors
    for match in re.finditer(r"([\w.-]+\.ipynb)\S* (PASSED|FAILED|ERROR|SKIPPED)", output):
        status = {"PASSED": "passed", "SKIPPED": "skipped"}.get(match.group(2), "failed")
        per.setdefault(match.group(1), {})["status"] = status
    if junit.is_file():
        for case in ET.parse(junit).getroot().iter("testcase"):
            found = re.search(r"[\w.-]+\.ipynb", f"{case.get('file')} {case.get('name')} "
                              f"{case.get('classname')}")
            if found is None:
                continue
            record = per.setdefault(found.group(0), {})
            record.update(status="passed", seconds=float(case.get("time") or 0.0))
            for tag in ("failure", "error", "skipped"):
                node = case.find(tag)
                if node is not None:
                    record["status"] = "skipped" if tag == "skipped" else "failed"
                    message = (node.get("message") or node.text or "").strip().splitlines()
                    record["error"] = message[-1][:300] if message else tag
    if rc is None:
        running = next((n for n, r in per.items() if r["status"] == "not run"), None)
        if running is not None:
            per[running]["status"] = "timed out"
            per[running]["error"] = "killed at the time budget"
    failed = [n for n, r in per.items() if r["status"] == "failed"]
    passed = rc == 0 and not failed and all(r["status"] == "passed" for r in per.values())
    return {
        "passed": passed,
        "profile": profile,
        "smoke": True,
        "smoke_note": SMOKE_NOTE,
        "returncode": rc,
        "timed_out": rc is None,
        "seconds": seconds,
        "cell_timeout_s": check.args.notebook_timeout,
        "notebooks": per,
        "output_tail": tail(output),
    }


SECTIONS: list[tuple[str, bool, Callable[[Check], dict]]] = [
    ("environment", True, environment),
    ("methods", True, methods_section),
    ("flops", True, flops_section),
    ("ratio", True, ratio_section),
    ("resume", True, resume_section),
    ("ddp_smoke", True, ddp_smoke_section),
    ("ddp_gloo", True, ddp_gloo_section),
    ("notebooks", True, notebooks_section),
]


def run_section(check: Check, name: str, required: bool, fn: Callable[[Check], dict]) -> None:
    """Run one section, recording its result, its failure or why it was skipped."""
    start = time.perf_counter()
    skip = None
    if name == "notebooks" and check.args.skip_notebooks:
        skip = "skipped: --skip-notebooks"
    elif name == "ddp_gloo" and check.args.ddp_gloo_procs < 2:
        skip = "skipped: --ddp-gloo-procs < 2"
    elif name != "environment" and (left := check.remaining()) is not None and left <= 0:
        skip = "skipped: over the time budget"
    if skip:
        check.report[name] = {"status": "skipped", "required": required, "reason": skip}
        return
    print(f"[{check.elapsed():6.1f} s] {name} ...", file=sys.stderr, flush=True)
    if check.cuda:  # hand cached GPU memory back before a section (children use the GPU too)
        import torch

        gc.collect()
        torch.cuda.empty_cache()
    try:
        data = fn(check)
        if "skipped" in data:
            entry = {"status": "skipped", "reason": f"skipped: {data.pop('skipped')}", **data}
        else:
            passed = bool(data.pop("passed", True))
            entry = {"status": "passed" if passed else "failed", **data}
    except Exception as error:
        traceback.print_exc()
        entry = {"status": "failed", "error": last_line(error)}
    entry.update(required=required, section_seconds=round(time.perf_counter() - start, 2))
    check.report[name] = entry


# ---------------------------------------------------------------------------------------------
# report


def _fmt(value: Any, scale: float = 1.0, digits: int = 3) -> str:
    if value is None:
        return "-"
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    return f"{value / scale:.{digits}g}" if isinstance(value, float) else str(value)


def table(report: dict) -> str:
    """The report as a readable plain-text table."""
    env = report.get("environment", {})
    lines = [
        f"mpfas GPU check: {env.get('device_name', '?')} | torch {env.get('torch')} | "
        f"CUDA {env.get('cuda')} | cuDNN {env.get('cudnn')} | Python {env.get('python')} | "
        f"commit {env.get('git_commit')}",
        f"profile {env.get('profile')} ({'tiny' if env.get('tiny') else 'full size'}), "
        f"{env.get('iterations')} timed iterations after {env.get('warmup_iterations')} "
        "warm-up + 1 FLOP-counted",
        "",
        f"{'method':12} {'s/it (med)':>10} {'img/s':>8} {'img/it':>7} {'peak GiB':>9} "
        f"{'TFLOP/s':>8} {'inner%':>7} {'finite':>7}",
    ]
    methods = report.get("methods", {})
    for name in METHODS:
        row = methods.get("rows", {}).get(name)
        if row is None:
            error = methods.get("errors", {}).get(name, methods.get("reason", "not run"))
            lines.append(f"{name:12} {error}")
            continue
        inner = row["inner_fraction"]
        lines.append(
            f"{name:12} {_fmt(row['seconds_per_iteration'], digits=4):>10} "
            f"{_fmt(row['images_per_second'], digits=4):>8} "
            f"{_fmt(row['images_per_iteration']):>7} {_fmt(row['peak_memory_gib']):>9} "
            f"{_fmt(row['model_flops_per_second'], 1e12):>8} "
            f"{'-' if inner is None else f'{100 * inner:.0f}':>7} "
            f"{'yes' if row['losses_finite'] else 'NO':>7}")
    flops = report.get("flops", {})
    if "flops" in flops:
        mfu = flops.get("mfu")
        lines += ["", f"Θ step (fwd+bwd, {flops['batch_images']} images): "
                  f"{flops['flops'] / 1e12:.3f} TFLOP in {1000 * flops['seconds']:.1f} ms = "
                  f"{flops['flops_per_second'] / 1e12:.2f} TFLOP/s; MFU "
                  + (f"{100 * mfu:.1f}% of {flops['peak_key']} "
                     f"{flops['peak_bf16_flops'] / 1e12:.0f} TFLOP/s" if mfu is not None
                     else "- (peak unknown)")]
    ratio = report.get("ratio", {})
    if "ratio" in ratio:
        lines.append(f"Algorithm 1 / ERM seconds per iteration: {ratio['ratio']:.2f}x "
                     f"(goal <= {ratio['goal']}: {'met' if ratio['meets_goal'] else 'not met'})")
    resume = report.get("resume", {})
    if "identical" in resume:
        lines.append(
            f"resume 3 -> 6 vs straight 6: identical={resume['identical']}, max metric diff "
            f"{_fmt(resume['max_metric_difference'])}, max weight diff "
            f"{_fmt(resume['max_weight_difference'])} (tolerance {resume['tolerance']})")
    for name in ("ddp_smoke", "ddp_gloo"):
        entry = report.get(name, {})
        if "world_size" in entry:
            lines.append(f"{name}: rc {entry['returncode']}, world size {entry['world_size']}, "
                         f"{entry['seconds']:.1f} s")
    notebooks = report.get("notebooks", {})
    if "notebooks" in notebooks:
        counts: dict[str, int] = {}
        for r in notebooks["notebooks"].values():
            counts[r["status"]] = counts.get(r["status"], 0) + 1
        lines.append("notebooks: " + ", ".join(f"{n} {s}" for s, n in sorted(counts.items())))
    lines += ["", f"{'section':12} {'status':8} {'seconds':>8}  note"]
    for name, _, _ in SECTIONS:
        entry = report.get(name, {})
        note = entry.get("error") or entry.get("reason") or ""
        lines.append(f"{name:12} {entry.get('status', '-'):8} "
                     f"{_fmt(entry.get('section_seconds'), digits=4):>8}  {note}")
    lines.append(f"overall: {report.get('overall', '?')} in {report.get('wall_seconds', 0):.0f} s")
    return "\n".join(lines)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda", choices=["cuda", "cpu"])
    parser.add_argument("--tiny", action="store_true",
                        help="quick-profile sizes (64 px, small backbone, 3 iterations)")
    parser.add_argument("--out", default=str(REPO / "results" / "gpu"),
                        help="folder of the JSON report (default results/gpu)")
    parser.add_argument("--iterations", type=int, default=30,
                        help="timed iterations per method (default 30; at most 3 with --tiny)")
    parser.add_argument("--skip-notebooks", action="store_true")
    parser.add_argument("--budget-s", type=float, default=None,
                        help="wall-clock budget: sections that would start later are skipped")
    parser.add_argument("--notebook-timeout", type=int, default=300,
                        help="nbmake cell timeout in seconds (default 300)")
    parser.add_argument("--ddp-gloo-procs", type=int, default=None,
                        help="CPU processes of the gloo DDP smoke (default 2 on cuda, "
                             "0 = skip on cpu)")
    parser.add_argument("--no-progress", action="store_true", help="no tqdm progress bars")
    args = parser.parse_args(argv)
    if args.iterations < 1:
        parser.error("--iterations must be >= 1")
    if args.ddp_gloo_procs is None:
        args.ddp_gloo_procs = 2 if args.device == "cuda" else 0
    return args


def main(argv: list[str] | None = None) -> int:
    """Run every section, write the JSON report, print the table."""
    args = parse_args(argv)
    if args.device == "cuda":
        # deterministic cuBLAS for the resume check: must be set before CUDA starts
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    import torch

    if args.device == "cuda" and not torch.cuda.is_available():
        print("no CUDA device: use --device cpu (with --tiny for a quick smoke)",
              file=sys.stderr)
        return 1
    if args.device == "cuda":
        torch.backends.cudnn.benchmark = True
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
    check = Check(args)
    check.report["invocation"] = {"script": "scripts/gpu_check.py",
                                  "argv": sys.argv[1:] if argv is None else list(argv)}
    try:
        for name, required, fn in SECTIONS:
            run_section(check, name, required, fn)
    finally:
        shutil.rmtree(check.tmp, ignore_errors=True)
    report = check.report
    failed = [n for n, e in report.items() if e.get("required") and e["status"] == "failed"]
    report["overall"] = "failed: " + ", ".join(failed) if failed else "passed"
    report["failed_sections"] = failed
    report["wall_seconds"] = round(check.elapsed(), 1)
    report["finished"] = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    name = report.get("environment", {}).get("device_name", args.device)
    path = Path(args.out) / f"{slug(name)}-{dt.date.today().isoformat()}.json"
    write_json_atomic(report, path)
    print(table(report))
    print(f"report: {path}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
