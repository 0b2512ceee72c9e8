"""ROOT or Parquet ntuples -> columnar jet chunks: only the needed branches are read, chunk by chunk.

Each chunk becomes flat numpy arrays (DESIGN.md, "Columnar jets"): nodes of a jet are contiguous,
charged first, then neutral, then SV, each block ordered by decreasing pt and capped at
``max_nodes``. Jets failing the selection, with an invalid target, or with no nodes at all are
dropped and counted in `ReadStats`; constituents whose kinematics (p4) or graph coordinates (pos)
are NaN/inf are dropped and counted (a jet left without any is dropped as having no nodes);
non-finite feature values are counted (the preprocessing replaces them).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

import awkward as ak
import numpy as np
import uproot

from gnnjet.data.expressions import Expression
from gnnjet.data.parquet import is_parquet, parquet_chunks, parquet_metadata, read_parquet
from gnnjet.data.spec import DataSpec, NodeTypeSpec
from gnnjet.errors import ConfigError, DataError

@dataclass
class ReadStats:
    """Counters collected while reading; reported once per cache build."""

    jets_read: int = 0
    failed_selection: int = 0
    invalid_target: int = 0
    no_nodes: int = 0
    nonfinite_kinematics: int = 0  # constituents dropped
    nonfinite_x: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    nonfinite_u: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))

    def add(self, other: "ReadStats") -> None:
        """Add the counts of `other` (e.g. a chunk read in another process)."""
        for name in ("jets_read", "failed_selection", "invalid_target", "no_nodes", "nonfinite_kinematics"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.nonfinite_x = _add(self.nonfinite_x, other.nonfinite_x) if other.nonfinite_x.size else self.nonfinite_x
        self.nonfinite_u = _add(self.nonfinite_u, other.nonfinite_u) if other.nonfinite_u.size else self.nonfinite_u

    def as_dict(self) -> dict[str, Any]:
        return {
            "jets_read": self.jets_read, "failed_selection": self.failed_selection,
            "invalid_target": self.invalid_target, "no_nodes": self.no_nodes,
            "nonfinite_kinematics": self.nonfinite_kinematics,
            "nonfinite_x": self.nonfinite_x.tolist(), "nonfinite_u": self.nonfinite_u.tolist(),
        }


def open_tree(path: str | Path, tree: str) -> Any:
    """Open `tree` in a ROOT file; unreadable files and missing trees raise DataError naming the file."""
    try:
        file = uproot.open(path)
    except FileNotFoundError:
        raise DataError(f"input file {path} does not exist") from None
    except Exception as err:  # uproot raises many kinds for corrupt files
        raise DataError(f"cannot read ROOT file {path}: {type(err).__name__}: {err}") from None
    try:
        return file[tree]
    except Exception:
        trees = [k.split(";")[0] for k, v in file.classnames().items() if v.startswith("TTree")]
        raise DataError(f"{path}: no tree {tree!r} (trees in the file: {', '.join(trees) or 'none'}); set data.tree") from None


def check_branches(tree: Any, spec: DataSpec, path: str | Path) -> None:
    """Raise DataError naming the first missing branch, the file and the config key that asked for it."""
    available = set(tree.keys())
    for branch, key in spec.branches.items():
        if branch not in available:
            raise DataError(f"{path}: branch {branch!r} (needed by {key}) is not in tree {spec.tree!r}")


@dataclass(frozen=True)
class ChunkRef:
    """A slice of one input file that is read and converted as one chunk: entries [start, stop) of a ROOT
    tree, or whole Parquet row groups (`row_groups`; start/stop then count rows within the file)."""

    path: str
    start: int
    stop: int
    row_groups: tuple[int, ...] = ()

    @property
    def num_jets(self) -> int:
        return self.stop - self.start


def plan_chunks(spec: DataSpec, files: list[str], jets_per_chunk: int) -> list[ChunkRef]:
    """The chunks of all jets in `files`, in file order, after checking every file and its branches.

    Chunks only cut the jet sequence: concatenated in order they give the same arrays whatever their size.
    The format follows the suffix: ``.parquet`` files by row groups, everything else as ROOT (tree
    ``spec.tree``) in `jets_per_chunk` entries.
    """
    chunks: list[ChunkRef] = []
    for path in files:
        if is_parquet(path):
            rows = parquet_metadata(path)["col_counts"]
            first = 0
            for groups in parquet_chunks(path, spec.branches, jets_per_chunk):
                size = sum(rows[g] for g in groups)
                chunks.append(ChunkRef(path, first, first + size, groups))
                first += size
            continue
        tree = open_tree(path, spec.tree)
        check_branches(tree, spec, path)
        chunks += [ChunkRef(path, lo, min(lo + jets_per_chunk, tree.num_entries))
                   for lo in range(0, tree.num_entries, jets_per_chunk)]
    return chunks


def read_chunk(spec: DataSpec, chunk: ChunkRef, stats: ReadStats) -> dict[str, np.ndarray]:
    """The columnar arrays (see `columnarise`) of one chunk; its counts are added to `stats`."""
    branches = sorted(spec.branches)
    if chunk.row_groups:
        return columnarise(spec, read_parquet(chunk.path, branches, chunk.row_groups), stats)
    tree = open_tree(chunk.path, spec.tree)
    try:
        arrays = tree.arrays(branches, entry_start=chunk.start, entry_stop=chunk.stop, library="ak")
    except Exception as err:  # uproot raises many kinds for damaged baskets
        raise DataError(f"cannot read ROOT file {chunk.path}: {type(err).__name__}: {err}") from None
    return columnarise(spec, arrays, stats)


def iter_chunks(spec: DataSpec, files: list[str], stats: ReadStats) -> Iterator[dict[str, np.ndarray]]:
    """Yield columnar chunks (see `columnarise`) of all jets in `files`, in file order, one process."""
    for chunk in plan_chunks(spec, files, spec.step_size):
        yield read_chunk(spec, chunk, stats)


def _evaluate(expr: Expression, arrays: ak.Array) -> Any:
    """Evaluate; NaN/inf results are counted and handled downstream, so numpy stays quiet."""
    try:
        with np.errstate(all="ignore"):
            return expr.evaluate(arrays)
    except (ValueError, TypeError, ZeroDivisionError) as err:
        raise ConfigError(f"{expr.path}: cannot evaluate {expr.text!r}: {err}") from None


def _jet_values(value: Any, num_jets: int, expr: Expression) -> np.ndarray:
    """A jet-level expression result -> float64 [num_jets]."""
    if np.isscalar(value):
        return np.full(num_jets, float(value))
    if isinstance(value, ak.Array) and value.ndim != 1:  # jagged: ak.to_numpy would fail with awkward's message
        raise ConfigError(f"{expr.path}: {expr.text!r} is not a per-jet quantity (it has constituent structure)")
    array = ak.to_numpy(value) if isinstance(value, ak.Array) else np.asarray(value)
    if array.ndim != 1:
        raise ConfigError(f"{expr.path}: {expr.text!r} is not a per-jet quantity (it has constituent structure)")
    return array.astype(np.float64)


def _is_jagged(value: Any) -> bool:
    return isinstance(value, ak.Array) and value.ndim == 2


@dataclass
class _Constituents:
    """The constituents of one node type in a chunk: its collection, the selected ones and their order.

    `reference` [J, var] is an array of the type's collection, `mask` [J, var] the `select:`
    result (None: all), `order` [J, <= max_nodes] indices into the selected constituents,
    pt-ordered (file order without kinematics) and capped.
    """

    spec: NodeTypeSpec
    reference: ak.Array
    mask: ak.Array | None
    order: ak.Array

    @classmethod
    def of(cls, spec: NodeTypeSpec, arrays: ak.Array) -> "_Constituents":
        first = spec.kinematics[0] if spec.kinematics else spec.coordinates[0]  # type: ignore[index]
        reference = _evaluate(first, arrays)
        if not _is_jagged(reference):
            raise ConfigError(f"{first.path}: {first.text!r} is not a per-constituent quantity (one value per jet); "
                              f"node type {spec.name!r} needs a collection")
        mask = None
        if spec.select is not None:
            mask = _evaluate(spec.select, arrays)
            if not _is_jagged(mask) or not np.array_equal(ak.to_numpy(ak.num(mask)), ak.to_numpy(ak.num(reference))):
                raise ConfigError(f"{spec.select.path}: {spec.select.text!r} must give one value per constituent "
                                  f"of the collection of {first.path} ({first.text!r}), not per jet or of another "
                                  "collection")
            mask = mask != 0
        selected = reference if mask is None else reference[mask]
        if spec.form is None:
            order = ak.local_index(selected, axis=1)[:, : spec.max_nodes]
        else:
            pt = selected if spec.form == "pt/eta/phi" else _pt_of(spec, arrays, mask)
            order = ak.argsort(pt, axis=1, ascending=False, stable=True)[:, : spec.max_nodes]
        return cls(spec, reference, mask, order)

    def counts(self) -> np.ndarray:
        """[J] nodes per jet after selection and cap."""
        return ak.to_numpy(ak.num(self.order, axis=1)).astype(np.int64)

    def restrict(self, keep: np.ndarray) -> "_Constituents":
        return _Constituents(self.spec, self.reference[keep], None if self.mask is None else self.mask[keep],
                             self.order[keep])

    def values(self, expr: Expression, arrays: ak.Array) -> np.ndarray:
        """An expression of this type's constituents, selected, ordered and capped -> flat float64."""
        value = _evaluate(expr, arrays)
        try:
            value = ak.broadcast_arrays(ak.Array(value) if not np.isscalar(value) else value, self.reference)[0]
            if self.mask is not None:
                value = value[self.mask]
            return ak.to_numpy(ak.flatten(value[self.order])).astype(np.float64)
        except ValueError:
            raise ConfigError(
                f"{expr.path}: {expr.text!r} does not have one value per constituent of node type {self.spec.name!r} "
                "(does it mix branches of different collections?)"
            ) from None


