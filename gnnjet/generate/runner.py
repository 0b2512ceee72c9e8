"""Parallel sample generation: shards of fixed size, one seed per shard, worker processes.

Shard i of a run with seed S uses the Pythia/detector seed ``S * 100_003 + i``, so a sample is
reproducible whatever the number of workers. Each shard fills every class of the process with an
equal quota, shuffles its jets and is written atomically as ``<process>_<S>_<i>.root``.
"""

from __future__ import annotations

import json
import logging
import math
import multiprocessing as mp
import os
import shutil
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import yaml
from tqdm.auto import tqdm

from gnnjet.data.writer import write_jets
from gnnjet.errors import GnnjetError
from gnnjet.fileio import alive, atomic_write_text, fsync_directory, make_directory, same_file
from gnnjet.generate.detector import Detector, as_dict
from gnnjet.generate.pileup import PileUp, beam_settings
from gnnjet.generate.pipeline import JetTable, simulate
from gnnjet.generate.processes import PROCESSES
from gnnjet.generate.pythia import ChargeTable, make_pythia
from gnnjet.generate.showers import ShowerSetup, simulate_shard
from gnnjet.progress import progress_bar

log = logging.getLogger(__name__)
_progress: Any = None  # a worker's queue of finished-jet counts
SHOWER = "shower"  # the air-shower process (generate.showers): events of hits, not jets
PROCESS_NAMES = (*PROCESSES, SHOWER)


@dataclass(frozen=True)
class ShardTask:
    process: str
    num_jets: int
    seed: int
    path: str
    detector: Detector | ShowerSetup  # a ShowerSetup for the shower process
    pileup: float = 0.0  # mean pile-up interactions per event


EVENTS_PER_SHARD = 10**9  # event numbers of shard seed s: s * 10**9 + [0, events generated)
MAX_SEED = 90_000  # shard seeds S * 100_003 + i stay below 2^63 / EVENTS_PER_SHARD: event numbers fit int64


def quotas(num_jets: int, classes: tuple[str, ...]) -> dict[str, int]:
    """Split num_jets as evenly as possible over classes (the first classes get the remainder)."""
    base, extra = divmod(num_jets, len(classes))
    return {c: base + (i < extra) for i, c in enumerate(classes)}


def generate_shard(task: ShardTask) -> dict[str, Any]:
    """Generate and write one shard; returns its statistics."""
    if task.process == SHOWER:
        return _shower_shard(task)
    process = PROCESSES[task.process]
    rng = np.random.default_rng(task.seed)
    wanted = quotas(task.num_jets, process.classes)
    chosen: list[JetTable] = []
    stats: dict[str, Any] = {"events": 0, "seconds": 0.0}
    start = time.perf_counter()
    pileup = (PileUp.generate(task.pileup, beam_settings(process.sources[0].settings), seed=task.seed * 7 + 5)
              if task.pileup > 0 else None)
    for number, source in enumerate(process.sources):
        if not any(wanted[c] for c in source.classes):
            continue
        pythia = make_pythia(source.settings, seed=task.seed * 7 + number)
        charge = ChargeTable(pythia)
        while any(wanted[c] for c in source.classes):
            events = pythia.nextBatch(source.batch_events)
            table = simulate(events, charge, task.detector, rng, process.jet_radius, pileup)
            # the event number, unique in a sample of one seed: shard seed x EVENTS_PER_SHARD + event of the shard
            table.jets["event"] = task.seed * EVENTS_PER_SHARD + stats["events"] + table.jets["event"]
            stats["events"] += len(events)
            for cls, index in process.select(table, source).items():
                taken = index[: wanted[cls]]
                if len(taken):
                    picked = table.take(taken)
                    if process.write_labels:
                        for other in process.classes:
                            picked.jets[f"label_{other}"] = np.full(len(taken), int(other == cls), np.int32)
                    chosen.append(picked)
                    wanted[cls] -= len(taken)
                    if _progress is not None:
                        _progress.put(len(taken))
    jets = JetTable.concatenate(chosen)
    jets = jets.take(rng.permutation(len(jets)))
    write_jets(task.path, jets.branches())
    stats["seconds"] = time.perf_counter() - start
    stats["jets"] = len(jets)
    return stats


