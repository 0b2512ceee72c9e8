"""Detector hits end to end: the shower configs train and predict on the shipped shower sample from bin/, the
compactness baseline and the Q-factor come out of bin/compactness.py and bin/plot.py, and hits refuse Lorentz pair
features."""

import json
from pathlib import Path

import numpy as np
import pytest
import uproot
import yaml

from gnnjet.config import apply_overrides, load_config
from gnnjet.data.writer import write_jets
from gnnjet.errors import ConfigError
from tests.cli import run_bin

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def split(tmp_path_factory):
    """300 training and 200 test events of the committed sample."""
    out = tmp_path_factory.mktemp("showers")
    events = uproot.open(ROOT / "data/shower/shower_5_0000.root")["Jets"].arrays()
    write_jets(out / "train.root", {name: events[name][:300] for name in events.fields})
    write_jets(out / "test.root", {name: events[name][300:500] for name in events.fields})
    return out


@pytest.mark.parametrize("family", ["particlenet", "transformer"])
def test_shower_configs_train_predict_and_compare_with_compactness(split, family):
    run = split / family
    result = run_bin("train.py", "-c", ROOT / f"configs/shower_{family}.yaml", "-o", run, "-i", split / "train.root",
                     "--epochs", "1", "--set", f"data.cache_dir={split / 'cache'}", "--set",
                     "training.batch_size=50", "--set", "training.label_smoothing=0.1")
    assert result.returncode == 0, result.stderr
    result = run_bin("predict.py", "-m", run, "-i", split / "test.root", "-o", run / "pred.root")
    assert result.returncode == 0, result.stderr
    columns = uproot.open(run / "pred.root")["Jets"].arrays(library="np")
    assert len(columns["score_label_gamma"]) == 200 and np.isfinite(columns["score_label_gamma"]).all()
    assert {"event", "energy", "nhit"} <= set(columns)
    if family != "particlenet":  # the baseline and the figures once
        return
    assert run_bin("compactness.py", "-i", split / "test.root", "-o", split / "compactness").returncode == 0
    result = run_bin("plot.py", "-i", f"{run}, {split / 'compactness'}", "-n", "ParticleNet, compactness", "-o",
                     split / "figs", "--q-factor", "nhit")
    assert result.returncode == 0, result.stderr
    table = json.loads((split / "figs" / "q_factor.json").read_text())
    assert set(table["models"]) == {"ParticleNet", "compactness"} and len(table["models"]["compactness"]) == 4
    assert sum(row["signal"] + row["background"] for row in table["models"]["compactness"]) == 200
    assert (split / "figs" / "roc_gamma.png").exists()
    metrics = json.loads((split / "figs" / "classification_metrics.json").read_text())
    assert set(metrics) == {"ParticleNet", "compactness"}


def test_hits_have_no_lorentz_pair_features():
    config = load_config(ROOT / "configs/shower_transformer.yaml")
    with pytest.raises(ConfigError, match="pair features need four-vectors.*model.pair_features: none"):
        apply_overrides(config, ["model.pair_features=lorentz"])


def test_dataset_figures_of_hits(tmp_path):
    """bin/visualize_data.py on a hit cloud: no pt to size nodes by, coordinates in metres (it crashed on both)."""
    config = load_config(ROOT / "configs/shower_particlenet.yaml")
    config["data"]["cache_dir"] = str(tmp_path / "cache")
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(config))
    result = run_bin("visualize_data.py", "-i", ROOT / "data/shower/shower_5_0001.root", "-c", tmp_path / "c.yaml",
                     "-o", tmp_path / "figs")
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "figs" / "particle_cloud.png").stat().st_size > 1000
