"""The training loop, one for both tasks: epochs, validation, checkpoints, logs, early stopping.

A run directory holds config.yaml (resolved), preprocess.json, last.pt (every epoch), best.pt
(the best epoch under training.monitor, the validation loss by default), metrics.csv, TensorBoard events and
train.log. ``resume=True`` continues from last.pt with the optimizer, scheduler and RNG states restored, and
reaches the same result as an uninterrupted run. Under DDP every rank trains on its shard of each global batch;
rank 0 alone validates and writes files.
"""

from __future__ import annotations

import csv
import io
import logging
import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.nn.parallel import DistributedDataParallel
from torch.utils.tensorboard import SummaryWriter

from gnnjet.config import dump_config, validate_config
from gnnjet.data.inputs import expand_files
from gnnjet.data.loader import JetLoader
from gnnjet.data.preprocess import Preprocessing
from gnnjet.data.reweight import Reweighting
from gnnjet.errors import GnnjetError
from gnnjet.fileio import atomic_path, atomic_write_text, make_directory
from gnnjet.nn.registry import count_parameters
from gnnjet.nn.state import output_layer_keys
from gnnjet.progress import progress_bar
from gnnjet.runs import layout
from gnnjet.runs.calibration import write_calibration_jets
from gnnjet.runs.checkpoint import load_run_checkpoint, save_checkpoint
from gnnjet.runs.code import keep_code, trusted_code
from gnnjet.runs.inference import autocast, evaluate
from gnnjet.runs.model import RunModel
from gnnjet.tasks.decorrelation import DisCo
from gnnjet.tasks.node import NodeTask, node_rows
from gnnjet.training.data import Split, prepare_split
from gnnjet.training.distributed import Context, barrier, global_sum, init_context, shutdown
from gnnjet.training.optim import build_optimizer, build_scheduler
from gnnjet.training.pretrained import PretrainedWeights, freeze, keep_frozen
from gnnjet.training.rundir import RunDirectory, resumed_config
from gnnjet.training.seeding import restore_rng_states, rng_states, seed_everything

log = logging.getLogger(__name__)


@dataclass
class Session:
    """What `Trainer.setup` builds for a run: the model with its spec and task, the data, the frozen modules, the
    optimisation (this rank's loader, the optimizer and its schedule) and the network that trains (the model,
    wrapped for DDP or compiled); the decorrelation term (None without task.decorrelation)."""

    built: RunModel
    split: Split
    frozen: list[str]  # names of the frozen modules (`pretrained.freeze`)
    loader: JetLoader
    optimizer: torch.optim.Optimizer
    scheduler: Any
    step_per_batch: bool
    network: torch.nn.Module
    scaler: torch.amp.GradScaler  # float16 training's loss scaling (training.amp: fp16 on CUDA); disabled otherwise
    disco: DisCo | None = None


