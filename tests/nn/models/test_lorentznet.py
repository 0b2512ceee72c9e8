"""LorentzNet: the published parameter count, Lorentz invariance of the output and equivariance of the four-vectors
(float64), the beams' broken symmetry, the two kinds of scalars, one-particle jets, the complete graph and the config
check of four-vectors (permutation invariance and no cross-talk: tests/nn/test_models.py)."""

import math

import pytest
import torch
from torch_geometric.data import Batch, Data

from gnnjet.config import validate_config
from gnnjet.errors import ConfigError
from gnnjet.nn.models.lorentznet import complete_edges, with_beams
from gnnjet.nn.registry import build_model, count_parameters
from tests.conftest import BASE_CONFIG
from tests.data.test_node_types import HITS_CONFIG
from tests.nn.conftest import NUM_FEATURES, NUM_NODE_TYPES


def lorentznet(preset: str = "small", **options) -> torch.nn.Module:
    torch.manual_seed(0)
    return build_model({"name": "lorentznet", "preset": preset, **options}, NUM_FEATURES, 0, 2,
                       num_node_types=NUM_NODE_TYPES).double().eval()


def jets(sizes: list[int], seed: int = 0) -> Batch:
    """Jets of massive and massless particles around a common axis, float64, p4 = (px, py, pz, E) in GeV."""
    generator = torch.Generator().manual_seed(seed)
    data = []
    for n in sizes:
        pt = 1 + 80 * torch.rand(n, generator=generator, dtype=torch.float64)
        eta = 0.8 + 0.3 * torch.randn(n, generator=generator, dtype=torch.float64)
        phi = 0.3 * torch.randn(n, generator=generator, dtype=torch.float64)
        mass = torch.where(torch.rand(n, generator=generator) < 0.5, 0.13957, 0.0).double()
        p4 = torch.stack([pt * torch.cos(phi), pt * torch.sin(phi), pt * torch.sinh(eta),
                          torch.sqrt((pt * torch.cosh(eta)) ** 2 + mass**2)], dim=1)
        data.append(Data(x=torch.randn(n, NUM_FEATURES, generator=generator, dtype=torch.float64), p4=p4,
                         node_type=torch.zeros(n, dtype=torch.long), u=torch.zeros(1, 0, dtype=torch.float64)))
    return Batch.from_data_list(data)


def lorentz_transformation(seed: int = 1) -> torch.Tensor:
    """A random rotation followed by a boost (rapidity 0.6 along a random direction): [4, 4] acting on (E, p)."""
    generator = torch.Generator().manual_seed(seed)
    rotation, _ = torch.linalg.qr(torch.randn(3, 3, generator=generator, dtype=torch.float64))
    rotation = rotation * torch.sign(torch.linalg.det(rotation))
    direction = torch.nn.functional.normalize(torch.randn(3, generator=generator, dtype=torch.float64), dim=0)
    rapidity = 0.6
    boost = torch.eye(4, dtype=torch.float64)
    boost[0, 0] = math.cosh(rapidity)
    boost[0, 1:] = boost[1:, 0] = math.sinh(rapidity) * direction
    boost[1:, 1:] += (math.cosh(rapidity) - 1) * torch.outer(direction, direction)
    turn = torch.eye(4, dtype=torch.float64)
    turn[1:, 1:] = rotation
    return boost @ turn


def network_inputs(batch):
    """The network's four-vectors with beams (E first), beam flags and ptr of a batch."""
    vectors, ptr, place = with_beams(batch.p4[:, [3, 0, 1, 2]], batch.ptr)
    return vectors, vectors.new_ones(vectors.size(0), 1).index_fill(0, place, 0.0), ptr


def test_published_parameter_count():
    """224,072 for the released top tagger: 6 blocks, 72 hidden, mass scalars, 2 classes."""
    assert count_parameters(lorentznet("lorentznet")) == 224_072


