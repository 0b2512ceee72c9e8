"""weaver-core interchange: random-weight weaver ParticleNets import into gnnjet with the same scores (1e-5), small
jets included, export back loads strictly, and bad checkpoints are refused with a one-line error."""

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
from gnnjet.predict import predict
from gnnjet.runs.checkpoint import load_checkpoint
from gnnjet.training.pretrained import import_checkpoint
from tests.conftest import write_jetclass

weaver_pn = pytest.importorskip("weaver.nn.model.ParticleNet", reason="weaver-core not installed (make install)")
weaver_part = pytest.importorskip("weaver.nn.model.ParticleTransformer", reason="weaver-core not installed")
ROOT = Path(__file__).resolve().parents[2]
ENV = {"PYTHONPATH": str(ROOT), "GNNJET_CACHE": ""}


def weaver_particlenet(num_features: int = 7, num_classes: int = 10, seed: int = 0, **options) -> torch.nn.Module:
    """weaver-core's ParticleNet as the ParT repository's example_ParticleNet.py builds it, random BN statistics
    (`options` override its arguments)."""
    torch.manual_seed(seed)
    arguments = {"conv_params": [(16, (64, 64, 64)), (16, (128, 128, 128)), (16, (256, 256, 256))],
                 "fc_params": [(256, 0.1)], "use_fusion": False, "use_fts_bn": True, "use_counts": True,
                 "for_inference": True} | options
    model = weaver_pn.ParticleNet(num_features, num_classes, **arguments)
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


def _randomise_normalisation(model: torch.nn.Module, generator: torch.Generator) -> None:
    """BatchNorm statistics and affine parameters, LayerNorm affines, ParT's head/residual scales off their
    defaults, so that a mapping mistake in any of them changes the outputs."""
    def uniform(tensor: torch.Tensor, low: float, high: float) -> None:
        tensor.data.copy_(torch.rand(tensor.shape, generator=generator) * (high - low) + low)

    for name, module in model.named_modules():
        if isinstance(module, (torch.nn.BatchNorm1d, torch.nn.BatchNorm2d)):
            uniform(module.running_mean, -0.5, 0.5)
            uniform(module.running_var, 0.5, 2.0)
        if isinstance(module, (torch.nn.BatchNorm1d, torch.nn.BatchNorm2d, torch.nn.LayerNorm)):
            uniform(module.weight, 0.5, 1.5)
            uniform(module.bias, -0.3, 0.3)
    for name, parameter in model.named_parameters():
        if name.endswith(("c_attn", "w_resid")):
            uniform(parameter, 0.5, 1.5)


def weaver_transformer(num_features: int = 7, num_classes: int = 10, seed: int = 0, **options) -> torch.nn.Module:
    """weaver-core's ParticleTransformer as the ParT repository's example_ParticleTransformer.py builds it."""
    torch.manual_seed(seed)
    arguments = {"block_params": None, "trim": True} | options
    model = weaver_part.ParticleTransformer(
        num_features, num_classes, pair_input_dim=4, use_pre_activation_pair=False, embed_dims=[128, 512, 128],
        pair_embed_dims=[64, 64, 64], num_heads=8, num_layers=8, num_cls_layers=2,
        cls_block_params={"dropout": 0, "attn_dropout": 0, "activation_dropout": 0}, fc_params=[],
        activation="gelu", **arguments)
    _randomise_normalisation(model, torch.Generator().manual_seed(seed))
    return model.eval()


def jets_with_four_vectors(sizes: list[int], num_features: int = 7, length: int = 128, seed: int = 2):
    """weaver's padded (features, four-vectors, mask) and the same jets as a PyG Batch (x, p4)."""
    generator = torch.Generator().manual_seed(seed)
    features, vectors = torch.zeros(len(sizes), num_features, length), torch.zeros(len(sizes), 4, length)
    mask = torch.zeros(len(sizes), 1, length, dtype=torch.bool)
    jets = []
    for i, n in enumerate(sizes):
        f = torch.randn(num_features, n, generator=generator)
        pt = 1 + 50 * torch.rand(n, generator=generator)
        eta, phi = 0.4 * torch.randn(n, generator=generator) + 1.0, 0.4 * torch.randn(n, generator=generator)
        mass = 0.14 * (torch.rand(n, generator=generator) < 0.6)
        pz = pt * torch.sinh(eta)
        p4 = torch.stack([pt * torch.cos(phi), pt * torch.sin(phi), pz, torch.sqrt(pt**2 + pz**2 + mass**2)])
        features[i, :, :n], vectors[i, :, :n], mask[i, :, :n] = f, p4, True
        jets.append(Data(x=f.T.contiguous(), p4=p4.T.contiguous(), node_type=torch.zeros(n, dtype=torch.long),
                         u=torch.zeros(1, 0)))
    return (features, vectors, mask), Batch.from_data_list(jets)


