#!/usr/bin/env bash
# Start the gnnjet image with all GPUs (when the host has them), as the current user, with this repository
# mounted at /workspace and, with -d, a data directory mounted read-only at /data. Arguments after the options are
# run inside the container (bin/ and run_configs.sh are on its PATH) instead of a shell, e.g.
#   ./run_docker.sh -d /eos/jets train.py -c configs/jec_particlenet.yaml -i "/data/*.root" -o runs/jec --gpus 0 1
#   ./run_docker.sh run_configs.sh -c configs -o results -g "0 1"
# GNNJET_IMAGE chooses the image (default gnnjet:latest).
set -euo pipefail
IMAGE="${GNNJET_IMAGE:-gnnjet:latest}"
HERE="$(cd "$(dirname "$0")" && pwd)"
MOUNTS=(-v "$HERE:/workspace")
while getopts "d:h" opt; do
    case "$opt" in
        d) MOUNTS+=(-v "$(cd "$OPTARG" && pwd):/data:ro") ;;
        h) sed -n '2,8p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) exit 1 ;;
    esac
done
shift $((OPTIND - 1))
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
    "${MOUNTS[@]}" -w /workspace "$IMAGE" "${@:-bash}"
