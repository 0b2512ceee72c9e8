"""weaver-core data configs and network files run in gnnjet unchanged (`weaver_config`, `nn/weaver_network.py`):
the inputs gnnjet gives the network and the network's outputs equal weaver-core's own data pipeline's on the same
files (weaver-core 0.5.3 with numba, a test dependency), and such a run trains and predicts from bin/."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import awkward as ak
import numpy as np
import pytest
import torch
import uproot

from gnnjet.api import train
from gnnjet.data.writer import write_jets
from gnnjet.nn.weaver_network import WeaverNetwork
from gnnjet.runs.run import load_run

pytest.importorskip("numba")  # weaver-core's data pipeline (requirements-bench.txt)
from weaver.utils.data.config import DataConfig  # noqa: E402
from weaver.utils.data.preprocess import AutoStandardizer  # noqa: E402
from weaver.utils.dataset import _load_next  # noqa: E402

FILES = Path(__file__).parent / "weaver_files"
ROOT = Path(__file__).resolve().parents[2]
TRAINING = {"training": {"epochs": 1, "batch_size": 64, "lr": 1e-3, "scheduler": "none", "seed": 3},
            "data": {"workers": 1}}


def write_sample(path: Path, jets: int, seed: int) -> Path:
    """Jets in weaver's usual layout (part_*, sv_*, jet_*; one tree, Events): constituents in no particular order,
    1-40 particles and 0-4 secondary vertices per jet, NaN in some part_dz."""
    rng = np.random.default_rng(seed)
    n_part = rng.integers(1, 41, jets)
    n_sv = rng.integers(0, 5, jets)

    def jagged(values: np.ndarray, counts: np.ndarray) -> ak.Array:
        return ak.unflatten(values.astype(np.float32), counts)

    total = int(n_part.sum())
    pt = rng.exponential(5.0, total) + 0.5
    eta, phi = rng.normal(0, 0.3, total), rng.uniform(-np.pi, np.pi, total)
    px, py, pz = pt * np.cos(phi), pt * np.sin(phi), pt * np.sinh(eta)
    dz = rng.normal(0, 0.2, total)
    dz[rng.random(total) < 0.05] = np.nan
    jet_pt = np.asarray(ak.sum(jagged(pt, n_part), axis=1)) * rng.uniform(0.9, 1.1, jets)
    sv_total = int(n_sv.sum())
    arrays = {
        "part_px": jagged(px, n_part), "part_py": jagged(py, n_part), "part_pz": jagged(pz, n_part),
        "part_energy": jagged(pt * np.cosh(eta) + 0.1, n_part),
        "part_deta": jagged(rng.normal(0, 0.2, total), n_part),
        "part_dphi": jagged(rng.normal(0, 0.2, total), n_part), "part_dz": jagged(dz, n_part),
        "sv_pt": jagged(rng.exponential(10, sv_total) + 1, n_sv),
        "sv_mass": jagged(rng.exponential(1.5, sv_total), n_sv), "sv_deta": jagged(rng.normal(0, 0.1, sv_total), n_sv),
        "jet_pt": jet_pt.astype(np.float32), "jet_eta": rng.normal(0, 1, jets).astype(np.float32),
        "jet_genpt": (jet_pt * rng.normal(1.0, 0.1, jets)).astype(np.float32),
        "label": (rng.random(jets) < 0.5).astype(np.int32),
    }
    write_jets(path, arrays, tree="Events")
    return path


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[str]]:
    root = tmp_path_factory.mktemp("weaver_sample")
    return {"train": [str(write_sample(root / f"train_{i}.root", 200, i)) for i in range(2)],
            "val": [str(write_sample(root / "val.root", 100, 10))],
            "test": [str(write_sample(root / "test.root", 150, 11))]}


def weaver_inputs(data_config: Path, train_files: list[str], test_files: list[str],
                  tmp_path: Path) -> tuple[dict[str, np.ndarray], DataConfig]:
    """weaver-core's own test-time inputs of `test_files` (its auto standardisation fitted on `train_files`)."""
    config_file = tmp_path / data_config.name
    shutil.copy(data_config, config_file)
    config = DataConfig.load(str(config_file))
    if config._missing_standardization_info:
        fitted = tmp_path / "fitted.yaml"
        AutoStandardizer(train_files, config).produce(str(fitted))
        config_file = fitted
    config = DataConfig.load(str(config_file), load_reweight_info=False)
    options = {"training": False, "shuffle": False, "reweight": False, "mode": "test"}
    table, _ = _load_next(config, test_files, [(0, 1)] * len(test_files), options)
    return table, config


