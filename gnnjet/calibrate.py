"""Fitting a run's calibration (bin/calibrate.py) on calibration jets the training never saw: temperature scaling of
a tagger's logits, or split-conformal corrections of a regression's per-jet bounds per group of jets
(`evaluate.calibration`), saved as the run's calibration.json (`runs.calibration`), which prediction then applies.

The conformal guarantee: on new jets exchangeable with the calibration jets of their group, each corrected bound
holds its level (P(y < low) <= 0.16 and P(y > high) <= 0.16 for the 16-84% interval, so the interval covers at
least 68%), whatever the network, as long as the group had enough calibration jets (k = ceil((n + 1) L) <= n).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from gnnjet import columns as column_names
from gnnjet.config import NODE_TASKS
from gnnjet.data.inputs import expand_files
from gnnjet.errors import GnnjetError
from gnnjet.evaluate.calibration import (
    expected_calibration_error,
    fit_temperature,
    group_index,
    interval_corrections,
    isotonic_apply,
    isotonic_fit,
    negative_log_likelihood,
    softmax,
)
from gnnjet.fileio import atomic_write_text, refuse_to_clobber, same_file
from gnnjet.runs.calibration import Binning, parse_binning, read_calibration_jets
from gnnjet.runs.layout import CALIBRATION
from gnnjet.runs.prediction import run_model
from gnnjet.runs.run import Run

DEFAULT_GROUPS = 4  # equal-population bins of a --by variable given without edges


METHODS = ("temperature", "isotonic")  # a tagger's calibrations


def calibrate(model_dir: str | Path, files: list[str] | None = None, *, by: list[str] = (),
              method: str = "temperature", overwrite: bool = False, batch_size: int = 512, device: str = "cpu",
              progress: bool = True, trust_code: bool = False) -> dict[str, Any]:
    """Fit the calibration of the run in `model_dir` on the jets of `files` (calibration jets: never the training
    jets), or without files on the validation jets the run kept out of training for it (data.calibration_fraction),
    and save it as the run's calibration.json (an existing one only with `overwrite`); returns the record.
    `by`: for a regression, the groups ('pt:30,60,120', 'abs(eta):0,1.3,2.5', or 'pt' for 4 equal-population bins);
    no groups: one correction for all jets. `method`: a tagger's calibration, temperature or isotonic."""
    if method not in METHODS:
        raise GnnjetError(f"calibration method {method!r}: choose one of {', '.join(METHODS)}")
    run = Run.at(model_dir, trust_code)
    if run.config["task"]["type"] in NODE_TASKS:
        raise GnnjetError(f"{run.path} is a {run.config['task']['type']} run: calibration is fitted for jet tasks' "
                          "scores and intervals, not per node")
    target = run.file(CALIBRATION)
    kept = None
    if files is None:
        kept = read_calibration_jets(run.path)
        if kept is None:
            raise GnnjetError(f"{run.path} kept no calibration jets (train with data.calibration_fraction): give "
                              "calibration files with -i")
        files = kept[0]
    else:
        _refuse_training_files(run, files)
    refuse_to_clobber(target, files, [], overwrite, what="calibration")
    predicted = run_model(run.path, files, batch_size=batch_size, device=device, progress=progress,
                          trust_code=trust_code)
    jets = np.ones(len(predicted.targets), bool)
    if kept is not None:  # the run's own calibration jets among the jets of its files
        jets = np.isin(np.asarray(predicted.dataset.store.arrays["entry"]), kept[1])
    if not jets.any():
        raise GnnjetError(f"no jets in {', '.join(files)} to calibrate on")
    task, outputs, targets = predicted.trained.task, predicted.outputs[jets], predicted.targets[jets]
    observers = {name: values[jets] for name, values in predicted.dataset.observers().items()}
    if predicted.spec.task_type == "classification":
        fit = fit_temperature_record if method == "temperature" else fit_isotonic_record
        record = fit(outputs, targets)
    else:
        record = fit_conformal_record(task, outputs, targets, observers, by)
    record |= {"files": list(files), "jets": int(jets.sum()),
               "calibration_jets": "the run's own (data.calibration_fraction)" if kept is not None else "given"}
    atomic_write_text(target, json.dumps(record, indent=1))
    return record


def _refuse_training_files(run: Run, files: list[str]) -> None:
    """Calibration jets must be new to the model: a file the run trained on (data.train) is a GnnjetError, but for a
    k-fold run, whose predictions of its own training jets are out-of-fold (each jet scored by the fold's model
    that never saw it)."""
    if run.kfold is not None:
        return
    trained_on = []
    for pattern in run.config["data"]["train"] or []:
        try:
            trained_on += expand_files([pattern])
        except GnnjetError:  # the training files are gone: nothing to compare with
            continue
    for file in files:
        if any(same_file(file, other) for other in trained_on):
            raise GnnjetError(f"{file} is a training file of {run.path} (data.train): calibrate on jets the model "
                              "never saw")


