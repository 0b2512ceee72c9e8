"""Node types from one collection (select:), four-vector kinematics, coordinates, Parquet, non-jet point clouds."""

from pathlib import Path

import awkward as ak
import numpy as np
import pytest
import uproot

from gnnjet.config import load_config, validate_config
from gnnjet.data.dataset import JetDataset
from gnnjet.data.spec import DataSpec
from gnnjet.data.writer import write_jets
from gnnjet.errors import ConfigError, DataError
from gnnjet.nn.registry import build_model
from gnnjet.training.trainer import train
from tests.conftest import write_jetclass

ROOT = Path(__file__).resolve().parents[2]


def jetclass_config(tmp_path: Path, files: list[str], model: dict | None = None, epochs: int = 1) -> dict:
    config = load_config(ROOT / "configs/public/jetclass_particlenet.yaml")
    config["data"] |= {"train": files, "val": [], "test": [], "val_fraction": 0.25,
                       "cache_dir": str(tmp_path / "cache")}
    config["model"] = model or {"name": "particlenet", "preset": "lite"}
    config["training"] |= {"epochs": epochs, "batch_size": 32, "prefetch": 0}
    return validate_config(config)


def test_one_collection_split_by_select(tmp_path):
    path = write_jetclass(tmp_path / "jetclass.root", 40, seed=1, max_particles=200)
    config = jetclass_config(tmp_path, [str(path)])
    dataset = JetDataset.from_files(DataSpec.from_config(config), [str(path)], cache_root=tmp_path / "cache",
                                    progress=False)
    raw = uproot.open(path)["tree"].arrays(["part_charge", "part_px", "part_py", "part_deta"])
    charged = raw.part_charge != 0
    node_type = dataset.node_type.numpy()
    ptr = dataset.ptr.numpy()
    assert (node_type == 0).sum() == ak.sum(np.minimum(ak.num(raw.part_px[charged]), 96))
    for jet in (0, 7, 39):
        types = node_type[ptr[jet]:ptr[jet + 1]]
        expected_ch = min(int(ak.sum(charged[jet])), 96)
        expected_ne = min(int(ak.sum(~charged[jet])), 64)
        assert (types == 0).sum() == expected_ch and (types == 1).sum() == expected_ne
        # charged first, pt-ordered within a type; px/py/pz/energy give the four-vector exactly
        p4 = dataset.p4.numpy()[ptr[jet]:ptr[jet + 1]]
        pt = np.hypot(p4[:, 0], p4[:, 1])
        assert np.all(np.diff(pt[types == 0]) <= 1e-4) and np.all(np.diff(pt[types == 1]) <= 1e-4)
        if expected_ch < 96:  # every charged particle kept: the four-vectors are exactly those of the file
            assert np.isclose(p4[types == 0, 0].sum(), float(ak.sum(raw.part_px[jet][charged[jet]])), rtol=1e-5)
        # coordinates are the stored (part_deta, part_dphi)
        deta = set(np.round(ak.to_numpy(raw.part_deta[jet]), 5))
        assert set(np.round(dataset.pos.numpy()[ptr[jet]:ptr[jet + 1], 0], 5)) <= deta
    assert (node_type == 0).any() and (node_type == 1).any()


def test_jetclass_schema_trains_with_charged_and_neutral(tmp_path):
    path = write_jetclass(tmp_path / "jetclass.root", 120, seed=2)
    history = train(jetclass_config(tmp_path, [str(path)]), tmp_path / "run", progress=False)
    assert np.isfinite(history[0]["val_loss"]) and 0.0 <= history[0]["val_accuracy"] <= 1.0


def test_select_must_be_per_constituent(tmp_path):
    path = write_jetclass(tmp_path / "jetclass.root", 10)
    for select, match in (("jet_pt > 600", "one value per constituent"),
                          ("part_charge[0] > 0", "subscript")):
        config = jetclass_config(tmp_path, [str(path)])
        config["data"]["node_types"]["charged"]["select"] = select
        with pytest.raises(ConfigError, match=match):
            JetDataset.from_files(DataSpec.from_config(validate_config(config)), [str(path)],
                                  cache_root=tmp_path / "cache", progress=False)


def test_select_of_another_collection_is_refused(tmp_path):
    from tests.conftest import BASE_CONFIG, write_fake

    path = write_fake(tmp_path / "fake.root", 20)
    config = validate_config({**BASE_CONFIG, "data": {**BASE_CONFIG["data"]}})
    config["data"]["node_types"]["charged"]["select"] = "ne_pt > 1"
    with pytest.raises(ConfigError, match=r"charged\.select: .* not per jet or of another collection"):
        JetDataset.from_files(DataSpec.from_config(validate_config(config)), [str(path)], cache_root=tmp_path / "c",
                              progress=False)


def test_selection_is_part_of_the_cache_key():
    config = load_config(ROOT / "configs/public/jetclass_particlenet.yaml")
    before = DataSpec.from_config(config).fingerprint()
    config["data"]["node_types"]["charged"]["select"] = "part_charge > 0"
    assert DataSpec.from_config(config).fingerprint() != before


