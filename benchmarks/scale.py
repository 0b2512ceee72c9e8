#!/usr/bin/env python
"""Scale: cache fill speed vs worker processes, training memory vs dataset size, loader speed on a store
larger than its memory limit. Prints a table and, last, one JSON line.

Input: synthetic ROOT files written here with uproot (not the generator): the committed JEC sample
(data/jec, 6000 jets of configs/jec_particlenet.yaml's schema) tiled, every copy in a new seeded order
with the jet and constituent pt smeared by 1%, in files of up to 100k jets.

1. Cache fill: `build_store` of --fill-jets jets into a fresh cache with 1 and 2 (--workers) processes,
   --repeats times each after one untimed build (medians); the stores must be identical byte for byte.
2. Memory: `bin/train.py` (configs/jec_particlenet.yaml's data, DeepSets `small`, batch 512, one epoch)
   on each of --jets, its cache built beforehand; /proc/PID/status sampled every 50 ms: peak private
   (anonymous) RSS and peak total RSS (which also counts the memory-mapped store's pages: page cache the
   kernel reclaims under pressure, not memory the process needs).
3. Loader: batches of the largest store's training jets (processed arrays, batch 512), jet-by-jet
   shuffle with the store in the page cache ("in memory"), then after evicting it from the page cache
   inside a memory cgroup of --memory-limit-mb (v1 or v2; without one, eviction only): jet-by-jet
   shuffle vs `training.shuffle_blocks` (block streaming), each for up to --loader-seconds.

    python benchmarks/scale.py [--jets 20000 200000 1000000] [--fill-jets 200000] [--workers 2]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import awkward as ak
import numpy as np
import uproot
import yaml

from gnnjet.config import load_config
from gnnjet.data.arrays import ARRAYS
from gnnjet.data.cache.build import build_store
from gnnjet.data.cache.key import cache_key
from gnnjet.data.inputs import expand_files
from gnnjet.data.spec import DataSpec
from gnnjet.data.writer import branch_name, collections_in, counter_name, write_jet_chunks

ROOT = Path(__file__).resolve().parents[1]

CONFIG = ROOT / "configs" / "jec_particlenet.yaml"
FILE_JETS = 100_000


# ----------------------------------------------------------------------------- inputs
def template() -> dict:
    """The committed JEC sample as writer branches: jet-level arrays and one record array per collection."""
    files = sorted(str(p) for p in (ROOT / "data" / "jec").glob("*.root"))
    arrays = ak.concatenate([uproot.open(f)["Jets"].arrays(library="ak") for f in files])
    collections = collections_in(arrays.fields)
    prefixes = tuple(branch_name(c, "") for c in collections)
    counters = {counter_name(c) for c in collections}
    branches = {name: ak.to_numpy(arrays[name]) for name in arrays.fields
                if not name.startswith(prefixes) and name not in counters}
    for c, prefix in zip(collections, prefixes):
        branches[c] = ak.zip({name[len(prefix):]: arrays[name] for name in arrays.fields if name.startswith(prefix)})
    return branches


def copy_of(branches: dict, seed: int, size: int) -> dict:
    """`size` jets of the template in a seeded random order, pt of jets and constituents smeared by 1%."""
    rng = np.random.default_rng(seed)
    order = rng.integers(0, len(branches["pt"]), size)
    out = {}
    for name, values in branches.items():
        picked = values[order]
        if isinstance(picked, ak.Array) and picked.ndim > 1:  # a collection
            pt = ak.flatten(picked.pt)
            smeared = ak.unflatten(ak.to_numpy(pt) * rng.normal(1, 0.01, len(pt)).astype(np.float32),
                                   ak.num(picked.pt))
            picked = ak.zip({f: smeared if f == "pt" else picked[f] for f in picked.fields})
        elif name == "pt":
            picked = (picked * rng.normal(1, 0.01, size)).astype(picked.dtype)
        out[name] = picked
    return out


def write_sample(directory: Path, num_jets: int) -> list[str]:
    """Files of up to FILE_JETS synthetic jets (written once, then reused)."""
    done = directory / "done"
    if not done.exists():
        shutil.rmtree(directory, ignore_errors=True)
        directory.mkdir(parents=True)
        branches = template()
        for index, lo in enumerate(range(0, num_jets, FILE_JETS)):
            size = min(FILE_JETS, num_jets - lo)
            chunks = (copy_of(branches, seed=1000 * index + k, size=min(20_000, size - k))
                      for k in range(0, size, 20_000))
            write_jet_chunks(directory / f"jets_{index:03d}.root", chunks)
        done.touch()
    return sorted(str(p) for p in directory.glob("*.root"))


# ----------------------------------------------------------------------------- 1. cache fill
def digest(store_path: Path) -> str:
    h = hashlib.sha256()
    for name in ARRAYS:
        h.update((store_path / f"{name}.npy").read_bytes())
    return h.hexdigest()


def fill_rates(files: list[str], workers: list[int], repeats: int, work: Path) -> tuple[dict, dict]:
    """{workers: [jets/s per repeat]} and {workers: store digest}."""
    spec = DataSpec.from_config(load_config(CONFIG))
    rates: dict[int, list[float]] = {w: [] for w in workers}
    digests: dict[int, str] = {}
    shutil.rmtree(work / "fill_warmup", ignore_errors=True)
    build_store(spec, files, work / "fill_warmup", progress=False, workers=1)  # not timed: imports, page cache
    shutil.rmtree(work / "fill_warmup")
    for repeat in range(repeats):
        for w in workers:
            root = work / f"fill_{w}_{repeat}"
            shutil.rmtree(root, ignore_errors=True)
            start = time.perf_counter()
            store = build_store(spec, files, root, progress=False, workers=w)
            rates[w].append(store.num_jets / (time.perf_counter() - start))
            digests[w] = digest(store.path)
            del store
            shutil.rmtree(root)
    return rates, digests


# ----------------------------------------------------------------------------- 2. training memory
def train_config(files: list[str], cache: Path) -> dict:
    config = load_config(CONFIG)
    config["data"].update(train=files, val_fraction=0.1, cache_dir=str(cache))
    config["model"] = {"name": "deepsets", "preset": "small"}
    config["training"].update(batch_size=512, epochs=1, early_stopping_patience=None)
    return config


def peak_memory(command: list[str], env: dict) -> tuple[float, float, float]:
    """Run `command`; (peak private RSS MB, peak total RSS MB, seconds), sampled from /proc every 50 ms."""
    start = time.perf_counter()
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    anon = total = 0.0
    while process.poll() is None:
        try:
            status = dict(line.split(":", 1) for line in Path(f"/proc/{process.pid}/status").read_text().splitlines())
            anon = max(anon, int(status["RssAnon"].split()[0]) / 1024)
            total = max(total, int(status["VmHWM"].split()[0]) / 1024)
        except (FileNotFoundError, KeyError, ValueError, ProcessLookupError):
            pass
        time.sleep(0.05)
    if process.returncode:
        raise RuntimeError(f"{' '.join(command)} failed:\n{process.stderr.read()[-3000:]}")
    return anon, total, time.perf_counter() - start


def memory_at(num_jets: int, work: Path) -> dict:
    files = write_sample(work / f"sample_{num_jets}", num_jets)
    config = train_config(files, work / "cache")
    build_store(DataSpec.from_config(config), expand_files(files), work / "cache", progress=False)  # not measured
    (work / f"train_{num_jets}.yaml").write_text(yaml.safe_dump(config))
    run = work / f"run_{num_jets}"
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "2"}
    anon, total, seconds = peak_memory([sys.executable, str(ROOT / "bin" / "train.py"), "-c",
                                        str(work / f"train_{num_jets}.yaml"), "-o", str(run), "--overwrite"], env)
    entry = work / "cache" / cache_key(DataSpec.from_config(config), expand_files(files))
    return {"jets": num_jets, "run": run, "anon_mb": anon, "total_mb": total, "seconds": seconds,
            "store_mb": sum(f.stat().st_size for f in entry.glob("*.npy")) / 1e6}  # raw and processed arrays


# ----------------------------------------------------------------------------- 3. loader
class MemoryCgroup:
    """A memory cgroup (v2, else v1) capping the page cache of the processes put in it; None if none can be made."""

    def __init__(self, limit_mb: int):
        v2 = Path("/sys/fs/cgroup/cgroup.controllers").exists()
        base, limit_file = (Path("/sys/fs/cgroup"), "memory.max") if v2 else (Path("/sys/fs/cgroup/memory"),
                                                                              "memory.limit_in_bytes")
        self.path: Path | None = base / f"gnnjet_scale_{os.getpid()}"
        try:
            self.path.mkdir()
            (self.path / limit_file).write_text(str(limit_mb * 1024 * 1024))
        except OSError:  # not root, read-only cgroup file system, or no memory controller
            if self.path.exists():
                self.path.rmdir()
            self.path = None

    def remove(self) -> None:
        if self.path is not None:
            self.path.rmdir()


def evict(directory: Path) -> None:
    """Drop `directory`'s files from the page cache (clean pages of files no process maps)."""
    os.sync()
    for path in directory.rglob("*"):
        if path.is_file():
            fd = os.open(path, os.O_RDONLY)
            try:
                os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
            finally:
                os.close(fd)


