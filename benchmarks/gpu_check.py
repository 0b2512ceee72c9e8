#!/usr/bin/env python
"""Every GPU claim of the README, checked in one command: training through bin/train.py on the GPU (DDP with NCCL
and SyncBatchNorm when there are two GPUs or more), killed and resumed; mixed precision in bf16 and fp16 against
fp32; torch.compile; training and forward throughput of every family and of weaver-core's ParticleNet / ParT
(benchmarks/models.py) with the peak GPU memory of each; bin/predict.py jets/s on the device; the ONNX export
through ONNX Runtime's CUDA provider. Prints a table and writes gpu_check.json and gpu_check.md to --out.

    python benchmarks/gpu_check.py --out gpu_check                 # on a GPU machine: at most ~9 minutes
    python benchmarks/gpu_check.py --device cpu --quick --out DIR  # the same code on the CPU, in under a minute
    python benchmarks/gpu_check.py --dry-run                       # the checks and their time budgets
    python benchmarks/gpu_check.py --learning-curve ...            # + benchmarks/efficiency.py at 5k and 20k jets

Each check runs the project's own programs as a user would (bin/train.py, bin/predict.py, bin/export.py,
benchmarks/models.py in subprocesses, on the committed q/g sample), within its own time budget; a check that fails
is reported and the others still run; the exit code is 1 if any failed. `--device cpu --quick` shrinks the work
(tiny models, few jets) and is part of `make test` (tests/test_gpu_check.py), so the script cannot rot between the
rare days a GPU is lent. Whoever runs it on a GPU records the figures in benchmarks/RESULTS.md with the device named.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import os
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = str(ROOT / "data" / "qg" / "*.root")
ONE_FILE = str(ROOT / "data" / "qg" / "qg_1_0000.root")
AUC_TOLERANCE = 0.03  # |AUC(amp) - AUC(fp32)| allowed for the same seed, data and epochs


@dataclass
class Outcome:
    """What a check found: status pass / fail / skip, one line saying why, and its figures."""

    status: str
    detail: str
    figures: dict[str, float | str] = field(default_factory=dict)


@dataclass
class Settings:
    device: str  # "cuda" or "cpu"
    quick: bool
    work: Path  # scratch directory of this run
    gpus: int  # GPUs visible (0 on the CPU)

    @property
    def on_gpu(self) -> bool:
        return self.device == "cuda"


@dataclass(frozen=True)
class Check:
    name: str
    what: str
    run: Callable[[Settings], Outcome]
    budget_s: int  # the seconds it should take on one H100/H200; the checks together at most 9 minutes


def program_environment(settings: Settings) -> dict[str, str]:
    """The environment of the programs a check runs: the repository importable, the cache in the run's scratch
    directory (a fresh one per run, which the user's own cache never sees)."""
    return {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""),
            "GNNJET_CACHE": str(settings.work / "cache")}


def run_program(settings: Settings, args: list[str], timeout: float) -> subprocess.CompletedProcess:
    """A program of the project (bin/..., benchmarks/...) with this interpreter, from the repository's root."""
    return subprocess.run([sys.executable, *args], cwd=ROOT, env=program_environment(settings), capture_output=True,
                          text=True, timeout=timeout)


def last_line(text: str) -> str:
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return lines[-1][:300] if lines else ""


def train_options(settings: Settings, model: str, epochs: int) -> list[str]:
    """bin/train.py options of a small q/g training: the committed sample (one file with --quick), `model` as
    `--set model...` overrides, the device's GPUs."""
    options = ["-c", str(ROOT / "configs" / "qg_particlenet.yaml"), "-i", ONE_FILE if settings.quick else SAMPLE,
               "--epochs", str(epochs), "--no-test", "--set", f"model={model}", "--set", "training.batch_size=128",
               "--set", "training.early_stopping_patience=null", "--set", "training.warmup_epochs=0",
               "--set", "training.monitor=last"]
    if settings.quick:
        options += ["--set", "data.fraction=0.3"]
    if settings.on_gpu:
        options += ["--gpus", *[str(i) for i in range(min(settings.gpus, 2))]]
    return options


