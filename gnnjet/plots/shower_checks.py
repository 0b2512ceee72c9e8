"""Sanity figures of a generated air-shower sample (bin/generate.py --process shower), per class: the lateral
distribution of the charge around the true core, muon hits per event and hits per event vs energy, and the
resolution of the reconstructed core and direction vs energy (events with the core inside the pond)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

import awkward as ak
import matplotlib.pyplot as plt
import numpy as np
import uproot

from gnnjet.data.inputs import expand_files
from gnnjet.plots.style import MARKERS, label, save

BRANCHES = ("energy", "zenith", "azimuth", "core_x", "core_y", "xc", "yc", "rec_zenith", "rec_azimuth", "hit_x",
            "hit_y", "hit_charge", "hit_muons")
ENERGY_EDGES = np.geomspace(0.3, 30.0, 9)  # TeV
CENTRES = np.sqrt(ENERGY_EDGES[:-1] * ENERGY_EDGES[1:])
CONTAINED = 50.0  # m: |core_x|, |core_y| below this count as contained (the pond is +-75 m by default)


def is_shower_sample(patterns: list[str]) -> bool:
    """True for files with the shower schema (a hit collection and label_gamma)."""
    keys = uproot.open(expand_files(patterns)[0])["Jets"].keys()
    return "hit_charge" in keys and "label_gamma" in keys


def read_showers(patterns: list[str]) -> tuple[ak.Array, dict[str, np.ndarray]]:
    """The events (BRANCHES and labels) of every file and the class masks [E]."""
    files = expand_files(patterns)
    events = uproot.concatenate([f"{f}:Jets" for f in files], [*BRANCHES, "label_gamma", "label_proton"],
                                library="ak")
    return events, {name: ak.to_numpy(events[f"label_{name}"]) == 1 for name in ("gamma", "proton")}


def lateral_distribution(events: ak.Array, classes: dict[str, np.ndarray], out: Path, tag: str) -> list[Path]:
    """Charge density (pe per m^2 of ground) vs distance to the true core, contained events of 1-3 TeV."""
    fig, ax = plt.subplots()
    edges = np.linspace(0, 150, 31)
    energy = ak.to_numpy(events["energy"])
    chosen = _contained(events) & (energy > 1) & (energy < 3)
    for i, (name, mask) in enumerate(classes.items()):
        selected = events[mask & chosen]
        if not len(selected):
            continue
        r = np.hypot(ak.flatten(selected["hit_x"] - selected["core_x"]), ak.flatten(selected["hit_y"] -
                                                                                    selected["core_y"]))
        charge, _ = np.histogram(r, edges, weights=ak.to_numpy(ak.flatten(selected["hit_charge"])))
        density = charge / (len(selected) * np.pi * (edges[1:] ** 2 - edges[:-1] ** 2))
        ax.step(edges[:-1], density, where="post", linewidth=2, color=f"C{i}", label=f"{name} ({len(selected)})")
    ax.set(xlabel="Distance to the true core [m]", ylabel=r"Charge density [pe / m$^2$]", yscale="log")
    ax.legend(title="1-3 TeV, core contained")
    label(ax)
    return save(fig, out, f"{tag}_lateral_distribution")


def per_event_vs_energy(events: ak.Array, classes: dict[str, np.ndarray], out: Path, tag: str) -> list[Path]:
    """Hit cells with muons and hit cells per event vs energy (mean, and median with its 16-84% band)."""
    muon_hits = ak.to_numpy(ak.sum(events["hit_muons"] > 0, axis=1))
    hits = ak.to_numpy(ak.num(events["hit_charge"], axis=1))
    which = _energy_bin(events)
    fig, (left, right) = plt.subplots(1, 2, figsize=(18, 7.5), constrained_layout=True)
    for i, (name, mask) in enumerate(classes.items()):
        style = {"marker": MARKERS[i], "color": f"C{i}", "label": name}
        left.plot(CENTRES, _per_energy_bin(muon_hits, mask, which, np.mean, 1), **style)
        bands = _per_energy_bin(hits, mask, which, lambda v: np.percentile(v, [16, 50, 84]), 3, [np.nan] * 3)
        right.plot(CENTRES, bands[:, 1], **style)
        right.fill_between(CENTRES, bands[:, 0], bands[:, 2], color=f"C{i}", alpha=0.2)
    left.set(xscale="log", yscale="log", xlabel="Energy [TeV]", ylabel="Hit cells with muons per event (truth)",
             xlim=ENERGY_EDGES[[0, -1]])
    right.set(xscale="log", yscale="log", xlabel="Energy [TeV]", ylabel="Hit cells per event (median, 16-84%)",
              xlim=ENERGY_EDGES[[0, -1]])
    for ax in (left, right):
        ax.legend()
        label(ax)
    return save(fig, out, f"{tag}_hits_vs_energy")


def reconstruction(events: ak.Array, classes: dict[str, np.ndarray], out: Path, tag: str) -> list[Path]:
    """68% quantiles of the core distance and of the space angle between true and reconstructed directions vs
    energy, contained events."""
    core_error = np.hypot(ak.to_numpy(events["xc"] - events["core_x"]), ak.to_numpy(events["yc"] - events["core_y"]))
    angle = np.degrees(space_angle(*(ak.to_numpy(events[k]) for k in ("zenith", "azimuth", "rec_zenith",
                                                                      "rec_azimuth"))))
    which, contained = _energy_bin(events), _contained(events)
    fig, (left, right) = plt.subplots(1, 2, figsize=(18, 7.5), constrained_layout=True)
    for i, (name, mask) in enumerate(classes.items()):
        style = {"marker": MARKERS[i], "color": f"C{i}", "label": name}
        for ax, values in ((left, core_error), (right, angle)):
            ax.plot(CENTRES, _per_energy_bin(values, mask & contained, which, lambda v: np.percentile(v, 68), 6),
                    **style)
    left.set(xscale="log", xlabel="Energy [TeV]", ylabel="Core resolution (68%) [m]", xlim=ENERGY_EDGES[[0, -1]])
    right.set(xscale="log", xlabel="Energy [TeV]", ylabel="Angular resolution (68%) [deg]",
              xlim=ENERGY_EDGES[[0, -1]])
    for ax in (left, right):
        ax.legend(title="core contained")
        label(ax)
    return save(fig, out, f"{tag}_reconstruction")


def space_angle(zenith: np.ndarray, azimuth: np.ndarray, rec_zenith: np.ndarray, rec_azimuth: np.ndarray
                ) -> np.ndarray:
    """Angle (rad) between the directions (zenith, azimuth) and (rec_zenith, rec_azimuth)."""
    cosine = (np.sin(zenith) * np.sin(rec_zenith) * np.cos(azimuth - rec_azimuth)
              + np.cos(zenith) * np.cos(rec_zenith))
    return np.arccos(np.clip(cosine, -1.0, 1.0))


def _energy_bin(events: ak.Array) -> np.ndarray:
    """Each event's ENERGY_EDGES bin [E] (-1 or len(CENTRES) outside)."""
    return np.digitize(ak.to_numpy(events["energy"]), ENERGY_EDGES) - 1


def _per_energy_bin(values: np.ndarray, selected: np.ndarray, which: np.ndarray,
                    statistic: Callable[[np.ndarray], Any], minimum: int, empty: Any = np.nan) -> np.ndarray:
    """`statistic` of values[selected] in each energy bin (`which`: each event's bin), `empty` where fewer than
    `minimum` events."""
    out = []
    for b in range(len(CENTRES)):
        chosen = values[selected & (which == b)]
        out.append(statistic(chosen) if len(chosen) >= minimum else empty)
    return np.array(out, dtype=float)


def _contained(events: ak.Array) -> np.ndarray:
    return (np.abs(ak.to_numpy(events["core_x"])) < CONTAINED) & (np.abs(ak.to_numpy(events["core_y"])) < CONTAINED)


def shower_checks(patterns: list[str], out: str | Path, tag: str) -> list[Path]:
    out = Path(out)
    events, classes = read_showers(patterns)
    return (lateral_distribution(events, classes, out, tag) + per_event_vs_energy(events, classes, out, tag)
            + reconstruction(events, classes, out, tag))
