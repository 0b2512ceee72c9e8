"""What reading input files dropped or found odd (jets failing the selection, invalid targets, empty jets,
non-finite values): counted per chunk, added up, recorded in the cache entry and reported once per build."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from gnnjet.data.spec import DataSpec

log = logging.getLogger(__name__)


def _add(total: np.ndarray, new: np.ndarray) -> np.ndarray:
    return new.astype(np.int64) if total.size == 0 else total + new


@dataclass
class ReadStats:
    """Counters collected while reading."""

    jets_read: int = 0
    failed_selection: int = 0
    invalid_target: int = 0
    no_nodes: int = 0
    nonfinite_kinematics: int = 0  # constituents dropped
    nonfinite_weight: int = 0  # jets whose weight or weighting variables are NaN/inf: weight 0
    nonfinite_x: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))  # [F] per column of x
    nonfinite_u: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))  # [G] per jet feature

    def add(self, other: "ReadStats") -> None:
        """Add the counts of `other` (e.g. a chunk read in another process)."""
        for name in ("jets_read", "failed_selection", "invalid_target", "no_nodes", "nonfinite_kinematics",
                     "nonfinite_weight"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.count_nonfinite(other.nonfinite_x, other.nonfinite_u)

    def count_nonfinite(self, x_counts: np.ndarray, u_counts: np.ndarray) -> None:
        """Add non-finite value counts per column of x [F] and of u [G] (empty arrays add nothing)."""
        if x_counts.size:
            self.nonfinite_x = _add(self.nonfinite_x, x_counts)
        if u_counts.size:
            self.nonfinite_u = _add(self.nonfinite_u, u_counts)

    @property
    def jets_dropped(self) -> int:
        return self.failed_selection + self.invalid_target + self.no_nodes

    def as_dict(self) -> dict[str, Any]:
        return {
            "jets_read": self.jets_read, "failed_selection": self.failed_selection,
            "invalid_target": self.invalid_target, "no_nodes": self.no_nodes,
            "nonfinite_kinematics": self.nonfinite_kinematics, "nonfinite_weight": self.nonfinite_weight,
            "nonfinite_x": self.nonfinite_x.tolist(), "nonfinite_u": self.nonfinite_u.tolist(),
        }

    def report(self, spec: DataSpec, files: list[str]) -> None:
        """Log a warning per kind of dropped jet or constituent and per feature with NaN/inf values."""
        where = f"{len(files)} file(s) starting {files[0]}" if files else "no files"
        for what, count in (("failed the selection", self.failed_selection),
                            ("had no valid target/label", self.invalid_target),
                            ("had no constituents (or none with finite kinematics)", self.no_nodes)):
            if count:
                log.warning("dropped %d of %d jets that %s (%s)", count, self.jets_read, what, where)
        if self.nonfinite_kinematics:
            log.warning("dropped %d constituents with NaN/inf kinematics or graph coordinates (%s)",
                        self.nonfinite_kinematics, where)
        if self.nonfinite_weight:
            log.warning("%d jets have a NaN/inf weight or weighting variable (data.weights, task.decorrelation): "
                        "they get weight 0 and do not train (%s)", self.nonfinite_weight, where)
        for features, counts in ((spec.columns, self.nonfinite_x), (spec.jet_features, self.nonfinite_u)):
            for feature, count in zip(features, counts):
                if count:
                    log.warning("feature %r (%s): %d NaN/inf values, replaced by the clip bounds (or 0) "
                                "when preprocessed", feature.name, feature.path, count)
