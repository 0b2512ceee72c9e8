"""Node tasks: per-node losses with known numbers, the store's node targets and indices, predictions aligned with the
input collections, and a node task trained and predicted from bin/."""

from __future__ import annotations

import copy
import csv
import json
import math
from pathlib import Path

import awkward as ak
import numpy as np
import pytest
import torch
import uproot
import yaml

from gnnjet.config import validate_config
from gnnjet.data.dataset import JetDataset
from gnnjet.data.spec import DataSpec
from gnnjet.data.writer import write_jets
from gnnjet.errors import DataError
from gnnjet.tasks import build_task
from gnnjet.tasks.node import NodeLayout, node_rows
from tests.cli import run_bin

TYPES = ["charged", "neutral"]


def pileup_like(num_jets: int, seed: int = 0, reverse: bool = False) -> dict:
    """Jets whose constituents are hard (near the axis, harder) or pile-up (spread out, soft) at random, with the truth
    ch_is_pu / ne_is_pu; jet 3 has no constituents at all. `reverse`: the same jets with each collection's order
    reversed."""
    rng = np.random.default_rng(seed)

    def collection(counts: np.ndarray) -> dict[str, ak.Array]:
        total = int(counts.sum())
        is_pu = rng.integers(0, 2, total)
        pt = np.where(is_pu == 1, rng.exponential(1.0, total) + 0.5, rng.exponential(10.0, total) + 1.0)
        spread = np.where(is_pu == 1, 0.35, 0.05)
        fields = {"pt": pt, "eta": rng.normal(0, 1, total) * spread, "phi": rng.normal(0, 1, total) * spread,
                  "is_pu": is_pu.astype(np.int32)}
        out = {name: ak.unflatten(values.astype(np.float32) if values.dtype.kind == "f" else values, counts)
               for name, values in fields.items()}
        return {name: values[:, ::-1] for name, values in out.items()} if reverse else out

    n_ch, n_ne = rng.integers(1, 25, num_jets), rng.integers(1, 15, num_jets)
    n_ch[3] = n_ne[3] = 0
    ch, ne = collection(n_ch), collection(n_ne)
    return {"pt": rng.uniform(30, 300, num_jets).astype(np.float32), "eta": np.zeros(num_jets, np.float32),
            "phi": np.zeros(num_jets, np.float32), "ch": ak.zip(ch), "ne": ak.zip(ne)}


def node_config(train: Path, cache: Path, max_charged: int = 64) -> dict:
    """A tiny DeepSets node classification of pile-up on `pileup_like` jets."""
    def node_type(prefix: str, max_nodes: int) -> dict:
        return {"max_nodes": max_nodes, "pt": f"{prefix}_pt", "eta": f"{prefix}_eta", "phi": f"{prefix}_phi",
                "features": [{"name": "log_pt", "expr": f"log({prefix}_pt)"},
                             {"name": "dr", "expr": f"hypot({prefix}_eta - eta, delta_phi({prefix}_phi, phi))"}]}

    return {"data": {"train": [str(train)], "cache_dir": str(cache), "val_fraction": 0.25,
                     "node_types": {"charged": node_type("ch", max_charged), "neutral": node_type("ne", 32)},
                     "jet_features": [], "observers": ["pt"]},
            "model": {"name": "deepsets", "preset": "small"},
            "task": {"type": "node_classification", "classes": ["hard", "pileup"],
                     "node_targets": {"charged": "ch_is_pu", "neutral": "ne_is_pu"}},
            "training": {"epochs": 3, "batch_size": 32, "lr": 0.01, "prefetch": 0, "monitor": "val_auc"}}


def test_node_classification_loss_with_known_numbers():
    task = build_task({"type": "node_classification", "classes": ["hard", "pileup"], "node_targets": {"a": "x"}},
                      node_types=["a"])
    logits = torch.tensor([[0.0, 1.0], [2.0, 0.0], [5.0, -5.0], [0.5, 0.5]])
    target = torch.tensor([1.0, 1.0, math.nan, 0.0])  # node 2 unlabelled: out of the loss
    weight = torch.tensor([1.0, 2.0, 100.0, 0.5])
    ce = [math.log(1 + math.exp(-1.0)), math.log(1 + math.exp(2.0)), math.log(2.0)]
    total, norm = task.loss_sums(logits, target, weight)
    assert float(total) == pytest.approx(ce[0] + 2 * ce[1] + 0.5 * ce[2], rel=1e-6)
    assert float(norm) == pytest.approx(3.5)
    assert float(task.loss(logits, target)) == pytest.approx(sum(ce) / 3, rel=1e-6)


