"""Start a training run: CPU, one GPU, one spawned DDP process per GPU (--gpus 0 1), or under torchrun."""

from __future__ import annotations

import os
import socket
from pathlib import Path
from typing import Any

import torch.multiprocessing as mp

from gnnjet.training.distributed import check_gpus, under_torchrun
from gnnjet.training.kfold import train_folds
from gnnjet.training.trainer import train


def free_port() -> int:
    """A localhost TCP port that nothing listens on now (the OS picks it), for a process-group rendezvous."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _worker(local_rank: int, config: dict[str, Any], output_dir: str, gpus: list[int], resume: bool,
            epochs: int | None, overwrite: bool, trust_code: bool) -> None:
    train(config, output_dir, gpus=gpus, resume=resume, epochs=epochs, progress=local_rank == 0, local_rank=local_rank,
          overwrite=overwrite, trust_code=trust_code)


def launch(config: dict[str, Any], output_dir: str | Path, *, gpus: list[int] | None = None, resume: bool = False,
           epochs: int | None = None, progress: bool = True, overwrite: bool = False, trust_code: bool = False) -> None:
    """Check the requested GPUs first, then train (spawning one process per GPU for several GPUs); a k-fold
    config (training.kfold without a fold) trains each fold in turn (`kfold.train_folds`). `trust_code`: a resumed
    run whose model is users' code may run the run's copy of it (`runs.code`)."""
    check_gpus(gpus)
    kfold = config["training"]["kfold"]
    if kfold is not None and kfold["fold"] is None:
        train_folds(config, output_dir, _launch_one, resume=resume, overwrite=overwrite, gpus=gpus, epochs=epochs,
                    progress=progress, trust_code=trust_code)
        return
    _launch_one(config, output_dir, resume=resume, overwrite=overwrite, gpus=gpus, epochs=epochs, progress=progress,
                trust_code=trust_code)


def _launch_one(config: dict[str, Any], output_dir: str | Path, resume: bool, overwrite: bool,
                gpus: list[int] | None, epochs: int | None, progress: bool, trust_code: bool) -> None:
    if gpus and len(gpus) > 1 and not under_torchrun():
        os.environ.setdefault("MASTER_ADDR", "127.0.0.1")
        os.environ.setdefault("MASTER_PORT", str(free_port()))
        mp.spawn(_worker, args=(config, str(output_dir), gpus, resume, epochs, overwrite, trust_code), nprocs=len(gpus),
                 join=True)
    else:
        train(config, output_dir, gpus=gpus, resume=resume, epochs=epochs, progress=progress, overwrite=overwrite,
              trust_code=trust_code)
