"""GAT: attention heads over the knn graph."""

import torch

from tests.nn.conftest import make_batch, standard_jets
from tests.nn.test_models import small_model


def test_heads_are_concatenated_to_the_hidden_width():
    model = small_model("gat", heads=4, hidden=[32, 16])
    assert [conv.heads for conv in model.stack.convs] == [4, 4]
    assert [conv.out_channels * conv.heads for conv in model.stack.convs] == [32, 16]


def test_output_depends_on_the_graph_coordinates():
    """The knn graph is built in pos: moving nodes in (deta, dphi) changes neighbours and so the output."""
    model = small_model("gat").eval()
    batch = make_batch(standard_jets(seed=5))
    moved = batch.clone()
    moved.pos = torch.flip(batch.pos, dims=[0])
    with torch.no_grad():
        assert not torch.allclose(model(batch), model(moved), atol=1e-4)
