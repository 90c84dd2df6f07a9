"""Domain-balanced mini-batches (paper Sec. IV-A: 4 genuine + 4 spoof per source domain).

Algorithm 1 samples a batch from a chosen subset of the source domains at every step
(D_phi for the extractor, D_theta for the HFN). ``DomainBalancedBatches`` keeps one endless,
reshuffled-every-epoch stream of indices per (domain, class), so any subset of domains can be
asked for at any time; under DDP each rank draws from a disjoint shard of every domain.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset


def dataset_labels(dataset: Dataset) -> list[int]:
    """Labels of a dataset, from its records when it has them (without loading images)."""
    records = getattr(dataset, "records", None)
    if records is not None:
        return [int(r.label) for r in records]
    items: Any = dataset  # a map-style dataset of (image, label, ...) tuples
    return [int(items[i][1]) for i in range(len(items))]


class _Stream:
    """An endless stream of indices, reshuffled at every pass (epoch)."""

    def __init__(self, indices: Sequence[int], rng: np.random.Generator) -> None:
        self.indices = np.asarray(indices, dtype=np.int64)
        self.rng = rng
        self.order: np.ndarray = np.empty(0, np.int64)
        self.pos = 0
        self.epoch = 0

    def take(self, n: int) -> list[int]:
        """The next ``n`` indices (starting a new shuffled epoch when one runs out)."""
        out: list[int] = []
        while len(out) < n:
            if self.pos >= len(self.order):
                self.order = self.rng.permutation(self.indices)
                self.pos = 0
                self.epoch += 1
            step = min(n - len(out), len(self.order) - self.pos)
            out.extend(int(i) for i in self.order[self.pos : self.pos + step])
            self.pos += step
        return out


class DomainBalancedBatches:
    """k genuine + k spoof frames per requested source domain, endless and reproducible
    (chapter 06)."""

    def __init__(
        self, sources: Mapping[str, Dataset], k: int = 4, seed: int = 0, rank: int = 0,
        world_size: int = 1,
    ) -> None:
        if k < 1:
            raise ValueError(f"k must be at least 1, got {k}")
        if not 0 <= rank < world_size:
            raise ValueError(f"rank {rank} is not in [0, {world_size})")
        self.sources = dict(sources)
        self.k = k
        self.rank, self.world_size = rank, world_size
        self.streams: dict[tuple[str, int], _Stream] = {}
        for d, ds in self.sources.items():
            labels = np.asarray(dataset_labels(ds))
            for cls in (1, 0):
                idx = np.flatnonzero(labels == cls)
                shard = idx[rank::world_size]  # rank-disjoint shard of this domain's frames
                if len(shard) == 0:
                    kind = "genuine" if cls else "spoof"
                    raise ValueError(
                        f"source domain {d!r} has no {kind} frames"
                        + (f" for rank {rank} of {world_size}" if world_size > 1 else "")
                    )
                rng = np.random.default_rng([seed, cls, rank, *map(ord, d)])
                self.streams[(d, cls)] = _Stream(shard, rng)

    @property
    def domains(self) -> list[str]:
        """The source domain names."""
        return list(self.sources)

    def indices(self, domains: Sequence[str]) -> list[tuple[str, int]]:
        """The (domain, index) pairs of the next batch: per domain k genuine then k spoof."""
        out = []
        for d in domains:
            if d not in self.sources:
                raise KeyError(f"unknown source domain {d!r}: have {self.domains}")
            for cls in (1, 0):
                out.extend((d, i) for i in self.streams[(d, cls)].take(self.k))
        return out

    def batch(self, domains: Sequence[str]) -> tuple[torch.Tensor, torch.Tensor, list[str]]:
        """Images [N,3,H,W], labels [N] (long, 1 genuine) and domain names of the next batch."""
        images, labels, names = [], [], []
        for d, i in self.indices(domains):
            item = self.sources[d][i]
            images.append(item[0])
            labels.append(int(item[1]))
            names.append(d)
        return torch.stack(images), torch.tensor(labels, dtype=torch.long), names

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor, list[str]]]:
        while True:
            yield self.batch(self.domains)