def test_node_regression_loss_with_known_numbers():
    task = build_task({"type": "node_regression", "loss": "mse", "node_targets": {"a": "x"}}, node_types=["a"])
    output = torch.tensor([[1.0], [0.0], [3.0]])
    target = torch.tensor([0.5, math.nan, 1.0])
    assert float(task.loss(output, target)) == pytest.approx((0.25 + 4.0) / 2)
    assert float(task.loss(output, target, torch.tensor([3.0, 1.0, 1.0]))) == pytest.approx((0.75 + 4.0) / 4)
    metrics = task.metrics(output.numpy(), target.numpy())
    assert metrics["median_residual"] == pytest.approx(1.25) and metrics["rms_residual"] == pytest.approx(
        math.sqrt(4.25 / 2))


def test_node_rows_follow_the_jets_in_index_order():
    ptr = np.array([0, 3, 3, 5, 9])  # jets of 3, 0, 2 and 4 nodes
    assert node_rows(ptr, np.array([3, 0, 1, 2])).tolist() == [5, 6, 7, 8, 0, 1, 2, 3, 4]


def test_metrics_per_node_type_take_each_types_rows():
    task = build_task({"type": "node_classification", "classes": ["hard", "pileup"], "node_targets": {"a": "x"}},
                      node_types=["charged", "neutral"])
    logits = np.array([[2.0, 0.0], [0.0, 2.0], [2.0, 0.0], [2.0, 0.0], [0.0, 2.0]])
    target = np.array([0.0, 1.0, 1.0, 0.0, 0.0])
    node_type = np.array([0, 0, 1, 1, 1])  # charged all right, neutral one of three
    per_type = task.metrics_per_type(logits, target, None, node_type)
    assert per_type["accuracy_charged"] == 1.0 and per_type["accuracy_neutral"] == pytest.approx(1 / 3)
    assert per_type["auc_charged"] == 1.0 and set(per_type) == {"auc_charged", "accuracy_charged", "auc_neutral",
                                                                "accuracy_neutral"}


def test_layout_puts_each_value_at_its_constituent():
    # jet 0: charged collection of 3 (nodes at indices 2, 0), neutral of 2 (node at 1); jet 1: charged of 1 (node 0)
    layout = NodeLayout(TYPES, counts=np.array([3, 1]), node_type=np.array([0, 0, 1, 0]),
                        node_index=np.array([2, 0, 1, 0]), p4=np.zeros((4, 4)),
                        collection_size=np.array([[3, 2], [1, 0]]), labelled=np.array([True, True]))
    values = np.array([10.0, 20.0, 30.0, 40.0])
    assert layout.jagged(values, 0).to_list() == [[20.0, pytest.approx(np.nan, nan_ok=True), 10.0], [40.0]]
    assert ak.to_list(ak.num(layout.jagged(values, 1))) == [2, 0]
    assert np.isnan(ak.to_list(layout.jagged(values, 1))[0][0]) and ak.to_list(layout.jagged(values, 1))[0][1] == 30.0


def test_weighted_jets_sum_the_labelled_nodes_four_vectors():
    p4 = np.array([[3.0, 0.0, 0.0, 5.0], [0.0, 4.0, 0.0, 6.0], [1.0, 1.0, 1.0, 9.0], [2.0, 0.0, 0.0, 2.0]])
    layout = NodeLayout(TYPES, counts=np.array([3, 1]), node_type=np.array([0, 0, 1, 0]),
                        node_index=np.zeros(4, int), p4=p4, collection_size=np.array([[2, 1], [1, 0]]),
                        labelled=np.array([True, False]))  # the neutral node (row 2) is not labelled
    pt, mass = layout.weighted_jets(np.array([1.0, 0.5, 1.0, 0.25]))
    # jet 0: (3, 0, 0, 5) + 0.5 (0, 4, 0, 6) = (3, 2, 0, 8); jet 1: 0.25 (2, 0, 0, 2) = (0.5, 0, 0, 0.5)
    np.testing.assert_allclose(pt, [math.hypot(3, 2), 0.5])
    np.testing.assert_allclose(mass, [math.sqrt(64 - 13), 0.0], atol=1e-12)


