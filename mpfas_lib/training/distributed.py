"""Several GPUs (or CPU processes with gloo): ``torchrun`` + DistributedDataParallel.

Every rank draws its own domain-balanced batches (the sampler gets ``rank``/``world_size``, so
each rank's batch stays balanced: k genuine + k spoof per domain); the domain split of
Algorithm 1 uses the same seed on every rank, so all ranks agree on D_φ and D_θ.  Θ's step (and
ERM's) goes through DistributedDataParallel; the inner ∇_Φ of Algorithm 1 is computed with
``torch.autograd.grad`` (which DDP does not hook), so Φ's gradients are averaged explicitly.
Only rank 0 writes files.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as torch_dist
from torch import nn


@dataclass(frozen=True)
class DistInfo:
    """Rank, world size and device of this process."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    device: torch.device = torch.device("cpu")

    @property
    def is_main(self) -> bool:
        """Whether this process writes files and logs (rank 0)."""
        return self.rank == 0

    @property
    def enabled(self) -> bool:
        """Whether more than one process takes part."""
        return self.world_size > 1


def env_world_size() -> int:
    """``WORLD_SIZE`` set by ``torchrun`` (1 when not launched by it)."""
    return int(os.environ.get("WORLD_SIZE", "1"))


def init_distributed(device: str | None = None, backend: str | None = None) -> DistInfo:
    """Join the process group described by torchrun's env vars (no-op for one process)."""
    world_size = env_world_size()
    rank = int(os.environ.get("RANK", "0"))
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    if device:
        dev = torch.device(device)
    elif torch.cuda.is_available():
        dev = torch.device("cuda", local_rank % max(1, torch.cuda.device_count()))
    else:
        dev = torch.device("cpu")
    if dev.type == "cuda":
        torch.cuda.set_device(dev)
    if world_size > 1 and not torch_dist.is_initialized():
        backend = backend or ("nccl" if dev.type == "cuda" else "gloo")
        torch_dist.init_process_group(backend=backend, rank=rank, world_size=world_size)
    if torch_dist.is_initialized():
        rank, world_size = torch_dist.get_rank(), torch_dist.get_world_size()
    return DistInfo(rank, world_size, local_rank, dev)


def cleanup() -> None:
    """Leave the process group if one was joined."""
    if torch_dist.is_initialized():
        torch_dist.destroy_process_group()


def average_tensors(tensors: list[torch.Tensor]) -> None:
    """All-reduce a list of tensors in place to their mean over ranks."""
    if not torch_dist.is_initialized() or torch_dist.get_world_size() == 1:
        return
    world = torch_dist.get_world_size()
    for t in tensors:
        torch_dist.all_reduce(t, op=torch_dist.ReduceOp.SUM)
        t.div_(world)


def broadcast_module(module: nn.Module, src: int = 0) -> None:
    """Copy rank ``src``'s parameters and buffers to every rank."""
    if not torch_dist.is_initialized():
        return
    with torch.no_grad():
        for tensor in list(module.parameters()) + list(module.buffers()):
            torch_dist.broadcast(tensor.data, src)


def wrap_ddp(module: nn.Module, device: torch.device) -> nn.Module:
    """Wrap a module in DistributedDataParallel (on its device; gloo on CPU)."""
    ids = [device.index] if device.type == "cuda" else None
    return nn.parallel.DistributedDataParallel(module, device_ids=ids)


def barrier() -> None:
    """Wait for every rank (no-op for one process)."""
    if torch_dist.is_initialized():
        torch_dist.barrier()