SMALL_MODEL = "{name: deepsets, preset: small}"
GPU_MODEL = "{name: particlenet, preset: lite}"


def metrics(run: Path) -> list[dict[str, str]]:
    with open(run / "metrics.csv") as file:
        return list(csv.DictReader(file))


def check_environment(settings: Settings) -> Outcome:
    import torch

    figures: dict[str, float | str] = {"torch": torch.__version__, "cuda": str(torch.version.cuda),
                                       "gpus": settings.gpus}
    if settings.on_gpu:
        if not torch.cuda.is_available():
            return Outcome("fail", "no CUDA device visible to torch", figures)
        figures |= {"device_name": torch.cuda.get_device_name(0), "bf16": str(torch.cuda.is_bf16_supported())}
    try:
        import onnxruntime

        figures["onnxruntime_providers"] = ",".join(onnxruntime.get_available_providers())
    except ImportError:
        figures["onnxruntime_providers"] = "onnxruntime missing"
    name = figures.get("device_name", "cpu")
    return Outcome("pass", f"{name}, torch {torch.__version__}, {settings.gpus} GPU(s)", figures)


def check_kill_and_resume(settings: Settings) -> Outcome:
    """bin/train.py killed (SIGKILL, its whole process group) once its first epoch is on disk, then --resume: every
    epoch appears once in metrics.csv, in order, and train.log says where it resumed."""
    run = settings.work / "killed"
    epochs = 3 if settings.quick else 6
    model = SMALL_MODEL if settings.quick else GPU_MODEL
    process = subprocess.Popen([sys.executable, "bin/train.py", *train_options(settings, model, 100), "-o", str(run)],
                               cwd=ROOT, env=program_environment(settings), stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE, text=True, start_new_session=True)
    deadline = time.monotonic() + 240
    # metrics.csv is written (atomically) just after last.pt: once it exists, the first epoch is complete on disk
    while not (run / "metrics.csv").exists() and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    if process.poll() is not None:
        return Outcome("fail", f"training ended before its first checkpoint: {last_line(process.stderr.read())}")
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    killed_at = len(metrics(run))
    resumed = run_program(settings, ["bin/train.py", "--resume", "-o", str(run), "--epochs", str(epochs)], timeout=300)
    if resumed.returncode != 0:
        return Outcome("fail", f"--resume failed: {last_line(resumed.stderr)}")
    rows = metrics(run)
    seen = [int(row["epoch"]) for row in rows]
    log = (run / "train.log").read_text()
    figures = {"killed_after_epochs": killed_at, "epochs": len(rows), "final_val_auc": float(rows[-1]["val_auc"])}
    if seen != list(range(epochs)) or "resumed from epoch" not in log:
        return Outcome("fail", f"epochs after the resume: {seen}, expected 0..{epochs - 1}", figures)
    path = f"DDP on {min(settings.gpus, 2)} GPUs (NCCL, SyncBatchNorm)" if settings.gpus > 1 else \
        "one process on GPU 0" if settings.on_gpu else "the CPU"
    return Outcome("pass", f"killed after {killed_at} epoch(s), resumed to {len(rows)} ({path})", figures)