def test_store_keeps_targets_indices_and_collection_sizes(tmp_path):
    jets = pileup_like(40, seed=1)
    write_jets(tmp_path / "in.root", jets)
    config = node_config(tmp_path / "in.root", tmp_path / "cache", max_charged=5)  # caps long jets
    config["data"]["node_types"]["neutral"]["select"] = "ne_pt > 2"  # some neutrals are no node
    spec = DataSpec.from_config(validate_config(config))
    dataset = JetDataset.from_files(spec, [str(tmp_path / "in.root")], cache_root=tmp_path / "cache", progress=False)
    arrays = dataset.store.arrays
    assert len(dataset) == 39 and list(dataset.store.dropped) == [3]  # the jet without constituents
    kept = [j for j in range(40) if j != 3]
    sizes = np.asarray(arrays["collection_size"])
    assert sizes[:, 0].tolist() == [len(jets["ch"][j]) for j in kept]
    assert sizes[:, 1].tolist() == [len(jets["ne"][j]) for j in kept]
    ptr, node_type = dataset.ptr.numpy(), dataset.node_type.numpy()
    index, target = np.asarray(arrays["node_index"])[:, 0], dataset.node_target.numpy()
    for row, j in enumerate(kept):
        nodes = slice(ptr[row], ptr[row + 1])
        for code, prefix in enumerate(("ch", "ne")):
            mine = node_type[nodes] == code
            chosen = index[nodes][mine]
            pt = ak.to_numpy(jets[prefix][j].pt)
            eligible = np.flatnonzero(pt > 2) if prefix == "ne" else np.arange(len(pt))
            expected = eligible[np.argsort(-pt[eligible], kind="stable")][: 5 if prefix == "ch" else 32]
            assert chosen.tolist() == expected.tolist()  # pt-ordered, selected, capped
            assert target[nodes][mine].tolist() == ak.to_numpy(jets[prefix][j].is_pu)[chosen].tolist()


def test_a_class_index_outside_the_classes_is_one_error(tmp_path):
    jets = pileup_like(10)
    jets["ch"] = ak.zip({**{f: jets["ch"][f] for f in jets["ch"].fields}, "is_pu": jets["ch"].is_pu * 2})
    write_jets(tmp_path / "in.root", jets)
    spec = DataSpec.from_config(validate_config(node_config(tmp_path / "in.root", tmp_path / "cache")))
    with pytest.raises(DataError, match=r"task.node_targets.charged: 'ch_is_pu' gives 2 .* integer in \[0, 2\)"):
        JetDataset.from_files(spec, [str(tmp_path / "in.root")], cache_root=tmp_path / "cache", progress=False)


@pytest.fixture(scope="module")
def trained_node_run(tmp_path_factory):
    """A node classification trained with bin/train.py on 400 pile-up-like jets."""
    tmp_path = tmp_path_factory.mktemp("node_run")
    write_jets(tmp_path / "train.root", pileup_like(400, seed=2))
    write_jets(tmp_path / "held_out.root", pileup_like(100, seed=7))
    config = node_config(tmp_path / "train.root", tmp_path / "cache")
    config["data"]["test"] = [str(tmp_path / "held_out.root")]
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(config))
    result = run_bin("train.py", "-c", tmp_path / "c.yaml", "-o", tmp_path / "run")
    assert result.returncode == 0, result.stderr
    return tmp_path