def fit_temperature_record(outputs: np.ndarray, targets: np.ndarray) -> dict[str, Any]:
    """Temperature scaling of the logits [J, C], with the NLL and ECE before and after on the calibration jets."""
    logits, labels = outputs.astype(np.float64), targets.astype(np.int64)
    temperature = fit_temperature(logits, labels)
    return {"kind": "temperature", "temperature": temperature,
            "nll_before": negative_log_likelihood(logits, labels), "nll_after":
                negative_log_likelihood(logits, labels, temperature),
            "ece_before": expected_calibration_error(softmax(logits), labels),
            "ece_after": expected_calibration_error(softmax(logits, temperature), labels)}


def fit_isotonic_record(outputs: np.ndarray, targets: np.ndarray) -> dict[str, Any]:
    """Each class's isotonic map of its probability (one against the rest; the mapped probabilities are renormalised
    when applied), with the ECE before and after on the calibration jets."""
    labels = targets.astype(np.int64)
    raw = softmax(outputs.astype(np.float64))
    fits = [isotonic_fit(raw[:, c], labels == c) for c in range(raw.shape[1])]
    return {"kind": "isotonic", "classes": [{"x": x.tolist(), "y": y.tolist()} for x, y in fits],
            "ece_before": expected_calibration_error(raw, labels),
            "ece_after": expected_calibration_error(isotonic_apply(raw, fits), labels)}


def fit_conformal_record(task: Any, outputs: np.ndarray, targets: np.ndarray, observers: dict[str, np.ndarray],
                         by: list[str]) -> dict[str, Any]:
    """Conformal corrections of every per-jet bound of every target of the regression `task`, per group of `by`,
    with each group's jets and its interval coverage before and after (on the calibration jets)."""
    levels = task.bound_levels()
    if not levels:
        raise GnnjetError(f"task.loss {task.loss_name} predicts no per-jet interval to calibrate (use loss quantile "
                          "or gaussian_nll)")
    binnings = [_binning(text, observers) for text in by]
    group = group_index([b.values(observers) for b in binnings], [np.asarray(b.edges) for b in binnings])
    groups = int(np.prod([len(b.edges) - 1 for b in binnings])) if binnings else 1
    raw = task.columns(outputs, targets, observers)
    bounds: dict[str, dict[str, Any]] = {}
    coverage: dict[str, dict[str, Any]] = {}
    for name in task.targets:
        named = None if len(task.targets) == 1 else name
        y = raw[column_names.target(named)].astype(np.float64)
        bounds[name], coverage[name] = {}, {}
        for low_tag, high_tag in _pairs(levels):
            low, high = (raw[column_names.pred(named, tag)].astype(np.float64) for tag in (low_tag, high_tag))
            corrections = np.zeros((groups, 2))
            for g in range(groups):
                members = group == g
                try:
                    corrections[g] = interval_corrections(low[members], high[members], y[members], levels[low_tag],
                                                          levels[high_tag])
                except ValueError as err:
                    raise GnnjetError(f"calibration group {_describe(binnings, g)}: {err}; use wider bins (--by)") \
                        from None
            before = (y >= low) & (y <= high)
            after = (y >= low - corrections[group, 0]) & (y <= high + corrections[group, 1])
            for tag, column, level in ((low_tag, 0, levels[low_tag]), (high_tag, 1, levels[high_tag])):
                sign = -1.0 if column == 0 else 1.0
                bounds[name][tag] = {"level": level, "corrections": (sign * corrections[:, column]).tolist()}
            coverage[name][f"{low_tag}/{high_tag}"] = {
                "nominal": levels[high_tag] - levels[low_tag],
                "coverage_before": [float(before[group == g].mean()) for g in range(groups)],
                "coverage_after": [float(after[group == g].mean()) for g in range(groups)],
                "jets": [int((group == g).sum()) for g in range(groups)]}
    return {"kind": "conformal", "by": [b.to_json() for b in binnings], "bounds": bounds, "coverage": coverage}


def _pairs(levels: dict[str, float]) -> list[tuple[str, str]]:
    """The symmetric (low, high) tags of the bounds: q16 with q84, q2p5 with q97p5, ..."""
    by_level = {round(level, 9): tag for tag, level in levels.items()}
    return [(tag, by_level[round(1 - level, 9)]) for tag, level in sorted(levels.items(), key=lambda item: item[1])
            if level < 0.5 and round(1 - level, 9) in by_level]


def _binning(text: str, observers: dict[str, np.ndarray]) -> Binning:
    variable, absolute, edges = parse_binning(text)
    binning = Binning(variable, absolute, ())
    if edges is None:  # equal-population bins of the calibration jets (jets beyond the ends join the end bins)
        edges = list(np.unique(np.quantile(binning.values(observers), np.linspace(0, 1, DEFAULT_GROUPS + 1))))
    return Binning(variable, absolute, tuple(float(e) for e in edges))


def _describe(binnings: list[Binning], group: int) -> str:
    parts, rest = [], group
    for binning in reversed(binnings):
        count = len(binning.edges) - 1
        index, rest = rest % count, rest // count
        parts.append(f"{binning.edges[index]:g} <= {binning.label} < {binning.edges[index + 1]:g}")
    return ", ".join(reversed(parts)) or "all jets"
