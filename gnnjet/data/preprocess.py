"""Per-feature preprocessing: ``clip((x - center) * scale, min, max)`` as in weaver configs.

`center`/`scale` are numbers, null (no transform) or ``auto``: median and 1 / max(p84 - p50,
p50 - p16), fitted on the training split only and saved to ``preprocess.json`` so that prediction
never refits. Non-finite inputs become the clip bound they overflow to, or 0 (NaN, or no clip).
Processed arrays are written next to the raw cache, keyed by the preprocessing parameters (the nodes' with their
coordinates and four-vectors beside them, gathered together).
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from gnnjet.data.cache.store import ColumnarStore
from gnnjet.data.npy import NpyFile
from gnnjet.data.spec import DataSpec, Feature
from gnnjet.errors import ConfigError, DataError
from gnnjet.fileio import atomic_path, atomic_write_text

_FIT_ROWS = 1_000_000  # rows sampled per array to fit `auto` parameters
_FIT_JETS = 100_000  # jets whose nodes are sampled: bounds the fit's memory whatever the size of the dataset
_CHUNK_ROWS = 1 << 20

log = logging.getLogger(__name__)


_FLOAT32_MAX = float(np.finfo(np.float32).max)


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _number(value: Any, where: str, positive: bool = False) -> float:
    """A finite number that float32 holds (positive if asked), else a DataError naming `where`."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise DataError(f"{where}: expected a number, got {_short(value)}")
    try:
        number = float(value)
    except OverflowError:
        number = float("inf")
    if not np.isfinite(number) or abs(number) > _FLOAT32_MAX:
        raise DataError(f"{where}: {_short(value)} is not a finite float32 number")
    if positive and number <= 0:
        raise DataError(f"{where}: the scale must be positive, got {number}")
    return number


@dataclass
class Params:
    """Fitted parameters of a block of columns: each array is [F] float32."""

    center: np.ndarray
    scale: np.ndarray
    low: np.ndarray
    high: np.ndarray

    def to_dict(self, names: list[str]) -> dict[str, dict[str, float]]:
        def bound(value: float) -> float | None:  # JSON has no infinity: null means unclipped
            return float(value) if np.isfinite(value) else None

        return {n: {"center": float(c), "scale": float(s), "min": bound(lo), "max": bound(hi)}
                for n, c, s, lo, hi in zip(names, self.center, self.scale, self.low, self.high)}

    @classmethod
    def from_dict(cls, values: Any, names: list[str], where: str) -> "Params":
        """The parameters of features `names` from `values` (as `to_dict` writes them), checked: a mapping per
        feature with finite float32 numbers, a positive scale and min <= max (null bounds: unclipped). Anything
        else is a DataError naming the key (`where`.feature.key)."""
        if not isinstance(values, dict):
            raise DataError(f"{where}: expected a mapping of feature names to parameters, got {_short(values)}")
        missing = [n for n in names if n not in values]
        if missing:
            raise DataError(f"{where}: no parameters for feature(s) {', '.join(missing)}")
        rows = []
        for name in names:
            entry, at = values[name], f"{where}.{name}"
            if not isinstance(entry, dict) or set(entry) != {"center", "scale", "min", "max"}:
                raise DataError(f"{at}: expected {{center, scale, min, max}}, got {_short(entry)}")
            low = -np.inf if entry["min"] is None else _number(entry["min"], f"{at}.min")
            high = np.inf if entry["max"] is None else _number(entry["max"], f"{at}.max")
            if low > high:
                raise DataError(f"{at}: min {low} is above max {high}")
            rows.append((_number(entry["center"], f"{at}.center"), _number(entry["scale"], f"{at}.scale", True),
                         low, high))
        center, scale, low, high = np.array(rows, np.float32).reshape(len(names), 4).T.copy()
        return cls(center, scale, low, high)

    def apply(self, values: np.ndarray) -> np.ndarray:
        """[n, F] raw -> [n, F] float32 processed; NaN -> 0, +-inf -> clip bound or 0."""
        out = (values.astype(np.float32) - self.center) * self.scale
        np.clip(out, self.low, self.high, out=out)
        return np.nan_to_num(out, copy=False, nan=0.0, posinf=0.0, neginf=0.0)