def imported(reference: torch.nn.Module, num_features: int = 7, num_classes: int = 10,
             family: str = "particlenet") -> torch.nn.Module:
    model = build_model({"name": family, "preset": "weaver"}, num_features, 0, num_classes, num_node_types=1)
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


def test_transformer_scores_equal_weavers_small_jets_included():
    reference = weaver_transformer()
    model = imported(reference, family="transformer")
    assert sum(p.numel() for p in model.parameters()) == sum(p.numel() for p in reference.parameters())
    weaver_inputs, batch = jets_with_four_vectors([3, 1, 2, 17, 40, 128, 5])
    with torch.no_grad():
        expected = torch.softmax(reference(*weaver_inputs), dim=1)
        scores = torch.softmax(model(batch), dim=1)
    assert torch.allclose(scores, expected, atol=1e-5, rtol=0)
    assert not torch.allclose(scores[0], scores[1], atol=1e-3)


def _emulate_weaver_before_0_5(block: torch.nn.Module, head_scale: torch.Tensor) -> None:
    """Make a weaver-core 0.5 block compute as weaver-core < 0.5 did: the head scale applied with
    einsum('tbhd,h->tbdh'), which transposes heads and channels (its own c_attn set to 1)."""
    attention, heads = block.attn.forward, block.num_heads

    def forward(*args, **kwargs):
        out, weights = attention(*args, **kwargs)
        batch, length, dim = out.shape
        out = torch.einsum("bthd,h->btdh", out.view(batch, length, heads, dim // heads), head_scale)
        return out.reshape(batch, length, dim), weights

    block.attn.forward = forward
    block.c_attn.data.fill_(1.0)


def test_transformer_checkpoints_of_weaver_before_0_5_import_with_the_same_scores():
    """The published ParT_*.pt come from nn.MultiheadAttention (in_proj_weight) and the transposing head scale."""
    reference = weaver_transformer(seed=7)
    legacy_state = {}
    for key, value in reference.state_dict().items():
        legacy_state[key.replace("attn.in_proj.weight", "attn.in_proj_weight")
                     .replace("attn.in_proj.bias", "attn.in_proj_bias")] = value.clone()
    for name, block in [*[(f"blocks.{i}", b) for i, b in enumerate(reference.blocks)],
                        *[(f"cls_blocks.{i}", b) for i, b in enumerate(reference.cls_blocks)]]:
        _emulate_weaver_before_0_5(block, legacy_state[f"{name}.c_attn"])
    model = build_model({"name": "transformer", "preset": "weaver"}, 7, 0, 10, num_node_types=1)
    model.load_state_dict(weaver_to_gnnjet(legacy_state, model))
    weaver_inputs, batch = jets_with_four_vectors([2, 9, 60], seed=8)
    with torch.no_grad():
        expected = torch.softmax(reference(*weaver_inputs), dim=1)
        scores = torch.softmax(model.eval()(batch), dim=1)
    assert torch.allclose(scores, expected, atol=1e-5, rtol=0)


def test_transformer_export_round_trip_loads_strictly():
    reference = weaver_transformer(seed=3)
    back = weaver_transformer(seed=4)
    back.load_state_dict(gnnjet_to_weaver(imported(reference, family="transformer")), strict=True)
    weaver_inputs, _ = jets_with_four_vectors([4, 30, 100])
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
    transformer = build_model({"name": "transformer", "preset": "weaver"}, 7, 0, 10, num_node_types=1)
    with pytest.raises(GnnjetError, match=r"a weaver-core particlenet checkpoint needs model \{name: particlenet, "
                                          r"preset: weaver\}, but the config's model is transformer"):
        weaver_to_gnnjet(weaver_particlenet().state_dict(), transformer)
    part_state = {k: v for k, v in weaver_transformer(num_features=17).state_dict().items()}
    with pytest.raises(GnnjetError, match=r"embed\.input_bn\.weight has shape \(17,\) but the model expects \(7,\)"):
        weaver_to_gnnjet(part_state, transformer)
    lite = build_model({"name": "particlenet", "preset": "lite"}, 7, 0, 10, num_node_types=3)
    with pytest.raises(GnnjetError, match=r"only models \{name: particlenet, preset: weaver\}"):
        weaver_to_gnnjet(weaver_particlenet().state_dict(), lite)
    torch.save(weaver_particlenet().state_dict(), tmp_path / "pn.pt")
    (tmp_path / "truncated.pt").write_bytes((tmp_path / "pn.pt").read_bytes()[:5000])
    with pytest.raises(GnnjetError, match=r"truncated\.pt is damaged or not a weights-only checkpoint"):
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


PID = ["part_charge", "part_isChargedHadron", "part_isNeutralHadron", "part_isPhoton", "part_isElectron",
       "part_isMuon"]


def jetclass_inputs(path: Path, variant: str) -> tuple[torch.Tensor, ...]:
    """weaver's (points, features, four-vectors, mask) of a JetClass file, built as the ParT repository's
    JetClass_{kin,kinpid,full}.yaml build them (independently of gnnjet's reader and preprocessing):
    (x - subtract) * multiply clipped to [lo, hi] (default +-5), or the raw value for `null`."""
    import awkward as ak

    raw = uproot.open(path)["tree"].arrays(library="ak")
    pt = np.hypot(raw.part_px, raw.part_py)
    variables = [(np.log(pt), 1.7, 0.7), (np.log(raw.part_energy), 2.0, 0.7), (np.log(pt / raw.jet_pt), -4.7, 0.7),
                 (np.log(raw.part_energy / raw.jet_energy), -4.7, 0.7),
                 (np.hypot(raw.part_deta, raw.part_dphi), 0.2, 4.0)]
    if variant in ("kinpid", "full"):
        variables += [(raw[name], None, None) for name in PID]
    if variant == "full":
        variables += [(np.tanh(raw.part_d0val), None, None), (raw.part_d0err, 0.0, 1.0, 0.0, 1.0),
                      (np.tanh(raw.part_dzval), None, None), (raw.part_dzerr, 0.0, 1.0, 0.0, 1.0)]
    variables += [(raw.part_deta, None, None), (raw.part_dphi, None, None)]

    def padded(values) -> np.ndarray:
        return ak.to_numpy(ak.fill_none(ak.pad_none(values, 128, clip=True), 0.0)).astype(np.float32)

    def transformed(values, subtract, multiply, lo=-5.0, hi=5.0) -> np.ndarray:
        return padded(values) if subtract is None else np.clip((padded(values) - subtract) * multiply, lo, hi)

    counts = ak.to_numpy(ak.num(raw.part_px))
    mask = np.arange(128)[None, None, :] < counts[:, None, None]
    features = np.stack([transformed(*v) for v in variables], axis=1)
    points = np.stack([padded(raw.part_deta), padded(raw.part_dphi)], axis=1)
    vectors = np.stack([padded(raw[f"part_{c}"]) for c in ("px", "py", "pz", "energy")], axis=1)
    return tuple(torch.from_numpy(a) for a in (points, features * mask, vectors * mask, mask))


@pytest.mark.parametrize("family, variant", [(f, v) for f in ("particlenet", "transformer")
                                             for v in ("kin", "kinpid", "full")])
def test_official_shaped_checkpoint_imports_and_predicts(tmp_path, monkeypatch, family, variant):
    """A checkpoint shaped like the published ParticleNet_/ParT_{kin,kinpid,full}.pt (mod. prefix) + the matching
    configs/public/jetclass_<variant>_<family>.yaml predicts what weaver-core predicts on the same JetClass file."""
    num_features = {"kin": 7, "kinpid": 13, "full": 17}[variant]
    reference = (weaver_particlenet(num_features, seed=5) if family == "particlenet"
                 else weaver_transformer(num_features, seed=5))
    file_name = f"{'ParticleNet' if family == 'particlenet' else 'ParT'}_{variant}.pt"
    torch.save({f"mod.{k}": v for k, v in reference.state_dict().items()}, tmp_path / file_name)
    data = write_jetclass(tmp_path / "jetclass.root", 24, seed=6, min_particles=2, max_particles=80)
    config = ROOT / f"configs/public/jetclass_{variant}_{family}.yaml"
    if variant == "kin":  # through the command lines once per family
        from tests.cli import run_bin

        monkeypatch.setenv("GNNJET_CACHE", str(tmp_path / "cache"))
        result = run_bin("import_weights.py", "--from", "weaver", "-w", tmp_path / file_name, "-c", config, "-o",
                         tmp_path / "model")
        assert result.returncode == 0, result.stderr
        result = run_bin("predict.py", "-m", tmp_path / "model", "-i", data, "-o", tmp_path / "pred.root")
        assert result.returncode == 0, result.stderr
    else:
        settings = load_config(config)
        settings["data"]["cache_dir"] = str(tmp_path / "cache")
        import_checkpoint(tmp_path / file_name, settings, tmp_path / "model")
        predict(tmp_path / "model", [str(data)], tmp_path / "pred.root", progress=False)
    scores = uproot.open(tmp_path / "pred.root")["Jets"].arrays(library="np")
    labels = load_config(config)["task"]["labels"]
    predicted = np.stack([scores[f"score_{label}"] for label in labels], axis=1)
    points, features, vectors, mask = jetclass_inputs(data, variant)
    with torch.no_grad():
        if family == "particlenet":
            expected = reference(points, features, mask).numpy()
        else:
            expected = torch.softmax(reference(features, vectors, mask), dim=1).numpy()
    assert np.allclose(predicted, expected, atol=1e-5)


@pytest.mark.parametrize("family", ["particlenet", "transformer"])
def test_output_layer_of_another_class_count_is_replaced_only_on_request(family):
    reference = weaver_particlenet() if family == "particlenet" else weaver_transformer()
    model = build_model({"name": family, "preset": "weaver"}, 7, 0, 2, num_node_types=1)
    last = len(model.head.lins) - 1
    with pytest.raises(GnnjetError, match=rf"fc\.{last}\.weight has shape \(10, \d+\) but the model expects \(2, "):
        weaver_to_gnnjet(reference.state_dict(), model)
    state = weaver_to_gnnjet(reference.state_dict(), model, replace_output=True)
    assert set(model.state_dict()) - set(state) == {f"head.lins.{last}.weight", f"head.lins.{last}.bias"}
    missing, unexpected = model.load_state_dict(state, strict=False)
    assert not unexpected and len(missing) == 2


def test_import_into_a_trained_run_follows_the_run_directory_rules(tmp_path):
    """bin/import_weights.py -o on a directory holding a trained run: refused (the run's files unchanged), and
    with --overwrite the run is replaced whole (no metrics.csv or train.log of the old run left behind)."""
    import hashlib

    from gnnjet.training.trainer import train
    from tests.training.test_trainer import tiny_config

    train(tiny_config(tmp_path, epochs=1), tmp_path / "model", progress=False)

    def digests():  # the run's files (not its lock, which records the last process that held it)
        return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in (tmp_path / "model").iterdir()
                if p.is_file() and p.name != ".lock"}

    before = digests()
    torch.save({f"mod.{k}": v for k, v in weaver_particlenet().state_dict().items()}, tmp_path / "ParticleNet_kin.pt")
    from tests.cli import run_bin

    command = ["-w", tmp_path / "ParticleNet_kin.pt", "-c", ROOT / "configs/public/jetclass_kin_particlenet.yaml",
               "-o", tmp_path / "model"]
    refused = run_bin("import_weights.py", *command)
    assert refused.returncode == 1 and "already holds a run" in refused.stderr and "Traceback" not in refused.stderr
    assert digests() == before
    replaced = run_bin("import_weights.py", *command, "--overwrite")
    assert replaced.returncode == 0, replaced.stderr
    left = {p.name for p in (tmp_path / "model").iterdir() if not p.name.startswith(".")}
    assert left == {"config.yaml", "preprocess.json", "best.pt", "last.pt"}
    assert torch.load(tmp_path / "model" / "best.pt", weights_only=True)["source"]["from"] == "weaver"