def gnnjet_run(data_config: Path, network: Path, sample: dict[str, list[str]], out: Path,
               regression: bool = False, **network_options: object):
    """A gnnjet run of the weaver files, one epoch."""
    return train(TRAINING, data_config=data_config, network_config=network, network_options=network_options,
                 regression_mode=regression, inputs=sample["train"], val=sample["val"], output=out, progress=False)


def gnnjet_inputs(run_dir: Path, files: list[str], monkeypatch: pytest.MonkeyPatch):
    """(the dense inputs gnnjet gave the network on `files`, in prediction order; the predictions)."""
    seen: list[dict[str, torch.Tensor]] = []
    dense_inputs = WeaverNetwork.dense_inputs

    def recording(self, batch):
        inputs = dense_inputs(self, batch)
        seen.append({k: v.detach().clone() for k, v in inputs.items()})
        return inputs

    monkeypatch.setattr(WeaverNetwork, "dense_inputs", recording)
    predictions = load_run(run_dir, trust_code=True).predict(files, batch_size=4096)
    monkeypatch.undo()
    return {k: torch.cat([s[k] for s in seen]).numpy() for k in seen[0]}, predictions


@pytest.fixture(scope="module")
def particlenet_runs(sample, tmp_path_factory):
    """{data config name: a one-epoch run of weaver-core's ParticleNet on it}, trained on first use."""
    runs = {}

    def run_of(config_name: str):
        if config_name not in runs:
            out = tmp_path_factory.mktemp("particlenet") / "run"
            runs[config_name] = gnnjet_run(FILES / config_name, FILES / "particlenet.py", sample, out)
        return runs[config_name]
    return run_of


@pytest.mark.parametrize("config_name", ["top_manual.yaml", "top_auto.yaml"])
def test_inputs_and_outputs_equal_weaver_cores_pipeline(config_name, sample, particlenet_runs, tmp_path,
                                                        monkeypatch):
    """Every group (wrap and constant padding, pad values, clipping, NaN -> 0, a per-jet group, np./ak. variables,
    manual and auto preprocessing) and weaver-core's ParticleNet's eval outputs with the same weights agree with
    weaver-core's pipeline on the test file to 1e-6; so do the labels and observers."""
    data_config = FILES / config_name
    run = particlenet_runs(config_name)
    ours, predictions = gnnjet_inputs(run.path, sample["test"], monkeypatch)
    theirs, weaver_config = weaver_inputs(data_config, sample["train"], sample["test"], tmp_path)

    assert np.all(np.asarray(predictions["valid"]))
    assert len(predictions) == len(theirs["_label_"]) > 100  # test_time_selection: jet_pt > 20
    for group in weaver_config.input_names:
        assert ours[group].shape == theirs["_" + group].shape, group
        np.testing.assert_allclose(ours[group], theirs["_" + group], rtol=1e-6, atol=1e-6, err_msg=group)
    assert (ours["sv_features"][:, 2] == 9).any() and (ours["sv_features"][:, 1] == -1).any()  # pad values used
    assert ((ours["pf_features"][:, 4] == 0) & (ours["pf_mask"][:, 0] == 1)).sum() > 50  # NaN part_dz -> 0
    np.testing.assert_array_equal(np.asarray(predictions["jet_isTop"]), theirs["_label_"] == 0)
    np.testing.assert_allclose(np.asarray(predictions["jet_pt"]), theirs["jet_pt"], rtol=1e-6)

    network = load_run(run.path, trust_code=True).load().model.network
    model = _weaver_model(FILES / "particlenet.py", weaver_config)
    model.load_state_dict(network.state_dict())
    model.eval()
    with torch.no_grad():
        logits = model(*(torch.from_numpy(theirs["_" + n]) for n in weaver_config.input_names))
    np.testing.assert_allclose(np.asarray(predictions["score_jet_isTop"]), torch.softmax(logits, 1)[:, 0].numpy(),
                               rtol=1e-5, atol=1e-6)