def _fit(features: list[Feature], sample: np.ndarray, rows_of: list[np.ndarray]) -> Params:
    """Fit `auto` parameters of each feature on its own rows of `sample` [n, F]."""
    n = len(features)
    params = Params(np.zeros(n, np.float32), np.ones(n, np.float32),
                    np.full(n, -np.inf, np.float32), np.full(n, np.inf, np.float32))
    for j, feature in enumerate(features):
        column = sample[rows_of[j], j]
        column = column[np.isfinite(column)]
        p16, p50, p84 = np.percentile(column, [16, 50, 84]) if column.size else (0.0, 0.0, 0.0)
        if feature.center == "auto":
            params.center[j] = p50
        elif feature.center is not None:
            params.center[j] = feature.center
        if feature.scale == "auto":
            spread = max(p84 - p50, p50 - p16)
            params.scale[j] = 1.0 / spread if spread > 0 else 1.0
        elif feature.scale is not None:
            params.scale[j] = feature.scale
        if feature.clip is not None:
            params.low[j], params.high[j] = feature.clip
    return params


def _sample_rows(length: int, seed: int, size: int = _FIT_ROWS) -> np.ndarray:
    """Sorted positions of a seeded sample of `size` of `length` rows (all if there are fewer)."""
    if length <= size:
        return np.arange(length)
    return np.sort(np.random.default_rng(seed).choice(length, size, replace=False))


