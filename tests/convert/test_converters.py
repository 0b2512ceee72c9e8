"""Public-dataset converters: each round-trips a small synthetic file of its format, and a model trains on the
output."""

from pathlib import Path

import awkward as ak
import h5py
import numpy as np
import pytest
import uproot

from gnnjet.config import load_config, validate_config
from gnnjet.convert import convert
from gnnjet.errors import DataError, GnnjetError
from gnnjet.training.trainer import train
from tests.conftest import write_jetclass

ROOT = Path(__file__).resolve().parents[2]
PIDS = np.array([211, -211, 22, 130, 2112, -11, 13, 321, -2212])


def write_energyflow(path: Path, num_jets: int, seed: int = 0,
                     max_particles: int = 40) -> tuple[np.ndarray, np.ndarray]:
    """An EnergyFlow-format npz: X[N, M, 4] = (pt, rapidity, phi, pid) zero-padded, y[N]."""
    rng = np.random.default_rng(seed)
    counts = rng.integers(2, max_particles + 1, num_jets)
    X = np.zeros((num_jets, max_particles, 4))
    for i, n in enumerate(counts):
        X[i, :n, 0] = np.sort(rng.exponential(20, n))[::-1] + 0.1
        X[i, :n, 1] = rng.normal(0.5, 0.2, n)
        X[i, :n, 2] = rng.normal(1.0, 0.2, n)
        X[i, :n, 3] = rng.choice(PIDS, n)
    y = rng.integers(0, 2, num_jets).astype(np.float64)
    np.savez_compressed(path, X=X, y=y)
    return X, y


def test_energyflow_round_trip(tmp_path):
    X, y = write_energyflow(tmp_path / "QG_jets.npz", 50)
    (out,) = convert("energyflow-qg", [str(tmp_path / "QG_jets.npz")], tmp_path / "out", chunk_size=16, progress=False)
    jets = ak.from_parquet(out)
    assert len(jets) == 50
    assert np.array_equal(ak.to_numpy(jets.label_q), y == 1) and np.array_equal(ak.to_numpy(jets.label_g), y == 0)
    jet = 3
    real = X[jet, X[jet, :, 0] > 0]
    charged = np.isin(np.abs(real[:, 3]), [211, 11, 13, 321, 2212])
    assert np.allclose(ak.to_numpy(jets.ch_pt[jet]), real[charged, 0])
    assert np.allclose(ak.to_numpy(jets.ne_pt[jet]), real[~charged, 0])
    assert np.array_equal(ak.to_numpy(jets.ch_id[jet]), real[charged, 3].astype(int))
    charges = {211: 1, -211: -1, -11: 1, 13: -1, 321: 1, -2212: -1}
    assert np.array_equal(ak.to_numpy(jets.ch_charge[jet]), [charges[int(p)] for p in real[charged, 3]])
    # photons are massless: pseudorapidity equals rapidity; a pion's differs by its mass
    photon = real[:, 3] == 22
    if photon.any():
        assert np.allclose(np.sort(ak.to_numpy(jets.ne_eta[jet][ak.to_numpy(jets.ne_id[jet]) == 22])),
                           np.sort(real[photon, 1]))
    assert np.all(ak.to_numpy(jets.nch) + ak.to_numpy(jets.nne) == (X[:, :, 0] > 0).sum(axis=1))
    pt_sum = (X[:, :, 0] * np.cos(X[:, :, 2])).sum(1), (X[:, :, 0] * np.sin(X[:, :, 2])).sum(1)
    assert np.allclose(jets.pt, np.hypot(*pt_sum))


def write_top_landscape(path: Path, num_jets: int, seed: int = 0, size: int = 200) -> np.ndarray:
    """A Top Tagging Reference Dataset-format HDF5 (pandas 'fixed' layout under key 'table')."""
    rng = np.random.default_rng(seed)
    counts = rng.integers(3, 60, num_jets)
    values = np.zeros((num_jets, 4, size), np.float32)
    for i, n in enumerate(counts):
        pt, eta, phi = np.sort(rng.exponential(30, n))[::-1] + 1, rng.normal(0, 0.3, n), rng.normal(0.5, 0.3, n)
        values[i, :, :n] = [pt * np.cosh(eta), pt * np.cos(phi), pt * np.sin(phi), pt * np.sinh(eta)]
    names = [f"{c}_{i}" for c in ("E", "PX", "PY", "PZ") for i in range(size)]
    signal = rng.integers(0, 2, num_jets)
    with h5py.File(path, "w") as f:
        group = f.create_group("table")
        group["axis0"] = np.array([n.encode() for n in names + ["ttv", "is_signal_new"]])
        group["block0_items"] = np.array([n.encode() for n in names])
        group["block0_values"] = values.reshape(num_jets, -1)
        group["block1_items"] = np.array([b"ttv", b"is_signal_new"])
        group["block1_values"] = np.stack([np.zeros(num_jets, np.int64), signal], axis=1)
    return values, signal


