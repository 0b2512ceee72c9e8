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

step "1/4 generating independent test samples"
"$PY" "$BIN/generate.py" --process jec -n 2000 -o "$OUT/test/jec" --seed 101 --workers 2 --shard-size 1000
"$PY" "$BIN/generate.py" --process qg -n 400 -o "$OUT/test/qg" --seed 102 --workers 2 --shard-size 200

step "2/4 the training data as gnnjet sees it"
"$PY" "$BIN/visualize_data.py" -i "$HERE/data/jec/*.root" -c "$HERE/configs/jec_particlenet.yaml" -o "$OUT/figures/data_jec"
"$PY" "$BIN/visualize_data.py" -i "$HERE/data/qg/*.root" -c "$HERE/configs/qg_particlenet.yaml" -o "$OUT/figures/data_qg"

step "3/4 jet energy correction"
for family in particlenet deepsets; do
    "$PY" "$BIN/train.py" -c "$HERE/configs/jec_$family.yaml" -i "$HERE/data/jec/*.root" -o "$OUT/runs/jec_$family" --epochs "$EPOCHS"
    "$PY" "$BIN/predict.py" -m "$OUT/runs/jec_$family" -i "$OUT/test/jec/*.root" -o "$OUT/runs/jec_$family/pred.root"
done
"$PY" "$BIN/standard_correction.py" -t "$HERE/data/jec/*.root" -i "$OUT/test/jec/*.root" -o "$OUT/runs/jec_standard"
"$PY" "$BIN/plot.py" -i "$OUT/runs/jec_particlenet, $OUT/runs/jec_deepsets, $OUT/runs/jec_standard" \
    -n "ParticleNet-Lite, DeepSets, Standard" -o "$OUT/figures/jec"

step "4/4 quark/gluon tagging"
for family in particlenet deepsets; do
    "$PY" "$BIN/train.py" -c "$HERE/configs/qg_$family.yaml" -i "$HERE/data/qg/*.root" -o "$OUT/runs/qg_$family" --epochs "$EPOCHS"
    "$PY" "$BIN/predict.py" -m "$OUT/runs/qg_$family" -i "$OUT/test/qg/*.root" -o "$OUT/runs/qg_$family/pred.root"
done
"$PY" "$BIN/plot.py" -i "$OUT/runs/qg_particlenet, $OUT/runs/qg_deepsets" -n "ParticleNet-Lite, DeepSets" -o "$OUT/figures/qg"

step "done"
echo "figures: $OUT/figures/{data_jec,data_qg,jec,qg}   tables: $OUT/figures/jec/jec_summary.md, $OUT/figures/qg/classification_metrics.md"
cat "$OUT/figures/jec/jec_summary.md" "$OUT/figures/qg/classification_metrics.md"