def check_mixed_precision(settings: Settings) -> Outcome:
    """The same training in fp32, bf16 and fp16 (training.amp): finite losses and a validation AUC within
    AUC_TOLERANCE of fp32's."""
    epochs = 1 if settings.quick else 4
    model = SMALL_MODEL if settings.quick else GPU_MODEL
    aucs: dict[str, float] = {}
    for precision in ("false", "bf16", "fp16"):
        run = settings.work / f"amp_{precision}"
        options = [*train_options(settings, model, epochs), "-o", str(run), "--set", f"training.amp={precision}"]
        result = run_program(settings, ["bin/train.py", *options], timeout=300)
        if result.returncode != 0:
            return Outcome("fail", f"amp {precision}: {last_line(result.stderr)}")
        rows = metrics(run)
        losses = [float(row["train_loss"]) for row in rows]
        if not all(math.isfinite(value) for value in losses):
            return Outcome("fail", f"amp {precision}: training losses {losses}")
        aucs["fp32" if precision == "false" else precision] = float(rows[-1]["val_auc"])
    figures = {f"val_auc_{name}": round(value, 4) for name, value in aucs.items()}
    worst = max(abs(aucs[p] - aucs["fp32"]) for p in ("bf16", "fp16"))
    note = "" if settings.on_gpu else " (the CPU ignores training.amp: the code path only)"
    status = "pass" if worst <= AUC_TOLERANCE else "fail"
    return Outcome(status, f"val AUC fp32 {aucs['fp32']:.4f}, bf16 {aucs['bf16']:.4f}, fp16 {aucs['fp16']:.4f}; "
                           f"largest difference {worst:.4f} (allowed {AUC_TOLERANCE}){note}", figures)


def check_compile(settings: Settings) -> Outcome:
    if settings.quick and not settings.on_gpu:
        return Outcome("skip", "torch.compile on the CPU builds C++ for minutes: not in --quick")
    run = settings.work / "compiled"
    result = run_program(settings, ["bin/train.py", *train_options(settings, GPU_MODEL, 2), "-o", str(run), "--set",
                          "training.compile=true"], timeout=400)
    if result.returncode != 0:
        return Outcome("fail", f"training.compile: {last_line(result.stderr)}")
    rows = metrics(run)
    return Outcome("pass", f"2 epochs compiled, {float(rows[-1]['jets_per_s']):.0f} jets/s in the last",
                   {"compiled_train_jets_per_s": float(rows[-1]["jets_per_s"])})


def check_throughput(settings: Settings) -> Outcome:
    """benchmarks/models.py: every family and weaver-core's ParticleNet / ParT, eager / bf16 / compile on the GPU
    (batch 512), with the peak GPU memory of each; with --quick one small family on the CPU."""
    if settings.quick:
        args = ["--families", "deepsets", "--peers", "", "--batch-size", "32", "--batches", "1", "--steps", "1"]
    else:
        args = ["--device", "cuda", "--steps", "5"]
    result = run_program(settings, ["benchmarks/models.py", *args], timeout=500)
    if result.returncode != 0:
        return Outcome("fail", f"benchmarks/models.py: {last_line(result.stderr)}")
    out = json.loads(result.stdout.strip().splitlines()[-1])
    figures: dict[str, float | str] = {}
    for name, values in out.items():
        if isinstance(values, dict) and "train_jets_per_s" in values:
            figures |= {f"{name}_{key}": value for key, value in values.items() if key != "params"}
    failed = out.get("failures") or {}
    detail = f"{sum(1 for v in out.values() if isinstance(v, dict) and 'params' in v)} models measured"
    if failed:
        detail += f"; failed: {', '.join(failed)}"
    return Outcome("fail" if failed else "pass", detail, figures)


def check_predict(settings: Settings) -> Outcome:
    """bin/predict.py of the kill-and-resume run on the sample, twice (the second reads the cache; --quick: once, on
    the training's cache): jets/s."""
    run = settings.work / "killed"
    if not (run / "best.pt").exists():
        return Outcome("skip", "needs the run of kill_and_resume")
    seconds, jets = [], 0
    for attempt in range(1 if settings.quick else 2):
        output = settings.work / f"pred_{attempt}.root"
        start = time.perf_counter()
        inputs = ONE_FILE if settings.quick else SAMPLE
        result = run_program(settings, ["bin/predict.py", "-m", str(run), "-i", inputs, "-o", str(output), "--device",
                                        settings.device, "--overwrite"], timeout=200)
        seconds.append(time.perf_counter() - start)
        if result.returncode != 0:
            return Outcome("fail", f"bin/predict.py: {last_line(result.stderr)}")
        import uproot

        jets = uproot.open(output)["Jets"].num_entries
    rate = jets / seconds[-1]
    return Outcome("pass", f"{jets} jets in {seconds[-1]:.1f} s with the cache filled ({rate:.0f} jets/s, process "
                           "start included)", {"predict_jets_per_s": round(rate, 1), "jets": jets})


