"""GCN: convolutions over the knn graph in (deta, dphi)."""

import torch

from tests.nn.conftest import make_batch, standard_jets
from tests.nn.test_models import small_model


def test_one_neighbour_per_node_beyond_the_jet_size_still_works():
    """A k larger than every jet uses all available neighbours (jets of 1 and 2 nodes included)."""
    model = small_model("gcn", k=50).eval()
    jets = standard_jets(seed=6)
    with torch.no_grad():
        out = model(make_batch(jets))
    assert out.shape == (len(jets), 3) and torch.isfinite(out).all()
