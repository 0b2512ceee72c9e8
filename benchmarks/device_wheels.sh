#!/usr/bin/env bash
# Wheels of gnnjet's runtime packages that the lent GPU machines' image lacks (it has Python 3.12, PyTorch with CUDA,
# torch-geometric, ONNX, ONNX Runtime, h5py, pyarrow, matplotlib, tensorboard, ...; nothing can be downloaded there),
# for Python 3.12 on x86-64, into .whl/ (ignored by git; about 30 MB). The versions are this machine's .venv's, the
# ones the tests pass with. Then, on the device (benchmarks/RESULTS.md, "GPU check", has the whole command):
#   python3 -m pip install -q --no-index --no-deps --target /tmp/site .whl/*.whl && export PYTHONPATH=/tmp/site:$PWD
#   python3 benchmarks/gpu_check.py --out "$OUT"
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-.venv/bin/python}
packages=(awkward awkward-cpp uproot cramjam mplhep mplhep-data uhi particle hepunits vector pytorch_optimizer lgatr
          weaver-core)
pinned=()
for name in "${packages[@]}"; do
    version=$("$PY" -m pip show "$name" 2>/dev/null | sed -n 's/^Version: //p')
    [ -n "$version" ] || { echo "$name is not installed in $PY's environment: run make install first" >&2; exit 1; }
    pinned+=("$name==$version")
done
"$PY" -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
    --platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64 --platform manylinux_2_17_x86_64 \
    --platform manylinux2014_x86_64 --platform manylinux1_x86_64 -d .whl "${pinned[@]}"
du -sh .whl
