"""DeepSets / PFN: every pooling is invariant and used."""

import pytest
import torch

from tests.nn.conftest import make_batch, standard_jets
from tests.nn.test_models import permute_within_jets, small_model


@pytest.mark.parametrize("pooling", ["mean", "sum", "max", "attention"])
def test_pooling_choices(pooling):
    """Each pooling is permutation invariant and really used: another pooling of the same weights differs."""
    model = small_model("deepsets", pooling=pooling).eval()
    batch = make_batch(standard_jets(seed=7))
    other = small_model("deepsets", pooling="sum" if pooling != "sum" else "mean").eval()
    other.load_state_dict(model.state_dict(), strict=False)  # attention pooling has extra weights
    with torch.no_grad():
        out = model(batch)
        permuted = model(permute_within_jets(batch, torch.Generator().manual_seed(8)))
        assert out.shape == (5, 3)
        torch.testing.assert_close(permuted, out, atol=1e-5, rtol=1e-5)
        assert not torch.allclose(other(batch), out, atol=1e-3)


def test_nodes_do_not_see_each_other_before_pooling():
    """With sum pooling, a jet's representation is the sum of its nodes': the encoding of a jet equals the sum
    of the encodings of its nodes taken as one-node jets (no message passing)."""
    model = small_model("deepsets", pooling="sum", norm=None).eval()
    jets = standard_jets(seed=3)[:1]
    batch = make_batch(jets)
    singles = make_batch([jets[0].subgraph(torch.tensor([i])) for i in range(jets[0].num_nodes)])
    with torch.no_grad():
        torch.testing.assert_close(model.encode(batch)[0], model.encode(singles).sum(0), atol=1e-5, rtol=1e-5)