class Trainer:
    """Trains the model of a validated config into `output_dir`: `setup(resume)`, then `fit()`."""

    def __init__(self, config: dict[str, Any], output_dir: str | Path, context: Context, progress: bool = True,
                 epochs: int | None = None, overwrite: bool = False, trust_code: bool = False):
        self.config, self.output_dir, self.context, self.progress = config, Path(output_dir), context, progress
        self.epochs_override, self.overwrite, self.trust_code = epochs, overwrite, trust_code
        self.training = config["training"]
        self.history: list[dict[str, float]] = []
        self.start_epoch, self.best, self.stale_epochs = 0, math.inf, 0
        self.run_dir: RunDirectory | None = None
        self.log_handler: logging.Handler | None = None
        self.pretrained_record: dict[str, str] = {}
        self.session: Session | None = None  # set by setup()

    @property
    def ready(self) -> Session:
        if self.session is None:
            raise RuntimeError("Trainer.setup() has not run")
        return self.session

    @property
    def model(self) -> torch.nn.Module:
        return self.ready.built.model

    @property
    def optimizer(self) -> torch.optim.Optimizer:
        return self.ready.optimizer

    # ------------------------------------------------------------------ set-up
    def setup(self, resume: bool) -> None:
        """Claim the run directory (rank 0), build the model from the config (or the run's own config when
        resuming), read the data, load pretrained or resumed weights and build the optimizer.

        `resume` continues from last.pt with the run's own config (`resumed_config`: only a few keys of the
        given config may differ); without it a directory that already holds a run is refused unless
        `overwrite`."""
        checkpoint = self._claim_run(resume)
        seed_everything(self.training["seed"])
        # before any data is read; a resumed run's users' code from the run's copy of it (if trusted)
        code = trusted_code(self.output_dir, self.config, self.trust_code) if checkpoint is not None else None
        built = RunModel.from_config(self.config, code)
        if checkpoint is None and self.context.is_main:
            keep_code(self.output_dir, self.config)
        weights = PretrainedWeights.read(self.training["pretrained"]) \
            if self.training["pretrained"] and checkpoint is None else None
        own = self.output_dir / layout.WEIGHTS  # a resumed run keeps its own reweighting histograms
        reweighting = Reweighting.load(own) if checkpoint is not None and own.exists() else None
        split = self._prepare_data(built, self._fixed_preprocessing(built, checkpoint, weights), reweighting)
        self._load_weights(built, weights, checkpoint)
        frozen = freeze(built.model, self.training["freeze"])
        built.model.to(self.context.device)
        loader, optimizer, scheduler, step_per_batch = self._optimisation(built.model, split, bool(frozen))
        scaler = torch.amp.GradScaler("cuda", enabled=self.training["amp"] == "fp16" and self.context.device.type
                                      == "cuda")
        if checkpoint is not None:
            self._restore(checkpoint, built.model, optimizer, scheduler, scaler)
        elif self.context.is_main:
            dump_config(self.config, self.output_dir / layout.CONFIG)
            split.train.preprocessing.save(self.output_dir / layout.PREPROCESS)
            if split.reweighting is not None:
                split.reweighting.save(self.output_dir / layout.WEIGHTS)
            if split.calibration_index is not None:  # the jets bin/calibrate.py fits on, by input row
                files = self.config["data"]["val"] or self.config["data"]["train"]
                write_calibration_jets(self.output_dir, expand_files(files),
                                       np.asarray(split.val.store.arrays["entry"])[split.calibration_index])
            if self.training["kfold"] is not None:  # the proof that a fold's model never saw its fold's jets
                with atomic_path(self.output_dir / layout.SPLIT) as tmp, open(tmp, "wb") as file:
                    np.savez_compressed(file, train=split.train_index, val=split.val_index)
        self.session = Session(built, split, frozen, loader, optimizer, scheduler, step_per_batch,
                               self._wrap(built.model), scaler, DisCo.from_task(self.config["task"]))
        if self.context.is_main:
            log.info("model %s: %d parameters; %d training and %d validation jets; device %s, %d process(es)",
                     self.config["model"]["name"], count_parameters(built.model), len(split.train_index),
                     len(split.val_index), self.context.device, self.context.world_size)

    def _claim_run(self, resume: bool) -> dict[str, Any] | None:
        """Lock the run directory (rank 0); when resuming, read last.pt and adopt the run's own config.
        Returns the checkpoint to resume from (None for a new run)."""
        if self.context.is_main:
            self.run_dir = RunDirectory.claim(self.output_dir, resume, self.overwrite)
        checkpoint = None
        if resume:
            path = self.output_dir / layout.LAST
            if not path.exists():
                raise GnnjetError(f"--resume: no {path} to resume from")
            checkpoint = load_run_checkpoint(path)
            self.config = resumed_config(validate_config(checkpoint["config"]), self.config, self.output_dir)
            self.training = self.config["training"]
        if self.epochs_override is not None:
            if self.epochs_override < 1:
                raise GnnjetError(f"epochs: {self.epochs_override}; give a positive number of epochs")
            self.training["epochs"] = self.epochs_override
        return checkpoint

    def _fixed_preprocessing(self, built: RunModel, checkpoint: dict[str, Any] | None,
                             weights: PretrainedWeights | None) -> Preprocessing | None:
        """The run's own preprocessing when resuming, the pretrained network's when fine-tuning, else None (fit
        on the training split)."""
        own = self.output_dir / layout.PREPROCESS
        if checkpoint is not None and own.exists():
            return Preprocessing.load(own, built.spec)
        if weights is not None:
            return weights.preprocessing(built.spec)
        return None

    def _prepare_data(self, built: RunModel, preprocessing: Preprocessing | None,
                      reweighting: Reweighting | None) -> Split:
        """Training and validation jets; rank 0 fills the cache, the other ranks then read it."""
        if self.context.is_main:
            make_directory(self.output_dir)
            self._add_log_file()
            split = prepare_split(self.config, built.spec, self.progress, preprocessing, reweighting)
            barrier(self.context)
        else:
            barrier(self.context)
            split = prepare_split(self.config, built.spec, progress=False, preprocessing=preprocessing,
                                  reweighting=reweighting)
        return split

    def _load_weights(self, built: RunModel, weights: PretrainedWeights | None,
                      checkpoint: dict[str, Any] | None) -> None:
        """Pretrained weights into the new model (fine-tuning), recorded in metrics.csv; a resumed run keeps
        its record (its weights are restored with the optimizer, `_restore`)."""
        if weights is not None:
            loaded = weights.load_into(built.model, self.training["pretrained_rename"],
                                       self.training["pretrained_exclude"])
            self.pretrained_record = {k: loaded[k] for k in ("pretrained", "pretrained_sha256")}
            if self.context.is_main:
                log.info("fine-tuning from %s (%s, sha256 %s): %d tensors loaded%s%s", loaded["pretrained"],
                         weights.kind, loaded["pretrained_sha256"], loaded["tensors"],
                         f", output layer replaced ({built.task.out_dim} outputs)"
                         if loaded["replaced_output"] else "",
                         f", {loaded['excluded']} left at their initial values (training.pretrained_exclude)"
                         if loaded["excluded"] else "")
                packed = weights.kind == "weaver" and self.config["model"].get("batchnorm_padding") is None
                if packed and not {"backbone", "batchnorm"} & set(self.training["freeze"]):
                    log.warning("%s was trained by weaver-core with BatchNorm statistics over padded jets, but "
                                "model.batchnorm_padding is null: training BatchNorm layers will renormalise the "
                                "pretrained features (set batchnorm_padding: 128 as preset weaver does, or freeze: "
                                "[batchnorm])", loaded["pretrained"])
        elif checkpoint is not None:
            self.pretrained_record = checkpoint.get("pretrained", {})

    def _optimisation(self, model: torch.nn.Module, split: Split,
                      frozen: bool) -> tuple[JetLoader, torch.optim.Optimizer, Any, bool]:
        """The training loader (this rank's shard), the optimizer (output layer at head_lr_mult), the
        learning-rate schedule and whether it steps per batch."""
        training = self.training
        loader = JetLoader(split.train, training["batch_size"], shuffle=True, seed=training["seed"],
                           indices=split.train_index, drop_last=False, rank=self.context.rank,
                           world_size=self.context.world_size, prefetch=training["prefetch"], min_last=2,
                           block_size=training["shuffle_blocks"], samples_per_epoch=training["samples_per_epoch"])
        head_lr_mult = training["head_lr_mult"] or (50.0 if training["pretrained"] else 1.0)
        optimizer = build_optimizer(model, training, frozenset(output_layer_keys(model)), head_lr_mult)
        if self.context.is_main and (training["pretrained"] or frozen or head_lr_mult != 1.0):
            log.info("output layer learning rate x%g%s", head_lr_mult,
                     f"; frozen: {', '.join(training['freeze'])}" if frozen else "")
        scheduler, step_per_batch = build_scheduler(optimizer, training, len(loader))
        return loader, optimizer, scheduler, step_per_batch

    def _wrap(self, model: torch.nn.Module) -> torch.nn.Module:
        if self.context.distributed:
            if self.context.device.type == "cuda":
                model = torch.nn.SyncBatchNorm.convert_sync_batchnorm(model)
            on_gpu = self.context.device.type == "cuda"
            model = DistributedDataParallel(model, device_ids=[self.context.device] if on_gpu else None)
        if self.training["compile"]:
            model = torch.compile(model)
        return model

    def _add_log_file(self) -> None:
        handler = logging.FileHandler(self.output_dir / layout.TRAIN_LOG)
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        logging.getLogger("gnnjet").addHandler(handler)
        logging.getLogger("gnnjet").setLevel(logging.INFO)
        self.log_handler = handler

    def _restore(self, checkpoint: dict[str, Any], model: torch.nn.Module, optimizer: torch.optim.Optimizer,
                 scheduler: Any, scaler: torch.amp.GradScaler) -> None:
        model.load_state_dict(checkpoint["model"])
        optimizer.load_state_dict(checkpoint["optimizer"])
        scheduler.load_state_dict(checkpoint["scheduler"])
        if checkpoint.get("scaler"):  # float16 training's loss scale (absent in runs of other precisions)
            scaler.load_state_dict(checkpoint["scaler"])
        self.start_epoch = checkpoint["epoch"] + 1
        self.best, self.stale_epochs = checkpoint["best"], checkpoint["stale_epochs"]
        self.history = checkpoint["history"]
        restore_rng_states(checkpoint["rng"])
        log.info("resumed from epoch %d", checkpoint["epoch"])

    # ------------------------------------------------------------------ loop
    def fit(self) -> list[dict[str, float]]:
        """Train until training.epochs or early stopping; returns the history."""
        epochs = self.training["epochs"]
        patience = self.training["early_stopping_patience"]
        for epoch in range(self.start_epoch, epochs):
            if patience is not None and self.stale_epochs >= patience:
                log.info("early stopping: no improvement of %s for %d epochs", self.training["monitor"], patience)
                break
            start = time.perf_counter()
            train_loss, jets = self._train_epoch(epoch)
            seconds = time.perf_counter() - start
            if self.context.is_main:
                row = {"epoch": epoch, "lr": self.optimizer.param_groups[0]["lr"], "train_loss": train_loss,
                       **self._validate(), "seconds": seconds, "jets_per_s": jets / seconds, **self.pretrained_record}
                self._end_epoch(epoch, row)
            barrier(self.context)
        if self.log_handler is not None:
            logging.getLogger("gnnjet").removeHandler(self.log_handler)
        return self.history

    def _train_epoch(self, epoch: int) -> tuple[float, int]:
        session = self.ready
        session.network.train()
        keep_frozen(session.built.model, session.frozen)  # their (pretrained) BatchNorm statistics, no dropout
        session.loader.set_epoch(epoch)
        device, amp = self.context.device, self.training["amp"]
        global_sizes = session.loader.global_batch_sizes()
        total_loss, total_jets = 0.0, 0
        bar = progress_bar(session.loader, self.progress and self.context.is_main, desc=f"epoch {epoch}",
                           unit=" batch", leave=False)
        start = time.perf_counter()
        task, weighted = session.built.task, session.split.weighted
        for step, batch in enumerate(bar):
            batch = batch.to(device, non_blocking=True)
            with autocast(device, amp):
                output = session.network(batch)
                # sum(w l) / sum(|w|) over the global batch (a batch of weight 0 teaches nothing); a node task's
                # loss is over the global batch's labelled nodes, however many each rank has
                if weighted or task.per_node:
                    total, norm = task.loss_sums(output, task.targets_of(batch),
                                                 task.weights_of(batch) if weighted else None)
                    loss, global_norm = total / norm.clamp(min=1e-30), global_sum(norm, self.context).clamp(min=1e-30)
                else:
                    loss, norm, global_norm = task.loss(output, batch.y), batch.num_graphs, global_sizes[step]
                penalty = session.disco.penalty(output, batch.y, batch.decor, batch.weight if weighted else None) \
                    if session.disco is not None else None
            # DDP averages gradients over ranks: weight each rank by its share of the global batch (or weight sum)
            share = norm * self.context.world_size / global_norm
            session.optimizer.zero_grad(set_to_none=True)
            session.scaler.scale(loss * share + (penalty if penalty is not None else 0.0)).backward()
            if self.training["grad_clip"]:
                session.scaler.unscale_(session.optimizer)  # clip the true gradients (a no-op unless fp16)
                torch.nn.utils.clip_grad_norm_(session.built.model.parameters(), self.training["grad_clip"])
            session.scaler.step(session.optimizer)  # skips a step whose fp16 gradients overflowed
            session.scaler.update()
            if session.step_per_batch:
                session.scheduler.step()
            value = float(loss.detach())
            if not math.isfinite(value):
                raise GnnjetError(f"epoch {epoch}, step {step}: the loss is {value}; lower training.lr or check "
                                  "the inputs' preprocessing (see the NaN/inf warnings of the data reader)")
            total_loss += value * batch.num_graphs
            total_jets += batch.num_graphs
            bar.set_postfix(loss=f"{value:.4f}", jets_per_s=f"{total_jets / (time.perf_counter() - start):.0f}")
        return total_loss / max(total_jets, 1), total_jets * self.context.world_size

    def _validate(self) -> dict[str, float]:
        """The validation loss (weighted as in training; with the DisCo penalty averaged over batches of the
        training size, also reported alone as val_disco) and the task's metrics."""
        split, task, disco = self.ready.split, self.ready.built.task, self.ready.disco
        outputs, targets = evaluate(self.model, split.val, split.val_index, self.training["batch_size"],
                                    self.context.device, self.training["amp"], targets_of=task.targets_of)
        output, target = torch.from_numpy(outputs), torch.from_numpy(targets)
        weight = None
        if split.weighted:
            counts = split.val.node_counts()[split.val_index]
            weight = torch.from_numpy(task.per_row(split.val.weight.numpy()[split.val_index], counts))
        row = {"val_loss": float(task.loss(output, target, weight))}
        if disco is not None:
            assert split.val.decor is not None
            variable, size = split.val.decor[split.val_index], self.training["batch_size"]
            penalties = [float(disco.penalty(output[lo:lo + size], target[lo:lo + size], variable[lo:lo + size],
                                             None if weight is None else weight[lo:lo + size]))
                         for lo in range(0, len(target), size)]
            row["val_disco"] = sum(penalties) / len(penalties)
            row["val_loss"] += row["val_disco"]
        weights = None if weight is None else weight.numpy()
        metrics = task.metrics(outputs, targets, weights)
        if isinstance(task, NodeTask):
            node_type = split.val.node_type.numpy()[node_rows(split.val.ptr.numpy(), split.val_index)]
            metrics |= task.metrics_per_type(outputs, targets, weights, node_type)
        return {**row, **{f"val_{k}": v for k, v in metrics.items()}}

    def _end_epoch(self, epoch: int, row: dict[str, float]) -> None:
        session = self.ready
        if not session.step_per_batch:
            if isinstance(session.scheduler, torch.optim.lr_scheduler.ReduceLROnPlateau):
                session.scheduler.step(row["val_loss"])
            else:
                session.scheduler.step()
        score = monitored(row, self.training["monitor"])
        improved = score < self.best
        if improved:
            self.best, self.stale_epochs = score, 0
        else:
            self.stale_epochs += 1
        self.history.append(row)
        state = {"model": session.built.model.state_dict(), "optimizer": session.optimizer.state_dict(),
                 "scheduler": session.scheduler.state_dict(), "epoch": epoch, "best": self.best,
                 "stale_epochs": self.stale_epochs, "history": self.history, "rng": rng_states(),
                 "config": self.config, "inputs": session.built.spec.model_inputs(),
                 "pretrained": self.pretrained_record, "scaler": session.scaler.state_dict()}
        if improved:  # best.pt first: a kill between the two leaves last.pt one epoch behind, never ahead of best.pt
            save_checkpoint(self.output_dir / layout.BEST, state)
        save_checkpoint(self.output_dir / layout.LAST, state)
        if self.run_dir is not None:
            self.run_dir.commit()  # a run replaced by --overwrite goes only now
        self._write_metrics()
        numbers = ", ".join(f"{k}={v:.4g}" for k, v in row.items() if k != "epoch" and not isinstance(v, str))
        log.info("epoch %d: %s%s", epoch, numbers, " (best)" if improved else "")

    def _write_metrics(self) -> None:
        keys = list(dict.fromkeys(k for row in self.history for k in row))
        text = io.StringIO()
        writer = csv.DictWriter(text, fieldnames=keys)
        writer.writeheader()
        writer.writerows(self.history)
        atomic_write_text(self.output_dir / layout.METRICS, text.getvalue())
        with SummaryWriter(self.output_dir / layout.TENSORBOARD) as board:
            row = self.history[-1]
            for key, value in row.items():
                if key != "epoch" and isinstance(value, (int, float)) and math.isfinite(value):
                    board.add_scalar(key, value, int(row["epoch"]))


