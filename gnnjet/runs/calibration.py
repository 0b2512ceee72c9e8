"""A run's calibration (``calibration.json``, written by bin/calibrate.py): the temperature of a tagger's logits or its
isotonic maps of the class probabilities, or the conformal corrections of a regression's per-jet bounds per group of
jets (bins of reco-level observers); read and applied wherever the run predicts (`runs.prediction.Predicted.columns`),
so bin/predict.py and the Python API write calibrated columns (a tagger's raw scores kept as ``score_<label>_raw``).

The file: {"kind": "temperature", "temperature": T, ...}, {"kind": "isotonic", "classes": [{"x": [...], "y": [...]} per
class], ...} or {"kind": "conformal", "by": [{"variable": NAME, "abs": bool, "edges": [...]}, ...], "bounds": {target:
{tag: {"level": L, "corrections": [one per group]}}}, "coverage": {target: {"q16/q84": {"nominal", "jets",
"coverage_before", "coverage_after": [one per group]}}}}, plus what it was fitted on (files, jets) and, for a tagger,
the ECE before and after (and the NLL for a temperature)."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from gnnjet import columns as column_names
from gnnjet.errors import GnnjetError
from gnnjet.evaluate.calibration import group_index, isotonic_apply
from gnnjet.evaluate.calibration import softmax as scaled_softmax
from gnnjet.fileio import atomic_write_text
from gnnjet.runs.layout import CALIBRATION, CALIBRATION_JETS

BINNING = re.compile(r"(?P<abs>abs\()?(?P<name>[A-Za-z_][A-Za-z0-9_]*)\)?")


@dataclass(frozen=True)
class Binning:
    """One variable of the groups: an observer of the run (or its absolute value) and its bin edges."""

    variable: str
    absolute: bool
    edges: tuple[float, ...]

    @property
    def label(self) -> str:
        return f"abs({self.variable})" if self.absolute else self.variable

    def values(self, observers: dict[str, np.ndarray]) -> np.ndarray:
        if self.variable not in observers:
            raise GnnjetError(f"calibration: the jets have no observer {self.variable!r} to group them by (observers: "
                              f"{', '.join(observers)}); add it to data.observers")
        values = np.asarray(observers[self.variable], np.float64)
        return np.abs(values) if self.absolute else values

    def to_json(self) -> dict[str, Any]:
        return {"variable": self.variable, "abs": self.absolute, "edges": list(self.edges)}


def parse_binning(text: str) -> tuple[str, bool, list[float] | None]:
    """'pt:30,60,120' or 'abs(eta):0,1.3,2.5' or 'pt' (edges chosen from the jets) -> (variable, absolute, edges);
    a truth variable (ending in _gen) is refused: a calibration must not need what data does not have."""
    name, _, edges = text.partition(":")
    match = BINNING.fullmatch(name.strip())
    if not match or bool(match["abs"]) != name.strip().endswith(")"):
        raise GnnjetError(f"--by {text!r}: give VARIABLE or abs(VARIABLE), then optionally :EDGE,EDGE,...")
    if match["name"].endswith("_gen"):
        raise GnnjetError(f"--by {text!r}: {match['name']} is a generator-level (truth) variable; group jets by "
                          "reconstructed quantities, which data has too")
    try:
        values = [float(e) for e in edges.split(",")] if edges else None
    except ValueError:
        raise GnnjetError(f"--by {text!r}: the edges must be numbers separated by commas") from None
    if values is not None and (len(values) < 2 or np.any(np.diff(values) <= 0)):
        raise GnnjetError(f"--by {text!r}: give at least two increasing edges")
    return match["name"], bool(match["abs"]), values


@dataclass
class Calibration:
    """A run's calibration (module docstring): `record` is the JSON object."""

    record: dict[str, Any]

    @property
    def kind(self) -> str:
        return self.record["kind"]

    @property
    def binnings(self) -> list[Binning]:
        return [Binning(b["variable"], b["abs"], tuple(b["edges"])) for b in self.record.get("by", [])]

    def groups(self, observers: dict[str, np.ndarray]) -> np.ndarray:
        """Each jet's group [J] under the binning."""
        binnings = self.binnings
        return group_index([b.values(observers) for b in binnings], [np.asarray(b.edges) for b in binnings])

    def corrections(self, observers: dict[str, np.ndarray]) -> dict[str, dict[str, np.ndarray]]:
        """{target: {quantile tag: the correction of each jet [J]}} of a conformal calibration."""
        group = self.groups(observers)
        return {target: {tag: np.asarray(entry["corrections"], np.float64)[group] for tag, entry in tags.items()}
                for target, tags in self.record["bounds"].items()}

    def columns(self, task: Any, outputs: np.ndarray, targets: np.ndarray,
                observers: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """The task's prediction columns with the calibration applied."""
        if self.kind in ("temperature", "isotonic"):  # a tagger: calibrated scores, the raw ones kept beside
            raw = scaled_softmax(outputs.astype(np.float64))
            if self.kind == "temperature":
                columns = task.columns(outputs / self.record["temperature"], targets, observers)
            else:
                columns = task.columns(outputs, targets, observers)
                fits = [(np.asarray(c["x"]), np.asarray(c["y"])) for c in self.record["classes"]]
                calibrated = isotonic_apply(raw, fits)
                columns.update({column_names.score(label): calibrated[:, i].astype(np.float32)
                                for i, label in enumerate(task.labels)})
            columns.update({column_names.raw_score(label): raw[:, i].astype(np.float32)
                            for i, label in enumerate(task.labels)})
            return columns
        return task.columns(outputs, targets, observers, corrections=self.corrections(observers))

    def note(self) -> str:
        """One line for the predictions file's notes."""
        if self.kind == "temperature":
            return f"temperature scaling, T = {self.record['temperature']:.4g}"
        if self.kind == "isotonic":
            return f"isotonic calibration per class ({self.record['jets']} calibration jets)"
        by = " x ".join(b.label for b in self.binnings) or "all jets"
        return f"conformal per-bound corrections by {by} ({self.record['jets']} calibration jets)"


def read_calibration(run_dir: str | Path) -> Calibration | None:
    """The calibration of the run in `run_dir`, None if it has none; a damaged file is a GnnjetError naming it."""
    path = Path(run_dir) / CALIBRATION
    if not path.exists():
        return None
    try:
        record = json.loads(path.read_text())
        if record["kind"] not in ("temperature", "isotonic", "conformal"):
            raise ValueError(record["kind"])
    except (OSError, ValueError, KeyError, TypeError):
        raise GnnjetError(f"{path}: not a calibration of this run (damaged?): fit it again with bin/calibrate.py "
                          "--overwrite") from None
    return Calibration(record)


def write_calibration_jets(run_dir: Path, files: list[str], entries: np.ndarray) -> None:
    """Record the jets kept out of training for calibration: the input files (expanded, in order) and each jet's
    row in them taken in order (the store's `entry`)."""
    record = {"files": [str(Path(f).resolve()) for f in files], "entries": sorted(int(e) for e in entries)}
    atomic_write_text(Path(run_dir) / CALIBRATION_JETS, json.dumps(record))


def read_calibration_jets(run_dir: Path) -> tuple[list[str], np.ndarray] | None:
    """(files, entries [K]) of the run's calibration jets, None if the run kept none (data.calibration_fraction)."""
    path = Path(run_dir) / CALIBRATION_JETS
    if not path.exists():
        return None
    try:
        record = json.loads(path.read_text())
        return [str(f) for f in record["files"]], np.asarray(record["entries"], np.int64)
    except (OSError, ValueError, KeyError, TypeError):
        raise GnnjetError(f"{path}: damaged; give calibration files with -i") from None
