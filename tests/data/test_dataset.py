"""JetDataset: Data per jet and the vectorised Batch builder."""

import numpy as np
import pytest
import torch
from torch_geometric.data import Batch

from gnnjet.config import validate_config
from gnnjet.data.dataset import JetDataset
from gnnjet.data.spec import DataSpec

KEYS = ("x", "node_type", "pos", "p4", "batch", "ptr", "u", "y")


@pytest.fixture
def dataset(base_config, fake_file, cache_root):
    spec = DataSpec.from_config(validate_config(base_config))
    return JetDataset.from_files(spec, [str(fake_file)], cache_root=cache_root, progress=False)


def test_data_item_shapes(dataset):
    jet = dataset[0]
    n = int(dataset.ptr[1] - dataset.ptr[0])
    assert jet.x.shape == (n, dataset.num_node_features)
    assert jet.node_type.dtype == torch.long and jet.node_type.shape == (n,)
    assert jet.pos.shape == (n, 2) and jet.p4.shape == (n, 4)
    assert jet.u.shape == (1, dataset.num_jet_features) and jet.y.shape == (1,)
    assert dataset[-1].num_nodes == int(dataset.ptr[-1] - dataset.ptr[-2])
    with pytest.raises(IndexError):
        dataset[len(dataset)]


@pytest.mark.parametrize("index", [[0, 1, 2, 5], [7], list(range(40))[::-1], [3, 3, 9]])
def test_vectorised_batch_equals_from_data_list(dataset, index):
    ours = dataset.batch(index)
    reference = Batch.from_data_list([dataset[i] for i in index])
    for key in KEYS:
        assert torch.equal(ours[key], reference[key]), key
        assert ours[key].dtype == reference[key].dtype, key
    assert ours.num_graphs == reference.num_graphs
    for mine, theirs in zip(ours.to_data_list(), reference.to_data_list()):
        for key in ("x", "node_type", "pos", "p4", "u", "y"):
            assert torch.equal(mine[key], theirs[key])


def test_batch_of_random_jets(dataset):
    index = np.random.default_rng(0).choice(len(dataset), 64, replace=False)
    ours, reference = dataset.batch(index), Batch.from_data_list([dataset[int(i)] for i in index])
    for key in KEYS:
        assert torch.equal(ours[key], reference[key]), key


def test_feature_counts(dataset):
    assert dataset.num_node_features == 9 and dataset.num_jet_features == 2
    assert dataset.spec.model_inputs() == {"num_node_features": 9, "num_jet_features": 2, "num_node_types": 3}