def test_node_task_learns_and_predicts_aligned_with_the_inputs(trained_node_run):
    """bin/train.py learns the per-node truth (validation AUC); bin/predict.py writes per-constituent scores aligned
    with the input collections: the same jets with each collection reversed get the same scores, reversed; the jet
    without constituents is a row with empty lists."""
    tmp_path = trained_node_run
    metrics = (tmp_path / "run" / "metrics.csv").read_text().splitlines()
    header, last = metrics[0].split(","), metrics[-1].split(",")
    assert float(last[header.index("val_auc")]) > 0.9
    test = json.loads((tmp_path / "run" / "test_metrics.json").read_text())["metrics"]  # data.test, per node
    assert test["auc"] > 0.9 and 0.5 < test["accuracy"] <= 1.0
    assert test["auc_charged"] > 0.9 and test["auc_neutral"] > 0.9 and "val_accuracy_neutral" in header
    assert min(test["auc_charged"], test["auc_neutral"]) <= test["auc"] + 0.02  # the whole is no better than both
    write_jets(tmp_path / "test.root", pileup_like(60, seed=3))
    write_jets(tmp_path / "reversed.root", pileup_like(60, seed=3, reverse=True))
    for name in ("test", "reversed"):
        result = run_bin("predict.py", "-m", tmp_path / "run", "-i", tmp_path / f"{name}.root", "-o",
                         tmp_path / f"{name}_pred.root")
        assert result.returncode == 0, result.stderr
    pred = uproot.open(tmp_path / "test_pred.root")["Jets"].arrays()
    flipped = uproot.open(tmp_path / "reversed_pred.root")["Jets"].arrays()
    inputs = uproot.open(tmp_path / "test.root")["Jets"].arrays()
    assert pred.valid.tolist() == [int(j != 3) for j in range(60)]
    for type_name, prefix in (("charged", "ch"), ("neutral", "ne")):
        assert ak.num(pred[f"{type_name}_score_pileup"]).tolist() == ak.num(inputs[f"{prefix}_pt"]).tolist()
        assert ak.to_list(pred[f"{type_name}_label"]) == ak.to_list(inputs[f"{prefix}_is_pu"])
        np.testing.assert_allclose(ak.flatten(pred[f"{type_name}_pt"]), ak.flatten(inputs[f"{prefix}_pt"]), rtol=1e-6)
        np.testing.assert_allclose(ak.flatten(flipped[f"{type_name}_score_pileup"][:, ::-1]),
                                   ak.flatten(pred[f"{type_name}_score_pileup"]), atol=1e-5)
        np.testing.assert_allclose(ak.flatten(pred[f"{type_name}_score_hard"] + pred[f"{type_name}_score_pileup"]),
                                   1.0, rtol=1e-6)
    # the jet rebuilt from its constituents (massless), each weighted by its probability of the hard interaction
    total = np.zeros((60, 4))
    for type_name, prefix in (("charged", "ch"), ("neutral", "ne")):
        w, pt = pred[f"{type_name}_score_hard"], inputs[f"{prefix}_pt"]
        eta, phi = inputs[f"{prefix}_eta"], inputs[f"{prefix}_phi"]
        parts = (pt * np.cos(phi), pt * np.sin(phi), pt * np.sinh(eta), pt * np.cosh(eta))
        for i, part in enumerate(parts):
            total[:, i] += ak.to_numpy(ak.sum(w * part, axis=1))
    valid = pred.valid.to_numpy() == 1
    np.testing.assert_allclose(pred.pt_weighted_hard.to_numpy()[valid], np.hypot(total[:, 0], total[:, 1])[valid],
                               rtol=1e-4)
    mass = np.sqrt(np.clip(total[:, 3] ** 2 - (total[:, :3] ** 2).sum(axis=1), 0, None))
    np.testing.assert_allclose(pred.mass_weighted_hard.to_numpy()[valid], mass[valid], rtol=1e-3, atol=1e-2)


def test_node_task_kfold_predicts_out_of_fold(tmp_path):
    """A 2-fold node task: every jet's nodes get the scores of the fold model that did not train on it."""
    import gnnjet

    jets = pileup_like(120, seed=4)
    jets["fold"] = (np.arange(120) % 2).astype(np.int32)
    write_jets(tmp_path / "in.root", jets)
    config = node_config(tmp_path / "in.root", tmp_path / "cache")
    config["training"]["epochs"] = 1
    run = gnnjet.train(config, output=tmp_path / "run", kfold=2, fold_expr="fold", progress=False)
    columns = run.predict([str(tmp_path / "in.root")])
    fold0, fold1 = (gnnjet.load_run(tmp_path / "run" / f"fold_{k}").predict([str(tmp_path / "in.root")])
                    for k in (0, 1))
    assert not np.allclose(ak.to_numpy(fold0["charged_score_pileup"][0]), ak.to_numpy(fold1["charged_score_pileup"][0]))
    for j in (0, 1, 5, 8):  # fold_0 holds out fold 0's jets (the even ones)
        expected = (fold0 if j % 2 == 0 else fold1)["charged_score_pileup"][j]
        np.testing.assert_allclose(ak.to_numpy(columns["charged_score_pileup"][j]), ak.to_numpy(expected), atol=1e-6)


