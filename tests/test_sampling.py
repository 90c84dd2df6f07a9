"""Domain-balanced batches: balance, reproducibility, rank disjointness, endlessness."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from mpfas_lib.data.datasets import FrameDataset, FrameRecord, evaluation_frames, evenly_spaced
from mpfas_lib.data.sampling import DomainBalancedBatches


def _fake(domain: str, n_gen: int, n_spoof: int, frames: int = 1) -> FrameDataset:
    """A dataset whose image encodes its index (no files needed)."""
    recs = []
    for v in range(n_gen + n_spoof):
        for f in range(frames):
            recs.append(FrameRecord(str(len(recs)), int(v < n_gen), "live" if v < n_gen else
                                    "print", domain, f"{domain}/v{v}", f, "train"))
    return FrameDataset(recs, lambda r: np.full((4, 4, 3), int(r.path_or_key) % 256, np.uint8))


def _sources() -> dict[str, FrameDataset]:
    return {"A": _fake("A", 10, 14), "B": _fake("B", 6, 9), "C": _fake("C", 5, 5)}


def test_batch_is_balanced_per_domain() -> None:
    b = DomainBalancedBatches(_sources(), k=3, seed=0)
    x, y, d = b.batch(["A", "C"])
    assert x.shape == (12, 3, 4, 4) and y.dtype == torch.long
    for dom in ("A", "C"):
        ys = [int(v) for v, n in zip(y, d, strict=True) if n == dom]
        assert sorted(ys) == [0, 0, 0, 1, 1, 1]
    assert set(d) == {"A", "C"}


def test_reproducible_under_seed() -> None:
    a = DomainBalancedBatches(_sources(), k=2, seed=7)
    b = DomainBalancedBatches(_sources(), k=2, seed=7)
    c = DomainBalancedBatches(_sources(), k=2, seed=8)
    seq_a = [a.indices(["A", "B"]) for _ in range(5)]
    assert seq_a == [b.indices(["A", "B"]) for _ in range(5)]
    assert seq_a != [c.indices(["A", "B"]) for _ in range(5)]


def test_ranks_see_disjoint_shards() -> None:
    src = _sources()
    seen = []
    for r in range(2):
        b = DomainBalancedBatches(src, k=2, seed=0, rank=r, world_size=2)
        seen.append({i for _ in range(30) for _, i in b.indices(["A"])})
    assert seen[0] and seen[1] and not seen[0] & seen[1]
    assert seen[0] | seen[1] == set(range(24))
    with pytest.raises(ValueError, match="rank"):
        DomainBalancedBatches(src, rank=2, world_size=2)


def test_streams_are_endless_and_cover_each_epoch() -> None:
    b = DomainBalancedBatches({"C": _fake("C", 5, 5)}, k=4, seed=0)
    gen = [i for _ in range(5) for (_, i) in b.indices(["C"])[:4]]  # 20 = 4 epochs of 5
    for e in range(4):
        assert sorted(gen[5 * e : 5 * e + 5]) == [0, 1, 2, 3, 4]
    it = iter(b)
    for _ in range(3):
        x, y, _ = next(it)
        assert x.shape[0] == 8


def test_errors_for_missing_class_or_domain() -> None:
    with pytest.raises(ValueError, match="no spoof"):
        DomainBalancedBatches({"A": _fake("A", 3, 0)})
    b = DomainBalancedBatches(_sources())
    with pytest.raises(KeyError, match="unknown source domain"):
        b.batch(["Z"])


def test_evenly_spaced_and_evaluation_frames() -> None:
    assert evenly_spaced(10, 2) == [2, 7]
    assert evenly_spaced(3, 5) == [0, 1, 2]
    assert evenly_spaced(8, None) == list(range(8))
    assert len(set(evenly_spaced(100, 7))) == 7
    ds = _fake("A", 2, 2, frames=6)
    ev = evaluation_frames(ds, 2)
    assert len(ev) == 8
    assert sorted({r.frame for r in ev.records}) == [1, 4]
    assert len({r.video_id for r in ev.records}) == 4