@dataclass
class Preprocessing:
    """Fitted parameters for node features (columns of x) and jet features (columns of u)."""

    node: Params
    jet: Params
    node_names: list[str]
    jet_names: list[str]

    @classmethod
    def fit(cls, spec: DataSpec, store: ColumnarStore, seed: int = 0,
            jets: np.ndarray | None = None) -> "Preprocessing":
        """Fit on the jets `jets` of a store (all if None); `auto` entries use a seeded sample of at most 100k jets
        for the node features and 1M jets for the jet features (memory bounded whatever the dataset's size)."""
        jets = np.arange(store.num_jets) if jets is None else np.sort(np.asarray(jets))
        jets = jets[_sample_rows(len(jets), seed)]
        node_jets = jets[_sample_rows(len(jets), seed, _FIT_JETS)]
        ptr = store.arrays["ptr"]
        counts = ptr[node_jets + 1] - ptr[node_jets]
        node_rows = np.repeat(ptr[node_jets] - np.cumsum(counts) + counts, counts) + np.arange(int(counts.sum()))
        rows = node_rows[_sample_rows(len(node_rows), seed)]
        x = np.asarray(store.arrays["x"][rows])
        node_type = np.asarray(store.arrays["node_type"][rows])
        owned = spec.type_columns[node_type]  # [n, F]: rows whose type fills each column
        node = _fit(spec.columns, x, [owned[:, j] for j in range(x.shape[1])])
        u = np.asarray(store.arrays["u"][jets])
        jet = _fit(spec.jet_features, u, [slice(None)] * u.shape[1])
        return cls(node, jet, [f.name for f in spec.columns], [f.name for f in spec.jet_features])

    @classmethod
    def manual(cls, spec: DataSpec, why: str = "there is no training data to fit it on") -> "Preprocessing":
        """Parameters from the config alone (no data); a feature with ``auto`` is a ConfigError naming it."""
        features = [*spec.columns, *spec.jet_features]
        for feature in features:
            if "auto" in (feature.center, feature.scale):
                raise ConfigError(f"{feature.path}: needs fixed preprocessing (numbers or null), not 'auto': {why}")
        node = _fit(spec.columns, np.zeros((0, len(spec.columns))), [slice(None)] * len(spec.columns))
        jet = _fit(spec.jet_features, np.zeros((0, len(spec.jet_features))), [slice(None)] * len(spec.jet_features))
        return cls(node, jet, [f.name for f in spec.columns], [f.name for f in spec.jet_features])

    def to_json(self) -> dict[str, Any]:
        return {"node": self.node.to_dict(self.node_names), "jet": self.jet.to_dict(self.jet_names)}

    @classmethod
    def from_json(cls, values: Any, spec: DataSpec) -> "Preprocessing":
        """The parameters of `spec`'s features from `to_json`'s form, checked (`Params.from_dict`)."""
        if not isinstance(values, dict) or not {"node", "jet"} <= set(values):
            raise DataError(f"expected a mapping with keys node and jet, got {_short(values)}")
        node_names, jet_names = [f.name for f in spec.columns], [f.name for f in spec.jet_features]
        return cls(Params.from_dict(values["node"], node_names, "node"),
                   Params.from_dict(values["jet"], jet_names, "jet"), node_names, jet_names)

    def save(self, path: str | Path) -> None:
        atomic_write_text(path, json.dumps(self.to_json(), indent=1))

    @classmethod
    def load(cls, path: str | Path, spec: DataSpec) -> "Preprocessing":
        """The parameters saved at `path` for the features of `spec`; a missing, damaged or foreign file (not
        JSON, parameters missing for a feature, values that are not finite numbers, a scale that is not positive,
        min above max) is a DataError naming the file and the key."""
        advice = "restore the preprocess.json written with the model, or train again"
        try:
            values = json.loads(Path(path).read_text())
        except FileNotFoundError:
            raise DataError(f"{path} does not exist: a model directory needs the preprocess.json written with "
                            "its model") from None
        except (OSError, ValueError, RecursionError) as err:
            raise DataError(f"{path}: not usable as the preprocessing of this model's features (not readable "
                            f"JSON: {type(err).__name__}); {advice}") from None
        try:
            return cls.from_json(values, spec)
        except DataError as err:
            raise DataError(f"{path}: not usable as the preprocessing of this model's features: {err}; {advice}") \
                from None

    def fingerprint(self) -> str:
        return hashlib.sha256(json.dumps(self.to_json(), sort_keys=True).encode()).hexdigest()[:12]

    def processed(self, spec: DataSpec, store: ColumnarStore) -> tuple[np.ndarray, np.ndarray]:
        """Processed (nodes [N, F + D + 4 + T], u [J, G]) of `store`, computed once and memory-mapped: each node's
        processed features x, then its raw coordinates pos, four-vector p4 and node task target (T = 1 for node
        tasks, else 0), side by side in one row so that a batch gathers them at once (`JetDataset.batch`).

        Columns a node's type does not own stay exactly 0.
        """
        tag = self.fingerprint()
        raw, raw_u = store.arrays["x"], store.arrays["u"]
        beside = [store.arrays[name] for name in ("pos", "p4", "node_target")]  # taken as they are
        owned = spec.type_columns.astype(np.float32)

        def process_nodes(lo: int, hi: int) -> np.ndarray:
            x = self.node.apply(raw[lo:hi]) * owned[store.arrays["node_type"][lo:hi]]
            return np.concatenate([x, *(array[lo:hi] for array in beside)], axis=1)

        shape = (raw.shape[0], raw.shape[1] + sum(array.shape[1] for array in beside))
        nodes = _processed(store.path / f"nodes.{tag}.npy", shape, process_nodes)
        u = _processed(store.path / f"u.{tag}.npy", raw_u.shape, lambda lo, hi: self.jet.apply(raw_u[lo:hi]))
        return nodes, u


def _processed(path: Path, shape: tuple[int, ...], process: Any) -> np.ndarray:
    """The memory-mapped processed array at `path`, (re)written first if missing or damaged (wrong shape,
    truncated)."""
    if path.exists():
        try:
            array = np.load(path, mmap_mode="c")
            if array.shape == shape:
                return array
        except (ValueError, OSError):
            pass
        log.warning("%s is damaged: writing it again", path)
    _write_processed(path, shape, process)
    return np.load(path, mmap_mode="c")


def _write_processed(path: Path, shape: tuple[int, ...], process: Any) -> None:
    """Write process(lo, hi) for row blocks of a float32 array of `shape` to `path` (atomically)."""
    with atomic_path(path) as tmp:
        file = NpyFile(tmp, "<f4", shape[1:])
        file.create()
        for lo in range(0, shape[0], _CHUNK_ROWS):
            file.write_rows(lo, process(lo, min(lo + _CHUNK_ROWS, shape[0])))
        file.finish(shape[0])
