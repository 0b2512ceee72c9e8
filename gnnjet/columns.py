"""The columns of a predictions file, named once: the tasks write them (`tasks/`, `runs.prediction`) and the
statistics and figures read them (`evaluate/`, `plots/`) through these functions.

Every file: ``entry`` (the jet's row in the inputs taken in order) and ``valid`` (0: dropped by the reader, NaN
predictions), then the observers (and ``weight``, the weight expression of a weighted run); beside the tree the
notes ``task``, ``selection`` and, for a weighted run, ``weights``. Classification: ``score_<label>`` per class
and the truth ``<label>``.
Regression of one target: ``pred`` (the point estimate of y) and ``target``; of several: ``pred_<name>`` and
``target_<name>``. Quantile heads add ``pred[_<name>]_<q>`` (``q16``, ``q84``, ``q2p5``), the Gaussian head
``..._q16`` and ``..._q84``. A target named after an observer X (pt, mass) adds the corrected ``X_corr`` =
X exp(pred) and, with a per-jet interval, ``X_corr_<q>`` and ``X_corr_sigma`` (half the 16-84% width).
"""

from __future__ import annotations

import re
from typing import Iterable

ENTRY = "entry"
VALID = "valid"
WEIGHT = "weight"  # the jets' weight expression (data.weights.expr), with the note WEIGHTS beside the tree
TASK, SELECTION, WEIGHTS = "task", "selection", "weights"  # the notes written beside the tree
CALIBRATION = "calibration"  # the note of a calibrated run's predictions (bin/calibrate.py)
ENSEMBLE = "ensemble"  # the note of an ensemble's predictions: its members
PUPPI_TASK = "pileup"  # the task note of bin/puppi.py's per-particle weights (gnnjet's tasks note task.type)
SCORE_PREFIX = "score_"
NODE_LABEL = "label"  # a node classification's true class index per constituent (NaN: none), as <type>_label
NODE_PT = "pt"  # each constituent's pt (GeV; NaN for those that are no node), as <type>_pt
PRED = "pred"
TARGET = "target"
CORRECTED_SUFFIX = "_corr"
RAW_SUFFIX, SPREAD_SUFFIX = "_raw", "_spread"  # a score before calibration; an ensemble's spread of a column
SIGMA = "sigma"
LOW, HIGH = "q16", "q84"  # the bounds of the 16-84% interval
INTERVAL_PARTS = (LOW, HIGH, SIGMA)


def node_column(node_type: str, name: str) -> str:
    """A node task's jagged per-constituent column of one node type: '<type>_<name>' (charged_score_pileup,
    charged_label, neutral_pred, neutral_pt, ...)."""
    return f"{node_type}_{name}"


def weighted_jet(quantity: str, label: str) -> str:
    """A node classification's jet rebuilt from its nodes weighted by their probability of class `label`:
    'pt_weighted_hard', 'mass_weighted_hard'."""
    return f"{quantity}_weighted_{label}"


def score(label: str) -> str:
    """The score column of class `label` ('label_q' -> 'score_label_q')."""
    return f"{SCORE_PREFIX}{label}"


def scored_labels(columns: Iterable[str]) -> list[str]:
    """The classes of the score columns, in their order (not counting a calibrated run's raw scores or an
    ensemble's spreads)."""
    return [name.removeprefix(SCORE_PREFIX) for name in columns
            if name.startswith(SCORE_PREFIX) and not name.endswith((RAW_SUFFIX, SPREAD_SUFFIX))]


def raw_score(label: str) -> str:
    """A calibrated run's score of class `label` before its calibration: 'score_label_q_raw'."""
    return f"{score(label)}{RAW_SUFFIX}"


def quantile_tag(tau: float) -> str:
    """0.16 -> 'q16', 0.025 -> 'q2p5': the suffix of a quantile's columns."""
    return "q" + f"{tau * 100:g}".replace(".", "p")


def pred(target: str | None = None, part: str | None = None) -> str:
    """'pred', 'pred_<target>' (one of several targets), with '_<part>' for a quantile (`quantile_tag`)."""
    return "_".join(p for p in (PRED, target, part) if p)


def target(name: str | None = None) -> str:
    """'target', or 'target_<name>' for one of several targets."""
    return f"{TARGET}_{name}" if name else TARGET


def corrected(quantity: str, part: str | None = None) -> str:
    """'pt_corr', or 'pt_corr_<part>' for an interval bound or its sigma ('q16', 'q84', 'sigma')."""
    return f"{quantity}{CORRECTED_SUFFIX}" + (f"_{part}" if part else "")


def truth(quantity: str) -> str:
    """The generator-level value of a corrected quantity: 'pt' -> 'pt_gen'."""
    return f"{quantity}_gen"


def corrected_quantities(columns: Iterable[str]) -> list[str]:
    """The quantities X with a corrected column X_corr, in column order ('pt', 'mass')."""
    suffix = CORRECTED_SUFFIX
    return [name.removesuffix(suffix) for name in columns if name.endswith(suffix) and len(name) > len(suffix)]


def has_interval(columns: Iterable[str], quantity: str = "pt") -> bool:
    """Whether the corrected `quantity` carries a per-jet interval (X_corr_q16, X_corr_q84, X_corr_sigma)."""
    names = set(columns)
    return all(corrected(quantity, part) in names for part in INTERVAL_PARTS)


_BOUND = re.compile(r"_(q\d+(p\d+)?|sigma)$")  # the suffix of an interval's columns (quantile_tag, SIGMA)


def is_prediction(name: str) -> bool:
    """Whether a column is a model's output (a score, a pred... or an X_corr... column) rather than the jets'
    entry, truth, observers or weight."""
    return name.startswith(SCORE_PREFIX) or name == PRED or name.startswith(f"{PRED}_") or CORRECTED_SUFFIX in name


def is_point_estimate(name: str) -> bool:
    """Whether a prediction column is a point estimate (a calibrated score, pred[_<target>], X_corr), not an
    interval's bound, its sigma or a raw score."""
    if name.endswith(SPREAD_SUFFIX):
        return False
    if name.startswith(SCORE_PREFIX):
        return not name.endswith(RAW_SUFFIX)
    return is_prediction(name) and not _BOUND.search(name)


def spread(name: str) -> str:
    """The column of an ensemble's spread of point estimate `name`: 'pt_corr' -> 'pt_corr_spread'."""
    return f"{name}{SPREAD_SUFFIX}"
