"""PUPPI, pile-up per particle identification (Bertolini, Harris, Low, Tran, JHEP 10 (2014) 059): the classical
per-particle pile-up weights that the per-particle networks are measured against, with charged-hadron subtraction
(CHS) and no mitigation beside it.

For each constituent i, the local shape

    alpha_i = log sum_j (pt_j / dR_ij)^2    over charged constituents j from the primary vertex, j != i,
                                            R_MIN < dR_ij < R0

is compared with the alpha distribution of the charged pile-up constituents (those not from the primary vertex):
chi2_i = (alpha_i - median)^2 / rms^2 if alpha_i > median, else 0 (rms about the median), and the weight is the
chi-square distribution's CDF with one degree of freedom at chi2_i, erf(sqrt(chi2_i / 2)). Charged constituents take
their vertex association: weight 1 from the primary vertex, 0 otherwise (as CHS does); a constituent without any
neighbour has alpha = -inf and weight 0. A jet ntuple holds each jet's constituents only, so the neighbours are the
jet's own (a particle near the jet's edge misses those outside it), and the median and rms are taken over the
charged pile-up constituents of all jets of the same event (the `event` branch; each jet alone without it).
"""

from __future__ import annotations

import logging
from pathlib import Path

import awkward as ak
import numpy as np
import torch

from gnnjet import columns as column_names
from gnnjet.data.formats.root import read_branches
from gnnjet.data.inputs import expand_files
from gnnjet.data.writer import write_jets
from gnnjet.fileio import make_directory, refuse_to_clobber
from gnnjet.runs.layout import PREDICTIONS

log = logging.getLogger(__name__)
R0, R_MIN = 0.4, 0.02  # the published cone and its inner radius
NEEDED = ("ch_pt", "ch_eta", "ch_phi", "ch_from_pv", "ne_pt", "ne_eta", "ne_phi")
OBSERVERS = ("event", "pt", "eta", "phi", "mass", "pt_gen", "mass_gen", "pt_nopu", "mass_nopu", "npv")
TRUTH = ("ch_is_pu", "ne_is_pu")
CHARGED_MASS = 0.13957  # GeV: the four-vectors of the rebuilt jets take charged constituents as pions


def alphas(eta: np.ndarray, phi: np.ndarray, pv_pt: np.ndarray, pv_eta: np.ndarray, pv_phi: np.ndarray,
           exclude: np.ndarray | None = None) -> np.ndarray:
    """alpha [n] of n particles (eta, phi) against the primary-vertex charged particles (pv_pt, pv_eta, pv_phi) [m]
    of the same jet; `exclude` [n] the index among those m of the particle itself (-1: none)."""
    deta = eta[:, None] - pv_eta[None, :]
    dphi = (phi[:, None] - pv_phi[None, :] + np.pi) % (2 * np.pi) - np.pi
    dr = np.hypot(deta, dphi)  # [n, m]
    inside = (dr > R_MIN) & (dr < R0)
    if exclude is not None:
        inside[np.arange(len(eta))[exclude >= 0], exclude[exclude >= 0]] = False
    with np.errstate(divide="ignore"):
        terms = np.where(inside, (pv_pt[None, :] / np.where(inside, dr, 1.0)) ** 2, 0.0)
        return np.log(terms.sum(axis=1))


def weights_from_alpha(alpha: np.ndarray, median: float, rms: float) -> np.ndarray:
    """The PUPPI weight of each alpha: the chi2 (one degree of freedom) CDF of (alpha - median)^2 / rms^2 above the
    median, 0 below it (and for alpha = -inf)."""
    above = np.isfinite(alpha) & (alpha > median)
    chi2 = np.where(above, (alpha - median) ** 2 / max(rms, 1e-12) ** 2, 0.0)
    return np.where(above, torch.erf(torch.from_numpy(np.sqrt(chi2 / 2))).numpy(), 0.0)  # numpy has no erf


