#!/usr/bin/env bash
# Start the gnnjet image interactively with all GPUs, as the current user, with this repository
# mounted at /workspace. Extra arguments are run inside the container instead of a shell, e.g.
#   ./run_docker.sh train.py -c configs/qg_particlenet.yaml -o runs/qg_pn --gpus 0 1
set -euo pipefail
IMAGE="${GNNJET_IMAGE:-gnnjet:latest}"
HERE="$(cd "$(dirname "$0")" && pwd)"
if ! docker image inspect "$IMAGE" >/dev/null 2>&1; then
    echo "image $IMAGE not found: build it with  docker build -t $IMAGE $HERE" >&2
    exit 1
fi
GPU_FLAGS=()
if command -v nvidia-smi >/dev/null 2>&1; then GPU_FLAGS=(--gpus all); fi
TTY_FLAGS=(-i)
if [ -t 0 ]; then TTY_FLAGS=(-it); fi
exec docker run --rm "${TTY_FLAGS[@]}" "${GPU_FLAGS[@]}" --ipc=host \
    -u "$(id -u):$(id -g)" -e HOME=/tmp -e GNNJET_CACHE=/workspace/.gnnjet_cache \
    -v "$HERE:/workspace" -w /workspace "$IMAGE" "${@:-bash}"
