"""weaver-core interchange: random-weight weaver ParticleNets import into gnnjet with the same scores (1e-5), small
jets included, export back loads strictly, and bad checkpoints are refused with a one-line error."""

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
import uproot
from torch_geometric.data import Batch, Data

from gnnjet.config import load_config
from gnnjet.errors import GnnjetError
from gnnjet.nn.registry import build_model
from gnnjet.nn.weaver import gnnjet_to_weaver, read_state_dict, weaver_to_gnnjet
from gnnjet.train.checkpoint import load_checkpoint
from tests.conftest import write_jetclass

weaver_pn = pytest.importorskip("weaver.nn.model.ParticleNet", reason="weaver-core not installed (make install)")
ROOT = Path(__file__).resolve().parents[2]
ENV = {"PYTHONPATH": str(ROOT), "GNNJET_CACHE": ""}


def weaver_particlenet(num_features: int = 7, num_classes: int = 10, seed: int = 0) -> torch.nn.Module:
    """weaver-core's ParticleNet as the ParT repository's example_ParticleNet.py builds it, random BN statistics."""
    torch.manual_seed(seed)
    model = weaver_pn.ParticleNet(num_features, num_classes,
                                  conv_params=[(16, (64, 64, 64)), (16, (128, 128, 128)), (16, (256, 256, 256))],
                                  fc_params=[(256, 0.1)], use_fusion=False, use_fts_bn=True, use_counts=True,
                                  for_inference=True)
    for module in model.modules():
        if isinstance(module, (torch.nn.BatchNorm1d, torch.nn.BatchNorm2d)):
            module.running_mean.uniform_(-0.5, 0.5)
            module.running_var.uniform_(0.5, 2.0)
            module.weight.data.uniform_(0.5, 1.5)
            module.bias.data.uniform_(-0.3, 0.3)
    return model.eval()


def padded_inputs(sizes: list[int], num_features: int = 7, length: int = 128, seed: int = 1):
    """weaver's padded (points, features, mask) and the same jets as a PyG Batch."""
    generator = torch.Generator().manual_seed(seed)
    points, features = torch.zeros(len(sizes), 2, length), torch.zeros(len(sizes), num_features, length)
    mask = torch.zeros(len(sizes), 1, length, dtype=torch.bool)
    jets = []
    for i, n in enumerate(sizes):
        p, f = torch.randn(2, n, generator=generator) * 0.3, torch.randn(num_features, n, generator=generator)
        points[i, :, :n], features[i, :, :n], mask[i, :, :n] = p, f, True
        jets.append(Data(x=f.T.contiguous(), pos=p.T.contiguous(), node_type=torch.zeros(n, dtype=torch.long),
                         u=torch.zeros(1, 0)))
    return (points, features, mask), Batch.from_data_list(jets)


def imported(reference: torch.nn.Module, num_features: int = 7, num_classes: int = 10) -> torch.nn.Module:
    model = build_model({"name": "particlenet", "preset": "weaver"}, num_features, 0, num_classes, num_node_types=1)
    state = {f"mod.{k}": v for k, v in reference.state_dict().items()}  # as the ParT repository saves them
    model.load_state_dict(weaver_to_gnnjet({k[4:]: v for k, v in state.items()}, model))
    return model.eval()


def test_particlenet_scores_equal_weavers_small_jets_included():
    reference = weaver_particlenet()
    model = imported(reference)
    weaver_inputs, batch = padded_inputs([3, 1, 2, 16, 17, 40, 128, 5, 9])
    with torch.no_grad():
        expected = reference(*weaver_inputs)
        scores = torch.softmax(model(batch), dim=1)
    assert torch.allclose(scores, expected, atol=1e-5, rtol=0)
    assert not torch.allclose(scores[0], scores[1], atol=1e-3)  # the comparison is not between constant outputs


def test_export_round_trip_loads_strictly():
    reference = weaver_particlenet(seed=3)
    back = weaver_particlenet(seed=4)
    back.load_state_dict(gnnjet_to_weaver(imported(reference)), strict=True)
    weaver_inputs, _ = padded_inputs([4, 30, 100])
    with torch.no_grad():
        assert torch.equal(back.eval()(*weaver_inputs), reference(*weaver_inputs))