def monitored(row: dict[str, float], monitor: str) -> float:
    """The score of an epoch's metrics row under `training.monitor` (`config.MONITORS`), lower is better: the
    validation loss, minus the validation AUC (for several classes, the mean of the one-vs-rest AUCs the task
    reports), minus the accuracy, or minus the epoch (`last`: every epoch improves)."""
    if monitor == "val_loss":
        return row["val_loss"]
    if monitor == "last":
        return -row["epoch"]
    if monitor == "val_auc" and "val_auc" in row:  # two classes (a node task's per-type AUCs are not averaged in)
        return -row["val_auc"]
    if monitor == "val_auc":
        aucs = [value for key, value in row.items() if key.startswith("val_auc_") and "_vs_" not in key]
        return -sum(aucs) / len(aucs)
    return -row[monitor]


def train(config: dict[str, Any], output_dir: str | Path, *, gpus: list[int] | None = None, resume: bool = False,
          epochs: int | None = None, progress: bool = True, local_rank: int = 0,
          overwrite: bool = False, trust_code: bool = False) -> list[dict[str, float]]:
    """Train one process's part of a run (all of it without DDP); returns the epoch history.

    `resume`: continue from output_dir/last.pt; `overwrite`: replace a run already in output_dir (else refused);
    `trust_code`: a resumed run whose model is users' code may run the run's copy of it (`runs.code`)."""
    context = init_context(gpus, local_rank)
    trainer: Trainer | None = None
    try:
        trainer = Trainer(config, output_dir, context, progress, epochs, overwrite, trust_code)
        trainer.setup(resume)
        return trainer.fit()
    finally:
        if trainer is not None and trainer.run_dir is not None:
            trainer.run_dir.release()
        trainer = None  # its DDP reducer must go before the process group (see `shutdown`)
        shutdown(context)