def test_node_task_config_errors(base_config):
    def error(**task):
        config = copy.deepcopy(base_config)
        config["task"] = task
        with pytest.raises(Exception) as raised:
            validate_config(config)
        return str(raised.value)

    assert "task.node_targets: node_classification needs" in error(type="node_classification", classes=["a", "b"])
    assert "task.node_targets.charge: not a node type" in error(type="node_classification", classes=["a", "b"],
                                                                 node_targets={"charge": "ch_x"})
    assert "did you mean 'charged'" in error(type="node_classification", classes=["a", "b"],
                                             node_targets={"charge": "ch_x"})
    assert "task.classes: node_classification needs" in error(type="node_classification",
                                                              node_targets={"charged": "ch_x"})
    assert "task.node_targets: for node tasks" in error(type="classification", labels=["label_q", "label_g"],
                                                        node_targets={"charged": "ch_x"})
    assert "not a node_regression loss" in error(type="node_regression", loss="quantile",
                                                 node_targets={"charged": "ch_x"})
    assert "task.loss: your own loss takes one row per jet" in error(type="node_regression", loss="losses.py:mine",
                                                                     node_targets={"charged": "ch_x"})
    config = copy.deepcopy(base_config)
    config["task"] = {"type": "node_regression", "node_targets": {"charged": "ch_x"}}
    config["model"] = {"name": "net.py:Net"}
    with pytest.raises(Exception, match="per-node outputs"):
        validate_config(config)


def test_node_regression_trains_and_writes_pred_and_target_per_constituent(tmp_path):
    """A per-particle value (here the pile-up flag as a number, out of reach of a jet-level model): the node
    regression's loss falls below always predicting the mean, and its columns hold the targets in input order."""
    import gnnjet

    write_jets(tmp_path / "in.root", pileup_like(300, seed=6))
    config = node_config(tmp_path / "in.root", tmp_path / "cache")
    config["task"] = {"type": "node_regression", "loss": "mse",
                      "node_targets": {"charged": "ch_is_pu", "neutral": "ne_is_pu"}}
    config["training"] |= {"monitor": "val_loss", "epochs": 8}
    run = gnnjet.train(config, output=tmp_path / "run", progress=False)
    with open(tmp_path / "run" / "metrics.csv") as file:
        last = list(csv.DictReader(file))[-1]
    assert float(last["val_loss"]) < 0.25 * 0.6  # the mean's MSE on a 50% flag is 0.25
    assert {"val_median_residual", "val_residual_width", "val_rms_residual"} <= set(last)
    columns = run.predict([str(tmp_path / "in.root")])
    inputs = uproot.open(tmp_path / "in.root")["Jets"].arrays()
    assert ak.to_list(columns["neutral_target"]) == ak.to_list(inputs["ne_is_pu"])
    assert ak.num(columns["charged_pred"]).tolist() == ak.num(inputs["ch_pt"]).tolist()
    in_memory = run.predict(inputs)  # an awkward array, as in a notebook or a coffea processor
    assert ak.to_list(in_memory["charged_pred"]) == ak.to_list(columns["charged_pred"])


@pytest.mark.parametrize("form", ["onnx", "cmssw"])
def test_exports_and_calibration_refuse_a_node_task_with_the_reason(trained_node_run, form):
    run = trained_node_run / "run"
    exported = run_bin("export.py", "-m", run, "-o", trained_node_run / f"model_{form}.onnx", "--format", form)
    assert exported.returncode == 1 and "its outputs are per node" in exported.stderr
    calibrated = run_bin("calibrate.py", "-m", run, "-i", trained_node_run / "held_out.root")
    assert calibrated.returncode == 1 and "node_classification run: calibration is fitted for jet tasks" in \
        calibrated.stderr
