"""Import of LorentzNet-release checkpoints: a state dict in the release's documented layout (random values) gives the
scores of an independent float64 evaluation of the published equations; a checkpoint of another size is refused
naming the key and both shapes."""

import math

import pytest
import torch
import yaml

from gnnjet.config import validate_config
from gnnjet.errors import GnnjetError
from gnnjet.nn.lorentznet_release import release_to_gnnjet
from gnnjet.nn.registry import build_model
from gnnjet.nn.weaver import read_state_dict
from gnnjet.runs.checkpoint import load_checkpoint
from tests.cli import run_bin
from tests.nn.models.test_lorentznet import jets


def release_state(hidden: int = 72, blocks: int = 6, classes: int = 2, seed: int = 0) -> dict[str, torch.Tensor]:
    """The release's state dict (REFERENCE.md, "LorentzNet": keys and shapes), random values, DDP prefix."""
    generator = torch.Generator().manual_seed(seed)

    def rand(*shape, low=-0.3, high=0.3):
        return torch.rand(shape, generator=generator, dtype=torch.float64) * (high - low) + low

    def norm(prefix):
        return {f"{prefix}.weight": rand(hidden, low=0.5, high=1.5), f"{prefix}.bias": rand(hidden),
                f"{prefix}.running_mean": rand(hidden), f"{prefix}.running_var": rand(hidden, low=0.5, high=2.0),
                f"{prefix}.num_batches_tracked": torch.tensor(100)}

    state = {"embedding.weight": rand(hidden, 2), "embedding.bias": rand(hidden)}
    for b in range(blocks):
        p = f"LGEBs.{b}"
        state |= {f"{p}.phi_e.0.weight": rand(hidden, 2 * hidden + 2), **norm(f"{p}.phi_e.1"),
                  f"{p}.phi_e.3.weight": rand(hidden, hidden), f"{p}.phi_e.3.bias": rand(hidden),
                  f"{p}.phi_h.0.weight": rand(hidden, 2 * hidden + 2), f"{p}.phi_h.0.bias": rand(hidden),
                  **norm(f"{p}.phi_h.1"), f"{p}.phi_h.3.weight": rand(hidden, hidden),
                  f"{p}.phi_h.3.bias": rand(hidden),
                  f"{p}.phi_m.0.weight": rand(1, hidden), f"{p}.phi_m.0.bias": rand(1)}
        if b < blocks - 1:
            state |= {f"{p}.phi_x.0.weight": rand(hidden, hidden), f"{p}.phi_x.0.bias": rand(hidden),
                      f"{p}.phi_x.2.weight": rand(1, hidden, low=-0.01, high=0.01)}
    state |= {"graph_dec.0.weight": rand(hidden, hidden), "graph_dec.0.bias": rand(hidden),
              "graph_dec.3.weight": rand(classes, hidden), "graph_dec.3.bias": rand(classes)}
    return {f"module.{k}": v for k, v in state.items()}


def published_equations(state: dict[str, torch.Tensor], p4: torch.Tensor, blocks: int = 6) -> torch.Tensor:
    """Logits of one jet (p4 [n, 4] = px, py, pz, E) evaluated alone, written from the paper's equations with dense
    [n, n] pair matrices (beams first), float64, BatchNorm with running statistics."""
    s = {k.removeprefix("module."): v for k, v in state.items()}

    def linear(x, name, bias=True):
        return x @ s[f"{name}.weight"].T + (s[f"{name}.bias"] if bias else 0)

    def batch_norm(x, name):
        return (x - s[f"{name}.running_mean"]) / torch.sqrt(s[f"{name}.running_var"] + 1e-5) * s[f"{name}.weight"] \
            + s[f"{name}.bias"]

    def psi(z):
        return torch.sign(z) * torch.log(z.abs() + 1)

    def dot(a, b):  # [..., 4] x [..., 4] -> [...], metric (+, -, -, -)
        return a[..., 0] * b[..., 0] - (a[..., 1:] * b[..., 1:]).sum(-1)

    root2 = math.sqrt(2.0)
    x = torch.cat([torch.tensor([[root2, 0, 0, 1.0], [root2, 0, 0, -1.0]], dtype=torch.float64), p4[:, [3, 0, 1, 2]]])
    n = x.shape[0]
    mass = dot(x, x).abs().sqrt()
    beam = torch.zeros(n, dtype=torch.float64)
    beam[:2] = 1
    scalars = psi(torch.stack([(1 - beam) * mass, beam * mass], dim=1))
    h = linear(scalars, "embedding")
    off_diagonal = ~torch.eye(n, dtype=torch.bool)
    for b in range(blocks):
        p = f"LGEBs.{b}"
        diff = x[:, None, :] - x[None, :, :]  # [i, j, 4] = x_i - x_j
        a, c = psi(dot(diff, diff)), psi(dot(x[:, None, :], x[None, :, :]))
        pair = torch.cat([h[:, None, :].expand(n, n, -1), h[None, :, :].expand(n, n, -1), a[..., None], c[..., None]],
                         dim=-1)[off_diagonal]  # [n (n - 1), 2H + 2], rows (i, j) in order
        m = torch.relu(linear(torch.relu(batch_norm(linear(pair, f"{p}.phi_e.0", bias=False), f"{p}.phi_e.1")),
                              f"{p}.phi_e.3"))
        m = m * torch.sigmoid(linear(m, f"{p}.phi_m.0"))
        m_matrix = torch.zeros(n, n, m.shape[1], dtype=torch.float64)
        m_matrix[off_diagonal] = m
        if b < blocks - 1:
            weight = linear(torch.relu(linear(m, f"{p}.phi_x.0")), f"{p}.phi_x.2", bias=False)  # [n (n - 1), 1]
            shift = torch.zeros(n, n, 4, dtype=torch.float64)
            shift[off_diagonal] = torch.clamp(diff[off_diagonal] * weight, -100, 100)
            x_next = x + 0.005 * shift.sum(1) / max(n - 1, 1)
        else:
            x_next = x
        h = h + linear(torch.relu(batch_norm(linear(torch.cat([h, m_matrix.sum(1), scalars], dim=1), f"{p}.phi_h.0"),
                                             f"{p}.phi_h.1")), f"{p}.phi_h.3")
        x = x_next
    return linear(torch.relu(linear(h.mean(0), "graph_dec.0")), "graph_dec.3")


