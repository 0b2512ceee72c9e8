"""One chunk of jets as awkward arrays (the config's branches) -> the store's flat numpy arrays.

Each jet's nodes are contiguous: the node types in the order the config lists them, each type's
constituents ordered by decreasing pt (file order for types without kinematics) and capped at its
``max_nodes``. Jets failing the selection, with an invalid target, or with no nodes at all are dropped and
counted in `ReadStats`; constituents whose kinematics (p4) or graph coordinates (pos) are NaN/inf are dropped
and counted (a jet left without any is dropped as having no nodes); non-finite feature values are counted
(the preprocessing replaces them).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import awkward as ak
import numpy as np

from gnnjet.data.arrays import DROPPED
from gnnjet.data.expressions import Expression
from gnnjet.data.read_stats import ReadStats
from gnnjet.data.spec import DataSpec, NodeTypeSpec
from gnnjet.errors import ConfigError, DataError


def columnarise(spec: DataSpec, arrays: ak.Array, stats: ReadStats) -> dict[str, np.ndarray]:
    """One chunk of jets -> flat arrays; its counts are added to `stats`.

    Returns: dict with x [N, F] float32, node_type [N] int8, pos [N, D] float32 (deta, dphi to the jet axis
    by default), p4 [N, 4] float32 (px, py, pz, E in GeV), counts [J] int64 (nodes per jet), u [J, G]
    float32, y [J], obs [J, O] float64, entry [J] int64 (each kept jet's row in the chunk), fold [J] int64,
    for node tasks node_target [N, 1], node_index [N, 1] and collection_size [J, T] (else without columns)
    (`arrays.STORE_ARRAYS`, with counts in place of ptr), and dropped [D] int64: the rows of the jets that
    passed the selection but were dropped (invalid target, no constituents).
    """
    stats.jets_read += len(arrays)
    _check_numeric(spec, arrays)
    passed, valid, y = _selected_jets(spec, arrays, stats)
    keep = passed & valid
    blocks = [_Constituents.of(t, arrays) for t in spec.node_types]
    type_counts = [b.counts() for b in blocks]
    empty = keep & (np.sum(type_counts, axis=0) == 0)
    stats.no_nodes += int(empty.sum())
    keep &= ~empty

    entry = np.flatnonzero(keep)
    arrays, y = arrays[keep], y[keep]
    blocks = [b.restrict(keep) for b in blocks]
    type_counts = [c[keep] for c in type_counts]
    nodes, counts = _node_arrays(spec, blocks, type_counts, arrays)
    sizes = np.zeros((len(arrays), len(blocks) * spec.is_node_task), np.int32)
    if spec.is_node_task:  # each jet's input collection of each node type, however many of it became nodes
        sizes[:] = np.stack([ak.to_numpy(ak.num(b.reference, axis=1)) for b in blocks], axis=1)
    nodes, counts, occupied = _drop_nonfinite_constituents(nodes, counts, stats)
    if occupied is not None:
        arrays, y, entry, sizes = arrays[occupied], y[occupied], entry[occupied], sizes[occupied]
    u, obs = _jet_arrays(spec, arrays)
    stats.count_nonfinite((~np.isfinite(nodes["x"])).sum(axis=0), (~np.isfinite(u)).sum(axis=0))
    dropped = np.setdiff1d(np.flatnonzero(passed), entry, assume_unique=True)
    weight, aux = _weighting(spec, arrays, stats)
    return {**nodes, "counts": counts, "u": u, "y": y, "obs": obs, "entry": entry, "fold": _folds(spec, arrays),
            "weight": weight, "aux": aux, "collection_size": sizes, DROPPED: dropped}


def _selected_jets(spec: DataSpec, arrays: ak.Array,
                   stats: ReadStats) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(passed [J] bool: the jets that pass the selection, valid [J] bool: with a valid target, y [J]); the jets
    failing either are counted."""
    passed = np.ones(len(arrays), dtype=bool)
    if spec.selection is not None:
        passed = _jet_values(_evaluate(spec.selection, arrays), len(arrays), spec.selection) != 0
        stats.failed_selection += int((~passed).sum())
    y, valid = _targets(spec, arrays)
    stats.invalid_target += int((passed & ~valid).sum())
    return passed, valid, y


def _node_arrays(spec: DataSpec, blocks: list[_Constituents], type_counts: list[np.ndarray],
                 arrays: ak.Array) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """x [N, F], node_type [N], pos [N, D], p4 [N, 4] of the jets of `arrays`, and counts [J] (nodes per jet):
    each jet's nodes contiguous, its node types one after the other in config order."""
    num_jets = len(arrays)
    counts = np.sum(type_counts, axis=0).astype(np.int64) if type_counts else np.zeros(num_jets, np.int64)
    num_nodes = int(counts.sum())
    nodes = {"x": np.zeros((num_nodes, len(spec.columns)), dtype=np.float32),
             "node_type": np.zeros(num_nodes, dtype=np.int8),
             "pos": np.zeros((num_nodes, spec.num_coordinates), dtype=np.float32),
             "p4": np.zeros((num_nodes, 4), dtype=np.float32),
             "node_target": np.full((num_nodes, int(spec.is_node_task)), np.nan, dtype=np.float32),
             "node_index": np.zeros((num_nodes, int(spec.is_node_task)), dtype=np.int32)}
    jet_axis = None
    if spec.needs_jet_axis:
        jet_axis = (_jet_values(_evaluate(spec.jet_eta, arrays), num_jets, spec.jet_eta),
                    _jet_values(_evaluate(spec.jet_phi, arrays), num_jets, spec.jet_phi))
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    offset_in_jet = np.zeros(num_jets, dtype=np.int64)
    for block, n in zip(blocks, type_counts):
        jet_of_node = np.repeat(np.arange(num_jets), n)
        rank = np.arange(int(n.sum())) - np.repeat(np.cumsum(n) - n, n)
        dest = starts[jet_of_node] + offset_in_jet[jet_of_node] + rank
        offset_in_jet += n
        _fill_node_type(block, arrays, nodes, dest, jet_of_node, jet_axis)
        if spec.is_node_task:
            _fill_node_labels(spec, block, arrays, nodes, dest)
    return nodes, counts


def _fill_node_labels(spec: DataSpec, block: _Constituents, arrays: ak.Array, nodes: dict[str, np.ndarray],
                      dest: np.ndarray) -> None:
    """A node task's rows `dest` of one node type: each constituent's index in its collection and its target (NaN
    without task.node_targets for the type). A class index that is not NaN or an integer in [0, classes) is a
    DataError naming the expression."""
    nodes["node_index"][dest, 0] = block.indices()
    target = block.spec.target
    if target is None:
        return
    values = block.values(target, arrays)
    if spec.classes:
        labelled = values[np.isfinite(values)]
        bad = labelled[(labelled != np.floor(labelled)) | (labelled < 0) | (labelled >= len(spec.classes))]
        if bad.size:
            raise DataError(f"{target.path}: {target.text!r} gives {bad[0]:g} for a constituent; a class index must "
                            f"be an integer in [0, {len(spec.classes)}) ({', '.join(spec.classes)}), or NaN for none")
    nodes["node_target"][dest, 0] = values


def _fill_node_type(block: _Constituents, arrays: ak.Array, nodes: dict[str, np.ndarray], dest: np.ndarray,
                    jet_of_node: np.ndarray, jet_axis: tuple[np.ndarray, np.ndarray] | None) -> None:
    """Write one node type's constituents into rows `dest` of the node arrays; `jet_of_node` [n] is the jet of
    each, `jet_axis` (eta [J], phi [J]) the axis its default coordinates are taken to."""
    node_spec = block.spec
    for feature, column in node_spec.features:
        nodes["x"][dest, column] = block.values(feature.expr, arrays)
    nodes["node_type"][dest] = node_spec.code
    kinematics = [block.values(e, arrays) for e in node_spec.kinematics]
    if node_spec.form == "pt/eta/phi":
        pt, eta, phi, mass = kinematics
        nodes["p4"][dest] = np.stack([pt * np.cos(phi), pt * np.sin(phi), pt * np.sinh(eta),
                                      np.sqrt((pt * np.cosh(eta)) ** 2 + mass**2)], axis=1)
    elif node_spec.form == "px/py/pz/energy":
        nodes["p4"][dest] = np.stack(kinematics, axis=1)
    if node_spec.coordinates is not None:
        nodes["pos"][dest] = np.stack([block.values(e, arrays) for e in node_spec.coordinates], axis=1)
        return
    assert jet_axis is not None
    if node_spec.form == "pt/eta/phi":
        eta, phi = kinematics[1], kinematics[2]
    else:  # direction from the four-vector
        with np.errstate(all="ignore"):  # a zero-pt constituent has no direction: its pos is not finite
            eta = np.arcsinh(kinematics[2] / np.hypot(kinematics[0], kinematics[1]))
            phi = np.arctan2(kinematics[1], kinematics[0])
    nodes["pos"][dest, 0] = eta - jet_axis[0][jet_of_node]
    nodes["pos"][dest, 1] = (phi - jet_axis[1][jet_of_node] + np.pi) % (2 * np.pi) - np.pi


def _drop_nonfinite_constituents(nodes: dict[str, np.ndarray], counts: np.ndarray, stats: ReadStats
                                 ) -> tuple[dict[str, np.ndarray], np.ndarray, np.ndarray | None]:
    """NaN/inf pt, eta, ... would reach the knn graph and the pair features: drop those constituents (counted).
    Returns the node arrays, counts of the jets left, and which jets are left ([J] bool; None: all)."""
    bad = ~(np.isfinite(nodes["p4"]).all(axis=1) & np.isfinite(nodes["pos"]).all(axis=1))
    if not bad.any():
        return nodes, counts, None
    stats.nonfinite_kinematics += int(bad.sum())
    counts = counts - np.bincount(np.repeat(np.arange(len(counts)), counts)[bad], minlength=len(counts))
    occupied = counts > 0
    stats.no_nodes += int((~occupied).sum())
    return {name: values[~bad] for name, values in nodes.items()}, counts[occupied], occupied


def _folds(spec: DataSpec, arrays: ak.Array) -> np.ndarray:
    """Each jet's fold [J] int64 (the k-fold expression; 0 without k-fold), checked to be an integer in [0, k)."""
    if spec.fold is None:
        return np.zeros(len(arrays), np.int64)
    values = _jet_values(_evaluate(spec.fold, arrays), len(arrays), spec.fold)
    bad = ~((values == np.floor(values)) & (values >= 0) & (values < spec.folds))
    if bad.any():
        raise DataError(f"{spec.fold.path}: {spec.fold.text!r} gives {values[bad][0]:g} for a jet; a fold must be "
                        f"an integer in [0, {spec.folds})")
    return values.astype(np.int64)


def _weighting(spec: DataSpec, arrays: ak.Array, stats: ReadStats) -> tuple[np.ndarray, np.ndarray]:
    """Each jet's weight expression [J] float32 (1 without) and its weighting variables aux [J, A] float32
    (`DataSpec.aux_exprs`). A jet whose weight or weighting variables are NaN/inf gets weight 0 (and aux 0):
    counted, it stays in the store but does not train."""
    num_jets = len(arrays)
    weight = np.ones(num_jets)
    if spec.weight is not None:
        weight = _jet_values(_evaluate(spec.weight, arrays), num_jets, spec.weight)
    aux = np.zeros((num_jets, len(spec.aux_exprs)))
    for column, expr in enumerate(spec.aux_exprs):
        aux[:, column] = _jet_values(_evaluate(expr, arrays), num_jets, expr)
    bad = ~(np.isfinite(weight) & np.isfinite(aux).all(axis=1))
    stats.nonfinite_weight += int(bad.sum())
    weight[bad], aux[bad] = 0.0, 0.0
    return weight.astype(np.float32), aux.astype(np.float32)


def _jet_arrays(spec: DataSpec, arrays: ak.Array) -> tuple[np.ndarray, np.ndarray]:
    """Jet features u [J, G] float32 and observers obs [J, O] float64."""
    num_jets = len(arrays)
    u = np.zeros((num_jets, len(spec.jet_features)), dtype=np.float32)
    for column, feature in enumerate(spec.jet_features):
        u[:, column] = _jet_values(_evaluate(feature.expr, arrays), num_jets, feature.expr)
    obs = np.zeros((num_jets, len(spec.observers)), dtype=np.float64)
    for column, expr in enumerate(spec.observers):
        obs[:, column] = _jet_values(_evaluate(expr, arrays), num_jets, expr)
    return u, obs


def _evaluate(expr: Expression, arrays: ak.Array) -> Any:
    """Evaluate; NaN/inf results are counted and handled downstream, so numpy stays quiet."""
    try:
        with np.errstate(all="ignore"):
            return expr.evaluate(arrays)
    except (ValueError, TypeError, ZeroDivisionError) as err:
        reason = str(err).split(" (in compiled code")[0]  # awkward appends the C++ kernel's source location
        raise ConfigError(f"{expr.path}: cannot evaluate {expr.text!r}: {reason}") from None


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


def _label_branch(arrays: ak.Array, label: str) -> np.ndarray:
    """A one-hot label branch [J]; one of another shape (jagged, or several values per jet) is a DataError (the
    reader adds the file)."""
    values = arrays[label]
    if values.ndim != 1 or not isinstance(ak.type(values).content, ak.types.NumpyType):
        raise DataError(f"branch {label!r} (task.labels) is not one number per jet (type {ak.type(values).content}): "
                        "a one-hot label branch holds 0 or 1 for each jet")
    return ak.to_numpy(values)


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
        _check_collection_branches(spec, first, arrays)
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

    def indices(self) -> np.ndarray:
        """Each node's index in its jet's collection (before the selection), selected, ordered and capped -> flat
        int32."""
        index = ak.local_index(self.reference, axis=1)
        if self.mask is not None:
            index = index[self.mask]
        return ak.to_numpy(ak.flatten(index[self.order])).astype(np.int32)

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


def _check_collection_branches(spec: NodeTypeSpec, first: Expression, arrays: ak.Array) -> None:
    """Every branch of the node type's collection (the prefix of its first kinematic branch: ``ch_`` for
    ``ch_pt``) must have one value per constituent: a per-jet column of that name would be broadcast to every
    constituent and give silently wrong inputs."""
    prefixes = {name.split("_")[0] + "_" for name in first.branches if "_" in name}
    for expr in spec.expressions():
        for name in sorted(expr.branches):
            if name.startswith(tuple(prefixes)) and not _is_jagged(arrays[name]):
                raise DataError(f"column {name!r} (needed by {expr.path}) has one value per jet, but node type "
                                f"{spec.name!r} needs one per constituent (its collection is "
                                f"{', '.join(sorted(prefixes))}*)")


def _check_numeric(spec: DataSpec, arrays: ak.Array) -> None:
    """Every column read must hold numbers: a text column is named with its type instead of failing deep inside
    numpy with its characters' codes."""
    for name, key in spec.branches.items():
        kind = str(arrays[name].type.content)
        if "string" in kind or "bytes" in kind or "char" in kind:
            raise DataError(f"column {name!r} (needed by {key}) holds {kind}, not numbers")


def _pt_of(spec: NodeTypeSpec, arrays: ak.Array, mask: ak.Array | None) -> ak.Array:
    px, py = (_evaluate(e, arrays) for e in spec.kinematics[:2])
    pt = np.hypot(px, py)
    return pt if mask is None else pt[mask]


def _targets(spec: DataSpec, arrays: ak.Array) -> tuple[np.ndarray, np.ndarray]:
    """Returns (y [J], valid [J]): class index (int64) or regression target (float32; [J, T] for T targets). A jet
    of no class or of several (one-hot branches, or class expressions true for none or several), or with a
    non-finite target (any of them), is not valid. A node task's jets have no target of their own: y is 0."""
    if spec.is_node_task:
        return np.zeros(len(arrays), np.float32), np.ones(len(arrays), dtype=bool)
    if spec.task_type == "classification":
        if spec.label_exprs is not None:
            columns = [_jet_values(_evaluate(e, arrays), len(arrays), e) != 0 for e in spec.label_exprs]
        else:
            columns = [_label_branch(arrays, label) for label in spec.labels]
        onehot = np.stack([np.asarray(c, dtype=np.float64) for c in columns], axis=1)
        valid = (onehot.sum(axis=1) == 1) & np.all((onehot == 0) | (onehot == 1), axis=1)
        return onehot.argmax(axis=1).astype(np.int64), valid
    y = np.stack([_jet_values(_evaluate(expr, arrays), len(arrays), expr) for expr in spec.targets.values()], axis=1)
    y = y.reshape((len(arrays), *spec.target_shape))
    return y.astype(np.float32), np.isfinite(y).reshape(len(arrays), -1).all(axis=1)
