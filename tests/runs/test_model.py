"""The one place a config becomes a model and a run directory a trained model again."""

import pytest
import torch

from gnnjet.data.dataset import JetDataset
from gnnjet.errors import GnnjetError
from gnnjet.runs.inference import evaluate
from gnnjet.runs.model import RunModel, load_trained
from gnnjet.training.distributed import init_context
from gnnjet.training.trainer import Trainer
from tests.training.test_trainer import tiny_config


def test_a_config_gives_a_model_sized_by_its_spec_and_task(tmp_path):
    built = RunModel.from_config(tiny_config(tmp_path, num_jets=20))
    assert built.spec.model_inputs() == {"num_node_features": 9, "num_jet_features": 2, "num_node_types": 3}
    assert built.model.embedding.type_embedding.num_embeddings == 3
    assert built.model.head.lins[-1].out_channels == built.task.out_dim == 2


def test_a_run_directory_gives_back_the_trained_model_in_eval_mode(tmp_path):
    config = tiny_config(tmp_path, num_jets=120, epochs=1)
    trainer = Trainer(config, tmp_path / "run", init_context(None), progress=False)
    trainer.setup(resume=False)
    trainer.fit()
    trained = load_trained(tmp_path / "run")
    assert not trained.model.training
    for key, value in trainer.model.state_dict().items():
        assert torch.equal(trained.model.state_dict()[key], value), key
    dataset = JetDataset.from_files(trained.spec, config["data"]["train"], trained.preprocessing,
                                    cache_root=config["data"]["cache_dir"], progress=False)
    index = torch.arange(len(dataset)).numpy()
    ours, _ = evaluate(trained.model, dataset, index, 32, torch.device("cpu"))
    theirs, _ = evaluate(trainer.model, dataset, index, 32, torch.device("cpu"))
    torch.testing.assert_close(torch.from_numpy(ours), torch.from_numpy(theirs))


def test_what_is_not_a_run_directory_is_named(tmp_path):
    with pytest.raises(GnnjetError, match="not a trained model directory: best.pt is missing"):
        load_trained(tmp_path)
    (tmp_path / "best.pt").write_bytes(b"")
    with pytest.raises(GnnjetError, match="preprocess.json is missing"):
        load_trained(tmp_path)
    (tmp_path / "preprocess.json").write_text("{}")
    with pytest.raises(GnnjetError, match=r"best\.pt is damaged"):
        load_trained(tmp_path)