def test_parquet_reads_like_root(tmp_path):
    from tests.conftest import BASE_CONFIG, fake_jets

    branches = fake_jets(150, seed=3)
    write_jets(tmp_path / "jets.root", branches)
    write_jets(tmp_path / "jets.parquet", branches)
    spec = DataSpec.from_config(validate_config(BASE_CONFIG))
    a = JetDataset.from_files(spec, [str(tmp_path / "jets.root")], cache_root=tmp_path / "c", progress=False)
    b = JetDataset.from_files(spec, [str(tmp_path / "jets.parquet")], preprocessing=a.preprocessing,
                              cache_root=tmp_path / "c", progress=False)
    for name in ("x", "node_type", "pos", "p4", "ptr", "u", "y"):
        assert np.array_equal(getattr(a, name).numpy(), getattr(b, name).numpy()), name
    assert np.array_equal(a.obs, b.obs)


def test_parquet_missing_column_names_file_and_column(tmp_path):
    from tests.conftest import BASE_CONFIG, fake_jets

    branches = fake_jets(20)
    ch = branches["ch"]
    branches["ch"] = ak.zip({f: ch[f] for f in ch.fields if f != "dxy"})
    write_jets(tmp_path / "jets.parquet", branches)
    spec = DataSpec.from_config(validate_config(BASE_CONFIG))
    with pytest.raises(DataError, match=r"jets\.parquet: column 'ch_dxy' \(needed by data\.node_types\.charged"):
        JetDataset.from_files(spec, [str(tmp_path / "jets.parquet")], cache_root=tmp_path / "c", progress=False)
    (tmp_path / "bad.parquet").write_bytes(b"not parquet at all")
    with pytest.raises(DataError, match=r"bad\.parquet"):
        JetDataset.from_files(spec, [str(tmp_path / "bad.parquet")], cache_root=tmp_path / "c", progress=False)


def write_hits(path: Path, num_clouds: int, seed: int = 0) -> Path:
    """Detector-hit clouds (x, y in m, charge, time) with no eta/phi: class 1 (gamma-like) hits are concentrated."""
    rng = np.random.default_rng(seed)
    label = rng.integers(0, 2, num_clouds)
    counts = rng.integers(5, 40, num_clouds)
    spread = np.repeat(np.where(label == 1, 5.0, 25.0), counts)
    hits = ak.unflatten(ak.zip({"x": rng.normal(0, spread), "y": rng.normal(0, spread),
                                "charge": rng.exponential(1, counts.sum()), "time": rng.normal(0, 5, counts.sum())}),
                        counts)
    write_jets(path, {"label_gamma": (label == 1).astype(np.int32), "label_proton": (label == 0).astype(np.int32),
                      "hit": hits})
    return path


HITS_CONFIG = {
    "data": {"node_types": {"hits": {
        "max_nodes": 64, "coordinates": ["hit_x / 10", "hit_y / 10"],
        "features": [{"name": "x", "expr": "hit_x", "center": 0.0, "scale": 0.05},
                     {"name": "y", "expr": "hit_y", "center": 0.0, "scale": 0.05},
                     {"name": "log_charge", "expr": "log(hit_charge)"}, {"name": "time", "expr": "hit_time"}]}}},
    "task": {"type": "classification", "labels": ["label_gamma", "label_proton"]},
}


@pytest.mark.parametrize("model", [{"name": "particlenet", "preset": "lite"},
                                   {"name": "transformer", "preset": "small", "pair_features": "none"},
                                   {"name": "gcn", "preset": "small"}])
def test_point_cloud_without_eta_phi_trains(tmp_path, model):
    path = write_hits(tmp_path / "hits.root", 400)
    config = validate_config({**HITS_CONFIG, "data": {**HITS_CONFIG["data"], "train": [str(path)],
                                                       "cache_dir": str(tmp_path / "cache")},
                              "model": model, "training": {"epochs": 3, "batch_size": 32, "prefetch": 0, "lr": 0.003}})
    dataset = JetDataset.from_files(DataSpec.from_config(config), [str(path)], cache_root=tmp_path / "cache",
                                    progress=False)
    raw = uproot.open(path)["Jets"].arrays(["hit_x"])
    assert np.allclose(dataset.pos.numpy()[: len(raw.hit_x[0]), 0], ak.to_numpy(raw.hit_x[0]) / 10, atol=1e-5)
    history = train(config, tmp_path / "run", progress=False)
    assert history[-1]["val_auc"] > 0.75  # concentrated vs spread clouds are easy to separate


def test_lorentz_pair_features_need_four_vectors(tmp_path):
    config = {**HITS_CONFIG, "data": {**HITS_CONFIG["data"], "train": ["hits.root"]}}
    with pytest.raises(ConfigError, match="model.pair_features: transformer's pair features need four-vectors.*"
                                          "set model.pair_features: none"):
        validate_config({**config, "model": {"name": "transformer", "preset": "small"}})
    resolved = validate_config({**config, "model": {"name": "transformer", "preset": "small", "pair_features": "none"}})
    model = build_model(resolved["model"], num_node_features=4, num_jet_features=0, out_dim=2, num_node_types=1)
    assert model.pair is None and not any("pair" in name for name, _ in model.named_parameters())
