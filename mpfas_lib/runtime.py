"""The common opening of every notebook: seed, device, profile, paths; the RNG states a
checkpoint keeps (as tensors and lists, so loading it never unpickles objects)."""

from __future__ import annotations

import os
import random
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from mpfas_lib.paths import cache_dir, data_dir, results_dir, shown
from mpfas_lib.profile import Profile, get_profile


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and torch (CPU and CUDA) for a reproducible run (chapter 01)."""
    random.seed(seed)
    np.random.seed(seed)  # noqa: NPY002 - code that uses the legacy global state
    torch.manual_seed(seed)
    torch.cuda.manual_seed_all(seed)
    os.environ["PYTHONHASHSEED"] = str(seed)


def python_rng_state(rng: random.Random | None = None) -> list:
    """A ``random.Random`` state as nested lists (weights_only friendly)."""
    version, internal, gauss = (rng or random).getstate()
    return [version, list(internal), gauss]


def set_python_rng_state(state: list, rng: random.Random | None = None) -> None:
    """Restore what :func:`python_rng_state` captured."""
    version, internal, gauss = state
    (rng or random).setstate((int(version), tuple(int(v) for v in internal), gauss))


def capture_rng_states() -> dict:
    """The global RNG states of Python, NumPy, torch (CPU) and CUDA, as tensors and lists."""
    name, keys, pos, has_gauss, cached = np.random.get_state()  # noqa: NPY002 (legacy global RNG)
    state = {
        "python": python_rng_state(),
        "numpy": [name, torch.from_numpy(np.asarray(keys, dtype=np.int64)), int(pos),
                  int(has_gauss), float(cached)],
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available():
        state["cuda"] = list(torch.cuda.get_rng_state_all())
    return state


def restore_rng_states(state: dict) -> None:
    """Restore what :func:`capture_rng_states` captured."""
    set_python_rng_state(state["python"])
    name, keys, pos, has_gauss, cached = state["numpy"]
    np.random.set_state(  # noqa: NPY002 (the legacy global RNG seeded by runtime)
        (name, keys.numpy().astype(np.uint32), int(pos), int(has_gauss), float(cached))
    )
    torch.set_rng_state(state["torch"].cpu())
    if "cuda" in state and torch.cuda.is_available():
        cuda = state["cuda"]
        if len(cuda) == torch.cuda.device_count():
            torch.cuda.set_rng_state_all([s.cpu() for s in cuda])


def pick_device(name: str | None = None) -> torch.device:
    """The given device, else CUDA when available, else the CPU; one clear line if unusable."""
    if not name:
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except (RuntimeError, ValueError):
        raise ValueError(f"--device {name}: not a device name; use cpu, cuda or cuda:N"
                         ) from None
    if device.type == "cuda":
        count = torch.cuda.device_count() if torch.cuda.is_available() else 0
        if count == 0:
            raise ValueError(f"--device {name}: no CUDA GPU is usable on this machine; use "
                             "--device cpu (or leave --device out)")
        if device.index is not None and device.index >= count:
            raise ValueError(f"--device {name}: this machine has {count} CUDA GPU(s), "
                             f"cuda:0 to cuda:{count - 1}")
    elif device.type not in ("cpu", "mps"):
        raise ValueError(f"--device {name}: unsupported device type; use cpu, cuda or cuda:N")
    return device


def device_name(device: torch.device) -> str:
    """A human-readable name of the device (the GPU model, or ``cpu``)."""
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return "cpu"


@dataclass(frozen=True)
class Setup:
    """What a notebook needs to know about the run it is part of."""

    profile: Profile
    device: torch.device
    seed: int
    cache: Path
    results: Path
    data: Path | None

    def __str__(self) -> str:
        # relative paths only: the executed notebooks are published as the book's pages
        data = shown(self.data, "MPFAS_DATA") if self.data else "none (synthetic benchmark)"
        return (
            f"profile={self.profile.name} image_size={self.profile.image_size} "
            f"backbone={self.profile.backbone} device={device_name(self.device)} "
            f"seed={self.seed}\ncache={shown(self.cache, 'MPFAS_CACHE')}\n"
            f"results={shown(self.results, 'MPFAS_RESULTS')}\ndata={data}"
        )


def setup(seed: int = 0, profile: str | None = None, device: str | None = None) -> Setup:
    """Seed everything and resolve profile, device and paths (the notebook opening) (chapter 01)."""
    seed_everything(seed)
    torch.set_num_threads(max(1, min(torch.get_num_threads(), os.cpu_count() or 1)))
    return Setup(
        get_profile(profile), pick_device(device), seed, cache_dir(), results_dir(), data_dir()
    )