def warm(directory: Path) -> None:
    for path in directory.rglob("*.npy"):
        with open(path, "rb") as f:
            while f.read(1 << 24):
                pass


def loader_rate(run: Path, block: int | None, seconds: float, cgroup: Path | None) -> float:
    """jets/s of the training loader of `run` (a child process, in `cgroup` if given)."""
    command = [sys.executable, __file__, "--loader-child", str(run), str(block or 0), str(seconds),
               str(cgroup or "")]
    result = subprocess.run(command, capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(ROOT)})
    if result.returncode:
        raise RuntimeError(result.stderr[-3000:])
    return float(result.stdout.split()[-1])


def loader_child(run: str, block: str, seconds: str, cgroup: str) -> None:
    if cgroup:
        (Path(cgroup) / "cgroup.procs").write_text(str(os.getpid()))
    import torch

    from gnnjet.data.dataset import JetDataset
    from gnnjet.data.loader import JetLoader
    from gnnjet.data.preprocess import Preprocessing
    from gnnjet.training.data import fraction_split

    torch.set_num_threads(1)
    config = load_config(Path(run) / "config.yaml")
    spec = DataSpec.from_config(config)
    preprocessing = Preprocessing.load(Path(run) / "preprocess.json", spec)
    dataset = JetDataset.from_files(spec, config["data"]["train"], preprocessing,
                                    cache_root=config["data"]["cache_dir"], progress=False)
    train_index, _ = fraction_split(len(dataset), config["data"]["val_fraction"], config["training"]["seed"])
    loader = JetLoader(dataset, 512, shuffle=True, seed=1, indices=train_index, prefetch=0,
                       block_size=int(block) or None)
    start, jets = time.perf_counter(), 0
    for batch in loader:
        jets += batch.num_graphs
        if time.perf_counter() - start > float(seconds):
            break
    print(jets / (time.perf_counter() - start))