def test_cmssw_export_is_weaver_cores_layout_and_json(sample, particlenet_runs, tmp_path):
    """bin/export.py --format cmssw of a weaver network: the graph takes the data config's groups (as weaver-core
    exports them, for_inference), its softmax on weaver-core's own inputs equals the trained model's, and
    preprocess.json equals weaver-core's export_json of the same data config (plus gnnjet's notes)."""
    import json

    import onnxruntime

    from gnnjet.export.cmssw import check_cmssw, export_cmssw

    run = particlenet_runs("top_manual.yaml")
    json_path = export_cmssw(run.path, tmp_path / "export" / "model.onnx", trust_code=True)
    check = check_cmssw(run.path, tmp_path / "export" / "model.onnx", sample["test"], trust_code=True)
    assert check.passes(1e-5)
    theirs, config = weaver_inputs(FILES / "top_manual.yaml", sample["train"], sample["test"], tmp_path)
    session = onnxruntime.InferenceSession(str(tmp_path / "export" / "model.onnx"))
    assert [i.name for i in session.get_inputs()] == list(config.input_names)
    probabilities = session.run(None, {n: theirs["_" + n] for n in config.input_names})[0]
    model = _weaver_model(FILES / "particlenet.py", config)
    model.load_state_dict(load_run(run.path, trust_code=True).load().model.network.state_dict())
    with torch.no_grad():
        logits = model.eval()(*(torch.from_numpy(theirs["_" + n]) for n in config.input_names))
    np.testing.assert_allclose(probabilities, torch.softmax(logits, 1).numpy(), atol=1e-6)

    ours = json.loads(json_path.read_text())
    config.export_json(str(tmp_path / "weaver.json"))
    expected = json.loads((tmp_path / "weaver.json").read_text())
    assert ours.pop("gnnjet") and ours.keys() == expected.keys()
    assert ours["output_names"] == expected["output_names"] and ours["input_names"] == expected["input_names"]
    for group in config.input_names:
        assert ours[group]["var_names"] == expected[group]["var_names"]
        assert ours[group]["var_length"] == expected[group]["var_length"]
        for name, info in expected[group]["var_infos"].items():
            assert ours[group]["var_infos"][name] == pytest.approx(info, rel=1e-6), (group, name)


def _weaver_model(network: Path, data_config: DataConfig) -> torch.nn.Module:
    namespace: dict[str, object] = {}
    exec(compile(network.read_text(), str(network), "exec"), namespace)  # noqa: S102 - the test's own file
    return namespace["get_model"](data_config)[0]


def test_auto_preprocessing_equals_weavers_fit(sample, tmp_path):
    """The auto-fitted centre and scale of each variable are weaver-core's AutoStandardizer's (on the training
    jets, all of them, as weaver with data_fraction 1)."""
    run = gnnjet_run(FILES / "top_auto.yaml", FILES / "mean_net.py", sample, tmp_path / "run")
    _, config = weaver_inputs(FILES / "top_auto.yaml", sample["train"], sample["test"], tmp_path)
    fitted = load_run(run.path, trust_code=True).load().preprocessing
    for name in ("part_pt_log", "part_e_log", "sv_ptrel"):
        column = fitted.node_names.index(name)
        assert fitted.node.center[column] == pytest.approx(config.preprocess_params[name]["center"], rel=1e-6)
        assert fitted.node.scale[column] == pytest.approx(config.preprocess_params[name]["scale"], rel=1e-6)
    assert config.preprocess_params["part_mask"]["center"] is None  # masks stay raw, in both


