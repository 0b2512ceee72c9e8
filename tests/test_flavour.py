"""The 4-class flavour configs train, predict and plot on (a slice of) the shipped flavour sample."""

import json
from pathlib import Path

import numpy as np
import pytest
import uproot

from gnnjet.config import load_config, validate_config
from gnnjet.data.writer import write_jets
from gnnjet.plots.compare import plot_models
from gnnjet.predict import predict
from gnnjet.training.trainer import train

ROOT = Path(__file__).resolve().parents[1]
FLAVOURS = ["b", "c", "uds", "g"]


@pytest.fixture(scope="module")
def flavour_slices(tmp_path_factory) -> tuple[Path, Path]:
    """The first 900 jets of the shipped sample for training, 600 other jets for predicting."""
    tmp = tmp_path_factory.mktemp("flavour")
    jets = uproot.open(ROOT / "data/flavour/flavour_2_0000.root")["Jets"].arrays(entry_stop=1500)
    write_jets(tmp / "train.root", {name: jets[name][:900] for name in jets.fields})
    write_jets(tmp / "test.root", {name: jets[name][900:] for name in jets.fields})
    return tmp / "train.root", tmp / "test.root"


@pytest.mark.parametrize("config_name", ["flavour_deepsets", "flavour_particlenet"])
def test_flavour_config_trains_and_plots_four_classes(config_name, flavour_slices, tmp_path):
    train_file, test_file = flavour_slices
    config = load_config(ROOT / f"configs/{config_name}.yaml")
    config["data"].update(train=[str(train_file)], cache_dir=str(tmp_path / "cache"))
    config["training"].update(epochs=3, batch_size=64, prefetch=0, warmup_epochs=0)
    history = train(validate_config(config), tmp_path / "run", progress=False)
    assert {f"val_auc_{f}" for f in FLAVOURS} <= set(history[-1])

    assert predict(tmp_path / "run", [str(test_file)], tmp_path / "run" / "pred.root", progress=False) == 600
    plot_models([str(tmp_path / "run")], ["model"], tmp_path / "figs", ["b:uds+g", "c:uds+g", "uds:g"])
    figures = {p.name for p in (tmp_path / "figs").iterdir()}
    assert {"confusion_model.png", "roc_b_vs_uds_g.png", "roc_c_vs_uds_g.png", "roc_uds_vs_g.png",
            *(f"roc_{f}.png" for f in FLAVOURS)} <= figures
    metrics = json.loads((tmp_path / "figs" / "classification_metrics.json").read_text())["model"]
    # b jets carry displaced tracks and secondary vertices: even a 3-epoch model on 720 jets sees them
    assert metrics["auc_b_vs_uds_g"] > 0.75, metrics
    prediction = uproot.open(tmp_path / "run" / "pred.root")["Jets"].arrays(library="np")
    scores = np.stack([prediction[f"score_label_{f}"] for f in FLAVOURS], axis=1)
    np.testing.assert_allclose(scores.sum(axis=1), 1.0, rtol=1e-5)
