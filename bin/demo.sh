#!/usr/bin/env bash
# The main job, end to end on CPU in a few minutes (run by `make demo`):
#   1. generate fresh, independent test samples with the gnnjet generator (Pythia 8 + FastJet + detector)
#   2. draw the training data (committed sample in data/) as gnnjet sees it
#   3. jet energy correction: train ParticleNet-Lite and DeepSets, predict the test sample, fit the
#      standard correction, compare all three on response/resolution/flavour figures
#   4. quark/gluon tagging: train ParticleNet-Lite and DeepSets, predict, ROC curves
# Usage: bin/demo.sh [OUTPUT_DIR]   (DEMO_EPOCHS=N to train longer)
set -euo pipefail
OUT="${1:-demo_output}"
EPOCHS="${DEMO_EPOCHS:-4}"
HERE="$(cd "$(dirname "$0")/.." && pwd)"
PY="${PYTHON:-$HERE/.venv/bin/python}"
BIN="$HERE/bin"
export GNNJET_CACHE="${GNNJET_CACHE:-$OUT/cache}"
mkdir -p "$OUT"
step() { printf '\n=== %s\n' "$*"; }
# train_and_predict TASK FAMILY: train on data/TASK, predict the generated TASK test sample
train_and_predict() {
    "$PY" "$BIN/train.py" -c "$HERE/configs/$1_$2.yaml" -i "$HERE/data/$1/*.root" -o "$OUT/runs/$1_$2" --epochs "$EPOCHS" --overwrite
    "$PY" "$BIN/predict.py" -m "$OUT/runs/$1_$2" -i "$OUT/test/$1/*.root" -o "$OUT/runs/$1_$2/pred.root" --overwrite
}

step "1/4 generating independent test samples"
"$PY" "$BIN/generate.py" --process jec -n 2000 -o "$OUT/test/jec" --seed 101 --workers 2 --shard-size 1000 --overwrite
"$PY" "$BIN/generate.py" --process qg -n 400 -o "$OUT/test/qg" --seed 102 --workers 2 --shard-size 200 --overwrite

step "2/4 the training data as gnnjet sees it"
"$PY" "$BIN/visualize_data.py" -i "$HERE/data/jec/*.root" -c "$HERE/configs/jec_particlenet.yaml" -o "$OUT/figures/data_jec"
"$PY" "$BIN/visualize_data.py" -i "$HERE/data/qg/*.root" -c "$HERE/configs/qg_particlenet.yaml" -o "$OUT/figures/data_qg"

step "3/4 jet energy correction"
train_and_predict jec particlenet
train_and_predict jec deepsets
"$PY" "$BIN/standard_correction.py" -t "$HERE/data/jec/*.root" -i "$OUT/test/jec/*.root" -o "$OUT/runs/jec_standard" --overwrite
"$PY" "$BIN/plot.py" -i "$OUT/runs/jec_particlenet, $OUT/runs/jec_deepsets, $OUT/runs/jec_standard" \
    -n "ParticleNet-Lite, DeepSets, Standard" -o "$OUT/figures/jec"

step "4/4 quark/gluon tagging"
train_and_predict qg particlenet
train_and_predict qg deepsets
"$PY" "$BIN/plot.py" -i "$OUT/runs/qg_particlenet, $OUT/runs/qg_deepsets" -n "ParticleNet-Lite, DeepSets" -o "$OUT/figures/qg"

step "done"
echo "figures: $OUT/figures/{data_jec,data_qg,jec,qg}   tables: $OUT/figures/jec/jec_summary.md, $OUT/figures/qg/classification_metrics.md"
cat "$OUT/figures/jec/jec_summary.md" "$OUT/figures/qg/classification_metrics.md"