def test_output_is_lorentz_invariant_and_four_vectors_equivariant():
    """A boost and a rotation of every four-vector, the beams' included: the same jet representations; the
    network's final four-vectors transform with the same matrix."""
    model = lorentznet()
    batch = jets([5, 12, 2])
    vectors, is_beam, ptr = network_inputs(batch)
    transform = lorentz_transformation()
    moved = vectors @ transform.T
    assert not torch.allclose(moved, vectors, atol=1e-3)
    with torch.no_grad():
        h, _, x = model.network(vectors, model.scalars(vectors, batch.x, is_beam), ptr)
        h_moved, _, x_moved = model.network(moved, model.scalars(moved, batch.x, is_beam), ptr)
    assert torch.allclose(h_moved, h, atol=1e-6, rtol=1e-6)
    assert torch.allclose(x_moved, x @ transform.T, atol=1e-6, rtol=1e-6)
    assert not torch.allclose(x, vectors, atol=1e-6)  # the four-vectors were updated


def rotated(batch: Batch, transform: torch.Tensor) -> Batch:
    moved = batch.clone()
    moved.p4 = (batch.p4[:, [3, 0, 1, 2]] @ transform.T)[:, [1, 2, 3, 0]]
    return moved


def rotation(a: int, b: int, angle: float) -> torch.Tensor:
    """[4, 4] rotation by `angle` in the plane of components a, b of (E, px, py, pz)."""
    out = torch.eye(4, dtype=torch.float64)
    out[a, a] = out[b, b] = math.cos(angle)
    out[a, b], out[b, a] = -math.sin(angle), math.sin(angle)
    return out


def test_beams_fix_the_beam_axis():
    """With the beams fixed, a rotation about the beam axis leaves the output unchanged; one that tilts the axis
    changes it (the beams break the symmetry)."""
    model = lorentznet()
    batch = jets([7, 3])
    about_z, tilt = rotation(1, 2, 0.7), rotation(2, 3, 0.7)  # (px, py) about the beam; (py, pz) tilts it
    with torch.no_grad():
        out = model(batch)
        assert torch.allclose(model(rotated(batch, about_z)), out, atol=1e-6, rtol=1e-6)
        assert not torch.allclose(model(rotated(batch, tilt)), out, atol=1e-4)
    without_beams = lorentznet(beams=False)
    with torch.no_grad():  # no beams: fully Lorentz invariant, the tilt changes nothing either
        assert torch.allclose(without_beams(rotated(batch, tilt)), without_beams(batch), atol=1e-6, rtol=1e-6)


def test_scalars_are_the_mass_or_the_node_features():
    """Permutation invariance and no cross-talk: tests/nn/test_models.py. Here: `mass` ignores the node features,
    `features` uses them."""
    batch = jets([6, 9])
    changed = batch.clone()
    changed.x = batch.x + 1
    with torch.no_grad():
        assert torch.equal(lorentznet()(changed), lorentznet()(batch))
        model = lorentznet(scalars="features")
        assert not torch.allclose(model(changed), model(batch), atol=1e-4)


@pytest.mark.parametrize("beams", [True, False])
def test_one_particle_jets_are_finite(beams):
    """Without beams a one-particle jet has no edges: its messages are empty sums and means."""
    model = lorentznet(beams=beams)
    with torch.no_grad():
        out = model(jets([1, 1, 4]))
    assert torch.isfinite(out).all()


def test_complete_edges_are_every_ordered_pair_within_each_jet():
    ptr = torch.tensor([0, 1, 4, 6])
    edges = {tuple(e) for e in complete_edges(ptr).T.tolist()}
    expected = {(j, i) for lo, hi in ((0, 1), (1, 4), (4, 6)) for i in range(lo, hi) for j in range(lo, hi) if i != j}
    assert edges == expected and complete_edges(ptr).shape[1] == len(expected)


def test_with_beams_puts_two_beams_before_each_jet():
    vectors = torch.arange(12, dtype=torch.float64).view(3, 4) + 10
    out, ptr, place = with_beams(vectors, torch.tensor([0, 2, 3]))
    assert ptr.tolist() == [0, 4, 7] and place.tolist() == [2, 3, 6]
    assert torch.equal(out[place], vectors)
    beam = math.sqrt(2.0)
    assert out[[0, 4], 0].tolist() == [beam, beam] and out[[0, 1, 4, 5], 3].tolist() == [1.0, -1.0, 1.0, -1.0]


