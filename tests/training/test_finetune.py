"""Fine-tuning (training.pretrained / bin/train.py --pretrained): weights loaded, output layer replaced, its learning
rate multiplied, the backbone frozen on request, the start recorded; mismatches are one-line errors."""

import csv

import pytest
import torch
import yaml

from gnnjet.config import validate_config
from gnnjet.errors import ConfigError, GnnjetError
from gnnjet.nn.registry import build_model
from gnnjet.runs.checkpoint import load_checkpoint
from gnnjet.training.distributed import init_context
from gnnjet.training.pretrained import freeze, sha256
from gnnjet.training.trainer import Trainer, train
from tests.cli import run_bin
from tests.training.test_trainer import ROOT, tiny_config


@pytest.fixture(scope="module")
def pretrained_run(tmp_path_factory):
    """A 2-class q/g model directory (DeepSets with BatchNorm, so that frozen statistics can be checked)."""
    tmp = tmp_path_factory.mktemp("pretrained")
    config = tiny_config(tmp, epochs=1)
    config["model"]["norm"] = "batch_norm"
    train(validate_config(config), tmp / "run", progress=False)
    return tmp / "run"


def regression_config(tmp_path, pretrained, **training):
    """The same inputs and model as the pretrained run, but JEC regression: 1 output instead of 2."""
    config = tiny_config(tmp_path, epochs=2, seed=1)
    config["model"]["norm"] = "batch_norm"
    config["task"] = {"type": "regression", "target": "log(pt_gen / pt)", "loss": "huber", "labels": None,
                      "target_abs_max": None}
    config["training"].update(pretrained=str(pretrained), **training)
    return validate_config(config)


def trainer_for(config, out):
    trainer = Trainer(config, out, init_context(None), progress=False)
    trainer.setup(resume=False)
    return trainer


def test_loads_weights_replaces_output_layer_and_multiplies_its_learning_rate(pretrained_run, tmp_path):
    trainer = trainer_for(regression_config(tmp_path, pretrained_run), tmp_path / "ft")
    source = load_checkpoint(pretrained_run / "best.pt")["model"]
    state = trainer.model.state_dict()
    output = [k for k in state if k.startswith(f"head.lins.{len(trainer.model.head.lins) - 1}.")]
    assert state[output[0]].shape[0] == 1 and source[output[0]].shape[0] == 2  # replaced: 2 classes -> 1 output
    assert all(torch.equal(state[k], source[k]) for k in state if k not in output)
    groups = {g["name"]: g for g in trainer.optimizer.param_groups}
    assert groups["fast"]["lr"] == pytest.approx(50 * groups["base"]["lr"])
    assert {id(p) for p in groups["fast"]["params"]} == {id(p) for n, p in trainer.model.named_parameters()
                                                         if n in output}
    # the pretrained preprocessing is reused, not refitted on the new jets
    assert (tmp_path / "ft" / "preprocess.json").read_text() == (pretrained_run / "preprocess.json").read_text()


def test_frozen_backbone_keeps_weights_and_batchnorm_statistics(pretrained_run, tmp_path):
    config = regression_config(tmp_path, pretrained_run, freeze=["backbone"], head_lr_mult=10.0)
    trainer = trainer_for(config, tmp_path / "ft")
    before = {k: v.clone() for k, v in trainer.model.state_dict().items()}
    trainer.fit()
    after = trainer.model.state_dict()
    backbone = [k for k in before if not k.startswith("head.")]
    assert any("running_mean" in k for k in backbone)
    assert all(torch.equal(before[k], after[k]) for k in backbone)
    assert any(not torch.equal(before[k], after[k]) for k in after if k.startswith("head."))
    groups = {g["name"]: g["lr"] for g in trainer.optimizer.param_groups}
    assert groups["fast"] == pytest.approx(10 * groups["base"], rel=1e-6)
    assert all(p.requires_grad == n.startswith("head.") for n, p in trainer.model.named_parameters())


def test_unfrozen_fine_tuning_changes_the_backbone_and_records_the_start(pretrained_run, tmp_path):
    history = train(regression_config(tmp_path, pretrained_run), tmp_path / "ft", progress=False)
    first = load_checkpoint(pretrained_run / "best.pt")["model"]
    tuned = load_checkpoint(tmp_path / "ft" / "best.pt")["model"]
    assert not torch.equal(first["phi.lins.0.weight"], tuned["phi.lins.0.weight"])
    digest = sha256(pretrained_run / "best.pt")
    rows = list(csv.DictReader(open(tmp_path / "ft" / "metrics.csv")))
    assert len(rows) == len(history) == 2 and all(r["pretrained_sha256"] == digest for r in rows)
    assert f"sha256 {digest}" in (tmp_path / "ft" / "train.log").read_text()