def test_custom_labels_train_a_regression_with_the_files_loss(sample, tmp_path, monkeypatch):
    """Custom labels with regression mode: the target is weaver's label expression; get_loss (MSELoss) is the
    loss; the inputs equal weaver's."""
    data_config = FILES / "jec_custom.yaml"
    run = gnnjet_run(data_config, FILES / "mean_net.py", sample, tmp_path / "run", regression=True, hidden=8)
    ours, predictions = gnnjet_inputs(run.path, sample["test"], monkeypatch)
    theirs, weaver_config = weaver_inputs(data_config, sample["train"], sample["test"], tmp_path)
    for group in weaver_config.input_names:
        np.testing.assert_allclose(ours[group], theirs["_" + group], rtol=1e-6, atol=1e-6, err_msg=group)
    np.testing.assert_allclose(np.asarray(predictions["target"]), theirs["target_jec"], rtol=1e-5,
                               atol=1e-6)
    assert run.config["task"]["loss"].endswith("mean_net.py:get_loss")
    task = load_run(run.path, trust_code=True).load().task
    losses = task.loss_function(torch.tensor([[1.0], [3.0]]), torch.tensor([0.0, 1.0]))
    np.testing.assert_allclose(losses.numpy(), [1.0, 4.0])  # MSELoss, per jet


def test_bin_train_and_predict_the_example_with_weaver_flags(tmp_path):
    """README's command: bin/train.py with weaver-core's flags (--data-config, --network-config, --network-option)
    on configs/weaver/ and the committed sample trains one epoch; bin/predict.py refuses the run without
    --trust-code and predicts with it."""
    config = tmp_path / "training.yaml"
    config.write_text("training: {epochs: 1, batch_size: 64, scheduler: none}\ndata: {workers: 1, fraction: 0.1}\n")
    out = tmp_path / "run"
    command = [sys.executable, str(ROOT / "bin/train.py"), "-c", str(config),
               "--data-config", str(ROOT / "configs/weaver/qg_data.yaml"),
               "--network-config", str(ROOT / "configs/weaver/particlenet.py"),
               "--network-option", "fc_params", "[(8, 0.1)]", "-i", str(ROOT / "data/qg/*.root"), "-o", str(out)]
    subprocess.run(command, check=True, capture_output=True, text=True, cwd=tmp_path)
    assert (out / "best.pt").exists() and (out / "code" / "model").is_dir()
    test_file = sorted(str(f) for f in (ROOT / "data/qg").glob("*.root"))[-1:]
    predict = [sys.executable, str(ROOT / "bin/predict.py"), "-m", str(out), "-i", *test_file, "-o",
               str(tmp_path / "pred.root")]
    refused = subprocess.run(predict, capture_output=True, text=True, cwd=tmp_path)
    assert refused.returncode == 1 and "--trust-code" in refused.stderr
    subprocess.run([*predict, "--trust-code"], check=True, capture_output=True, text=True, cwd=tmp_path)
    columns = uproot.open(tmp_path / "pred.root")["Jets"].arrays(["score_label_q", "label_q"], library="np")
    assert len(columns["label_q"]) > 1000 and np.all((columns["score_label_q"] > 0) & (columns["score_label_q"] < 1))
    state = torch.load(out / "best.pt", weights_only=True)
    assert state["config"]["model"]["options"] == {"fc_params": [[8, 0.1]]}  # as config.yaml holds it
    assert state["model"]["network.mod.fc.0.0.weight"].shape[0] == 8  # the option reached get_model