def check_onnxruntime(settings: Settings) -> Outcome:
    """The run exported in CMSSW's convention and checked against PyTorch through ONNX Runtime (its CUDA provider
    on the GPU when onnxruntime-gpu is installed)."""
    run = settings.work / "killed"
    if not (run / "best.pt").exists():
        return Outcome("skip", "needs the run of kill_and_resume")
    try:
        import onnxruntime
    except ImportError:
        return Outcome("skip", "onnxruntime is not installed")
    providers = onnxruntime.get_available_providers()
    result = run_program(settings, ["bin/export.py", "-m", str(run), "-o", str(settings.work / "cmssw" / "model.onnx"),
                          "--format", "cmssw", "--check", "-i", ONE_FILE, "--overwrite"], timeout=300)
    if result.returncode != 0:
        return Outcome("fail", f"bin/export.py --check: {last_line(result.stderr)}")
    cuda = "CUDAExecutionProvider" in providers
    figures: dict[str, float | str] = {"providers": ",".join(providers)}
    if cuda:
        import numpy as np

        session = onnxruntime.InferenceSession(str(settings.work / "cmssw" / "model.onnx"),
                                               providers=["CUDAExecutionProvider", "CPUExecutionProvider"])
        feeds = {i.name: np.ones([1 if d is None or isinstance(d, str) else d for d in i.shape], np.float32)
                 for i in session.get_inputs()}
        start, calls = time.perf_counter(), 200
        for _ in range(calls):
            session.run(None, feeds)
        figures["cuda_provider_calls_per_s"] = round(calls / (time.perf_counter() - start), 1)
    where = "CUDA provider timed" if cuda else "CPU provider only (no onnxruntime-gpu here)"
    return Outcome("pass", f"export matches PyTorch ({last_line(result.stdout)}); {where}", figures)


def check_learning_curve(settings: Settings) -> Outcome:
    """benchmarks/efficiency.py's learning curve at 5k and 20k top jets (LorentzNet, L-GATr, ParticleNet-Lite, the
    transformer, DeepSets); it generates its samples, so it needs the generator's dependencies."""
    result = run_program(settings, ["benchmarks/efficiency.py", "--train-sizes", "5000,20000", "--out",
                          str(settings.work / "efficiency")], timeout=3000)
    if result.returncode != 0:
        return Outcome("fail", f"benchmarks/efficiency.py: {last_line(result.stderr)}")
    rows = json.loads(result.stdout.strip().splitlines()[-1])["rows"]
    return Outcome("pass", f"{len(rows)} rows (the table is printed above and written into RESULTS.md)",
                   {"rows": json.dumps(rows)})


CHECKS = [
    Check("environment", "torch, the device, bf16 support, ONNX Runtime's providers", check_environment, 10),
    Check("kill_and_resume", "bin/train.py on the GPU(s), SIGKILL after the first checkpoint, --resume",
          check_kill_and_resume, 90),
    Check("mixed_precision", "training.amp fp32 / bf16 / fp16: finite losses, AUC within 0.03", check_mixed_precision,
          110),
    Check("compile", "training.compile: true trains", check_compile, 60),
    Check("throughput", "benchmarks/models.py: jets/s and peak memory per family, eager / bf16 / compile",
          check_throughput, 170),
    Check("predict", "bin/predict.py jets/s on the device", check_predict, 40),
    Check("onnxruntime", "bin/export.py --format cmssw --check; ONNX Runtime's CUDA provider", check_onnxruntime, 50),
]
LEARNING_CURVE = Check("learning_curve", "benchmarks/efficiency.py at 5k and 20k jets (--learning-curve)",
                       check_learning_curve, 3000)


