"""Dataset figures (bin/visualize_data.py): occupancy, flavours, multiplicities, one particle cloud,
the regression target and every configured feature before and after preprocessing."""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np

from gnnjet.data.dataset import JetDataset
from gnnjet.evaluate.predictions import flavour_groups
from gnnjet.plots.style import label, save

TYPE_COLOURS = ("tab:blue", "tab:green", "tab:red")


def occupancy(dataset: JetDataset, out: Path) -> list[Path]:
    obs = dataset.observers()
    if "pt" not in obs or "eta" not in obs:
        return []
    fig, ax = plt.subplots()
    counts, xedges, yedges, image = ax.hist2d(obs["eta"], obs["pt"], bins=(np.linspace(-5, 5, 41),
                                              np.geomspace(max(obs["pt"].min(), 1), obs["pt"].max(), 31)), cmin=1)
    ax.set(yscale="log", xlabel=r"Jet $\eta$", ylabel=r"Jet $p_T$ [GeV]")
    fig.colorbar(image, ax=ax, label="Jets")
    label(ax)
    return save(fig, out, "occupancy_pt_eta")


def flavour_composition(dataset: JetDataset, out: Path) -> list[Path]:
    obs = dataset.observers()
    groups = flavour_groups(obs)
    labels = dataset.spec.labels
    if not groups and not labels:
        return []
    fig, ax = plt.subplots()
    if labels:
        y = dataset.y.numpy()
        names = [lbl.removeprefix("label_") for lbl in labels]
        counts = [int((y == i).sum()) for i in range(len(labels))]
        ax.set_xlabel("Class label")
    else:
        names = list(groups) + ["other"]
        counts = [int(g.sum()) for g in groups.values()]
        counts.append(len(dataset) - sum(counts))
        ax.set_xlabel("Jet flavour (hadron, else parton)")
    ax.bar(names, counts, color="tab:blue")
    for i, c in enumerate(counts):
        ax.text(i, c, f"{100 * c / max(sum(counts), 1):.1f}%", ha="center", va="bottom", fontsize=15)
    ax.set_ylabel("Jets")
    label(ax)
    return save(fig, out, "flavour_composition")


def multiplicity(dataset: JetDataset, out: Path) -> list[Path]:
    node_type = dataset.node_type.numpy()
    jet_of_node = np.repeat(np.arange(len(dataset)), dataset.node_counts())
    fig, ax = plt.subplots()
    for code, name in enumerate(t.name for t in dataset.spec.node_types):
        if not (node_type == code).any():
            continue
        counts = np.bincount(jet_of_node[node_type == code], minlength=len(dataset))
        ax.hist(counts, bins=np.arange(counts.max() + 2) - 0.5, histtype="step", linewidth=2,
                color=TYPE_COLOURS[code % len(TYPE_COLOURS)], label=f"{name} (mean {counts.mean():.1f})")
    ax.set(xlabel="Nodes per jet (after the per-type cap)", ylabel="Jets", yscale="log")
    ax.legend()
    label(ax)
    return save(fig, out, "multiplicity")


def particle_cloud(dataset: JetDataset, out: Path, jet: int | None = None) -> list[Path]:
    """One jet in (deta, dphi), nodes coloured by type and sized by pt (the jet with the median multiplicity); a
    cloud with its own coordinates (detector hits) in those, nodes without four-vectors all of one size."""
    sizes = dataset.node_counts()
    jet = int(np.argsort(sizes)[len(sizes) // 2]) if jet is None else jet
    data = dataset[jet]
    pt = np.hypot(data.p4[:, 0].numpy(), data.p4[:, 1].numpy())
    area = 30 + 400 * pt / pt.max() if pt.max() > 0 else np.full(len(pt), 60.0)
    fig, ax = plt.subplots()
    for code, name in enumerate(t.name for t in dataset.spec.node_types):
        chosen = data.node_type.numpy() == code
        if chosen.any():
            ax.scatter(data.pos[chosen, 0], data.pos[chosen, 1], s=area[chosen],
                       color=TYPE_COLOURS[code % len(TYPE_COLOURS)], alpha=0.6, edgecolor="k",
                       label=f"{name} ({chosen.sum()})")
    if dataset.spec.needs_jet_axis:
        ax.set(xlabel=r"$\Delta\eta$ to the jet axis", ylabel=r"$\Delta\phi$ to the jet axis", xlim=(-0.5, 0.5),
               ylim=(-0.5, 0.5), aspect="equal")
    else:
        ax.set(xlabel="1st coordinate", ylabel="2nd coordinate", aspect="equal")
    ax.legend(title=f"jet {jet}: marker area ~ $p_T$" if pt.max() > 0 else f"event {jet}", fontsize=14)
    label(ax)
    return save(fig, out, "particle_cloud")


def target(dataset: JetDataset, out: Path) -> list[Path]:
    if dataset.spec.task_type != "regression":
        return []
    fig, ax = plt.subplots()
    y = dataset.y.numpy().reshape(len(dataset.y), -1)  # [J, T]
    for column, (name, expr) in enumerate(dataset.spec.targets.items()):
        ax.hist(y[:, column], bins=np.linspace(-1, 1, 81), histtype="step", linewidth=2, label=f"{name}: {expr.text}")
    ax.set(xlabel="Regression target", ylabel="Jets", yscale="log")
    ax.legend(fontsize=14)
    label(ax)
    return save(fig, out, "regression_target")


def features(dataset: JetDataset, out: Path, max_rows: int = 200_000) -> list[Path]:
    """Each node and jet feature, raw and preprocessed, on the rows of the types that own it."""
    rows = min(len(dataset.x), max_rows)
    raw_x, done_x = np.asarray(dataset.store.arrays["x"][:rows]), dataset.x[:rows].numpy()
    owned = dataset.spec.type_columns[dataset.node_type[:rows].numpy()]  # [rows, F]
    panels = []
    for j, feature in enumerate(dataset.spec.columns):
        panels.append((f"node: {feature.name}", raw_x[owned[:, j], j], done_x[owned[:, j], j]))
    for j, feature in enumerate(dataset.spec.jet_features):
        panels.append((f"jet: {feature.name}", dataset.store.arrays["u"][:, j], dataset.u.numpy()[:, j]))
    paths = []
    per_page = 12
    for page, start in enumerate(range(0, len(panels), per_page)):
        chunk = panels[start : start + per_page]
        fig, axes = plt.subplots(len(chunk), 2, figsize=(14, 3.2 * len(chunk)), squeeze=False)
        for (name, raw, processed), (ax_raw, ax_done) in zip(chunk, axes):
            for ax, values, what in ((ax_raw, raw, "raw"), (ax_done, processed, "preprocessed")):
                finite = values[np.isfinite(values)]
                if len(finite):
                    lo, hi = np.percentile(finite, [0.1, 99.9])
                    ax.hist(finite, bins=np.linspace(lo, hi if hi > lo else lo + 1, 60), histtype="stepfilled",
                            alpha=0.7)
                ax.set_yscale("log")
                ax.set_title(f"{name} ({what})", fontsize=14)
                ax.tick_params(labelsize=12)
                ax.minorticks_off()
        fig.tight_layout()
        paths += save(fig, out, f"features_{page}")
    return paths


def plot_dataset(dataset: JetDataset, out: str | Path) -> list[Path]:
    out = Path(out)
    paths: list[Path] = []
    for figure in (occupancy, flavour_composition, multiplicity, particle_cloud, target, features):
        paths += figure(dataset, out)
    return paths
