#!/usr/bin/env bash
# Train and predict every config of a folder:
#   run_configs.sh -c CONFIG_DIR -o RESULTS [-i DATA] [-g "0 1"] [-e EPOCHS] [-f]
# For each CONFIG_DIR/NAME.yaml: RESULTS/NAME/ is the run directory and RESULTS/NAME/pred.root the
# predictions on DATA (default: each config's own data.train; use bin/predict.py for a test set).
# A finished run (RESULTS/NAME/pred.root) is skipped, an unfinished one resumed; -f retrains everything.
set -euo pipefail
usage() { sed -n '2,6p' "$0" | sed 's/^# \{0,1\}//'; exit "${1:-1}"; }
CONFIGS="" DATA="" RESULTS="" GPUS="" EPOCHS="" FORCE=""
while getopts "c:i:o:g:e:fh" opt; do
    case "$opt" in
        c) CONFIGS="$OPTARG" ;; i) DATA="$OPTARG" ;; o) RESULTS="$OPTARG" ;;
        g) GPUS="$OPTARG" ;; e) EPOCHS="$OPTARG" ;; f) FORCE=1 ;; h) usage 0 ;; *) usage ;;
    esac
done
[ -n "$CONFIGS" ] && [ -n "$RESULTS" ] || usage
HERE="$(cd "$(dirname "$0")" && pwd)"
PY="${PYTHON:-python}"
shopt -s nullglob
configs=("$CONFIGS"/*.yaml)
[ ${#configs[@]} -gt 0 ] || { echo "no .yaml configs in $CONFIGS" >&2; exit 1; }
failed=()
for config in "${configs[@]}"; do
    name="$(basename "$config" .yaml)"
    echo "=== $name"
    inputs=("$DATA")
    if [ -z "$DATA" ]; then
        read -r -a inputs <<< "$("$PY" -c 'import sys; from gnnjet.config import load_config; print(" ".join(load_config(sys.argv[1])["data"]["train"]))' "$config")"
    fi
    args=(-c "$config" -i "${inputs[@]}" -o "$RESULTS/$name")
    if [ -z "$FORCE" ] && [ -f "$RESULTS/$name/pred.root" ]; then
        echo "=== $name already done (-f to retrain)"; continue
    fi
    if [ -n "$FORCE" ]; then args+=(--overwrite)
    # --trust-code: these runs are this script's own, trained from your configs, so users' code they name
    # (model.name: file.py:Class) is yours
    elif [ -f "$RESULTS/$name/last.pt" ]; then args=(-o "$RESULTS/$name" --resume --trust-code); fi
    [ -n "$GPUS" ] && read -r -a gpu_list <<< "$GPUS" && args+=(--gpus "${gpu_list[@]}")
    [ -n "$EPOCHS" ] && args+=(--epochs "$EPOCHS")
    if "$PY" "$HERE/bin/train.py" "${args[@]}" && \
       "$PY" "$HERE/bin/predict.py" -m "$RESULTS/$name" -i "${inputs[@]}" -o "$RESULTS/$name/pred.root" --overwrite \
           --trust-code; then
        echo "=== $name done"
    else
        failed+=("$name")
    fi
done
if [ ${#failed[@]} -gt 0 ]; then echo "failed: ${failed[*]}" >&2; exit 1; fi