def test_cli_pretrained_and_errors(pretrained_run, tmp_path):
    config = tiny_config(tmp_path, epochs=1)
    config["model"]["norm"] = "batch_norm"
    config["data"]["node_types"]["charged"]["features"] = config["data"]["node_types"]["charged"]["features"][:-1]
    (tmp_path / "fewer.yaml").write_text(yaml.safe_dump(config))
    command = ["-c", tmp_path / "fewer.yaml", "-o", tmp_path / "x"]
    result = run_bin("train.py", *command, "--pretrained", pretrained_run)
    assert result.returncode == 1 and "best.pt: embedding.linear.weight has shape" in result.stderr, result.stderr
    (tmp_path / "broken.pt").write_bytes((pretrained_run / "best.pt").read_bytes()[:1000])
    result = run_bin("train.py", *command, "--pretrained", tmp_path / "broken.pt")
    assert result.returncode == 1 and "broken.pt" in result.stderr
    result = run_bin("train.py", *command, "--pretrained", pretrained_run, "--resume")
    assert result.returncode == 1 and "give one of them" in result.stderr
    with pytest.raises(GnnjetError, match="does not exist"):
        trainer_for(regression_config(tmp_path, tmp_path / "nothing.pt"), tmp_path / "y")


@pytest.mark.parametrize("config_name, family", [
    ("top_landscape_particlenet_finetune", "particlenet"), ("energyflow_qg_transformer_finetune", "transformer"),
    ("top_landscape_transformer_finetune", "transformer"), ("energyflow_qg_particlenet_finetune", "particlenet")])
def test_shipped_finetune_configs_start_from_a_jetclass_shaped_weaver_checkpoint(tmp_path, config_name, family):
    """A random-weight weaver-core model of the published *_kin.pt shape (7 inputs, 10 classes, `mod.` prefix)
    fine-tunes on converted public-dataset files: the 10-class output layer becomes a 2-class one."""
    from gnnjet.convert import convert
    from tests.convert.test_converters import write_energyflow, write_top_landscape
    from tests.nn.test_weaver import weaver_particlenet, weaver_transformer

    if config_name.startswith("top"):
        write_top_landscape(tmp_path / "train.h5", 96)
        (data,) = convert("top-landscape", [str(tmp_path / "train.h5")], tmp_path / "converted", progress=False)
    else:
        write_energyflow(tmp_path / "QG_jets.npz", 96)
        (data,) = convert("energyflow-qg", [str(tmp_path / "QG_jets.npz")], tmp_path / "converted", progress=False)
    reference = weaver_particlenet() if family == "particlenet" else weaver_transformer()
    torch.save({f"mod.{k}": v for k, v in reference.state_dict().items()}, tmp_path / "kin.pt")
    config = yaml.safe_load((ROOT / f"configs/public/{config_name}.yaml").read_text())
    config["data"] |= {"train": [str(data)], "val": [], "test": [], "val_fraction": 0.25,
                       "cache_dir": str(tmp_path / "cache")}
    config["training"] |= {"pretrained": str(tmp_path / "kin.pt"), "epochs": 1, "batch_size": 24, "prefetch": 0}
    trainer = trainer_for(validate_config(config), tmp_path / "ft")
    weaver_state = reference.state_dict()
    assert torch.equal(trainer.model.state_dict()["head.lins.0.weight"] if family == "particlenet"
                       else trainer.model.state_dict()["norm.weight"],
                       weaver_state["fc.0.0.weight"] if family == "particlenet" else weaver_state["norm.weight"])
    assert trainer.model.head.lins[-1].out_channels == 2
    history = trainer.fit()
    assert len(history) == 1 and history[0]["pretrained_sha256"] == sha256(tmp_path / "kin.pt")
    assert "output layer replaced (2 outputs)" in (tmp_path / "ft" / "train.log").read_text()


