"""Atomic, weights_only checkpoints and RNG state capture (exact resume)."""

from __future__ import annotations

import random

import numpy as np
import pytest
import torch

from mpfas_lib.files import atomic_save, atomic_write_text
from mpfas_lib.runtime import capture_rng_states, restore_rng_states
from mpfas_lib.training.artefacts import load_checkpoint


def test_atomic_save_and_weights_only_load(tmp_path):
    state = {"w": torch.arange(4.0), "meta": {"it": 3, "names": ["C", "I"], "x": None}}
    path = atomic_save(state, tmp_path / "sub" / "ck.pt")
    assert path.is_file() and not list(path.parent.glob(".*tmp"))
    back = load_checkpoint(path)
    torch.testing.assert_close(back["w"], state["w"])
    assert back["meta"] == state["meta"]


def test_atomic_save_failure_leaves_old_file(tmp_path):
    path = atomic_save({"v": torch.zeros(1)}, tmp_path / "ck.pt")

    class Unpicklable:
        def __reduce__(self):
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        atomic_save({"v": Unpicklable()}, path)
    assert load_checkpoint(path)["v"].item() == 0
    assert not list(tmp_path.glob(".*tmp"))


def test_load_errors_name_the_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="missing.pt"):
        load_checkpoint(tmp_path / "missing.pt")
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"not a checkpoint")
    with pytest.raises(ValueError, match="bad.pt"):
        load_checkpoint(bad)


def test_weights_only_refuses_arbitrary_objects(tmp_path):
    path = tmp_path / "obj.pt"
    torch.save({"obj": random.Random(0)}, path)
    with pytest.raises(ValueError, match="obj.pt"):
        load_checkpoint(path)


def test_rng_states_roundtrip_through_a_checkpoint(tmp_path):
    random.seed(1)
    np.random.seed(1)  # noqa: NPY002
    torch.manual_seed(1)
    atomic_save({"rng": capture_rng_states()}, tmp_path / "rng.pt")
    first = (random.random(), np.random.rand(), torch.rand(1).item())  # noqa: NPY002
    restore_rng_states(load_checkpoint(tmp_path / "rng.pt")["rng"])
    second = (random.random(), np.random.rand(), torch.rand(1).item())  # noqa: NPY002
    assert first == second


def test_atomic_write_text(tmp_path):
    path = atomic_write_text('{"a": 1}', tmp_path / "r.json")
    assert path.read_text() == '{"a": 1}'
    plain = tmp_path / "plain.json"
    plain.write_text("{}")
    assert path.stat().st_mode & 0o777 == plain.stat().st_mode & 0o777  # not private
