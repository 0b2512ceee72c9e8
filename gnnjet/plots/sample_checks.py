"""Sanity figures of generated (or any schema-conforming) samples, straight from the ntuples:
constituent multiplicities per class, track impact parameters, SV rates and SV masses by flavour (a K0S
peak at 0.498 GeV in light jets without the V0 veto), and the raw jet response vs pt_gen for light-quark
and gluon jets."""

from __future__ import annotations

from pathlib import Path

import awkward as ak
import matplotlib.pyplot as plt
import numpy as np
import uproot

from gnnjet.data.inputs import expand_files
from gnnjet.data.writer import branch_name, collections_in
from gnnjet.evaluate import jec
from gnnjet.evaluate.predictions import flavour_groups
from gnnjet.plots.shower_checks import is_shower_sample, shower_checks
from gnnjet.plots.style import FLAVOUR_COLOURS, label, log_pt_axis, save

# besides each collection's pt (multiplicities) and the label_* branches
BRANCHES = ("pt", "pt_gen", "eta_gen", "hadron_flavor", "parton_flavor", "sv_pt", "sv_mass", "ch_dxy",
            "ch_dxy_significance")
K0S_MASS = 0.49761  # GeV


def read_sample(patterns: list[str]) -> tuple[ak.Array, list[str]]:
    """The branches the checks need (those present) of every jet in `patterns`, and the constituent collections
    of the files (`writer.collections_in`: ch, ne, sv for generated samples)."""
    files = expand_files(patterns)
    available = list(uproot.open(files[0])["Jets"].keys())
    collections = collections_in(available)
    wanted = list(dict.fromkeys([*(b for b in BRANCHES if b in available),
                                 *(branch_name(c, "pt") for c in collections if branch_name(c, "pt") in available),
                                 *sorted(b for b in available if b.startswith("label_"))]))
    return uproot.concatenate([f"{f}:Jets" for f in files], wanted, library="ak"), collections


def jet_classes(jets: ak.Array) -> dict[str, np.ndarray]:
    """label_* classes if present, else flavour groups (uds, c, b, g)."""
    labels = [f for f in jets.fields if f.startswith("label_")]
    if labels:
        return {f.removeprefix("label_"): ak.to_numpy(jets[f]) == 1 for f in labels}
    return flavour_groups({k: ak.to_numpy(jets[k]) for k in ("hadron_flavor", "parton_flavor")})


def multiplicities(jets: ak.Array, collections: list[str], classes: dict[str, np.ndarray], out: Path,
                   tag: str) -> list[Path]:
    collections = [c for c in collections if branch_name(c, "pt") in jets.fields]
    fig, axes = plt.subplots(1, len(collections), figsize=(8 * len(collections), 7), squeeze=False,
                             constrained_layout=True)
    for ax, collection in zip(axes[0], collections):
        counts = ak.to_numpy(ak.num(jets[branch_name(collection, "pt")]))
        bins = np.arange(counts.max() + 2) - 0.5
        for name, mask in classes.items():
            if mask.any():
                ax.hist(counts[mask], bins=bins, histtype="step", density=True, linewidth=2,
                        color=FLAVOUR_COLOURS.get(name), label=f"{name} (mean {counts[mask].mean():.1f})")
        ax.set(xlabel=f"{collection} constituents per jet", ylabel="Fraction of jets")
        ax.legend(fontsize=14)
    return save(fig, out, f"{tag}_multiplicity")