def test_frozen_batchnorm_keeps_its_statistics_and_affine_parameters(pretrained_run, tmp_path):
    config = regression_config(tmp_path, pretrained_run, freeze=["batchnorm"])
    trainer = trainer_for(config, tmp_path / "ft")
    before = {k: v.clone() for k, v in trainer.model.state_dict().items()}
    norms = {name for name, module in trainer.model.named_modules() if isinstance(module, torch.nn.BatchNorm1d)}
    assert norms and set(trainer.session.frozen) == norms
    trainer.fit()
    after = trainer.model.state_dict()
    in_norms = [k for k in before if k.rsplit(".", 1)[0] in norms]
    assert any("running_mean" in k for k in in_norms) and any(k.endswith(".weight") for k in in_norms)
    assert all(torch.equal(before[k], after[k]) for k in in_norms)
    others = [k for k in before if k not in in_norms and not k.startswith("head.")]
    assert any(not torch.equal(before[k], after[k]) for k in others)  # the rest of the backbone trains
    assert all(p.requires_grad == (n.rsplit(".", 1)[0] not in norms) for n, p in trainer.model.named_parameters())


def test_frozen_backbone_includes_top_level_parameters():
    """The transformer's class token is a parameter of the model itself, outside every child: frozen with the
    backbone; only the head trains."""
    model = build_model({"name": "transformer", "preset": "small"}, 5, 0, 2, num_node_types=1)
    frozen = freeze(model, ["backbone"])
    assert not model.class_token.requires_grad and "head" not in frozen
    assert all(p.requires_grad == n.startswith("head.") for n, p in model.named_parameters())


def test_freeze_takes_regular_expressions_over_parameter_names():
    """A regular expression freezes the parameters it matches (and keeps in eval mode the modules it covers
    whole); one that matches nothing, or does not compile, is an error naming training.freeze."""
    from tests.conftest import BASE_CONFIG

    model = build_model({"name": "particlenet", "preset": "lite"}, 5, 0, 2, num_node_types=1)
    frozen = freeze(model, [r"^blocks\.0\."])
    assert "blocks.0" in frozen and "blocks.1" not in frozen
    assert all(p.requires_grad == (not n.startswith("blocks.0.")) for n, p in model.named_parameters())
    with pytest.raises(GnnjetError, match=r"training.freeze: 'nothing_here' matches no parameter of the model"):
        freeze(model, ["nothing_here"])
    with pytest.raises(ConfigError, match=r"training.freeze\[0\]: expected one of backbone, batchnorm or a regular"):
        validate_config({**BASE_CONFIG, "training": {"freeze": ["blocks.(0"]}})


def test_pretrained_tensors_can_be_excluded_and_renamed(pretrained_run, tmp_path):
    """training.pretrained_exclude leaves the matched tensors at the new model's initial values and loads the rest;
    training.pretrained_rename maps the file's names onto the model's first; a pattern that matches nothing, or a
    rename that merges two tensors, is an error."""
    source = load_checkpoint(pretrained_run / "best.pt")["model"]
    first = sorted({k.rsplit(".", 2)[0] for k in source if k.startswith("phi.")})[0]  # the first layer of phi
    trainer = trainer_for(regression_config(tmp_path, pretrained_run, pretrained_exclude=[f"^{first}\\."]),
                          tmp_path / "ex")
    state = trainer.model.state_dict()
    excluded = [k for k in state if k.startswith(f"{first}.")]
    assert excluded and all(not torch.equal(state[k], source[k]) for k in excluded if source[k].dtype.is_floating_point
                            and source[k].numel() > 1)
    kept = [k for k in state if k.startswith("phi.") and not k.startswith(f"{first}.")]
    assert kept and all(torch.equal(state[k], source[k]) for k in kept)

    from gnnjet.training.pretrained import PretrainedWeights

    weights = PretrainedWeights.read(pretrained_run)
    model = trainer_for(regression_config(tmp_path, pretrained_run), tmp_path / "plain").model
    renamed = PretrainedWeights(weights.source, weights.file, weights.kind,
                                {k.replace("phi.", "encoder."): v for k, v in weights.state.items()})
    record = renamed.load_into(model, rename={r"^encoder\.": "phi."})
    assert record["tensors"] > 0 and all(torch.equal(model.state_dict()[k], source[k]) for k in kept)
    with pytest.raises(GnnjetError, match=r"training.pretrained_exclude: 'nowhere' matches no tensor"):
        weights.load_into(model, exclude=["nowhere"])
    with pytest.raises(GnnjetError, match=r"training.pretrained_rename: two tensors of .* are renamed to"):
        weights.load_into(model, rename={r".*": "same"})
