"""Start a training run: CPU, one GPU, one spawned DDP process per GPU (--gpus 0 1), or under torchrun."""

from __future__ import annotations

import os
import socket
from pathlib import Path
from typing import Any

import torch.multiprocessing as mp

from gnnjet.train.distributed import check_gpus, under_torchrun
from gnnjet.train.trainer import train


def free_port() -> int:
    """A localhost TCP port that nothing listens on now (the OS picks it), for a process-group rendezvous."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _worker(local_rank: int, config: dict[str, Any], output_dir: str, gpus: list[int], resume: bool,
            epochs: int | None, overwrite: bool) -> None:
    train(config, output_dir, gpus, resume, epochs, progress=local_rank == 0, local_rank=local_rank,
          overwrite=overwrite)


def launch(config: dict[str, Any], output_dir: str | Path, gpus: list[int] | None = None, resume: bool = False,
           epochs: int | None = None, progress: bool = True, overwrite: bool = False) -> None:
    """Check the requested GPUs first, then train (spawning one process per GPU for several GPUs)."""
    check_gpus(gpus)
    if gpus and len(gpus) > 1 and not under_torchrun():
        os.environ.setdefault("MASTER_ADDR", "127.0.0.1")
        os.environ.setdefault("MASTER_PORT", str(free_port()))
        mp.spawn(_worker, args=(config, str(output_dir), gpus, resume, epochs, overwrite), nprocs=len(gpus), join=True)
    else:
        train(config, output_dir, gpus, resume, epochs, progress, overwrite=overwrite)