def _shower_shard(task: ShardTask) -> dict[str, Any]:
    """One shard of gamma and proton showers (`generate.showers`)."""
    assert isinstance(task.detector, ShowerSetup)
    start = time.perf_counter()
    branches, simulated = simulate_shard(task.num_jets, task.seed, task.detector, task.seed * EVENTS_PER_SHARD,
                                         _progress)
    write_jets(task.path, branches)
    return {"events": sum(simulated.values()), "seconds": time.perf_counter() - start, "jets": task.num_jets,
            "simulated": simulated}


def _init_worker(progress: Any) -> None:
    global _progress
    _progress = progress


def generate(process_name: str, num_jets: int, out_dir: str | Path, *, seed: int = 1, workers: int = 1,
             shard_size: int = 1000, detector: Detector | None = None, progress: bool = True,
             pileup: float = 0.0, overwrite: bool = False, inputs: Sequence[str | Path] = ()) -> list[Path]:
    """Generate `num_jets` jets of a process into ROOT shards in `out_dir`, with Poisson(`pileup`) minimum-bias
    interactions overlaid on every event; returns their paths. The files of an earlier sample there are refused
    unless `overwrite`, and replaced only once the new sample is complete (`SampleFiles`); `inputs` (the
    --detector file) are never written over."""
    if process_name not in PROCESS_NAMES:
        raise GnnjetError(f"unknown process {process_name!r}; choose one of {', '.join(PROCESS_NAMES)}")
    if num_jets <= 0 or shard_size <= 0:
        raise GnnjetError("the number of jets and the shard size must be positive")
    if not 0 <= seed < MAX_SEED:
        raise GnnjetError(f"--seed {seed}: give a seed in [0, {MAX_SEED}) (event numbers are built from it)")
    if not 0 <= pileup <= 1000:
        raise GnnjetError(f"--pileup {pileup}: the mean number of pile-up interactions must be in [0, 1000]")
    if process_name == SHOWER:
        detector = detector or ShowerSetup()
        if pileup:
            raise GnnjetError("--pileup: the shower process has no pile-up (noise hits are part of the pond)")
        description = "gamma and proton air showers in a water-Cherenkov pond"
    else:
        detector, description = detector or Detector(), PROCESSES[process_name].description
    out_dir = make_directory(out_dir)
    num_shards = math.ceil(num_jets / shard_size)
    sample = SampleFiles(out_dir, process_name, seed, num_shards)
    sample.check(inputs, overwrite)
    staging = sample.staging()
    tasks = [ShardTask(process_name, min(shard_size, num_jets - i * shard_size), seed * 100_003 + i,
                       str(staging / shard.name), detector, pileup) for i, shard in enumerate(sample.shards)]
    try:
        start = time.perf_counter()
        what = "events" if process_name == SHOWER else "jets"
        with progress_bar(None, progress, total=num_jets, desc=f"generating {process_name} {what}",
                          unit=f" {what}") as bar:
            if workers <= 1 or num_shards == 1:  # in-process: no start-up cost, works from any __main__
                _init_worker(_BarUpdater(bar))
                try:
                    results = [generate_shard(task) for task in tasks]
                finally:
                    _init_worker(None)
            else:
                results = _run_pool(tasks, workers, bar, progress)
        seconds = time.perf_counter() - start
        summary = {
            "process": process_name, "description": description, "jets": num_jets, "seed": seed, "pileup": pileup,
            "shards": [shard.name for shard in sample.shards], "workers": workers, "wall_seconds": round(seconds, 1),
            "cpu_seconds": round(sum(r["seconds"] for r in results), 1), "events": sum(r["events"] for r in results),
            "jets_per_cpu_second": round(num_jets / max(sum(r["seconds"] for r in results), 1e-9), 1),
        }
        setup = detector.as_dict() if isinstance(detector, ShowerSetup) else as_dict(detector)
        atomic_write_text(staging / sample.detector.name, yaml.safe_dump(setup, sort_keys=False))
        atomic_write_text(staging / sample.record.name, json.dumps(summary, indent=1))
        sample.move_in(staging)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    log.info("%s: %d %s in %.1f s (%.1f per CPU second)", process_name, num_jets, what, seconds,
             summary["jets_per_cpu_second"])
    return sample.shards


STAGING = ".generating."  # + pid: the directory beside the sample where a generation writes its files


