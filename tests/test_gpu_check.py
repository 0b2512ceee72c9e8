"""benchmarks/gpu_check.py runs on the CPU (--device cpu --quick) in make test, so that the one command a lent GPU
runs cannot rot: every check passes or says why it skipped, the files it writes hold the table, and a failing check
fails the command."""

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from tests.training.test_trainer import ENV

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "gpu_check.py"


def run(*args):
    return subprocess.run([sys.executable, str(SCRIPT), *map(str, args)], capture_output=True, text=True, env=ENV,
                          timeout=600)


def test_the_quick_cpu_run_passes_every_check_it_can(tmp_path):
    result = run("--device", "cpu", "--quick", "--out", tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    record = json.loads((tmp_path / "gpu_check.json").read_text())
    statuses = {name: check["status"] for name, check in record["checks"].items()}
    assert statuses == {"environment": "pass", "kill_and_resume": "pass", "mixed_precision": "pass",
                        "compile": "skip", "throughput": "pass", "predict": "pass", "onnxruntime": "pass"}
    killed = record["checks"]["kill_and_resume"]
    assert killed["epochs"] == 3 and 1 <= killed["killed_after_epochs"] < 3  # killed mid-run, resumed to the end
    assert record["checks"]["throughput"]["deepsets_train_jets_per_s"] > 0
    assert record["checks"]["predict"]["jets"] == 1500
    table = (tmp_path / "gpu_check.md").read_text()
    assert "| kill_and_resume | pass |" in table and "| compile | skip |" in table
    assert json.loads(result.stdout.strip().splitlines()[-1]) == {"passed": 6, "failed": [], "skipped": ["compile"]}


def test_the_plan_fits_nine_minutes():
    plan = run("--dry-run")
    assert plan.returncode == 0
    total = int(plan.stdout.strip().splitlines()[-1].split()[1])
    assert total <= 9 * 60 and "throughput" in plan.stdout


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without a GPU")
def test_a_failing_check_fails_the_command(tmp_path):
    failed = run("--device", "cuda", "--only", "environment", "--out", tmp_path)
    assert failed.returncode == 1 and "no CUDA device visible" in failed.stdout
    assert json.loads((tmp_path / "gpu_check.json").read_text())["checks"]["environment"]["status"] == "fail"
    again = run("--device", "cuda", "--only", "environment", "--out", tmp_path)
    assert again.returncode == 1 and "gpu_check.json already exists: pass --overwrite" in again.stderr
