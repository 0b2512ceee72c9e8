"""Process-group set-up: single process, `--gpus 0 1` (one spawned process per GPU) or torchrun.

Under torchrun (RANK / WORLD_SIZE / LOCAL_RANK in the environment) the backend is NCCL with GPUs
and gloo without, which is how DDP is tested on CPU machines.
"""

from __future__ import annotations

import gc
import os
from dataclasses import dataclass

import torch
import torch.distributed as dist

from gnnjet.errors import GnnjetError


@dataclass(frozen=True)
class Context:
    """Where this process runs: its rank in a world of `world_size` processes, and its device."""

    rank: int = 0
    world_size: int = 1
    device: torch.device = torch.device("cpu")

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.world_size > 1


def check_gpus(gpus: list[int] | None) -> None:
    """Fail before any work if a requested GPU does not exist."""
    if not gpus:
        return
    available = torch.cuda.device_count()
    missing = [g for g in gpus if g < 0 or g >= available]
    if missing:
        raise GnnjetError(f"--gpus {' '.join(map(str, gpus))}: GPU(s) {missing} not available "
                          f"(this machine has {available} CUDA device(s)); drop --gpus to train on the CPU")


def under_torchrun() -> bool:
    return "RANK" in os.environ and "WORLD_SIZE" in os.environ


def init_context(gpus: list[int] | None, local_rank: int = 0) -> Context:
    """Join the process group if there is one and pick this process's device."""
    if under_torchrun():
        rank, world = int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"])
        local = int(os.environ.get("LOCAL_RANK", 0))
        use_cuda = torch.cuda.is_available()
        device = torch.device("cuda", local) if use_cuda else torch.device("cpu")
    elif gpus and len(gpus) > 1:
        rank, world, device, use_cuda = local_rank, len(gpus), torch.device("cuda", gpus[local_rank]), True
    else:
        device = torch.device("cuda", gpus[0]) if gpus else torch.device("cpu")
        return Context(0, 1, device)
    if device.type == "cuda":
        torch.cuda.set_device(device)
    if world > 1 and not dist.is_initialized():
        dist.init_process_group("nccl" if use_cuda else "gloo", rank=rank, world_size=world)
    return Context(rank, world, device)


def global_sum(value: torch.Tensor, context: Context) -> torch.Tensor:
    """The sum of a scalar tensor over all ranks (the value itself without DDP); no gradient flows through it."""
    if not context.distributed:
        return value.detach()
    total = value.detach().clone()
    dist.all_reduce(total)
    return total


def barrier(context: Context) -> None:
    if context.distributed:
        dist.barrier()


def shutdown(context: Context) -> None:
    """Leave the process group, once nothing else holds it.

    Call it after dropping the DDP model: when DDP's reducer holds the group's last reference, freeing the
    reducer runs the gloo group's destructor with the GIL held, and that destructor joins gloo's worker thread,
    which may itself be waiting for the GIL to free a tensor: the process hangs at exit (seen in 2 of 5 runs of
    the two-process gloo test with torch 2.13; pytorch/pytorch#56297). Destroyed from here, the group's own
    binding releases the GIL first. gc.collect() frees a reducer kept only by reference cycles."""
    if context.distributed and dist.is_initialized():
        gc.collect()
        dist.destroy_process_group()