def impact_parameters(jets: ak.Array, classes: dict[str, np.ndarray], out: Path, tag: str) -> list[Path]:
    if "ch_dxy" not in jets.fields:
        return []
    fig, (ax_ip, ax_sv) = plt.subplots(1, 2, figsize=(16, 7), constrained_layout=True)
    for name, mask in classes.items():
        if not mask.any():
            continue
        dxy = ak.to_numpy(ak.flatten(jets.ch_dxy[mask])) * 1e4  # cm -> um
        ax_ip.hist(np.clip(dxy, -2000, 2000), bins=np.linspace(-2000, 2000, 81), histtype="step", density=True,
                   linewidth=2, color=FLAVOUR_COLOURS.get(name),
                   label=f"{name}: mean |dxy| {np.abs(dxy).mean():.0f} um")
        if "sv_pt" in jets.fields:
            sv = ak.to_numpy(ak.num(jets.sv_pt[mask]))
            ax_sv.hist(sv, bins=np.arange(sv.max() + 2) - 0.5, histtype="step", density=True, linewidth=2,
                       color=FLAVOUR_COLOURS.get(name), label=f"{name} (mean {sv.mean():.2f})")
    ax_ip.set(xlabel=r"Track $d_{xy}$ (lifetime-signed) [$\mu$m]", ylabel="Fraction of tracks", yscale="log")
    ax_sv.set(xlabel="Secondary vertices per jet", ylabel="Fraction of jets", yscale="log")
    ax_ip.legend(fontsize=13)
    ax_sv.legend(fontsize=13)
    return save(fig, out, f"{tag}_impact_parameters")


def secondary_vertex_mass(jets: ak.Array, classes: dict[str, np.ndarray], out: Path, tag: str) -> list[Path]:
    """SV mass (pion masses assumed) per class, normalised to the number of jets: the area is the SV rate."""
    if "sv_mass" not in jets.fields:
        return []
    fig, ax = plt.subplots()
    bins = np.linspace(0, 5, 101)
    for name, mask in classes.items():
        if not mask.any():
            continue
        mass = ak.to_numpy(ak.flatten(jets.sv_mass[mask]))
        weights = np.full(len(mass), 1.0 / mask.sum() / (bins[1] - bins[0]))
        ax.hist(np.clip(mass, 0, 4.999), bins=bins, weights=weights, histtype="step", linewidth=2,
                color=FLAVOUR_COLOURS.get(name), label=f"{name}: {len(mass) / mask.sum():.3f} SV per jet")
    ax.axvline(K0S_MASS, color="grey", linestyle=":", linewidth=1, label=r"$K^0_S$ mass")
    ax.set(xlabel="Secondary vertex mass [GeV]", ylabel="SVs per jet per GeV", yscale="log")
    ax.legend(fontsize=13)
    label(ax)
    return save(fig, out, f"{tag}_sv_mass")


def raw_response(jets: ak.Array, out: Path, tag: str) -> list[Path]:
    if "pt_gen" not in jets.fields or "parton_flavor" not in jets.fields:
        return []
    columns = {k: ak.to_numpy(jets[k]) for k in ("pt", "pt_gen", "eta_gen", "hadron_flavor", "parton_flavor")}
    groups = flavour_groups(columns)
    response = columns["pt"] / columns["pt_gen"]
    central = np.abs(columns["eta_gen"]) < 2.5
    fig, ax = plt.subplots()
    for name in ("uds", "g", "c", "b"):
        binned = jec.binned(response, columns["pt_gen"], central & groups[name], "median", edges=jec.FLAVOUR_EDGES,
                            bootstrap=30)
        ok = binned.filled
        ax.errorbar(binned.centres[ok], binned.values[ok], yerr=binned.errors[ok], marker="o", linestyle="",
                    capsize=2, color=FLAVOUR_COLOURS[name], label=name)
    ax.axhline(1.0, color="grey", linestyle="--", linewidth=1)
    ax.set_ylabel(r"Raw median response $p_T / p_T^{gen}$")
    log_pt_axis(ax, r"$p_T^{gen}$ [GeV]")
    ax.legend(title=r"$|\eta^{gen}| < 2.5$")
    label(ax)
    return save(fig, out, f"{tag}_raw_response")


def sample_checks(patterns: list[str], out: str | Path, tag: str) -> list[Path]:
    """The checks of a jet sample, or of an air-shower sample (`shower_checks`)."""
    if is_shower_sample(patterns):
        return shower_checks(patterns, out, tag)
    out = Path(out)
    jets, collections = read_sample(patterns)
    classes = jet_classes(jets)
    return (multiplicities(jets, collections, classes, out, tag) + impact_parameters(jets, classes, out, tag)
            + secondary_vertex_mass(jets, classes, out, tag) + raw_response(jets, out, tag))
