#!/usr/bin/env bash
# Train and predict every config of a folder:
#   run_configs.sh -c CONFIG_DIR -i DATA -o RESULTS [-g "0 1"] [-e EPOCHS]
# For each CONFIG_DIR/NAME.yaml: RESULTS/NAME/ is the run directory and RESULTS/NAME/pred.root the
# predictions on DATA (the training files; use bin/predict.py for a separate test set).
set -euo pipefail
usage() { sed -n '2,5p' "$0" | sed 's/^# \{0,1\}//'; exit "${1:-1}"; }
CONFIGS="" DATA="" RESULTS="" GPUS="" EPOCHS=""
while getopts "c:i:o:g:e:h" opt; do
    case "$opt" in
        c) CONFIGS="$OPTARG" ;; i) DATA="$OPTARG" ;; o) RESULTS="$OPTARG" ;;
        g) GPUS="$OPTARG" ;; e) EPOCHS="$OPTARG" ;; h) usage 0 ;; *) usage ;;
    esac
done
[ -n "$CONFIGS" ] && [ -n "$DATA" ] && [ -n "$RESULTS" ] || usage
HERE="$(cd "$(dirname "$0")" && pwd)"
PY="${PYTHON:-python}"
shopt -s nullglob
configs=("$CONFIGS"/*.yaml)
[ ${#configs[@]} -gt 0 ] || { echo "no .yaml configs in $CONFIGS" >&2; exit 1; }
failed=()
for config in "${configs[@]}"; do
    name="$(basename "$config" .yaml)"
    echo "=== $name"
    args=(-c "$config" -i "$DATA" -o "$RESULTS/$name")
    [ -n "$GPUS" ] && read -r -a gpu_list <<< "$GPUS" && args+=(--gpus "${gpu_list[@]}")
    [ -n "$EPOCHS" ] && args+=(--epochs "$EPOCHS")
    if "$PY" "$HERE/bin/train.py" "${args[@]}" && \
       "$PY" "$HERE/bin/predict.py" -m "$RESULTS/$name" -i "$DATA" -o "$RESULTS/$name/pred.root"; then
        echo "=== $name done"
    else
        failed+=("$name")
    fi
done
if [ ${#failed[@]} -gt 0 ]; then echo "failed: ${failed[*]}" >&2; exit 1; fi
