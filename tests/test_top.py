"""The top-tagging configs train and predict on the shipped top sample; top jets are told from QCD jets; the
equivariant families run from bin/."""

from pathlib import Path

import numpy as np
import pytest
import uproot

from gnnjet.config import load_config, validate_config
from gnnjet.data.writer import write_jets
from gnnjet.evaluate.stats import auc
from gnnjet.predict import predict
from gnnjet.training.trainer import train
from tests.cli import run_bin

ROOT = Path(__file__).resolve().parents[1]


def test_top_deepsets_separates_top_from_qcd(tmp_path):
    jets = uproot.open(ROOT / "data/top/top_4_0000.root")["Jets"].arrays()
    write_jets(tmp_path / "train.root", {name: jets[name][:700] for name in jets.fields})
    write_jets(tmp_path / "test.root", {name: jets[name][700:] for name in jets.fields})
    config = load_config(ROOT / "configs/top_deepsets.yaml")
    config["data"].update(train=[str(tmp_path / "train.root")], cache_dir=str(tmp_path / "cache"))
    config["training"].update(epochs=4, batch_size=64, prefetch=0, warmup_epochs=0)
    train(validate_config(config), tmp_path / "run", progress=False)
    assert predict(tmp_path / "run", [str(tmp_path / "test.root")], tmp_path / "pred.root", progress=False) == 300
    prediction = uproot.open(tmp_path / "pred.root")["Jets"].arrays(library="np")
    # three-prong substructure and the top mass: even a 4-epoch DeepSets on 560 jets separates them well
    area = auc(prediction["score_label_top"], prediction["label_top"] == 1)
    assert area > 0.85, area
    assert np.mean(prediction["label_top"]) == np.mean(jets["label_top"][700:])


@pytest.mark.parametrize("family", ["lorentznet", "lgatr"])
def test_equivariant_configs_train_predict_and_refuse_onnx_from_bin(tmp_path, family):
    """configs/top_<family>.yaml through bin/train.py and bin/predict.py (200 jets, 1 epoch: it runs end to end and
    every test jet gets a probability); bin/predict.py --export-onnx is one error line giving the reason."""
    jets = uproot.open(ROOT / "data/top/top_4_0000.root")["Jets"].arrays()
    write_jets(tmp_path / "train.root", {name: jets[name][:200] for name in jets.fields})
    write_jets(tmp_path / "test.root", {name: jets[name][200:300] for name in jets.fields})
    run = tmp_path / "run"
    result = run_bin("train.py", "-c", ROOT / f"configs/top_{family}.yaml", "-o", run, "-i", tmp_path / "train.root",
                     "--epochs", "1", "--set", f"data.cache_dir={tmp_path / 'cache'}",
                     "--set", "training.batch_size=50")
    assert result.returncode == 0, result.stderr
    result = run_bin("predict.py", "-m", run, "-i", tmp_path / "test.root", "-o", tmp_path / "pred.root")
    assert result.returncode == 0, result.stderr
    scores = uproot.open(tmp_path / "pred.root")["Jets"]["score_label_top"].array(library="np")
    assert len(scores) == 100 and np.isfinite(scores).all() and ((scores > 0) & (scores < 1)).all()
    result = run_bin("predict.py", "-m", run, "--export-onnx", tmp_path / "model.onnx")
    assert result.returncode == 1 and "cannot be exported to ONNX" in result.stderr, result.stderr
    assert not (tmp_path / "model.onnx").exists()
