"""The shared state of one GPU check and the device it runs on (versions, peak FLOP/s)."""

from __future__ import annotations

import os
import platform
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from mpfas_lib.models.backbones import imagenet_weights_file
from mpfas_lib.profile import get_profile
from mpfas_lib.provenance import git_commit
from mpfas_lib.runtime import device_name
from mpfas_lib.training.config import RunConfig, build_config

METHODS = ("mp", "mp-official", "erm", "rgb", "colorlbp")
PROTOCOL = "MICO:OCI-M"
# small synthetic benchmark: generating it is CPU-bound (about 10 s at 256 px on one core)
DATA = {"synth_subjects": 4, "synth_frames": 2, "eval_frames": 2}
WARMUP = 3
TINY_WARMUP = 1
TINY_ITERATIONS = 3
# dense bf16 tensor-core peaks (FLOP/s) from the vendors' data sheets
PEAKS = {"H100 SXM": 989.4e12, "H100 PCIe": 756e12, "H200": 989.4e12, "A100": 312e12}


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


def last_line(error: BaseException) -> str:
    """The last line of an exception's message (its type when the message is empty)."""
    text = str(error).strip().splitlines()
    return f"{type(error).__name__}: {text[-1]}" if text else type(error).__name__


def tune_cuda() -> None:
    """cuDNN autotuning and TF32 matmuls, as a training run on the card would have them."""
    torch.backends.cudnn.benchmark = True
    torch.backends.cuda.matmul.allow_tf32 = True
    torch.backends.cudnn.allow_tf32 = True


@dataclass(frozen=True)
class CheckOptions:
    """What the command asked for (the options of ``scripts/gpu_check.py`` but ``--out``)."""

    device: str = "cuda"
    tiny: bool = False
    iterations: int = 30
    skip_notebooks: bool = False
    budget_s: float | None = None
    notebook_timeout: int = 300
    ddp_gloo_procs: int = 0
    no_progress: bool = False
    compile: tuple[str, ...] = ()  # compile modes timed and profiled beside eager


class Check:
    """Shared state of one invocation: options, device, clock and the report."""

    def __init__(self, options: CheckOptions) -> None:
        self.options = options
        self.tiny = options.tiny
        self.device = torch.device(options.device)
        self.cuda = self.device.type == "cuda"
        self.profile = "quick" if self.tiny else "full"
        self.iterations = (min(options.iterations, TINY_ITERATIONS) if self.tiny
                           else options.iterations)
        self.warmup = TINY_WARMUP if self.tiny else WARMUP
        self.start = time.perf_counter()
        self.report: dict[str, Any] = {}
        self.tmp = Path(tempfile.mkdtemp(prefix="gpu_check_"))

    def elapsed(self) -> float:
        """Seconds since the start of the check."""
        return time.perf_counter() - self.start

    def remaining(self) -> float | None:
        """Seconds left of ``--budget-s`` (None: no budget)."""
        if self.options.budget_s is None:
            return None
        return self.options.budget_s - self.elapsed()

    def sync(self) -> None:
        """Wait for the GPU's queue (no-op on the CPU)."""
        if self.cuda:
            torch.cuda.synchronize(self.device)

    def peak(self) -> tuple[str | None, float | None]:
        """The device's dense bf16 peak FLOP/s and its table key (None, None: unknown)."""
        return peak_flops(device_name(self.device))

    def config(self, method: str, **settings: Any) -> RunConfig:
        """The config of one method at this check's profile, on the small synthetic benchmark."""
        # the device has no internet: random trunks unless the ImageNet weights were carried
        backbone = get_profile(self.profile).backbone
        init = ({} if self.tiny or imagenet_weights_file(backbone) is not None
                else {"pretrained": "none"})
        values = {**DATA, "device": str(self.device), "amp": True, "channels_last": True,
                  "progress": False, "tensorboard": False, **init, **settings}
        return build_config(protocol=PROTOCOL, method=method, profile=self.profile,
                            overrides=values)


def environment(check: Check) -> dict:
    """Device, library versions and commit."""
    info: dict[str, Any] = {
        "device": str(check.device),
        "device_name": device_name(check.device),
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
        "compile_modes": list(check.options.compile),
        "synthetic_data": {"protocol": PROTOCOL, **DATA},
        "mpfas_cache": os.environ.get("MPFAS_CACHE"),
        "cublas_workspace_config": os.environ.get("CUBLAS_WORKSPACE_CONFIG"),
    }
    if check.cuda:
        props = torch.cuda.get_device_properties(check.device)
        info.update(gpu_count=torch.cuda.device_count(),
                    capability=f"{props.major}.{props.minor}",
                    gpu_memory_gib=round(props.total_memory / 2**30, 1))
    key, peak = check.peak()
    info.update(peak_key=key, peak_bf16_flops=peak)
    return info
