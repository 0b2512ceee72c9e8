"""L-GATr through the lgatr package (float64): invariance of the output under the transformations its reference
vectors leave alone (all of them without references, rotations about and boosts along the beam without the time
reference, rotations about the beam with both), and broken by those they fix (permutation invariance and no
cross-talk: tests/nn/test_models.py)."""

import pytest
import torch

from gnnjet.nn.registry import build_model
from tests.nn.conftest import NUM_FEATURES, NUM_NODE_TYPES
from tests.nn.models.test_lorentznet import jets, lorentz_transformation, rotated, rotation


def tagger(variant: str, references: str) -> torch.nn.Module:
    torch.manual_seed(0)
    return build_model({"name": "lgatr", "preset": "small", "variant": variant, "references": references},
                       NUM_FEATURES, 0, 2, num_node_types=NUM_NODE_TYPES).double().eval()


def boost_along_beam(rapidity: float = 0.8) -> torch.Tensor:
    out = torch.eye(4, dtype=torch.float64)
    out[0, 0] = out[3, 3] = torch.cosh(torch.tensor(rapidity, dtype=torch.float64))
    out[0, 3] = out[3, 0] = torch.sinh(torch.tensor(rapidity, dtype=torch.float64))
    return out


TRANSFORMS = {"lorentz": lorentz_transformation(), "about_beam": rotation(1, 2, 0.7), "tilt": rotation(2, 3, 0.7),
              "beam_boost": boost_along_beam()}
# references -> the transformations that leave the output unchanged; the others change it. The slim net's beams
# are light-like vectors, which a boost along the beam rescales; L-GATr's beam is the x-y plane, which it keeps.
SYMMETRIES = {"none": {"lorentz", "about_beam", "tilt", "beam_boost"}, "beam": {"about_beam", "beam_boost"},
              "beam_time": {"about_beam"}}
SLIM_SYMMETRIES = SYMMETRIES | {"beam": {"about_beam"}}


@pytest.mark.parametrize("variant", ["lgatr", "slim"])
@pytest.mark.parametrize("references", list(SYMMETRIES))
def test_symmetries_follow_the_reference_vectors(variant, references):
    model = tagger(variant, references)
    batch = jets([6, 2, 11])
    with torch.no_grad():
        out = model(batch)
        for name, transform in TRANSFORMS.items():
            moved = model(rotated(batch, transform))
            if name in (SLIM_SYMMETRIES if variant == "slim" else SYMMETRIES)[references]:
                assert torch.allclose(moved, out, atol=1e-8, rtol=1e-6), name
            else:
                assert not torch.allclose(moved, out, atol=1e-5), name


def test_scalars_none_ignores_the_node_features():
    """`scalars` is this family's own option: `none` (not a LorentzNet choice) is accepted and leaves the features
    out; `features` uses them."""
    batch = jets([5, 8])
    changed = batch.clone()
    changed.x = batch.x + 1
    for scalars, ignored in (("none", True), ("features", False)):
        torch.manual_seed(0)
        model = build_model({"name": "lgatr", "preset": "small", "scalars": scalars}, NUM_FEATURES, 0, 2,
                            num_node_types=NUM_NODE_TYPES).double().eval()
        with torch.no_grad():
            assert torch.allclose(model(changed), model(batch), atol=1e-10) == ignored, scalars


def test_global_token_readout_keeps_the_symmetries_and_the_permutation_invariance():
    """readout: token (the papers'): the scores come from one extra item per jet; rotations about and boosts along
    the beam (references: beam) leave them unchanged, a tilt does not; reordering a jet's particles changes nothing;
    a jet's score does not depend on the other jets of its batch; and it is another readout than the mean."""
    from tests.nn.test_models import permute_within_jets

    torch.manual_seed(0)
    model = build_model({"name": "lgatr", "preset": "small", "references": "beam", "readout": "token"}, NUM_FEATURES,
                        0, 2, num_node_types=NUM_NODE_TYPES).double().eval()
    batch = jets([6, 2, 11])
    with torch.no_grad():
        out = model(batch)
        for name in ("about_beam", "beam_boost"):
            assert torch.allclose(model(rotated(batch, TRANSFORMS[name])), out, atol=1e-8, rtol=1e-6), name
        # broken by the tilt: small at initialisation (the token sees the particles only through attention), but far
        # above float64 rounding (1e-17 for the symmetries)
        assert (model(rotated(batch, TRANSFORMS["tilt"])) - out).abs().max() > 1e-7
        batch.pos = torch.zeros(len(batch.p4), 2, dtype=torch.float64)  # (the helper permutes every node array)
        permuted = permute_within_jets(batch, torch.Generator().manual_seed(1))
        assert torch.allclose(model(permuted), out, atol=1e-10)
        assert torch.allclose(model(jets([6])), out[:1], atol=1e-10)  # the first jet alone: the same score
        torch.manual_seed(0)
        mean = build_model({"name": "lgatr", "preset": "small", "references": "beam"}, NUM_FEATURES, 0, 2,
                           num_node_types=NUM_NODE_TYPES).double().eval()
        assert not torch.allclose(mean(batch), out, atol=1e-4)
