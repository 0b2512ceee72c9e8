"""GCN: convolutions over the knn graph in (deta, dphi)."""

import torch

from tests.nn.conftest import make_batch, standard_jets
from tests.nn.test_models import small_model


def test_output_depends_on_the_graph_coordinates():
    """The knn graph is built in pos: moving nodes in (deta, dphi) changes neighbours and so the output."""
    model = small_model("gcn").eval()
    batch = make_batch(standard_jets(seed=5))
    moved = batch.clone()
    moved.pos = torch.flip(batch.pos, dims=[0])
    with torch.no_grad():
        assert not torch.allclose(model(batch), model(moved), atol=1e-4)


def test_one_neighbour_per_node_beyond_the_jet_size_still_works():
    """A k larger than every jet uses all available neighbours (jets of 1 and 2 nodes included)."""
    model = small_model("gcn", k=50).eval()
    jets = standard_jets(seed=6)
    with torch.no_grad():
        out = model(make_batch(jets))
    assert out.shape == (len(jets), 3) and torch.isfinite(out).all()