def test_node_types_without_four_vectors_are_a_config_error():
    config = {**HITS_CONFIG, "data": {**HITS_CONFIG["data"], "train": ["hits.root"]},
              "model": {"name": "lorentznet", "preset": "small"}}
    with pytest.raises(ConfigError, match=r"data.node_types.\w+: lorentznet works on four-vectors"):
        validate_config(config)
    validate_config({**BASE_CONFIG, "data": {**BASE_CONFIG["data"], "train": ["x.root"]},
                     "model": {"name": "lorentznet", "preset": "small", "scalars": "features"}})
    with pytest.raises(ConfigError, match=r"model.scalars: expected one of 'mass', 'features'"):
        validate_config({**BASE_CONFIG, "data": {**BASE_CONFIG["data"], "train": ["x.root"]},
                         "model": {"name": "lorentznet", "scalars": "charge"}})


def collinear_jets(sizes: list[int], seed: int = 2) -> Batch:
    """Boosted jets (pt 200-800 GeV per constituent) whose constituents are nearly collinear (angles ~1e-4) and
    light (pions and photons), float32 as the store holds them: their pair invariants are small differences of
    products of order 1e5 GeV^2."""
    generator = torch.Generator().manual_seed(seed)
    data = []
    for n in sizes:
        pt = 200 + 600 * torch.rand(n, generator=generator, dtype=torch.float64)
        eta = 1.2 + 1e-4 * torch.randn(n, generator=generator, dtype=torch.float64)
        phi = 0.5 + 1e-4 * torch.randn(n, generator=generator, dtype=torch.float64)
        mass = torch.where(torch.rand(n, generator=generator) < 0.5, 0.13957, 0.0).double()
        p4 = torch.stack([pt * torch.cos(phi), pt * torch.sin(phi), pt * torch.sinh(eta),
                          torch.sqrt((pt * torch.cosh(eta)) ** 2 + mass**2)], dim=1)
        data.append(Data(x=torch.randn(n, NUM_FEATURES, generator=generator), p4=p4.float(),
                         node_type=torch.zeros(n, dtype=torch.long), u=torch.zeros(1, 0)))
    return Batch.from_data_list(data)


def test_float32_agrees_with_float64_on_nearly_collinear_constituents():
    """The pair invariants are computed from float64 four-vectors whatever the model's dtype: on jets where float32
    Minkowski products lose most of their digits (checked below), the float32 model's logits equal the float64
    model's on the same (float32-stored) jets to 1e-4, and its top score to 1e-5."""
    from gnnjet.nn.models.lorentznet import minkowski

    batch = collinear_jets([6, 20, 3])
    vectors = batch.p4[:, [3, 0, 1, 2]]
    i, j = complete_edges(batch.ptr)
    exact = minkowski(vectors[i].double(), vectors[j].double())
    float32 = minkowski(vectors[i], vectors[j]).double()
    assert ((float32 - exact).abs() / exact.abs()).median() > 0.05  # float32 products cancel on these jets

    model = lorentznet("lorentznet", scalars="mass")  # float64
    for block in model.blocks:  # four-vectors that move, as in a trained model
        if block.update_x:
            torch.nn.init.xavier_uniform_(block.phi_x[2].weight, gain=1.0)
    reference_batch = batch.clone()
    reference_batch.x, reference_batch.u, reference_batch.p4 = batch.x.double(), batch.u.double(), batch.p4.double()
    with torch.no_grad():
        reference = model(reference_batch)
        single = model.float()(batch)
    assert single.dtype == torch.float32
    assert (single.double() - reference).abs().max() < 1e-4
    scores = torch.softmax(single.double(), 1)[:, 0], torch.softmax(reference, 1)[:, 0]
    assert (scores[0] - scores[1]).abs().max() < 1e-5