def test_release_checkpoint_gives_the_published_equations_scores(tmp_path):
    state = release_state()
    torch.save(state, tmp_path / "best-val-model.pt")
    model = build_model({"name": "lorentznet", "preset": "lorentznet"}, 3, 0, 2, num_node_types=1).double()
    model.load_state_dict(release_to_gnnjet(read_state_dict(tmp_path / "best-val-model.pt"), model))
    batch = jets([4, 1, 30, 2])
    with torch.no_grad():
        scores = model.eval()(batch)
    expected = torch.stack([published_equations(state, batch.get_example(i).p4) for i in range(4)])
    assert torch.allclose(scores, expected, atol=1e-9, rtol=1e-9)
    assert not torch.allclose(scores[0], scores[2], atol=1e-3)


def config_for_import(tmp_path, hidden: int = 72):
    """A one-collection config (fixed preprocessing, no jet features) with the release's model."""
    config = {"data": {"train": [str(tmp_path / "jets.root")], "jet_features": [],
                       "node_types": {"particles": {"max_nodes": 64, "pt": "ch_pt", "eta": "ch_eta", "phi": "ch_phi",
                                                    "features": [{"name": "log_pt", "expr": "log(ch_pt)",
                                                                  "center": 1.7, "scale": 0.7}]}}},
              "model": {"name": "lorentznet", "preset": "lorentznet", "hidden": hidden},
              "task": {"type": "classification", "labels": ["label_q", "label_g"]}}
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(validate_config(config)))
    return tmp_path / "config.yaml"


def test_import_writes_a_model_directory_and_refuses_another_size(tmp_path):
    torch.save({k: v.float() for k, v in release_state().items()}, tmp_path / "best-val-model.pt")
    result = run_bin("import_weights.py", "--from", "lorentznet", "-w", tmp_path / "best-val-model.pt",
                     "-c", config_for_import(tmp_path), "-o", tmp_path / "model")
    assert result.returncode == 0, result.stderr
    record = load_checkpoint(tmp_path / "model" / "best.pt")
    assert record["source"]["from"] == "lorentznet"
    assert torch.equal(record["model"]["blocks.2.phi_h.0.weight"], release_state()["module.LGEBs.2.phi_h.0.weight"]
                       .float())
    small = tmp_path / "small"
    small.mkdir()
    torch.save(release_state(hidden=32), small / "small.pt")
    result = run_bin("import_weights.py", "--from", "lorentznet", "-w", small / "small.pt",
                     "-c", config_for_import(small), "-o", small / "model")
    assert result.returncode == 1
    assert "small.pt: embedding.weight has shape (32, 2) but the model expects (72, 2)" in result.stderr


def test_a_weaver_model_refuses_a_release_checkpoint():
    model = build_model({"name": "particlenet", "preset": "lite"}, 3, 0, 2, num_node_types=1)
    with pytest.raises(GnnjetError, match="needs model {name: lorentznet}"):
        release_to_gnnjet({k.removeprefix("module."): v for k, v in release_state().items()}, model)
