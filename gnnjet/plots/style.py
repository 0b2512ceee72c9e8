"""HEP styling (mplhep), the experiment label and saving every figure as PNG and PDF."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import mplhep as hep  # noqa: E402

from gnnjet.fileio import atomic_path, make_directory  # noqa: E402

if TYPE_CHECKING:
    from gnnjet.evaluate.jec import Binned

MARKERS = ("o", "s", "^", "v", "D", "P", "X", "<", ">")
FLAVOUR_COLOURS = {"uds": "tab:blue", "c": "tab:green", "b": "tab:red", "g": "tab:orange"}


def use_style() -> None:
    hep.style.use("CMS")
    plt.rcParams.update({"figure.figsize": (9, 7.5), "legend.fontsize": 17, "axes.labelsize": 22})


def label(ax: plt.Axes, right: str = "") -> None:
    """'gnnjet Simulation' on the left, `right` (e.g. the sample) on the right."""
    hep.label.exp_label(exp="gnnjet", llabel="Simulation", rlabel=right, ax=ax, fontsize=18)


def save(fig: plt.Figure, directory: str | Path, name: str) -> list[Path]:
    """Write directory/name.png and .pdf atomically, close the figure, return both paths."""
    directory = Path(directory)
    make_directory(directory)
    paths = []
    for suffix in (".png", ".pdf"):
        path = directory / f"{name}{suffix}"
        with atomic_path(path) as tmp:
            fig.savefig(tmp, format=suffix[1:], dpi=110 if suffix == ".png" else None, bbox_inches="tight")
        paths.append(path)
    plt.close(fig)
    return paths


def log_pt_axis(ax: plt.Axes, label_text: str | None = None) -> None:
    """Log-scale pt axis with plain major ticks (20, 50, 100, ...) and unlabelled minor ticks."""
    from matplotlib.ticker import FixedLocator, NullFormatter, ScalarFormatter

    ax.set_xscale("log")
    ax.xaxis.set_major_locator(FixedLocator([20, 30, 50, 100, 200, 300, 500, 1000, 2000, 3000]))
    ax.xaxis.set_major_formatter(ScalarFormatter())
    ax.xaxis.set_minor_formatter(NullFormatter())
    if label_text:
        ax.set_xlabel(label_text)


PT_GEN_LABEL = r"$p_T^{gen}$ [GeV]"
# the TeX symbol of a regressed quantity in axis labels (others: the name in roman)
SYMBOLS = {"pt": "p_T", "mass": "m", "energy": "E"}


def symbol(quantity: str) -> str:
    """'pt' -> 'p_T', 'mass' -> 'm', 'width' -> '\\mathrm{width}' (for use inside $...$)."""
    return SYMBOLS.get(quantity, rf"\mathrm{{{quantity}}}")


def slug(name: str) -> str:
    """A model name made safe for a file name: 'ParticleNet (kin)' -> 'ParticleNet__kin_'."""
    return "".join(ch if ch.isalnum() else "_" for ch in name)


def markdown_table(rows: dict[str, dict[str, Any]]) -> list[str]:
    """Lines of a markdown table: one row per model, one column per key of the first row; numbers with 4
    significant digits, text (e.g. '> 800' for a rejection bound) as it is."""
    keys = list(next(iter(rows.values())))
    lines = ["| model | " + " | ".join(keys) + " |", "|---" * (len(keys) + 1) + "|"]

    def cell(value: Any) -> str:
        return value if isinstance(value, str) else f"{value:.4g}"

    return lines + [f"| {name} | " + " | ".join(cell(row.get(k, float("nan"))) for k in keys) + " |"
                    for name, row in rows.items()]


def errorbar_binned(ax: plt.Axes, binned: "Binned", **style: Any) -> None:
    """A statistic per pt bin as markers with error bars at the bin centres, its empty bins left out."""
    filled = binned.filled
    if filled.any():
        ax.errorbar(binned.centres[filled], binned.values[filled], yerr=binned.errors[filled], linestyle="",
                    markersize=7, capsize=2, **style)