@dataclass(frozen=True)
class SampleFiles:
    """The files a generation writes into `out_dir`: shards ``<process>_<seed>_<i>.root``, the detector record
    ``detector.yaml`` and, last, the generation record ``<process>_<seed>_generation.json`` (whose presence marks
    a complete sample). They are written in a staging directory beside them and moved in only once all exist, so
    an earlier sample stays whole until its replacement is complete."""

    out_dir: Path
    process: str
    seed: int
    num_shards: int

    @property
    def shards(self) -> list[Path]:
        return [self.out_dir / f"{self.process}_{self.seed}_{i:04d}.root" for i in range(self.num_shards)]

    @property
    def detector(self) -> Path:
        return self.out_dir / "detector.yaml"

    @property
    def record(self) -> Path:
        return self.out_dir / f"{self.process}_{self.seed}_generation.json"

    @property
    def files(self) -> list[Path]:
        """Every file of the sample, the generation record last."""
        return [*self.shards, self.detector, self.record]

    def earlier(self) -> list[Path]:
        """Files of an earlier sample this one would replace: its own names, and every shard of the same
        process and seed (a sample of more shards leaves some that are not among the new names)."""
        return sorted({p for p in self.files if p.exists()}
                      | set(self.out_dir.glob(f"{self.process}_{self.seed}_*.root")))

    def check(self, inputs: Sequence[str | Path], overwrite: bool) -> None:
        """Before any work: refuse to write over one of `inputs` (a --detector file) always, and over the files
        of an earlier sample unless `overwrite`."""
        for path in inputs:
            for ours in self.files:
                if same_file(ours, path):
                    raise GnnjetError(f"{path} is an input of this generation and would be replaced by its "
                                      f"{ours.name}: copy it elsewhere or choose another output directory")
        earlier = self.earlier()
        if earlier and not overwrite:
            names = ", ".join(p.name for p in earlier[:4]) + (" ..." if len(earlier) > 4 else "")
            raise GnnjetError(f"{self.out_dir} already holds {len(earlier)} file(s) of an earlier sample ({names}): "
                              "pass --overwrite to replace them once the new sample is complete, or choose another "
                              "output directory")

    def staging(self) -> Path:
        """A new, empty staging directory beside the sample (stale ones of killed generations are removed)."""
        for stale in self.out_dir.glob(f"{STAGING}*"):
            pid = stale.name[len(STAGING):]
            if pid.isdigit() and not alive(int(pid)):
                shutil.rmtree(stale, ignore_errors=True)
        staging = self.out_dir / f"{STAGING}{os.getpid()}"
        shutil.rmtree(staging, ignore_errors=True)
        staging.mkdir()
        return staging

    def move_in(self, staging: Path) -> None:
        """Replace the earlier sample by the complete one in `staging`: its shards first, then the records (the
        generation record last), then the earlier shards that the new sample has no counterpart of."""
        earlier = self.earlier()
        for path in self.files:
            os.replace(staging / path.name, path)
        for path in set(earlier) - set(self.files):
            path.unlink(missing_ok=True)
        fsync_directory(self.out_dir)


class _BarUpdater:
    """Stands in for the workers' progress queue when shards run in this process."""

    def __init__(self, bar: tqdm):
        self.bar = bar

    def put(self, count: int) -> None:
        self.bar.update(count)


def _run_pool(tasks: list[ShardTask], workers: int, bar: tqdm, progress: bool) -> list[dict[str, Any]]:
    """Shards in `workers` spawned processes; their progress reaches `bar` through a queue."""
    context = mp.get_context("spawn")
    queue = context.Manager().Queue() if progress else None
    with ProcessPoolExecutor(max_workers=min(workers, len(tasks)), mp_context=context,
                             initializer=_init_worker, initargs=(queue,)) as pool:
        futures = [pool.submit(generate_shard, task) for task in tasks]
        while not all(f.done() for f in futures):
            _drain(queue, bar, timeout=0.2)
        _drain(queue, bar, timeout=0.0)
        return [f.result() for f in futures]


def _drain(queue: Any, bar: tqdm, timeout: float) -> None:
    if queue is None:
        time.sleep(timeout)
        return
    try:
        bar.update(queue.get(timeout=timeout) if timeout else queue.get_nowait())
        while True:
            bar.update(queue.get_nowait())
    except Exception:  # queue.Empty: nothing finished yet
        return
