"""Checkpoints: state dicts only, written atomically, loaded with ``weights_only=True``.

Everything a resumed run needs to continue exactly (models, optimisers, the RNG states of
Python, NumPy and torch, the sampler state, the metric history) is stored as tensors and plain
Python containers, so loading never unpickles arbitrary objects.
"""

from __future__ import annotations

import os
import random
from pathlib import Path
from typing import Any

import numpy as np
import torch

from mpfas_lib.files import atomic_write, atomic_write_text

__all__ = ["atomic_save", "atomic_write_text", "load_checkpoint", "capture_rng_states",
           "restore_rng_states", "python_rng_state", "set_python_rng_state"]


def atomic_save(obj: Any, path: str | os.PathLike) -> Path:
    """``torch.save`` atomically: a killed run never leaves a half-written checkpoint."""
    return atomic_write(path, lambda handle: torch.save(obj, handle), "wb")


def load_checkpoint(path: str | os.PathLike, map_location: str | torch.device = "cpu") -> dict:
    """Load a checkpoint safely (``weights_only=True``) with a clear error naming the file."""
    path = Path(path)
    if path.is_dir():
        raise FileNotFoundError(f"checkpoint {path} is a folder: pass {path / 'model_best.pt'} "
                                f"(the source-validation choice) or {path / 'checkpoint.pt'} "
                                "(the last iteration)")
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint {path} does not exist")
    try:
        return torch.load(path, map_location=map_location, weights_only=True)
    except Exception as error:  # corrupt or foreign file: say which and why
        raise ValueError(f"cannot load checkpoint {path}: {error}") from error


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