def _pt_of(spec: NodeTypeSpec, arrays: ak.Array, mask: ak.Array | None) -> ak.Array:
    px, py = (_evaluate(e, arrays) for e in spec.kinematics[:2])
    pt = np.hypot(px, py)
    return pt if mask is None else pt[mask]


def _targets(spec: DataSpec, arrays: ak.Array) -> tuple[np.ndarray, np.ndarray]:
    """Returns (y [J], valid [J]): class index (int64) or regression target (float32)."""
    if spec.task_type == "classification":
        onehot = np.stack([ak.to_numpy(arrays[label]).astype(np.float64) for label in spec.labels], axis=1)
        valid = (onehot.sum(axis=1) == 1) & np.all((onehot == 0) | (onehot == 1), axis=1)
        return onehot.argmax(axis=1).astype(np.int64), valid
    assert spec.target is not None
    y = _jet_values(_evaluate(spec.target, arrays), len(arrays), spec.target)
    return y.astype(np.float32), np.isfinite(y)


def columnarise(spec: DataSpec, arrays: ak.Array, stats: ReadStats) -> dict[str, np.ndarray]:
    """One chunk of jets -> flat arrays.

    Returns: dict with x [N, F] float32, node_type [N] int8, pos [N, 2] float32 (deta, dphi to the
    jet axis), p4 [N, 4] float32 (px, py, pz, E in GeV), counts [J] int64 (nodes per jet),
    u [J, G] float32, y [J], obs [J, O] float64.
    """
    stats.jets_read += len(arrays)
    keep = np.ones(len(arrays), dtype=bool)
    if spec.selection is not None:
        passed = _jet_values(_evaluate(spec.selection, arrays), len(arrays), spec.selection) != 0
        stats.failed_selection += int((~passed).sum())
        keep &= passed
    y, valid = _targets(spec, arrays)
    stats.invalid_target += int((keep & ~valid).sum())
    keep &= valid

    blocks = [_Constituents.of(t, arrays) for t in spec.node_types]
    type_counts = [b.counts() for b in blocks]
    empty = keep & (np.sum(type_counts, axis=0) == 0)
    stats.no_nodes += int(empty.sum())
    keep &= ~empty

    arrays, y = arrays[keep], y[keep]
    blocks = [b.restrict(keep) for b in blocks]
    type_counts = [c[keep] for c in type_counts]
    num_jets = len(arrays)
    counts = np.sum(type_counts, axis=0).astype(np.int64) if type_counts else np.zeros(num_jets, np.int64)
    num_nodes = int(counts.sum())
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])

    if spec.needs_jet_axis:
        jet_eta = _jet_values(_evaluate(spec.jet_eta, arrays), num_jets, spec.jet_eta)
        jet_phi = _jet_values(_evaluate(spec.jet_phi, arrays), num_jets, spec.jet_phi)
    x = np.zeros((num_nodes, len(spec.columns)), dtype=np.float32)
    node_type = np.zeros(num_nodes, dtype=np.int8)
    pos = np.zeros((num_nodes, spec.num_coordinates), dtype=np.float32)
    p4 = np.zeros((num_nodes, 4), dtype=np.float32)
    offset_in_jet = np.zeros(num_jets, dtype=np.int64)
    for block, n in zip(blocks, type_counts):
        node_spec = block.spec
        jet_of_node = np.repeat(np.arange(num_jets), n)
        rank = np.arange(int(n.sum())) - np.repeat(np.cumsum(n) - n, n)
        dest = starts[jet_of_node] + offset_in_jet[jet_of_node] + rank
        offset_in_jet += n
        for feature, column in node_spec.features:
            x[dest, column] = block.values(feature.expr, arrays)
        node_type[dest] = node_spec.code
        kinematics = [block.values(e, arrays) for e in node_spec.kinematics]
        if node_spec.form == "pt/eta/phi":
            c_pt, c_eta, c_phi, c_mass = kinematics
            p4[dest] = np.stack([c_pt * np.cos(c_phi), c_pt * np.sin(c_phi), c_pt * np.sinh(c_eta),
                                 np.sqrt((c_pt * np.cosh(c_eta)) ** 2 + c_mass**2)], axis=1)
        elif node_spec.form == "px/py/pz/energy":
            p4[dest] = np.stack(kinematics, axis=1)
        if node_spec.coordinates is not None:
            pos[dest] = np.stack([block.values(e, arrays) for e in node_spec.coordinates], axis=1)
        else:
            if node_spec.form == "px/py/pz/energy":  # direction from the four-vector
                with np.errstate(all="ignore"):  # a zero-pt constituent has no direction: its pos is not finite
                    c_eta = np.arcsinh(kinematics[2] / np.hypot(kinematics[0], kinematics[1]))
                    c_phi = np.arctan2(kinematics[1], kinematics[0])
            pos[dest, 0] = c_eta - jet_eta[jet_of_node]
            pos[dest, 1] = (c_phi - jet_phi[jet_of_node] + np.pi) % (2 * np.pi) - np.pi

    bad = ~(np.isfinite(p4).all(axis=1) & np.isfinite(pos).all(axis=1))
    if bad.any():  # NaN/inf pt, eta, ... would reach the knn graph and the pair features: drop the constituent
        stats.nonfinite_kinematics += int(bad.sum())
        counts = counts - np.bincount(np.repeat(np.arange(num_jets), counts)[bad], minlength=num_jets)
        x, node_type, pos, p4 = (a[~bad] for a in (x, node_type, pos, p4))
        occupied = counts > 0
        stats.no_nodes += int((~occupied).sum())
        arrays, y, counts, num_jets = arrays[occupied], y[occupied], counts[occupied], int(occupied.sum())

    u = np.zeros((num_jets, len(spec.jet_features)), dtype=np.float32)
    for column, feature in enumerate(spec.jet_features):
        u[:, column] = _jet_values(_evaluate(feature.expr, arrays), num_jets, feature.expr)
    obs = np.zeros((num_jets, len(spec.observers)), dtype=np.float64)
    for column, expr in enumerate(spec.observers):
        obs[:, column] = _jet_values(_evaluate(expr, arrays), num_jets, expr)

    stats.nonfinite_x = _add(stats.nonfinite_x, (~np.isfinite(x)).sum(axis=0))
    stats.nonfinite_u = _add(stats.nonfinite_u, (~np.isfinite(u)).sum(axis=0))
    return {"x": x, "node_type": node_type, "pos": pos, "p4": p4, "counts": counts, "u": u, "y": y, "obs": obs}


def _add(total: np.ndarray, new: np.ndarray) -> np.ndarray:
    return new.astype(np.int64) if total.size == 0 else total + new
