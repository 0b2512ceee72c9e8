"""bin/plot.py's job: load several models' predictions and draw every figure of their task."""

from __future__ import annotations

import logging
from pathlib import Path

from gnnjet.evaluate.predictions import load_all
from gnnjet.plots import classification, regression
from gnnjet.plots.style import use_style
from gnnjet.plots.training import training_curves

log = logging.getLogger(__name__)


def split_list(text: str) -> list[str]:
    """'a, b ,c' -> ['a', 'b', 'c']."""
    return [item.strip() for item in text.split(",") if item.strip()]


def plot_models(inputs: list[str], names: list[str], out: str | Path,
                discriminants: list[str] | None = None) -> list[Path]:
    """Figures comparing the models (PNG + PDF) and metric tables in `out`; returns the files written.

    `discriminants` (tagging only): extra signal-vs-chosen-backgrounds curves, e.g. ['b:uds+g', 'c:uds+g'].
    """
    use_style()
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    models = load_all(inputs, names)
    log.info("%s task, %d models, %d common jets", models[0].task, len(models),
             len(next(iter(models[0].columns.values()))))
    if models[0].task == "classification":
        paths = classification.plot_all(models, out, discriminants)
    else:
        if discriminants:
            log.warning("--discriminant ignored: the inputs are regression (JEC) predictions")
        paths = regression.plot_all(models, out)
    paths += training_curves({m.name: m.run_dir for m in models if m.run_dir is not None}, out)
    return paths