def puppi_weights(jets: ak.Array) -> tuple[ak.Array, ak.Array]:
    """PUPPI weights (charged [J, var], neutral [J, var]) of the constituents of `jets` (fields of NEEDED, and
    `event` to pool the pile-up alpha distribution over a collision's jets)."""
    events = np.asarray(jets.event) if "event" in jets.fields else np.arange(len(jets))
    _, event_of = np.unique(events, return_inverse=True)
    pileup: dict[int, list[np.ndarray]] = {}  # event -> the alphas of its charged pile-up constituents
    neutral_alpha = []
    for jet in range(len(jets)):
        pv = np.asarray(jets.ch_from_pv[jet]) != 0
        ch_eta, ch_phi, ch_pt = (np.asarray(jets[f"ch_{k}"][jet], np.float64) for k in ("eta", "phi", "pt"))
        pv_index = np.full(len(ch_pt), -1)
        pv_index[pv] = np.arange(int(pv.sum()))
        charged_alpha = alphas(ch_eta, ch_phi, ch_pt[pv], ch_eta[pv], ch_phi[pv], pv_index)
        pileup.setdefault(int(event_of[jet]), []).append(charged_alpha[~pv])
        ne_eta, ne_phi = (np.asarray(jets[f"ne_{k}"][jet], np.float64) for k in ("eta", "phi"))
        neutral_alpha.append(alphas(ne_eta, ne_phi, ch_pt[pv], ch_eta[pv], ch_phi[pv]))
    reference = {}  # event -> (median, rms) of its charged pile-up alphas
    for event, values in pileup.items():
        values = np.concatenate(values)
        values = values[np.isfinite(values)]
        median = float(np.median(values)) if values.size else np.inf  # no pile-up reference: nothing passes
        reference[event] = median, float(np.sqrt(np.mean((values - median) ** 2))) if values.size else 1.0
    neutral = [weights_from_alpha(alpha, *reference[int(event_of[jet])]).astype(np.float32)
               for jet, alpha in enumerate(neutral_alpha)]
    return ak.values_astype(jets.ch_from_pv != 0, np.float32), ak.Array(neutral)


def weighted_jets(jets: ak.Array, charged: ak.Array, neutral: ak.Array) -> tuple[np.ndarray, np.ndarray]:
    """(pt [J], mass [J]) of each jet rebuilt from its constituents' four-vectors scaled by their weights."""
    def four_vectors(prefix: str, mass: float, weight: ak.Array) -> np.ndarray:
        pt, eta, phi = (jets[f"{prefix}_{k}"] for k in ("pt", "eta", "phi"))
        energy = np.sqrt((pt * np.cosh(eta)) ** 2 + mass**2)
        parts = [pt * np.cos(phi), pt * np.sin(phi), pt * np.sinh(eta), energy]
        return np.stack([ak.to_numpy(ak.sum(weight * p, axis=1)) for p in parts], axis=1)

    total = four_vectors("ch", CHARGED_MASS, charged) + four_vectors("ne", 0.0, neutral)
    pt = np.hypot(total[:, 0], total[:, 1])
    mass = np.sqrt(np.maximum(total[:, 3] ** 2 - (total[:, :3] ** 2).sum(axis=1), 0.0))
    return pt, mass


def write_puppi(inputs: list[str], output: str | Path, tree: str = "Jets", overwrite: bool = False) -> Path:
    """Write output/pred.root: per constituent (jagged, aligned with the input collections) the PUPPI weights
    `ch_puppi`, `ne_puppi`, the pt `ch_pt`, `ne_pt` and, where the sample has them, the truth `ch_is_pu`,
    `ne_is_pu`; per jet the jet rebuilt with PUPPI weights (`pt_puppi`, `mass_puppi`), with CHS (`pt_chs`,
    `mass_chs`) and with every constituent (`pt_none`, `mass_none`), and the observers present. One row per input
    jet, in input order. Before any work a pred.root that is an input is refused, and an existing one unless
    `overwrite`."""
    files = expand_files(inputs)
    target = Path(output) / PREDICTIONS
    refuse_to_clobber(target, files, overwrite=overwrite, what="PUPPI predictions file")
    parts: dict[str, list] = {}
    for path in files:
        jets = read_branches(path, tree, NEEDED, (*OBSERVERS, *TRUTH), "PUPPI", "PUPPI needs charged and neutral "
                             "constituents and the charged ones' vertex association (ch_from_pv)")
        present = [b for b in (*OBSERVERS, *TRUTH) if b in jets.fields]
        charged, neutral = puppi_weights(jets)
        ones = (ak.ones_like(jets.ch_pt), ak.ones_like(jets.ne_pt))
        for method, (ch, ne) in {"puppi": (charged, neutral), "chs": (charged, ones[1]), "none": ones}.items():
            pt, mass = weighted_jets(jets, ch, ne)
            parts.setdefault(f"pt_{method}", []).append(pt.astype(np.float32))
            parts.setdefault(f"mass_{method}", []).append(mass.astype(np.float32))
        parts.setdefault("ch_puppi", []).append(charged)
        parts.setdefault("ne_puppi", []).append(neutral)
        parts.setdefault("ch_pt", []).append(jets.ch_pt)  # for the per-particle figures' pt bins
        parts.setdefault("ne_pt", []).append(jets.ne_pt)
        for name in present:
            parts.setdefault(name, []).append(jets[name])
    columns = {name: (np.concatenate(values) if isinstance(values[0], np.ndarray) else ak.concatenate(values))
               for name, values in parts.items()}
    make_directory(target.parent)
    write_jets(target, columns, notes={column_names.TASK: column_names.PUPPI_TASK, column_names.SELECTION: "none"})
    log.info("PUPPI weights of %d jets -> %s", len(columns["pt_puppi"]), target)
    return target