def test_wrong_checkpoints_are_refused(tmp_path):
    model = build_model({"name": "particlenet", "preset": "weaver"}, 7, 0, 10, num_node_types=1)
    other_features = {k: v for k, v in weaver_particlenet(num_features=17).state_dict().items()}
    with pytest.raises(GnnjetError, match=r"bn_fts\.weight has shape \(17,\) but the model expects \(7,\)"):
        weaver_to_gnnjet(other_features, model)
    state = dict(weaver_particlenet().state_dict())
    state.pop("edge_convs.2.sc.weight")
    with pytest.raises(GnnjetError, match=r"missing key edge_convs\.2\.sc\.weight"):
        weaver_to_gnnjet(state, model)
    state = {**weaver_particlenet().state_dict(), "fusion_block.0.weight": torch.zeros(1)}
    with pytest.raises(GnnjetError, match=r"unexpected key fusion_block\.0\.weight"):
        weaver_to_gnnjet(state, model)
    lite = build_model({"name": "particlenet", "preset": "lite"}, 7, 0, 10)
    with pytest.raises(GnnjetError, match=r"needs model \{name: particlenet, preset: weaver\}"):
        weaver_to_gnnjet(weaver_particlenet().state_dict(), lite)
    torch.save(weaver_particlenet().state_dict(), tmp_path / "pn.pt")
    (tmp_path / "truncated.pt").write_bytes((tmp_path / "pn.pt").read_bytes()[:5000])
    with pytest.raises(GnnjetError, match=r"truncated\.pt: cannot read it as a weights-only"):
        read_state_dict(tmp_path / "truncated.pt")


class _Payload:
    def __reduce__(self):
        return (Path.touch, (Path(__file__).parent / "PWNED",))


def test_a_pickle_that_needs_code_is_refused_never_run(tmp_path):
    marker = Path(__file__).parent / "PWNED"
    for name in ("evil.pt", "best.pt"):
        torch.save({"model": _Payload()}, tmp_path / name)
    with pytest.raises(GnnjetError, match="evil.pt"):
        read_state_dict(tmp_path / "evil.pt")
    with pytest.raises(GnnjetError, match=r"best\.pt is damaged or not a weights-only checkpoint"):
        load_checkpoint(tmp_path / "best.pt")
    assert not marker.exists()


def test_official_shaped_checkpoint_imports_and_predicts(tmp_path):
    """A checkpoint shaped like ParticleNet_kin.pt (mod. prefix) + configs/public/jetclass_kin_particlenet.yaml."""
    reference = weaver_particlenet(seed=5)
    torch.save({f"mod.{k}": v for k, v in reference.state_dict().items()}, tmp_path / "ParticleNet_kin.pt")
    data = write_jetclass(tmp_path / "jetclass.root", 30, seed=6, min_particles=2, max_particles=80)
    run = [sys.executable, str(ROOT / "bin/import_weights.py"), "--from", "weaver", "-w", str(tmp_path / "ParticleNet_kin.pt"),
           "-c", str(ROOT / "configs/public/jetclass_kin_particlenet.yaml"), "-o", str(tmp_path / "model")]
    result = subprocess.run(run, capture_output=True, text=True, env={**ENV, "PATH": "/usr/bin"})
    assert result.returncode == 0, result.stderr
    result = subprocess.run([sys.executable, str(ROOT / "bin/predict.py"), "-m", str(tmp_path / "model"), "-i", str(data),
                             "-o", str(tmp_path / "pred.root")], capture_output=True, text=True,
                            env={**ENV, "PATH": "/usr/bin", "GNNJET_CACHE": str(tmp_path / "cache")})
    assert result.returncode == 0, result.stderr
    scores = uproot.open(tmp_path / "pred.root")["Jets"].arrays(library="np")
    config = load_config(ROOT / "configs/public/jetclass_kin_particlenet.yaml")
    labels = config["task"]["labels"]
    predicted = np.stack([scores[f"score_{label}"] for label in labels], axis=1)
    # the same jets through weaver-core, inputs built as the ParT repository's JetClass_kin.yaml builds them
    raw = uproot.open(data)["tree"].arrays(library="ak")
    import awkward as ak

    pt = np.hypot(raw.part_px, raw.part_py)
    variables = [(np.log(pt), 1.7, 0.7), (np.log(raw.part_energy), 2.0, 0.7), (np.log(pt / raw.jet_pt), -4.7, 0.7),
                 (np.log(raw.part_energy / raw.jet_energy), -4.7, 0.7),
                 (np.hypot(raw.part_deta, raw.part_dphi), 0.2, 4.0), (raw.part_deta, None, None),
                 (raw.part_dphi, None, None)]
    counts = ak.to_numpy(ak.num(raw.part_px))
    features = np.zeros((len(counts), 7, 128), np.float32)
    points = np.zeros((len(counts), 2, 128), np.float32)
    mask = np.arange(128)[None, None, :] < counts[:, None, None]
    for j, (values, center, scale) in enumerate(variables):
        padded = ak.to_numpy(ak.fill_none(ak.pad_none(values, 128, clip=True), 0.0)).astype(np.float32)
        features[:, j] = padded if center is None else np.clip((padded - center) * scale, -5, 5)
    for j, values in enumerate((raw.part_deta, raw.part_dphi)):
        points[:, j] = ak.to_numpy(ak.fill_none(ak.pad_none(values, 128, clip=True), 0.0))
    with torch.no_grad():
        expected = reference(torch.from_numpy(points), torch.from_numpy(features * mask), torch.from_numpy(mask)).numpy()
    assert np.allclose(predicted, expected, atol=1e-5)