def markdown(settings: Settings, results: list[tuple[Check, Outcome, float]]) -> str:
    rows = [f"| {c.name} | {o.status} | {seconds:.0f} | {o.detail} |" for c, o, seconds in results]
    head = f"gpu_check on {settings.device}{' (--quick)' if settings.quick else ''}, {time.strftime('%Y-%m-%d')}"
    return "\n".join([head, "", "| check | status | seconds | detail |", "|---|---|---|---|", *rows, ""])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", choices=("cuda", "cpu"), default="cuda")
    parser.add_argument("--quick", action="store_true", help="tiny models and few jets (the CPU run of make test)")
    parser.add_argument("--out", default="gpu_check", help="directory of gpu_check.json and gpu_check.md")
    parser.add_argument("--only", help="comma-separated checks to run (default: all)")
    parser.add_argument("--learning-curve", action="store_true", help="add benchmarks/efficiency.py at 5k and 20k")
    parser.add_argument("--dry-run", action="store_true", help="list the checks and their budgets, run nothing")
    parser.add_argument("--overwrite", action="store_true", help="replace gpu_check.json / .md already in --out")
    args = parser.parse_args()
    checks = CHECKS + ([LEARNING_CURVE] if args.learning_curve else [])
    if args.only:
        unknown = set(args.only.split(",")) - {c.name for c in checks}
        if unknown:
            parser.error(f"--only: unknown check(s) {', '.join(sorted(unknown))}")
        checks = [c for c in checks if c.name in args.only.split(",")]
    if args.dry_run:
        for check in checks:
            print(f"{check.name:<16} {check.budget_s:>5} s  {check.what}")
        print(f"{'total':<16} {sum(c.budget_s for c in checks):>5} s on a GPU")
        return
    import torch

    from gnnjet.fileio import atomic_write_text, make_directory, refuse_to_clobber

    out = make_directory(args.out, "--out directory")
    for name in ("gpu_check.json", "gpu_check.md"):  # before any work: an earlier result is never lost
        refuse_to_clobber(out / name, overwrite=args.overwrite, what="gpu_check result")
    gpus = torch.cuda.device_count() if args.device == "cuda" else 0
    results: list[tuple[Check, Outcome, float]] = []
    with tempfile.TemporaryDirectory(prefix="gnnjet-gpu-check-") as work:
        settings = Settings(args.device, args.quick, Path(work), gpus)
        for check in checks:
            start = time.perf_counter()
            try:
                outcome = check.run(settings)
            except subprocess.TimeoutExpired as err:
                outcome = Outcome("fail", f"ran past {err.timeout:.0f} s")
            except Exception as err:  # noqa: BLE001 - a check that breaks is reported; the others still run
                outcome = Outcome("fail", f"{type(err).__name__}: {str(err).splitlines()[0][:200] if str(err) else ''}")
            seconds = time.perf_counter() - start
            if outcome.status == "pass" and not args.quick and seconds > check.budget_s:
                outcome.detail += f" (took {seconds:.0f} s, over its {check.budget_s} s budget)"
            results.append((check, outcome, seconds))
            print(f"{check.name:<16} {outcome.status:<5} {seconds:6.1f} s  {outcome.detail}", flush=True)
    text = markdown(settings, results)
    atomic_write_text(out / "gpu_check.md", text)
    record = {"device": args.device, "quick": args.quick, "checks": {c.name: {"status": o.status, "detail": o.detail,
                                                                            "seconds": round(s, 1), **o.figures}
                                                                   for c, o, s in results}}
    atomic_write_text(out / "gpu_check.json", json.dumps(record, indent=1))
    print("\n" + text)
    failed = [c.name for c, o, _ in results if o.status == "fail"]
    print(json.dumps({"passed": sum(o.status == "pass" for _, o, _ in results), "failed": failed,
                      "skipped": [c.name for c, o, _ in results if o.status == "skip"]}))
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    from gnnjet.cli import run

    sys.exit(run(main))
