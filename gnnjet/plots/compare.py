"""bin/plot.py's job: load several models' predictions and draw every figure of their task."""

from __future__ import annotations

import logging
from pathlib import Path

from gnnjet.errors import DataError
from gnnjet.evaluate.predictions import COMPARABLE, Predictions, load_all
from gnnjet.fileio import make_directory
from gnnjet.plots import classification, nodes, regression
from gnnjet.plots.qfactor import plot_q_factor
from gnnjet.plots.reweighting import reweighting_figures
from gnnjet.plots.style import use_style
from gnnjet.plots.training import training_curves

log = logging.getLogger(__name__)


def split_list(text: str) -> list[str]:
    """'a, b ,c' -> ['a', 'b', 'c']."""
    return [item.strip() for item in text.split(",") if item.strip()]


def plot_models(inputs: list[str], names: list[str], out: str | Path, discriminants: list[str] | None = None,
                weights: bool | None = None, sculpting: str | None = None, q_factor: str | None = None,
                q_factor_edges: list[float] | None = None) -> list[Path]:
    """Figures comparing the models (PNG + PDF) and metric tables in `out`; returns the files written.

    `discriminants` (tagging only): extra signal-vs-chosen-backgrounds curves, e.g. ['b:uds+g', 'c:uds+g'].
    `weights`: count jets with the predictions' `weight` branch (True: required; False: never; None: when every
    model's predictions carry it). `sculpting` (tagging only): a branch, e.g. mass, whose background distribution
    is drawn after score cuts, with 1/JSD in the tables. `q_factor` (tagging only): a size-proxy branch (nhit,
    energy) in whose bins (`q_factor_edges`, default quartiles) the Q-factor of the first class is tabulated.
    """
    use_style()
    out = Path(out)
    make_directory(out)
    models = load_models(inputs, names, weights)
    log.info("%s task, %d models, %d common jets", models[0].task, len(models),
             len(next(iter(models[0].columns.values()))))
    if models[0].task == "classification":
        paths = classification.plot_all(models, out, discriminants, sculpting)
        if q_factor:
            paths += plot_q_factor(models, out, q_factor, q_factor_edges)
    elif COMPARABLE.get(models[0].task, models[0].task) == "node_classification":  # and PUPPI's weights
        paths = nodes.plot_all(models, out)
    elif models[0].task == "node_regression":
        paths = nodes.plot_regressions(models, out)
    else:
        if discriminants or sculpting or q_factor:
            log.warning("--discriminant, --sculpting and --q-factor ignored: the inputs are regression predictions")
        paths = regression.plot_all(models, out)
    runs = {m.name: m.run_dir for m in models if m.run_dir is not None}
    return paths + training_curves(runs, out) + reweighting_figures(runs, out)


def load_models(inputs: list[str], names: list[str], weights: bool | None = None) -> list[Predictions]:
    """The models' predictions on their common jets (`load_all`), counting jets with the weights of every model or
    of none (`weights` as in `plot_models`; regression figures take none)."""
    models = load_all(inputs, names)
    carry = [m.weights is not None for m in models]
    if weights and not all(carry):
        missing = ", ".join(str(m.path) for m in models if m.weights is None)
        raise DataError(f"--weights: {missing} carry no weight branch (predictions of a run with data.weights.expr "
                        "have one); use --no-weights")
    use = all(carry) if weights is None else weights
    if any(carry) and not all(carry) and weights is None:
        log.warning("only some predictions carry jet weights: the figures and tables count every jet once")
    for m in models:
        m.weighted = m.weighted and use
    if any(carry):
        log.info("jets %s", "weighted by the weight branch" if use else "unweighted")
    return models
