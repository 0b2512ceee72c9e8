"""DisCo: the weighted distance correlation and the penalty on background jets."""

import numpy as np
import pytest
import torch

from gnnjet.config import validate_config
from gnnjet.tasks.decorrelation import DisCo, distance_correlation
from tests.conftest import BASE_CONFIG


def reference_dcorr2(x, y):
    """Unweighted squared distance correlation (Szekely, Rizzo, Bakirov 2007), float64 numpy, written apart."""
    def centred(v):
        d = np.abs(v[:, None] - v[None, :])
        return d - d.mean(axis=0) - d.mean(axis=1)[:, None] + d.mean()

    a, b = centred(np.asarray(x, np.float64)), centred(np.asarray(y, np.float64))
    return (a * b).mean() / np.sqrt((a * a).mean() * (b * b).mean())


def test_matches_the_definition_and_its_limits():
    rng = np.random.default_rng(0)
    x = rng.normal(size=300)
    y = x**2 + 0.3 * rng.normal(size=300)  # dependent but not linearly correlated
    value = float(distance_correlation(torch.tensor(x), torch.tensor(y)))
    assert value == pytest.approx(reference_dcorr2(x, y), rel=1e-4)
    assert 0.1 < value < 0.9
    assert float(distance_correlation(torch.tensor(x), torch.tensor(3 * x + 1))) == pytest.approx(1.0, rel=1e-5)
    independent = float(distance_correlation(torch.tensor(x), torch.tensor(rng.normal(size=300))))
    assert independent < 0.03


def test_integer_weights_equal_repeated_jets():
    rng = np.random.default_rng(1)
    x, y = rng.normal(size=50), rng.normal(size=50) + rng.normal(size=50)
    repeats = rng.integers(0, 4, 50)
    weighted = distance_correlation(torch.tensor(x), torch.tensor(y), torch.tensor(repeats, dtype=torch.float64))
    repeated = reference_dcorr2(np.repeat(x, repeats), np.repeat(y, repeats))
    assert float(weighted) == pytest.approx(repeated, rel=1e-4)


def test_penalty_uses_only_background_jets_and_has_a_gradient():
    config = validate_config({**BASE_CONFIG, "task": {**BASE_CONFIG["task"],
                                                       "decorrelation": {"expr": "mass", "strength": 5.0}}})
    disco = DisCo.from_task(config["task"])
    assert (disco.score, disco.background, disco.strength) == (0, [1], 5.0)
    generator = torch.Generator().manual_seed(0)
    output = torch.randn(40, 2, generator=generator, requires_grad=True)
    target = torch.arange(40) % 2
    mass = torch.rand(40, generator=generator) * 100
    penalty = disco.penalty(output, target, mass)
    background = target == 1
    score = torch.softmax(output.detach(), 1)[background, 0]
    expected = 5.0 * reference_dcorr2(score.numpy(), mass[background].numpy())
    assert float(penalty.detach()) == pytest.approx(expected, rel=1e-4)
    penalty.backward()
    assert output.grad[~background].abs().max() == 0 and output.grad[background].abs().max() > 0
    # signal jets' masses do not enter
    shuffled = mass.clone()
    shuffled[~background] = torch.rand(20, generator=generator)
    assert float(disco.penalty(output, target, shuffled).detach()) == pytest.approx(float(penalty.detach()), rel=1e-6)
    assert float(disco.penalty(output[:1], target[:1], mass[:1]).detach()) == 0.0