# ----------------------------------------------------------------------------- main
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--jets", type=int, nargs="+", default=[20_000, 200_000, 1_000_000])
    parser.add_argument("--fill-jets", type=int, default=200_000)
    parser.add_argument("--workers", type=int, default=2, help="worker processes compared with 1")
    parser.add_argument("--repeats", type=int, default=7,
                        help="cache fills per worker count (one process's fill rate varies by +-25%% here)")
    parser.add_argument("--memory-limit-mb", type=int, default=1024)
    parser.add_argument("--block", type=int, default=16_384, help="jets per block for block streaming")
    parser.add_argument("--loader-seconds", type=float, default=60.0)
    parser.add_argument("--work", default=None, help="working directory (default: a temporary one, removed)")
    parser.add_argument("--loader-child", nargs=4, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.loader_child:
        return loader_child(*args.loader_child)
    work = Path(args.work) if args.work else Path(tempfile.mkdtemp(prefix="gnnjet_scale_"))
    try:
        run_all(args, work)
    finally:
        if not args.work:
            shutil.rmtree(work, ignore_errors=True)


def run_all(args: argparse.Namespace, work: Path) -> None:
    fill_files = write_sample(work / f"sample_{args.fill_jets}", args.fill_jets)
    rates, digests = fill_rates(fill_files, [1, args.workers], args.repeats, work)
    fill = {w: statistics.median(r) for w, r in rates.items()}
    identical = len(set(digests.values())) == 1
    print(f"cache fill, {args.fill_jets} jets ({CONFIG.name}), medians of {args.repeats}:")
    for w, values in rates.items():
        print(f"  {w} worker(s): {fill[w]:>9,.0f} jets/s  ({', '.join(f'{v:,.0f}' for v in values)})")
    print(f"  scaling {args.workers} vs 1: {fill[args.workers] / fill[1]:.2f}; stores identical: {identical}")

    memory = [memory_at(n, work) for n in sorted(args.jets)]
    print("training memory (bin/train.py, DeepSets small, 1 epoch, batch 512):")
    print(f"  {'jets':>9} {'store MB':>9} {'peak private RSS MB':>20} {'peak total RSS MB':>18} {'wall s':>7}")
    for m in memory:
        print(f"  {m['jets']:>9,} {m['store_mb']:>9,.0f} {m['anon_mb']:>20,.0f} {m['total_mb']:>18,.0f} "
              f"{m['seconds']:>7.0f}")

    largest = memory[-1]
    cache = work / "cache"
    warm(cache)
    in_memory = loader_rate(largest["run"], None, args.loader_seconds, None)
    cgroup = MemoryCgroup(args.memory_limit_mb)
    try:
        evict(cache)
        shuffled = loader_rate(largest["run"], None, args.loader_seconds, cgroup.path)
        evict(cache)
        streamed = loader_rate(largest["run"], args.block, args.loader_seconds, cgroup.path)
    finally:
        cgroup.remove()
    limit = f"{args.memory_limit_mb} MB memory cgroup" if cgroup.path else "no cgroup available: evicted only"
    print(f"loader on the {largest['jets']:,}-jet store ({largest['store_mb']:,.0f} MB), batch 512, 1 thread:")
    print(f"  in memory (page cache warm), jet shuffle:        {in_memory:>9,.0f} jets/s")
    print(f"  cold, {limit}, jet shuffle:  {shuffled:>9,.0f} jets/s")
    print(f"  cold, {limit}, block shuffle ({args.block} jets): {streamed:>9,.0f} jets/s")

    by_jets = {m["jets"]: m for m in memory}
    print(json.dumps({
        "cache_fill_jets_per_s_1_worker": round(fill[1]),
        f"cache_fill_jets_per_s_{args.workers}_workers": round(fill[args.workers]),
        f"cache_fill_scaling_{args.workers}_workers": round(fill[args.workers] / fill[1], 2),
        "stores_identical": identical,
        **{f"rss_mb_at_{_short(n)}": round(m["anon_mb"]) for n, m in by_jets.items()},
        **{f"total_rss_mb_at_{_short(n)}": round(m["total_mb"]) for n, m in by_jets.items()},
        "loader_jets_per_s_in_memory": round(in_memory), "loader_jets_per_s_cold_shuffled": round(shuffled),
        "loader_jets_per_s_cold_blocks": round(streamed),
        "memory_limit_mb": args.memory_limit_mb if cgroup.path else None,
    }))


def _short(n: int) -> str:
    return f"{n // 1_000_000}m" if n % 1_000_000 == 0 else f"{n // 1000}k"


if __name__ == "__main__":
    main()
