"""Domain-balanced batches loaded ahead by ``DataLoader`` workers, in the trainer's order.

Which source domains each batch comes from is known in advance: Algorithm 1 draws one split per
iteration from the trainer's domain-split RNG and asks for K batches of D_φ, then one of D_θ;
ERM asks for one batch of all domains (:func:`mpfas_lib.training.algorithm1.request_plan`). A batch
sampler in the main process turns that plan into (domain, index) lists with
:class:`~mpfas_lib.data.sampling.DomainBalancedBatches`; worker processes load the images, pinned
and prefetched; the trainer receives the batches in the planned order and each request is
checked against the plan. A checkpoint records the requests consumed (as for in-process
sampling, so either can resume the other); a resumed run replays the plan's indices without
loading an image and continues identically.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any

import torch
from torch.utils.data import DataLoader, Dataset

from mpfas_lib.data.sampling import DomainBalancedBatches

Plan = Callable[[], Iterator[list[str]]]  # a fresh iterator over the requested domain lists


class _Frames(Dataset):
    """The source datasets indexed by (domain, index) pairs."""

    def __init__(self, sources: Mapping[str, Dataset]) -> None:
        self.sources = dict(sources)

    def __len__(self) -> int:
        sized: list[Any] = list(self.sources.values())  # map-style datasets know their length
        return sum(len(ds) for ds in sized)

    def __getitem__(self, key: tuple[str, int]) -> tuple[torch.Tensor, int, str]:
        domain, index = key
        item = self.sources[domain][index]
        return item[0], int(item[1]), domain


def _collate(items: list[tuple[torch.Tensor, int, str]]):
    images = torch.stack([item[0] for item in items])
    labels = torch.tensor([item[1] for item in items], dtype=torch.long)
    return images, labels, [item[2] for item in items]


class _PlannedIndices:
    """Batch sampler: the (domain, index) list of every planned request, in order."""

    def __init__(self, batches: DomainBalancedBatches, requests: Iterable[list[str]]) -> None:
        self.batches, self.requests = batches, requests

    def __iter__(self) -> Iterator[list[tuple[str, int]]]:
        for domains in self.requests:
            yield self.batches.indices(domains)


class LoaderBatches:
    """The ``batch(domains)`` source of the trainer, loaded by ``workers`` processes ahead."""

    def __init__(self, batches: DomainBalancedBatches, plan: Plan, workers: int,
                 pin_memory: bool = False, prefetch: int = 4, seed: int = 0) -> None:
        if workers < 1:
            raise ValueError(f"loader_workers must be >= 1 here, got {workers} (0: use "
                             "DomainBalancedBatches directly)")
        self.source, self.plan = batches, plan
        self.workers, self.pin_memory = workers, pin_memory
        self.prefetch, self.seed = prefetch, seed
        self.consumed = 0
        self._skipped: list[list[str]] = []
        self._iter: Iterator[Any] | None = None

    @property
    def domains(self) -> list[str]:
        """The source domain names."""
        return self.source.domains

    def _start(self) -> Iterator[Any]:
        requests = self.plan()
        for domains in self._skipped:  # a resumed run: advance the streams without loading
            planned = next(requests)
            if planned != domains:
                raise RuntimeError(f"cannot resume: the checkpoint asked for {domains} where "
                                   f"the plan has {planned}")
            self.source.indices(planned)
        loader = DataLoader(
            _Frames(self.source.sources), batch_sampler=_PlannedIndices(self.source, requests),
            num_workers=self.workers, collate_fn=_collate, pin_memory=self.pin_memory,
            prefetch_factor=self.prefetch, persistent_workers=False,
            # its own generator: starting the workers must not draw from torch's global RNG
            generator=torch.Generator().manual_seed(self.seed),
        )
        return iter(loader)

    def batch(self, domains: Sequence[str]) -> tuple[torch.Tensor, torch.Tensor, list[str]]:
        """The next planned batch; it must be of the requested domains."""
        if self._iter is None:
            self._iter = self._start()
        images, labels, names = next(self._iter)
        if list(dict.fromkeys(names)) != list(domains):
            raise RuntimeError(f"loader plan diverged from the trainer at batch {self.consumed}: "
                               f"planned {list(dict.fromkeys(names))}, asked {list(domains)}")
        self.consumed += 1
        return images, labels, names

    def skip(self, domains: Sequence[str]) -> None:
        """Count one batch as consumed without loading it (replaying a checkpoint's requests)."""
        if self._iter is not None:
            raise RuntimeError("replaying a sampler state needs a freshly built loader")
        self._skipped.append(list(domains))
        self.consumed += 1

    def close(self) -> None:
        """Stop the worker processes."""
        self._iter = None