def test_top_landscape_round_trip(tmp_path):
    values, signal = write_top_landscape(tmp_path / "train.h5", 30)
    (out,) = convert("top-landscape", [str(tmp_path / "train.h5")], tmp_path / "out", chunk_size=7, progress=False)
    jets = ak.from_parquet(out)
    assert np.array_equal(ak.to_numpy(jets.label_top), signal == 1)
    assert np.array_equal(ak.to_numpy(jets.label_qcd), signal == 0)
    jet = 5
    real = values[jet, 0] > 0
    assert np.allclose(ak.to_numpy(jets.part_energy[jet]), values[jet, 0, real])
    assert np.allclose(ak.to_numpy(jets.part_pz[jet]), values[jet, 3, real])
    assert np.allclose(jets.energy[jet], values[jet, 0].sum(), rtol=1e-6)
    assert np.allclose(ak.to_numpy(jets.part_pt[jet]), np.hypot(values[jet, 1, real], values[jet, 2, real]), rtol=1e-6)
    assert abs(float(ak.sum(jets.part_deta[jet] * jets.part_pt[jet]))) < 0.05 * float(jets.pt[jet])  # around the axis


def test_top_landscape_deta_follows_the_part_repository_convention(tmp_path):
    """part_deta = (eta - jet eta) * sign(jet eta): backward jets are flipped; part_dphi = phi - jet phi, wrapped."""
    write_top_landscape(tmp_path / "train.h5", 30)
    (out,) = convert("top-landscape", [str(tmp_path / "train.h5")], tmp_path / "out", progress=False)
    jets = ak.from_parquet(out)
    backward = ak.to_numpy(jets.eta) < 0
    assert 0 < backward.sum() < len(backward)
    sign = ak.Array(np.where(backward, -1.0, 1.0))
    assert ak.all(abs(jets.part_deta - (jets.part_eta - jets.eta) * sign) < 1e-9)
    assert not ak.all(abs(jets.part_deta - (jets.part_eta - jets.eta)) < 1e-6)  # differs from the unflipped
    dphi = jets.part_phi - jets.phi
    assert ak.all(abs(np.remainder(dphi - jets.part_dphi + np.pi, 2 * np.pi) - np.pi) < 1e-9)


def test_jetclass_round_trip(tmp_path):
    path = write_jetclass(tmp_path / "HToBB_120.root", 25)
    (out,) = convert("jetclass", [str(path)], tmp_path / "out", fmt="root", progress=False)
    raw = uproot.open(path)["tree"].arrays()
    jets = uproot.open(out)["Jets"].arrays()
    charged = raw.part_charge != 0
    assert np.array_equal(ak.to_numpy(ak.num(jets.ch_pt)), ak.to_numpy(ak.num(raw.part_px[charged])))
    assert np.array_equal(ak.to_numpy(ak.num(jets.ne_pt)), ak.to_numpy(ak.num(raw.part_px[~charged])))
    assert np.allclose(ak.flatten(jets.ch_dxy), ak.flatten(raw.part_d0val[charged]))
    assert np.array_equal(ak.to_numpy(jets.label_Hbb), ak.to_numpy(raw.label_Hbb)) and np.allclose(jets.pt, raw.jet_pt)
    electrons = ak.flatten(jets.ch_id[jets.ch_is_electron != 0])
    assert set(np.abs(ak.to_numpy(electrons))) <= {11}


def test_errors_name_file_and_column(tmp_path):
    with pytest.raises(GnnjetError, match="unknown dataset 'cms-open'"):
        convert("cms-open", [], tmp_path)
    (tmp_path / "x.npz").write_bytes(b"garbage")
    with pytest.raises(DataError, match=r"x\.npz: not a readable \.npz"):
        convert("energyflow-qg", [str(tmp_path / "x.npz")], tmp_path / "o", progress=False)
    with pytest.raises(DataError, match=r"jets\.root: a top-landscape input must be a \.h5 or \.hdf5 file"):
        (tmp_path / "jets.root").write_bytes(b"")
        convert("top-landscape", [str(tmp_path / "jets.root")], tmp_path / "o", progress=False)
    np.savez(tmp_path / "noy.npz", X=np.zeros((2, 3, 4)))
    with pytest.raises(DataError, match=r"noy\.npz: no array 'y'"):
        convert("energyflow-qg", [str(tmp_path / "noy.npz")], tmp_path / "o", progress=False)
    values, _ = write_top_landscape(tmp_path / "t.h5", 3)
    with h5py.File(tmp_path / "t.h5", "a") as f:
        f["table/block1_items"][...] = np.array([b"ttv", b"is_signal"])
    with pytest.raises(DataError, match=r"t\.h5: column 'is_signal_new' is not in the DataFrame"):
        convert("top-landscape", [str(tmp_path / "t.h5")], tmp_path / "o", progress=False)


@pytest.mark.parametrize("dataset, config_name", [("energyflow-qg", "energyflow_qg_particlenet"),
                                                  ("top-landscape", "top_landscape_transformer")])
def test_model_trains_on_converted_output(tmp_path, dataset, config_name):
    if dataset == "energyflow-qg":
        write_energyflow(tmp_path / "QG_jets.npz", 200)
        source = tmp_path / "QG_jets.npz"
    else:
        write_top_landscape(tmp_path / "train.h5", 200)
        source = tmp_path / "train.h5"
    (out,) = convert(dataset, [str(source)], tmp_path / "out", progress=False)
    config = load_config(ROOT / f"configs/public/{config_name}.yaml")
    config["data"] |= {"train": [str(out)], "val": [], "test": [], "val_fraction": 0.25,
                       "cache_dir": str(tmp_path / "cache")}
    config["model"] = ({"name": "particlenet", "preset": "lite"} if "particlenet" in config_name
                       else {"name": "transformer", "preset": "small"})
    config["training"] |= {"epochs": 1, "batch_size": 32, "prefetch": 0}
    history = train(validate_config(config), tmp_path / "run", progress=False)
    assert len(history) == 1 and np.isfinite(history[0]["val_loss"])
